//! `driftwatch check-config`: a configuration and everything it points to, every problem
//! at once.

use std::path::PathBuf;

use anyhow::Result;
use chrono::Utc;

use driftwatch::config::{Config, ConfigError};
use driftwatch::drivers::replay;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, short, default_value = "driftwatch.toml")]
    config: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let config = args.config;
    let cfg = Config::load(&config)?;
    let replay::Loaded {
        roster,
        enricher,
        suppress,
        ..
    } = replay::Loaded::load(&cfg, None, Utc::now())?;
    // An account name several employees' aliases yield resolves to none of them:
    // each is blind to those logins. A problem of the roster, named row by row.
    let ambiguous = roster.ambiguous_accounts();
    if !ambiguous.is_empty() {
        let path = cfg
            .roster
            .as_ref()
            .map(|r| r.path.clone())
            .unwrap_or_default();
        return Err(ConfigError::Invalid {
            path,
            errors: ambiguous
                .iter()
                .map(|(name, ids)| {
                    let ids: Vec<&str> = ids.iter().map(|e| e.0.as_str()).collect();
                    format!(
                        "roster: the account name {name:?} comes from the aliases of {}: its logins (`{name}`, `DOMAIN\\{name}`) would be judged for nobody; give the right employee an explicit alias {name:?}",
                        ids.join(" and ")
                    )
                })
                .collect(),
        }
        .into());
    }
    println!("{}: OK", config.display());
    println!("  roster: {} employee(s)", roster.len());
    println!("  approved trips: {}", suppress.trips());
    for db in enricher.databases() {
        println!(
            "  geoip: {:?} {} ({}), built {}",
            db.kind,
            db.database_type,
            db.path.display(),
            db.build_time.to_rfc3339()
        );
    }
    for list in enricher.lists() {
        println!(
            "  list: {} tag={} ({} ASNs, {} IPv4 and {} IPv6 networks)",
            list.path.display(),
            list.tag,
            list.asns,
            list.ipv4_networks,
            list.ipv6_networks
        );
    }
    Ok(())
}
