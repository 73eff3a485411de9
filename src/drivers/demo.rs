//! `driftwatch demo`: driftwatch working end to end in one command, with nothing to set up.
//!
//! 1. The simulator writes a company (roster, GeoIP world, Okta and Cisco ASA logs with
//!    planted fraudulent and legitimate cases, the ground truth) into `--out`.
//! 2. librdkafka's in-process mock cluster stands in for Kafka.
//! 3. `driftwatch run`'s service runs every stage in this process: ingest, detect, infra,
//!    route (on-call to a JSON-lines file) and audit, with `/metrics`, `/healthz`,
//!    `/readyz` and the analyst API on `--listen`.
//! 4. The simulator's events are produced in event-time order, the month compressed into
//!    `--duration-secs`; each alert is printed as it fires.
//! 5. At the end: which planted cases were caught and how fast, false alerts on the
//!    legitimate population, and a compliance report (`driftwatch report`) in `--out`.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::alert::Alert;
use crate::config::Config;
use crate::decode::FormatChoice;
use crate::evaluate::{Evaluation, TruthFile};
use crate::event::Format;
use crate::service::ServiceError;
use crate::service::config::{InputTopic, KafkaConfig};
use crate::service::server::{Server, StartError};
use crate::service::{self, Handles, Stage};
use crate::simulate::{self, Simulation, records};

/// What to show.
#[derive(Debug, Clone)]
pub struct Options {
    pub employees: u32,
    pub days: u32,
    pub seed: u64,
    /// Wall-clock time the simulated days are compressed into.
    pub duration: Duration,
    /// Where the company, the on-call file, the audit log and the report go.
    pub out: PathBuf,
    /// `/metrics`, `/healthz`, `/readyz` and `/api/v1`.
    pub listen: SocketAddr,
    /// Leave the service, its metrics and its API up after the summary, until Ctrl-C.
    pub keep_running: bool,
    pub partitions: i32,
}

/// What the demo found.
#[derive(Debug)]
pub struct Summary {
    pub records: u64,
    pub alerts: Vec<Alert>,
    pub evaluation: Evaluation,
    pub report: Option<PathBuf>,
}

/// Why the demo stopped. Each keeps its cause as the source, so the exit code can be told
/// from its type (a bad `--employees` is bad usage, a broker that fails is a failed run).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("simulating the company")]
    Simulate(#[from] simulate::SimError),
    /// The configuration the simulator wrote does not load.
    #[error("the simulated config")]
    Config(#[source] crate::config::ConfigError),
    /// The in-process broker: starting it, its topics, producing to it.
    #[error("{what}")]
    Broker {
        what: &'static str,
        #[source]
        error: rdkafka::error::KafkaError,
    },
    /// The runtime or the listener of the service's HTTP endpoints.
    #[error(transparent)]
    Server(#[from] StartError),
    #[error("the service did not start")]
    ServiceStart(#[source] ServiceError),
    #[error("the service did not start: not ready within a minute")]
    NotReady,
    #[error("the service failed")]
    Service(#[source] ServiceError),
    #[error("the service panicked")]
    ServicePanicked,
    /// A file of the demo's folder (the API token, the ground truth).
    #[error("{}", .path.display())]
    File {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{}", .path.display())]
    Truth {
        path: PathBuf,
        #[source]
        error: serde_json::Error,
    },
    #[error("api token")]
    Token(#[source] getrandom::Error),
    #[error("route")]
    Route(#[source] toml::de::Error),
}

fn broker(what: &'static str) -> impl Fn(rdkafka::error::KafkaError) -> DemoError {
    move |error| DemoError::Broker { what, error }
}

const OKTA_TOPIC: &str = "demo.okta";
const VPN_TOPIC: &str = "demo.vpn";

/// Run the demo; SIGINT (Ctrl-C) or SIGTERM ends it early or ends `--keep-running`.
/// Progress and alerts go to `out` (the terminal).
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<Summary, DemoError> {
    let say = |out: &mut dyn Write, line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    let start = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap_or_default();
    let sim = Simulation::new(simulate::Params {
        employees: opts.employees,
        days: opts.days,
        seed: opts.seed,
        start,
    })?;
    say(
        out,
        format!(
            "driftwatch demo: simulating {} employees over {} days (seed {}) in {}",
            opts.employees,
            opts.days,
            opts.seed,
            opts.out.display()
        ),
    );
    let written = simulate::write(&sim, &opts.out, false)?;
    let planted: HashMap<String, (&'static str, &'static str)> = written
        .truth
        .employees
        .iter()
        .map(|t| (t.employee_id.clone(), (t.label, t.scenario)))
        .collect();
    let s = &written.truth.summary;
    say(
        out,
        format!(
            "  {} fraudulent employees planted among {}; {} Okta and {} VPN events",
            s.fraudulent, s.employees, s.okta_events, s.vpn_events
        ),
    );

    // The broker, in process.
    let cluster = MockCluster::new(1).map_err(broker("mock cluster"))?;
    let brokers = cluster.bootstrap_servers();
    let (config, kafka) = demo_config(opts, &brokers)?;
    let mk = |name: &str, partitions: i32| {
        cluster
            .create_topic(name, partitions, 1)
            .map_err(broker("creating topics"))
    };
    let t = &kafka.topics;
    for name in [OKTA_TOPIC, VPN_TOPIC] {
        mk(name, opts.partitions)?;
    }
    // The mock broker has no CreateTopics: the service's own list, made here.
    for spec in crate::service::kafka::topic_specs(&kafka) {
        mk(&spec.name, spec.partitions)?;
    }

    // The service, its HTTP endpoints, and the alert printer.
    let server = Server::start(opts.listen)?;
    let addr = server.addr();
    let handles = server.handles();
    let service = {
        let handles = handles.clone();
        let handle = server.runtime();
        let config = config.clone();
        std::thread::spawn(move || service::run_bounded(&config, &Stage::ALL, handle, &handles))
    };
    let ready_by = Instant::now() + Duration::from_secs(60);
    while !handles.health.is_ready() {
        if service.is_finished() || Instant::now() > ready_by {
            server.stop();
            return Err(match service.join() {
                Ok(Err(e)) => DemoError::ServiceStart(e),
                _ => DemoError::NotReady,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    say(
        out,
        format!(
            "  service up: http://{addr}/metrics · http://{addr}/api/v1/alerts (bearer token in {})",
            opts.out.join("api-token.txt").display()
        ),
    );

    let alerts: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let last_alert = Arc::new(Mutex::new(Instant::now()));
    let printer_stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let printer = {
        let alerts = Arc::clone(&alerts);
        let last_alert = Arc::clone(&last_alert);
        let stop = Arc::clone(&printer_stop);
        let brokers = brokers.clone();
        let topic = t.alerts.clone();
        let partitions = opts.partitions;
        let metrics = Arc::clone(&handles.metrics);
        std::thread::spawn(move || {
            let watermark = move || {
                metrics
                    .value(
                        "driftwatch_watermark_timestamp_seconds",
                        &[("stage", "detect")],
                    )
                    .unwrap_or(0.0)
            };
            follow_alerts(&brokers, &topic, partitions, &stop, watermark, |a| {
                let (label, scenario) = planted
                    .get(a.employee_id.0.as_str())
                    .copied()
                    .unwrap_or(("unknown", "?"));
                let mark = if label == "fraudulent" {
                    format!("planted: {scenario}")
                } else {
                    format!("legitimate: {scenario}")
                };
                let line = format!(
                    "  {} {:<8} {:<8} {:<34} {}  [{mark}]",
                    a.time.format("%Y-%m-%dT%H:%MZ"),
                    a.severity.as_str().to_uppercase(),
                    a.employee_id.0,
                    a.rules.join(","),
                    crate::route::payload::truncate(&a.summary, 90),
                );
                let _ = tx.send(crate::text::printable(&line).into_owned());
                *last_alert.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                alerts.lock().unwrap_or_else(|p| p.into_inner()).push(a);
            })
        })
    };

    // The month, compressed.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .map_err(broker("producer"))?;
    let first = start.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let span = chrono::Duration::days(i64::from(opts.days));
    let began = Instant::now();
    let produced = AtomicU64::new(0);
    let mut last_progress = Instant::now();
    for ev in sim.events() {
        if server.stopping() {
            break;
        }
        let due = due_at(ev.time, first, span, opts.duration);
        let now = began.elapsed();
        if due > now {
            std::thread::sleep((due - now).min(Duration::from_millis(200)));
            while let Ok(line) = rx.try_recv() {
                say(out, line);
            }
        }
        let (topic, line) = if ev.kind.is_vpn() {
            (VPN_TOPIC, records::asa_line(&sim, &ev))
        } else {
            (OKTA_TOPIC, records::okta_json(&sim, &ev))
        };
        let mut record = BaseRecord::<(), str>::to(topic).payload(&line);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, r)) => {
                    if !matches!(
                        e.rdkafka_error_code(),
                        Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                    ) {
                        return Err(broker("producing")(e));
                    }
                    record = r;
                    producer.poll(Duration::from_millis(50));
                }
            }
        }
        producer.poll(Duration::ZERO);
        produced.fetch_add(1, Ordering::Relaxed);
        while let Ok(line) = rx.try_recv() {
            say(out, line);
        }
        if last_progress.elapsed() >= Duration::from_secs(5) {
            last_progress = Instant::now();
            say(
                out,
                format!(
                    "  … {} · {} records · {} alert lines",
                    ev.time.format("%Y-%m-%d"),
                    produced.load(Ordering::Relaxed),
                    alerts.lock().map(|a| a.len()).unwrap_or(0)
                ),
            );
        }
    }
    let _ = producer.flush(Duration::from_secs(30));
    // Gone before the broker is, so it does not report the broker's end as an outage.
    drop(producer);
    let records = produced.load(Ordering::Relaxed);

    // Drain: everything consumed, then no new alert for a few seconds.
    let drained_by = Instant::now() + Duration::from_secs(120);
    loop {
        while let Ok(line) = rx.try_recv() {
            say(out, line);
        }
        let consumed = consumed(handles);
        let quiet = last_alert
            .lock()
            .map(|t| t.elapsed() > Duration::from_secs(3))
            .unwrap_or(true);
        // Logins still held for ordering have not raised their alerts yet.
        let held: f64 = ["infra", "detect"]
            .iter()
            .filter_map(|&s| {
                handles
                    .metrics
                    .value("driftwatch_held_records", &[("stage", s)])
            })
            .sum();
        if (consumed >= records && held == 0.0 && quiet)
            || Instant::now() > drained_by
            || server.stopping()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    printer_stop.store(true, Ordering::SeqCst);
    let _ = printer.join();
    while let Ok(line) = rx.try_recv() {
        say(out, line);
    }
    let alerts = alerts.lock().map(|a| a.clone()).unwrap_or_default();

    // How it went.
    let path = opts.out.join("truth.json");
    let truth: TruthFile =
        serde_json::from_slice(&std::fs::read(&path).map_err(|error| DemoError::File {
            path: path.clone(),
            error,
        })?)
        .map_err(|error| DemoError::Truth { path, error })?;
    let evaluation = crate::evaluate::evaluate(&truth, &alerts);
    say(out, String::new());
    say(
        out,
        format!(
            "driftwatch demo: {records} records in {:.0} s, {} alert lines",
            began.elapsed().as_secs_f64(),
            alerts.len()
        ),
    );
    for row in evaluation
        .scenarios
        .iter()
        .filter(|r| r.label == "fraudulent")
    {
        let fast = row.time_to_alert_median_h.map_or("—".to_owned(), |h| {
            format!("median {h:.1} h after the first planted login")
        });
        say(
            out,
            format!(
                "  caught {}/{} {:<24} {fast}",
                row.alerted, row.employees, row.scenario
            ),
        );
    }
    say(
        out,
        format!(
            "  false alerts on the legitimate population: {} ({:.2} per 1,000 employee-days)",
            evaluation.false_alerts, evaluation.false_alerts_per_1000_employee_days
        ),
    );
    if !evaluation.missed.is_empty() {
        say(out, format!("  missed: {}", evaluation.missed.join(", ")));
    }

    let report = compliance_report(opts, first, span);
    match &report {
        Ok(path) => say(out, format!("  compliance report: {}", path.display())),
        Err(e) => say(out, format!("  compliance report not written: {e}")),
    }
    say(
        out,
        format!(
            "  on-call notifications: {}; audit log: {}",
            opts.out.join("oncall.jsonl").display(),
            opts.out.join("audit.jsonl").display()
        ),
    );

    if opts.keep_running && !server.stopping() {
        say(
            out,
            format!("  still serving http://{addr}/metrics and /api/v1; Ctrl-C to stop"),
        );
        while !server.stopping() {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    server.stop();
    let ended = service.join();
    // The API's dispositions producer lives in the server's handles: gone before the
    // broker is.
    server.shutdown();
    drop(cluster);
    match ended {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(DemoError::Service(e)),
        Err(_) => return Err(DemoError::ServicePanicked),
    }
    Ok(Summary {
        records,
        alerts,
        evaluation,
        report: report.ok(),
    })
}

/// The runbook the demo's pages link, as in `driftwatch.example.toml`: the project has no
/// public address of its own, so this is the example's (replace it in a real config).
pub const DEMO_RUNBOOK_URL: &str = "https://git.example.com/driftwatch/blob/main/docs/runbook.md";

/// Where a browser on this machine reaches `listen`: an unspecified address (`0.0.0.0`,
/// `[::]`) is served on loopback too.
fn api_address(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, listen.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, listen.port()))
        }
        _ => listen,
    }
}

/// The simulator's config with the demo's Kafka, service, API, audit and route settings,
/// and its `[kafka]`.
fn demo_config(opts: &Options, brokers: &str) -> Result<(Config, KafkaConfig), DemoError> {
    let mut config = Config::load(&opts.out.join("driftwatch.toml")).map_err(DemoError::Config)?;
    let kafka = KafkaConfig {
        brokers: brokers.to_owned(),
        group_id: "driftwatch-demo".to_owned(),
        input: vec![
            InputTopic {
                topic: OKTA_TOPIC.to_owned(),
                format: FormatChoice::Fixed(Format::Okta),
            },
            InputTopic {
                topic: VPN_TOPIC.to_owned(),
                format: FormatChoice::Fixed(Format::CiscoAsa),
            },
        ],
        partitions: opts.partitions,
        create_topics: false,
        ..KafkaConfig::default()
    };
    config.kafka = Some(kafka.clone());
    config.service.listen = opts.listen;
    config.service.batch_wait_ms = 50;
    // The month compressed into seconds: a topic partition that was quiet for a few
    // simulated hours (idle, so nobody waits for it) can deliver its next record a little
    // after another's later ones. Six simulated hours (replay's lateness, a fraction of a
    // second here) absorb that, so two demos with one seed raise the same alerts.
    config.service.reorder_delay_ms = 6 * 3_600_000;
    // A partition found idle may still have a record in flight (a consumer's fetch waits up
    // to half a second for data), which then comes late. Three seconds here is several
    // simulated days: only the end of the stream goes idle.
    config.service.idle_release_ms = 3_000;
    config.service.shutdown_deadline_secs = 20;
    let (token, sha256) = crate::api::new_token().map_err(DemoError::Token)?;
    let path = opts.out.join("api-token.txt");
    write_secret(&path, &format!("{token}\n")).map_err(|error| DemoError::File { path, error })?;
    config.api = crate::api::ApiConfig {
        enabled: true,
        token: vec![crate::api::TokenConfig {
            name: "demo".to_owned(),
            role: crate::api::Role::Analyst,
            sha256,
        }],
        ..crate::api::ApiConfig::default()
    };
    let audit = opts.out.join("audit.jsonl");
    // A new demo starts a new log (an old one would hold another run's chain).
    let _ = std::fs::remove_file(&audit);
    config.audit.path = Some(audit);
    let oncall = opts.out.join("oncall.jsonl");
    let _ = std::fs::remove_file(&oncall);
    config.route = toml::from_str(&format!(
        "[[destination]]\nname = \"oncall-file\"\nkind = \"file\"\npath = {}\nmin_severity = \"medium\"\n",
        toml::Value::String(oncall.display().to_string())
    ))
    .map_err(DemoError::Route)?;
    // Pages link the runbook section of their rule and the alert in this demo's own API,
    // so an analyst can follow a page as they would in production.
    config.route.runbook_url = Some(DEMO_RUNBOOK_URL.to_owned());
    config.route.api_url = Some(format!("http://{}", api_address(opts.listen)));
    Ok((config, kafka))
}

/// Write a secret readable by its owner only (0600), whatever was there before.
fn write_secret(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` applies to a new file only: an old one keeps its bits unless set again.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())
}

/// When, from the start of the demo, an event at `t` is produced.
fn due_at(
    t: DateTime<Utc>,
    first: DateTime<Utc>,
    span: chrono::Duration,
    total: Duration,
) -> Duration {
    let into = (t - first).as_seconds_f64().max(0.0);
    let share = into / span.as_seconds_f64().max(1.0);
    total.mul_f64(share.clamp(0.0, 1.0))
}

/// Every alert line from the beginning of `topic`, handed to `each` in the order the alerts
/// were raised (event time, then employee and id), until `stop`; then what is left.
///
/// The detect stage applies logins in event-time order within each partition, but the
/// partitions' alerts reach this reader side by side. So lines are held until `watermark`
/// (the detect stage's, published once the alerts up to it are written) has passed them
/// and this reader has read every partition to the end it had then: every alert at or
/// before the watermark has been read, and the lines go out sorted. Two demos with one seed
/// print the same lines in the same order.
fn follow_alerts(
    brokers: &str,
    topic: &str,
    partitions: i32,
    stop: &AtomicBool,
    watermark: impl Fn() -> f64,
    mut each: impl FnMut(Alert),
) {
    let consumer: BaseConsumer = match ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "driftwatch-demo.printer")
        .set("enable.auto.commit", "false")
        .create()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "demo: the alert printer cannot start");
            return;
        }
    };
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        let _ = tpl.add_partition_offset(topic, p, Offset::Beginning);
    }
    if let Err(e) = consumer.assign(&tpl) {
        tracing::error!(error = %e, "demo: the alert printer cannot read");
        return;
    }
    // Raised order: event time, then employee and id; `seq` keeps an alert's lines in the
    // order they were written.
    let mut held: std::collections::BTreeMap<
        (DateTime<Utc>, crate::roster::EmployeeId, String, u64),
        Alert,
    > = Default::default();
    let mut seq = 0u64;
    let mut next: HashMap<i32, i64> = HashMap::new();
    let mut last_check = Instant::now();
    let mut printed_until = f64::NEG_INFINITY;
    let mut hold = |a: Alert, held: &mut std::collections::BTreeMap<_, _>| {
        seq += 1;
        held.insert((a.time, a.employee_id.clone(), a.id.clone(), seq), a);
    };
    while !stop.load(Ordering::SeqCst) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
            next.insert(m.partition(), m.offset() + 1);
            if let Ok(a) = crate::siem::read_alert(m.payload().unwrap_or_default()) {
                hold(a, &mut held);
            }
        }
        if last_check.elapsed() < Duration::from_millis(200) {
            continue;
        }
        last_check = Instant::now();
        let w = watermark();
        if w <= printed_until || held.is_empty() {
            continue;
        }
        // Read to the ends as of now: everything at or before `w` was written before them.
        let caught_up = (0..partitions).all(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(5))
                .is_ok_and(|(_, high)| next.get(&p).copied().unwrap_or(0) >= high)
        });
        if !caught_up {
            continue;
        }
        printed_until = w;
        while let Some(entry) = held.first_entry() {
            if entry.key().0.timestamp_millis() as f64 / 1000.0 > w {
                break;
            }
            each(entry.remove());
        }
    }
    // The stream ended: what was read and not yet printed, in order.
    while let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
        if let Ok(a) = crate::siem::read_alert(m.payload().unwrap_or_default()) {
            hold(a, &mut held);
        }
    }
    for (_, a) in held {
        each(a);
    }
}

/// Records the service consumed from the demo's input topics (each read with its
/// topic's fixed format).
fn consumed(handles: &Handles) -> u64 {
    [(OKTA_TOPIC, "okta"), (VPN_TOPIC, "cisco_asa")]
        .iter()
        .filter_map(|&(topic, format)| {
            handles.metrics.value(
                "driftwatch_records_consumed_total",
                &[("source", topic), ("format", format)],
            )
        })
        .sum::<f64>() as u64
}

/// The compliance report over the simulated logs, as `driftwatch report` writes it.
fn compliance_report(
    opts: &Options,
    first: DateTime<Utc>,
    span: chrono::Duration,
) -> Result<PathBuf, crate::report::ReportError> {
    use crate::report::{self, Job, Period, ReportFormat};
    let period = Period::new(first, first + span)?;
    let config = opts.out.join("driftwatch.toml");
    let audit_log = opts.out.join("audit.jsonl");
    let inputs = [opts.out.join("events")];
    let compliance = report::generate(&Job {
        config_path: &config,
        inputs: &inputs,
        period,
        input_format: None,
        audit_log: Some(&audit_log),
        pseudonymise: false,
    })?;
    let html = report::render(&compliance, ReportFormat::Html)?;
    let path = opts.out.join("compliance-report.html");
    report::write(Some(&path), &html)?;
    Ok(path)
}
