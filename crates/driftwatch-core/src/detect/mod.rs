//! Detect: the detectors, one file each. A detector is a pure function of the event, its
//! enrichment, the claimed profile, the detector's own per-employee state and the clock
//! (event time); it does no I/O.
//!
//! Every detector file has the same parts, so a reader finds any rule in one `ls`:
//! `NAME` (the rule name in alerts), `Config` (its `[detect.NAME]` table, with defaults and
//! [`Validate`]), `check(cfg, ctx, ...)`, and for a detector that learns from an employee's
//! history `State` and `update(cfg, ctx, &mut State)`. Each file ends in a `Rule` that
//! implements [`Detector`], and the registration table at the foot of this module lists
//! every `Rule` once: a new detector is one file and one line there. The table makes the
//! `[detect]` settings ([`DetectConfig`]), the per-employee memory ([`DetectorStates`]),
//! the rule names ([`NAMES`]), their families ([`family`]) and the step over one event
//! ([`apply`]).

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

/// The date of a [`day_of`] number, for evidence.
pub(crate) fn date_of(day: i32) -> String {
    chrono::NaiveDate::from_num_days_from_ce_opt(day)
        .map_or_else(|| day.to_string(), |d| d.to_string())
}

/// `s` cut to at most `max` characters: state keeps free text bounded.
pub(crate) fn truncated<S: FromIterator<char>>(s: &str, max: usize) -> S {
    s.chars().take(max).collect()
}

/// The evidence a rule reads. Rules of one family count once in an employee's risk, by the
/// strongest; families add up (see [`crate::risk`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Where the logins are: claimed_location, sanctioned_region, impossible_travel,
    /// concurrent_sessions, novelty.
    Location,
    /// When the employee works: working_hours.
    Hours,
    /// Through what: anonymizer.
    Anonymizer,
    /// With whom: shared_infrastructure.
    Infrastructure,
    /// How long a session lasts: long_session.
    Session,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Location => "location",
            Family::Hours => "hours",
            Family::Anonymizer => "anonymizer",
            Family::Infrastructure => "infrastructure",
            Family::Session => "session",
        }
    }
}

/// What a rule's findings say of the profile HR holds: the compliance report's exceptions
/// are employees whose alerts name a rule that checks the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The logins are away from the claimed place: another country or region, journeys no
    /// one could make, two places at once, hidden exits, a network shared with people
    /// claiming other places.
    Place,
    /// The work is at other hours than the claimed time zone's.
    Hours,
    /// Context, not a claim broken: a new device or network, a long session.
    Context,
}

/// One rule: its name, the evidence it reads, its settings, its memory of one employee,
/// and one step over an event. Implemented by each detector file's `Rule`.
pub trait Detector {
    /// The rule's stable name: in alerts and metrics, and its `[detect.<NAME>]` table.
    const NAME: &'static str;
    const FAMILY: Family;
    /// What its findings say of the claimed profile (see [`Claim`]).
    const CLAIM: Claim;
    /// `[detect.<NAME>]`.
    type Config: Default + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Validate;
    /// What it remembers per employee; [`NoState`] for a rule that judges each event alone.
    type State: Default
        + Clone
        + PartialEq
        + std::fmt::Debug
        + Serialize
        + serde::de::DeserializeOwned;
    /// Judge the event against the memory as it was before it, then learn from it.
    fn observe(cfg: &Self::Config, ctx: &Context<'_>, state: &mut Self::State) -> Vec<Finding>;
}

/// A detector's settings, checked when the configuration is loaded.
/// The error for each of a rule's risk settings above 100 (a risk is a share of the 0–100
/// scale every rule scores on): `detect.RULE.FIELD: N is above 100`.
pub(crate) fn risks_above_100(rule: &str, risks: &[(&str, u8)]) -> Vec<String> {
    risks
        .iter()
        .filter(|(_, risk)| *risk > 100)
        .map(|(field, risk)| format!("detect.{rule}.{field}: {risk} is above 100"))
        .collect()
}

pub trait Validate {
    /// Every problem with these settings, each naming its `detect.<rule>.<field>`.
    fn validate(&self) -> Vec<String>;
}

/// The memory of a rule that keeps none (nothing in the encoded state).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoState;

/// Builds everything that lists the detectors from the one registration table below.
macro_rules! detectors {
    ($($field:ident => $rule:ty),+ $(,)?) => {
        /// Settings of every detector: `[detect.<name>]` tables in the config file.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct DetectConfig {
            /// How late (hours of event time) an event may arrive and still be applied in
            /// order. Default 6: collectors batch and sources lag, and the order matters to
            /// travel and session detectors. Alerts wait this long behind the newest event.
            pub lateness_hours: f64,
            /// Countries (ISO 3166-1 alpha-2) where a login is serious on first sight for
            /// someone claiming another country, hosting and VPN exits there included: high
            /// in `claimed_location`, and a journey to or from one is high in the travel
            /// rules. Default CN, RU: the operators work mainly from China and Russia
            /// (Mandiant UNC5267, Sep 2024; Microsoft Jasper Sleet, Jun 2025). Sanctioned
            /// countries (KP, IR, CU, SY) are `sanctioned_region`'s, critical.
            pub watch_countries: Vec<String>,
            $(
                #[doc = concat!("`[detect.", stringify!($field), "]`")]
                pub $field: <$rule as Detector>::Config,
            )+
        }

        impl Default for DetectConfig {
            fn default() -> Self {
                DetectConfig {
                    lateness_hours: 6.0,
                    watch_countries: vec!["CN".to_owned(), "RU".to_owned()],
                    $($field: Default::default(),)+
                }
            }
        }

        impl DetectConfig {
            /// Every problem with the detector settings.
            pub fn validate(&self) -> Vec<String> {
                let mut errors = Vec::new();
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
                $(errors.extend(Validate::validate(&self.$field));)+
                errors
            }
        }

        /// Each detector's memory of one employee, in the table's order.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct DetectorStates {
            $(pub $field: <$rule as Detector>::State,)+
        }

        /// Every rule name, in the table's order: for metrics, filters and summaries.
        pub const NAMES: &[&str] = &[$(<$rule as Detector>::NAME),+];

        /// The family of evidence a rule reads, for the risk (see [`Family`]). An unknown
        /// rule is its own family.
        pub fn family(rule: &str) -> &str {
            $(
                if rule == <$rule as Detector>::NAME {
                    return <$rule as Detector>::FAMILY.as_str();
                }
            )+
            rule
        }

        /// What a rule's findings say of the claimed profile; `None` for an unknown rule.
        pub fn claim(rule: &str) -> Option<Claim> {
            $(
                if rule == <$rule as Detector>::NAME {
                    return Some(<$rule as Detector>::CLAIM);
                }
            )+
            None
        }

        /// Run every detector over one event, in the table's order, and learn from it. Each
        /// judges the event against its own memory as it was before the event, then updates
        /// it; no detector reads another's memory. A disabled detector returns nothing.
        pub fn apply(
            cfg: &DetectConfig,
            ctx: &Context<'_>,
            states: &mut DetectorStates,
        ) -> Vec<Finding> {
            let mut findings = Vec::new();
            $(findings.extend(<$rule as Detector>::observe(&cfg.$field, ctx, &mut states.$field));)+
            findings
        }

        #[cfg(test)]
        #[test]
        fn each_table_entry_is_named_as_its_rule() {
            assert_eq!([$(stringify!($field)),+].as_slice(), NAMES);
        }
    };
}

// The registration table: one line per detector, in the order findings are listed.
detectors! {
    claimed_location => claimed_location::Rule,
    sanctioned_region => sanctioned_region::Rule,
    impossible_travel => impossible_travel::Rule,
    working_hours => working_hours::Rule,
    anonymizer => anonymizer::Rule,
    shared_infrastructure => shared_infrastructure::Rule,
    novelty => novelty::Rule,
    concurrent_sessions => concurrent_sessions::Rule,
    long_session => long_session::Rule,
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
