//! `driftwatch simulate`: a simulated company with planted cases and its ground truth.

use std::path::PathBuf;

use anyhow::Result;

use driftwatch::simulate;

#[derive(clap::Args)]
pub struct Args {
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Employees in the roster.
    #[arg(long, default_value_t = 2000)]
    employees: u32,
    /// Days of activity.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Seed: the same seed writes byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First simulated day (YYYY-MM-DD).
    #[arg(long, default_value = "2026-10-01")]
    start: chrono::NaiveDate,
    /// Gzip the event files.
    #[arg(long)]
    gzip: bool,
    /// `synthetic` (default: an invented address plan, no download) or `real`: real
    /// address blocks of real networks placed by DB-IP Lite City (needs --geo).
    #[arg(long, value_enum, default_value = "synthetic")]
    world: WorldKind,
    /// With --world real: the folder holding the ip-location-db packages
    /// (dbip-city-mmdb, asn and optionally geolite2-city-mmdb), as bench/fetch-geo and
    /// .ci/run unpack them. Default $DRIFTWATCH_REAL_GEO, else ~/.cache/driftwatch/geo.
    #[arg(long)]
    geo: Option<PathBuf>,
    /// With --world real: the public anonymizer lists (X4BNet lists_vpn, bad-asn-list).
    #[arg(long, default_value = "../shared/geoip/anonymizer")]
    lists: PathBuf,
}

/// Which world `driftwatch simulate` builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum WorldKind {
    Synthetic,
    Real,
}

pub fn run(args: Args) -> Result<()> {
    let Args {
        out,
        employees,
        days,
        seed,
        start,
        gzip,
        world,
        geo,
        lists,
    } = args;
    let params = simulate::Params {
        employees,
        days,
        seed,
        start,
    };
    let world = match world {
        WorldKind::Synthetic => simulate::WorldChoice::Synthetic,
        WorldKind::Real => {
            let geo = geo.unwrap_or_else(simulate::real::default_geo_dir);
            simulate::WorldChoice::Real(simulate::real::RealInputs::from_geo_dir(
                &geo,
                Some(lists),
            )?)
        }
    };
    let sim = simulate::Simulation::in_world(params, &world)?;
    let written = simulate::write(&sim, &out, gzip)?;
    for f in &written.files {
        println!("{}", f.display());
    }
    let s = &written.truth.summary;
    eprintln!(
        "driftwatch simulate: {} employees ({} fraudulent), {} days, {} Okta, {} VPN and {} Entra events in {}",
        s.employees,
        s.fraudulent,
        s.days,
        s.okta_events,
        s.vpn_events,
        s.entra_events,
        out.display()
    );
    Ok(())
}
