//! GeoIP databases in MaxMind DB format: City (GeoIP2 or flat DB-IP layout), ASN and
//! Anonymous-IP, each read into the fields of a [`Geo`].
//!
//! Databases are read whole into memory rather than mapped: `geoipupdate` replaces files by
//! rename, and a mapping of a file that is later truncated in place would be undefined
//! behaviour, while a copy in memory can never change under a lookup. Every database is
//! opened and verified by [`super::mmdb`], which reads the metadata as leniently as the
//! published files need and verifies the search tree and every record, so a corrupt
//! replacement is refused at reload time instead of failing lookups later.
//!
//! Records are read into driftwatch's own structs rather than `maxminddb::geoip2`'s: their
//! numbers are read from whichever integer type a writer chose (`unsigned`), and a field
//! that cannot be read is named in the error (`GeoDb::name_the_field`).

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ipnet::IpNet;

use maxminddb::{LookupResult, MaxMindDbError, Reader, WithinOptions, geoip2};
use serde::de::{self, IgnoredAny, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::config::CityLayoutSetting;
use super::error::EnrichError;
use super::mmdb::{self, MmdbError};
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

/// The flat record of the ip-location-db City packages (DB-IP Lite and GeoLite2 alike).
/// Strings borrow from the database: nothing is allocated for fields that are then dropped.
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

/// The parts of a GeoIP2 City (or Country, or Enterprise) record driftwatch reads.
#[derive(Deserialize)]
struct Geoip2City<'a> {
    #[serde(borrow, default)]
    country: Option<Country<'a>>,
    /// The first subdivision, the largest (state, or England within GB).
    #[serde(borrow, default, deserialize_with = "first")]
    subdivisions: Option<Subdivision<'a>>,
    #[serde(borrow, default)]
    city: Option<Place<'a>>,
    #[serde(borrow, default)]
    location: Option<Location<'a>>,
}

#[derive(Deserialize)]
struct Country<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Subdivision<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
    #[serde(borrow, default)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Place<'a> {
    #[serde(borrow, default)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct Location<'a> {
    #[serde(default, deserialize_with = "coordinate")]
    latitude: Option<f64>,
    #[serde(default, deserialize_with = "coordinate")]
    longitude: Option<f64>,
    /// Kilometres. MaxMind writes a uint16; other writers a wider type.
    #[serde(default, deserialize_with = "unsigned")]
    accuracy_radius: Option<u32>,
    #[serde(borrow, default)]
    time_zone: Option<&'a str>,
}

/// A GeoLite2-ASN record. MaxMind stores the number as uint32, other writers (Python's
/// `mmdb-writer`, `driftwatch geoip build-asn`) in the narrowest type that holds it.
#[derive(Deserialize)]
struct Asn<'a> {
    #[serde(default, deserialize_with = "unsigned")]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

/// An unsigned integer stored in any of the format's integer types whose value fits in `T`:
/// uint16, uint32, uint64, uint128, or an int32 that is not negative. Writers pick the
/// width (many the narrowest that holds the value), while the crate's typed `u32` accepts
/// only a uint32.
fn unsigned<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u128>,
{
    struct Unsigned<T>(PhantomData<T>);
    impl<T: TryFrom<u128>> Visitor<'_> for Unsigned<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "an unsigned integer that fits in {}",
                std::any::type_name::<T>()
            )
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.visit_u128(v.into())
        }
        fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
            T::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(Unexpected::Other(&v.to_string()), &self))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            match u128::try_from(v) {
                Ok(v) => self.visit_u128(v),
                Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
            }
        }
    }
    d.deserialize_any(Unsigned(PhantomData))
}

/// A coordinate stored as `double` (MaxMind), `float` (ip-location-db writes DB-IP's and
/// GeoLite2's coordinates that way) or, whole degrees, an integer: maxminddb decodes a
/// typed `f64` only from `double`.
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
            // Through the shortest decimal that reads back as this float: the writer rounded
            // 37.422 to the nearest f32, and evidence should say 37.422, not
            // 37.422000885009766 (`f64::from` keeps the float's error).
            Ok(Some(v.to_string().parse().unwrap_or(f64::from(v))))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
    }
    d.deserialize_any(Number)
}

/// The first element of an array, the rest skipped unread: one subdivision is all a
/// lookup needs, and nothing is allocated for the others.
fn first<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct First<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for First<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element()?;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }
    d.deserialize_seq(First(PhantomData))
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

/// One opened, verified database and how to read it: what [`super::Enricher`] serves.
pub struct GeoDb {
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
    /// Open, verify and classify the database in `bytes` (a whole `.mmdb` file, read from
    /// `path`, which names it in errors and [`DatabaseInfo`]) for the `kind` slot. A
    /// database whose records do not fit the slot is refused (a Country database configured
    /// as `asn` would otherwise silently answer nothing). `remembered` knows the databases
    /// verified before ([`mmdb::open_remembering`]); `None` walks every time.
    ///
    /// Give `bytes` [`mmdb::METADATA_SLACK`] spare capacity, so the metadata is rewritten in
    /// place (a reallocation would briefly hold a City database twice).
    pub fn from_bytes(
        path: &Path,
        bytes: Vec<u8>,
        kind: DatabaseKind,
        layout: CityLayoutSetting,
        remembered: Option<&dyn mmdb::Remembered>,
    ) -> Result<GeoDb, EnrichError> {
        let db_err = |error| EnrichError::Database {
            path: path.to_owned(),
            error,
        };
        let (mmdb::Opened { reader, metadata }, checked) =
            mmdb::open_remembering(bytes, remembered).map_err(db_err)?;
        tracing::debug!(path = %path.display(), ?checked, "database opened");
        let meta = &metadata;
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
        let sample = first_record(&reader).map_err(|e| db_err(e.into()))?;
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
            db.fill(sample.ip, &mut Geo::default()).map_err(|error| {
                db_err(MmdbError::Record {
                    ip: sample.ip,
                    error,
                })
            })?;
        }
        Ok(db)
    }

    /// Facts about this database.
    pub fn info(&self) -> &DatabaseInfo {
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
        self.read(&found, geo)
            .map_err(|error| self.name_the_field(&found, error))?;
        // The location's network is the most telling; the ASN's stands in without one.
        if is_city || (geo.network.is_none() && self.reads == Reads::Asn) {
            let net = found.network()?;
            geo.network = IpNet::new(net.ip(), net.prefix()).ok();
        }
        geo.databases.push(self.build.clone());
        Ok(())
    }

    /// Read the record `found` into `geo` as this database's layout says.
    fn read(&self, found: &LookupResult<'_, Vec<u8>>, geo: &mut Geo) -> Result<(), MaxMindDbError> {
        match self.reads {
            Reads::City(CityLayout::Geoip2) => {
                if let Some(c) = found.decode::<Geoip2City>()? {
                    let names = |p: Option<Names<'_>>| p.and_then(|n| non_empty(n.en));
                    geo.country = non_empty(c.country.and_then(|c| c.iso_code));
                    if let Some(s) = c.subdivisions {
                        geo.region = names(s.names);
                        geo.region_code = non_empty(s.iso_code);
                    }
                    geo.city = names(c.city.and_then(|c| c.names));
                    if let Some(l) = c.location {
                        geo.latitude = l.latitude;
                        geo.longitude = l.longitude;
                        geo.accuracy_km = l.accuracy_radius;
                        geo.time_zone = non_empty(l.time_zone);
                    }
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
                if let Some(a) = found.decode::<Asn>()? {
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
        Ok(())
    }

    /// `error` with the path of the field that could not be read (`location.latitude`).
    /// The crate's decoding errors give a byte offset, which tells an operator nothing. On
    /// this rare path only, the record is decoded again as JSON and read as the same struct
    /// from there with the path tracked: the crate hands map keys to serde as bytes, which
    /// `serde_path_to_error` cannot name, and lookups that succeed pay nothing for it. When
    /// the JSON does not fail the same way, the original error stands.
    fn name_the_field(
        &self,
        found: &LookupResult<'_, Vec<u8>>,
        error: MaxMindDbError,
    ) -> MaxMindDbError {
        let Ok(Some(json)) = found.decode::<serde_json::Value>() else {
            return error;
        };
        let failed = match self.reads {
            Reads::City(CityLayout::Geoip2) => field_error::<Geoip2City>(&json),
            Reads::City(CityLayout::Dbip) => field_error::<DbipCity>(&json),
            Reads::Asn => field_error::<Asn>(&json),
            Reads::AnonymousIp => field_error::<geoip2::AnonymousIp>(&json),
        };
        match failed {
            Some((path, message)) => {
                MaxMindDbError::decoding_at_path(message, found.offset().unwrap_or(0), path)
            }
            None => error,
        }
    }
}

/// The path and message of the first field of `json` that does not read as `T`.
fn field_error<'v, T: Deserialize<'v>>(json: &'v serde_json::Value) -> Option<(String, String)> {
    serde_path_to_error::deserialize::<_, T>(json)
        .err()
        .map(|e| (e.path().to_string(), e.inner().to_string()))
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

    /// Write a database of one record for 192.0.2.0/24 and open it for `kind`.
    fn open_one<T: Serialize>(
        dir: &Path,
        database_type: &str,
        kind: DatabaseKind,
        record: T,
    ) -> Result<GeoDb, EnrichError> {
        let path = dir.join(format!("{database_type}.mmdb"));
        let meta = crate::enrich::write::Meta {
            database_type,
            description: "driftwatch unit test",
            build_epoch: 1_700_000_000,
            ipv4_only: false,
        };
        crate::enrich::write::write_mmdb(
            &path,
            &meta,
            &[("192.0.2.0/24".parse().unwrap(), record)],
        )
        .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        GeoDb::from_bytes(&path, bytes, kind, CityLayoutSetting::Auto, None)
    }

    fn lookup(db: &GeoDb) -> Geo {
        let mut geo = Geo::default();
        db.fill("192.0.2.1".parse().unwrap(), &mut geo).unwrap();
        geo
    }

    #[derive(Serialize)]
    struct AsnAs<N> {
        autonomous_system_number: N,
        autonomous_system_organization: &'static str,
    }

    /// `decoding error at offset 26: expected u32, got type 5`: an ASN database whose
    /// numbers are uint16 (Python's mmdb-writer, `geoip build-asn`) was refused.
    #[test]
    fn asn_numbers_of_any_unsigned_width_are_read() {
        let dir = tempfile::tempdir().unwrap();
        fn record<N>(n: N) -> AsnAs<N> {
            AsnAs {
                autonomous_system_number: n,
                autonomous_system_organization: "Cloudflare, Inc.",
            }
        }
        let narrow = open_one(dir.path(), "narrow", DatabaseKind::Asn, record(13335u16)).unwrap();
        let g = lookup(&narrow);
        assert_eq!(g.asn, Some(13335));
        assert_eq!(g.as_org.as_deref(), Some("Cloudflare, Inc."));
        // It really is a uint16: the crate's typed u16 reads it, its typed u32 does not.
        let found = narrow.reader.lookup("192.0.2.1".parse().unwrap()).unwrap();
        let path = [maxminddb::PathElement::Key("autonomous_system_number")];
        assert_eq!(found.decode_path::<u16>(&path).unwrap(), Some(13335));
        assert!(found.decode_path::<u32>(&path).is_err());

        let wide = open_one(
            dir.path(),
            "wide",
            DatabaseKind::Asn,
            record(4_200_000_000u64),
        );
        assert_eq!(lookup(&wide.unwrap()).asn, Some(4_200_000_000));
        let huge = open_one(
            dir.path(),
            "huge",
            DatabaseKind::Asn,
            record(u128::from(u32::MAX)),
        );
        assert_eq!(lookup(&huge.unwrap()).asn, Some(u32::MAX));
        let signed = open_one(dir.path(), "signed", DatabaseKind::Asn, record(64_512i32));
        assert_eq!(lookup(&signed.unwrap()).asn, Some(64_512));
    }

    #[test]
    fn numbers_that_do_not_fit_are_refused_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let too_big = AsnAs {
            autonomous_system_number: 5_000_000_000u64,
            autonomous_system_organization: "",
        };
        let err = open_one(dir.path(), "too-big", DatabaseKind::Asn, too_big)
            .unwrap_err()
            .to_string();
        assert!(err.contains("too-big.mmdb"), "names the file: {err}");
        assert!(
            err.contains("(path: autonomous_system_number)") && err.contains("5000000000"),
            "names the field and the value: {err}"
        );
        let negative = AsnAs {
            autonomous_system_number: -1i32,
            autonomous_system_organization: "",
        };
        let err = open_one(dir.path(), "negative", DatabaseKind::Asn, negative)
            .unwrap_err()
            .to_string();
        assert!(err.contains("(path: autonomous_system_number)"), "{err}");
    }

    /// GeoIP2-layout City records with the accuracy radius and coordinates in other types
    /// than MaxMind's (uint16 and double): here uint64 and float.
    #[test]
    fn geoip2_city_numbers_of_other_widths_are_read() {
        let dir = tempfile::tempdir().unwrap();
        #[derive(Serialize)]
        struct Location {
            accuracy_radius: u64,
            latitude: f32,
            longitude: f32,
            time_zone: &'static str,
        }
        #[derive(Serialize)]
        struct City {
            country: serde_json::Value,
            subdivisions: serde_json::Value,
            city: serde_json::Value,
            location: Location,
        }
        let city = City {
            country: serde_json::json!({ "iso_code": "DE" }),
            subdivisions: serde_json::json!([
                { "iso_code": "BE", "names": { "en": "Land Berlin", "de": "Berlin" } },
                { "iso_code": "XX", "names": { "en": "ignored" } },
            ]),
            city: serde_json::json!({ "names": { "en": "Berlin" } }),
            location: Location {
                accuracy_radius: 20,
                latitude: 52.52,
                longitude: 13.405,
                time_zone: "Europe/Berlin",
            },
        };
        let db = open_one(dir.path(), "GeoIP2-City", DatabaseKind::City, city).unwrap();
        let g = lookup(&db);
        assert_eq!(g.country.as_deref(), Some("DE"));
        assert_eq!(g.region.as_deref(), Some("Land Berlin"));
        assert_eq!(g.region_code.as_deref(), Some("BE"));
        assert_eq!(g.city.as_deref(), Some("Berlin"));
        assert_eq!(g.accuracy_km, Some(20));
        assert_eq!(
            (g.latitude, g.longitude),
            (Some(52.52), Some(13.405)),
            "a float reads as the decimal it was written from"
        );
        assert_eq!(g.time_zone.as_deref(), Some("Europe/Berlin"));
    }
}
