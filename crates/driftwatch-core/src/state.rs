//! Per-employee state: everything driftwatch has learned about one employee, beside the
//! claimed profile (which lives in the roster and is never learned).
//!
//! Serialized with a version tag so it survives restarts (the streaming driver writes it to
//! a compacted changelog); postcard keeps it small. `encoded_len` is what the size target
//! (≤ 2 KiB typical) is measured on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::detect::DetectorStates;
use crate::risk;
use crate::suppress::Silence;

/// Bumped whenever the serialized shape changes incompatibly. 2: the detectors' memory
/// for real geography (working days for working_hours, home days for claimed_location).
/// 3: an open alert keeps what its lines said so far (`risk::OpenAlert::so_far`); a
/// version 2 state is read and upgraded (the open alert's next escalation carries only
/// what is said from then on). A state of another version is refused and the employee
/// starts afresh (the service counts and logs it); the claimed-profile rules need no
/// history.
pub const STATE_VERSION: u16 = 3;

/// What driftwatch has learned about one employee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmployeeState {
    pub version: u16,
    /// Event time of the first and latest event applied.
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// Events applied, and how many of them were interactive (scored).
    pub events: u64,
    pub interactive: u64,
    /// Each learning detector's memory.
    pub detectors: DetectorStates,
    pub risk: risk::State,
    /// Rules silenced by analysts' dispositions (at most `MAX_SILENCES`, expired ones
    /// dropped).
    pub silences: Vec<Silence>,
}

/// The most silences kept per employee: each disposition adds one; old ones expire.
pub const MAX_SILENCES: usize = 8;

impl Default for EmployeeState {
    fn default() -> Self {
        EmployeeState {
            version: STATE_VERSION,
            first_seen: None,
            last_seen: None,
            events: 0,
            interactive: 0,
            detectors: DetectorStates::default(),
            risk: risk::State::default(),
            silences: Vec::new(),
        }
    }
}

/// Why stored state could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state version {found} is not {expected}")]
    Version { found: u16, expected: u16 },
    #[error("corrupt state: {0}")]
    Corrupt(String),
}

impl EmployeeState {
    /// Note that an event at `time` was applied.
    pub fn touch(&mut self, time: DateTime<Utc>, interactive: bool) {
        self.first_seen = Some(self.first_seen.map_or(time, |t| t.min(time)));
        self.last_seen = Some(self.last_seen.map_or(time, |t| t.max(time)));
        self.events += 1;
        self.interactive += u64::from(interactive);
    }

    /// The compact binary form.
    pub fn encode(&self) -> Vec<u8> {
        // postcard cannot fail on these types (no maps with non-string keys, no unsized
        // sequences); an empty vector would decode as corrupt rather than panic.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Read the compact binary form back, refusing other versions.
    pub fn decode(bytes: &[u8]) -> Result<EmployeeState, StateError> {
        let corrupt = |e: postcard::Error| StateError::Corrupt(e.to_string());
        // The version is the first field: read it alone, so a state written by another
        // version is refused by name rather than misread as corrupt.
        let (version, _) = postcard::take_from_bytes::<u16>(bytes).map_err(corrupt)?;
        if version == 2 {
            let old: v2::EmployeeState = postcard::from_bytes(bytes).map_err(corrupt)?;
            return Ok(old.upgrade());
        }
        if version != STATE_VERSION {
            return Err(StateError::Version {
                found: version,
                expected: STATE_VERSION,
            });
        }
        postcard::from_bytes(bytes).map_err(corrupt)
    }

    /// Size of the compact binary form in bytes.
    pub fn encoded_len(&self) -> usize {
        self.encode().len()
    }
}

/// The version 2 shape, read to upgrade: the same but for an open alert without what its
/// lines said.
mod v2 {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Serialize};

    use crate::alert::Severity;
    use crate::detect::DetectorStates;
    use crate::risk;
    use crate::suppress::Silence;

    #[derive(Serialize, Deserialize)]
    pub struct EmployeeState {
        pub version: u16,
        pub first_seen: Option<DateTime<Utc>>,
        pub last_seen: Option<DateTime<Utc>>,
        pub events: u64,
        pub interactive: u64,
        pub detectors: DetectorStates,
        pub risk: RiskState,
        pub silences: Vec<Silence>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct RiskState {
        pub by_rule: BTreeMap<String, f64>,
        pub updated: Option<DateTime<Utc>>,
        pub open: Option<OpenAlert>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct OpenAlert {
        pub id: String,
        pub opened: DateTime<Utc>,
        pub severity: Severity,
        pub rules: Vec<String>,
    }

    impl EmployeeState {
        pub fn upgrade(self) -> super::EmployeeState {
            super::EmployeeState {
                version: super::STATE_VERSION,
                first_seen: self.first_seen,
                last_seen: self.last_seen,
                events: self.events,
                interactive: self.interactive,
                detectors: self.detectors,
                risk: risk::State {
                    by_rule: self.risk.by_rule.into(),
                    updated: self.risk.updated,
                    open: self.risk.open.map(|o| risk::OpenAlert {
                        id: o.id,
                        opened: o.opened,
                        severity: o.severity,
                        rules: o.rules,
                        so_far: Vec::new(),
                    }),
                },
                silences: self.silences,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_2_state_is_upgraded_with_its_open_alert() {
        let old = v2::EmployeeState {
            version: 2,
            first_seen: None,
            last_seen: None,
            events: 7,
            interactive: 5,
            detectors: DetectorStates::default(),
            risk: v2::RiskState {
                by_rule: [("working_hours".to_owned(), 70.0)].into(),
                updated: None,
                open: Some(v2::OpenAlert {
                    id: "dw-0123456789abcdef01234567".into(),
                    opened: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
                    severity: crate::alert::Severity::High,
                    rules: vec!["working_hours".into()],
                }),
            },
            silences: Vec::new(),
        };
        let bytes = postcard::to_stdvec(&old).unwrap();
        let new = EmployeeState::decode(&bytes).unwrap();
        assert_eq!(new.version, STATE_VERSION);
        assert_eq!(new.events, 7);
        assert_eq!(new.risk.by_rule.get("working_hours"), Some(&70.0));
        let open = new.risk.open.as_ref().unwrap();
        assert_eq!(open.id, "dw-0123456789abcdef01234567");
        assert_eq!(open.rules, ["working_hours"]);
        assert!(open.so_far.is_empty());
        // Written back, it is a version 3 state.
        assert_eq!(EmployeeState::decode(&new.encode()).unwrap(), new);
    }

    #[test]
    fn a_state_of_another_version_is_refused_by_name() {
        let state = EmployeeState {
            events: 3,
            ..EmployeeState::default()
        };
        let bytes = state.encode();
        assert_eq!(EmployeeState::decode(&bytes).unwrap(), state);
        // Version 1 is not read (version 2 is upgraded, see below), nor a newer one.
        for version in [1, STATE_VERSION + 1] {
            let other = EmployeeState {
                version,
                ..state.clone()
            };
            match EmployeeState::decode(&other.encode()) {
                Err(StateError::Version { found, expected }) => {
                    assert_eq!((found, expected), (version, STATE_VERSION));
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            EmployeeState::decode(&bytes[..bytes.len() / 2]),
            Err(StateError::Corrupt(_))
        ));
    }
}
