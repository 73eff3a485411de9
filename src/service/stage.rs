//! What every stage's consumer loop shares: the consumer context that restores state on
//! assignment (retrying until the service's token is cancelled) and commits on
//! revocation, batch polling, offset storing, and the loop itself ([`stage_loop`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message, OwnedMessage};
use rdkafka::{ClientContext, Offset, Statistics, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::error::ServiceError;
use super::ingest::{self, DeadLetterReason};
use super::kafka::{Outbox, REQUEST_TIMEOUT};
use super::{Stage, detect, wire};
use crate::telemetry::{self, ConsumerStatsReceived, Event, Metrics, TopicName};

/// What a stage does when partitions come and go. Called on the consumer's own thread,
/// inside `poll`, before any record of a newly assigned partition is returned.
pub trait Partitions: Send + Sync + 'static {
    /// Partitions assigned; `committed` holds the group's committed offsets for them (when
    /// the broker answered). Restore state here.
    fn assigned(&self, tpl: &TopicPartitionList, committed: Option<&TopicPartitionList>);
    /// Partitions revoked (offsets are already committed).
    fn revoked(&self, tpl: &TopicPartitionList);
}

/// How long a failed restore waits before it tries again.
const RESTORE_RETRY: Duration = Duration::from_secs(1);

/// Restore a partition, trying again every second while it fails (`failed` says
/// so each time): reading input without its state would apply it to empty baselines, so
/// the stage waits for the broker instead. `None` once `cancel` is cancelled, before the
/// first try or between two: the partition stays unrestored (its records are skipped) and
/// the stage can end within the shutdown deadline.
pub fn restore_until_cancelled<T, E>(
    cancel: &CancellationToken,
    mut restore: impl FnMut() -> Result<T, E>,
    mut failed: impl FnMut(&E),
) -> Option<T> {
    while !cancel.is_cancelled() {
        match restore() {
            Ok(restored) => return Some(restored),
            Err(e) => {
                failed(&e);
                sleep_unless_cancelled(cancel, RESTORE_RETRY);
            }
        }
    }
    None
}

/// Sleep `d`, in short steps so that a cancellation ends it early.
pub fn sleep_unless_cancelled(cancel: &CancellationToken, d: Duration) {
    let step = Duration::from_millis(20);
    let until = Instant::now() + d;
    while !cancel.is_cancelled() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(step));
    }
}

/// What a stage's consumer holds, for the watch ([`super::watch`]) on another thread.
#[derive(Debug, Default)]
pub struct Held {
    partitions: AtomicUsize,
    /// Set once the consumer has joined (its first assignment, empty or not).
    joined: AtomicBool,
    /// Set by the watch when the stage should leave its group and join it again (see
    /// [`super::watch`]); taken by [`poll_batch`] on the consumer's thread.
    rejoin: AtomicBool,
}

impl Held {
    /// Partitions assigned now.
    pub fn partitions(&self) -> usize {
        self.partitions.load(Ordering::SeqCst)
    }

    /// Whether the group has given this consumer an assignment yet.
    pub fn joined(&self) -> bool {
        self.joined.load(Ordering::SeqCst)
    }

    /// Ask the consumer to leave its group and join it again at its next poll.
    pub fn request_rejoin(&self) {
        self.rejoin.store(true, Ordering::SeqCst);
    }

    /// Whether a rejoin was asked for since the last call.
    pub fn take_rejoin(&self) -> bool {
        self.rejoin.swap(false, Ordering::SeqCst)
    }
}

/// The consumer context of a stage.
pub struct StageContext<P> {
    pub partitions: P,
    /// What the consumer holds.
    pub held: Arc<Held>,
    metrics: Arc<Metrics>,
    /// Bumped on every rebalance: records polled before it may belong to partitions this
    /// instance no longer owns, so a batch in the making is dropped and fetched again.
    generation: AtomicU64,
    /// Set once the first assignment has been restored.
    pub assigned_once: AtomicBool,
    /// Set while an assignment is being restored.
    pub restoring: AtomicBool,
}

impl<P> StageContext<P> {
    pub fn new(partitions: P, metrics: Arc<Metrics>) -> StageContext<P> {
        StageContext {
            partitions,
            held: Arc::new(Held::default()),
            metrics,
            generation: AtomicU64::new(0),
            assigned_once: AtomicBool::new(false),
            restoring: AtomicBool::new(false),
        }
    }

    /// Restored and consuming.
    pub fn is_ready(&self) -> bool {
        self.assigned_once.load(Ordering::SeqCst) && !self.restoring.load(Ordering::SeqCst)
    }
}

impl<P: Partitions> ClientContext for StageContext<P> {
    fn stats(&self, statistics: Statistics) {
        ConsumerStatsReceived { stats: &statistics }.emit(&self.metrics);
    }
}

impl<P: Partitions> ConsumerContext for StageContext<P> {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Rebalance::Revoke(tpl) = rebalance {
            // Every batch is finished before the next poll, so the stored offsets cover all
            // the output already acknowledged: commit them before another member takes over.
            if !consumer.assignment_lost()
                && let Err(e) = consumer.commit_consumer_state(CommitMode::Sync)
            {
                // Nothing stored yet is the usual reason; the next owner re-reads from the
                // last commit and skips what was applied.
                tracing::debug!(error = %e, "commit on revoke");
            }
            self.partitions.revoked(tpl);
            let gone = tpl.count();
            let _ = self
                .held
                .partitions
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    Some(n.saturating_sub(gone))
                });
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            self.restoring.store(true, Ordering::SeqCst);
            let committed = consumer.committed_offsets((*tpl).clone(), REQUEST_TIMEOUT);
            if let Err(e) = &committed {
                tracing::warn!(error = %e, "could not read committed offsets");
            }
            self.partitions.assigned(tpl, committed.as_ref().ok());
            self.held.partitions.store(tpl.count(), Ordering::SeqCst);
            self.held.joined.store(true, Ordering::SeqCst);
            self.assigned_once.store(true, Ordering::SeqCst);
            self.restoring.store(false, Ordering::SeqCst);
        }
    }
}

/// Poll up to `max` records, waiting at most `wait` for the batch to fill. A rebalance
/// during the poll drops what was collected before it.
pub fn poll_batch<P: Partitions>(
    consumer: &BaseConsumer<StageContext<P>>,
    max: usize,
    wait: Duration,
) -> Vec<OwnedMessage> {
    if consumer.context().held.take_rejoin() {
        rejoin(consumer);
    }
    let deadline = Instant::now() + wait;
    let mut batch = Vec::new();
    let mut generation = consumer.context().generation.load(Ordering::SeqCst);
    while batch.len() < max {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let polled = consumer.poll(left);
        let now = consumer.context().generation.load(Ordering::SeqCst);
        if now != generation {
            batch.clear();
            generation = now;
        }
        match polled {
            None => break,
            Some(Ok(m)) => batch.push(m.detach()),
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => {
                // Broker away, request timed out: librdkafka reconnects by itself; say so
                // and keep polling.
                tracing::warn!(error = %e, "consumer error");
                break;
            }
        }
    }
    batch
}

/// Leave the group and join it again with the same subscription: a new member, so the
/// coordinator forms a new generation and assigns the partitions afresh. What the stage
/// held is committed and revoked first, as in any rebalance.
fn rejoin<P: Partitions>(consumer: &BaseConsumer<StageContext<P>>) {
    let topics: Vec<String> = match consumer.subscription() {
        Ok(tpl) => {
            let mut t: Vec<String> = tpl
                .elements()
                .iter()
                .map(|e| e.topic().to_owned())
                .collect();
            t.dedup();
            t
        }
        Err(e) => {
            tracing::warn!(error = %e, "rejoin: the subscription is unknown; staying");
            return;
        }
    };
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.unsubscribe();
    match consumer.subscribe(&names) {
        Ok(()) => tracing::warn!(topics = ?names, "left the consumer group and joined it again"),
        Err(e) => tracing::error!(error = %e, topics = ?names, "rejoin: subscribe failed"),
    }
}

/// What a stage's batch (or quiet poll) leaves for the loop to do.
#[derive(Debug, Default)]
pub struct Done {
    /// Records that could not be read, for the dead-letter topic.
    pub bad: Vec<(OwnedMessage, String)>,
    /// Offsets to store instead of the batch's own: a stage that holds records back stores,
    /// per partition, no further than its earliest record still held, so a crash re-reads
    /// what it had not applied yet.
    pub offsets: Option<Progress>,
    /// Watermarks vouching for this batch's output, written to every partition of the
    /// stage's watermark topics once that output is acknowledged.
    pub watermarks: Vec<super::wire::Watermark>,
}

/// The next offset to consume per topic and partition, built up over a batch.
#[derive(Debug, Default)]
pub struct Progress(BTreeMap<(String, i32), i64>);

impl Progress {
    pub fn done(&mut self, m: &impl Message) {
        let slot = self
            .0
            .entry((m.topic().to_owned(), m.partition()))
            .or_insert(0);
        *slot = (*slot).max(m.offset() + 1);
    }

    /// Set the next offset of one partition outright.
    pub fn set(&mut self, topic: &str, partition: i32, next: i64) {
        self.0.insert((topic.to_owned(), partition), next);
    }

    /// Store the offsets for the background commit. Call only after the batch's output
    /// was acknowledged.
    pub fn store<C: ConsumerContext>(self, consumer: &BaseConsumer<C>) {
        if self.0.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), next) in self.0 {
            if tpl
                .add_partition_offset(&topic, partition, Offset::Offset(next))
                .is_err()
            {
                continue;
            }
        }
        if let Err(e) = consumer.store_offsets(&tpl) {
            // The partition was revoked meanwhile: its new owner re-reads from the last
            // commit and skips what was applied.
            tracing::debug!(error = %e, "storing offsets");
        }
    }
}

/// Owned and borrowed messages alike.
pub fn payload(m: &impl Message) -> &[u8] {
    m.payload().unwrap_or(&[])
}

/// Assigned partition numbers of `topic` in `tpl`.
pub fn partitions_of(tpl: &TopicPartitionList, topic: &str) -> Vec<i32> {
    tpl.elements_for_topic(topic)
        .iter()
        .map(|e| e.partition())
        .collect()
}

/// The committed offset of one partition, when there is one.
pub fn committed_offset(
    committed: Option<&TopicPartitionList>,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    match committed?.find_partition(topic, partition)?.offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}

/// Read records `from..to` of one partition with `reader` (a consumer outside any group),
/// calling `each` for every record; a compacted partition may skip offsets. Returns the
/// records read. Fails when the broker sends nothing for [`REQUEST_TIMEOUT`].
pub fn read_range(
    reader: &BaseConsumer,
    topic: &str,
    partition: i32,
    from: i64,
    to: i64,
    mut each: impl FnMut(&BorrowedMessage<'_>),
) -> Result<u64, KafkaError> {
    if from >= to {
        return Ok(0);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(from))?;
    reader.assign(&tpl)?;
    let mut read = 0;
    let mut last_seen = Instant::now();
    let result = loop {
        match reader.poll(Duration::from_millis(200)) {
            // What an earlier read of another partition left queued after its unassign:
            // not ours, and not a sign of this one's progress or end.
            Some(Ok(m)) if m.topic() != topic || m.partition() != partition => {}
            Some(Err(KafkaError::PartitionEOF(p))) if p != partition => {}
            Some(Ok(m)) => {
                last_seen = Instant::now();
                if m.offset() >= to {
                    break Ok(read);
                }
                read += 1;
                each(&m);
                if m.offset() + 1 >= to {
                    break Ok(read);
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => break Ok(read),
            Some(Err(e)) => tracing::warn!(error = %e, topic, partition, "restore read"),
            None if last_seen.elapsed() > REQUEST_TIMEOUT => {
                break Err(KafkaError::MessageConsumption(
                    rdkafka::types::RDKafkaErrorCode::RequestTimedOut,
                ));
            }
            None => {}
        }
    };
    reader.unassign()?;
    result
}

/// A stage that keeps no partitioned state (ingest's input order aside: see
/// [`super::ingest::InputProgress`]).
pub struct NoState;

impl Partitions for NoState {
    fn assigned(&self, _: &rdkafka::TopicPartitionList, _: Option<&rdkafka::TopicPartitionList>) {}
    fn revoked(&self, _: &rdkafka::TopicPartitionList) {}
}

/// How a stage loops; see [`super::context::Context::loop_options`].
#[derive(Clone)]
pub struct LoopOptions {
    pub batch_max: usize,
    pub batch_wait: Duration,
    /// The service's token: the loop ends once it is cancelled.
    pub stop: CancellationToken,
    pub dlq: String,
    /// Where the stage's watermarks go: every partition of these topics (with their
    /// partition counts); empty for a stage that writes none.
    pub announce_to: Vec<(String, i32)>,
}

/// Poll, apply, produce, wait for acknowledgements, store offsets, write watermarks;
/// until stopped. `apply` queues the batch's output and says what it could not read
/// (dead-lettered with the batch), for a stage that holds records back which offsets to
/// store, and the watermarks that vouch for the output. It is also called with an empty
/// batch when a poll brings nothing, so held records can be released on a quiet input.
pub fn stage_loop<P: Partitions>(
    consumer: &BaseConsumer<StageContext<P>>,
    mut outbox: Outbox,
    opts: &LoopOptions,
    metrics: &Metrics,
    stage: Stage,
    mut apply: impl FnMut(&[OwnedMessage], &mut Outbox) -> Result<Done, ServiceError>,
) -> Result<(), ServiceError> {
    let (mut batches, mut records, mut polling) = (0u64, 0u64, Duration::ZERO);
    let running = Instant::now();
    while !opts.stop.is_cancelled() {
        let polled = Instant::now();
        let batch = poll_batch(consumer, opts.batch_max, opts.batch_wait);
        polling += polled.elapsed();
        batches += u64::from(!batch.is_empty());
        records += batch.len() as u64;
        let started = Instant::now();
        let done = apply(&batch, &mut outbox)?;
        for (m, why) in &done.bad {
            ingest::dead_letter(
                &mut outbox,
                &opts.dlq,
                1,
                m,
                &detect::source_of(m),
                stage.as_str(),
                DeadLetterReason::UnreadableInternalRecord,
                why,
                "driftwatch",
            );
            telemetry::RecordDeadLettered {
                topic: TopicName::of(m),
                reason: DeadLetterReason::UnreadableInternalRecord,
            }
            .emit(metrics);
        }
        outbox.wait()?;
        let progress = done.offsets.unwrap_or_else(|| {
            let mut progress = Progress::default();
            for m in &batch {
                progress.done(m);
            }
            progress
        });
        progress.store(consumer);
        // The watermarks go behind the output they vouch for, now acknowledged (the
        // producer may reorder retried batches, so not before). Their own acknowledgement
        // is awaited with the next batch's output: one round trip per batch, not two.
        announce(&mut outbox, done.watermarks, &opts.announce_to);
        if batch.is_empty() {
            continue;
        }
        telemetry::BatchProcessed {
            stage,
            records: batch.len(),
            elapsed: started.elapsed(),
        }
        .emit(metrics);
    }
    if let Err(e) = outbox.wait() {
        tracing::warn!(error = %e, stage = stage.as_str(), "the last watermarks");
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(error = %e, stage = stage.as_str(), "final commit");
    }
    // Where the stage's time went: polling (waiting for input included), waiting for the
    // broker to acknowledge output, and the rest (the stage's own work).
    let total = running.elapsed();
    tracing::info!(
        stage = stage.as_str(),
        batches,
        records,
        seconds = total.as_secs_f64(),
        polling_seconds = polling.as_secs_f64(),
        acknowledgement_seconds = outbox.waited.as_secs_f64(),
        acknowledgement_waits = outbox.waits,
        working_seconds = total.saturating_sub(polling + outbox.waited).as_secs_f64(),
        "stage stopped"
    );
    Ok(())
}

/// Write a stage's watermarks to every partition of their topics. Call only once the
/// output they vouch for is acknowledged.
fn announce(out: &mut Outbox, watermarks: Vec<wire::Watermark>, topics: &[(String, i32)]) {
    if watermarks.is_empty() {
        return;
    }
    let value = serde_json::to_vec(&wire::WatermarkRecord { watermarks }).unwrap_or_default();
    for (topic, partitions) in topics {
        for partition in 0..*partitions {
            out.send(topic, partition, wire::WATERMARK_KEY, &value, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A restore that keeps failing tries again until the token is cancelled (here by the
    /// second failure), then gives up: no timing, the count of tries says it.
    #[test]
    fn restore_retries_end_when_cancelled() {
        let cancel = CancellationToken::new();
        let tries = std::cell::Cell::new(0);
        let restored: Option<()> = restore_until_cancelled(
            &cancel,
            || {
                tries.set(tries.get() + 1);
                Err("broker away")
            },
            |_| {
                if tries.get() == 2 {
                    cancel.cancel();
                }
            },
        );
        assert_eq!(restored, None);
        assert_eq!(tries.get(), 2);
    }

    #[test]
    fn restore_returns_what_succeeds() {
        let cancel = CancellationToken::new();
        let mut tries = 0;
        let restored = restore_until_cancelled(
            &cancel,
            || {
                tries += 1;
                if tries < 2 { Err("once") } else { Ok(tries) }
            },
            |_| {},
        );
        assert_eq!(restored, Some(2));
    }
}
