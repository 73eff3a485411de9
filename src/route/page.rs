//! What a page tells the analyst beyond the alert line: who the employee is (from the
//! roster), when the login happened and when driftwatch decided, the identity provider's
//! own ids of the sign-in, one next step and where to read more. Pure; every payload kind
//! in [`super::payload`] renders the same facts its own way.
//!
//! None of this ever becomes a metric label: names, UPNs and managers are personal data of
//! unbounded cardinality. In Alertmanager they are annotations, not labels.

use chrono::{DateTime, Utc};

use crate::alert::Alert;
use crate::roster::ClaimedProfile;

/// What the roster says about the employee, for the people reading a page. Each field is
/// `None` where the roster has no value, and payloads leave it out (never an empty
/// string).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// The roster `group` (team or department); also what destinations filter on.
    pub group: Option<String>,
    pub display_name: Option<String>,
    pub upn: Option<String>,
    pub manager: Option<String>,
}

impl Person {
    /// The page-worthy part of a roster profile; everything `None` for an employee the
    /// roster no longer holds.
    pub fn of(profile: Option<&ClaimedProfile>) -> Person {
        let Some(p) = profile else {
            return Person::default();
        };
        Person {
            group: p.group.clone(),
            display_name: p.display_name.clone(),
            upn: p.upn.clone(),
            manager: p.manager.clone(),
        }
    }

    /// The fields present, by their roster column names, in page order.
    pub fn fields(&self) -> Vec<(&'static str, &str)> {
        [
            ("display_name", &self.display_name),
            ("upn", &self.upn),
            ("group", &self.group),
            ("manager", &self.manager),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }
}

/// Where a page points: `[route] runbook_url` and `[route] api_url`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// Base address of `docs/runbook.md`; a rule's section is `<runbook_url>#<rule>`.
    pub runbook_url: Option<String>,
    /// Base address of driftwatch's analyst API (`https://driftwatch.example.com`); an
    /// alert is `<api_url>/api/v1/alerts/<id>`.
    pub api_url: Option<String>,
}

impl Links {
    /// The runbook section of `rule` ([`super::payload::runbook`]).
    pub fn runbook(&self, rule: &str) -> Option<String> {
        self.runbook_url
            .as_deref()
            .map(|base| super::payload::runbook(base, rule))
    }

    /// The alert in the analyst API (`GET /api/v1/alerts/{id}`: latest line, every line,
    /// evidence, dispositions).
    pub fn alert(&self, id: &str) -> Option<String> {
        self.api_url.as_deref().map(|base| {
            format!(
                "{}/api/v1/alerts/{}",
                base.trim_end_matches('/'),
                path_segment(id)
            )
        })
    }
}

/// `id` safe as one path segment. Alert ids are `dw-` and hex, but a resolve for an alert
/// this process never saw takes its id from an analyst's disposition.
fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The first thing to do about an alert whose primary rule is `rule`: the `Next step`
/// line of the rule's section in `docs/runbook.md` (a test holds the two together).
pub fn next_step(rule: &str) -> &'static str {
    match rule {
        "claimed_location" => {
            "Compare the location evidence with the claimed place, then check the travel list and ask the manager about a trip or a move."
        }
        "sanctioned_region" => {
            "Check whether the login succeeded and look the address up again now; if it holds, involve legal and compliance."
        }
        "impossible_travel" => {
            "Compare the two logins' sources and addresses: is one end a VPN, proxy, cloud or mobile-carrier exit?"
        }
        "working_hours" => {
            "Compare the inferred offset with the roster's work_hours and the same days' locations; ask the manager whether the schedule is arranged."
        }
        "anonymizer" => {
            "Find out whose exits these are: the company's own VPN belongs in corporate_egress; a consumer VPN used every day needs the employee's explanation."
        }
        "shared_infrastructure" => {
            "Look up every member of the cluster: a laptop farm usually shows other signs too."
        }
        "novelty" => "Read it with the employee's other alerts: alone it is context.",
        "concurrent_sessions" => {
            "Find which session was open and from where, and check the VPN concentrator's view of it."
        }
        "long_session" => {
            "Check whether the same laptop shows remote-access tools or logins at odd hours."
        }
        _ => "Read the summary and the evidence, then follow the runbook's steps for any rule.",
    }
}

/// The second time a page shows beside the login's: when driftwatch decided
/// ([`Alert::detected_at`], stamped by `driftwatch run`), or, for a line without one (a
/// `replay`), when the page was sent, named so that nobody reads it as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    Detected(DateTime<Utc>),
    /// No detection time recorded: the delivery time instead.
    Delivered(DateTime<Utc>),
}

impl Decided {
    pub fn of(alert: &Alert, now: DateTime<Utc>) -> Decided {
        alert
            .detected_at
            .map_or(Decided::Delivered(now), Decided::Detected)
    }

    /// The field name payloads use: `detected_at` or `delivered_at`.
    pub fn key(self) -> &'static str {
        match self {
            Decided::Detected(_) => "detected_at",
            Decided::Delivered(_) => "delivered_at",
        }
    }

    pub fn time(self) -> DateTime<Utc> {
        match self {
            Decided::Detected(t) | Decided::Delivered(t) => t,
        }
    }
}

/// What the identity provider said about the triggering sign-in ([`crate::siem::sign_in`],
/// the one the SIEM formats show too), present fields only, by name in page order: its
/// correlation id (the key of the IdP's own logs and support), the device and the user
/// agent.
pub fn sign_in(alert: &Alert) -> Vec<(&'static str, String)> {
    let s = crate::siem::sign_in(alert);
    [
        ("correlation_id", s.correlation_id),
        ("device", s.device),
        ("user_agent", s.user_agent),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v.to_owned())))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertStatus, Evidence, Severity};
    use crate::event::{EventKind, Format};
    use crate::roster::EmployeeId;

    #[test]
    fn links_join_the_bases() {
        let links = Links {
            runbook_url: Some("https://git.example/docs/runbook.md".into()),
            api_url: Some("https://dw.example/".into()),
        };
        assert_eq!(
            links.runbook("novelty").as_deref(),
            Some("https://git.example/docs/runbook.md#novelty")
        );
        assert_eq!(
            links.alert("dw-0123").as_deref(),
            Some("https://dw.example/api/v1/alerts/dw-0123")
        );
        assert_eq!(
            links.alert("a/b c").as_deref(),
            Some("https://dw.example/api/v1/alerts/a%2Fb%20c"),
            "an id from a disposition stays one path segment"
        );
        assert_eq!(Links::default().alert("dw-0123"), None);
        assert_eq!(Links::default().runbook("novelty"), None);
    }

    /// Every rule's next step is the `Next step` line of its section in the runbook, so
    /// the page and the runbook say the same thing.
    #[test]
    fn every_rule_has_the_runbooks_next_step() {
        let runbook =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/runbook.md"))
                .unwrap();
        for rule in crate::detect::NAMES {
            let heading = format!("\n### {rule}\n");
            let start = runbook
                .find(&heading)
                .unwrap_or_else(|| panic!("no runbook section for {rule}"));
            let section = &runbook[start + heading.len()..];
            let section = &section[..section.find("\n### ").unwrap_or(section.len())];
            let step = next_step(rule);
            assert_ne!(step, next_step("no_such_rule"), "{rule} has its own step");
            let words = section.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                words.contains(&format!("**Next step:** {step}")),
                "the runbook's {rule} section does not say: {step}"
            );
        }
    }

    fn login(secs: i64, correlation: Option<&str>, agent: Option<&str>) -> Evidence {
        Evidence::Login {
            time: DateTime::from_timestamp(secs, 0).unwrap(),
            ip: "192.0.2.1".parse().unwrap(),
            kind: EventKind::InteractiveLogin,
            format: Format::Okta,
            user: "a@corp.example".into(),
            source_id: None,
            correlation_id: correlation.map(str::to_owned),
            user_agent: agent.map(str::to_owned),
            device: None,
        }
    }

    #[test]
    fn sign_in_reads_the_lines_own_login_and_times_are_named() {
        let mut alert = Alert {
            id: "dw-1".into(),
            status: AlertStatus::Escalated,
            employee_id: EmployeeId("E1".into()),
            time: DateTime::from_timestamp(200, 0).unwrap(),
            detected_at: None,
            severity: Severity::High,
            rules: vec!["novelty".into()],
            risk: 60,
            summary: "s".into(),
            findings: Vec::new(),
            evidence: vec![
                login(100, Some("first"), Some("curl/8")),
                login(200, Some("second"), None),
            ],
        };
        assert_eq!(sign_in(&alert), [("correlation_id", "second".to_owned())]);
        alert.time = DateTime::from_timestamp(300, 0).unwrap();
        assert_eq!(
            sign_in(&alert),
            [
                ("correlation_id", "first".to_owned()),
                ("user_agent", "curl/8".to_owned())
            ],
            "no login at the alert's time: the first"
        );
        alert.evidence.clear();
        assert!(sign_in(&alert).is_empty());

        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        assert_eq!(Decided::of(&alert, now), Decided::Delivered(now));
        assert_eq!(Decided::of(&alert, now).key(), "delivered_at");
        alert.detected_at = DateTime::from_timestamp(400, 0);
        let d = Decided::of(&alert, now);
        assert_eq!((d.key(), d.time().timestamp()), ("detected_at", 400));
    }

    #[test]
    fn a_person_has_only_what_the_roster_gives() {
        assert!(Person::of(None).fields().is_empty());
        let p = Person {
            display_name: Some("Ann Nguyen".into()),
            manager: Some("E1006".into()),
            ..Person::default()
        };
        assert_eq!(
            p.fields(),
            [("display_name", "Ann Nguyen"), ("manager", "E1006")]
        );
    }
}
