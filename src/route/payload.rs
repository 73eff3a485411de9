//! Request bodies, one function per destination kind. Pure: the clock and the settings
//! are arguments.
//!
//! Shapes follow the receivers' documentation and what Alertmanager itself sends
//! (`shared/reference/alertmanager-captured/`): Alertmanager API v2 `postableAlerts`,
//! PagerDuty Events API v2 `trigger`/`resolve`, Slack's attachment message.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::alert::{Alert, Severity};
use crate::siem::{AlertsFormat, Lifecycle};

/// What the payload asks of the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The alert is open (or escalated): page, or update the page.
    Trigger,
    /// The alert is closed: resolve what was paged (PagerDuty `resolve`, Alertmanager
    /// `endsAt` now).
    Resolve,
}

/// PagerDuty refuses summaries longer than this.
pub const PAGERDUTY_SUMMARY_MAX: usize = 1024;

/// Slack shows attachment text up to about this many characters before cutting it.
const SLACK_TEXT_MAX: usize = 3000;

/// The `alertname` of every alert driftwatch posts to Alertmanager; `rule` tells them
/// apart.
pub const ALERTNAME: &str = "DriftwatchDetection";

/// One alert for Alertmanager's `POST /api/v2/alerts` (a list of these is the body).
///
/// Labels are what Alertmanager groups, routes, silences and inhibits on: `alertname`,
/// `severity`, `employee_id`, `alert_id`, `source`, and `group` when the roster has one.
/// Alertmanager identifies an alert by its label set, so labels hold only what stays put
/// while an alert lives: the same alert posted again (a retry, a redelivery, an update that
/// adds a rule) stays one alert there. The rules go in the annotations (routing by rule is
/// the route stage's own `rules` filter). An escalation to a higher severity is a second
/// label set, so it pages at its new severity; inhibit rules (a higher severity inhibits the
/// lower ones of the same employee, see `deploy/alertmanager/alertmanager.yml`) hide the
/// older one.
///
/// `startsAt` is the triggering login's time; `endsAt` is `resolve_after` after `now` for
/// an open alert (not posted again within it, it resolves) and `now` for a resolved one.
pub fn alertmanager(
    alert: &Alert,
    group: Option<&str>,
    action: Action,
    now: DateTime<Utc>,
    resolve_after: Duration,
    runbook_url: Option<&str>,
) -> Value {
    let rule = alert.rules.first().map_or("unknown", String::as_str);
    let mut labels = json!({
        "alertname": ALERTNAME,
        "severity": alert.severity.as_str(),
        "employee_id": alert.employee_id.0,
        "alert_id": alert.id,
        "source": "driftwatch",
    });
    if let (Some(g), Some(map)) = (group, labels.as_object_mut()) {
        map.insert("group".into(), Value::String(g.to_owned()));
    }
    let mut annotations = json!({
        "summary": alert.summary,
        "rules": alert.rules.join(","),
        "description": description(alert),
        "risk": alert.risk.to_string(),
        "status": status(alert),
        "evidence": serde_json::to_string(&alert.evidence).unwrap_or_default(),
    });
    if let (Some(url), Some(map)) = (runbook_url, annotations.as_object_mut()) {
        map.insert("runbook_url".into(), Value::String(runbook(url, rule)));
    }
    let ends = match action {
        Action::Trigger => now + resolve_after,
        Action::Resolve => now,
    };
    let mut body = json!({
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(alert.time.min(now)),
        "endsAt": rfc3339(ends),
    });
    if let (Some(url), Some(map)) = (runbook_url, body.as_object_mut()) {
        map.insert("generatorURL".into(), Value::String(runbook(url, rule)));
    }
    body
}

/// A PagerDuty Events API v2 event. `dedup_key` is the alert id, so escalations and
/// repeats update one incident and `resolve` closes it.
pub fn pagerduty(
    alert: &Alert,
    routing_key: &str,
    action: Action,
    runbook_url: Option<&str>,
) -> Value {
    let rule = alert.rules.first().map_or("unknown", String::as_str);
    match action {
        Action::Resolve => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": alert.id,
        }),
        Action::Trigger => {
            let mut event = json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": alert.id,
                "payload": {
                    "summary": truncate(&headline(alert), PAGERDUTY_SUMMARY_MAX),
                    "source": "driftwatch",
                    "severity": pagerduty_severity(alert.severity),
                    "timestamp": rfc3339(alert.time),
                    "component": "driftwatch",
                    "group": alert.employee_id.0,
                    "class": rule,
                    "custom_details": {
                        "alert_id": alert.id,
                        "employee_id": alert.employee_id.0,
                        "status": status(alert),
                        "rules": alert.rules,
                        "risk": alert.risk,
                        "summary": alert.summary,
                        "evidence": alert.evidence,
                    },
                },
                "client": "driftwatch",
            });
            if let (Some(url), Some(map)) = (runbook_url, event.as_object_mut()) {
                map.insert(
                    "links".into(),
                    json!([{ "href": runbook(url, rule), "text": format!("Runbook: {rule}") }]),
                );
            }
            event
        }
    }
}

/// PagerDuty's four severities: critical, error, warning, info.
pub fn pagerduty_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "info",
    }
}

/// A Slack incoming-webhook message: a fallback line for notifications and one coloured
/// attachment with the summary, as Alertmanager's own Slack notifier sends it.
pub fn slack(alert: &Alert, action: Action, runbook_url: Option<&str>) -> Value {
    let rule = alert.rules.first().map_or("unknown", String::as_str);
    let title = match action {
        Action::Trigger => format!(
            "[{}] {}",
            alert.severity.as_str().to_uppercase(),
            headline(alert)
        ),
        Action::Resolve => format!("[RESOLVED] {}", headline(alert)),
    };
    let color = match (action, alert.severity) {
        (Action::Resolve, _) => "good",
        (_, Severity::Critical | Severity::High) => "danger",
        (_, Severity::Medium) => "warning",
        (_, Severity::Low) => "#439FE0",
    };
    let mut text = format!(
        "{}\n*Employee:* {}  *Risk:* {}  *Rules:* {}  *Alert:* `{}`",
        alert.summary,
        alert.employee_id.0,
        alert.risk,
        alert.rules.join(", "),
        alert.id
    );
    if let Some(url) = runbook_url {
        text.push_str(&format!("\n<{}|Runbook: {rule}>", runbook(url, rule)));
    }
    json!({
        "text": truncate(&title, SLACK_TEXT_MAX),
        "attachments": [{
            "title": truncate(&title, SLACK_TEXT_MAX),
            "text": truncate(&text, SLACK_TEXT_MAX),
            "fallback": truncate(&title, SLACK_TEXT_MAX),
            "color": color,
            "footer": "driftwatch",
            "ts": alert.time.timestamp(),
            "mrkdwn_in": ["text"],
        }],
    })
}

/// The generic webhook body: the alert as driftwatch writes it, with the key a receiver
/// deduplicates on (`dedup_key`, the alert id, also sent as the `Idempotency-Key` header)
/// and the roster group.
pub fn webhook(alert: &Alert, group: Option<&str>, action: Action) -> Value {
    json!({
        "version": "1",
        "source": "driftwatch",
        "action": match action { Action::Trigger => "trigger", Action::Resolve => "resolve" },
        "dedup_key": alert.id,
        "group": group,
        "alert": alert,
    })
}

/// The body of a webhook or the line of a file destination in its `format`: the
/// [`webhook`] envelope for `driftwatch`, the alert alone as an OCSF Detection Finding or
/// an ECS document otherwise (a resolution closes the finding: OCSF activity Close, ECS
/// `event.action: resolved`).
pub fn alert_body(
    alert: &Alert,
    group: Option<&str>,
    action: Action,
    format: AlertsFormat,
) -> Value {
    let lifecycle = match action {
        Action::Trigger => Lifecycle::AsWritten,
        Action::Resolve => Lifecycle::Resolved,
    };
    match format {
        AlertsFormat::Driftwatch => webhook(alert, group, action),
        other => crate::siem::to_value(alert, other, lifecycle),
    }
}

/// One line: severity, employee, rules, summary.
pub fn headline(alert: &Alert) -> String {
    format!(
        "driftwatch {} {} ({}): {}",
        alert.severity.as_str(),
        alert.employee_id.0,
        alert.rules.join(", "),
        alert.summary
    )
}

fn description(alert: &Alert) -> String {
    format!(
        "{} Employee {}, risk {}, rules {}, alert {} ({}).",
        alert.summary,
        alert.employee_id.0,
        alert.risk,
        alert.rules.join(", "),
        alert.id,
        status(alert)
    )
}

fn status(alert: &Alert) -> &'static str {
    match alert.status {
        crate::alert::AlertStatus::Open => "open",
        crate::alert::AlertStatus::Escalated => "escalated",
    }
}

/// The runbook section of `rule`: `docs/runbook.md` has one headed by each rule's name,
/// whose anchor is the name itself.
pub fn runbook(base: &str, rule: &str) -> String {
    format!("{base}#{rule}")
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// At most `max` bytes, cut at a character boundary, with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let ellipsis = '…';
    let mut end = max.saturating_sub(ellipsis.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ellipsis}", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertStatus, Evidence};
    use crate::roster::EmployeeId;

    fn alert() -> Alert {
        Alert {
            id: "dw-0123456789abcdef01234567".into(),
            status: AlertStatus::Open,
            employee_id: EmployeeId("E1042".into()),
            time: DateTime::parse_from_rfc3339("2026-10-03T02:14:00Z")
                .unwrap()
                .to_utc(),
            severity: Severity::High,
            rules: vec!["claimed_location".into(), "anonymizer".into()],
            risk: 72,
            summary: "Login from Shenyang, CN; claims Austin, US (11,600 km away)".into(),
            findings: Vec::new(),
            evidence: vec![Evidence::Claimed {
                country: "US".into(),
                city: Some("Austin".into()),
                timezone: "America/Chicago".into(),
            }],
        }
    }

    #[test]
    fn a_siem_body_is_the_alert_alone_and_a_resolution_closes_it() {
        let a = alert();
        let plain = alert_body(&a, Some("eng"), Action::Trigger, AlertsFormat::Driftwatch);
        assert_eq!(plain, webhook(&a, Some("eng"), Action::Trigger));
        let open = alert_body(&a, Some("eng"), Action::Trigger, AlertsFormat::Ocsf);
        assert_eq!(
            (open["activity_id"].as_u64(), open["status_id"].as_u64()),
            (Some(1), Some(1))
        );
        assert!(open.get("dedup_key").is_none(), "no envelope");
        let closed = alert_body(&a, None, Action::Resolve, AlertsFormat::Ocsf);
        assert_eq!(
            (closed["activity_id"].as_u64(), closed["status_id"].as_u64()),
            (Some(3), Some(4))
        );
        assert_eq!(closed["type_uid"], 200403);
        let ecs = alert_body(&a, None, Action::Resolve, AlertsFormat::Ecs);
        assert_eq!(ecs["event"]["action"], "resolved");
        assert_eq!(
            crate::siem::read_alert(ecs.to_string().as_bytes()).unwrap(),
            a
        );
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn alertmanager_labels_group_and_deduplicate_and_ends_at_resolves() {
        let a = alert();
        let v = alertmanager(
            &a,
            Some("contractors"),
            Action::Trigger,
            now(),
            Duration::hours(24),
            Some("https://r/runbook.md"),
        );
        let labels = &v["labels"];
        assert_eq!(labels["alertname"], ALERTNAME);
        assert_eq!(v["annotations"]["rules"], "claimed_location,anonymizer");
        let names: Vec<&String> = labels.as_object().unwrap().keys().collect();
        assert_eq!(
            names,
            [
                "alert_id",
                "alertname",
                "employee_id",
                "group",
                "severity",
                "source"
            ],
            "only what stays put while an alert lives"
        );
        assert_eq!(labels["severity"], "high");
        assert_eq!(labels["employee_id"], "E1042");
        assert_eq!(labels["alert_id"], a.id);
        assert_eq!(labels["group"], "contractors");
        assert_eq!(v["startsAt"], "2026-10-03T02:14:00.000Z");
        assert_eq!(v["endsAt"], "2026-11-30T12:00:00.000Z");
        assert_eq!(v["annotations"]["summary"], a.summary);
        assert_eq!(
            v["annotations"]["runbook_url"],
            "https://r/runbook.md#claimed_location"
        );
        // Every label and annotation value is a string (Alertmanager refuses others).
        for part in ["labels", "annotations"] {
            for (k, val) in v[part].as_object().unwrap() {
                assert!(val.is_string(), "{part}.{k} = {val}");
            }
        }
        let resolved = alertmanager(&a, None, Action::Resolve, now(), Duration::hours(24), None);
        assert_eq!(resolved["endsAt"], "2026-11-29T12:00:00.000Z");
        assert!(resolved["labels"].get("group").is_none());
        assert!(resolved.get("generatorURL").is_none());
    }

    #[test]
    fn pagerduty_event_has_the_documented_fields() {
        let mut a = alert();
        a.summary = "é".repeat(800); // 1600 bytes, two per character
        let v = pagerduty(&a, "R0UT1NGKEY", Action::Trigger, None);
        assert_eq!(v["event_action"], "trigger");
        assert_eq!(v["dedup_key"], a.id);
        assert_eq!(v["routing_key"], "R0UT1NGKEY");
        let summary = v["payload"]["summary"].as_str().unwrap();
        assert!(summary.len() <= PAGERDUTY_SUMMARY_MAX, "{}", summary.len());
        assert!(summary.ends_with('…'));
        assert_eq!(v["payload"]["severity"], "error");
        assert_eq!(v["payload"]["source"], "driftwatch");
        assert_eq!(
            v["payload"]["custom_details"]["evidence"][0]["type"],
            "claimed"
        );
        let r = pagerduty(&a, "R0UT1NGKEY", Action::Resolve, None);
        assert_eq!(
            r,
            json!({"routing_key": "R0UT1NGKEY", "event_action": "resolve", "dedup_key": a.id})
        );
        let severities: Vec<_> = Severity::ALL
            .iter()
            .map(|&s| pagerduty_severity(s))
            .collect();
        assert_eq!(severities, ["info", "warning", "error", "critical"]);
    }

    #[test]
    fn slack_and_webhook_carry_the_alert() {
        let a = alert();
        let s = slack(&a, Action::Trigger, Some("https://r"));
        assert!(
            s["text"]
                .as_str()
                .unwrap()
                .starts_with("[HIGH] driftwatch high E1042")
        );
        assert_eq!(s["attachments"][0]["color"], "danger");
        assert!(
            s["attachments"][0]["text"]
                .as_str()
                .unwrap()
                .contains(&a.id)
        );
        let w = webhook(&a, None, Action::Trigger);
        assert_eq!(w["dedup_key"], a.id);
        let back: Alert = serde_json::from_value(w["alert"].clone()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcdef", 5), "ab…");
        assert_eq!(truncate("ééé", 5), "é…");
    }
}
