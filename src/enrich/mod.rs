//! Enrich: what an IP address says — GeoIP City / ASN / Anonymous-IP lookups and tagged
//! intel lists — folded into one [`Geo`], cached by address.
//!
//! TODO (being written).

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

/// Everything driftwatch knows about one IP address.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 country, when the City database knows it.
    pub country: Option<String>,
    pub city: Option<String>,
    /// Accuracy radius in km around `lat`/`lon` (MaxMind's `location.accuracy_radius`).
    pub accuracy_km: Option<u32>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
}

impl Geo {
    /// True when the address is an anonymizer of any kind: its location says nothing about
    /// where the person is.
    pub fn is_anonymizer(&self) -> bool {
        false
    }
}

/// The GeoIP databases and intel lists, with a lookup cache.
#[derive(Default)]
pub struct Enricher {}

impl Enricher {
    /// Everything known about `ip`.
    pub fn lookup(&self, _ip: IpAddr) -> Arc<Geo> {
        Arc::new(Geo::default())
    }
}
