//! Why a roster could not be loaded. Row problems are collected, never returned one at a
//! time: HR fixes a file in one pass when it sees every bad row at once.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// A roster field (a CSV column or a JSON key), or the record as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    EmployeeId,
    Aliases,
    ClaimedCountry,
    ClaimedRegion,
    ClaimedCity,
    ClaimedLat,
    ClaimedLon,
    ClaimedTimezone,
    WorkHours,
    StartDate,
    Status,
    /// Free text: the team or department, for routing alerts (`[[route.destination]]
    /// groups`).
    Group,
    /// Free text: the name people know the employee by, shown on pages.
    DisplayName,
    /// Free text: the user principal name (sign-in name) HR or the directory holds, shown on
    /// pages; matching account names is `aliases`' job, not this column's.
    Upn,
    /// Free text: the employee's manager (a name, an e-mail or an id), shown on pages.
    Manager,
    /// The record itself: bad UTF-8, wrong field count, not a JSON object.
    Record,
}

impl Field {
    /// Every column, in the order the documentation lists them.
    pub const COLUMNS: [Field; 15] = [
        Field::EmployeeId,
        Field::Aliases,
        Field::ClaimedCountry,
        Field::ClaimedRegion,
        Field::ClaimedCity,
        Field::ClaimedLat,
        Field::ClaimedLon,
        Field::ClaimedTimezone,
        Field::WorkHours,
        Field::StartDate,
        Field::Status,
        Field::Group,
        Field::DisplayName,
        Field::Upn,
        Field::Manager,
    ];

    /// The column header / JSON key.
    pub fn name(self) -> &'static str {
        match self {
            Field::EmployeeId => "employee_id",
            Field::Aliases => "aliases",
            Field::ClaimedCountry => "claimed_country",
            Field::ClaimedRegion => "claimed_region",
            Field::ClaimedCity => "claimed_city",
            Field::ClaimedLat => "claimed_lat",
            Field::ClaimedLon => "claimed_lon",
            Field::ClaimedTimezone => "claimed_timezone",
            Field::WorkHours => "work_hours",
            Field::StartDate => "start_date",
            Field::Status => "status",
            Field::Group => "group",
            Field::DisplayName => "display_name",
            Field::Upn => "upn",
            Field::Manager => "manager",
            Field::Record => "record",
        }
    }

    /// The column a header names, compared case-insensitively.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::COLUMNS
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// Columns a roster must have: without them no profile can be compared.
    pub fn is_required(self) -> bool {
        matches!(
            self,
            Field::EmployeeId | Field::ClaimedCountry | Field::ClaimedTimezone | Field::Status
        )
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One problem with one row (CSV) or entry (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based line where the row or entry starts (the CSV header is line 1).
    pub line: u64,
    /// The row's employee id, when it has one.
    pub employee_id: Option<String>,
    pub field: Field,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(id) = &self.employee_id {
            write!(f, " ({id})")?;
        }
        write!(f, ": {}: {}", self.field, self.message)
    }
}

/// Why a roster could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// The file could not be read.
    #[error("cannot read roster {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The CSV header lacks required columns or names one twice.
    #[error("roster header: {0}")]
    Header(String),
    /// The CSV could not be read as CSV at all.
    #[error("roster CSV: {0}")]
    Csv(String),
    /// The JSON is malformed or not an array of employees.
    #[error("roster JSON: {0}")]
    Json(String),
    /// Rows that failed validation, every one of them, in line order.
    #[error("{}", InvalidRows(.0))]
    Invalid(Vec<RowError>),
    /// The file holds no employees. Refused so a truncated file on hot reload cannot
    /// replace a working roster with one that resolves nobody.
    #[error("roster has no employees")]
    Empty,
}

/// Formats the row errors one per line under a count.
struct InvalidRows<'a>(&'a [RowError]);

impl fmt::Display for InvalidRows<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "roster has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}
