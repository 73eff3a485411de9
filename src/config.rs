//! The one TOML configuration file. Every section is owned by the module it configures
//! (`roster::RosterConfig`, `enrich::EnrichConfig`, `detect::DetectConfig`); this file only
//! composes them, reads the file, makes relative paths relative to the file, and collects
//! every validation error at once. `driftwatch.example.toml` documents every field.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use crate::decode::{DecodeContext, FormatChoice};
use crate::detect::DetectConfig;
use crate::engine::Settings;
use crate::enrich::EnrichConfig;
use crate::roster::RosterConfig;

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
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        config.rebase(base);
        config.source = Some(path.to_owned());
        let errors = config.validate();
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
        errors.extend(self.enrich.validate());
        errors.extend(self.detect.validate());
        errors.extend(self.risk.validate());
        errors.extend(self.suppress.validate());
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
