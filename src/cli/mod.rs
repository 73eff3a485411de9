//! The command line: one module per command, each with its flags (`Args`) and what it does
//! (`run`). This module holds the list of commands and dispatches to them; `main` maps
//! the result to an exit code ([`exit`]).
//!
//! Commands return `anyhow::Result`: the binary is the edge where typed errors from the
//! library meet, and [`exit::code`] reads their types back to pick the exit code.

use std::path::Path;

use anyhow::Result;
use clap::{Parser, Subcommand};

use driftwatch::config::Config;

mod api_token;
mod audit;
mod check_config;
mod demo;
mod evaluate;
pub mod exit;
mod geoip;
mod replay;
mod report;
mod run;
mod simulate;

#[derive(Parser)]
#[command(
    name = "driftwatch",
    version,
    about = "Are remote employees where and when they claim to be?"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the core over NDJSON / syslog files (plain or gzip) or stdin and write alerts
    /// as JSON lines.
    Replay(replay::Args),
    /// Run as a streaming service on Kafka: consume the `[[kafka.input]]` topics, write
    /// alerts to the alerts topic, serve /metrics, /healthz and /readyz. Stops cleanly on
    /// SIGTERM or SIGINT.
    Run(run::Args),
    /// Validate a configuration file and everything it points to (roster, databases,
    /// lists); print every problem at once.
    CheckConfig(check_config::Args),
    /// Write a simulated company: roster, GeoIP databases and lists, Okta and Cisco ASA
    /// logs with planted legitimate and fraudulent cases, ground truth and a config.
    Simulate(simulate::Args),
    /// A compliance report for a period (HTML, CSV or JSON), re-derived from the raw login
    /// logs with the replay core: population figures, one row per employee, the period's
    /// alerts and dispositions, and the method (settings, GeoIP builds, file digests,
    /// audit-log head).
    Report(report::Args),
    /// Score detection against a simulator's ground truth. With simulation folders
    /// (`driftwatch simulate --world real`): replay each in both list modes (what a
    /// deployment has, and the simulator's full truth), run the peers' documented logic
    /// (Panther, Okta, Mozilla geomodel) on the same sign-ins, and print recall at
    /// high/critical within 1 and 3 days and false alert lines per 1,000 employee-days,
    /// pooled and per company. With --truth and --alerts: score one replay's alert lines.
    Evaluate(evaluate::Args),
    /// See driftwatch work in one command: a simulated company streamed through an
    /// in-process Kafka broker and every stage of the service, each alert printed as it
    /// fires, then what was caught, the false alerts and a compliance report.
    Demo(demo::Args),
    /// Analyst API tools.
    Api {
        #[command(subcommand)]
        command: api_token::ApiCommand,
    },
    /// The tamper-evident audit log: check its hash chain, apply retention.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// GeoIP tools.
    Geoip {
        #[command(subcommand)]
        command: geoip::GeoipCommand,
    },
}

/// Run the command `cli` names.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Replay(args) => replay::run(args),
        Command::Run(args) => run::run(args),
        Command::CheckConfig(args) => check_config::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Report(args) => report::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Api { command } => api_token::run(command),
        Command::Audit { command } => audit::run(command),
        Command::Geoip { command } => geoip::run(command),
    }
}

/// The configuration at `path`, or the defaults without one (`replay`, `geoip lookup`).
fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}
