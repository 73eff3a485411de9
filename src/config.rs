//! The one TOML configuration file. Every section is owned by the module it configures
//! (`sources::roster_file::RosterConfig`, `enrich::EnrichConfig`, `detect::DetectConfig`); this file only
//! composes them, reads the file, makes relative paths relative to the file, and collects
//! every validation error at once. `driftwatch.example.toml` documents every field.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use crate::decode::{DecodeContext, FormatChoice};
use crate::detect::DetectConfig;
use crate::engine::Settings;
use crate::enrich::EnrichConfig;
use crate::sources::roster_file::RosterConfig;
use crate::sources::{enrich_files, suppress_files};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[decode]`: how records are read.
    #[serde(default)]
    pub decode: DecodeConfig,
    /// `[roster]`: the claimed profiles. Without it every account is unknown.
    #[serde(default)]
    pub roster: Option<RosterConfig>,
    /// `[enrich]`: GeoIP databases and intel lists. Without them no location is known and
    /// location rules stay silent.
    #[serde(default)]
    pub enrich: EnrichConfig,
    /// `[detect]`: detector settings, one table per detector.
    #[serde(default)]
    pub detect: DetectConfig,
    /// `[risk]`: how findings add up to alerts.
    #[serde(default)]
    pub risk: crate::risk::Config,
    /// `[suppress]`: allowlists and approved travel.
    #[serde(default)]
    pub suppress: crate::suppress::Config,
    /// `[dead_letter]`: where rejected records are kept.
    #[serde(default)]
    pub dead_letter: DeadLetterConfig,
    /// `[kafka]`: the cluster and topics of `driftwatch run`. Replay does not need it.
    #[serde(default)]
    pub kafka: Option<crate::service::config::KafkaConfig>,
    /// `[service]`: HTTP address, batching and shutdown of `driftwatch run`.
    #[serde(default)]
    pub service: crate::service::config::ServiceConfig,
    /// `[route]`: on-call destinations (Alertmanager, PagerDuty, Slack, webhooks, files).
    #[serde(default)]
    pub route: crate::route::RouteConfig,
    /// `[api]`: the analyst API and its tokens.
    #[serde(default)]
    pub api: crate::api::ApiConfig,
    /// The file this was loaded from (set by [`Config::load`]), for the audit log's record
    /// of the configuration in effect.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// `[audit]`: the hash-chained audit log and its retention. Without a path nothing is
    /// recorded.
    #[serde(default)]
    pub audit: crate::audit::AuditConfig,
}

/// `[decode]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeConfig {
    /// Input format: `auto` (detect per record) or one adapter's name.
    pub format: FormatChoice,
    /// Longer records are rejected as `oversized`. Default 64 KiB: the largest real
    /// sign-in records (Entra with conditional-access details) are ~10–20 KB, and a bound
    /// keeps a corrupt stream without newlines from taking the memory.
    pub max_record_bytes: usize,
    /// IANA time zone for syslog timestamps that carry no offset (PAN-OS, ASA, OpenVPN).
    /// Default UTC, which is what most collectors are set to.
    pub default_timezone: String,
    /// Year for syslog timestamps that carry none. Default: the clock's year, or the year
    /// before when that would put the time in the future (the latest past occurrence).
    pub default_year: Option<i32>,
    /// Records dated later than the clock by more than this are rejected as `future_time`
    /// (dead-lettered and counted, never applied). Default 60: appliance clocks drift by
    /// minutes; a record from the future is a skewed clock, a collector set to the wrong
    /// time zone (it shows here at once) or a forgery meant to push the detectors' windows
    /// past the real logins.
    pub max_future_minutes: u32,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            format: FormatChoice::Auto,
            max_record_bytes: 64 * 1024,
            default_timezone: "UTC".to_owned(),
            default_year: None,
            max_future_minutes: 60,
        }
    }
}

impl DecodeConfig {
    fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.max_record_bytes == 0 {
            errors.push("decode.max_record_bytes: must be at least 1".to_owned());
        }
        if self.default_timezone.parse::<Tz>().is_err() {
            errors.push(format!(
                "decode.default_timezone: {:?} is not an IANA time zone",
                self.default_timezone
            ));
        }
        errors
    }

    /// The adapters' context at `now`, the clock as the caller read it (the core never
    /// reads it): the year of year-less syslog times, and the limit of `future_time`.
    pub fn context(&self, now: chrono::DateTime<chrono::Utc>) -> DecodeContext {
        use chrono::Datelike;
        DecodeContext {
            max_record_bytes: self.max_record_bytes,
            default_tz: self.default_timezone.parse().unwrap_or(Tz::UTC),
            default_year: self.default_year.unwrap_or(now.year()),
            year_pinned: self.default_year.is_some(),
            now: Some(now),
            max_future: chrono::Duration::minutes(i64::from(self.max_future_minutes)),
        }
    }
}

/// `[dead_letter]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeadLetterConfig {
    /// File that rejected records are appended to, one JSON object per line with the
    /// reason. Unset: rejected records are only counted (replay's `--dead-letter` sets it).
    pub path: Option<PathBuf>,
    /// Also keep well-formed records that are not login events (`not_a_login`). Default
    /// false: a full Okta stream is mostly other event types, and they are not bad input.
    pub include_filtered: bool,
    /// The dead-letter file stops growing at this size (bytes); later rejections are only
    /// counted, and the summary says how many were not written. Default 256 MiB: a gzip
    /// bomb of junk lines (458 KB of NULs wrote 629 MB) must not fill the disk.
    pub max_bytes: u64,
}

impl Default for DeadLetterConfig {
    fn default() -> Self {
        DeadLetterConfig {
            path: None,
            include_filtered: false,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {} problem(s):\n  - {}", .errors.len(), .errors.join("\n  - "))]
    Invalid { path: PathBuf, errors: Vec<String> },
}

impl Config {
    /// Read, parse and validate a config file. Relative paths inside it are taken relative
    /// to the file's folder, so a config works from any working directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        // A syntax error stops the parser: it is the one problem that cannot be reported
        // beside the others. Everything after it (unknown settings, wrong types, values,
        // files) is collected and reported at once.
        let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let (mut config, mut errors) = read_leniently(table);
        let base = path.parent().unwrap_or(Path::new(""));
        config.rebase(base);
        config.source = Some(path.to_owned());
        errors.extend(config.validate());
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_owned(),
                errors,
            })
        }
    }

    /// Every problem in the configuration, from every section.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = self.decode.validate();
        if let Some(r) = &self.roster {
            errors.extend(r.validate());
        }
        errors.extend(enrich_files::validate(&self.enrich));
        errors.extend(self.detect.validate());
        errors.extend(self.risk.validate());
        errors.extend(suppress_files::validate(&self.suppress));
        if let Some(k) = &self.kafka {
            errors.extend(k.validate());
        }
        errors.extend(self.route.validate());
        errors.extend(self.api.validate());
        errors.extend(self.audit.validate());
        errors
    }

    /// The detection engine's settings.
    pub fn engine(&self) -> Settings {
        Settings {
            detect: self.detect.clone(),
            risk: self.risk.clone(),
            lateness: chrono::Duration::milliseconds((self.detect.lateness_hours * 3.6e6) as i64),
        }
    }

    fn rebase(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(r) = &mut self.roster {
            fix(&mut r.path);
        }
        self.enrich.for_each_path(fix);
        if let Some(p) = &mut self.dead_letter.path {
            fix(p);
        }
        if let Some(p) = &mut self.suppress.travel {
            fix(p);
        }
        if let Some(p) = &mut self.audit.path {
            fix(p);
        }
        for d in &mut self.route.destination {
            if let Some(p) = &mut d.path
                && p.as_os_str() != "-"
            {
                fix(p);
            }
        }
    }
}

/// The configuration in `table`, with every setting serde refuses reported and left out (its
/// default used instead), so one pass finds every problem rather than the first. Each
/// refusal names the setting by its path (`detect.novelty.warmup_logins`) and says what is
/// wrong in words ("must be a whole number from 0 to 4294967295, not the text \"five\""),
/// not in Rust types.
fn read_leniently(mut table: toml::Table) -> (Config, Vec<String>) {
    let mut errors = Vec::new();
    // Array entries removed so far, by array path: later entries move up one place, and
    // their problems are named by the place they have in the file.
    let mut removed: Vec<(String, usize)> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    loop {
        let value = toml::Value::Table(table.clone());
        let error = match serde_path_to_error::deserialize::<_, Config>(value) {
            Ok(config) => return (config, errors),
            Err(e) => e,
        };
        let segments: Vec<Segment> = error
            .path()
            .iter()
            .map(|s| match s {
                serde_path_to_error::Segment::Seq { index } => Segment::Index(*index),
                serde_path_to_error::Segment::Map { key } => Segment::Key(key.clone()),
                serde_path_to_error::Segment::Enum { variant } => Segment::Key(variant.clone()),
                serde_path_to_error::Segment::Unknown => Segment::Key("?".to_owned()),
            })
            .collect();
        let shown = show_path(&segments, &removed);
        let message = error.inner().message();
        // A required setting already reported as refused is missing now: said once.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
            .map(|field| join_path(&shown, field));
        if !missing.is_some_and(|m| refused.contains(&m)) {
            let words = in_words(message);
            errors.push(if shown.is_empty() {
                words
            } else {
                format!("{shown}: {words}")
            });
        }
        refused.push(shown);
        // Leave the refused setting out and read again; stop if it cannot be found (serde
        // named a place that is not in the table), rather than loop.
        if !remove(&mut table, &segments) {
            return (Config::default(), errors);
        }
        if let Some((array, Segment::Index(i))) = segments
            .split_last()
            .map(|(last, parents)| (show_path(parents, &removed), last.clone()))
        {
            let original = original_index(&array, i, &removed);
            removed.push((array, original));
        }
    }
}

#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// The place of an entry in the file, given its place now and the entries removed before.
fn original_index(array: &str, now: usize, removed: &[(String, usize)]) -> usize {
    let mut gone: Vec<usize> = removed
        .iter()
        .filter(|(a, _)| a == array)
        .map(|(_, i)| *i)
        .collect();
    gone.sort_unstable();
    let mut original = now;
    for g in gone {
        if g <= original {
            original += 1;
        }
    }
    original
}

/// `enrich.lists[2].path` as a user finds it in the file: `enrich.lists (entry 3).path`.
fn show_path(segments: &[Segment], removed: &[(String, usize)]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => {
                let original = original_index(&out, *i, removed);
                out.push_str(&format!(" (entry {})", original + 1));
            }
        }
    }
    out
}

fn remove(table: &mut toml::Table, segments: &[Segment]) -> bool {
    fn walk(value: &mut toml::Value, segments: &[Segment]) -> bool {
        match (segments, value) {
            ([Segment::Key(k)], toml::Value::Table(t)) => t.remove(k).is_some(),
            ([Segment::Index(i)], toml::Value::Array(a)) if *i < a.len() => {
                a.remove(*i);
                true
            }
            ([Segment::Key(k), rest @ ..], toml::Value::Table(t)) => {
                t.get_mut(k).is_some_and(|v| walk(v, rest))
            }
            ([Segment::Index(i), rest @ ..], toml::Value::Array(a)) => {
                a.get_mut(*i).is_some_and(|v| walk(v, rest))
            }
            _ => false,
        }
    }
    let mut root = toml::Value::Table(std::mem::take(table));
    let found = walk(&mut root, segments);
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    found
}

/// A serde message in the words of someone editing a TOML file.
fn in_words(message: &str) -> String {
    let quoted =
        |s: &str| -> Vec<String> { s.split('`').skip(1).step_by(2).map(str::to_owned).collect() };
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let names = quoted(rest);
        let Some((field, known)) = names.split_first() else {
            return message.to_owned();
        };
        let close = known
            .iter()
            .map(|k| (strsim::jaro_winkler(field, k), k))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let mut out = format!("unknown setting `{field}`");
        if let Some((_, k)) = close {
            out.push_str(&format!(" (did you mean `{k}`?)"));
        }
        if known.is_empty() {
            out.push_str("; this table takes no settings");
        } else {
            out.push_str(&format!("; the settings here are {}", known.join(", ")));
        }
        return out;
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let names = quoted(rest);
        if let Some((value, known)) = names.split_first() {
            return format!("\"{value}\" is not one of {}", known.join(", "));
        }
    }
    if let Some(rest) = message.strip_prefix("missing field ")
        && let Some(field) = quoted(rest).first()
    {
        return format!("the required setting `{field}` is missing");
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((found, expected)) = rest.split_once(", expected ")
        {
            return format!(
                "must be {}, not {}",
                expected_words(expected),
                found_words(found)
            );
        }
    }
    message.to_owned()
}

fn expected_words(expected: &str) -> String {
    let words = match expected {
        "u8" => "a whole number from 0 to 255",
        "u16" => "a whole number from 0 to 65535",
        "u32" => "a whole number from 0 to 4294967295",
        "u64" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a string" => "text in quotes",
        "path string" => "a file path in quotes",
        "a character" => "one character in quotes",
        "a sequence" => "a list in brackets, like [\"a\", \"b\"]",
        "a map" => "a table of settings",
        e if e.starts_with("struct ") => "a table of settings",
        e if e.starts_with("variant identifier") || e.starts_with("enum ") => {
            "one of the names listed for it"
        }
        other => other,
    };
    words.to_owned()
}

fn found_words(found: &str) -> String {
    if let Some(text) = found.strip_prefix("string ") {
        return format!("the text {text}");
    }
    for prefix in ["integer ", "floating point ", "boolean "] {
        if let Some(v) = found.strip_prefix(prefix) {
            return v.trim_matches('`').to_owned();
        }
    }
    match found {
        "sequence" => "a list".to_owned(),
        "map" => "a table".to_owned(),
        other => other.to_owned(),
    }
}

/// `NAME` when `value` is exactly `${NAME}`: a secret the configuration names instead of
/// holding (Kafka credentials, destination URLs and keys).
pub(crate) fn env_reference(value: &str) -> Option<&str> {
    value
        .strip_prefix("${")?
        .strip_suffix('}')
        .filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        read_leniently(toml::from_str(text).unwrap()).1
    }

    #[test]
    fn every_refused_setting_is_reported_in_words_and_the_rest_is_read() {
        let text = "[decode]\nmax_recrod_bytes = 5\nmax_future_minutes = -3\n\
                    [detect.novelty]\nwarmup_logins = \"five\"\n\
                    [risk]\nalert_at = \"urgent\"\nhigh = 70.0\n\
                    [zzz]\n";
        let (config, errors) = read_leniently(toml::from_str(text).unwrap());
        assert_eq!(
            errors,
            [
                "decode.max_recrod_bytes: unknown setting `max_recrod_bytes` (did you mean `max_record_bytes`?); the settings here are format, max_record_bytes, default_timezone, default_year, max_future_minutes",
                "decode.max_future_minutes: must be a whole number from 0 to 4294967295, not -3",
                "detect.novelty.warmup_logins: must be a whole number from 0 to 4294967295, not the text \"five\"",
                "risk.alert_at: \"urgent\" is not one of low, medium, high, critical",
                "zzz: unknown setting `zzz`; the settings here are decode, roster, enrich, detect, risk, suppress, dead_letter, kafka, service, route, api, audit",
            ]
        );
        // What was right is kept; what was refused falls back to its default.
        assert_eq!(config.risk.high, 70.0);
        assert_eq!(config.decode.max_future_minutes, 60);
        for e in &errors {
            for rust in ["u32", "u8", "usize", "f64", "struct ", "variant"] {
                assert!(!e.contains(&format!("expected {rust}")), "{e}");
            }
        }
    }

    #[test]
    fn entries_of_a_list_are_named_by_their_place_in_the_file() {
        let errors = problems(
            "[[enrich.lists]]\npath = 3\ntag = \"a\"\n\
             [[enrich.lists]]\npath = \"ok.txt\"\ntag = \"b\"\n\
             [[enrich.lists]]\ntag = \"c\"\n",
        );
        assert_eq!(
            errors,
            [
                "enrich.lists (entry 1).path: must be a file path in quotes, not 3",
                "enrich.lists (entry 3): the required setting `path` is missing",
            ],
            "the third entry keeps its number after the first is left out"
        );
    }

    #[test]
    fn a_table_where_a_value_belongs_and_a_list_where_text_belongs() {
        assert_eq!(
            problems("decode = 3\n"),
            ["decode: must be a table of settings, not 3"]
        );
        assert_eq!(
            problems("[kafka]\nbrokers = [\"a\"]\n")[0],
            "kafka.brokers: must be text in quotes, not a list"
        );
    }

    proptest::proptest! {
        /// Issue 17, item 4: however many settings are unknown or of the wrong type, and
        /// wherever they are, each is reported once by its path, in words, and the reading
        /// ends.
        #[test]
        fn every_bad_setting_is_named_once(
            bad in proptest::collection::btree_map(
                (0usize..6, "zz_[a-z_]{1,8}"),
                proptest::prop_oneof![
                    proptest::prelude::Just("1".to_owned()),
                    proptest::prelude::Just("\"x\"".to_owned()),
                    proptest::prelude::Just("[1, 2]".to_owned()),
                    proptest::prelude::Just("true".to_owned()),
                    proptest::prelude::Just("-7.5".to_owned()),
                ],
                0..12,
            ),
            wrong in proptest::collection::btree_set(0usize..5, 0..5),
        ) {
            const SECTIONS: [&str; 6] = ["decode", "detect.novelty", "risk", "service", "dead_letter", "audit"];
            // Known settings given a value of the wrong type.
            const WRONG: [(&str, &str, &str); 5] = [
                ("decode", "max_record_bytes", "\"big\""),
                ("detect.novelty", "warmup_logins", "-1"),
                ("risk", "alert_at", "\"urgent\""),
                ("service", "reorder_delay_ms", "[1]"),
                ("dead_letter", "include_filtered", "\"yes\""),
            ];
            let mut text = String::new();
            for (i, section) in SECTIONS.iter().enumerate() {
                text.push_str(&format!("[{section}]\n"));
                for ((_, key), value) in bad.iter().filter(|((s, _), _)| *s == i) {
                    text.push_str(&format!("{key} = {value}\n"));
                }
                for w in wrong.iter().filter(|w| WRONG[**w].0 == *section) {
                    text.push_str(&format!("{} = {}\n", WRONG[*w].1, WRONG[*w].2));
                }
            }
            let errors = problems(&text);
            proptest::prop_assert_eq!(errors.len(), bad.len() + wrong.len(), "{:#?}", errors);
            for (i, key) in bad.keys() {
                let path = format!("{}.{key}: unknown setting `{key}`", SECTIONS[*i]);
                proptest::prop_assert!(errors.iter().filter(|e| e.starts_with(&path)).count() == 1, "{path} in {errors:#?}");
            }
            for w in &wrong {
                let path = format!("{}.{}: ", WRONG[*w].0, WRONG[*w].1);
                proptest::prop_assert!(errors.iter().any(|e| e.starts_with(&path)), "{path} in {errors:#?}");
            }
            for e in &errors {
                proptest::prop_assert!(!e.contains("expected"), "a serde message: {e}");
            }
        }
    }
}
