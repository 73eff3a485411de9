//! The syslog header and timestamp forms shared by the syslog-borne formats (PAN-OS
//! GlobalProtect, Cisco ASA, OpenVPN, FortiGate). This is the one place that knows them:
//!
//! | form | example | zone |
//! |---|---|---|
//! | RFC 3164 | `Nov 30 16:09:08`, `Nov  3 01:02:03` | year from [`DecodeContext::default_year`] |
//! | Cisco ASA | `Oct 10 2018 12:34:56` | local |
//! | RFC 5424 / RFC 3339 | `2021-10-22T16:10:05.000000Z`, `...+02:00`, `...+0200` | its offset, else local |
//! | ISO with a space | `2024-12-15 14:12:12` (OpenVPN 2.6, FortiGate) | its offset, else local |
//! | PAN-OS | `2021/03/24 11:30:00` | local |
//! | ctime | `Fri Sep 29 21:29:59 2017` (OpenVPN before 2.6) | local |
//!
//! "Local" means [`DecodeContext::default_tz`], read through [`fields::local`] so a DST
//! gap is rejected and a DST overlap takes the earlier instant.
//!
//! The header is `[<PRI>][1 ]TIMESTAMP [HOST] [PROGRAM[PID]:] MESSAGE`; every part may be
//! missing, because relays add, drop and rewrite them.

use chrono::format::{ParseErrorKind, Parsed, StrftimeItems, parse_and_remainder};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

use super::fields::{self, invalid_time};
use super::{DecodeContext, RejectReason, Rejection};

/// How a timestamp was written; decides whether a syslog host and program follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `Nov 30 16:09:08`: RFC 3164, no year.
    Rfc3164,
    /// `Oct 10 2018 12:34:56`: RFC 3164 with the year, as Cisco ASA writes it.
    Rfc3164Year,
    /// `2021-10-22T16:10:05Z`: RFC 3339, as RFC 5424 headers and rsyslog write it.
    Rfc3339,
    /// `2024-12-15 14:12:12` or `2021/03/24 11:30:00`: an application's own log time.
    Spaced,
    /// `Fri Sep 29 21:29:59 2017`: C `ctime`, OpenVPN's log time before 2.6.
    Ctime,
}

impl Form {
    /// Syslog daemons write these, so a host and a program tag may follow; the other
    /// forms are an application's own log file, where the message follows directly.
    fn is_syslog(self) -> bool {
        matches!(self, Form::Rfc3164 | Form::Rfc3164Year | Form::Rfc3339)
    }
}

/// The timestamp layouts tried in order, each with its form. Year-bearing layouts come
/// before the year-less one so `Oct 10 2018 12:34:56` is not misread.
const LAYOUTS: [(&str, Form); 6] = [
    ("%Y-%m-%dT%H:%M:%S%.f", Form::Rfc3339),
    ("%Y-%m-%d %H:%M:%S%.f", Form::Spaced),
    ("%Y/%m/%d %H:%M:%S%.f", Form::Spaced),
    ("%b %d %Y %H:%M:%S%.f", Form::Rfc3164Year),
    ("%b %d %H:%M:%S%.f", Form::Rfc3164),
    ("%a %b %d %H:%M:%S %Y", Form::Ctime),
];

/// A timestamp found at the start of a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Leading<'a> {
    /// The instant, or why the timestamp-shaped text is not one (`Feb 30`, a DST gap).
    pub time: Result<DateTime<Utc>, Rejection>,
    pub form: Form,
    /// The text after the timestamp, not trimmed.
    pub rest: &'a str,
}

/// The timestamp at the start of `text`, if it starts with one of the known forms.
/// `None` means no timestamp is there; a present but impossible one is `Some` with an
/// [`RejectReason::InvalidTime`] so adapters can tell the two apart.
pub fn leading_time<'a>(text: &'a str, ctx: &DecodeContext) -> Option<Leading<'a>> {
    // chrono skips leading blanks and signs; a timestamp here must start the text.
    if !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    LAYOUTS.iter().find_map(|&(layout, form)| {
        let mut parsed = Parsed::new();
        let (time, rest) = match parse_and_remainder(&mut parsed, text, StrftimeItems::new(layout))
        {
            Ok(rest) => {
                let (offset, rest) = offset_suffix(rest);
                if !ends_token(rest) {
                    return None;
                }
                let raw = &text[..text.len() - rest.len()];
                (resolve(&mut parsed, form, offset, raw, ctx), rest)
            }
            // The shape matched but a value is out of range (hour 25): a bad time, not
            // another form.
            Err(e) if e.kind() == ParseErrorKind::OutOfRange => (
                Err(invalid_time(text)),
                skip_tokens(text, layout.split(' ').count()),
            ),
            Err(_) => return None,
        };
        Some(Leading { time, form, rest })
    })
}

/// The text after `n` blank-separated tokens: where an unreadable timestamp of a layout
/// with `n` parts would have ended.
fn skip_tokens(text: &str, n: usize) -> &str {
    let mut rest = text;
    for _ in 0..n {
        rest = rest.trim_start();
        rest = &rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..];
    }
    rest
}

/// A whole field that is a timestamp in one of the known forms (PAN-OS CSV times, a
/// FortiGate `date` and `time` joined with a space). Empty is [`RejectReason::MissingTime`].
pub fn time(raw: &str, ctx: &DecodeContext) -> Result<DateTime<Utc>, Rejection> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Rejection::new(RejectReason::MissingTime, "no event time"));
    }
    match leading_time(raw, ctx) {
        Some(lead) if lead.rest.trim().is_empty() => lead.time,
        _ => Err(invalid_time(raw)),
    }
}

/// Turn parsed fields into an instant: the offset when the text had one, else the
/// context's zone; the context's year when the form has none.
fn resolve(
    parsed: &mut Parsed,
    form: Form,
    offset: Option<FixedOffset>,
    raw: &str,
    ctx: &DecodeContext,
) -> Result<DateTime<Utc>, Rejection> {
    if form == Form::Rfc3164 {
        let mut year = parsed.clone();
        year.set_year(i64::from(ctx.default_year))
            .map_err(|_| invalid_time(raw))?;
        let time = instant(&year, offset, raw, ctx);
        // The clock's year, and the time would be in the future: the latest past
        // occurrence is last year's (a `Dec 31` line read on 2 January).
        let future = |t: &DateTime<Utc>| ctx.now.is_some_and(|now| *t > now + ctx.max_future);
        if !ctx.year_pinned && time.as_ref().is_ok_and(future) {
            parsed
                .set_year(i64::from(ctx.default_year) - 1)
                .map_err(|_| invalid_time(raw))?;
            return instant(parsed, offset, raw, ctx);
        }
        return time;
    }
    instant(parsed, offset, raw, ctx)
}

/// The instant of complete parsed fields: the offset when the text had one, else the
/// context's zone.
fn instant(
    parsed: &Parsed,
    offset: Option<FixedOffset>,
    raw: &str,
    ctx: &DecodeContext,
) -> Result<DateTime<Utc>, Rejection> {
    let naive: NaiveDateTime = parsed
        .to_naive_datetime_with_offset(0)
        .map_err(|_| invalid_time(raw))?;
    match offset {
        Some(off) => off
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| invalid_time(raw)),
        None => fields::local(naive, ctx.default_tz, raw),
    }
}

/// An offset written right after the time: `Z`, `+02:00`, `+0200` or `+02`.
fn offset_suffix(rest: &str) -> (Option<FixedOffset>, &str) {
    if let Some(after) = rest.strip_prefix(['Z', 'z']) {
        return (FixedOffset::east_opt(0), after);
    }
    let sign = match rest.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return (None, rest),
    };
    let digits = |s: &str, n: usize| -> Option<i32> {
        let d = s.get(..n)?;
        if d.bytes().all(|b| b.is_ascii_digit()) {
            d.parse().ok()
        } else {
            None
        }
    };
    let body = &rest[1..];
    let Some(hours) = digits(body, 2) else {
        return (None, rest);
    };
    let after_hours = &body[2..];
    let (minutes, after) = if let Some(m) = after_hours
        .strip_prefix(':')
        .and_then(|s| digits(s, 2).map(|m| (m, &s[2..])))
    {
        m
    } else if let Some(m) = digits(after_hours, 2) {
        (m, &after_hours[2..])
    } else {
        (0, after_hours)
    };
    match FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)) {
        Some(off) => (Some(off), after),
        None => (None, rest),
    }
}

/// A timestamp ends at the end of the text, a blank, a CSV comma or a colon (`...:56: %ASA`).
fn ends_token(rest: &str) -> bool {
    rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace() || c == ',' || c == ':')
}

/// A syslog line taken apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Syslog<'a> {
    /// The header timestamp: `None` when the line has none.
    pub time: Option<Result<DateTime<Utc>, Rejection>>,
    /// How the timestamp was written, when there is one.
    pub form: Option<Form>,
    pub host: Option<&'a str>,
    /// The program tag without its pid (`ovpn-server` of `ovpn-server[123]:`).
    pub program: Option<&'a str>,
    /// Everything after the header.
    pub message: &'a str,
}

impl Syslog<'_> {
    /// The header time, or [`RejectReason::MissingTime`] when the line has none.
    pub fn time(&self) -> Result<DateTime<Utc>, Rejection> {
        self.time.clone().unwrap_or_else(|| {
            Err(Rejection::new(
                RejectReason::MissingTime,
                "no syslog timestamp",
            ))
        })
    }
}

/// Split a line into its syslog header and message. Never fails: a line with no header
/// is all message.
pub fn parse<'a>(text: &'a str, ctx: &DecodeContext) -> Syslog<'a> {
    let text = strip_pri(text.trim_start());
    // RFC 5424 puts a version digit between PRI and timestamp.
    let (rfc5424, text) = match text.strip_prefix("1 ") {
        Some(after) if leading_time(after, ctx).is_some() => (true, after),
        _ => (false, text),
    };
    let Some(lead) = leading_time(text, ctx) else {
        return Syslog {
            time: None,
            form: None,
            host: None,
            program: None,
            message: text,
        };
    };
    // `Nov 02 2010 14:24:38: %ASA-...` ends its timestamp with a colon; an IPv6 client
    // (`::ffff:1.2.3.4:1194`) starting the message must keep its own.
    let rest = lead
        .rest
        .strip_prefix(':')
        .filter(|r| r.is_empty() || r.starts_with(' '))
        .unwrap_or(lead.rest)
        .trim_start();
    let (host, program, message) = if rfc5424 {
        rfc5424_fields(rest)
    } else if lead.form.is_syslog() {
        host_and_tag(rest)
    } else {
        (None, None, rest)
    };
    Syslog {
        time: Some(lead.time),
        form: Some(lead.form),
        host,
        program,
        message,
    }
}

/// The text after a leading `<PRI>`, or the text itself.
pub fn strip_pri(text: &str) -> &str {
    text.strip_prefix('<')
        .and_then(|s| s.split_once('>'))
        .filter(|(pri, _)| (1..=3).contains(&pri.len()) && pri.bytes().all(|b| b.is_ascii_digit()))
        .map_or(text, |(_, rest)| rest)
}

type HeaderParts<'a> = (Option<&'a str>, Option<&'a str>, &'a str);

/// `HOST PROGRAM[PID]: msg`, `PROGRAM[PID]: msg` or just `msg` (RFC 3164).
fn host_and_tag(rest: &str) -> HeaderParts<'_> {
    let (first, after_first) = split_token(rest);
    if let Some(program) = tag(first) {
        return (None, Some(program), after_first);
    }
    let (second, after_second) = split_token(after_first);
    match tag(second) {
        Some(program) if !first.is_empty() => (Some(first), Some(program), after_second),
        _ => (None, None, rest),
    }
}

/// `HOST APP PROCID MSGID SD MSG` (RFC 5424), `-` meaning absent.
fn rfc5424_fields(rest: &str) -> HeaderParts<'_> {
    let present = |t: &'_ str| (t != "-" && !t.is_empty()).then_some(());
    let (host, rest) = split_token(rest);
    let (app, rest) = split_token(rest);
    let (_procid, rest) = split_token(rest);
    let (_msgid, rest) = split_token(rest);
    // Structured data is `-` or one or more `[...]` blocks; values may hold blanks.
    let message = if let Some(after) = rest.strip_prefix('-') {
        after.trim_start()
    } else if rest.starts_with('[') {
        rest.rfind("] ").map_or("", |i| rest[i + 2..].trim_start())
    } else {
        rest
    };
    (
        present(host).map(|()| host),
        present(app).map(|()| app),
        message,
    )
}

/// The first blank-separated token and the text after it (trimmed at the start).
fn split_token(text: &str) -> (&str, &str) {
    match text.split_once(' ') {
        Some((token, rest)) => (token, rest.trim_start()),
        None => (text, ""),
    }
}

/// The program name of a tag token `name:` or `name[pid]:`.
fn tag(token: &str) -> Option<&str> {
    let body = token.strip_suffix(':')?;
    let name = match body.split_once('[') {
        Some((name, pid)) => {
            let pid = pid.strip_suffix(']')?;
            if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            name
        }
        None => body,
    };
    let name_ok = !name.is_empty()
        && name.len() <= 48
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
    name_ok.then_some(name)
}

/// Test support shared by the syslog-borne adapters: table-driven sample checks and
/// never-panic property tests over mutated sample lines.
#[cfg(test)]
pub(crate) mod testkit {
    use std::net::IpAddr;

    use chrono::SecondsFormat;
    use proptest::prelude::*;

    use crate::decode::{DecodeContext, RejectReason, Rejection};
    use crate::event::{EventKind, LoginEvent, Outcome};

    /// What one line must decode to.
    #[derive(Debug, Clone, Copy)]
    pub enum Expect {
        Event {
            kind: EventKind,
            outcome: Outcome,
            user: &'static str,
            ip: &'static str,
            /// RFC 3339 in UTC with `Z`, sub-seconds only when present.
            time: &'static str,
        },
        Reject(RejectReason),
    }

    /// Shorthand for [`Expect::Event`].
    pub const fn ev(
        kind: EventKind,
        outcome: Outcome,
        user: &'static str,
        ip: &'static str,
        time: &'static str,
    ) -> Expect {
        Expect::Event {
            kind,
            outcome,
            user,
            ip,
            time,
        }
    }

    pub type Decoder = fn(&str, &DecodeContext) -> Result<LoginEvent, Rejection>;

    /// The lines of a sample file under `../shared/samples/`.
    pub fn sample_lines(rel: &str) -> Vec<String> {
        let path = format!(
            "{}/../../../shared/samples/{rel}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        text.lines().map(str::to_owned).collect()
    }

    /// Assert one decoded result against its expectation.
    pub fn check(label: &str, got: &Result<LoginEvent, Rejection>, want: Expect) {
        match (got, want) {
            (
                Ok(e),
                Expect::Event {
                    kind,
                    outcome,
                    user,
                    ip,
                    time,
                },
            ) => {
                assert_eq!(e.kind, kind, "{label}: kind");
                assert_eq!(e.outcome, outcome, "{label}: outcome");
                assert_eq!(e.user, user, "{label}: user");
                assert_eq!(e.ip, ip.parse::<IpAddr>().unwrap(), "{label}: ip");
                assert_eq!(
                    e.time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    time,
                    "{label}: time"
                );
            }
            (Err(r), Expect::Reject(reason)) => assert_eq!(r.reason, reason, "{label}: {r}"),
            (got, want) => panic!("{label}: got {got:?}, want {want:?}"),
        }
    }

    /// Every line of a sample file, by 1-based line number, against a table that must
    /// cover each line exactly once.
    pub fn check_sample(rel: &str, decode: Decoder, table: &[(usize, Expect)]) {
        let lines = sample_lines(rel);
        let numbers: Vec<usize> = table.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            numbers,
            (1..=lines.len()).collect::<Vec<_>>(),
            "{rel}: the table must list every line once, in order"
        );
        let ctx = DecodeContext::default();
        for (n, want) in table {
            let line = &lines[n - 1];
            check(&format!("{rel}:{n}"), &decode(line, &ctx), *want);
        }
    }

    /// A strategy of sample lines damaged the way transport damages them: cut short at
    /// any byte, one byte replaced, or both.
    pub fn mutated(rel: &str) -> impl Strategy<Value = String> {
        let lines = sample_lines(rel);
        (
            0..lines.len(),
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            any::<u8>(),
        )
            .prop_map(move |(i, cut, flip, byte)| {
                let mut bytes = lines[i].clone().into_bytes();
                if !bytes.is_empty() {
                    let at = flip.index(bytes.len());
                    bytes[at] = byte;
                    bytes.truncate(cut.index(bytes.len() + 1).max(1));
                }
                String::from_utf8_lossy(&bytes).into_owned()
            })
    }
}

#[cfg(test)]
mod tests {
    use chrono::SecondsFormat;
    use chrono_tz::Tz;

    use super::*;

    fn ctx(tz: &str) -> DecodeContext {
        DecodeContext {
            default_tz: tz.parse::<Tz>().unwrap(),
            default_year: 2024,
            ..DecodeContext::default()
        }
    }

    fn at(raw: &str, ctx: &DecodeContext) -> String {
        time(raw, ctx)
            .unwrap()
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    /// A year-less time takes the clock's year unless that puts it in the future: then it
    /// is last year's (the latest past occurrence). A pinned year is taken as it is.
    #[test]
    fn a_year_less_time_is_its_latest_past_occurrence() {
        let now = "2026-12-02T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let clock = DecodeContext {
            default_year: 2026,
            year_pinned: false,
            now: Some(now),
            ..ctx("UTC")
        };
        assert_eq!(at("Nov 30 16:09:08", &clock), "2026-11-30T16:09:08Z");
        assert_eq!(
            at("Dec 02 10:30:00", &clock),
            "2026-12-02T10:30:00Z",
            "within the skew"
        );
        assert_eq!(at("Dec 31 23:00:00", &clock), "2025-12-31T23:00:00Z");
        let pinned = DecodeContext {
            year_pinned: true,
            ..clock
        };
        assert_eq!(at("Dec 31 23:00:00", &pinned), "2026-12-31T23:00:00Z");
        // A service started in 2026 and still running in January reads January's lines as
        // 2027's, and its future limit moves with the clock.
        let january = "2027-01-03T08:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let later = clock.at(january);
        assert_eq!(later.now, Some(january));
        assert_eq!(at("Jan 03 07:00:00", &later), "2027-01-03T07:00:00Z");
        assert_eq!(at("Dec 31 23:00:00", &later), "2026-12-31T23:00:00Z");
        assert_eq!(pinned.at(january).default_year, 2026);
    }

    #[test]
    fn every_form_reads_to_the_same_instant() {
        let utc = ctx("UTC");
        for raw in [
            "Nov 30 16:09:08",
            "Nov 30 2024 16:09:08",
            "2024-11-30T16:09:08Z",
            "2024-11-30T17:09:08+01:00",
            "2024-11-30T17:09:08+0100",
            "2024-11-30T11:09:08-05",
            "2024-11-30 16:09:08",
            "2024/11/30 16:09:08",
            "Sat Nov 30 16:09:08 2024",
        ] {
            assert_eq!(at(raw, &utc), "2024-11-30T16:09:08Z", "{raw}");
        }
        assert_eq!(
            at("2021-10-22T16:10:05.000250Z", &utc),
            "2021-10-22T16:10:05.000250Z"
        );
    }

    #[test]
    fn no_year_takes_the_context_year_and_no_offset_the_context_zone() {
        let berlin = ctx("Europe/Berlin");
        assert_eq!(at("Jul  1 12:00:00", &berlin), "2024-07-01T10:00:00Z");
        assert_eq!(at("Jan 1 12:00:00", &berlin), "2024-01-01T11:00:00Z");
        // An explicit offset wins over the context zone.
        assert_eq!(at("2024-07-01T12:00:00Z", &berlin), "2024-07-01T12:00:00Z");
    }

    #[test]
    fn odd_spacing_is_accepted() {
        let utc = ctx("UTC");
        assert_eq!(at("Nov  3 01:02:03", &utc), "2024-11-03T01:02:03Z");
        assert_eq!(at("Nov 3 01:02:03", &utc), "2024-11-03T01:02:03Z");
        assert_eq!(at("Sun Nov  3 01:02:03 2024", &utc), "2024-11-03T01:02:03Z");
    }

    #[test]
    fn dst_gap_is_invalid_and_overlap_takes_the_earlier_instant() {
        let ny = ctx("America/New_York");
        let gap = time("Mar 10 02:30:00", &ny).unwrap_err();
        assert_eq!(gap.reason, RejectReason::InvalidTime);
        assert_eq!(at("Nov  3 01:30:00", &ny), "2024-11-03T05:30:00Z");
    }

    #[test]
    fn impossible_and_absent_times_are_told_apart() {
        let utc = ctx("UTC");
        for bad in [
            "Feb 30 2024 12:00:00",
            "Nov 30 25:00:00",
            "2024-13-01 00:00:00",
            "yesterday",
            "2024-11-30 16:09:08 trailing",
            "Fri Nov 30 16:09:08 2024", // 2024-11-30 was a Saturday
        ] {
            assert_eq!(
                time(bad, &utc).unwrap_err().reason,
                RejectReason::InvalidTime,
                "{bad}"
            );
        }
        assert_eq!(
            time("  ", &utc).unwrap_err().reason,
            RejectReason::MissingTime
        );
        // Feb 29 exists only in leap years: the context year decides.
        let y2023 = DecodeContext {
            default_year: 2023,
            ..ctx("UTC")
        };
        assert_eq!(
            time("Feb 29 00:00:00", &y2023).unwrap_err().reason,
            RejectReason::InvalidTime
        );
        assert_eq!(at("Feb 29 00:00:00", &utc), "2024-02-29T00:00:00Z");
    }

    #[test]
    fn rfc3164_header_with_host_and_program() {
        let c = ctx("UTC");
        let s = parse(
            "<30>Jul 31 23:54:23 localhost openvpn[1312]: 1.2.3.4:42897 TLS: ok",
            &c,
        );
        assert_eq!(s.host, Some("localhost"));
        assert_eq!(s.program, Some("openvpn"));
        assert_eq!(s.message, "1.2.3.4:42897 TLS: ok");
        assert_eq!(s.form, Some(Form::Rfc3164));
        assert_eq!(
            s.time().unwrap().to_rfc3339_opts(SecondsFormat::Secs, true),
            "2024-07-31T23:54:23Z"
        );

        let no_host = parse("Dec 15 14:11:26 ovpn-server[77]: hello", &c);
        assert_eq!((no_host.host, no_host.program), (None, Some("ovpn-server")));
        assert_eq!(no_host.message, "hello");
    }

    #[test]
    fn rfc5424_header() {
        let c = ctx("UTC");
        let s = parse(
            "<14>1 2024-12-15T14:11:26.5+01:00 vpn1 openvpn 123 - - alice/1.2.3.4:5 x",
            &c,
        );
        assert_eq!((s.host, s.program), (Some("vpn1"), Some("openvpn")));
        assert_eq!(s.message, "alice/1.2.3.4:5 x");
        assert_eq!(
            s.time()
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
            "2024-12-15T13:11:26.500Z"
        );
        let sd = parse(
            r#"<14>1 2024-12-15T14:11:26Z h app - ID [x a="b c"] msg here"#,
            &c,
        );
        assert_eq!(sd.message, "msg here");
    }

    #[test]
    fn application_log_times_have_no_host_or_tag() {
        let c = ctx("UTC");
        let s = parse("2024-12-15 14:11:26 client1/1.2.3.4:5 AUTH: x", &c);
        assert_eq!((s.host, s.program), (None, None));
        assert_eq!(s.message, "client1/1.2.3.4:5 AUTH: x");
    }

    #[test]
    fn a_line_without_header_is_all_message() {
        let c = ctx("UTC");
        let s = parse("<166>%ASA-6-113039: x", &c);
        assert_eq!(s.message, "%ASA-6-113039: x");
        assert_eq!(s.time().unwrap_err().reason, RejectReason::MissingTime);
        assert_eq!(strip_pri("<1234>x"), "<1234>x");
    }

    #[test]
    fn asa_double_colon_header() {
        let c = ctx("UTC");
        let lead = leading_time("Nov 02 2010 14:24:38: %ASA-3-313001: x", &c).unwrap();
        assert_eq!(lead.form, Form::Rfc3164Year);
        assert_eq!(lead.rest, ": %ASA-3-313001: x");
    }

    #[test]
    fn an_out_of_range_time_still_ends_where_its_layout_does() {
        let lead = leading_time("Nov 30 2024 25:00:00 host x", &ctx("UTC")).unwrap();
        assert_eq!(lead.rest, " host x");
        assert_eq!(lead.time.unwrap_err().reason, RejectReason::InvalidTime);
    }

    #[test]
    fn message_starting_with_ipv6_keeps_its_colons() {
        let s = parse("2024-12-15 14:11:26 ::ffff:1.2.3.4:1194 x", &ctx("UTC"));
        assert_eq!(s.message, "::ffff:1.2.3.4:1194 x");
    }

    use proptest::prop_assert;

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let c = ctx("America/New_York");
            let _ = time(&s, &c);
            let _ = parse(&s, &c);
        }

        /// Issue 17, item 1: whatever the clock and the line's month, day and time, a
        /// year-less time is never later than the clock by more than the skew, and never
        /// a year or more before it.
        #[test]
        fn a_year_less_time_is_never_in_the_future(
            now_secs in 1_600_000_000i64..2_100_000_000,
            month in 0usize..12,
            day in 1u32..29,
            hms in (0u32..24, 0u32..60, 0u32..60),
        ) {
            let now = DateTime::from_timestamp(now_secs, 0).unwrap();
            let clock = DecodeContext { year_pinned: false, ..ctx("Asia/Tokyo") }.at(now);
            const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
            let line = format!("{} {day:02} {:02}:{:02}:{:02}", MONTHS[month], hms.0, hms.1, hms.2);
            let t = time(&line, &clock).unwrap();
            prop_assert!(t <= now + clock.max_future, "{line} at {now}: {t}");
            prop_assert!(t > now - chrono::Duration::days(366), "{line} at {now}: {t}");
        }

        #[test]
        fn never_panics_near_timestamps(s in "(<[0-9]{1,4}>)?(1 )?[A-Za-z0-9 :+/TZ.-]{0,40}") {
            let c = ctx("Europe/Berlin");
            let _ = time(&s, &c);
            let _ = parse(&s, &c);
        }
    }
}
