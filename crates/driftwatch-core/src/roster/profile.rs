//! What HR claims about one employee.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::work_hours::WorkHours;

/// The roster's stable id for an employee. Never an e-mail: ids appear in alerts and
/// reports, and an e-mail changes with a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmployeeId(pub compact_str::CompactString);

impl fmt::Display for EmployeeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Employment status, a closed set written in lower case in the roster (any case is
/// accepted). An unknown value is an error rather than a default: a status HR invented
/// later (`suspended`?) must be mapped deliberately, not silently read as active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// `active`: working; logins are expected within the claimed place and hours.
    Active,
    /// `leave`: on leave (parental, sick, sabbatical); any interactive login is notable.
    Leave,
    /// `terminated`: no longer employed; any login at all is notable.
    Terminated,
}

impl Status {
    /// Every status, in the order documented.
    pub const ALL: [Status; 3] = [Status::Active, Status::Leave, Status::Terminated];

    /// The roster spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Leave => "leave",
            Status::Terminated => "terminated",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status the closed set does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a status (active, leave, terminated)")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| UnknownStatus(t.to_owned()))
    }
}

/// What HR says about an employee: never learned, only loaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimedProfile {
    pub employee_id: EmployeeId,
    /// Account names as the roster gives them (trimmed); matched by
    /// [`super::Roster::resolve`] case-insensitively.
    pub aliases: Vec<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    /// Free text as HR writes it (`NY`, `Texas`, `England`): sources disagree on region
    /// codes, so it is kept for display, not compared.
    pub region: Option<String>,
    pub city: Option<String>,
    /// Claimed (lat, lon) in degrees, when given.
    pub point: Option<(f64, f64)>,
    /// The IANA time zone the employee claims to work in.
    pub timezone: Tz,
    /// Claimed working hours in `timezone`, when given.
    pub work_hours: Option<WorkHours>,
    pub start_date: Option<NaiveDate>,
    pub status: Status,
    /// The team or department (free text), for routing alerts to the people who own
    /// them; never compared by the detectors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The name people know the employee by, for pages; never compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The user principal name HR or the directory holds, for pages; never compared
    /// (account names match through `aliases`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// The employee's manager as HR writes it (name, e-mail or id), for pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_a_closed_set() {
        assert_eq!("active".parse(), Ok(Status::Active));
        assert_eq!(" Leave ".parse(), Ok(Status::Leave));
        assert_eq!("TERMINATED".parse(), Ok(Status::Terminated));
        assert_eq!(
            "suspended".parse::<Status>(),
            Err(UnknownStatus("suspended".into()))
        );
        assert!("".parse::<Status>().is_err());
        for s in Status::ALL {
            assert_eq!(s.to_string().parse(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
    }
}
