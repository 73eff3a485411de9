//! Request bodies, one function per destination kind. Pure: the clock and the settings
//! are arguments.
//!
//! Shapes follow the receivers' documentation and what Alertmanager itself sends
//! (`shared/reference/alertmanager-captured/`): Alertmanager API v2 `postableAlerts`,
//! PagerDuty Events API v2 `trigger`/`resolve`, Slack's attachment message.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::page::{self, Decided, Links, Person, next_step};
use crate::alert::{Alert, Severity};
use crate::siem::{AlertsFormat, Lifecycle, rfc3339};

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
/// Annotations carry what a person reads: the summary, the login time and the detection
/// (or delivery) time, the roster's display name, UPN, group and manager and the sign-in's
/// correlation id, device and user agent where known, `next_step`, `runbook_url` and
/// `alert_url` (the alert in the analyst API). Personal fields are never labels.
///
/// `startsAt` is the triggering login's time; `endsAt` is `resolve_after` after `now` for
/// an open alert (not posted again within it, it resolves) and `now` for a resolved one.
pub fn alertmanager(
    alert: &Alert,
    person: &Person,
    action: Action,
    now: DateTime<Utc>,
    resolve_after: Duration,
    links: &Links,
) -> Value {
    let rule = primary_rule(alert);
    let mut labels = json!({
        "alertname": ALERTNAME,
        "severity": alert.severity.as_str(),
        "employee_id": alert.employee_id.0,
        "alert_id": alert.id,
        "source": "driftwatch",
    });
    if let (Some(g), Some(map)) = (&person.group, labels.as_object_mut()) {
        map.insert("group".into(), Value::String(g.clone()));
    }
    let mut annotations = json!({
        "summary": alert.summary,
        "rules": alert.rules.join(","),
        "description": description(alert),
        "risk": alert.risk.to_string(),
        "status": status(alert),
        "evidence": serde_json::to_string(&alert.evidence).unwrap_or_default(),
    });
    insert_facts(&mut annotations, alert, person, now, links);
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
    if let (Some(url), Some(map)) = (links.runbook(rule), body.as_object_mut()) {
        map.insert("generatorURL".into(), Value::String(url));
    }
    body
}

/// What every payload kind shows beside the alert, as (name, text) pairs in page order,
/// present facts only: the two times, the person, the sign-in, the next step and the
/// links.
pub fn facts(
    alert: &Alert,
    person: &Person,
    now: DateTime<Utc>,
    links: &Links,
) -> Vec<(&'static str, String)> {
    let rule = primary_rule(alert);
    let decided = Decided::of(alert, now);
    let mut out = vec![
        ("login_time", rfc3339(alert.time)),
        (decided.key(), rfc3339(decided.time())),
    ];
    out.extend(person.fields().into_iter().map(|(k, v)| (k, v.to_owned())));
    out.extend(page::sign_in(alert));
    out.push(("next_step", next_step(rule).to_owned()));
    if let Some(url) = links.runbook(rule) {
        out.push(("runbook_url", url));
    }
    if let Some(url) = links.alert(&alert.id) {
        out.push(("alert_url", url));
    }
    out
}

/// The [`facts`] as string members of the object `into` (Alertmanager annotations,
/// PagerDuty `custom_details`, the webhook body).
fn insert_facts(
    into: &mut Value,
    alert: &Alert,
    person: &Person,
    now: DateTime<Utc>,
    links: &Links,
) {
    if let Some(map) = into.as_object_mut() {
        for (k, v) in facts(alert, person, now, links) {
            map.insert(k.into(), Value::String(v));
        }
    }
}

/// A PagerDuty Events API v2 event. `dedup_key` is the alert id, so escalations and
/// repeats update one incident and `resolve` closes it. `custom_details` has the
/// [`facts`] beside the alert; `links` the runbook section and the alert in the API.
pub fn pagerduty(
    alert: &Alert,
    person: &Person,
    routing_key: &str,
    action: Action,
    now: DateTime<Utc>,
    links: &Links,
) -> Value {
    let rule = primary_rule(alert);
    match action {
        Action::Resolve => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": alert.id,
        }),
        Action::Trigger => {
            let mut details = json!({
                "alert_id": alert.id,
                "employee_id": alert.employee_id.0,
                "status": status(alert),
                "rules": alert.rules,
                "risk": alert.risk,
                "summary": alert.summary,
                "evidence": alert.evidence,
            });
            insert_facts(&mut details, alert, person, now, links);
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
                    "custom_details": details,
                },
                "client": "driftwatch",
            });
            let mut hrefs = Vec::new();
            if let Some(url) = links.runbook(rule) {
                hrefs.push(json!({ "href": url, "text": format!("Runbook: {rule}") }));
            }
            if let Some(url) = links.alert(&alert.id) {
                hrefs.push(json!({ "href": url, "text": format!("Alert {}", alert.id) }));
            }
            if let (false, Some(map)) = (hrefs.is_empty(), event.as_object_mut()) {
                map.insert("links".into(), Value::Array(hrefs));
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
/// attachment, as Alertmanager's own Slack notifier sends it. The attachment's text has
/// the summary and the employee, then the [`facts`] every payload shows, a line per kind:
/// the login and detection times, the roster's name, UPN, group and manager where known,
/// the sign-in's ids, the next step and mrkdwn links to the runbook section and to the
/// alert in the analyst API.
pub fn slack(
    alert: &Alert,
    person: &Person,
    action: Action,
    now: DateTime<Utc>,
    links: &Links,
) -> Value {
    let rule = primary_rule(alert);
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
    // The facts in page order, a line per kind: the times, the person, the sign-in, the
    // next step, the links.
    let mut lines: Vec<(SlackLine, Vec<String>)> = Vec::new();
    for (key, value) in facts(alert, person, now, links) {
        let (line, item) = match key {
            "runbook_url" => (SlackLine::Links, format!("<{value}|Runbook: {rule}>")),
            "alert_url" => (SlackLine::Links, format!("<{value}|Alert in driftwatch>")),
            key => {
                let (line, label) = slack_field(key);
                (line, format!("*{label}:* {}", slack_escape(&value)))
            }
        };
        match lines.last_mut() {
            Some((l, items)) if *l == line => items.push(item),
            _ => lines.push((line, vec![item])),
        }
    }
    for (_, items) in &lines {
        text.push('\n');
        text.push_str(&items.join("  "));
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

/// The line of a Slack message a fact goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlackLine {
    Times,
    Person,
    SignIn,
    NextStep,
    Links,
    Other,
}

/// The line a [`facts`] entry goes on in a Slack message, and its label there.
fn slack_field(key: &str) -> (SlackLine, &'static str) {
    match key {
        "login_time" => (SlackLine::Times, "Login"),
        "detected_at" => (SlackLine::Times, "Detected"),
        "delivered_at" => (SlackLine::Times, "Delivered (detection time not recorded)"),
        "display_name" => (SlackLine::Person, "Name"),
        "upn" => (SlackLine::Person, "UPN"),
        "group" => (SlackLine::Person, "Group"),
        "manager" => (SlackLine::Person, "Manager"),
        "correlation_id" => (SlackLine::SignIn, "Correlation id"),
        "device" => (SlackLine::SignIn, "Device"),
        "user_agent" => (SlackLine::SignIn, "User agent"),
        "next_step" => (SlackLine::NextStep, "Next step"),
        _ => (SlackLine::Other, "Detail"),
    }
}

/// Slack reads `&`, `<` and `>` as markup in message text: a user agent or a name from
/// HR must show as written, not become a link.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The generic webhook body: the alert as driftwatch writes it, with the key a receiver
/// deduplicates on (`dedup_key`, the alert id, also sent as the `Idempotency-Key` header),
/// the roster group (`null` without one) and the [`facts`] as top-level fields.
pub fn webhook(
    alert: &Alert,
    person: &Person,
    action: Action,
    now: DateTime<Utc>,
    links: &Links,
) -> Value {
    let mut body = json!({
        "version": "1",
        "source": "driftwatch",
        "action": match action { Action::Trigger => "trigger", Action::Resolve => "resolve" },
        "dedup_key": alert.id,
        "group": person.group,
        "alert": alert,
    });
    insert_facts(&mut body, alert, person, now, links);
    body
}

/// The runbook section of `rule`: `docs/runbook.md` has one headed by each rule's name,
/// whose anchor is the name itself.
pub fn runbook(base: &str, rule: &str) -> String {
    format!("{base}#{rule}")
}

fn primary_rule(alert: &Alert) -> &str {
    alert.lead_rule().unwrap_or("unknown")
}

/// The body of a webhook or the line of a file destination in its `format`: the
/// [`webhook`] envelope for `driftwatch`, the alert alone as an OCSF Detection Finding or
/// an ECS document otherwise (a resolution closes the finding: OCSF activity Close, ECS
/// `event.action: resolved`).
pub fn alert_body(
    alert: &Alert,
    person: &Person,
    action: Action,
    now: DateTime<Utc>,
    links: &Links,
    format: AlertsFormat,
) -> Value {
    let lifecycle = match action {
        Action::Trigger => Lifecycle::AsWritten,
        Action::Resolve => Lifecycle::Resolved,
    };
    match format {
        AlertsFormat::Driftwatch => webhook(alert, person, action, now, links),
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
    alert.status.as_str()
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
    use crate::event::{EventKind, Format};
    use crate::roster::EmployeeId;

    fn alert() -> Alert {
        Alert {
            id: "dw-0123456789abcdef01234567".into(),
            status: AlertStatus::Open,
            employee_id: EmployeeId("E1042".into()),
            time: DateTime::parse_from_rfc3339("2026-10-03T02:14:00Z")
                .unwrap()
                .to_utc(),
            detected_at: None,
            severity: Severity::High,
            rules: vec!["claimed_location".into(), "anonymizer".into()],
            risk: 72,
            summary: "Login from Shenyang, CN; claims Austin, US (11,600 km away)".into(),
            findings: Vec::new(),
            evidence: vec![
                Evidence::Login {
                    time: DateTime::parse_from_rfc3339("2026-10-03T02:14:00Z")
                        .unwrap()
                        .to_utc(),
                    ip: "203.0.113.7".parse().unwrap(),
                    kind: EventKind::InteractiveLogin,
                    format: Format::Okta,
                    user: "dramos@corp.example".into(),
                    source_id: Some("evt-1".into()),
                    correlation_id: Some("XkccyyMli2Uay2I93ZgRzQAAB0c".into()),
                    user_agent: Some("Mozilla/5.0 <script>".into()),
                    device: Some("Computer".into()),
                },
                Evidence::Claimed {
                    country: "US".into(),
                    city: Some("Austin".into()),
                    timezone: "America/Chicago".into(),
                },
            ],
        }
    }

    /// The alert as `driftwatch run` writes it: with its detection time.
    fn detected() -> Alert {
        let mut a = alert();
        a.detected_at = Some(
            DateTime::parse_from_rfc3339("2026-10-03T02:19:30Z")
                .unwrap()
                .to_utc(),
        );
        a
    }

    fn person() -> Person {
        Person {
            group: Some("contractors".into()),
            display_name: Some("Diego Ramos".into()),
            upn: Some("dramos@corp.example".into()),
            manager: Some("Erin Klein".into()),
        }
    }

    fn links() -> Links {
        Links {
            runbook_url: Some("https://r/runbook.md".into()),
            api_url: Some("https://dw.example:9464".into()),
        }
    }

    #[test]
    fn a_siem_body_is_the_alert_alone_and_a_resolution_closes_it() {
        let a = alert();
        let (p, l) = (person(), links());
        let body = |action, format| alert_body(&a, &p, action, now(), &l, format);
        let plain = body(Action::Trigger, AlertsFormat::Driftwatch);
        assert_eq!(plain, webhook(&a, &p, Action::Trigger, now(), &l));
        let open = body(Action::Trigger, AlertsFormat::Ocsf);
        assert_eq!(
            (open["activity_id"].as_u64(), open["status_id"].as_u64()),
            (Some(1), Some(1))
        );
        assert!(open.get("dedup_key").is_none(), "no envelope");
        let closed = body(Action::Resolve, AlertsFormat::Ocsf);
        assert_eq!(
            (closed["activity_id"].as_u64(), closed["status_id"].as_u64()),
            (Some(3), Some(4))
        );
        assert_eq!(closed["type_uid"], 200403);
        let ecs = body(Action::Resolve, AlertsFormat::Ecs);
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

    const ALERT_URL: &str = "https://dw.example:9464/api/v1/alerts/dw-0123456789abcdef01234567";
    const RUNBOOK: &str = "https://r/runbook.md#claimed_location";

    /// The roster's fields, the sign-in's, the times, the next step and the links are all
    /// in `v` under their names, as strings.
    fn assert_facts(v: &Value, what: &str) {
        for (key, want) in [
            ("login_time", "2026-10-03T02:14:00.000Z"),
            ("detected_at", "2026-10-03T02:19:30.000Z"),
            ("display_name", "Diego Ramos"),
            ("upn", "dramos@corp.example"),
            ("group", "contractors"),
            ("manager", "Erin Klein"),
            ("correlation_id", "XkccyyMli2Uay2I93ZgRzQAAB0c"),
            ("device", "Computer"),
            ("user_agent", "Mozilla/5.0 <script>"),
            ("next_step", next_step("claimed_location")),
            ("runbook_url", RUNBOOK),
            ("alert_url", ALERT_URL),
        ] {
            assert_eq!(v[key], want, "{what}.{key} in {v:#}");
        }
        assert!(
            v.get("delivered_at").is_none(),
            "{what}: the detection time is known"
        );
    }

    /// Without roster fields, sign-in ids, detection time or links: those keys are left
    /// out (never empty), and the delivery time stands in, named so.
    fn assert_bare(v: &Value, what: &str) {
        for key in [
            "display_name",
            "upn",
            "manager",
            "correlation_id",
            "device",
            "user_agent",
            "runbook_url",
            "alert_url",
            "detected_at",
        ] {
            assert!(v.get(key).is_none(), "{what}.{key} present in {v:#}");
        }
        assert_eq!(v["delivered_at"], "2026-11-29T12:00:00.000Z", "{what}");
        assert_eq!(v["login_time"], "2026-10-03T02:14:00.000Z", "{what}");
        assert_eq!(v["next_step"], next_step("claimed_location"), "{what}");
    }

    fn bare_alert() -> Alert {
        let mut a = alert();
        a.evidence.retain(|e| !matches!(e, Evidence::Login { .. }));
        a
    }

    #[test]
    fn alertmanager_labels_group_and_deduplicate_and_ends_at_resolves() {
        let a = detected();
        let v = alertmanager(
            &a,
            &person(),
            Action::Trigger,
            now(),
            Duration::hours(24),
            &links(),
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
            "only what stays put while an alert lives; never a name, UPN or manager"
        );
        assert_eq!(labels["severity"], "high");
        assert_eq!(labels["employee_id"], "E1042");
        assert_eq!(labels["alert_id"], a.id);
        assert_eq!(labels["group"], "contractors");
        assert_eq!(v["startsAt"], "2026-10-03T02:14:00.000Z");
        assert_eq!(v["endsAt"], "2026-11-30T12:00:00.000Z");
        assert_eq!(v["annotations"]["summary"], a.summary);
        assert_facts(&v["annotations"], "annotations");
        assert_eq!(v["generatorURL"], RUNBOOK);
        // Every label and annotation value is a string (Alertmanager refuses others).
        for part in ["labels", "annotations"] {
            for (k, val) in v[part].as_object().unwrap() {
                assert!(val.is_string(), "{part}.{k} = {val}");
            }
        }
        let resolved = alertmanager(
            &bare_alert(),
            &Person::default(),
            Action::Resolve,
            now(),
            Duration::hours(24),
            &Links::default(),
        );
        assert_eq!(resolved["endsAt"], "2026-11-29T12:00:00.000Z");
        assert!(resolved["labels"].get("group").is_none());
        assert!(resolved["annotations"].get("group").is_none());
        assert!(resolved.get("generatorURL").is_none());
        assert_bare(&resolved["annotations"], "annotations");
    }

    #[test]
    fn pagerduty_event_has_the_documented_fields() {
        let mut a = detected();
        a.summary = "é".repeat(800); // 1600 bytes, two per character
        let v = pagerduty(
            &a,
            &person(),
            "R0UT1NGKEY",
            Action::Trigger,
            now(),
            &links(),
        );
        assert_eq!(v["event_action"], "trigger");
        assert_eq!(v["dedup_key"], a.id);
        assert_eq!(v["routing_key"], "R0UT1NGKEY");
        let summary = v["payload"]["summary"].as_str().unwrap();
        assert!(summary.len() <= PAGERDUTY_SUMMARY_MAX, "{}", summary.len());
        assert!(summary.ends_with('…'));
        assert_eq!(v["payload"]["severity"], "error");
        assert_eq!(v["payload"]["source"], "driftwatch");
        let details = &v["payload"]["custom_details"];
        assert_eq!(details["evidence"][1]["type"], "claimed");
        assert_facts(details, "custom_details");
        assert_eq!(
            v["links"],
            json!([
                {"href": RUNBOOK, "text": "Runbook: claimed_location"},
                {"href": ALERT_URL, "text": format!("Alert {}", a.id)},
            ])
        );
        let bare = pagerduty(
            &bare_alert(),
            &Person::default(),
            "K",
            Action::Trigger,
            now(),
            &Links::default(),
        );
        assert!(bare.get("links").is_none(), "no empty links list");
        assert_bare(&bare["payload"]["custom_details"], "custom_details");
        let r = pagerduty(
            &a,
            &person(),
            "R0UT1NGKEY",
            Action::Resolve,
            now(),
            &links(),
        );
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
    fn slack_shows_the_person_the_times_the_next_step_and_links() {
        let a = detected();
        let s = slack(&a, &person(), Action::Trigger, now(), &links());
        assert!(
            s["text"]
                .as_str()
                .unwrap()
                .starts_with("[HIGH] driftwatch high E1042")
        );
        assert_eq!(s["attachments"][0]["color"], "danger");
        let text = s["attachments"][0]["text"].as_str().unwrap();
        for part in [
            a.id.as_str(),
            "*Name:* Diego Ramos  *UPN:* dramos@corp.example  *Group:* contractors  *Manager:* Erin Klein",
            "*Login:* 2026-10-03T02:14:00.000Z  *Detected:* 2026-10-03T02:19:30.000Z",
            "*Correlation id:* XkccyyMli2Uay2I93ZgRzQAAB0c  *Device:* Computer  *User agent:* Mozilla/5.0 &lt;script&gt;",
            &format!("*Next step:* {}", next_step("claimed_location")),
            &format!("<{RUNBOOK}|Runbook: claimed_location>"),
            &format!("<{ALERT_URL}|Alert in driftwatch>"),
        ] {
            assert!(text.contains(part), "{part:?} missing from:\n{text}");
        }
        let bare = slack(
            &bare_alert(),
            &Person::default(),
            Action::Resolve,
            now(),
            &Links::default(),
        );
        let text = bare["attachments"][0]["text"].as_str().unwrap();
        assert!(text.contains(
            "*Login:* 2026-10-03T02:14:00.000Z  *Delivered (detection time not recorded):* 2026-11-29T12:00:00.000Z"
        ), "{text}");
        for absent in [
            "*Name:*",
            "*Manager:*",
            "*Correlation id:*",
            "Runbook",
            "<http",
        ] {
            assert!(!text.contains(absent), "{absent} in:\n{text}");
        }
        assert!(bare["text"].as_str().unwrap().starts_with("[RESOLVED]"));
    }

    #[test]
    fn webhook_carries_the_alert_and_the_facts() {
        let a = detected();
        let w = webhook(&a, &person(), Action::Trigger, now(), &links());
        assert_eq!(w["dedup_key"], a.id);
        assert_facts(&w, "webhook");
        let back: Alert = serde_json::from_value(w["alert"].clone()).unwrap();
        assert_eq!(back, a);
        let bare = webhook(
            &bare_alert(),
            &Person::default(),
            Action::Resolve,
            now(),
            &Links::default(),
        );
        assert_eq!(bare["action"], "resolve");
        assert_eq!(bare["group"], Value::Null, "group stays, null without one");
        assert_bare(&bare, "webhook");
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcdef", 5), "ab…");
        assert_eq!(truncate("ééé", 5), "é…");
    }
}
