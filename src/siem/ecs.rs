//! An [`Alert`] as an Elastic Common Schema document (`event.kind: alert`), per the field
//! list in `shared/reference/ecs/fields.csv` ([`ECS_VERSION`]).
//!
//! | ECS | from |
//! |---|---|
//! | `@timestamp` | the alert's `time` (the triggering login) |
//! | `event.created` | `detected_at` (when `run` raised it), else the login's time |
//! | `user_agent.original` | the triggering login's user agent, when the source gave it |
//! | `event.id` | the alert id (escalations keep it: index with it as `_id` to keep one document per alert) |
//! | `event.action` | `open`, `escalated`, or `resolved` (closed by an analyst) |
//! | `event.severity` | low 21, medium 47, high 73, critical 99 (Elastic Security's scale) |
//! | `event.risk_score`, `user.risk.calculated_score` | `risk` (0–100) |
//! | `user.risk.calculated_level` | `severity` |
//! | `event.reason` | the findings, one sentence each |
//! | `event.start`, `event.end` | the first and last login of the alert |
//! | `rule.id`, `rule.name` | the rule of the most severe finding; `tags` every rule |
//! | `user.id` / `user.name` / `user.email` | the employee id / the account / the account if it is an e-mail address |
//! | `source.ip`, `source.geo.*`, `source.as.*` | the triggering login's address, its place and network |
//! | `related.ip`, `related.user` | every address and account of the evidence |
//! | `threat.*` | ATT&CK T1078 (and T1133 for VPN logins), tactic TA0001 |
//! | `observer.*` | driftwatch and its version |
//! | `driftwatch.alert` | custom field set: the driftwatch alert, whole |

use serde_json::{Value, json};

use super::{
    Lifecycle, account, email, findings_text, login_times, prune, rfc3339, techniques, trigger,
};
use crate::alert::{Alert, Evidence, Severity};

/// The ECS version the documents follow (the reference field list's).
pub const ECS_VERSION: &str = "9.5.0-dev";

/// `alert` as an ECS document; `version` is driftwatch's.
pub fn document(alert: &Alert, version: &str, lifecycle: Lifecycle) -> Value {
    let action = match (lifecycle, alert.status) {
        (Lifecycle::Resolved, _) => "resolved",
        (Lifecycle::AsWritten, status) => status.as_str(),
    };
    let name = account(alert);
    let lead = alert.lead_rule();
    let logins = login_times(alert);
    let reason = findings_text(alert);
    let techniques = techniques(alert);
    let tactic = super::INITIAL_ACCESS;
    let mut v = json!({
        "@timestamp": rfc3339(alert.time),
        "message": alert.summary,
        "tags": alert.rules,
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "alert",
            "category": ["authentication", "intrusion_detection"],
            "type": ["info"],
            "action": action,
            "created": rfc3339(alert.detected_at.unwrap_or(alert.time)),
            "id": alert.id,
            "severity": severity(alert.severity),
            "risk_score": f64::from(alert.risk),
            "reason": (!reason.is_empty()).then_some(reason),
            "start": logins.first().copied().map(rfc3339),
            "end": logins.last().copied().map(rfc3339),
            "module": "driftwatch",
            "dataset": "driftwatch.alerts",
            "provider": "driftwatch",
        },
        "rule": {
            "id": lead,
            "name": lead,
            "ruleset": "driftwatch",
        },
        "user": {
            "id": alert.employee_id,
            "name": name,
            "email": name.and_then(email),
            "risk": {
                "calculated_score": f64::from(alert.risk),
                "calculated_level": alert.severity.as_str(),
            },
        },
        "source": source(alert),
        "user_agent": {"original": super::sign_in(alert).user_agent},
        "related": related(alert),
        "threat": {
            "framework": "MITRE ATT&CK",
            "technique": {
                "id": techniques.iter().map(|t| t.id).collect::<Vec<_>>(),
                "name": techniques.iter().map(|t| t.name).collect::<Vec<_>>(),
                "reference": techniques.iter().map(|t| t.reference).collect::<Vec<_>>(),
            },
            "tactic": {
                "id": [tactic.id],
                "name": [tactic.name],
                "reference": [tactic.reference],
            },
        },
        "observer": {
            "vendor": "driftwatch",
            "product": "driftwatch",
            "version": version,
        },
    });
    prune(&mut v);
    if let Some(map) = v.as_object_mut() {
        map.insert("driftwatch".into(), json!({ "alert": alert }));
    }
    v
}

/// ECS `event.severity` on Elastic Security's scale.
pub fn severity(s: Severity) -> u8 {
    match s {
        Severity::Low => 21,
        Severity::Medium => 47,
        Severity::High => 73,
        Severity::Critical => 99,
    }
}

/// The triggering login's address, its place and network.
fn source(alert: &Alert) -> Option<Value> {
    let (login, location) = trigger(alert)?;
    let Evidence::Login { ip, .. } = login else {
        return None;
    };
    let mut s = json!({"ip": ip, "address": ip.to_string()});
    if let Some(Evidence::Location {
        country,
        city,
        lat,
        lon,
        asn,
        as_org,
        ..
    }) = location
    {
        let point = match (lat, lon) {
            (Some(lat), Some(lon)) => Some(json!({"lat": lat, "lon": lon})),
            _ => None,
        };
        s["geo"] = json!({"country_iso_code": country, "city_name": city, "location": point});
        s["as"] = json!({"number": asn, "organization": {"name": as_org}});
        prune(&mut s);
        // An `as` or `geo` with nothing known left in it is not written.
        if let Some(map) = s.as_object_mut() {
            map.retain(|_, x| !is_empty(x));
        }
    }
    Some(s)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().all(is_empty),
        Value::Null => true,
        _ => false,
    }
}

/// Every address and account the evidence names, each once, in order.
fn related(alert: &Alert) -> Value {
    let mut ips: Vec<String> = Vec::new();
    let mut users: Vec<String> = vec![alert.employee_id.0.to_string()];
    fn add(list: &mut Vec<String>, x: String) {
        if !list.contains(&x) {
            list.push(x);
        }
    }
    for e in &alert.evidence {
        match e {
            Evidence::Login { ip, user, .. } => {
                add(&mut ips, ip.to_string());
                add(&mut users, user.clone());
            }
            Evidence::Travel { from_ip, to_ip, .. } => {
                add(&mut ips, from_ip.to_string());
                add(&mut ips, to_ip.to_string());
            }
            Evidence::Session { ip, .. } => add(&mut ips, ip.to_string()),
            _ => {}
        }
    }
    json!({"ip": (!ips.is_empty()).then_some(ips), "user": users})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::siem::tests::sample;

    #[test]
    fn the_issue_fields_are_filled_from_the_alert() {
        let v = document(
            &sample(EventKind::VpnSessionStart),
            "9.9.9",
            Lifecycle::AsWritten,
        );
        assert_eq!(v["@timestamp"], "2026-10-03T08:15:00.000Z");
        assert_eq!(
            v["event"]["created"], "2026-10-03T08:15:02.000Z",
            "detected_at"
        );
        assert_eq!(
            v["user_agent"]["original"],
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
        );
        assert_eq!(v["event"]["kind"], "alert");
        assert_eq!(v["event"]["action"], "escalated");
        assert_eq!(v["rule"]["id"], "impossible_travel");
        assert_eq!(v["user"]["id"], "E1003");
        assert_eq!(v["user"]["email"], "ana@corp.example");
        assert_eq!(v["source"]["ip"], "102.89.0.7");
        assert_eq!(v["source"]["geo"]["location"]["lon"], 3.39);
        assert_eq!(v["source"]["as"]["organization"]["name"], "MTN NIGERIA");
        assert_eq!(v["threat"]["technique"]["id"], json!(["T1078", "T1133"]));
        assert_eq!(v["related"]["ip"], json!(["102.89.0.7", "193.136.0.1"]));
        assert_eq!(v["user"]["risk"]["calculated_score"], 72.0);
    }

    #[test]
    fn an_address_nobody_placed_has_no_geo() {
        let mut a = sample(EventKind::Mfa);
        a.evidence
            .retain(|e| !matches!(e, Evidence::Location { .. }));
        let v = document(&a, "1", Lifecycle::Resolved);
        assert_eq!(
            v["source"],
            json!({"ip": "102.89.0.7", "address": "102.89.0.7"})
        );
        assert_eq!(v["event"]["action"], "resolved");
    }
}
