//! Adapter: Cisco ASA (and FTD, which shares the message catalogue) syslog, AnyConnect
//! and WebVPN messages.
//!
//! | id | message | kind |
//! |---|---|---|
//! | 113004 | `AAA user authentication Successful : server = S : user = U [: user IP = I]` | [`EventKind::InteractiveLogin`] success |
//! | 113005 | `AAA user authentication Rejected : reason = R : server = S : user = U : user IP = I` | [`EventKind::InteractiveLogin`] failure |
//! | 113039 | `Group G User U IP I AnyConnect parent session started.` | [`EventKind::VpnSessionStart`] |
//! | 722022 | `Group G User U IP I TCP SVC connection established ...` | [`EventKind::VpnSessionStart`] |
//! | 722051 | `Group G User U IP I IPv4 Address A IPv6 address B assigned to session` | [`EventKind::VpnSessionStart`], assigned address |
//! | 716001 | `Group G User U IP I WebVPN session started.` | [`EventKind::VpnSessionStart`] |
//! | 716002 | `Group G User U IP I WebVPN session terminated: R.` | [`EventKind::VpnSessionEnd`] |
//! | 113019 | `Group = G, Username = U, IP = I, Session disconnected. ... Duration: ..., Bytes xmt: N, Bytes rcv: N, Reason: R` | [`EventKind::VpnSessionEnd`], figures |
//!
//! Every other message id is [`RejectReason::NotALogin`]. The `Group G User U IP I` part
//! comes in three spellings: bare, `<bracketed>` (user names with blanks or quotes), and
//! `Group = G, Username = U, IP = I`. ASA masks the user of a failed login as `*****`
//! unless `no logging hide username` is set; a masked user is [`RejectReason::MissingUser`].
//! 113004 usually carries no client address: such records are [`RejectReason::MissingIp`].

use std::net::IpAddr;

use super::{DecodeContext, RejectReason, Rejection, fields, syslog};
use crate::event::{EventKind, Format, LoginEvent, Outcome, VpnSession};

/// The message prefixes of ASA and FTD.
const MARKERS: [&str; 2] = ["%ASA-", "%FTD-"];

/// Does the record look like this format?
pub fn sniff(text: &str) -> bool {
    MARKERS.iter().any(|m| text.contains(m))
}

/// Decode one record of this format.
pub fn decode(text: &str, ctx: &DecodeContext) -> Result<LoginEvent, Rejection> {
    let (header, id, message) = split(text)?;
    let parsed = match id {
        "113004" => aaa(message, Outcome::Success)?,
        "113005" => aaa(message, Outcome::Failure)?,
        "113039" | "722022" | "716001" => session(message, EventKind::VpnSessionStart)?,
        "722051" => {
            let mut p = session(message, EventKind::VpnSessionStart)?;
            p.vpn = Some(VpnSession {
                assigned_ip: assigned_address(p.rest),
                ..VpnSession::default()
            });
            p
        }
        "716002" => {
            let mut p = session(message, EventKind::VpnSessionEnd)?;
            p.reason = p
                .rest
                .split_once("terminated")
                .and_then(|(_, r)| reason_text(r.trim_start_matches([':', '.', ' '])));
            p
        }
        "113019" => {
            let mut p = session(message, EventKind::VpnSessionEnd)?;
            p.reason = labelled(p.rest, "Reason:", true).and_then(reason_text);
            p.vpn = Some(VpnSession {
                duration_secs: labelled(p.rest, "Duration:", false).and_then(duration),
                bytes_out: labelled(p.rest, "Bytes xmt:", false).and_then(|v| v.parse().ok()),
                bytes_in: labelled(p.rest, "Bytes rcv:", false).and_then(|v| v.parse().ok()),
                assigned_ip: None,
            });
            p
        }
        other => return Err(fields::not_a_login(format_args!("ASA message {other}"))),
    };
    let user = user(parsed.user)?;
    let ip = fields::ip(parsed.ip)?;
    let time = syslog::parse(header, ctx).time()?;
    let mut event = LoginEvent::new(
        Format::CiscoAsa,
        time,
        user,
        ip,
        parsed.kind,
        parsed.outcome,
    );
    event.reason = parsed.reason;
    event.vpn = parsed.vpn;
    Ok(event)
}

/// What one message says, before the shared checks.
struct Parsed<'a> {
    kind: EventKind,
    outcome: Outcome,
    user: Option<&'a str>,
    ip: Option<&'a str>,
    /// The message text after the `Group/User/IP` part.
    rest: &'a str,
    reason: Option<String>,
    vpn: Option<VpnSession>,
}

/// Split a line into (syslog header, message id, message text).
fn split(text: &str) -> Result<(&str, &str, &str), Rejection> {
    let start = MARKERS
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .ok_or_else(|| Rejection::new(RejectReason::Malformed, "no %ASA- message id"))?;
    let (tag, message) = text[start..]
        .split_once(':')
        .ok_or_else(|| Rejection::new(RejectReason::Malformed, "message id without ':'"))?;
    // `%ASA-6-113039`, or `%FTD-session-6-113039` on some FTD releases: the id is last.
    let id = tag.rsplit('-').next().unwrap_or("");
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::new(
            RejectReason::Malformed,
            format!("bad message id {:?}", fields::clip(tag)),
        ));
    }
    Ok((&text[..start], id, message.trim()))
}

/// A `Group/User/IP` message: session starts and ends.
fn session(message: &str, kind: EventKind) -> Result<Parsed<'_>, Rejection> {
    let (user, ip, rest) = identity(message).ok_or_else(|| {
        Rejection::new(
            RejectReason::Malformed,
            format!("no Group/User/IP in {:?}", fields::clip(message)),
        )
    })?;
    let outcome = match kind {
        // An end says nothing of success; it only closes what a start opened.
        EventKind::VpnSessionEnd => Outcome::Unknown,
        _ => Outcome::Success,
    };
    Ok(Parsed {
        kind,
        outcome,
        user: Some(user),
        ip: Some(ip),
        rest,
        reason: None,
        vpn: None,
    })
}

/// `(user, ip, rest)` from any of the three `Group/User/IP` spellings.
fn identity(message: &str) -> Option<(&str, &str, &str)> {
    if let Some(r) = message.strip_prefix("Group = ") {
        let (_group, r) = r.split_once(", Username = ")?;
        let (user, r) = r.split_once(", IP = ")?;
        let (ip, rest) = r.split_once(',').unwrap_or((r, ""));
        return Some((user, ip, rest.trim_start()));
    }
    let r = message.strip_prefix("Group ")?;
    if let Some(r) = r.strip_prefix('<') {
        let (_group, r) = r.split_once("> User <")?;
        let (user, r) = r.split_once("> IP <")?;
        let (ip, rest) = r.split_once('>')?;
        Some((user, ip, rest.trim_start()))
    } else {
        let (_group, r) = r.split_once(" User ")?;
        let (user, r) = r.split_once(" IP ")?;
        let (ip, rest) = r.split_once(' ').unwrap_or((r, ""));
        Some((user, ip, rest.trim_start()))
    }
}

/// 113004 / 113005: ` : `-separated `key = value` pairs.
fn aaa(message: &str, outcome: Outcome) -> Result<Parsed<'_>, Rejection> {
    let reason = match outcome {
        Outcome::Failure => aaa_value(message, "reason").and_then(reason_text),
        _ => None,
    };
    Ok(Parsed {
        kind: EventKind::InteractiveLogin,
        outcome,
        user: aaa_value(message, "user"),
        ip: aaa_value(message, "user ip"),
        rest: "",
        reason,
        vpn: None,
    })
}

/// The value of `key = value` in an AAA message, matched without regard to case (FTD
/// writes `User =`, ASA `user =`). A value ends at `:` or `,`, except an address, which
/// may be IPv6 and so ends at a blank.
fn aaa_value<'a>(message: &'a str, key: &str) -> Option<&'a str> {
    let lower = message.to_ascii_lowercase();
    let is_ip = key.ends_with(" ip");
    lower.match_indices(key).find_map(|(at, _)| {
        // `key` must be a whole word: `user` must not match inside `user ip`.
        let before_ok = at == 0 || !lower.as_bytes()[at - 1].is_ascii_alphanumeric();
        let after = message[at + key.len()..].trim_start();
        let value = after.strip_prefix('=')?.trim_start();
        if !before_ok {
            return None;
        }
        let end = if is_ip {
            value.find([' ', ',']).unwrap_or(value.len())
        } else {
            value.find([':', ',']).unwrap_or(value.len())
        };
        Some(value[..end].trim())
    })
}

/// The text after `label` up to the next `, ` (or the end, for the last field).
fn labelled<'a>(text: &'a str, label: &str, to_end: bool) -> Option<&'a str> {
    let (_, after) = text.split_once(label)?;
    let value = if to_end {
        after
    } else {
        after.split_once(", ").map_or(after, |(v, _)| v)
    };
    Some(value.trim())
}

/// A reason as ASA writes it, without its closing period or quote.
fn reason_text(raw: &str) -> Option<String> {
    fields::non_empty(Some(raw.trim_end_matches(['.', '"'])))
}

/// `1d 19h:41m:14s`, `0h:05m:12s` or `0:05:12` in seconds.
fn duration(raw: &str) -> Option<u64> {
    let (days, hms) = match raw.split_once("d ") {
        Some((d, rest)) => (d.trim().parse::<u64>().ok()?, rest),
        None => (0, raw),
    };
    let mut parts = hms
        .split(':')
        .map(|p| p.trim().trim_end_matches(['h', 'm', 's']).parse::<u64>());
    let (h, m, s) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    if parts.next().is_some() {
        return None;
    }
    days.checked_mul(86_400)?
        .checked_add(h.checked_mul(3_600)?)?
        .checked_add(m.checked_mul(60)?)?
        .checked_add(s)
}

/// The tunnel address of a 722051 message: the IPv4 one, else the IPv6 one (`::` means
/// none was assigned).
fn assigned_address(rest: &str) -> Option<IpAddr> {
    ["IPv4 Address", "IPv6 Address", "IPv6 address"]
        .iter()
        .filter_map(|label| {
            let (_, after) = rest.split_once(label)?;
            let token = after.trim_start();
            let token = match token.strip_prefix('<') {
                Some(t) => t.split_once('>')?.0,
                None => token.split_once(' ').map_or(token, |(t, _)| t),
            };
            fields::ip(Some(token)).ok()
        })
        .find(|ip| !ip.is_unspecified())
}

/// A user name, where ASA's `*****` mask means no user.
fn user(raw: Option<&str>) -> Result<String, Rejection> {
    match raw.map(str::trim) {
        Some(u) if !u.is_empty() && u.bytes().all(|b| b == b'*') => Err(Rejection::new(
            RejectReason::MissingUser,
            "user name masked by the ASA",
        )),
        other => fields::user(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::syslog::testkit::{Expect, check, check_sample, ev, mutated, sample_lines};
    use crate::event::EventKind::*;
    use crate::event::Outcome::*;

    const SAMPLE: &str = "elastic-integrations/cisco-asa-anyconnect.log";
    const NOT_A_LOGIN: Expect = Expect::Reject(RejectReason::NotALogin);

    #[test]
    fn sample_table() {
        let start = |user| {
            ev(
                VpnSessionStart,
                Success,
                user,
                "81.2.69.144",
                "2022-06-22T13:29:11Z",
            )
        };
        check_sample(
            SAMPLE,
            decode,
            &[
                (1, NOT_A_LOGIN),  // 113029 session limit
                (2, NOT_A_LOGIN),  // 113030
                (3, NOT_A_LOGIN),  // 113031
                (4, NOT_A_LOGIN),  // 113032
                (5, NOT_A_LOGIN),  // 113033
                (6, NOT_A_LOGIN),  // 113034
                (7, NOT_A_LOGIN),  // 113035
                (8, NOT_A_LOGIN),  // 113036
                (9, NOT_A_LOGIN),  // 113037
                (10, NOT_A_LOGIN), // 113038
                (
                    11,
                    ev(
                        VpnSessionStart,
                        Success,
                        "example.user",
                        "67.43.156.14",
                        "2018-10-10T12:34:56Z",
                    ),
                ),
                (12, NOT_A_LOGIN), // 113040
                (13, start("user-1")),
                (14, start("first.o'last@example.com")),
                (15, start("first.o'last@example.com")),
            ],
        );
    }

    fn one(text: &str) -> Result<LoginEvent, Rejection> {
        decode(text, &DecodeContext::default())
    }

    #[test]
    fn session_disconnected_has_duration_bytes_and_reason() {
        let e = one(
            "<164>Oct 01 2014 00:05:44 fff-vpn-cluster-2 : %ASA-4-113019: Group = apple_short, \
             Username = idan, IP = 44.188.239.218, Session disconnected. Session Type: SSL, \
             Duration: 1d 19h:41m:14s, Bytes xmt: 187346964, Bytes rcv: 28559584, Reason: User Requested",
        );
        check(
            "113019",
            &e,
            ev(
                VpnSessionEnd,
                Unknown,
                "idan",
                "44.188.239.218",
                "2014-10-01T00:05:44Z",
            ),
        );
        let e = e.unwrap();
        assert_eq!(e.reason.as_deref(), Some("User Requested"));
        let vpn = e.vpn.unwrap();
        assert_eq!(vpn.duration_secs, Some(86_400 + 19 * 3600 + 41 * 60 + 14));
        assert_eq!(vpn.bytes_out, Some(187_346_964));
        assert_eq!(vpn.bytes_in, Some(28_559_584));
    }

    #[test]
    fn aaa_success_and_rejection() {
        let ok = one(
            "Jan 08 09:12:56 asa.example.com: %ASA-6-113004: AAA user authentication \
             Successful : server =  192.168.0.1 : user = testuser : user IP = 81.2.69.160",
        );
        check(
            "113004",
            &ok,
            ev(
                InteractiveLogin,
                Success,
                "testuser",
                "81.2.69.160",
                "2026-01-08T09:12:56Z",
            ),
        );
        // Without `user IP` the server address must not stand in for the client.
        let no_ip = one(
            "Jan 08 09:12:56 asa.example.com: %ASA-6-113004: AAA user authentication \
             Successful : server =  192.168.0.1 : user = testuser",
        );
        assert_eq!(no_ip.unwrap_err().reason, RejectReason::MissingIp);

        let rejected = one(
            "<166>Oct 01 2026 02:14:07 asa-vpn-01 : %ASA-6-113005: AAA user authentication \
             Rejected : reason = Invalid password : server = 10.10.1.20 : user = jsmith : user IP = 198.51.100.77",
        );
        check(
            "113005",
            &rejected,
            ev(
                InteractiveLogin,
                Failure,
                "jsmith",
                "198.51.100.77",
                "2026-10-01T02:14:07Z",
            ),
        );
        assert_eq!(
            rejected.unwrap().reason.as_deref(),
            Some("Invalid password")
        );
        let masked = one(
            "Jul 23 20:30:27 myvpn.test.lab %ASA-6-113005: AAA user authentication Rejected : \
             reason = AAA failure : server = 192.168.5.5 : user = ***** : user IP = 154.202.116.125",
        );
        assert_eq!(masked.unwrap_err().reason, RejectReason::MissingUser);
        // FTD's spelling: `User = u: user IP = ip`, with an IPv6 client.
        let ftd = one(
            "2026-06-12T08:16:01Z ftd1 : %FTD-6-113005: AAA user authentication Rejected: \
             reason = AAA failure: server = 10.1.2.3, User = jroberts: user IP = 2001:db8::9",
        );
        check(
            "ftd",
            &ftd,
            ev(
                InteractiveLogin,
                Failure,
                "jroberts",
                "2001:db8::9",
                "2026-06-12T08:16:01Z",
            ),
        );
    }

    #[test]
    fn webvpn_session_start_and_end() {
        let start = one(
            "<166>Oct 01 2026 11:02:00 asa-vpn-01 : %ASA-6-716001: Group <GP-Contractors> \
             User <ext.avi.b> IP <203.0.113.88> WebVPN session started.",
        );
        check(
            "716001",
            &start,
            ev(
                VpnSessionStart,
                Success,
                "ext.avi.b",
                "203.0.113.88",
                "2026-10-01T11:02:00Z",
            ),
        );
        let end = one(
            "<166>Oct 01 2026 11:50:07 asa-vpn-01 : %ASA-6-716002: Group <GP-Contractors> \
             User <ext.avi.b> IP <203.0.113.88> WebVPN session terminated: Idle timeout.",
        )
        .unwrap();
        assert_eq!((end.kind, end.outcome), (VpnSessionEnd, Unknown));
        assert_eq!(end.reason.as_deref(), Some("Idle timeout"));
    }

    #[test]
    fn svc_connection_and_address_assignment() {
        let svc = one(
            "<166>Oct 01 2026 08:02:11 asa-vpn-01 : %ASA-6-722022: Group <GP-Corp-Users> \
             User <dana.levi> IP <203.0.113.24> TCP SVC connection established without compression",
        );
        check(
            "722022",
            &svc,
            ev(
                VpnSessionStart,
                Success,
                "dana.levi",
                "203.0.113.24",
                "2026-10-01T08:02:11Z",
            ),
        );
        let assigned = one(
            "Sep 03 2014 05:12:22 rtp5-vpn-cluster-2 : %ASA-7-722051: Group <apple_short> \
             User <tomerl-iPhone> IP <174.46.152.7> IPv4 Address <10.82.239.225> IPv6 address <::> assigned to session",
        )
        .unwrap();
        assert_eq!(assigned.ip.to_string(), "174.46.152.7");
        assert_eq!(
            assigned.vpn.unwrap().assigned_ip,
            Some("10.82.239.225".parse().unwrap())
        );
        // The bare spelling, with only an IPv6 tunnel address.
        let bare = one(
            "<111>Mar 12 07:15:14 10.11.12.13 : %ASA-6-722051: Group dummy_group User dummy_user \
             IP 81.2.69.1 IPv4 Address 0.0.0.0 IPv6 Address 2001:db8:3333::8 assigned to session",
        )
        .unwrap();
        assert_eq!(bare.user, "dummy_user");
        assert_eq!(
            bare.vpn.unwrap().assigned_ip,
            Some("2001:db8:3333::8".parse().unwrap())
        );
    }

    #[test]
    fn bad_lines_are_rejected_with_their_reason() {
        let cases = [
            (
                "%ASA-6-113039: AnyConnect parent session started.",
                RejectReason::Malformed,
            ),
            (
                "Oct 10 2018 12:34:56 h %ASA-6-113039",
                RejectReason::Malformed,
            ),
            (
                "Oct 10 2018 12:34:56 h %ASA-x-abc: y",
                RejectReason::Malformed,
            ),
            (
                "<166>%ASA-6-113039: Group <g> User <u> IP <81.2.69.1> AnyConnect parent session started.",
                RejectReason::MissingTime,
            ),
            (
                "Feb 30 2018 12:34:56 h : %ASA-6-113039: Group g User u IP 81.2.69.1 AnyConnect parent session started.",
                RejectReason::InvalidTime,
            ),
            (
                "Oct 10 2018 12:34:56 h : %ASA-6-113039: Group g User u IP vpn.example AnyConnect parent session started.",
                RejectReason::InvalidIp,
            ),
            ("no marker at all", RejectReason::Malformed),
        ];
        for (text, reason) in cases {
            assert_eq!(one(text).unwrap_err().reason, reason, "{text}");
        }
    }

    #[test]
    fn duration_forms() {
        assert_eq!(duration("0h:05m:12s"), Some(312));
        assert_eq!(duration("1d 0h:00m:01s"), Some(86_401));
        assert_eq!(duration("0:05:12"), Some(312));
        assert_eq!(duration("5m"), None);
        assert_eq!(duration("99999999999999999999d 0h:00m:00s"), None);
    }

    #[test]
    fn sniff_claims_only_asa() {
        assert!(sample_lines(SAMPLE).iter().all(|l| sniff(l)));
        assert!(!sniff(
            "2024-12-15 14:11:26 1.2.3.4:5 [alice] Peer Connection Initiated"
        ));
        assert!(!sniff(
            r#"date=2024-10-14 time=13:46:40 logid="1" type="event""#
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = one(&s);
        }

        #[test]
        fn never_panics_on_asa_shapes(s in "%ASA-6-(113004|113005|113019|722051|716002): [A-Za-z<>=:,. 0-9*]{0,120}") {
            let _ = one(&s);
        }

        #[test]
        fn damaged_sample_lines_never_panic(s in mutated(SAMPLE)) {
            let _ = one(&s);
        }
    }
}
