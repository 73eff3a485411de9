//! The route stage: the alerts topic to on-call destinations, and analysts' dispositions
//! as resolutions of what was paged (see `resolves`).
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

use chrono::{DateTime, Utc};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use tokio::runtime::Handle;

use super::context::Context;
use super::detect::source_of;
use super::error::ServiceError;
use super::kafka::{self, Outbox};
use super::stage::{LoopOptions, NoState, Progress, StageContext, poll_batch};
use super::supervisor::Running;
use super::{Stage, ingest};
use std::collections::HashMap;

use crate::alert::{Alert, Severity};
use crate::roster::Roster;
use crate::route::DestinationConfig;
use crate::route::deliver::{Destination, Outcome, Routed};
use crate::route::page::Person;
use crate::route::payload::Action;
use crate::suppress::{Disposition, Verdict};
use crate::telemetry::{Event, Metrics, NotificationsPending, RecordDeadLettered, TopicName};
use ingest::DeadLetterReason;

/// The route consumer may wait this long between two polls (librdkafka's maximum): a
/// destination down for hours must not cost the consumer its partitions.
const MAX_POLL_INTERVAL_MS: &str = "86400000";

/// Start the route stage of one `[[route.destination]]`: alerts and dispositions to it.
pub fn start(ctx: &Context, d: &DestinationConfig) -> Result<Running, ServiceError> {
    let (config, kafka) = (&ctx.config, &ctx.kafka);
    let t = &kafka.topics;
    let outbox = ctx.outbox()?;
    let destination = Destination::new(d, &config.route.links(), Arc::clone(&ctx.metrics))
        .map_err(ServiceError::Route)?;
    let consumer = consumer(kafka, &kafka.group_id, &d.name, Arc::clone(&ctx.metrics))?;
    let dlq_partitions = kafka::partition_count(&consumer, &t.dlq)?;
    // The route stage writes no watermarks: `announce_to` stays empty.
    let opts = ctx.loop_options();
    let roster = Arc::clone(&ctx.roster);
    let runtime = ctx.runtime.clone();
    let dispositions = t.dispositions.clone();
    Running::spawn(
        Stage::Route,
        group(&kafka.group_id, &d.name),
        &[&t.alerts, &t.dispositions],
        consumer,
        None,
        move |consumer| {
            run_destination(
                consumer,
                &destination,
                &dispositions,
                outbox,
                dlq_partitions,
                &opts,
                &*roster,
                &runtime,
            )
        },
    )
}

/// The consumer group of one destination.
pub(super) fn group(group_id: &str, destination: &str) -> String {
    format!("{group_id}.route.{destination}")
}

/// The consumer of one destination.
pub(super) fn consumer(
    kafka_config: &super::config::KafkaConfig,
    group_id: &str,
    destination: &str,
    metrics: Arc<Metrics>,
) -> Result<BaseConsumer<StageContext<NoState>>, ServiceError> {
    let group = group(group_id, destination);
    let mut config = kafka::consumer_config(kafka_config, &group);
    config.set("max.poll.interval.ms", MAX_POLL_INTERVAL_MS);
    Ok(config.create_with_context(StageContext::new(NoState, metrics))?)
}

/// Poll alerts, deliver them, dead-letter what the destination refuses and what does not
/// read as an alert, then store the offsets; until stopped.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_destination(
    consumer: &BaseConsumer<StageContext<NoState>>,
    destination: &Destination,
    dispositions_topic: &str,
    mut outbox: Outbox,
    dlq_partitions: i32,
    opts: &LoopOptions,
    roster: &(dyn Fn() -> Arc<Roster> + Send + Sync),
    runtime: &Handle,
) -> Result<(), ServiceError> {
    let pending = |count: usize| {
        NotificationsPending {
            destination: destination.label(),
            count,
        }
        .emit(destination.metrics())
    };
    let mut ledger = Ledger::default();
    while !opts.stop.is_cancelled() {
        let batch = poll_batch(consumer, opts.batch_max, opts.batch_wait);
        if batch.is_empty() {
            continue;
        }
        let roster = roster();
        let mut routed: Vec<(&OwnedMessage, Routed)> = Vec::new();
        let mut unreadable = Vec::new();
        for m in &batch {
            let payload = m.payload().unwrap_or_default();
            let written = m
                .timestamp()
                .to_millis()
                .and_then(DateTime::<Utc>::from_timestamp_millis);
            if m.topic() == dispositions_topic {
                match serde_json::from_slice::<Disposition>(payload) {
                    Ok(d) => {
                        for r in ledger.disposed(&d, written) {
                            routed.push((m, r));
                        }
                    }
                    Err(e) => unreadable.push((m, e.to_string())),
                }
                continue;
            }
            match crate::siem::read_alert(payload) {
                Ok(alert) => {
                    // The roster's person is copied only for what the destination takes.
                    let profile = roster.get(&alert.employee_id);
                    let group = profile.and_then(|p| p.group.as_deref());
                    let trigger = destination
                        .config
                        .wants(&alert, group)
                        .then(|| ledger.paged(alert, Person::of(profile), written))
                        .flatten();
                    match trigger {
                        Some(r) => routed.push((m, r)),
                        None => destination.skipped(),
                    }
                }
                Err(e) => unreadable.push((m, e.to_string())),
            }
        }
        pending(routed.len());
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
                    DeadLetterReason::Undeliverable,
                    &detail,
                );
                count_dead_letter(destination, m, DeadLetterReason::Undeliverable);
            }
        }
        for (m, why) in &unreadable {
            dead_letter(
                &mut outbox,
                &opts.dlq,
                dlq_partitions,
                m,
                DeadLetterReason::UnreadableInternalRecord,
                why,
            );
            count_dead_letter(destination, m, DeadLetterReason::UnreadableInternalRecord);
        }
        outbox.wait()?;
        pending(0);
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

/// Alerts remembered per destination (paged and disposed of); beyond this the oldest half
/// goes.
const SEEN_MAX: usize = 100_000;

/// What one destination's route stage remembers between batches.
///
/// The alerts and dispositions topics are read by one consumer but fetched independently,
/// so a disposition can be read before the alert line it disposes of (a consumer that
/// joins late, a fetch that returns one topic first). Each order ends the same way: the
/// page is resolved and stays resolved.
#[derive(Default)]
struct Ledger {
    /// The latest line of each alert paged, to resolve it with the labels it was paged
    /// with.
    paged: HashMap<String, (Alert, Person)>,
    /// Alerts an analyst resolved (benign or false positive), with when the disposition
    /// was written: a line of that alert written before it is not paged.
    resolved: HashMap<String, Option<DateTime<Utc>>>,
}

impl Ledger {
    /// An alert line this destination wants: the trigger to deliver, or `None` when an
    /// analyst already resolved the alert after this line was written.
    fn paged(
        &mut self,
        alert: Alert,
        person: Person,
        written: Option<DateTime<Utc>>,
    ) -> Option<Routed> {
        if let Some(&resolved_at) = self.resolved.get(&alert.id) {
            // Without both timestamps the analyst's word stands.
            let older = match (written, resolved_at) {
                (Some(w), Some(r)) => w <= r,
                _ => true,
            };
            if older {
                return None;
            }
        }
        evict_oldest(&mut self.paged, |(a, _)| a.time);
        self.paged
            .insert(alert.id.clone(), (alert.clone(), person.clone()));
        Some(Routed {
            alert,
            person,
            action: Action::Trigger,
            written,
        })
    }

    /// A disposition: the resolutions to deliver (see `resolves`).
    fn disposed(&mut self, d: &Disposition, written: Option<DateTime<Utc>>) -> Vec<Routed> {
        let out = resolves(d, &self.paged, written);
        if let (false, Some(id)) = (out.is_empty(), &d.alert_id) {
            evict_oldest(&mut self.resolved, |t| {
                t.unwrap_or(DateTime::<Utc>::MIN_UTC)
            });
            self.resolved.insert(id.clone(), written);
        }
        out
    }
}

/// Keep `map` under `SEEN_MAX`: when full, drop the older half by `time`.
fn evict_oldest<V>(map: &mut HashMap<String, V>, time: impl Fn(&V) -> DateTime<Utc>) {
    if map.len() < SEEN_MAX {
        return;
    }
    let mut by_time: Vec<(String, DateTime<Utc>)> =
        map.iter().map(|(k, v)| (k.clone(), time(v))).collect();
    by_time.sort_by_key(|(_, t)| *t);
    for (k, _) in by_time.into_iter().take(SEEN_MAX / 2) {
        map.remove(&k);
    }
}

/// What a disposition asks of on-call: a `benign` or `false_positive` verdict resolves the
/// page (PagerDuty `resolve`, Alertmanager `endsAt` now, Slack `[RESOLVED]`); a
/// `true_positive` leaves it to the people working the incident.
///
/// An alert this process did not see (sent before a restart, or not read yet) is resolved
/// by id: PagerDuty and webhooks need nothing else; for Alertmanager, whose alerts are
/// their label sets, one resolve per severity goes out (a resolve for a label set never
/// fired is ignored).
fn resolves(
    d: &Disposition,
    paged: &HashMap<String, (Alert, Person)>,
    written: Option<chrono::DateTime<Utc>>,
) -> Vec<Routed> {
    let Some(id) = &d.alert_id else {
        return Vec::new();
    };
    if d.verdict == Verdict::TruePositive {
        return Vec::new();
    }
    let resolve = |alert: Alert, person: Person| Routed {
        alert,
        person,
        action: Action::Resolve,
        written,
    };
    if let Some((alert, person)) = paged.get(id) {
        return vec![resolve(alert.clone(), person.clone())];
    }
    Severity::ALL
        .iter()
        .rev()
        .map(|&severity| {
            resolve(
                Alert {
                    id: id.clone(),
                    status: crate::alert::AlertStatus::Open,
                    employee_id: d.employee_id.clone(),
                    time: d.time,
                    severity,
                    rules: d.rules.clone(),
                    risk: 0,
                    summary: format!("disposed of as {:?}: {}", d.verdict, d.note),
                    findings: Vec::new(),
                    evidence: Vec::new(),
                    detected_at: None,
                },
                Person::default(),
            )
        })
        .collect()
}

fn count_dead_letter(destination: &Destination, m: &OwnedMessage, reason: DeadLetterReason) {
    RecordDeadLettered {
        topic: TopicName::of(m),
        reason,
    }
    .emit(destination.metrics());
}

fn dead_letter(
    outbox: &mut Outbox,
    dlq: &str,
    dlq_partitions: i32,
    m: &OwnedMessage,
    reason: DeadLetterReason,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::EmployeeId;

    fn disposition(verdict: Verdict) -> Disposition {
        Disposition {
            employee_id: EmployeeId("E1".into()),
            alert_id: Some("dw-000000000000000000000001".into()),
            verdict,
            rules: vec!["claimed_location".into()],
            time: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            until: None,
            note: "trip".into(),
        }
    }

    fn contractor() -> Person {
        Person {
            group: Some("contractors".into()),
            display_name: Some("Ann Nguyen".into()),
            ..Person::default()
        }
    }

    fn at(secs: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(1_790_000_000 + secs, 0)
    }

    fn line(severity: Severity) -> Alert {
        let mut a = resolves(&disposition(Verdict::Benign), &HashMap::new(), None)[0]
            .alert
            .clone();
        a.severity = severity;
        a
    }

    #[test]
    fn a_disposition_resolves_what_was_paged() {
        let mut ledger = Ledger::default();
        assert!(
            ledger
                .disposed(&disposition(Verdict::TruePositive), None)
                .is_empty()
        );
        // A true positive resolves nothing, so nothing stops the alert's pages.
        assert!(
            ledger
                .paged(line(Severity::Medium), Person::default(), at(1))
                .is_some()
        );
        let mut ledger = Ledger::default();
        // Not seen (paged before a restart): by id, once per severity.
        let unknown = ledger.disposed(&disposition(Verdict::Benign), at(0));
        let severities: Vec<Severity> = unknown.iter().map(|r| r.alert.severity).collect();
        assert_eq!(severities.len(), 4);
        assert!(unknown.iter().all(|r| r.action == Action::Resolve));
        // Seen: the very line that was paged, with its group.
        let mut ledger = Ledger::default();
        let trigger = ledger
            .paged(line(Severity::High), contractor(), at(0))
            .unwrap();
        assert_eq!(trigger.action, Action::Trigger);
        let known = ledger.disposed(&disposition(Verdict::FalsePositive), at(5));
        assert_eq!(known.len(), 1);
        assert_eq!(known[0].alert.severity, Severity::High);
        assert_eq!(
            known[0].person,
            contractor(),
            "resolved with what it was paged with"
        );
        let mut no_id = disposition(Verdict::Benign);
        no_id.alert_id = None;
        assert!(ledger.disposed(&no_id, at(6)).is_empty());
    }

    /// The dispositions topic read before the alerts topic (CI saw the resolve delivered
    /// before the page it resolves): the page that was resolved is not sent afterwards,
    /// while a line the detect stage wrote after the disposition still pages.
    #[test]
    fn a_disposition_read_before_its_alert_keeps_the_page_resolved() {
        let mut ledger = Ledger::default();
        let resolved = ledger.disposed(&disposition(Verdict::Benign), at(10));
        assert!(!resolved.is_empty());
        assert!(
            ledger
                .paged(line(Severity::High), Person::default(), at(3))
                .is_none()
        );
        assert!(
            ledger
                .paged(line(Severity::High), Person::default(), at(10))
                .is_none()
        );
        assert!(
            ledger
                .paged(line(Severity::High), Person::default(), None)
                .is_none()
        );
        let later = ledger
            .paged(line(Severity::Critical), Person::default(), at(11))
            .unwrap();
        assert_eq!(later.action, Action::Trigger);
        // Another alert is not affected.
        let mut other = line(Severity::High);
        other.id = "dw-000000000000000000000002".into();
        assert!(ledger.paged(other, Person::default(), at(3)).is_some());
    }

    #[test]
    fn the_ledger_stays_bounded() {
        let mut ledger = Ledger::default();
        for i in 0..(SEEN_MAX + 10) {
            let mut a = line(Severity::Low);
            a.id = format!("dw-{i:024}");
            a.time += chrono::Duration::seconds(i as i64);
            ledger.paged(a, Person::default(), at(0));
        }
        assert!(ledger.paged.len() <= SEEN_MAX);
        // The newest stay.
        assert!(
            ledger
                .paged
                .contains_key(&format!("dw-{:024}", SEEN_MAX + 9))
        );
        assert!(!ledger.paged.contains_key(&format!("dw-{:024}", 0)));
    }
}
