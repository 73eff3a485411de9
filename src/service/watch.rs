//! Watching that the input of every stage is being consumed by someone.
//!
//! A stage that holds no partitions is normal (more instances than partitions, or a
//! rebalance in progress). It is a problem when it goes on while the stage's topics hold
//! records its consumer group has not committed, and the group's committed offsets do not
//! move: nobody consumes that input. On a broker whose group coordinator loses track of a
//! member after a crash (see docs/service.md, "A stage nobody feeds"),
//! this is what it looks like, and before this watch it only showed as a lag that never
//! shrank.
//!
//! The watch runs on its own thread every [`CHECK_EVERY`], so a slow broker never delays
//! the supervisor. It reads the group's committed offsets and the topics' ends with a
//! client of its own that never joins the group. A stage is *stalled* when it has held no
//! partitions for longer than the session timeout plus [`MARGIN`] and the committed
//! offsets of a backlog stood still over that time. Stalled stages are named by
//! `/readyz`, counted in `driftwatch_stage_stalled{stage}` and logged with what they wait
//! for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::Stage;
use super::config::KafkaConfig;
use super::kafka::{self, REQUEST_TIMEOUT};
use super::stage::Held;
use crate::telemetry::{Event, Metrics, StagePartitionsObserved, StageRejoined};

/// How often the watch looks.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);
/// Beyond the session timeout: a rebalance after a crash waits out the dead member's
/// session, then needs a join and a sync round.
pub const MARGIN: Duration = Duration::from_secs(15);
/// librdkafka's default `session.timeout.ms`.
const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(45);

/// How long a stage may hold nothing before the watch asks whether its input waits:
/// `session.timeout.ms` (as configured in `[kafka.client]`, else librdkafka's 45 s) plus
/// [`MARGIN`].
pub fn threshold(kafka: &KafkaConfig) -> Duration {
    kafka
        .client_settings()
        .into_iter()
        .find(|(k, _)| k == "session.timeout.ms")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .map_or(DEFAULT_SESSION_TIMEOUT, Duration::from_millis)
        + MARGIN
}

/// One consumer to watch.
pub struct Watched {
    /// The `stage` label and the name in messages (route destinations share `route`).
    pub stage: Stage,
    /// Its consumer group.
    pub group: String,
    /// The topics it subscribes to.
    pub topics: Vec<String>,
    /// What it holds, kept by its consumer context.
    pub held: Arc<Held>,
}

/// What the watch found for one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stall {
    pub stage: String,
    /// A sentence for `/readyz` and the log.
    pub why: String,
}

/// The input a group has not committed, per topic, and the sum of its committed offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Backlog {
    waiting: BTreeMap<String, i64>,
    committed: i64,
}

impl Backlog {
    fn records(&self) -> i64 {
        self.waiting.values().sum()
    }
}

/// What `group` has not committed of `topics`. `reader` is a client in that group that
/// never joins it: it only asks for the committed offsets (OffsetFetch).
fn backlog(reader: &BaseConsumer, topics: &[String]) -> Option<Backlog> {
    let mut tpl = TopicPartitionList::new();
    let mut ends = Vec::new();
    for topic in topics {
        let partitions = kafka::partition_count(reader, topic).ok()?;
        for p in 0..partitions {
            tpl.add_partition(topic, p);
            let (_, high) = reader.fetch_watermarks(topic, p, REQUEST_TIMEOUT).ok()?;
            ends.push((topic.clone(), p, high));
        }
    }
    let committed = reader.committed_offsets(tpl, REQUEST_TIMEOUT).ok()?;
    let mut b = Backlog {
        waiting: BTreeMap::new(),
        committed: 0,
    };
    for (topic, p, end) in ends {
        let done = match committed.find_partition(&topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => 0,
        };
        b.committed += done;
        *b.waiting.entry(topic).or_default() += (end - done).max(0);
    }
    Some(b)
}

/// Per stage: since when it has held nothing, and since when its group's committed
/// offsets have stood still with a backlog.
#[derive(Default)]
struct Track {
    empty_since: Option<Instant>,
    /// The committed sum first seen with a backlog, and when; reset when it moves.
    standing: Option<(i64, Instant)>,
    stalled: bool,
    last_log: Option<Instant>,
    /// When the watch last asked the stage to rejoin its group.
    last_rejoin: Option<Instant>,
}

/// Start the watch thread; it ends when `stop` is cancelled. Stalls are published into `out`
/// (read by the supervisor for `/readyz`) and the metrics.
pub fn spawn(
    kafka: &KafkaConfig,
    watched: Vec<Watched>,
    metrics: Arc<Metrics>,
    out: Arc<Mutex<Vec<Stall>>>,
    stop: CancellationToken,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let threshold = threshold(kafka);
    let readers: Vec<Option<BaseConsumer>> = watched
        .iter()
        .map(|w| {
            kafka::client_config(kafka)
                .set("group.id", &w.group)
                .set("enable.auto.commit", "false")
                .create()
                .ok()
        })
        .collect();
    std::thread::Builder::new()
        .name("watch".to_owned())
        .spawn(move || {
            let mut tracks: Vec<Track> = watched.iter().map(|_| Track::default()).collect();
            let mut next = Instant::now();
            while !stop.is_cancelled() {
                std::thread::sleep(Duration::from_millis(100));
                if Instant::now() < next {
                    continue;
                }
                next = Instant::now() + CHECK_EVERY;
                let mut stalls = Vec::new();
                // Per `stage` label: several route destinations share one.
                let mut by_stage: BTreeMap<&str, (Stage, usize, bool)> = BTreeMap::new();
                for ((w, t), reader) in watched.iter().zip(tracks.iter_mut()).zip(&readers) {
                    let held = w.held.partitions();
                    if held > 0 {
                        *t = Track {
                            last_rejoin: t.last_rejoin,
                            ..Track::default()
                        };
                    } else {
                        t.empty_since.get_or_insert_with(Instant::now);
                        if let Some(r) = reader.as_ref()
                            && let Some(b) = backlog(r, &w.topics)
                            && judge(w, t, &b, threshold, &mut stalls)
                        {
                            StageRejoined { stage: w.stage }.emit(&metrics);
                        }
                    }
                    let e = by_stage
                        .entry(w.stage.as_str())
                        .or_insert((w.stage, 0, false));
                    e.1 += held;
                    e.2 |= t.stalled;
                }
                for (stage, partitions, stalled) in by_stage.into_values() {
                    StagePartitionsObserved {
                        stage,
                        partitions,
                        stalled,
                    }
                    .emit(&metrics);
                }
                if let Ok(mut o) = out.lock() {
                    *o = stalls;
                }
            }
        })
}

/// Decide whether an empty stage with backlog `b` is stalled, say so, and ask it to rejoin
/// its group (at most once per `threshold`). True when it was asked to rejoin.
///
/// Rejoining is what gets such a stage going again on a coordinator that completed a
/// generation with an empty assignment for it (tansu 0.6 after a crash, see
/// docs/service.md, "A stage nobody feeds"): leaving makes the coordinator form a new generation with this
/// consumer as a new member. On a healthy broker it costs one rebalance.
fn judge(
    w: &Watched,
    t: &mut Track,
    b: &Backlog,
    threshold: Duration,
    stalls: &mut Vec<Stall>,
) -> bool {
    if b.records() == 0 {
        t.standing = None;
        t.stalled = false;
        return false;
    }
    let since = match t.standing {
        Some((c, s)) if c == b.committed => s,
        // First look, or someone else is committing: the input is being consumed.
        _ => {
            t.standing = Some((b.committed, Instant::now()));
            t.stalled = false;
            return false;
        }
    };
    let empty_for = t.empty_since.map_or(Duration::ZERO, |s| s.elapsed());
    if empty_for < threshold || since.elapsed() < threshold {
        return false;
    }
    let waiting: Vec<String> = b
        .waiting
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(topic, n)| format!("{n} records of {topic}"))
        .collect();
    let assignment = if w.held.joined() {
        "an empty assignment"
    } else {
        "no assignment since it started"
    };
    let why = format!(
        "{} stage holds no partitions ({assignment}) for {} s while {} wait uncommitted by \
         group {} (its committed offsets have not moved for {} s)",
        w.stage.as_str(),
        empty_for.as_secs(),
        waiting.join(" and "),
        w.group,
        since.elapsed().as_secs()
    );
    t.stalled = true;
    let rejoin = t.last_rejoin.is_none_or(|l| l.elapsed() >= threshold);
    if t.last_log
        .is_none_or(|l| l.elapsed() >= Duration::from_secs(30))
        || rejoin
    {
        tracing::warn!(
            stage = w.stage.as_str(),
            group = %w.group,
            backlog = b.records(),
            empty_secs = empty_for.as_secs(),
            rejoin,
            "{why}; {}",
            if rejoin {
                "leaving the group and joining it again"
            } else {
                "waiting for the group coordinator to assign them"
            }
        );
        t.last_log = Some(Instant::now());
    }
    if rejoin {
        w.held.request_rejoin();
        t.last_rejoin = Some(Instant::now());
    }
    stalls.push(Stall {
        stage: w.stage.as_str().to_owned(),
        why,
    });
    rejoin
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched() -> Watched {
        Watched {
            stage: Stage::Infra,
            group: "g.infra".into(),
            topics: vec!["t.network".into()],
            held: Arc::new(Held::default()),
        }
    }

    fn track() -> Track {
        Track {
            empty_since: Some(Instant::now() - Duration::from_secs(120)),
            ..Track::default()
        }
    }

    fn backlog(committed: i64, waiting: i64) -> Backlog {
        Backlog {
            waiting: [("t.network".to_owned(), waiting)].into(),
            committed,
        }
    }

    #[test]
    fn a_backlog_whose_commits_stand_still_is_a_stall() {
        let (w, mut t, mut stalls) = (watched(), track(), Vec::new());
        let threshold = Duration::from_millis(0);
        assert!(!judge(&w, &mut t, &backlog(10, 5), threshold, &mut stalls));
        assert!(stalls.is_empty(), "the first look only notes the offsets");
        assert!(
            judge(&w, &mut t, &backlog(10, 5), threshold, &mut stalls),
            "asked to rejoin"
        );
        assert_eq!(stalls.len(), 1);
        assert!(t.stalled);
        assert!(
            stalls[0].why.contains("5 records of t.network"),
            "{}",
            stalls[0].why
        );
        assert!(stalls[0].why.contains("g.infra"));
        assert!(w.held.take_rejoin());
        assert!(!w.held.take_rejoin(), "taken once");
    }

    #[test]
    fn moving_commits_or_no_backlog_are_not_a_stall() {
        let (w, mut t, mut stalls) = (watched(), track(), Vec::new());
        let threshold = Duration::from_millis(0);
        judge(&w, &mut t, &backlog(10, 5), threshold, &mut stalls);
        judge(&w, &mut t, &backlog(12, 5), threshold, &mut stalls);
        assert!(stalls.is_empty() && !t.stalled, "another member commits");
        judge(&w, &mut t, &backlog(12, 0), threshold, &mut stalls);
        assert!(stalls.is_empty() && !t.stalled, "nothing waits");
    }

    #[test]
    fn the_threshold_follows_the_session_timeout() {
        let mut k: KafkaConfig = toml::from_str("brokers = \"x:9092\"\ngroup_id = \"g\"").unwrap();
        assert_eq!(threshold(&k), Duration::from_secs(60));
        k.client.insert("session.timeout.ms".into(), "6000".into());
        assert_eq!(threshold(&k), Duration::from_secs(21));
    }
}
