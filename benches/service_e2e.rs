//! `driftwatch run` through a real Kafka-compatible broker (tansu, SQLite storage), as
//! BENCHMARKS.md reports it:
//!
//! 1. throughput: the simulated company through all three stages, against a bare consumer
//!    that only drains the same input topic with the service's consumer settings, in
//!    alternating passes on one broker;
//! 2. latency: records produced at a steady rate, from each input record's timestamp to
//!    the broker timestamp of the alert line it triggered;
//! 3. restore: a detect instance starting on a changelog of many employees' states: time
//!    to ready, and resident memory per employee against an empty changelog.
//!
//! `cargo bench --bench service_e2e -- [--employees N] [--days D] [--passes P] [--rate R]
//! [--seconds S] [--restore N] [--world real]`. Needs tansu (see tests/support/tansu.rs).

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use driftwatch::alert::Alert;
use driftwatch::config::Config;
use driftwatch::decode::{FormatChoice, decode};
use driftwatch::service::config::KafkaConfig;
use driftwatch::service::kafka::consumer_config;
use driftwatch::service::wire::{MARKER_KEY, partition_for};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureRecord, Producer};
use support::service::{Options, caught_up, company_in, run_config, stop, wait_until};
use support::tansu::{Broker, Until, create_topic, drain, produce, producer};

struct Args {
    employees: u32,
    days: u32,
    passes: usize,
    rate: u32,
    seconds: u32,
    restore: usize,
    batch_max: usize,
    batch_wait_ms: u64,
    only: Option<String>,
    fetch_wait_ms: Option<u32>,
    /// `--world real`: the company in the real world (DB-IP Lite City, public lists).
    real_world: bool,
}

impl Args {
    /// The service settings of the throughput and latency runs: `[service]`'s defaults
    /// unless the command line says otherwise.
    fn options(&self) -> Options {
        Options {
            batch_max: self.batch_max,
            batch_wait_ms: self.batch_wait_ms,
            fetch_wait_ms: self.fetch_wait_ms,
            ..Options::default()
        }
    }

    fn runs(&self, phase: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == phase)
    }
}

fn args() -> Args {
    let mut a = Args {
        employees: 1000,
        days: 7,
        passes: 3,
        rate: 200,
        seconds: 60,
        restore: 100_000,
        batch_max: 1000,
        batch_wait_ms: 100,
        only: None,
        fetch_wait_ms: None,
        real_world: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--employees" => a.employees = value() as u32,
            "--days" => a.days = value() as u32,
            "--passes" => a.passes = value() as usize,
            "--rate" => a.rate = value() as u32,
            "--seconds" => a.seconds = value() as u32,
            "--restore" => a.restore = value() as usize,
            "--batch-max" => a.batch_max = value() as usize,
            "--batch-wait-ms" => a.batch_wait_ms = value(),
            "--only" => a.only = it.next().cloned(),
            "--world" => a.real_world = it.next().map(String::as_str) == Some("real"),
            "--fetch-wait-ms" => a.fetch_wait_ms = Some(value() as u32),
            // cargo bench passes --bench; anything else is a mistake worth hearing about.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

const PATIENCE: Duration = Duration::from_secs(1200);

fn main() {
    // `cargo test --all-targets` runs bench targets without `--bench`: compiled is enough.
    if !std::env::args().any(|a| a == "--bench") {
        println!("service_e2e: run with `cargo bench --bench service_e2e`");
        return;
    }
    let args = args();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("runs.log");
    let broker = Broker::start();
    let bootstrap = broker.bootstrap.clone();
    let lists = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/geoip/anonymizer");
    let lists = lists.to_string_lossy();
    let world: &[&str] = if args.real_world {
        &["--world", "real", "--lists", &lists]
    } else {
        &[]
    };
    let records = company_in(dir.path(), args.employees, args.days, 7, world);
    let bytes: usize = records.iter().map(Vec::len).sum();
    println!(
        "company: {} employees, {} days, {} records, {} bytes on average",
        args.employees,
        args.days,
        records.len(),
        bytes / records.len().max(1)
    );

    let opts = args.options();
    println!(
        "service: batch_max {}, batch_wait_ms {}, fetch.wait.max.ms {}",
        opts.batch_max,
        opts.batch_wait_ms,
        opts.fetch_wait_ms.map_or_else(
            || "librdkafka's default (500)".to_owned(),
            |ms| ms.to_string()
        )
    );
    // The restore phase copies the states the first throughput run leaves.
    if args.runs("throughput") || args.runs("restore") {
        throughput(&bootstrap, dir.path(), &log, &records, args.passes, &opts);
    }
    if args.runs("latency") {
        let (rate, seconds) = (args.rate, args.seconds);
        latency(&bootstrap, dir.path(), &log, &records, rate, seconds, &opts);
    }
    if args.runs("restore") {
        restore(&bootstrap, dir.path(), &log, args.restore);
    }
    drop(broker);
}

/// Alternating passes: the bare consumer, then the service, each over the whole input.
fn throughput(
    bootstrap: &str,
    dir: &Path,
    log: &Path,
    records: &[Vec<u8>],
    passes: usize,
    opts: &Options,
) {
    const INPUT: &str = "tp.raw";
    create_topic(bootstrap, INPUT, 1, false);
    let batch: Vec<(Option<&[u8]>, &[u8])> = records.iter().map(|r| (None, r.as_slice())).collect();
    produce(bootstrap, INPUT, &batch);
    let n = records.len() as f64;

    let mut ratios = Vec::new();
    println!(
        "\nthroughput ({} records, 1 input partition):",
        records.len()
    );
    for pass in 0..passes {
        let bare = bare_drain(bootstrap, INPUT, records.len(), pass);
        let run = run_config(dir, bootstrap, &format!("tp{pass}"), INPUT, opts);
        let started = Instant::now();
        let child = run.start(log, None);
        wait_until("throughput run", log, PATIENCE, || {
            caught_up(bootstrap, &run.name, INPUT)
        });
        let service = started.elapsed();
        let log_before = std::fs::metadata(log).map_or(0, |m| m.len() as usize);
        stop(child, "-TERM");
        let ratio = bare.as_secs_f64() / service.as_secs_f64();
        ratios.push(ratio);
        println!(
            "  pass {pass}: bare consumer {:.2} s ({:.0} records/s), driftwatch run {:.2} s \
             ({:.0} records/s), ratio {ratio:.2}",
            bare.as_secs_f64(),
            n / bare.as_secs_f64(),
            service.as_secs_f64(),
            n / service.as_secs_f64(),
        );
        // Each stage's own account of where its time went (logged as it stops).
        let text = std::fs::read(log).unwrap_or_default();
        let text = String::from_utf8_lossy(text.get(log_before..).unwrap_or_default());
        for line in text.lines().filter(|l| l.contains("stage stopped")) {
            println!("    {line}");
        }
    }
    ratios.sort_by(f64::total_cmp);
    println!("  median ratio {:.2}", ratios[ratios.len() / 2]);
}

/// A consumer with the service's settings, in a new group, reading `count` records; timed
/// from its creation (group join included, as for the service).
fn bare_drain(bootstrap: &str, topic: &str, count: usize, pass: usize) -> Duration {
    let kafka = KafkaConfig {
        brokers: bootstrap.to_owned(),
        ..KafkaConfig::default()
    };
    let started = Instant::now();
    let consumer: BaseConsumer = consumer_config(&kafka, &format!("bare{pass}"))
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut seen = 0;
    while seen < count {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => seen += 1,
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => panic!("bare consumer: {e}"),
        }
        assert!(
            started.elapsed() < PATIENCE,
            "bare consumer: {seen} of {count}"
        );
    }
    started.elapsed()
}

/// Every fifth employee claims the place of the next employee who claims another country:
/// their first logins raise `claimed_location`, so the latency run has many alerts.
fn misclaimed_roster(dir: &Path) -> usize {
    let text = std::fs::read_to_string(dir.join("roster.csv")).unwrap();
    let mut lines: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    let rows = lines.len();
    let mut changed = 0;
    for i in (1..rows).step_by(5) {
        let own = lines[i][3].clone();
        if let Some(j) = (1..rows)
            .map(|k| (i + k) % rows)
            .find(|&j| j > 0 && lines[j][3] != own)
        {
            // claimed_country, region, city, lat, lon, timezone
            let place = lines[j][3..=8].to_vec();
            lines[i][3..=8].clone_from_slice(&place);
            changed += 1;
        }
    }
    let out: Vec<String> = lines.iter().map(|l| l.join(",")).collect();
    std::fs::write(dir.join("roster-misclaimed.csv"), out.join("\n") + "\n").unwrap();
    changed
}

fn latency(
    bootstrap: &str,
    dir: &Path,
    log: &Path,
    records: &[Vec<u8>],
    rate: u32,
    secs: u32,
    opts: &Options,
) {
    const INPUT: &str = "lat.raw";
    create_topic(bootstrap, INPUT, 1, false);
    let changed = misclaimed_roster(dir);
    let run = run_config(dir, bootstrap, "lat", INPUT, opts);
    let text = std::fs::read_to_string(&run.config).unwrap();
    std::fs::write(
        &run.config,
        text.replacen(
            "path = \"roster.csv\"",
            "path = \"roster-misclaimed.csv\"",
            1,
        ),
    )
    .unwrap();
    let child = run.start(log, None);
    wait_until("latency run ready", log, PATIENCE, || {
        run.get("/readyz").is_some_and(|(s, _)| s == 200)
    });

    let config = Config::load(&dir.join("driftwatch.toml")).unwrap();
    let ctx = config.decode.context(Utc::now());
    let count = (rate as usize * secs as usize).min(records.len());
    let producer = producer(bootstrap, &[]);
    // Event time -> when its record was produced (ms); the alert names its event's time.
    let mut sent: HashMap<DateTime<Utc>, i64> = HashMap::new();
    let started = Instant::now();
    for (i, record) in records[..count].iter().enumerate() {
        let due = Duration::from_secs_f64(i as f64 / f64::from(rate));
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        let now = Utc::now().timestamp_millis();
        if let Ok(e) = decode(record, FormatChoice::Auto, &ctx) {
            sent.insert(e.time, now);
        }
        let r = FutureRecord::<[u8], [u8]>::to(INPUT)
            .payload(record)
            .timestamp(now);
        // Delivery is checked by the run catching up below.
        drop(producer.send_result(r).map_err(|(e, _)| e).unwrap());
    }
    producer.flush(Duration::from_secs(60)).unwrap();
    let produced_for = started.elapsed();
    wait_until("latency run catching up", log, PATIENCE, || {
        caught_up(bootstrap, "lat", INPUT)
    });
    stop(child, "-TERM");

    let mut lat: Vec<f64> = drain(bootstrap, "lat.alerts", Until::End)
        .iter()
        .filter_map(|r| {
            let a: Alert = serde_json::from_slice(r.value.as_deref()?).ok()?;
            Some((r.timestamp? - sent.get(&a.time)?) as f64)
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "\nlatency: {count} records at {rate}/s over {:.1} s, {changed} employees misclaimed, \
         {} alert lines: input timestamp -> alert produced p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        produced_for.as_secs_f64(),
        lat.len(),
        pct(0.5),
        pct(0.99),
        lat.last().copied().unwrap_or(0.0)
    );
}

/// Restore time and memory: a detect instance on a changelog of `employees` states (copies
/// of the throughput run's states under new ids), against one on an empty changelog.
fn restore(bootstrap: &str, dir: &Path, log: &Path, employees: usize) {
    let partitions = Options::default().partitions;
    let states: Vec<Vec<u8>> = drain(bootstrap, "tp0.changelog", Until::End)
        .into_iter()
        .filter(|r| r.key.as_deref() != Some(MARKER_KEY))
        .filter_map(|r| r.value)
        .collect();
    assert!(!states.is_empty(), "the throughput run left states");
    let mean = states.iter().map(Vec::len).sum::<usize>() / states.len();

    let mut results = Vec::new();
    // Three instances: empty, half and full. The empty one's load (lists, databases) frees
    // memory the states then reuse, so full minus empty understates them; the slope from
    // half to full counts only what the second half of the states added.
    let half = employees / 2;
    for (name, count) in [("rs-empty", 0), ("rs-half", half), ("rs-full", employees)] {
        let changelog = format!("{name}.changelog");
        create_topic(bootstrap, &changelog, partitions, true);
        let producer = producer(bootstrap, &[("linger.ms", "20")]);
        for i in 0..count {
            let key = format!("R{i:07}");
            let p = partition_for(key.as_bytes(), partitions);
            let value = &states[i % states.len()];
            loop {
                let r = FutureRecord::to(&changelog)
                    .key(key.as_bytes())
                    .payload(value.as_slice())
                    .partition(p);
                match producer.send_result(r) {
                    Ok(delivery) => {
                        drop(delivery);
                        break;
                    }
                    // The local queue is full: let the broker catch up.
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
        producer.flush(Duration::from_secs(300)).unwrap();

        let run = run_config(dir, bootstrap, name, "rs.raw", &Options::default());
        create_topic_if_missing(bootstrap, "rs.raw");
        let started = Instant::now();
        let child = run.start(log, Some("detect"));
        wait_until("restore ready", log, PATIENCE, || {
            run.get("/readyz").is_some_and(|(s, _)| s == 200)
        });
        let ready = started.elapsed();
        // Let the allocator settle and the process collector refresh.
        std::thread::sleep(Duration::from_secs(2));
        // Anonymous memory, not all resident pages: the GeoIP databases are mapped files,
        // and how much of them is resident depends on whether they were walked at start.
        let rss = child.anonymous_memory().unwrap_or(0) as f64;
        let restore_sum = run.metric("driftwatch_restore_seconds_sum").unwrap_or(0.0);
        let restored = run
            .metric("driftwatch_restored_employees_total")
            .unwrap_or(0.0);
        stop(child, "-TERM");
        results.push((count, ready, restore_sum, restored, rss));
    }
    let (_, _, _, _, rss0) = results[0];
    let (_, _, _, _, rss_half) = results[1];
    let (n, ready, restore_sum, restored, rss) = results[2];
    println!(
        "\nrestore: {n} employees ({mean} bytes of state each on average): {restored:.0} \
         restored in {restore_sum:.2} s (restore_seconds), ready {:.2} s after start; \
         anonymous resident memory {:.0} MiB ({:.0} MiB at {half}, {:.0} MiB empty): \
         {:.0} bytes per employee from {half} to {n} ({:.0} against empty)",
        ready.as_secs_f64(),
        rss / 1048576.0,
        rss_half / 1048576.0,
        rss0 / 1048576.0,
        (rss - rss_half) / (n - half).max(1) as f64,
        (rss - rss0) / n.max(1) as f64
    );
}

fn create_topic_if_missing(bootstrap: &str, topic: &str) {
    if support::tansu::partition_count(bootstrap, topic).is_none() {
        create_topic(bootstrap, topic, 1, false);
    }
}
