//! `driftwatch run` end to end on librdkafka's in-process mock cluster: the shipped example
//! events go in on an input topic, alerts come out on the alerts topic, and they are the
//! alerts `driftwatch replay` finds in the same events.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use driftwatch::alert::Alert;
use driftwatch::config::Config;
use driftwatch::decode::FormatChoice;
use driftwatch::service::config::InputTopic;
use driftwatch::service::{self, Ended, Handles, Stage};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use support::receiver::{Receiver, start_receiver};

mod support;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The example config, whose `[kafka]` and `[service]` sections must load, pointed at the
/// mock cluster with one input topic.
fn config(brokers: &str) -> Config {
    let mut config = Config::load(&repo("driftwatch.example.toml")).unwrap();
    let kafka = config
        .kafka
        .as_mut()
        .expect("the example config has a [kafka] section");
    kafka.brokers = brokers.to_owned();
    kafka.group_id = "dw-test".to_owned();
    kafka.partitions = 4;
    kafka.create_topics = false;
    kafka.input = vec![InputTopic {
        topic: "raw-logins".to_owned(),
        format: FormatChoice::Auto,
    }];
    config.service.batch_wait_ms = 50;
    config.service.shutdown_deadline_secs = 20;
    config
}

/// A mock cluster with the input topic and every topic the service would create (the
/// mock broker has no CreateTopics; the real-broker tests cover creation), and the example
/// config pointed at it.
fn mock_cluster() -> (
    MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    String,
    Config,
) {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let config = config(&brokers);
    cluster.create_topic("raw-logins", 1, 1).unwrap();
    for spec in service::kafka::topic_specs(config.kafka.as_ref().unwrap()) {
        cluster
            .create_topic(&spec.name, spec.partitions, 1)
            .unwrap();
    }
    (cluster, brokers, config)
}

/// Each run's consumers join groups the previous run's left; the mock coordinator waits
/// out a departed member's session before it assigns (45 s by default), so tests that
/// restart a stage keep sessions short.
fn short_sessions(config: &mut Config) {
    config
        .kafka
        .as_mut()
        .unwrap()
        .client
        .insert("session.timeout.ms".into(), "6000".into());
}

struct Record {
    key: Option<Vec<u8>>,
    value: Vec<u8>,
    headers: Vec<(String, String)>,
}

/// Every record of `topic` from the beginning, read until `enough` says so or `timeout`.
fn read_all(
    brokers: &str,
    topic: &str,
    timeout: Duration,
    enough: impl Fn(&[Record]) -> bool,
) -> Vec<Record> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && !enough(&out) {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            (
                                h.key.to_owned(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Record {
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().unwrap_or_default().to_vec(),
                headers,
            });
        }
    }
    out
}

/// The example records in event-time order (undecodable ones first), as `replay` merges
/// its inputs: the service applies each partition's records in the order they arrive, and
/// the order matters to the travel and hours rules.
fn example_records(config: &Config) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in [
        "okta-system-log.ndjson",
        "entra-signins.ndjson",
        "cisco-asa.log",
        "broken-records.log",
    ] {
        let text = std::fs::read(repo("examples/events").join(f)).unwrap();
        out.extend(
            text.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    let ctx = config.decode.context(chrono::Utc::now());
    out.sort_by_key(|r| {
        driftwatch::decode::decode(r, driftwatch::decode::FormatChoice::Auto, &ctx)
            .ok()
            .map(|e| e.time)
    });
    out
}

fn replay_alerts() -> Vec<Alert> {
    support::examples::replay_cli(&[])
}

#[test]
fn examples_through_the_mock_cluster_give_the_replay_alerts() {
    examples_through_the_mock_cluster(RosterFrom::File);
}

/// The roster read from a compacted topic instead of the file: the same alerts.
#[test]
fn a_roster_topic_serves_as_the_roster_file_does() {
    examples_through_the_mock_cluster(RosterFrom::Topic);
}

#[derive(PartialEq)]
enum RosterFrom {
    File,
    Topic,
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            std::env::var("DRIFTWATCH_LOG").unwrap_or_else(|_| "warn".into()),
        ))
        .with_test_writer()
        .try_init();
}

fn examples_through_the_mock_cluster(roster_from: RosterFrom) {
    init_tracing();
    let (cluster, brokers, mut config) = mock_cluster();

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let records = example_records(&config);
    for (i, r) in records.iter().enumerate() {
        let key = format!("k{}", i % 7);
        producer
            .send(BaseRecord::to("raw-logins").key(&key).payload(r))
            .unwrap();
    }
    if roster_from == RosterFrom::Topic {
        // One record per employee, keyed by id, each a row of the JSON roster; a removed
        // employee's tombstone first shows that the latest record per key wins.
        cluster.create_topic("hr.roster", 2, 1).unwrap();
        let text = std::fs::read_to_string(repo("examples/roster.json")).unwrap();
        let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        for row in &rows {
            let id = row["employee_id"].as_str().unwrap();
            producer
                .send(BaseRecord::<str, str>::to("hr.roster").key(id).payload(""))
                .unwrap();
            let value = serde_json::to_string(row).unwrap();
            producer
                .send(BaseRecord::to("hr.roster").key(id).payload(&value))
                .unwrap();
        }
        config.kafka.as_mut().unwrap().roster_topic = Some("hr.roster".to_owned());
        // Were the file still read, the run would fail.
        config.roster.as_mut().unwrap().path = repo("no-such-roster.csv");
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handles = Handles::default();
    let service = {
        let handles = handles.clone();
        let handle = runtime.handle().clone();
        std::thread::spawn(move || service::run(&config, &Stage::ALL, handle, &handles))
    };

    let deadline = Instant::now() + Duration::from_secs(60);
    while !handles.health.is_ready() {
        assert!(Instant::now() < deadline, "not ready within a minute");
        if service.is_finished() {
            panic!("service ended early: {:?}", service.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The input's series exist from the start, in every format `auto` may find: the
    // examples hold no OCSF, so this series is there only because `run` made it.
    let ocsf = [("format", "ocsf"), ("source", "raw-logins")];
    assert_eq!(
        handles
            .metrics
            .value("driftwatch_records_consumed_total", &ocsf),
        Some(0.0),
        "{ocsf:?} missing:\n{}",
        handles.metrics.render()
    );
    let expected = replay_alerts();
    assert!(!expected.is_empty());
    let revisions = |alerts: &[Alert]| -> BTreeSet<String> {
        alerts.iter().map(service::detect::revision).collect()
    };
    let want = revisions(&expected);
    let got = read_all(
        &brokers,
        "driftwatch.alerts",
        Duration::from_secs(60),
        |rs| rs.len() >= expected.len(),
    );
    let alerts: Vec<Alert> = got
        .iter()
        .map(|r| serde_json::from_slice(&r.value).unwrap())
        .collect();
    for (r, a) in got.iter().zip(&alerts) {
        assert_eq!(r.key.as_deref(), Some(a.employee_id.0.as_bytes()));
    }
    let have = revisions(&alerts);
    assert_eq!(have.len(), alerts.len(), "no alert line twice");
    assert_eq!(have, want, "the service finds what replay finds");

    // Every record is accounted for: the four broken records and the two logins of
    // accounts the roster does not know are on the dead-letter topic, with their reason
    // and source coordinates, as replay's summary counts them.
    let dlq = read_all(&brokers, "driftwatch.dlq", Duration::from_secs(20), |rs| {
        rs.len() >= 6
    });
    let header = |r: &Record, name: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut reasons: Vec<String> = dlq.iter().map(|r| header(r, "driftwatch.reason")).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "invalid_json",
            "invalid_time",
            "missing_ip",
            "unknown_format",
            "unknown_user",
            "unknown_user"
        ]
    );
    for r in &dlq {
        assert_eq!(header(r, "driftwatch.source.topic"), "raw-logins");
        let offset: usize = header(r, "driftwatch.source.offset").parse().unwrap();
        assert_eq!(r.value, records[offset], "the record is kept as it came");
    }
    let samples = handles.metrics.samples();
    let metrics = handles.metrics.render();
    let consumed: f64 = samples
        .iter()
        .filter(|s| s.name == "driftwatch_records_consumed_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(consumed as u64, records.len() as u64, "{metrics}");
    // E1002 opens at high (anonymizer and claimed_location: the metric names the lead
    // rule, the one of the most severe finding) and E1005 at high for its hours.
    for rule in ["claimed_location", "working_hours"] {
        let labels = [("rule", rule), ("severity", "high"), ("status", "open")];
        assert_eq!(
            handles.metrics.value("driftwatch_alerts_total", &labels),
            Some(1.0),
            "{labels:?}\n{metrics}"
        );
    }

    handles.stop.cancel();
    let ended = service.join().unwrap();
    assert_eq!(ended.unwrap(), Ended::Clean);
}

/// `[kafka] alerts_format = "ocsf"`: the alerts topic carries OCSF Detection Findings
/// (valid against the OCSF schema source, keyed by employee as before) holding replay's
/// alerts, and the stages that read the topic take them: the route stage pages a webhook
/// with each alert, the analyst API serves them.
#[test]
fn with_ocsf_on_the_alerts_topic_the_route_stage_and_the_api_still_work() {
    init_tracing();
    let (_cluster, brokers, mut config) = mock_cluster();
    config.kafka.as_mut().unwrap().alerts_format = driftwatch::siem::AlertsFormat::Ocsf;
    let hook = Receiver::default();
    let (addr, _receiver_runtime) = start_receiver(&hook);
    config.route = toml::from_str(&format!(
        "[[destination]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://{addr}/hook\"\n"
    ))
    .unwrap();
    let (token, sha256) = driftwatch::api::new_token().unwrap();
    config.api = toml::from_str(&format!(
        "enabled = true\n[[token]]\nname = \"ana\"\nrole = \"analyst\"\nsha256 = \"{sha256}\"\n"
    ))
    .unwrap();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for r in &example_records(&config) {
        producer
            .send(BaseRecord::<str, [u8]>::to("raw-logins").payload(r))
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handles = Handles::default();
    let service = {
        let handles = handles.clone();
        let handle = runtime.handle().clone();
        let config = config.clone();
        std::thread::spawn(move || service::run(&config, &Stage::ALL, handle, &handles))
    };
    let expected = replay_alerts();
    let want: BTreeSet<String> = expected.iter().map(service::detect::revision).collect();
    let got = read_all(
        &brokers,
        "driftwatch.alerts",
        Duration::from_secs(60),
        |rs| rs.len() >= expected.len(),
    );
    let mut lines = Vec::new();
    let mut have = BTreeSet::new();
    for r in &got {
        let v: serde_json::Value = serde_json::from_slice(&r.value).unwrap();
        assert_eq!(v["class_uid"], 2004, "an OCSF line: {v}");
        let a = driftwatch::siem::read_alert(&r.value).unwrap();
        assert_eq!(r.key.as_deref(), Some(a.employee_id.0.as_bytes()));
        have.insert(service::detect::revision(&a));
        lines.push(v.to_string());
    }
    assert_eq!(have, want, "the topic holds replay's alerts");
    support::siem::validate_ocsf(
        support::siem::ocsf_schema(),
        &[("driftwatch.alerts".into(), lines)],
    );

    let wait = |what: &str, mut done: Box<dyn FnMut() -> bool + '_>| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "{what}: not within a minute");
            assert!(!service.is_finished(), "the service ended");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let paged = || -> BTreeSet<String> {
        hook.on("/hook")
            .iter()
            .map(|r| {
                let a: Alert = serde_json::from_value(r.body["alert"].clone()).unwrap();
                service::detect::revision(&a)
            })
            .collect()
    };
    wait(
        "every alert paged",
        Box::new(|| paged().len() >= want.len()),
    );
    assert_eq!(paged(), want);

    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(service::http::serve(
        listener,
        std::sync::Arc::clone(&handles.metrics),
        std::sync::Arc::clone(&handles.health),
        std::sync::Arc::clone(&handles.api),
        std::future::pending(),
    ));
    let ids: BTreeSet<String> = expected.iter().map(|a| a.id.clone()).collect();
    let served = || -> BTreeSet<String> {
        runtime.block_on(async {
            let r = reqwest::Client::new()
                .get(format!("{base}/api/v1/alerts"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            v["alerts"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x["alert"]["id"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        })
    };
    wait("the API serves every alert", Box::new(|| served() == ids));

    handles.stop.cancel();
    assert_eq!(service.join().unwrap().unwrap(), Ended::Clean);
}

/// The route stage delivers from the alerts topic and stores its offsets only after the
/// destination took the alerts: a destination that is down through a whole run (and its
/// clean shutdown) gets every alert line once it is back, from the next run; a third run
/// delivers nothing again. A second destination that refuses every alert (400) has each
/// line dead-lettered, once, while the first one waits.
#[test]
fn the_route_stage_delivers_what_a_down_destination_missed_after_a_restart() {
    init_tracing();
    let (_cluster, brokers, mut config) = mock_cluster();
    let hook = Receiver::default();
    hook.set_always("/hook", Some(503));
    hook.set_always("/strict", Some(400));
    let (addr, _receiver_runtime) = start_receiver(&hook);
    config.route = toml::from_str(&format!(
        "[[destination]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://{addr}/hook\"\n\
         initial_backoff_ms = 50\nmax_backoff_secs = 1\n\
         [[destination]]\nname = \"strict\"\nkind = \"webhook\"\nurl = \"http://{addr}/strict\"\n"
    ))
    .unwrap();
    assert!(config.route.validate().is_empty());
    short_sessions(&mut config);

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for r in &example_records(&config) {
        producer
            .send(BaseRecord::<str, [u8]>::to("raw-logins").payload(r))
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    let expected = replay_alerts();
    let want: BTreeSet<String> = expected.iter().map(service::detect::revision).collect();
    let delivered = |hook: &Receiver| -> Vec<String> {
        hook.on("/hook")
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| {
                let a: Alert = serde_json::from_value(r.body["alert"].clone()).unwrap();
                service::detect::revision(&a)
            })
            .collect()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let start = |stages: &'static [Stage]| {
        let handles = Handles::default();
        let h = handles.clone();
        let handle = runtime.handle().clone();
        let config = config.clone();
        let thread = std::thread::spawn(move || service::run(&config, stages, handle, &h));
        (handles, thread)
    };
    let wait = |what: &str, mut done: Box<dyn FnMut() -> bool + '_>| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "{what}: not within a minute");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let retries = |handles: &Handles| {
        let labels = [("destination", "hook"), ("outcome", "retry")];
        (handles.metrics)
            .value("driftwatch_notification_attempts_total", &labels)
            .unwrap_or(0.0)
    };

    // Run 1: every stage; the destination answers 503 throughout.
    let (handles, thread) = start(&Stage::ALL);
    let on_topic = read_all(
        &brokers,
        "driftwatch.alerts",
        Duration::from_secs(60),
        |rs| rs.len() >= expected.len(),
    );
    assert_eq!(on_topic.len(), expected.len());
    wait("retries", Box::new(|| retries(&handles) >= 3.0));
    handles.stop.cancel();
    assert_eq!(thread.join().unwrap().unwrap(), Ended::Clean);
    assert!(delivered(&hook).is_empty());
    let delivered_to_hook = [("destination", "hook"), ("result", "delivered")];
    assert_eq!(
        (handles.metrics)
            .value("driftwatch_notifications_total", &delivered_to_hook)
            .unwrap_or(0.0),
        0.0
    );

    // Run 2: only the route stage, the destination back.
    hook.set_always("/hook", None);
    let (handles, thread) = start(&[Stage::Route]);
    wait(
        "delivery",
        Box::new(|| delivered(&hook).len() >= want.len()),
    );
    let got = delivered(&hook);
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), want);
    assert_eq!(got.len(), want.len(), "each line once: {got:?}");
    let pending = || {
        (handles.metrics)
            .value(
                "driftwatch_notification_pending",
                &[("destination", "hook")],
            )
            .unwrap_or(0.0)
    };
    wait("pending back to 0", Box::new(|| pending() == 0.0));
    handles.stop.cancel();
    assert_eq!(thread.join().unwrap().unwrap(), Ended::Clean);

    // Run 3: the offsets were committed after delivery, so nothing is sent again.
    let (handles, thread) = start(&[Stage::Route]);
    wait("ready", Box::new(|| handles.health.is_ready()));
    std::thread::sleep(Duration::from_secs(3));
    handles.stop.cancel();
    assert_eq!(thread.join().unwrap().unwrap(), Ended::Clean);
    assert_eq!(delivered(&hook).len(), want.len());
    let dlq = read_all(&brokers, "driftwatch.dlq", Duration::from_secs(5), |_| {
        false
    });
    let header = |r: &Record, name: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let refused: Vec<&Record> = dlq
        .iter()
        .filter(|r| header(r, "driftwatch.stage") == "route")
        .collect();
    assert_eq!(
        refused.len(),
        want.len(),
        "each line refused by strict, once"
    );
    assert_eq!(hook.on("/strict").len(), want.len(), "a 400 is not retried");
    for r in &refused {
        assert_eq!(header(r, "driftwatch.reason"), "undeliverable");
        assert!(header(r, "driftwatch.detail").starts_with("strict: HTTP 400"));
        assert_eq!(header(r, "driftwatch.source.topic"), "driftwatch.alerts");
        let a: Alert = serde_json::from_slice(&r.value).unwrap();
        assert!(
            want.contains(&service::detect::revision(&a)),
            "kept as it was"
        );
    }
}

/// The analyst API in `driftwatch run`: its view answers for every employee whichever
/// partition holds them, and a disposition recorded through it reaches the detect stage
/// that owns the employee through the dispositions topic, which silences the alert's
/// later lines (the escalation `replay` writes without it).
#[test]
fn a_disposition_through_the_api_silences_the_repeat_alert_in_the_stream() {
    init_tracing();
    let (_cluster, brokers, mut config) = mock_cluster();
    let (token, sha256) = driftwatch::api::new_token().unwrap();
    config.api = toml::from_str(&format!(
        "enabled = true\n[[token]]\nname = \"ana\"\nrole = \"analyst\"\nsha256 = \"{sha256}\"\n"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audit_log = dir.path().join("audit.jsonl");
    config.audit.path = Some(audit_log.clone());
    // On-call gets the page, then its resolution when the analyst disposes of it.
    let oncall = Receiver::default();
    let (oncall_addr, _oncall_runtime) = start_receiver(&oncall);
    config.route = toml::from_str(&format!(
        "[[destination]]\nname = \"oncall\"\nkind = \"webhook\"\nurl = \"http://{oncall_addr}/oncall\"\n"
    ))
    .unwrap();
    // The audit stage is restarted below.
    short_sessions(&mut config);

    // E1002's alert opens (a hosting exit in Shenyang), then escalates (replay, without
    // dispositions).
    let expected = replay_alerts();
    let e1002: Vec<&Alert> = expected
        .iter()
        .filter(|a| a.employee_id.0 == "E1002")
        .collect();
    assert!(e1002.len() >= 2, "{e1002:?}");
    let (opened, escalated) = (e1002[0].time, e1002[1].time);

    // The records up to the opening login first; the rest after the disposition.
    let records = example_records(&config);
    let ctx = config.decode.context(chrono::Utc::now());
    let time_of = |r: &[u8]| {
        driftwatch::decode::decode(r, FormatChoice::Auto, &ctx)
            .ok()
            .map(|e| e.time)
    };
    let split = records
        .iter()
        .position(|r| time_of(r).is_some_and(|t| t > opened))
        .unwrap();
    assert!(time_of(&records[split]).is_some_and(|t| t <= escalated));
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let send = |part: &[Vec<u8>]| {
        for r in part {
            producer
                .send(BaseRecord::<str, [u8]>::to("raw-logins").payload(r))
                .unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();
    };
    send(&records[..split]);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handles = Handles::default();
    let service = {
        let handles = handles.clone();
        let handle = runtime.handle().clone();
        let config = config.clone();
        std::thread::spawn(move || service::run(&config, &Stage::ALL, handle, &handles))
    };
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(service::http::serve(
        listener,
        std::sync::Arc::clone(&handles.metrics),
        std::sync::Arc::clone(&handles.health),
        std::sync::Arc::clone(&handles.api),
        std::future::pending(),
    ));
    let call = |method: &str, path: &str, body: Option<serde_json::Value>| {
        runtime.block_on(async {
            let client = reqwest::Client::new();
            let url = format!("{base}{path}");
            let mut rq = if method == "GET" {
                client.get(&url)
            } else {
                client.post(&url).json(&body.unwrap_or_default())
            };
            rq = rq.bearer_auth(&token);
            let r = rq.send().await.unwrap();
            let status = r.status().as_u16();
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            (status, v)
        })
    };
    let wait = |what: &str, mut done: Box<dyn FnMut() -> bool + '_>| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "{what}: not within a minute");
            assert!(!service.is_finished(), "the service ended");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait(
        "the opening alert in the API",
        Box::new(|| {
            let (status, v) = call("GET", "/api/v1/alerts?employee_id=E1002", None);
            status == 200 && !v["alerts"].as_array().unwrap().is_empty()
        }),
    );
    let (_, v) = call("GET", "/api/v1/alerts?employee_id=E1002", None);
    let id = v["alerts"][0]["alert"]["id"].as_str().unwrap().to_owned();
    assert_eq!(id, e1002[0].id);
    // The analyst disposes of what on-call was paged for. (The API view and the route
    // stage read the alerts topic independently; the order of a disposition read first is
    // the route stage's unit test.)
    let sent = |action: &str| {
        oncall
            .on("/oncall")
            .iter()
            .any(|r| r.body["action"] == action && r.body["dedup_key"] == id.as_str())
    };
    wait("the page", Box::new(|| sent("trigger")));
    let (status, reply) = call(
        "POST",
        &format!("/api/v1/alerts/{id}/disposition"),
        Some(serde_json::json!({"verdict": "benign", "note": "contractor VPN approved"})),
    );
    assert_eq!(status, 202, "{reply}");
    // The owner applied it: the silence is in the state the view reads back.
    wait(
        "the silence in E1002's state",
        Box::new(|| {
            let (_, e) = call("GET", "/api/v1/employees/E1002", None);
            !e["silences"].as_array().unwrap().is_empty()
        }),
    );
    let (_, a) = call("GET", &format!("/api/v1/alerts/{id}"), None);
    assert_eq!(a["status"], "disposed", "{a}");
    wait("the page resolved", Box::new(|| sent("resolve")));
    let pages = oncall.on("/oncall");
    let first_trigger = pages
        .iter()
        .position(|r| r.body["action"] == "trigger" && r.body["dedup_key"] == id.as_str())
        .expect("the alert was paged first");
    let resolve = pages
        .iter()
        .position(|r| r.body["action"] == "resolve")
        .unwrap();
    assert!(first_trigger < resolve);
    assert_eq!(
        pages[resolve].body["alert"]["severity"], "high",
        "resolved with the labels it was paged with"
    );

    send(&records[split..]);
    let consumed = || {
        ["okta", "entra", "cisco_asa"]
            .iter()
            .filter_map(|&format| {
                handles.metrics.value(
                    "driftwatch_records_consumed_total",
                    &[("source", "raw-logins"), ("format", format)],
                )
            })
            .sum::<f64>() as u64
    };
    let decodable = records.iter().filter(|r| time_of(r).is_some()).count() as u64;
    wait(
        "every record consumed",
        Box::new(|| consumed() >= decodable),
    );
    // Everyone else's alerts arrive as replay wrote them; E1002's escalation does not.
    let others: BTreeSet<String> = expected
        .iter()
        .filter(|a| a.employee_id.0 != "E1002")
        .map(service::detect::revision)
        .collect();
    let got = read_all(
        &brokers,
        "driftwatch.alerts",
        Duration::from_secs(30),
        |rs| rs.len() > others.len(),
    );
    let got: Vec<Alert> = got
        .iter()
        .map(|r| serde_json::from_slice(&r.value).unwrap())
        .collect();
    let mine: Vec<&Alert> = got.iter().filter(|a| a.employee_id.0 == "E1002").collect();
    assert_eq!(
        mine.len(),
        1,
        "only the line before the disposition: {mine:?}"
    );
    let theirs: BTreeSet<String> = got
        .iter()
        .filter(|a| a.employee_id.0 != "E1002")
        .map(service::detect::revision)
        .collect();
    assert_eq!(theirs, others);

    // The view holds every employee, whatever partition they are in. It reads the state
    // changelog on its own, so it may be a moment behind the alerts topic.
    wait(
        "every employee's state in the view",
        Box::new(|| {
            let (_, list) = call("GET", "/api/v1/employees", None);
            let with_baseline = list["employees"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["baseline"]["events"].as_u64().unwrap_or(0) > 0)
                .count();
            with_baseline >= 8
        }),
    );

    // The audit stage appended the alerts, the configuration and roster in effect, every
    // API call and the disposition to the hash-chained log.
    use driftwatch::audit::Kind;
    let kinds = |path: &Path| -> Vec<Kind> {
        driftwatch::audit::read(path)
            .unwrap_or_default()
            .iter()
            .map(|r| r.entry.kind)
            .collect()
    };
    let lines = got.len();
    let calls_on_topic = read_all(&brokers, "driftwatch.audit", Duration::from_secs(3), |_| {
        false
    })
    .iter()
    .filter(|r| String::from_utf8_lossy(&r.value).contains("\"api_call\""))
    .count();
    wait(
        "the audit log",
        Box::new(|| {
            let k = kinds(&audit_log);
            k.contains(&Kind::Disposition)
                && k.contains(&Kind::AlertResolved)
                && k.iter().filter(|k| **k == Kind::ApiCall).count() >= calls_on_topic
                && k.iter()
                    .filter(|k| matches!(k, Kind::AlertRaised | Kind::AlertUpdated))
                    .count()
                    == lines
        }),
    );
    handles.stop.cancel();
    assert_eq!(service.join().unwrap().unwrap(), Ended::Clean);
    let verified = driftwatch::audit::verify(&audit_log).unwrap();
    let k = kinds(&audit_log);
    for kind in [
        Kind::ConfigChanged,
        Kind::RosterChanged,
        Kind::ApiCall,
        Kind::Disposition,
        Kind::AlertResolved,
    ] {
        assert!(k.contains(&kind), "{kind:?} missing: {k:?}");
    }
    assert!(k.iter().filter(|k| **k == Kind::ApiCall).count() >= 5);

    // A restart of the audit stage reads its topics again from the committed offsets and
    // appends nothing twice.
    let handles = Handles::default();
    let audit_only = {
        let handles = handles.clone();
        let handle = runtime.handle().clone();
        let config = config.clone();
        std::thread::spawn(move || service::run(&config, &[Stage::Audit], handle, &handles))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !handles.health.is_ready() {
        assert!(Instant::now() < deadline, "audit stage not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    handles.stop.cancel();
    assert_eq!(audit_only.join().unwrap().unwrap(), Ended::Clean);
    let again = driftwatch::audit::verify(&audit_log).unwrap();
    // Only this run's own start records (configuration and roster) are new.
    let new: Vec<Kind> = kinds(&audit_log)[k.len()..].to_vec();
    assert!(
        new.iter()
            .all(|k| matches!(k, Kind::ConfigChanged | Kind::RosterChanged)),
        "{new:?}"
    );
    assert!(again.records > verified.records);
}

/// Issue 16's property: for the same input and configuration, `driftwatch run` writes
/// exactly the alert lines `driftwatch replay` writes, whatever the layout. One simulated
/// company (shared_infrastructure on: its findings come back to detect through their own
/// topic) goes through the mock cluster into `driftwatch run` processes: one partition and
/// one instance; then four partitions (the input keyed arbitrarily, so one employee's
/// logins are spread over them) and two instances, one killed with SIGKILL a third of the
/// way in and started again. Each must write every one of replay's alert lines, each once
/// and byte for byte apart from the run's own `detected_at` (the wall clock, which replay
/// leaves out), and nothing else.
#[test]
fn a_company_through_any_layout_and_a_kill_gives_replays_alert_lines() {
    use support::service::{
        Options, company, ingested, log_tail, run_config, stop, wait_done, wait_until,
    };
    use support::tansu::{Until, drain, produce};

    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    // Small enough for the mock broker, which keeps 5 MB per partition and drops the
    // oldest records beyond (checked below: a dropped record would look like a miss).
    let records = company(dir.path(), 50, 10, 5);
    let replayed = std::process::Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["replay", "--no-progress", "--config"])
        .arg(dir.path().join("driftwatch.toml"))
        .arg(dir.path().join("events"))
        .output()
        .unwrap();
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let lines = |values: Vec<Vec<u8>>| -> Vec<serde_json::Value> {
        let mut out: Vec<serde_json::Value> = values
            .iter()
            .map(|v| serde_json::from_slice(v).unwrap())
            .collect();
        out.sort_by_key(|v| v.to_string());
        out
    };
    for line in replayed
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
    {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        assert!(
            v.get("detected_at").is_none(),
            "replay's lines vary with the clock: {v}"
        );
    }
    let want = lines(
        replayed
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
    );
    let has_rule = |rule: &str| {
        want.iter()
            .any(|a| a["rules"].as_array().unwrap().iter().any(|r| r == rule))
    };
    assert!(want.len() >= 10, "{} alert lines", want.len());
    assert!(
        has_rule("shared_infrastructure"),
        "the company has a laptop farm, and its findings are part of the check"
    );

    // The first layout also serves the analyst API, with an audit log for the report.
    let (token, sha256) = driftwatch::api::new_token().unwrap();
    for (partitions, instances) in [(1, 1), (4, 2)] {
        let name = format!("p{partitions}i{instances}");
        let audit_log = dir.path().join(format!("{name}-audit.jsonl"));
        let api = if instances == 1 {
            format!(
                "[api]\nenabled = true\n[[api.token]]\nname = \"ana\"\nrole = \"analyst\"\nsha256 = \"{sha256}\"\n[audit]\npath = {:?}\n",
                audit_log.display().to_string()
            )
        } else {
            String::new()
        };
        let cluster = MockCluster::new(1).unwrap();
        let bootstrap = cluster.bootstrap_servers();
        let reader: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .unwrap();
        cluster.create_topic("raw", partitions, 1).unwrap();
        let run = run_config(
            dir.path(),
            &bootstrap,
            &name,
            "raw",
            &Options {
                partitions,
                // A killed member's partitions move after its session: short, so the
                // test does not wait out librdkafka's 45 s default.
                extra_toml: format!("[kafka.client]\n\"session.timeout.ms\" = \"6000\"\n{api}"),
                ..Options::default()
            },
        );
        let config = Config::load(&run.config).unwrap();
        for spec in service::kafka::topic_specs(config.kafka.as_ref().unwrap()) {
            cluster
                .create_topic(&spec.name, spec.partitions, 1)
                .unwrap();
        }
        let keys: Vec<String> = (0..records.len()).map(|i| format!("k{}", i % 7)).collect();
        let batch: Vec<(Option<&[u8]>, &[u8])> = records
            .iter()
            .zip(&keys)
            .map(|(r, k)| (Some(k.as_bytes()), r.as_slice()))
            .collect();
        produce(&bootstrap, "raw", &batch);

        let log = dir.path().join(format!("{name}.log"));
        let first = run.start(&log, None);
        let mut others = Vec::new();
        if instances == 2 {
            let second = run.second_instance(dir.path());
            let child = second.start(&log, None);
            let third = records.len() as i64 / 3;
            wait_until(
                "a third of the input",
                &log,
                Duration::from_secs(120),
                || ingested(&bootstrap, &name, "raw") >= third,
            );
            stop(child, "-KILL");
            std::thread::sleep(Duration::from_secs(2));
            others.push(second.start(&log, None));
        }
        wait_done(&bootstrap, &name, "raw", &log, Duration::from_secs(240));
        // The run stamps each line with when it decided (`detected_at`, the wall clock);
        // replay leaves it out. Everything else is the same, byte for byte.
        let got = lines(
            drain(&bootstrap, &format!("{name}.alerts"), Until::End)
                .into_iter()
                .map(|r| without_detection_time(&r.value.unwrap_or_default(), &name))
                .collect(),
        );
        if instances == 1 {
            the_report_lists_them_with_the_apis_dispositions(
                &run,
                &token,
                &audit_log,
                dir.path(),
                &want,
            );
        }
        let metrics = run.get("/metrics").map(|(_, b)| b).unwrap_or_default();
        for topic in [
            "raw".to_owned(),
            format!("{name}.logins"),
            format!("{name}.network"),
        ] {
            for p in 0..partitions {
                let (low, _) = reader
                    .fetch_watermarks(&topic, p, Duration::from_secs(5))
                    .unwrap();
                assert_eq!(low, 0, "{topic}/{p}: the mock broker dropped records");
            }
        }
        for child in others {
            stop(child, "-TERM");
        }
        stop(first, "-TERM");
        if got != want {
            std::fs::write(dir.path().join(format!("{name}-metrics.txt")), &metrics).unwrap();
            // Kept for a closer look: the company, both sets of lines and the run log.
            let kept = dir.keep();
            let dump = |file: &str, lines: &[serde_json::Value]| {
                let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                std::fs::write(kept.join(file), text.join("\n")).unwrap();
            };
            dump(&format!("{name}-run.jsonl"), &got);
            dump("replay.jsonl", &want);
            eprintln!("kept in {}", kept.display());
            let missing: Vec<_> = want.iter().filter(|a| !got.contains(a)).collect();
            let extra: Vec<_> = got.iter().filter(|a| !want.contains(a)).collect();
            panic!(
                "{name}: {} lines, replay {}; missing {missing:#?}\nextra {extra:#?}\nlog tail:\n{}",
                got.len(),
                want.len(),
                log_tail(&log)
            );
        }
        drop(cluster);
    }
}

/// After the run: two dispositions through the run's API (a true positive on a laptop-farm
/// alert, a benign verdict on another), then `driftwatch report` over the period with the
/// audit log the run wrote. The report lists replay's alerts, each at its last line's
/// severity, with the verdict, who and when for the two, and none for the rest.
fn the_report_lists_them_with_the_apis_dispositions(
    run: &support::service::Run,
    token: &str,
    audit_log: &Path,
    dir: &Path,
    replayed: &[serde_json::Value],
) {
    let mut last: std::collections::BTreeMap<String, &serde_json::Value> = Default::default();
    let mut ordered: Vec<&serde_json::Value> = replayed.iter().collect();
    ordered.sort_by_key(|a| a["time"].as_str().unwrap().to_owned());
    for a in ordered {
        last.insert(a["id"].as_str().unwrap().to_owned(), a);
    }
    let farm = last
        .values()
        .find(|a| {
            a["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "shared_infrastructure")
        })
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .unwrap();
    let other = last.keys().find(|id| **id != farm).cloned().unwrap();
    for (id, verdict) in [(&farm, "true_positive"), (&other, "benign")] {
        use std::io::{Read, Write};
        let body = serde_json::json!({"verdict": verdict, "note": "checked with HR"}).to_string();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", run.port)).unwrap();
        write!(
            stream,
            "POST /api/v1/alerts/{id}/disposition HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split(' ').nth(1).unwrap_or_default();
        assert!(status.starts_with('2'), "{id}: {response}");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(audit_log)
        .unwrap_or_default()
        .matches("\"disposition\"")
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "the dispositions never reached the audit log"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = dir.join("report.json");
    let report = std::process::Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["report", "--config"])
        .arg(dir.join("driftwatch.toml"))
        .args([
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-11",
            "--format",
            "json",
        ])
        .arg("--audit-log")
        .arg(audit_log)
        .arg("--out")
        .arg(&out)
        .arg(dir.join("events"))
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let listed: std::collections::BTreeMap<String, &serde_json::Value> = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["id"].as_str().unwrap().to_owned(), a))
        .collect();
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        last.keys().collect::<Vec<_>>(),
        "the report lists the alerts replay (and the run) raised"
    );
    for (id, a) in &listed {
        assert_eq!(a["severity"], last[id]["severity"], "{id}: {a}");
        match id.as_str() {
            x if x == farm => {
                assert_eq!(a["disposition"]["verdict"], "true_positive", "{a}");
                assert_eq!(a["disposition"]["actor"], "ana", "{a}");
                assert!(a["disposition"]["recorded"].is_string(), "{a}");
            }
            x if x == other => {
                assert_eq!(a["disposition"]["verdict"], "benign", "{a}");
                assert_eq!(a["status"], "disposed", "{a}");
            }
            _ => assert!(a["disposition"].is_null(), "{a}"),
        }
    }
    assert_eq!(
        r["population"]["alerts"]["by_disposition"]["none"],
        listed.len() as u64 - 2
    );
}

/// An alert line of `driftwatch run` without its `detected_at`, which it must have (an RFC
/// 3339 time), for comparison with replay's lines.
fn without_detection_time(line: &[u8], run: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(line).unwrap();
    let stamp = v
        .as_object_mut()
        .and_then(|m| m.remove("detected_at"))
        .unwrap_or_else(|| panic!("{run}: a line without detected_at: {v}"));
    assert!(
        stamp
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
        "{run}: detected_at {stamp}"
    );
    serde_json::to_vec(&v).unwrap()
}
