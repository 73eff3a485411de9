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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, Utc};
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};

use super::kafka::{Outbox, REQUEST_TIMEOUT, ServiceError};
use super::metrics::Metrics;
use super::stage::{Partitions, partitions_of, payload, read_range};
use super::wire::{Applied, FindingRecord, LoginRecord, MARKER_KEY, Marker, Source, Stored};
use crate::alert::Alert;
use crate::engine::{Engine, Resolved, Settings};
use crate::roster::{EmployeeId, Roster};
use crate::suppress::Suppressions;

/// Topic names the stage reads and writes.
#[derive(Debug, Clone)]
pub struct DetectTopics {
    pub logins: String,
    pub findings: String,
    /// Analysts' dispositions, keyed by employee (co-partitioned with logins).
    pub dispositions: String,
    pub alerts: String,
    pub changelog: String,
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
}

/// The detect stage's partitions, shared between the consumer loop and its rebalance
/// callbacks (both on the consumer's thread).
pub struct DetectPartitions {
    inner: Mutex<BTreeMap<i32, PartitionState>>,
    settings: Settings,
    topics: DetectTopics,
    reader: BaseConsumer,
    metrics: Arc<Metrics>,
}

impl DetectPartitions {
    pub fn new(
        mut settings: Settings,
        topics: DetectTopics,
        reader: BaseConsumer,
        metrics: Arc<Metrics>,
    ) -> DetectPartitions {
        // Shared infrastructure needs every employee on a network, which one partition does
        // not have: the infra stage finds it and sends the findings here.
        settings.detect.shared_infrastructure.enabled = false;
        DetectPartitions {
            inner: Mutex::new(BTreeMap::new()),
            settings,
            topics,
            reader,
            metrics,
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
            let employee = EmployeeId(String::from_utf8_lossy(key).into_owned());
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
                if let Ok(a) = serde_json::from_slice::<Alert>(payload(m)) {
                    produced.insert(revision(&a));
                }
            },
        )?;
        let took = started.elapsed();
        self.metrics
            .restore_seconds
            .with_label_values(&["detect"])
            .observe(took.as_secs_f64());
        self.metrics
            .restored_employees
            .with_label_values(&["detect"])
            .inc_by(restored as u64);
        tracing::info!(
            partition,
            employees = restored,
            corrupt,
            pending_alerts = produced.len(),
            ms = took.as_millis() as u64,
            "restored detect partition"
        );
        Ok(PartitionState {
            engine,
            applied,
            produced,
            changelog_end: high,
            clock,
        })
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
        self.metrics.set_employees(levels);
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
                        tracing::error!(partition, error = %e, "restore failed; retrying");
                        self.metrics
                            .restore_failures
                            .with_label_values(&["detect"])
                            .inc();
                        std::thread::sleep(std::time::Duration::from_secs(1));
                    }
                }
            }
        }
    }

    fn revoked(&self, _tpl: &TopicPartitionList) {
        // Kept: if the partition comes back and its changelog has not moved, the state is
        // reused instead of read again (see `assigned`).
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
}

impl DetectPartitions {
    /// Apply one batch of logins and findings.
    pub fn apply(
        &self,
        batch: &[OwnedMessage],
        roster: &Roster,
        suppress: &Suppressions,
    ) -> BatchOutput {
        let mut out = BatchOutput::default();
        let mut guard = self.lock();
        let mut pushed: BTreeSet<i32> = BTreeSet::new();
        for m in batch {
            let partition = m.partition();
            let Some(p) = guard.get_mut(&partition) else {
                continue;
            };
            let topic = m.topic();
            if topic == self.topics.logins {
                let rec: LoginRecord = match serde_json::from_slice(payload(m)) {
                    Ok(r) => r,
                    Err(e) => {
                        out.bad
                            .push((m.clone(), format!("unreadable login record: {e}")));
                        continue;
                    }
                };
                let applied = p.applied.entry(rec.employee.clone()).or_default();
                if applied.contains(&rec.source) {
                    self.metrics
                        .duplicates_skipped
                        .with_label_values(&["login"])
                        .inc();
                    continue;
                }
                applied.record(&rec.source);
                self.metrics.observe_event_lag("detect", rec.event.time);
                p.clock = p.clock.max(Some(rec.event.time));
                out.touched.insert((partition, rec.employee.clone()));
                pushed.insert(partition);
                let alerts = p.engine.push(
                    Resolved {
                        event: rec.event,
                        employee: rec.employee,
                        geo: Arc::new(rec.geo),
                    },
                    roster,
                    suppress,
                );
                out.alerts
                    .extend(alerts.into_iter().map(|a| (partition, a)));
            } else if topic == self.topics.dispositions {
                let d: crate::suppress::Disposition = match serde_json::from_slice(payload(m)) {
                    Ok(d) => d,
                    Err(e) => {
                        out.bad
                            .push((m.clone(), format!("unreadable disposition: {e}")));
                        continue;
                    }
                };
                // The disposition's own coordinates: applied once per employee, even when
                // it is read again after a crash.
                let source = crate::service::wire::Source {
                    topic: topic.to_owned(),
                    partition,
                    offset: m.offset(),
                };
                let applied = p.applied.entry(d.employee_id.clone()).or_default();
                if applied.contains(&source) {
                    self.metrics
                        .duplicates_skipped
                        .with_label_values(&["disposition"])
                        .inc();
                    continue;
                }
                applied.record(&source);
                p.engine.dispose(&d);
                out.touched.insert((partition, d.employee_id.clone()));
                tracing::info!(
                    employee = %d.employee_id.0,
                    alert = d.alert_id.as_deref().unwrap_or("-"),
                    "disposition applied"
                );
            } else if topic == self.topics.findings {
                let rec: FindingRecord = match serde_json::from_slice(payload(m)) {
                    Ok(r) => r,
                    Err(e) => {
                        out.bad
                            .push((m.clone(), format!("unreadable finding record: {e}")));
                        continue;
                    }
                };
                let Some(finding) = rec.finding() else {
                    out.bad
                        .push((m.clone(), format!("unknown rule {:?}", rec.rule)));
                    continue;
                };
                let applied = p.applied.entry(rec.employee.clone()).or_default();
                if applied.contains(&rec.source) {
                    self.metrics
                        .duplicates_skipped
                        .with_label_values(&["finding"])
                        .inc();
                    continue;
                }
                applied.record(&rec.source);
                self.metrics
                    .findings
                    .with_label_values(&[finding.rule, finding.severity.as_str()])
                    .inc();
                out.touched.insert((partition, rec.employee.clone()));
                if let Some(a) = p
                    .engine
                    .apply_findings(&rec.employee, &rec.event, vec![finding])
                {
                    out.alerts.push((partition, a));
                }
            }
        }
        // Apply what the reorder buffer holds: a batch is finished before it is committed.
        for partition in pushed {
            if let Some(p) = guard.get_mut(&partition) {
                let alerts = p.engine.flush(roster, suppress);
                out.alerts
                    .extend(alerts.into_iter().map(|a| (partition, a)));
                for (rule, severity, n) in p.engine.take_finding_counts() {
                    self.metrics
                        .findings
                        .with_label_values(&[rule, severity.as_str()])
                        .inc_by(n);
                }
            }
        }
        out
    }

    /// Produce the batch's alerts, then its state, each acknowledged before the next.
    pub fn write(&self, out: BatchOutput, outbox: &mut Outbox) -> Result<(), ServiceError> {
        let t = &self.topics;
        let mut alerts_end: BTreeMap<i32, i64> = BTreeMap::new();
        {
            let guard = self.lock();
            for (partition, alert) in &out.alerts {
                let rev = revision(alert);
                if guard
                    .get(partition)
                    .is_some_and(|p| p.produced.contains(&rev))
                {
                    self.metrics
                        .duplicates_skipped
                        .with_label_values(&["alert"])
                        .inc();
                    continue;
                }
                let value = serde_json::to_vec(alert).unwrap_or_default();
                outbox.send(
                    &t.alerts,
                    *partition,
                    alert.employee_id.0.as_bytes(),
                    &value,
                    None,
                );
                self.metrics
                    .alerts
                    .with_label_values(&[
                        alert.rules.first().map_or("", String::as_str),
                        alert.severity.as_str(),
                        match alert.status {
                            crate::alert::AlertStatus::Open => "open",
                            crate::alert::AlertStatus::Escalated => "escalated",
                        },
                    ])
                    .inc();
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
        self.metrics.changelog_writes.inc_by(landed.len() as u64);
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
