//! Analysts' dispositions and the head hash, from the audit log. The chain is verified
//! first: a report must not present dispositions from a log that was tampered with, and
//! the head it prints is what lets a later reader see records cut off the end
//! (`driftwatch audit verify --expect-head HASH`).

use std::path::{Path, PathBuf};

use super::ReportError;
use super::alerts::Recorded;
use super::model::AuditSummary;
use crate::audit::{self, Head, Kind};
use crate::suppress::Disposition;

/// What the report takes from the audit log.
#[derive(Debug, Clone)]
pub struct Trail {
    pub path: PathBuf,
    /// Records verified (a retention anchor counts as one).
    pub records: u64,
    /// The last verified record.
    pub head: Option<Head>,
    pub dispositions: Vec<Recorded>,
}

impl Trail {
    /// Verify the log at `path` and read its dispositions. Records appended after the
    /// verification (the service may be writing) are left out, so every disposition
    /// shown is covered by the head the report prints.
    pub fn load(path: &Path) -> Result<Trail, ReportError> {
        let fail = |e: audit::AuditError| ReportError::Audit {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let verified = audit::verify(path).map_err(fail)?;
        let last = verified.head.as_ref().map(|h| h.seq);
        let mut dispositions = Vec::new();
        for r in audit::read(path).map_err(fail)? {
            if last.is_none_or(|l| r.seq > l) {
                break;
            }
            if r.entry.kind != Kind::Disposition {
                continue;
            }
            let disposition: Disposition = serde_json::from_value(r.entry.details.clone())
                .map_err(|e| ReportError::Audit {
                    path: path.to_owned(),
                    message: format!("record {} is not a disposition: {e}", r.seq),
                })?;
            dispositions.push(Recorded {
                seq: r.seq,
                recorded: r.entry.time,
                actor: r.entry.actor.clone(),
                disposition,
            });
        }
        Ok(Trail {
            path: path.to_owned(),
            records: verified.records,
            head: verified.head,
            dispositions,
        })
    }

    /// The method section's account of it.
    pub fn summary(&self) -> AuditSummary {
        AuditSummary {
            path: self.path.clone(),
            records: self.records,
            dispositions: self.dispositions.len() as u64,
            head_seq: self.head.as_ref().map(|h| h.seq),
            head_hash: self.head.as_ref().map(|h| h.hash.clone()),
        }
    }
}
