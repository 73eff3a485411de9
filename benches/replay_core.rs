//! Replay's core against a parse-only baseline, on the same realistic Okta records in the
//! same run (issue: "the core runs at ≥ 0.6 of the parse-only rate").
//!
//! - `parse_only`: UTF-8 check + serde into the Okta adapter's typed struct (the same
//!   fields the adapter reads) — the cheapest a JSON consumer of these records can be.
//! - `core_okta`: decode (format given) → resolve → enrich (cached) → the detection engine
//!   (reorder buffer, per-employee state, every detector, risk) → alerts.
//! - `core_auto`: the same with per-record format detection.
//!
//! Records: the Okta System Log of a simulated company (`driftwatch simulate`: 1,000
//! employees over 7 days, ~1.7 KB records, its own roster, GeoIP databases, intel lists and
//! approved trips, with the planted fraud and legitimate cases), so the roster, the
//! enrichment cache and every detector see what they would see in production.
//! Run: `cargo bench --bench replay_core`; results go in BENCHMARKS.md.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use driftwatch::config::Config;
use driftwatch::decode::{FormatChoice, okta};
use driftwatch::engine::{Engine, Settings};
use driftwatch::enrich::Enricher;
use driftwatch::event::Format;
use driftwatch::pipeline::{Pipeline, Processed};
use driftwatch::roster::Roster;
use driftwatch::simulate::{self, Params, Simulation};
use driftwatch::sources::{enrich_files, roster_file, suppress_files};
use driftwatch::suppress::Suppressions;

/// The allocator the `driftwatch` binary runs with (src/main.rs), for both sides.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The simulated company, loaded the way `replay --config` loads it.
struct Company {
    _dir: tempfile::TempDir,
    settings: Settings,
    roster: Roster,
    enricher: Enricher,
    suppress: Suppressions,
    records: Vec<Vec<u8>>,
}

fn company() -> Company {
    let dir = tempfile::tempdir().expect("temp dir");
    let params = Params {
        employees: 1_000,
        days: 7,
        seed: 1,
        ..Params::default()
    };
    // DRIFTWATCH_BENCH_WORLD=real: the real world (docs/evaluation.md) instead of the
    // synthetic one.
    let world = match std::env::var("DRIFTWATCH_BENCH_WORLD").as_deref() {
        Ok("real") => simulate::WorldChoice::real_default(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/geoip/anonymizer"),
        )
        .expect("the real GeoIP data (bench/fetch-geo)"),
        _ => simulate::WorldChoice::Synthetic,
    };
    let sim = Simulation::in_world(params, &world).expect("valid parameters");
    simulate::write(&sim, dir.path(), false).expect("simulation written");
    let config = Config::load(&dir.path().join("driftwatch.toml")).expect("valid config");
    let roster =
        roster_file::load(&config.roster.as_ref().expect("a roster").path).expect("roster");
    let enricher = enrich_files::open(&config.enrich)
        .expect("databases")
        .into_enricher();
    let suppress = suppress_files::load(&config.suppress).expect("trips");
    let text = std::fs::read_to_string(dir.path().join("events/okta.ndjson")).expect("events");
    let records = text.lines().map(|l| l.as_bytes().to_vec()).collect();
    Company {
        settings: config.engine(),
        roster,
        enricher,
        suppress,
        records,
        _dir: dir,
    }
}

/// The whole replay core over the records: what `driftwatch replay` does per record,
/// minus reading and writing files. Returns the number of alert lines.
fn replay_core(c: &Company, choice: FormatChoice) -> usize {
    replay_with(c, choice, &c.settings)
}

/// The engine with only `claimed_location` on: the scope the foundation issue set its
/// target for (decode, resolve, enrich, the claimed-country rule, alerts).
fn location_only(c: &Company) -> Settings {
    let mut s = c.settings.clone();
    let d = &mut s.detect;
    d.sanctioned_region.enabled = false;
    d.impossible_travel.enabled = false;
    d.working_hours.enabled = false;
    d.anonymizer.enabled = false;
    d.shared_infrastructure.enabled = false;
    d.novelty.enabled = false;
    d.concurrent_sessions.enabled = false;
    d.long_session.enabled = false;
    s
}

fn replay_with(c: &Company, choice: FormatChoice, settings: &Settings) -> usize {
    let pipeline = Pipeline::default();
    let mut engine = Engine::new(settings.clone());
    let mut alerts = 0;
    for r in &c.records {
        if let Processed::Resolved(item) =
            pipeline.process(black_box(r), choice, &c.roster, &c.enricher)
        {
            alerts += engine.push(item, &c.roster, &c.suppress).len();
        }
    }
    alerts + engine.flush(&c.roster, &c.suppress).len()
}

fn parse_only(c: &Company) {
    for r in &c.records {
        let text = std::str::from_utf8(r).expect("utf-8");
        let _ = black_box(okta::parse(black_box(text)));
    }
}

fn bench(crit: &mut Criterion) {
    let c = company();
    let bytes: usize = c.records.iter().map(Vec::len).sum();
    let pipeline = Pipeline::default();
    let resolved = c
        .records
        .iter()
        .filter(|r| {
            matches!(
                pipeline.process(r, FormatChoice::Fixed(Format::Okta), &c.roster, &c.enricher),
                Processed::Resolved(_)
            )
        })
        .count();
    assert_eq!(resolved, c.records.len(), "every simulated record resolves");
    eprintln!(
        "{} records, {:.0} bytes each on average, {} alert lines",
        c.records.len(),
        bytes as f64 / c.records.len() as f64,
        replay_core(&c, FormatChoice::Auto)
    );

    paired_ratio(&c);

    let mut group = crit.benchmark_group("okta_sim");
    group.throughput(Throughput::Elements(c.records.len() as u64));
    group.sample_size(10);
    group.bench_function("parse_only", |b| b.iter(|| parse_only(&c)));
    for (name, choice) in [
        ("core_okta", FormatChoice::Fixed(Format::Okta)),
        ("core_auto", FormatChoice::Auto),
    ] {
        group.bench_function(name, |b| b.iter(|| black_box(replay_core(&c, choice))));
    }
    let location = location_only(&c);
    group.bench_function("core_location_only", |b| {
        b.iter(|| {
            black_box(replay_with(
                &c,
                FormatChoice::Fixed(Format::Okta),
                &location,
            ))
        })
    });
    group.finish();
}

/// The ratio core / parse-only measured in alternating passes over the same records, so
/// a slower or faster stretch of a shared machine affects both sides of each pair alike.
/// Criterion measures the two one after the other, which on a noisy VM can move the ratio
/// by ±20 %; the median of paired passes is the figure BENCHMARKS.md reports.
fn paired_ratio(c: &Company) {
    let time = |f: &dyn Fn()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64()
    };
    let rounds = if cfg!(debug_assertions) { 1 } else { 11 };
    let location = location_only(c);
    let (mut fixed, mut auto, mut rates) = (Vec::new(), Vec::new(), Vec::new());
    let mut scoped = Vec::new();
    for _ in 0..rounds {
        let p = time(&|| parse_only(c));
        scoped.push(
            p / time(&|| {
                black_box(replay_with(c, FormatChoice::Fixed(Format::Okta), &location));
            }),
        );
        fixed.push(
            p / time(&|| {
                black_box(replay_core(c, FormatChoice::Fixed(Format::Okta)));
            }),
        );
        auto.push(
            p / time(&|| {
                black_box(replay_core(c, FormatChoice::Auto));
            }),
        );
        rates.push(c.records.len() as f64 / p);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    eprintln!(
        "paired over {rounds} rounds: parse-only {:.0} records/s; core/parse-only = {:.2} (format okta), {:.2} (format auto), {:.2} (claimed_location only, format okta)",
        median(&mut rates),
        median(&mut fixed),
        median(&mut auto),
        median(&mut scoped)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
