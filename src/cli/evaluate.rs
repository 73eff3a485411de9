//! `driftwatch evaluate`: detection scored against a simulator's ground truth.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use driftwatch::evaluate;

#[derive(clap::Args)]
pub struct Args {
    /// Simulation folders (one per seed), each with truth.json, events/ and the configs.
    dirs: Vec<PathBuf>,
    /// List modes to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "deployed,full"
    )]
    lists: Vec<evaluate::run::ListMode>,
    /// City databases to enrich with, comma-separated: dbip (the world's own) and
    /// geolite2 (a second opinion the world was not built from).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "dbip,geolite2"
    )]
    city: Vec<evaluate::run::CityChoice>,
    /// Leave the peers out.
    #[arg(long)]
    no_peers: bool,
    /// The simulator's truth.json (scoring one replay's alert lines).
    #[arg(long, requires = "alerts", conflicts_with = "dirs")]
    truth: Option<PathBuf>,
    /// Alert lines written by `replay` (a file, or - for stdin), with --truth.
    #[arg(long, requires = "truth")]
    alerts: Option<PathBuf>,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let Args {
        dirs,
        lists,
        city,
        no_peers,
        truth,
        alerts,
        json,
    } = args;
    if let (Some(truth), Some(alerts)) = (truth, alerts) {
        return evaluate_alerts(&truth, &alerts, json);
    }
    if dirs.is_empty() {
        anyhow::bail!("give simulation folders, or --truth and --alerts");
    }
    let plan = evaluate::run::Plan {
        dirs,
        lists,
        cities: city,
        peers: !no_peers,
    };
    let report = evaluate::run::evaluate_plan(&plan, &mut |line| eprintln!("{line}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

/// `evaluate --truth --alerts`: score one replay's alert lines.
fn evaluate_alerts(truth: &Path, alerts: &Path, json: bool) -> Result<()> {
    let truth: evaluate::TruthFile = serde_json::from_slice(
        &std::fs::read(truth).with_context(|| format!("reading {}", truth.display()))?,
    )
    .with_context(|| format!("parsing {}", truth.display()))?;
    let text = if alerts == Path::new("-") {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(alerts).with_context(|| format!("reading {}", alerts.display()))?
    };
    let alerts = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            driftwatch::siem::read_alert(l.as_bytes())
                .with_context(|| format!("{} line {}", alerts.display(), i + 1))
        })
        .collect::<Result<Vec<driftwatch::alert::Alert>, _>>()
        .context("reading alert lines (driftwatch, OCSF or ECS)")?;
    let evaluation = evaluate::evaluate(&truth, &alerts);
    if json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        print!("{evaluation}");
    }
    Ok(())
}
