//! A real Kafka-compatible broker for integration tests: [tansu](https://tansu.io), one
//! process per test on a free 127.0.0.1 port, stopped when the test ends.
//!
//! The binary is found through `DRIFTWATCH_TANSU`, then `$CARGO_HOME/bin/tansu` (or
//! `~/.cargo/bin/tansu`), then `PATH`. `.ci/run` installs it; by hand:
//! `cargo install tansu --locked --version 0.6.0 --features libsql`.
//!
//! Every helper is synchronous (blocking) and panics with context on failure: these are
//! test fixtures, and a panic with the broker's log is the most useful report. From an async
//! test, call them through `tokio::task::spawn_blocking` or on a multi-thread runtime.

use std::collections::HashSet;
use std::env;
use std::fs::{self, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use tempfile::TempDir;

use super::block_on;

/// Environment variable naming the tansu binary; wins over every other place.
pub const BINARY_ENV: &str = "DRIFTWATCH_TANSU";

/// How long the broker may take to answer a metadata request after it is spawned. It
/// usually takes well under a second; the margin is for a loaded CI machine.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// How long a helper waits for the broker before it gives up (topic creation, delivery,
/// draining an expected number of records).
const PATIENCE: Duration = Duration::from_secs(60);

/// Where the broker keeps its data. Only SQLite: tansu 0.6's memory storage loses records
/// (see [`Broker::start`]), and `.ci/run` builds tansu without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// A SQLite file in the broker's temporary directory: survives [`Broker::restart`]
    /// (topics, records and committed group offsets), for the broker-outage tests.
    Sqlite,
}

impl Storage {
    /// The `--storage-engine` URL. SQLite paths are relative to the broker's working
    /// directory (tansu joins the URL's host and path onto it), which is the temp dir.
    fn url(self) -> &'static str {
        match self {
            Storage::Sqlite => "sqlite://tansu.db",
        }
    }
}

/// A running tansu broker, killed (and reaped) on drop.
pub struct Broker {
    /// `host:port` for `bootstrap.servers`.
    pub bootstrap: String,
    port: u16,
    storage: Storage,
    binary: PathBuf,
    /// Holds the log and the SQLite file; it outlives restarts so both carry over.
    dir: TempDir,
    /// `None` between [`Broker::stop`] and [`Broker::restart`].
    child: Option<Child>,
}

impl Broker {
    /// Starts a broker with SQLite storage and waits until it answers metadata requests.
    ///
    /// Not memory storage: tansu 0.6's in-memory engine loses records when a consumer
    /// resumes from an offset inside a producer batch (a fetch after a commit or a
    /// rebalance), which is exactly what the service's tests exercise.
    pub fn start() -> Broker {
        Broker::start_with(Storage::Sqlite)
    }

    /// Starts a broker on `storage` and waits until it answers metadata requests.
    pub fn start_with(storage: Storage) -> Broker {
        // The port is free when chosen but not reserved; another process may take it before
        // tansu binds. That shows as an early exit, and a fresh port is worth another try.
        const ATTEMPTS: usize = 3;
        let binary = find_binary();
        let dir = tempfile::Builder::new()
            .prefix("tansu-")
            .tempdir()
            .expect("create a temporary directory for the tansu broker");
        let mut broker = Broker {
            bootstrap: String::new(),
            port: 0,
            storage,
            binary,
            dir,
            child: None,
        };
        for attempt in 1..=ATTEMPTS {
            broker.port = free_port();
            broker.bootstrap = format!("127.0.0.1:{}", broker.port);
            broker.spawn();
            match broker.wait_until_ready() {
                Ok(()) => return broker,
                Err(NotReady::Exited(status)) if attempt < ATTEMPTS => {
                    eprintln!(
                        "tansu on port {} exited ({status}) while starting; trying another port",
                        broker.port
                    );
                    broker.child = None;
                }
                Err(not_ready) => broker.fail(&not_ready.to_string()),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Kills the broker with SIGKILL, as a crash would, and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error here means the process already exited, which is what we want.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the broker with SIGSTOP: its connections stay open and nothing answers, as
    /// with a broker host that hangs. [`Broker::thaw`] lets it go on.
    pub fn freeze(&self) {
        self.send("-STOP");
    }

    /// Lets a frozen broker go on (SIGCONT).
    pub fn thaw(&self) {
        self.send("-CONT");
    }

    fn send(&self, signal: &str) {
        super::kill(self.child.as_ref().expect("a running broker").id(), signal);
    }

    /// Stops the broker if it runs, then starts it again on the same port and storage and
    /// waits until it answers. Only [`Storage::Sqlite`] keeps the data across a restart.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
        if let Err(not_ready) = self.wait_until_ready() {
            self.fail(&format!("after restart: {not_ready}"));
        }
    }

    /// The broker's combined stdout and stderr, across restarts.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("tansu.log")
    }

    fn spawn(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the tansu log file");
        let stderr = log.try_clone().expect("clone the tansu log file handle");
        let url = format!("tcp://{}", self.bootstrap);
        let child = Command::new(&self.binary)
            .arg("broker")
            .args(["--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            .args(["--storage-engine", self.storage.url()])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", self.binary.display()));
        self.child = Some(child);
    }

    /// Polls with metadata requests until the broker answers, it exits, or time runs out.
    /// Each request blocks for up to its timeout, so the loop needs no sleep of its own.
    fn wait_until_ready(&mut self) -> Result<(), NotReady> {
        let probe: BaseConsumer = client_config(&self.bootstrap)
            // Retry a refused connection quickly while the broker is still binding.
            .set("reconnect.backoff.ms", "20")
            .set("reconnect.backoff.max.ms", "200")
            .create()
            .expect("create the readiness probe");
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(NotReady::Exited(status.to_string()));
            }
            match probe.fetch_metadata(None, Duration::from_millis(500)) {
                Ok(metadata) if !metadata.brokers().is_empty() => return Ok(()),
                Ok(_) | Err(_) if Instant::now() < deadline => {}
                Ok(_) => return Err(NotReady::Silent("metadata lists no broker".into())),
                Err(err) => return Err(NotReady::Silent(err.to_string())),
            }
        }
    }

    /// Panics with `what`, the command line and the end of the broker's log.
    fn fail(&mut self, what: &str) -> ! {
        self.stop();
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "tansu ({}) on {} with {} storage did not come up: {what}\n--- log tail ({}):\n{}",
            self.binary.display(),
            self.bootstrap,
            self.storage.url(),
            self.log_path().display(),
            tail.join("\n"),
        );
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Why a spawned broker is not serving.
enum NotReady {
    Exited(String),
    Silent(String),
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Exited(status) => write!(f, "the process exited ({status})"),
            NotReady::Silent(last) => write!(
                f,
                "no metadata answer within {READY_WITHIN:?} (last: {last})"
            ),
        }
    }
}

/// The tansu binary: `DRIFTWATCH_TANSU`, then cargo's bin directory, then `PATH`.
pub fn find_binary() -> PathBuf {
    if let Some(path) = env::var_os(BINARY_ENV) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{BINARY_ENV}={} is not a file",
            path.display()
        );
        return path;
    }
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    let cargo_bin = cargo_home.map(|home| home.join("bin"));
    let path_dirs = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    cargo_bin
        .into_iter()
        .chain(path_dirs)
        .map(|dir| dir.join("tansu"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "tansu not found (set {BINARY_ENV}, or install it: cargo install tansu --locked \
                 --version 0.6.0 --features libsql; .ci/run does this)"
            )
        })
}

/// A port on 127.0.0.1 that is free now (not reserved: bind soon).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("find a free port on 127.0.0.1")
}

/// Client settings every helper starts from.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

/// Creates `name` with `partitions` partitions (`cleanup.policy=compact` when `compacted`)
/// and waits until the broker's metadata shows all of them, so records can follow at once.
pub fn create_topic(bootstrap: &str, name: &str, partitions: i32, compacted: bool) {
    let admin: AdminClient<DefaultClientContext> = client_config(bootstrap)
        .create()
        .expect("create the admin client");
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    if compacted {
        topic = topic.set("cleanup.policy", "compact");
    }
    let options = AdminOptions::new().operation_timeout(Some(PATIENCE));
    let results = block_on(admin.create_topics([&topic], &options))
        .unwrap_or_else(|err| panic!("create topic {name}: {err}"));
    for result in results {
        if let Err((topic, code)) = result {
            panic!("create topic {topic}: {code}");
        }
    }
    // Topic creation may be acknowledged before every partition is visible to clients.
    let probe = metadata_client(bootstrap);
    let deadline = Instant::now() + PATIENCE;
    while partitions_of(&probe, name) != Some(partitions) {
        assert!(
            Instant::now() < deadline,
            "topic {name} does not show {partitions} partitions after {PATIENCE:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// How many partitions `topic` has, or `None` when the broker does not know it (yet).
pub fn partition_count(bootstrap: &str, topic: &str) -> Option<i32> {
    partitions_of(&metadata_client(bootstrap), topic)
}

fn metadata_client(bootstrap: &str) -> BaseConsumer {
    client_config(bootstrap)
        .create()
        .expect("create a metadata client")
}

fn partitions_of(client: &BaseConsumer, topic: &str) -> Option<i32> {
    let metadata = client
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .ok()?;
    let topic = metadata.topics().iter().find(|t| t.name() == topic)?;
    if topic.error().is_some() || topic.partitions().is_empty() {
        return None;
    }
    i32::try_from(topic.partitions().len()).ok()
}

/// A producer on `bootstrap` with `extra` settings on top (e.g. `enable.idempotence`).
pub fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    let mut config = client_config(bootstrap);
    config.set("message.timeout.ms", PATIENCE.as_millis().to_string());
    for (key, value) in extra {
        config.set(*key, *value);
    }
    config.create().expect("create the producer")
}

/// Where a record landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Coordinates {
    pub partition: i32,
    pub offset: i64,
}

/// Produces `records` (key, value) to `topic` in order, with the default partitioner, and
/// waits until the broker has acknowledged every one. Returns where each landed.
pub fn produce(
    bootstrap: &str,
    topic: &str,
    records: &[(Option<&[u8]>, &[u8])],
) -> Vec<Coordinates> {
    send_all(&producer(bootstrap, &[]), topic, records)
}

/// [`produce`] through a given producer.
pub fn send_all(
    producer: &FutureProducer,
    topic: &str,
    records: &[(Option<&[u8]>, &[u8])],
) -> Vec<Coordinates> {
    let deliveries: Vec<_> = records
        .iter()
        .map(|(key, value)| {
            let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(value);
            if let Some(key) = key {
                record = record.key(key);
            }
            loop {
                match producer.send_result(record) {
                    Ok(delivery) => break delivery,
                    // More records than the local queue holds: let the broker catch up.
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err((err, _)) => panic!("enqueue a record for {topic}: {err}"),
                }
            }
        })
        .collect();
    producer
        .flush(PATIENCE)
        .unwrap_or_else(|err| panic!("flush records to {topic}: {err}"));
    deliveries
        .into_iter()
        .map(|delivery| match block_on(delivery) {
            Ok(Ok(delivery)) => Coordinates {
                partition: delivery.partition,
                offset: delivery.offset,
            },
            Ok(Err((err, _))) => panic!("deliver a record to {topic}: {err}"),
            Err(_) => panic!("the producer dropped a delivery report for {topic}"),
        })
        .collect()
}

/// One record read back from a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    /// `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// In record order; a header without a value reads as an empty one.
    pub headers: Vec<(String, Vec<u8>)>,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch, when the record carries a timestamp.
    pub timestamp: Option<i64>,
}

impl Record {
    /// Copies what a test may look at out of a consumed message.
    pub fn of(message: &BorrowedMessage<'_>) -> Record {
        Record {
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers: message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                        .collect()
                })
                .unwrap_or_default(),
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
        }
    }
}

/// When [`drain`] stops reading.
#[derive(Clone, Copy, Debug)]
pub enum Until {
    /// After this many records; panics if fewer arrive within a minute.
    Count(usize),
    /// When every partition has been read to its end (as of reaching it).
    End,
    /// When nothing new has arrived for this long: for output whose size is not known,
    /// such as what a running service produces.
    Idle(Duration),
}

/// Reads `topic` from the beginning of every partition, without a consumer group, until
/// `until`. Returns the records sorted by partition, then offset.
pub fn drain(bootstrap: &str, topic: &str, until: Until) -> Vec<Record> {
    let partitions = partition_count(bootstrap, topic)
        .unwrap_or_else(|| panic!("drain {topic}: the broker does not know the topic"));
    let consumer: BaseConsumer = client_config(bootstrap)
        // librdkafka refuses assign() without a group id ("Unknown group"); assign() never
        // joins the group and nothing is committed, so a fresh name leaves no trace.
        .set("group.id", unique_name("drain"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .expect("create the draining consumer");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("assign a partition from the beginning");
    }
    consumer
        .assign(&assignment)
        .unwrap_or_else(|err| panic!("assign {topic}: {err}"));

    let started = Instant::now();
    let mut last_arrival = started;
    let mut at_end: HashSet<i32> = HashSet::new();
    let mut records = Vec::new();
    loop {
        let done = match until {
            Until::Count(count) => records.len() >= count,
            Until::End => at_end.len() == usize::try_from(partitions).unwrap_or(0),
            Until::Idle(idle) => last_arrival.elapsed() >= idle,
        };
        if done {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "drain {topic} until {until:?}: only {} records after {PATIENCE:?}",
            records.len()
        );
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
            }
            Some(Err(err)) => panic!("drain {topic}: {err}"),
            Some(Ok(message)) => {
                at_end.remove(&message.partition());
                last_arrival = Instant::now();
                records.push(Record::of(&message));
            }
        }
    }
    records.sort_by_key(|record| (record.partition, record.offset));
    records
}

/// A consumer in `group` that commits only when told to and starts a partition without a
/// committed offset from its beginning; `extra` settings go on top.
pub fn group_consumer(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut config = client_config(bootstrap);
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    for (key, value) in extra {
        config.set(*key, *value);
    }
    config.create().expect("create the group consumer")
}

/// Polls `consumer` (already subscribed or assigned) until it has returned `count` records;
/// panics if they do not arrive within a minute.
pub fn poll_records(consumer: &BaseConsumer, count: usize) -> Vec<Record> {
    let started = Instant::now();
    let mut records = Vec::with_capacity(count);
    while records.len() < count {
        assert!(
            started.elapsed() < PATIENCE,
            "only {} of {count} records after {PATIENCE:?}",
            records.len()
        );
        match consumer.poll(Duration::from_millis(100)) {
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(err)) => panic!("poll: {err}"),
            Some(Ok(message)) => records.push(Record::of(&message)),
        }
    }
    records
}

/// A name no other test (or earlier run against the same broker) uses.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
