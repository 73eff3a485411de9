//! The route stage: the alerts topic to on-call destinations.
//!
//! Each `[[route.destination]]` is a consumer group of its own (`<group_id>.route.<name>`)
//! with its own committed offsets, so a destination that is down holds back only itself,
//! and the alerts topic is its durable outbox: offsets are stored only after every alert of
//! a batch is delivered (or refused for good and dead-lettered), so a restart delivers
//! again whatever was in flight (at-least-once; duplicates carry the same alert id).
//!
//! While a destination is down the stage retries without polling; `max.poll.interval.ms`
//! is raised to its maximum (24 h) so the consumer keeps its partitions meanwhile. A
//! rebalance of that destination's group waits for the retries to end, which delays only
//! the destination that is down anyway.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use tokio::runtime::Handle;

use super::detect::source_of;
use super::kafka::{self, Outbox, ServiceError};
use super::stage::{Progress, StageContext, poll_batch};
use super::{LoopOptions, NoState, ingest};
use crate::alert::Alert;
use crate::roster::Roster;
use crate::route::deliver::{Destination, Outcome, Routed};
use crate::route::payload::Action;

/// The route consumer may wait this long between two polls (librdkafka's maximum): a
/// destination down for hours must not cost the consumer its partitions.
const MAX_POLL_INTERVAL_MS: &str = "86400000";

/// The consumer of one destination.
pub(super) fn consumer(
    kafka_config: &super::config::KafkaConfig,
    group_id: &str,
    destination: &str,
    metrics: Arc<super::metrics::Metrics>,
) -> Result<BaseConsumer<StageContext<NoState>>, ServiceError> {
    let group = format!("{group_id}.route.{destination}");
    let mut config = kafka::consumer_config(kafka_config, &group);
    config.set("max.poll.interval.ms", MAX_POLL_INTERVAL_MS);
    Ok(config.create_with_context(StageContext::new(NoState, metrics))?)
}

/// Poll alerts, deliver them, dead-letter what the destination refuses and what does not
/// read as an alert, then store the offsets; until stopped.
pub(super) fn run_destination(
    consumer: &BaseConsumer<StageContext<NoState>>,
    destination: &Destination,
    mut outbox: Outbox,
    dlq_partitions: i32,
    opts: &LoopOptions,
    roster: &(dyn Fn() -> Arc<Roster> + Send + Sync),
    runtime: &Handle,
) -> Result<(), ServiceError> {
    let pending = destination
        .metrics()
        .notification_pending
        .with_label_values(&[destination.name()]);
    while !opts.stop.load(Ordering::SeqCst) {
        let batch = poll_batch(consumer, opts.batch_max, opts.batch_wait);
        if batch.is_empty() {
            continue;
        }
        let roster = roster();
        let mut routed: Vec<(&OwnedMessage, Routed)> = Vec::new();
        let mut unreadable = Vec::new();
        for m in &batch {
            match serde_json::from_slice::<Alert>(m.payload().unwrap_or_default()) {
                Ok(alert) => {
                    let group = roster.get(&alert.employee_id).and_then(|p| p.group.clone());
                    if destination.config.wants(&alert, group.as_deref()) {
                        let written = m
                            .timestamp()
                            .to_millis()
                            .and_then(DateTime::<Utc>::from_timestamp_millis);
                        routed.push((
                            m,
                            Routed {
                                alert,
                                group,
                                action: Action::Trigger,
                                written,
                            },
                        ));
                    } else {
                        destination.skipped();
                    }
                }
                Err(e) => unreadable.push((m, e.to_string())),
            }
        }
        pending.set(routed.len() as i64);
        let alerts: Vec<Routed> = routed.iter().map(|(_, r)| r.clone()).collect();
        let Some(outcomes) = runtime.block_on(destination.deliver(&alerts, &opts.stop)) else {
            // Stopped mid-delivery: nothing of this batch is stored, so it is delivered
            // again after the restart.
            break;
        };
        for ((m, _), outcome) in routed.iter().zip(&outcomes) {
            if let Outcome::Rejected(why) = outcome {
                let detail = format!("{}: {why}", destination.name());
                dead_letter(
                    &mut outbox,
                    &opts.dlq,
                    dlq_partitions,
                    m,
                    "undeliverable",
                    &detail,
                );
                count_dead_letter(destination, m, "undeliverable");
            }
        }
        for (m, why) in &unreadable {
            dead_letter(
                &mut outbox,
                &opts.dlq,
                dlq_partitions,
                m,
                "unreadable_internal_record",
                why,
            );
            count_dead_letter(destination, m, "unreadable_internal_record");
        }
        outbox.wait()?;
        pending.set(0);
        let mut progress = Progress::default();
        for m in &batch {
            progress.done(m);
        }
        progress.store(consumer);
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(error = %e, destination = destination.name(), "final commit");
    }
    Ok(())
}

fn count_dead_letter(destination: &Destination, m: &OwnedMessage, reason: &str) {
    destination
        .metrics()
        .dead_lettered
        .with_label_values(&[m.topic(), reason])
        .inc();
}

fn dead_letter(
    outbox: &mut Outbox,
    dlq: &str,
    dlq_partitions: i32,
    m: &OwnedMessage,
    reason: &str,
    detail: &str,
) {
    ingest::dead_letter(
        outbox,
        dlq,
        dlq_partitions,
        m,
        &source_of(m),
        "route",
        reason,
        detail,
        "driftwatch",
    );
}
