//! The audit stage: the alerts topic and the audit topic (API calls, dispositions, roster
//! and configuration changes from every instance) appended, in the order read, to the
//! hash-chained audit log of `[audit] path` (`crate::audit`).
//!
//! One writer per log: run the stage in one instance (`--stages audit`); a second one in
//! the same group would be handed part of the alerts partitions and write a partial log
//! of its own. Offsets are committed after the records are appended and synced; the
//! Kafka coordinates of each record go into its `details.kafka_source`, and on start the
//! log is read back so that records appended before a crash but not yet committed are
//! not appended twice.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use serde_json::{Value, json};

use super::Stage;
use super::api::KafkaAudit;
use super::context::Context;
use super::error::ServiceError;
use super::kafka;
use super::stage::{LoopOptions, NoState, Progress, StageContext, poll_batch};
use super::supervisor::Running;
use crate::alert::{Alert, AlertStatus};
use crate::audit::{AuditLog, Entry, Kind};
use crate::hex::sha256_hex;
use crate::roster::Roster;

/// The highest offset already in the log per (topic, partition), from the records'
/// `kafka_source`.
pub fn appended(records: &[crate::audit::Record]) -> HashMap<(String, i32), i64> {
    let mut out: HashMap<(String, i32), i64> = HashMap::new();
    for r in records {
        let s = &r.entry.details["kafka_source"];
        if let (Some(t), Some(p), Some(o)) = (
            s["topic"].as_str(),
            s["partition"].as_i64(),
            s["offset"].as_i64(),
        ) {
            let slot = out.entry((t.to_owned(), p as i32)).or_insert(o);
            *slot = (*slot).max(o);
        }
    }
    out
}

/// The audit entry of one record of the alerts or audit topic.
pub fn entry_of(m: &OwnedMessage, alerts_topic: &str) -> Result<Entry, String> {
    let payload = m.payload().unwrap_or_default();
    let source = json!({"topic": m.topic(), "partition": m.partition(), "offset": m.offset()});
    let mut entry = if m.topic() == alerts_topic {
        let alert: Alert = crate::siem::read_alert(payload).map_err(|e| e.to_string())?;
        Entry {
            time: Utc::now(),
            kind: match alert.status {
                AlertStatus::Open => Kind::AlertRaised,
                AlertStatus::Escalated => Kind::AlertUpdated,
            },
            actor: "driftwatch".to_owned(),
            subject: Some(alert.id.clone()),
            details: serde_json::to_value(&alert).map_err(|e| e.to_string())?,
        }
    } else {
        serde_json::from_slice::<Entry>(payload).map_err(|e| e.to_string())?
    };
    match &mut entry.details {
        Value::Object(map) => {
            map.insert("kafka_source".into(), source);
        }
        other => {
            *other = json!({ "value": other.clone(), "kafka_source": source });
        }
    }
    Ok(entry)
}

/// Start the audit stage: `None` without `[audit] path` (nothing to record).
pub fn start(ctx: &Context) -> Result<Option<Running>, ServiceError> {
    let Some(mut log) = ctx.config.audit.open().map_err(ServiceError::Audit)? else {
        tracing::info!("audit stage: no [audit] path, nothing to record");
        return Ok(None);
    };
    let t = &ctx.kafka.topics;
    let mut outbox = ctx.outbox()?;
    let group = ctx.group(Stage::Audit);
    let consumer = ctx.consumer(&group, NoState)?;
    let dlq_partitions = kafka::partition_count(&consumer, &t.dlq)?;
    let alerts = t.alerts.clone();
    let opts = ctx.loop_options();
    Running::spawn(
        Stage::Audit,
        group,
        &[&t.alerts, &t.audit],
        consumer,
        None,
        move |consumer| {
            run_audit(
                consumer,
                &mut log,
                &alerts,
                &mut outbox,
                dlq_partitions,
                &opts,
            )
        },
    )
    .map(Some)
}

/// Configuration and roster changes, onto the audit topic (the audit stage appends them
/// to the log).
pub struct Changes {
    topic: KafkaAudit,
    /// The roster last recorded.
    roster: Arc<Roster>,
}

impl Changes {
    /// Record the start: the configuration file's digest, and the roster.
    pub fn record_start(ctx: &Context) -> Result<Changes, ServiceError> {
        let topic = KafkaAudit {
            producer: kafka::producer(&ctx.kafka)?,
            topic: ctx.kafka.topics.audit.clone(),
            runtime: ctx.runtime.clone(),
        };
        if let Some(path) = &ctx.config.source {
            match std::fs::read(path) {
                Ok(bytes) => topic.record(
                    "config_changed",
                    "driftwatch",
                    None,
                    json!({
                        "path": path.display().to_string(),
                        "sha256": sha256_hex(&bytes),
                        "event": "started",
                    }),
                ),
                Err(e) => tracing::warn!(error = %e, "config file not readable for the audit log"),
            }
        }
        let roster = (ctx.roster)();
        topic.record("roster_changed", "driftwatch", None, roster_digest(&roster));
        Ok(Changes { topic, roster })
    }

    /// Record the roster in force `now` if it is not the one recorded last.
    pub fn roster(&mut self, now: Arc<Roster>) {
        if !Arc::ptr_eq(&now, &self.roster) {
            self.topic
                .record("roster_changed", "driftwatch", None, roster_digest(&now));
            self.roster = now;
        }
    }
}

/// What the audit log keeps of a roster: how many employees and a digest of every
/// profile, so a change is visible without copying HR data into the log.
fn roster_digest(roster: &Roster) -> Value {
    let mut all = Vec::new();
    for p in roster.iter() {
        all.extend(serde_json::to_vec(p).unwrap_or_default());
        all.push(b'\n');
    }
    json!({ "employees": roster.len(), "sha256": sha256_hex(&all) })
}

/// Append until stopped.
fn run_audit(
    consumer: &BaseConsumer<StageContext<NoState>>,
    log: &mut AuditLog,
    alerts_topic: &str,
    outbox: &mut super::kafka::Outbox,
    dlq_partitions: i32,
    opts: &LoopOptions,
) -> Result<(), ServiceError> {
    let fail = ServiceError::Audit;
    let mut done = appended(&crate::audit::read(log.path()).map_err(fail)?);
    // `[audit] retention_days` is applied at open, then once a day while running.
    let mut retention_applied = std::time::Instant::now();
    while !opts.stop.is_cancelled() {
        if retention_applied.elapsed() >= std::time::Duration::from_secs(86_400) {
            retention_applied = std::time::Instant::now();
            if let Some(p) = log.apply_retention(Utc::now()).map_err(fail)? {
                tracing::info!(dropped = p.dropped, "audit log retention applied");
            }
        }
        let batch = poll_batch(consumer, opts.batch_max, opts.batch_wait);
        if batch.is_empty() {
            continue;
        }
        for m in &batch {
            let key = (m.topic().to_owned(), m.partition());
            if done.get(&key).is_some_and(|&o| m.offset() <= o) {
                continue; // appended before a restart, not yet committed then
            }
            match entry_of(m, alerts_topic) {
                Ok(entry) => {
                    log.append(entry).map_err(fail)?;
                }
                Err(why) => {
                    tracing::error!(topic = m.topic(), offset = m.offset(), error = %why, "unreadable audit input; dead-lettered");
                    super::ingest::dead_letter(
                        outbox,
                        &opts.dlq,
                        dlq_partitions,
                        m,
                        &super::detect::source_of(m),
                        "audit",
                        super::ingest::DeadLetterReason::UnreadableInternalRecord,
                        &why,
                        "driftwatch",
                    );
                }
            }
            done.insert(key, m.offset());
        }
        outbox.wait()?;
        let mut progress = Progress::default();
        for m in &batch {
            progress.done(m);
        }
        progress.store(consumer);
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(error = %e, "audit: final commit");
    }
    Ok(())
}
