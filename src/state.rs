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
/// A state of another version is refused and the employee starts afresh (the service
/// counts and logs it); the claimed-profile rules need no history.
pub const STATE_VERSION: u16 = 2;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_of_another_version_is_refused_by_name() {
        let state = EmployeeState {
            events: 3,
            ..EmployeeState::default()
        };
        let bytes = state.encode();
        assert_eq!(EmployeeState::decode(&bytes).unwrap(), state);
        let older = EmployeeState {
            version: STATE_VERSION - 1,
            ..state
        };
        match EmployeeState::decode(&older.encode()) {
            Err(StateError::Version { found, expected }) => {
                assert_eq!((found, expected), (STATE_VERSION - 1, STATE_VERSION));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            EmployeeState::decode(&bytes[..bytes.len() / 2]),
            Err(StateError::Corrupt(_))
        ));
    }
}
