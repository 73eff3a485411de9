//! `driftwatch replay`: the core over files or stdin, alerts as JSON lines.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::Utc;

use driftwatch::config::{Config, ConfigError};
use driftwatch::decode::FormatChoice;
use driftwatch::drivers::input::Source;
use driftwatch::drivers::replay::{self, Output};
use driftwatch::engine::Engine;
use driftwatch::roster::Roster;
use driftwatch::sources::suppress_files;

#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (TOML). Without it: no roster, no GeoIP, defaults.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Roster file (CSV or JSON); overrides `[roster] path` in the config.
    #[arg(long)]
    roster: Option<PathBuf>,
    /// Input format: auto, okta, entra, google_workspace, ocsf, ecs, globalprotect,
    /// cisco_asa, openvpn, fortinet. Overrides `[decode] format`.
    #[arg(long)]
    format: Option<FormatChoice>,
    /// Where alerts go: a file, or - for stdout.
    #[arg(long, default_value = "-")]
    alerts_out: String,
    /// How alert lines are written: driftwatch (the alert object), ocsf (OCSF Detection
    /// Finding) or ecs (Elastic Common Schema). See docs/alerts.md, "Alerts in a SIEM".
    #[arg(long, value_enum, default_value = "driftwatch")]
    alerts_format: driftwatch::siem::AlertsFormat,
    /// Where rejected records go (JSON lines with the reason); overrides
    /// `[dead_letter] path`.
    #[arg(long)]
    dead_letter: Option<PathBuf>,
    /// Analysts' dispositions to apply (JSON lines: employee_id, alert_id, verdict
    /// true_positive|benign|false_positive, rules, time, until, note).
    #[arg(long)]
    dispositions: Option<PathBuf>,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// At most this many inputs open at once (more are merged in order through
    /// temporary files), whatever the number of inputs.
    #[arg(long, default_value_t = replay::MAX_OPEN_INPUTS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..))]
    max_open_inputs: usize,
    /// Also deliver the alerts to the `[[route.destination]]`s of the config
    /// (Alertmanager, PagerDuty, Slack, webhooks, files) once the replay is done. Off by
    /// default: replaying old logs should not page anyone by accident.
    #[arg(long)]
    route: bool,
    /// Input files or folders (every file in them), or - for stdin.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let Args {
        config,
        roster,
        format,
        alerts_out,
        alerts_format,
        dead_letter,
        dispositions,
        no_progress,
        max_open_inputs,
        route,
        inputs,
    } = args;
    let config = super::load_config(config.as_deref())?;
    if route && config.route.destination.is_empty() {
        return Err(ConfigError::Invalid {
            path: PathBuf::from("--config"),
            errors: vec!["--route: the configuration has no [[route.destination]]".into()],
        }
        .into());
    }
    let replay::Loaded {
        pipeline,
        roster,
        enricher,
        suppress,
    } = replay::Loaded::load(&config, roster.as_deref(), Utc::now())?;
    let mut engine = Engine::new(config.engine());
    if let Some(path) = &dispositions {
        for d in suppress_files::read_dispositions(path).context("loading dispositions")? {
            engine.dispose(&d);
        }
    }
    let mut sources = Vec::new();
    for arg in &inputs {
        sources.extend(Source::expand(arg).with_context(|| format!("reading {}", arg.display()))?);
    }
    let dead_letter = dead_letter.or(config.dead_letter.path.clone());
    let opts = replay::Options {
        inputs: sources,
        format: format.unwrap_or(config.decode.format),
        alerts_out: Output::parse(&alerts_out),
        alerts_format,
        dead_letter: dead_letter.clone(),
        dead_letter_filtered: config.dead_letter.include_filtered,
        dead_letter_max_bytes: config.dead_letter.max_bytes,
        progress: !no_progress,
        keep_alerts: route,
        max_open_inputs,
    };
    let core = replay::Core {
        pipeline: &pipeline,
        roster: &roster,
        enricher: &enricher,
        suppress: &suppress,
    };
    let report = replay::run(&core, &mut engine, &opts)?;
    eprint!("{}", report.summary(dead_letter.as_deref()));
    if route {
        deliver_replayed(&config, &report.alerts, &roster)?;
    }
    if !report.broken.is_empty() {
        let names: Vec<&str> = report.broken.iter().map(|(n, _)| n.as_str()).collect();
        anyhow::bail!(
            "{} input(s) broke before their end: {} (the others were read whole)",
            names.len(),
            names.join(", ")
        );
    }
    // Nothing readable at all is a failed run, not an empty success: the wrong
    // --format, the wrong files, or a collector that broke. Scripts check the status.
    let t = &report.tally;
    let bad: u64 = t
        .rejected
        .iter()
        .filter(|(reason, _)| reason.is_bad_input())
        .flat_map(|(_, by_format)| by_format.values())
        .sum();
    if t.records > 0 && t.decoded.is_empty() && bad > 0 {
        anyhow::bail!(
            "none of the {} records could be read ({bad} rejected as bad input): \
             is the --format right?",
            t.records
        );
    }
    Ok(())
}

/// `replay --route`: every alert to every destination that wants it, retried until
/// delivered or refused (Ctrl-C stops). A refusal fails the command, listing each alert.
fn deliver_replayed(
    config: &Config,
    alerts: &[driftwatch::alert::Alert],
    roster: &Roster,
) -> Result<()> {
    use driftwatch::route::deliver;
    use std::sync::Arc;
    use tokio_util::sync::CancellationToken;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let stop = CancellationToken::new();
    let s = stop.clone();
    runtime.spawn(async move {
        driftwatch::service::server::shutdown_signal().await;
        s.cancel();
    });
    let metrics = Arc::new(driftwatch::telemetry::Metrics::new());
    let results = runtime.block_on(deliver::deliver_all(
        &config.route,
        alerts,
        roster,
        metrics,
        stop,
    ))?;
    let mut failed = Vec::new();
    for d in &results {
        eprintln!(
            "route {}: {} delivered, {} refused, {} not for this destination{}",
            d.destination,
            d.delivered,
            d.rejected.len(),
            d.skipped,
            if d.interrupted { " (interrupted)" } else { "" }
        );
        for (id, why) in &d.rejected {
            failed.push(format!("{} refused {id}: {why}", d.destination));
        }
        if d.interrupted {
            failed.push(format!(
                "{}: interrupted before every alert was delivered",
                d.destination
            ));
        }
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("alerts not delivered:\n  {}", failed.join("\n  "))
    }
}
