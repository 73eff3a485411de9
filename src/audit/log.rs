//! [`AuditLog`]: the one writer of a log file.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::prune::{self, Pruned};
use super::verify::scan;
use super::{AuditError, Entry, Head, Record, chain, io_error, retention_cutoff};

/// An audit log opened for appending.
///
/// One writer per file: the file stays exclusively locked (`flock`, advisory) while this
/// lives, so a second writer — another process, or a second `AuditLog` in this one — is
/// refused with [`AuditError::Locked`] instead of interleaving a second chain into the
/// file. Readers ([`super::verify()`], [`super::read()`]) take no lock.
#[derive(Debug)]
pub struct AuditLog {
    /// Opened with `O_APPEND`, so every write lands at the end whatever the offset, and
    /// locked. Replaced by the rewritten file after [`AuditLog::prune`].
    file: File,
    path: PathBuf,
    head: Option<Head>,
    /// What the next record's `prev` is: the head's hash, or when the head is a retention
    /// anchor the hash of the record it stands for.
    next_prev: String,
    /// Length of the file up to its last whole record: a failed write is cut back to it.
    len: u64,
    /// `[audit] retention_days`, for [`AuditLog::apply_retention`].
    retention_days: Option<u32>,
    /// A failed write could not be cut back: appending would break the chain.
    broken: bool,
}

impl AuditLog {
    /// Open the log at `path` (created if missing) for appending. The whole file is
    /// checked first: a log that does not verify is refused with every problem, line and
    /// seq ([`AuditError::Tampered`]), since appending to it would bury the damage.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let file = open_locked(path, true)?;
        let scan = scan(&file, path, None)?;
        let len = scan.bytes;
        let next_prev = scan.next_prev.clone();
        let verified = scan.into_result()?;
        Ok(AuditLog {
            file,
            path: path.to_owned(),
            head: verified.head,
            next_prev,
            len,
            retention_days: None,
            broken: false,
        })
    }

    /// [`AuditLog::open`], then drop the records older than `retention_days` (now minus
    /// that many days), when set. [`AuditLog::apply_retention`] does it again later.
    pub fn open_with_retention(
        path: &Path,
        retention_days: Option<u32>,
    ) -> Result<AuditLog, AuditError> {
        let mut log = AuditLog::open(path)?;
        log.retention_days = retention_days;
        log.apply_retention(Utc::now())?;
        Ok(log)
    }

    /// Drop the records older than the retention period at `now` (see
    /// [`super::prune()`]); `None` when no retention is configured or nothing was old
    /// enough. For a long-running writer, which holds the lock `driftwatch audit prune`
    /// would need: call it once a day or so.
    pub fn apply_retention(&mut self, now: DateTime<Utc>) -> Result<Option<Pruned>, AuditError> {
        let Some(days) = self.retention_days else {
            return Ok(None);
        };
        let pruned = self.prune(retention_cutoff(days, now))?;
        Ok((pruned.dropped > 0).then_some(pruned))
    }

    /// Drop the records before `before` behind a retention anchor, as [`super::prune()`]
    /// does, without letting go of the lock: the rewritten file is locked before it takes
    /// the log's place, and appends continue into it.
    pub fn prune(&mut self, before: DateTime<Utc>) -> Result<Pruned, AuditError> {
        self.usable()?;
        let rewritten = prune::rewrite(&self.path, &self.file, before)?;
        if let Some(file) = rewritten.file {
            // Dropping the old handle releases the old file's lock; the new one is held.
            self.file = file;
            self.len = rewritten.len;
            self.head = rewritten.pruned.head.clone();
            self.next_prev = rewritten.next_prev;
        }
        Ok(rewritten.pruned)
    }

    /// Append one record and `fsync` it before returning: a record returned is on disk.
    /// On a failed write the partial line is cut off again, so the file still verifies.
    pub fn append(&mut self, entry: Entry) -> Result<Record, AuditError> {
        self.usable()?;
        let seq = self.head.as_ref().map_or(0, |h| h.seq + 1);
        let (record, line) = chain::seal(seq, entry, &self.next_prev)?;
        // One write of the whole line: a concurrent reader sees all of it or none of it.
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            if self.file.set_len(self.len).is_err() {
                self.broken = true;
            }
            return Err(AuditError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.len += line.len() as u64;
        self.next_prev = record.hash.clone();
        self.head = Some(Head {
            seq: record.seq,
            hash: record.hash.clone(),
        });
        Ok(record)
    }

    /// The last record written; `None` while the log is empty.
    pub fn head(&self) -> Option<Head> {
        self.head.clone()
    }

    /// The file this writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn usable(&self) -> Result<(), AuditError> {
        if self.broken {
            Err(AuditError::Broken {
                path: self.path.clone(),
            })
        } else {
            Ok(())
        }
    }
}

/// Open `path` for appending and reading and take its exclusive lock, failing with
/// [`AuditError::Locked`] when someone else holds it.
pub(crate) fn open_locked(path: &Path, create: bool) -> Result<File, AuditError> {
    // A prune renames a new file over the path. Whoever opened the old one just before
    // and locks it just after would hold the lock of a file no longer in the folder, so
    // the lock only counts once it is the path's file; a few tries cover repeated prunes.
    for _ in 0..8 {
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(create);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Audit records name employees and alerts: not for every local user.
            options.mode(0o640);
        }
        let file = options.open(path).map_err(io_error(path))?;
        lock(&file, path)?;
        if is_the_file_at(&file, path)? {
            return Ok(file);
        }
    }
    Err(AuditError::Io {
        path: path.to_owned(),
        source: std::io::Error::other("the file kept being replaced while it was being locked"),
    })
}

pub(crate) fn lock(file: &File, path: &Path) -> Result<(), AuditError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(AuditError::Locked {
            path: path.to_owned(),
        }),
        Err(TryLockError::Error(e)) => Err(io_error(path)(e)),
    }
}

#[cfg(unix)]
fn is_the_file_at(file: &File, path: &Path) -> Result<bool, AuditError> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata().map_err(io_error(path))?;
    match std::fs::metadata(path) {
        Ok(now) => Ok(open.dev() == now.dev() && open.ino() == now.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error(path)(e)),
    }
}

#[cfg(not(unix))]
fn is_the_file_at(_file: &File, _path: &Path) -> Result<bool, AuditError> {
    Ok(true)
}
