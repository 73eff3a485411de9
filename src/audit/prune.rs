//! Retention: [`prune()`] drops the old start of a log behind a hashed anchor.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::log::{lock, open_locked};
use super::verify::scan;
use super::{AuditError, Entry, Head, Kind, Record, chain, io_error};

/// The details of a [`Kind::Pruned`] record: what it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The cutoff: the records dropped were older than this (and the anchor's `time`).
    pub before: DateTime<Utc>,
    /// Records this prune dropped (an earlier anchor dropped with them is not counted).
    pub records_dropped: u64,
    /// The last record dropped, which the anchor's `seq` and `prev` repeat and the record
    /// after the anchor chains to.
    pub last_dropped_seq: u64,
    pub last_dropped_hash: String,
}

/// What a prune did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pruned {
    /// Records dropped, as in [`Anchor::records_dropped`]; 0 when nothing was old enough
    /// (the file is then left as it was).
    pub dropped: u64,
    /// Records after the anchor.
    pub kept: u64,
    /// The anchor written.
    pub anchor: Option<Record>,
    /// The log's head afterwards: the anchor when nothing was kept.
    pub head: Option<Head>,
}

impl Pruned {
    pub(crate) fn nothing(head: Option<&Head>, kept: u64) -> Pruned {
        Pruned {
            dropped: 0,
            kept,
            anchor: None,
            head: head.cloned(),
        }
    }
}

/// Drop the records at the start of the log at `path` that are older than `before`, and
/// put a [`Kind::Pruned`] anchor in their place, atomically (temporary file, `fsync`,
/// rename, `fsync` of the folder). Refused while a writer holds the log
/// ([`AuditError::Locked`]; use [`super::AuditLog::prune`] there) and when the log does
/// not verify ([`AuditError::Tampered`]: pruning would erase the evidence). A missing file
/// is an error.
pub fn prune(path: &Path, before: DateTime<Utc>) -> Result<Pruned, AuditError> {
    let file = open_locked(path, false)?;
    Ok(rewrite(path, &file, before)?.pruned)
}

/// A prune's result for the writer that made it.
pub(crate) struct Rewritten {
    pub pruned: Pruned,
    /// The new file, locked and open for appending; `None` when nothing was dropped.
    pub file: Option<File>,
    pub len: u64,
    pub next_prev: String,
}

/// Prune the log whose locked handle is `locked`.
pub(crate) fn rewrite(
    path: &Path,
    locked: &File,
    before: DateTime<Utc>,
) -> Result<Rewritten, AuditError> {
    let scan = scan(locked, path, None)?;
    let (len, next_prev) = (scan.bytes, scan.next_prev.clone());
    let verified = scan.into_result()?;
    let unchanged = |kept| Rewritten {
        pruned: Pruned::nothing(verified.head.as_ref(), kept),
        file: None,
        len,
        next_prev: next_prev.clone(),
    };

    let mut reader = BufReader::new(locked);
    reader.seek(SeekFrom::Start(0)).map_err(io_error(path))?;
    let mut buf = Vec::new();
    let mut dropped = 0u64;
    let mut old_anchor = false;
    let mut last_dropped: Option<(u64, String)> = None;
    // The first line kept, once found (the rest is copied as it is).
    let mut first_kept: Option<Vec<u8>> = None;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io_error(path))? == 0 {
            break;
        }
        // The scan parsed every line, so this cannot fail unless the file changed
        // under the lock; then it is an error, not a guess.
        let record: Record = serde_json::from_slice(&buf).map_err(|e| AuditError::Malformed {
            path: path.to_owned(),
            line: dropped + 1,
            message: e.to_string(),
        })?;
        if record.entry.time >= before {
            first_kept = Some(std::mem::take(&mut buf));
            break;
        }
        if dropped == 0 && record.entry.kind == Kind::Pruned {
            old_anchor = true;
        }
        dropped += 1;
        last_dropped = Some((record.seq, record.hash));
    }
    let records_dropped = dropped - u64::from(old_anchor);
    let Some((last_seq, last_hash)) = last_dropped.filter(|_| records_dropped > 0) else {
        let anchors = u64::from(verified.pruned_before.is_some());
        return Ok(unchanged(verified.records - anchors));
    };
    let kept = verified.records - dropped;

    let anchor = Anchor {
        before,
        records_dropped,
        last_dropped_seq: last_seq,
        last_dropped_hash: last_hash.clone(),
    };
    let entry = Entry {
        time: before,
        kind: Kind::Pruned,
        actor: "driftwatch".to_owned(),
        subject: None,
        details: serde_json::to_value(&anchor)?,
    };
    let (anchor_record, anchor_line) = chain::seal(last_seq, entry, &last_hash)?;

    let temp = temp_path(path);
    let written = (|| -> std::io::Result<File> {
        let mut out = create_like(&temp, locked)?;
        out.write_all(&anchor_line)?;
        if let Some(line) = &first_kept {
            out.write_all(line)?;
            std::io::copy(&mut reader, &mut out)?;
        }
        out.sync_all()?;
        Ok(out)
    })();
    let out = match written {
        Ok(out) => out,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(io_error(&temp)(e));
        }
    };
    // Locked before it takes the log's place, so no other writer can get in between.
    if let Err(e) = lock(&out, &temp) {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&temp, path) {
        let _ = std::fs::remove_file(&temp);
        return Err(io_error(path)(e));
    }
    sync_folder(path)?;
    let new_len = out.metadata().map_err(io_error(path))?.len();
    let head = if kept > 0 {
        verified.head
    } else {
        Some(Head {
            seq: anchor_record.seq,
            hash: anchor_record.hash.clone(),
        })
    };
    Ok(Rewritten {
        pruned: Pruned {
            dropped: records_dropped,
            kept,
            anchor: Some(anchor_record),
            head,
        },
        file: Some(out),
        len: new_len,
        // With nothing kept, the next record chains to the record the anchor stands for.
        next_prev: if kept > 0 { next_prev } else { last_hash },
    })
}

/// `.<name>.prune`, beside the log: a rename within one folder is atomic.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.prune"))
}

/// A new file at `temp` (replacing one a crashed prune left) with the permissions of
/// `like`, open for appending and reading.
fn create_like(temp: &Path, like: &File) -> std::io::Result<File> {
    match std::fs::remove_file(temp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let out = OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(true)
        .open(temp)?;
    out.set_permissions(like.metadata()?.permissions())?;
    Ok(out)
}

/// Make the rename durable.
fn sync_folder(path: &Path) -> Result<(), AuditError> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(folder)
        .and_then(|f| f.sync_all())
        .map_err(io_error(folder))
}
