//! GeoIP databases in MaxMind DB format: City (GeoIP2 or flat DB-IP layout), ASN and
//! Anonymous-IP, each read into the fields of a [`Geo`].
//!
//! Databases are read whole into memory (`Reader::open_readfile`) rather than mapped:
//! `geoipupdate` replaces files by rename, and a mapping of a file that is later truncated
//! in place would be undefined behaviour, while a copy in memory can never change under a
//! lookup. Every database is verified when opened, so a corrupt replacement is refused at
//! reload time instead of failing lookups later.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use maxminddb::{MaxMindDbError, Reader, WithinOptions, geoip2};
use serde::de::{IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::config::CityLayoutSetting;
use super::error::EnrichError;
use super::{AnonymousFlags, Geo};
use crate::decode::fields::non_empty;

/// What a database is configured to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseKind {
    /// Location: country, region, city, coordinates, accuracy, time zone.
    City,
    /// Autonomous system number and organisation.
    Asn,
    /// Anonymizer flags (VPN, hosting, proxy, Tor).
    AnonymousIp,
}

/// How the City database's records are laid out (the resolved form of
/// [`CityLayoutSetting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CityLayout {
    /// `country.iso_code`, `subdivisions[].names.en`, `city.names.en`, `location.*`.
    Geoip2,
    /// `country_code`, `state1`, `city`, `latitude`, `longitude`, `timezone`.
    Dbip,
}

/// One loaded database, for `driftwatch geoip` output and alert evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    /// The slot it was configured for.
    pub kind: DatabaseKind,
    /// The file it was read from.
    pub path: PathBuf,
    /// The metadata's `database_type` (e.g. `GeoLite2-City`).
    pub database_type: String,
    /// When the vendor built it (metadata `build_epoch`): the age of the answers.
    pub build_time: DateTime<Utc>,
    /// How City records are read; `None` for other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<CityLayout>,
}

/// The build stamp of a database that answered a lookup, kept in [`Geo`] so alert evidence
/// names the data it was judged on even after a reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseBuild {
    /// The slot the database serves.
    pub kind: DatabaseKind,
    /// The metadata's `database_type`.
    pub database_type: String,
    /// The metadata's `build_epoch`.
    pub build_time: DateTime<Utc>,
}

/// The flat record of the ip-location-db DB-IP City packages. Strings borrow from the
/// database: nothing is allocated for fields that are then dropped.
#[derive(Deserialize)]
struct DbipCity<'a> {
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(borrow, default)]
    state1: Option<&'a str>,
    #[serde(borrow, default)]
    city: Option<&'a str>,
    #[serde(default, deserialize_with = "coordinate")]
    latitude: Option<f64>,
    #[serde(default, deserialize_with = "coordinate")]
    longitude: Option<f64>,
    #[serde(borrow, default)]
    timezone: Option<&'a str>,
}

/// A coordinate stored as `double` (MaxMind) or `float` (some converters write DB-IP's
/// coordinates that way): maxminddb decodes a typed `f64` only from `double`.
fn coordinate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct Number;
    impl Visitor<'_> for Number {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a coordinate")
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_f32<E>(self, v: f32) -> Result<Self::Value, E> {
            Ok(Some(f64::from(v)))
        }
    }
    d.deserialize_any(Number)
}

/// Top-level keys that only a GeoIP2-layout City (or Country) record has.
const GEOIP2_CITY_KEYS: [&str; 5] = ["city", "country", "location", "continent", "subdivisions"];

/// What a [`GeoDb`] reads from its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reads {
    City(CityLayout),
    Asn,
    AnonymousIp,
}

/// One opened, verified database and how to read it.
pub(crate) struct GeoDb {
    reader: Reader<Vec<u8>>,
    reads: Reads,
    info: DatabaseInfo,
    build: DatabaseBuild,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb").field("info", &self.info).finish()
    }
}

impl GeoDb {
    /// Open, verify and classify the database at `path` for the `kind` slot. A database
    /// whose records do not fit the slot is refused (a Country database configured as
    /// `asn` would otherwise silently answer nothing).
    pub(crate) fn open(
        path: &Path,
        kind: DatabaseKind,
        layout: CityLayoutSetting,
    ) -> Result<GeoDb, EnrichError> {
        let db_err = |source| EnrichError::Database {
            path: path.to_owned(),
            source,
        };
        let reader = Reader::open_readfile(path).map_err(db_err)?;
        reader.verify().map_err(db_err)?;
        let meta = reader.metadata();
        let database_type = meta.database_type.clone();
        let wrong = |reason: String| EnrichError::WrongDatabase {
            path: path.to_owned(),
            database_type: database_type.clone(),
            reason,
        };
        let build_time = i64::try_from(meta.build_epoch)
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .ok_or_else(|| wrong(format!("build_epoch {} is out of range", meta.build_epoch)))?;
        let sample = first_record(&reader).map_err(db_err)?;
        let keys = sample.as_ref().map(|s| &s.keys);
        let reads = match kind {
            DatabaseKind::City => {
                Reads::City(city_layout(&database_type, keys, layout).map_err(wrong)?)
            }
            DatabaseKind::Asn => {
                expect_key(
                    keys,
                    |k| k == "autonomous_system_number",
                    "autonomous_system_number",
                )
                .map_err(wrong)?;
                Reads::Asn
            }
            DatabaseKind::AnonymousIp => {
                expect_key(keys, |k| k.starts_with("is_"), "is_anonymous* flags").map_err(wrong)?;
                Reads::AnonymousIp
            }
        };
        let layout = match reads {
            Reads::City(l) => Some(l),
            Reads::Asn | Reads::AnonymousIp => None,
        };
        let info = DatabaseInfo {
            kind,
            path: path.to_owned(),
            database_type: database_type.clone(),
            build_time,
            layout,
        };
        let build = DatabaseBuild {
            kind,
            database_type,
            build_time,
        };
        let db = GeoDb {
            reader,
            reads,
            info,
            build,
        };
        if let Some(sample) = sample {
            // Read one record the way lookups will, so a database whose values have
            // unexpected types is refused now rather than answering nothing later.
            db.fill(sample.ip, &mut Geo::default()).map_err(db_err)?;
        }
        Ok(db)
    }

    /// Facts about this database.
    pub(crate) fn info(&self) -> &DatabaseInfo {
        &self.info
    }

    /// Write what this database knows about `ip` into `geo`; an address it has no record
    /// for leaves `geo` untouched.
    pub(crate) fn fill(&self, ip: IpAddr, geo: &mut Geo) -> Result<(), MaxMindDbError> {
        let is_city = matches!(self.reads, Reads::City(_));
        // An IPv4-only database cannot hold an IPv6 address (the reader would call the
        // lookup an error), and the first City database with a record wins.
        let answered = is_city && geo.databases.iter().any(|d| d.kind == DatabaseKind::City);
        if answered || (ip.is_ipv6() && self.reader.metadata().ip_version == 4) {
            return Ok(());
        }
        let found = self.reader.lookup(ip)?;
        if !found.has_data() {
            return Ok(());
        }
        match self.reads {
            Reads::City(CityLayout::Geoip2) => {
                if let Some(c) = found.decode::<geoip2::City>()? {
                    geo.country = non_empty(c.country.iso_code);
                    if let Some(s) = c.subdivisions.first() {
                        geo.region = non_empty(s.names.english);
                        geo.region_code = non_empty(s.iso_code);
                    }
                    geo.city = non_empty(c.city.names.english);
                    geo.latitude = c.location.latitude;
                    geo.longitude = c.location.longitude;
                    geo.accuracy_km = c.location.accuracy_radius.map(u32::from);
                    geo.time_zone = non_empty(c.location.time_zone);
                }
            }
            Reads::City(CityLayout::Dbip) => {
                if let Some(c) = found.decode::<DbipCity>()? {
                    geo.country = non_empty(c.country_code);
                    geo.region = non_empty(c.state1);
                    geo.city = non_empty(c.city);
                    geo.latitude = c.latitude;
                    geo.longitude = c.longitude;
                    geo.time_zone = non_empty(c.timezone);
                }
            }
            Reads::Asn => {
                if let Some(a) = found.decode::<geoip2::Asn>()? {
                    geo.asn = a.autonomous_system_number;
                    geo.as_org = non_empty(a.autonomous_system_organization);
                }
            }
            Reads::AnonymousIp => {
                if let Some(a) = found.decode::<geoip2::AnonymousIp>()? {
                    let flags = AnonymousFlags {
                        // MaxMind leaves out flags that are false.
                        is_anonymous: a.is_anonymous.unwrap_or(false),
                        is_anonymous_vpn: a.is_anonymous_vpn.unwrap_or(false),
                        is_hosting_provider: a.is_hosting_provider.unwrap_or(false),
                        is_public_proxy: a.is_public_proxy.unwrap_or(false),
                        is_residential_proxy: a.is_residential_proxy.unwrap_or(false),
                        is_tor_exit_node: a.is_tor_exit_node.unwrap_or(false),
                    };
                    // MaxMind stores empty records for some networks: no flag, no news.
                    geo.anonymous = flags.any().then_some(flags);
                }
            }
        }
        // The location's network is the most telling; the ASN's stands in without one.
        if is_city || (geo.network.is_none() && self.reads == Reads::Asn) {
            let net = found.network()?;
            geo.network = IpNet::new(net.ip(), net.prefix()).ok();
        }
        geo.databases.push(self.build.clone());
        Ok(())
    }
}

/// The database's first non-empty record: an address it covers and its top-level keys,
/// which tell what the database holds. (MaxMind's databases hold empty maps for reserved
/// networks, which say nothing about the layout.)
struct Sample {
    ip: IpAddr,
    keys: Vec<String>,
}

fn first_record(reader: &Reader<Vec<u8>>) -> Result<Option<Sample>, MaxMindDbError> {
    let options = WithinOptions::default().skip_empty_values();
    let Some(first) = reader.networks(options)?.next() else {
        return Ok(None);
    };
    let first = first?;
    let ip = first.network()?.ip();
    let record = first.decode::<BTreeMap<String, IgnoredAny>>()?;
    Ok(record.map(|m| Sample {
        ip,
        keys: m.into_keys().collect(),
    }))
}

fn expect_key(
    keys: Option<&Vec<String>>,
    is: impl Fn(&str) -> bool,
    what: &str,
) -> Result<(), String> {
    match keys {
        Some(keys) if !keys.iter().any(|k| is(k)) => Err(format!(
            "its records have no {what} (keys: {})",
            keys.join(", ")
        )),
        _ => Ok(()),
    }
}

/// The City layout: as configured, else by the vendor's type name, else by the keys of the
/// first record (DB-IP's databases come in both layouts under varying type names).
fn city_layout(
    database_type: &str,
    keys: Option<&Vec<String>>,
    setting: CityLayoutSetting,
) -> Result<CityLayout, String> {
    match setting {
        CityLayoutSetting::Geoip2 => return Ok(CityLayout::Geoip2),
        CityLayoutSetting::Dbip => return Ok(CityLayout::Dbip),
        CityLayoutSetting::Auto => {}
    }
    let name = database_type.to_ascii_lowercase();
    let maxmind_city = (name.contains("geoip2") || name.contains("geolite2"))
        && (name.contains("city") || name.contains("country") || name.contains("enterprise"));
    if maxmind_city {
        return Ok(CityLayout::Geoip2);
    }
    let Some(keys) = keys else {
        // Empty: nothing will be read, either layout is right.
        return Ok(CityLayout::Geoip2);
    };
    if keys.iter().any(|k| k == "country_code") {
        Ok(CityLayout::Dbip)
    } else if keys.iter().any(|k| GEOIP2_CITY_KEYS.contains(&k.as_str())) {
        Ok(CityLayout::Geoip2)
    } else {
        Err(format!(
            "its records are neither GeoIP2 City nor flat DB-IP City records (keys: {}); \
             set enrich.city_layout if this is wrong",
            keys.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn layout_detection() {
        let auto = CityLayoutSetting::Auto;
        let flat = keys(&["city", "country_code", "latitude"]);
        let nested = keys(&["city", "continent", "country", "location"]);
        assert_eq!(
            city_layout("GeoLite2-City", Some(&flat), auto),
            Ok(CityLayout::Geoip2)
        );
        assert_eq!(
            city_layout("GeoIP2-City", None, auto),
            Ok(CityLayout::Geoip2)
        );
        assert_eq!(
            city_layout("dbip-city-lite", Some(&flat), auto),
            Ok(CityLayout::Dbip)
        );
        assert_eq!(
            city_layout("DBIP-City-Lite", Some(&nested), auto),
            Ok(CityLayout::Geoip2)
        );
        assert!(
            city_layout(
                "GeoLite2-ASN",
                Some(&keys(&["autonomous_system_number"])),
                auto
            )
            .is_err()
        );
        assert_eq!(
            city_layout("GeoLite2-City", Some(&nested), CityLayoutSetting::Dbip),
            Ok(CityLayout::Dbip),
            "the setting overrides detection"
        );
    }
}
