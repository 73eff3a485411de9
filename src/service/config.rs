//! `[kafka]` and `[service]`: where `driftwatch run` reads and writes, and how it serves.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Deserialize;

use crate::decode::FormatChoice;

/// `[kafka]`: the cluster, the topics and the client settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// Consumer group shared by every instance; each stage adds a suffix (`.ingest`,
    /// `.detect`, `.infra`) so the stages balance independently.
    pub group_id: String,
    /// Input topics, each with the format of its records.
    pub input: Vec<InputTopic>,
    /// Names of the topics driftwatch writes and reads.
    pub topics: Topics,
    /// How the detect stage writes the records of `topics.alerts`: `driftwatch` (default:
    /// the alert object of docs/alerts.md), `ocsf` (Detection Finding) or `ecs` (docs/alerts.md,
    /// "Alerts in a SIEM"). driftwatch's own readers of the topic take any of the three.
    pub alerts_format: crate::siem::AlertsFormat,
    /// Read the roster from this compacted topic (key: employee id, value: one roster row
    /// as a JSON object; an empty value removes the employee) instead of `[roster] path`.
    pub roster_topic: Option<String>,
    /// Partitions of the topics driftwatch creates. The logins, findings, alerts and
    /// changelog topics must have the same count (they are co-partitioned); more partitions
    /// let more instances share the detect work.
    pub partitions: i32,
    pub replication_factor: i32,
    /// Create missing topics at start. Off where topics are managed elsewhere.
    pub create_topics: bool,
    /// How long `driftwatch.network` keeps records, in days: the infra stage rebuilds its
    /// index from it, so it must cover `[detect.shared_infrastructure] window_days`.
    pub network_retention_days: u32,
    /// librdkafka settings passed through as they are (`security.protocol`, `sasl.*`,
    /// `ssl.*`, ...). A value `${NAME}` is read from the environment variable NAME, so
    /// secrets stay out of the file; values are never logged.
    pub client: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".to_owned(),
            group_id: "driftwatch".to_owned(),
            input: Vec::new(),
            topics: Topics::default(),
            alerts_format: crate::siem::AlertsFormat::Driftwatch,
            roster_topic: None,
            partitions: 12,
            replication_factor: 1,
            create_topics: true,
            network_retention_days: 35,
            client: BTreeMap::new(),
        }
    }
}

/// One input topic.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputTopic {
    pub topic: String,
    /// `auto` or an adapter name, as `[decode] format`.
    #[serde(default)]
    pub format: FormatChoice,
}

/// `[kafka.topics]`: the topics of the streaming topology.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topics {
    /// Resolved and enriched logins, keyed by employee id.
    pub logins: String,
    /// Interactive logins keyed by network (IPv4 address or IPv6 /64), for the infra stage.
    pub network: String,
    /// Shared-infrastructure findings, keyed by employee id, back to the detect stage.
    pub findings: String,
    /// Alerts, keyed by employee id.
    pub alerts: String,
    /// Records that could not be used, with the reason and source in headers.
    pub dlq: String,
    /// Per-employee state, compacted, co-partitioned with `logins`.
    pub changelog: String,
    /// Analysts' dispositions from the API, keyed by employee, co-partitioned with
    /// `logins` so the detect stage that owns the employee applies them.
    pub dispositions: String,
    /// Audit entries (API calls, dispositions, roster and configuration changes) for the
    /// audit stage, which appends them with the alerts to the hash-chained audit log.
    pub audit: String,
}

impl Topics {
    /// Every topic driftwatch writes.
    pub fn names(&self) -> [&String; 8] {
        [
            &self.logins,
            &self.network,
            &self.findings,
            &self.alerts,
            &self.dlq,
            &self.changelog,
            &self.dispositions,
            &self.audit,
        ]
    }
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            logins: "driftwatch.logins".to_owned(),
            network: "driftwatch.network".to_owned(),
            findings: "driftwatch.findings".to_owned(),
            alerts: "driftwatch.alerts".to_owned(),
            dlq: "driftwatch.dlq".to_owned(),
            changelog: "driftwatch.state-changelog".to_owned(),
            dispositions: "driftwatch.dispositions".to_owned(),
            audit: "driftwatch.audit".to_owned(),
        }
    }
}

/// `[service]`: the process around the stages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Address of `/metrics`, `/healthz` and `/readyz`.
    pub listen: SocketAddr,
    /// On SIGTERM or SIGINT: stop fetching, finish and commit what is in flight, and exit
    /// within this many seconds.
    pub shutdown_deadline_secs: u64,
    /// Records processed between two commits: each batch's output is acknowledged by the
    /// broker before its input offsets are stored.
    pub batch_max: usize,
    /// Longest wait for a batch to fill, in milliseconds.
    pub batch_wait_ms: u64,
    /// How far (event time, milliseconds) the records of one input partition may be out of
    /// order and still be applied in order: the infra and detect stages hold a login until
    /// every input partition has been read this far past it (docs/service.md, "Ordering and
    /// determinism"). Default 0: a login is applied as soon as every input partition has
    /// reached its time, the least latency, for sources that write in time order (a
    /// partition's own records are then never out of order). At most a week.
    pub reorder_delay_ms: u64,
    /// An input partition that brought nothing for this long (wall clock, milliseconds) and
    /// has nothing left to read is idle and holds nobody back. Default 500.
    pub idle_release_ms: u64,
    /// Longest wait (wall clock, seconds) of a held login for the watermarks of the stages
    /// before (ingest's, and infra's in detect) before it is applied without them (counted in
    /// `driftwatch_watermark_timeouts_total`): an instance that is down must not stop
    /// detection. Default 30. A crashed instance's partitions move after the group's session
    /// timeout (librdkafka's default 45 s): keep this above it for exact agreement across a
    /// crash.
    pub watermark_wait_max_secs: u64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            shutdown_deadline_secs: 30,
            batch_max: 1000,
            batch_wait_ms: 100,
            reorder_delay_ms: 0,
            idle_release_ms: 500,
            watermark_wait_max_secs: 30,
        }
    }
}

impl KafkaConfig {
    /// Every problem, for `Config::validate`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.brokers.trim().is_empty() {
            errors.push("kafka.brokers: must name at least one broker".to_owned());
        }
        if self.group_id.trim().is_empty() {
            errors.push("kafka.group_id: must not be empty".to_owned());
        }
        if self.partitions < 1 {
            errors.push("kafka.partitions: must be at least 1".to_owned());
        }
        if self.replication_factor < 1 {
            errors.push("kafka.replication_factor: must be at least 1".to_owned());
        }
        let ours = self.topics.names();
        for (i, topic) in self.input.iter().enumerate() {
            if ours.contains(&&topic.topic) {
                errors.push(format!(
                    "kafka.input (entry {}).topic: {} is one of driftwatch's own topics",
                    i + 1,
                    topic.topic
                ));
            }
        }
        for key in self.client.keys() {
            if let Some((_, why)) = GUARANTEED.iter().find(|(k, _)| k == key) {
                errors.push(format!(
                    "kafka.client.{key}: driftwatch sets it itself and may not be overridden: {why}"
                ));
            }
            if key == "bootstrap.servers" || key == "group.id" {
                errors.push(format!(
                    "kafka.client.{key}: set it as kafka.{} instead",
                    if key == "group.id" {
                        "group_id"
                    } else {
                        "brokers"
                    }
                ));
            }
        }
        errors
    }

    /// The `${NAME}` references of `[kafka.client]` whose variable is not set. Checked when
    /// the service starts (`driftwatch run`, `demo`), not when the file loads: `report`,
    /// `replay` and `check-config` never talk to Kafka and run where its secrets are not.
    pub fn missing_environment(&self) -> Vec<String> {
        self.client
            .iter()
            .filter_map(|(key, value)| {
                let name = crate::config::env_reference(value)?;
                std::env::var_os(name)
                    .is_none()
                    .then(|| format!("kafka.client.{key}: environment variable {name} is not set"))
            })
            .collect()
    }

    /// The client settings with `${NAME}` values read from the environment.
    pub fn client_settings(&self) -> Vec<(String, String)> {
        self.client
            .iter()
            .map(|(k, v)| {
                let value = match crate::config::env_reference(v) {
                    Some(name) => std::env::var(name).unwrap_or_default(),
                    None => v.clone(),
                };
                (k.clone(), value)
            })
            .collect()
    }
}

/// librdkafka settings the delivery guarantees depend on, with what each guards: refused in
/// `[kafka.client]`, by name.
pub const GUARANTEED: [(&str, &str); 10] = [
    (
        "enable.auto.offset.store",
        "offsets are stored only after a batch's output is acknowledged, so a crash re-reads instead of losing",
    ),
    (
        "enable.auto.commit",
        "stored offsets are committed in the background; off, nothing would ever be committed",
    ),
    (
        "auto.offset.reset",
        "a new group reads its topics from the beginning, so nothing written before it started is skipped",
    ),
    (
        "partition.assignment.strategy",
        "co-partitioned topics must be assigned together (range)",
    ),
    (
        "isolation.level",
        "the stages read what the others wrote as soon as it is acknowledged",
    ),
    (
        "enable.partition.eof",
        "the stages' loops treat the end of a partition as nothing to read",
    ),
    (
        "acks",
        "a record counts as written only when every in-sync replica has it (all)",
    ),
    ("request.required.acks", "an alias of acks"),
    (
        "message.timeout.ms",
        "a record is retried until the broker takes it (0: for ever), never dropped",
    ),
    ("delivery.timeout.ms", "an alias of message.timeout.ms"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_the_environment() {
        let cfg: KafkaConfig = toml::from_str(
            r#"
            brokers = "b:9092"
            [client]
            "sasl.password" = "${DRIFTWATCH_TEST_SECRET_PRESENT}"
            "security.protocol" = "SASL_SSL"
            "#,
        )
        .unwrap();
        // SAFETY: the variable is unique to this test; no other thread reads it.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("DRIFTWATCH_TEST_SECRET_PRESENT", "hunter2")
        };
        assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
        let settings = cfg.client_settings();
        assert!(settings.contains(&("sasl.password".to_owned(), "hunter2".to_owned())));
        assert!(settings.contains(&("security.protocol".to_owned(), "SASL_SSL".to_owned())));
    }

    #[test]
    fn a_missing_secret_and_a_misplaced_setting_are_reported() {
        let cfg: KafkaConfig = toml::from_str(
            r#"
            partitions = 0
            [client]
            "sasl.password" = "${DRIFTWATCH_TEST_SECRET_ABSENT}"
            "group.id" = "x"
            [[input]]
            topic = "driftwatch.alerts"
            "#,
        )
        .unwrap();
        let errors = cfg.validate().join("\n");
        assert!(
            !errors.contains("SECRET_ABSENT"),
            "loading does not need the secret"
        );
        let missing = cfg.missing_environment().join("\n");
        assert!(
            missing.contains("DRIFTWATCH_TEST_SECRET_ABSENT is not set"),
            "{missing}"
        );
        assert!(errors.contains("kafka.group_id instead"), "{errors}");
        assert!(errors.contains("kafka.partitions"), "{errors}");
        assert!(errors.contains("driftwatch's own topics"), "{errors}");
    }

    #[test]
    fn the_topics_created_are_the_topics_named() {
        let cfg = KafkaConfig::default();
        let created: Vec<String> = super::super::kafka::topic_specs(&cfg)
            .into_iter()
            .map(|t| t.name)
            .collect();
        let named: Vec<String> = cfg.topics.names().into_iter().cloned().collect();
        assert_eq!(created, named);
    }
}
