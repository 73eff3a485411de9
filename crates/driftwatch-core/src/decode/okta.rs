//! Adapter: Okta System Log API JSON (one `/api/v1/logs` event per record).
//!
//! Only sign-in related event types become [`LoginEvent`]s; the rest of the System Log
//! (admin changes, rate-limit warnings, ...) is rejected as `NotALogin`. A record is read
//! into [`OktaRecord`], a typed struct of only the fields used here, borrowing strings from
//! the input: Okta is the busiest source, so this path is kept to one typed parse.
//!
//! Panther's normalised Okta logs lowercase some top-level keys (`eventtype`,
//! `securitycontext`, `authenticationcontext`); the struct accepts both spellings.

use serde::Deserialize;

use super::json::{self, Text};
use super::{DecodeContext, Rejection, fields};
use crate::event::{EventKind, Format, LoginEvent, NonInteractive, Outcome, VendorContext};

/// Does the record look like an Okta System Log event? `eventType` with an `actor` (or
/// `legacyEventType`, which only Okta writes). CloudTrail also has an `eventType`, but
/// neither of the others. An ECS document made from an Okta event is ECS.
pub fn sniff(text: &str) -> bool {
    json::contains_any(text, &["\"eventType\"", "\"eventtype\""])
        && !json::is_ecs(text)
        && json::contains_any(
            text,
            &["\"actor\"", "\"legacyEventType\"", "\"legacyeventtype\""],
        )
}

/// Decode one Okta System Log record.
pub fn decode(text: &str, _ctx: &DecodeContext) -> Result<LoginEvent, Rejection> {
    parse(text)?.to_event()
}

/// Parse one record into the typed [`OktaRecord`] without interpreting it. Public so the
/// benchmark can measure the parse alone against the whole core.
pub fn parse(text: &str) -> Result<OktaRecord<'_>, Rejection> {
    json::parse(text)
}

/// The fields of an Okta System Log event that driftwatch reads; serde skips the rest.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OktaRecord<'a> {
    #[serde(borrow, alias = "eventtype")]
    event_type: Option<Text<'a>>,
    #[serde(borrow)]
    published: Option<Text<'a>>,
    #[serde(borrow)]
    uuid: Option<Text<'a>>,
    #[serde(borrow)]
    actor: Option<Actor<'a>>,
    #[serde(borrow)]
    client: Option<Client<'a>>,
    #[serde(borrow)]
    request: Option<Request<'a>>,
    #[serde(borrow, alias = "authenticationcontext")]
    authentication_context: Option<AuthenticationContext<'a>>,
    #[serde(alias = "securitycontext")]
    security_context: Option<SecurityContext>,
    #[serde(borrow)]
    outcome: Option<OktaOutcome<'a>>,
    #[serde(borrow)]
    target: Option<Vec<Target<'a>>>,
    #[serde(borrow)]
    transaction: Option<Transaction<'a>>,
}

/// The request (`WEB`) or job that produced the event; its id is shared by every event of
/// one sign-in and is what Okta's own System Log search and support ask for.
#[derive(Debug, Deserialize)]
struct Transaction<'a> {
    #[serde(borrow)]
    id: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Actor<'a> {
    #[serde(borrow, alias = "alternateid")]
    alternate_id: Option<Text<'a>>,
    #[serde(borrow, alias = "displayname")]
    display_name: Option<Text<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Client<'a> {
    #[serde(borrow, alias = "ipaddress")]
    ip_address: Option<Text<'a>>,
    #[serde(borrow)]
    device: Option<Text<'a>>,
    #[serde(borrow, alias = "useragent")]
    user_agent: Option<UserAgent<'a>>,
    #[serde(borrow, alias = "geographicalcontext")]
    geographical_context: Option<Geo<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserAgent<'a> {
    #[serde(borrow, alias = "rawuseragent")]
    raw_user_agent: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct Geo<'a> {
    #[serde(borrow)]
    country: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    #[serde(borrow, alias = "ipchain")]
    ip_chain: Option<Vec<Hop<'a>>>,
}

#[derive(Debug, Deserialize)]
struct Hop<'a> {
    #[serde(borrow)]
    ip: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthenticationContext<'a> {
    #[serde(borrow, alias = "externalsessionid")]
    external_session_id: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecurityContext {
    #[serde(alias = "isproxy")]
    is_proxy: Option<bool>,
    #[serde(alias = "asnumber")]
    as_number: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct OktaOutcome<'a> {
    #[serde(borrow)]
    result: Option<Text<'a>>,
    #[serde(borrow)]
    reason: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Text<'a>>,
    #[serde(borrow, alias = "displayname")]
    display_name: Option<Text<'a>>,
}

impl OktaRecord<'_> {
    /// Interpret the parsed record: a [`LoginEvent`], or why it is not one.
    pub fn to_event(&self) -> Result<LoginEvent, Rejection> {
        let event_type = json::text(&self.event_type).unwrap_or_default();
        let result = self.outcome.as_ref().and_then(|o| json::text(&o.result));
        let outcome = outcome(result);
        let Some(kind) = kind_of(event_type, outcome) else {
            return Err(fields::not_a_login(format_args!(
                "okta eventType {:?}",
                fields::clip(event_type)
            )));
        };
        let actor = self.actor.as_ref();
        // An actor that is not a person (an OAuth client, Okta itself) signing in is
        // counted but never scored: its address says nothing about where an employee is.
        let kind = match actor.and_then(|a| json::text(&a.kind)) {
            None | Some("User") => kind,
            Some(_) => EventKind::NonInteractive(NonInteractive::ServicePrincipal),
        };
        let user = json::user([
            actor.and_then(|a| json::text(&a.alternate_id)),
            actor.and_then(|a| json::text(&a.display_name)),
        ])?;
        let client = self.client.as_ref();
        let first_hop = self
            .request
            .as_ref()
            .and_then(|r| r.ip_chain.as_deref())
            .and_then(<[Hop]>::first);
        let ip = fields::ip(json::first([
            client.and_then(|c| json::text(&c.ip_address)),
            first_hop.and_then(|h| json::text(&h.ip)),
        ]))?;
        let time = fields::rfc3339(json::text(&self.published))?;

        let mut ev = LoginEvent::new(Format::Okta, time, user, ip, kind, outcome);
        ev.source_id = json::extra(json::text(&self.uuid));
        ev.session = json::extra(
            self.authentication_context
                .as_ref()
                .and_then(|a| json::text(&a.external_session_id)),
        );
        ev.correlation_id = json::extra(self.transaction.as_ref().and_then(|t| json::text(&t.id)));
        ev.device = json::extra(client.and_then(|c| json::text(&c.device)));
        ev.user_agent = json::extra(
            client
                .and_then(|c| c.user_agent.as_ref())
                .and_then(|u| json::text(&u.raw_user_agent)),
        );
        ev.reason = json::extra(self.outcome.as_ref().and_then(|o| json::text(&o.reason)));
        ev.app = json::extra(
            self.target
                .iter()
                .flatten()
                .find(|t| json::text(&t.kind) == Some("AppInstance"))
                .and_then(|t| json::text(&t.display_name)),
        );
        let security = self.security_context.as_ref();
        ev.vendor = VendorContext {
            is_proxy: security.and_then(|s| s.is_proxy),
            as_number: security.and_then(|s| s.as_number),
            country: json::extra(
                client
                    .and_then(|c| c.geographical_context.as_ref())
                    .and_then(|g| json::text(&g.country)),
            ),
        };
        Ok(ev)
    }
}

/// `outcome.result`: SUCCESS and ALLOW (policy) succeeded, FAILURE and DENY failed;
/// CHALLENGE, SKIPPED, UNKNOWN and the like leave it open.
fn outcome(result: Option<&str>) -> Outcome {
    match result {
        Some(r) if r.eq_ignore_ascii_case("SUCCESS") || r.eq_ignore_ascii_case("ALLOW") => {
            Outcome::Success
        }
        Some(r) if r.eq_ignore_ascii_case("FAILURE") || r.eq_ignore_ascii_case("DENY") => {
            Outcome::Failure
        }
        _ => Outcome::Unknown,
    }
}

/// The kind of a sign-in related event type; `None` for everything else in the log.
fn kind_of(event_type: &str, outcome: Outcome) -> Option<EventKind> {
    match event_type {
        "user.session.start" | "user.authentication.sso" | "user.authentication.authenticate" => {
            Some(EventKind::InteractiveLogin)
        }
        "user.session.end" => Some(EventKind::Logout),
        // Okta evaluates the sign-on policy on every sign-in, just before the
        // `user.session.start` / `user.authentication.sso` that records it. An ALLOW (or a
        // CHALLENGE, whose factor events follow) would count each sign-in twice, so only a
        // DENY is kept: the sign-in was blocked and this may be its only trace.
        "policy.evaluate_sign_on" => {
            (outcome == Outcome::Failure).then_some(EventKind::InteractiveLogin)
        }
        "user.authentication.verify" => Some(EventKind::Mfa),
        t if t.starts_with("user.authentication.auth_via_")
            || t.starts_with("system.push.")
            || t.starts_with("user.mfa.") =>
        {
            Some(EventKind::Mfa)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::decode::RejectReason;
    use crate::decode::json::testing::{
        Expect, assert_total, check, lines, mangled, panther, reason, sample,
    };

    fn dec(text: &str) -> Result<LoginEvent, Rejection> {
        decode(text, &DecodeContext::default())
    }

    #[test]
    fn elastic_samples() {
        let l = lines("elastic-integrations/okta-system-events.ndjson");
        assert_eq!(l.len(), 3);
        let logout = check(
            dec(&l[0]),
            Expect {
                user: "username@elastic.co",
                ip: "175.16.199.1",
                time: "2020-02-14T22:18:51.843Z",
                kind: EventKind::Logout,
                outcome: Outcome::Success,
            },
        );
        assert_eq!(logout.session.as_deref(), Some("102nZHzd6OHSfGG51vsoc22gw"));
        assert_eq!(
            logout.source_id.as_deref(),
            Some("faf7398a-4f77-11ea-97fb-5925e98228bd")
        );
        assert_eq!(logout.device.as_deref(), Some("Computer"));
        assert_eq!(
            logout.user_agent.as_deref(),
            Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:72.0) Gecko/20100101 Firefox/72.0"
            )
        );
        assert_eq!(logout.vendor.country.as_deref(), Some("United States"));
        assert_eq!(logout.vendor.is_proxy, None);
        assert_eq!(logout.reason, None);
        assert_eq!(
            logout.correlation_id.as_deref(),
            Some("XkccyyMli2Uay2I93ZgRzQAAB0c"),
            "transaction.id"
        );
        let login = check(
            dec(&l[1]),
            Expect {
                user: "xxxxxx@elastic.co",
                ip: "175.16.199.1",
                time: "2020-02-14T20:18:57.718Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Success,
            },
        );
        // One transaction per sign-in, shared by its events; each event its own uuid.
        assert_eq!(
            login.correlation_id.as_deref(),
            Some("XkcAsWb8WjwDP76xh@1v8wAABp0")
        );
        assert_eq!(
            login.source_id.as_deref(),
            Some("3aeede38-4f67-11ea-abd3-1f5d113f2546")
        );
        // The ALLOW policy evaluation duplicates the session start above it.
        assert_eq!(reason(dec(&l[2])), RejectReason::NotALogin);
    }

    #[test]
    fn ocsf_raw_sample() {
        let ev = check(
            dec(&sample("ocsf/okta-authentication.raw.json")),
            Expect {
                user: "john.doe@example.com",
                ip: "10.0.0.1",
                time: "2024-08-13T15:58:20.353Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Success,
            },
        );
        assert_eq!(ev.vendor.as_number, Some(394089));
        assert_eq!(ev.vendor.is_proxy, Some(false));
        assert_eq!(ev.app.as_deref(), Some("Okta Admin Console"));
        assert_eq!(ev.session.as_deref(), Some("idxBager62CSveUkTxvgRtonA"));
        assert_eq!(
            ev.correlation_id.as_deref(),
            Some("ab609228fe84ce59cdcbfa690bgce016")
        );
    }

    #[test]
    fn panther_login_signal() {
        let logs = panther("okta_login_signal.tests.json");
        assert_eq!(logs.len(), 3);
        assert_eq!(reason(dec(&logs[0].1)), RejectReason::NotALogin);
        let ok = check(
            dec(&logs[1].1),
            Expect {
                user: "casey.hill@hey.com",
                ip: "99.108.5.25",
                time: "2024-04-02T19:17:37.621Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Success,
            },
        );
        assert_eq!(ok.vendor.as_number, Some(7018));
        check(
            dec(&logs[2].1),
            Expect {
                user: "casey.hill@hey.com",
                ip: "99.108.5.25",
                time: "2024-04-02T19:17:37.621Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Failure,
            },
        );
    }

    #[test]
    fn panther_anonymizing_vpn_lowercased_keys() {
        let logs = panther("okta_anonymizing_vpn_login.tests.json");
        assert_eq!(logs.len(), 3);
        let events: Vec<LoginEvent> = logs
            .iter()
            .map(|(_, log)| {
                check(
                    dec(log),
                    Expect {
                        user: "homer.simpson@duff.com",
                        ip: "1.3.2.4",
                        time: "2022-06-22T18:18:29.015Z",
                        kind: EventKind::InteractiveLogin,
                        outcome: Outcome::Failure,
                    },
                )
            })
            .collect();
        // `securitycontext` and `authenticationcontext` are lowercased in these tests.
        let proxy: Vec<_> = events.iter().map(|e| e.vendor.is_proxy).collect();
        assert_eq!(proxy, [Some(false), Some(true), Some(true)]);
        assert_eq!(events[1].vendor.as_number, Some(701));
        assert_eq!(events[1].session.as_deref(), Some("100-abc-9999"));
        assert_eq!(
            events[1].reason.as_deref(),
            Some("FastPass declined phishing attempt")
        );
    }

    #[test]
    fn panther_redacted_time_and_missing_actor() {
        let stolen = panther("okta_potentially_stolen_session.tests.json");
        assert_eq!(stolen.len(), 4);
        for (name, log) in &stolen {
            // `published` is "redacted" in every one of them.
            assert_eq!(reason(dec(log)), RejectReason::InvalidTime, "{name}");
        }
        let sso = panther("okta_sso_to_aws.tests.json");
        assert_eq!(sso.len(), 2);
        for (name, log) in &sso {
            assert!(sniff(log), "{name}");
            assert_eq!(reason(dec(log)), RejectReason::MissingUser, "{name}");
        }
    }

    #[test]
    fn event_type_mapping() {
        let cases = [
            (
                "user.session.start",
                "SUCCESS",
                Some(EventKind::InteractiveLogin),
            ),
            (
                "user.authentication.sso",
                "SUCCESS",
                Some(EventKind::InteractiveLogin),
            ),
            (
                "user.authentication.auth_via_mfa",
                "SUCCESS",
                Some(EventKind::Mfa),
            ),
            (
                "user.authentication.auth_via_radius",
                "FAILURE",
                Some(EventKind::Mfa),
            ),
            (
                "user.authentication.verify",
                "SUCCESS",
                Some(EventKind::Mfa),
            ),
            (
                "system.push.send_factor_verify_push",
                "SUCCESS",
                Some(EventKind::Mfa),
            ),
            (
                "user.mfa.okta_verify.deny_push",
                "FAILURE",
                Some(EventKind::Mfa),
            ),
            ("user.session.end", "SUCCESS", Some(EventKind::Logout)),
            (
                "policy.evaluate_sign_on",
                "DENY",
                Some(EventKind::InteractiveLogin),
            ),
            ("policy.evaluate_sign_on", "ALLOW", None),
            ("policy.evaluate_sign_on", "CHALLENGE", None),
            ("user.account.update_profile", "SUCCESS", None),
        ];
        for (event_type, result, want) in cases {
            assert_eq!(
                kind_of(event_type, outcome(Some(result))),
                want,
                "{event_type}"
            );
        }
        assert_eq!(outcome(Some("ALLOW")), Outcome::Success);
        assert_eq!(outcome(Some("DENY")), Outcome::Failure);
        assert_eq!(outcome(Some("CHALLENGE")), Outcome::Unknown);
        assert_eq!(outcome(None), Outcome::Unknown);
    }

    /// A minimal record; `patch` replaces one piece of it.
    fn record(patch: &[(&str, &str)]) -> String {
        let mut parts = vec![
            ("eventType", r#""user.session.start""#),
            ("published", r#""2024-01-02T03:04:05Z""#),
            (
                "actor",
                r#"{"alternateId":"ann@example.com","type":"User"}"#,
            ),
            ("client", r#"{"ipAddress":"81.2.69.142"}"#),
            ("outcome", r#"{"result":"SUCCESS"}"#),
        ];
        for (key, value) in patch {
            match parts.iter_mut().find(|(k, _)| k == key) {
                Some(p) => p.1 = value,
                None => parts.push((key, value)),
            }
        }
        let body: Vec<String> = parts
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    #[test]
    fn edge_cases() {
        assert!(dec(&record(&[])).is_ok());
        assert_eq!(
            reason(dec(&record(&[("actor", "")]))),
            RejectReason::MissingUser
        );
        assert_eq!(
            reason(dec(&record(&[(
                "actor",
                r#"{"alternateId":"unknown","displayName":"unknown"}"#
            )]))),
            RejectReason::MissingUser
        );
        assert_eq!(
            dec(&record(&[(
                "actor",
                r#"{"alternateId":null,"displayName":"Ann Smith"}"#
            )]))
            .unwrap()
            .user,
            "Ann Smith"
        );
        assert_eq!(
            reason(dec(&record(&[("client", "")]))),
            RejectReason::MissingIp
        );
        assert_eq!(
            reason(dec(&record(&[("client", r#"{"ipAddress":"okta.com"}"#)]))),
            RejectReason::InvalidIp
        );
        // client.ipAddress null: the first hop of the request's IP chain.
        let chained = record(&[
            ("client", r#"{"ipAddress":null}"#),
            (
                "request",
                r#"{"ipChain":[{"ip":"89.160.20.112"},{"ip":"10.0.0.1"}]}"#,
            ),
        ]);
        assert_eq!(dec(&chained).unwrap().ip.to_string(), "89.160.20.112");
        assert_eq!(
            reason(dec(&record(&[("published", r#""yesterday""#)]))),
            RejectReason::InvalidTime
        );
        assert_eq!(
            reason(dec(&record(&[("published", "")]))),
            RejectReason::MissingTime
        );
        let text = record(&[]);
        assert_eq!(
            reason(dec(&text[..text.len() / 2])),
            RejectReason::InvalidJson
        );
        assert_eq!(reason(dec("[1,2]")), RejectReason::InvalidJson);
        assert_eq!(reason(dec("not json")), RejectReason::InvalidJson);
        // A non-login event type is filtered before any field is required.
        assert_eq!(
            reason(dec(r#"{"eventType":"user.account.lock"}"#)),
            RejectReason::NotALogin
        );
    }

    #[test]
    fn non_user_actor_is_never_scored() {
        let ev = dec(&record(&[(
            "actor",
            r#"{"alternateId":"my-oauth-client","type":"PublicClientApp"}"#,
        )]))
        .unwrap();
        assert_eq!(
            ev.kind,
            EventKind::NonInteractive(NonInteractive::ServicePrincipal)
        );
        assert!(!ev.kind.is_interactive());
    }

    #[test]
    fn escaped_strings_decode() {
        let ev = dec(&record(&[(
            "actor",
            r#"{"alternateId":"ann\u0040example.com","type":"User"}"#,
        )]))
        .unwrap();
        assert_eq!(ev.user, "ann@example.com");
    }

    #[test]
    fn sniff_claims_only_okta() {
        for line in lines("elastic-integrations/okta-system-events.ndjson") {
            assert!(sniff(&line));
        }
        assert!(sniff(&sample("ocsf/okta-authentication.raw.json")));
        for other in [
            "elastic-integrations/azure-signinlogs-eventhub.ndjson",
            "elastic-integrations/google-workspace-login.ndjson",
        ] {
            assert!(lines(other).iter().all(|l| !sniff(l)), "{other}");
        }
        assert!(!sniff(&sample("ocsf/okta-authentication.ocsf.json")));
        assert!(!sniff(&sample("ocsf/cloudtrail-authentication.raw.json")));
    }

    proptest! {
        #[test]
        fn never_panics(text in mangled(lines("elastic-integrations/okta-system-events.ndjson"))) {
            let result = dec(&text);
            assert_total(&result);
            let _ = sniff(&text);
        }
    }
}
