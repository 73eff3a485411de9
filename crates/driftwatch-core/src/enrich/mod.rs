//! Enrich: what an IP address says — GeoIP City / ASN / Anonymous-IP lookups and tagged
//! intel lists — folded into one [`Geo`], cached by address.
//!
//! - [`config`]: [`EnrichConfig`], the `[enrich]` section, with all-at-once validation
//!   (the files themselves are looked at by the caller's check).
//! - [`geoip`]: MaxMind DB readers (City in GeoIP2 or flat DB-IP layout, ASN, Anonymous-IP).
//! - [`mmdb`]: opens a MaxMind DB file as its publisher wrote it (lenient metadata) and
//!   verifies its search tree and records.
//! - [`intel`]: tagged lists of ASNs and networks (X4BNet, bad-asn-list, the curated
//!   `geoip/consumer-vpn-providers.csv`).
//! - [`enricher`]: [`Enricher`], which owns them, answers lookups through a cache, and
//!   swaps in new versions atomically.
//! - [`write`]: writes MaxMind DB files (the simulator's world, demo and test data).
//! - [`asn_csv`]: builds an ASN database from ip-location-db's CSV ranges
//!   (`driftwatch geoip build-asn`).
//!
//! Lookups are pure reads of in-memory data. Databases and lists are built from bytes or
//! readers ([`GeoDb::from_bytes`], [`IntelList::read`]); reading their files and watching
//! them for replacement is the driver's (`driftwatch::sources::enrich_files`).

pub mod asn_csv;
pub mod config;
pub mod enricher;
pub mod error;
pub mod geoip;
pub mod intel;
pub mod mmdb;
pub mod write;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use config::{ANONYMIZER_TAGS, CityLayoutSetting, EnrichConfig, IntelListConfig, ListFormat};
pub use enricher::Enricher;
pub use error::EnrichError;
pub use geoip::{CityLayout, DatabaseBuild, DatabaseInfo, DatabaseKind, GeoDb};
pub use intel::{IntelList, ListInfo};

/// Everything driftwatch knows about one IP address. Absent facts are `None` (and left out
/// of JSON): a database without a record for the address is normal, not an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 country, when the City database knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// First-level subdivision (state, province), English name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// ISO 3166-2 code of `region` without the country prefix (`ENG`, `WA`), GeoIP2 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
    /// City, English name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Approximate latitude, degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    /// Approximate longitude, degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// Accuracy radius in km around `latitude`/`longitude` (MaxMind's
    /// `location.accuracy_radius`); DB-IP does not give one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_km: Option<u32>,
    /// IANA time zone of the location (`Europe/London`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The network the City database (or, without one, the ASN database) holds for the
    /// address: the block its answer is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<IpNet>,
    /// Autonomous system number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_org: Option<String>,
    /// Anonymous-IP flags, when that database has a record with any flag set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<AnonymousFlags>,
    /// Tags of the intel lists that matched, sorted, without repeats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The consumer VPN provider named by the first `vpn`-tagged list entry that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpn_provider: Option<String>,
    /// Each intel list that matched, in configuration order: the evidence behind `tags`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub intel: Vec<IntelMatch>,
    /// Build stamps of the databases that had a record for the address.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<DatabaseBuild>,
}

/// The GeoIP2 Anonymous-IP flags; a flag missing from the record is false.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnonymousFlags {
    /// Any of the other flags.
    pub is_anonymous: bool,
    /// A commercial or consumer VPN.
    pub is_anonymous_vpn: bool,
    /// A hosting or VPS provider.
    pub is_hosting_provider: bool,
    /// A public proxy.
    pub is_public_proxy: bool,
    /// A residential proxy network.
    pub is_residential_proxy: bool,
    /// A Tor exit node.
    pub is_tor_exit_node: bool,
}

impl AnonymousFlags {
    /// True when any flag is set.
    pub fn any(&self) -> bool {
        let AnonymousFlags {
            is_anonymous,
            is_anonymous_vpn,
            is_hosting_provider,
            is_public_proxy,
            is_residential_proxy,
            is_tor_exit_node,
        } = *self;
        is_anonymous
            || is_anonymous_vpn
            || is_hosting_provider
            || is_public_proxy
            || is_residential_proxy
            || is_tor_exit_node
    }
}

/// One intel list entry that matched an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelMatch {
    /// The list's tag.
    pub tag: String,
    /// The provider the entry (or the whole list) names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// What matched: the ASN (`AS9009`) or the network (`2.26.164.0/22`).
    pub entry: String,
    /// The list file.
    pub list: PathBuf,
}

impl Geo {
    /// True when the address is an anonymizer of any kind (VPN, hosting, proxy, Tor, by the
    /// Anonymous-IP database or an intel list tagged one of [`ANONYMIZER_TAGS`]): its
    /// location says nothing about where the person is.
    pub fn is_anonymizer(&self) -> bool {
        self.anonymous.is_some_and(|a| a.any())
            || self
                .tags
                .iter()
                .any(|t| ANONYMIZER_TAGS.contains(&t.as_str()))
    }

    /// True when an intel list gave the address `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// The unit of "the same network" for keying shared infrastructure: an IPv4 address
/// itself, or the /64 of an IPv6 address (one subscriber's LAN, whose privacy addresses
/// change every day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NetworkKey {
    /// An IPv4 address (IPv4-mapped IPv6 addresses are unwrapped to it).
    V4(Ipv4Addr),
    /// The first address of an IPv6 /64.
    V6Slash64(Ipv6Addr),
}

/// The [`NetworkKey`] of `ip`.
pub fn network_key(ip: IpAddr) -> NetworkKey {
    match crate::decode::fields::canonical(ip) {
        IpAddr::V4(v4) => NetworkKey::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::from(u64::MAX));
            NetworkKey::V6Slash64(Ipv6Addr::from(prefix))
        }
    }
}

impl fmt::Display for NetworkKey {
    /// `203.0.113.7` or `2001:db8:1:2::/64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkKey::V4(v4) => write!(f, "{v4}"),
            NetworkKey::V6Slash64(v6) => write!(f, "{v6}/64"),
        }
    }
}

impl Serialize for NetworkKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_keys() {
        let key = |s: &str| network_key(s.parse().unwrap()).to_string();
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
        assert_eq!(
            network_key("2001:db8:1:2::1".parse().unwrap()),
            network_key("2001:db8:1:2:ffff::9".parse().unwrap()),
            "privacy addresses in one /64 share a key"
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(
            serde_json::to_string(&network_key("2001:db8::1".parse().unwrap())).unwrap(),
            "\"2001:db8::/64\""
        );
    }

    #[test]
    fn anonymizer_from_flags_or_tags() {
        let mut g = Geo::default();
        assert!(!g.is_anonymizer());
        g.tags = vec!["corporate_egress".into(), "mobile".into()];
        assert!(
            !g.is_anonymizer(),
            "egress and mobile tags say where, not who hides"
        );
        g.tags.push("vpn".into());
        assert!(g.is_anonymizer());
        let mut g = Geo {
            anonymous: Some(AnonymousFlags::default()),
            ..Geo::default()
        };
        assert!(
            !g.is_anonymizer(),
            "a record with every flag false is not an anonymizer"
        );
        g.anonymous = Some(AnonymousFlags {
            is_hosting_provider: true,
            ..AnonymousFlags::default()
        });
        assert!(g.is_anonymizer());
    }

    #[test]
    fn empty_geo_serializes_to_an_empty_object() {
        assert_eq!(serde_json::to_string(&Geo::default()).unwrap(), "{}");
    }
}
