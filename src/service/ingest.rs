//! The ingest stage: input topics → decode → resolve → enrich → `driftwatch.logins` keyed
//! (and partitioned) by employee, and interactive logins onto `driftwatch.network` keyed by
//! network. Bad records and logins of accounts the roster does not know go to
//! `driftwatch.dlq` with the reason and the source coordinates in headers.
//!
//! After each batch, the stage's watermarks (how far in event time each input partition it
//! holds has been passed on; see [`super::order`]) go to every partition of both topics.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rdkafka::TopicPartitionList;
use rdkafka::consumer::Consumer;
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};

use super::Stage;
use super::context::Context;
use super::error::ServiceError;
use super::kafka::{self, Outbox};
use super::order::{Announcer, EventOrder};
use super::stage::{Done, Partitions, committed_offset, payload, stage_loop};
use super::supervisor::Running;
use super::wire::{LoginRecord, Source, Watermark, partition_for};
use crate::decode::{FormatChoice, RejectReason};
use crate::enrich::{DatabaseKind, Enricher, network_key};
use crate::pipeline::{Pipeline, Processed};
use crate::roster::Roster;
use crate::telemetry::labels::Country;
use crate::telemetry::{
    self, Event, Metrics, RecordConsumed, RecordFormat, RecordRejected, TopicName,
};

/// Start the ingest stage: the input topics decoded, enriched and written to the logins
/// and network topics, with watermarks behind them.
pub fn start(ctx: &Context) -> Result<Running, ServiceError> {
    let (config, kafka) = (&ctx.config, &ctx.kafka);
    let inputs: Vec<&str> = kafka.input.iter().map(|i| i.topic.as_str()).collect();
    if inputs.is_empty() {
        return Err(ServiceError::NoInputTopics);
    }
    let group = ctx.group(Stage::Ingest);
    let outbox = ctx.outbox()?;
    let probe = ctx.restore_reader(&group)?;
    let mut input_partitions = BTreeMap::new();
    for topic in &inputs {
        input_partitions.insert((*topic).to_owned(), kafka::partition_count(&probe, topic)?);
    }
    let progress = InputProgress::new(EventOrder::of(&config.service), input_partitions);
    let consumer = ctx.consumer(&group, progress)?;
    for input in &kafka.input {
        ctx.metrics.preregister_input(input.into(), input.format);
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
        metrics: Arc::clone(&ctx.metrics),
        databases: ctx.enricher.databases().iter().map(|d| d.kind).collect(),
    };
    let mut opts = ctx.loop_options();
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
    let roster = Arc::clone(&ctx.roster);
    let enricher = Arc::clone(&ctx.enricher);
    let metrics = Arc::clone(&ctx.metrics);
    Running::spawn(
        Stage::Ingest,
        group,
        &inputs,
        consumer,
        None,
        move |consumer| {
            stage_loop(
                consumer,
                outbox,
                &opts,
                &metrics,
                Stage::Ingest,
                |batch, out| {
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
                },
            )
        },
    )
}

/// Where ingest writes and how those topics are partitioned.
#[derive(Debug, Clone)]
pub struct IngestTopics {
    pub logins: String,
    pub logins_partitions: i32,
    pub network: String,
    pub network_partitions: i32,
    pub dlq: String,
    pub dlq_partitions: i32,
}

/// The ingest stage's fixed parts.
pub struct Ingest {
    pub pipeline: Pipeline,
    /// Format of each input topic.
    pub formats: HashMap<String, FormatChoice>,
    pub topics: IngestTopics,
    /// Also dead-letter well-formed records that are not logins.
    pub include_filtered: bool,
    pub metrics: Arc<Metrics>,
    /// The databases configured, for the lookup metric.
    pub databases: Vec<DatabaseKind>,
}

/// The input partitions this instance holds, and how far in event time each has been
/// passed on: the ingest stage's watermarks.
pub struct InputProgress {
    inner: Mutex<Passed>,
    order: EventOrder,
    /// How many partitions each input topic has.
    partitions: BTreeMap<String, i32>,
}

#[derive(Default)]
struct Passed {
    parts: BTreeMap<(String, i32), Input>,
    announcer: Announcer,
}

/// One input partition: the latest event time passed on, when it last brought a record,
/// and the next offset to pass on.
struct Input {
    latest: Option<DateTime<Utc>>,
    heard: Instant,
    /// `None` until a record is read or the group's committed offset is known.
    next: Option<i64>,
    /// Quiet and found caught up: idle until the next record.
    idle: bool,
}

impl Input {
    fn new(next: Option<i64>) -> Input {
        Input {
            latest: None,
            heard: Instant::now(),
            next,
            idle: false,
        }
    }
}

impl InputProgress {
    pub fn new(order: EventOrder, partitions: BTreeMap<String, i32>) -> InputProgress {
        InputProgress {
            inner: Mutex::new(Passed::default()),
            order,
            partitions,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Passed> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The record at `offset` of `topic`/`partition` was passed on; `time` when it was a
    /// login.
    fn passed(&self, topic: &str, partition: i32, offset: i64, time: Option<DateTime<Utc>>) {
        let mut guard = self.lock();
        let slot = guard
            .parts
            .entry((topic.to_owned(), partition))
            .or_insert_with(|| Input::new(None));
        slot.latest = slot.latest.max(time);
        slot.heard = Instant::now();
        slot.next = slot.next.max(Some(offset + 1));
        slot.idle = false;
    }

    /// The watermarks to write now: those that changed, and all of them now and then.
    /// `caught_up(topic, partition, next)` says whether nothing is left to read from `next`
    /// on (asked once per quiet spell): a partition is idle only when it is quiet *and*
    /// caught up, so one that has not been fetched yet (after a start or a rebalance) holds
    /// the others back.
    pub fn due(&self, caught_up: impl Fn(&str, i32, Option<i64>) -> bool) -> Vec<Watermark> {
        let mut guard = self.lock();
        let mut marks = Vec::with_capacity(guard.parts.len());
        for ((topic, partition), input) in guard.parts.iter_mut() {
            if !input.idle && input.heard.elapsed() >= self.order.idle {
                input.idle = caught_up(topic, *partition, input.next);
                if !input.idle {
                    // Ask again after another quiet spell, not at every poll.
                    input.heard = Instant::now();
                }
            }
            marks.push(Watermark {
                topic: topic.clone(),
                partition: *partition,
                partitions: self.partitions.get(topic).copied().unwrap_or(1),
                time: input.latest,
                idle: input.idle,
            });
        }
        guard.announcer.due(marks)
    }
}

impl Partitions for InputProgress {
    fn assigned(&self, tpl: &TopicPartitionList, committed: Option<&TopicPartitionList>) {
        let mut guard = self.lock();
        for e in tpl.elements() {
            let next = committed_offset(committed, e.topic(), e.partition());
            guard
                .parts
                .entry((e.topic().to_owned(), e.partition()))
                .or_insert_with(|| Input::new(next));
        }
    }

    fn revoked(&self, tpl: &TopicPartitionList) {
        let mut guard = self.lock();
        for e in tpl.elements() {
            guard.parts.remove(&(e.topic().to_owned(), e.partition()));
            guard.announcer.forget(e.topic(), e.partition());
        }
    }
}

/// Why a record went to the dead-letter topic: its `driftwatch.reason` header and the
/// `reason` label of `driftwatch_dead_lettered_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// The decoder refused it.
    Rejected(RejectReason),
    /// A login of an account the roster does not know.
    UnknownUser,
    /// A login of an account whose name imitates an employee's.
    ConfusableUser,
    /// A login of an account that matches several employees.
    AmbiguousUser,
    /// A record of driftwatch's own topics that does not read (written by another version,
    /// or damaged).
    UnreadableInternalRecord,
    /// An alert a route destination refused for good.
    Undeliverable,
}

impl DeadLetterReason {
    /// The reasons of an input topic's records, for preregistration.
    pub fn of_input() -> impl Iterator<Item = DeadLetterReason> {
        RejectReason::ALL
            .into_iter()
            .map(DeadLetterReason::Rejected)
            .chain([
                DeadLetterReason::UnknownUser,
                DeadLetterReason::ConfusableUser,
                DeadLetterReason::AmbiguousUser,
            ])
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::Rejected(r) => r.as_str(),
            DeadLetterReason::UnknownUser => "unknown_user",
            DeadLetterReason::ConfusableUser => "confusable_user",
            DeadLetterReason::AmbiguousUser => "ambiguous_user",
            DeadLetterReason::UnreadableInternalRecord => "unreadable_internal_record",
            DeadLetterReason::Undeliverable => "undeliverable",
        }
    }
}

impl Ingest {
    /// Process one batch of input records into `outbox`.
    pub fn apply(
        &self,
        batch: &[OwnedMessage],
        roster: &Roster,
        enricher: &Enricher,
        progress: &InputProgress,
        outbox: &mut Outbox,
    ) {
        let t = &self.topics;
        // The clock moves on while the service runs: `future_time` and the year of year-less
        // syslog times are judged against it now, not at start.
        let pipeline = Pipeline {
            decode: self.pipeline.decode.at(chrono::Utc::now()),
        };
        for m in batch {
            let topic = m.topic();
            progress.passed(topic, m.partition(), m.offset(), None);
            let format = self.formats.get(topic).copied().unwrap_or_default();
            let source = Source {
                topic: topic.to_owned(),
                partition: m.partition(),
                offset: m.offset(),
            };
            let label = TopicName::of(m);
            match pipeline.process(payload(m), format, roster, enricher) {
                Processed::Blank => {
                    self.consumed(label, RecordFormat::Blank);
                }
                Processed::Rejected(r) => {
                    let fmt = r
                        .format
                        .map_or(RecordFormat::from(format), RecordFormat::from);
                    self.consumed(label, fmt);
                    RecordRejected {
                        topic: label,
                        format: fmt,
                        reason: r.reason,
                    }
                    .emit(&self.metrics);
                    if r.reason != RejectReason::NotALogin || self.include_filtered {
                        let reason = DeadLetterReason::Rejected(r.reason);
                        self.dead_letter(outbox, m, &source, reason, &r.detail, fmt.as_str());
                    }
                }
                Processed::UnknownUser {
                    event,
                    geo,
                    ambiguous,
                    imitates,
                } => {
                    progress.passed(topic, m.partition(), m.offset(), Some(event.time));
                    let fmt = event.format;
                    self.consumed(label, fmt.into());
                    self.enriched(&geo);
                    // Not bad input, but a login no employee is judged on: kept where an
                    // analyst can find it, with why, and counted.
                    let (reason, detail) = match (ambiguous.as_slice(), imitates) {
                        ([], None) => {
                            telemetry::UnknownUserSeen { topic: label }.emit(&self.metrics);
                            (
                                DeadLetterReason::UnknownUser,
                                "account is not in the roster".to_owned(),
                            )
                        }
                        ([], Some(who)) => {
                            tracing::warn!(employee = %who.0, "login of an account imitating an employee's");
                            (
                                DeadLetterReason::ConfusableUser,
                                format!(
                                    "account name imitates {}'s through Unicode folding (NFKC, lower case): another account, not theirs",
                                    who.0
                                ),
                            )
                        }
                        (ids, _) => {
                            // Loud: each of these employees is blind to this login until HR
                            // gives one of them the account as an explicit alias.
                            let ids: Vec<&str> = ids.iter().map(|e| e.0.as_str()).collect();
                            tracing::warn!(employees = %ids.join(","), "login of an ambiguous account");
                            (
                                DeadLetterReason::AmbiguousUser,
                                format!(
                                    "account matches several employees ({}): no one is judged on it until one of them has it as an explicit alias",
                                    ids.join(", ")
                                ),
                            )
                        }
                    };
                    self.dead_letter(outbox, m, &source, reason, &detail, fmt.as_str());
                }
                Processed::Resolved(r) => {
                    progress.passed(topic, m.partition(), m.offset(), Some(r.event.time));
                    self.consumed(label, r.event.format.into());
                    self.enriched(&r.geo);
                    telemetry::LoginLocated {
                        country: Country::of(r.geo.country.as_deref()),
                    }
                    .emit(&self.metrics);
                    if crate::decode::fields::is_unroutable(r.event.ip) {
                        telemetry::UnroutableLoginSeen { topic: label }.emit(&self.metrics);
                    }
                    telemetry::EventLagObserved {
                        stage: super::Stage::Ingest,
                        event_time: r.event.time,
                    }
                    .emit(&self.metrics);
                    let interactive = r.event.kind.is_interactive();
                    let rec = LoginRecord {
                        employee: r.employee,
                        event: r.event,
                        geo: Arc::unwrap_or_clone(r.geo),
                        source,
                    };
                    let value = serde_json::to_vec(&rec).unwrap_or_default();
                    let key = rec.employee.0.as_bytes();
                    outbox.send(
                        &t.logins,
                        partition_for(key, t.logins_partitions),
                        key,
                        &value,
                        None,
                    );
                    if interactive {
                        let net = network_key(rec.event.ip).to_string();
                        outbox.send(
                            &t.network,
                            partition_for(net.as_bytes(), t.network_partitions),
                            net.as_bytes(),
                            &value,
                            None,
                        );
                    }
                }
            }
        }
    }

    fn consumed(&self, topic: TopicName<'_>, format: RecordFormat) {
        RecordConsumed { topic, format }.emit(&self.metrics);
    }

    fn enriched(&self, geo: &crate::enrich::Geo) {
        telemetry::LoginEnriched {
            geo,
            configured: &self.databases,
        }
        .emit(&self.metrics);
    }

    fn dead_letter(
        &self,
        outbox: &mut Outbox,
        m: &OwnedMessage,
        source: &Source,
        reason: DeadLetterReason,
        detail: &str,
        format: &str,
    ) {
        dead_letter(
            outbox,
            &self.topics.dlq,
            self.topics.dlq_partitions,
            m,
            source,
            "ingest",
            reason,
            detail,
            format,
        );
        telemetry::RecordDeadLettered {
            topic: TopicName::of(m),
            reason,
        }
        .emit(&self.metrics);
    }
}

/// Keep a record that could not be used on the dead-letter topic: the record as it came,
/// with why and from where in headers.
#[allow(clippy::too_many_arguments)]
pub fn dead_letter(
    outbox: &mut Outbox,
    dlq: &str,
    dlq_partitions: i32,
    m: &OwnedMessage,
    source: &Source,
    stage: &str,
    reason: DeadLetterReason,
    detail: &str,
    format: &str,
) {
    let partition = source.partition.rem_euclid(dlq_partitions.max(1));
    let headers = OwnedHeaders::new()
        .insert(header("driftwatch.reason", reason.as_str()))
        .insert(header("driftwatch.detail", detail))
        .insert(header("driftwatch.format", format))
        .insert(header("driftwatch.stage", stage))
        .insert(header("driftwatch.source.topic", &source.topic))
        .insert(header(
            "driftwatch.source.partition",
            &source.partition.to_string(),
        ))
        .insert(header(
            "driftwatch.source.offset",
            &source.offset.to_string(),
        ));
    outbox.send(
        dlq,
        partition,
        m.key().unwrap_or_default(),
        payload(m),
        Some(headers),
    );
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}
