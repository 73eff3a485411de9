//! `driftwatch audit verify|prune`. A log that does not verify fails the command (exit 1),
//! naming each problem; a missing `[audit] path` or a bad cutoff is bad usage (exit 2).

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Subcommand;

use driftwatch::audit;
use driftwatch::config::{Config, ConfigError};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check every record's hash and the chain between them; name the line and seq of each
    /// modified, removed, reordered or garbled record (exit 1).
    Verify {
        #[command(flatten)]
        log: AuditLogArg,
        /// A head hash published earlier (the compliance report prints one): fail unless
        /// that record is still in the log, which shows records cut off its end.
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
    },
    /// Drop the records older than the retention period behind a hashed anchor, so the
    /// rest still verifies. Refused while a writer (`driftwatch run`) holds the log.
    Prune {
        #[command(flatten)]
        log: AuditLogArg,
        /// Drop records older than this date (YYYY-MM-DD, UTC) or time (RFC 3339).
        /// Default: `[audit] retention_days` days ago.
        #[arg(long, conflicts_with = "older_than_days")]
        before: Option<String>,
        /// Drop records older than this many days.
        #[arg(long)]
        older_than_days: Option<u32>,
    },
}

/// Which audit log: the one a configuration names, or a file.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct AuditLogArg {
    /// Configuration file whose `[audit] path` is the log.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The audit log file.
    #[arg(long)]
    log: Option<PathBuf>,
}

pub fn run(command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify { log, expect_head } => verify(&log, expect_head.as_deref()),
        AuditCommand::Prune {
            log,
            before,
            older_than_days,
        } => prune(&log, before.as_deref(), older_than_days),
    }
}

fn verify(log: &AuditLogArg, expect_head: Option<&str>) -> Result<()> {
    let (path, _) = log_path(log)?;
    let context = || format!("verifying audit log {}", path.display());
    let (verified, expected_seq) = match expect_head {
        Some(hash) => {
            let (v, seq) = audit::verify_head(&path, hash.trim()).with_context(context)?;
            (v, Some(seq))
        }
        None => (audit::verify(&path).with_context(context)?, None),
    };
    match &verified.head {
        Some(head) => {
            println!(
                "{}: OK, {} record(s), seq {} to {}",
                path.display(),
                verified.records,
                verified.first_seq,
                head.seq
            );
            println!("  head: seq {} hash {}", head.seq, head.hash);
        }
        None => println!("{}: OK, empty", path.display()),
    }
    if let Some(before) = verified.pruned_before {
        println!(
            "  pruned: starts with a retention anchor, records before {} dropped",
            before.to_rfc3339()
        );
    }
    if let (Some(hash), Some(seq)) = (expect_head, expected_seq) {
        println!("  expected head {}: present, seq {seq}", hash.trim());
    }
    Ok(())
}

fn prune(log: &AuditLogArg, before: Option<&str>, older_than_days: Option<u32>) -> Result<()> {
    let (path, config) = log_path(log)?;
    let now = Utc::now();
    let cutoff = match (before, older_than_days) {
        (Some(text), _) => parse_cutoff(text).map_err(|e| usage("--before", e))?,
        (None, Some(days)) => audit::retention_cutoff(days, now),
        (None, None) => match config.as_ref().and_then(|c| c.audit.cutoff(now)) {
            Some(t) => t,
            None => {
                return Err(usage(
                    "--before",
                    "give --before or --older-than-days, or a config with \
                     [audit] retention_days"
                        .to_owned(),
                ));
            }
        },
    };
    if cutoff > now {
        return Err(usage(
            "--before",
            format!("{} is in the future: that would drop every record", cutoff),
        ));
    }
    let pruned = audit::prune(&path, cutoff)
        .with_context(|| format!("pruning audit log {}", path.display()))?;
    if pruned.dropped == 0 {
        println!(
            "{}: nothing older than {} to drop ({} record(s))",
            path.display(),
            cutoff.to_rfc3339(),
            pruned.kept
        );
    } else {
        println!(
            "{}: dropped {} record(s) older than {}, kept {} after the retention anchor",
            path.display(),
            pruned.dropped,
            cutoff.to_rfc3339(),
            pruned.kept
        );
    }
    if let Some(head) = &pruned.head {
        println!("  head: seq {} hash {}", head.seq, head.hash);
    }
    Ok(())
}

/// The log `arg` names, and the configuration it came from (for its retention).
fn log_path(arg: &AuditLogArg) -> Result<(PathBuf, Option<Config>)> {
    if let Some(p) = &arg.log {
        return Ok((p.clone(), None));
    }
    let config_path = arg.config.clone().unwrap_or_default();
    let config = Config::load(&config_path)?;
    match config.audit.path.clone() {
        Some(p) => Ok((p, Some(config))),
        None => Err(ConfigError::Invalid {
            path: config_path,
            errors: vec!["[audit] path is not set: there is no audit log".to_owned()],
        }
        .into()),
    }
}

/// A bad flag value: bad usage (exit 2).
fn usage(flag: &str, error: String) -> anyhow::Error {
    ConfigError::Invalid {
        path: PathBuf::from(flag),
        errors: vec![error],
    }
    .into()
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
fn parse_cutoff(text: &str) -> std::result::Result<chrono::DateTime<Utc>, String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{text:?}: expected YYYY-MM-DD or an RFC 3339 time"))
}
