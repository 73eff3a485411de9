//! SIEM-native alert lines: one [`Alert`] as an OCSF Detection Finding ([`ocsf`]) or an
//! ECS document ([`ecs`]), and [`read_alert`], which reads a line in any of the three
//! formats back into the [`Alert`] it came from.
//!
//! Pure and deterministic: no clock, no I/O; the same alert gives the same bytes, so a
//! replay in `ocsf` or `ecs` is as byte-identical as one in `driftwatch`. Every OCSF and ECS
//! line carries the driftwatch alert whole (OCSF `unmapped.driftwatch`, ECS custom
//! `driftwatch.alert`): nothing is lost in the mapping, and driftwatch's own readers of the
//! alerts topic (route, API view, audit, demo, the detect stage's restore) and
//! `evaluate --alerts` take whichever format a site chose.
//!
//! The mapping of one piece of evidence lives in one place per format
//! ([`ocsf::evidence`], [`ecs::document`]), so a new [`crate::alert::Evidence`] field
//! gets its home by one match arm.

pub mod ecs;
pub mod ocsf;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::alert::{Alert, Evidence};
use crate::event::EventKind;

/// How alert lines are written: `replay --alerts-format`, `[kafka] alerts_format`, and
/// `format` of a `webhook` or `file` destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum AlertsFormat {
    /// driftwatch's own alert object (docs/alerts.md).
    #[default]
    Driftwatch,
    /// OCSF Detection Finding (class_uid 2004).
    Ocsf,
    /// Elastic Common Schema document with `event.kind: alert`.
    Ecs,
}

impl AlertsFormat {
    /// Every format, for tests and help texts.
    pub const ALL: [AlertsFormat; 3] = [
        AlertsFormat::Driftwatch,
        AlertsFormat::Ocsf,
        AlertsFormat::Ecs,
    ];

    /// The name in the configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertsFormat::Driftwatch => "driftwatch",
            AlertsFormat::Ocsf => "ocsf",
            AlertsFormat::Ecs => "ecs",
        }
    }
}

/// Where an alert stands for the receiver of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// As the alert says: `open` (OCSF activity Create) or `escalated` (Update).
    AsWritten,
    /// Closed by an analyst's disposition (the route stage's `resolve`; OCSF activity
    /// Close, status Resolved).
    Resolved,
}

/// The product version every line names: this build's.
pub const PRODUCT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `alert` in `format`, as a JSON value.
pub fn to_value(alert: &Alert, format: AlertsFormat, lifecycle: Lifecycle) -> Value {
    match format {
        AlertsFormat::Driftwatch => serde_json::to_value(alert).unwrap_or(Value::Null),
        AlertsFormat::Ocsf => ocsf::finding(alert, PRODUCT_VERSION, lifecycle),
        AlertsFormat::Ecs => ecs::document(alert, PRODUCT_VERSION, lifecycle),
    }
}

/// Append `alert` in `format` to `out` as one line of JSON, without the newline.
pub fn write_line(out: &mut Vec<u8>, alert: &Alert, format: AlertsFormat) {
    // Serialising a value made of maps, strings and numbers cannot fail.
    let _ = match format {
        AlertsFormat::Driftwatch => serde_json::to_writer(&mut *out, alert),
        _ => serde_json::to_writer(&mut *out, &to_value(alert, format, Lifecycle::AsWritten)),
    };
}

/// `alert` in `format`, as bytes (one line without its newline).
pub fn to_line(alert: &Alert, format: AlertsFormat) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048);
    write_line(&mut out, alert, format);
    out
}

/// Why a line is not an alert driftwatch wrote.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not JSON, or not an object.
    #[error("not a JSON object: {0}")]
    Json(serde_json::Error),
    /// Neither OCSF nor ECS, and not a driftwatch alert either.
    #[error("driftwatch alert: {0}")]
    Driftwatch(serde_json::Error),
    /// An OCSF event some other product wrote.
    #[error("OCSF line without unmapped.driftwatch: not an alert driftwatch wrote")]
    OcsfWithoutAlert,
    /// An ECS document some other product wrote.
    #[error("ECS line without driftwatch.alert: not an alert driftwatch wrote")]
    EcsWithoutAlert,
    /// The embedded alert does not read as one.
    #[error("{format} line: the embedded driftwatch alert: {error}")]
    Embedded {
        format: &'static str,
        error: serde_json::Error,
    },
}

/// Only what tells the three formats apart, and the alert an OCSF or ECS line embeds as
/// the slice of the line it is (not parsed yet); everything else is skipped unread.
#[derive(Deserialize)]
struct Sniff<'a> {
    class_uid: Option<IgnoredAny>,
    #[serde(rename = "@timestamp")]
    timestamp: Option<IgnoredAny>,
    #[serde(borrow)]
    unmapped: Option<OcsfUnmapped<'a>>,
    #[serde(borrow)]
    driftwatch: Option<EcsCustom<'a>>,
}

/// OCSF `unmapped`: driftwatch's alert is `unmapped.driftwatch`.
#[derive(Deserialize)]
struct OcsfUnmapped<'a> {
    #[serde(borrow)]
    driftwatch: Option<&'a RawValue>,
}

/// ECS custom field set `driftwatch`: the alert is `driftwatch.alert`.
#[derive(Deserialize)]
struct EcsCustom<'a> {
    #[serde(borrow)]
    alert: Option<&'a RawValue>,
}

/// The [`Alert`] of one alert line in any of the three formats. A driftwatch line is read
/// directly (the common case costs one parse); otherwise one pass over the line tells OCSF
/// from ECS and finds the alert it embeds, which is parsed from its slice of the line.
pub fn read_alert(line: &[u8]) -> Result<Alert, ReadError> {
    let direct = match serde_json::from_slice::<Alert>(line) {
        Ok(a) => return Ok(a),
        Err(e) => e,
    };
    let sniff: Sniff<'_> = serde_json::from_slice(line).map_err(ReadError::Json)?;
    let (format, raw) = if sniff.class_uid.is_some() {
        let raw = sniff.unmapped.and_then(|u| u.driftwatch);
        ("OCSF", raw.ok_or(ReadError::OcsfWithoutAlert)?)
    } else if sniff.timestamp.is_some() {
        let raw = sniff.driftwatch.and_then(|d| d.alert);
        ("ECS", raw.ok_or(ReadError::EcsWithoutAlert)?)
    } else {
        return Err(ReadError::Driftwatch(direct));
    };
    serde_json::from_str(raw.get()).map_err(|error| ReadError::Embedded { format, error })
}

/// A MITRE ATT&CK technique an alert fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Technique {
    /// `T1078`, `TA0001`, ...
    pub id: &'static str,
    pub name: &'static str,
    /// Its page on attack.mitre.org.
    pub reference: &'static str,
}

/// The ATT&CK tactic of both techniques: how an outsider gets in with a valid account.
pub const INITIAL_ACCESS: Technique = Technique {
    id: "TA0001",
    name: "Initial Access",
    reference: "https://attack.mitre.org/tactics/TA0001/",
};

/// T1078 Valid Accounts: every driftwatch alert is a valid account used by someone who is
/// not where (or who) the account's owner claims to be.
pub const VALID_ACCOUNTS: Technique = Technique {
    id: "T1078",
    name: "Valid Accounts",
    reference: "https://attack.mitre.org/techniques/T1078/",
};

/// T1133 External Remote Services: the login was a VPN session.
pub const EXTERNAL_REMOTE_SERVICES: Technique = Technique {
    id: "T1133",
    name: "External Remote Services",
    reference: "https://attack.mitre.org/techniques/T1133/",
};

/// The ATT&CK techniques `alert` fits: T1078 always, T1133 when one of its logins is a VPN
/// session.
pub fn techniques(alert: &Alert) -> Vec<Technique> {
    let vpn = alert.evidence.iter().any(|e| {
        matches!(
            e,
            Evidence::Login {
                kind: EventKind::VpnSessionStart | EventKind::VpnSessionEnd,
                ..
            }
        )
    });
    let mut out = vec![VALID_ACCOUNTS];
    if vpn {
        out.push(EXTERNAL_REMOTE_SERVICES);
    }
    out
}

/// What the identity provider said about the triggering sign-in
/// ([`Alert::trigger_login`]), where the source gave it. The SIEM lines and the pages
/// ([`crate::route::page::sign_in`]) read it here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignIn<'a> {
    /// The key of the IdP's own logs (Okta transaction, Entra correlationId).
    pub correlation_id: Option<&'a str>,
    pub device: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// The [`SignIn`] of `alert`'s triggering login; all `None` without one.
pub fn sign_in(alert: &Alert) -> SignIn<'_> {
    match trigger(alert) {
        Some((
            Evidence::Login {
                correlation_id,
                device,
                user_agent,
                ..
            },
            _,
        )) => SignIn {
            correlation_id: correlation_id.as_deref(),
            device: device.as_deref(),
            user_agent: user_agent.as_deref(),
        },
        _ => SignIn::default(),
    }
}

/// The times of the alert's logins, oldest first: where an alert starts and ends.
pub fn login_times(alert: &Alert) -> Vec<DateTime<Utc>> {
    let mut times: Vec<_> = alert
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Login { time, .. } => Some(*time),
            _ => None,
        })
        .collect();
    times.sort();
    times
}

/// The findings, one sentence each (`rule (severity): summary`); empty without any.
pub fn findings_text(alert: &Alert) -> String {
    alert
        .findings
        .iter()
        .map(|f| format!("{} ({}): {}", f.rule, f.severity, f.summary))
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 3339 in UTC with milliseconds, as ECS documents and every page write times.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The triggering login ([`Alert::trigger_login`]) and the location
/// that follows it in the evidence, if any.
fn trigger(alert: &Alert) -> Option<(&Evidence, Option<&Evidence>)> {
    let i = alert.trigger_login()?;
    let login = &alert.evidence[i];
    let location = alert.evidence[i + 1..]
        .iter()
        .take_while(|e| !matches!(e, Evidence::Login { .. }))
        .find(|e| matches!(e, Evidence::Location { .. }));
    Some((login, location))
}

/// The account name of the triggering login, if there is one.
fn account(alert: &Alert) -> Option<&str> {
    match trigger(alert)?.0 {
        Evidence::Login { user, .. } => Some(user.as_str()),
        _ => None,
    }
}

/// `name` if it reads as an e-mail address (one `@`, something before it, a dotted domain
/// after it).
fn email(name: &str) -> Option<&str> {
    let (local, domain) = name.split_once('@')?;
    let ok = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !name.chars().any(char::is_whitespace);
    ok.then_some(name)
}

/// Drop `null` members of objects, recursively: absent, not null, is how both schemas
/// say "not known".
fn prune(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !x.is_null());
            map.values_mut().for_each(prune);
        }
        Value::Array(items) => items.iter_mut().for_each(prune),
        _ => {}
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::alert::{AlertStatus, FindingNote, Severity};
    use crate::event::Format;
    use crate::roster::EmployeeId;
    use chrono::{TimeZone, Utc};

    /// An escalated alert with every kind of evidence a login alert carries.
    pub(crate) fn sample(kind: EventKind) -> Alert {
        let t = Utc.with_ymd_and_hms(2026, 10, 3, 8, 15, 0).unwrap();
        Alert {
            id: "dw-0123456789abcdef01234567".into(),
            status: AlertStatus::Escalated,
            employee_id: EmployeeId("E1003".into()),
            time: t,
            detected_at: Some(t + chrono::Duration::seconds(2)),
            severity: Severity::High,
            rules: vec!["claimed_location".into(), "impossible_travel".into()],
            risk: 72,
            summary: "E1003 signed in from Lagos, NG.".into(),
            findings: vec![
                FindingNote {
                    rule: "claimed_location".into(),
                    severity: Severity::Medium,
                    summary: "Lagos is not Lisbon.".into(),
                },
                FindingNote {
                    rule: "impossible_travel".into(),
                    severity: Severity::High,
                    summary: "4,000 km in 1 h.".into(),
                },
            ],
            evidence: vec![
                Evidence::Login {
                    time: t,
                    ip: "102.89.0.7".parse().unwrap(),
                    kind,
                    format: Format::Okta,
                    user: "ana@corp.example".into(),
                    source_id: Some("okta-1".into()),
                    correlation_id: Some("Xk3Jc2tLTnOdIqmh9MuzXgAAB2A".into()),
                    user_agent: Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64)".into()),
                    device: Some("ana-laptop".into()),
                },
                Evidence::Location {
                    country: Some("NG".into()),
                    city: Some("Lagos".into()),
                    lat: Some(6.45),
                    lon: Some(3.39),
                    accuracy_km: Some(20),
                    asn: Some(29465),
                    as_org: Some("MTN NIGERIA".into()),
                    tags: vec!["mobile".into()],
                },
                Evidence::Claimed {
                    country: "PT".into(),
                    city: Some("Lisbon".into()),
                    timezone: "Europe/Lisbon".into(),
                },
                Evidence::Database {
                    database_type: "GeoLite2-City".into(),
                    build: "2026-09-30T00:00:00Z".into(),
                },
                Evidence::Travel {
                    from_time: t - chrono::Duration::hours(1),
                    from_ip: "193.136.0.1".parse().unwrap(),
                    from_place: Some("Lisbon, PT".into()),
                    to_time: t,
                    to_ip: "102.89.0.7".parse().unwrap(),
                    to_place: Some("Lagos, NG".into()),
                    distance_km: 3800.0,
                    effective_km: 3760.0,
                    hours: 1.0,
                    speed_kmh: 3760.0,
                },
                Evidence::Note {
                    text: "anonymizer: severity lowered".into(),
                },
            ],
        }
    }

    #[test]
    fn every_format_reads_back_to_the_same_alert() {
        for kind in [EventKind::InteractiveLogin, EventKind::VpnSessionStart] {
            let alert = sample(kind);
            for format in AlertsFormat::ALL {
                let line = to_line(&alert, format);
                let back = read_alert(&line).unwrap_or_else(|e| panic!("{}: {e}", format.as_str()));
                assert_eq!(back, alert, "{}", format.as_str());
            }
        }
    }

    #[test]
    fn lines_are_deterministic() {
        let alert = sample(EventKind::VpnSessionStart);
        for format in AlertsFormat::ALL {
            assert_eq!(to_line(&alert, format), to_line(&alert, format));
        }
    }

    #[test]
    fn lines_that_are_not_driftwatch_alerts_are_refused_with_the_reason() {
        let cases: [(&str, &str); 5] = [
            ("[1,2]", "not a JSON object"),
            (r#"{"id":"x"}"#, "driftwatch alert: missing field"),
            (r#"{"class_uid":2004,"unmapped":{}}"#, "OCSF line without"),
            (
                r#"{"@timestamp":"2026-01-01T00:00:00Z"}"#,
                "ECS line without",
            ),
            (
                r#"{"@timestamp":"x","driftwatch":{"alert":{"id":1}}}"#,
                "ECS line: the embedded",
            ),
        ];
        for (line, why) in cases {
            let e = read_alert(line.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(why), "{line}: {e}");
        }
    }

    /// The embedded alert is read from its slice of the line: escapes inside it stay its
    /// own, and a `null` one is no alert.
    #[test]
    fn the_embedded_alert_is_read_from_its_slice_of_the_line() {
        let mut alert = sample(EventKind::Mfa);
        alert.summary = "quote \" backslash \\ newline \n tab \t \u{e9}".into();
        for format in [AlertsFormat::Ocsf, AlertsFormat::Ecs] {
            let line = to_line(&alert, format);
            assert_eq!(read_alert(&line).unwrap(), alert, "{}", format.as_str());
        }
        for (line, why) in [
            (
                r#"{"class_uid":2004,"unmapped":{"driftwatch":null}}"#,
                "OCSF line without",
            ),
            (
                r#"{"@timestamp":"x","driftwatch":{"alert":null}}"#,
                "ECS line without",
            ),
            (
                r#"{"class_uid":2004,"unmapped":{"driftwatch":[1]}}"#,
                "OCSF line: the embedded",
            ),
        ] {
            let e = read_alert(line.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(why), "{line}: {e}");
        }
    }

    #[test]
    fn t1133_only_for_vpn_logins() {
        let ids = |k| {
            techniques(&sample(k))
                .iter()
                .map(|t| t.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(EventKind::InteractiveLogin), ["T1078"]);
        assert_eq!(ids(EventKind::VpnSessionStart), ["T1078", "T1133"]);
    }

    #[test]
    fn emails_are_recognised_and_other_names_are_not() {
        assert_eq!(email("ana@corp.example"), Some("ana@corp.example"));
        for name in [
            "ana",
            "CORP\\ana",
            "@corp.example",
            "ana@corp",
            "a@b@c.d",
            "a b@c.d",
        ] {
            assert_eq!(email(name), None, "{name}");
        }
    }
}
