//! Reading a log and checking its chain: [`read()`], [`verify()`], [`verify_head`].

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::chain::{self, GENESIS, Mismatch};
use super::{Anchor, AuditError, Head, Kind, Record, io_error};

/// Where the chain breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// 1-based line of the file.
    pub line: u64,
    /// The `seq` of the record on that line, when the line is a record.
    pub seq: Option<u64>,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "line {} (seq {seq}): {}", self.line, self.what),
            None => write!(f, "line {}: {}", self.line, self.what),
        }
    }
}

/// A log whose chain holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verified {
    /// Records in the file (a retention anchor counts as one).
    pub records: u64,
    /// The last record; `None` for an empty log.
    pub head: Option<Head>,
    /// The first record's `seq`: 0, or the anchor's when the log was pruned.
    pub first_seq: u64,
    /// When the log starts with a retention anchor: the cutoff it was pruned at.
    pub pruned_before: Option<DateTime<Utc>>,
}

/// Every record of the log, in file order, without checking anything. A line that is not
/// a record is an error naming it.
pub fn read(path: &Path) -> Result<Vec<Record>, AuditError> {
    let file = File::open(path).map_err(io_error(path))?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io_error(path))? == 0 {
            return Ok(records);
        }
        line += 1;
        let record =
            serde_json::from_slice(trim_newline(&buf)).map_err(|e| AuditError::Malformed {
                path: path.to_owned(),
                line,
                message: e.to_string(),
            })?;
        records.push(record);
    }
}

/// Check the whole chain of the log at `path`: every problem, or what the log holds.
pub fn verify(path: &Path) -> Result<Verified, AuditError> {
    let file = File::open(path).map_err(io_error(path))?;
    scan(&file, path, None)?.into_result()
}

/// [`verify()`], and also that the record whose hash is `expected` (a head published
/// earlier) is still in the log: what detects records cut off the end. A log that grew
/// since passes. Returns the `seq` of that record.
pub fn verify_head(path: &Path, expected: &str) -> Result<(Verified, u64), AuditError> {
    let file = File::open(path).map_err(io_error(path))?;
    let mut scan = scan(&file, path, Some(expected))?;
    match scan.expected_seq {
        Some(seq) => scan.into_result().map(|v| (v, seq)),
        None => {
            let v = &scan.verified;
            let what = match &v.head {
                None => format!("the log is empty, so the expected head {expected} is not in it"),
                Some(head) => {
                    let pruned = match v.pruned_before {
                        Some(before) => format!(
                            ", or it was pruned (the log starts at seq {} with records from {})",
                            v.first_seq,
                            before.to_rfc3339()
                        ),
                        None => String::new(),
                    };
                    format!(
                        "the log ends at seq {} and the expected head {expected} is not in it \
                         (records at the end were removed, or the log was rewritten{pruned})",
                        head.seq
                    )
                }
            };
            scan.problems.push(Problem {
                line: scan.lines,
                seq: v.head.as_ref().map(|h| h.seq),
                what,
            });
            scan.into_result().map(|v| (v, 0))
        }
    }
}

/// What one pass over a log found. The writer ([`super::AuditLog`]) opens through it too.
pub(crate) struct Scan {
    pub verified: Verified,
    pub problems: Vec<Problem>,
    /// Lines in the file.
    pub lines: u64,
    /// Bytes up to the end of the last whole line.
    pub bytes: u64,
    /// What the next record's `prev` must be: the head's hash, or for an anchor the hash of
    /// the record it stands for.
    pub next_prev: String,
    /// The `seq` of the record whose hash was asked for.
    pub expected_seq: Option<u64>,
}

impl Scan {
    pub fn into_result(self) -> Result<Verified, AuditError> {
        if self.problems.is_empty() {
            Ok(self.verified)
        } else {
            Err(AuditError::Tampered {
                problems: self.problems,
            })
        }
    }
}

/// Just the `seq` of a line, for the second pass.
#[derive(Deserialize)]
struct SeqOnly {
    seq: u64,
}

/// A forward jump in `seq`: the problem it is reported as, and the seqs it skipped.
struct Gap {
    problem: usize,
    from: u64,
    to: u64,
}

/// The last record read, as the next one must continue from it.
struct Last {
    seq: u64,
    chain_hash: String,
    anchor: bool,
}

/// Read the log from the start and check every line. Only I/O fails; problems are
/// collected. `file` is read from offset 0 and left at its end.
pub(crate) fn scan(file: &File, path: &Path, expected: Option<&str>) -> Result<Scan, AuditError> {
    let mut reader = BufReader::new(file);
    reader.seek(SeekFrom::Start(0)).map_err(io_error(path))?;
    let mut problems = Vec::new();
    let mut gaps = Vec::new();
    let mut verified = Verified {
        records: 0,
        head: None,
        first_seq: 0,
        pruned_before: None,
    };
    let mut last: Option<Last> = None;
    // Lines since the last record that were not records (their seq is unknown).
    let mut not_records = 0u64;
    let mut expected_seq = None;
    let (mut lines, mut bytes) = (0u64, 0u64);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io_error(path))?;
        if n == 0 {
            break;
        }
        lines += 1;
        let line = lines;
        macro_rules! problem {
            ($seq:expr, $what:expr $(,)?) => {
                problems.push(Problem {
                    line,
                    seq: $seq,
                    what: $what,
                })
            };
        }
        if buf.last() != Some(&b'\n') {
            problem!(
                None,
                "the last line has no newline: an interrupted write (or one in progress)"
                    .to_owned(),
            );
            break;
        }
        bytes += n as u64;
        let text = trim_newline(&buf);
        if text.is_empty() {
            problem!(None, "empty line".to_owned());
            not_records += 1;
            continue;
        }
        let record: Record = match serde_json::from_slice(text) {
            Ok(r) => r,
            Err(e) => {
                problem!(None, format!("not a record (truncated or garbled): {e}"));
                not_records += 1;
                continue;
            }
        };
        let seq = Some(record.seq);
        verified.records += 1;
        match chain::check(text, &record) {
            Ok(()) => {}
            Err(Mismatch::Hash) => {
                problem!(seq, "hash does not match its content (modified)".into())
            }
            Err(Mismatch::NotCanonical) => problem!(
                seq,
                "not written the way the log writes records: the hash is not the last field \
                 (edited)"
                    .into(),
            ),
        }
        let anchor = record.entry.kind == Kind::Pruned;
        // The hash the next record must name as its `prev`.
        let mut chain_hash = record.hash.clone();
        match &last {
            None => {
                verified.first_seq = record.seq;
                if anchor {
                    match serde_json::from_value::<Anchor>(record.entry.details.clone()) {
                        Ok(a) => {
                            if a.last_dropped_seq != record.seq
                                || a.last_dropped_hash != record.prev
                            {
                                problem!(
                                    seq,
                                    "retention anchor whose seq and prev are not the last dropped \
                                     record's it names (edited)"
                                        .into(),
                                );
                            }
                            verified.pruned_before = Some(a.before);
                            chain_hash = a.last_dropped_hash;
                        }
                        Err(e) => problem!(
                            seq,
                            format!("retention anchor without valid details (edited): {e}"),
                        ),
                    }
                } else if not_records > 0 {
                    // The lines before it were reported; they may have held seqs below it.
                    if record.seq > not_records {
                        problem!(
                            seq,
                            format!(
                                "the log starts at seq {} after {not_records} unreadable line(s)                                  (records before it were removed)",
                                record.seq
                            )
                        );
                    }
                } else if record.seq != 0 {
                    problem!(
                        seq,
                        format!(
                            "the log starts at seq {} without a retention anchor (the records \
                             before it were removed)",
                            record.seq
                        ),
                    );
                } else if record.prev != GENESIS {
                    problem!(
                        seq,
                        "the first record's prev is not the genesis value (64 zeros)".into()
                    );
                }
            }
            Some(p) => {
                if anchor {
                    problem!(
                        seq,
                        "a retention anchor after the first record (only a prune writes one, \
                         at the start)"
                            .into(),
                    );
                }
                let continues = record.seq == p.seq + 1;
                if continues && record.prev != p.chain_hash {
                    let of = if p.anchor {
                        format!("the record the retention anchor (seq {}) stands for", p.seq)
                    } else {
                        format!("seq {}", p.seq)
                    };
                    problem!(
                        seq,
                        format!(
                            "prev does not match the hash of {of} (a record before it was \
                             modified, removed or reordered)"
                        ),
                    );
                } else if !continues && record.seq == p.seq + 1 + not_records {
                    // Follows the unreadable lines in number; its prev cannot be checked.
                } else if !continues && record.seq > p.seq {
                    gaps.push(Gap {
                        problem: problems.len(),
                        from: p.seq + 1,
                        to: record.seq - 1,
                    });
                    problem!(seq, format!("follows seq {}", p.seq));
                } else if record.seq == p.seq {
                    problem!(seq, format!("repeats seq {} (a duplicated record)", p.seq));
                } else if !continues {
                    problem!(seq, format!("follows seq {} (out of order)", p.seq));
                }
            }
        }
        if let Some(h) = expected {
            if record.hash == h {
                expected_seq = Some(record.seq);
            } else if anchor && last.is_none() && chain_hash == h {
                // The head published before a prune is the record the anchor stands for.
                expected_seq = Some(record.seq);
            }
        }
        verified.head = Some(Head {
            seq: record.seq,
            hash: record.hash,
        });
        last = Some(Last {
            seq: record.seq,
            chain_hash,
            anchor,
        });
        not_records = 0;
    }
    if !gaps.is_empty() {
        name_gaps(file, path, &gaps, &mut problems)?;
    }
    Ok(Scan {
        next_prev: last
            .map(|l| l.chain_hash)
            .unwrap_or_else(|| GENESIS.to_owned()),
        verified,
        problems,
        lines,
        bytes,
        expected_seq,
    })
}

/// Say whether the seqs a jump skipped are elsewhere in the file (moved) or nowhere
/// (removed). A second pass, made only when a jump was found.
fn name_gaps(
    file: &File,
    path: &Path,
    gaps: &[Gap],
    problems: &mut [Problem],
) -> Result<(), AuditError> {
    let mut reader = BufReader::new(file);
    reader.seek(SeekFrom::Start(0)).map_err(io_error(path))?;
    let mut present = HashSet::new();
    let mut buf = Vec::new();
    while reader.read_until(b'\n', &mut buf).map_err(io_error(path))? > 0 {
        if let Ok(SeqOnly { seq }) = serde_json::from_slice(trim_newline(&buf))
            && gaps.iter().any(|g| (g.from..=g.to).contains(&seq))
        {
            present.insert(seq);
        }
        buf.clear();
    }
    for g in gaps {
        let skipped = g.to - g.from + 1;
        let found = present
            .iter()
            .filter(|s| (g.from..=g.to).contains(*s))
            .count() as u64;
        let why = match (skipped - found, skipped) {
            (0, 1) => "(the record before it is elsewhere in the file: reordered)".to_owned(),
            (0, _) => {
                format!("(the {skipped} records before it are elsewhere in the file: reordered)")
            }
            (1, 1) => "(a record was removed)".to_owned(),
            (m, s) if m == s => format!("({m} records were removed)"),
            (m, _) => format!(
                "({m} of the {skipped} records skipped are missing, the others elsewhere in the \
                 file: removed and reordered)"
            ),
        };
        let p = &mut problems[g.problem];
        p.what = format!("{} {why}", p.what);
    }
    Ok(())
}

fn trim_newline(buf: &[u8]) -> &[u8] {
    buf.strip_suffix(b"\n").unwrap_or(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_names_its_line_and_seq_when_known() {
        let p = Problem {
            line: 17,
            seq: Some(16),
            what: "hash does not match its content (modified)".into(),
        };
        assert_eq!(
            p.to_string(),
            "line 17 (seq 16): hash does not match its content (modified)"
        );
        let p = Problem {
            line: 3,
            seq: None,
            what: "empty line".into(),
        };
        assert_eq!(p.to_string(), "line 3: empty line");
    }
}
