//! Helpers shared by the enrich integration tests: paths to the real fixtures in
//! `../shared`, and small databases and lists the tests write themselves.
// Each test binary uses a different subset.
#![allow(dead_code)]

pub use driftwatch::enrich::write as mmdb_write;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use driftwatch::enrich::{EnrichConfig, IntelListConfig, ListFormat};
use ipnet::IpNet;
use serde::Serialize;

/// A file under `../shared`.
pub fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(rel)
}

/// One of MaxMind's test databases (`../shared/geoip/maxmind-test`).
pub fn maxmind(name: &str) -> PathBuf {
    shared("geoip/maxmind-test").join(name)
}

/// One of the X4BNet lists (`../shared/geoip/anonymizer/x4bnet-lists_vpn`).
pub fn x4bnet(rel: &str) -> PathBuf {
    shared("geoip/anonymizer/x4bnet-lists_vpn").join(rel)
}

/// A list configuration with defaults for the optional fields.
pub fn list(path: PathBuf, tag: &str) -> IntelListConfig {
    IntelListConfig {
        path,
        tag: tag.to_owned(),
        provider: None,
        format: ListFormat::Auto,
        entry_column: None,
        provider_column: None,
    }
}

/// A configuration with only a City database.
pub fn city_only(path: PathBuf) -> EnrichConfig {
    EnrichConfig {
        city: Some(path),
        ..EnrichConfig::default()
    }
}

/// GeoLite2-ASN layout.
#[derive(Serialize)]
pub struct AsnRecord {
    pub autonomous_system_number: u32,
    pub autonomous_system_organization: String,
}

/// Write a GeoLite2-ASN-layout database.
pub fn write_asn_db(path: &Path, records: &[(&str, u32, &str)]) {
    let records: Vec<(IpNet, AsnRecord)> = records
        .iter()
        .map(|(net, asn, org)| {
            (
                net.parse().unwrap(),
                AsnRecord {
                    autonomous_system_number: *asn,
                    autonomous_system_organization: (*org).to_owned(),
                },
            )
        })
        .collect();
    let meta = mmdb_write::Meta {
        database_type: "GeoLite2-ASN",
        description: "driftwatch test data",
        build_epoch: 1_700_000_000,
        ipv4_only: false,
    };
    mmdb_write::write_mmdb(path, &meta, &records).unwrap();
}

/// The flat DB-IP City layout of the ip-location-db packages (`country_code, state1,
/// state2, city, postcode, latitude, longitude, timezone`); floats are `f32`, as those
/// packages may store them, to prove either width reads.
#[derive(Serialize)]
pub struct DbipRecord {
    pub country_code: &'static str,
    pub state1: &'static str,
    pub state2: &'static str,
    pub city: &'static str,
    pub postcode: &'static str,
    pub latitude: f32,
    pub longitude: f32,
    pub timezone: &'static str,
}

/// Write an IPv6 database of `database_type` holding `records`.
pub fn write_db<T: Serialize>(
    path: &Path,
    database_type: &str,
    build_epoch: u64,
    records: &[(&str, T)],
) {
    write_db_version(path, database_type, build_epoch, false, records);
}

/// Write a database of `database_type` holding `records`, IPv4-only if asked.
pub fn write_db_version<T: Serialize>(
    path: &Path,
    database_type: &str,
    build_epoch: u64,
    ipv4_only: bool,
    records: &[(&str, T)],
) {
    let records: Vec<(IpNet, &T)> = records
        .iter()
        .map(|(n, r)| (n.parse().unwrap(), r))
        .collect();
    let meta = mmdb_write::Meta {
        database_type,
        description: "driftwatch test data",
        build_epoch,
        ipv4_only,
    };
    mmdb_write::write_mmdb(path, &meta, &records).unwrap();
}

/// Replace `path` the way `geoipupdate` does: write a temporary file beside it, then
/// rename over it. The new file's modification time is pushed `generation` seconds ahead so
/// a replacement within the file system's timestamp granularity is still seen.
pub fn replace(path: &Path, generation: u64, write: impl FnOnce(&Path)) {
    let tmp = path.with_extension("tmp");
    write(&tmp);
    let file = std::fs::File::options().write(true).open(&tmp).unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(generation))
        .unwrap();
    drop(file);
    std::fs::rename(&tmp, path).unwrap();
}
