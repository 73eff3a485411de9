//! Field parsing shared by every adapter: IP addresses, timestamps, user names.
//! Each returns a [`Rejection`] with the right reason so adapters stay short.

use std::net::{IpAddr, Ipv6Addr};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::{RejectReason, Rejection};

/// Values that sources write where they have no user.
const NO_USER: [&str; 6] = ["", "-", "n/a", "unknown", "null", "(null)"];

/// A user name from an optional field: trimmed, rejected when absent or a placeholder.
pub fn user(value: Option<&str>) -> Result<String, Rejection> {
    match value.map(str::trim) {
        Some(u) if !NO_USER.iter().any(|n| u.eq_ignore_ascii_case(n)) => Ok(u.to_owned()),
        Some(u) => Err(Rejection::new(
            RejectReason::MissingUser,
            format!("user is {u:?}"),
        )),
        None => Err(Rejection::new(RejectReason::MissingUser, "no user field")),
    }
}

/// An IP address from an optional field. Accepts `a.b.c.d`, `a.b.c.d:port`, `[v6]:port`,
/// and unwraps IPv4-mapped IPv6 (`::ffff:a.b.c.d`) so one client has one address.
pub fn ip(value: Option<&str>) -> Result<IpAddr, Rejection> {
    let raw = match value.map(str::trim) {
        None | Some("") => return Err(Rejection::new(RejectReason::MissingIp, "no client IP")),
        Some(v) => v,
    };
    parse_ip(raw).ok_or_else(|| {
        Rejection::new(
            RejectReason::InvalidIp,
            format!("not an IP address: {:?}", clip(raw)),
        )
    })
}

fn parse_ip(raw: &str) -> Option<IpAddr> {
    let addr = if let Ok(a) = raw.parse::<IpAddr>() {
        a
    } else if let Some(rest) = raw.strip_prefix('[') {
        rest.split_once(']')?
            .0
            .parse::<Ipv6Addr>()
            .ok()
            .map(IpAddr::V6)?
    } else if let Ok(sa) = raw.parse::<std::net::SocketAddr>() {
        sa.ip()
    } else {
        // `a.b.c.d:port` with a non-numeric or odd port.
        let (host, _) = raw.rsplit_once(':')?;
        host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)?
    };
    Some(canonical(addr))
}

/// IPv4-mapped IPv6 addresses are the IPv4 client they wrap.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

/// An address that places nobody: private, loopback, link-local, unspecified, broadcast or
/// multicast space, IPv4 or IPv6 (unique local `fc00::/7`, link-local `fe80::/10`). A login
/// from one came through something internal (an on-premises VPN pool, a proxy that hid the
/// client, a misconfigured collector): counted apart, since no database can say where.
pub fn is_unroutable(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || first & 0xfe00 == 0xfc00
                || first & 0xffc0 == 0xfe80
        }
    }
}

/// An RFC 3339 / ISO 8601 time with an offset (`2020-02-14T22:18:51.843Z`).
pub fn rfc3339(value: Option<&str>) -> Result<DateTime<Utc>, Rejection> {
    let raw = present_time(value)?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            // Some sources write no offset: read as UTC, which is what they mean. Panther's
            // normalised logs also write a space for the `T`.
            NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f"))
                .map(|n| n.and_utc())
        })
        .map_err(|_| invalid_time(raw))
}

/// A local time without offset, read in `tz` (syslog sources).
pub fn local(naive: NaiveDateTime, tz: Tz, raw: &str) -> Result<DateTime<Utc>, Rejection> {
    // An ambiguous local time (DST fall-back) takes the earlier instant; a skipped one
    // (spring-forward gap) cannot happen in a real clock and is rejected.
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| invalid_time(raw))
}

/// Seconds or milliseconds or microseconds or nanoseconds since the epoch, judged by size.
pub fn epoch(value: i64) -> Option<DateTime<Utc>> {
    let abs = value.unsigned_abs();
    let (secs, nanos) = if abs < 100_000_000_000 {
        (value, 0)
    } else if abs < 100_000_000_000_000 {
        (value.div_euclid(1_000), value.rem_euclid(1_000) * 1_000_000)
    } else if abs < 100_000_000_000_000_000 {
        (
            value.div_euclid(1_000_000),
            value.rem_euclid(1_000_000) * 1_000,
        )
    } else {
        (
            value.div_euclid(1_000_000_000),
            value.rem_euclid(1_000_000_000),
        )
    };
    DateTime::from_timestamp(secs, nanos as u32)
}

fn present_time(value: Option<&str>) -> Result<&str, Rejection> {
    match value.map(str::trim) {
        None | Some("") => Err(Rejection::new(RejectReason::MissingTime, "no event time")),
        Some(v) => Ok(v),
    }
}

/// The rejection for a time that is present but unreadable.
pub fn invalid_time(raw: &str) -> Rejection {
    Rejection::new(
        RejectReason::InvalidTime,
        format!("unparseable time {:?}", clip(raw)),
    )
}

/// The rejection for a JSON parse error.
pub fn invalid_json(err: &serde_json::Error) -> Rejection {
    Rejection::new(RejectReason::InvalidJson, err.to_string())
}

/// The rejection for a well-formed record that is not a login event.
pub fn not_a_login(what: impl std::fmt::Display) -> Rejection {
    Rejection::new(
        RejectReason::NotALogin,
        format!("{what} is not a login event"),
    )
}

/// At most 80 characters of a value, for error details (a huge field must not make a
/// huge dead-letter reason).
pub fn clip(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// An empty or placeholder string is no value.
pub fn non_empty(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty() && *s != "-" && *s != "null")
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_forms() {
        assert_eq!(ip(Some("1.2.3.4")).unwrap().to_string(), "1.2.3.4");
        assert_eq!(ip(Some("1.2.3.4:443")).unwrap().to_string(), "1.2.3.4");
        assert_eq!(
            ip(Some("[2001:db8::1]:443")).unwrap().to_string(),
            "2001:db8::1"
        );
        assert_eq!(
            ip(Some("::ffff:81.2.69.142")).unwrap().to_string(),
            "81.2.69.142"
        );
        assert_eq!(ip(Some("2001:db8::1")).unwrap().to_string(), "2001:db8::1");
        assert_eq!(ip(None).unwrap_err().reason, RejectReason::MissingIp);
        assert_eq!(ip(Some("  ")).unwrap_err().reason, RejectReason::MissingIp);
        assert_eq!(
            ip(Some("example.com")).unwrap_err().reason,
            RejectReason::InvalidIp
        );
        assert_eq!(
            ip(Some("999.1.1.1")).unwrap_err().reason,
            RejectReason::InvalidIp
        );
    }

    #[test]
    fn user_placeholders_are_missing() {
        assert_eq!(user(Some(" alice ")).unwrap(), "alice");
        for p in ["", "N/A", "-", "unknown", "null"] {
            assert_eq!(
                user(Some(p)).unwrap_err().reason,
                RejectReason::MissingUser,
                "{p}"
            );
        }
    }

    #[test]
    fn times() {
        let t = rfc3339(Some("2019-10-18T04:45:48.0729893-05:00")).unwrap();
        assert_eq!(t.to_rfc3339(), "2019-10-18T09:45:48.072989300+00:00");
        assert_eq!(
            rfc3339(Some("yesterday")).unwrap_err().reason,
            RejectReason::InvalidTime
        );
        assert_eq!(rfc3339(None).unwrap_err().reason, RejectReason::MissingTime);
        let panther = rfc3339(Some("2024-08-15 15:05:09.154000000")).unwrap();
        assert_eq!(panther.to_rfc3339(), "2024-08-15T15:05:09.154+00:00");
        assert_eq!(
            epoch(1_728_938_800_841_267_391).unwrap().timestamp(),
            1_728_938_800
        );
        assert_eq!(
            epoch(1_593_695_305_123_456).unwrap().timestamp(),
            1_593_695_305
        );
        assert_eq!(epoch(1_593_695_305_123).unwrap().timestamp(), 1_593_695_305);
        assert_eq!(epoch(1_593_695_305).unwrap().timestamp(), 1_593_695_305);
    }

    #[test]
    fn dst_gap_is_rejected_and_overlap_takes_earlier() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let gap =
            NaiveDateTime::parse_from_str("2024-03-10 02:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            local(gap, ny, "x").unwrap_err().reason,
            RejectReason::InvalidTime
        );
        let overlap =
            NaiveDateTime::parse_from_str("2024-11-03 01:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            local(overlap, ny, "x").unwrap().to_rfc3339(),
            "2024-11-03T05:30:00+00:00"
        );
    }
}
