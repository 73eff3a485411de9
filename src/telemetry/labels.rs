//! The label values of driftwatch's metrics.
//!
//! Every label value is one of these types, or an enum of the core (`Severity`,
//! `AlertStatus`, `RejectReason`, `Format`, `DatabaseKind`) or of the service (`Stage`,
//! `DeadLetterReason`). None is built from a `&str` or a `String` handed over by a caller:
//!
//! - the closed sets are enums with an `ALL` list, which preregistration walks;
//! - the two sets an operator names, input topics and route destinations, are borrowed
//!   from the configuration or from a record a consumer read (which came from a topic it
//!   subscribed to, so one the configuration names), never from data;
//! - countries and rules are looked up in closed tables and fall back to a fixed value.
//!
//! So an employee, an e-mail address, a user name or an IP address cannot become a label
//! value: there is no constructor that would take one.

use rdkafka::message::Message;

use crate::alert::Severity;
use crate::decode::FormatChoice;
use crate::enrich::DatabaseKind;
use crate::event::Format;
use crate::route::DestinationConfig;
use crate::service::Stage;
use crate::service::config::InputTopic;

/// The `source` label: a Kafka topic the service reads, named by the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicName<'a>(&'a str);

impl<'a> TopicName<'a> {
    /// The topic `record` was read from: one the consumer subscribed to.
    pub fn of(record: &'a impl Message) -> TopicName<'a> {
        TopicName(record.topic())
    }

    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl<'a> From<&'a InputTopic> for TopicName<'a> {
    fn from(input: &'a InputTopic) -> TopicName<'a> {
        TopicName(&input.topic)
    }
}

/// The `destination` label: the name of a `[[route.destination]]` (validated: letters,
/// digits, `_` and `-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestinationName<'a>(&'a str);

impl<'a> DestinationName<'a> {
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl<'a> From<&'a DestinationConfig> for DestinationName<'a> {
    fn from(destination: &'a DestinationConfig) -> DestinationName<'a> {
        DestinationName(&destination.name)
    }
}

/// The `format` label of a consumed or rejected record: the format it decoded as, `auto`
/// when it was rejected before its format was known, or `blank` for an empty line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFormat {
    Known(Format),
    /// Rejected on an `auto` input before any adapter recognised it.
    Auto,
    Blank,
}

impl RecordFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordFormat::Known(f) => f.as_str(),
            RecordFormat::Auto => "auto",
            RecordFormat::Blank => "blank",
        }
    }

    /// The formats an input may hold: every format for `auto`, else its one.
    pub fn possible(choice: FormatChoice) -> Vec<RecordFormat> {
        match choice {
            FormatChoice::Auto => Format::ALL.map(RecordFormat::Known).to_vec(),
            FormatChoice::Fixed(f) => vec![RecordFormat::Known(f)],
        }
    }
}

impl From<Format> for RecordFormat {
    fn from(f: Format) -> RecordFormat {
        RecordFormat::Known(f)
    }
}

/// An input's configured format, for what was rejected before its own format was known.
impl From<FormatChoice> for RecordFormat {
    fn from(c: FormatChoice) -> RecordFormat {
        match c {
            FormatChoice::Auto => RecordFormat::Auto,
            FormatChoice::Fixed(f) => RecordFormat::Known(f),
        }
    }
}

/// The `database` label: the configuration key of a GeoIP database slot.
pub fn database_label(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::City => "city",
        DatabaseKind::Asn => "asn",
        DatabaseKind::AnonymousIp => "anonymous_ip",
    }
}

/// Every GeoIP database slot, for preregistration.
pub const DATABASES: [DatabaseKind; 3] = [
    DatabaseKind::City,
    DatabaseKind::Asn,
    DatabaseKind::AnonymousIp,
];

/// The `result` label of `geoip_lookups_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupResult {
    Found,
    NotFound,
}

impl LookupResult {
    pub const ALL: [LookupResult; 2] = [LookupResult::Found, LookupResult::NotFound];

    pub fn as_str(self) -> &'static str {
        match self {
            LookupResult::Found => "found",
            LookupResult::NotFound => "not_found",
        }
    }
}

/// The `country` label: an ISO 3166-1 alpha-2 code, or `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Country {
    Iso([u8; 2]),
    Unknown,
}

impl Country {
    /// Anything but two ASCII capital letters is `unknown`, so a database or a bug can
    /// never turn an address or a name into a label.
    pub fn of(code: Option<&str>) -> Country {
        match code.map(str::as_bytes) {
            Some(&[a, b]) if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
                Country::Iso([a, b])
            }
            _ => Country::Unknown,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            // Two ASCII capitals are valid UTF-8; the fallback is never taken.
            Country::Iso(code) => std::str::from_utf8(code).unwrap_or(UNKNOWN_COUNTRY),
            Country::Unknown => UNKNOWN_COUNTRY,
        }
    }
}

/// The `country` label for a login without a usable ISO code.
pub const UNKNOWN_COUNTRY: &str = "unknown";

/// The `level` label of `employees_by_risk`: an employee's current risk level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskLevel {
    /// Below the lowest level (`risk::Config::level` is `None`).
    None,
    At(Severity),
}

impl RiskLevel {
    /// Lowest first.
    pub const ALL: [RiskLevel; 5] = [
        RiskLevel::None,
        RiskLevel::At(Severity::Low),
        RiskLevel::At(Severity::Medium),
        RiskLevel::At(Severity::High),
        RiskLevel::At(Severity::Critical),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::None => "none",
            RiskLevel::At(s) => s.as_str(),
        }
    }
}

impl From<Option<Severity>> for RiskLevel {
    fn from(level: Option<Severity>) -> RiskLevel {
        level.map_or(RiskLevel::None, RiskLevel::At)
    }
}

/// The `detector` and `rule` labels: a detector's name, one of [`crate::detect::NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule(&'static str);

impl Rule {
    /// The detector of that name; `None` for any other string.
    pub fn named(name: &str) -> Option<Rule> {
        crate::detect::NAMES
            .iter()
            .find(|n| **n == name)
            .map(|n| Rule(n))
    }

    /// Every detector, in [`crate::detect::NAMES`] order.
    pub fn all() -> impl Iterator<Item = Rule> {
        crate::detect::NAMES.iter().map(|n| Rule(n))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// The stages that process records (`processing_seconds`, `event_lag_seconds`) and that
/// the watch follows (`stage_partitions`, `stage_stalled`, `stage_rejoins`).
pub const PROCESSING_STAGES: [Stage; 4] =
    [Stage::Ingest, Stage::Detect, Stage::Infra, Stage::Route];

/// The stages with state to restore from a changelog and records held for the watermark.
pub const STATEFUL_STAGES: [Stage; 2] = [Stage::Detect, Stage::Infra];

/// What a skipped duplicate was, for the `kind` label of `duplicates_skipped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateKind {
    Login,
    Finding,
    Alert,
    Disposition,
}

impl DuplicateKind {
    pub const ALL: [DuplicateKind; 4] = [
        DuplicateKind::Login,
        DuplicateKind::Finding,
        DuplicateKind::Alert,
        DuplicateKind::Disposition,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateKind::Login => "login",
            DuplicateKind::Finding => "finding",
            DuplicateKind::Alert => "alert",
            DuplicateKind::Disposition => "disposition",
        }
    }
}

/// What arrived behind the watermark, for the `kind` label of `late_records_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LateKind {
    Login,
    NetworkLogin,
    Finding,
}

impl LateKind {
    pub const ALL: [LateKind; 3] = [LateKind::Login, LateKind::NetworkLogin, LateKind::Finding];

    pub fn as_str(self) -> &'static str {
        match self {
            LateKind::Login => "login",
            LateKind::NetworkLogin => "network_login",
            LateKind::Finding => "finding",
        }
    }
}

/// The `result` label of `notifications_total`: what became of one alert at one
/// destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationResult {
    Delivered,
    DeadLettered,
    /// The destination's filters did not take it.
    Skipped,
}

impl NotificationResult {
    pub const ALL: [NotificationResult; 3] = [
        NotificationResult::Delivered,
        NotificationResult::DeadLettered,
        NotificationResult::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationResult::Delivered => "delivered",
            NotificationResult::DeadLettered => "dead_lettered",
            NotificationResult::Skipped => "skipped",
        }
    }
}

/// The `outcome` label of `notification_attempts_total`: one request to a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Ok,
    /// A connection error, a timeout, 408, 425, 429 or 5xx: tried again after a backoff.
    Retry,
    /// Any other 4xx: the payload is dead-lettered, a retry would not change it.
    Rejected,
}

impl AttemptOutcome {
    pub const ALL: [AttemptOutcome; 3] = [
        AttemptOutcome::Ok,
        AttemptOutcome::Retry,
        AttemptOutcome::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Ok => "ok",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Rejected => "rejected",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_label_accepts_only_iso_alpha_2() {
        assert_eq!(Country::of(Some("DE")).as_str(), "DE");
        for bad in [
            None,
            Some(""),
            Some("de"),
            Some("DEU"),
            Some("D"),
            Some("É"),
            Some("1A"),
        ] {
            assert_eq!(Country::of(bad).as_str(), UNKNOWN_COUNTRY, "{bad:?}");
        }
    }

    #[test]
    fn every_detector_is_a_rule_and_nothing_else_is() {
        for name in crate::detect::NAMES {
            assert_eq!(Rule::named(name).map(Rule::as_str), Some(*name));
        }
        assert_eq!(Rule::all().count(), crate::detect::NAMES.len());
        for bad in ["", "alice@example.com", "81.2.69.142", "Claimed_Location"] {
            assert_eq!(Rule::named(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn record_formats_name_the_format_or_what_stood_for_it() {
        assert_eq!(RecordFormat::from(Format::Okta).as_str(), "okta");
        assert_eq!(RecordFormat::from(FormatChoice::Auto).as_str(), "auto");
        assert_eq!(
            RecordFormat::from(FormatChoice::Fixed(Format::CiscoAsa)).as_str(),
            "cisco_asa"
        );
        assert_eq!(RecordFormat::Blank.as_str(), "blank");
        assert_eq!(
            RecordFormat::possible(FormatChoice::Auto).len(),
            Format::ALL.len()
        );
    }

    #[test]
    fn closed_sets_keep_their_values() {
        let values = |v: &[&str]| v.join(",");
        assert_eq!(
            values(&DuplicateKind::ALL.map(DuplicateKind::as_str)),
            "login,finding,alert,disposition"
        );
        assert_eq!(
            values(&LateKind::ALL.map(LateKind::as_str)),
            "login,network_login,finding"
        );
        assert_eq!(
            values(&NotificationResult::ALL.map(NotificationResult::as_str)),
            "delivered,dead_lettered,skipped"
        );
        assert_eq!(
            values(&AttemptOutcome::ALL.map(AttemptOutcome::as_str)),
            "ok,retry,rejected"
        );
        assert_eq!(
            values(&RiskLevel::ALL.map(RiskLevel::as_str)),
            "none,low,medium,high,critical"
        );
        assert_eq!(
            values(&LookupResult::ALL.map(LookupResult::as_str)),
            "found,not_found"
        );
        assert_eq!(
            values(&DATABASES.map(database_label)),
            "city,asn,anonymous_ip"
        );
        assert_eq!(
            values(&PROCESSING_STAGES.map(Stage::as_str)),
            "ingest,detect,infra,route"
        );
        assert_eq!(values(&STATEFUL_STAGES.map(Stage::as_str)), "detect,infra");
    }
}
