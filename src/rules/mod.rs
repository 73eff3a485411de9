//! Detect: rules that turn one enriched, resolved event into findings. Each rule is a pure
//! function in its own file with its settings beside it.
//!
//! Until the detectors issue lands the only rule is [`claimed_location`]: a login from
//! outside the employee's claimed country.

pub mod claimed_location;

use serde::Deserialize;

use crate::alert::Finding;
use crate::enrich::Geo;
use crate::event::LoginEvent;
use crate::roster::ClaimedProfile;

/// Settings of every rule (`[rules]` in the config file).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// `[rules.claimed_location]`.
    #[serde(default)]
    pub claimed_location: claimed_location::Config,
}

impl RulesConfig {
    /// Every problem with the rule settings.
    pub fn validate(&self) -> Vec<String> {
        self.claimed_location.validate()
    }
}

/// Everything a rule may look at for one event.
pub struct Input<'a> {
    pub event: &'a LoginEvent,
    pub profile: &'a ClaimedProfile,
    pub geo: &'a Geo,
}

/// Run every enabled rule over one event. Only interactive kinds are scored: token
/// refreshes and service principals say nothing about where a person sits.
pub fn evaluate(cfg: &RulesConfig, input: &Input<'_>) -> Vec<Finding> {
    if !input.event.kind.is_interactive() {
        return Vec::new();
    }
    claimed_location::check(&cfg.claimed_location, input)
        .into_iter()
        .collect()
}
