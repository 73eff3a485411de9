//! Resolve: the roster of claimed profiles HR holds, and alias matching from the account
//! names sources use (e-mail, UPN, `DOMAIN\user`, bare username) to an [`EmployeeId`].
//!
//! TODO (being written): CSV/JSON loading with all-errors validation, work hours, aliases.

use std::fmt;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The roster's stable id for an employee. Never an e-mail: ids appear in alerts and
/// reports, and an e-mail changes with a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmployeeId(pub String);

impl fmt::Display for EmployeeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What HR says about an employee: never learned, only loaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimedProfile {
    pub employee_id: EmployeeId,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub region: Option<String>,
    pub city: Option<String>,
    /// Claimed (lat, lon), when given.
    pub point: Option<(f64, f64)>,
    pub timezone: Tz,
}

/// The roster: profiles and the alias index.
#[derive(Debug, Default)]
pub struct Roster {
    profiles: Vec<ClaimedProfile>,
}

impl Roster {
    /// The employee an account name belongs to.
    pub fn resolve(&self, _user: &str) -> Option<&ClaimedProfile> {
        self.profiles.first()
    }

    /// Number of employees.
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// True when the roster has no employees.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }
}
