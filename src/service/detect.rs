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
use super::kafka::{Outbox, REQUEST_TIMEOUT, ServiceError};
use super::order::{EventOrder, Until, Upstream};
use super::stage::{Partitions, Progress, partitions_of, payload, read_range};
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
        self.held.clear();
        self.held_sources.clear();
        self.waiting.clear();
        self.next.clear();
        self.latest = None;
    }
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
}

impl DetectPartitions {
    pub fn new(
        mut settings: Settings,
        order: EventOrder,
        topics: DetectTopics,
        reader: BaseConsumer,
        metrics: Arc<Metrics>,
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
        let restored = states.len();
        let mut clock = None;
        for (employee, s) in states {
            clock = clock.max(s.state.last_seen);
            applied.insert(employee.clone(), s.applied);
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
            loop {
                match self.restore(partition) {
                    Ok(state) => {
                        self.lock().insert(partition, state);
                        break;
                    }
                    Err(e) => {
                        // Reading input without the state would apply it to empty
                        // baselines: wait for the broker instead.
                        StateRestoreFailed {
                            stage: Stage::Detect,
                            partition,
                            error: &e,
                        }
                        .emit(&self.metrics);
                        std::thread::sleep(std::time::Duration::from_secs(1));
                    }
                }
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
        let applied = p.applied.get(&rec.employee);
        if applied.is_some_and(|a| a.contains(&rec.source)) || p.held_sources.contains(&rec.source)
        {
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
            self.apply_login(p, partition, login, held, roster, suppress, out);
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
        let applied = p.applied.get(&rec.employee);
        let waiting = |login: &Source| {
            p.waiting
                .get(&(rec.employee.clone(), login.clone()))
                .is_some_and(|ws| ws.iter().any(|w| w.source == rec.source))
        };
        if applied.is_some_and(|a| a.contains(&rec.source))
            || rec.login.as_ref().is_some_and(waiting)
        {
            DuplicateSkipped {
                kind: DuplicateKind::Finding,
            }
            .emit(&self.metrics);
            return;
        }
        match rec.login {
            Some(login) if !applied.is_some_and(|a| a.contains(&login)) => {
                p.waiting
                    .entry((rec.employee, login))
                    .or_default()
                    .push(WaitingFinding {
                        finding,
                        event: rec.event,
                        source: rec.source,
                        offset: m.offset(),
                    });
            }
            _ => {
                // Its login was applied without it (the infra stage was late, or wrote no
                // login coordinates): apply it on its own, an escalation of its own.
                LateRecordApplied {
                    kind: LateKind::Finding,
                }
                .emit(&self.metrics);
                let w = WaitingFinding {
                    finding,
                    event: rec.event,
                    source: rec.source,
                    offset: m.offset(),
                };
                self.apply_finding_alone(p, partition, &rec.employee, w, out);
            }
        }
    }

    fn apply_finding_alone(
        &self,
        p: &mut PartitionState,
        partition: i32,
        employee: &EmployeeId,
        w: WaitingFinding,
        out: &mut BatchOutput,
    ) {
        p.applied
            .entry(employee.clone())
            .or_default()
            .record(&w.source);
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
            let judged = !self.wait_for_infra
                || h.network.as_deref().is_none_or(|key| {
                    p.infra
                        .partitions_of(&self.topics.network)
                        .is_some_and(|n| {
                            let q = super::wire::partition_for(key.as_bytes(), n);
                            p.infra.passed(&self.topics.network, q, time)
                        })
                });
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
            self.apply_login(p, partition, login, held, roster, suppress, out);
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

    /// Apply one login with the findings made elsewhere about it.
    #[allow(clippy::too_many_arguments)]
    fn apply_login(
        &self,
        p: &mut PartitionState,
        partition: i32,
        login: Resolved,
        held: HeldLogin,
        roster: &Roster,
        suppress: &Suppressions,
        out: &mut BatchOutput,
    ) {
        p.held_sources.remove(&held.source);
        let waiting = p
            .waiting
            .remove(&(login.employee.clone(), held.source.clone()))
            .unwrap_or_default();
        let applied = p.applied.entry(login.employee.clone()).or_default();
        applied.record(&held.source);
        for w in &waiting {
            applied.record(&w.source);
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
            for (partition, employee) in &out.touched {
                let Some(p) = guard.get(partition) else {
                    continue;
                };
                let Some(state) = p.engine.state(employee) else {
                    continue;
                };
                let applied = p.applied.get(employee).cloned().unwrap_or_default();
                let value = Stored::encode(&applied, state);
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
