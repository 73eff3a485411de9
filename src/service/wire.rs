//! What driftwatch writes to its own topics, and how it partitions by key.
//!
//! Records on `driftwatch.logins`, `driftwatch.network` and `driftwatch.findings` are JSON, so
//! an operator can read a topic with any Kafka tool; the changelog is postcard (it is only
//! read back by driftwatch, and restore time is spent decoding it). Every record carries the
//! coordinates of the input record it came from: the detect stage remembers, per employee,
//! how far each source has been applied, which makes redelivery after a crash harmless.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alert::{Evidence, Finding, Severity};
use crate::engine::Resolved;
use crate::enrich::Geo;
use crate::event::LoginEvent;
use crate::roster::EmployeeId;
use crate::state::{EmployeeState, StateError};

/// Where a record came from: topic, partition and offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Source {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// A resolved and enriched login, on `driftwatch.logins` (keyed by employee) and
/// `driftwatch.network` (keyed by network).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginRecord {
    pub employee: EmployeeId,
    pub event: LoginEvent,
    pub geo: Geo,
    pub source: Source,
}

/// A finding the infra stage made about an employee, on `driftwatch.findings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    pub employee: EmployeeId,
    /// The employee's login that the finding is about.
    pub event: LoginEvent,
    pub rule: String,
    pub severity: Severity,
    pub risk: u8,
    pub summary: String,
    pub evidence: Vec<Evidence>,
    /// The `driftwatch.network` record that produced it.
    pub source: Source,
    /// The input record of the login it is about (the login's own `source`): the detect
    /// stage applies the finding together with that login, as `replay` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<Source>,
}

impl FindingRecord {
    /// The record for `finding` about `login`, made from the `driftwatch.network` record
    /// at `source`; `input` is the login's own input record.
    pub fn new(login: &Resolved, finding: Finding, source: Source, input: Source) -> FindingRecord {
        FindingRecord {
            employee: login.employee.clone(),
            event: login.event.clone(),
            rule: finding.rule.to_owned(),
            severity: finding.severity,
            risk: finding.risk,
            summary: finding.summary,
            evidence: finding.evidence,
            source,
            login: Some(input),
        }
    }

    /// Back to a finding; `None` for a rule this build does not know (a newer instance
    /// wrote it), which the caller dead-letters.
    pub fn finding(&self) -> Option<Finding> {
        let rule = crate::detect::NAMES.iter().find(|r| **r == self.rule)?;
        Some(Finding {
            rule,
            severity: self.severity,
            risk: self.risk,
            summary: self.summary.clone(),
            evidence: self.evidence.clone(),
        })
    }
}

/// The key of a [`WatermarkRecord`] on `driftwatch.logins`, `driftwatch.network` and
/// `driftwatch.findings`. Employee ids and network keys never start with a NUL.
pub const WATERMARK_KEY: &[u8] = b"\0watermark";

/// How far a stage has passed on what it read from one partition (see
/// [`super::order`]): every record of `topic`/`partition` at or before `time` has had its
/// output written, before this watermark, to the partition that carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    /// The partition described: an input topic's (ingest) or `driftwatch.network`'s (infra).
    pub topic: String,
    pub partition: i32,
    /// How many partitions `topic` has.
    pub partitions: i32,
    /// Event time; `None` before the partition has brought anything.
    pub time: Option<chrono::DateTime<chrono::Utc>>,
    /// Quiet for `[service] idle_release_ms` with nothing held: holds nobody back.
    pub idle: bool,
}

/// One stage's watermarks, written after each batch's records to every partition of the
/// topics it writes, under [`WATERMARK_KEY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatermarkRecord {
    pub watermarks: Vec<Watermark>,
}

/// How far each source's records have been applied to one employee's state: a record at or
/// below the offset was applied already and is skipped when delivered again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied(BTreeMap<(String, i32), i64>);

impl Applied {
    /// Whether `source` was applied already.
    pub fn contains(&self, source: &Source) -> bool {
        self.0
            .get(&(source.topic.clone(), source.partition))
            .is_some_and(|&o| source.offset <= o)
    }

    /// Note that `source` was applied.
    pub fn record(&mut self, source: &Source) {
        let slot = self
            .0
            .entry((source.topic.clone(), source.partition))
            .or_insert(source.offset);
        *slot = (*slot).max(source.offset);
    }
}

/// The changelog key that holds a partition's own bookkeeping rather than an employee.
/// Employee ids never start with a NUL.
pub const MARKER_KEY: &[u8] = b"\0partition";

/// A partition's bookkeeping, written to the changelog after every batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Offset in the alerts partition just past the last alert whose batch completed:
    /// alerts beyond it may be produced again after a crash, and are checked on restore.
    pub alerts_end: i64,
}

/// One employee's changelog value.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub applied: Applied,
    pub state: EmployeeState,
}

#[derive(Serialize, Deserialize)]
struct StoredWire {
    applied: Applied,
    /// `EmployeeState::encode`, so its version check applies.
    state: Vec<u8>,
}

impl Stored {
    pub fn encode(applied: &Applied, state: &EmployeeState) -> Vec<u8> {
        let wire = StoredWire {
            applied: applied.clone(),
            state: state.encode(),
        };
        postcard::to_stdvec(&wire).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Stored, StateError> {
        let wire: StoredWire =
            postcard::from_bytes(bytes).map_err(|e| StateError::Corrupt(e.to_string()))?;
        Ok(Stored {
            applied: wire.applied,
            state: EmployeeState::decode(&wire.state)?,
        })
    }
}

/// The partition of `key` among `partitions`: Kafka's default partitioner (murmur2 of the
/// key, made positive, modulo the count), so records that other systems key by employee id
/// (dispositions, roster updates) land where driftwatch's own do.
pub fn partition_for(key: &[u8], partitions: i32) -> i32 {
    let n = partitions.max(1);
    ((murmur2(key) & 0x7fff_ffff) as i32) % n
}

/// Kafka's `Utils.murmur2` (seed 0x9747b28c).
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = 0x9747_b28c ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if let Some(&b) = rest.first() {
        h ^= u32::from(b);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_match_the_java_client() {
        // Expected values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21") as i32, -973_932_308);
        assert_eq!(murmur2(b"foobar") as i32, -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985_981_536);
        assert_eq!(murmur2(b"abc") as i32, 479_470_107);
        let p = partition_for(b"E1001", 12);
        assert!((0..12).contains(&p));
        assert_eq!(partition_for(b"anything", 1), 0);
    }

    #[test]
    fn applied_offsets_skip_redelivered_records() {
        let mut a = Applied::default();
        let s = |topic: &str, partition, offset| Source {
            topic: topic.to_owned(),
            partition,
            offset,
        };
        assert!(!a.contains(&s("okta", 0, 5)));
        a.record(&s("okta", 0, 5));
        a.record(&s("okta", 0, 3));
        assert!(a.contains(&s("okta", 0, 4)));
        assert!(a.contains(&s("okta", 0, 5)));
        assert!(!a.contains(&s("okta", 0, 6)));
        assert!(!a.contains(&s("okta", 1, 0)));
        assert!(!a.contains(&s("vpn", 0, 5)));
    }

    #[test]
    fn stored_state_round_trips_and_refuses_garbage() {
        let mut applied = Applied::default();
        applied.record(&Source {
            topic: "t".into(),
            partition: 2,
            offset: 41,
        });
        let state = EmployeeState::default();
        let bytes = Stored::encode(&applied, &state);
        let back = Stored::decode(&bytes).unwrap();
        assert_eq!(back.applied, applied);
        assert_eq!(back.state, state);
        assert!(Stored::decode(b"\xff\xff\xff").is_err());
    }
}

#[cfg(test)]
mod round_trip {
    use super::*;
    use crate::decode::{DecodeContext, FormatChoice, decode};

    /// Every example event survives the trip through the logins topic unchanged: the
    /// detect stage must judge exactly what ingest decoded.
    #[test]
    fn example_events_survive_json() {
        let ctx = DecodeContext::default();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/events");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read(entry.unwrap().path()).unwrap();
            for line in text.split(|b| *b == b'\n') {
                let Ok(event) = decode(line, FormatChoice::Auto, &ctx) else {
                    continue;
                };
                let rec = LoginRecord {
                    employee: EmployeeId("E1".into()),
                    event,
                    geo: Geo::default(),
                    source: Source {
                        topic: "t".into(),
                        partition: 0,
                        offset: n,
                    },
                };
                let back: LoginRecord =
                    serde_json::from_slice(&serde_json::to_vec(&rec).unwrap()).unwrap();
                assert_eq!(back, rec);
                n += 1;
            }
        }
        assert!(n > 250, "{n}");
    }
}
