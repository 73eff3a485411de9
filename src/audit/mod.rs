//! The audit log: an append-only, hash-chained record of what driftwatch and its users did —
//! alerts raised, updated and resolved, analysts' dispositions, roster and configuration
//! changes, analyst API calls — that an auditor can check for tampering.
//!
//! # Layout
//!
//! - this file: the record types ([`Entry`], [`Record`], [`Kind`]), `[audit]`
//!   ([`AuditConfig`]) and [`AuditError`];
//! - [`chain`]: the canonical bytes of a record, its hash, and the line the log writes;
//! - [`log`]: [`AuditLog`], the one writer of a file (exclusive lock, `O_APPEND`, `fsync`);
//! - [`mod@verify`]: [`read()`] and [`verify()`]: every record, and where the chain breaks;
//! - [`mod@prune`]: retention, [`prune()`]: old records dropped behind a hashed anchor.
//!
//! # The file
//!
//! JSON lines, one [`Record`] a line, fields in this order:
//!
//! ```json
//! {"seq":0,"time":"2026-10-01T09:00:00Z","kind":"roster_changed","actor":"driftwatch","details":{"employees":2000,"sha256":"…"},"prev":"0000…0000","hash":"9f2c…"}
//! ```
//!
//! `seq` counts from 0, one more per record. `prev` is the `hash` of the record before it
//! ([`GENESIS`], 64 zeros, for record 0). `hash` is the lowercase hex SHA-256 of the
//! record's **canonical bytes**: its compact `serde_json` serialization without `hash`,
//! fields in the order above (`subject` left out when absent, `details` `null` when
//! empty) — which is exactly the line as written, minus its trailing `,"hash":"…"`, closed
//! with `}`. The writer hashes the bytes it writes and [`verify()`] hashes the bytes it
//! reads, so the check never depends on re-serializing parsed JSON: object key order,
//! number formatting and float parsing (serde_json's `float_roundtrip` is on in test builds
//! through a dev-dependency, off in the binary) cannot make a good record look modified.
//! Any other tool can check a line the same way: cut the hash field off the end, hash the
//! rest.
//!
//! # What `verify` detects, and what it cannot
//!
//! Every line is checked on its own (its hash against its bytes: a **modified** record,
//! including the last one) and against the one before it (`seq` one more, `prev` equal to
//! the previous `hash`: a **removed**, **inserted**, **duplicated** or **reordered**
//! record), and every line must be a whole record (a **truncated or garbled** line). Each
//! problem names its line (1-based) and the record's `seq`.
//!
//! The hash is not keyed: whoever can write the file can rewrite the whole chain from the
//! first changed record on, and can cut records off the end, and the file alone cannot
//! show it. What does is a head published elsewhere: the compliance report prints the
//! head's `seq` and `hash`, and `driftwatch audit verify --expect-head HASH`
//! ([`verify_head`]) fails unless that record is still in an intact chain. Keep the file
//! writable by driftwatch only, and the published heads where driftwatch cannot write.
//!
//! # Retention
//!
//! `[audit] retention_days` bounds the file. [`prune()`] drops the longest run of records
//! at the start of the log that are older than a cutoff and puts one [`Kind::Pruned`]
//! anchor in their place (an atomic rewrite: temporary file, `fsync`, rename). The anchor
//! takes the `seq` of the last dropped record, its `prev` is that record's hash, its
//! details are an [`Anchor`] (cutoff, records dropped, last dropped `seq` and hash), and it
//! is hashed like any record. The records kept are copied byte for byte, so every hash and
//! every published head after the cutoff stays valid; the record after the anchor still
//! chains to the dropped record the anchor stands for (`prev` = `last_dropped_hash`), and
//! so does a record appended when the prune dropped everything. A log may start with such
//! an anchor and nowhere else; [`verify()`] then reports [`Verified::pruned_before`].
//! Records are dropped only as a prefix: a record that is older than the cutoff but comes
//! after a newer one stays (retention never drops a record newer than the cutoff), which
//! is why [`Entry::time`] should be the time of recording, not of the thing recorded.
//! [`AuditLog::open_with_retention`] prunes when it opens the log and
//! [`AuditLog::apply_retention`] while it is open (a long-running writer holds the lock,
//! so `driftwatch audit prune` is refused while it runs). A log that does not verify is
//! never pruned: that would erase the evidence.
//!
//! # Conventions for `subject` and `details`
//!
//! | kind | actor | subject | details |
//! |---|---|---|---|
//! | `alert_raised`, `alert_updated` | `driftwatch` | alert id | the [`crate::alert::Alert`] JSON |
//! | `alert_resolved` | who resolved it | alert id | `{reason}` |
//! | `disposition` | the analyst's token name | alert id (or employee id) | the [`crate::suppress::Disposition`] JSON (`employee_id`, `alert_id`, `verdict`, `rules`, `time`, `until`, `note`) |
//! | `roster_changed` | `driftwatch` | — | `{employees, sha256}` |
//! | `config_changed` | `driftwatch` | — | `{sha256, path}` |
//! | `api_call` | the token's name | — | `{method, path, status, role}` |
//! | `pruned` | `driftwatch` | — | an [`Anchor`] |
//!
//! Secrets (tokens, passwords) never go into a record: the log is read by auditors.

pub mod chain;
pub mod log;
pub mod prune;
pub mod verify;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use chain::GENESIS;
pub use log::AuditLog;
pub use prune::{Anchor, Pruned, prune};
pub use verify::{Problem, Verified, read, verify, verify_head};

/// `[audit]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The audit log (JSON lines, created if missing). Unset: nothing is recorded.
    pub path: Option<PathBuf>,
    /// Records older than this many days are dropped behind a hashed anchor when the log
    /// is opened and by `driftwatch audit prune`. Unset: every record is kept (the
    /// default: how long audit evidence must be kept is a legal decision, not ours).
    pub retention_days: Option<u32>,
}

impl AuditConfig {
    /// Every problem with these settings.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.retention_days == Some(0) {
            errors.push(
                "audit.retention_days: must be at least 1 (leave it out to keep every record)"
                    .to_owned(),
            );
        }
        if self.retention_days.is_some() && self.path.is_none() {
            errors.push("audit.retention_days: set, but audit.path is not".to_owned());
        }
        if let Some(p) = &self.path
            && p.is_dir()
        {
            errors.push(format!("audit.path: {} is a folder", p.display()));
        }
        errors
    }

    /// The configured log, opened for appending with retention applied; `None` when no
    /// path is set.
    pub fn open(&self) -> Result<Option<AuditLog>, AuditError> {
        match &self.path {
            Some(p) => AuditLog::open_with_retention(p, self.retention_days).map(Some),
            None => Ok(None),
        }
    }

    /// The retention cutoff at `now`: records older than this may be dropped.
    pub fn cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.retention_days.map(|d| retention_cutoff(d, now))
    }
}

/// `now` minus `days` days.
pub fn retention_cutoff(days: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::days(i64::from(days))
}

/// What a record is about. See the module doc for each kind's `subject` and `details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    AlertRaised,
    AlertUpdated,
    AlertResolved,
    Disposition,
    RosterChanged,
    ConfigChanged,
    ApiCall,
    /// The retention anchor standing for the records dropped before it.
    Pruned,
}

/// What a caller appends (the log adds `seq`, `prev` and `hash`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When this was recorded (wall clock of the append, not the time of the login or alert
    /// it is about, which belongs in `details`): retention drops records by it.
    pub time: DateTime<Utc>,
    pub kind: Kind,
    /// Who did it: `driftwatch` for the engine, a token's name for the API.
    pub actor: String,
    /// What it is about: an alert id, an employee id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default)]
    pub details: serde_json::Value,
}

/// One line of the log file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    #[serde(flatten)]
    pub entry: Entry,
    /// The previous record's `hash` ([`GENESIS`] for the first record).
    pub prev: String,
    /// Lowercase hex SHA-256 of this record's canonical bytes (see [`chain`]).
    pub hash: String,
}

/// The last record of a log: what a report publishes so later truncation shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// Why the audit log could not be read, written or trusted.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The chain is broken: each problem names its line and record.
    #[error("the audit log does not verify: {}", problem_list(.problems))]
    Tampered { problems: Vec<Problem> },
    /// Another process (or another [`AuditLog`] in this one) holds the file's lock.
    #[error(
        "audit log {path} is locked by another writer (one process appends to a log at a \
         time: stop the other one, or give this one another path)"
    )]
    Locked { path: PathBuf },
    /// [`read()`] met a line that is not a record.
    #[error("audit log {path}, line {line}: not a record: {message}")]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// A write failed and the partial line could not be cut off again, so appending more
    /// would break the chain; reopening reports where the file went wrong.
    #[error("audit log {path}: an earlier write failed and could not be undone; reopen the log")]
    Broken { path: PathBuf },
    #[error("encoding an audit record: {0}")]
    Encode(#[from] serde_json::Error),
}

/// At most this many problems in an error message; [`AuditError::Tampered`] keeps them all.
const SHOWN_PROBLEMS: usize = 50;

fn problem_list(problems: &[Problem]) -> String {
    let mut text = format!("{} problem(s)", problems.len());
    for p in problems.iter().take(SHOWN_PROBLEMS) {
        text.push_str("\n  - ");
        text.push_str(&p.to_string());
    }
    if problems.len() > SHOWN_PROBLEMS {
        text.push_str(&format!(
            "\n  - … and {} more",
            problems.len() - SHOWN_PROBLEMS
        ));
    }
    text
}

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_problems_are_all_reported() {
        let c = AuditConfig {
            path: None,
            retention_days: Some(0),
        };
        let errors = c.validate();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(AuditConfig::default().validate().is_empty());
        let c = AuditConfig {
            path: Some(std::env::temp_dir()),
            retention_days: Some(30),
        };
        assert_eq!(
            c.validate(),
            [format!(
                "audit.path: {} is a folder",
                std::env::temp_dir().display()
            )]
        );
    }

    #[test]
    fn kinds_are_snake_case_on_the_wire() {
        assert_eq!(
            serde_json::to_string(&Kind::AlertRaised).unwrap(),
            "\"alert_raised\""
        );
        assert_eq!(
            serde_json::to_string(&Kind::ApiCall).unwrap(),
            "\"api_call\""
        );
        assert_eq!(
            serde_json::from_str::<Kind>("\"pruned\"").unwrap(),
            Kind::Pruned
        );
    }

    #[test]
    fn a_long_list_of_problems_is_cut_in_the_message() {
        let problems: Vec<Problem> = (1..=120)
            .map(|line| Problem {
                line,
                seq: None,
                what: "empty line".into(),
            })
            .collect();
        let text = AuditError::Tampered { problems }.to_string();
        assert!(
            text.starts_with(
                "the audit log does not verify: 120 problem(s)\n  - line 1: empty line"
            )
        );
        assert!(text.contains("line 50: empty line"));
        assert!(!text.contains("line 51:"));
        assert!(text.ends_with("… and 70 more"));
    }
}
