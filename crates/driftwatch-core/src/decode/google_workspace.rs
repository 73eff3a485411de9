//! Adapter: Google Workspace login activity (Admin SDK Reports API,
//! `admin#reports#activity` with `id.applicationName` `login`, or `saml` for sign-ins to
//! SAML apps through Google).
//!
//! One activity carries `events`: an array in the API, one object per record once a
//! collector has split them (Elastic), or flattened to top-level `type`/`name`/`parameters`
//! (Panther). Event `parameters` are a list of `{name, value|boolValue|multiValue}` in the
//! API and a plain object in Panther's flattening. All of these are accepted.

use std::collections::HashMap;

use serde::Deserialize;

use super::json::{self, Text};
use super::{DecodeContext, Rejection, fields};
use crate::event::{EventKind, Format, LoginEvent, Outcome};

/// Does the record look like a Reports API activity (and not an ECS document made
/// from one)?
pub fn sniff(text: &str) -> bool {
    json::contains_any(text, &["admin#reports#activity", "\"applicationName\""])
        && !json::is_ecs(text)
}

/// Decode one Google Workspace login activity.
pub fn decode(text: &str, _ctx: &DecodeContext) -> Result<LoginEvent, Rejection> {
    json::parse::<Activity>(text)?.to_event()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Activity<'a> {
    #[serde(borrow)]
    id: Option<ActivityId<'a>>,
    #[serde(borrow)]
    actor: Option<Actor<'a>>,
    #[serde(borrow, alias = "ipaddress")]
    ip_address: Option<Text<'a>>,
    #[serde(borrow)]
    events: Option<Events<'a>>,
    /// Panther's flattening: the one event's fields at the top level.
    #[serde(borrow, flatten)]
    flat: Event<'a>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivityId<'a> {
    #[serde(borrow)]
    time: Option<Text<'a>>,
    #[serde(borrow, alias = "applicationname")]
    application_name: Option<Text<'a>>,
    #[serde(borrow, alias = "uniquequalifier")]
    unique_qualifier: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct Actor<'a> {
    #[serde(borrow)]
    email: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Events<'a> {
    One(#[serde(borrow)] Event<'a>),
    Many(#[serde(borrow)] Vec<Event<'a>>),
}

#[derive(Debug, Deserialize)]
struct Event<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    parameters: Option<Parameters<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Parameters<'a> {
    List(#[serde(borrow)] Vec<Parameter<'a>>),
    Map(HashMap<String, serde_json::Value>),
}

#[derive(Debug, Deserialize)]
struct Parameter<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    value: Option<Text<'a>>,
}

impl Parameters<'_> {
    /// A string parameter's value.
    fn get(&self, name: &str) -> Option<&str> {
        match self {
            Parameters::List(list) => list
                .iter()
                .find(|p| json::text(&p.name) == Some(name))
                .and_then(|p| json::text(&p.value)),
            Parameters::Map(map) => map.get(name).and_then(serde_json::Value::as_str),
        }
    }
}

impl Event<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.parameters.as_ref().and_then(|p| p.get(name))
    }

    /// The kind and outcome of a login event; `None` for the application's other events
    /// (account warnings, suspicious-login notices, ...), which are not sign-ins.
    fn login(&self) -> Option<(EventKind, Outcome)> {
        // Every sign-in event of the login and saml applications has type `login`;
        // `account_warning` reuses some of the names.
        if json::text(&self.kind).is_some_and(|t| t != "login") {
            return None;
        }
        match json::text(&self.name)? {
            "login_success" => Some((EventKind::InteractiveLogin, Outcome::Success)),
            "login_failure" => Some((EventKind::InteractiveLogin, Outcome::Failure)),
            "login_challenge" | "login_verification" => Some((
                EventKind::Mfa,
                challenge_outcome(self.param("login_challenge_status")),
            )),
            "logout" => Some((EventKind::Logout, Outcome::Unknown)),
            _ => None,
        }
    }
}

/// `login_challenge_status`: "Challenge Passed." in older records, "passed" in newer.
fn challenge_outcome(status: Option<&str>) -> Outcome {
    let status = status.unwrap_or_default().to_ascii_lowercase();
    if status.contains("pass") {
        Outcome::Success
    } else if status.contains("fail") {
        Outcome::Failure
    } else {
        Outcome::Unknown
    }
}

impl Activity<'_> {
    fn to_event(&self) -> Result<LoginEvent, Rejection> {
        let id = self.id.as_ref();
        let application = id.and_then(|i| json::text(&i.application_name));
        if let Some(app) = application.filter(|a| !matches!(*a, "login" | "saml")) {
            return Err(fields::not_a_login(format_args!(
                "google workspace application {:?}",
                fields::clip(app)
            )));
        }
        let events: &[Event<'_>] = match &self.events {
            Some(Events::One(e)) => std::slice::from_ref(e),
            Some(Events::Many(list)) => list,
            None => std::slice::from_ref(&self.flat),
        };
        // An activity may hold several events; the first sign-in among them is the one.
        let Some((event, (kind, outcome))) = events.iter().find_map(|e| e.login().map(|l| (e, l)))
        else {
            let name = events.first().and_then(|e| json::text(&e.name));
            return Err(fields::not_a_login(format_args!(
                "google workspace event {:?}",
                fields::clip(name.unwrap_or_default())
            )));
        };
        let user = fields::user(self.actor.as_ref().and_then(|a| json::text(&a.email)))?;
        let ip = fields::ip(json::text(&self.ip_address))?;
        let time = fields::rfc3339(id.and_then(|i| json::text(&i.time)))?;

        let mut ev = LoginEvent::new(Format::GoogleWorkspace, time, user, ip, kind, outcome);
        ev.source_id = json::extra(id.and_then(|i| json::text(&i.unique_qualifier)));
        ev.app = json::extra(event.param("application_name"));
        ev.reason = json::extra(event.param("login_failure_type"));
        Ok(ev)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::decode::RejectReason;
    use crate::decode::json::testing::{
        Expect, assert_total, check, lines, mangled, panther, reason,
    };

    fn dec(text: &str) -> Result<LoginEvent, Rejection> {
        decode(text, &DecodeContext::default())
    }

    const ELASTIC: &str = "elastic-integrations/google-workspace-login.ndjson";

    fn foo(kind: EventKind, outcome: Outcome) -> Expect<'static> {
        Expect {
            user: "foo@bar.com",
            ip: "67.43.156.13",
            time: "2020-10-02T15:00:00Z",
            kind,
            outcome,
        }
    }

    #[test]
    fn elastic_samples() {
        let l = lines(ELASTIC);
        assert_eq!(l.len(), 8);
        assert_eq!(
            reason(dec(&l[0])),
            RejectReason::NotALogin,
            "suspicious_login"
        );
        let failure = check(
            dec(&l[1]),
            foo(EventKind::InteractiveLogin, Outcome::Failure),
        );
        assert_eq!(
            failure.reason.as_deref(),
            Some("login_failure_access_code_disallowed")
        );
        assert_eq!(failure.source_id.as_deref(), Some("1"));
        check(dec(&l[2]), foo(EventKind::Mfa, Outcome::Success));
        check(dec(&l[3]), foo(EventKind::Mfa, Outcome::Success));
        check(dec(&l[4]), foo(EventKind::Logout, Outcome::Unknown));
        check(
            dec(&l[5]),
            foo(EventKind::InteractiveLogin, Outcome::Success),
        );
        check(
            dec(&l[6]),
            foo(EventKind::InteractiveLogin, Outcome::Success),
        );
        check(
            dec(&l[7]),
            Expect {
                user: "tl.zeous.daclitan@company.com",
                ip: "81.2.69.144",
                time: "2025-02-27T05:59:58.481Z",
                kind: EventKind::Mfa,
                outcome: Outcome::Success,
            },
        );
    }

    #[test]
    fn panther_login_type() {
        let logs = panther("gsuite_login_type.tests.json");
        let reasons: Vec<_> = logs
            .iter()
            .map(|(_, log)| dec(log).err().map(|r| r.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                Some(RejectReason::MissingIp),
                Some(RejectReason::MissingIp),
                Some(RejectReason::NotALogin), // applicationName "logout"
                None,
            ]
        );
        let saml = check(
            dec(&logs[3].1),
            Expect {
                user: "some.user@somedomain.com",
                ip: "10.10.10.10",
                time: "2022-05-26T15:26:09.421Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Success,
            },
        );
        // Panther's parameters are a plain object.
        assert_eq!(saml.app.as_deref(), Some("Some SAML Application"));
    }

    #[test]
    fn panther_suspicious_logins_are_not_logins() {
        let logs = panther("gsuite_suspicious_logins.tests.json");
        assert_eq!(logs.len(), 3);
        for (name, log) in &logs {
            assert!(sniff(log), "{name}");
            assert_eq!(reason(dec(log)), RejectReason::NotALogin, "{name}");
        }
    }

    /// The Reports API shape, several events in one activity.
    const API: &str = r#"{"kind":"admin#reports#activity",
        "id":{"time":"2024-05-06T07:08:09.123Z","uniqueQualifier":"-4821","applicationName":"login","customerId":"C01"},
        "actor":{"callerType":"USER","email":"ann@example.com","profileId":"1"},
        "ipAddress":"2001:db8::7",
        "events":[{"type":"account_warning","name":"suspicious_login"},
                  {"type":"login","name":"login_challenge","parameters":[
                      {"name":"login_challenge_method","multiValue":["totp"]},
                      {"name":"login_challenge_status","value":"Challenge Failed."}]}]}"#;

    #[test]
    fn api_shape_with_event_array() {
        let ev = check(
            dec(API),
            Expect {
                user: "ann@example.com",
                ip: "2001:db8::7",
                time: "2024-05-06T07:08:09.123Z",
                kind: EventKind::Mfa,
                outcome: Outcome::Failure,
            },
        );
        assert_eq!(ev.source_id.as_deref(), Some("-4821"));
    }

    #[test]
    fn edge_cases() {
        let without = |key: &str| {
            let mut v: serde_json::Value = serde_json::from_str(API).unwrap();
            v.as_object_mut().unwrap().remove(key);
            v.to_string()
        };
        assert_eq!(reason(dec(&without("actor"))), RejectReason::MissingUser);
        assert_eq!(reason(dec(&without("ipAddress"))), RejectReason::MissingIp);
        assert_eq!(reason(dec(&without("id"))), RejectReason::MissingTime);
        let bad_time = API.replace("2024-05-06T07:08:09.123Z", "2024-13-45T07:08:09Z");
        assert_eq!(reason(dec(&bad_time)), RejectReason::InvalidTime);
        assert_eq!(
            reason(dec(&API[..API.len() - 3])),
            RejectReason::InvalidJson
        );
        assert_eq!(reason(dec("\"login_success\"")), RejectReason::InvalidJson);
        let drive = API.replace(
            r#""applicationName":"login""#,
            r#""applicationName":"drive""#,
        );
        assert_eq!(reason(dec(&drive)), RejectReason::NotALogin);
        assert_eq!(challenge_outcome(Some("passed")), Outcome::Success);
        assert_eq!(challenge_outcome(None), Outcome::Unknown);
    }

    #[test]
    fn sniff_claims_only_google() {
        assert!(sniff(API));
        assert!(lines(ELASTIC).iter().all(|l| sniff(l)));
        for other in [
            "elastic-integrations/okta-system-events.ndjson",
            "elastic-integrations/azure-signinlogs-eventhub.ndjson",
        ] {
            assert!(lines(other).iter().all(|l| !sniff(l)), "{other}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(text in mangled(lines(ELASTIC))) {
            assert_total(&dec(&text));
            let _ = sniff(&text);
        }
    }
}
