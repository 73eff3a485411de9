//! Adapter: OCSF Authentication events (class_uid 3002), as any OCSF producer writes
//! them (Amazon Security Lake, the OCSF mappings of Okta, CloudTrail, Windows, ...).
//!
//! This adapter owns every OCSF record: other classes are well-formed OCSF that is not a
//! sign-in, and are rejected as `NotALogin`.

use serde::Deserialize;

use super::json::{self, Text};
use super::{DecodeContext, Rejection, fields};
use crate::event::{EventKind, Format, LoginEvent, NonInteractive, Outcome, VendorContext};

/// The OCSF class of authentication events.
const AUTHENTICATION: i64 = 3002;

/// Does the record look like OCSF? Every OCSF event has a `class_uid`.
pub fn sniff(text: &str) -> bool {
    json::contains_any(text, &["\"class_uid\""])
}

/// Decode one OCSF record.
pub fn decode(text: &str, _ctx: &DecodeContext) -> Result<LoginEvent, Rejection> {
    json::parse::<OcsfRecord>(text)?.to_event()
}

#[derive(Debug, Deserialize)]
struct OcsfRecord<'a> {
    class_uid: Option<i64>,
    activity_id: Option<i64>,
    logon_type_id: Option<i64>,
    is_mfa: Option<bool>,
    status_id: Option<i64>,
    #[serde(borrow)]
    status: Option<Text<'a>>,
    #[serde(borrow)]
    status_detail: Option<Text<'a>>,
    /// Epoch milliseconds by the schema; some mappings write seconds, a few a float.
    time: Option<serde_json::Number>,
    #[serde(borrow)]
    time_dt: Option<Text<'a>>,
    #[serde(borrow)]
    user: Option<User<'a>>,
    #[serde(borrow)]
    actor: Option<Actor<'a>>,
    #[serde(borrow)]
    session: Option<Session<'a>>,
    #[serde(borrow)]
    src_endpoint: Option<Endpoint<'a>>,
    #[serde(borrow)]
    device: Option<Device<'a>>,
    #[serde(borrow)]
    service: Option<Named<'a>>,
    #[serde(borrow)]
    http_request: Option<HttpRequest<'a>>,
    #[serde(borrow)]
    metadata: Option<Metadata<'a>>,
}

#[derive(Debug, Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    email_addr: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    uid: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct Actor<'a> {
    #[serde(borrow)]
    user: Option<User<'a>>,
    #[serde(borrow)]
    session: Option<Session<'a>>,
}

#[derive(Debug, Deserialize)]
struct Session<'a> {
    #[serde(borrow)]
    uid: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct Endpoint<'a> {
    #[serde(borrow)]
    ip: Option<Text<'a>>,
    #[serde(borrow)]
    location: Option<Location<'a>>,
    autonomous_system: Option<AutonomousSystem>,
}

#[derive(Debug, Deserialize)]
struct Location<'a> {
    #[serde(borrow)]
    country: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct AutonomousSystem {
    number: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct Device<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    hostname: Option<Text<'a>>,
    #[serde(borrow)]
    uid: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct HttpRequest<'a> {
    #[serde(borrow)]
    user_agent: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct Metadata<'a> {
    #[serde(borrow)]
    uid: Option<Text<'a>>,
    /// Ties the events of one activity together (the IdP's transaction, when the mapping
    /// carries it).
    #[serde(borrow)]
    correlation_uid: Option<Text<'a>>,
}

impl OcsfRecord<'_> {
    fn to_event(&self) -> Result<LoginEvent, Rejection> {
        if self.class_uid != Some(AUTHENTICATION) {
            return Err(fields::not_a_login(format_args!(
                "ocsf class_uid {:?}",
                self.class_uid
            )));
        }
        let Some(kind) = kind_of(
            self.activity_id.unwrap_or(0),
            self.logon_type_id,
            self.is_mfa,
        ) else {
            return Err(fields::not_a_login(format_args!(
                "ocsf authentication activity_id {:?}",
                self.activity_id
            )));
        };
        // `user` is who is being authenticated; `actor.user` who asked, the same person
        // for a sign-in. The e-mail is preferred over `name`, which some mappings fill
        // with a display name ("John Doe" in the Okta mapping).
        let users = [
            self.user.as_ref(),
            self.actor.as_ref().and_then(|a| a.user.as_ref()),
        ];
        let user = json::user(users.into_iter().flatten().flat_map(|u| {
            [
                json::text(&u.email_addr),
                json::text(&u.name),
                json::text(&u.uid),
            ]
        }))?;
        let src = self.src_endpoint.as_ref();
        let ip = fields::ip(src.and_then(|s| json::text(&s.ip)))?;
        let time = self.time()?;

        let mut ev = LoginEvent::new(Format::Ocsf, time, user, ip, kind, self.outcome());
        ev.source_id = json::extra(self.metadata.as_ref().and_then(|m| json::text(&m.uid)));
        ev.correlation_id = json::extra(
            self.metadata
                .as_ref()
                .and_then(|m| json::text(&m.correlation_uid)),
        );
        ev.session = json::extra(json::first([
            self.session.as_ref().and_then(|s| json::text(&s.uid)),
            self.actor
                .as_ref()
                .and_then(|a| a.session.as_ref())
                .and_then(|s| json::text(&s.uid)),
        ]));
        ev.device = json::extra(self.device.as_ref().and_then(|d| {
            json::first([
                json::text(&d.name),
                json::text(&d.hostname),
                json::text(&d.uid),
            ])
        }));
        ev.app = json::extra(self.service.as_ref().and_then(|s| json::text(&s.name)));
        ev.user_agent = json::extra(
            self.http_request
                .as_ref()
                .and_then(|h| json::text(&h.user_agent)),
        );
        ev.reason = json::extra(json::text(&self.status_detail));
        ev.vendor = VendorContext {
            is_proxy: None,
            as_number: src
                .and_then(|s| s.autonomous_system.as_ref())
                .and_then(|a| a.number),
            country: json::extra(
                src.and_then(|s| s.location.as_ref())
                    .and_then(|l| json::text(&l.country)),
            ),
        };
        Ok(ev)
    }

    /// `time` (epoch, unit judged by size), else `time_dt`.
    fn time(&self) -> Result<chrono::DateTime<chrono::Utc>, Rejection> {
        match &self.time {
            Some(n) => n
                .as_i64()
                // A float in range is truncated; one beyond i64 would saturate into a
                // plausible-looking date, so it is invalid instead.
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.abs() < i64::MAX as f64)
                        .map(|f| f as i64)
                })
                .and_then(fields::epoch)
                .ok_or_else(|| fields::invalid_time(&n.to_string())),
            None => fields::rfc3339(json::text(&self.time_dt)),
        }
    }

    /// `status_id` 1 Success / 2 Failure, else the `status` caption.
    fn outcome(&self) -> Outcome {
        match self.status_id {
            Some(1) => Outcome::Success,
            Some(2) => Outcome::Failure,
            _ => match json::text(&self.status) {
                Some(s) if s.eq_ignore_ascii_case("success") => Outcome::Success,
                Some(s) if s.eq_ignore_ascii_case("failure") => Outcome::Failure,
                _ => Outcome::Unknown,
            },
        }
    }
}

/// The kind of an Authentication activity; `None` for an account switch (su, runas),
/// which is a local change of identity, not a sign-in from somewhere.
fn kind_of(
    activity_id: i64,
    logon_type_id: Option<i64>,
    is_mfa: Option<bool>,
) -> Option<EventKind> {
    use NonInteractive::*;
    match activity_id {
        // Logon types System (1), Batch (4) and OS Service (5) are machines signing in.
        1 => Some(match logon_type_id {
            Some(1 | 4 | 5) => EventKind::NonInteractive(ServiceAccount),
            _ => EventKind::InteractiveLogin,
        }),
        2 => Some(EventKind::Logout),
        // Kerberos ticket requests, renewals and pre-authentication: the client's OS
        // redeeming credentials, counted but not a person arriving.
        3..=6 => Some(EventKind::NonInteractive(TokenRefresh)),
        7 => None,
        // Unknown (0) and Other (99): still an authentication by class; an MFA step when
        // the producer says so.
        _ if is_mfa == Some(true) => Some(EventKind::Mfa),
        _ => Some(EventKind::InteractiveLogin),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::decode::json::testing::{Expect, assert_total, check, mangled, reason, sample};
    use crate::decode::{FormatChoice, RejectReason};

    fn dec(text: &str) -> Result<LoginEvent, Rejection> {
        decode(text, &DecodeContext::default())
    }

    const OKTA_OCSF: &str = "ocsf/okta-authentication.ocsf.json";

    #[test]
    fn okta_mapping_sample() {
        let ev = check(
            dec(&sample(OKTA_OCSF)),
            Expect {
                user: "john.doe@example.com",
                ip: "10.0.0.1",
                // The mapping wrote whole seconds (1723564700): the raw's .353 is lost.
                time: "2024-08-13T15:58:20Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Success,
            },
        );
        assert_eq!(
            ev.source_id.as_deref(),
            Some("dc9fd3c0-598c-11ef-8478-2b7584bf8d5a")
        );
        assert_eq!(ev.session.as_deref(), Some("idxBager62CSveUkTxvgRtonA"));
        assert_eq!(ev.device.as_deref(), Some("Mac15,6"));
        assert_eq!(ev.vendor.as_number, Some(394089));
        assert_eq!(ev.vendor.country.as_deref(), Some("United States"));
        // The mapping dropped Okta's transaction id: no correlation id to show.
        assert_eq!(ev.correlation_id, None);
    }

    /// `metadata.correlation_uid`, where a mapping keeps the IdP's transaction id: the
    /// sample above with the raw record's `transaction.id` put back.
    #[test]
    fn correlation_uid_is_the_correlation_id() {
        let mut v: serde_json::Value = serde_json::from_str(&sample(OKTA_OCSF)).unwrap();
        v["metadata"]["correlation_uid"] = "ab609228fe84ce59cdcbfa690bgce016".into();
        let ev = dec(&v.to_string()).unwrap();
        assert_eq!(
            ev.correlation_id.as_deref(),
            Some("ab609228fe84ce59cdcbfa690bgce016")
        );
        assert_eq!(
            ev.source_id.as_deref(),
            Some("dc9fd3c0-598c-11ef-8478-2b7584bf8d5a"),
            "the record's own id stays apart"
        );
    }

    /// The OCSF project's own mapping of an Okta record must decode to the same sign-in
    /// as the raw record through the Okta adapter.
    #[test]
    fn okta_raw_and_mapped_agree() {
        let ctx = DecodeContext::default();
        let raw =
            super::super::okta::decode(&sample("ocsf/okta-authentication.raw.json"), &ctx).unwrap();
        let mapped = dec(&sample(OKTA_OCSF)).unwrap();
        assert_eq!(raw.user, mapped.user);
        assert_eq!(raw.ip, mapped.ip);
        // Same second; the mapping dropped the milliseconds.
        assert_eq!(raw.time.timestamp(), mapped.time.timestamp());
        assert_eq!(raw.outcome, mapped.outcome);
        assert_eq!(raw.kind, mapped.kind);
        assert_eq!(raw.session, mapped.session);
        assert_eq!(raw.source_id, mapped.source_id);
        // And auto-detection sends each to its own adapter.
        let auto = |path| super::super::decode(sample(path).as_bytes(), FormatChoice::Auto, &ctx);
        assert_eq!(
            auto("ocsf/okta-authentication.raw.json").unwrap().format,
            Format::Okta
        );
        assert_eq!(auto(OKTA_OCSF).unwrap().format, Format::Ocsf);
    }

    #[test]
    fn cloudtrail_samples_are_rejected() {
        let ctx = DecodeContext::default();
        // Upstream wrote a trailing comma into this file.
        let invalid = sample("ocsf/cloudtrail-authentication.ocsf.INVALID-JSON-upstream.json");
        assert!(sniff(&invalid));
        assert_eq!(reason(dec(&invalid)), RejectReason::InvalidJson);
        let auto = super::super::decode(invalid.as_bytes(), FormatChoice::Auto, &ctx);
        assert_eq!(auto.unwrap_err().format, Some(Format::Ocsf));
        // Raw CloudTrail is not a format of ours: no adapter claims it.
        let raw = sample("ocsf/cloudtrail-authentication.raw.json");
        let auto = super::super::decode(raw.as_bytes(), FormatChoice::Auto, &ctx);
        assert_eq!(reason(auto), RejectReason::UnknownFormat);
    }

    #[test]
    fn cloudtrail_mapping_once_repaired() {
        // The same sample with the upstream trailing comma removed: an "Other" activity
        // (a password challenge) of a user with a name but no e-mail, time in ms.
        let fixed = sample("ocsf/cloudtrail-authentication.ocsf.INVALID-JSON-upstream.json")
            .replace("},\n    },", "}\n    },");
        let ev = check(
            dec(&fixed),
            Expect {
                user: "test",
                ip: "0.0.0.0",
                time: "2024-09-19T16:32:46Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Unknown,
            },
        );
        assert_eq!(
            ev.user_agent.as_deref().map(|u| &u[..11]),
            Some("Mozilla/5.0")
        );
    }

    #[test]
    fn activity_mapping() {
        use NonInteractive::*;
        assert_eq!(kind_of(1, Some(2), None), Some(EventKind::InteractiveLogin));
        assert_eq!(
            kind_of(1, Some(5), None),
            Some(EventKind::NonInteractive(ServiceAccount))
        );
        assert_eq!(kind_of(2, None, None), Some(EventKind::Logout));
        assert_eq!(
            kind_of(4, None, None),
            Some(EventKind::NonInteractive(TokenRefresh))
        );
        assert_eq!(kind_of(7, None, None), None);
        assert_eq!(kind_of(99, None, Some(true)), Some(EventKind::Mfa));
        assert_eq!(kind_of(99, None, None), Some(EventKind::InteractiveLogin));
    }

    fn record(patch: &str) -> String {
        let base = r#"{"class_uid":3002,"activity_id":1,"status_id":2,"status_detail":"bad password",
            "time":1723564700123,"user":{"name":"ann"},"src_endpoint":{"ip":"81.2.69.142"}"#;
        format!("{base}{patch}}}")
    }

    #[test]
    fn edge_cases() {
        let ev = check(
            dec(&record("")),
            Expect {
                user: "ann",
                ip: "81.2.69.142",
                time: "2024-08-13T15:58:20.123Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Failure,
            },
        );
        assert_eq!(ev.reason.as_deref(), Some("bad password"));
        let no_user =
            r#"{"class_uid":3002,"activity_id":1,"time":1,"src_endpoint":{"ip":"1.2.3.4"}}"#;
        assert_eq!(reason(dec(no_user)), RejectReason::MissingUser);
        let no_ip = r#"{"class_uid":3002,"activity_id":1,"time":1,"user":{"name":"ann"}}"#;
        assert_eq!(reason(dec(no_ip)), RejectReason::MissingIp);
        let no_time = r#"{"class_uid":3002,"user":{"name":"ann"},"src_endpoint":{"ip":"1.2.3.4"}}"#;
        assert_eq!(reason(dec(no_time)), RejectReason::MissingTime);
        let bad_dt = no_time.replace("}}", r#"},"time_dt":"soon"}"#);
        assert_eq!(reason(dec(&bad_dt)), RejectReason::InvalidTime);
        let float_ms = dec(&record("").replace("1723564700123", "1723564700123.9")).unwrap();
        assert_eq!(float_ms.time.timestamp_millis(), 1723564700123);
        let huge = record("").replace("1723564700123", "1e300");
        assert_eq!(reason(dec(&huge)), RejectReason::InvalidTime);
        assert_eq!(reason(dec(&record("")[..30])), RejectReason::InvalidJson);
        let network_activity = r#"{"class_uid":4001,"user":{"name":"ann"}}"#;
        assert!(sniff(network_activity));
        assert_eq!(reason(dec(network_activity)), RejectReason::NotALogin);
    }

    proptest! {
        #[test]
        fn never_panics(text in mangled(vec![
            sample(OKTA_OCSF),
            sample("ocsf/cloudtrail-authentication.ocsf.INVALID-JSON-upstream.json"),
        ])) {
            assert_total(&dec(&text));
            let _ = sniff(&text);
        }
    }
}
