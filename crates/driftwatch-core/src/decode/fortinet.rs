//! Adapter: FortiGate SSL-VPN event logs, `key=value` pairs (values quoted when they may
//! hold blanks), possibly behind a syslog header.
//!
//! Only `type="event" subtype="vpn"` records count:
//! - `action="ssl-login-fail"`: [`EventKind::InteractiveLogin`], failure.
//! - `action="tunnel-up"`: [`EventKind::VpnSessionStart`]; in web mode
//!   (`tunneltype="ssl-web"`) FortiOS logs the portal sign-in as a tunnel coming up with
//!   no tunnel behind it, so that one is an [`EventKind::InteractiveLogin`] success.
//! - `action="tunnel-down"`: [`EventKind::VpnSessionEnd`] with `duration`, `sentbyte`
//!   (to the client) and `rcvdbyte` (from the client).
//! - every other action (`ssl-new-con`, `tunnel-stats`, `ssl-alert`, ...):
//!   [`RejectReason::NotALogin`].
//!
//! The time is `eventtime` (epoch, nanoseconds on FortiOS 6.2+), else `date` + `time`
//! read with `tz` when it is an offset, else in the context zone. The client is `remip`;
//! `tunnelip` is the address assigned inside the tunnel. `user="N/A"` is no user; an IPsec
//! dial-up record names its user in `xauthuser` instead.

use super::{DecodeContext, RejectReason, Rejection, fields, syslog};
use crate::event::{EventKind, Format, LoginEvent, Outcome, VpnSession};

/// Does the record look like this format?
pub fn sniff(text: &str) -> bool {
    // Every FortiGate log carries a `logid` and a `subtype`; JSON records are claimed by
    // the JSON adapters earlier in the detection order.
    text.contains("logid=") && text.contains("subtype=")
}

/// Decode one record of this format.
pub fn decode(text: &str, ctx: &DecodeContext) -> Result<LoginEvent, Rejection> {
    let kv = Pairs::parse(syslog::strip_pri(text));
    let (Some(kind), Some(subtype)) = (kv.get("type"), kv.get("subtype")) else {
        return Err(Rejection::new(
            RejectReason::Malformed,
            "no type= or subtype= field",
        ));
    };
    if kind != "event" || subtype != "vpn" {
        return Err(fields::not_a_login(format_args!(
            "FortiGate {} {} log",
            fields::clip(kind),
            fields::clip(subtype)
        )));
    }
    let action = kv.get("action").unwrap_or("");
    let web_mode = kv.get("tunneltype") == Some("ssl-web");
    let (kind, outcome) = match action {
        "ssl-login-fail" => (EventKind::InteractiveLogin, Outcome::Failure),
        "tunnel-up" if web_mode => (EventKind::InteractiveLogin, Outcome::Success),
        "tunnel-up" => (EventKind::VpnSessionStart, Outcome::Success),
        "tunnel-down" => (EventKind::VpnSessionEnd, Outcome::Unknown),
        other => {
            return Err(fields::not_a_login(format_args!(
                "FortiGate VPN action {:?}",
                fields::clip(other)
            )));
        }
    };

    let user = fields::user(kv.get("user"))
        .or_else(|missing| fields::user(kv.get("xauthuser")).map_err(|_| missing))?;
    let ip = fields::ip(kv.get("remip"))?;
    let time = event_time(&kv, ctx)?;

    let mut event = LoginEvent::new(Format::Fortinet, time, user, ip, kind, outcome);
    event.reason = fields::non_empty(kv.get("reason"));
    event.session = kv
        .get("tunnelid")
        .filter(|id| *id != "0")
        .and_then(|id| fields::non_empty(Some(id)));
    if matches!(kind, EventKind::VpnSessionStart | EventKind::VpnSessionEnd) {
        let number = |key| kv.get(key).and_then(|v| v.parse().ok());
        let is_end = kind == EventKind::VpnSessionEnd;
        event.vpn = Some(VpnSession {
            duration_secs: number("duration").filter(|_| is_end),
            bytes_out: number("sentbyte").filter(|_| is_end),
            bytes_in: number("rcvdbyte").filter(|_| is_end),
            assigned_ip: fields::ip(kv.get("tunnelip"))
                .ok()
                .filter(|ip| !ip.is_unspecified()),
        });
    }
    Ok(event)
}

/// `eventtime` when present, else `date` and `time` with `tz`.
fn event_time(
    kv: &Pairs<'_>,
    ctx: &DecodeContext,
) -> Result<chrono::DateTime<chrono::Utc>, Rejection> {
    if let Some(raw) = kv.get("eventtime") {
        return raw
            .parse::<i64>()
            .ok()
            .and_then(fields::epoch)
            .ok_or_else(|| fields::invalid_time(raw));
    }
    let (Some(date), Some(time)) = (kv.get("date"), kv.get("time")) else {
        return Err(Rejection::new(
            RejectReason::MissingTime,
            "no eventtime and no date/time",
        ));
    };
    // `tz="-0700"` is an offset the shared parser reads when written right after the
    // time; a zone name (or nothing) leaves the time to the context zone.
    let offset = kv
        .get("tz")
        .filter(|tz| tz.starts_with(['+', '-']))
        .unwrap_or("");
    syslog::time(&format!("{date} {time}{offset}"), ctx)
}

/// The `key=value` pairs of one record, in order. Quoted values keep their inner text
/// as written (FortiOS escapes an inner quote as `\"`; it stays escaped).
struct Pairs<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Pairs<'a> {
    fn parse(text: &'a str) -> Self {
        let mut pairs = Vec::new();
        let mut rest = text;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            // A token with no `=` before the next blank is header text (host, tag): skip.
            let token_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let Some(eq) = rest[..token_end].find('=') else {
                rest = &rest[token_end..];
                continue;
            };
            let key = &rest[..eq];
            let after = &rest[eq + 1..];
            let (value, next) = match after.strip_prefix('"') {
                Some(quoted) => match closing_quote(quoted) {
                    Some(end) => (&quoted[..end], &quoted[end + 1..]),
                    None => (quoted, ""),
                },
                None => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            pairs.push((key, value));
            rest = next;
        }
        Pairs(pairs)
    }

    /// The first value of `key`.
    fn get(&self, key: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// The byte index of the quote that closes a value, skipping `\"`.
fn closing_quote(quoted: &str) -> Option<usize> {
    let bytes = quoted.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::syslog::testkit::{Expect, check, check_sample, ev, mutated, sample_lines};
    use crate::event::EventKind::*;
    use crate::event::Outcome::*;

    const SAMPLE: &str = "crowdsec-hub/fortinet-sslvpn-login-fail.log";
    const MISSING_USER: Expect = Expect::Reject(RejectReason::MissingUser);

    fn fail(user: &'static str, time: &'static str) -> Expect {
        ev(InteractiveLogin, Failure, user, "192.168.0.1", time)
    }

    #[test]
    fn sample_table() {
        // `eventtime` wins over `date`/`time`: in line 2 they differ by a second.
        check_sample(
            SAMPLE,
            decode,
            &[
                (1, MISSING_USER),
                (2, fail("sapservicecq1", "2024-10-14T20:46:42.127358411Z")),
                (3, fail("gxdadmin", "2024-10-14T20:46:42.315326151Z")),
                (4, fail("ithomas", "2024-10-14T20:46:46.677358671Z")),
                (5, fail("Veeam2021", "2024-10-14T20:46:52.057437391Z")),
                (6, MISSING_USER),
                (7, MISSING_USER),
                (8, fail("andrew", "2024-10-14T20:46:54.278186311Z")),
                (9, MISSING_USER),
            ],
        );
    }

    #[test]
    fn sample_failure_keeps_the_reason() {
        let line = &sample_lines(SAMPLE)[1];
        let e = decode(line, &DecodeContext::default()).unwrap();
        assert_eq!(e.reason.as_deref(), Some("sslvpn_login_no_matching_policy"));
        assert_eq!(e.session, None, "tunnelid=0 is no session");
        assert_eq!(e.format, Format::Fortinet);
    }

    const TUNNEL_DOWN: &str = "<189>date=2023-05-21 time=09:33:18 eventtime=1684632798404718137 \
        tz=\"+0800\" logid=\"0101039948\" type=\"event\" subtype=\"vpn\" level=\"information\" \
        vd=\"root\" logdesc=\"SSL VPN tunnel down\" action=\"tunnel-down\" tunneltype=\"ssl-tunnel\" \
        tunnelid=307687111 remip=81.2.69.142 tunnelip=172.16.100.1 user=\"salesuser\" \
        group=\"SalesGroup\" dst_host=\"N/A\" reason=\"User requested termination of service\" \
        duration=1853 sentbyte=35156 rcvdbyte=111799 msg=\"SSL tunnel shutdown\"";

    #[test]
    fn tunnel_down_has_duration_and_bytes() {
        let e = decode(TUNNEL_DOWN, &DecodeContext::default());
        check(
            "tunnel-down",
            &e,
            ev(
                VpnSessionEnd,
                Unknown,
                "salesuser",
                "81.2.69.142",
                "2023-05-21T01:33:18.404718137Z",
            ),
        );
        let e = e.unwrap();
        let vpn = e.vpn.unwrap();
        assert_eq!(vpn.duration_secs, Some(1853));
        assert_eq!(vpn.bytes_out, Some(35156));
        assert_eq!(vpn.bytes_in, Some(111_799));
        assert_eq!(vpn.assigned_ip, Some("172.16.100.1".parse().unwrap()));
        assert_eq!(e.session.as_deref(), Some("307687111"));
        assert_eq!(
            e.reason.as_deref(),
            Some("User requested termination of service")
        );
    }

    #[test]
    fn tunnel_up_without_eventtime_uses_date_time_and_tz() {
        let up = TUNNEL_DOWN
            .replace("action=\"tunnel-down\"", "action=\"tunnel-up\"")
            .replace("eventtime=1684632798404718137 ", "");
        let e = decode(&up, &DecodeContext::default());
        check(
            "tunnel-up",
            &e,
            ev(
                VpnSessionStart,
                Success,
                "salesuser",
                "81.2.69.142",
                "2023-05-21T01:33:18Z",
            ),
        );
        assert_eq!(e.unwrap().vpn.unwrap().duration_secs, None);

        // No offset: the context zone.
        let no_tz = up.replace("tz=\"+0800\" ", "");
        let ctx = DecodeContext {
            default_tz: "Asia/Tokyo".parse().unwrap(),
            ..DecodeContext::default()
        };
        let e = decode(&no_tz, &ctx).unwrap();
        assert_eq!(e.time.to_rfc3339(), "2023-05-21T00:33:18+00:00");
    }

    #[test]
    fn web_mode_tunnel_up_is_a_portal_login() {
        let web = TUNNEL_DOWN
            .replace("action=\"tunnel-down\"", "action=\"tunnel-up\"")
            .replace("ssl-tunnel", "ssl-web");
        let e = decode(&web, &DecodeContext::default()).unwrap();
        assert_eq!((e.kind, e.outcome), (InteractiveLogin, Success));
        assert_eq!(e.vpn, None);
    }

    #[test]
    fn other_actions_and_logs_are_not_logins() {
        let ctx = DecodeContext::default();
        let new_con = TUNNEL_DOWN.replace("action=\"tunnel-down\"", "action=\"ssl-new-con\"");
        let traffic = TUNNEL_DOWN.replace("type=\"event\"", "type=\"traffic\"");
        for text in [new_con, traffic] {
            assert_eq!(
                decode(&text, &ctx).unwrap_err().reason,
                RejectReason::NotALogin
            );
        }
    }

    #[test]
    fn ipsec_dialup_user_comes_from_xauthuser() {
        let ipsec = TUNNEL_DOWN
            .replace("user=\"salesuser\"", "user=\"N/A\" xauthuser=\"carol\"")
            .replace("ssl-tunnel", "ipsec");
        assert_eq!(
            decode(&ipsec, &DecodeContext::default()).unwrap().user,
            "carol"
        );
    }

    #[test]
    fn bad_fields_are_rejected_with_their_reason() {
        let ctx = DecodeContext::default();
        let cases = [
            (
                TUNNEL_DOWN.replace("remip=81.2.69.142 ", ""),
                RejectReason::MissingIp,
            ),
            (
                TUNNEL_DOWN.replace("remip=81.2.69.142", "remip=vpn.example"),
                RejectReason::InvalidIp,
            ),
            (
                TUNNEL_DOWN.replace("1684632798404718137", "soon"),
                RejectReason::InvalidTime,
            ),
            (
                TUNNEL_DOWN
                    .replace("eventtime=1684632798404718137 ", "")
                    .replace("date=2023-05-21 ", ""),
                RejectReason::MissingTime,
            ),
            (
                "date=2023-05-21 logid=1 subtype".to_owned(),
                RejectReason::Malformed,
            ),
        ];
        for (text, reason) in cases {
            assert_eq!(decode(&text, &ctx).unwrap_err().reason, reason, "{text}");
        }
    }

    #[test]
    fn pairs_handle_quotes_and_header_text() {
        let kv = Pairs::parse(r#"Oct 14 fgt date=1 msg="a \"b\" c" k= last="unclosed"#);
        assert_eq!(kv.get("date"), Some("1"));
        assert_eq!(kv.get("msg"), Some(r#"a \"b\" c"#));
        assert_eq!(kv.get("k"), Some(""));
        assert_eq!(kv.get("last"), Some("unclosed"));
        assert_eq!(kv.get("Oct"), None);
    }

    #[test]
    fn sniff_claims_only_fortigate() {
        assert!(sample_lines(SAMPLE).iter().all(|l| sniff(l)));
        assert!(sniff(TUNNEL_DOWN));
        assert!(!sniff(
            "2024-12-15 14:11:26 1.2.3.4:5 [alice] Peer Connection Initiated"
        ));
        assert!(!sniff(
            "Oct 10 2018 12:34:56 h : %ASA-6-113039: Group g User u IP 1.2.3.4"
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = decode(&s, &DecodeContext::default());
        }

        #[test]
        fn never_panics_on_pair_shapes(s in r#"([a-z]{1,8}=("[^"]{0,10}"?|[0-9a-z.:\\-]{0,12}) ?){0,12}"#) {
            let _ = decode(&s, &DecodeContext::default());
        }

        #[test]
        fn damaged_sample_lines_never_panic(s in mutated(SAMPLE)) {
            let _ = decode(&s, &DecodeContext::default());
        }
    }
}
