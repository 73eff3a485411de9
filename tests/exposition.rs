//! Prometheus' own checker, `promtool check metrics` (Debian package `prometheus`, which
//! `.ci/run` installs), on what `/metrics` serves once every kind of event has been
//! emitted, and on what it must refuse. External tier: it fails, not skips, without
//! promtool. (The registry's own unit tests read the same series in-process.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use driftwatch::alert::{AlertStatus, Severity};
use driftwatch::decode::{FormatChoice, RejectReason};
use driftwatch::enrich::{DatabaseKind, EnrichConfig};
use driftwatch::event::Format;
use driftwatch::service::Stage;
use driftwatch::service::config::InputTopic;
use driftwatch::service::ingest::DeadLetterReason;
use driftwatch::service::server::Server;
use driftwatch::telemetry::labels::{Country, Rule};
use driftwatch::telemetry::*;

/// `Err` with what promtool said when it refuses `exposition` or has anything to say.
fn promtool_check_metrics(exposition: &str) -> Result<(), String> {
    use std::process::{Command, Stdio};

    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "promtool not runnable ({e}): install it (Debian/Ubuntu: apt-get install -y \
                 prometheus) so the /metrics exposition can be checked"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && said.trim().is_empty() {
        Ok(())
    } else {
        Err(format!(
            "promtool check metrics: {}\n{exposition}",
            said.trim()
        ))
    }
}

/// Every kind of event, so every metric family holds samples.
fn emit_every_kind(m: &Metrics) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/geoip/maxmind-test/");
    let enricher = driftwatch::sources::enrich_files::open(&EnrichConfig {
        city: Some(format!("{dir}GeoIP2-City-Test.mmdb").into()),
        asn: Some(format!("{dir}GeoLite2-ASN-Test.mmdb").into()),
        anonymous_ip: Some(format!("{dir}GeoIP2-Anonymous-IP-Test.mmdb").into()),
        ..EnrichConfig::default()
    })
    .expect("MaxMind test databases (../shared must sit beside the repo)");
    let databases = enricher.databases();
    let configured: Vec<DatabaseKind> = databases.iter().map(|d| d.kind).collect();
    GeoipDatabasesLoaded {
        databases: &databases,
    }
    .emit(m);
    for addr in ["81.2.69.142", "216.160.83.56", "1.128.0.1", "192.0.2.1"] {
        let geo = enricher.lookup_uncached(addr.parse().unwrap());
        LoginEnriched {
            geo: &geo,
            configured: &configured,
        }
        .emit(m);
        LoginLocated {
            country: Country::of(geo.country.as_deref()),
        }
        .emit(m);
    }
    let okta = InputTopic {
        topic: "logins.okta".into(),
        format: FormatChoice::Fixed(Format::Okta),
    };
    let topic = TopicName::from(&okta);
    RecordConsumed {
        topic,
        format: Format::Okta.into(),
    }
    .emit(m);
    RecordRejected {
        topic,
        format: Format::Okta.into(),
        reason: RejectReason::MissingIp,
    }
    .emit(m);
    UnknownUserSeen { topic }.emit(m);
    RecordDeadLettered {
        topic,
        reason: DeadLetterReason::Rejected(RejectReason::MissingIp),
    }
    .emit(m);
    FindingsRaised {
        rule: Rule::named("claimed_location").expect("a rule"),
        severity: Severity::High,
        count: 1,
    }
    .emit(m);
    AlertRaised {
        rule: Rule::named("claimed_location"),
        severity: Severity::High,
        status: AlertStatus::Open,
    }
    .emit(m);
    BatchProcessed {
        stage: Stage::Ingest,
        records: 1,
        elapsed: Duration::from_micros(200),
    }
    .emit(m);
    EventLagObserved {
        stage: Stage::Detect,
        event_time: chrono::Utc::now() - chrono::Duration::seconds(3),
    }
    .emit(m);
    StateRestored {
        stage: Stage::Detect,
        partition: 0,
        employees: 250,
        elapsed: Duration::from_millis(1500),
    }
    .emit(m);
    ChangelogWritten { records: 1 }.emit(m);
    EmployeesTallied::of([None, Some(Severity::High)]).emit(m);
    let stats: rdkafka::Statistics =
        serde_json::from_str(include_str!("fixtures/librdkafka/consumer-stats.json"))
            .expect("captured librdkafka statistics");
    ConsumerStatsReceived { stats: &stats }.emit(m);
}

/// What a running driftwatch's `/metrics` serves, every family holding samples.
#[test]
fn promtool_accepts_what_metrics_serves() {
    let server = Server::start("127.0.0.1:0".parse().unwrap()).expect("a server");
    emit_every_kind(&server.handles().metrics);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    server.shutdown();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("driftwatch_records_consumed_total"), "{body}");
    if let Err(e) = promtool_check_metrics(body) {
        panic!("{e}");
    }
}

/// The same, rendered without HTTP in between.
#[test]
fn promtool_accepts_the_whole_registry() {
    let m = Metrics::new();
    emit_every_kind(&m);
    if let Err(e) = promtool_check_metrics(&m.render()) {
        panic!("{e}");
    }
}

/// The check above can fail: promtool refuses each of these, and accepts the last.
#[test]
fn promtool_refuses_what_is_not_exposition() {
    for bad in [
        "driftwatch_x{a=\"1\"}\n",
        "driftwatch_x{a=1} 1\n",
        "driftwatch x 1\n",
        "driftwatch_x{a=\"1\"} one\n",
        "driftwatch_x{a=\"1} 1\n",
    ] {
        assert!(promtool_check_metrics(bad).is_err(), "{bad:?}");
    }
    let ok = "# HELP driftwatch_x_total X.\n# TYPE driftwatch_x_total counter\n\
              driftwatch_x_total{a=\"q\\\"\",b=\"2\"} 1.5 1700000000000\n";
    if let Err(e) = promtool_check_metrics(ok) {
        panic!("{e}");
    }
}
