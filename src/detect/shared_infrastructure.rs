//! shared_infrastructure: TODO (being written in the detectors issue).

use serde::{Deserialize, Serialize};

use super::Context;
use crate::alert::Finding;

/// The rule's stable name.
pub const NAME: &str = "shared_infrastructure";

/// `[detect.shared_infrastructure]`.
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

/// One employee seen on a network (an IPv4 address or IPv6 /64).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sighting {
    pub employee_id: crate::roster::EmployeeId,
    /// Where that employee claims to be.
    pub claimed_country: String,
    pub claimed_point: Option<(f64, f64)>,
    /// When they were last seen on the network.
    pub last_seen: chrono::DateTime<chrono::Utc>,
}

/// Which employees were seen on which network, for the cross-employee check. Owned by the
/// engine (in the streaming service, by the infra stage keyed by network).
#[derive(Debug, Default)]
pub struct NetworkIndex {}

impl NetworkIndex {
    /// Other employees seen on the network of `event`'s address within the window.
    pub fn view(
        &self,
        _cfg: &Config,
        _event: &crate::event::LoginEvent,
        _employee: &crate::roster::EmployeeId,
    ) -> Vec<Sighting> {
        Vec::new()
    }

    /// Remember that the employee of `ctx` was on this network.
    pub fn observe(&mut self, _cfg: &Config, _ctx: &Context<'_>) {}
}
