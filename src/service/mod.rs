//! `driftwatch run`: the core as a streaming service on Kafka (see docs/design.md,
//! "Streaming topology").
//!
//! ```text
//! input topics ─ingest─► driftwatch.logins (key employee) ─detect─► driftwatch.alerts
//!             └────────► driftwatch.network (key IP or /64) ─infra─► driftwatch.findings ─► detect
//! detect state ─► driftwatch.state-changelog (compacted, co-partitioned with logins)
//! bad input ─► driftwatch.dlq
//! ```
//!
//! Each stage is a consumer group of its own (`<group_id>.ingest`, `.detect`, `.infra`) on
//! a thread of its own; any number of instances share the partitions. A stage works in
//! batches: poll, apply, produce, wait for every acknowledgement, then store the input
//! offsets (committed in the background and on revoke): at-least-once, with redelivery made
//! harmless downstream (see [`detect`]).
//!
//! Files: `config` (`[kafka]`, `[service]`), `kafka` (clients, topics, the outbox),
//! `stage` (consumer context, batch polling), `ingest`, `detect`, `infra` (the stages),
//! `wire` (record formats, partitioner), `roster_source`, `http`. What the stages count and
//! log is in [`crate::telemetry`].

pub mod api;
pub mod audit;
pub mod config;
pub mod detect;
pub mod http;
pub mod infra;
pub mod ingest;
pub mod kafka;
pub mod order;
pub mod roster_source;
pub mod route;
pub mod stage;
pub mod watch;
pub mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::OwnedMessage;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::pipeline::Pipeline;
use crate::sources::{enrich_files, suppress_files};
use crate::telemetry::{self, Event, Metrics, TopicName};
use detect::{DetectPartitions, DetectTopics};
use http::Health;
use infra::{InfraPartitions, InfraTopics};
use ingest::DeadLetterReason;
use ingest::{Ingest, IngestTopics, InputProgress};
use kafka::{Outbox, ServiceError};
use order::EventOrder;
use roster_source::RosterSource;
use stage::{Done, Partitions, Progress, StageContext, poll_batch};

/// A stage of the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Stage {
    Ingest,
    Detect,
    Infra,
    Route,
    Audit,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Ingest,
        Stage::Detect,
        Stage::Infra,
        Stage::Route,
        Stage::Audit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Detect => "detect",
            Stage::Infra => "infra",
            Stage::Route => "route",
            Stage::Audit => "audit",
        }
    }
}

/// What the service shares with its caller: the cancellation token (cancel it to shut
/// down; every loop of the service watches it), metrics and health for the HTTP endpoints.
#[derive(Clone)]
pub struct Handles {
    pub stop: CancellationToken,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    /// The analyst API, once `[api] enabled` has it served.
    pub api: http::ApiSlot,
}

impl Default for Handles {
    fn default() -> Self {
        Handles {
            stop: CancellationToken::new(),
            metrics: Arc::new(Metrics::new()),
            health: Health::new(),
            api: http::ApiSlot::default(),
        }
    }
}

/// How the service ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Every stage finished its batch, committed and closed.
    Clean,
    /// The shutdown deadline passed with stages still busy (their uncommitted input is
    /// read again by the next owner).
    DeadlinePassed,
}

/// Run the given stages until `handles.stop` is cancelled. `runtime` must not be the calling
/// thread's own runtime (stages block on it).
pub fn run(
    config: &Config,
    stages: &[Stage],
    runtime: Handle,
    handles: &Handles,
) -> Result<Ended, ServiceError> {
    let kafka = config
        .kafka
        .clone()
        .ok_or_else(|| ServiceError::Other("the configuration has no [kafka] section".into()))?;
    let missing = kafka.missing_environment();
    if !missing.is_empty() {
        return Err(ServiceError::Other(missing.join("; ")));
    }
    let metrics = Arc::clone(&handles.metrics);
    let stop = handles.stop.clone();

    let roster = match &kafka.roster_topic {
        Some(topic) => RosterSource::follow_topic(&kafka, topic, stop.clone())?,
        None => {
            let r = config.roster.as_ref().ok_or_else(|| {
                ServiceError::Other("no roster: set [roster] path or kafka.roster_topic".into())
            })?;
            RosterSource::File(r.watch().map_err(|e| ServiceError::Other(e.to_string()))?)
        }
    };
    let roster = {
        roster.refresh();
        Arc::new(std::sync::Mutex::new(roster))
    };
    let current_roster = {
        let r = Arc::clone(&roster);
        Arc::new(move || r.lock().unwrap_or_else(|p| p.into_inner()).get())
            as Arc<dyn Fn() -> Arc<crate::roster::Roster> + Send + Sync>
    };
    let enricher = Arc::new(
        enrich_files::open(&config.enrich).map_err(|e| ServiceError::Other(e.to_string()))?,
    );
    telemetry::GeoipDatabasesLoaded {
        databases: &enricher.databases(),
    }
    .emit(&metrics);
    let suppress = Arc::new(
        suppress_files::load(&config.suppress).map_err(|e| ServiceError::Other(e.to_string()))?,
    );

    if kafka.create_topics {
        let specs = kafka::topic_specs(&kafka);
        let handle = runtime.clone();
        let k = kafka.clone();
        std::thread::scope(|s| {
            s.spawn(|| kafka::ensure_topics(&k, &specs, &handle))
                .join()
                .unwrap_or_else(|_| Err(ServiceError::Other("topic creation panicked".into())))
        })?;
    }

    // Configuration and roster changes go to the audit log (through the audit topic).
    let audit_topic = api::KafkaAudit {
        producer: kafka::producer(&kafka)?,
        topic: kafka.topics.audit.clone(),
        runtime: runtime.clone(),
    };
    if let Some(path) = &config.source {
        match std::fs::read(path) {
            Ok(bytes) => audit_topic.record(
                "config_changed",
                "driftwatch",
                None,
                serde_json::json!({
                    "path": path.display().to_string(),
                    "sha256": sha256_hex(&bytes),
                    "event": "started",
                }),
            ),
            Err(e) => tracing::warn!(error = %e, "config file not readable for the audit log"),
        }
    }
    let mut audited_roster = current_roster();
    audit_topic.record(
        "roster_changed",
        "driftwatch",
        None,
        roster_digest(&audited_roster),
    );

    // The analyst API: a view of every employee, whichever instance owns them.
    let api_view = if config.api.enabled {
        let view = Arc::new(crate::api::view::View::new(
            config.risk.clone(),
            config.detect.working_hours.clone(),
        ));
        let feed = api::follow(&kafka, Arc::clone(&view), stop.clone())?;
        let meta: BaseConsumer = kafka::client_config(&kafka).create()?;
        let producer = kafka::producer(&kafka)?;
        let dispositions = api::KafkaDispositions {
            producer: producer.clone(),
            topic: kafka.topics.dispositions.clone(),
            partitions: kafka::partition_count(&meta, &kafka.topics.dispositions)?,
            runtime: runtime.clone(),
        };
        let audit = api::KafkaAudit {
            producer,
            topic: kafka.topics.audit.clone(),
            runtime: runtime.clone(),
        };
        let router = crate::api::Api::new(
            &config.api,
            view,
            Arc::clone(&current_roster),
            Arc::new(dispositions),
            Arc::new(audit),
        )
        .router(config.api.max_body_bytes);
        // Set once per process; a second `run` in one process keeps the first router.
        let _ = handles.api.set(router);
        Some(feed)
    } else {
        None
    };

    let mut threads: Vec<(Stage, JoinHandle<Result<(), ServiceError>>)> = Vec::new();
    let mut ready: Vec<Box<dyn Fn() -> bool + Send>> = Vec::new();
    // Every consumer, for the watch that tells when a stage's input waits for nobody.
    let mut watched: Vec<watch::Watched> = Vec::new();
    let mut watch_of = |stage: Stage, group: &str, topics: &[&str], held: &Arc<stage::Held>| {
        watched.push(watch::Watched {
            stage,
            group: group.to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            held: Arc::clone(held),
        });
    };
    // Gauges the supervision loop refreshes (the risk levels of the employees held).
    let mut gauges: Vec<Box<dyn Fn() + Send>> = Vec::new();

    for &stage in stages {
        let group = format!("{}.{}", kafka.group_id, stage.as_str());
        let reader = || -> Result<BaseConsumer, ServiceError> {
            Ok(kafka::client_config(&kafka)
                .set("group.id", format!("{group}.restore"))
                .set("enable.auto.commit", "false")
                .set("enable.partition.eof", "true")
                .create()?)
        };
        let producer = kafka::producer(&kafka)?;
        let outbox = Outbox::new(producer.clone(), runtime.clone());
        let mut opts = LoopOptions {
            batch_max: config.service.batch_max.max(1),
            batch_wait: Duration::from_millis(config.service.batch_wait_ms),
            stop: stop.clone(),
            dlq: kafka.topics.dlq.clone(),
            announce_to: Vec::new(),
        };
        match stage {
            Stage::Audit => {
                let Some(mut log) = config
                    .audit
                    .open()
                    .map_err(|e| ServiceError::Other(format!("audit log: {e}")))?
                else {
                    tracing::info!("audit stage: no [audit] path, nothing to record");
                    continue;
                };
                let ctx = StageContext::new(NoState, Arc::clone(&metrics));
                let consumer: BaseConsumer<StageContext<NoState>> =
                    kafka::consumer_config(&kafka, &group).create_with_context(ctx)?;
                let dlq_partitions = kafka::partition_count(&consumer, &kafka.topics.dlq)?;
                consumer.subscribe(&[&kafka.topics.alerts, &kafka.topics.audit])?;
                watch_of(
                    stage,
                    &group,
                    &[&kafka.topics.alerts, &kafka.topics.audit],
                    &consumer.context().held,
                );
                let consumer = Arc::new(consumer);
                let c = Arc::clone(&consumer);
                ready.push(Box::new(move || c.context().is_ready()));
                let alerts = kafka.topics.alerts.clone();
                let mut outbox = outbox;
                threads.push((
                    stage,
                    spawn(stage, move || {
                        audit::run_audit(
                            &consumer,
                            &mut log,
                            &alerts,
                            &mut outbox,
                            dlq_partitions,
                            &opts,
                        )
                    })?,
                ));
            }
            Stage::Route => {
                if config.route.destination.is_empty() {
                    tracing::info!("route stage: no [[route.destination]], nothing to deliver");
                }
                for d in &config.route.destination {
                    let destination = crate::route::deliver::Destination::new(
                        d,
                        &config.route.links(),
                        Arc::clone(&metrics),
                    )
                    .map_err(|e| ServiceError::Other(e.to_string()))?;
                    let consumer =
                        route::consumer(&kafka, &kafka.group_id, &d.name, Arc::clone(&metrics))?;
                    let dlq_partitions = kafka::partition_count(&consumer, &kafka.topics.dlq)?;
                    consumer.subscribe(&[&kafka.topics.alerts, &kafka.topics.dispositions])?;
                    watch_of(
                        stage,
                        &route::group(&kafka.group_id, &d.name),
                        &[&kafka.topics.alerts, &kafka.topics.dispositions],
                        &consumer.context().held,
                    );
                    let consumer = Arc::new(consumer);
                    let c = Arc::clone(&consumer);
                    ready.push(Box::new(move || c.context().is_ready()));
                    let outbox = Outbox::new(producer.clone(), runtime.clone());
                    // The route stage writes no watermarks: `announce_to` stays empty.
                    let opts = opts.clone();
                    let roster = Arc::clone(&current_roster);
                    let handle = runtime.clone();
                    let dispositions = kafka.topics.dispositions.clone();
                    threads.push((
                        stage,
                        spawn(stage, move || {
                            route::run_destination(
                                &consumer,
                                &destination,
                                &dispositions,
                                outbox,
                                dlq_partitions,
                                &opts,
                                &*roster,
                                &handle,
                            )
                        })?,
                    ));
                }
            }
            Stage::Ingest => {
                let inputs: Vec<&str> = kafka.input.iter().map(|i| i.topic.as_str()).collect();
                if inputs.is_empty() {
                    return Err(ServiceError::Other(
                        "the ingest stage needs at least one [[kafka.input]] topic".into(),
                    ));
                }
                let probe = reader()?;
                let mut input_partitions = std::collections::BTreeMap::new();
                for topic in &inputs {
                    input_partitions
                        .insert((*topic).to_owned(), kafka::partition_count(&probe, topic)?);
                }
                let progress =
                    InputProgress::new(EventOrder::of(&config.service), input_partitions);
                let ctx = StageContext::new(progress, Arc::clone(&metrics));
                let consumer: BaseConsumer<StageContext<InputProgress>> =
                    kafka::consumer_config(&kafka, &group).create_with_context(ctx)?;
                for input in &kafka.input {
                    metrics.preregister_input(input.into(), input.format);
                }
                let t = &kafka.topics;
                let ingest = Ingest {
                    pipeline: Pipeline {
                        decode: config.decode.context(Utc::now()),
                    },
                    formats: kafka
                        .input
                        .iter()
                        .map(|i| (i.topic.clone(), i.format))
                        .collect::<HashMap<_, _>>(),
                    topics: IngestTopics {
                        logins: t.logins.clone(),
                        logins_partitions: kafka::partition_count(&consumer, &t.logins)?,
                        network: t.network.clone(),
                        network_partitions: kafka::partition_count(&consumer, &t.network)?,
                        dlq: t.dlq.clone(),
                        dlq_partitions: kafka::partition_count(&consumer, &t.dlq)?,
                    },
                    include_filtered: config.dead_letter.include_filtered,
                    metrics: Arc::clone(&metrics),
                    databases: enricher.databases().iter().map(|d| d.kind).collect(),
                };
                opts.announce_to = vec![
                    (
                        ingest.topics.logins.clone(),
                        ingest.topics.logins_partitions,
                    ),
                    (
                        ingest.topics.network.clone(),
                        ingest.topics.network_partitions,
                    ),
                ];
                consumer.subscribe(&inputs)?;
                watch_of(stage, &group, &inputs, &consumer.context().held);
                let consumer = Arc::new(consumer);
                let c = Arc::clone(&consumer);
                ready.push(Box::new(move || c.context().is_ready()));
                let roster = Arc::clone(&current_roster);
                let enricher = Arc::clone(&enricher);
                let metrics = Arc::clone(&metrics);
                threads.push((
                    stage,
                    spawn(stage, move || {
                        stage_loop(&consumer, outbox, &opts, &metrics, stage, |batch, out| {
                            let progress = &consumer.context().partitions;
                            ingest.apply(batch, &roster(), &enricher, progress, out);
                            let caught_up = |topic: &str, partition: i32, next: Option<i64>| {
                                matches!(
                                    consumer.fetch_watermarks(topic, partition, Duration::from_secs(2)),
                                    Ok((low, high)) if next.unwrap_or(low) >= high
                                )
                            };
                            Ok(Done {
                                watermarks: progress.due(caught_up),
                                ..Done::default()
                            })
                        })
                    })?,
                ));
            }
            Stage::Detect => {
                let t = &kafka.topics;
                let topics = DetectTopics {
                    inputs: kafka.input.iter().map(|i| i.topic.clone()).collect(),
                    network: t.network.clone(),
                    logins: t.logins.clone(),
                    findings: t.findings.clone(),
                    dispositions: t.dispositions.clone(),
                    alerts: t.alerts.clone(),
                    alerts_format: kafka.alerts_format,
                    changelog: t.changelog.clone(),
                };
                let parts = DetectPartitions::new(
                    config.engine(),
                    EventOrder::of(&config.service),
                    topics,
                    reader()?,
                    Arc::clone(&metrics),
                    stop.clone(),
                );
                let consumer: BaseConsumer<StageContext<DetectPartitions>> =
                    kafka::consumer_config(&kafka, &group)
                        .create_with_context(StageContext::new(parts, Arc::clone(&metrics)))?;
                check_co_partitioned(&consumer, &kafka.topics)?;
                consumer.subscribe(&[&t.logins, &t.findings, &t.dispositions])?;
                watch_of(
                    stage,
                    &group,
                    &[&t.logins, &t.findings, &t.dispositions],
                    &consumer.context().held,
                );
                let consumer = Arc::new(consumer);
                let c = Arc::clone(&consumer);
                ready.push(Box::new(move || c.context().is_ready()));
                let c = Arc::clone(&consumer);
                gauges.push(Box::new(move || {
                    c.context().partitions.export_risk_levels()
                }));
                let roster = Arc::clone(&current_roster);
                let suppress = Arc::clone(&suppress);
                let metrics = Arc::clone(&metrics);
                threads.push((
                    stage,
                    spawn(stage, move || {
                        stage_loop(&consumer, outbox, &opts, &metrics, stage, |batch, out| {
                            let parts = &consumer.context().partitions;
                            let mut output = parts.apply(batch, &roster(), &suppress);
                            let bad = std::mem::take(&mut output.bad);
                            let offsets = std::mem::take(&mut output.offsets);
                            parts.write(output, out)?;
                            Ok(Done {
                                bad,
                                offsets: Some(offsets),
                                watermarks: Vec::new(),
                            })
                        })
                    })?,
                ));
            }
            Stage::Infra => {
                let t = &kafka.topics;
                let reader = reader()?;
                let network_partitions = kafka::partition_count(&reader, &t.network)?;
                let parts = InfraPartitions::new(
                    &config.detect,
                    EventOrder::of(&config.service),
                    InfraTopics {
                        inputs: kafka.input.iter().map(|i| i.topic.clone()).collect(),
                        network: t.network.clone(),
                        network_partitions,
                    },
                    reader,
                    Arc::clone(&metrics),
                    Arc::clone(&current_roster),
                    Arc::clone(&suppress),
                    stop.clone(),
                );
                let consumer: BaseConsumer<StageContext<InfraPartitions>> =
                    kafka::consumer_config(&kafka, &group)
                        .create_with_context(StageContext::new(parts, Arc::clone(&metrics)))?;
                let findings_partitions = kafka::partition_count(&consumer, &t.findings)?;
                let findings_topic = t.findings.clone();
                opts.announce_to = vec![(findings_topic.clone(), findings_partitions)];
                consumer.subscribe(&[&t.network])?;
                watch_of(stage, &group, &[&t.network], &consumer.context().held);
                let consumer = Arc::new(consumer);
                let c = Arc::clone(&consumer);
                ready.push(Box::new(move || c.context().is_ready()));
                let metrics = Arc::clone(&metrics);
                threads.push((
                    stage,
                    spawn(stage, move || {
                        stage_loop(&consumer, outbox, &opts, &metrics, stage, |batch, out| {
                            let output = consumer.context().partitions.apply(batch);
                            for f in &output.findings {
                                let key = f.employee.0.as_bytes();
                                let value = serde_json::to_vec(f).unwrap_or_default();
                                out.send(
                                    &findings_topic,
                                    wire::partition_for(key, findings_partitions),
                                    key,
                                    &value,
                                    None,
                                );
                            }
                            Ok(Done {
                                bad: output.bad,
                                offsets: Some(output.offsets),
                                watermarks: output.watermarks,
                            })
                        })
                    })?,
                ));
            }
        }
    }

    let stalls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let watch_thread = watch::spawn(
        &kafka,
        watched,
        Arc::clone(&metrics),
        Arc::clone(&stalls),
        stop.clone(),
    )
    .map_err(|e| ServiceError::Other(format!("starting the stage watch: {e}")))?;

    // Supervise: readiness, reloads, gauges; then shut down within the deadline.
    let mut last_reload = Instant::now();
    let mut last_gauges: Option<Instant> = None;
    let mut failed: Option<ServiceError> = None;
    while !stop.is_cancelled() {
        std::thread::sleep(Duration::from_millis(100));
        if stop.is_cancelled() {
            break;
        }
        let stalled: Vec<String> = stalls
            .lock()
            .map(|s| s.iter().map(|s| s.why.clone()).collect())
            .unwrap_or_default();
        let is_ready = ready.iter().all(|r| r()) && stalled.is_empty();
        handles.health.set_waiting(stalled);
        handles.health.set_ready(is_ready);
        telemetry::ReadinessObserved { ready: is_ready }.emit(&metrics);
        if let Some(i) = threads.iter().position(|(_, t)| t.is_finished()) {
            let (stage, t) = threads.swap_remove(i);
            let why = match t.join() {
                Ok(Ok(())) => format!("{} stage stopped", stage.as_str()),
                Ok(Err(e)) => format!("{} stage failed: {e}", stage.as_str()),
                Err(_) => format!("{} stage panicked", stage.as_str()),
            };
            tracing::error!("{why}");
            handles.health.set_failed(why.clone());
            failed = Some(ServiceError::Other(why));
            stop.cancel();
            break;
        }
        // The risk gauges walk every employee held: once a second, input or not (a
        // partition taken over when no input comes must show too).
        if last_gauges.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            last_gauges = Some(Instant::now());
            gauges.iter().for_each(|export| export());
        }
        if last_reload.elapsed() > Duration::from_secs(10) {
            last_reload = Instant::now();
            roster.lock().unwrap_or_else(|p| p.into_inner()).refresh();
            let now = current_roster();
            if !Arc::ptr_eq(&now, &audited_roster) {
                audit_topic.record("roster_changed", "driftwatch", None, roster_digest(&now));
                audited_roster = now;
            }
            for (path, r) in enricher.reload_if_changed() {
                match r {
                    Ok(()) => tracing::info!(path = %path.display(), "reloaded"),
                    Err(e) => tracing::error!(path = %path.display(), error = %e, "reload refused"),
                }
            }
            telemetry::GeoipDatabasesLoaded {
                databases: &enricher.databases(),
            }
            .emit(&metrics);
        }
    }
    handles.health.set_ready(false);
    telemetry::ReadinessObserved { ready: false }.emit(&metrics);
    // The readiness and gauge closures hold the stages' consumers too. Gone now, each
    // consumer is closed by its own stage as it ends, so a close that does not return (a
    // broker that stopped answering) shows as that stage still busy at the deadline, not
    // as this thread stuck when it drops them.
    drop(ready);
    drop(gauges);
    let deadline = Instant::now() + Duration::from_secs(config.service.shutdown_deadline_secs);
    while Instant::now() < deadline && threads.iter().any(|(_, t)| !t.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut ended = Ended::Clean;
    for (stage, t) in threads {
        if !t.is_finished() {
            tracing::error!(
                stage = stage.as_str(),
                "still busy at the shutdown deadline"
            );
            ended = Ended::DeadlinePassed;
            continue;
        }
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failed = failed.or(Some(e)),
            Err(_) => failed = failed.or(Some(ServiceError::Other("a stage panicked".into()))),
        }
    }
    for (what, thread) in [
        ("the stage watch", Some(watch_thread)),
        ("the api view reader", api_view),
    ] {
        match thread.map(|t| join_by(t, deadline)) {
            None | Some(Some(Ok(()))) => {}
            Some(Some(Err(_))) => tracing::error!("{what} panicked"),
            Some(None) => {
                tracing::error!("{what} was still busy at the shutdown deadline");
                ended = Ended::DeadlinePassed;
            }
        }
    }
    roster.lock().unwrap_or_else(|p| p.into_inner()).join();
    match failed {
        Some(e) => Err(e),
        None => Ok(ended),
    }
}

/// Waits for `thread` until `deadline`: what it returned, or `None` while it still runs.
fn join_by<T>(thread: JoinHandle<T>, deadline: Instant) -> Option<std::thread::Result<T>> {
    while !thread.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    thread.is_finished().then(|| thread.join())
}

/// [`run`] on a thread of its own, with the shutdown deadline enforced from outside it.
///
/// Once `handles.stop` is cancelled, `run` has `service.shutdown_deadline_secs` for its stages
/// and then releases what it holds: librdkafka clients, which close on drop and can wait
/// for a broker that no longer answers. Whatever blocks in there, this returns
/// [`Ended::DeadlinePassed`] by [`SHUTDOWN_GRACE`] after the deadline and leaves the thread
/// to the process's exit; uncommitted input is read again by the next owner.
pub fn run_bounded(
    config: &Config,
    stages: &[Stage],
    runtime: Handle,
    handles: &Handles,
) -> Result<Ended, ServiceError> {
    let service = {
        let (config, stages, handles) = (config.clone(), stages.to_vec(), handles.clone());
        std::thread::Builder::new()
            .name("service".into())
            .spawn(move || run(&config, &stages, runtime, &handles))
            .map_err(|e| ServiceError::Other(format!("starting the service thread: {e}")))?
    };
    while !service.is_finished() && !handles.stop.is_cancelled() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let deadline = Instant::now()
        + Duration::from_secs(config.service.shutdown_deadline_secs)
        + SHUTDOWN_GRACE;
    match join_by(service, deadline) {
        Some(Ok(ended)) => ended,
        Some(Err(_)) => Err(ServiceError::Other("the service panicked".into())),
        None => {
            tracing::error!(
                "the service was still closing its clients {} s after the shutdown deadline; \
                 leaving them",
                SHUTDOWN_GRACE.as_secs()
            );
            Ok(Ended::DeadlinePassed)
        }
    }
}

/// How long [`run_bounded`] waits past the shutdown deadline for the service to release its
/// clients (a clean close takes well under a second).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What the audit log keeps of a roster: how many employees and a digest of every
/// profile, so a change is visible without copying HR data into the log.
fn roster_digest(roster: &crate::roster::Roster) -> serde_json::Value {
    let mut all = Vec::new();
    for p in roster.iter() {
        all.extend(serde_json::to_vec(p).unwrap_or_default());
        all.push(b'\n');
    }
    serde_json::json!({ "employees": roster.len(), "sha256": sha256_hex(&all) })
}

use crate::hex::sha256_hex;

/// Ingest keeps no partitioned state.
struct NoState;

impl Partitions for NoState {
    fn assigned(&self, _: &rdkafka::TopicPartitionList, _: Option<&rdkafka::TopicPartitionList>) {}
    fn revoked(&self, _: &rdkafka::TopicPartitionList) {}
}

#[derive(Clone)]
struct LoopOptions {
    batch_max: usize,
    batch_wait: Duration,
    stop: CancellationToken,
    dlq: String,
    /// Where the stage's watermarks go: every partition of these topics (with their
    /// partition counts); empty for a stage that writes none.
    announce_to: Vec<(String, i32)>,
}

fn spawn(
    stage: Stage,
    f: impl FnOnce() -> Result<(), ServiceError> + Send + 'static,
) -> Result<JoinHandle<Result<(), ServiceError>>, ServiceError> {
    std::thread::Builder::new()
        .name(stage.as_str().to_owned())
        .spawn(f)
        .map_err(|e| ServiceError::Other(format!("starting the {} stage: {e}", stage.as_str())))
}

/// Poll, apply, produce, wait for acknowledgements, store offsets, write watermarks;
/// until stopped. `apply` queues the batch's output and says what it could not read
/// (dead-lettered with the batch), for a stage that holds records back which offsets to
/// store, and the watermarks that vouch for the output. It is also called with an empty
/// batch when a poll brings nothing, so held records can be released on a quiet input.
fn stage_loop<P: Partitions>(
    consumer: &BaseConsumer<StageContext<P>>,
    mut outbox: Outbox,
    opts: &LoopOptions,
    metrics: &Metrics,
    stage: Stage,
    mut apply: impl FnMut(&[OwnedMessage], &mut Outbox) -> Result<Done, ServiceError>,
) -> Result<(), ServiceError> {
    let (mut batches, mut records, mut polling) = (0u64, 0u64, Duration::ZERO);
    let running = Instant::now();
    while !opts.stop.is_cancelled() {
        let polled = Instant::now();
        let batch = poll_batch(consumer, opts.batch_max, opts.batch_wait);
        polling += polled.elapsed();
        batches += u64::from(!batch.is_empty());
        records += batch.len() as u64;
        let started = Instant::now();
        let done = apply(&batch, &mut outbox)?;
        for (m, why) in &done.bad {
            ingest::dead_letter(
                &mut outbox,
                &opts.dlq,
                1,
                m,
                &detect::source_of(m),
                stage.as_str(),
                DeadLetterReason::UnreadableInternalRecord,
                why,
                "driftwatch",
            );
            telemetry::RecordDeadLettered {
                topic: TopicName::of(m),
                reason: DeadLetterReason::UnreadableInternalRecord,
            }
            .emit(metrics);
        }
        outbox.wait()?;
        let progress = done.offsets.unwrap_or_else(|| {
            let mut progress = Progress::default();
            for m in &batch {
                progress.done(m);
            }
            progress
        });
        progress.store(consumer);
        // The watermarks go behind the output they vouch for, now acknowledged (the
        // producer may reorder retried batches, so not before). Their own acknowledgement
        // is awaited with the next batch's output: one round trip per batch, not two.
        announce(&mut outbox, done.watermarks, &opts.announce_to);
        if batch.is_empty() {
            continue;
        }
        telemetry::BatchProcessed {
            stage,
            records: batch.len(),
            elapsed: started.elapsed(),
        }
        .emit(metrics);
    }
    if let Err(e) = outbox.wait() {
        tracing::warn!(error = %e, stage = stage.as_str(), "the last watermarks");
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(error = %e, stage = stage.as_str(), "final commit");
    }
    // Where the stage's time went: polling (waiting for input included), waiting for the
    // broker to acknowledge output, and the rest (the stage's own work).
    let total = running.elapsed();
    tracing::info!(
        stage = stage.as_str(),
        batches,
        records,
        seconds = total.as_secs_f64(),
        polling_seconds = polling.as_secs_f64(),
        acknowledgement_seconds = outbox.waited.as_secs_f64(),
        acknowledgement_waits = outbox.waits,
        working_seconds = total.saturating_sub(polling + outbox.waited).as_secs_f64(),
        "stage stopped"
    );
    Ok(())
}

/// Write a stage's watermarks to every partition of their topics. Call only once the
/// output they vouch for is acknowledged.
fn announce(out: &mut Outbox, watermarks: Vec<wire::Watermark>, topics: &[(String, i32)]) {
    if watermarks.is_empty() {
        return;
    }
    let value = serde_json::to_vec(&wire::WatermarkRecord { watermarks }).unwrap_or_default();
    for (topic, partitions) in topics {
        for partition in 0..*partitions {
            out.send(topic, partition, wire::WATERMARK_KEY, &value, None);
        }
    }
}

/// The detect stage reads logins and findings partition by partition and writes alerts
/// and state to the same partition numbers: their counts must agree.
fn check_co_partitioned<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    t: &config::Topics,
) -> Result<(), ServiceError> {
    let n = kafka::partition_count(consumer, &t.logins)?;
    for topic in [&t.findings, &t.alerts, &t.changelog, &t.dispositions] {
        let m = kafka::partition_count(consumer, topic)?;
        if m != n {
            return Err(ServiceError::Topic {
                topic: topic.clone(),
                message: format!(
                    "has {m} partitions but {} has {n}: they must be co-partitioned",
                    t.logins
                ),
            });
        }
    }
    Ok(())
}
