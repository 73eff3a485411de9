//! The Prometheus metrics of `driftwatch run`: one registry, every metric registered here.
//!
//! Names follow `driftwatch_<what>_<unit>[_total]` with base units (seconds). Labels are
//! bounded sets only: input topics, formats, reject reasons, detectors, rules, severities,
//! stages, databases, ISO country codes. An employee, e-mail, user name or IP address never
//! becomes a label value: each would create one series per person or address, and metrics
//! are read by people who may not see who logged in from where.
//!
//! The registry is private (not the crate-global default one) so that tests and several
//! services in one process never see each other's counts.

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::alert::{AlertStatus, Severity};
use crate::decode::{FormatChoice, RejectReason};
use crate::enrich::{DatabaseInfo, DatabaseKind, Geo};
use crate::event::Format;
use crate::service::ingest::{AMBIGUOUS_USER, CONFUSABLE_USER, UNKNOWN_USER};

/// The stages of the service, for the `stage` label of the latency and restore metrics.
pub const STAGES: [&str; 4] = ["ingest", "detect", "infra", "route"];

/// The `result` label of `notifications_total`: what became of one alert at one
/// destination.
pub const NOTIFICATION_RESULTS: [&str; 3] = ["delivered", "dead_lettered", "skipped"];

/// The `outcome` label of `notification_attempts_total`: one request to a destination.
/// `retry`: a connection error, a timeout, 408, 429 or 5xx (tried again after a backoff);
/// `rejected`: any other 4xx (the payload is dead-lettered, a retry would not change it).
pub const ATTEMPT_OUTCOMES: [&str; 3] = ["ok", "retry", "rejected"];

/// Delivery of an alert to a destination: from tens of milliseconds to a destination that
/// was down for hours (the alert waits, it is not lost).
const NOTIFICATION_BUCKETS: [f64; 14] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3_600.0,
];

/// What a skipped duplicate was, for the `kind` label of `duplicates_skipped`.
pub const DUPLICATE_KINDS: [&str; 4] = ["login", "finding", "alert", "disposition"];

/// What arrived behind the watermark, for the `kind` label of `late_records`.
pub const LATE_KINDS: [&str; 3] = ["login", "network_login", "finding"];

/// The `level` label of `employees_by_risk` for an employee below the lowest risk level.
pub const NO_RISK: &str = "none";

/// The `country` label for a login without a usable ISO code.
pub const UNKNOWN_COUNTRY: &str = "unknown";

/// Processing time of one record in one stage: from a cache hit (tens of microseconds) to a
/// stalled produce (seconds).
const PROCESSING_BUCKETS: [f64; 17] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// Event-time lag: live VPN logs arrive within seconds, batch exports (Okta, Entra ID
/// sign-in logs) hours later, and replays of old logs up to a week behind.
const EVENT_LAG_BUCKETS: [f64; 16] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1_800.0, 3_600.0, 7_200.0, 21_600.0, 43_200.0,
    86_400.0, 172_800.0, 604_800.0,
];

/// Restoring a partition's state from its changelog: milliseconds for a few employees,
/// minutes for a large partition read from a slow broker.
const RESTORE_BUCKETS: [f64; 13] = [
    0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Every metric of the service, registered in one private registry.
///
/// The handles are public so the stages count where things happen; labels that are
/// derived from data (GeoIP results, countries, risk levels, librdkafka statistics) have a
/// method here instead, which keeps the label sets bounded.
pub struct Metrics {
    registry: Registry,
    /// Records read from an input topic. Labels: `source` (topic), `format`.
    pub records_consumed: IntCounterVec,
    /// Records that did not decode. Labels: `source`, `format`, `reason`
    /// ([`crate::decode::RejectReason::as_str`]).
    pub records_rejected: IntCounterVec,
    /// Logins whose account matched no employee in the roster. Label: `source`.
    pub unknown_users: IntCounterVec,
    /// Records written to the dead-letter topic. Labels: `source`, `reason`.
    pub dead_lettered: IntCounterVec,
    /// Enrichments, per configured GeoIP database and whether it had a record. Labels:
    /// `database`, `result` (`found`, `not_found`). Use [`Metrics::observe_geo`].
    pub geoip_lookups: IntCounterVec,
    /// Findings of the detectors. Labels: `detector`, `severity`.
    pub findings: IntCounterVec,
    /// Alert lines produced. Labels: `rule`, `severity`, `status` (`open`, `escalated`).
    pub alerts: IntCounterVec,
    /// Time to handle one record in a stage. Label: `stage` ([`STAGES`]).
    pub processing_seconds: HistogramVec,
    /// Wall clock minus event time when a stage handles a record. Label: `stage`.
    pub event_lag_seconds: HistogramVec,
    /// Messages not yet committed, per assigned input partition. Labels: `topic`,
    /// `partition`. Use [`Metrics::observe_stats`].
    pub consumer_lag: IntGaugeVec,
    /// Employees whose state this process holds.
    pub employees_tracked: IntGauge,
    /// Employees per current risk level. Label: `level` (`none`, then the severities).
    /// Use [`Metrics::set_employees`].
    pub employees_by_risk: IntGaugeVec,
    /// Resolved logins per ISO 3166-1 alpha-2 country, or `unknown`. Label: `country`.
    /// Use [`Metrics::observe_login_country`], which guards the label.
    pub logins_by_country: IntCounterVec,
    /// Time to restore a partition's state from its changelog. Label: `stage`.
    pub restore_seconds: HistogramVec,
    /// Employees restored from changelogs. Label: `stage`.
    pub restored_employees: IntCounterVec,
    /// State records written to the changelog topic.
    pub changelog_writes: IntCounter,
    /// Redelivered input skipped because its effect was already recorded. Label: `kind`
    /// ([`DUPLICATE_KINDS`]).
    pub duplicates_skipped: IntCounterVec,
    /// When the vendor built each loaded GeoIP database, Unix seconds. Label: `database`.
    /// Use [`Metrics::set_database_builds`].
    pub geoip_database_build_timestamp_seconds: IntGaugeVec,
    /// Always 1; the label carries the crate version. Label: `version`.
    pub build_info: IntGaugeVec,
    /// 1 while every stage of this process has restored its partitions and is reading
    /// input (what `/readyz` says), else 0.
    pub ready: IntGauge,
    /// Failed attempts to restore a partition's state (retried every second). Label:
    /// `stage`.
    pub restore_failures: IntCounterVec,
    /// Partitions each stage's consumer holds now. Label: `stage`.
    pub stage_partitions: IntGaugeVec,
    /// 1 while a stage holds no partitions and its group's backlog stands still (nobody
    /// consumes it; see `service::watch`), else 0. Label: `stage`.
    pub stage_stalled: IntGaugeVec,
    /// Times the watch made a stalled stage leave its group and join it again. Label:
    /// `stage`.
    pub stage_rejoins: IntCounterVec,
    /// Logins a stage holds until its event-time watermark passes them (`detect`,
    /// `infra`). Label: `stage`.
    pub held_records: IntGaugeVec,
    /// How far, in event-time seconds, what a stage has applied lags behind the latest
    /// login it has read: the reorder delay plus any wait for the infra stage. Label:
    /// `stage`.
    pub watermark_lag_seconds: GaugeVec,
    /// The event time up to which every partition a stage holds has applied what it read,
    /// Unix seconds (Flink's "current watermark"); detect publishes it once the alerts up to
    /// it are written. Label: `stage`.
    pub watermark_timestamp_seconds: GaugeVec,
    /// Records that arrived behind the watermark and were applied at once, out of event-time
    /// order (never dropped). Label: `kind` (`login`, `network_login`, `finding`).
    pub late_records: IntCounterVec,
    /// Logins the detect stage applied without waiting any longer for the infra stage's
    /// watermark (`[service] infra_wait_max_secs`).
    pub watermark_timeouts: IntCounter,
    /// HTTP connections closed as soon as accepted: the server held its limit of open
    /// connections (`service::http::Limits`).
    pub http_refused: IntCounter,
    /// Logins from private, loopback, link-local, multicast or unspecified addresses
    /// (processed; they place nobody). Label: `source` (topic).
    pub unroutable_logins: IntCounterVec,
    /// Alerts handled per destination of the route stage. Labels: `destination` (its name
    /// in `[[route.destination]]`), `result` ([`NOTIFICATION_RESULTS`]).
    pub notifications: IntCounterVec,
    /// Requests to a destination. Labels: `destination`, `outcome` ([`ATTEMPT_OUTCOMES`]).
    pub notification_attempts: IntCounterVec,
    /// From the alert's write to the alerts topic (or its emission in `replay`) to its
    /// acknowledgement by the destination. Label: `destination`.
    pub notification_latency_seconds: HistogramVec,
    /// Alerts read for a destination and not yet delivered or dead-lettered. Label:
    /// `destination`.
    pub notification_pending: IntGaugeVec,
    /// When a destination last acknowledged a request, Unix seconds. Label: `destination`.
    pub notification_last_success_timestamp_seconds: IntGaugeVec,
    /// The `(topic, partition)` pairs `consumer_lag` holds, so that partitions this
    /// process no longer owns lose their series instead of showing a stale lag forever.
    lag_series: Mutex<HashSet<(String, String)>>,
}

impl Metrics {
    /// Register every metric (and, on Linux, the process collector: resident memory, CPU,
    /// open files) in a new registry.
    ///
    /// # Panics
    ///
    /// Only if two metrics share a name or a name is invalid, which is a programming error
    /// that every test constructing `Metrics` catches.
    pub fn new() -> Metrics {
        match Metrics::try_new() {
            Ok(m) => m,
            Err(e) => panic!("driftwatch metrics do not register: {e}"),
        }
    }

    fn try_new() -> prometheus::Result<Metrics> {
        let r = Registry::new();
        let m = Metrics {
            records_consumed: counter_vec(
                &r,
                "records_consumed_total",
                "Records read from an input topic.",
                &["source", "format"],
            )?,
            records_rejected: counter_vec(
                &r,
                "records_rejected_total",
                "Records that did not decode, by reason.",
                &["source", "format", "reason"],
            )?,
            unknown_users: counter_vec(
                &r,
                "unknown_users_total",
                "Logins whose account matched no employee in the roster.",
                &["source"],
            )?,
            dead_lettered: counter_vec(
                &r,
                "dead_lettered_total",
                "Records written to the dead-letter topic.",
                &["source", "reason"],
            )?,
            geoip_lookups: counter_vec(
                &r,
                "geoip_lookups_total",
                "Enrichments per configured GeoIP database and whether it had a record.",
                &["database", "result"],
            )?,
            findings: counter_vec(
                &r,
                "findings_total",
                "Findings of the detectors.",
                &["detector", "severity"],
            )?,
            alerts: counter_vec(
                &r,
                "alerts_total",
                "Alert lines produced (opened or escalated).",
                &["rule", "severity", "status"],
            )?,
            processing_seconds: histogram_vec(
                &r,
                "processing_seconds",
                "Time to handle one record in a stage.",
                &PROCESSING_BUCKETS,
            )?,
            event_lag_seconds: histogram_vec(
                &r,
                "event_lag_seconds",
                "Wall clock minus event time when a stage handles a record.",
                &EVENT_LAG_BUCKETS,
            )?,
            consumer_lag: gauge_vec(
                &r,
                "consumer_lag",
                "Messages not yet committed per assigned input partition (librdkafka).",
                &["topic", "partition"],
            )?,
            employees_tracked: registered(
                &r,
                IntGauge::with_opts(opts(
                    "employees_tracked",
                    "Employees whose state this process holds.",
                ))?,
            )?,
            employees_by_risk: gauge_vec(
                &r,
                "employees_by_risk",
                "Employees per current risk level.",
                &["level"],
            )?,
            logins_by_country: counter_vec(
                &r,
                "logins_by_country_total",
                "Resolved logins per ISO 3166-1 alpha-2 country of the address.",
                &["country"],
            )?,
            restore_seconds: histogram_vec(
                &r,
                "restore_seconds",
                "Time to restore a partition's state from its changelog.",
                &RESTORE_BUCKETS,
            )?,
            restored_employees: counter_vec(
                &r,
                "restored_employees_total",
                "Employees restored from changelogs.",
                &["stage"],
            )?,
            changelog_writes: registered(
                &r,
                IntCounter::with_opts(opts(
                    "changelog_writes_total",
                    "State records written to the changelog topic.",
                ))?,
            )?,
            duplicates_skipped: counter_vec(
                &r,
                "duplicates_skipped_total",
                "Redelivered input skipped because its effect was already recorded.",
                &["kind"],
            )?,
            geoip_database_build_timestamp_seconds: gauge_vec(
                &r,
                "geoip_database_build_timestamp_seconds",
                "When the vendor built each loaded GeoIP database, Unix seconds.",
                &["database"],
            )?,
            build_info: gauge_vec(
                &r,
                "build_info",
                "Always 1; the label carries the driftwatch version.",
                &["version"],
            )?,
            ready: registered(
                &r,
                IntGauge::with_opts(opts(
                    "ready",
                    "1 while every stage has restored its state and reads input, else 0.",
                ))?,
            )?,
            restore_failures: counter_vec(
                &r,
                "restore_failures_total",
                "Failed attempts to restore a partition's state (retried).",
                &["stage"],
            )?,
            stage_partitions: gauge_vec(
                &r,
                "stage_partitions",
                "Partitions each stage's consumer holds now.",
                &["stage"],
            )?,
            held_records: gauge_vec(
                &r,
                "held_records",
                "Logins a stage holds until its event-time watermark passes them.",
                &["stage"],
            )?,
            watermark_lag_seconds: registered(
                &r,
                GaugeVec::new(
                    opts(
                        "watermark_lag_seconds",
                        "Event-time seconds what a stage applied lags behind the latest login it read.",
                    ),
                    &["stage"],
                )?,
            )?,
            watermark_timestamp_seconds: registered(
                &r,
                GaugeVec::new(
                    opts(
                        "watermark_timestamp_seconds",
                        "Event time up to which every partition of a stage has applied what it read, Unix seconds.",
                    ),
                    &["stage"],
                )?,
            )?,
            late_records: counter_vec(
                &r,
                "late_records_total",
                "Records that arrived behind the watermark, applied at once out of order.",
                &["kind"],
            )?,
            unroutable_logins: counter_vec(
                &r,
                "unroutable_logins_total",
                "Logins from private, loopback, link-local, multicast or unspecified addresses.",
                &["source"],
            )?,
            http_refused: registered(
                &r,
                IntCounter::with_opts(opts(
                    "http_connections_refused_total",
                    "HTTP connections closed on accept: the server held its limit of open connections.",
                ))?,
            )?,
            watermark_timeouts: registered(
                &r,
                IntCounter::with_opts(opts(
                    "watermark_timeouts_total",
                    "Logins detect applied without waiting longer for the infra watermark.",
                ))?,
            )?,
            stage_stalled: gauge_vec(
                &r,
                "stage_stalled",
                "1 while a stage holds no partitions and its group's backlog does not move.",
                &["stage"],
            )?,
            stage_rejoins: counter_vec(
                &r,
                "stage_rejoins_total",
                "Times a stalled stage left its consumer group and joined it again.",
                &["stage"],
            )?,
            notifications: counter_vec(
                &r,
                "notifications_total",
                "Alerts handled per on-call destination, by result.",
                &["destination", "result"],
            )?,
            notification_attempts: counter_vec(
                &r,
                "notification_attempts_total",
                "Requests to an on-call destination, by outcome.",
                &["destination", "outcome"],
            )?,
            notification_latency_seconds: registered(
                &r,
                HistogramVec::new(
                    HistogramOpts::from(opts(
                        "notification_latency_seconds",
                        "From an alert's write to its acknowledgement by the destination.",
                    ))
                    .buckets(NOTIFICATION_BUCKETS.to_vec()),
                    &["destination"],
                )?,
            )?,
            notification_pending: gauge_vec(
                &r,
                "notification_pending",
                "Alerts read for a destination and not yet delivered or dead-lettered.",
                &["destination"],
            )?,
            notification_last_success_timestamp_seconds: gauge_vec(
                &r,
                "notification_last_success_timestamp_seconds",
                "When a destination last acknowledged a request, Unix seconds.",
                &["destination"],
            )?,
            lag_series: Mutex::new(HashSet::new()),
            registry: r,
        };
        register_process_collector(&m.registry)?;
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        m.preregister();
        Ok(m)
    }

    /// Create the series whose label sets are known up front, so they show 0 from the
    /// start: `rate()` and alerting rules see a series appear only when it first changes,
    /// and would miss the first increment otherwise.
    fn preregister(&self) {
        for db in [
            DatabaseKind::City,
            DatabaseKind::Asn,
            DatabaseKind::AnonymousIp,
        ] {
            for result in [FOUND, NOT_FOUND] {
                self.geoip_lookups
                    .with_label_values(&[database_label(db), result]);
            }
        }
        for stage in STAGES {
            self.processing_seconds.with_label_values(&[stage]);
            self.event_lag_seconds.with_label_values(&[stage]);
            self.stage_partitions.with_label_values(&[stage]);
            self.stage_stalled.with_label_values(&[stage]);
            self.stage_rejoins.with_label_values(&[stage]);
        }
        for kind in DUPLICATE_KINDS {
            self.duplicates_skipped.with_label_values(&[kind]);
        }
        for kind in LATE_KINDS {
            self.late_records.with_label_values(&[kind]);
        }
        // The stages with state to restore. A restore happens at start, before the first
        // scrape, so without these series `increase()` would never see the first one.
        for stage in ["detect", "infra"] {
            self.restore_failures.with_label_values(&[stage]);
            self.restore_seconds.with_label_values(&[stage]);
            self.restored_employees.with_label_values(&[stage]);
            self.held_records.with_label_values(&[stage]);
            self.watermark_lag_seconds.with_label_values(&[stage]);
            self.watermark_timestamp_seconds.with_label_values(&[stage]);
        }
        for level in risk_levels() {
            self.employees_by_risk.with_label_values(&[level]);
        }
        // Every rule at every severity: a dashboard's "by rule" panel and an alerting rule
        // on the first alert of a kind see the series before anything is found.
        for rule in crate::detect::NAMES {
            for severity in Severity::ALL {
                self.findings.with_label_values(&[rule, severity.as_str()]);
                for status in AlertStatus::ALL {
                    self.alerts
                        .with_label_values(&[rule, severity.as_str(), status.as_str()]);
                }
            }
        }
    }

    /// Create the series of one input topic at 0 (the ingest stage calls this for each
    /// input): records read in each format it may hold (every format for `auto`), records
    /// rejected and dead-lettered for every reason, unknown users. Rejections are counted
    /// under the topic's configured format until a record's own format is known, so those
    /// are the series made here.
    pub fn preregister_input(&self, topic: &str, format: FormatChoice) {
        let configured = format.as_str();
        let formats: Vec<&str> = match format {
            FormatChoice::Auto => Format::ALL.iter().map(|f| f.as_str()).collect(),
            FormatChoice::Fixed(f) => vec![f.as_str()],
        };
        for format in formats {
            self.records_consumed.with_label_values(&[topic, format]);
        }
        for reason in RejectReason::ALL {
            self.records_rejected
                .with_label_values(&[topic, configured, reason.as_str()]);
            self.dead_lettered
                .with_label_values(&[topic, reason.as_str()]);
        }
        for reason in [UNKNOWN_USER, CONFUSABLE_USER, AMBIGUOUS_USER] {
            self.dead_lettered.with_label_values(&[topic, reason]);
        }
        self.unknown_users.with_label_values(&[topic]);
    }

    /// Every metric in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        match TextEncoder::new().encode_to_string(&self.registry.gather()) {
            Ok(text) => text,
            // Encoding into a String fails only on a malformed family; a comment line keeps
            // the response valid for the scraper, and the failure visible.
            Err(e) => {
                tracing::error!(error = %e, "metrics do not encode");
                format!("# driftwatch metrics do not encode: {e}\n")
            }
        }
    }

    /// Count one enrichment: for each `configured` database, whether it had an answer for
    /// the address (`geo.databases` names the ones that had a record).
    ///
    /// An Anonymous-IP record without any flag set counts as `not_found`: MaxMind stores
    /// empty records for some networks, and they say nothing about the address.
    ///
    /// The enricher caches by address, so this counts enrichments of events, not reads of
    /// the database file: the hit rate of the data, not of the cache.
    pub fn observe_geo(&self, geo: &Geo, configured: &[DatabaseKind]) {
        for &kind in configured {
            let had_record = geo.databases.iter().any(|b| b.kind == kind);
            let found =
                had_record && (kind != DatabaseKind::AnonymousIp || geo.anonymous.is_some());
            let result = if found { FOUND } else { NOT_FOUND };
            self.geoip_lookups
                .with_label_values(&[database_label(kind), result])
                .inc();
        }
    }

    /// Record how far behind the event's own time a stage handles it (wall clock minus
    /// event time; an event stamped in the future counts as 0).
    pub fn observe_event_lag(&self, stage: &str, event_time: chrono::DateTime<chrono::Utc>) {
        let lag = (chrono::Utc::now() - event_time).as_seconds_f64().max(0.0);
        self.event_lag_seconds
            .with_label_values(&[stage])
            .observe(lag);
    }

    /// Count one resolved login by the country of its address (`Geo::country`). Anything
    /// but two ASCII capital letters counts as `unknown`, so a database or a bug can never
    /// turn an address or a name into a label.
    pub fn observe_login_country(&self, country: Option<&str>) {
        self.logins_by_country
            .with_label_values(&[country_label(country)])
            .inc();
    }

    /// Set `employees_tracked` and `employees_by_risk` from each tracked employee's current
    /// risk level (`None`: below the lowest level, see `risk::Config::level`).
    pub fn set_employees(&self, levels: impl IntoIterator<Item = Option<Severity>>) {
        let mut counts = [0i64; 1 + Severity::ALL.len()];
        let mut total = 0i64;
        for level in levels {
            let slot = match level {
                None => Some(0),
                Some(s) => Severity::ALL.iter().position(|&x| x == s).map(|i| i + 1),
            };
            if let Some(c) = slot.and_then(|i| counts.get_mut(i)) {
                *c += 1;
            }
            total += 1;
        }
        self.employees_tracked.set(total);
        for (level, count) in risk_levels().zip(counts) {
            self.employees_by_risk
                .with_label_values(&[level])
                .set(count);
        }
    }

    /// Update `consumer_lag` from librdkafka's statistics (the `stats` callback of the
    /// consumer's context, enabled by `statistics.interval.ms`).
    ///
    /// Skipped: the internal unassigned partition (-1) and a lag of -1, which librdkafka
    /// reports for partitions this consumer does not own or has no committed offset for.
    /// Series of partitions no longer reported with a lag are removed, so a revoked
    /// partition does not show the lag it had when it left.
    pub fn observe_stats(&self, stats: &rdkafka::Statistics) {
        let mut now = HashSet::new();
        for (topic, t) in &stats.topics {
            for (&partition, p) in &t.partitions {
                if partition < 0 || p.consumer_lag < 0 {
                    continue;
                }
                let key = (topic.clone(), partition.to_string());
                self.consumer_lag
                    .with_label_values(&[key.0.as_str(), key.1.as_str()])
                    .set(p.consumer_lag);
                now.insert(key);
            }
        }
        // A poisoned lock only means another stats callback panicked mid-update; the set
        // is still a usable superset of the live series.
        let mut held = self.lag_series.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, partition) in held.difference(&now) {
            // Err only when the series is already gone, which is the goal.
            let _ = self
                .consumer_lag
                .remove_label_values(&[topic.as_str(), partition.as_str()]);
        }
        *held = now;
    }

    /// Create the series of one route destination at 0, so that rates and alerting rules
    /// see them from the start (the route stage calls this for each destination).
    pub fn preregister_destination(&self, destination: &str) {
        for result in NOTIFICATION_RESULTS {
            self.notifications.with_label_values(&[destination, result]);
        }
        for outcome in ATTEMPT_OUTCOMES {
            self.notification_attempts
                .with_label_values(&[destination, outcome]);
        }
        self.notification_latency_seconds
            .with_label_values(&[destination]);
        self.notification_pending.with_label_values(&[destination]);
    }

    /// Set `geoip_database_build_timestamp_seconds` to the loaded databases' build times
    /// (after start and after every reload). Databases no longer loaded lose their series.
    pub fn set_database_builds(&self, databases: &[DatabaseInfo]) {
        self.geoip_database_build_timestamp_seconds.reset();
        for db in databases {
            self.geoip_database_build_timestamp_seconds
                .with_label_values(&[database_label(db.kind)])
                .set(db.build_time.timestamp());
        }
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// `result` label of `geoip_lookups`.
const FOUND: &str = "found";
const NOT_FOUND: &str = "not_found";

/// The `database` label: the configuration key of the slot.
fn database_label(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::City => "city",
        DatabaseKind::Asn => "asn",
        DatabaseKind::AnonymousIp => "anonymous_ip",
    }
}

/// The `country` label: an ISO 3166-1 alpha-2 code as given, anything else `unknown`.
pub fn country_label(country: Option<&str>) -> &str {
    match country {
        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) => c,
        _ => UNKNOWN_COUNTRY,
    }
}

/// The `level` labels of `employees_by_risk`, lowest first.
fn risk_levels() -> impl Iterator<Item = &'static str> {
    std::iter::once(NO_RISK).chain(Severity::ALL.iter().map(|s| s.as_str()))
}

/// The one place the `driftwatch_` prefix is added.
fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help).namespace("driftwatch")
}

fn registered<C: prometheus::core::Collector + Clone + 'static>(
    r: &Registry,
    c: C,
) -> prometheus::Result<C> {
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn counter_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    registered(r, IntCounterVec::new(opts(name, help), labels)?)
}

fn gauge_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    registered(r, IntGaugeVec::new(opts(name, help), labels)?)
}

/// A histogram per `stage`: every histogram of the service is.
fn histogram_vec(
    r: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
) -> prometheus::Result<HistogramVec> {
    let o = HistogramOpts::from(opts(name, help)).buckets(buckets.to_vec());
    registered(r, HistogramVec::new(o, &["stage"])?)
}

#[cfg(target_os = "linux")]
fn register_process_collector(r: &Registry) -> prometheus::Result<()> {
    r.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))
}

/// The process collector reads `/proc`; elsewhere there is nothing to register.
#[cfg(not(target_os = "linux"))]
fn register_process_collector(_: &Registry) -> prometheus::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    use super::*;
    use crate::enrich::{EnrichConfig, Enricher};

    /// One sample line of the exposition: name, labels, value.
    #[derive(Debug)]
    struct Sample {
        name: String,
        labels: BTreeMap<String, String>,
        value: f64,
    }

    /// Parse the text exposition format (0.0.4) strictly: `# HELP` / `# TYPE` lines, and
    /// `name{label="value",...} value [timestamp]` samples. Any other line is an error.
    fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# ") {
                let mut parts = rest.splitn(3, ' ');
                let (keyword, name) = (parts.next(), parts.next().unwrap_or(""));
                if !matches!(keyword, Some("HELP" | "TYPE")) || !is_metric_name(name) {
                    return Err(format!("bad comment line {line:?}"));
                }
                continue;
            }
            samples.push(parse_sample(line).ok_or_else(|| format!("bad sample {line:?}"))?);
        }
        Ok(samples)
    }

    fn parse_sample(line: &str) -> Option<Sample> {
        let name_end = line.find(['{', ' '])?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return None;
        }
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(mut l) = rest.strip_prefix('{') {
            loop {
                if let Some(after) = l.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let eq = l.find("=\"")?;
                let label = &l[..eq];
                if !is_label_name(label) {
                    return None;
                }
                let (value, after) = parse_label_value(&l[eq + 2..])?;
                labels.insert(label.to_owned(), value);
                l = after.strip_prefix(',').unwrap_or(after);
            }
        }
        let mut fields = rest.strip_prefix(' ')?.split(' ');
        let value = match fields.next()? {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().ok()?,
        };
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().ok()?;
        }
        fields.next().is_none().then(|| Sample {
            name: name.to_owned(),
            labels,
            value,
        })
    }

    /// A quoted label value up to its closing quote (escapes: `\\`, `\"`, `\n`), and what
    /// follows it.
    fn parse_label_value(s: &str) -> Option<(String, &str)> {
        let mut value = String::new();
        let mut chars = s.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Some((value, &s[i + 1..])),
                '\\' => value.push(match chars.next()?.1 {
                    '\\' => '\\',
                    '"' => '"',
                    'n' => '\n',
                    _ => return None,
                }),
                c => value.push(c),
            }
        }
        None
    }

    fn is_metric_name(s: &str) -> bool {
        let mut b = s.bytes();
        b.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b':')
            && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
    }

    fn is_label_name(s: &str) -> bool {
        is_metric_name(s) && !s.contains(':')
    }

    /// The value of the sample `name` whose labels include all of `labels`.
    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        samples
            .iter()
            .find(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
    }

    fn render_samples(m: &Metrics) -> Vec<Sample> {
        match parse_exposition(&m.render()) {
            Ok(s) => s,
            Err(e) => panic!("exposition does not parse: {e}"),
        }
    }

    /// MaxMind's official test City, ASN and Anonymous-IP databases from ../shared.
    fn maxmind() -> Enricher {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/geoip/maxmind-test/");
        let config = EnrichConfig {
            city: Some(format!("{dir}GeoIP2-City-Test.mmdb").into()),
            asn: Some(format!("{dir}GeoLite2-ASN-Test.mmdb").into()),
            anonymous_ip: Some(format!("{dir}GeoIP2-Anonymous-IP-Test.mmdb").into()),
            ..EnrichConfig::default()
        };
        match crate::sources::enrich_files::open(&config) {
            Ok(e) => e.into_enricher(),
            Err(e) => panic!("MaxMind test databases (../shared must sit beside the repo): {e}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        match s.parse() {
            Ok(ip) => ip,
            Err(e) => panic!("bad test address {s:?}: {e}"),
        }
    }

    fn consumer_stats() -> rdkafka::Statistics {
        match serde_json::from_str(CONSUMER_STATS) {
            Ok(s) => s,
            Err(e) => panic!("captured librdkafka statistics do not deserialize: {e}"),
        }
    }

    #[test]
    fn exposition_parses_and_no_label_names_a_person_or_an_address() {
        let m = Metrics::new();
        let enricher = maxmind();
        let databases = enricher.databases();
        let configured: Vec<DatabaseKind> = databases.iter().map(|d| d.kind).collect();
        m.set_database_builds(&databases);
        // London (City + Anonymous-IP), Milton WA (City + ASN), Telstra (ASN only),
        // TEST-NET-1 (nothing).
        for addr in ["81.2.69.142", "216.160.83.56", "1.128.0.1", "192.0.2.1"] {
            let geo = enricher.lookup_uncached(ip(addr));
            m.observe_geo(&geo, &configured);
            m.observe_login_country(geo.country.as_deref());
        }
        // What a bug upstream could hand over instead of a country code.
        for bad in [
            "81.2.69.142",
            "alice@example.com",
            "gb",
            "GBR",
            "2001:db8::1",
        ] {
            m.observe_login_country(Some(bad));
        }
        m.records_consumed
            .with_label_values(&["logins.okta", "okta"])
            .inc_by(4);
        m.records_rejected
            .with_label_values(&[
                "logins.okta",
                "okta",
                crate::decode::RejectReason::MissingIp.as_str(),
            ])
            .inc();
        m.unknown_users.with_label_values(&["logins.okta"]).inc();
        m.dead_lettered
            .with_label_values(&["logins.okta", "missing_ip"])
            .inc();
        m.findings
            .with_label_values(&["claimed_location", Severity::High.as_str()])
            .inc();
        m.alerts
            .with_label_values(&["claimed_location", Severity::High.as_str(), "open"])
            .inc();
        m.processing_seconds
            .with_label_values(&["ingest"])
            .observe(0.000_2);
        m.event_lag_seconds
            .with_label_values(&["detect"])
            .observe(42.0);
        m.restore_seconds
            .with_label_values(&["detect"])
            .observe(1.5);
        m.restored_employees
            .with_label_values(&["detect"])
            .inc_by(250);
        m.changelog_writes.inc();
        m.duplicates_skipped.with_label_values(&["alert"]).inc();
        m.set_employees([None, Some(Severity::High)]);
        m.observe_stats(&consumer_stats());

        let samples = render_samples(&m);
        for s in &samples {
            assert!(
                s.name.starts_with("driftwatch_") || s.name.starts_with("process_"),
                "{s:?} is not ours"
            );
            for v in s.labels.values() {
                assert!(
                    v.parse::<IpAddr>().is_err() && !v.contains('@'),
                    "label value {v:?} of {} names an address or a person",
                    s.name
                );
            }
        }
        let country = |c| {
            value(
                &samples,
                "driftwatch_logins_by_country_total",
                &[("country", c)],
            )
        };
        assert_eq!(country("GB"), Some(1.0));
        assert_eq!(country("US"), Some(1.0));
        assert_eq!(country("unknown"), Some(7.0));
        let lookups = |db, result| {
            value(
                &samples,
                "driftwatch_geoip_lookups_total",
                &[("database", db), ("result", result)],
            )
        };
        assert_eq!(lookups("city", "found"), Some(2.0));
        assert_eq!(lookups("city", "not_found"), Some(2.0));
        assert_eq!(lookups("asn", "found"), Some(2.0));
        assert_eq!(lookups("asn", "not_found"), Some(2.0));
        assert_eq!(lookups("anonymous_ip", "found"), Some(1.0));
        assert_eq!(lookups("anonymous_ip", "not_found"), Some(3.0));
        assert_eq!(
            value(
                &samples,
                "driftwatch_build_info",
                &[("version", env!("CARGO_PKG_VERSION"))]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &samples,
                "driftwatch_processing_seconds_bucket",
                &[("stage", "ingest"), ("le", "0.00025")]
            ),
            Some(1.0)
        );
        #[cfg(target_os = "linux")]
        assert!(value(&samples, "process_resident_memory_bytes", &[]).is_some_and(|v| v > 0.0));
    }

    #[test]
    fn series_with_known_labels_exist_before_the_first_event() {
        let samples = render_samples(&Metrics::new());
        for level in ["none", "low", "medium", "high", "critical"] {
            assert_eq!(
                value(
                    &samples,
                    "driftwatch_employees_by_risk",
                    &[("level", level)]
                ),
                Some(0.0),
                "{level}"
            );
        }
        for kind in DUPLICATE_KINDS {
            let v = value(
                &samples,
                "driftwatch_duplicates_skipped_total",
                &[("kind", kind)],
            );
            assert_eq!(v, Some(0.0), "{kind}");
        }
        for stage in STAGES {
            let v = value(
                &samples,
                "driftwatch_processing_seconds_count",
                &[("stage", stage)],
            );
            assert_eq!(v, Some(0.0), "{stage}");
        }
        assert_eq!(
            value(
                &samples,
                "driftwatch_geoip_lookups_total",
                &[("database", "anonymous_ip"), ("result", "not_found")]
            ),
            Some(0.0)
        );
        for rule in crate::detect::NAMES {
            for severity in Severity::ALL.map(Severity::as_str) {
                let finding = [("detector", *rule), ("severity", severity)];
                let v = value(&samples, "driftwatch_findings_total", &finding);
                assert_eq!(v, Some(0.0), "{rule} {severity}");
                for status in ["open", "escalated"] {
                    let labels = [("rule", *rule), ("severity", severity), ("status", status)];
                    let v = value(&samples, "driftwatch_alerts_total", &labels);
                    assert_eq!(v, Some(0.0), "{rule} {severity} {status}");
                }
            }
        }
    }

    #[test]
    fn an_input_topics_series_exist_before_its_first_record() {
        let m = Metrics::new();
        m.preregister_input("logins.okta", FormatChoice::Fixed(Format::Okta));
        m.preregister_input("vpn", FormatChoice::Auto);
        let samples = render_samples(&m);
        let consumed = |source, format| {
            value(
                &samples,
                "driftwatch_records_consumed_total",
                &[("source", source), ("format", format)],
            )
        };
        assert_eq!(consumed("logins.okta", "okta"), Some(0.0));
        assert_eq!(
            consumed("logins.okta", "entra"),
            None,
            "a fixed format only"
        );
        for f in Format::ALL {
            assert_eq!(consumed("vpn", f.as_str()), Some(0.0), "{f:?}");
        }
        for reason in RejectReason::ALL.map(RejectReason::as_str) {
            let rejected = [("source", "vpn"), ("format", "auto"), ("reason", reason)];
            let v = value(&samples, "driftwatch_records_rejected_total", &rejected);
            assert_eq!(v, Some(0.0), "{reason}");
            let dead = [("source", "logins.okta"), ("reason", reason)];
            let v = value(&samples, "driftwatch_dead_lettered_total", &dead);
            assert_eq!(v, Some(0.0), "{reason}");
        }
        for source in ["logins.okta", "vpn"] {
            let v = value(
                &samples,
                "driftwatch_unknown_users_total",
                &[("source", source)],
            );
            assert_eq!(v, Some(0.0), "{source}");
            let dead = [("source", source), ("reason", UNKNOWN_USER)];
            let v = value(&samples, "driftwatch_dead_lettered_total", &dead);
            assert_eq!(v, Some(0.0), "{source}");
        }
    }

    #[test]
    fn consumer_lag_comes_from_owned_partitions_only() {
        let m = Metrics::new();
        let mut stats = consumer_stats();
        m.observe_stats(&stats);
        let lag = |m: &Metrics, p| {
            value(
                &render_samples(m),
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
        m.observe_stats(&stats);
        assert_eq!(lag(&m, "0"), None);
        assert_eq!(lag(&m, "1"), Some(6.0));
    }

    #[test]
    fn employees_are_counted_per_risk_level() {
        let m = Metrics::new();
        m.set_employees([
            None,
            Some(Severity::High),
            Some(Severity::High),
            Some(Severity::Low),
        ]);
        m.set_employees([None, Some(Severity::High), Some(Severity::Low)]);
        let samples = render_samples(&m);
        let level = |l| value(&samples, "driftwatch_employees_by_risk", &[("level", l)]);
        assert_eq!(
            value(&samples, "driftwatch_employees_tracked", &[]),
            Some(3.0)
        );
        assert_eq!(level("none"), Some(1.0));
        assert_eq!(level("low"), Some(1.0));
        assert_eq!(level("medium"), Some(0.0));
        assert_eq!(level("high"), Some(1.0));
        assert_eq!(level("critical"), Some(0.0));
    }

    #[test]
    fn database_builds_follow_the_loaded_databases() {
        let m = Metrics::new();
        let databases = maxmind().databases();
        m.set_database_builds(&databases);
        let build = |m: &Metrics, db| {
            value(
                &render_samples(m),
                "driftwatch_geoip_database_build_timestamp_seconds",
                &[("database", db)],
            )
        };
        for d in &databases {
            let expected = d.build_time.timestamp() as f64;
            assert_eq!(build(&m, database_label(d.kind)), Some(expected), "{d:?}");
        }
        // After a reload without the ASN database, its series is gone.
        let without_asn: Vec<DatabaseInfo> = databases
            .into_iter()
            .filter(|d| d.kind != DatabaseKind::Asn)
            .collect();
        m.set_database_builds(&without_asn);
        assert_eq!(build(&m, "asn"), None);
        assert!(build(&m, "city").is_some());
    }

    #[test]
    fn country_label_accepts_only_iso_alpha_2() {
        assert_eq!(country_label(Some("DE")), "DE");
        for bad in [
            None,
            Some(""),
            Some("de"),
            Some("DEU"),
            Some("D"),
            Some("É"),
            Some("1A"),
        ] {
            assert_eq!(country_label(bad), UNKNOWN_COUNTRY, "{bad:?}");
        }
    }

    #[test]
    fn the_parser_refuses_what_is_not_exposition() {
        for bad in [
            "driftwatch_x{a=\"1\"}",
            "driftwatch_x{a=1} 1",
            "driftwatch x 1",
            "# NOTE driftwatch_x",
            "driftwatch_x{a=\"1\"} one",
            "driftwatch_x{a=\"1} 1",
        ] {
            assert!(parse_exposition(bad).is_err(), "{bad:?}");
        }
        let ok = parse_exposition("driftwatch_x{a=\"q\\\"\",b=\"2\"} 1.5 1700000000000");
        assert!(ok.is_ok_and(|s| s.len() == 1 && s[0].labels["a"] == "q\""));
    }

    /// Statistics of a real librdkafka 2.12.1 consumer (the rdkafka crate's bundled
    /// build) against `rdkafka::mocking::MockCluster`, as emitted to `stats_raw` and
    /// indented: topic `logins.okta` with 3 partitions of 10 records; the consumer committed
    /// offsets 7 on partition 0 and 4 on partition 1, and nothing on partition 2.
    const CONSUMER_STATS: &str = r#"
{
 "name": "rdkafka#consumer-3",
 "client_id": "rdkafka",
 "type": "consumer",
 "ts": 9151550825,
 "time": 1795323990,
 "age": 6006294,
 "replyq": 0,
 "msg_cnt": 0,
 "msg_size": 0,
 "msg_max": 0,
 "msg_size_max": 0,
 "simple_cnt": 0,
 "metadata_cache_cnt": 1,
 "brokers": {
  "127.0.0.1:41029/1": {
   "name": "127.0.0.1:41029/1",
   "nodeid": 1,
   "nodename": "127.0.0.1:41029",
   "source": "learned",
   "state": "UP",
   "stateage": 5953866,
   "outbuf_cnt": 0,
   "outbuf_msg_cnt": 0,
   "waitresp_cnt": 1,
   "waitresp_msg_cnt": 0,
   "tx": 16,
   "txbytes": 1550,
   "txerrs": 0,
   "txretries": 0,
   "txidle": 347003,
   "req_timeouts": 0,
   "rx": 15,
   "rxbytes": 1953,
   "rxerrs": 0,
   "rxcorriderrs": 0,
   "rxpartial": 0,
   "rxidle": 347088,
   "zbuf_grow": 0,
   "buf_grow": 0,
   "wakeups": 35,
   "connects": 1,
   "disconnects": 0,
   "int_latency": {
    "min": 0,
    "max": 0,
    "avg": 0,
    "sum": 0,
    "stddev": 0,
    "p50": 0,
    "p75": 0,
    "p90": 0,
    "p95": 0,
    "p99": 0,
    "p99_99": 0,
    "outofrange": 0,
    "hdrsize": 11376,
    "cnt": 0
   },
   "outbuf_latency": {
    "min": 50,
    "max": 50,
    "avg": 50,
    "sum": 50,
    "stddev": 0,
    "p50": 50,
    "p75": 50,
    "p90": 50,
    "p95": 50,
    "p99": 50,
    "p99_99": 50,
    "outofrange": 0,
    "hdrsize": 11376,
    "cnt": 1
   },
   "rtt": {
    "min": 500308,
    "max": 500308,
    "avg": 500308,
    "sum": 500308,
    "stddev": 0,
    "p50": 501759,
    "p75": 501759,
    "p90": 501759,
    "p95": 501759,
    "p99": 501759,
    "p99_99": 501759,
    "outofrange": 0,
    "hdrsize": 13424,
    "cnt": 1
   },
   "throttle": {
    "min": 0,
    "max": 0,
    "avg": 0,
    "sum": 0,
    "stddev": 0,
    "p50": 0,
    "p75": 0,
    "p90": 0,
    "p95": 0,
    "p99": 0,
    "p99_99": 0,
    "outofrange": 0,
    "hdrsize": 17520,
    "cnt": 0
   },
   "req": {
    "Fetch": 8,
    "ListOffsets": 3,
    "Metadata": 1,
    "OffsetCommit": 0,
    "OffsetFetch": 0,
    "FindCoordinator": 1,
    "JoinGroup": 0,
    "Heartbeat": 0,
    "LeaveGroup": 0,
    "SyncGroup": 0,
    "SaslHandshake": 0,
    "ApiVersion": 2,
    "SaslAuthenticate": 0,
    "DescribeCluster": 0,
    "DescribeProducers": 0,
    "Unknown-62?": 0,
    "DescribeTransactions": 0,
    "ListTransactions": 0,
    "Unknown-70?": 0,
    "GetTelemetrySubscriptions": 1,
    "PushTelemetry": 0,
    "Unknown-73?": 0
   },
   "toppars": {
    "logins.okta-0": {
     "topic": "logins.okta",
     "partition": 0
    },
    "logins.okta-1": {
     "topic": "logins.okta",
     "partition": 1
    },
    "logins.okta-2": {
     "topic": "logins.okta",
     "partition": 2
    }
   }
  },
  "GroupCoordinator": {
   "name": "GroupCoordinator",
   "nodeid": -1,
   "nodename": "127.0.0.1:41029",
   "source": "logical",
   "state": "UP",
   "stateage": 6003968,
   "outbuf_cnt": 0,
   "outbuf_msg_cnt": 0,
   "waitresp_cnt": 0,
   "waitresp_msg_cnt": 0,
   "tx": 19,
   "txbytes": 1486,
   "txerrs": 0,
   "txretries": 0,
   "txidle": 2349108,
   "req_timeouts": 0,
   "rx": 19,
   "rxbytes": 1080,
   "rxerrs": 0,
   "rxcorriderrs": 0,
   "rxpartial": 0,
   "rxidle": 2349070,
   "zbuf_grow": 0,
   "buf_grow": 0,
   "wakeups": 59,
   "connects": 1,
   "disconnects": 0,
   "int_latency": {
    "min": 0,
    "max": 0,
    "avg": 0,
    "sum": 0,
    "stddev": 0,
    "p50": 0,
    "p75": 0,
    "p90": 0,
    "p95": 0,
    "p99": 0,
    "p99_99": 0,
    "outofrange": 0,
    "hdrsize": 11376,
    "cnt": 0
   },
   "outbuf_latency": {
    "min": 0,
    "max": 0,
    "avg": 0,
    "sum": 0,
    "stddev": 0,
    "p50": 0,
    "p75": 0,
    "p90": 0,
    "p95": 0,
    "p99": 0,
    "p99_99": 0,
    "outofrange": 0,
    "hdrsize": 11376,
    "cnt": 0
   },
   "rtt": {
    "min": 0,
    "max": 0,
    "avg": 0,
    "sum": 0,
    "stddev": 0,
    "p50": 0,
    "p75": 0,
    "p90": 0,
    "p95": 0,
    "p99": 0,
    "p99_99": 0,
    "outofrange": 0,
    "hdrsize": 16496,
    "cnt": 0
   },
   "throttle": {
    "min": 0,
    "max": 0,
    "avg": 0,
    "sum": 0,
    "stddev": 0,
    "p50": 0,
    "p75": 0,
    "p90": 0,
    "p95": 0,
    "p99": 0,
    "p99_99": 0,
    "outofrange": 0,
    "hdrsize": 17520,
    "cnt": 0
   },
   "req": {
    "Fetch": 0,
    "ListOffsets": 0,
    "Metadata": 2,
    "OffsetCommit": 11,
    "OffsetFetch": 1,
    "FindCoordinator": 0,
    "JoinGroup": 1,
    "Heartbeat": 1,
    "LeaveGroup": 0,
    "SyncGroup": 1,
    "SaslHandshake": 0,
    "ApiVersion": 2,
    "SaslAuthenticate": 0,
    "DescribeCluster": 0,
    "DescribeProducers": 0,
    "Unknown-62?": 0,
    "DescribeTransactions": 0,
    "ListTransactions": 0,
    "Unknown-70?": 0,
    "GetTelemetrySubscriptions": 0,
    "PushTelemetry": 0,
    "Unknown-73?": 0
   },
   "toppars": {}
  }
 },
 "topics": {
  "logins.okta": {
   "topic": "logins.okta",
   "age": 2951,
   "metadata_age": 2952,
   "batchsize": {
    "min": 0,
    "max": 0,
    "avg": 0,
    "sum": 0,
    "stddev": 0,
    "p50": 0,
    "p75": 0,
    "p90": 0,
    "p95": 0,
    "p99": 0,
    "p99_99": 0,
    "outofrange": 0,
    "hdrsize": 14448,
    "cnt": 0
   },
   "batchcnt": {
    "min": 0,
    "max": 0,
    "avg": 0,
    "sum": 0,
    "stddev": 0,
    "p50": 0,
    "p75": 0,
    "p90": 0,
    "p95": 0,
    "p99": 0,
    "p99_99": 0,
    "outofrange": 0,
    "hdrsize": 8304,
    "cnt": 0
   },
   "partitions": {
    "0": {
     "partition": 0,
     "broker": 1,
     "leader": 1,
     "desired": true,
     "unknown": false,
     "msgq_cnt": 0,
     "msgq_bytes": 0,
     "xmit_msgq_cnt": 0,
     "xmit_msgq_bytes": 0,
     "fetchq_cnt": 0,
     "fetchq_size": 0,
     "fetch_state": "active",
     "query_offset": -2,
     "next_offset": 10,
     "app_offset": 10,
     "stored_offset": 10,
     "stored_leader_epoch": 0,
     "commited_offset": 7,
     "committed_offset": 7,
     "committed_leader_epoch": -1,
     "eof_offset": 10,
     "lo_offset": 0,
     "hi_offset": 10,
     "ls_offset": 10,
     "consumer_lag": 3,
     "consumer_lag_stored": 0,
     "leader_epoch": 0,
     "txmsgs": 0,
     "txbytes": 0,
     "rxmsgs": 10,
     "rxbytes": 20,
     "msgs": 10,
     "rx_ver_drops": 0,
     "msgs_inflight": 0,
     "next_ack_seq": 0,
     "next_err_seq": 0,
     "acked_msgid": 0
    },
    "1": {
     "partition": 1,
     "broker": 1,
     "leader": 1,
     "desired": true,
     "unknown": false,
     "msgq_cnt": 0,
     "msgq_bytes": 0,
     "xmit_msgq_cnt": 0,
     "xmit_msgq_bytes": 0,
     "fetchq_cnt": 0,
     "fetchq_size": 0,
     "fetch_state": "active",
     "query_offset": -2,
     "next_offset": 10,
     "app_offset": 10,
     "stored_offset": 10,
     "stored_leader_epoch": 0,
     "commited_offset": 4,
     "committed_offset": 4,
     "committed_leader_epoch": -1,
     "eof_offset": 10,
     "lo_offset": 0,
     "hi_offset": 10,
     "ls_offset": 10,
     "consumer_lag": 6,
     "consumer_lag_stored": 0,
     "leader_epoch": 0,
     "txmsgs": 0,
     "txbytes": 0,
     "rxmsgs": 10,
     "rxbytes": 20,
     "msgs": 10,
     "rx_ver_drops": 0,
     "msgs_inflight": 0,
     "next_ack_seq": 0,
     "next_err_seq": 0,
     "acked_msgid": 0
    },
    "2": {
     "partition": 2,
     "broker": 1,
     "leader": 1,
     "desired": true,
     "unknown": false,
     "msgq_cnt": 0,
     "msgq_bytes": 0,
     "xmit_msgq_cnt": 0,
     "xmit_msgq_bytes": 0,
     "fetchq_cnt": 0,
     "fetchq_size": 0,
     "fetch_state": "active",
     "query_offset": -2,
     "next_offset": 10,
     "app_offset": 10,
     "stored_offset": 10,
     "stored_leader_epoch": 0,
     "commited_offset": -1001,
     "committed_offset": -1001,
     "committed_leader_epoch": 0,
     "eof_offset": 10,
     "lo_offset": 0,
     "hi_offset": 10,
     "ls_offset": 10,
     "consumer_lag": -1,
     "consumer_lag_stored": 0,
     "leader_epoch": 0,
     "txmsgs": 0,
     "txbytes": 0,
     "rxmsgs": 10,
     "rxbytes": 20,
     "msgs": 10,
     "rx_ver_drops": 0,
     "msgs_inflight": 0,
     "next_ack_seq": 0,
     "next_err_seq": 0,
     "acked_msgid": 0
    },
    "-1": {
     "partition": -1,
     "broker": -1,
     "leader": -1,
     "desired": false,
     "unknown": false,
     "msgq_cnt": 0,
     "msgq_bytes": 0,
     "xmit_msgq_cnt": 0,
     "xmit_msgq_bytes": 0,
     "fetchq_cnt": 0,
     "fetchq_size": 0,
     "fetch_state": "none",
     "query_offset": -1001,
     "next_offset": 0,
     "app_offset": -1001,
     "stored_offset": -1001,
     "stored_leader_epoch": -1,
     "commited_offset": -1001,
     "committed_offset": -1001,
     "committed_leader_epoch": -1,
     "eof_offset": -1001,
     "lo_offset": -1001,
     "hi_offset": -1001,
     "ls_offset": -1001,
     "consumer_lag": -1,
     "consumer_lag_stored": -1,
     "leader_epoch": -1,
     "txmsgs": 0,
     "txbytes": 0,
     "rxmsgs": 0,
     "rxbytes": 0,
     "msgs": 0,
     "rx_ver_drops": 0,
     "msgs_inflight": 0,
     "next_ack_seq": 0,
     "next_err_seq": 0,
     "acked_msgid": 0
    }
   }
  }
 },
 "cgrp": {
  "state": "up",
  "stateage": 6003,
  "join_state": "steady",
  "rebalance_age": 2952,
  "rebalance_cnt": 1,
  "rebalance_reason": "",
  "assignment_size": 3
 },
 "tx": 35,
 "tx_bytes": 3036,
 "rx": 34,
 "rx_bytes": 3033,
 "txmsgs": 0,
 "txmsg_bytes": 0,
 "rxmsgs": 30,
 "rxmsg_bytes": 60
}
"#;
}
