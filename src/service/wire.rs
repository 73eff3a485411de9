//! What driftwatch writes to its own topics, and how it partitions by key.
//!
//! Records on `driftwatch.logins`, `driftwatch.network` and `driftwatch.findings` are JSON, so
//! an operator can read a topic with any Kafka tool; the changelog is postcard (it is only
//! read back by driftwatch, and restore time is spent decoding it). Every record carries the
//! coordinates of the input record it came from: the detect stage remembers, per employee,
//! how far each source has been applied, which makes redelivery after a crash harmless.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

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
///
/// One is held per tracked employee, so it is kept small: a boxed slice (no spare capacity,
/// no capacity field) of the (few) sources, sorted, with topic names shared between
/// employees ([`topic_name`]). On the changelog it
/// is the map it always was (postcard writes a map and a sequence of pairs alike).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    from = "BTreeMap<(String, i32), i64>",
    into = "BTreeMap<(String, i32), i64>"
)]
pub struct Applied(Box<[(Arc<str>, i32, i64)]>);

impl Applied {
    fn find(&self, topic: &str, partition: i32) -> Result<usize, usize> {
        self.0
            .binary_search_by(|(t, p, _)| (&**t, *p).cmp(&(topic, partition)))
    }

    /// Whether `source` was applied already.
    pub fn contains(&self, source: &Source) -> bool {
        self.find(&source.topic, source.partition)
            .is_ok_and(|i| source.offset <= self.0[i].2)
    }

    /// Note that `source` was applied.
    pub fn record(&mut self, source: &Source) {
        match self.find(&source.topic, source.partition) {
            Ok(i) => self.0[i].2 = self.0[i].2.max(source.offset),
            Err(i) => {
                let entry = (topic_name(&source.topic), source.partition, source.offset);
                let mut entries = std::mem::take(&mut self.0).into_vec();
                entries.insert(i, entry);
                self.0 = entries.into_boxed_slice();
            }
        }
    }
}

impl From<BTreeMap<(String, i32), i64>> for Applied {
    fn from(map: BTreeMap<(String, i32), i64>) -> Applied {
        // A map's keys come sorted, as `find` needs them.
        Applied(
            map.into_iter()
                .map(|((topic, partition), offset)| (topic_name(&topic), partition, offset))
                .collect(),
        )
    }
}

impl From<Applied> for BTreeMap<(String, i32), i64> {
    fn from(applied: Applied) -> Self {
        applied
            .0
            .into_vec()
            .into_iter()
            .map(|(topic, partition, offset)| ((topic.to_string(), partition), offset))
            .collect()
    }
}

/// The one shared copy of a topic name. The names are the service's few input and internal
/// topics; past [`MAX_SHARED_TOPICS`] (records naming topics that do not exist) a name is
/// simply not shared.
fn topic_name(topic: &str) -> Arc<str> {
    static NAMES: LazyLock<Mutex<HashSet<Arc<str>>>> = LazyLock::new(Mutex::default);
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(name) = names.get(topic) {
        return Arc::clone(name);
    }
    let name: Arc<str> = Arc::from(topic);
    if names.len() < MAX_SHARED_TOPICS {
        names.insert(Arc::clone(&name));
    }
    name
}

const MAX_SHARED_TOPICS: usize = 1024;

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
    /// Logins of the employee read and not applied yet (held for event-time order) whose
    /// offsets `applied` covers: a later record of the same input partition was applied
    /// first, being earlier in event time. `applied` alone would call them applied after a
    /// restore, and they would be skipped when read again.
    pub held: Vec<Source>,
    pub state: EmployeeState,
}

/// The changelog value as written since held logins are kept beside `applied`.
#[derive(Serialize, Deserialize)]
struct StoredWire {
    applied: Applied,
    /// `EmployeeState::encode`, so its version check applies.
    state: Vec<u8>,
    held: Vec<Source>,
}

/// The changelog value as written before: read back, it has no held logins.
#[derive(Deserialize)]
struct StoredWireV1 {
    applied: Applied,
    state: Vec<u8>,
}

impl Stored {
    pub fn encode(applied: &Applied, held: &[Source], state: &EmployeeState) -> Vec<u8> {
        let wire = StoredWire {
            applied: applied.clone(),
            state: state.encode(),
            held: held.to_vec(),
        };
        postcard::to_stdvec(&wire).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Stored, StateError> {
        // postcard is not self-describing: a value written before `held` existed ends where
        // `held` would start, so reading it as the current shape runs out of bytes.
        let (applied, state, held) = match postcard::from_bytes::<StoredWire>(bytes) {
            Ok(w) => (w.applied, w.state, w.held),
            Err(_) => {
                let w: StoredWireV1 =
                    postcard::from_bytes(bytes).map_err(|e| StateError::Corrupt(e.to_string()))?;
                (w.applied, w.state, Vec::new())
            }
        };
        Ok(Stored {
            applied,
            held,
            state: EmployeeState::decode(&state)?,
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

    fn source(topic: &str, partition: i32, offset: i64) -> Source {
        Source {
            topic: topic.to_owned(),
            partition,
            offset,
        }
    }

    /// The compact record reads and writes the changelog bytes of the map it replaced, and
    /// answers as the map did, whatever order the sources come in.
    #[test]
    fn applied_keeps_the_changelog_format_and_the_answers_of_a_map() {
        let sources = [
            source("okta.raw", 2, 10),
            source("asa.raw", 0, 7),
            source("okta.raw", 0, 3),
            source("okta.raw", 2, 4),
            source("driftwatch.network", 1, 99),
            source("asa.raw", 0, 8),
        ];
        let mut applied = Applied::default();
        let mut map: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for s in &sources {
            applied.record(s);
            let slot = map
                .entry((s.topic.clone(), s.partition))
                .or_insert(s.offset);
            *slot = (*slot).max(s.offset);
        }
        let bytes = postcard::to_stdvec(&applied).unwrap();
        assert_eq!(bytes, postcard::to_stdvec(&map).unwrap());
        let back: Applied = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, applied);
        for (topic, partition, offset) in [
            ("okta.raw", 2, 10),
            ("okta.raw", 2, 11),
            ("okta.raw", 0, 3),
            ("okta.raw", 1, 0),
            ("asa.raw", 0, 8),
            ("asa.raw", 0, 9),
            ("driftwatch.network", 1, 5),
            ("elsewhere", 0, 0),
        ] {
            let s = source(topic, partition, offset);
            let want = map
                .get(&(topic.to_owned(), partition))
                .is_some_and(|&o| offset <= o);
            assert_eq!(applied.contains(&s), want, "{topic}/{partition}@{offset}");
            assert_eq!(
                back.contains(&s),
                want,
                "{topic}/{partition}@{offset} read back"
            );
        }
    }

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
        let bytes = Stored::encode(&applied, &[], &state);
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
