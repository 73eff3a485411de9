//! One roster row, as read from CSV or JSON, checked into a [`ClaimedProfile`]. Every
//! problem in the row is reported, not only the first.

use std::str::FromStr;

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::alias::{self, ParsedAlias};
use super::country;
use super::error::{Field, RowError};
use super::profile::{ClaimedProfile, EmployeeId, Status};
use super::work_hours::WorkHours;

/// A row before checking: text values by column, independent of the file format.
#[derive(Debug, Default)]
pub(crate) struct RawRecord {
    /// 1-based line the row starts on.
    pub line: u64,
    /// Trimmed, non-empty values, indexed like [`Field::COLUMNS`]; `aliases` is unused
    /// here (see `aliases`).
    values: [Option<String>; Field::COLUMNS.len()],
    /// Aliases as listed, blanks dropped.
    pub aliases: Vec<String>,
    /// Problems found while reading (a JSON value of the wrong type).
    pub problems: Vec<(Field, String)>,
}

impl RawRecord {
    pub fn new(line: u64) -> Self {
        RawRecord {
            line,
            ..RawRecord::default()
        }
    }

    /// Set a column's text; blank means absent. `aliases` is split on `;`.
    pub fn set(&mut self, field: Field, text: &str) {
        if field == Field::Aliases {
            self.aliases.extend(
                text.split(';')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned),
            );
            return;
        }
        let text = text.trim();
        if let Some(slot) = slot(field).and_then(|i| self.values.get_mut(i)) {
            *slot = (!text.is_empty()).then(|| text.to_owned());
        }
    }

    fn get(&self, field: Field) -> Option<&str> {
        slot(field)
            .and_then(|i| self.values.get(i))
            .and_then(|v| v.as_deref())
    }
}

fn slot(field: Field) -> Option<usize> {
    Field::COLUMNS.iter().position(|f| *f == field)
}

/// A checked row: what the alias index needs even when the row is invalid (so duplicate
/// ids are reported alongside other problems), and the profile when it is valid.
#[derive(Debug)]
pub(crate) struct Checked {
    pub line: u64,
    pub id: Option<EmployeeId>,
    pub aliases: Vec<ParsedAlias>,
    /// `None` exactly when this row added to the error list.
    pub profile: Option<ClaimedProfile>,
}

/// Check a row, appending its problems to `errors`.
pub(crate) fn check(raw: RawRecord, errors: &mut Vec<RowError>) -> Checked {
    let before = errors.len();
    let id_text = raw.get(Field::EmployeeId).map(str::to_owned);
    let mut fail = |field: Field, message: String| {
        errors.push(RowError {
            line: raw.line,
            employee_id: id_text.clone(),
            field,
            message,
        })
    };
    for (field, message) in &raw.problems {
        fail(*field, message.clone());
    }

    let id = required(&raw, Field::EmployeeId, &mut fail).and_then(|t| {
        employee_id(t)
            .map_err(|why| fail(Field::EmployeeId, format!("{t:?} {why}")))
            .ok()
    });
    let aliases: Vec<ParsedAlias> = raw
        .aliases
        .iter()
        .filter_map(|a| {
            alias::parse(a)
                .map_err(|why| fail(Field::Aliases, format!("alias {a:?} {why}")))
                .ok()
        })
        .collect();
    let country = required(&raw, Field::ClaimedCountry, &mut fail).and_then(|t| {
        country::normalise(t).or_else(|| {
            fail(
                Field::ClaimedCountry,
                format!("{t:?} is not an assigned ISO 3166-1 alpha-2 code"),
            );
            None
        })
    });
    let point = point(&raw, &mut fail);
    let timezone = required(&raw, Field::ClaimedTimezone, &mut fail)
        .and_then(|t| parsed::<Tz>(Field::ClaimedTimezone, t, &mut fail));
    let work_hours = raw
        .get(Field::WorkHours)
        .and_then(|t| parsed::<WorkHours>(Field::WorkHours, t, &mut fail));
    let start_date = raw
        .get(Field::StartDate)
        .and_then(|t| date(t).map_err(|m| fail(Field::StartDate, m)).ok());
    let status = required(&raw, Field::Status, &mut fail)
        .and_then(|t| parsed::<Status>(Field::Status, t, &mut fail));

    let profile = match (&id, country, timezone, status) {
        (Some(id), Some(country), Some(timezone), Some(status)) if errors.len() == before => {
            Some(ClaimedProfile {
                employee_id: id.clone(),
                aliases: raw.aliases.clone(),
                country,
                region: raw.get(Field::ClaimedRegion).map(str::to_owned),
                city: raw.get(Field::ClaimedCity).map(str::to_owned),
                point,
                timezone,
                work_hours,
                start_date,
                status,
                group: raw.get(Field::Group).map(str::to_owned),
                display_name: raw.get(Field::DisplayName).map(str::to_owned),
                upn: raw.get(Field::Upn).map(str::to_owned),
                manager: raw.get(Field::Manager).map(str::to_owned),
            })
        }
        _ => None,
    };
    Checked {
        line: raw.line,
        id,
        aliases,
        profile,
    }
}

fn required<'a>(
    raw: &'a RawRecord,
    field: Field,
    fail: &mut impl FnMut(Field, String),
) -> Option<&'a str> {
    let value = raw.get(field);
    // A value of the wrong type was already reported; "is required" would repeat it.
    let reported = raw.problems.iter().any(|(f, _)| *f == field);
    if value.is_none() && !reported {
        fail(field, "is required".to_owned());
    }
    value
}

fn parsed<T>(field: Field, text: &str, fail: &mut impl FnMut(Field, String)) -> Option<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| fail(field, format!("{text:?}: {e}")))
        .ok()
}

fn employee_id(text: &str) -> Result<EmployeeId, &'static str> {
    // Ids key state and appear in alerts; an e-mail-shaped id would change with a name
    // and collide with alias matching.
    if text.contains(['@', '\\']) {
        Err("must not be an e-mail or DOMAIN\\user: use a stable HR id")
    } else if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err("contains white space")
    } else {
        Ok(EmployeeId(text.into()))
    }
}

fn date(text: &str) -> Result<NaiveDate, String> {
    // The length check refuses `2024-1-5`, which chrono would read but HR did not mean
    // to write in a YYYY-MM-DD column.
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .ok_or_else(|| format!("{text:?} is not a date YYYY-MM-DD"))
}

/// Both coordinates or neither, each a finite number in range.
fn point(raw: &RawRecord, fail: &mut impl FnMut(Field, String)) -> Option<(f64, f64)> {
    let lat = coordinate(raw, Field::ClaimedLat, 90.0, fail);
    let lon = coordinate(raw, Field::ClaimedLon, 180.0, fail);
    match (raw.get(Field::ClaimedLat), raw.get(Field::ClaimedLon)) {
        (Some(_), None) => fail(Field::ClaimedLon, "is required with claimed_lat".into()),
        (None, Some(_)) => fail(Field::ClaimedLat, "is required with claimed_lon".into()),
        _ => {}
    }
    lat.zip(lon)
}

fn coordinate(
    raw: &RawRecord,
    field: Field,
    limit: f64,
    fail: &mut impl FnMut(Field, String),
) -> Option<f64> {
    let text = raw.get(field)?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= limit => Some(v),
        _ => {
            fail(
                field,
                format!("{text:?} is not a number between -{limit} and {limit}"),
            );
            None
        }
    }
}
