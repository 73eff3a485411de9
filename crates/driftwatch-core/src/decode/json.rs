//! Pieces shared by the JSON adapters (Okta, Entra, Google Workspace, OCSF, ECS).
//!
//! Each adapter deserializes a record straight into a typed struct of only the fields it
//! reads. [`Text`] lets those structs borrow strings from the input instead of allocating,
//! and accepts a number where a vendor sometimes writes one (Entra `resultType` is `"0"` in
//! one export and `0` in another), so a type quirk does not cost a whole record.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Visitor};

use super::{RejectReason, Rejection, fields};

/// Parse one JSON object into `T`. Anything else (an array, a scalar, truncated or invalid
/// text, a field of the wrong type) is [`super::RejectReason::InvalidJson`].
pub fn parse<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, Rejection> {
    // serde's derived structs also accept a JSON array, filled positionally; a login
    // record is always an object, so say so before serde gets the chance.
    if !text.trim_start().starts_with('{') {
        return Err(Rejection::new(
            RejectReason::InvalidJson,
            "record is not a JSON object",
        ));
    }
    serde_json::from_str(text).map_err(|e| fields::invalid_json(&e))
}

/// Does `text` contain any of `needles`? Sniffing is substring search on the raw record:
/// no parse, so auto-detection costs almost nothing.
pub fn contains_any(text: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| contains(text, n))
}

/// SIMD substring search (memchr's memmem): a miss scans the whole record, and every JSON
/// record is scanned several times under auto-detection, so this is on the hot path.
fn contains(text: &str, needle: &str) -> bool {
    memchr::memmem::find(text.as_bytes(), needle.as_bytes()).is_some()
}

/// Is the record an Elastic Common Schema document? Raw vendor records never carry
/// `@timestamp` (Okta has `published`, Entra `time`, Google `id.time`), while an ECS
/// document made from one keeps vendor fields (`azure.signinlogs.category: SignInLogs`,
/// the raw record in `event.original`) that the vendor sniffers would otherwise match.
pub fn is_ecs(text: &str) -> bool {
    contains(text, "\"@timestamp\"")
}

/// A string field, borrowed from the input when it has no escapes. Numbers are kept as
/// their decimal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Text<'_> {
    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor(PhantomData))
    }
}

struct TextVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
}

/// One string or an array of strings: ECS `event.category`, Entra `signInEventTypes`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum Strings<'a> {
    One(#[serde(borrow)] Text<'a>),
    Many(#[serde(borrow)] Vec<Text<'a>>),
}

impl Strings<'_> {
    /// Every value, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let values: &[Text<'_>] = match self {
            Strings::One(t) => std::slice::from_ref(t),
            Strings::Many(v) => v,
        };
        values.iter().map(Text::as_str)
    }

    /// Is `value` one of the values?
    pub fn contains(&self, value: &str) -> bool {
        self.iter().any(|v| v == value)
    }
}

/// The value of an optional [`Text`] field.
pub fn text<'s>(field: &'s Option<Text<'_>>) -> Option<&'s str> {
    field.as_ref().map(Text::as_str)
}

/// The first candidate with something in it (not absent, not blank). For fields a
/// vendor writes in one of several places (Okta `client.ipAddress`, else the request's
/// IP chain), so the fallback fires on an empty value as well as a missing one.
pub fn first<'s>(candidates: impl IntoIterator<Item = Option<&'s str>>) -> Option<&'s str> {
    candidates
        .into_iter()
        .flatten()
        .find(|v| !v.trim().is_empty())
}

/// The first candidate that is a real user name (see [`fields::user`]); when none is,
/// the rejection for the first one present, so the detail names the placeholder seen.
pub fn user<'s>(
    candidates: impl IntoIterator<Item = Option<&'s str>>,
) -> Result<String, Rejection> {
    let mut rejected = None;
    for candidate in candidates.into_iter().flatten() {
        match fields::user(Some(candidate)) {
            Ok(user) => return Ok(user),
            Err(e) => {
                rejected.get_or_insert(e);
            }
        }
    }
    Err(rejected.unwrap_or_else(|| Rejection::new(RejectReason::MissingUser, "no user field")))
}

/// An optional field as an owned, non-placeholder string for the [`crate::event::LoginEvent`]
/// extras (device, session, app, ...).
pub fn extra(value: Option<&str>) -> Option<String> {
    fields::non_empty(value)
}

/// Test helpers for the JSON adapters: the real samples in `../shared`, assertions on
/// decoded events, and the proptest strategy that mutates real records.
#[cfg(test)]
pub(crate) mod testing {
    use std::net::IpAddr;

    use chrono::SecondsFormat;
    use proptest::prelude::*;

    use crate::decode::{RejectReason, Rejection};
    use crate::event::{EventKind, LoginEvent, Outcome};

    /// Where the shared real-world samples live.
    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples");

    /// A sample file's text, by path under `../shared/samples`.
    pub fn sample(path: &str) -> String {
        std::fs::read_to_string(format!("{SAMPLES}/{path}"))
            .unwrap_or_else(|e| panic!("sample {path}: {e}"))
    }

    /// The non-empty lines of an NDJSON sample.
    pub fn lines(path: &str) -> Vec<String> {
        sample(path)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The logs of a Panther rule test file (`tests[].log`), each re-serialised as one
    /// compact JSON record, with the test's name.
    pub fn panther(file: &str) -> Vec<(String, String)> {
        let doc: serde_json::Value =
            serde_json::from_str(&sample(&format!("panther/{file}"))).expect("panther JSON");
        doc["tests"]
            .as_array()
            .expect("tests array")
            .iter()
            .map(|t| {
                let name = t["name"].as_str().expect("test name").to_owned();
                (name, t["log"].to_string())
            })
            .collect()
    }

    /// What an event must say, in the terms a reader checks by eye.
    pub struct Expect<'a> {
        pub user: &'a str,
        pub ip: &'a str,
        /// RFC 3339 in UTC with `Z`, as many fraction digits as the source gave.
        pub time: &'a str,
        pub kind: EventKind,
        pub outcome: Outcome,
    }

    /// Assert the decoded event's user, IP, time, kind and outcome.
    #[track_caller]
    pub fn check(result: Result<LoginEvent, Rejection>, want: Expect<'_>) -> LoginEvent {
        let ev = result.unwrap_or_else(|r| panic!("expected an event, got {r}"));
        assert_eq!(ev.user, want.user);
        assert_eq!(ev.ip, want.ip.parse::<IpAddr>().expect("test IP"));
        assert_eq!(
            ev.time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            want.time
        );
        assert_eq!(ev.kind, want.kind);
        assert_eq!(ev.outcome, want.outcome);
        ev
    }

    /// The reason of a rejection; fails the test on an event.
    #[track_caller]
    pub fn reason(result: Result<LoginEvent, Rejection>) -> RejectReason {
        match result {
            Ok(ev) => panic!("expected a rejection, got {ev:?}"),
            Err(r) => r.reason,
        }
    }

    /// The reasons a JSON adapter may give. The others (oversized, encoding, unknown
    /// format, malformed) belong to the dispatcher and the text formats.
    const JSON_REASONS: [RejectReason; 7] = [
        RejectReason::InvalidJson,
        RejectReason::MissingUser,
        RejectReason::MissingIp,
        RejectReason::InvalidIp,
        RejectReason::MissingTime,
        RejectReason::InvalidTime,
        RejectReason::NotALogin,
    ];

    /// The invariant every JSON adapter keeps on any input: an event with a real user,
    /// or a rejection with a JSON adapter's reason.
    pub fn assert_total(result: &Result<LoginEvent, Rejection>) {
        match result {
            Ok(ev) => {
                assert!(!ev.user.trim().is_empty(), "empty user in {ev:?}");
                assert_eq!(ev.user, ev.user.trim());
            }
            Err(r) => assert!(JSON_REASONS.contains(&r.reason), "unexpected reason {r}"),
        }
    }

    /// Arbitrary text, and real records truncated at a random point or with random bytes
    /// overwritten (the input is kept valid UTF-8 the way the dispatcher would see it).
    pub fn mangled(records: Vec<String>) -> impl Strategy<Value = String> {
        let pick = proptest::sample::select(records);
        prop_oneof![
            any::<String>(),
            (pick.clone(), any::<prop::sample::Index>())
                .prop_map(|(r, at)| lossy(&r.as_bytes()[..at.index(r.len() + 1)])),
            (
                pick,
                prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
            )
                .prop_map(|(r, flips)| {
                    let mut bytes = r.into_bytes();
                    for (at, b) in flips {
                        let i = at.index(bytes.len());
                        bytes[i] = b;
                    }
                    lossy(&bytes)
                }),
        ]
    }

    fn lossy(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::RejectReason;

    #[derive(Debug, serde::Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        a: Option<Text<'a>>,
        #[serde(borrow)]
        many: Option<Strings<'a>>,
    }

    #[test]
    fn text_borrows_plain_strings_and_keeps_numbers() {
        let p: Probe = parse(r#"{"a":"plain","many":["x","y"]}"#).unwrap();
        assert!(matches!(p.a, Some(Text(Cow::Borrowed("plain")))));
        assert!(p.many.as_ref().unwrap().contains("y"));
        let p: Probe = parse(r#"{"a":"say \"hi\"","many":"x"}"#).unwrap();
        assert_eq!(text(&p.a), Some("say \"hi\""));
        assert_eq!(p.many.unwrap().iter().collect::<Vec<_>>(), ["x"]);
        let p: Probe = parse(r#"{"a":7000215}"#).unwrap();
        assert_eq!(text(&p.a), Some("7000215"));
        let p: Probe = parse(r#"{"a":null}"#).unwrap();
        assert_eq!(p.a, None);
    }

    #[test]
    fn only_objects_parse() {
        for bad in ["[null, null]", "\"x\"", "42", "", "{\"a\":", "{\"a\": {}}"] {
            let err = parse::<Probe>(bad).unwrap_err();
            assert_eq!(err.reason, RejectReason::InvalidJson, "{bad}");
        }
    }

    #[test]
    fn user_takes_the_first_real_name() {
        assert_eq!(user([None, Some("unknown"), Some("bob")]).unwrap(), "bob");
        let err = user([None, Some("unknown")]).unwrap_err();
        assert_eq!(err.reason, RejectReason::MissingUser);
        assert!(err.detail.contains("unknown"), "{}", err.detail);
        assert_eq!(
            user([None, None]).unwrap_err().reason,
            RejectReason::MissingUser
        );
    }

    /// Panther's mixed-source test files, through auto-detection: our formats decode,
    /// the others (Asana, Box, CloudTrail, Notion, OneLogin, 1Password, Zoom) are claimed
    /// by no adapter.
    #[test]
    fn panther_mixed_sources_through_auto_detection() {
        use crate::decode::{DecodeContext, FormatChoice, decode};
        use crate::event::{EventKind, Format, NonInteractive};
        let ctx = DecodeContext::default();
        let auto = |log: &str| decode(log.as_bytes(), FormatChoice::Auto, &ctx);

        let rogue = testing::panther("sign_in_from_rogue_state.tests.json");
        let got: Vec<Result<Format, RejectReason>> = rogue
            .iter()
            .map(|(_, log)| auto(log).map(|ev| ev.format).map_err(|r| r.reason))
            .collect();
        use RejectReason::{MissingTime, UnknownFormat};
        let want = [
            Err(MissingTime), // Okta SSO with no `published`
            Ok(Format::Okta),
            Ok(Format::Okta),
            Ok(Format::Okta),
            Err(UnknownFormat), // Asana
            Ok(Format::Entra),
            Err(UnknownFormat), // Box
            Err(UnknownFormat), // CloudTrail
            Err(UnknownFormat), // Notion
            Ok(Format::Okta),
            Err(UnknownFormat), // OneLogin
            Err(UnknownFormat), // 1Password
            Err(UnknownFormat), // Zoom
        ];
        assert_eq!(got, want);
        let azure = auto(&rogue[5].1).unwrap();
        assert_eq!(azure.user, "very-normal-service-principal");
        assert_eq!(azure.ip.to_string(), "12.12.12.12");
        assert_eq!(
            azure.kind,
            EventKind::NonInteractive(NonInteractive::ServicePrincipal)
        );
        let okta = auto(&rogue[9].1).unwrap();
        assert_eq!(okta.vendor.country.as_deref(), Some("Russia"));
        assert_eq!(okta.time.to_rfc3339(), "2024-08-15T15:05:09.154+00:00");

        // OneLogin is not ours: no adapter claims it, and each one handed it rejects it.
        let onelogin = testing::panther("onelogin_login.tests.json");
        assert_eq!(onelogin.len(), 2);
        for (name, log) in &onelogin {
            assert_eq!(testing::reason(auto(log)), UnknownFormat, "{name}");
            let ctx = &ctx;
            let by_adapter = [
                super::super::okta::decode(log, ctx),
                super::super::entra::decode(log, ctx),
                super::super::google_workspace::decode(log, ctx),
                super::super::ocsf::decode(log, ctx),
                super::super::ecs::decode(log, ctx),
            ]
            .map(|r| r.map_err(|e| e.reason).err());
            use RejectReason::{MissingUser, NotALogin};
            assert_eq!(
                by_adapter,
                [
                    Some(NotALogin),
                    Some(MissingUser),
                    Some(NotALogin),
                    Some(NotALogin),
                    Some(NotALogin)
                ],
                "{name}"
            );
        }
    }

    #[test]
    fn first_skips_blank() {
        assert_eq!(first([Some(" "), None, Some("1.2.3.4")]), Some("1.2.3.4"));
        assert_eq!(first([None, Some("")]), None);
    }
}
