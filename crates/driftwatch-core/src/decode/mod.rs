//! Decode: one adapter per input format, each turning one raw record into a [`LoginEvent`]
//! or a [`Rejection`] with a reason from a closed set.
//!
//! Every adapter is a pure function `decode(text, ctx) -> Result<LoginEvent, Rejection>`
//! plus a cheap `sniff(text) -> bool` used by `format = "auto"`. Sniffing looks at bytes,
//! not a parsed tree, so auto-detection costs almost nothing on top of the typed parse.
//! Shared pieces (IP and time parsing, user checks, the syslog header) live in
//! [`fields`] and [`syslog`] so adapters do not repeat them.

pub mod cisco_asa;
pub mod ecs;
pub mod entra;
pub mod fields;
pub mod fortinet;
pub mod globalprotect;
pub mod google_workspace;
pub mod json;
pub mod ocsf;
pub mod okta;
pub mod openvpn;
pub mod syslog;

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::event::{Format, LoginEvent};

/// Why a record was not turned into a [`LoginEvent`]. A closed set: metrics and the
/// dead-letter output are keyed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The record is longer than `decode.max_record_bytes`.
    Oversized,
    /// The record is not valid UTF-8.
    InvalidEncoding,
    /// A JSON format was expected and the record is not valid JSON (or not an object).
    InvalidJson,
    /// The record is not in the shape its format requires (missing header, bad CSV, ...).
    Malformed,
    /// `format = "auto"` recognised none of the formats.
    UnknownFormat,
    /// The record carries no user / account name.
    MissingUser,
    /// The record carries no client IP address.
    MissingIp,
    /// The client IP field is present but is not an IP address.
    InvalidIp,
    /// The record carries no event time.
    MissingTime,
    /// The event time is present but cannot be parsed.
    InvalidTime,
    /// A well-formed record of the format that is not a login-related event (an Okta
    /// `user.account.update_profile`, an ASA ACL warning, an OpenVPN TLS error). This is
    /// filtering, not bad input: counted, but dead-lettered only when configured.
    NotALogin,
    /// The event time is later than the clock by more than `decode.max_future_minutes`: a
    /// skewed appliance or a crafted record. Applied, it would move every window of the
    /// employee's detectors past their real logins and switch detection off.
    FutureTime,
}

impl RejectReason {
    /// Every reason, for pre-registering metrics and printing summaries.
    pub const ALL: [RejectReason; 12] = [
        RejectReason::Oversized,
        RejectReason::InvalidEncoding,
        RejectReason::InvalidJson,
        RejectReason::Malformed,
        RejectReason::UnknownFormat,
        RejectReason::MissingUser,
        RejectReason::MissingIp,
        RejectReason::InvalidIp,
        RejectReason::MissingTime,
        RejectReason::InvalidTime,
        RejectReason::NotALogin,
        RejectReason::FutureTime,
    ];

    /// The stable name used in metrics, summaries and dead-letter records.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Oversized => "oversized",
            RejectReason::InvalidEncoding => "invalid_encoding",
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::Malformed => "malformed",
            RejectReason::UnknownFormat => "unknown_format",
            RejectReason::MissingUser => "missing_user",
            RejectReason::MissingIp => "missing_ip",
            RejectReason::InvalidIp => "invalid_ip",
            RejectReason::MissingTime => "missing_time",
            RejectReason::InvalidTime => "invalid_time",
            RejectReason::NotALogin => "not_a_login",
            RejectReason::FutureTime => "future_time",
        }
    }

    /// Bad input (as opposed to a valid record we filter out).
    pub fn is_bad_input(self) -> bool {
        self != RejectReason::NotALogin
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record that did not decode: the reason from the closed set, and a human detail
/// (which field, what value) for the dead-letter output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejection {
    pub reason: RejectReason,
    /// The format the record was judged as, when known.
    pub format: Option<Format>,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            format: None,
            detail: detail.into(),
        }
    }

    /// The rejection for a record of `len` bytes over the `max` limit.
    pub fn oversized(len: usize, max: usize) -> Self {
        Rejection::new(RejectReason::Oversized, format!("{len} bytes, limit {max}"))
    }

    /// The same rejection, attributed to a format.
    pub fn in_format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }
}

/// What the format of an input is: one fixed format or detection per record.
/// Read from its name (`"auto"`, `"okta"`, ...) on the command line and in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatChoice {
    #[default]
    Auto,
    Fixed(Format),
}

impl FormatChoice {
    /// Its name as configured (`auto`, or the format's).
    pub fn as_str(self) -> &'static str {
        match self {
            FormatChoice::Auto => "auto",
            FormatChoice::Fixed(f) => f.as_str(),
        }
    }
}

impl std::str::FromStr for FormatChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(FormatChoice::Auto);
        }
        Format::ALL
            .iter()
            .find(|f| f.as_str() == s)
            .map(|f| FormatChoice::Fixed(*f))
            .ok_or_else(|| {
                let names: Vec<_> = Format::ALL.iter().map(|f| f.as_str()).collect();
                format!(
                    "unknown format {s:?}; expected auto or one of {}",
                    names.join(", ")
                )
            })
    }
}

impl<'de> Deserialize<'de> for FormatChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<FormatChoice>().map_err(serde::de::Error::custom)
    }
}

/// Settings the adapters need that the record itself may not carry.
#[derive(Debug, Clone)]
pub struct DecodeContext {
    /// Records longer than this are rejected as [`RejectReason::Oversized`].
    pub max_record_bytes: usize,
    /// Time zone of syslog timestamps that carry no offset (PAN-OS, ASA, OpenVPN).
    pub default_tz: Tz,
    /// Year for syslog timestamps that carry none (RFC 3164 `Nov 30 16:09:08`).
    pub default_year: i32,
    /// `default_year` was configured: year-less times take it as it is. Otherwise it is the
    /// clock's year, and a year-less time that would be in the future is the latest past
    /// occurrence (`Dec 31` read on 2 December is last year's).
    pub year_pinned: bool,
    /// The clock, as the driver read it: a record later than `now + max_future` is
    /// rejected as [`RejectReason::FutureTime`]. `None`: no check (fixed-input tests).
    pub now: Option<DateTime<Utc>>,
    pub max_future: chrono::Duration,
}

/// Fixed values, for tests and benchmarks: the core never reads the clock, so drivers build
/// the context from `[decode]` and the clock's year (`DecodeConfig::context`); this default
/// pins the year instead, so a test of a year-less syslog line gives the same answer in any
/// year.
impl Default for DecodeContext {
    fn default() -> Self {
        DecodeContext {
            max_record_bytes: 64 * 1024,
            default_tz: Tz::UTC,
            default_year: 2026,
            year_pinned: true,
            now: None,
            max_future: chrono::Duration::hours(1),
        }
    }
}

impl DecodeContext {
    /// The context as of `now`, for a driver that runs for long (the service re-reads the
    /// clock every batch): the limit of `future_time`, and the year of year-less times
    /// unless one was configured.
    pub fn at(&self, now: DateTime<Utc>) -> DecodeContext {
        use chrono::Datelike;
        DecodeContext {
            now: Some(now),
            default_year: if self.year_pinned {
                self.default_year
            } else {
                now.year()
            },
            ..self.clone()
        }
    }
}

/// Decode one record. Never panics; every failure is a [`Rejection`].
pub fn decode(
    record: &[u8],
    choice: FormatChoice,
    ctx: &DecodeContext,
) -> Result<LoginEvent, Rejection> {
    if record.len() > ctx.max_record_bytes {
        return Err(Rejection::oversized(record.len(), ctx.max_record_bytes));
    }
    let text = std::str::from_utf8(record)
        .map_err(|e| Rejection::new(RejectReason::InvalidEncoding, format!("not UTF-8: {e}")))?;
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let format = match choice {
        FormatChoice::Fixed(f) => f,
        FormatChoice::Auto => detect(text).ok_or_else(|| {
            Rejection::new(
                RejectReason::UnknownFormat,
                "no adapter recognises the record",
            )
        })?,
    };
    let event = decode_as(text, format, ctx).map_err(|r| r.in_format(format))?;
    if let Some(now) = ctx.now
        && event.time > now + ctx.max_future
    {
        return Err(Rejection::new(
            RejectReason::FutureTime,
            format!(
                "event time {} is later than the clock ({}) by more than {} min",
                event
                    .time
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ctx.max_future.num_minutes()
            ),
        )
        .in_format(format));
    }
    Ok(event)
}

/// Decode text already known to be of `format`.
pub fn decode_as(text: &str, format: Format, ctx: &DecodeContext) -> Result<LoginEvent, Rejection> {
    match format {
        Format::Okta => okta::decode(text, ctx),
        Format::Entra => entra::decode(text, ctx),
        Format::GoogleWorkspace => google_workspace::decode(text, ctx),
        Format::Ocsf => ocsf::decode(text, ctx),
        Format::Ecs => ecs::decode(text, ctx),
        Format::Globalprotect => globalprotect::decode(text, ctx),
        Format::CiscoAsa => cisco_asa::decode(text, ctx),
        Format::Openvpn => openvpn::decode(text, ctx),
        Format::Fortinet => fortinet::decode(text, ctx),
    }
}

/// The format of a record, judged from its bytes; `None` when no adapter claims it.
pub fn detect(text: &str) -> Option<Format> {
    Format::ALL.into_iter().find(|f| sniff(text, *f))
}

fn sniff(text: &str, format: Format) -> bool {
    match format {
        Format::Okta => okta::sniff(text),
        Format::Entra => entra::sniff(text),
        Format::GoogleWorkspace => google_workspace::sniff(text),
        Format::Ocsf => ocsf::sniff(text),
        Format::Ecs => ecs::sniff(text),
        Format::Globalprotect => globalprotect::sniff(text),
        Format::CiscoAsa => cisco_asa::sniff(text),
        Format::Openvpn => openvpn::sniff(text),
        Format::Fortinet => fortinet::sniff(text),
    }
}
