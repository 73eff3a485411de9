//! Replay's core against a parse-only baseline, on the same realistic Okta records in the
//! same run (issue: "the core runs at ≥ 0.6 of the parse-only rate").
//!
//! - `parse_only`: UTF-8 check + serde into the Okta adapter's typed struct (the same
//!   fields the adapter reads) — the cheapest a JSON consumer of these records can be.
//! - `core_okta`: decode (format given) → resolve → enrich (cached) → the detection engine
//!   (reorder buffer, per-employee state, every detector, risk) → alerts.
//! - `core_auto`: the same with per-record format detection.
//!
//! Records are the shipped example Okta events (~1.6 KB each, the shape of Okta's System
//! Log) rewritten for 1,000 employees, each signing in from home addresses in the demo
//! GeoIP ranges and, one login in fifty, from abroad (see [`address`]). Run:
//! `cargo bench --bench replay_core`; results go in BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use driftwatch::decode::{FormatChoice, okta};
use driftwatch::engine::{Engine, Settings};
use driftwatch::enrich::{EnrichConfig, Enricher, IntelListConfig};
use driftwatch::event::Format;
use driftwatch::pipeline::{Pipeline, Processed};
use driftwatch::roster::Roster;
use driftwatch::suppress::Suppressions;

/// The whole replay core over `records`: what `driftwatch replay` does per record, minus
/// reading and writing files. Returns the number of alerts.
fn replay_core(
    records: &[Vec<u8>],
    choice: FormatChoice,
    pipeline: &Pipeline,
    roster: &Roster,
    enricher: &Enricher,
) -> usize {
    let suppress = Suppressions::default();
    let mut engine = Engine::new(Settings::default());
    let mut alerts = 0;
    for r in records {
        if let Processed::Resolved(item) = pipeline.process(black_box(r), choice, roster, enricher)
        {
            alerts += engine.push(item, roster, &suppress).len();
        }
    }
    alerts + engine.flush(roster, &suppress).len()
}

const EMPLOYEES: usize = 1_000;
const RECORDS: usize = 20_000;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A roster of `EMPLOYEES`: most claim New York, every tenth London.
fn roster() -> Roster {
    let mut csv =
        String::from("employee_id,aliases,claimed_country,claimed_city,claimed_timezone,status\n");
    for i in 0..EMPLOYEES {
        let (country, city, tz) = if i % 10 == 0 {
            ("GB", "London", "Europe/London")
        } else {
            ("US", "New York", "America/New_York")
        };
        csv.push_str(&format!(
            "B{i:05},user{i}@corp.example;CORP\\user{i},{country},{city},{tz},active\n"
        ));
    }
    Roster::from_csv_reader(csv.as_bytes()).expect("generated roster is valid")
}

fn enricher() -> Enricher {
    let geo = root().join("examples/geoip");
    Enricher::open(&EnrichConfig {
        city: Some(geo.join("demo-city.mmdb")),
        asn: Some(geo.join("demo-asn.mmdb")),
        anonymous_ip: Some(geo.join("demo-anonymous-ip.mmdb")),
        lists: vec![IntelListConfig {
            path: root().join("geoip/consumer-vpn-providers.csv"),
            tag: "vpn".into(),
            provider: None,
            format: Default::default(),
            entry_column: Some("entry".into()),
            provider_column: Some("provider".into()),
        }],
        ..EnrichConfig::default()
    })
    .expect("demo databases open")
}

/// The address of record `i` for `employee`: home (in the claimed country: New York or
/// London demo ranges) for 49 of 50 logins, and abroad for one (Tokyo over IPv6, or a
/// Chinese hosting / VPN range), the mix a real company's sign-in log has. Each employee
/// has a few home addresses, so the enrichment cache sees ~400 distinct ones.
fn address(employee: usize, i: usize) -> String {
    if i % 50 == 49 {
        return if i % 100 == 49 {
            format!("2001:db8:100:{:x}::1", employee)
        } else {
            format!("203.0.113.{}", employee % 128)
        };
    }
    let host = (employee + i % 3 * 41) % 128;
    if employee % 10 == 0 {
        format!("192.0.2.{host}")
    } else {
        format!("198.51.100.{host}")
    }
}

fn records() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(root().join("examples/events/okta-system-log.ndjson"))
        .expect("example Okta events");
    let templates: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("example is JSON"))
        .collect();
    (0..RECORDS)
        .map(|i| {
            let mut v = templates[i % templates.len()].clone();
            let employee = (i * 7) % EMPLOYEES;
            let ip = address(employee, i);
            v["actor"]["alternateId"] = format!("user{employee}@corp.example").into();
            v["client"]["ipAddress"] = ip.clone().into();
            v["request"]["ipChain"][0]["ip"] = ip.into();
            v["uuid"] = format!("00000000-0000-4000-8000-{i:012}").into();
            // One sign-in every 30 s over a week: in time order, as a log export is.
            let t = chrono::DateTime::from_timestamp(1_793_000_000 + i as i64 * 30, 0)
                .expect("valid time");
            v["published"] = t
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into();
            serde_json::to_vec(&v).expect("serialises")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let records = records();
    let bytes: usize = records.iter().map(Vec::len).sum();
    let roster = roster();
    let enricher = enricher();
    let pipeline = Pipeline::default();

    // The core must do real work on these records, not reject them.
    let scored = records
        .iter()
        .filter(|r| {
            matches!(
                pipeline.process(r, FormatChoice::Fixed(Format::Okta), &roster, &enricher),
                Processed::Resolved(_)
            )
        })
        .count();
    assert!(
        scored * 10 >= records.len() * 9,
        "only {scored} of {} records scored",
        records.len()
    );
    let alerts = replay_core(&records, FormatChoice::Auto, &pipeline, &roster, &enricher);
    eprintln!(
        "{} records, {:.0} bytes each on average, {scored} resolved and scored, {alerts} alerts",
        records.len(),
        bytes as f64 / records.len() as f64
    );

    paired_ratio(&records, &pipeline, &roster, &enricher);

    let mut group = c.benchmark_group("okta_1.6KB");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.sample_size(20);
    group.bench_function("parse_only", |b| {
        b.iter(|| {
            for r in &records {
                let text = std::str::from_utf8(r).expect("utf-8");
                let _ = black_box(okta::parse(black_box(text)));
            }
        })
    });
    for (name, choice) in [
        ("core_okta", FormatChoice::Fixed(Format::Okta)),
        ("core_auto", FormatChoice::Auto),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(replay_core(&records, choice, &pipeline, &roster, &enricher)))
        });
    }
    group.finish();
}

/// The ratio core / parse-only measured in alternating passes over the same records, so
/// a slower or faster stretch of a shared machine affects both sides of each pair alike.
/// Criterion measures the two one after the other, which on a noisy VM can move the ratio
/// by ±20 %; the median of paired passes is the figure BENCHMARKS.md reports.
fn paired_ratio(records: &[Vec<u8>], pipeline: &Pipeline, roster: &Roster, enricher: &Enricher) {
    use std::time::Instant;
    let parse = || {
        let t = Instant::now();
        for r in records {
            let text = std::str::from_utf8(r).expect("utf-8");
            let _ = black_box(okta::parse(black_box(text)));
        }
        t.elapsed().as_secs_f64()
    };
    let core = |choice| {
        let t = Instant::now();
        black_box(replay_core(records, choice, pipeline, roster, enricher));
        t.elapsed().as_secs_f64()
    };
    let rounds = if cfg!(debug_assertions) { 1 } else { 15 };
    let (mut fixed, mut auto, mut parse_rates) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let p = parse();
        fixed.push(p / core(FormatChoice::Fixed(Format::Okta)));
        auto.push(p / core(FormatChoice::Auto));
        parse_rates.push(records.len() as f64 / p);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    eprintln!(
        "paired over {rounds} rounds: parse-only {:.0} records/s; core/parse-only = {:.2} (format okta), {:.2} (format auto)",
        median(&mut parse_rates),
        median(&mut fixed),
        median(&mut auto)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
