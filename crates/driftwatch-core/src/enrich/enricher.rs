//! [`Enricher`]: the loaded databases and lists, a lookup cache, and the atomic
//! replacement of any of them. Reading the files and noticing that one was replaced is the
//! driver's (`driftwatch::sources::enrich_files`); the enricher only serves what it is given.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use quick_cache::sync::Cache;

use super::config::DEFAULT_CACHE_SIZE;
use super::geoip::{DatabaseInfo, GeoDb};
use super::intel::{IntelList, ListInfo};
use super::{Geo, IntelMatch};
use crate::decode::fields::canonical;

type GeoCache = Cache<IpAddr, Arc<Geo>>;

/// The GeoIP databases and intel lists, with a lookup cache. Shared by reference between
/// threads; lookups never block on a replacement.
pub struct Enricher {
    /// City (one or two), ASN and Anonymous-IP, in that order
    /// ([`super::EnrichConfig::database_slots`]): lists read the ASN the ASN database wrote
    /// into the [`Geo`]. Each slot is swapped whole by [`Enricher::replace`].
    databases: Vec<ArcSwap<GeoDb>>,
    lists: Vec<ArcSwap<IntelList>>,
    cache_size: usize,
    /// Replaced whole, never cleared in place, on a replacement: a lookup that read the old
    /// databases can only ever insert into the old cache, which is then dropped (see
    /// [`Enricher::lookup`]).
    cache: ArcSwap<GeoCache>,
}

impl Default for Enricher {
    /// No databases and no lists: every lookup is an empty [`Geo`].
    fn default() -> Self {
        Enricher::new(Vec::new(), Vec::new(), DEFAULT_CACHE_SIZE)
    }
}

impl fmt::Debug for Enricher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enricher")
            .field("databases", &self.databases())
            .field("lists", &self.lists())
            .field("cache_size", &self.cache_size)
            .finish()
    }
}

impl Enricher {
    /// Serve `databases`, in the order [`super::EnrichConfig::database_slots`] gives, and
    /// `lists`, in configuration order, remembering up to `cache_size` addresses. The
    /// parts come loaded ([`GeoDb::from_bytes`], [`IntelList::read`]); `Arc`s, so a driver
    /// that watches their files can share them.
    pub fn new(
        databases: Vec<Arc<GeoDb>>,
        lists: Vec<Arc<IntelList>>,
        cache_size: usize,
    ) -> Enricher {
        Enricher {
            databases: databases.into_iter().map(ArcSwap::new).collect(),
            lists: lists.into_iter().map(ArcSwap::new).collect(),
            cache_size,
            cache: ArcSwap::from_pointee(GeoCache::new(cache_size)),
        }
    }

    /// Everything known about `ip`. A cache hit costs a hash lookup and an `Arc` clone.
    pub fn lookup(&self, ip: IpAddr) -> Arc<Geo> {
        let ip = canonical(ip);
        // The cache is loaded before the databases: a replacement stores new databases
        // first and a new cache second, so whatever this lookup inserts was computed from
        // databases at least as new as the cache it goes into.
        let cache = self.cache.load();
        if let Some(geo) = cache.get(&ip) {
            return geo;
        }
        let geo = Arc::new(self.lookup_uncached(ip));
        cache.insert(ip, Arc::clone(&geo));
        geo
    }

    /// Everything known about `ip`, read from the databases and lists without the cache.
    pub fn lookup_uncached(&self, ip: IpAddr) -> Geo {
        let ip = canonical(ip);
        let mut geo = Geo::default();
        for db in &self.databases {
            let db = db.load();
            if let Err(error) = db.fill(ip, &mut geo) {
                // A verified database should never fail to decode; if one does, the other
                // databases still answer.
                tracing::warn!(path = %db.info().path.display(), %ip, %error, "GeoIP record unreadable");
            }
        }
        for list in &self.lists {
            let list = list.load();
            if let Some(hit) = list.find(ip, geo.asn) {
                geo.intel.push(IntelMatch {
                    tag: list.tag().to_string(),
                    provider: hit.provider.map(str::to_owned),
                    entry: hit.entry.to_string(),
                    list: list.path().to_owned(),
                });
            }
        }
        geo.tags = geo.intel.iter().map(|m| m.tag.clone()).collect();
        geo.tags.sort_unstable();
        geo.tags.dedup();
        geo.vpn_provider = geo
            .intel
            .iter()
            .find(|m| m.tag == "vpn" && m.provider.is_some())
            .and_then(|m| m.provider.clone());
        geo
    }

    /// Serve new versions of some databases and lists, each given with its position (as
    /// [`Enricher::new`] was given them; a position past the end is ignored), then start a
    /// fresh cache if anything was replaced. Lookups running meanwhile finish on what they
    /// started with.
    pub fn replace(
        &self,
        databases: Vec<(usize, Arc<GeoDb>)>,
        lists: Vec<(usize, Arc<IntelList>)>,
    ) {
        let mut replaced = false;
        for (slot, db) in databases {
            if let Some(current) = self.databases.get(slot) {
                current.store(db);
                replaced = true;
            }
        }
        for (slot, list) in lists {
            if let Some(current) = self.lists.get(slot) {
                current.store(list);
                replaced = true;
            }
        }
        // Stored after the parts: see `lookup`.
        if replaced {
            self.cache.store(Arc::new(GeoCache::new(self.cache_size)));
        }
    }

    /// The databases serving now, in the order City (`city`, `city_ipv6`), ASN,
    /// Anonymous-IP.
    pub fn databases(&self) -> Vec<DatabaseInfo> {
        self.databases
            .iter()
            .map(|db| db.load().info().clone())
            .collect()
    }

    /// The intel lists serving now, in configuration order.
    pub fn lists(&self) -> Vec<ListInfo> {
        self.lists.iter().map(|l| l.load().info()).collect()
    }
}

/// The enricher `config` names, its files read whole with no check beyond loading them:
/// what unit tests of the core open fixtures with (a driver reads and watches the files).
#[cfg(test)]
pub(crate) fn from_files(config: &super::EnrichConfig) -> Result<Enricher, super::EnrichError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let mut databases = Vec::new();
    for (kind, path) in config.database_slots() {
        let db = GeoDb::from_bytes(path, read(path), kind, config.city_layout, None)?;
        databases.push(Arc::new(db));
    }
    let mut lists = Vec::new();
    for list in &config.lists {
        let read = IntelList::read(list, read(&list.path).as_slice(), config.asn.is_some())?;
        lists.push(Arc::new(read));
    }
    Ok(Enricher::new(databases, lists, config.cache_size))
}
