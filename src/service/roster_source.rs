//! Where the running service gets its roster: a file (reloaded when it changes) or a
//! compacted topic (key: employee id; value: one roster row as a JSON object, the same
//! fields as a JSON roster file; an empty value removes the employee). Every instance holds
//! the whole roster: it is small, and every stage resolves or compares against it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::config::KafkaConfig;
use super::error::ServiceError;
use super::kafka::{REQUEST_TIMEOUT, client_config};
use crate::reload::{Reload, Watched};
use crate::roster::{Roster, RosterError};

/// The roster serving now, and how it is kept current.
pub enum RosterSource {
    File(Watched<Roster, RosterError>),
    Topic {
        current: Arc<ArcSwap<Roster>>,
        follower: Option<JoinHandle<()>>,
    },
}

impl RosterSource {
    /// The roster serving now.
    pub fn get(&self) -> Arc<Roster> {
        match self {
            RosterSource::File(w) => w.get(),
            RosterSource::Topic { current, .. } => current.load_full(),
        }
    }

    /// Reload a changed file (a topic follows itself).
    pub fn refresh(&self) {
        if let RosterSource::File(w) = self {
            match w.reload_if_changed() {
                Reload::Unchanged => {}
                Reload::Reloaded => tracing::info!(employees = w.get().len(), "roster reloaded"),
                Reload::Failed(e) => {
                    tracing::error!(error = %e, "roster change refused; the previous roster keeps serving")
                }
            }
        }
    }

    /// Read the roster topic to its end, then follow it on a thread until `stop`.
    pub fn follow_topic(
        kafka: &KafkaConfig,
        topic: &str,
        stop: CancellationToken,
    ) -> Result<RosterSource, ServiceError> {
        let mut reader = TopicRoster::open(kafka, topic)?;
        reader.catch_up()?;
        let first = reader.build().map_err(|error| ServiceError::RosterTopic {
            topic: topic.to_owned(),
            error,
        })?;
        let current = Arc::new(ArcSwap::from_pointee(first));
        let shared = Arc::clone(&current);
        let follower = std::thread::Builder::new()
            .name("roster".to_owned())
            .spawn(move || reader.follow(&shared, &stop))
            .map_err(ServiceError::thread("roster thread"))?;
        Ok(RosterSource::Topic {
            current,
            follower: Some(follower),
        })
    }

    /// Wait for the topic follower to stop.
    pub fn join(&mut self) {
        if let RosterSource::Topic { follower, .. } = self
            && let Some(h) = follower.take()
        {
            let _ = h.join();
        }
    }
}

/// The latest row per employee read from the topic.
struct TopicRoster {
    consumer: BaseConsumer,
    topic: String,
    rows: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Next offset to reach per partition before the first roster is built.
    ends: BTreeMap<i32, i64>,
}

impl TopicRoster {
    fn open(kafka: &KafkaConfig, topic: &str) -> Result<TopicRoster, ServiceError> {
        let consumer: BaseConsumer = client_config(kafka)
            .set("group.id", format!("{}.roster", kafka.group_id))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .create()?;
        let count = super::kafka::partition_count(&consumer, topic)?;
        let mut tpl = TopicPartitionList::new();
        let mut ends = BTreeMap::new();
        for p in 0..count {
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
            let (_, high) = consumer.fetch_watermarks(topic, p, REQUEST_TIMEOUT)?;
            if high > 0 {
                ends.insert(p, high);
            }
        }
        consumer.assign(&tpl)?;
        Ok(TopicRoster {
            consumer,
            topic: topic.to_owned(),
            rows: BTreeMap::new(),
            ends,
        })
    }

    fn take(&mut self, key: Option<&[u8]>, value: Option<&[u8]>) {
        let Some(key) = key else { return };
        match value {
            Some(v) if !v.is_empty() => {
                self.rows.insert(key.to_vec(), v.to_vec());
            }
            _ => {
                self.rows.remove(key);
            }
        }
    }

    fn catch_up(&mut self) -> Result<(), ServiceError> {
        let mut idle = Duration::ZERO;
        while !self.ends.is_empty() {
            match self.consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    idle = Duration::ZERO;
                    let (p, o) = (m.partition(), m.offset());
                    let (k, v) = (m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec));
                    self.take(k.as_deref(), v.as_deref());
                    if self.ends.get(&p).is_some_and(|end| o + 1 >= *end) {
                        self.ends.remove(&p);
                    }
                }
                Some(Err(e)) => tracing::warn!(error = %e, topic = %self.topic, "roster read"),
                None => {
                    idle += Duration::from_millis(200);
                    if idle > REQUEST_TIMEOUT {
                        return Err(ServiceError::RosterTopicSilent {
                            topic: self.topic.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// A roster from the rows held: a JSON array of the row objects, checked as a JSON
    /// roster file is.
    fn build(&self) -> Result<Roster, RosterError> {
        let mut text = Vec::with_capacity(self.rows.values().map(|v| v.len() + 1).sum());
        text.push(b'[');
        for (i, v) in self.rows.values().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            text.extend_from_slice(v);
        }
        text.push(b']');
        Roster::from_json_str(&String::from_utf8_lossy(&text))
    }

    fn follow(mut self, current: &ArcSwap<Roster>, stop: &CancellationToken) {
        let mut dirty = false;
        while !stop.is_cancelled() {
            match self.consumer.poll(Duration::from_millis(250)) {
                Some(Ok(m)) => {
                    let (k, v) = (m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec));
                    self.take(k.as_deref(), v.as_deref());
                    dirty = true;
                }
                Some(Err(e)) => tracing::warn!(error = %e, topic = %self.topic, "roster read"),
                // Rebuild once the burst of updates is over, not per record.
                None if dirty => {
                    dirty = false;
                    match self.build() {
                        Ok(r) => {
                            tracing::info!(employees = r.len(), "roster updated from topic");
                            current.store(Arc::new(r));
                        }
                        Err(e) => tracing::error!(
                            error = %e,
                            "roster topic update refused; the previous roster keeps serving"
                        ),
                    }
                }
                None => {}
            }
        }
    }
}
