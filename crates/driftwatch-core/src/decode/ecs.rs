//! Adapter: Elastic Common Schema authentication events, as Elastic Agent, Beats and
//! Logstash write them (nested objects; one document per record).
//!
//! ECS says *that* an event is an authentication (`event.category` contains
//! `authentication`) and how it ended (`event.outcome`), but the kind of step is only in
//! the free-form `event.action` and in `event.type` (`start` / `end` / `info`); the kind is
//! read from those, defaulting to an interactive sign-in. Documents of other categories are
//! well-formed ECS that is not a sign-in: `NotALogin`.

use serde::Deserialize;

use super::json::{self, Strings, Text};
use super::{DecodeContext, Rejection, fields};
use crate::event::{EventKind, Format, LoginEvent, Outcome, VendorContext};

/// Does the record look like an ECS document? `@timestamp` and an `event` object; the
/// raw vendor records of the other JSON adapters carry no `@timestamp`.
pub fn sniff(text: &str) -> bool {
    json::is_ecs(text) && json::contains_any(text, &["\"event\""])
}

/// Decode one ECS document.
pub fn decode(text: &str, _ctx: &DecodeContext) -> Result<LoginEvent, Rejection> {
    json::parse::<EcsRecord>(text)?.to_event()
}

#[derive(Debug, Deserialize)]
struct EcsRecord<'a> {
    #[serde(borrow, rename = "@timestamp")]
    timestamp: Option<Text<'a>>,
    #[serde(borrow)]
    event: Option<Event<'a>>,
    #[serde(borrow)]
    user: Option<User<'a>>,
    #[serde(borrow)]
    source: Option<Endpoint<'a>>,
    #[serde(borrow)]
    client: Option<Endpoint<'a>>,
    #[serde(borrow)]
    user_agent: Option<UserAgent<'a>>,
    #[serde(borrow)]
    host: Option<Host<'a>>,
}

#[derive(Debug, Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    category: Option<Strings<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Strings<'a>>,
    #[serde(borrow)]
    action: Option<Text<'a>>,
    #[serde(borrow)]
    outcome: Option<Text<'a>>,
    #[serde(borrow)]
    id: Option<Text<'a>>,
    #[serde(borrow)]
    reason: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    email: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct Endpoint<'a> {
    #[serde(borrow)]
    ip: Option<Text<'a>>,
    #[serde(borrow)]
    geo: Option<Geo<'a>>,
    #[serde(rename = "as")]
    autonomous_system: Option<AutonomousSystem>,
}

#[derive(Debug, Deserialize)]
struct Geo<'a> {
    #[serde(borrow)]
    country_iso_code: Option<Text<'a>>,
    #[serde(borrow)]
    country_name: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct AutonomousSystem {
    number: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct UserAgent<'a> {
    #[serde(borrow)]
    original: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct Host<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
}

/// Words in `event.action` that name a sign-out. Vendors spell it every way.
const LOGOUT_ACTIONS: [&str; 9] = [
    "logout",
    "logoff",
    "log-off",
    "log_off",
    "logged-out",
    "sign-out",
    "signout",
    "signed-out",
    "session.end",
];

/// Words in `event.action` that name a second-factor step.
const MFA_ACTIONS: [&str; 6] = ["mfa", "factor", "2fa", "otp", "challenge", "verify"];

impl EcsRecord<'_> {
    fn to_event(&self) -> Result<LoginEvent, Rejection> {
        let event = self.event.as_ref();
        let is_auth = event
            .and_then(|e| e.category.as_ref())
            .is_some_and(|c| c.contains("authentication"));
        if !is_auth {
            return Err(fields::not_a_login(
                "ecs event without category authentication",
            ));
        }
        let kind = kind_of(
            event.and_then(|e| json::text(&e.action)),
            event.and_then(|e| e.kind.as_ref()),
        );
        // `user.name` is the login name; `user.email` stands in where a source has only it.
        let user = json::user([
            self.user.as_ref().and_then(|u| json::text(&u.name)),
            self.user.as_ref().and_then(|u| json::text(&u.email)),
        ])?;
        // `source` is the client of the session; `client` the initiator of a connection,
        // the same address for a sign-in.
        let endpoint = self
            .source
            .as_ref()
            .filter(|s| s.ip.is_some())
            .or(self.client.as_ref());
        let ip = fields::ip(endpoint.and_then(|s| json::text(&s.ip)))?;
        let time = fields::rfc3339(json::text(&self.timestamp))?;
        let outcome = match event.and_then(|e| json::text(&e.outcome)) {
            Some("success") => Outcome::Success,
            Some("failure") => Outcome::Failure,
            _ => Outcome::Unknown,
        };

        let mut ev = LoginEvent::new(Format::Ecs, time, user, ip, kind, outcome);
        ev.source_id = json::extra(event.and_then(|e| json::text(&e.id)));
        ev.reason = json::extra(event.and_then(|e| json::text(&e.reason)));
        ev.user_agent = json::extra(
            self.user_agent
                .as_ref()
                .and_then(|u| json::text(&u.original)),
        );
        // `host` is where the event was observed: the signed-in machine for a Windows or
        // SSH logon, which is the device the session is on.
        ev.device = json::extra(self.host.as_ref().and_then(|h| json::text(&h.name)));
        let geo = endpoint.and_then(|s| s.geo.as_ref());
        ev.vendor = VendorContext {
            is_proxy: None,
            as_number: endpoint
                .and_then(|s| s.autonomous_system.as_ref())
                .and_then(|a| a.number),
            country: json::extra(geo.and_then(|g| {
                json::first([json::text(&g.country_iso_code), json::text(&g.country_name)])
            })),
        };
        Ok(ev)
    }
}

/// The kind of an authentication event from `event.action` and `event.type`.
fn kind_of(action: Option<&str>, types: Option<&Strings<'_>>) -> EventKind {
    let action = action.unwrap_or_default().to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| action.contains(w));
    if types.is_some_and(|t| t.contains("end")) || has(&LOGOUT_ACTIONS) {
        EventKind::Logout
    } else if has(&MFA_ACTIONS) {
        EventKind::Mfa
    } else {
        EventKind::InteractiveLogin
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::decode::json::testing::{Expect, assert_total, check, lines, mangled, reason};
    use crate::decode::{FormatChoice, RejectReason};

    fn dec(text: &str) -> Result<LoginEvent, Rejection> {
        decode(text, &DecodeContext::default())
    }

    /// Realistic ECS authentication documents (Okta, SSH, Windows, ASA and Sysmon through
    /// Elastic integrations), written for this crate: no ECS sample ships in ../shared.
    const FIXTURE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/ecs/auth-events.ndjson"
    ));

    fn fixture() -> Vec<&'static str> {
        FIXTURE.lines().filter(|l| !l.trim().is_empty()).collect()
    }

    #[test]
    fn fixture_events() {
        let f = fixture();
        assert_eq!(f.len(), 7);
        let sso = check(
            dec(f[0]),
            Expect {
                user: "alice@example.com",
                ip: "81.2.69.142",
                time: "2024-06-03T08:15:42.117Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Success,
            },
        );
        assert_eq!(sso.vendor.country.as_deref(), Some("GB"));
        assert_eq!(sso.vendor.as_number, Some(20712));
        assert_eq!(
            sso.source_id.as_deref(),
            Some("a9f3c2e1-21b4-11ef-9a3c-5b1f2e6d7c80")
        );
        let ssh = check(
            dec(f[1]),
            Expect {
                user: "bob",
                ip: "175.16.199.1",
                time: "2024-06-03T07:01:05Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Failure,
            },
        );
        assert_eq!(ssh.device.as_deref(), Some("bastion-01"));
        let mfa = check(
            dec(f[2]),
            Expect {
                user: "carol@example.com",
                ip: "89.160.20.112",
                time: "2024-06-03T10:20:00.500Z",
                kind: EventKind::Mfa,
                outcome: Outcome::Success,
            },
        );
        assert_eq!(
            mfa.reason.as_deref(),
            Some("Verified with Okta Verify push")
        );
        check(
            dec(f[3]),
            Expect {
                user: "dave",
                ip: "216.160.83.56",
                time: "2024-06-03T11:02:33.871Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Success,
            },
        );
        check(
            dec(f[4]),
            Expect {
                user: "dave",
                ip: "2001:480::52",
                time: "2024-06-03T17:45:10Z",
                kind: EventKind::Logout,
                outcome: Outcome::Success,
            },
        );
        assert_eq!(reason(dec(f[5])), RejectReason::NotALogin, "process start");
        assert_eq!(reason(dec(f[6])), RejectReason::MissingIp, "console logon");
    }

    #[test]
    fn auto_detection_routes_fixture_to_ecs() {
        let ctx = DecodeContext::default();
        for line in fixture() {
            let result = super::super::decode(line.as_bytes(), FormatChoice::Auto, &ctx);
            let format = match result {
                Ok(ev) => Some(ev.format),
                Err(r) => r.format,
            };
            assert_eq!(format, Some(Format::Ecs), "{line}");
        }
    }

    /// ECS documents made from vendor records keep vendor fields the vendor sniffers
    /// look for; they are still ECS.
    #[test]
    fn ecs_made_from_vendor_records_is_ecs() {
        let azure = r#"{"@timestamp":"2019-10-18T09:45:48.072Z","event":{"category":["authentication"],"outcome":"failure","action":"Sign-in activity"},"azure":{"signinlogs":{"category":"SignInLogs","properties":{"user_principal_name":"test@elastic.co"}}},"user":{"name":"test@elastic.co"},"source":{"ip":"81.2.69.144"}}"#;
        let google = r#"{"@timestamp":"2020-10-02T15:00:00Z","event":{"category":["authentication"],"action":"login_success","outcome":"success","original":"{\"kind\":\"admin#reports#activity\",\"eventType\":\"x\",\"actor\":{}}"},"user":{"email":"foo@bar.com"},"source":{"ip":"67.43.156.13"}}"#;
        let ctx = DecodeContext::default();
        for doc in [azure, google] {
            let ev = super::super::decode(doc.as_bytes(), FormatChoice::Auto, &ctx).unwrap();
            assert_eq!(ev.format, Format::Ecs, "{doc}");
        }
    }

    #[test]
    fn kind_mapping() {
        let end = Strings::One(Text("end".into()));
        assert_eq!(kind_of(Some("anything"), Some(&end)), EventKind::Logout);
        assert_eq!(kind_of(Some("user_logoff"), None), EventKind::Logout);
        assert_eq!(kind_of(Some("Sign-Out"), None), EventKind::Logout);
        assert_eq!(kind_of(Some("otp-verified"), None), EventKind::Mfa);
        assert_eq!(kind_of(None, None), EventKind::InteractiveLogin);
    }

    fn doc(user: &str, source: &str, timestamp: &str) -> String {
        format!(
            r#"{{"@timestamp":{timestamp},"event":{{"category":"authentication","outcome":"unknown"}},"user":{user},"source":{source}}}"#
        )
    }

    #[test]
    fn edge_cases() {
        let ok = dec(&doc(
            r#"{"name":"ann"}"#,
            r#"{"ip":"1.2.3.4"}"#,
            r#""2024-01-01T00:00:00Z""#,
        ))
        .unwrap();
        assert_eq!((ok.user.as_str(), ok.outcome), ("ann", Outcome::Unknown));
        let reject = |u, s, t| reason(dec(&doc(u, s, t)));
        let (ip, t) = (r#"{"ip":"1.2.3.4"}"#, r#""2024-01-01T00:00:00Z""#);
        assert_eq!(reject(r#"{"name":"-"}"#, ip, t), RejectReason::MissingUser);
        assert_eq!(reject("{}", ip, t), RejectReason::MissingUser);
        assert_eq!(
            reject(r#"{"name":"ann"}"#, "{}", t),
            RejectReason::MissingIp
        );
        assert_eq!(
            reject(r#"{"name":"ann"}"#, r#"{"ip":"::g"}"#, t),
            RejectReason::InvalidIp
        );
        assert_eq!(
            reject(r#"{"name":"ann"}"#, ip, r#""June 3rd""#),
            RejectReason::InvalidTime
        );
        assert_eq!(
            reject(r#"{"name":"ann"}"#, ip, "null"),
            RejectReason::MissingTime
        );
        // `client.ip` stands in for a missing `source.ip`.
        let client =
            doc(r#"{"name":"ann"}"#, "{}", t).replace("}}", r#"},"client":{"ip":"5.6.7.8"}}"#);
        assert_eq!(dec(&client).unwrap().ip.to_string(), "5.6.7.8");
        assert_eq!(reason(dec(&FIXTURE[..100])), RejectReason::InvalidJson);
        assert_eq!(reason(dec("[]")), RejectReason::InvalidJson);
        assert_eq!(
            reason(dec(r#"{"@timestamp":"2024-01-01T00:00:00Z"}"#)),
            RejectReason::NotALogin
        );
    }

    #[test]
    fn sniff_claims_no_vendor_record() {
        assert!(fixture().iter().all(|l| sniff(l)));
        for other in [
            "elastic-integrations/okta-system-events.ndjson",
            "elastic-integrations/azure-signinlogs-eventhub.ndjson",
            "elastic-integrations/google-workspace-login.ndjson",
        ] {
            assert!(lines(other).iter().all(|l| !sniff(l)), "{other}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(text in mangled(fixture().into_iter().map(str::to_owned).collect())) {
            assert_total(&dec(&text));
            let _ = sniff(&text);
        }
    }
}
