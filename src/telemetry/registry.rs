//! [`Metrics`]: one private registry and every metric of `driftwatch run`, registered and
//! preregistered here. The handles are private to [`crate::telemetry`]: a count changes only
//! through an event.

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use super::labels::{
    AttemptOutcome, DATABASES, DestinationName, DuplicateKind, LateKind, LookupResult,
    NotificationResult, PROCESSING_STAGES, RecordFormat, RiskLevel, Rule, STATEFUL_STAGES,
    TopicName, database_label,
};
use crate::alert::{AlertStatus, Severity};
use crate::decode::{FormatChoice, RejectReason};
use crate::service::ingest::DeadLetterReason;

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

/// Delivery of an alert to a destination: from tens of milliseconds to a destination that
/// was down for hours (the alert waits, it is not lost).
const NOTIFICATION_BUCKETS: [f64; 14] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3_600.0,
];

/// Every metric of the service, registered in one private registry (not the crate-global
/// default one, so that tests and several services in one process never see each other's
/// counts).
///
/// Each handle says which events change it; the label values are those of
/// [`super::labels`].
pub struct Metrics {
    pub(super) registry: Registry,
    /// Records read from an input topic. Labels: `source`, `format`.
    /// [`super::RecordConsumed`].
    pub(super) records_consumed: IntCounterVec,
    /// Records that did not decode. Labels: `source`, `format`, `reason`.
    /// [`super::RecordRejected`].
    pub(super) records_rejected: IntCounterVec,
    /// Logins whose account matched no employee. Label: `source`.
    /// [`super::UnknownUserSeen`].
    pub(super) unknown_users: IntCounterVec,
    /// Records written to the dead-letter topic. Labels: `source`, `reason`.
    /// [`super::RecordDeadLettered`].
    pub(super) dead_lettered: IntCounterVec,
    /// Enrichments per configured database. Labels: `database`, `result`.
    /// [`super::LoginEnriched`].
    pub(super) geoip_lookups: IntCounterVec,
    /// Findings of the detectors. Labels: `detector`, `severity`. [`super::FindingsRaised`].
    pub(super) findings: IntCounterVec,
    /// Alert lines produced. Labels: `rule`, `severity`, `status`. [`super::AlertRaised`].
    pub(super) alerts: IntCounterVec,
    /// Time to handle one record in a stage. Label: `stage`. [`super::BatchProcessed`].
    pub(super) processing_seconds: HistogramVec,
    /// Wall clock minus event time when a stage handles a record. Label: `stage`.
    /// [`super::EventLagObserved`].
    pub(super) event_lag_seconds: HistogramVec,
    /// Messages not yet committed per assigned input partition. Labels: `topic`,
    /// `partition`. [`super::ConsumerStatsReceived`].
    pub(super) consumer_lag: IntGaugeVec,
    /// The `(topic, partition)` pairs `consumer_lag` holds, so that partitions this
    /// process no longer owns lose their series instead of showing a stale lag forever.
    pub(super) lag_series: Mutex<HashSet<(String, String)>>,
    /// Employees whose state this process holds. [`super::EmployeesTallied`].
    pub(super) employees_tracked: IntGauge,
    /// Employees per current risk level. Label: `level`. [`super::EmployeesTallied`].
    pub(super) employees_by_risk: IntGaugeVec,
    /// Resolved logins per country. Label: `country`. [`super::LoginLocated`].
    pub(super) logins_by_country: IntCounterVec,
    /// Time to restore a partition's state. Label: `stage`. [`super::StateRestored`].
    pub(super) restore_seconds: HistogramVec,
    /// Employees restored from changelogs. Label: `stage`. [`super::StateRestored`].
    pub(super) restored_employees: IntCounterVec,
    /// Failed attempts to restore a partition (retried every second). Label: `stage`.
    /// [`super::StateRestoreFailed`].
    pub(super) restore_failures: IntCounterVec,
    /// State records written to the changelog topic. [`super::ChangelogWritten`].
    pub(super) changelog_writes: IntCounter,
    /// Redelivered input skipped because its effect was already recorded. Label: `kind`.
    /// [`super::DuplicateSkipped`].
    pub(super) duplicates_skipped: IntCounterVec,
    /// When the vendor built each loaded GeoIP database. Label: `database`.
    /// [`super::GeoipDatabasesLoaded`].
    pub(super) geoip_database_build_timestamp_seconds: IntGaugeVec,
    /// Always 1; the label carries the crate version. Label: `version`. Set once here.
    pub(super) build_info: IntGaugeVec,
    /// 1 while every stage has restored and reads input (`/readyz`).
    /// [`super::ReadinessObserved`].
    pub(super) ready: IntGauge,
    /// Partitions each stage's consumer holds. Label: `stage`.
    /// [`super::StagePartitionsObserved`].
    pub(super) stage_partitions: IntGaugeVec,
    /// 1 while a stage holds no partitions and its group's backlog stands still (see
    /// `service::watch`). Label: `stage`. [`super::StagePartitionsObserved`].
    pub(super) stage_stalled: IntGaugeVec,
    /// Times the watch made a stalled stage rejoin its group. Label: `stage`.
    /// [`super::StageRejoined`].
    pub(super) stage_rejoins: IntCounterVec,
    /// Logins a stage holds until its watermark passes them. Label: `stage`.
    /// [`super::RecordsHeld`].
    pub(super) held_records: IntGaugeVec,
    /// How far, in event-time seconds, what a stage applied lags behind the latest login
    /// it read. Label: `stage`. [`super::RecordsHeld`].
    pub(super) watermark_lag_seconds: GaugeVec,
    /// The event time up to which every partition of a stage has applied what it read, Unix
    /// seconds (Flink's "current watermark"). Label: `stage`. [`super::WatermarkPublished`].
    pub(super) watermark_timestamp_seconds: GaugeVec,
    /// Records that arrived behind the watermark, applied at once out of order (never
    /// dropped). Label: `kind`. [`super::LateRecordApplied`].
    pub(super) late_records: IntCounterVec,
    /// Logins applied without waiting longer for another stage's watermark.
    /// [`super::WatermarkTimedOut`].
    pub(super) watermark_timeouts: IntCounter,
    /// HTTP connections closed on accept, at the limit of open connections.
    /// [`super::HttpConnectionRefused`].
    pub(super) http_refused: IntCounter,
    /// Logins from addresses that place nobody (private, loopback...). Label: `source`.
    /// [`super::UnroutableLoginSeen`].
    pub(super) unroutable_logins: IntCounterVec,
    /// Alerts handled per destination. Labels: `destination`, `result`.
    /// [`super::NotificationDelivered`], [`super::NotificationDeadLettered`],
    /// [`super::NotificationSkipped`].
    pub(super) notifications: IntCounterVec,
    /// Requests to a destination. Labels: `destination`, `outcome`.
    /// [`super::NotificationAttempted`].
    pub(super) notification_attempts: IntCounterVec,
    /// From an alert's write to its acknowledgement. Label: `destination`.
    /// [`super::NotificationDelivered`].
    pub(super) notification_latency_seconds: HistogramVec,
    /// Alerts read for a destination and not yet delivered or dead-lettered. Label:
    /// `destination`. [`super::NotificationsPending`].
    pub(super) notification_pending: IntGaugeVec,
    /// When a destination last acknowledged a request. Label: `destination`.
    /// [`super::NotificationAttempted`] (`ok`).
    pub(super) notification_last_success_timestamp_seconds: IntGaugeVec,
}

impl Metrics {
    /// Register every metric (and, on Linux, the process collector: resident memory, CPU,
    /// open files) in a new registry, with every series whose labels are known up front.
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
                "stage",
            )?,
            event_lag_seconds: histogram_vec(
                &r,
                "event_lag_seconds",
                "Wall clock minus event time when a stage handles a record.",
                &EVENT_LAG_BUCKETS,
                "stage",
            )?,
            consumer_lag: gauge_vec(
                &r,
                "consumer_lag",
                "Messages not yet committed per assigned input partition (librdkafka).",
                &["topic", "partition"],
            )?,
            lag_series: Mutex::new(HashSet::new()),
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
                "stage",
            )?,
            restored_employees: counter_vec(
                &r,
                "restored_employees_total",
                "Employees restored from changelogs.",
                &["stage"],
            )?,
            restore_failures: counter_vec(
                &r,
                "restore_failures_total",
                "Failed attempts to restore a partition's state (retried).",
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
            stage_partitions: gauge_vec(
                &r,
                "stage_partitions",
                "Partitions each stage's consumer holds now.",
                &["stage"],
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
            watermark_timeouts: registered(
                &r,
                IntCounter::with_opts(opts(
                    "watermark_timeouts_total",
                    "Logins detect applied without waiting longer for the infra watermark.",
                ))?,
            )?,
            http_refused: registered(
                &r,
                IntCounter::with_opts(opts(
                    "http_connections_refused_total",
                    "HTTP connections closed on accept: the server held its limit of open connections.",
                ))?,
            )?,
            unroutable_logins: counter_vec(
                &r,
                "unroutable_logins_total",
                "Logins from private, loopback, link-local, multicast or unspecified addresses.",
                &["source"],
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
            notification_latency_seconds: histogram_vec(
                &r,
                "notification_latency_seconds",
                "From an alert's write to its acknowledgement by the destination.",
                &NOTIFICATION_BUCKETS,
                "destination",
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
        for db in DATABASES {
            for result in LookupResult::ALL {
                self.geoip_lookups
                    .with_label_values(&[database_label(db), result.as_str()]);
            }
        }
        for stage in PROCESSING_STAGES.map(|s| [s.as_str()]) {
            self.processing_seconds.with_label_values(&stage);
            self.event_lag_seconds.with_label_values(&stage);
            self.stage_partitions.with_label_values(&stage);
            self.stage_stalled.with_label_values(&stage);
            self.stage_rejoins.with_label_values(&stage);
        }
        for kind in DuplicateKind::ALL {
            self.duplicates_skipped.with_label_values(&[kind.as_str()]);
        }
        for kind in LateKind::ALL {
            self.late_records.with_label_values(&[kind.as_str()]);
        }
        // A restore happens at start, before the first scrape, so without these series
        // `increase()` would never see the first one.
        for stage in STATEFUL_STAGES.map(|s| [s.as_str()]) {
            self.restore_failures.with_label_values(&stage);
            self.restore_seconds.with_label_values(&stage);
            self.restored_employees.with_label_values(&stage);
            self.held_records.with_label_values(&stage);
            self.watermark_lag_seconds.with_label_values(&stage);
            self.watermark_timestamp_seconds.with_label_values(&stage);
        }
        for level in RiskLevel::ALL {
            self.employees_by_risk.with_label_values(&[level.as_str()]);
        }
        // Every rule at every severity: a dashboard's "by rule" panel and an alerting rule
        // on the first alert of a kind see the series before anything is found.
        for rule in Rule::all().map(Rule::as_str) {
            for severity in Severity::ALL.map(Severity::as_str) {
                self.findings.with_label_values(&[rule, severity]);
                for status in AlertStatus::ALL.map(AlertStatus::as_str) {
                    self.alerts.with_label_values(&[rule, severity, status]);
                }
            }
        }
    }

    /// Create the series of one input topic at 0 (the ingest stage calls this for each
    /// input): records read in each format it may hold (every format for `auto`), records
    /// rejected and dead-lettered for every reason, unknown users. Rejections are counted
    /// under the topic's configured format until a record's own format is known, so those
    /// are the series made here.
    pub fn preregister_input(&self, topic: TopicName<'_>, format: FormatChoice) {
        let source = topic.as_str();
        let configured = RecordFormat::from(format).as_str();
        for f in RecordFormat::possible(format) {
            self.records_consumed
                .with_label_values(&[source, f.as_str()]);
        }
        for reason in RejectReason::ALL.map(RejectReason::as_str) {
            self.records_rejected
                .with_label_values(&[source, configured, reason]);
        }
        for reason in DeadLetterReason::of_input() {
            self.dead_lettered
                .with_label_values(&[source, reason.as_str()]);
        }
        self.unknown_users.with_label_values(&[source]);
    }

    /// Create the series of one route destination at 0, so that rates and alerting rules
    /// see them from the start (the route stage calls this for each destination).
    pub fn preregister_destination(&self, destination: DestinationName<'_>) {
        let d = destination.as_str();
        for result in NotificationResult::ALL {
            self.notifications.with_label_values(&[d, result.as_str()]);
        }
        for outcome in AttemptOutcome::ALL {
            self.notification_attempts
                .with_label_values(&[d, outcome.as_str()]);
        }
        self.notification_latency_seconds.with_label_values(&[d]);
        self.notification_pending.with_label_values(&[d]);
    }

    /// Every metric in the Prometheus text exposition format (version 0.0.4), for
    /// `/metrics`.
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

/// A histogram with one label (every histogram of the service has one: `stage` or
/// `destination`).
fn histogram_vec(
    r: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
    label: &str,
) -> prometheus::Result<HistogramVec> {
    let o = HistogramOpts::from(opts(name, help)).buckets(buckets.to_vec());
    registered(r, HistogramVec::new(o, &[label])?)
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
    use std::net::IpAddr;

    use super::*;
    use crate::decode::RejectReason;
    use crate::enrich::DatabaseKind;
    use crate::event::Format;
    use crate::service::Stage;
    use crate::telemetry::labels::{Country, UNKNOWN_COUNTRY};
    use crate::telemetry::read::find;
    use crate::telemetry::testing::{consumer_stats, input, ip, maxmind};
    use crate::telemetry::*;

    #[test]
    fn exposition_parses_and_no_label_names_a_person_or_an_address() {
        let m = Metrics::new();
        let enricher = maxmind();
        let databases = enricher.databases();
        let configured: Vec<DatabaseKind> = databases.iter().map(|d| d.kind).collect();
        GeoipDatabasesLoaded {
            databases: &databases,
        }
        .emit(&m);
        // London (City + Anonymous-IP), Milton WA (City + ASN), Telstra (ASN only),
        // TEST-NET-1 (nothing).
        for addr in ["81.2.69.142", "216.160.83.56", "1.128.0.1", "192.0.2.1"] {
            let geo = enricher.lookup_uncached(ip(addr));
            LoginEnriched {
                geo: &geo,
                configured: &configured,
            }
            .emit(&m);
            LoginLocated {
                country: Country::of(geo.country.as_deref()),
            }
            .emit(&m);
        }
        // What a bug upstream could hand over instead of a country code.
        for bad in [
            "81.2.69.142",
            "alice@example.com",
            "gb",
            "GBR",
            "2001:db8::1",
        ] {
            LoginLocated {
                country: Country::of(Some(bad)),
            }
            .emit(&m);
        }
        let okta = input("logins.okta", FormatChoice::Fixed(Format::Okta));
        let topic = TopicName::from(&okta);
        for _ in 0..4 {
            RecordConsumed {
                topic,
                format: Format::Okta.into(),
            }
            .emit(&m);
        }
        RecordRejected {
            topic,
            format: Format::Okta.into(),
            reason: RejectReason::MissingIp,
        }
        .emit(&m);
        UnknownUserSeen { topic }.emit(&m);
        RecordDeadLettered {
            topic,
            reason: DeadLetterReason::Rejected(RejectReason::MissingIp),
        }
        .emit(&m);
        FindingsRaised {
            rule: Rule::named("claimed_location").unwrap_or_else(|| panic!("no such rule")),
            severity: Severity::High,
            count: 1,
        }
        .emit(&m);
        AlertRaised {
            rule: Rule::named("claimed_location"),
            severity: Severity::High,
            status: AlertStatus::Open,
        }
        .emit(&m);
        BatchProcessed {
            stage: Stage::Ingest,
            records: 1,
            elapsed: std::time::Duration::from_micros(200),
        }
        .emit(&m);
        EventLagObserved {
            stage: Stage::Detect,
            event_time: chrono::Utc::now() - chrono::Duration::seconds(42),
        }
        .emit(&m);
        StateRestored {
            stage: Stage::Detect,
            partition: 0,
            employees: 250,
            elapsed: std::time::Duration::from_millis(1500),
        }
        .emit(&m);
        ChangelogWritten { records: 1 }.emit(&m);
        DuplicateSkipped {
            kind: DuplicateKind::Alert,
        }
        .emit(&m);
        EmployeesTallied::of([None, Some(Severity::High)]).emit(&m);
        let stats = consumer_stats();
        ConsumerStatsReceived { stats: &stats }.emit(&m);

        // promtool checks this exposition in tests/exposition.rs (external tier).
        let body = m.render();
        let samples = m.samples();
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
        let value = |name, labels: &[(&str, &str)]| find(&samples, name, labels);
        let country = |c| value("driftwatch_logins_by_country_total", &[("country", c)]);
        assert_eq!(country("GB"), Some(1.0));
        assert_eq!(country("US"), Some(1.0));
        assert_eq!(country(UNKNOWN_COUNTRY), Some(7.0));
        let lookups = |db, result| {
            value(
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
                "driftwatch_build_info",
                &[("version", env!("CARGO_PKG_VERSION"))]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                "driftwatch_processing_seconds_bucket",
                &[("stage", "ingest"), ("le", "0.00025")]
            ),
            Some(1.0)
        );
        #[cfg(target_os = "linux")]
        assert!(value("process_resident_memory_bytes", &[]).is_some_and(|v| v > 0.0));
        // What the text shows is what the registry holds.
        assert!(
            body.contains(
                "driftwatch_records_consumed_total{format=\"okta\",source=\"logins.okta\"} 4\n"
            ),
            "{body}"
        );
    }

    #[test]
    fn series_with_known_labels_exist_before_the_first_event() {
        let m = Metrics::new();
        let samples = m.samples();
        let value = |name, labels: &[(&str, &str)]| find(&samples, name, labels);
        for level in ["none", "low", "medium", "high", "critical"] {
            assert_eq!(
                value("driftwatch_employees_by_risk", &[("level", level)]),
                Some(0.0),
                "{level}"
            );
        }
        for kind in DuplicateKind::ALL.map(DuplicateKind::as_str) {
            let v = value("driftwatch_duplicates_skipped_total", &[("kind", kind)]);
            assert_eq!(v, Some(0.0), "{kind}");
        }
        for stage in PROCESSING_STAGES.map(Stage::as_str) {
            let v = value("driftwatch_processing_seconds_count", &[("stage", stage)]);
            assert_eq!(v, Some(0.0), "{stage}");
        }
        assert_eq!(
            value(
                "driftwatch_geoip_lookups_total",
                &[("database", "anonymous_ip"), ("result", "not_found")]
            ),
            Some(0.0)
        );
        for rule in crate::detect::NAMES {
            for severity in Severity::ALL.map(Severity::as_str) {
                let finding = [("detector", *rule), ("severity", severity)];
                let v = value("driftwatch_findings_total", &finding);
                assert_eq!(v, Some(0.0), "{rule} {severity}");
                for status in ["open", "escalated"] {
                    let labels = [("rule", *rule), ("severity", severity), ("status", status)];
                    let v = value("driftwatch_alerts_total", &labels);
                    assert_eq!(v, Some(0.0), "{rule} {severity} {status}");
                }
            }
        }
    }

    #[test]
    fn an_input_topics_series_exist_before_its_first_record() {
        let m = Metrics::new();
        let okta = input("logins.okta", FormatChoice::Fixed(Format::Okta));
        let vpn = input("vpn", FormatChoice::Auto);
        m.preregister_input(TopicName::from(&okta), okta.format);
        m.preregister_input(TopicName::from(&vpn), vpn.format);
        let samples = m.samples();
        let value = |name, labels: &[(&str, &str)]| find(&samples, name, labels);
        let consumed = |source, format| {
            value(
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
            let v = value("driftwatch_records_rejected_total", &rejected);
            assert_eq!(v, Some(0.0), "{reason}");
            let dead = [("source", "logins.okta"), ("reason", reason)];
            let v = value("driftwatch_dead_lettered_total", &dead);
            assert_eq!(v, Some(0.0), "{reason}");
        }
        for source in ["logins.okta", "vpn"] {
            let v = value("driftwatch_unknown_users_total", &[("source", source)]);
            assert_eq!(v, Some(0.0), "{source}");
            let dead = [
                ("source", source),
                ("reason", DeadLetterReason::UnknownUser.as_str()),
            ];
            let v = value("driftwatch_dead_lettered_total", &dead);
            assert_eq!(v, Some(0.0), "{source}");
        }
    }
}
