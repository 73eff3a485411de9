//! The canonical bytes of a record, its hash, and the line the log writes (pure).
//!
//! A record's canonical bytes are the compact `serde_json` serialization of
//! `{seq, time, kind, actor, subject?, details, prev}` in that order; its line is the same
//! bytes with `,"hash":"<hex>"` before the closing brace. So a line's canonical bytes are
//! recovered by cutting the hash field off its end — no parsing and re-serializing, which
//! could differ in key order or float digits from what was hashed.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Entry, Record};

/// The `prev` of the first record: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A record without its hash, serialized in the field order of [`Record`].
#[derive(Serialize)]
struct Unhashed<'a> {
    seq: u64,
    #[serde(flatten)]
    entry: &'a Entry,
    prev: &'a str,
}

/// The record for `entry` at `seq` after `prev`, and its line (with the newline).
pub fn seal(seq: u64, entry: Entry, prev: &str) -> Result<(Record, Vec<u8>), serde_json::Error> {
    let mut line = serde_json::to_vec(&Unhashed {
        seq,
        entry: &entry,
        prev,
    })?;
    let hash = sha256_hex(&line);
    // The serialization is an object, so it ends with `}`: reopen it for the hash field.
    line.pop();
    line.extend_from_slice(hash_field(&hash).as_bytes());
    line.push(b'\n');
    let record = Record {
        seq,
        entry,
        prev: prev.to_owned(),
        hash,
    };
    Ok((record, line))
}

/// Why a line's hash does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The hash field is not the line's last field: the line was rewritten by something
    /// other than the log.
    NotCanonical,
    /// The content hashes to something else.
    Hash,
}

/// Check a line (without its newline) against the record parsed from it.
pub fn check(line: &[u8], record: &Record) -> Result<(), Mismatch> {
    let field = hash_field(&record.hash);
    let Some(body) = line.strip_suffix(field.as_bytes()) else {
        return Err(Mismatch::NotCanonical);
    };
    let mut h = Sha256::new();
    h.update(body);
    h.update(b"}");
    if hex(&h.finalize()) == record.hash {
        Ok(())
    } else {
        Err(Mismatch::Hash)
    }
}

/// `,"hash":"<hex>"}`: how a line ends. The hash is escaped as JSON would, so a hash
/// field holding odd characters still has exactly one spelling.
fn hash_field(hash: &str) -> String {
    let quoted = serde_json::to_string(hash).unwrap_or_default();
    format!(",\"hash\":{quoted}}}")
}

use crate::hex::hex;
pub use crate::hex::sha256_hex;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Kind;
    use chrono::TimeZone;

    fn entry() -> Entry {
        Entry {
            time: chrono::Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap(),
            kind: Kind::AlertRaised,
            actor: "driftwatch".into(),
            subject: Some("dw-0123".into()),
            // Floats whose shortest form is long: what a lossy float parser would change.
            details: serde_json::json!({"risk": 0.1 + 0.2, "z": 1, "a": [1.0e-7, 123456.789012345]}),
        }
    }

    #[test]
    fn the_line_is_the_serialized_record() {
        let (record, line) = seal(7, entry(), GENESIS).unwrap();
        let mut expected = serde_json::to_vec(&record).unwrap();
        expected.push(b'\n');
        assert_eq!(line, expected);
        let parsed: Record = serde_json::from_slice(&line).unwrap();
        assert_eq!(parsed, record);
    }

    #[test]
    fn the_hash_covers_the_line_without_its_hash_field() {
        let (record, line) = seal(0, entry(), GENESIS).unwrap();
        let text = String::from_utf8(line).unwrap();
        let body = text
            .trim_end()
            .replace(&format!(",\"hash\":\"{}\"", record.hash), "");
        assert_eq!(sha256_hex(body.as_bytes()), record.hash);
        assert!(body.starts_with("{\"seq\":0,\"time\":"));
        assert!(body.ends_with(&format!(",\"prev\":\"{GENESIS}\"}}")));
    }

    #[test]
    fn check_accepts_the_line_written_and_nothing_else() {
        let (record, line) = seal(3, entry(), GENESIS).unwrap();
        let line = &line[..line.len() - 1];
        assert_eq!(check(line, &record), Ok(()));
        let edited = String::from_utf8(line.to_vec())
            .unwrap()
            .replace("dw-0123", "dw-0124");
        assert_eq!(check(edited.as_bytes(), &record), Err(Mismatch::Hash));
        let spaced = String::from_utf8(line.to_vec())
            .unwrap()
            .replace("\"hash\":", "\"hash\": ");
        assert_eq!(
            check(spaced.as_bytes(), &record),
            Err(Mismatch::NotCanonical)
        );
    }

    #[test]
    fn prev_and_seq_are_hashed() {
        let (a, _) = seal(3, entry(), GENESIS).unwrap();
        let (b, _) = seal(4, entry(), GENESIS).unwrap();
        let (c, _) = seal(3, entry(), &a.hash).unwrap();
        assert_ne!(a.hash, b.hash);
        assert_ne!(a.hash, c.hash);
    }
}
