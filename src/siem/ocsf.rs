//! An [`Alert`] as an OCSF Detection Finding (category Findings 2, class 2004), per the
//! OCSF schema source in `shared/reference/ocsf-schema/` ([`SCHEMA_VERSION`]).
//!
//! | OCSF | from |
//! |---|---|
//! | `activity_id` | `open` 1 Create, `escalated` 2 Update, resolved by an analyst 3 Close |
//! | `time` | the alert's `time` (the triggering login), ms |
//! | `finding_info.created_time` | `detected_at` (when `run` raised it), else the login's time, ms |
//! | `metadata.correlation_uid` | the triggering login's IdP correlation id (Okta transaction, Entra correlationId) |
//! | `severity_id` | low 2, medium 3, high 4, critical 5 |
//! | `status_id` | 1 New; 4 Resolved when closed by an analyst |
//! | `risk_score` | `risk` (0–100) |
//! | `message` | `summary` |
//! | `finding_info` | `uid` the alert id, `title`, `desc` (the findings), `types` (the rules), `analytic` (the rule of the most severe finding) and `related_analytics` (the others), `attacks` (ATT&CK), first / last login time, `data_sources` (input formats) |
//! | `evidences` | one per piece of evidence, the piece whole in `data`: a login with its `src_endpoint` (IP, `location`, `autonomous_system`) and `user` (`uid` the employee id, `name` / `email_addr` the account); the claimed place as the employee's `user.ldap_person.location`; travel and sessions with their address |
//! | `metadata` | `product` driftwatch and its version, the OCSF `version` |
//! | `unmapped.driftwatch` | the driftwatch alert, whole |
//!
//! No profile is applied (`metadata.profiles` is absent): `risk_score`, `is_alert` and
//! `confidence_id` belong to the Detection Finding class itself.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{Lifecycle, Technique, email, findings_text, login_times, prune, techniques};
use crate::alert::{Alert, AlertStatus, Evidence, Severity};

/// The OCSF schema version the lines follow (`version.json` of the reference source).
pub const SCHEMA_VERSION: &str = "1.9.0-dev";
/// Findings.
pub const CATEGORY_UID: u32 = 2;
/// Detection Finding.
pub const CLASS_UID: u32 = 2004;

/// `alert` as an OCSF Detection Finding; `version` is driftwatch's.
pub fn finding(alert: &Alert, version: &str, lifecycle: Lifecycle) -> Value {
    let (activity_id, activity_name) = match (lifecycle, alert.status) {
        (Lifecycle::Resolved, _) => (3, "Close"),
        (Lifecycle::AsWritten, AlertStatus::Open) => (1, "Create"),
        (Lifecycle::AsWritten, AlertStatus::Escalated) => (2, "Update"),
    };
    let (status_id, status, status_code, status_detail) = match (lifecycle, alert.status) {
        (Lifecycle::Resolved, _) => (
            4,
            "Resolved",
            "resolved",
            "Closed by an analyst's disposition.",
        ),
        (Lifecycle::AsWritten, AlertStatus::Open) => {
            (1, "New", "open", "The first line of this alert.")
        }
        (Lifecycle::AsWritten, AlertStatus::Escalated) => (
            1,
            "New",
            "escalated",
            "The open alert's risk rose to a higher severity, or another rule joined it.",
        ),
    };
    let (severity_id, severity) = severity(alert.severity);
    let logins = login_times(alert);
    let mut v = json!({
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": format!("Detection Finding: {activity_name}"),
        "severity_id": severity_id,
        "severity": severity,
        "time": ms(alert.time),
        "timezone_offset": 0,
        "message": alert.summary,
        "status_id": status_id,
        "status": status,
        "status_code": status_code,
        "status_detail": status_detail,
        "is_alert": lifecycle == Lifecycle::AsWritten,
        "risk_score": alert.risk,
        "start_time": logins.first().copied().map(ms),
        "end_time": logins.last().copied().map(ms),
        "finding_info": finding_info(alert, &logins),
        "evidences": evidences(alert),
        "metadata": {
            "product": {
                "name": "driftwatch",
                "vendor_name": "driftwatch",
                "version": version,
            },
            "version": SCHEMA_VERSION,
            "log_name": "driftwatch.alerts",
            "correlation_uid": super::sign_in(alert).correlation_id,
        },
    });
    prune(&mut v);
    if let Some(map) = v.as_object_mut() {
        map.insert("unmapped".into(), json!({ "driftwatch": alert }));
    }
    v
}

/// OCSF `severity_id` and its caption.
pub fn severity(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn finding_info(alert: &Alert, logins: &[DateTime<Utc>]) -> Value {
    let desc = if alert.findings.is_empty() {
        alert.summary.clone()
    } else {
        findings_text(alert)
    };
    let mut sources: Vec<&str> = alert
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Login { format, .. } => Some(format.as_str()),
            _ => None,
        })
        .collect();
    sources.sort_unstable();
    sources.dedup();
    let lead = alert.lead_rule();
    let related: Vec<Value> = alert
        .rules
        .iter()
        .filter(|r| Some(r.as_str()) != lead)
        .map(|r| analytic(r))
        .collect();
    json!({
        "uid": alert.id,
        "title": format!(
            "driftwatch {}: {} ({})",
            alert.rules.join(", "),
            alert.employee_id,
            alert.severity
        ),
        "desc": desc,
        "types": alert.rules,
        "analytic": lead.map(analytic),
        "related_analytics": (!related.is_empty()).then_some(related),
        "attacks": techniques(alert).into_iter().map(attack).collect::<Vec<_>>(),
        "created_time": ms(alert.detected_at.unwrap_or(alert.time)),
        "first_seen_time": logins.first().copied().map(ms),
        "last_seen_time": logins.last().copied().map(ms),
        "data_sources": (!sources.is_empty()).then_some(sources),
    })
}

/// A driftwatch rule as an OCSF analytic.
fn analytic(rule: &str) -> Value {
    json!({"uid": rule, "name": rule, "type_id": 1, "type": "Rule"})
}

fn attack(t: Technique) -> Value {
    let tactic = super::INITIAL_ACCESS;
    json!({
        "technique": {"uid": t.id, "name": t.name, "src_url": t.reference},
        "tactic": {"uid": tactic.id, "name": tactic.name, "src_url": tactic.reference},
    })
}

/// One evidences entry per piece of evidence; a location joins the login before it (the
/// place of that login's address).
fn evidences(alert: &Alert) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(alert.evidence.len());
    // Index in `out` of the last login, while no other login came after it.
    let mut last_login: Option<usize> = None;
    for e in &alert.evidence {
        if let (Evidence::Location { .. }, Some(i)) = (e, last_login)
            && let Some(entry) = out.get_mut(i)
        {
            if let Some(endpoint) = entry.get_mut("src_endpoint") {
                place(endpoint, e);
            }
            if let Some(data) = entry.get_mut("data").and_then(Value::as_object_mut) {
                data.insert("location".into(), piece(e));
            }
            last_login = None;
            continue;
        }
        if matches!(e, Evidence::Login { .. }) {
            last_login = Some(out.len());
        }
        out.push(evidence(alert, e));
    }
    out
}

/// The evidences entry of one piece of `alert`'s evidence: its homes in OCSF, and the
/// piece whole in `data`.
pub fn evidence(alert: &Alert, e: &Evidence) -> Value {
    let name = piece(e)
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("evidence")
        .to_owned();
    let mut entry = Map::new();
    entry.insert("name".into(), Value::String(name));
    match e {
        Evidence::Login {
            ip,
            user,
            source_id,
            ..
        } => {
            entry.insert("uid".into(), json!(source_id));
            entry.insert("src_endpoint".into(), json!({ "ip": ip }));
            entry.insert("user".into(), employee(alert, Some(user), None));
            entry.insert("data".into(), json!({ "login": piece(e) }));
        }
        Evidence::Location { .. } => {
            entry.insert("data".into(), piece(e));
        }
        Evidence::Travel { from_ip, .. } => {
            entry.insert("src_endpoint".into(), json!({ "ip": from_ip }));
            entry.insert("data".into(), piece(e));
        }
        Evidence::Session { ip, session, .. } => {
            entry.insert("uid".into(), json!(session));
            entry.insert("src_endpoint".into(), json!({ "ip": ip }));
            entry.insert("data".into(), piece(e));
        }
        Evidence::Claimed { country, city, .. } => {
            let claimed = json!({"country": country, "city": city});
            entry.insert("user".into(), employee(alert, None, Some(claimed)));
            entry.insert("data".into(), piece(e));
        }
        Evidence::Database { .. }
        | Evidence::Hours { .. }
        | Evidence::Share { .. }
        | Evidence::Cluster { .. }
        | Evidence::Baseline { .. }
        | Evidence::Note { .. } => {
            entry.insert("data".into(), piece(e));
        }
    }
    let mut v = Value::Object(entry);
    prune(&mut v);
    v
}

/// The employee as an OCSF user: `uid` the employee id, `name` the account of a login,
/// `ldap_person.location` the place the roster claims.
fn employee(alert: &Alert, account: Option<&str>, claimed: Option<Value>) -> Value {
    json!({
        "uid": alert.employee_id,
        "name": account,
        "email_addr": account.and_then(email),
        "type_id": 1,
        "type": "User",
        "ldap_person": claimed.map(|location| json!({
            "employee_uid": alert.employee_id,
            "location": location,
        })),
    })
}

/// Where an address is, onto its `src_endpoint`.
fn place(endpoint: &mut Value, location: &Evidence) {
    let Evidence::Location {
        country,
        city,
        lat,
        lon,
        asn,
        as_org,
        ..
    } = location
    else {
        return;
    };
    let Some(map) = endpoint.as_object_mut() else {
        return;
    };
    if country.is_some() || city.is_some() {
        let mut loc = json!({"country": country, "city": city, "lat": lat, "long": lon});
        prune(&mut loc);
        map.insert("location".into(), loc);
    }
    if asn.is_some() || as_org.is_some() {
        let mut a = json!({"number": asn, "name": as_org});
        prune(&mut a);
        map.insert("autonomous_system".into(), a);
    }
}

/// The piece of evidence as driftwatch writes it.
fn piece(e: &Evidence) -> Value {
    serde_json::to_value(e).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::siem::tests::sample;

    #[test]
    fn the_login_carries_its_place_and_the_finding_its_techniques() {
        let v = finding(
            &sample(EventKind::VpnSessionStart),
            "9.9.9",
            Lifecycle::AsWritten,
        );
        assert_eq!(v["class_uid"], 2004);
        assert_eq!(v["type_uid"], 200402);
        assert_eq!(v["severity_id"], 4);
        assert_eq!(v["time"], 1_791_015_300_000_i64);
        let login = &v["evidences"][0];
        assert_eq!(login["name"], "login");
        assert_eq!(login["src_endpoint"]["ip"], "102.89.0.7");
        assert_eq!(login["src_endpoint"]["location"]["country"], "NG");
        assert_eq!(login["src_endpoint"]["autonomous_system"]["number"], 29465);
        assert_eq!(login["data"]["location"]["as_org"], "MTN NIGERIA");
        assert_eq!(login["user"]["uid"], "E1003");
        assert_eq!(login["user"]["email_addr"], "ana@corp.example");
        assert_eq!(v["evidences"][1]["name"], "claimed");
        let claimed = &v["evidences"][1]["user"]["ldap_person"]["location"];
        assert_eq!(claimed["city"], "Lisbon");
        let attacks: Vec<&str> = v["finding_info"]["attacks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["technique"]["uid"].as_str().unwrap())
            .collect();
        assert_eq!(attacks, ["T1078", "T1133"]);
        assert_eq!(v["metadata"]["product"]["version"], "9.9.9");
        // When the login happened, and when driftwatch raised the finding.
        assert_eq!(v["finding_info"]["created_time"], 1_791_015_302_000_i64);
        assert_eq!(
            v["metadata"]["correlation_uid"],
            "Xk3Jc2tLTnOdIqmh9MuzXgAAB2A"
        );
        assert_eq!(login["data"]["login"]["device"], "ana-laptop");
    }

    #[test]
    fn a_resolution_closes_the_finding() {
        let v = finding(&sample(EventKind::Mfa), "1", Lifecycle::Resolved);
        assert_eq!(
            (v["activity_id"].as_u64(), v["status_id"].as_u64()),
            (Some(3), Some(4))
        );
        assert_eq!(v["is_alert"], false);
    }
}
