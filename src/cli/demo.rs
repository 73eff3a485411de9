//! `driftwatch demo`: a simulated company through every stage of the service, in one
//! command (the work is in [`driftwatch::drivers::demo`]).

use std::path::PathBuf;

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// Employees in the simulated company.
    #[arg(long, default_value_t = 2000)]
    employees: u32,
    /// Simulated days.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Wall-clock seconds the simulated days are compressed into.
    #[arg(long, default_value_t = 60)]
    duration_secs: u64,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the company, on-call notifications, audit log and report go (default: a
    /// folder in the system's temporary directory).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Address of /metrics and the analyst API.
    #[arg(long, default_value = "127.0.0.1:9464")]
    listen: std::net::SocketAddr,
    /// Partitions of the demo's topics.
    #[arg(long, default_value_t = 12)]
    partitions: i32,
    /// Leave the service, its metrics and its API up after the summary, until Ctrl-C.
    #[arg(long)]
    keep_running: bool,
}

pub fn run(args: Args) -> Result<()> {
    let opts = driftwatch::drivers::demo::Options {
        employees: args.employees,
        days: args.days,
        seed: args.seed,
        duration: std::time::Duration::from_secs(args.duration_secs),
        out: args
            .out
            .unwrap_or_else(|| std::env::temp_dir().join("driftwatch-demo")),
        listen: args.listen,
        keep_running: args.keep_running,
        partitions: args.partitions.max(1),
    };
    let summary = driftwatch::drivers::demo::run(&opts, &mut std::io::stdout())?;
    if summary.alerts.is_empty() {
        anyhow::bail!("the demo raised no alert");
    }
    Ok(())
}
