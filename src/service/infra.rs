//! The infra stage: `driftwatch.network` (interactive logins keyed by IPv4 address or IPv6
//! /64) → which employees share a network → shared-infrastructure findings, keyed by
//! employee, onto `driftwatch.findings` for the detect stage.
//!
//! Its state is the network index of the window, and the network topic itself is the
//! changelog: on assignment the partition is re-read from its start (the topic's retention
//! covers the window) up to the committed offset, observing without emitting. Findings
//! emitted again after a crash carry the same source coordinates and are skipped by the
//! detect stage.
//!
//! Logins are judged in event-time order, as `replay`'s engine judges them: each partition
//! holds its logins in a [`ReorderBuffer`] until the ingest stage's watermarks read in that
//! partition have passed them by `[service] reorder_delay_ms` (see [`super::order`]). After
//! the findings, each partition's own watermark goes to every `driftwatch.findings`
//! partition: the detect stage applies a login only once every network partition has judged
//! up to its time, so the login and its findings make one alert line. Offsets are stored no
//! further than the earliest login still held.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, Utc};
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};

use super::Stage;
use super::error::ServiceError;
use super::kafka;
use super::kafka::REQUEST_TIMEOUT;
use super::order::{Announcer, EventOrder, Until, Upstream};
use super::stage::{
    Done, Partitions, Progress, committed_offset, partitions_of, payload, read_range,
    restore_until_cancelled, stage_loop,
};
use super::supervisor::Running;
use super::wire;
use super::wire::{FindingRecord, LoginRecord, Source, WATERMARK_KEY, Watermark, WatermarkRecord};
use crate::alert::Finding;
use crate::detect::shared_infrastructure::{self, NetworkIndex};
use crate::detect::{Context, DetectConfig};
use crate::engine::{ReorderBuffer, Resolved};
use crate::roster::Roster;
use crate::suppress::Suppressions;
use crate::telemetry::labels::{DuplicateKind, LateKind};
use crate::telemetry::{
    DuplicateSkipped, Event, EventLagObserved, LateRecordApplied, Metrics, RecordsHeld,
    StateRestoreFailed, StateRestored, WatermarkPublished, WatermarkTimedOut,
};
use tokio_util::sync::CancellationToken;

/// A login held for ordering: where it came from.
struct Held {
    /// Its `driftwatch.network` coordinates.
    network: Source,
    /// Its input record (the login's own `source`).
    login: Source,
    /// When it was read: it waits for watermarks at most `watermark_wait_max_secs`.
    read: Instant,
}

/// One network partition: its index, the logins held, and how far it has judged.
struct Partition {
    index: NetworkIndex,
    held: ReorderBuffer<Held>,
    /// The input records of the logins held or judged, per input partition: the highest
    /// offset judged (records of one input partition arrive in offset order, so one at or
    /// below it was judged already and comes again after an ingest crash).
    judged: BTreeMap<(String, i32), i64>,
    /// The input records of the logins held.
    held_sources: std::collections::HashSet<Source>,
    /// The ingest stage's watermarks read in this partition.
    upstream: Upstream,
    /// Latest event time read.
    latest: Option<DateTime<Utc>>,
    /// Every login at or before this has been judged.
    watermark: Option<DateTime<Utc>>,
    /// Next offset to read.
    next: i64,
}

impl Partition {
    fn new(
        index: NetworkIndex,
        judged: BTreeMap<(String, i32), i64>,
        upstream: Upstream,
        next: i64,
    ) -> Partition {
        Partition {
            index,
            held: ReorderBuffer::default(),
            judged,
            held_sources: Default::default(),
            upstream,
            latest: None,
            watermark: None,
            next,
        }
    }

    fn was_judged(&self, login: &Source) -> bool {
        self.held_sources.contains(login)
            || self
                .judged
                .get(&(login.topic.clone(), login.partition))
                .is_some_and(|&o| login.offset <= o)
    }

    fn judge(&mut self, login: &Source) {
        let slot = self
            .judged
            .entry((login.topic.clone(), login.partition))
            .or_insert(login.offset);
        *slot = (*slot).max(login.offset);
    }
}

/// What one batch of the infra stage produced.
#[derive(Default)]
pub struct InfraOutput {
    pub findings: Vec<FindingRecord>,
    /// Watermarks to write to every findings partition, after the findings.
    pub watermarks: Vec<Watermark>,
    /// Records that could not be read.
    pub bad: Vec<(OwnedMessage, String)>,
    /// Offsets to store: no further than the earliest login held.
    pub offsets: Progress,
}

/// The infra stage's per-partition network indexes.
pub struct InfraPartitions {
    inner: Mutex<BTreeMap<i32, Partition>>,
    announcer: Mutex<Announcer>,
    cfg: shared_infrastructure::Config,
    order: EventOrder,
    /// The input topics, whose watermarks ingest writes.
    inputs: Vec<String>,
    topic: String,
    /// How many partitions the network topic has.
    partitions: i32,
    reader: BaseConsumer,
    metrics: Arc<Metrics>,
    roster: Arc<dyn Fn() -> Arc<Roster> + Send + Sync>,
    suppress: Arc<Suppressions>,
    /// The service's token: a restore that keeps failing gives up once it is cancelled.
    cancel: CancellationToken,
}

/// Start the infra stage: the network topic to shared-infrastructure findings, written
/// to the findings topic with watermarks behind them.
pub fn start(ctx: &super::context::Context) -> Result<Running, ServiceError> {
    let (config, kafka) = (&ctx.config, &ctx.kafka);
    let t = &kafka.topics;
    let group = ctx.group(Stage::Infra);
    let outbox = ctx.outbox()?;
    let reader = ctx.restore_reader(&group)?;
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
        Arc::clone(&ctx.metrics),
        Arc::clone(&ctx.roster),
        Arc::clone(&ctx.suppress),
        ctx.cancel.clone(),
    );
    let consumer = ctx.consumer(&group, parts)?;
    let findings_partitions = kafka::partition_count(&consumer, &t.findings)?;
    let findings_topic = t.findings.clone();
    let mut opts = ctx.loop_options();
    opts.announce_to = vec![(findings_topic.clone(), findings_partitions)];
    let metrics = Arc::clone(&ctx.metrics);
    Running::spawn(
        Stage::Infra,
        group,
        &[&t.network],
        consumer,
        None,
        move |consumer| {
            stage_loop(
                consumer,
                outbox,
                &opts,
                &metrics,
                Stage::Infra,
                |batch, out| {
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
                },
            )
        },
    )
}

/// Where the infra stage reads, and how many partitions it has.
pub struct InfraTopics {
    /// The input topics (ingest's watermarks describe their partitions).
    pub inputs: Vec<String>,
    pub network: String,
    pub network_partitions: i32,
}

impl InfraPartitions {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        detect: &DetectConfig,
        order: EventOrder,
        topics: InfraTopics,
        reader: BaseConsumer,
        metrics: Arc<Metrics>,
        roster: Arc<dyn Fn() -> Arc<Roster> + Send + Sync>,
        suppress: Arc<Suppressions>,
        cancel: CancellationToken,
    ) -> InfraPartitions {
        InfraPartitions {
            inner: Mutex::new(BTreeMap::new()),
            announcer: Mutex::new(Announcer::default()),
            cfg: detect.shared_infrastructure.clone(),
            order,
            inputs: topics.inputs,
            topic: topics.network,
            partitions: topics.network_partitions,
            reader,
            metrics,
            roster,
            suppress,
            cancel,
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<i32, Partition>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rebuild a partition's index from the network topic up to `until`; also what was
    /// judged and the last watermarks read.
    fn restore(&self, partition: i32, until: i64) -> Result<Partition, ServiceError> {
        let started = Instant::now();
        let (low, _) = self
            .reader
            .fetch_watermarks(&self.topic, partition, REQUEST_TIMEOUT)?;
        let roster = (self.roster)();
        let mut part = Partition::new(
            NetworkIndex::default(),
            BTreeMap::new(),
            Upstream::new(self.inputs.iter().cloned()),
            until,
        );
        let read = read_range(&self.reader, &self.topic, partition, low, until, |m| {
            if m.key() == Some(WATERMARK_KEY) {
                if let Ok(w) = serde_json::from_slice::<WatermarkRecord>(payload(m)) {
                    w.watermarks
                        .into_iter()
                        .for_each(|w| part.upstream.record(w));
                }
                return;
            }
            if let Ok(rec) = serde_json::from_slice::<LoginRecord>(payload(m)) {
                if part.was_judged(&rec.source) {
                    return;
                }
                part.judge(&rec.source);
                see(
                    &self.cfg,
                    &mut part.index,
                    &rec.into(),
                    &roster,
                    &self.suppress,
                );
            }
        })?;
        // Networks, not employees: nothing for the employees restored.
        StateRestored {
            stage: Stage::Infra,
            partition,
            employees: 0,
            elapsed: started.elapsed(),
        }
        .emit(&self.metrics);
        tracing::info!(
            partition,
            records = read,
            networks = part.index.networks(),
            "restored infra partition"
        );
        Ok(part)
    }

    /// Apply one batch (empty when the input is quiet): hold its logins, judge those the
    /// watermarks passed, say how far each partition has judged.
    pub fn apply(&self, batch: &[OwnedMessage]) -> InfraOutput {
        let roster = (self.roster)();
        let mut out = InfraOutput::default();
        let mut guard = self.lock();
        for m in batch {
            let Some(part) = guard.get_mut(&m.partition()) else {
                continue;
            };
            part.next = part.next.max(m.offset() + 1);
            if m.key() == Some(WATERMARK_KEY) {
                match serde_json::from_slice::<WatermarkRecord>(payload(m)) {
                    Ok(w) => w
                        .watermarks
                        .into_iter()
                        .for_each(|w| part.upstream.record(w)),
                    Err(e) => out
                        .bad
                        .push((m.clone(), format!("unreadable watermark: {e}"))),
                }
                continue;
            }
            let rec: LoginRecord = match serde_json::from_slice(payload(m)) {
                Ok(r) => r,
                Err(e) => {
                    out.bad
                        .push((m.clone(), format!("unreadable network record: {e}")));
                    continue;
                }
            };
            if part.was_judged(&rec.source) {
                // Written again by an ingest instance that crashed before committing.
                DuplicateSkipped {
                    kind: DuplicateKind::Login,
                }
                .emit(&self.metrics);
                continue;
            }
            EventLagObserved {
                stage: Stage::Infra,
                event_time: rec.event.time,
            }
            .emit(&self.metrics);
            let held = Held {
                network: Source {
                    topic: m.topic().to_owned(),
                    partition: m.partition(),
                    offset: m.offset(),
                },
                login: rec.source.clone(),
                read: Instant::now(),
            };
            let time = rec.event.time;
            part.latest = part.latest.max(Some(time));
            if part.watermark.is_some_and(|w| time <= w) {
                // Behind what was judged already: judge it now, out of order, never drop it.
                LateRecordApplied {
                    kind: LateKind::NetworkLogin,
                }
                .emit(&self.metrics);
                self.judge(part, &Resolved::from(rec), &held, &roster, &mut out);
                continue;
            }
            part.held_sources.insert(held.login.clone());
            part.held.push(rec.into(), held);
        }
        let mut held = 0;
        let mut lag: f64 = 0.0;
        let mut marks = Vec::new();
        let mut judged: Option<Option<DateTime<Utc>>> = None;
        for (&partition, part) in guard.iter_mut() {
            let until = part.upstream.until().less(self.order.delay);
            while let Some((time, h)) = part.held.peek() {
                let timed_out = h.read.elapsed() >= self.order.wait;
                if !until.covers(time) && !timed_out {
                    break;
                }
                if !until.covers(time) {
                    WatermarkTimedOut {
                        stage: Stage::Infra,
                    }
                    .emit(&self.metrics);
                }
                let Some((resolved, h)) = part.held.pop_until(None) else {
                    break;
                };
                part.held_sources.remove(&h.login);
                part.watermark = part.watermark.max(Some(time));
                self.judge(part, &resolved, &h, &roster, &mut out);
            }
            let idle = until == Until::Everything && part.held.is_empty();
            match until {
                Until::Upto(t) => part.watermark = part.watermark.max(Some(t)),
                Until::Everything => part.watermark = part.watermark.max(part.latest),
                Until::Nothing => {}
            }
            let next = part
                .held
                .tags()
                .map(|h| h.network.offset)
                .min()
                .unwrap_or(part.next);
            out.offsets.set(&self.topic, partition, next.min(part.next));
            held += part.held.len();
            if let (Some(latest), Some(w)) = (part.latest, part.watermark) {
                lag = lag.max((latest - w).num_milliseconds() as f64 / 1000.0);
            }
            judged = Some(judged.map_or(part.watermark, |j| j.min(part.watermark)));
            marks.push(Watermark {
                topic: self.topic.clone(),
                partition,
                partitions: self.partitions,
                time: part.watermark,
                idle,
            });
        }
        out.watermarks = self
            .announcer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .due(marks);
        if let Some(Some(t)) = judged {
            WatermarkPublished {
                stage: Stage::Infra,
                watermark: t,
            }
            .emit(&self.metrics);
        }
        RecordsHeld {
            stage: Stage::Infra,
            held,
            lag_seconds: lag,
        }
        .emit(&self.metrics);
        out
    }
}

impl InfraPartitions {
    /// Judge one login against its network and send what it found.
    fn judge(
        &self,
        part: &mut Partition,
        login: &Resolved,
        held: &Held,
        roster: &Roster,
        out: &mut InfraOutput,
    ) {
        part.judge(&held.login);
        for f in see(&self.cfg, &mut part.index, login, roster, &self.suppress) {
            out.findings.push(FindingRecord::new(
                login,
                f,
                held.network.clone(),
                held.login.clone(),
            ));
        }
    }
}

impl From<LoginRecord> for Resolved {
    fn from(rec: LoginRecord) -> Resolved {
        Resolved {
            event: rec.event,
            employee: rec.employee,
            geo: Arc::new(rec.geo),
        }
    }
}

/// Check one login against the employees already seen on its network, then record it.
fn see(
    cfg: &shared_infrastructure::Config,
    index: &mut NetworkIndex,
    login: &Resolved,
    roster: &Roster,
    suppress: &Suppressions,
) -> Vec<Finding> {
    // Not in the roster any more: nothing claimed to compare with.
    let Some(profile) = roster.get(&login.employee) else {
        return Vec::new();
    };
    let event = &login.event;
    let network = index.view(cfg, event, &login.employee);
    let ctx = Context {
        event,
        geo: &login.geo,
        profile,
        allowlisted: suppress.is_allowlisted(event.ip, &login.geo),
        trip: suppress.trip(&login.employee, event.time, login.geo.country.as_deref()),
        network: &network,
        // shared_infrastructure judges addresses, not countries: it never reads these.
        watch: &[],
    };
    let findings = shared_infrastructure::check(cfg, &ctx);
    index.observe(cfg, &ctx);
    findings
}

impl Partitions for InfraPartitions {
    fn assigned(&self, tpl: &TopicPartitionList, committed: Option<&TopicPartitionList>) {
        for partition in partitions_of(tpl, &self.topic) {
            let until = committed_offset(committed, &self.topic, partition).unwrap_or(0);
            let restored = restore_until_cancelled(
                &self.cancel,
                || self.restore(partition, until),
                |e| {
                    StateRestoreFailed {
                        stage: Stage::Infra,
                        partition,
                        error: e,
                    }
                    .emit(&self.metrics)
                },
            );
            if let Some(part) = restored {
                self.lock().insert(partition, part);
            }
        }
    }

    fn revoked(&self, tpl: &TopicPartitionList) {
        // Unlike detect state, an index is cheap to lose and has no changelog to check it
        // against: drop it, and rebuild if the partition comes back.
        let mut guard = self.lock();
        let mut announcer = self.announcer.lock().unwrap_or_else(|p| p.into_inner());
        for partition in partitions_of(tpl, &self.topic) {
            guard.remove(&partition);
            announcer.forget(&self.topic, partition);
        }
    }
}
