//! Findings and alerts: what a rule says about one event, and the explained, deterministic
//! record that leaves driftwatch.

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::enrich::Geo;
use crate::event::{EventKind, Format, LoginEvent};
use crate::roster::{ClaimedProfile, EmployeeId};

/// How urgent an alert is. Ordered: `Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of evidence, typed so every alert explains itself the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// The event that triggered the finding.
    Login {
        time: DateTime<Utc>,
        ip: IpAddr,
        kind: EventKind,
        format: Format,
        user: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        source_id: Option<String>,
        /// The identity provider's id of the sign-in (Okta transaction, Entra
        /// correlationId): what to search the IdP's own logs by.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        correlation_id: Option<String>,
        /// The client's user agent, when the source gives it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_agent: Option<String>,
        /// The device or host name, when the source gives it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// Where the address geolocates, and what network it belongs to.
    Location {
        #[serde(skip_serializing_if = "Option::is_none")]
        country: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        city: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        lat: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        lon: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        accuracy_km: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        asn: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        as_org: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        tags: Vec<String>,
    },
    /// What HR says about the employee.
    Claimed {
        country: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        city: Option<String>,
        timezone: String,
    },
    /// A GeoIP database the lookup used, with its build time.
    Database {
        database_type: String,
        build: String,
    },
    /// Two logins and what it would take to travel between them (impossible_travel,
    /// concurrent_sessions).
    Travel {
        from_time: DateTime<Utc>,
        from_ip: IpAddr,
        #[serde(skip_serializing_if = "Option::is_none")]
        from_place: Option<String>,
        to_time: DateTime<Utc>,
        to_ip: IpAddr,
        #[serde(skip_serializing_if = "Option::is_none")]
        to_place: Option<String>,
        /// Great-circle distance between the two points.
        distance_km: f64,
        /// Distance minus both accuracy radii: the least the person must have moved.
        effective_km: f64,
        hours: f64,
        speed_kmh: f64,
    },
    /// Activity hours against the claimed time zone (working_hours).
    Hours {
        claimed_timezone: String,
        claimed_offset_hours: f64,
        inferred_offset_hours: f64,
        /// Share of interactive logins outside the claimed working hours.
        share_outside: f64,
        active_days: u32,
        logins: u32,
        /// The statistical test and its p-value.
        test: String,
        p_value: f64,
    },
    /// A share of logins over a window (anonymizer).
    Share {
        what: String,
        share: f64,
        matching: u32,
        logins: u32,
        window_days: u32,
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        providers: Vec<String>,
    },
    /// Employees who claim different places seen on one network (shared_infrastructure).
    Cluster {
        /// The IPv4 address or IPv6 /64.
        network: String,
        /// How many employees used it in the window (rarity).
        employees_on_network: u32,
        members: Vec<ClusterMember>,
    },
    /// What the employee's own history says (novelty): the new value and the known ones.
    Baseline {
        what: String,
        value: String,
        known: Vec<String>,
        logins_seen: u64,
    },
    /// A VPN or sign-in session (long_session, concurrent_sessions).
    Session {
        #[serde(skip_serializing_if = "Option::is_none")]
        session: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        started: Option<DateTime<Utc>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        ended: Option<DateTime<Utc>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration_hours: Option<f64>,
        ip: IpAddr,
    },
    /// Context that changed the verdict, in words ("anonymizer: severity lowered").
    Note { text: String },
}

/// One employee in a shared-infrastructure cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterMember {
    pub employee_id: EmployeeId,
    pub claimed_country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_city: Option<String>,
    pub last_seen: DateTime<Utc>,
}

impl Evidence {
    /// The triggering event.
    pub fn login(event: &LoginEvent) -> Evidence {
        Evidence::Login {
            time: event.time,
            ip: event.ip,
            kind: event.kind,
            format: event.format,
            user: event.user.clone(),
            source_id: event.source_id.clone(),
            correlation_id: event.correlation_id.clone(),
            user_agent: event.user_agent.clone(),
            device: event.device.clone(),
        }
    }

    /// Where the address geolocates.
    pub fn location(geo: &Geo) -> Evidence {
        Evidence::Location {
            country: geo.country.clone(),
            city: geo.city.clone(),
            lat: geo.latitude,
            lon: geo.longitude,
            accuracy_km: geo.accuracy_km,
            asn: geo.asn,
            as_org: geo.as_org.clone(),
            tags: geo.tags.clone(),
        }
    }

    /// The employee's claimed place.
    pub fn claimed(profile: &ClaimedProfile) -> Evidence {
        Evidence::Claimed {
            country: profile.country.clone(),
            city: profile.city.clone(),
            timezone: profile.timezone.name().to_owned(),
        }
    }

    /// The databases that answered for the address.
    pub fn databases(geo: &Geo) -> Vec<Evidence> {
        geo.databases
            .iter()
            .map(|d| Evidence::Database {
                database_type: d.database_type.clone(),
                build: d
                    .build_time
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            })
            .collect()
    }
}

/// What one rule concluded about one event, before it becomes an [`Alert`].
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The rule's stable name (`claimed_location`, ...).
    pub rule: &'static str,
    pub severity: Severity,
    /// Contribution to the employee's risk, 0–100.
    pub risk: u8,
    pub summary: String,
    pub evidence: Vec<Evidence>,
}

impl Finding {
    /// A finding about a login located by `geo`: its evidence, then the databases that
    /// answered for the address, which every rule shows last so the analyst can weigh
    /// the location.
    pub fn located(
        rule: &'static str,
        severity: Severity,
        risk: u8,
        summary: String,
        evidence: impl IntoIterator<Item = Evidence>,
        geo: &Geo,
    ) -> Finding {
        Finding {
            rule,
            severity,
            risk,
            summary,
            evidence: evidence
                .into_iter()
                .chain(Evidence::databases(geo))
                .collect(),
        }
    }
}

/// Whether an alert line opens an alert or updates one already open (same id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// The first line for this id.
    Open,
    /// The open alert's risk rose to a higher severity, or another rule joined it.
    Escalated,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 2] = [AlertStatus::Open, AlertStatus::Escalated];

    /// As an alert line writes it (and the `status` label of `alerts_total`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Escalated => "escalated",
        }
    }
}

/// An explained alert, as written to the alerts output (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic: the same input gives the same id, so a replay after a crash cannot
    /// create a second alert for the same event. Escalations keep the id.
    pub id: String,
    pub status: AlertStatus,
    pub employee_id: EmployeeId,
    /// Event time of the triggering login, RFC 3339.
    #[serde(with = "rfc3339")]
    pub time: DateTime<Utc>,
    /// When driftwatch decided: the wall clock of the `run` detect stage as it wrote this
    /// line, which can be hours after `time` (a late log shipper, a batch export, a login
    /// held for the watermarks). `replay` leaves it out: its output is byte-identical
    /// between runs (tests check that), and a replay decides about the past anyway, so
    /// the time it ran says nothing about the login. Payloads that need a time fall back
    /// to their delivery time, labelled as such. Not part of the line's identity
    /// (`service::detect::revision`), so a line written again after a crash is still
    /// recognised.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub detected_at: Option<DateTime<Utc>>,
    pub severity: Severity,
    pub rules: Vec<String>,
    /// 0–100.
    pub risk: u8,
    /// What this line adds, in sentences: the findings of the login that wrote it.
    pub summary: String,
    /// Every finding of the alert so far, each once, in the order they came: an escalation
    /// carries what justified the alert before it, not only the news.
    #[serde(default)]
    pub findings: Vec<FindingNote>,
    /// The evidence of every finding so far, each piece once.
    pub evidence: Vec<Evidence>,
}

impl Alert {
    /// The rule that carries the alert: the one whose finding is the most severe (the first
    /// of those, in the order they came), else the first rule. `rules` are sorted by name,
    /// so their first is not always the one that matters: this is the rule pages link the
    /// runbook of, metrics count the alert under, and SIEM formats name.
    pub fn lead_rule(&self) -> Option<&str> {
        let mut lead: Option<&FindingNote> = None;
        for f in &self.findings {
            if lead.is_none_or(|l| f.severity > l.severity) {
                lead = Some(f);
            }
        }
        lead.map(|f| f.rule.as_str())
            .or_else(|| self.rules.first().map(String::as_str))
    }

    /// Where in `evidence` the triggering login is: the first login at the alert's time
    /// (an escalation carries earlier logins too), else the first login. What pages and
    /// SIEM formats show as "the sign-in".
    pub fn trigger_login(&self) -> Option<usize> {
        let is_login = |e: &Evidence| matches!(e, Evidence::Login { .. });
        self.evidence
            .iter()
            .position(|e| matches!(e, Evidence::Login { time, .. } if *time == self.time))
            .or_else(|| self.evidence.iter().position(is_login))
    }
}

/// One finding of an alert: its rule, its severity and one sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingNote {
    pub rule: String,
    pub severity: Severity,
    pub summary: String,
}

impl FindingNote {
    pub fn of(f: &Finding) -> FindingNote {
        FindingNote {
            rule: f.rule.to_owned(),
            severity: f.severity,
            summary: sentence(&f.summary),
        }
    }
}

/// `text` as a sentence: trimmed, ending with a full stop unless it ends with one already.
pub fn sentence(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() || t.ends_with(['.', '!', '?']) {
        t.to_owned()
    } else {
        format!("{t}.")
    }
}

/// `dw-` and 24 hex digits of SHA-256 over the rule, the employee and the event's identity
/// (format, source id, time, address, kind). Stable across runs and machines.
pub fn alert_id(rule: &str, employee: &EmployeeId, event: &LoginEvent) -> String {
    let mut h = Sha256::new();
    for part in [
        rule,
        &employee.0,
        event.format.as_str(),
        event.source_id.as_deref().unwrap_or(""),
        &event.time.to_rfc3339_opts(SecondsFormat::Nanos, true),
        &event.ip.to_string(),
        event.kind.as_str(),
    ] {
        h.update(part.as_bytes());
        // A separator that cannot occur in the parts keeps ("ab","c") apart from ("a","bc").
        h.update([0u8]);
    }
    format!("dw-{}", crate::hex::hex(&h.finalize()[..12]))
}

mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

mod rfc3339_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => DateTime::parse_from_rfc3339(&s)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Outcome;

    fn event(ip: &str, secs: i64) -> LoginEvent {
        LoginEvent::new(
            Format::Okta,
            DateTime::from_timestamp(secs, 0).unwrap(),
            "a@corp.example".into(),
            ip.parse().unwrap(),
            EventKind::InteractiveLogin,
            Outcome::Success,
        )
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let e = EmployeeId("E1".into());
        let a = alert_id("claimed_location", &e, &event("1.2.3.4", 100));
        assert_eq!(a, alert_id("claimed_location", &e, &event("1.2.3.4", 100)));
        assert_eq!(a.len(), 27);
        assert!(a.starts_with("dw-"));
        assert_ne!(a, alert_id("claimed_location", &e, &event("1.2.3.4", 101)));
        assert_ne!(a, alert_id("claimed_location", &e, &event("1.2.3.5", 100)));
        assert_ne!(a, alert_id("other", &e, &event("1.2.3.4", 100)));
        assert_ne!(
            a,
            alert_id(
                "claimed_location",
                &EmployeeId("E2".into()),
                &event("1.2.3.4", 100)
            )
        );
    }

    #[test]
    fn the_lead_rule_is_the_most_severe_findings_not_the_first_name() {
        let note = |rule: &str, severity| FindingNote {
            rule: rule.into(),
            severity,
            summary: String::new(),
        };
        let mut alert = Alert {
            id: "dw-1".into(),
            status: AlertStatus::Escalated,
            employee_id: EmployeeId("E1".into()),
            time: DateTime::from_timestamp(0, 0).unwrap(),
            severity: Severity::High,
            rules: vec!["anonymizer".into(), "claimed_location".into()],
            risk: 70,
            summary: String::new(),
            findings: vec![
                note("anonymizer", Severity::Medium),
                note("claimed_location", Severity::High),
                note("anonymizer", Severity::High),
            ],
            evidence: Vec::new(),
            detected_at: None,
        };
        assert_eq!(
            alert.lead_rule(),
            Some("claimed_location"),
            "first of the most severe"
        );
        alert.findings.clear();
        assert_eq!(
            alert.lead_rule(),
            Some("anonymizer"),
            "no findings: the first rule"
        );
        alert.rules.clear();
        assert_eq!(alert.lead_rule(), None);
    }

    #[test]
    fn alert_json_has_the_documented_fields() {
        let ev = event("1.2.3.4", 1_700_000_000);
        let f = Finding {
            rule: "claimed_location",
            severity: Severity::High,
            risk: 70,
            summary: "s".into(),
            evidence: vec![Evidence::Database {
                database_type: "x".into(),
                build: "y".into(),
            }],
        };
        let alert = Alert {
            id: alert_id(f.rule, &EmployeeId("E1".into()), &ev),
            status: AlertStatus::Open,
            employee_id: EmployeeId("E1".into()),
            time: ev.time,
            severity: f.severity,
            rules: vec![f.rule.to_owned()],
            risk: f.risk,
            summary: f.summary,
            findings: Vec::new(),
            evidence: f.evidence,
            detected_at: None,
        };
        let v: serde_json::Value = serde_json::to_value(&alert).unwrap();
        for key in [
            "id",
            "employee_id",
            "time",
            "severity",
            "rules",
            "risk",
            "summary",
            "evidence",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["time"], "2023-11-14T22:13:20Z");
        assert_eq!(v["severity"], "high");
        assert_eq!(v["evidence"][0]["type"], "database");
        let back: Alert = serde_json::from_value(v).unwrap();
        assert_eq!(back, alert);
    }
}
