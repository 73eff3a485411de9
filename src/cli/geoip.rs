//! `driftwatch geoip lookup|build-asn`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Subcommand;

use driftwatch::config::ConfigError;
use driftwatch::sources::enrich_files;

#[derive(Subcommand)]
pub enum GeoipCommand {
    /// Print the full enrichment of each IP address as JSON.
    Lookup {
        #[arg(long, short)]
        config: Option<PathBuf>,
        #[arg(required = true)]
        ips: Vec<String>,
    },
    /// Build an ASN database (GeoLite2-ASN layout) for `[enrich] asn` from CSV ranges as
    /// ip-location-db publishes them (`@ip-location-db/asn`: asn-ipv4.csv, asn-ipv6.csv;
    /// `start_ip,end_ip,asn,organisation`, inclusive, no header).
    BuildAsn {
        /// The CSV files, IPv4 and IPv6 alike.
        #[arg(required = true, value_name = "CSV")]
        csv: Vec<PathBuf>,
        /// The database to write; replaced whole (written beside it, then renamed), so a
        /// running driftwatch reloads it safely.
        #[arg(long, value_name = "FILE.mmdb")]
        out: PathBuf,
    },
}

pub fn run(command: GeoipCommand) -> Result<()> {
    match command {
        GeoipCommand::BuildAsn { csv, out } => {
            let started = std::time::Instant::now();
            let build_epoch = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
            let built = driftwatch::enrich::asn_csv::build(&csv, &out, build_epoch)?;
            print!("{built}");
            println!(
                "wrote {} in {:.1} s",
                out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        GeoipCommand::Lookup { config, ips } => {
            let config = super::load_config(config.as_deref())?;
            let enricher = enrich_files::open(&config.enrich).context("opening GeoIP databases")?;
            if enricher.databases().is_empty() {
                // An empty answer would read as "nothing known about this address".
                return Err(ConfigError::Invalid {
                    path: config.source.clone().unwrap_or_default(),
                    errors: vec![
                        "no GeoIP database to look up in: give a --config whose [enrich] names \
                         city, asn or anonymous_ip"
                            .to_owned(),
                    ],
                }
                .into());
            }
            for raw in ips {
                let ip = driftwatch::decode::fields::ip(Some(&raw))
                    .map_err(|r| anyhow::anyhow!("{raw}: {}", r.detail))?;
                let geo = enricher.lookup(ip);
                let out = serde_json::json!({ "ip": ip, "enrichment": &*geo });
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(())
        }
    }
}
