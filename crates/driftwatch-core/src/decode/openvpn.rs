//! Adapter: OpenVPN server log lines, as written to its own log file (`2024-12-15
//! 14:11:26 ...` since 2.6, `Fri Sep 29 21:29:59 2017 ...` before) or through syslog
//! (`Dec 15 14:11:26 vpn ovpn-server[123]: ...`).
//!
//! After the header, a line about a client starts with the client: `1.2.3.4:5678`
//! before it has a name, `alice/1.2.3.4:5678` after, and (some builds) `1.2.3.4:5678/alice`.
//! The lines that count:
//!
//! | line | kind |
//! |---|---|
//! | `[alice] Peer Connection Initiated with [AF_INET]1.2.3.4:5678` | [`EventKind::VpnSessionStart`] (`[UNDEF]`: no user) |
//! | `... client-instance exiting` (`SIGTERM[soft,remote-exit] received, ...`) | [`EventKind::VpnSessionEnd`] |
//! | `TLS: Username/Password authentication succeeded for username 'alice'`, `Authentication succeeded` | [`EventKind::InteractiveLogin`] success |
//! | `TLS Auth Error: Auth Username/Password verification failed for peer`, `... AUTH_FAILED`, `authentication failed for username 'alice'`, `AUTH-PAM: ... user 'alice' failed to authenticate` | [`EventKind::InteractiveLogin`] failure |
//! | `TLS: Username/auth-token authentication succeeded/failed for username 'alice'` | token refresh ([`NonInteractive::TokenRefresh`]) |
//!
//! Everything else (banners, `TLS Error: ...`, `VERIFY ...`, `MULTI: ...`, restarts) is
//! [`RejectReason::NotALogin`]. A login line whose user is unknown is
//! [`RejectReason::MissingUser`], one with no client address [`RejectReason::MissingIp`].

use std::net::IpAddr;

use super::{
    DecodeContext, RejectReason, Rejection, cisco_asa, fields, fortinet, globalprotect, syslog,
};
use crate::event::{EventKind, Format, LoginEvent, NonInteractive, Outcome};

/// Phrases only OpenVPN writes; a line with one of them is OpenVPN's.
const MARKERS: [&str; 15] = [
    "openvpn",
    "OpenVPN",
    "ovpn-",
    "Peer Connection Initiated",
    "client-instance",
    "TLS Auth Error",
    "AUTH_FAILED",
    "AUTH-PAM",
    "TLS Error:",
    "TLS: ",
    "[AF_INET",
    "MULTI",
    "VERIFY ",
    "OpenSSL:",
    "Control Channel",
];

/// How many leading tokens may come before the client address (a syslog header with
/// host and tag, or a ctime timestamp, is five).
const CLIENT_TOKEN_WINDOW: usize = 8;

/// Does the record look like this format?
pub fn sniff(text: &str) -> bool {
    // OpenVPN is tried last; still, it must not claim a record another adapter owns.
    if text.starts_with('{')
        || globalprotect::sniff(text)
        || cisco_asa::sniff(text)
        || fortinet::sniff(text)
    {
        return false;
    }
    MARKERS.iter().any(|m| text.contains(m))
        || text
            .split_whitespace()
            .take(CLIENT_TOKEN_WINDOW)
            .any(|t| client(t).is_some())
}

/// Decode one record of this format.
pub fn decode(text: &str, ctx: &DecodeContext) -> Result<LoginEvent, Rejection> {
    let line = syslog::parse(text, ctx);
    let (who, body) = split_client(line.message);
    let event = classify(body).ok_or_else(|| fields::not_a_login(summary(body)))?;

    let user = match event.user {
        Some(UNDEF) => Err(Rejection::new(
            RejectReason::MissingUser,
            "client has no common name yet ([UNDEF])",
        )),
        Some(named) => fields::user(Some(named)),
        None => fields::user(who.and_then(|c| c.user)),
    }?;
    let ip = match who.map(|c| c.ip).or_else(|| peer_after_with(body)) {
        Some(ip) => ip,
        None => fields::ip(None)?,
    };
    let time = line.time()?;
    Ok(LoginEvent::new(
        Format::Openvpn,
        time,
        user,
        ip,
        event.kind,
        event.outcome,
    ))
}

/// The name OpenVPN gives a client whose certificate name is not known yet.
const UNDEF: &str = "UNDEF";

/// The client a line is about.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Client<'a> {
    user: Option<&'a str>,
    ip: IpAddr,
}

/// What a line says, before the shared checks.
struct Classified<'a> {
    kind: EventKind,
    outcome: Outcome,
    /// A user named in the line itself (`[alice]`, `'alice'`), over the client prefix.
    user: Option<&'a str>,
}

fn classify(body: &str) -> Option<Classified<'_>> {
    let found = |kind, outcome, user| {
        Some(Classified {
            kind,
            outcome,
            user,
        })
    };
    let token = if body.contains("auth-token") {
        Some(EventKind::NonInteractive(NonInteractive::TokenRefresh))
    } else {
        None
    };
    let login = token.unwrap_or(EventKind::InteractiveLogin);
    if body.contains("Peer Connection Initiated") {
        let named = body
            .strip_prefix('[')
            .and_then(|b| b.split_once(']'))
            .map(|(name, _)| name);
        return found(EventKind::VpnSessionStart, Outcome::Success, named);
    }
    if body.contains("client-instance exiting") {
        return found(EventKind::VpnSessionEnd, Outcome::Unknown, None);
    }
    let lower = body.to_ascii_lowercase();
    if lower.contains("authentication succeeded") {
        return found(login, Outcome::Success, quoted_after(body, "username '"));
    }
    if lower.contains("authentication failed for username") {
        return found(login, Outcome::Failure, quoted_after(body, "username '"));
    }
    if body.starts_with("TLS Auth Error:") {
        return found(EventKind::InteractiveLogin, Outcome::Failure, None);
    }
    if body.contains("AUTH_FAILED") {
        // The server side: `SENT CONTROL [alice]: 'AUTH_FAILED' (status=1)`.
        let named = body
            .split_once("SENT CONTROL [")
            .and_then(|(_, r)| r.split_once(']'))
            .map(|(name, _)| name);
        return found(EventKind::InteractiveLogin, Outcome::Failure, named);
    }
    if body.starts_with("AUTH-PAM:") && body.contains("failed to authenticate") {
        return found(
            EventKind::InteractiveLogin,
            Outcome::Failure,
            quoted_after(body, "user '"),
        );
    }
    None
}

/// The text between `opener` (ending in a quote) and the next `'`.
fn quoted_after<'a>(body: &'a str, opener: &str) -> Option<&'a str> {
    let (_, after) = body.split_once(opener)?;
    after.split_once('\'').map(|(v, _)| v)
}

/// Split off a leading client token (`ip:port`, `user/ip:port` or `ip:port/user`).
fn split_client(message: &str) -> (Option<Client<'_>>, &str) {
    let (first, rest) = message.split_once(' ').unwrap_or((message, ""));
    match client(first) {
        Some(c) => (Some(c), rest.trim_start()),
        None => (None, message),
    }
}

fn client(token: &str) -> Option<Client<'_>> {
    if let Some(ip) = peer_address(token) {
        return Some(Client { user: None, ip });
    }
    if let Some((user, addr)) = token.rsplit_once('/')
        && let Some(ip) = peer_address(addr)
    {
        return Some(Client {
            user: Some(user),
            ip,
        });
    }
    let (addr, user) = token.split_once('/')?;
    peer_address(addr).map(|ip| Client {
        user: Some(user),
        ip,
    })
}

/// A client's `address:port`. OpenVPN always writes the port, and writes IPv6 unbracketed
/// (`2001:db8::1:1194`), so the last `:` is the port separator; `[AF_INET]` may lead.
fn peer_address(token: &str) -> Option<IpAddr> {
    let token = token
        .strip_prefix("[AF_INET6]")
        .or_else(|| token.strip_prefix("[AF_INET]"))
        .unwrap_or(token);
    let (host, port) = token.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || host.is_empty() {
        return None;
    }
    fields::ip(Some(host)).ok()
}

/// The peer in `... with [AF_INET]1.2.3.4:5678`, for lines with no client prefix.
fn peer_after_with(body: &str) -> Option<IpAddr> {
    let (_, after) = body.split_once(" with ")?;
    peer_address(after.split_whitespace().next()?)
}

/// The start of a line, for the rejection detail.
fn summary(body: &str) -> &str {
    fields::clip(body.split_once(':').map_or(body, |(head, _)| head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::syslog::testkit::{Expect, check, check_sample, ev, mutated, sample_lines};
    use crate::event::EventKind::*;
    use crate::event::Outcome::*;

    const SERVER: &str = "crowdsec-hub/openvpn-server.log";
    const BRUTE_FORCE: &str = "crowdsec-hub/openvpn-bf.log";
    const NOT_A_LOGIN: Expect = Expect::Reject(RejectReason::NotALogin);
    const MISSING_USER: Expect = Expect::Reject(RejectReason::MissingUser);

    #[test]
    fn server_sample_table() {
        check_sample(
            SERVER,
            decode,
            &[
                (1, NOT_A_LOGIN),  // banner
                (2, NOT_A_LOGIN),  // control channel setup
                (3, NOT_A_LOGIN),  // TCP connection established
                (4, MISSING_USER), // [UNDEF] Peer Connection Initiated
                (5, NOT_A_LOGIN),  // TLS Error: tls-crypt unwrapping failed
                (6, NOT_A_LOGIN),
                (7, MISSING_USER),
                (8, NOT_A_LOGIN), // TLS Error: incoming packet authentication failed
                (9, NOT_A_LOGIN),
                (10, MISSING_USER),
                (11, NOT_A_LOGIN), // TLS handshake failed
                (12, NOT_A_LOGIN),
                (13, MISSING_USER),
                (14, NOT_A_LOGIN),  // VERIFY ERROR
                (15, NOT_A_LOGIN),  // OpenSSL: error
                (16, MISSING_USER), // TLS Auth Error with no user
                (17, NOT_A_LOGIN),
                (
                    18,
                    ev(
                        InteractiveLogin,
                        Failure,
                        "client1",
                        "192.168.1.13",
                        "2024-12-15T14:14:21Z",
                    ),
                ),
                (19, NOT_A_LOGIN),
                (20, MISSING_USER),
                (21, NOT_A_LOGIN),
                (22, NOT_A_LOGIN),
                (
                    23,
                    ev(
                        VpnSessionStart,
                        Success,
                        "client3",
                        "192.168.1.34",
                        "2024-12-15T14:15:51Z",
                    ),
                ),
                (
                    24,
                    ev(
                        InteractiveLogin,
                        Success,
                        "client3",
                        "192.168.1.34",
                        "2024-12-15T14:15:52Z",
                    ),
                ),
            ],
        );
    }

    #[test]
    fn brute_force_sample_table() {
        // tls-auth HMAC failures: noise before any user is known, not logins.
        check_sample(
            BRUTE_FORCE,
            decode,
            &[
                (1, NOT_A_LOGIN),
                (2, NOT_A_LOGIN),
                (3, NOT_A_LOGIN),
                (4, NOT_A_LOGIN),
            ],
        );
    }

    fn one(text: &str) -> Result<LoginEvent, Rejection> {
        decode(text, &DecodeContext::default())
    }

    #[test]
    fn named_peer_connection_starts_a_session() {
        check(
            "peer",
            &one(
                "2024-12-15 14:11:26 81.2.69.142:52234 [alice] Peer Connection Initiated with \
                 [AF_INET]81.2.69.142:52234",
            ),
            ev(
                VpnSessionStart,
                Success,
                "alice",
                "81.2.69.142",
                "2024-12-15T14:11:26Z",
            ),
        );
    }

    #[test]
    fn syslog_and_ctime_forms() {
        check(
            "syslog",
            &one(
                "Jul 31 23:54:23 localhost openvpn[1312]: 97.242.112.229:42897 TLS: \
                 Username/Password authentication succeeded for username 'admin' ",
            ),
            ev(
                InteractiveLogin,
                Success,
                "admin",
                "97.242.112.229",
                "2026-07-31T23:54:23Z",
            ),
        );
        check(
            "ovpn-server",
            &one(
                "<29>Dec 15 14:20:00 vpn1 ovpn-server[123]: alice/81.2.69.142:52234 \
                 SIGTERM[soft,remote-exit] received, client-instance exiting",
            ),
            ev(
                VpnSessionEnd,
                Unknown,
                "alice",
                "81.2.69.142",
                "2026-12-15T14:20:00Z",
            ),
        );
        check(
            "ctime",
            &one(
                "Fri Sep 29 21:29:59 2017 192.168.1.112:62493 TLS: Username/Password \
                 authentication succeeded for username 'jakobant'",
            ),
            ev(
                InteractiveLogin,
                Success,
                "jakobant",
                "192.168.1.112",
                "2017-09-29T21:29:59Z",
            ),
        );
    }

    #[test]
    fn auth_failures() {
        check(
            "verification failed with user prefix",
            &one(
                "2024-12-15 14:11:26 bob/81.2.69.142:5000 TLS Auth Error: Auth Username/Password \
                 verification failed for peer",
            ),
            ev(
                InteractiveLogin,
                Failure,
                "bob",
                "81.2.69.142",
                "2024-12-15T14:11:26Z",
            ),
        );
        assert_eq!(
            one(
                "2024-12-15 14:11:26 81.2.69.142:5000 TLS Auth Error: Auth Username/Password \
                 verification failed for peer"
            )
            .unwrap_err()
            .reason,
            RejectReason::MissingUser
        );
        check(
            "sent control",
            &one(
                "2024-12-15 14:11:27 81.2.69.142:5000 SENT CONTROL [carol]: 'AUTH_FAILED' (status=1)",
            ),
            ev(
                InteractiveLogin,
                Failure,
                "carol",
                "81.2.69.142",
                "2024-12-15T14:11:27Z",
            ),
        );
        // PAM knows the user but not the client address.
        assert_eq!(
            one(
                "Dec 15 14:11:26 vpn openvpn[9]: AUTH-PAM: BACKGROUND: user 'dave' failed to \
                 authenticate: Authentication failure"
            )
            .unwrap_err()
            .reason,
            RejectReason::MissingIp
        );
    }

    #[test]
    fn auth_token_renewal_is_not_interactive() {
        let e = one(
            "2024-12-15 15:11:26 alice/81.2.69.142:5000 TLS: Username/auth-token authentication \
             succeeded for username 'alice'",
        )
        .unwrap();
        assert_eq!(
            e.kind,
            EventKind::NonInteractive(crate::event::NonInteractive::TokenRefresh)
        );
        assert!(!e.kind.is_interactive());
    }

    #[test]
    fn ipv6_and_mapped_clients() {
        let v6 = one(
            "2024-12-15 14:11:26 alice/2001:db8::5:1194 SIGTERM[soft,remote-exit] received, \
             client-instance exiting",
        )
        .unwrap();
        assert_eq!(v6.ip, "2001:db8::5".parse::<IpAddr>().unwrap());
        let mapped = one(
            "2024-12-15 14:11:26 ::ffff:81.2.69.142:1194 [bob] Peer Connection Initiated with \
             [AF_INET6]::ffff:81.2.69.142:1194",
        )
        .unwrap();
        assert_eq!(mapped.ip.to_string(), "81.2.69.142");
    }

    #[test]
    fn missing_time_and_address() {
        assert_eq!(
            one(
                "alice/81.2.69.142:5000 SIGTERM[soft,remote-exit] received, client-instance exiting"
            )
            .unwrap_err()
            .reason,
            RejectReason::MissingTime
        );
        assert_eq!(
            one("2024-12-15 25:11:26 alice/81.2.69.142:5000 client-instance exiting")
                .unwrap_err()
                .reason,
            RejectReason::InvalidTime
        );
        // No prefix: the address after `with` is used.
        let e =
            one("2024-12-15 14:11:26 [erin] Peer Connection Initiated with [AF_INET]81.2.69.1:9")
                .unwrap();
        assert_eq!(e.ip.to_string(), "81.2.69.1");
    }

    #[test]
    fn sniff_claims_openvpn_and_nothing_else() {
        for rel in [SERVER, BRUTE_FORCE] {
            for l in sample_lines(rel) {
                assert!(sniff(&l), "{l}");
            }
        }
        for foreign in sample_lines("elastic-integrations/cisco-asa-anyconnect.log")
            .into_iter()
            .chain(sample_lines("elastic-integrations/panw-globalprotect.log"))
            .chain(sample_lines("crowdsec-hub/fortinet-sslvpn-login-fail.log"))
        {
            assert!(!sniff(&foreign), "{foreign}");
        }
        assert!(!sniff(r#"{"msg":"Peer Connection Initiated"}"#));
        assert!(!sniff(
            "Nov 30 16:09:08 host sshd[1]: Accepted password for root"
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = one(&s);
        }

        #[test]
        fn never_panics_on_client_shapes(s in "[a-z]{0,5}/?[0-9a-f:.]{0,20}(/[a-z]{0,5})? \\[?[A-Za-z_ ]{0,40}\\]?.{0,30}") {
            let _ = one(&s);
        }

        #[test]
        fn damaged_server_lines_never_panic(s in mutated(SERVER)) {
            let _ = one(&s);
        }

        #[test]
        fn damaged_brute_force_lines_never_panic(s in mutated(BRUTE_FORCE)) {
            let _ = one(&s);
        }
    }
}
