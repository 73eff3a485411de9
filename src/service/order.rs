//! Event-time order across the stages: the watermarks the ingest and infra stages write,
//! and how far the infra and detect stages may apply what they hold.
//!
//! `replay` sorts its input by event time before detection. The service cannot, because
//! its input comes from several partitions, read by several instances at their own pace,
//! and because shared-infrastructure findings come back to detect on their own topic. So
//! it passes event-time *watermarks* along with the records, as Flink does between
//! operators (Kafka Streams' "stream time" is the per-task equivalent):
//!
//! - ingest writes, after each batch's records, one [`WatermarkRecord`] to every
//!   `driftwatch.logins` and `driftwatch.network` partition: for each input partition it
//!   holds, the latest event time it has passed on;
//! - infra holds each network partition's logins until every input partition's watermark
//!   (as read *in that partition*, so it comes after the records it vouches for) is
//!   `[service] reorder_delay_ms` past them, judges them in event-time order, and writes its
//!   own watermark per network partition to every `driftwatch.findings` partition;
//! - detect holds each partition's logins until both the input watermarks (less the delay)
//!   and every network partition's infra watermark have passed them, then applies each
//!   login with the findings made about it, in event-time order: `replay`'s alert lines.
//!
//! An input partition that has been quiet for `idle_release_ms` is marked idle and holds
//! nobody back, so a quiet source does not stop detection. A stage that waits longer than
//! `watermark_wait_max_secs` for a watermark (an upstream instance is down) applies the
//! login anyway and counts it in `driftwatch_watermark_timeouts_total`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::config::ServiceConfig;
use super::wire::Watermark;

/// The longest `reorder_delay_ms` honoured: a week (a login held longer would outlive the
/// windows it is judged in).
pub const MAX_DELAY_MS: u64 = 7 * 86_400_000;

/// Watermarks are written again this often, changed or not, so that an instance that
/// restarted downstream learns them without waiting for new input.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// How the stages order logins in event time (`[service]`).
#[derive(Debug, Clone, Copy)]
pub struct EventOrder {
    /// `reorder_delay_ms`: how far records of one input partition may be out of order.
    pub delay: chrono::Duration,
    /// `idle_release_ms`: an input partition quiet this long is idle.
    pub idle: Duration,
    /// `watermark_wait_max_secs`: the longest a login waits for a watermark.
    pub wait: Duration,
}

impl EventOrder {
    pub fn of(service: &ServiceConfig) -> EventOrder {
        EventOrder {
            delay: chrono::Duration::milliseconds(service.reorder_delay_ms.min(MAX_DELAY_MS) as i64),
            idle: Duration::from_millis(service.idle_release_ms),
            wait: Duration::from_secs(service.watermark_wait_max_secs),
        }
    }
}

/// How far held logins may be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Nothing yet: a watermark is missing.
    Nothing,
    /// Everything at or before this time.
    Upto(DateTime<Utc>),
    /// Everything: every upstream partition is idle.
    Everything,
}

impl Until {
    /// The stricter of two.
    pub fn min(self, other: Until) -> Until {
        match (self, other) {
            (Until::Nothing, _) | (_, Until::Nothing) => Until::Nothing,
            (Until::Everything, x) | (x, Until::Everything) => x,
            (Until::Upto(a), Until::Upto(b)) => Until::Upto(a.min(b)),
        }
    }

    /// Earlier by `delay` (records may come that much out of order).
    pub fn less(self, delay: chrono::Duration) -> Until {
        match self {
            Until::Upto(t) => Until::Upto(t - delay),
            other => other,
        }
    }

    pub fn covers(self, t: DateTime<Utc>) -> bool {
        match self {
            Until::Nothing => false,
            Until::Upto(u) => t <= u,
            Until::Everything => true,
        }
    }
}

/// The watermarks one partition has brought from the stage before: how far every partition
/// of the upstream topics has been passed on.
#[derive(Debug, Clone, Default)]
pub struct Upstream {
    /// The topics whose partitions must all be heard from.
    topics: BTreeSet<String>,
    /// How many partitions each has, as the watermarks say.
    partitions: BTreeMap<String, i32>,
    marks: BTreeMap<(String, i32), Watermark>,
}

impl Upstream {
    pub fn new(topics: impl IntoIterator<Item = String>) -> Upstream {
        Upstream {
            topics: topics.into_iter().collect(),
            ..Upstream::default()
        }
    }

    /// The topics whose partitions must all be heard from.
    pub fn topics(&self) -> impl Iterator<Item = &String> {
        self.topics.iter()
    }

    /// Take one watermark. It never goes back: what was passed on stays passed on (a
    /// restarted instance starts again from what it committed).
    pub fn record(&mut self, w: Watermark) {
        if !self.topics.contains(&w.topic) {
            return;
        }
        self.partitions.insert(w.topic.clone(), w.partitions);
        let slot = self
            .marks
            .entry((w.topic.clone(), w.partition))
            .or_insert_with(|| w.clone());
        slot.time = slot.time.max(w.time);
        slot.idle = w.idle;
    }

    /// How many partitions `topic` has, once a watermark said.
    pub fn partitions_of(&self, topic: &str) -> Option<i32> {
        self.partitions.get(topic).copied()
    }

    /// Whether partition `partition` of `topic` has been passed on at least up to `t`, idle
    /// or not: for a record known to belong to it, which a mark saying "idle" may predate.
    pub fn passed(&self, topic: &str, partition: i32, t: DateTime<Utc>) -> bool {
        self.marks
            .get(&(topic.to_owned(), partition))
            .and_then(|m| m.time)
            .is_some_and(|m| m >= t)
    }

    /// How far every upstream partition has been passed on. An idle partition holds nobody
    /// back; one not heard from yet holds everything.
    pub fn until(&self) -> Until {
        let mut until = Until::Everything;
        for topic in &self.topics {
            let Some(&n) = self.partitions.get(topic) else {
                return Until::Nothing;
            };
            for p in 0..n {
                match self.marks.get(&(topic.clone(), p)) {
                    None => return Until::Nothing,
                    Some(m) if m.idle => {}
                    Some(m) => until = until.min(m.time.map_or(Until::Nothing, Until::Upto)),
                }
            }
        }
        until
    }
}

/// The watermarks a stage writes: those that changed, and all of them every [`HEARTBEAT`].
#[derive(Debug, Default)]
pub struct Announcer {
    sent: BTreeMap<(String, i32), (Watermark, Instant)>,
}

impl Announcer {
    /// Of `marks`, those to write now.
    pub fn due(&mut self, marks: Vec<Watermark>) -> Vec<Watermark> {
        let now = Instant::now();
        marks
            .into_iter()
            .filter(|m| {
                let key = (m.topic.clone(), m.partition);
                let due = self
                    .sent
                    .get(&key)
                    .is_none_or(|(last, at)| last != m || now.duration_since(*at) >= HEARTBEAT);
                if due {
                    self.sent.insert(key, (m.clone(), now));
                }
                due
            })
            .collect()
    }

    /// Forget a partition this stage no longer holds.
    pub fn forget(&mut self, topic: &str, partition: i32) {
        self.sent.remove(&(topic.to_owned(), partition));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + h * 3600, 0).unwrap()
    }

    fn mark(
        topic: &str,
        partition: i32,
        partitions: i32,
        time: Option<i64>,
        idle: bool,
    ) -> Watermark {
        Watermark {
            topic: topic.to_owned(),
            partition,
            partitions,
            time: time.map(at),
            idle,
        }
    }

    #[test]
    fn every_partition_of_every_topic_must_be_heard_from() {
        let mut up = Upstream::new(["okta".to_owned(), "vpn".to_owned()]);
        assert_eq!(up.until(), Until::Nothing);
        up.record(mark("okta", 0, 2, Some(5), false));
        up.record(mark("vpn", 0, 1, Some(9), false));
        assert_eq!(up.until(), Until::Nothing, "okta 1 is missing");
        up.record(mark("okta", 1, 2, Some(7), false));
        assert_eq!(up.until(), Until::Upto(at(5)));
        // Another topic's watermark is not ours.
        up.record(mark("other", 0, 1, Some(1), false));
        assert_eq!(up.until(), Until::Upto(at(5)));
    }

    #[test]
    fn watermarks_never_go_back_and_idle_partitions_hold_nobody_back() {
        let mut up = Upstream::new(["okta".to_owned()]);
        up.record(mark("okta", 0, 2, Some(5), false));
        up.record(mark("okta", 1, 2, None, false));
        assert_eq!(
            up.until(),
            Until::Nothing,
            "partition 1 has brought nothing"
        );
        up.record(mark("okta", 1, 2, None, true));
        assert_eq!(up.until(), Until::Upto(at(5)));
        up.record(mark("okta", 0, 2, Some(3), false));
        assert_eq!(
            up.until(),
            Until::Upto(at(5)),
            "a restarted instance's older mark"
        );
        up.record(mark("okta", 0, 2, Some(6), true));
        assert_eq!(up.until(), Until::Everything);
        assert!(Until::Everything.covers(at(100)));
        assert!(!Until::Nothing.covers(at(0)));
        assert_eq!(
            Until::Upto(at(5)).less(chrono::Duration::hours(2)),
            Until::Upto(at(3))
        );
        assert_eq!(
            Until::Upto(at(5)).min(Until::Everything),
            Until::Upto(at(5))
        );
        assert_eq!(Until::Upto(at(5)).min(Until::Nothing), Until::Nothing);
    }

    #[test]
    fn an_announcer_writes_what_changed() {
        let mut a = Announcer::default();
        let m = mark("okta", 0, 1, Some(1), false);
        assert_eq!(a.due(vec![m.clone()]).len(), 1);
        assert_eq!(a.due(vec![m.clone()]).len(), 0, "unchanged, not yet due");
        assert_eq!(a.due(vec![mark("okta", 0, 1, Some(2), false)]).len(), 1);
        a.forget("okta", 0);
        assert_eq!(a.due(vec![m]).len(), 1);
    }
}
