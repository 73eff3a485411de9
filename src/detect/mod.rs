//! Detect: the detectors, one file each. A detector is a pure function of the event, its
//! enrichment, the claimed profile, the detector's own per-employee state and the clock
//! (event time); it does no I/O.
//!
//! Every detector file has the same parts, so a reader finds any rule in one `ls`:
//! `NAME` (the rule name in alerts), `Config` (its `[detect.NAME]` table, with defaults and
//! `validate()`), and `check(cfg, ctx, ...) -> Vec<Finding>`. Detectors that learn from an
//! employee's history also have `State` (serialised inside [`crate::state::EmployeeState`])
//! and `update(cfg, ctx, &mut State)`; [`apply`] calls each detector's `check` and then its
//! `update`, so `check` always sees the history *before* the event (working_hours, whose
//! verdict includes the event, does both in one `observe`).

pub mod anonymizer;
pub mod claimed_location;
pub mod concurrent_sessions;
pub mod impossible_travel;
pub mod long_session;
pub mod novelty;
pub mod place;
pub mod sanctioned_region;
pub mod shared_infrastructure;
#[cfg(test)]
pub mod testkit;
pub mod travel;
pub mod working_hours;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::Finding;
use crate::enrich::Geo;
use crate::event::LoginEvent;
use crate::roster::ClaimedProfile;
use crate::suppress::Trip;

/// The day number of an event time (UTC), shared by the detectors that keep daily state.
pub(crate) fn day_of(time: DateTime<Utc>) -> i32 {
    time.date_naive().num_days_from_ce()
}

/// `s` cut to at most `max` characters: state keeps free text bounded.
pub(crate) fn truncated(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Settings of every detector: `[detect.<name>]` tables in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// How late (hours of event time) an event may arrive and still be applied in order.
    /// Default 6: collectors batch and sources lag, and the order matters to travel and
    /// session detectors. Alerts wait this long behind the newest event.
    pub lateness_hours: f64,
    /// Countries (ISO 3166-1 alpha-2) where a login is serious on first sight for someone
    /// claiming another country, hosting and VPN exits there included: high in
    /// `claimed_location`, and a journey to or from one is high in the travel rules.
    /// Default CN, RU: the operators work mainly from China and Russia (Mandiant UNC5267,
    /// Sep 2024; Microsoft Jasper Sleet, Jun 2025). Sanctioned countries (KP, IR, CU, SY)
    /// are `sanctioned_region`'s, critical.
    pub watch_countries: Vec<String>,
    pub claimed_location: claimed_location::Config,
    pub sanctioned_region: sanctioned_region::Config,
    pub impossible_travel: impossible_travel::Config,
    pub working_hours: working_hours::Config,
    pub anonymizer: anonymizer::Config,
    pub shared_infrastructure: shared_infrastructure::Config,
    pub novelty: novelty::Config,
    pub concurrent_sessions: concurrent_sessions::Config,
    pub long_session: long_session::Config,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            lateness_hours: 6.0,
            watch_countries: vec!["CN".to_owned(), "RU".to_owned()],
            claimed_location: Default::default(),
            sanctioned_region: Default::default(),
            impossible_travel: Default::default(),
            working_hours: Default::default(),
            anonymizer: Default::default(),
            shared_infrastructure: Default::default(),
            novelty: Default::default(),
            concurrent_sessions: Default::default(),
            long_session: Default::default(),
        }
    }
}

impl DetectConfig {
    /// Every problem with the detector settings.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = self.claimed_location.validate();
        if !(0.0..=24.0 * 7.0).contains(&self.lateness_hours) {
            errors.push("detect.lateness_hours must be between 0 and 168".to_owned());
        }
        for c in &self.watch_countries {
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                errors.push(format!(
                    "detect.watch_countries: {c:?} is not an ISO 3166-1 alpha-2 code"
                ));
            }
        }
        errors.extend(self.sanctioned_region.validate());
        errors.extend(self.impossible_travel.validate());
        errors.extend(self.working_hours.validate());
        errors.extend(self.anonymizer.validate());
        errors.extend(self.shared_infrastructure.validate());
        errors.extend(self.novelty.validate());
        errors.extend(self.concurrent_sessions.validate());
        errors.extend(self.long_session.validate());
        errors
    }
}

/// Every rule name, for metrics and summaries.
pub const NAMES: [&str; 9] = [
    claimed_location::NAME,
    sanctioned_region::NAME,
    impossible_travel::NAME,
    working_hours::NAME,
    anonymizer::NAME,
    shared_infrastructure::NAME,
    novelty::NAME,
    concurrent_sessions::NAME,
    long_session::NAME,
];

/// The family of evidence a rule reads, for the risk: rules of one family count once (by
/// the strongest), families add up (see [`crate::risk`]). An unknown rule is its own family.
pub fn family(rule: &str) -> &str {
    match rule {
        claimed_location::NAME
        | sanctioned_region::NAME
        | impossible_travel::NAME
        | concurrent_sessions::NAME
        | novelty::NAME => "location",
        working_hours::NAME => "hours",
        anonymizer::NAME => "anonymizer",
        shared_infrastructure::NAME => "infrastructure",
        long_session::NAME => "session",
        other => other,
    }
}

/// The learned, per-employee part of each detector that has one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectorStates {
    pub claimed_location: claimed_location::State,
    pub impossible_travel: impossible_travel::State,
    pub working_hours: working_hours::State,
    pub anonymizer: anonymizer::State,
    pub novelty: novelty::State,
    pub concurrent_sessions: concurrent_sessions::State,
}

/// Everything a detector may look at for one event, besides its own state.
pub struct Context<'a> {
    pub event: &'a LoginEvent,
    pub geo: &'a Geo,
    pub profile: &'a ClaimedProfile,
    /// The address is allowlisted (corporate egress tag, or an allowlisted network or ASN
    /// in `[suppress]`): it says nothing about where the person is.
    pub allowlisted: bool,
    /// An approved trip of this employee covering the event's time and country.
    pub trip: Option<&'a Trip>,
    /// Other employees seen on the same IPv4 address / IPv6 /64 within the
    /// shared-infrastructure window (this employee excluded).
    pub network: &'a [shared_infrastructure::Sighting],
    /// The watch countries (`[detect] watch_countries`).
    pub watch: &'a [String],
}

impl Context<'_> {
    /// Whether `country` is a watch country other than the claimed one.
    pub fn is_watch(&self, country: Option<&str>) -> bool {
        country.is_some_and(|c| {
            !c.eq_ignore_ascii_case(&self.profile.country)
                && self.watch.iter().any(|w| w.eq_ignore_ascii_case(c))
        })
    }
}

/// Run every enabled detector over one event and learn from it. Each detector judges the
/// event against its own state as it was before the event, then updates it; no detector
/// reads another's state, so this is the same as checking all before updating any.
pub fn apply(cfg: &DetectConfig, ctx: &Context<'_>, states: &mut DetectorStates) -> Vec<Finding> {
    let mut findings = Vec::new();
    let s = states;
    findings.extend(claimed_location::check(
        &cfg.claimed_location,
        ctx,
        &s.claimed_location,
    ));
    claimed_location::update(&cfg.claimed_location, ctx, &mut s.claimed_location);
    findings.extend(sanctioned_region::check(&cfg.sanctioned_region, ctx));
    findings.extend(impossible_travel::check(
        &cfg.impossible_travel,
        ctx,
        &s.impossible_travel,
    ));
    impossible_travel::update(&cfg.impossible_travel, ctx, &mut s.impossible_travel);
    findings.extend(working_hours::observe(
        &cfg.working_hours,
        ctx,
        &mut s.working_hours,
    ));
    findings.extend(anonymizer::check(&cfg.anonymizer, ctx, &s.anonymizer));
    anonymizer::update(&cfg.anonymizer, ctx, &mut s.anonymizer);
    findings.extend(shared_infrastructure::check(
        &cfg.shared_infrastructure,
        ctx,
    ));
    findings.extend(novelty::check(&cfg.novelty, ctx, &s.novelty));
    novelty::update(&cfg.novelty, ctx, &mut s.novelty);
    findings.extend(concurrent_sessions::check(
        &cfg.concurrent_sessions,
        ctx,
        &s.concurrent_sessions,
    ));
    concurrent_sessions::update(&cfg.concurrent_sessions, ctx, &mut s.concurrent_sessions);
    findings.extend(long_session::check(&cfg.long_session, ctx));
    findings
}
