//! What a compliance report holds. The JSON output is these types serialized; the HTML and
//! CSV outputs render them. Shares are fractions (0–1), `None` (JSON `null`) when there is
//! nothing to divide by, so "no data" never reads as 0 %.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Period;
use crate::alert::{Evidence, Severity};
use crate::enrich::{DatabaseInfo, ListInfo};
use crate::suppress::Verdict;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceReport {
    pub period: Period,
    pub generated_at: DateTime<Utc>,
    /// Employee ids (and account names inside alert text) are replaced by pseudonyms.
    pub pseudonymised: bool,
    pub population: Population,
    /// Employees not where or not when they claim in the period, highest risk first
    /// (the criterion: [`super::exceptions::CRITERION`]).
    pub exceptions: Vec<Exception>,
    /// One row per roster employee, sorted by the id (or pseudonym) shown.
    pub employees: Vec<EmployeeRow>,
    /// Every alert with a line in the period, in the order they opened.
    pub alerts: Vec<AlertEntry>,
    /// Shared-infrastructure clusters named by the period's alerts.
    pub clusters: Vec<Cluster>,
    pub method: Method,
}

/// Figures over the whole roster.
#[derive(Debug, Clone, Serialize)]
pub struct Population {
    pub employees_in_roster: u64,
    /// Roster employees by status (`active`, `leave`, `terminated`).
    pub employees_by_status: BTreeMap<String, u64>,
    /// Employees with at least one login in the period.
    pub employees_active: u64,
    #[serde(flatten)]
    pub logins: LoginCounts,
    /// `logins_from_claimed_country / located_logins`.
    pub share_from_claimed_country: Option<f64>,
    /// Employees with enough activity for the working-hours rule to infer an offset.
    pub employees_timezone_inferred: u64,
    /// ... of whom the inferred offset is at least `min_offset_gap_hours` from the claim.
    pub employees_timezone_differs: u64,
    /// Employees with at least one login through an anonymizer.
    pub employees_using_anonymizers: u64,
    /// Employees whose anonymizer share is at least the anonymizer rule's `high_share`.
    pub employees_mostly_anonymized: u64,
    /// Per-employee share of logins from the claimed country (employees with located
    /// logins).
    pub claimed_country_share_distribution: Vec<Bin>,
    /// Per-employee share of logins through anonymizers (employees with logins).
    pub anonymizer_share_distribution: Vec<Bin>,
    pub shared_infrastructure_clusters: u64,
    pub alerts: AlertFigures,
    pub records: RecordFigures,
}

/// Interactive logins in the period, one employee's or everyone's. A login is an
/// interactive event (`interactive_login`, `mfa`, `vpn_session_start`) — what the
/// detectors score; one sign-in may be several records (session, MFA, SSO into apps).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LoginCounts {
    /// Successful (or outcome-unknown) logins.
    pub logins: u64,
    /// Failed ones, counted apart: they are someone else's guesses as often as the
    /// employee's, and the detectors do not score them.
    pub failed_logins: u64,
    /// Logins from allowlisted addresses (corporate egress, allowlisted networks / ASNs):
    /// they say nothing about where the person is.
    pub allowlisted_logins: u64,
    /// Logins through an anonymizer (VPN, hosting, Tor, proxy), not allowlisted.
    pub anonymized_logins: u64,
    /// Logins with a country, neither allowlisted nor through an anonymizer.
    pub located_logins: u64,
    /// Located logins from the claimed country.
    pub logins_from_claimed_country: u64,
}

impl LoginCounts {
    /// `logins_from_claimed_country / located_logins`.
    pub fn share_from_claimed_country(&self) -> Option<f64> {
        ratio(self.logins_from_claimed_country, self.located_logins)
    }

    /// `anonymized_logins / (logins − allowlisted_logins)`: the anonymizer rule's share.
    pub fn anonymizer_share(&self) -> Option<f64> {
        ratio(
            self.anonymized_logins,
            self.logins.saturating_sub(self.allowlisted_logins),
        )
    }

    pub(crate) fn add(&mut self, o: &LoginCounts) {
        self.logins += o.logins;
        self.failed_logins += o.failed_logins;
        self.allowlisted_logins += o.allowlisted_logins;
        self.anonymized_logins += o.anonymized_logins;
        self.located_logins += o.located_logins;
        self.logins_from_claimed_country += o.logins_from_claimed_country;
    }
}

pub(crate) fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// One bar of a distribution: employees whose share is in `[from, to)` (the last bin
/// includes 1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    pub label: String,
    pub from: f64,
    pub to: f64,
    pub employees: u64,
}

/// Alerts with a line in the period.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertFigures {
    pub total: u64,
    /// Still open at the end of the period and not closed by an analyst.
    pub open: u64,
    /// Alerts naming each rule (an alert with two rules counts under both).
    pub by_rule: BTreeMap<String, u64>,
    /// By the highest severity each reached.
    pub by_severity: BTreeMap<Severity, u64>,
    /// By the latest disposition of each alert: `true_positive`, `benign`,
    /// `false_positive`, or `none`.
    pub by_disposition: BTreeMap<String, u64>,
}

/// What was read, so a reader can judge the data behind the figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecordFigures {
    /// Non-blank records in the inputs.
    pub records: u64,
    pub rejected: u64,
    /// Decoded events whose account is not in the roster, and how many accounts.
    pub unknown_user_events: u64,
    pub unknown_accounts: u64,
    /// Resolved events before the period: applied, so the detectors start the period
    /// with what they learned, but not counted in any figure.
    pub events_before_period: u64,
    /// Resolved events in the period (all kinds).
    pub events_in_period: u64,
    /// Resolved events at or after the period's end: neither applied nor counted.
    pub events_after_period: u64,
    /// Events later than the engine's lateness (applied out of order).
    pub late_events: u64,
}

/// One employee.
#[derive(Debug, Clone, Serialize)]
pub struct EmployeeRow {
    /// The roster id, or its pseudonym.
    pub employee: String,
    pub status: String,
    pub claimed_country: String,
    pub claimed_city: Option<String>,
    pub claimed_timezone: String,
    #[serde(flatten)]
    pub logins: LoginCounts,
    pub share_from_claimed_country: Option<f64>,
    pub anonymizer_share: Option<f64>,
    /// The claimed zone's UTC offset at the end of the period (DST included).
    pub claimed_offset_hours: Option<f64>,
    /// The offset the working-hours rule infers from the activity it holds at the end of
    /// the period; `None` before it has enough (`min_active_days`).
    pub inferred_offset_hours: Option<f64>,
    /// Whether they are at least `min_offset_gap_hours` apart; `None` when not inferred.
    pub timezone_differs: Option<bool>,
    /// This employee's alerts with a line in the period.
    pub alerts: Vec<AlertRef>,
    /// Dispositions of those alerts, and any others of this employee made in the period.
    pub dispositions: Vec<DispositionRef>,
}

impl EmployeeRow {
    /// Alerts still open (and not closed by an analyst) at the end of the period.
    pub fn open_alerts(&self) -> impl Iterator<Item = &AlertRef> {
        self.alerts.iter().filter(|a| a.status == AlertStatus::Open)
    }

    /// The highest severity of any of the period's alerts.
    pub fn highest_severity(&self) -> Option<Severity> {
        self.alerts.iter().map(|a| a.severity).max()
    }
}

/// An employee not where or not when they claim (see [`super::exceptions`]): the verdict,
/// and their row as [`ComplianceReport::employees`] has it (the claim beside what the
/// period showed, their alerts and the analysts' dispositions), whose fields the JSON
/// lists beside the verdict's.
#[derive(Debug, Clone, Serialize)]
pub struct Exception {
    /// Not where they claim: an alert names a place rule.
    pub not_where: bool,
    /// Not when they claim: an alert names an hours rule, or they logged in during the
    /// period and the inferred working zone differs from the claimed one
    /// ([`Exception::timezone_differs`]).
    pub not_when: bool,
    /// The place rules their alerts name.
    pub place_rules: Vec<String>,
    /// The hours rules their alerts name.
    pub hours_rules: Vec<String>,
    /// What they are sorted by: the highest risk of their alerts in the period that no
    /// analyst judged benign or a false positive; `None` when there is none.
    pub risk: Option<u8>,
    /// The highest risk of any of their alerts in the period.
    pub highest_risk: Option<u8>,
    /// One of their alerts is still open at the end of the period.
    pub open: bool,
    #[serde(flatten)]
    pub row: EmployeeRow,
}

impl Exception {
    /// The inferred zone makes them an exception: they logged in during the period and
    /// the zone inferred at its end differs from the claimed one.
    pub fn timezone_differs(&self) -> bool {
        self.row.logins.logins > 0 && self.row.timezone_differs == Some(true)
    }
}

/// Where an alert stands at the end of the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Still the employee's open alert (its risk has not decayed away), and no analyst
    /// closed it (a `true_positive` verdict keeps it open).
    Open,
    /// The risk decayed away or a later alert replaced it.
    Closed,
    /// An analyst judged it `benign` or `false_positive`.
    Disposed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Closed => "closed",
            AlertStatus::Disposed => "disposed",
        }
    }
}

/// An alert as an employee row (and so an exception) names it: an [`AlertEntry`] without
/// its employee and lines.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRef {
    pub id: String,
    pub opened: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub severity: Severity,
    pub rules: Vec<String>,
    pub risk: u8,
    pub status: AlertStatus,
    /// Its latest disposition, when the audit log has one.
    pub disposition: Option<DispositionRef>,
}

impl AlertRef {
    pub fn of(a: &AlertEntry) -> AlertRef {
        AlertRef {
            id: a.id.clone(),
            opened: a.opened,
            updated: a.updated,
            severity: a.severity,
            rules: a.rules.clone(),
            risk: a.risk,
            status: a.status,
            disposition: a.disposition.clone(),
        }
    }
}

/// One alert: every line it had up to the end of the period.
#[derive(Debug, Clone, Serialize)]
pub struct AlertEntry {
    pub id: String,
    pub employee: String,
    /// Time of its first line (may be before the period).
    pub opened: DateTime<Utc>,
    /// Time of its last line.
    pub updated: DateTime<Utc>,
    /// The highest severity it reached.
    pub severity: Severity,
    pub rules: Vec<String>,
    /// The highest risk it reached.
    pub risk: u8,
    pub status: AlertStatus,
    /// Its latest disposition, when the audit log has one.
    pub disposition: Option<DispositionRef>,
    pub lines: Vec<AlertLine>,
}

/// One line of an alert (open, then each escalation).
#[derive(Debug, Clone, Serialize)]
pub struct AlertLine {
    pub time: DateTime<Utc>,
    pub status: crate::alert::AlertStatus,
    pub severity: Severity,
    pub rules: Vec<String>,
    pub risk: u8,
    pub summary: String,
    pub evidence: Vec<Evidence>,
}

/// An analyst's disposition as the audit log recorded it.
#[derive(Debug, Clone, Serialize)]
pub struct DispositionRef {
    /// The audit record's sequence number.
    pub seq: u64,
    /// When it was recorded (the audit record's time): when the analyst decided.
    pub recorded: DateTime<Utc>,
    pub actor: String,
    pub verdict: Verdict,
    pub alert_id: Option<String>,
    pub note: String,
    /// The event-time span its rules are silenced for (benign and false positive).
    pub suppressed_from: DateTime<Utc>,
    pub suppressed_until: DateTime<Utc>,
}

/// Employees claiming different places seen on one network.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    /// The IPv4 address or IPv6 /64.
    pub network: String,
    /// The most employees any alert saw on it.
    pub employees_on_network: u32,
    pub members: Vec<ClusterMember>,
    /// Times of the first and last alert line naming it.
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub alerts: Vec<String>,
}

/// One employee of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ClusterMember {
    pub employee: String,
    pub claimed_country: String,
    pub claimed_city: Option<String>,
}

/// How the figures were made: enough to reproduce them.
#[derive(Debug, Clone, Serialize)]
pub struct Method {
    pub driftwatch_version: String,
    pub period: Period,
    pub generated_at: DateTime<Utc>,
    /// The `[detect]`, `[risk]` and `[suppress]` sections of the configuration file as
    /// written (TOML); every setting not shown has its documented default
    /// (`driftwatch.example.toml` of this version).
    pub settings_toml: String,
    pub geoip_databases: Vec<DatabaseInfo>,
    pub intel_lists: Vec<ListInfo>,
    /// SHA-256 of every file the figures come from: configuration, roster, approved
    /// trips, databases, lists and inputs.
    pub files: Vec<FileDigest>,
    pub audit_log: Option<AuditSummary>,
    /// How employee ids were pseudonymised, when they were.
    pub pseudonymisation: Option<String>,
    /// What each figure counts, in words.
    pub definitions: Vec<Definition>,
}

/// A file and its digest.
#[derive(Debug, Clone, Serialize)]
pub struct FileDigest {
    /// `config`, `roster`, `approved_travel`, `geoip`, `intel_list` or `input`.
    pub role: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

/// The audit log the dispositions came from.
#[derive(Debug, Clone, Serialize)]
pub struct AuditSummary {
    pub path: PathBuf,
    pub records: u64,
    pub dispositions: u64,
    /// Sequence number and hash of the last record: the chain verified up to here.
    pub head_seq: Option<u64>,
    pub head_hash: Option<String>,
}

/// A figure's name and what it counts.
#[derive(Debug, Clone, Serialize)]
pub struct Definition {
    pub figure: &'static str,
    pub meaning: &'static str,
}
