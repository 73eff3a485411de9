//! `driftwatch report`: the compliance report for a period.

use std::path::PathBuf;

use anyhow::Result;
use chrono::Utc;

use driftwatch::decode::FormatChoice;
use driftwatch::report;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, short)]
    config: PathBuf,
    /// First instant of the period: YYYY-MM-DD (midnight UTC) or RFC 3339.
    #[arg(long, value_parser = report::parse_bound)]
    from: chrono::DateTime<Utc>,
    /// End of the period, not included: `--from 2026-10-01 --to 2026-11-01` is October.
    #[arg(long, value_parser = report::parse_bound)]
    to: chrono::DateTime<Utc>,
    /// html, csv or json; several, comma-separated, with --out a folder.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "html")]
    format: Vec<report::ReportFormat>,
    /// A file, or a folder: one file per format named after the period
    /// (driftwatch-report-FROM--TO.html). Default stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace employee ids (and account names in alert text) by keyed pseudonyms;
    /// the key is DRIFTWATCH_REPORT_KEY, or a random one used once when unset.
    #[arg(long)]
    pseudonymise: bool,
    /// The audit log: dispositions and the head hash (its chain is verified first).
    #[arg(long)]
    audit_log: Option<PathBuf>,
    /// Input format; overrides `[decode] format`.
    #[arg(long = "input-format")]
    input_format: Option<FormatChoice>,
    /// The period's login logs (and earlier ones, for baselines): files or folders.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let period = report::Period::new(args.from, args.to)?;
    let outputs = report::outputs(&args.format, args.out.as_deref(), period)?;
    let compliance = report::generate(&report::Job {
        config_path: &args.config,
        inputs: &args.inputs,
        period,
        input_format: args.input_format,
        audit_log: args.audit_log.as_deref(),
        pseudonymise: args.pseudonymise,
    })?;
    for (format, path) in outputs {
        let text = report::render(&compliance, format)?;
        report::write(path.as_deref(), &text)?;
    }
    Ok(())
}
