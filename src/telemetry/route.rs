//! Events of the route stage (and of `driftwatch replay --route`): alerts delivered,
//! dead-lettered or skipped per destination, and each request to one.

use chrono::{DateTime, Utc};

use super::labels::{AttemptOutcome, DestinationName, NotificationResult};
use super::{Event, Metrics};

/// One request to a destination. Counts
/// `driftwatch_notification_attempts_total{destination,outcome}`; an `ok` also sets
/// `driftwatch_notification_last_success_timestamp_seconds{destination}` to now.
#[derive(Debug, Clone, Copy)]
pub struct NotificationAttempted<'a> {
    pub destination: DestinationName<'a>,
    pub outcome: AttemptOutcome,
}

impl Event for NotificationAttempted<'_> {
    fn emit(&self, m: &Metrics) {
        let (destination, outcome) = (self.destination.as_str(), self.outcome.as_str());
        tracing::debug!(destination, outcome, "notification attempted");
        m.notification_attempts
            .with_label_values(&[destination, outcome])
            .inc();
        if self.outcome == AttemptOutcome::Ok {
            m.notification_last_success_timestamp_seconds
                .with_label_values(&[destination])
                .set(Utc::now().timestamp());
        }
    }
}

/// An alert a destination acknowledged. Counts
/// `driftwatch_notifications_total{destination,result="delivered"}` and, when it is known
/// when the alert was written (the alerts topic's timestamp, or its emission in `replay`),
/// observes the time since in `driftwatch_notification_latency_seconds{destination}`.
#[derive(Debug, Clone, Copy)]
pub struct NotificationDelivered<'a> {
    pub destination: DestinationName<'a>,
    pub written: Option<DateTime<Utc>>,
}

impl Event for NotificationDelivered<'_> {
    fn emit(&self, m: &Metrics) {
        let destination = self.destination.as_str();
        let latency = self
            .written
            .map(|t| (Utc::now() - t).as_seconds_f64().max(0.0));
        tracing::debug!(
            destination,
            latency_seconds = latency,
            "notification delivered"
        );
        count(m, destination, NotificationResult::Delivered);
        if let Some(secs) = latency {
            m.notification_latency_seconds
                .with_label_values(&[destination])
                .observe(secs);
        }
    }
}

/// An alert a destination refused for good, kept on the dead-letter topic (or reported by
/// `replay`). Counts `driftwatch_notifications_total{destination,result="dead_lettered"}`.
#[derive(Debug, Clone, Copy)]
pub struct NotificationDeadLettered<'a> {
    pub destination: DestinationName<'a>,
}

impl Event for NotificationDeadLettered<'_> {
    fn emit(&self, m: &Metrics) {
        let destination = self.destination.as_str();
        tracing::debug!(destination, "notification dead-lettered");
        count(m, destination, NotificationResult::DeadLettered);
    }
}

/// An alert a destination's filters did not take. Counts
/// `driftwatch_notifications_total{destination,result="skipped"}`.
#[derive(Debug, Clone, Copy)]
pub struct NotificationSkipped<'a> {
    pub destination: DestinationName<'a>,
}

impl Event for NotificationSkipped<'_> {
    fn emit(&self, m: &Metrics) {
        let destination = self.destination.as_str();
        tracing::trace!(destination, "notification skipped");
        count(m, destination, NotificationResult::Skipped);
    }
}

/// Alerts read for a destination and not yet delivered or dead-lettered. Sets
/// `driftwatch_notification_pending{destination}`.
#[derive(Debug, Clone, Copy)]
pub struct NotificationsPending<'a> {
    pub destination: DestinationName<'a>,
    pub count: usize,
}

impl Event for NotificationsPending<'_> {
    fn emit(&self, m: &Metrics) {
        let destination = self.destination.as_str();
        tracing::trace!(destination, count = self.count, "notifications pending");
        m.notification_pending
            .with_label_values(&[destination])
            .set(self.count as i64);
    }
}

fn count(m: &Metrics, destination: &str, result: NotificationResult) {
    m.notifications
        .with_label_values(&[destination, result.as_str()])
        .inc();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::DestinationConfig;
    use crate::telemetry::testing::{describe, emit};

    fn hook() -> DestinationConfig {
        let config: Result<DestinationConfig, _> =
            toml::from_str("name = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9\"\n");
        match config {
            Ok(c) => c,
            Err(e) => panic!("test destination: {e}"),
        }
    }

    #[test]
    fn each_notification_event_counts_its_series_and_logs_the_destination() {
        let hook = hook();
        let destination = DestinationName::from(&hook);
        let m = Metrics::new();
        m.preregister_destination(destination);
        let cases: Vec<(Box<dyn Event>, &str)> = vec![
            (
                Box::new(NotificationAttempted {
                    destination,
                    outcome: AttemptOutcome::Retry,
                }),
                "driftwatch_notification_attempts_total{destination=\"hook\",outcome=\"retry\"} 0 -> 1",
            ),
            (
                Box::new(NotificationAttempted {
                    destination,
                    outcome: AttemptOutcome::Rejected,
                }),
                "driftwatch_notification_attempts_total{destination=\"hook\",outcome=\"rejected\"} 0 -> 1",
            ),
            (
                Box::new(NotificationDeadLettered { destination }),
                "driftwatch_notifications_total{destination=\"hook\",result=\"dead_lettered\"} 0 -> 1",
            ),
            (
                Box::new(NotificationSkipped { destination }),
                "driftwatch_notifications_total{destination=\"hook\",result=\"skipped\"} 0 -> 1",
            ),
            (
                Box::new(NotificationsPending {
                    destination,
                    count: 5,
                }),
                "driftwatch_notification_pending{destination=\"hook\"} 0 -> 5",
            ),
            (
                Box::new(NotificationDelivered {
                    destination,
                    written: None,
                }),
                "driftwatch_notifications_total{destination=\"hook\",result=\"delivered\"} 0 -> 1",
            ),
        ];
        for (event, counted) in cases {
            let (changes, lines) = emit(&m, event.as_ref());
            assert_eq!(describe(&changes), [counted]);
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert_eq!(
                lines[0].fields.get("destination").map(String::as_str),
                Some("hook")
            );
        }
    }

    #[test]
    fn a_success_is_stamped_and_a_delivery_timed() {
        let hook = hook();
        let destination = DestinationName::from(&hook);
        let m = Metrics::new();
        m.preregister_destination(destination);
        let (changes, _) = emit(
            &m,
            &NotificationAttempted {
                destination,
                outcome: AttemptOutcome::Ok,
            },
        );
        let names: Vec<&str> = changes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "driftwatch_notification_attempts_total",
                "driftwatch_notification_last_success_timestamp_seconds"
            ]
        );
        let stamp = changes[1].after;
        assert!(
            (stamp - Utc::now().timestamp() as f64).abs() < 5.0,
            "{stamp}"
        );

        NotificationDelivered {
            destination,
            written: Some(Utc::now() - chrono::Duration::seconds(20)),
        }
        .emit(&m);
        let d = [("destination", "hook")];
        assert_eq!(
            m.value("driftwatch_notification_latency_seconds_count", &d),
            Some(1.0)
        );
        let within = [("destination", "hook"), ("le", "30")];
        let below = [("destination", "hook"), ("le", "10")];
        assert_eq!(
            m.value("driftwatch_notification_latency_seconds_bucket", &within),
            Some(1.0)
        );
        assert_eq!(
            m.value("driftwatch_notification_latency_seconds_bucket", &below),
            Some(0.0)
        );
    }
}
