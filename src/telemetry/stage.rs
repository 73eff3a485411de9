//! Events every stage shares: processing time and event lag, records held for the
//! watermark, state restored from a changelog, partitions held, consumer lag.

use std::collections::HashSet;
use std::fmt::Display;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Event, Metrics};
use crate::service::Stage;

/// A batch of records a stage handled. Observes the time per record (the batch's time
/// shared evenly) once per record in `driftwatch_processing_seconds{stage}`.
#[derive(Debug, Clone, Copy)]
pub struct BatchProcessed {
    pub stage: Stage,
    pub records: usize,
    pub elapsed: Duration,
}

impl Event for BatchProcessed {
    fn emit(&self, m: &Metrics) {
        let stage = self.stage.as_str();
        tracing::trace!(
            stage,
            records = self.records,
            seconds = self.elapsed.as_secs_f64(),
            "batch processed"
        );
        if self.records == 0 {
            return;
        }
        let per_record = self.elapsed.as_secs_f64() / self.records as f64;
        let histogram = m.processing_seconds.with_label_values(&[stage]);
        for _ in 0..self.records {
            histogram.observe(per_record);
        }
    }
}

/// A stage handled a record stamped `event_time`. Observes the wall clock minus the event
/// time (0 for an event stamped in the future) in `driftwatch_event_lag_seconds{stage}`.
#[derive(Debug, Clone, Copy)]
pub struct EventLagObserved {
    pub stage: Stage,
    pub event_time: DateTime<Utc>,
}

impl Event for EventLagObserved {
    fn emit(&self, m: &Metrics) {
        let stage = self.stage.as_str();
        let lag = (Utc::now() - self.event_time).as_seconds_f64().max(0.0);
        tracing::trace!(stage, seconds = lag, "event lag");
        m.event_lag_seconds.with_label_values(&[stage]).observe(lag);
    }
}

/// What a stage holds back for its watermark after a batch. Sets
/// `driftwatch_held_records{stage}` and `driftwatch_watermark_lag_seconds{stage}` (how far,
/// in event-time seconds, what it applied lags behind the latest login it read).
#[derive(Debug, Clone, Copy)]
pub struct RecordsHeld {
    pub stage: Stage,
    pub held: usize,
    pub lag_seconds: f64,
}

impl Event for RecordsHeld {
    fn emit(&self, m: &Metrics) {
        let stage = self.stage.as_str();
        let lag = self.lag_seconds.max(0.0);
        tracing::trace!(stage, held = self.held, lag_seconds = lag, "records held");
        m.held_records
            .with_label_values(&[stage])
            .set(self.held as i64);
        m.watermark_lag_seconds.with_label_values(&[stage]).set(lag);
    }
}

/// The event time up to which every partition a stage holds has applied what it read
/// (detect publishes it once the alerts up to it are written). Sets
/// `driftwatch_watermark_timestamp_seconds{stage}`, Unix seconds.
#[derive(Debug, Clone, Copy)]
pub struct WatermarkPublished {
    pub stage: Stage,
    pub watermark: DateTime<Utc>,
}

impl Event for WatermarkPublished {
    fn emit(&self, m: &Metrics) {
        let stage = self.stage.as_str();
        tracing::trace!(stage, watermark = %self.watermark, "watermark published");
        m.watermark_timestamp_seconds
            .with_label_values(&[stage])
            .set(self.watermark.timestamp_millis() as f64 / 1000.0);
    }
}

/// A held login applied without waiting any longer for an upstream watermark
/// (`[service] infra_wait_max_secs`). Counts `driftwatch_watermark_timeouts_total`.
#[derive(Debug, Clone, Copy)]
pub struct WatermarkTimedOut {
    pub stage: Stage,
}

impl Event for WatermarkTimedOut {
    fn emit(&self, m: &Metrics) {
        tracing::debug!(
            stage = self.stage.as_str(),
            "applied without waiting longer for the watermark"
        );
        m.watermark_timeouts.inc();
    }
}

/// A partition's state restored from its changelog. Observes
/// `driftwatch_restore_seconds{stage}` and counts the employees restored in
/// `driftwatch_restored_employees_total{stage}` (0 for a stage whose state is not per
/// employee).
#[derive(Debug, Clone, Copy)]
pub struct StateRestored {
    pub stage: Stage,
    pub partition: i32,
    pub employees: usize,
    pub elapsed: Duration,
}

impl Event for StateRestored {
    fn emit(&self, m: &Metrics) {
        let stage = self.stage.as_str();
        tracing::debug!(
            stage,
            partition = self.partition,
            employees = self.employees,
            seconds = self.elapsed.as_secs_f64(),
            "partition state restored"
        );
        m.restore_seconds
            .with_label_values(&[stage])
            .observe(self.elapsed.as_secs_f64());
        m.restored_employees
            .with_label_values(&[stage])
            .inc_by(self.employees as u64);
    }
}

/// A failed attempt to restore a partition's state (retried every second: reading input
/// without the state would apply it to empty baselines). Counts
/// `driftwatch_restore_failures_total{stage}`.
#[derive(Clone, Copy)]
pub struct StateRestoreFailed<'a> {
    pub stage: Stage,
    pub partition: i32,
    pub error: &'a dyn Display,
}

impl Event for StateRestoreFailed<'_> {
    fn emit(&self, m: &Metrics) {
        let stage = self.stage.as_str();
        tracing::error!(
            stage,
            partition = self.partition,
            error = %self.error,
            "restore failed; retrying"
        );
        m.restore_failures.with_label_values(&[stage]).inc();
    }
}

/// What the watch saw of a stage: the partitions its consumers hold and whether it is
/// stalled (holds none while its group's backlog stands still). Sets
/// `driftwatch_stage_partitions{stage}` and `driftwatch_stage_stalled{stage}`.
#[derive(Debug, Clone, Copy)]
pub struct StagePartitionsObserved {
    pub stage: Stage,
    pub partitions: usize,
    pub stalled: bool,
}

impl Event for StagePartitionsObserved {
    fn emit(&self, m: &Metrics) {
        let stage = self.stage.as_str();
        tracing::trace!(
            stage,
            partitions = self.partitions,
            stalled = self.stalled,
            "stage partitions"
        );
        m.stage_partitions
            .with_label_values(&[stage])
            .set(self.partitions as i64);
        m.stage_stalled
            .with_label_values(&[stage])
            .set(i64::from(self.stalled));
    }
}

/// The watch made a stalled stage leave its group and join it again. Counts
/// `driftwatch_stage_rejoins_total{stage}`.
#[derive(Debug, Clone, Copy)]
pub struct StageRejoined {
    pub stage: Stage,
}

impl Event for StageRejoined {
    fn emit(&self, m: &Metrics) {
        let stage = self.stage.as_str();
        tracing::debug!(stage, "stalled stage asked to rejoin its group");
        m.stage_rejoins.with_label_values(&[stage]).inc();
    }
}

/// librdkafka's statistics of a consumer (the `stats` callback, every
/// `statistics.interval.ms`). Sets `driftwatch_consumer_lag{topic,partition}` for each
/// partition the consumer owns and has committed on; the series of partitions no longer
/// reported with a lag are removed, so a revoked partition does not show the lag it had
/// when it left.
///
/// Skipped: the internal unassigned partition (-1) and a lag of -1, which librdkafka
/// reports for partitions this consumer does not own or has no committed offset for.
/// `topic` is a topic the consumer subscribed to, `partition` one of its partitions.
#[derive(Clone, Copy)]
pub struct ConsumerStatsReceived<'a> {
    pub stats: &'a rdkafka::Statistics,
}

impl Event for ConsumerStatsReceived<'_> {
    fn emit(&self, m: &Metrics) {
        let mut now = HashSet::new();
        for (topic, t) in &self.stats.topics {
            for (&partition, p) in &t.partitions {
                if partition < 0 || p.consumer_lag < 0 {
                    continue;
                }
                let key = (topic.clone(), partition.to_string());
                m.consumer_lag
                    .with_label_values(&[key.0.as_str(), key.1.as_str()])
                    .set(p.consumer_lag);
                now.insert(key);
            }
        }
        tracing::trace!(
            client = %self.stats.name,
            partitions = now.len(),
            "consumer statistics"
        );
        // A poisoned lock only means another stats callback panicked mid-update; the set
        // is still a usable superset of the live series.
        let mut held = m.lag_series.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, partition) in held.difference(&now) {
            // Err only when the series is already gone, which is the goal.
            let _ = m
                .consumer_lag
                .remove_label_values(&[topic.as_str(), partition.as_str()]);
        }
        *held = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::testing::{consumer_stats, describe, emit};

    #[test]
    fn each_stage_event_changes_its_series_and_logs_the_stage() {
        let m = Metrics::new();
        let at = |s: i64| DateTime::<Utc>::from_timestamp(s, 0).unwrap_or_default();
        let error = "broker gone";
        let cases: Vec<(Box<dyn Event + '_>, Vec<&str>)> = vec![
            (
                Box::new(BatchProcessed {
                    stage: Stage::Ingest,
                    records: 2,
                    elapsed: Duration::from_micros(400),
                }),
                vec![
                    "driftwatch_processing_seconds_bucket{le=\"0.00025\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"0.0005\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"0.001\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"0.0025\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"0.005\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"0.01\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"0.025\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"0.05\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"0.1\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"0.25\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"0.5\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"1\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"10\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"2.5\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"5\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_bucket{le=\"+Inf\",stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_count{stage=\"ingest\"} 0 -> 2",
                    "driftwatch_processing_seconds_sum{stage=\"ingest\"} 0 -> 0.0004",
                ],
            ),
            (
                Box::new(RecordsHeld {
                    stage: Stage::Detect,
                    held: 4,
                    lag_seconds: 2.5,
                }),
                vec![
                    "driftwatch_held_records{stage=\"detect\"} 0 -> 4",
                    "driftwatch_watermark_lag_seconds{stage=\"detect\"} 0 -> 2.5",
                ],
            ),
            (
                Box::new(WatermarkPublished {
                    stage: Stage::Infra,
                    watermark: at(1_700_000_000),
                }),
                vec!["driftwatch_watermark_timestamp_seconds{stage=\"infra\"} 0 -> 1700000000"],
            ),
            (
                Box::new(WatermarkTimedOut {
                    stage: Stage::Detect,
                }),
                vec!["driftwatch_watermark_timeouts_total{} 0 -> 1"],
            ),
            (
                Box::new(StateRestored {
                    stage: Stage::Detect,
                    partition: 3,
                    employees: 250,
                    elapsed: Duration::from_millis(1500),
                }),
                vec![
                    "driftwatch_restore_seconds_bucket{le=\"10\",stage=\"detect\"} 0 -> 1",
                    "driftwatch_restore_seconds_bucket{le=\"120\",stage=\"detect\"} 0 -> 1",
                    "driftwatch_restore_seconds_bucket{le=\"2.5\",stage=\"detect\"} 0 -> 1",
                    "driftwatch_restore_seconds_bucket{le=\"30\",stage=\"detect\"} 0 -> 1",
                    "driftwatch_restore_seconds_bucket{le=\"300\",stage=\"detect\"} 0 -> 1",
                    "driftwatch_restore_seconds_bucket{le=\"5\",stage=\"detect\"} 0 -> 1",
                    "driftwatch_restore_seconds_bucket{le=\"60\",stage=\"detect\"} 0 -> 1",
                    "driftwatch_restore_seconds_bucket{le=\"600\",stage=\"detect\"} 0 -> 1",
                    "driftwatch_restore_seconds_bucket{le=\"+Inf\",stage=\"detect\"} 0 -> 1",
                    "driftwatch_restore_seconds_count{stage=\"detect\"} 0 -> 1",
                    "driftwatch_restore_seconds_sum{stage=\"detect\"} 0 -> 1.5",
                    "driftwatch_restored_employees_total{stage=\"detect\"} 0 -> 250",
                ],
            ),
            (
                Box::new(StateRestoreFailed {
                    stage: Stage::Infra,
                    partition: 0,
                    error: &error,
                }),
                vec!["driftwatch_restore_failures_total{stage=\"infra\"} 0 -> 1"],
            ),
            (
                Box::new(StagePartitionsObserved {
                    stage: Stage::Route,
                    partitions: 3,
                    stalled: true,
                }),
                vec![
                    "driftwatch_stage_partitions{stage=\"route\"} 0 -> 3",
                    "driftwatch_stage_stalled{stage=\"route\"} 0 -> 1",
                ],
            ),
            (
                Box::new(StageRejoined {
                    stage: Stage::Ingest,
                }),
                vec!["driftwatch_stage_rejoins_total{stage=\"ingest\"} 0 -> 1"],
            ),
        ];
        for (event, counted) in cases {
            let (changes, lines) = emit(&m, event.as_ref());
            let mut counted = counted;
            counted.sort();
            assert_eq!(describe(&changes), counted);
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert!(lines[0].fields.contains_key("stage"), "{lines:?}");
            assert_eq!(lines[0].target, "driftwatch::telemetry::stage");
        }
    }

    #[test]
    fn a_failed_restore_is_logged_as_an_error_with_its_cause() {
        let m = Metrics::new();
        let error = "changelog topic is gone";
        let (_, lines) = emit(
            &m,
            &StateRestoreFailed {
                stage: Stage::Detect,
                partition: 2,
                error: &error,
            },
        );
        assert_eq!(lines[0].level, tracing::Level::ERROR);
        assert_eq!(
            lines[0].fields.get("error").map(String::as_str),
            Some("changelog topic is gone")
        );
    }

    #[test]
    fn event_lag_is_wall_clock_minus_event_time_and_never_negative() {
        let m = Metrics::new();
        let future = Utc::now() + chrono::Duration::hours(1);
        EventLagObserved {
            stage: Stage::Detect,
            event_time: future,
        }
        .emit(&m);
        let labels = [("stage", "detect")];
        assert_eq!(
            m.value("driftwatch_event_lag_seconds_sum", &labels),
            Some(0.0)
        );
        EventLagObserved {
            stage: Stage::Detect,
            event_time: Utc::now() - chrono::Duration::seconds(42),
        }
        .emit(&m);
        let sum = m.value("driftwatch_event_lag_seconds_sum", &labels);
        assert!(sum.is_some_and(|s| (42.0..43.0).contains(&s)), "{sum:?}");
        let bucket = [("stage", "detect"), ("le", "60")];
        assert_eq!(
            m.value("driftwatch_event_lag_seconds_bucket", &bucket),
            Some(2.0)
        );
    }

    #[test]
    fn consumer_lag_comes_from_owned_partitions_only() {
        let m = Metrics::new();
        let mut stats = consumer_stats();
        ConsumerStatsReceived { stats: &stats }.emit(&m);
        let lag = |m: &Metrics, p| {
            m.value(
                "driftwatch_consumer_lag",
                &[("topic", "logins.okta"), ("partition", p)],
            )
        };
        // Partition 0: 7 of 10 committed; 1: 4 of 10; 2: nothing committed (lag -1);
        // -1: librdkafka's internal unassigned partition.
        assert_eq!(lag(&m, "0"), Some(3.0));
        assert_eq!(lag(&m, "1"), Some(6.0));
        assert_eq!(lag(&m, "2"), None);
        assert_eq!(lag(&m, "-1"), None);

        // Partition 0 is revoked: the next statistics no longer carry it.
        if let Some(topic) = stats.topics.get_mut("logins.okta") {
            topic.partitions.remove(&0);
        }
        ConsumerStatsReceived { stats: &stats }.emit(&m);
        assert_eq!(lag(&m, "0"), None);
        assert_eq!(lag(&m, "1"), Some(6.0));
    }
}
