//! The exit code of a failed command.

use driftwatch::config::ConfigError;
use driftwatch::enrich::EnrichError;
use driftwatch::roster::RosterError;
use driftwatch::simulate::SimError;
use driftwatch::suppress::SuppressError;

/// A broken config file, roster or database is the operator's to fix (exit 2), not a
/// failed run.
pub fn is_configuration_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<ConfigError>().is_some()
            || c.downcast_ref::<RosterError>().is_some()
            || c.downcast_ref::<EnrichError>().is_some()
            || c.downcast_ref::<SuppressError>().is_some()
            || c.downcast_ref::<driftwatch::report::ReportError>()
                .is_some_and(driftwatch::report::ReportError::is_usage)
            || matches!(
                c.downcast_ref::<SimError>(),
                Some(SimError::TooFewEmployees { .. } | SimError::Days(_))
            )
    })
}
