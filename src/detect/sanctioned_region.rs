//! sanctioned_region: TODO (being written in the detectors issue).

use serde::Deserialize;

use super::Context;
use crate::alert::Finding;

/// The rule's stable name.
pub const NAME: &str = "sanctioned_region";

/// `[detect.sanctioned_region]`.
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

/// Findings for one event.
pub fn check(_cfg: &Config, _ctx: &Context<'_>) -> Vec<Finding> {
    Vec::new()
}
