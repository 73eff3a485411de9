//! Adapter: PAN-OS GlobalProtect logs, a CSV body (log type `GLOBALPROTECT`) behind a
//! syslog header.
//!
//! Field positions follow the PAN-OS 10.x "GlobalProtect Log Fields" table: the common
//! head (receive time, serial, type, ...), then virtual system, event id, stage, auth
//! method, tunnel type, source user, source region, machine name, public IPv4/IPv6,
//! private IPv4/IPv6, host id, ..., reason, error, description, status, location, login
//! duration, ..., sequence number.
//!
//! Which events count:
//! - `portal-auth`, `gateway-auth` (any `*-auth`): [`EventKind::InteractiveLogin`].
//! - `gateway-connected`, `gateway-register`: [`EventKind::VpnSessionStart`].
//! - `*-logout`, `*-disconnect`: [`EventKind::VpnSessionEnd`], with the login duration.
//! - everything else (`portal-prelogin`, `*-getconfig`, `gateway-hip-check`,
//!   `gateway-tunnel-latency`, `gateway-setup-ipsec`, ...) is [`RejectReason::NotALogin`]:
//!   steps inside a session that say nothing the start and end do not.
//!
//! The user `pre-logon` is the machine's certificate connecting before anyone has signed
//! in to the endpoint. It names no person, so it is rejected as
//! [`RejectReason::MissingUser`] rather than resolved against the roster.

use std::net::IpAddr;

use super::{DecodeContext, RejectReason, Rejection, fields, syslog};
use crate::event::{EventKind, Format, LoginEvent, Outcome, VpnSession};

/// 0-based positions in the CSV body.
mod col {
    pub const RECEIVE_TIME: usize = 1;
    pub const TYPE: usize = 3;
    pub const GENERATED_TIME: usize = 6;
    pub const EVENT_ID: usize = 8;
    pub const SOURCE_USER: usize = 12;
    pub const MACHINE_NAME: usize = 14;
    pub const PUBLIC_IPV4: usize = 15;
    pub const PUBLIC_IPV6: usize = 16;
    pub const PRIVATE_IPV4: usize = 17;
    pub const PRIVATE_IPV6: usize = 18;
    pub const HOST_ID: usize = 19;
    pub const REASON: usize = 25;
    pub const ERROR: usize = 26;
    pub const STATUS: usize = 28;
    pub const LOGIN_DURATION: usize = 30;
    pub const SEQUENCE_NUMBER: usize = 34;
}

/// The log type field that marks a GlobalProtect record.
const TYPE: &str = "GLOBALPROTECT";

/// The user PAN-OS writes for a pre-logon (machine) tunnel.
const PRE_LOGON: &str = "pre-logon";

/// Does the record look like this format?
pub fn sniff(text: &str) -> bool {
    text.contains(",GLOBALPROTECT,")
}

/// Decode one record of this format.
pub fn decode(text: &str, ctx: &DecodeContext) -> Result<LoginEvent, Rejection> {
    let record = csv_record(body(text))?;
    let field = |i: usize| record.get(i).map(str::trim).unwrap_or("");
    if field(col::TYPE) != TYPE {
        return Err(Rejection::new(
            RejectReason::Malformed,
            format!(
                "log type is {:?}, not {TYPE}",
                fields::clip(field(col::TYPE))
            ),
        ));
    }
    if record.len() <= col::STATUS {
        return Err(Rejection::new(
            RejectReason::Malformed,
            format!(
                "{} CSV fields, need at least {}",
                record.len(),
                col::STATUS + 1
            ),
        ));
    }
    let event_id = field(col::EVENT_ID);
    let kind = kind_of(event_id).ok_or_else(|| fields::not_a_login(event_id))?;

    let user = fields::user(Some(field(col::SOURCE_USER)))?;
    if user.eq_ignore_ascii_case(PRE_LOGON) {
        return Err(Rejection::new(
            RejectReason::MissingUser,
            "pre-logon is the machine tunnel, not a person",
        ));
    }
    let ip = first_address(&[field(col::PUBLIC_IPV4), field(col::PUBLIC_IPV6)])?
        .map_or_else(|| fields::ip(None), Ok)?;
    let time = match field(col::GENERATED_TIME) {
        "" => syslog::time(field(col::RECEIVE_TIME), ctx)?,
        generated => syslog::time(generated, ctx)?,
    };

    let outcome = match kind {
        EventKind::VpnSessionEnd => Outcome::Unknown,
        _ => match field(col::STATUS).to_ascii_lowercase().as_str() {
            "success" => Outcome::Success,
            "failure" => Outcome::Failure,
            _ => Outcome::Unknown,
        },
    };
    let mut event = LoginEvent::new(Format::Globalprotect, time, user, ip, kind, outcome);
    event.source_id = fields::non_empty(Some(field(col::SEQUENCE_NUMBER)));
    event.device = fields::non_empty(Some(field(col::MACHINE_NAME)))
        .or_else(|| fields::non_empty(Some(field(col::HOST_ID))));
    event.reason = fields::non_empty(Some(field(col::ERROR)))
        .or_else(|| fields::non_empty(Some(field(col::REASON))));
    event.vpn = vpn_figures(kind, &record);
    Ok(event)
}

/// The event kind of a GlobalProtect event id; `None` for events that are not logins.
fn kind_of(event_id: &str) -> Option<EventKind> {
    match event_id {
        "gateway-connected" | "gateway-register" => Some(EventKind::VpnSessionStart),
        id if id.ends_with("-auth") => Some(EventKind::InteractiveLogin),
        id if id.ends_with("-logout") || id.ends_with("-disconnect") => {
            Some(EventKind::VpnSessionEnd)
        }
        _ => None,
    }
}

/// The assigned (private) address for session starts and ends, and the login duration
/// for ends.
fn vpn_figures(kind: EventKind, record: &csv::StringRecord) -> Option<VpnSession> {
    let field = |i: usize| record.get(i).map(str::trim).unwrap_or("");
    if !matches!(kind, EventKind::VpnSessionStart | EventKind::VpnSessionEnd) {
        return None;
    }
    let duration_secs = match kind {
        EventKind::VpnSessionEnd => field(col::LOGIN_DURATION).parse().ok(),
        _ => None,
    };
    Some(VpnSession {
        duration_secs,
        // The assigned address is a detail: a bad one does not cost the event.
        assigned_ip: first_address(&[field(col::PRIVATE_IPV4), field(col::PRIVATE_IPV6)])
            .ok()
            .flatten(),
        ..VpnSession::default()
    })
}

/// The first field holding a real address: PAN-OS fills an unused slot with `0.0.0.0`
/// (or leaves it empty), so those mean "absent", not a client at 0.0.0.0. A filled slot
/// that is not an address is [`RejectReason::InvalidIp`].
fn first_address(candidates: &[&str]) -> Result<Option<IpAddr>, Rejection> {
    for raw in candidates.iter().filter(|raw| !raw.is_empty()) {
        let ip = fields::ip(Some(raw))?;
        if !ip.is_unspecified() {
            return Ok(Some(ip));
        }
    }
    Ok(None)
}

/// The CSV body: the header ends at the last blank before the first comma, since the
/// header (PRI, timestamp, optional host) has no commas and the first CSV field no blanks.
/// PAN-OS carries its own times in the body, so the header itself is not needed.
fn body(text: &str) -> &str {
    let first_comma = text.find(',').unwrap_or(text.len());
    match text[..first_comma].rsplit_once(char::is_whitespace) {
        Some((_, first_field)) => &text[first_comma - first_field.len()..],
        None => syslog::strip_pri(text),
    }
}

fn csv_record(body: &str) -> Result<csv::StringRecord, Rejection> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => Ok(record),
        Ok(false) => Err(Rejection::new(RejectReason::Malformed, "empty CSV body")),
        Err(e) => Err(Rejection::new(
            RejectReason::Malformed,
            format!("bad CSV: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::syslog::testkit::{Expect, check, check_sample, ev, mutated};
    use crate::event::EventKind::*;
    use crate::event::Outcome::*;

    const SAMPLE: &str = "elastic-integrations/panw-globalprotect.log";
    const NOT_A_LOGIN: Expect = Expect::Reject(RejectReason::NotALogin);

    #[test]
    fn sample_table() {
        check_sample(
            SAMPLE,
            decode,
            &[
                (1, NOT_A_LOGIN), // portal-prelogin
                (2, NOT_A_LOGIN), // gateway-config-release
                (3, NOT_A_LOGIN), // gateway-hip-check
                (4, NOT_A_LOGIN), // gateway-getconfig
                (5, NOT_A_LOGIN), // gateway-tunnel-latency
                (
                    6,
                    ev(
                        InteractiveLogin,
                        Success,
                        "maxmustermann",
                        "10.20.30.40",
                        "2021-03-02T09:55:39Z",
                    ),
                ),
                (7, NOT_A_LOGIN),  // gateway-setup-ipsec
                (8, NOT_A_LOGIN),  // portal-prelogin
                (9, NOT_A_LOGIN),  // portal-getconfig
                (10, NOT_A_LOGIN), // gateway-hip-check
                (11, NOT_A_LOGIN), // gateway-tunnel-latency
                (12, NOT_A_LOGIN), // gateway-tunnel-latency
            ],
        );
    }

    #[test]
    fn sample_login_carries_device_and_sequence() {
        let line = &crate::decode::syslog::testkit::sample_lines(SAMPLE)[5];
        let e = decode(line, &DecodeContext::default()).unwrap();
        assert_eq!(e.format, Format::Globalprotect);
        assert_eq!(e.device.as_deref(), Some("PC1234"));
        assert_eq!(e.source_id.as_deref(), Some("6894571632887748064"));
        assert_eq!(e.vpn, None);
    }

    /// A record in the 10.x field order, with the fields these tests vary.
    fn line(event: &str, user: &str, public: &str, private: &str, status: &str) -> String {
        format!(
            "<14>Mar  2 10:00:00 PA-FW 1,2021/03/02 10:00:01,0123,GLOBALPROTECT,0,2305,\
             2021/03/02 10:00:00,vsys1,{event},login,LDAP,SSL,{user},DE,LAPTOP-7,{public},\
             0.0.0.0,{private},0.0.0.0,a1b2,SER1,6.0.1,Windows,\"Microsoft Windows 10 Pro , \
             64-bit\",1,,{err},,{status},,3725,on-demand,0,GP-GW,77,0x0",
            err = if status == "failure" {
                "Authentication failed: Invalid username or password"
            } else {
                ""
            }
        )
    }

    #[test]
    fn gateway_logout_has_duration_and_assigned_address() {
        let ctx = DecodeContext {
            default_tz: "Europe/Berlin".parse().unwrap(),
            ..DecodeContext::default()
        };
        let text = line(
            "gateway-logout",
            "corp\\alice",
            "81.2.69.142",
            "10.8.0.12",
            "success",
        );
        let e = decode(&text, &ctx).unwrap();
        check(
            "logout",
            &Ok(e.clone()),
            ev(
                VpnSessionEnd,
                Unknown,
                "corp\\alice",
                "81.2.69.142",
                "2021-03-02T09:00:00Z",
            ),
        );
        let vpn = e.vpn.unwrap();
        assert_eq!(vpn.duration_secs, Some(3725));
        assert_eq!(vpn.assigned_ip, Some("10.8.0.12".parse().unwrap()));
        assert_eq!(e.device.as_deref(), Some("LAPTOP-7"));
    }

    #[test]
    fn gateway_connected_starts_a_session() {
        let text = line(
            "gateway-connected",
            "alice@example.com",
            "81.2.69.142",
            "10.8.0.12",
            "success",
        );
        let e = decode(&text, &DecodeContext::default()).unwrap();
        assert_eq!((e.kind, e.outcome), (VpnSessionStart, Success));
        let vpn = e.vpn.unwrap();
        assert_eq!(vpn.assigned_ip, Some("10.8.0.12".parse().unwrap()));
        assert_eq!(vpn.duration_secs, None);
    }

    #[test]
    fn portal_auth_failure_keeps_the_error() {
        let text = line("portal-auth", "bob", "81.2.69.142", "0.0.0.0", "failure");
        let e = decode(&text, &DecodeContext::default()).unwrap();
        assert_eq!((e.kind, e.outcome), (InteractiveLogin, Failure));
        assert_eq!(
            e.reason.as_deref(),
            Some("Authentication failed: Invalid username or password")
        );
    }

    #[test]
    fn pre_logon_and_empty_user_are_missing_user() {
        for user in ["pre-logon", ""] {
            let text = line("gateway-auth", user, "81.2.69.142", "0.0.0.0", "success");
            let r = decode(&text, &DecodeContext::default()).unwrap_err();
            assert_eq!(r.reason, RejectReason::MissingUser, "{user:?}");
        }
    }

    #[test]
    fn ipv6_public_address_when_ipv4_is_unset() {
        let text = line("gateway-auth", "bob", "0.0.0.0", "", "success").replacen(
            ",0.0.0.0,0.0.0.0,",
            ",0.0.0.0,2001:db8::7,",
            1,
        );
        let e = decode(&text, &DecodeContext::default()).unwrap();
        assert_eq!(e.ip, "2001:db8::7".parse::<IpAddr>().unwrap());
        let garbage = line("gateway-auth", "bob", "vpn.example", "", "success");
        assert_eq!(
            decode(&garbage, &DecodeContext::default())
                .unwrap_err()
                .reason,
            RejectReason::InvalidIp
        );
        let none = line("gateway-auth", "bob", "0.0.0.0", "", "success");
        assert_eq!(
            decode(&none, &DecodeContext::default()).unwrap_err().reason,
            RejectReason::MissingIp
        );
    }

    #[test]
    fn short_or_foreign_records_are_malformed() {
        let ctx = DecodeContext::default();
        for text in [
            "Nov 30 16:09:08 1,2021/03/24 11:30:00,0131,GLOBALPROTECT,0,2305",
            "Nov 30 16:09:08 1,2021/03/24 11:30:00,0131,TRAFFIC,end,2305",
            "",
        ] {
            assert_eq!(
                decode(text, &ctx).unwrap_err().reason,
                RejectReason::Malformed,
                "{text:?}"
            );
        }
    }

    /// Found by the property test: a multi-byte blank (U+00A0) before the first comma
    /// made the body split land inside a character.
    #[test]
    fn multibyte_blank_in_header_does_not_panic() {
        assert_eq!(
            decode("\u{a0}", &DecodeContext::default())
                .unwrap_err()
                .reason,
            RejectReason::Malformed
        );
        assert_eq!(body("Nov 30 16:09:08\u{a0}1,2"), "1,2");
    }

    #[test]
    fn sniff_claims_only_globalprotect() {
        for l in crate::decode::syslog::testkit::sample_lines(SAMPLE) {
            assert!(sniff(&l));
        }
        assert!(!sniff(
            "Oct 10 2018 12:34:56 h : %ASA-6-113039: Group g User u IP 1.2.3.4"
        ));
        assert!(!sniff(r#"{"eventType":"GLOBALPROTECT"}"#));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = decode(&s, &DecodeContext::default());
        }

        #[test]
        fn damaged_sample_lines_never_panic(s in mutated(SAMPLE)) {
            let _ = decode(&s, &DecodeContext::default());
        }
    }
}
