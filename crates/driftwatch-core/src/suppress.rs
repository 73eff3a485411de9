//! Suppressions: what makes an address or a login expected rather than suspicious —
//! allowlisted networks, ASNs and intel tags (corporate egress, the company's own VPN),
//! approved travel windows from a CSV file, and analysts' dispositions of alerts (a benign
//! or false-positive verdict silences the alert's rules for that employee for a while).
//!
//! The travel file and the dispositions file are read by the driver
//! (`driftwatch::sources::suppress_files`); [`read_trips`] and [`read_dispositions`] take
//! their text.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::enrich::Geo;
use crate::roster::EmployeeId;

/// `[suppress]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Intel-list tags whose addresses say nothing about where a person is. Default
    /// `["corporate_egress"]`: the company's VPN or proxy egress geolocates wherever the
    /// concentrator is.
    pub allowlist_tags: Vec<String>,
    /// Networks (CIDR) treated the same way, without writing an intel list.
    pub allowlist_networks: Vec<IpNet>,
    /// ASNs treated the same way.
    pub allowlist_asns: Vec<u32>,
    /// Approved travel: CSV with a header `employee_id,country,from,to` (ISO country,
    /// inclusive dates). Logins from that country in that window do not count as being
    /// elsewhere than claimed. Unset: no approved trips.
    pub travel: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            allowlist_tags: vec!["corporate_egress".to_owned()],
            allowlist_networks: Vec::new(),
            allowlist_asns: Vec::new(),
            travel: None,
        }
    }
}

/// One approved trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trip {
    pub employee_id: EmployeeId,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
}

impl Trip {
    fn covers(&self, time: DateTime<Utc>, country: &str) -> bool {
        // Dates are taken in UTC, padded by a day on each side: flights cross midnight
        // and time zones, and a trip approved "from the 3rd" starts on the 2nd somewhere.
        let day = time.date_naive();
        self.country.eq_ignore_ascii_case(country)
            && day >= self.from.pred_opt().unwrap_or(self.from)
            && day <= self.to.succ_opt().unwrap_or(self.to)
    }
}

/// An analyst's verdict on an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The alert is right: nothing is suppressed.
    TruePositive,
    /// The behaviour is real but expected (a known trip, a sanctioned contractor VPN).
    Benign,
    /// The alert is wrong (bad GeoIP, a shared office address).
    FalsePositive,
}

/// A disposition of an alert, as the analyst API (or a file, for replay) records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disposition {
    pub employee_id: EmployeeId,
    /// The alert disposed of, when known.
    #[serde(default)]
    pub alert_id: Option<String>,
    pub verdict: Verdict,
    /// The rules to silence; empty means every rule of the employee's open alert.
    #[serde(default)]
    pub rules: Vec<String>,
    /// When suppression starts, in event time. The analyst API sets the alert's first
    /// login (so replays of older logs are judged alike); the decision's own time is in
    /// the audit log's record of it.
    pub time: DateTime<Utc>,
    /// When suppression ends. Default: `DEFAULT_SUPPRESSION_DAYS` after `time`.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub note: String,
}

/// How long a benign or false-positive verdict silences its rules when no end is given.
/// Thirty days: long enough to stop the repeats of a known situation, short enough that a
/// change of behaviour is seen again within the month.
pub const DEFAULT_SUPPRESSION_DAYS: i64 = 30;

/// Rules silenced for one employee over a time span (kept in the employee's state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub rules: Vec<String>,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Silence {
    /// Is `rule` silenced at `time`?
    pub fn covers(&self, rule: &str, time: DateTime<Utc>) -> bool {
        time >= self.from && time < self.until && self.rules.iter().any(|r| r == rule)
    }
}

/// Why the suppressions could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SuppressError {
    /// The file cannot be read (reported by the driver that reads it).
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {} bad row(s):\n  - {}", .errors.len(), .errors.join("\n  - "))]
    Invalid { path: PathBuf, errors: Vec<String> },
}

/// Loaded suppressions. `Default` is what the default `[suppress]` section loads:
/// corporate egress allowlisted, nothing else.
#[derive(Debug, Clone)]
pub struct Suppressions {
    tags: Vec<String>,
    networks: Vec<IpNet>,
    asns: Vec<u32>,
    trips: HashMap<EmployeeId, Vec<Trip>>,
}

impl Default for Suppressions {
    fn default() -> Self {
        Suppressions {
            tags: Config::default().allowlist_tags,
            networks: Vec::new(),
            asns: Vec::new(),
            trips: HashMap::new(),
        }
    }
}

#[derive(Deserialize)]
struct TripRow {
    employee_id: String,
    country: String,
    from: String,
    to: String,
}

impl Suppressions {
    /// The allowlists `cfg` gives, and the approved `trips` (read by [`read_trips`] from
    /// the file `cfg.travel` names).
    pub fn new(cfg: &Config, trips: Vec<Trip>) -> Suppressions {
        let mut s = Suppressions {
            tags: cfg.allowlist_tags.clone(),
            networks: cfg.allowlist_networks.clone(),
            asns: cfg.allowlist_asns.clone(),
            trips: HashMap::new(),
        };
        for trip in trips {
            s.trips
                .entry(trip.employee_id.clone())
                .or_default()
                .push(trip);
        }
        s
    }

    /// The address says nothing about where the person is.
    pub fn is_allowlisted(&self, ip: IpAddr, geo: &Geo) -> bool {
        geo.tags.iter().any(|t| self.tags.contains(t))
            || geo.asn.is_some_and(|a| self.asns.contains(&a))
            || self.networks.iter().any(|n| n.contains(&ip))
    }

    /// The approved trip covering a login at `time` from `country`, if any.
    pub fn trip(
        &self,
        employee: &EmployeeId,
        time: DateTime<Utc>,
        country: Option<&str>,
    ) -> Option<&Trip> {
        let country = country?;
        self.trips
            .get(employee)?
            .iter()
            .find(|t| t.covers(time, country))
    }

    /// Number of approved trips loaded.
    pub fn trips(&self) -> usize {
        self.trips.values().map(Vec::len).sum()
    }
}

/// Read approved trips from the travel CSV `text` (header `employee_id,country,from,to`),
/// every bad row reported at once; `path` is the file it came from, named in errors.
pub fn read_trips(path: &Path, text: &str) -> Result<Vec<Trip>, SuppressError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut trips = Vec::new();
    let mut errors = Vec::new();
    for (i, row) in reader.deserialize::<TripRow>().enumerate() {
        let line = i + 2;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let date = |field: &str, v: &str| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| format!("line {line}: {field} {v:?} is not a YYYY-MM-DD date"))
        };
        match (date("from", &row.from), date("to", &row.to)) {
            (Ok(from), Ok(to)) if from <= to && row.country.len() == 2 => trips.push(Trip {
                employee_id: EmployeeId(row.employee_id.into()),
                country: row.country.to_ascii_uppercase(),
                from,
                to,
            }),
            (Ok(_), Ok(_)) if row.country.len() != 2 => errors.push(format!(
                "line {line}: country {:?} is not ISO alpha-2",
                row.country
            )),
            (Ok(_), Ok(_)) => errors.push(format!("line {line}: from is after to")),
            (a, b) => errors.extend(a.err().into_iter().chain(b.err())),
        }
    }
    if errors.is_empty() {
        Ok(trips)
    } else {
        Err(SuppressError::Invalid {
            path: path.to_owned(),
            errors,
        })
    }
}

/// Read dispositions from JSON lines `text` (for replay; the API writes them in
/// production), every bad line reported at once; `path` is the file it came from, named in
/// errors.
pub fn read_dispositions(path: &Path, text: &str) -> Result<Vec<Disposition>, SuppressError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<Disposition>(line) {
            Ok(d) => out.push(d),
            Err(e) => errors.push(format!("line {}: {e}", i + 1)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(SuppressError::Invalid {
            path: path.to_owned(),
            errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The suppressions of the default section with the trips of a travel file's `text`.
    fn with_trips(text: &str) -> Result<Suppressions, SuppressError> {
        let trips = read_trips(Path::new("travel.csv"), text)?;
        Ok(Suppressions::new(&Config::default(), trips))
    }

    #[test]
    fn trips_cover_their_country_and_dates_with_a_day_of_slack() {
        let s = with_trips("employee_id,country,from,to\nE1,de,2026-11-10,2026-11-12\n").unwrap();
        let e = EmployeeId("E1".into());
        let at = |d: &str| format!("{d}T12:00:00Z").parse::<DateTime<Utc>>().unwrap();
        assert!(s.trip(&e, at("2026-11-10"), Some("DE")).is_some());
        assert!(
            s.trip(&e, at("2026-11-13"), Some("DE")).is_some(),
            "a day of slack"
        );
        assert!(s.trip(&e, at("2026-11-14"), Some("DE")).is_none());
        assert!(
            s.trip(&e, at("2026-11-11"), Some("FR")).is_none(),
            "another country"
        );
        assert!(
            s.trip(&EmployeeId("E2".into()), at("2026-11-11"), Some("DE"))
                .is_none()
        );
        assert!(s.trip(&e, at("2026-11-11"), None).is_none());
    }

    #[test]
    fn every_bad_trip_row_is_reported() {
        let err = with_trips(
            "employee_id,country,from,to\nE1,DEU,2026-11-10,2026-11-12\nE2,DE,soon,2026-11-12\nE3,DE,2026-11-12,2026-11-10\n",
        )
        .unwrap_err();
        let SuppressError::Invalid { errors, .. } = err else {
            panic!("{err}")
        };
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("line 2"));
    }

    #[test]
    fn allowlists_by_tag_network_and_asn() {
        let s = Suppressions::new(
            &Config {
                allowlist_networks: vec!["198.51.100.0/28".parse().unwrap()],
                allowlist_asns: vec![64500],
                ..Config::default()
            },
            Vec::new(),
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let tagged = Geo {
            tags: vec!["corporate_egress".into()],
            ..Geo::default()
        };
        assert!(s.is_allowlisted(ip("192.0.2.1"), &tagged));
        assert!(s.is_allowlisted(ip("198.51.100.3"), &Geo::default()));
        assert!(!s.is_allowlisted(ip("198.51.100.30"), &Geo::default()));
        let asn = Geo {
            asn: Some(64500),
            ..Geo::default()
        };
        assert!(s.is_allowlisted(ip("192.0.2.1"), &asn));
    }
}
