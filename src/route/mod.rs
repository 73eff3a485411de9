//! On-call routing: which alert goes to which destination, what each destination is sent,
//! and delivery with retries and a rate limit.
//!
//! - this file: `[route]` and `[[route.destination]]` (kinds, filters, limits) and the
//!   matching of an alert against a destination's filters (pure);
//! - [`page`]: what a page says beyond the alert line: the roster's person, the login and
//!   detection times, the sign-in's ids, the next step and the links (pure);
//! - [`payload`]: the request bodies of Alertmanager API v2, PagerDuty Events API v2, Slack
//!   incoming webhooks, the generic JSON webhook and the JSON-lines file (pure);
//! - [`deliver`]: one destination's HTTP client, token-bucket rate limit and retry loop
//!   (exponential backoff with jitter, no limit on attempts for errors that can pass).
//!
//! The streaming driver runs one consumer of the alerts topic per destination
//! (`service::route`); `driftwatch replay --route` delivers what a replay found
//! ([`deliver::deliver_all`]).
//!
//! Every payload carries the alert's deterministic id (Alertmanager label `alert_id`,
//! PagerDuty `dedup_key`, webhook `dedup_key`), so a delivery repeated after a crash or a
//! retry updates what the destination already has instead of paging twice.

pub mod deliver;
pub mod page;
pub mod payload;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde::Deserialize;

use crate::alert::{Alert, Severity};
use crate::siem::AlertsFormat;

/// `[route]`: the on-call destinations.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    /// Base address of the runbook; payloads link `<runbook_url>#<rule>`.
    pub runbook_url: Option<String>,
    /// Base address of driftwatch's analyst API as analysts reach it (`[service] listen`
    /// behind whatever proxy); payloads link the alert, `<api_url>/api/v1/alerts/<id>`.
    pub api_url: Option<String>,
    /// `[[route.destination]]`, each its own consumer of the alerts topic.
    pub destination: Vec<DestinationConfig>,
}

/// What a destination is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Alertmanager API v2: `POST <url>/api/v2/alerts`.
    Alertmanager,
    /// PagerDuty Events API v2: `POST <url>` (default the public enqueue endpoint).
    Pagerduty,
    /// Slack incoming webhook: `POST <url>`.
    Slack,
    /// Any HTTP endpoint taking the alert as JSON: `POST <url>`.
    Webhook,
    /// Append JSON lines to `path` (`-` for stdout): for demos and air-gapped sites.
    File,
}

/// Whether `url` is an http or https address.
fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Alertmanager => "alertmanager",
            Kind::Pagerduty => "pagerduty",
            Kind::Slack => "slack",
            Kind::Webhook => "webhook",
            Kind::File => "file",
        }
    }
}

/// The public PagerDuty Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// `[[route.destination]]`: one on-call destination, its filters and its limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    /// Unique; names the consumer group (`<group_id>.route.<name>`) and the `destination`
    /// label of the notification metrics, so letters, digits, `_` and `-` only.
    pub name: String,
    pub kind: Kind,
    /// Alertmanager: its base address (`http://alertmanager:9093`); PagerDuty: the events
    /// endpoint (default [`PAGERDUTY_EVENTS_URL`]); Slack, webhook: the address to post to.
    /// `${NAME}` reads the environment variable NAME (Slack webhook addresses are secrets).
    #[serde(default)]
    pub url: Option<String>,
    /// PagerDuty: the integration's routing key, usually `${PAGERDUTY_ROUTING_KEY}`.
    #[serde(default)]
    pub routing_key: Option<String>,
    /// Extra request headers (`Authorization = "Bearer ${TOKEN}"`: `${NAME}` anywhere in
    /// a value reads the environment variable NAME); values are never logged.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// File: where the JSON lines go; `-` is stdout.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Webhook, file: how the alert is written. `driftwatch` (default): the envelope of
    /// [`payload::webhook`] (`dedup_key`, `action`, `group`, the alert); `ocsf` or `ecs`:
    /// the alert alone as an OCSF Detection Finding or an ECS document, as a SIEM's
    /// collector takes it. Alertmanager, PagerDuty and Slack fix their own shape, so
    /// `format` there is a configuration error.
    #[serde(default)]
    pub format: Option<AlertsFormat>,
    /// Only alerts of this severity or higher.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Only alerts naming one of these rules (empty: any rule).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Only employees whose roster `group` is one of these (empty: anyone, including
    /// employees without a group).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Sustained requests per second (a token bucket refilled at this rate).
    #[serde(default = "default_rate")]
    pub rate_per_second: f64,
    /// Requests that may go at once after a quiet period (the bucket's size).
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Timeout of one request.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// First wait after a failed attempt; it doubles with each failure (with jitter).
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff_ms: u64,
    /// Longest wait between two attempts. Attempts never stop while the destination
    /// fails with something that can pass (connection refused, timeout, 408, 429, 5xx).
    #[serde(default = "default_max_backoff")]
    pub max_backoff_secs: u64,
    /// Alertmanager: `endsAt` is this long after the delivery; an alert not sent again
    /// within it resolves.
    #[serde(default = "default_resolve_after")]
    pub resolve_after_hours: u32,
    /// Alerts per Alertmanager request (it takes a list); other kinds send one per request.
    #[serde(default = "default_batch")]
    pub max_batch: usize,
}

fn default_rate() -> f64 {
    10.0
}
fn default_burst() -> u32 {
    20
}
fn default_timeout() -> u64 {
    10
}
fn default_initial_backoff() -> u64 {
    500
}
fn default_max_backoff() -> u64 {
    300
}
fn default_resolve_after() -> u32 {
    24
}
fn default_batch() -> usize {
    64
}

impl RouteConfig {
    /// The links every payload carries.
    pub fn links(&self) -> page::Links {
        page::Links {
            runbook_url: self.runbook_url.clone(),
            api_url: self.api_url.clone(),
        }
    }

    /// Every problem, for `Config::validate`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for (key, value) in [
            ("runbook_url", &self.runbook_url),
            ("api_url", &self.api_url),
        ] {
            if let Some(url) = value
                && !is_http_url(url)
            {
                errors.push(format!(
                    "route.{key}: {url:?} is not an http(s) address (pages link to it)"
                ));
            }
        }
        if let Some(url) = &self.api_url
            && url.trim_end_matches('/').ends_with("/api/v1")
        {
            errors.push(format!(
                "route.api_url: {url:?} names the API's path; give the base address \
                 (pages add /api/v1/alerts/<id>)"
            ));
        }
        let mut names = HashSet::new();
        for (i, d) in self.destination.iter().enumerate() {
            let at = format!("route.destination (entry {})", i + 1);
            if d.name.is_empty()
                || !d
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                errors.push(format!(
                    "{at}.name: {:?} must be letters, digits, _ or - (it names a consumer \
                     group and a metric label)",
                    d.name
                ));
            }
            if !names.insert(d.name.as_str()) {
                errors.push(format!("{at}.name: {:?} is used twice", d.name));
            }
            match d.kind {
                Kind::Alertmanager | Kind::Slack | Kind::Webhook if d.url.is_none() => {
                    errors.push(format!("{at}.url: a {} needs one", d.kind.as_str()));
                }
                Kind::Pagerduty if d.routing_key.is_none() => {
                    errors.push(format!("{at}.routing_key: PagerDuty needs one"));
                }
                Kind::File if d.path.is_none() => {
                    errors.push(format!("{at}.path: a file destination needs one"));
                }
                _ => {}
            }
            if let (Some(format), Kind::Alertmanager | Kind::Pagerduty | Kind::Slack) =
                (d.format, d.kind)
            {
                errors.push(format!(
                    "{at}.format: {:?} cannot apply to a {} destination, whose receiver fixes \
                     the shape of what it is sent; format is for webhook and file destinations",
                    format.as_str(),
                    d.kind.as_str()
                ));
            }
            if let Some(url) = &d.url
                && crate::config::env_reference(url).is_none()
                && !is_http_url(url)
            {
                errors.push(format!("{at}.url: {url:?} is not an http(s) address"));
            }
            if !(d.rate_per_second.is_finite() && d.rate_per_second > 0.0) {
                errors.push(format!("{at}.rate_per_second: must be above 0"));
            }
            if d.burst == 0 {
                errors.push(format!("{at}.burst: must be at least 1"));
            }
            if d.timeout_secs == 0 {
                errors.push(format!("{at}.timeout_secs: must be at least 1"));
            }
            if d.initial_backoff_ms == 0 || d.max_backoff_secs * 1000 < d.initial_backoff_ms {
                errors.push(format!(
                    "{at}: initial_backoff_ms must be at least 1 and at most max_backoff_secs"
                ));
            }
            if d.max_batch == 0 {
                errors.push(format!("{at}.max_batch: must be at least 1"));
            }
            for rule in &d.rules {
                if !crate::detect::NAMES.contains(&rule.as_str()) {
                    errors.push(format!(
                        "{at}.rules: {rule:?} is not a rule (one of {})",
                        crate::detect::NAMES.join(", ")
                    ));
                }
            }
        }
        errors
    }
}

impl DestinationConfig {
    /// Whether this destination takes `alert`, for an employee in roster group `group`.
    pub fn wants(&self, alert: &Alert, group: Option<&str>) -> bool {
        self.min_severity.is_none_or(|min| alert.severity >= min)
            && (self.rules.is_empty() || alert.rules.iter().any(|r| self.rules.contains(r)))
            && (self.groups.is_empty() || group.is_some_and(|g| self.groups.iter().any(|x| x == g)))
    }

    /// `url` with a `${NAME}` reference read from the environment.
    pub fn resolved_url(&self) -> Option<String> {
        let url = match (self.kind, &self.url) {
            (_, Some(u)) => u.as_str(),
            (Kind::Pagerduty, None) => PAGERDUTY_EVENTS_URL,
            (_, None) => return None,
        };
        Some(resolve(url))
    }

    /// The routing key with a `${NAME}` reference read from the environment.
    pub fn resolved_routing_key(&self) -> String {
        self.routing_key.as_deref().map(resolve).unwrap_or_default()
    }

    /// The extra headers with `${NAME}` references read from the environment.
    pub fn resolved_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.clone(), resolve(v)))
            .collect()
    }
}

/// `value` with every `${NAME}` in it replaced by the environment variable NAME (empty
/// when unset), so `Bearer ${TOKEN}` works as well as `${SLACK_WEBHOOK_URL}`.
fn resolve(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        let name = &rest[start + 2..start + 2 + len];
        out.push_str(&std::env::var(name).unwrap_or_default());
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertStatus;
    use crate::roster::EmployeeId;

    fn destination(toml_text: &str) -> DestinationConfig {
        toml::from_str(toml_text).unwrap()
    }

    fn alert(severity: Severity, rules: &[&str]) -> Alert {
        Alert {
            id: "dw-000000000000000000000001".into(),
            status: AlertStatus::Open,
            employee_id: EmployeeId("E1".into()),
            time: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            severity,
            rules: rules.iter().map(|r| (*r).to_owned()).collect(),
            risk: 70,
            summary: "s".into(),
            findings: Vec::new(),
            evidence: vec![],
            detected_at: None,
        }
    }

    #[test]
    fn filters_are_severity_rule_and_group() {
        let d = destination(
            r#"
            name = "pager"
            kind = "webhook"
            url = "http://x"
            min_severity = "high"
            rules = ["claimed_location", "impossible_travel"]
            groups = ["contractors"]
            "#,
        );
        let a = alert(Severity::High, &["claimed_location"]);
        assert!(d.wants(&a, Some("contractors")));
        assert!(!d.wants(&a, Some("staff")), "other group");
        assert!(!d.wants(&a, None), "no group when groups are named");
        assert!(!d.wants(
            &alert(Severity::Medium, &["claimed_location"]),
            Some("contractors")
        ));
        assert!(!d.wants(
            &alert(Severity::Critical, &["novelty"]),
            Some("contractors")
        ));
        assert!(d.wants(
            &alert(Severity::Critical, &["novelty", "impossible_travel"]),
            Some("contractors")
        ));

        let any = destination("name = \"all\"\nkind = \"file\"\npath = \"-\"");
        assert!(any.wants(&alert(Severity::Low, &["novelty"]), None));
    }

    #[test]
    fn api_url_and_runbook_url_are_http_base_addresses() {
        let c: RouteConfig = toml::from_str(
            "runbook_url = \"https://git.example/docs/runbook.md\"\napi_url = \"https://dw.example/\"",
        )
        .unwrap();
        assert_eq!(c.validate(), Vec::<String>::new());
        let links = c.links();
        assert_eq!(
            links.alert("dw-1").as_deref(),
            Some("https://dw.example/api/v1/alerts/dw-1")
        );
        assert_eq!(
            links.runbook("novelty").as_deref(),
            Some("https://git.example/docs/runbook.md#novelty")
        );
        let bad: RouteConfig =
            toml::from_str("runbook_url = \"docs/runbook.md\"\napi_url = \"dw.example:9464\"")
                .unwrap();
        let errors = bad.validate().join("\n");
        assert!(
            errors.contains("route.runbook_url: \"docs/runbook.md\""),
            "{errors}"
        );
        assert!(
            errors.contains("route.api_url: \"dw.example:9464\""),
            "{errors}"
        );
        let path: RouteConfig = toml::from_str("api_url = \"https://dw.example/api/v1/\"").unwrap();
        assert!(
            path.validate().join("\n").contains("give the base address"),
            "{:?}",
            path.validate()
        );
        assert!(toml::from_str::<RouteConfig>("api_uri = \"https://x\"").is_err());
    }

    #[test]
    fn validation_names_every_problem() {
        let c: RouteConfig = toml::from_str(
            r#"
            [[destination]]
            name = "a b"
            kind = "alertmanager"
            [[destination]]
            name = "pd"
            kind = "pagerduty"
            rate_per_second = 0
            [[destination]]
            name = "pd"
            kind = "slack"
            url = "ftp://x"
            rules = ["no_such_rule"]
            "#,
        )
        .unwrap();
        let errors = c.validate().join("\n");
        for expected in [
            "destination (entry 1).name",
            "destination (entry 1).url: a alertmanager needs one",
            "destination (entry 2).routing_key",
            "destination (entry 2).rate_per_second",
            "destination (entry 3).name: \"pd\" is used twice",
            "destination (entry 3).url: \"ftp://x\"",
            "\"no_such_rule\" is not a rule",
        ] {
            assert!(
                errors.contains(expected),
                "{expected} missing from:\n{errors}"
            );
        }
        let good: RouteConfig = toml::from_str(
            "[[destination]]\nname = \"pd\"\nkind = \"pagerduty\"\nrouting_key = \"${PD_KEY}\"",
        )
        .unwrap();
        assert_eq!(good.validate(), Vec::<String>::new());
        // SAFETY: tests in this binary read no other variable of this name.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("DW_ROUTE_TEST_TOKEN", "t0k")
        };
        assert_eq!(resolve("Bearer ${DW_ROUTE_TEST_TOKEN}!"), "Bearer t0k!");
        assert_eq!(resolve("${DW_ROUTE_TEST_UNSET}"), "");
        assert_eq!(resolve("a ${unclosed"), "a ${unclosed");
        assert_eq!(
            good.destination[0].resolved_url().as_deref(),
            Some(PAGERDUTY_EVENTS_URL)
        );
    }
}
