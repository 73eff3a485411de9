//! Adapter: Microsoft Entra ID sign-ins, in both shapes they are exported in:
//!
//! - a Microsoft Graph `signIn` object (`/auditLogs/signIns`): `createdDateTime`,
//!   `userPrincipalName`, `ipAddress`, `status.errorCode`, ... at the top level;
//! - the Event Hub / diagnostic-settings shape: an envelope (`category`, `time`,
//!   `resultType`, `callerIpAddress`) around the same Graph fields in `properties`.
//!
//! Both are read into one typed [`SignIn`]: the envelope's `properties` is itself a
//! [`SignIn`], so every Graph field is looked up in `properties` first, then at the top.
//! Panther lowercases the envelope keys (`calleripaddress`, `resulttype`); both accepted.

use serde::Deserialize;

use super::json::{self, Strings, Text};
use super::{DecodeContext, Rejection, fields};
use crate::event::{EventKind, Format, LoginEvent, NonInteractive, Outcome, VendorContext};

/// Does the record look like an Entra sign-in? The diagnostic categories all end in
/// `SignInLogs`; a bare Graph object has a `userPrincipalName` or `signInEventTypes`.
/// An ECS document made from a sign-in is ECS.
pub fn sniff(text: &str) -> bool {
    !json::is_ecs(text)
        && json::contains_any(
            text,
            &[
                "SignInLogs\"",
                "\"userPrincipalName\"",
                "\"userprincipalname\"",
                "\"signInEventTypes\"",
            ],
        )
}

/// Decode one Entra sign-in record.
pub fn decode(text: &str, _ctx: &DecodeContext) -> Result<LoginEvent, Rejection> {
    json::parse::<SignIn>(text)?.to_event()
}

/// A Graph `signIn`, or the diagnostic envelope around one (then the Graph fields are in
/// `properties` and the envelope fields are at the top).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignIn<'a> {
    // The diagnostic envelope.
    #[serde(borrow)]
    category: Option<Text<'a>>,
    #[serde(borrow)]
    time: Option<Text<'a>>,
    #[serde(borrow, alias = "resulttype")]
    result_type: Option<Text<'a>>,
    #[serde(borrow, alias = "resultdescription")]
    result_description: Option<Text<'a>>,
    #[serde(borrow, alias = "calleripaddress")]
    caller_ip_address: Option<Text<'a>>,
    #[serde(borrow)]
    properties: Option<Box<SignIn<'a>>>,

    // The Graph signIn fields.
    #[serde(borrow, alias = "createddatetime")]
    created_date_time: Option<Text<'a>>,
    #[serde(borrow, alias = "userprincipalname")]
    user_principal_name: Option<Text<'a>>,
    #[serde(borrow, alias = "serviceprincipalname")]
    service_principal_name: Option<Text<'a>>,
    #[serde(borrow, alias = "serviceprincipalid")]
    service_principal_id: Option<Text<'a>>,
    #[serde(borrow, alias = "ipaddress")]
    ip_address: Option<Text<'a>>,
    #[serde(borrow)]
    status: Option<Status<'a>>,
    #[serde(alias = "isinteractive")]
    is_interactive: Option<bool>,
    #[serde(borrow, alias = "signineventtypes")]
    sign_in_event_types: Option<Strings<'a>>,
    #[serde(borrow, alias = "appdisplayname")]
    app_display_name: Option<Text<'a>>,
    #[serde(borrow, alias = "devicedetail")]
    device_detail: Option<DeviceDetail<'a>>,
    #[serde(borrow)]
    id: Option<Text<'a>>,
    #[serde(borrow, alias = "correlationid")]
    correlation_id: Option<Text<'a>>,
    #[serde(borrow, alias = "sessionid")]
    session_id: Option<Text<'a>>,
    #[serde(borrow, alias = "useragent")]
    user_agent: Option<Text<'a>>,
    /// A Graph `signInLocation` object, or the envelope's bare country code.
    #[serde(borrow)]
    location: Option<Location<'a>>,
    #[serde(alias = "autonomoussystemnumber")]
    autonomous_system_number: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status<'a> {
    #[serde(borrow, alias = "errorcode")]
    error_code: Option<Text<'a>>,
    #[serde(borrow, alias = "failurereason")]
    failure_reason: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceDetail<'a> {
    #[serde(borrow, alias = "displayname")]
    display_name: Option<Text<'a>>,
    #[serde(borrow, alias = "deviceid")]
    device_id: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Location<'a> {
    Code(#[serde(borrow)] Text<'a>),
    Detail(#[serde(borrow)] LocationDetail<'a>),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LocationDetail<'a> {
    #[serde(borrow, alias = "countryorregion")]
    country_or_region: Option<Text<'a>>,
}

impl Location<'_> {
    fn country(&self) -> Option<&str> {
        match self {
            Location::Code(code) => Some(code.as_str()),
            Location::Detail(d) => json::text(&d.country_or_region),
        }
    }
}

impl SignIn<'_> {
    fn to_event(&self) -> Result<LoginEvent, Rejection> {
        let graph = self.properties.as_deref().unwrap_or(self);
        // A Graph field: from `properties` when this is an envelope, else from the top.
        let field = |pick: for<'s> fn(&'s SignIn<'_>) -> Option<&'s str>| {
            json::first([pick(graph), pick(self)])
        };
        let kind = self.kind(graph)?;
        let user = match kind {
            EventKind::NonInteractive(
                NonInteractive::ServicePrincipal | NonInteractive::ServiceAccount,
            ) => json::user([
                field(|s| json::text(&s.user_principal_name)),
                field(|s| json::text(&s.service_principal_name)),
                field(|s| json::text(&s.service_principal_id)),
            ])?,
            _ => fields::user(field(|s| json::text(&s.user_principal_name)))?,
        };
        let ip = fields::ip(json::first([
            field(|s| json::text(&s.ip_address)),
            json::text(&self.caller_ip_address),
        ]))?;
        // `createdDateTime` is when the sign-in happened; the envelope's `time` is when
        // the record was written, up to minutes later.
        let time = fields::rfc3339(json::first([
            field(|s| json::text(&s.created_date_time)),
            json::text(&self.time),
        ]))?;
        let status = graph.status.as_ref().or(self.status.as_ref());
        let outcome = outcome(json::first([
            status.and_then(|s| json::text(&s.error_code)),
            json::text(&self.result_type),
        ]));

        let mut ev = LoginEvent::new(Format::Entra, time, user, ip, kind, outcome);
        ev.source_id = json::extra(field(|s| json::text(&s.id)));
        // `sessionId` is newer; `correlationId` ties the requests of one sign-in together
        // and is the nearest thing to a session in older exports.
        ev.session = json::extra(json::first([
            field(|s| json::text(&s.session_id)),
            field(|s| json::text(&s.correlation_id)),
        ]));
        // Entra's own search and support key: the same for every request of one sign-in.
        ev.correlation_id = json::extra(field(|s| json::text(&s.correlation_id)));
        ev.device =
            json::extra(graph.device_detail.as_ref().and_then(|d| {
                json::first([json::text(&d.display_name), json::text(&d.device_id)])
            }));
        ev.app = json::extra(field(|s| json::text(&s.app_display_name)));
        ev.user_agent = json::extra(field(|s| json::text(&s.user_agent)));
        // Graph fills `failureReason` with "Other." on successes: keep it for failures.
        if outcome != Outcome::Success {
            ev.reason = json::extra(json::first([
                status.and_then(|s| json::text(&s.failure_reason)),
                json::text(&self.result_description),
            ]));
        }
        ev.vendor = VendorContext {
            is_proxy: None,
            as_number: graph.autonomous_system_number,
            country: json::extra(json::first([
                graph.location.as_ref().and_then(Location::country),
                self.location.as_ref().and_then(Location::country),
            ])),
        };
        Ok(ev)
    }

    /// The kind, from the diagnostic category when there is one, else from the Graph
    /// fields.
    fn kind(&self, graph: &SignIn<'_>) -> Result<EventKind, Rejection> {
        use NonInteractive::*;
        match json::text(&self.category) {
            // Entra routes each sign-in to a category by its own classification, so the
            // category wins over `isInteractive` when they disagree (the Elastic sample
            // has a SignInLogs record with isInteractive=false): dropping a real
            // interactive sign-in from scoring would hide exactly what we look for.
            Some("SignInLogs") => Ok(EventKind::InteractiveLogin),
            Some("NonInteractiveUserSignInLogs") => Ok(EventKind::NonInteractive(TokenRefresh)),
            Some("ServicePrincipalSignInLogs") => Ok(EventKind::NonInteractive(ServicePrincipal)),
            Some("ManagedIdentitySignInLogs") => Ok(EventKind::NonInteractive(ServiceAccount)),
            Some(other) => Err(fields::not_a_login(format_args!(
                "entra category {:?}",
                fields::clip(other)
            ))),
            None => Ok(graph_kind(graph)),
        }
    }
}

/// The kind of a bare Graph `signIn`: `signInEventTypes` (beta) when present, else
/// `isInteractive`. Graph's v1.0 `signIns` lists interactive sign-ins only, so a record
/// that says neither is one.
fn graph_kind(graph: &SignIn<'_>) -> EventKind {
    use NonInteractive::*;
    let by_type = graph
        .sign_in_event_types
        .iter()
        .flat_map(Strings::iter)
        .find_map(|t| match t {
            "interactiveUser" => Some(EventKind::InteractiveLogin),
            "nonInteractiveUser" => Some(EventKind::NonInteractive(TokenRefresh)),
            "servicePrincipal" => Some(EventKind::NonInteractive(ServicePrincipal)),
            "managedIdentity" => Some(EventKind::NonInteractive(ServiceAccount)),
            _ => None,
        });
    by_type.unwrap_or(match graph.is_interactive {
        Some(false) => EventKind::NonInteractive(TokenRefresh),
        _ => EventKind::InteractiveLogin,
    })
}

/// `status.errorCode` / `resultType`: 0 is success, any other code a failure. Some
/// exports (Panther's) write `Success` instead of 0.
fn outcome(code: Option<&str>) -> Outcome {
    match code.map(str::trim) {
        None => Outcome::Unknown,
        Some(c) if c == "0" || c.eq_ignore_ascii_case("success") => Outcome::Success,
        Some(_) => Outcome::Failure,
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

    const ELASTIC: &str = "elastic-integrations/azure-signinlogs-eventhub.ndjson";

    #[test]
    fn elastic_event_hub_samples() {
        let l = lines(ELASTIC);
        assert_eq!(l.len(), 2);
        // Category SignInLogs, but properties.isInteractive is false: the category wins.
        let ev = check(
            dec(&l[0]),
            Expect {
                user: "test@elastic.co",
                ip: "81.2.69.144",
                time: "2019-10-18T09:45:48.072989300Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Failure,
            },
        );
        assert_eq!(ev.vendor.country.as_deref(), Some("FR"));
        assert_eq!(ev.app.as_deref(), Some("Office 365"));
        assert_eq!(
            ev.source_id.as_deref(),
            Some("8a4de8b5-095c-47d0-a96f-a75130c61d53")
        );
        assert_eq!(
            ev.reason.as_deref(),
            Some(
                "This error occurred due to 'Keep me signed in' interrupt when the user was signing-in."
            )
        );
        assert_eq!(ev.device, None, "deviceId is empty");
        assert_eq!(
            ev.correlation_id.as_deref(),
            Some("8a4de8b5-095c-47d0-a96f-a75130c61d53")
        );
        // The envelope's correlationId differs from the sign-in's own: the sign-in's wins.
        let second = dec(&l[1]).unwrap();
        assert_eq!(
            second.correlation_id.as_deref(),
            Some("8a4de8b5-095c-47d0-a96f-a75130c61d53")
        );
        check(
            dec(&l[1]),
            Expect {
                user: "c3813493-bf92-5123-2717-8a8b2979c38b",
                ip: "81.2.69.144",
                time: "2019-10-18T09:45:48.072989300Z",
                kind: EventKind::NonInteractive(NonInteractive::TokenRefresh),
                outcome: Outcome::Failure,
            },
        );
    }

    #[test]
    fn panther_service_principals_with_lowercased_envelope() {
        let logs = panther("azure_failed_signins.tests.json");
        assert_eq!(logs.len(), 2);
        let failed = check(
            dec(&logs[0].1),
            Expect {
                user: "some-service-principal",
                ip: "12.12.12.12",
                time: "2023-07-26T22:58:30.983201900Z",
                kind: EventKind::NonInteractive(NonInteractive::ServicePrincipal),
                outcome: Outcome::Failure,
            },
        );
        assert_eq!(failed.vendor.country.as_deref(), Some("IE"));
        check(
            dec(&logs[1].1),
            Expect {
                user: "very-normal-service-principal",
                ip: "12.12.12.12",
                time: "2023-07-27T13:59:53.691680300Z",
                kind: EventKind::NonInteractive(NonInteractive::ServicePrincipal),
                outcome: Outcome::Success,
            },
        );
    }

    #[test]
    fn panther_graph_sessions() {
        let logs = panther("azure_graph_session_multiple_ips.tests.json");
        assert_eq!(logs.len(), 3);
        let ev = check(
            dec(&logs[0].1),
            Expect {
                user: "gandalf@lotr.com",
                ip: "5.5.5.5",
                time: "2025-01-15T09:35:20.456789Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Success,
            },
        );
        assert_eq!(ev.session.as_deref(), Some("session-abc-123"));
        // correlationId apart from sessionId: both kept, each in its place.
        assert_eq!(ev.correlation_id.as_deref(), Some("graph-session-002"));
        assert_eq!(ev.user_agent.as_deref(), Some("python-requests/2.28.1"));
        assert_eq!(ev.reason, None);
        check(
            dec(&logs[1].1),
            Expect {
                user: "jane.doe@example.com",
                ip: "203.0.113.10",
                time: "2026-02-18T07:32:50.552947800Z",
                kind: EventKind::NonInteractive(NonInteractive::TokenRefresh),
                outcome: Outcome::Success,
            },
        );
        check(
            dec(&logs[2].1),
            Expect {
                user: "employee@company.com",
                ip: "192.0.2.100",
                time: "2025-01-15T10:00:30.789012300Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Success,
            },
        );
    }

    /// A Graph `signIn` object as `/auditLogs/signIns` returns it (documented example
    /// shape), with `patch` replacing or removing fields.
    fn graph(patch: &[(&str, &str)]) -> String {
        let mut v: serde_json::Value = serde_json::from_str(
            r#"{"id":"66ea54eb-6301-4ee5-be62-ff5a759b0100","createdDateTime":"2024-03-04T05:06:07Z",
            "userPrincipalName":"ann@contoso.com","appDisplayName":"Azure Portal",
            "ipAddress":"89.160.20.112","clientAppUsed":"Browser","correlationId":"c0ffee",
            "isInteractive":true,"status":{"errorCode":0},
            "deviceDetail":{"deviceId":"","displayName":"ANN-LAPTOP","operatingSystem":"Windows 10"},
            "location":{"city":"Linkoping","countryOrRegion":"SE"}}"#,
        )
        .unwrap();
        for (k, val) in patch {
            if val.is_empty() {
                v.as_object_mut().unwrap().remove(*k);
            } else {
                v[*k] = serde_json::from_str(val).unwrap();
            }
        }
        v.to_string()
    }

    #[test]
    fn graph_shape() {
        let ev = check(
            dec(&graph(&[])),
            Expect {
                user: "ann@contoso.com",
                ip: "89.160.20.112",
                time: "2024-03-04T05:06:07Z",
                kind: EventKind::InteractiveLogin,
                outcome: Outcome::Success,
            },
        );
        assert_eq!(ev.device.as_deref(), Some("ANN-LAPTOP"));
        assert_eq!(ev.session.as_deref(), Some("c0ffee"));
        assert_eq!(ev.vendor.country.as_deref(), Some("SE"));
        assert!(sniff(&graph(&[])));
        let kind = |patch| dec(&graph(patch)).unwrap().kind;
        assert_eq!(
            kind(&[("isInteractive", "false")]),
            EventKind::NonInteractive(NonInteractive::TokenRefresh)
        );
        assert_eq!(
            kind(&[("signInEventTypes", r#"["managedIdentity"]"#)]),
            EventKind::NonInteractive(NonInteractive::ServiceAccount)
        );
        let failed = dec(&graph(&[(
            "status",
            r#"{"errorCode":50126,"failureReason":"Invalid username or password."}"#,
        )]))
        .unwrap();
        assert_eq!(failed.outcome, Outcome::Failure);
        assert_eq!(
            failed.reason.as_deref(),
            Some("Invalid username or password.")
        );
        assert_eq!(
            dec(&graph(&[("status", "")])).unwrap().outcome,
            Outcome::Unknown
        );
    }

    #[test]
    fn edge_cases() {
        assert_eq!(
            reason(dec(&graph(&[("userPrincipalName", "")]))),
            RejectReason::MissingUser
        );
        assert_eq!(
            reason(dec(&graph(&[("ipAddress", "")]))),
            RejectReason::MissingIp
        );
        assert_eq!(
            reason(dec(&graph(&[("createdDateTime", r#""18/10/2019""#)]))),
            RejectReason::InvalidTime
        );
        let text = graph(&[]);
        assert_eq!(reason(dec(&text[..40])), RejectReason::InvalidJson);
        assert_eq!(reason(dec("[]")), RejectReason::InvalidJson);
        assert_eq!(
            reason(dec(
                r#"{"category":"AuditLogs","time":"2024-01-01T00:00:00Z"}"#
            )),
            RejectReason::NotALogin
        );
        // The envelope's IP and time stand in when properties lack them.
        let l = lines(ELASTIC);
        let bare = l[0].replace(r#""ipAddress":"81.2.69.144","#, "").replace(
            r#""createdDateTime":"2019-10-18T04:45:48.0729893-05:00","#,
            "",
        );
        assert_ne!(bare, l[0]);
        let ev = dec(&bare).unwrap();
        assert_eq!(ev.ip.to_string(), "81.2.69.144");
        assert_eq!(ev.time.to_rfc3339(), "2019-10-18T09:45:48.072989300+00:00");
    }

    #[test]
    fn sniff_claims_only_entra() {
        assert!(lines(ELASTIC).iter().all(|l| sniff(l)));
        for (name, log) in panther("azure_failed_signins.tests.json")
            .into_iter()
            .chain(panther("azure_graph_session_multiple_ips.tests.json"))
        {
            assert!(sniff(&log), "{name}");
        }
        for other in [
            "elastic-integrations/okta-system-events.ndjson",
            "elastic-integrations/google-workspace-login.ndjson",
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
