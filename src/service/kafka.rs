//! Kafka plumbing shared by the stages: client settings, topic creation, and the outbox
//! that holds a batch's output until the broker has acknowledged all of it.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use tokio::runtime::Handle;

use super::config::KafkaConfig;
use super::error::ServiceError;

/// How long metadata and watermark requests may take before the stage reports the broker
/// unreachable (and tries again).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings every client gets: the brokers and the pass-through settings.
pub fn client_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &kafka.brokers);
    for (k, v) in kafka.client_settings() {
        c.set(k, v);
    }
    c
}

/// A consumer in `group` that stores offsets only when told to (after the batch's output
/// is acknowledged) and commits stored offsets in the background.
pub fn consumer_config(kafka: &KafkaConfig, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &kafka.brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // Co-partitioned topics must be assigned together: range assigns the same
        // partition numbers of equally partitioned topics to the same member.
        .set("partition.assignment.strategy", "range")
        .set("statistics.interval.ms", "5000");
    for (k, v) in kafka.client_settings() {
        c.set(k, v);
    }
    c
}

/// The producer every stage writes with. `message.timeout.ms = 0` keeps retrying while the
/// broker is away (the stage waits, then resumes) unless the configuration says otherwise.
pub fn producer(kafka: &KafkaConfig) -> Result<FutureProducer, KafkaError> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &kafka.brokers)
        .set("linger.ms", "5")
        .set("acks", "all")
        .set("message.timeout.ms", "0");
    for (k, v) in kafka.client_settings() {
        c.set(k, v);
    }
    c.create()
}

/// What a created topic needs.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub settings: Vec<(&'static str, String)>,
}

/// Every topic driftwatch writes, with how it must be created: the one list the service
/// creates at start (`[kafka] create_topics`), the demo creates on its in-process broker,
/// and the configuration checks input topics against.
pub fn topic_specs(kafka: &KafkaConfig) -> Vec<TopicSpec> {
    let t = &kafka.topics;
    let retention = (i64::from(kafka.network_retention_days) * 86_400_000).to_string();
    let spec = |name: &str, partitions: i32, settings: Vec<(&'static str, String)>| TopicSpec {
        name: name.to_owned(),
        partitions,
        settings,
    };
    let n = kafka.partitions;
    vec![
        spec(&t.logins, n, vec![]),
        spec(&t.network, n, vec![("retention.ms", retention)]),
        spec(&t.findings, n, vec![]),
        spec(&t.alerts, n, vec![]),
        spec(&t.dlq, n, vec![]),
        spec(
            &t.changelog,
            n,
            vec![("cleanup.policy", "compact".to_owned())],
        ),
        spec(&t.dispositions, n, vec![]),
        // One partition: the audit log is one ordered chain.
        spec(&t.audit, 1, vec![]),
    ]
}

/// Create every topic driftwatch writes that does not exist yet ([`topic_specs`]), on a
/// thread of its own: it blocks on `handle`, which may be the caller's runtime.
pub fn ensure_all_topics(kafka: &KafkaConfig, handle: &Handle) -> Result<(), ServiceError> {
    let specs = topic_specs(kafka);
    std::thread::scope(|s| {
        s.spawn(|| ensure_topics(kafka, &specs, handle))
            .join()
            .unwrap_or_else(|_| Err(ServiceError::Panicked("topic creation")))
    })
}

/// Create the topics that do not exist yet. Existing topics are left as they are.
pub fn ensure_topics(
    kafka: &KafkaConfig,
    specs: &[TopicSpec],
    handle: &Handle,
) -> Result<(), ServiceError> {
    let admin: AdminClient<DefaultClientContext> = client_config(kafka).create()?;
    let existing = existing_topics(kafka)?;
    let missing: Vec<&TopicSpec> = specs
        .iter()
        .filter(|s| !existing.iter().any(|e| e == &s.name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let topics: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|s| {
            let mut t = NewTopic::new(
                &s.name,
                s.partitions,
                TopicReplication::Fixed(kafka.replication_factor),
            );
            for (k, v) in &s.settings {
                t = t.set(k, v);
            }
            t
        })
        .collect();
    let opts = AdminOptions::new()
        .operation_timeout(Some(REQUEST_TIMEOUT))
        .request_timeout(Some(REQUEST_TIMEOUT));
    let results = handle.block_on(admin.create_topics(&topics, &opts))?;
    for r in results {
        match r {
            Ok(name) => tracing::info!(topic = %name, "created topic"),
            // Another instance created it between our look and our request.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(ServiceError::Topic {
                    topic: name,
                    message: code.to_string(),
                });
            }
        }
    }
    Ok(())
}

fn existing_topics(kafka: &KafkaConfig) -> Result<Vec<String>, KafkaError> {
    let probe: BaseConsumer = client_config(kafka).create()?;
    let md = probe.fetch_metadata(None, REQUEST_TIMEOUT)?;
    Ok(md.topics().iter().map(|t| t.name().to_owned()).collect())
}

/// Partitions of `topic`, from the broker's metadata.
pub fn partition_count<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> Result<i32, ServiceError> {
    let md = consumer.fetch_metadata(Some(topic), REQUEST_TIMEOUT)?;
    let t = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .ok_or_else(|| ServiceError::Topic {
            topic: topic.to_owned(),
            message: "not in the broker's metadata".to_owned(),
        })?;
    if let Some(err) = t.error() {
        return Err(ServiceError::Topic {
            topic: topic.to_owned(),
            message: format!("{err:?}"),
        });
    }
    i32::try_from(t.partitions().len())
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ServiceError::Topic {
            topic: topic.to_owned(),
            message: "has no partitions".to_owned(),
        })
}

/// A batch's output on its way to the broker. [`Outbox::wait`] returns once every record
/// is acknowledged, which is when the batch's input offsets may be stored.
pub struct Outbox {
    producer: FutureProducer,
    handle: Handle,
    pending: Vec<(String, DeliveryFuture)>,
    /// Time spent waiting for acknowledgements, and how many waits had something to wait
    /// for: the stage's shutdown summary says where its time went.
    pub waited: Duration,
    pub waits: u64,
}

/// Where an acknowledged record landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

impl Outbox {
    pub fn new(producer: FutureProducer, handle: Handle) -> Outbox {
        Outbox {
            producer,
            handle,
            pending: Vec::new(),
            waited: Duration::ZERO,
            waits: 0,
        }
    }

    /// Queue one record. A full local queue is waited out, never dropped.
    pub fn send(
        &mut self,
        topic: &str,
        partition: i32,
        key: &[u8],
        value: &[u8],
        headers: Option<OwnedHeaders>,
    ) {
        let mut record = FutureRecord::to(topic)
            .partition(partition)
            .key(key)
            .payload(value);
        if let Some(h) = headers {
            record = record.headers(h);
        }
        loop {
            match self.producer.send_result(record) {
                Ok(f) => {
                    self.pending.push((topic.to_owned(), f));
                    return;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    self.producer.poll(Duration::from_millis(10));
                }
                Err((e, r)) => {
                    // Any other enqueue error (unknown partition while metadata refreshes,
                    // for instance) is retried too: losing output is not an option.
                    tracing::warn!(error = %e, topic, "produce refused; retrying");
                    record = r;
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// Records queued and not yet waited for.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Wait until every queued record is acknowledged; where each landed, in send order.
    pub fn wait(&mut self) -> Result<Vec<Landed>, ServiceError> {
        let started = std::time::Instant::now();
        if !self.pending.is_empty() {
            self.waits += 1;
        }
        let landed = self.wait_for_all();
        self.waited += started.elapsed();
        landed
    }

    fn wait_for_all(&mut self) -> Result<Vec<Landed>, ServiceError> {
        let mut landed = Vec::with_capacity(self.pending.len());
        let mut first_error = None;
        for (topic, f) in self.pending.drain(..) {
            match self.handle.block_on(f) {
                Ok(Ok(d)) => landed.push(Landed {
                    topic,
                    partition: d.partition,
                    offset: d.offset,
                }),
                Ok(Err((e, _))) => {
                    first_error.get_or_insert(ServiceError::Kafka(e));
                }
                Err(_) => {
                    first_error.get_or_insert(ServiceError::ProducerGone);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(landed),
        }
    }
}
