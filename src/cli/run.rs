//! `driftwatch run`: the streaming service on Kafka.

use std::path::PathBuf;

use anyhow::Result;
use chrono::Utc;

use driftwatch::config::{Config, ConfigError};
use driftwatch::drivers::replay;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, short, default_value = "driftwatch.toml")]
    config: PathBuf,
    /// Stages this process runs (comma-separated). Default: all of them.
    #[arg(long, value_delimiter = ',', default_values = ["ingest", "detect", "infra", "route", "audit"])]
    stages: Vec<driftwatch::service::Stage>,
}

pub fn run(args: Args) -> Result<()> {
    let config = Config::load(&args.config)?;
    serve(&config, &args.stages)
}

/// The service on its own threads, HTTP and signals on the shared server start.
fn serve(config: &Config, stages: &[driftwatch::service::Stage]) -> Result<()> {
    use driftwatch::service::server::Server;
    use driftwatch::service::{self, Ended};

    // Secrets named in [kafka.client] are needed from here on only (not to load the file).
    let missing = config
        .kafka
        .as_ref()
        .map(|k| k.missing_environment())
        .unwrap_or_default();
    if !missing.is_empty() {
        return Err(ConfigError::Invalid {
            path: config.source.clone().unwrap_or_default(),
            errors: missing,
        }
        .into());
    }

    // Everything the files say is checked before anything listens or connects, as
    // check-config checks it: a broken roster, database or trip list is a configuration
    // error (exit 2), not a service that answers /healthz and then dies.
    let roster_file = config
        .kafka
        .as_ref()
        .is_none_or(|k| k.roster_topic.is_none());
    let roster = roster_file
        .then(|| config.roster.as_ref().map(|r| r.path.clone()))
        .flatten();
    let checked = config.clone();
    let checked = driftwatch::config::Config {
        roster: if roster_file { checked.roster } else { None },
        ..checked
    };
    replay::Loaded::load(&checked, roster.as_deref(), Utc::now())?;

    let server = Server::start(config.service.listen)?;
    eprintln!(
        "driftwatch: serving /metrics, /healthz and /readyz on http://{}",
        server.addr()
    );
    let ended = service::run_bounded(config, stages, server.runtime(), server.handles());
    server.shutdown();
    match ended? {
        Ended::Clean => Ok(()),
        Ended::DeadlinePassed => anyhow::bail!(
            "stages were still busy after {} s (service.shutdown_deadline_secs); their \
             uncommitted input will be read again",
            config.service.shutdown_deadline_secs
        ),
    }
}
