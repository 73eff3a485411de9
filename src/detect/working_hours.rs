//! working_hours: TODO (being written in the detectors issue).

use serde::{Deserialize, Serialize};

use super::Context;
use crate::alert::Finding;

/// The rule's stable name.
pub const NAME: &str = "working_hours";

/// `[detect.working_hours]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run the detector at all.
    pub enabled: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { enabled: true }
    }
}

impl Config {
    /// Every problem with these settings.
    pub fn validate(&self) -> Vec<String> {
        Vec::new()
    }
}

/// What this detector remembers about one employee.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {}

/// Findings for one event, against the state before it.
pub fn check(_cfg: &Config, _ctx: &Context<'_>, _state: &State) -> Vec<Finding> {
    Vec::new()
}

/// Learn from one event.
pub fn update(_cfg: &Config, _ctx: &Context<'_>, _state: &mut State) {}
