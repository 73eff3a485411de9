//! `driftwatch run`: the streaming service on Kafka.

use std::path::PathBuf;

use anyhow::{Context, Result};
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

/// The service on its own threads, HTTP and signals on a small runtime.
fn serve(config: &Config, stages: &[driftwatch::service::Stage]) -> Result<()> {
    use driftwatch::service::{self, Ended, Handles, http};
    use std::sync::atomic::Ordering;

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

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let handles = Handles::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(config.service.listen))
        .with_context(|| format!("listening on {}", config.service.listen))?;
    eprintln!(
        "driftwatch: serving /metrics, /healthz and /readyz on http://{}",
        listener.local_addr()?
    );
    let (http_stop, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(http::serve(
        listener,
        std::sync::Arc::clone(&handles.metrics),
        std::sync::Arc::clone(&handles.health),
        std::sync::Arc::clone(&handles.api),
        async move {
            let _ = http_stopped.await;
        },
    ));
    let stop = std::sync::Arc::clone(&handles.stop);
    runtime.spawn(async move {
        super::shutdown_signal().await;
        tracing::info!("shutdown requested");
        stop.store(true, Ordering::SeqCst);
    });
    let ended = service::run_bounded(config, stages, runtime.handle().clone(), &handles);
    let _ = http_stop.send(());
    let _ = runtime.block_on(server);
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match ended? {
        Ended::Clean => Ok(()),
        Ended::DeadlinePassed => anyhow::bail!(
            "stages were still busy after {} s (service.shutdown_deadline_secs); their \
             uncommitted input will be read again",
            config.service.shutdown_deadline_secs
        ),
    }
}
