//! Resolve: the roster of claimed profiles HR holds, and alias matching from the account
//! names sources use (e-mail, UPN, `DOMAIN\user`, bare username) to an [`EmployeeId`].
//!
//! # The roster file
//!
//! CSV with a header, or JSON (see [`read`] for the JSON shape). Columns, by header name
//! in any order and case; other columns are ignored:
//!
//! | column | required | value |
//! |---|---|---|
//! | `employee_id` | yes | stable HR id (`E1001`); not an e-mail, no white space |
//! | `aliases` | no | account names separated by `;`: e-mail/UPN, `DOMAIN\user`, bare |
//! | `claimed_country` | yes | assigned ISO 3166-1 alpha-2 code, any case (`US`, `gb`) |
//! | `claimed_region` | no | free text |
//! | `claimed_city` | no | free text |
//! | `claimed_lat`, `claimed_lon` | no | degrees; both or neither |
//! | `claimed_timezone` | yes | IANA name (`America/New_York`) |
//! | `work_hours` | no | `09:00-18:00 Mon-Fri`, see [`work_hours`] |
//! | `start_date` | no | `YYYY-MM-DD` |
//! | `status` | yes | `active`, `leave` or `terminated` ([`Status`]) |
//! | `group` | no | free text: team or department, for routing and pages |
//! | `display_name`, `upn`, `manager` | no | free text, shown on pages, never compared |
//!
//! Loading checks every row and reports every problem at once with its line
//! ([`RosterError::Invalid`]), including duplicate ids and an alias claimed by two
//! employees. How account names match is described in [`alias`].
//!
//! # Layout
//!
//! - `profile`: [`ClaimedProfile`], [`EmployeeId`], [`Status`].
//! - [`work_hours`]: the claimed working hours type and its format.
//! - [`alias`]: normalisation and the index `resolve` uses.
//! - [`read`]: CSV and JSON to raw rows; `row`: a raw row checked into a profile.
//! - `country`: the ISO 3166-1 table. `error`: [`RosterError`] and [`RowError`].

pub mod alias;
mod country;
mod error;
mod profile;
pub mod read;
mod row;
pub mod work_hours;

use std::collections::HashMap;
use std::path::Path;

pub use error::{Field, RosterError, RowError};
pub use profile::{ClaimedProfile, EmployeeId, Status, UnknownStatus};
pub use work_hours::{WorkHours, WorkHoursError};

use alias::AliasIndex;
use row::{Checked, RawRecord};

/// The roster: profiles and the alias index, immutable once loaded (a reload builds a
/// new one, so readers never see a half-updated index).
#[derive(Debug, Default)]
pub struct Roster {
    /// In file order.
    profiles: Vec<ClaimedProfile>,
    /// Exact id → index into `profiles`, for callers holding an [`EmployeeId`].
    ids: HashMap<EmployeeId, usize>,
    /// Normalised account names → index into `profiles`, precomputed so that
    /// [`Roster::resolve`] on the hot path is one or two hash lookups.
    aliases: AliasIndex,
}

/// The two roster file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RosterFormat {
    /// CSV with a header.
    Csv,
    /// JSON (see [`read`] for the shape).
    Json,
}

impl RosterFormat {
    /// The format of a roster file named `name` holding `content`: by the extension
    /// (`.csv`, `.json`), else by content (JSON starts with `[` or `{`). Only the name is
    /// looked at, never the file.
    pub fn of(name: &Path, content: &[u8]) -> RosterFormat {
        let ext = name.extension().and_then(|e| e.to_str());
        match ext {
            Some(e) if e.eq_ignore_ascii_case("csv") => RosterFormat::Csv,
            Some(e) if e.eq_ignore_ascii_case("json") => RosterFormat::Json,
            _ => {
                let body = content
                    .strip_prefix("\u{feff}".as_bytes())
                    .unwrap_or(content);
                match body.iter().find(|b| !b.is_ascii_whitespace()) {
                    Some(b'[' | b'{') => RosterFormat::Json,
                    _ => RosterFormat::Csv,
                }
            }
        }
    }
}

/// Index every row's id and aliases, reporting keys two employees claim. Rows with
/// other problems are indexed too, so a duplicate shows up in the same report.
fn index(checked: &[Checked], errors: &mut Vec<RowError>) -> AliasIndex {
    let mut aliases = AliasIndex::default();
    for (owner, row) in checked.iter().enumerate() {
        let Some(id) = &row.id else { continue };
        let mut conflict = |field: Field, message: String| {
            errors.push(RowError {
                line: row.line,
                employee_id: Some(id.0.to_string()),
                field,
                message,
            })
        };
        let id_key = alias::id_key(&id.0);
        if let Err(prev) = aliases.claim(&id_key, owner) {
            let prev = checked.get(prev);
            let same_id =
                |p: &&Checked| p.id.as_ref().is_some_and(|i| alias::id_key(&i.0) == id_key);
            if let Some(first) = prev.filter(same_id) {
                // A repeated row would also repeat every alias conflict; one error says it.
                conflict(
                    Field::EmployeeId,
                    format!("duplicate employee_id; first on line {}", first.line),
                );
                continue;
            }
            conflict(
                Field::EmployeeId,
                claimed_twice(&format!("employee_id {id}"), prev),
            );
        }
        for a in &row.aliases {
            if let Err(prev) = aliases.claim(&a.key, owner) {
                conflict(
                    Field::Aliases,
                    claimed_twice(&format!("alias {:?}", a.key), checked.get(prev)),
                );
            }
        }
    }
    // Derived user names go in after every explicit claim, so an explicit alias wins
    // whatever the row order.
    for (owner, row) in checked.iter().enumerate() {
        for user in row.aliases.iter().filter_map(|a| a.user.as_deref()) {
            aliases.derive(user, owner);
        }
    }
    aliases
}

/// The message for a key that an earlier row already claimed.
fn claimed_twice(what: &str, earlier: Option<&Checked>) -> String {
    match earlier {
        Some(Checked {
            id: Some(id), line, ..
        }) => {
            format!("{what} is also claimed by {id} (line {line})")
        }
        Some(Checked { line, .. }) => format!("{what} is also claimed on line {line}"),
        None => format!("{what} is also claimed by another employee"),
    }
}

impl Roster {
    /// Read a roster file's bytes in `format` (see [`RosterFormat::of`]). Reading the
    /// file, and watching it, is the driver's (`driftwatch::sources::roster_file`).
    pub fn from_bytes(content: &[u8], format: RosterFormat) -> Result<Roster, RosterError> {
        match format {
            RosterFormat::Csv => Roster::from_csv_reader(content),
            RosterFormat::Json => match std::str::from_utf8(content) {
                Ok(text) => Roster::from_json_str(text),
                Err(e) => Err(RosterError::Json(format!("not UTF-8: {e}"))),
            },
        }
    }

    /// Read a CSV roster.
    pub fn from_csv_reader<R: std::io::Read>(input: R) -> Result<Roster, RosterError> {
        let (records, problems) = read::csv(input)?;
        Roster::build(records, problems)
    }

    /// Read a JSON roster.
    pub fn from_json_str(text: &str) -> Result<Roster, RosterError> {
        let (records, problems) = read::json(text)?;
        Roster::build(records, problems)
    }

    /// Check every row, index ids and aliases, and report all problems at once.
    fn build(records: Vec<RawRecord>, mut errors: Vec<RowError>) -> Result<Roster, RosterError> {
        let checked: Vec<Checked> = records
            .into_iter()
            .map(|r| row::check(r, &mut errors))
            .collect();
        let aliases = index(&checked, &mut errors);
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.line);
            return Err(RosterError::Invalid(errors));
        }
        // No errors means every row produced a profile (row::check reports any row it
        // cannot turn into one), so positions in `profiles` are the owners indexed above.
        let profiles: Vec<ClaimedProfile> = checked.into_iter().filter_map(|c| c.profile).collect();
        if profiles.is_empty() {
            return Err(RosterError::Empty);
        }
        let ids = profiles
            .iter()
            .enumerate()
            .map(|(i, p)| (p.employee_id.clone(), i))
            .collect();
        Ok(Roster {
            profiles,
            ids,
            aliases,
        })
    }

    /// The employee an account name belongs to, matched as described in [`alias`]:
    /// case-insensitively across e-mail/UPN, `DOMAIN\user`, bare names and the employee
    /// id. `None` for unknown and ambiguous names. Does not allocate for ASCII names.
    pub fn resolve(&self, user: &str) -> Option<&ClaimedProfile> {
        self.aliases.lookup(user).and_then(|i| self.profiles.get(i))
    }

    /// The profile with this exact employee id.
    pub fn get(&self, id: &EmployeeId) -> Option<&ClaimedProfile> {
        self.ids.get(id).and_then(|i| self.profiles.get(*i))
    }

    /// Every profile, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &ClaimedProfile> {
        self.profiles.iter()
    }

    /// The employees an unresolved account name is ambiguous between (it is the user name
    /// of several employees' aliases), in file order; empty for a name that resolves or
    /// that nobody's aliases yield. Only asked for names `resolve` did not match.
    pub fn ambiguous_between(&self, user: &str) -> Vec<EmployeeId> {
        let mut owners = self.aliases.ambiguous_owners(user);
        owners.sort_unstable();
        owners
            .into_iter()
            .filter_map(|i| self.profiles.get(i).map(|p| p.employee_id.clone()))
            .collect()
    }

    /// The employee a non-ASCII account name imitates (it folds onto their all-ASCII
    /// alias under NFKC and lower case, like `Ksato` with a Kelvin sign): such a name never
    /// resolves, and is reported. Only asked for names `resolve` did not match.
    pub fn confusable_with(&self, user: &str) -> Option<EmployeeId> {
        self.aliases
            .confusable_with(user)
            .and_then(|i| self.profiles.get(i))
            .map(|p| p.employee_id.clone())
    }

    /// Every ambiguous user name with the employees whose aliases yield it, sorted: what
    /// `check-config` reports, since their logins under that name resolve to nobody.
    pub fn ambiguous_accounts(&self) -> Vec<(String, Vec<EmployeeId>)> {
        self.ambiguous_names()
            .into_iter()
            .map(|n| (n.to_owned(), self.ambiguous_between(n)))
            .collect()
    }

    /// User names that resolve to nobody because several employees' aliases yield them
    /// (e.g. `jdoe` from `jdoe@corp.example` and `jdoe@contractor.example`), sorted;
    /// worth logging at load so HR can add explicit aliases.
    pub fn ambiguous_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.aliases.ambiguous().collect();
        names.sort_unstable();
        names
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
