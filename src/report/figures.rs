//! Per-employee figures, counted from the events the replay hands the engine, and the
//! per-employee inferences read from the engine's state at the end of the period.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::Period;
use super::model::{Bin, LoginCounts};
use crate::detect::working_hours;
use crate::engine::Resolved;
use crate::event::Outcome;
use crate::roster::{ClaimedProfile, EmployeeId, Roster};
use crate::state::EmployeeState;
use crate::suppress::Suppressions;

/// Counts events as the replay merges them (the `observe` hook of
/// [`crate::drivers::replay::run_observed`]): every event before the period's end goes
/// to the engine, so baselines are learned from history, but only events inside the
/// period are counted.
pub struct Counter<'a> {
    period: Period,
    roster: &'a Roster,
    suppress: &'a Suppressions,
    pub per_employee: HashMap<EmployeeId, LoginCounts>,
    pub before: u64,
    pub within: u64,
    pub after: u64,
}

impl<'a> Counter<'a> {
    pub fn new(period: Period, roster: &'a Roster, suppress: &'a Suppressions) -> Counter<'a> {
        Counter {
            period,
            roster,
            suppress,
            per_employee: HashMap::new(),
            before: 0,
            within: 0,
            after: 0,
        }
    }

    /// Count one event; true when the engine should apply it.
    pub fn observe(&mut self, item: &Resolved) -> bool {
        let event = &item.event;
        if event.time >= self.period.to {
            self.after += 1;
            return false;
        }
        if event.time < self.period.from {
            self.before += 1;
            return true;
        }
        self.within += 1;
        if !event.kind.is_interactive() {
            return true;
        }
        let Some(profile) = self.roster.get(&item.employee) else {
            return true;
        };
        if !self.per_employee.contains_key(&item.employee) {
            self.per_employee
                .insert(item.employee.clone(), LoginCounts::default());
        }
        let Some(c) = self.per_employee.get_mut(&item.employee) else {
            return true;
        };
        classify(c, profile, item, self.suppress);
        true
    }
}

/// Count one interactive event of `profile` the way the detectors see it: failures apart;
/// allowlisted addresses and anonymizers say nothing about the place (claimed_location
/// and anonymizer treat them so); the rest is located by its country.
fn classify(c: &mut LoginCounts, profile: &ClaimedProfile, item: &Resolved, s: &Suppressions) {
    if item.event.outcome == Outcome::Failure {
        c.failed_logins += 1;
        return;
    }
    c.logins += 1;
    let geo = &item.geo;
    if s.is_allowlisted(item.event.ip, geo) {
        c.allowlisted_logins += 1;
    } else if geo.is_anonymizer() {
        c.anonymized_logins += 1;
    } else if let Some(country) = &geo.country {
        c.located_logins += 1;
        if country.eq_ignore_ascii_case(&profile.country) {
            c.logins_from_claimed_country += 1;
        }
    }
}

/// What the working-hours rule infers about an employee at `at`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Offsets {
    pub claimed: f64,
    pub inferred: Option<f64>,
    pub differs: Option<bool>,
}

/// The claimed zone's offset at `at`, and the rule's inference from `state`.
pub fn offsets(
    cfg: &working_hours::Config,
    profile: &ClaimedProfile,
    state: Option<&EmployeeState>,
    at: DateTime<Utc>,
) -> Offsets {
    let claimed = working_hours::zone_offset_hours(profile.timezone, at);
    let inferred =
        state.and_then(|s| working_hours::inferred(cfg, profile, &s.detectors.working_hours, at));
    Offsets {
        claimed: inferred
            .as_ref()
            .map_or(claimed, |i| i.claimed_offset_hours),
        inferred: inferred.as_ref().map(|i| i.inferred_offset_hours),
        differs: inferred.map(|i| i.differs(cfg.min_offset_gap_hours)),
    }
}

/// Ten bins of ten percentage points over shares given as (part, whole) counts (the last
/// bin includes 100 %). Counts, not fractions, so 3 of 10 lands in 30–40 % exactly.
pub fn distribution(shares: impl IntoIterator<Item = (u64, u64)>) -> Vec<Bin> {
    let mut bins: Vec<Bin> = (0..10u32)
        .map(|i| Bin {
            label: format!("{}–{}%", i * 10, i * 10 + 10),
            from: f64::from(i) / 10.0,
            to: f64::from(i + 1) / 10.0,
            employees: 0,
        })
        .collect();
    for (part, whole) in shares {
        if whole == 0 {
            continue;
        }
        let i = (part.min(whole) * 10 / whole).min(9) as usize;
        bins[i].employees += 1;
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_fall_into_ten_bins_with_one_in_the_last() {
        let bins = distribution([
            (0, 5),
            (1, 20),
            (1, 10),
            (3, 10),
            (11, 20),
            (99, 100),
            (7, 7),
            (1, 0),
        ]);
        let counts: Vec<u64> = bins.iter().map(|b| b.employees).collect();
        assert_eq!(
            counts,
            [2, 1, 0, 1, 0, 1, 0, 0, 0, 2],
            "nothing of nothing is left out"
        );
        assert_eq!(bins[0].label, "0–10%");
        assert_eq!(bins[9].to, 1.0);
    }
}
