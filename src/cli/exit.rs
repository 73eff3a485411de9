//! The exit-code policy, in one place: a failed command's code is read from the types of
//! its errors, never from their text (docs/commands.md, "Exit codes").
//!
//! | code | when |
//! |---|---|
//! | 0 | success (and `--help`, `--version`) |
//! | 1 | a run that failed: unreadable input, unwritable output, an input that broke mid-way, a replay that read nothing, a service or broker that failed, an audit log that does not verify or is locked, a demo that raised no alert |
//! | 2 | bad usage or configuration: clap's own errors, [`ConfigError`] (also the ad hoc flag checks, which name the flag as its path), a roster, GeoIP database, list or suppression file that does not load ([`LoadError`], [`RosterError`], [`EnrichError`], [`SuppressError`]), [`ReportError::Usage`], an impossible simulation ([`SimError::TooFewEmployees`], [`SimError::Days`]), `DRIFTWATCH_LOG_FORMAT` ([`UnknownLogFormat`]) |
//!
//! The outermost error in the chain whose type this module knows decides: context added
//! with `anyhow` is looked through, and an error that wraps another decides for it (the
//! demo's own simulated config failing to load is the demo's failure, not the operator's
//! configuration error). An error of no known type is a failed run.

use std::error::Error;
use std::process::ExitCode;

use driftwatch::audit::AuditError;
use driftwatch::config::ConfigError;
use driftwatch::drivers::demo::DemoError;
use driftwatch::drivers::replay::{LoadError, ReplayError};
use driftwatch::enrich::EnrichError;
use driftwatch::enrich::asn_csv::BuildAsnError;
use driftwatch::evaluate::run::RunError;
use driftwatch::logs::UnknownLogFormat;
use driftwatch::report::ReportError;
use driftwatch::roster::RosterError;
use driftwatch::route::deliver::RouteError;
use driftwatch::service::ServiceError;
use driftwatch::service::server::StartError;
use driftwatch::simulate::SimError;
use driftwatch::suppress::SuppressError;

/// How a command ended, as a script sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: it did what it was asked.
    Success = 0,
    /// 1: it ran and failed; running it again on other input or later may work.
    Failed = 1,
    /// 2: bad usage or configuration: the operator's to fix before it can run.
    Usage = 2,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// The exit code of a command that failed with `e`.
pub fn code(e: &anyhow::Error) -> Exit {
    e.chain().find_map(classify).unwrap_or(Exit::Failed)
}

/// What `e`'s own type says, or `None` for a type that leaves it to its source.
fn classify(e: &(dyn Error + 'static)) -> Option<Exit> {
    use Exit::{Failed, Usage};

    let configuration = e.is::<ConfigError>()
        || e.is::<LoadError>()
        || e.is::<RosterError>()
        || e.is::<EnrichError>()
        || e.is::<SuppressError>()
        || e.is::<UnknownLogFormat>();
    if configuration {
        return Some(Usage);
    }
    if let Some(e) = e.downcast_ref::<ReportError>() {
        return Some(if e.is_usage() { Usage } else { Failed });
    }
    if let Some(e) = e.downcast_ref::<SimError>() {
        return Some(simulation(e));
    }
    if let Some(e) = e.downcast_ref::<RunError>() {
        return Some(match e {
            RunError::Config(_) | RunError::Load(_) => Usage,
            RunError::Read { .. } | RunError::Replay(_) | RunError::Missing { .. } => Failed,
        });
    }
    if let Some(e) = e.downcast_ref::<DemoError>() {
        return Some(match e {
            DemoError::Simulate(e) => simulation(e),
            // Everything else is the demo's own doing: its config, broker and service.
            _ => Failed,
        });
    }
    // `run` checks the configuration and every file it names before it listens (as
    // check-config does, exit 2); a service started without that check (the demo) says
    // the same of its own set-up; what fails once the service is up is a failed run.
    if let Some(e) = e.downcast_ref::<ServiceError>() {
        return Some(if e.is_configuration() { Usage } else { Failed });
    }
    let failed = e.is::<StartError>()
        || e.is::<ReplayError>()
        || e.is::<AuditError>()
        || e.is::<RouteError>()
        || e.is::<BuildAsnError>();
    failed.then_some(Failed)
}

/// A simulation that cannot be planted is bad usage; one that cannot be written failed.
fn simulation(e: &SimError) -> Exit {
    match e {
        SimError::TooFewEmployees { .. } | SimError::Days(_) => Exit::Usage,
        SimError::Io { .. }
        | SimError::Mmdb(_)
        | SimError::Encode { .. }
        | SimError::RealData { .. } => Exit::Failed,
    }
}

/// The error as the command prints it: each cause after the one it explains, joined by
/// ": ", leaving out a cause whose text the message before already ends with (many errors
/// name their cause in their own message and also keep it as the source).
pub fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {

    /// Regression: a cause named in its error's own message was printed twice
    /// ("cannot read x: No such file…: No such file…").
    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot read x.toml: {0}")]
        struct Read(#[source] std::io::Error);
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(Read(io())).context("loading the configuration");
        assert_eq!(
            message(&e),
            "loading the configuration: cannot read x.toml: No such file"
        );
        let plain = anyhow::Error::new(io()).context("opening");
        assert_eq!(message(&plain), "opening: No such file");
    }
    use std::path::PathBuf;

    use anyhow::Context;

    use super::*;

    fn config_error() -> ConfigError {
        ConfigError::Invalid {
            path: PathBuf::from("driftwatch.toml"),
            errors: vec!["bad".to_owned()],
        }
    }

    fn io() -> std::io::Error {
        std::io::Error::other("disk on fire")
    }

    fn exit(e: impl Into<anyhow::Error>) -> Exit {
        code(&e.into())
    }

    #[test]
    fn configuration_and_usage_errors_exit_2() {
        assert_eq!(exit(config_error()), Exit::Usage);
        assert_eq!(
            exit(LoadError::Roster {
                path: PathBuf::from("roster.csv"),
                error: RosterError::Empty,
            }),
            Exit::Usage
        );
        assert_eq!(
            exit(LoadError::Enrich(EnrichError::Config(vec!["x".into()]))),
            Exit::Usage
        );
        assert_eq!(exit(RosterError::Empty), Exit::Usage);
        assert_eq!(exit(EnrichError::Config(vec!["x".into()])), Exit::Usage);
        assert_eq!(
            exit(SuppressError::Invalid {
                path: PathBuf::from("trips.csv"),
                errors: vec!["x".into()],
            }),
            Exit::Usage
        );
        assert_eq!(exit(ReportError::Usage("--format".into())), Exit::Usage);
        assert_eq!(exit(SimError::Days(3)), Exit::Usage);
        assert_eq!(
            exit(SimError::TooFewEmployees {
                given: 5,
                needed: 60
            }),
            Exit::Usage
        );
        assert_eq!(exit(RunError::Config(config_error())), Exit::Usage);
        assert_eq!(
            exit(DemoError::Simulate(SimError::Days(3))),
            Exit::Usage,
            "the demo's --days is the simulator's"
        );
        assert_eq!(exit(UnknownLogFormat("xml".into())), Exit::Usage);
    }

    #[test]
    fn failed_runs_exit_1() {
        assert_eq!(
            exit(anyhow::anyhow!("the demo raised no alert")),
            Exit::Failed
        );
        assert_eq!(
            exit(ReplayError::Input {
                source_name: "a.log".into(),
                error: io(),
            }),
            Exit::Failed
        );
        assert_eq!(exit(ReportError::Render("x".into())), Exit::Failed);
        assert_eq!(
            exit(SimError::RealData {
                message: "no City database".into()
            }),
            Exit::Failed
        );
        assert_eq!(
            exit(RunError::Missing {
                dir: PathBuf::from("sim"),
                what: "geolite2",
            }),
            Exit::Failed
        );
        assert_eq!(
            exit(AuditError::Locked {
                path: PathBuf::from("audit.jsonl")
            }),
            Exit::Failed
        );
        assert_eq!(
            exit(ServiceError::Topic {
                topic: "t".into(),
                message: "gone".into(),
            }),
            Exit::Failed
        );
        assert_eq!(exit(StartError::Runtime(io())), Exit::Failed);
        // The service's own set-up checks are configuration, as `run`'s pre-checks are.
        for e in [
            ServiceError::NoKafkaSection,
            ServiceError::MissingEnvironment(vec!["KAFKA_PASSWORD is not set".into()]),
            ServiceError::NoRoster,
            ServiceError::NoInputTopics,
        ] {
            assert_eq!(exit(e), Exit::Usage);
        }
        assert_eq!(exit(ServiceError::ProducerGone), Exit::Failed);
        assert_eq!(
            exit(RouteError::Setup {
                name: "pager".into(),
                message: "x".into(),
            }),
            Exit::Failed
        );
        assert_eq!(
            exit(BuildAsnError::Empty {
                files: "asn.csv".into()
            }),
            Exit::Failed
        );
        assert_eq!(exit(DemoError::NotReady), Exit::Failed);
    }

    #[test]
    fn context_is_looked_through_and_the_outer_type_decides() {
        let wrapped = Err::<(), _>(config_error())
            .context("loading dispositions")
            .unwrap_err();
        assert_eq!(code(&wrapped), Exit::Usage);
        // The demo's own simulated config failing is the demo's failure.
        assert_eq!(exit(DemoError::Config(config_error())), Exit::Failed);
        // A report that breaks on an input is a failed run, whatever the input.
        assert_eq!(
            exit(ReportError::Replay(ReplayError::Output {
                what: "alerts",
                error: io(),
            })),
            Exit::Failed
        );
    }

    #[test]
    fn codes_are_the_documented_numbers() {
        assert_eq!(Exit::Success as u8, 0);
        assert_eq!(Exit::Failed as u8, 1);
        assert_eq!(Exit::Usage as u8, 2);
    }
}
