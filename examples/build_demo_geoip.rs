//! Builds the demo GeoIP databases of the README's replay example from their readable sources:
//! `examples/geoip/demo-{city,asn,anonymous-ip}.json` → `.mmdb` beside them.
//!
//! ```text
//! cargo run --example build_demo_geoip            # writes examples/geoip/*.mmdb
//! cargo run --example build_demo_geoip -- OUTDIR  # writes OUTDIR/*.mmdb
//! ```
//!
//! The sources use documentation and reserved address ranges only, so nobody mistakes the
//! demo for real data. The records are typed like MaxMind's (accuracy radius `uint16`,
//! ASN `uint32`, coordinates `double`), so driftwatch reads them exactly as it reads a
//! real GeoLite2 database. `tests/enrich_demo.rs` checks the committed `.mmdb` files still
//! say what the JSON says.

use driftwatch::enrich::write as mmdb_write;
use std::error::Error;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A JSON source: metadata and one record per network.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Source<T> {
    database_type: String,
    description: String,
    build_epoch: u64,
    records: Vec<Record<T>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Record<T> {
    network: IpNet,
    data: T,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Names {
    en: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Named {
    names: Names,
}

/// A country or subdivision: code and name.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Coded {
    iso_code: String,
    names: Names,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Location {
    accuracy_radius: u16,
    latitude: f64,
    longitude: f64,
    time_zone: String,
}

/// GeoIP2 City layout.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct City {
    city: Named,
    country: Coded,
    location: Location,
    subdivisions: Vec<Coded>,
}

/// GeoLite2-ASN layout.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Asn {
    autonomous_system_number: u32,
    autonomous_system_organization: String,
}

/// GeoIP2-Anonymous-IP layout: flags that are false are left out, as MaxMind does.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AnonymousIp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_anonymous: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_anonymous_vpn: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_hosting_provider: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_public_proxy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_residential_proxy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_tor_exit_node: Option<bool>,
}

fn build<T: DeserializeOwned + Serialize>(
    sources: &Path,
    out: &Path,
    name: &str,
) -> Result<(), Box<dyn Error>> {
    let json = sources.join(format!("{name}.json"));
    let text = std::fs::read_to_string(&json).map_err(|e| format!("{}: {e}", json.display()))?;
    let source: Source<T> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?;
    let records: Vec<(IpNet, T)> = source
        .records
        .into_iter()
        .map(|r| (r.network, r.data))
        .collect();
    let meta = mmdb_write::Meta {
        database_type: &source.database_type,
        description: &source.description,
        build_epoch: source.build_epoch,
        ipv4_only: false,
    };
    let mmdb = out.join(format!("{name}.mmdb"));
    mmdb_write::write_mmdb(&mmdb, &meta, &records)?;
    println!("{} ({} networks)", mmdb.display(), records.len());
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/geoip");
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| sources.clone());
    build::<City>(&sources, &out, "demo-city")?;
    build::<Asn>(&sources, &out, "demo-asn")?;
    build::<AnonymousIp>(&sources, &out, "demo-anonymous-ip")?;
    Ok(())
}
