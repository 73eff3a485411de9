//! `driftwatch run` as a separate process against a [`super::tansu::Broker`]: the simulated
//! company as input, one config per run (its own topics and consumer groups), and the
//! checks that tell when a run has read everything there is to read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use driftwatch::config::Config;
use driftwatch::decode::{FormatChoice, decode};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::tansu::{client_config, free_port, partition_count};

/// The driftwatch binary of this build.
pub const BINARY: &str = env!("CARGO_BIN_EXE_driftwatch");

/// Writes a simulated company into `dir` with `driftwatch simulate` and returns its login
/// records (Okta and Cisco ASA lines) in event-time order, as a time-ordered source would
/// deliver them.
pub fn company(dir: &Path, employees: u32, days: u32, seed: u64) -> Vec<Vec<u8>> {
    company_in(dir, employees, days, seed, &[])
}

/// [`company`] with more `driftwatch simulate` arguments (`--world real`, its lists), and
/// every log it writes.
pub fn company_in(
    dir: &Path,
    employees: u32,
    days: u32,
    seed: u64,
    world: &[&str],
) -> Vec<Vec<u8>> {
    let status = Command::new(BINARY)
        .args(["simulate", "--employees", &employees.to_string()])
        .args(world)
        .args([
            "--days",
            &days.to_string(),
            "--seed",
            &seed.to_string(),
            "--out",
        ])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .expect("run driftwatch simulate");
    assert!(status.success(), "driftwatch simulate failed: {status}");
    let config = Config::load(&dir.join("driftwatch.toml")).expect("the simulated config loads");
    let ctx = config.decode.context(chrono::Utc::now());
    let mut records = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir.join("events"))
        .expect("the simulated events")
        .map(|e| e.expect("a simulated log").path())
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read(file).expect("read simulated events");
        records.extend(
            text.split(|b| *b == b'\n')
                .filter(|line| !line.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    records.sort_by_key(|r| decode(r, FormatChoice::Auto, &ctx).ok().map(|e| e.time));
    records
}

/// One run of the service: its name (prefix of its topics and groups), config and HTTP port.
#[derive(Clone, Debug)]
pub struct Run {
    pub name: String,
    pub config: PathBuf,
    pub port: u16,
}

/// Settings a run may vary.
#[derive(Clone, Debug)]
pub struct Options {
    pub partitions: i32,
    pub batch_max: usize,
    pub batch_wait_ms: u64,
    /// `[detect.shared_infrastructure] enabled`. Its findings reach an employee's partition
    /// through the findings topic; the stages' watermarks make detect apply them with their
    /// login, so runs agree exactly with it on too.
    pub shared_infrastructure: bool,
    /// librdkafka `fetch.wait.max.ms` for every client (`[kafka.client]`), when set.
    pub fetch_wait_ms: Option<u32>,
    /// `[service] shutdown_deadline_secs`.
    pub shutdown_deadline_secs: u64,
    /// TOML appended to the end of the config as is (tables such as `[route]` that the
    /// other options do not cover).
    pub extra_toml: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            partitions: 3,
            batch_max: 200,
            batch_wait_ms: 50,
            shared_infrastructure: true,
            fetch_wait_ms: None,
            shutdown_deadline_secs: 20,
            extra_toml: String::new(),
        }
    }
}

/// A config for run `name` reading `input`: the simulated company's config in `dir` plus
/// `[kafka]` and `[service]` sections with the run's own topics and groups.
pub fn run_config(dir: &Path, bootstrap: &str, name: &str, input: &str, opts: &Options) -> Run {
    let mut base = std::fs::read_to_string(dir.join("driftwatch.toml")).expect("read the config");
    if !opts.shared_infrastructure {
        assert!(!base.contains("[detect.shared_infrastructure]"));
        base.push_str("\n[detect.shared_infrastructure]\nenabled = false\n");
    }
    let port = free_port();
    let text = format!(
        r#"{base}
[kafka]
brokers = "{bootstrap}"
group_id = "{name}"
partitions = {partitions}
[[kafka.input]]
topic = "{input}"
format = "auto"
[kafka.topics]
logins = "{name}.logins"
network = "{name}.network"
findings = "{name}.findings"
alerts = "{name}.alerts"
dlq = "{name}.dlq"
changelog = "{name}.changelog"
[service]
listen = "127.0.0.1:{port}"
batch_max = {batch_max}
batch_wait_ms = {batch_wait_ms}
shutdown_deadline_secs = {shutdown_deadline_secs}
"#,
        partitions = opts.partitions,
        shutdown_deadline_secs = opts.shutdown_deadline_secs,
        batch_max = opts.batch_max,
        batch_wait_ms = opts.batch_wait_ms,
    );
    let text = match opts.fetch_wait_ms {
        Some(ms) => format!("{text}[kafka.client]\n\"fetch.wait.max.ms\" = \"{ms}\"\n"),
        None => text,
    };
    let text = format!("{text}{}", opts.extra_toml);
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, text).expect("write the run's config");
    Run {
        name: name.to_owned(),
        config,
        port,
    }
}

impl Run {
    /// The same run served on another port: a second instance in the same group.
    pub fn second_instance(&self, dir: &Path) -> Run {
        let text = std::fs::read_to_string(&self.config).expect("read the config");
        let port = free_port();
        let from = format!("listen = \"127.0.0.1:{}\"", self.port);
        let to = format!("listen = \"127.0.0.1:{port}\"");
        assert!(text.contains(&from));
        let config = dir.join(format!("{}-{port}.toml", self.name));
        std::fs::write(&config, text.replace(&from, &to)).expect("write the config");
        Run {
            name: self.name.clone(),
            config,
            port,
        }
    }

    /// Starts `driftwatch run` (all stages unless `stages` says) with its log appended to
    /// `log`.
    pub fn start(&self, log: &Path, stages: Option<&str>) -> Instance {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the run log");
        let mut command = Command::new(BINARY);
        command.arg("run").arg("--config").arg(&self.config);
        if let Some(stages) = stages {
            command.args(["--stages", stages]);
        }
        command
            .env("DRIFTWATCH_LOG", "info,librdkafka=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map(|child| Instance(Some(child)))
            .expect("start driftwatch run")
    }

    /// `GET path` on the run's HTTP port: the status code and body, or `None` when nothing
    /// answers (yet).
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.port, path)
    }

    /// The value of an unlabelled metric, or the sum of a labelled one's series.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics")?;
        let mut found = None;
        for line in body.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ')?;
            let metric = series.split('{').next().unwrap_or(series);
            if metric == name {
                *found.get_or_insert(0.0) += value.parse::<f64>().ok()?;
            }
        }
        found
    }
}

impl Run {
    /// The value of one series of a labelled metric: `metric_series("x", "stage=\"infra\"")`.
    pub fn metric_series(&self, name: &str, labels: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics")?;
        let want = format!("{name}{{{labels}}} ");
        body.lines()
            .find_map(|l| l.strip_prefix(&want))
            .and_then(|v| v.trim().parse().ok())
    }
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// Offsets committed by `group` on `topic`, summed over partitions, and the topic's end;
/// `None` while the broker does not know the topic.
pub fn progress(bootstrap: &str, group: &str, topic: &str) -> Option<(i64, i64)> {
    let partitions = partition_count(bootstrap, topic)?;
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("create a consumer to read committed offsets");
    let mut tpl = TopicPartitionList::new();
    let mut end = 0;
    for p in 0..partitions {
        tpl.add_partition(topic, p);
        end += consumer
            .fetch_watermarks(topic, p, Duration::from_secs(5))
            .ok()?
            .1;
    }
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(5))
        .ok()?
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        })
        .sum();
    Some((committed, end))
}

/// Offsets the run's ingest stage has committed on `input`.
pub fn ingested(bootstrap: &str, run: &str, input: &str) -> i64 {
    progress(bootstrap, &format!("{run}.ingest"), input).map_or(0, |(done, _)| done)
}

/// Every stage of `run` has committed everything there is to read. A topic may be empty
/// (no shared infrastructure, no findings), but it must exist, and the input must not be.
pub fn caught_up(bootstrap: &str, run: &str, input: &str) -> bool {
    [
        ("ingest", input.to_owned()),
        ("detect", format!("{run}.logins")),
        ("detect", format!("{run}.findings")),
        ("infra", format!("{run}.network")),
    ]
    .iter()
    .all(|(stage, topic)| {
        matches!(
            progress(bootstrap, &format!("{run}.{stage}"), topic),
            Some((done, end)) if done == end && (topic != input || end > 0)
        )
    })
}

/// The last 60 lines of a run log.
pub fn log_tail(log: &Path) -> String {
    let log = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(60).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// Polls `done` every 200 ms; panics with `what` and the run log after `patience`.
pub fn wait_until(what: &str, log: &Path, patience: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !done() {
        if Instant::now() >= deadline {
            panic!(
                "{what}: not within {patience:?}; run log tail:\n{}",
                log_tail(log)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until `run` is caught up three checks in a row (so findings the infra stage wrote
/// last have been read and committed by detect too). On failure the report has each stage
/// group's members, assignments and committed offsets beside the log tail.
pub fn wait_done(bootstrap: &str, run: &str, input: &str, log: &Path, patience: Duration) {
    let mut streak = 0;
    let deadline = Instant::now() + patience;
    loop {
        streak = if caught_up(bootstrap, run, input) {
            streak + 1
        } else {
            0
        };
        if streak >= 3 {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "run {run} catching up: not within {patience:?}\n{}\nrun log tail:\n{}",
                groups_report(bootstrap, run, input),
                log_tail(log)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The stage groups of `run` as the broker sees them: state, members with their assigned
/// partitions, and per topic the committed offsets against the end, so that a run that
/// does not catch up says which stage holds what.
pub fn groups_report(bootstrap: &str, run: &str, input: &str) -> String {
    let topics = [
        ("ingest", input.to_owned()),
        ("detect", format!("{run}.logins")),
        ("detect", format!("{run}.findings")),
        ("infra", format!("{run}.network")),
    ];
    let mut out = String::from("stage groups (as the broker describes them):");
    let probe: BaseConsumer = client_config(bootstrap)
        .create()
        .expect("create a consumer to describe groups");
    for stage in ["ingest", "detect", "infra"] {
        let group = format!("{run}.{stage}");
        out.push_str(&format!("\n  {group}: "));
        match probe.fetch_group_list(Some(&group), Duration::from_secs(5)) {
            Ok(list) => match list.groups().first() {
                Some(g) => {
                    out.push_str(&format!(
                        "state {}, {} member(s)",
                        g.state(),
                        g.members().len()
                    ));
                    for m in g.members() {
                        let assigned = m
                            .assignment()
                            .map(describe_assignment)
                            .unwrap_or_else(|| "no assignment".to_owned());
                        out.push_str(&format!(
                            "\n    member {} ({}): {assigned}",
                            m.id(),
                            m.client_host()
                        ));
                    }
                }
                None => out.push_str("unknown to the broker"),
            },
            Err(e) => out.push_str(&format!("describe failed: {e}")),
        }
        for (s, topic) in topics.iter().filter(|(s, _)| *s == stage) {
            let committed = per_partition_progress(bootstrap, &format!("{run}.{s}"), topic);
            out.push_str(&format!("\n    {topic}: {committed}"));
        }
    }
    out
}

/// Committed offset against the end, partition by partition: `p0 12/40, p1 40/40`.
fn per_partition_progress(bootstrap: &str, group: &str, topic: &str) -> String {
    let Some(partitions) = partition_count(bootstrap, topic) else {
        return "topic unknown to the broker".to_owned();
    };
    let consumer: BaseConsumer = match client_config(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
    {
        Ok(c) => c,
        Err(e) => return format!("no consumer: {e}"),
    };
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(5));
    (0..partitions)
        .map(|p| {
            let end = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(5))
                .map_or("?".to_owned(), |(_, high)| high.to_string());
            let done = match &committed {
                Ok(c) => match c.find_partition(topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o.to_string(),
                    _ => "none".to_owned(),
                },
                Err(e) => format!("({e})"),
            };
            format!("p{p} {done}/{end}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A consumer-protocol assignment (version, then topics with partition numbers) as text.
fn describe_assignment(bytes: &[u8]) -> String {
    fn take<const N: usize>(b: &mut &[u8]) -> Option<[u8; N]> {
        let (head, rest) = b.split_first_chunk::<N>()?;
        *b = rest;
        Some(*head)
    }
    fn parse(mut b: &[u8]) -> Option<String> {
        let b = &mut b;
        let _version = i16::from_be_bytes(take::<2>(b)?);
        let topics = i32::from_be_bytes(take::<4>(b)?);
        let mut out = Vec::new();
        for _ in 0..topics.max(0) {
            let len = usize::try_from(i16::from_be_bytes(take::<2>(b)?)).ok()?;
            let name = String::from_utf8_lossy(b.get(..len)?).into_owned();
            *b = &b[len..];
            let n = i32::from_be_bytes(take::<4>(b)?);
            let mut parts = Vec::new();
            for _ in 0..n.max(0) {
                parts.push(i32::from_be_bytes(take::<4>(b)?).to_string());
            }
            out.push(format!("{name} [{}]", parts.join(",")));
        }
        Some(if out.is_empty() {
            "an empty assignment".to_owned()
        } else {
            out.join("; ")
        })
    }
    if bytes.is_empty() {
        return "an empty assignment".to_owned();
    }
    parse(bytes).unwrap_or_else(|| format!("an unreadable assignment ({} bytes)", bytes.len()))
}

/// A running `driftwatch run` process, killed when dropped so that a failing test leaves
/// no process behind.
pub struct Instance(Option<Child>);

impl Instance {
    /// Sends `signal` (`-TERM`, `-KILL`) and leaves the process running.
    pub fn signal(&mut self, signal: &str) {
        super::kill(self.0.as_ref().expect("a running instance").id(), signal);
    }

    /// Waits up to `patience` for the process to exit: its status, or `None` while it runs.
    pub fn wait_for(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        let child = self.0.as_mut().expect("a running instance");
        let deadline = Instant::now() + patience;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => return None,
            }
        }
    }

    /// The process's anonymous resident memory in bytes (`RssAnon`: its heap and stacks,
    /// not the pages of files it maps, such as GeoIP databases), when it can be read.
    pub fn anonymous_memory(&self) -> Option<u64> {
        let id = self.0.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{id}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends `signal` (`-TERM`, `-KILL`) and reaps the process; a SIGTERM must end it with 0.
pub fn stop(mut instance: Instance, signal: &str) {
    instance.signal(signal);
    let mut child = instance.0.take().expect("a running instance");
    let status = child.wait().expect("reap driftwatch run");
    if signal == "-TERM" {
        assert!(
            status.success(),
            "SIGTERM must end the service with 0: {status}"
        );
    }
}
