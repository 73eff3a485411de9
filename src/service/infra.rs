//! The infra stage: `driftwatch.network` (interactive logins keyed by IPv4 address or IPv6
//! /64) → which employees share a network → shared-infrastructure findings, keyed by
//! employee, onto `driftwatch.findings` for the detect stage.
//!
//! Its state is the network index of the window, and the network topic itself is the
//! changelog: on assignment the partition is re-read from its start (the topic's retention
//! covers the window) up to the committed offset, observing without emitting. Findings
//! emitted again after a crash carry the same source coordinates and are skipped by the
//! detect stage.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};

use super::kafka::{REQUEST_TIMEOUT, ServiceError};
use super::metrics::Metrics;
use super::stage::{Partitions, committed_offset, partitions_of, payload, read_range};
use super::wire::{FindingRecord, LoginRecord, Source};
use crate::alert::Finding;
use crate::detect::shared_infrastructure::{self, NetworkIndex};
use crate::detect::{Context, DetectConfig};
use crate::roster::Roster;
use crate::suppress::Suppressions;

/// The infra stage's per-partition network indexes.
pub struct InfraPartitions {
    inner: Mutex<BTreeMap<i32, NetworkIndex>>,
    cfg: shared_infrastructure::Config,
    topic: String,
    reader: BaseConsumer,
    metrics: Arc<Metrics>,
    roster: Arc<dyn Fn() -> Arc<Roster> + Send + Sync>,
    suppress: Arc<Suppressions>,
}

impl InfraPartitions {
    pub fn new(
        detect: &DetectConfig,
        topic: String,
        reader: BaseConsumer,
        metrics: Arc<Metrics>,
        roster: Arc<dyn Fn() -> Arc<Roster> + Send + Sync>,
        suppress: Arc<Suppressions>,
    ) -> InfraPartitions {
        InfraPartitions {
            inner: Mutex::new(BTreeMap::new()),
            cfg: detect.shared_infrastructure.clone(),
            topic,
            reader,
            metrics,
            roster,
            suppress,
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<i32, NetworkIndex>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn restore(&self, partition: i32, until: i64) -> Result<NetworkIndex, ServiceError> {
        let started = Instant::now();
        let (low, _) = self
            .reader
            .fetch_watermarks(&self.topic, partition, REQUEST_TIMEOUT)?;
        let roster = (self.roster)();
        let mut index = NetworkIndex::default();
        let read = read_range(&self.reader, &self.topic, partition, low, until, |m| {
            if let Ok(rec) = serde_json::from_slice::<LoginRecord>(payload(m)) {
                see(&self.cfg, &mut index, &rec, &roster, &self.suppress);
            }
        })?;
        self.metrics
            .restore_seconds
            .with_label_values(&["infra"])
            .observe(started.elapsed().as_secs_f64());
        tracing::info!(
            partition,
            records = read,
            networks = index.networks(),
            "restored infra partition"
        );
        Ok(index)
    }

    /// Apply one batch; the findings to send, and records that could not be read.
    pub fn apply(
        &self,
        batch: &[OwnedMessage],
    ) -> (Vec<FindingRecord>, Vec<(OwnedMessage, String)>) {
        let roster = (self.roster)();
        let mut findings = Vec::new();
        let mut bad = Vec::new();
        let mut guard = self.lock();
        for m in batch {
            let Some(index) = guard.get_mut(&m.partition()) else {
                continue;
            };
            let rec: LoginRecord = match serde_json::from_slice(payload(m)) {
                Ok(r) => r,
                Err(e) => {
                    bad.push((m.clone(), format!("unreadable network record: {e}")));
                    continue;
                }
            };
            self.metrics.observe_event_lag("infra", rec.event.time);
            let source = Source {
                topic: m.topic().to_owned(),
                partition: m.partition(),
                offset: m.offset(),
            };
            for f in see(&self.cfg, index, &rec, &roster, &self.suppress) {
                findings.push(FindingRecord::new(&rec, f, source.clone()));
            }
        }
        (findings, bad)
    }
}

/// Check one login against the employees already seen on its network, then record it.
fn see(
    cfg: &shared_infrastructure::Config,
    index: &mut NetworkIndex,
    rec: &LoginRecord,
    roster: &Roster,
    suppress: &Suppressions,
) -> Vec<Finding> {
    // Not in the roster any more: nothing claimed to compare with.
    let Some(profile) = roster.get(&rec.employee) else {
        return Vec::new();
    };
    let event = &rec.event;
    let network = index.view(cfg, event, &rec.employee);
    let ctx = Context {
        event,
        geo: &rec.geo,
        profile,
        allowlisted: suppress.is_allowlisted(event.ip, &rec.geo),
        trip: suppress.trip(&rec.employee, event.time, rec.geo.country.as_deref()),
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
            loop {
                match self.restore(partition, until) {
                    Ok(index) => {
                        self.lock().insert(partition, index);
                        break;
                    }
                    Err(e) => {
                        tracing::error!(partition, error = %e, "infra restore failed; retrying");
                        self.metrics
                            .restore_failures
                            .with_label_values(&["infra"])
                            .inc();
                        std::thread::sleep(std::time::Duration::from_secs(1));
                    }
                }
            }
        }
    }

    fn revoked(&self, tpl: &TopicPartitionList) {
        // Unlike detect state, an index is cheap to lose and has no changelog to check it
        // against: drop it, and rebuild if the partition comes back.
        let mut guard = self.lock();
        for partition in partitions_of(tpl, &self.topic) {
            guard.remove(&partition);
        }
    }
}
