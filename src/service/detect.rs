//! The detect stage: per-partition engines over `driftwatch.logins` and
//! `driftwatch.findings`, alerts onto `driftwatch.alerts`, state onto the changelog.
//!
//! Each batch is applied whole, then its alerts are produced and acknowledged, then the
//! touched employees' state (with how far each source was applied) and the partition's
//! marker are written to the changelog and acknowledged, and only then are the input
//! offsets stored. After a crash:
//! - input re-read from the last commit is skipped where the employee's state already holds
//!   it (the per-source offsets in the changelog value), so state ends as if never stopped;
//! - alerts produced after the last complete changelog write are read back on restore and
//!   not produced a second time when their input is re-applied.
//!
//! Logins are applied in event-time order, in `replay`'s order: each partition holds its
//! logins in a [`ReorderBuffer`] until the ingest stage's watermarks (less `[service]
//! reorder_delay_ms`) *and* every network partition's infra watermark, as read in this
//! partition, have passed them (see [`super::order`]). So a login's shared-infrastructure
//! findings, which come on their own topic, are applied with it, and the alert line is the
//! one `replay` writes. Input offsets are stored no further than the earliest login or
//! finding still held; what a login applied is recorded in the changelog only once it is.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, Utc};
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};

use super::Stage;
use super::config::Topics;
use super::context::Context;
use super::error::ServiceError;
use super::kafka::{self, Outbox, REQUEST_TIMEOUT};
use super::order::{EventOrder, Until, Upstream};
use super::stage::{
    Done, Partitions, Progress, partitions_of, payload, read_range, restore_until_cancelled,
    stage_loop,
};
use super::supervisor::Running;
use super::wire::{
    Applied, FindingRecord, LoginRecord, MARKER_KEY, Marker, Source, Stored, WATERMARK_KEY,
    WatermarkRecord,
};
use crate::alert::{Alert, Finding};
use crate::engine::{Engine, ReorderBuffer, Resolved, Settings};
use crate::event::LoginEvent;
use crate::roster::{EmployeeId, Roster};
use crate::suppress::Suppressions;
use crate::telemetry::labels::{DuplicateKind, LateKind, Rule};
use crate::telemetry::{
    AlertRaised, ChangelogWritten, DuplicateSkipped, EmployeesTallied, Event, EventLagObserved,
    FindingsRaised, LateRecordApplied, Metrics, RecordsHeld, StateRestoreFailed, StateRestored,
    WatermarkPublished, WatermarkTimedOut,
};
use tokio_util::sync::CancellationToken;

/// Topic names the stage reads and writes.
#[derive(Debug, Clone)]
pub struct DetectTopics {
    /// The input topics, whose watermarks the ingest stage writes.
    pub inputs: Vec<String>,
    /// The network topic, whose watermarks the infra stage writes.
    pub network: String,
    pub logins: String,
    pub findings: String,
    /// Analysts' dispositions, keyed by employee (co-partitioned with logins).
    pub dispositions: String,
    pub alerts: String,
    /// How the alert records are written (`[kafka] alerts_format`).
    pub alerts_format: crate::siem::AlertsFormat,
    pub changelog: String,
}

/// A login held for ordering.
struct HeldLogin {
    /// Its input record (the login's own `source`).
    source: Source,
    /// Whose login it is: a held login its employee's `applied` covers is written beside
    /// the state (see [`Stored::held`]).
    employee: EmployeeId,
    /// Its offset on the logins topic.
    offset: i64,
    /// When it was read: it waits for watermarks at most `watermark_wait_max_secs`.
    read: Instant,
    /// The network key (address or /64) of an interactive login: the infra stage judges it
    /// on that key's network partition, whose watermark must pass it, idle or not (a mark
    /// saying "idle" may predate this very login).
    network: Option<String>,
}

/// A shared-infrastructure finding waiting for its login to be applied.
struct WaitingFinding {
    finding: Finding,
    event: LoginEvent,
    /// Its `driftwatch.network` coordinates, which `Applied` remembers.
    source: Source,
    /// Its offset on the findings topic.
    offset: i64,
}

/// A login applied before the infra stage judged it.
struct Unjudged {
    time: DateTime<Utc>,
    /// The network key the infra stage judges it under.
    network: String,
    /// The findings about it applied since, by their `driftwatch.network` coordinates.
    findings: Vec<Source>,
}

impl WaitingFinding {
    fn of(rec: FindingRecord, finding: Finding, m: &OwnedMessage) -> WaitingFinding {
        WaitingFinding {
            finding,
            event: rec.event,
            source: rec.source,
            offset: m.offset(),
        }
    }
}

/// One partition's engine and bookkeeping.
struct PartitionState {
    engine: Engine,
    applied: HashMap<EmployeeId, Applied>,
    /// Alert revisions found on the alerts topic after the last complete batch: produced
    /// before a crash, not to be produced again.
    produced: HashSet<String>,
    /// Offset just past this instance's last changelog write: if the changelog still ends
    /// there when the partition comes back, the state held is current and is kept.
    changelog_end: i64,
    /// Latest event time applied, the clock for the risk-level gauge.
    clock: Option<DateTime<Utc>>,
    /// Logins read and not applied yet, in event-time order.
    held: ReorderBuffer<HeldLogin>,
    /// The input records of the logins held, so a redelivered one is not held twice.
    held_sources: HashSet<Source>,
    /// Findings by the employee and input record of the login they are about.
    waiting: HashMap<(EmployeeId, Source), Vec<WaitingFinding>>,
    /// Logins `applied` covers that were not applied: held when their employee's state was
    /// last written (restored from [`Stored::held`]), or when the partition was revoked.
    /// Each leaves when it is applied.
    unapplied: HashMap<EmployeeId, Vec<Source>>,
    /// Logins applied before the infra stage had judged them (read behind what was
    /// applied, or the watermark wait ran out), by input record: findings about them may
    /// still come, and are applied on their own, each once (the value lists those applied).
    /// Forgotten once the infra watermark of the login's network partition passes it.
    unjudged: HashMap<Source, Unjudged>,
    /// The ingest stage's watermarks read on this logins partition.
    ingest: Upstream,
    /// The infra stage's watermarks read on this findings partition.
    infra: Upstream,
    /// Latest login time read.
    latest: Option<DateTime<Utc>>,
    /// Latest login time applied: a login read behind it is late.
    released: Option<DateTime<Utc>>,
    /// Next offset to read, per topic.
    next: BTreeMap<String, i64>,
}

impl PartitionState {
    fn new(
        engine: Engine,
        applied: HashMap<EmployeeId, Applied>,
        ingest: Upstream,
        infra: Upstream,
    ) -> PartitionState {
        PartitionState {
            ingest,
            infra,
            engine,
            applied,
            produced: HashSet::new(),
            changelog_end: 0,
            clock: None,
            held: ReorderBuffer::default(),
            held_sources: HashSet::new(),
            waiting: HashMap::new(),
            unapplied: HashMap::new(),
            unjudged: HashMap::new(),
            latest: None,
            released: None,
            next: BTreeMap::new(),
        }
    }

    /// Forget what was read and not applied: it is read again from the committed offsets,
    /// and so are the watermarks that must come after it.
    fn drop_held(&mut self) {
        self.ingest = Upstream::new(self.ingest.topics().cloned());
        self.infra = Upstream::new(self.infra.topics().cloned());
        for h in self.held.tags() {
            if self
                .applied
                .get(&h.employee)
                .is_some_and(|a| a.contains(&h.source))
            {
                self.unapplied
                    .entry(h.employee.clone())
                    .or_default()
                    .push(h.source.clone());
            }
        }
        self.held.clear();
        self.held_sources.clear();
        self.waiting.clear();
        self.next.clear();
        self.latest = None;
    }

    /// Whether the login at `source` was applied to `employee`'s state. `applied` says how
    /// far, but logins are applied in event time: one held, or held when the state was
    /// written, may lie below it.
    fn was_applied(&self, employee: &EmployeeId, source: &Source) -> bool {
        self.applied
            .get(employee)
            .is_some_and(|a| a.contains(source))
            && !self.held_sources.contains(source)
            && !self
                .unapplied
                .get(employee)
                .is_some_and(|u| u.contains(source))
    }

    /// The logins held, by employee: built once per changelog write, so writing the
    /// touched employees' states does not walk everything held once per employee.
    fn held_by_employee(&self) -> HashMap<&EmployeeId, Vec<&Source>> {
        let mut out: HashMap<&EmployeeId, Vec<&Source>> = HashMap::new();
        for h in self.held.tags() {
            out.entry(&h.employee).or_default().push(&h.source);
        }
        out
    }

    /// The employee's logins read and not applied that `applied` covers (`held`: theirs
    /// among [`Self::held_by_employee`]): written beside the state, so a restore does not
    /// take them for applied.
    fn held_below_applied(&self, employee: &EmployeeId, held: &[&Source]) -> Vec<Source> {
        let Some(applied) = self.applied.get(employee) else {
            return Vec::new();
        };
        let unapplied = self.unapplied.get(employee).into_iter().flatten();
        let mut out: Vec<Source> = held
            .iter()
            .copied()
            .chain(unapplied)
            .filter(|s| applied.contains(s))
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            (&a.topic, a.partition, a.offset).cmp(&(&b.topic, b.partition, b.offset))
        });
        out.dedup();
        out
    }
}

/// Start the detect stage: logins, findings and dispositions to alerts, on the state of
/// each partition restored from its changelog.
pub fn start(ctx: &Context) -> Result<Running, ServiceError> {
    let (config, kafka) = (&ctx.config, &ctx.kafka);
    let t = &kafka.topics;
    let group = ctx.group(Stage::Detect);
    let outbox = ctx.outbox()?;
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
        ctx.restore_reader(&group)?,
        Arc::clone(&ctx.metrics),
        ctx.cancel.clone(),
    );
    let consumer = ctx.consumer(&group, parts)?;
    check_co_partitioned(&consumer, t)?;
    let opts = ctx.loop_options();
    let roster = Arc::clone(&ctx.roster);
    let suppress = Arc::clone(&ctx.suppress);
    let metrics = Arc::clone(&ctx.metrics);
    Running::spawn(
        Stage::Detect,
        group,
        &[&t.logins, &t.findings, &t.dispositions],
        consumer,
        Some(DetectPartitions::export_risk_levels),
        move |consumer| {
            stage_loop(
                consumer,
                outbox,
                &opts,
                &metrics,
                Stage::Detect,
                |batch, out| {
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
                },
            )
        },
    )
}

/// The detect stage reads logins and findings partition by partition and writes alerts
/// and state to the same partition numbers: their counts must agree.
fn check_co_partitioned<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    t: &Topics,
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

/// The detect stage's partitions, shared between the consumer loop and its rebalance
/// callbacks (both on the consumer's thread).
pub struct DetectPartitions {
    inner: Mutex<BTreeMap<i32, PartitionState>>,
    /// Whether logins wait for the infra stage's watermark (shared_infrastructure is on).
    wait_for_infra: bool,
    order: EventOrder,
    settings: Settings,
    topics: DetectTopics,
    reader: BaseConsumer,
    metrics: Arc<Metrics>,
    /// The service's token: a restore that keeps failing gives up once it is cancelled.
    cancel: CancellationToken,
}

impl DetectPartitions {
    pub fn new(
        mut settings: Settings,
        order: EventOrder,
        topics: DetectTopics,
        reader: BaseConsumer,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
    ) -> DetectPartitions {
        // Shared infrastructure needs every employee on a network, which one partition does
        // not have: the infra stage finds it and sends the findings here.
        let wait_for_infra = settings.detect.shared_infrastructure.enabled;
        settings.detect.shared_infrastructure.enabled = false;
        DetectPartitions {
            inner: Mutex::new(BTreeMap::new()),
            wait_for_infra,
            order,
            settings,
            topics,
            reader,
            metrics,
            cancel,
        }
    }

    /// What a partition's ingest watermarks must cover: every input topic.
    fn ingest(&self) -> Upstream {
        Upstream::new(self.topics.inputs.iter().cloned())
    }

    /// What a partition's infra watermarks must cover: every network partition.
    fn infra(&self) -> Upstream {
        Upstream::new([self.topics.network.clone()])
    }

    /// Count findings of the detector `rule` (a detector's name: the engine knows no other).
    fn findings_raised(&self, rule: &str, severity: crate::alert::Severity, count: u64) {
        if let Some(rule) = Rule::named(rule) {
            FindingsRaised {
                rule,
                severity,
                count,
            }
            .emit(&self.metrics);
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<i32, PartitionState>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rebuild one partition from the changelog and the alerts written after it.
    fn restore(&self, partition: i32) -> Result<PartitionState, ServiceError> {
        let started = Instant::now();
        let t = &self.topics;
        let (low, high) = self
            .reader
            .fetch_watermarks(&t.changelog, partition, REQUEST_TIMEOUT)?;
        let mut states: HashMap<EmployeeId, Stored> = HashMap::new();
        let mut marker = Marker::default();
        let mut corrupt = 0u64;
        read_range(&self.reader, &t.changelog, partition, low, high, |m| {
            let key = m.key().unwrap_or_default();
            let value = payload(m);
            if key == MARKER_KEY {
                if let Ok(mk) = postcard::from_bytes::<Marker>(value) {
                    marker = mk;
                }
                return;
            }
            let employee = EmployeeId(String::from_utf8_lossy(key).into());
            if value.is_empty() {
                states.remove(&employee);
                return;
            }
            match Stored::decode(value) {
                Ok(s) => {
                    states.insert(employee, s);
                }
                Err(e) => {
                    // An unreadable state starts the employee afresh rather than stopping
                    // the partition; the count says it happened.
                    corrupt += 1;
                    tracing::warn!(partition, error = %e, "unreadable changelog state");
                }
            }
        })?;
        let mut engine = Engine::new(self.settings.clone());
        let mut applied = HashMap::with_capacity(states.len());
        let mut unapplied = HashMap::new();
        let restored = states.len();
        let mut clock = None;
        for (employee, s) in states {
            clock = clock.max(s.state.last_seen);
            applied.insert(employee.clone(), s.applied);
            if !s.held.is_empty() {
                unapplied.insert(employee.clone(), s.held);
            }
            engine.restore(employee, s.state);
        }
        let (alow, ahigh) = self
            .reader
            .fetch_watermarks(&t.alerts, partition, REQUEST_TIMEOUT)?;
        let mut produced = HashSet::new();
        read_range(
            &self.reader,
            &t.alerts,
            partition,
            marker.alerts_end.max(alow),
            ahigh,
            |m| {
                if let Ok(a) = crate::siem::read_alert(payload(m)) {
                    produced.insert(revision(&a));
                }
            },
        )?;
        let took = started.elapsed();
        StateRestored {
            stage: Stage::Detect,
            partition,
            employees: restored,
            elapsed: took,
        }
        .emit(&self.metrics);
        tracing::info!(
            partition,
            employees = restored,
            corrupt,
            pending_alerts = produced.len(),
            ms = took.as_millis() as u64,
            "restored detect partition"
        );
        let mut state = PartitionState::new(engine, applied, self.ingest(), self.infra());
        state.produced = produced;
        state.unapplied = unapplied;
        state.changelog_end = high;
        state.clock = clock;
        Ok(state)
    }

    /// Employees held over all partitions.
    pub fn employees(&self) -> usize {
        self.lock().values().map(|p| p.engine.employees()).sum()
    }

    /// Refresh the employees-tracked and employees-by-risk gauges, each employee's risk
    /// taken at the latest event time of their partition.
    pub fn export_risk_levels(&self) {
        let cfg = &self.settings.risk;
        let guard = self.lock();
        let levels = guard.values().flat_map(|p| {
            p.engine
                .states()
                .map(move |(_, s)| p.clock.and_then(|now| cfg.level(s.risk.score_at(cfg, now))))
        });
        EmployeesTallied::of(levels).emit(&self.metrics);
    }
}

impl Partitions for DetectPartitions {
    fn assigned(&self, tpl: &TopicPartitionList, _committed: Option<&TopicPartitionList>) {
        for partition in partitions_of(tpl, &self.topics.logins) {
            let current = self.lock().get(&partition).map(|p| p.changelog_end);
            if let Some(end) = current
                && let Ok((_, high)) =
                    self.reader
                        .fetch_watermarks(&self.topics.changelog, partition, REQUEST_TIMEOUT)
                && high == end
            {
                // Nobody wrote to this partition's changelog since we did: what we hold
                // is current.
                continue;
            }
            let restored = restore_until_cancelled(
                &self.cancel,
                || self.restore(partition),
                |e| {
                    StateRestoreFailed {
                        stage: Stage::Detect,
                        partition,
                        error: e,
                    }
                    .emit(&self.metrics)
                },
            );
            if let Some(state) = restored {
                self.lock().insert(partition, state);
            }
        }
    }

    fn revoked(&self, tpl: &TopicPartitionList) {
        // The state is kept: if the partition comes back and its changelog has not moved,
        // it is reused instead of read again (see `assigned`). What was read and not
        // applied is dropped: whoever owns the partition next reads it again.
        let mut guard = self.lock();
        for partition in partitions_of(tpl, &self.topics.logins) {
            if let Some(p) = guard.get_mut(&partition) {
                p.drop_held();
            }
        }
    }
}

/// The identity of one alert line: escalations keep the id but change status, severity or
/// rules, and each is its own line.
pub fn revision(a: &Alert) -> String {
    format!(
        "{}|{}|{}|{}",
        a.id,
        serde_json::to_string(&a.status).unwrap_or_default(),
        a.severity.as_str(),
        a.rules.join(",")
    )
}

/// What a batch changed, to be written out.
#[derive(Default)]
pub struct BatchOutput {
    alerts: Vec<(i32, Alert)>,
    touched: BTreeSet<(i32, EmployeeId)>,
    /// Records that could not be read, for the dead-letter topic.
    pub bad: Vec<(OwnedMessage, String)>,
    /// Offsets to store: no further than the earliest login or finding still held.
    pub offsets: Progress,
    /// How far every partition has applied, published once the batch's alerts are written.
    watermark: Option<DateTime<Utc>>,
}

impl DetectPartitions {
    /// Apply one batch of logins, findings and dispositions (empty when the input is
    /// quiet): hold the logins, then apply in event-time order those the watermarks passed.
    pub fn apply(
        &self,
        batch: &[OwnedMessage],
        roster: &Roster,
        suppress: &Suppressions,
    ) -> BatchOutput {
        let mut out = BatchOutput::default();
        let mut guard = self.lock();
        for m in batch {
            let partition = m.partition();
            let Some(p) = guard.get_mut(&partition) else {
                continue;
            };
            let topic = m.topic();
            let next = p.next.entry(topic.to_owned()).or_insert(0);
            *next = (*next).max(m.offset() + 1);
            if m.key() == Some(WATERMARK_KEY)
                && (topic == self.topics.logins || topic == self.topics.findings)
            {
                match serde_json::from_slice::<WatermarkRecord>(payload(m)) {
                    Ok(w) => {
                        let upstream = if topic == self.topics.logins {
                            &mut p.ingest
                        } else {
                            &mut p.infra
                        };
                        w.watermarks.into_iter().for_each(|w| upstream.record(w));
                    }
                    Err(e) => out
                        .bad
                        .push((m.clone(), format!("unreadable watermark: {e}"))),
                }
            } else if topic == self.topics.logins {
                self.read_login(p, partition, m, roster, suppress, &mut out);
            } else if topic == self.topics.dispositions {
                self.read_disposition(p, partition, m, &mut out);
            } else if topic == self.topics.findings {
                self.read_finding(p, partition, m, &mut out);
            }
        }
        let mut held = 0;
        let mut lag: f64 = 0.0;
        // How far every partition has applied: the least bound; a partition whose inputs
        // are all idle has applied all it read.
        let mut watermark = Until::Everything;
        let mut latest = None;
        for (&partition, p) in guard.iter_mut() {
            let until = self.release(p, partition, roster, suppress, &mut out);
            watermark = watermark.min(until);
            latest = latest.max(p.latest);
            held += p.held.len();
            if let (Some(latest), Some(released)) = (p.latest, p.released) {
                lag = lag.max((latest - released).num_milliseconds() as f64 / 1000.0);
            }
            for (topic, &next) in &p.next {
                let earliest = if *topic == self.topics.logins {
                    p.held.tags().map(|h| h.offset).min()
                } else if *topic == self.topics.findings {
                    p.waiting.values().flatten().map(|w| w.offset).min()
                } else {
                    None
                };
                out.offsets
                    .set(topic, partition, earliest.unwrap_or(next).min(next));
            }
            for (rule, severity, n) in p.engine.take_finding_counts() {
                self.findings_raised(rule, severity, n);
            }
        }
        out.watermark = match watermark {
            Until::Upto(t) => Some(t),
            Until::Everything => latest,
            Until::Nothing => None,
        };
        RecordsHeld {
            stage: Stage::Detect,
            held,
            lag_seconds: lag,
        }
        .emit(&self.metrics);
        out
    }

    /// Hold one login (or apply it at once when it comes behind what was applied).
    fn read_login(
        &self,
        p: &mut PartitionState,
        partition: i32,
        m: &OwnedMessage,
        roster: &Roster,
        suppress: &Suppressions,
        out: &mut BatchOutput,
    ) {
        let rec: LoginRecord = match serde_json::from_slice(payload(m)) {
            Ok(r) => r,
            Err(e) => {
                out.bad
                    .push((m.clone(), format!("unreadable login record: {e}")));
                return;
            }
        };
        if p.was_applied(&rec.employee, &rec.source) || p.held_sources.contains(&rec.source) {
            DuplicateSkipped {
                kind: DuplicateKind::Login,
            }
            .emit(&self.metrics);
            return;
        }
        EventLagObserved {
            stage: Stage::Detect,
            event_time: rec.event.time,
        }
        .emit(&self.metrics);
        let held = HeldLogin {
            source: rec.source.clone(),
            employee: rec.employee.clone(),
            offset: m.offset(),
            read: Instant::now(),
            network: rec
                .event
                .kind
                .is_interactive()
                .then(|| crate::enrich::network_key(rec.event.ip).to_string()),
        };
        let time = rec.event.time;
        let login = Resolved {
            event: rec.event,
            employee: rec.employee,
            geo: Arc::new(rec.geo),
        };
        if p.released.is_some_and(|r| time < r) {
            // Behind what was applied already: apply it now, out of order, never drop it.
            LateRecordApplied {
                kind: LateKind::Login,
            }
            .emit(&self.metrics);
            let judged = self.judged(p, time, held.network.as_deref());
            self.apply_login(p, partition, login, held, judged, roster, suppress, out);
            return;
        }
        p.latest = p.latest.max(Some(time));
        p.held_sources.insert(held.source.clone());
        p.held.push(login, held);
    }

    /// Keep one shared-infrastructure finding for its login (or apply it at once when its
    /// login was applied already).
    fn read_finding(
        &self,
        p: &mut PartitionState,
        partition: i32,
        m: &OwnedMessage,
        out: &mut BatchOutput,
    ) {
        let rec: FindingRecord = match serde_json::from_slice(payload(m)) {
            Ok(r) => r,
            Err(e) => {
                out.bad
                    .push((m.clone(), format!("unreadable finding record: {e}")));
                return;
            }
        };
        let Some(finding) = rec.finding() else {
            out.bad
                .push((m.clone(), format!("unknown rule {:?}", rec.rule)));
            return;
        };
        let Some(login) = rec.login.clone() else {
            // An older instance's record, without its login's coordinates: applied on its
            // own, once per network record.
            if p.applied
                .get(&rec.employee)
                .is_some_and(|a| a.contains(&rec.source))
            {
                DuplicateSkipped {
                    kind: DuplicateKind::Finding,
                }
                .emit(&self.metrics);
                return;
            }
            let employee = rec.employee.clone();
            p.applied
                .entry(employee.clone())
                .or_default()
                .record(&rec.source);
            self.apply_finding_alone(
                p,
                partition,
                &employee,
                WaitingFinding::of(rec, finding, m),
                out,
            );
            return;
        };
        let key = (rec.employee.clone(), login);
        let duplicate = if p
            .waiting
            .get(&key)
            .is_some_and(|ws| ws.iter().any(|w| w.source == rec.source))
        {
            true
        } else if !p.was_applied(&key.0, &key.1) {
            // Its login is held, or not read yet: the finding goes with it.
            p.waiting
                .entry(key)
                .or_default()
                .push(WaitingFinding::of(rec, finding, m));
            return;
        } else {
            // Its login was applied. With every finding about it, unless the infra stage had
            // not judged it then (the finding is late: an escalation of its own, once).
            // Which network record a finding came from says nothing of order: the infra
            // stage judges in event time, not in the order logins reached its partition.
            match p.unjudged.get_mut(&key.1) {
                Some(u) if !u.findings.contains(&rec.source) => {
                    u.findings.push(rec.source.clone());
                    false
                }
                _ => true,
            }
        };
        if duplicate {
            DuplicateSkipped {
                kind: DuplicateKind::Finding,
            }
            .emit(&self.metrics);
            return;
        }
        LateRecordApplied {
            kind: LateKind::Finding,
        }
        .emit(&self.metrics);
        self.apply_finding_alone(
            p,
            partition,
            &key.0,
            WaitingFinding::of(rec, finding, m),
            out,
        );
    }

    /// Apply a finding whose login was applied without it.
    fn apply_finding_alone(
        &self,
        p: &mut PartitionState,
        partition: i32,
        employee: &EmployeeId,
        w: WaitingFinding,
        out: &mut BatchOutput,
    ) {
        self.findings_raised(w.finding.rule, w.finding.severity, 1);
        out.touched.insert((partition, employee.clone()));
        if let Some(a) = p.engine.apply_findings(employee, &w.event, vec![w.finding]) {
            out.alerts.push((partition, a));
        }
    }

    fn read_disposition(
        &self,
        p: &mut PartitionState,
        partition: i32,
        m: &OwnedMessage,
        out: &mut BatchOutput,
    ) {
        let d: crate::suppress::Disposition = match serde_json::from_slice(payload(m)) {
            Ok(d) => d,
            Err(e) => {
                out.bad
                    .push((m.clone(), format!("unreadable disposition: {e}")));
                return;
            }
        };
        // The disposition's own coordinates: applied once per employee, even when it is read
        // again after a crash.
        let source = source_of(m);
        let applied = p.applied.entry(d.employee_id.clone()).or_default();
        if applied.contains(&source) {
            DuplicateSkipped {
                kind: DuplicateKind::Disposition,
            }
            .emit(&self.metrics);
            return;
        }
        applied.record(&source);
        p.engine.dispose(&d);
        out.touched.insert((partition, d.employee_id.clone()));
        tracing::info!(
            employee = %d.employee_id.0,
            alert = d.alert_id.as_deref().unwrap_or("-"),
            "disposition applied"
        );
    }

    /// Apply, in event-time order, the held logins the watermarks passed; a login that
    /// waited longer than `watermark_wait_max_secs` goes without them.
    fn release(
        &self,
        p: &mut PartitionState,
        partition: i32,
        roster: &Roster,
        suppress: &Suppressions,
        out: &mut BatchOutput,
    ) -> Until {
        let mut until = p.ingest.until().less(self.order.delay);
        if self.wait_for_infra {
            until = until.min(p.infra.until());
        }
        while let Some((time, h)) = p.held.peek() {
            let judged = self.judged(p, time, h.network.as_deref());
            let ready = until.covers(time) && judged;
            let timed_out = h.read.elapsed() >= self.order.wait;
            if !ready && !timed_out {
                break;
            }
            if !ready {
                WatermarkTimedOut {
                    stage: Stage::Detect,
                }
                .emit(&self.metrics);
            }
            let Some((login, held)) = p.held.pop_until(None) else {
                break;
            };
            self.apply_login(p, partition, login, held, judged, roster, suppress, out);
        }
        // Logins applied unjudged whose network partition has now judged past them: every
        // finding about them has been read (it comes before that watermark).
        if !p.unjudged.is_empty() {
            let judged: Vec<Source> = p
                .unjudged
                .iter()
                .filter(|(_, u)| self.judged(p, u.time, Some(&u.network)))
                .map(|(s, _)| s.clone())
                .collect();
            for s in judged {
                p.unjudged.remove(&s);
            }
        }
        // Findings whose login was passed without them (it was read late, or never came):
        // applied on their own rather than kept for ever.
        if !p.waiting.is_empty() {
            let released = p.released;
            let orphans: Vec<(EmployeeId, Source)> = p
                .waiting
                .iter()
                .filter(|((_, login), ws)| {
                    !p.held_sources.contains(login)
                        && ws
                            .iter()
                            .all(|w| released.is_some_and(|r| w.event.time < r))
                })
                .map(|(k, _)| k.clone())
                .collect();
            for key in orphans {
                for w in p.waiting.remove(&key).unwrap_or_default() {
                    // Read again after a restart, an orphan is not applied twice.
                    let applied = p.applied.entry(key.0.clone()).or_default();
                    if applied.contains(&w.source) {
                        continue;
                    }
                    applied.record(&w.source);
                    LateRecordApplied {
                        kind: LateKind::Finding,
                    }
                    .emit(&self.metrics);
                    self.apply_finding_alone(p, partition, &key.0, w, out);
                }
            }
        }
        until
    }

    /// Whether the infra stage has judged every login on `network` (its key) up to `time`:
    /// then every finding about a login of that time has been read.
    fn judged(&self, p: &PartitionState, time: DateTime<Utc>, network: Option<&str>) -> bool {
        !self.wait_for_infra
            || network.is_none_or(|key| {
                p.infra
                    .partitions_of(&self.topics.network)
                    .is_some_and(|n| {
                        let q = super::wire::partition_for(key.as_bytes(), n);
                        p.infra.passed(&self.topics.network, q, time)
                    })
            })
    }

    /// Apply one login with the findings made elsewhere about it; `judged`: whether the
    /// infra stage had judged it (if not, findings about it may still come).
    #[allow(clippy::too_many_arguments)]
    fn apply_login(
        &self,
        p: &mut PartitionState,
        partition: i32,
        login: Resolved,
        held: HeldLogin,
        judged: bool,
        roster: &Roster,
        suppress: &Suppressions,
        out: &mut BatchOutput,
    ) {
        p.held_sources.remove(&held.source);
        let waiting = p
            .waiting
            .remove(&(login.employee.clone(), held.source.clone()))
            .unwrap_or_default();
        if let Some(u) = p.unapplied.get_mut(&login.employee) {
            u.retain(|s| *s != held.source);
            if u.is_empty() {
                p.unapplied.remove(&login.employee);
            }
        }
        p.applied
            .entry(login.employee.clone())
            .or_default()
            .record(&held.source);
        if !judged && let Some(network) = held.network {
            p.unjudged.insert(
                held.source,
                Unjudged {
                    time: login.event.time,
                    network,
                    findings: waiting.iter().map(|w| w.source.clone()).collect(),
                },
            );
        }
        let time = login.event.time;
        p.released = p.released.max(Some(time));
        p.clock = p.clock.max(Some(time));
        out.touched.insert((partition, login.employee.clone()));
        let elsewhere = waiting.into_iter().map(|w| w.finding).collect();
        if let Some(a) = p.engine.apply_now(login, elsewhere, roster, suppress) {
            out.alerts.push((partition, a));
        }
    }

    /// Produce the batch's alerts, then its state, each acknowledged before the next.
    ///
    /// Each alert line is stamped with the wall clock here, as `detected_at`: when
    /// driftwatch decided, which on-call pages show beside the login's time. The stamp is
    /// not part of a line's identity ([`revision`]), so a line already produced before a
    /// crash is still skipped when its input is applied again.
    pub fn write(&self, mut out: BatchOutput, outbox: &mut Outbox) -> Result<(), ServiceError> {
        let t = &self.topics;
        let mut alerts_end: BTreeMap<i32, i64> = BTreeMap::new();
        let now = Utc::now();
        for (_, alert) in &mut out.alerts {
            alert.detected_at = Some(now);
        }
        {
            let guard = self.lock();
            for (partition, alert) in &out.alerts {
                let rev = revision(alert);
                if guard
                    .get(partition)
                    .is_some_and(|p| p.produced.contains(&rev))
                {
                    DuplicateSkipped {
                        kind: DuplicateKind::Alert,
                    }
                    .emit(&self.metrics);
                    continue;
                }
                let value = crate::siem::to_line(alert, t.alerts_format);
                outbox.send(
                    &t.alerts,
                    *partition,
                    alert.employee_id.0.as_bytes(),
                    &value,
                    None,
                );
                AlertRaised::of(alert).emit(&self.metrics);
            }
        }
        for landed in outbox.wait()? {
            let end = alerts_end.entry(landed.partition).or_insert(0);
            *end = (*end).max(landed.offset + 1);
        }
        {
            let guard = self.lock();
            let none = Applied::default();
            // `touched` is ordered by partition: each partition's held logins indexed once.
            let mut held: Option<(i32, HashMap<&EmployeeId, Vec<&Source>>)> = None;
            for (partition, employee) in &out.touched {
                let Some(p) = guard.get(partition) else {
                    continue;
                };
                let Some(state) = p.engine.state(employee) else {
                    continue;
                };
                if held.as_ref().is_none_or(|(q, _)| q != partition) {
                    held = Some((*partition, p.held_by_employee()));
                }
                let theirs = held
                    .as_ref()
                    .and_then(|(_, h)| h.get(employee))
                    .map_or(&[][..], Vec::as_slice);
                let applied = p.applied.get(employee).unwrap_or(&none);
                let value = Stored::encode(applied, &p.held_below_applied(employee, theirs), state);
                outbox.send(
                    &t.changelog,
                    *partition,
                    employee.0.as_bytes(),
                    &value,
                    None,
                );
            }
        }
        // The marker goes last: it lands after the states before it in the partition, so a
        // marker that survived a crash vouches for the whole batch.
        for (partition, end) in &alerts_end {
            let value = postcard::to_stdvec(&Marker { alerts_end: *end }).unwrap_or_default();
            outbox.send(&t.changelog, *partition, MARKER_KEY, &value, None);
        }
        let landed = outbox.wait()?;
        ChangelogWritten {
            records: landed.len(),
        }
        .emit(&self.metrics);
        if let Some(t) = out.watermark {
            // After the alerts: a reader of the alerts topic that has read up to its end
            // now has every alert at or before this time.
            WatermarkPublished {
                stage: Stage::Detect,
                watermark: t,
            }
            .emit(&self.metrics);
        }
        let mut guard = self.lock();
        for l in landed {
            if let Some(p) = guard.get_mut(&l.partition) {
                p.changelog_end = p.changelog_end.max(l.offset + 1);
            }
        }
        Ok(())
    }
}

/// A source for dead-lettered internal records.
pub fn source_of(m: &impl Message) -> Source {
    Source {
        topic: m.topic().to_owned(),
        partition: m.partition(),
        offset: m.offset(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;
    use crate::enrich::Geo;
    use crate::event::{EventKind, Format, Outcome};
    use crate::service::wire::Watermark;
    use rdkafka::ClientConfig;
    use rdkafka::Timestamp;
    use std::time::Duration;

    const FARM: &str = "198.51.100.7";

    fn at(hour: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 10, 7, hour, 0, 0).unwrap()
    }

    fn roster() -> Roster {
        Roster::from_csv_reader(
            "employee_id,aliases,claimed_country,claimed_city,claimed_lat,claimed_lon,claimed_timezone,status\n\
             E1,e1@corp.example,US,New York,40.7128,-74.006,America/New_York,active\n"
                .as_bytes(),
        )
        .unwrap()
    }

    /// A detect stage over one partition of each topic, holding no state, that waits for
    /// the infra stage (shared_infrastructure on) but never times out.
    fn stage() -> DetectPartitions {
        stage_cancelled_by(CancellationToken::new())
    }

    /// [`stage`] on the service token `cancel`; its reader points at a closed port.
    fn stage_cancelled_by(cancel: CancellationToken) -> DetectPartitions {
        let topics = DetectTopics {
            inputs: vec!["raw".into()],
            network: "net".into(),
            logins: "logins".into(),
            findings: "findings".into(),
            dispositions: "dispositions".into(),
            alerts: "alerts".into(),
            alerts_format: crate::siem::AlertsFormat::Driftwatch,
            changelog: "changelog".into(),
        };
        // Never asked: the partition below is made here, not restored from a broker.
        let reader: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:9")
            .create()
            .unwrap();
        let order = EventOrder {
            delay: chrono::Duration::zero(),
            idle: Duration::from_secs(3600),
            wait: Duration::from_secs(3600),
        };
        let stage = DetectPartitions::new(
            Settings::default(),
            order,
            topics,
            reader,
            Arc::new(Metrics::new()),
            cancel,
        );
        assert!(stage.wait_for_infra);
        let state = PartitionState::new(
            Engine::new(stage.settings.clone()),
            HashMap::new(),
            stage.ingest(),
            stage.infra(),
        );
        stage.lock().insert(0, state);
        stage
    }

    fn message(topic: &str, offset: i64, key: &[u8], value: Vec<u8>) -> OwnedMessage {
        OwnedMessage::new(
            Some(value),
            Some(key.to_vec()),
            topic.to_owned(),
            Timestamp::NotAvailable,
            0,
            offset,
            None,
        )
    }

    fn source(topic: &str, offset: i64) -> Source {
        Source {
            topic: topic.into(),
            partition: 0,
            offset,
        }
    }

    /// E1's login at `hour` from the farm's address, input record `raw`/0/`input`.
    fn login(hour: u32, input: i64) -> LoginRecord {
        let mut event = LoginEvent::new(
            Format::Okta,
            at(hour),
            "e1@corp.example".into(),
            FARM.parse().unwrap(),
            EventKind::InteractiveLogin,
            Outcome::Success,
        );
        event.source_id = Some(format!("s{input}"));
        LoginRecord {
            employee: EmployeeId("E1".into()),
            event,
            geo: Geo {
                country: Some("US".into()),
                city: Some("New York".into()),
                latitude: Some(40.7128),
                longitude: Some(-74.006),
                accuracy_km: Some(20),
                time_zone: Some("America/New_York".into()),
                ..Geo::default()
            },
            source: source("raw", input),
        }
    }

    fn login_message(offset: i64, rec: &LoginRecord) -> OwnedMessage {
        message("logins", offset, b"E1", serde_json::to_vec(rec).unwrap())
    }

    /// The infra stage's shared-infrastructure finding about `about`, made from the network
    /// record at `network`.
    fn finding_message(
        offset: i64,
        about: &LoginRecord,
        network: i64,
        severity: Severity,
    ) -> OwnedMessage {
        let login = Resolved {
            event: about.event.clone(),
            employee: about.employee.clone(),
            geo: Arc::new(about.geo.clone()),
        };
        let finding = Finding {
            rule: "shared_infrastructure",
            severity,
            risk: if severity == Severity::High { 90 } else { 30 },
            summary: "shares an address with others".into(),
            evidence: Vec::new(),
        };
        let rec = FindingRecord::new(
            &login,
            finding,
            source("net", network),
            about.source.clone(),
        );
        message("findings", offset, b"E1", serde_json::to_vec(&rec).unwrap())
    }

    fn watermark_message(topic: &str, offset: i64, upstream: &str, hour: u32) -> OwnedMessage {
        let rec = WatermarkRecord {
            watermarks: vec![Watermark {
                topic: upstream.into(),
                partition: 0,
                partitions: 1,
                time: Some(at(hour)),
                idle: false,
            }],
        };
        message(
            topic,
            offset,
            WATERMARK_KEY,
            serde_json::to_vec(&rec).unwrap(),
        )
    }

    fn rules_by_hour(out: &BatchOutput) -> Vec<(u32, Vec<String>)> {
        use chrono::Timelike;
        out.alerts
            .iter()
            .map(|(_, a)| (a.time.hour(), a.rules.clone()))
            .collect()
    }

    /// Regression (service_mock's kill layout, one escalation a login late): the infra
    /// stage judges in event time, so a finding about a later login can come from an
    /// earlier network record than one already applied. It was taken for a duplicate of
    /// it, and its login went without it.
    #[test]
    fn a_finding_from_an_earlier_network_record_is_not_a_duplicate() {
        let stage = stage();
        let (roster, suppress) = (roster(), Suppressions::default());
        // The 10:00 login reached the network topic before the 09:00 one (its input
        // partition's owner was killed and another instance read it again later).
        let early = login(9, 11);
        let later = login(10, 10);
        let first = stage.apply(
            &[
                login_message(0, &early),
                login_message(1, &later),
                watermark_message("logins", 2, "raw", 11),
                finding_message(0, &early, 500, Severity::Medium),
                watermark_message("findings", 1, "net", 9),
            ],
            &roster,
            &suppress,
        );
        assert!(
            first.alerts.iter().all(|(_, a)| a.time == at(9)),
            "only the 09:00 login was applied: {:?}",
            rules_by_hour(&first)
        );
        let second = stage.apply(
            &[
                finding_message(2, &later, 480, Severity::High),
                watermark_message("findings", 3, "net", 10),
            ],
            &roster,
            &suppress,
        );
        let lines = rules_by_hour(&second);
        assert!(
            lines
                .iter()
                .any(|(hour, rules)| *hour == 10
                    && rules.iter().any(|r| r == "shared_infrastructure")),
            "the high finding comes with the 10:00 login: {lines:?}"
        );
    }

    /// Regression: a login held while a later record of its input partition, earlier in
    /// event time, was applied, was taken for applied after the partition came back (the
    /// applied offsets only say how far), and skipped.
    #[test]
    fn a_login_held_behind_an_applied_offset_is_applied_after_a_revoke() {
        let stage = stage();
        let (roster, suppress) = (roster(), Suppressions::default());
        let later = login(10, 10);
        let early = login(9, 11);
        stage.apply(
            &[
                login_message(0, &later),
                login_message(1, &early),
                watermark_message("logins", 2, "raw", 9),
                watermark_message("findings", 0, "net", 9),
            ],
            &roster,
            &suppress,
        );
        let seen = |stage: &DetectPartitions| {
            stage.lock()[&0]
                .engine
                .state(&EmployeeId("E1".into()))
                .and_then(|s| s.last_seen)
        };
        assert_eq!(seen(&stage), Some(at(9)));
        // What the changelog would hold for E1 now: the 10:00 login is below the offset
        // applied, and written as held beside it.
        {
            let guard = stage.lock();
            let p = &guard[&0];
            assert!(p.applied[&EmployeeId("E1".into())].contains(&later.source));
            assert_eq!(
                p.held_below_applied(
                    &EmployeeId("E1".into()),
                    &p.held_by_employee()[&EmployeeId("E1".into())]
                ),
                vec![later.source.clone()]
            );
        }
        // Revoked and assigned again with the changelog unchanged: the state is kept, what
        // was held is read again from the committed offset.
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition("logins", 0);
        stage.revoked(&tpl);
        stage.apply(
            &[
                login_message(0, &later),
                login_message(1, &early),
                watermark_message("logins", 2, "raw", 11),
                watermark_message("findings", 0, "net", 11),
            ],
            &roster,
            &suppress,
        );
        assert_eq!(seen(&stage), Some(at(10)), "the held login was applied");
        let guard = stage.lock();
        assert!(guard[&0].unapplied.is_empty());
        assert!(guard[&0].held_by_employee().is_empty());
        assert!(
            guard[&0]
                .held_below_applied(&EmployeeId("E1".into()), &[])
                .is_empty()
        );
    }

    /// Regression: a restore that could not reach the broker retried forever, blind to
    /// shutdown, and held the stage past the shutdown deadline. Once the token is
    /// cancelled, an assignment returns and leaves the partition unrestored.
    #[test]
    fn a_cancelled_token_ends_the_restore_retries() {
        let cancel = CancellationToken::new();
        let stage = stage_cancelled_by(cancel.clone());
        cancel.cancel();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition("logins", 1);
        stage.assigned(&tpl, None);
        let guard = stage.lock();
        assert!(
            !guard.contains_key(&1),
            "nothing restored, nothing to apply to"
        );
        assert!(guard.contains_key(&0), "the partition held before is kept");
    }

    /// The changelog value keeps the held logins, and a value written before it had them
    /// still reads.
    #[test]
    fn stored_values_keep_held_logins_and_read_the_old_shape() {
        let mut applied = Applied::default();
        applied.record(&source("raw", 11));
        let state = crate::state::EmployeeState::default();
        let held = vec![source("raw", 10)];
        let back = Stored::decode(&Stored::encode(&applied, &held, &state)).unwrap();
        assert_eq!(back.held, held);
        assert_eq!(back.applied, applied);
        #[derive(Serialize)]
        struct Old {
            applied: Applied,
            state: Vec<u8>,
        }
        use serde::Serialize;
        let old = postcard::to_stdvec(&Old {
            applied: applied.clone(),
            state: state.encode(),
        })
        .unwrap();
        let back = Stored::decode(&old).unwrap();
        assert!(back.held.is_empty());
        assert_eq!(back.applied, applied);
        assert_eq!(back.state, state);
    }
}
