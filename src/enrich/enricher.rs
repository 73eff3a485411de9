//! [`Enricher`]: the loaded databases and lists, a lookup cache, and hot reload.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use quick_cache::sync::Cache;

use super::config::{DEFAULT_CACHE_SIZE, EnrichConfig, IntelListConfig};
use super::error::EnrichError;
use super::geoip::{DatabaseInfo, DatabaseKind, GeoDb};
use super::intel::{IntelList, ListInfo};
use super::{Geo, IntelMatch};
use crate::decode::fields::canonical;
use crate::reload::{Reload, Watched};

type GeoCache = Cache<IpAddr, Arc<Geo>>;

/// The GeoIP databases and intel lists, with a lookup cache. Shared by reference between
/// threads; lookups never block on a reload.
pub struct Enricher {
    /// City (one or two), ASN and Anonymous-IP, in that order: lists read the ASN the ASN
    /// database wrote into the [`Geo`].
    databases: Vec<Watched<GeoDb, EnrichError>>,
    lists: Vec<Watched<IntelList, EnrichError>>,
    cache_size: usize,
    /// Replaced whole, never cleared in place, on a reload: a lookup that read the old
    /// databases can only ever insert into the old cache, which is then dropped (see
    /// [`Enricher::lookup`]).
    cache: ArcSwap<GeoCache>,
}

impl Default for Enricher {
    /// No databases and no lists: every lookup is an empty [`Geo`].
    fn default() -> Self {
        Enricher {
            databases: Vec::new(),
            lists: Vec::new(),
            cache_size: DEFAULT_CACHE_SIZE,
            cache: ArcSwap::from_pointee(GeoCache::new(DEFAULT_CACHE_SIZE)),
        }
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
    /// Validate `config` (every problem at once), then open every database and list. Fails
    /// on the first file that cannot serve: a detector must not start on half its data.
    pub fn open(config: &EnrichConfig) -> Result<Enricher, EnrichError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(EnrichError::Config(problems));
        }
        let slots = [
            (DatabaseKind::City, &config.city),
            (DatabaseKind::City, &config.city_ipv6),
            (DatabaseKind::Asn, &config.asn),
            (DatabaseKind::AnonymousIp, &config.anonymous_ip),
        ];
        let mut databases = Vec::new();
        for (kind, path) in slots {
            if let Some(path) = path {
                let path = path.clone();
                let layout = config.city_layout;
                databases.push(Watched::new(vec![path.clone()], move || {
                    GeoDb::open(&path, kind, layout)
                })?);
            }
        }
        let has_asn_db = config.asn.is_some();
        let mut lists = Vec::new();
        for list in &config.lists {
            let list = list.clone();
            lists.push(Watched::new(vec![list.path.clone()], move || {
                load_list(&list, has_asn_db)
            })?);
        }
        Ok(Enricher {
            databases,
            lists,
            cache_size: config.cache_size,
            cache: ArcSwap::from_pointee(GeoCache::new(config.cache_size)),
        })
    }

    /// Everything known about `ip`. A cache hit costs a hash lookup and an `Arc` clone.
    pub fn lookup(&self, ip: IpAddr) -> Arc<Geo> {
        let ip = canonical(ip);
        // The cache is loaded before the databases: a reload stores new databases first
        // and a new cache second, so whatever this lookup inserts was computed from
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
            let db = db.get();
            if let Err(error) = db.fill(ip, &mut geo) {
                // A verified database should never fail to decode; if one does, the other
                // databases still answer.
                tracing::warn!(path = %db.info().path.display(), %ip, %error, "GeoIP record unreadable");
            }
        }
        for list in &self.lists {
            let list = list.get();
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

    /// Reload every database and list whose file was replaced since the last check. Returns
    /// one entry per file that changed: `Ok` when the new version serves, the error when it
    /// could not be loaded (the old version keeps serving). Unchanged files are left out.
    /// Any successful reload starts a fresh cache. Called by drivers, e.g. every minute.
    pub fn reload_if_changed(&self) -> Vec<(PathBuf, Result<(), EnrichError>)> {
        let mut report = Vec::new();
        for db in &self.databases {
            check(db, &mut report);
        }
        for list in &self.lists {
            check(list, &mut report);
        }
        if report.iter().any(|(_, r)| r.is_ok()) {
            self.cache.store(Arc::new(GeoCache::new(self.cache_size)));
        }
        report
    }

    /// The databases serving now, in the order City (`city`, `city_ipv6`), ASN,
    /// Anonymous-IP.
    pub fn databases(&self) -> Vec<DatabaseInfo> {
        self.databases
            .iter()
            .map(|db| db.get().info().clone())
            .collect()
    }

    /// The intel lists serving now, in configuration order.
    pub fn lists(&self) -> Vec<ListInfo> {
        self.lists.iter().map(|l| l.get().info()).collect()
    }
}

fn load_list(config: &IntelListConfig, has_asn_db: bool) -> Result<IntelList, EnrichError> {
    let list = IntelList::load(config)?;
    if !has_asn_db && list.asn_count() > 0 {
        return Err(EnrichError::AsnListWithoutAsnDatabase {
            path: config.path.clone(),
            asns: list.asn_count(),
        });
    }
    Ok(list)
}

fn check<T>(
    watched: &Watched<T, EnrichError>,
    report: &mut Vec<(PathBuf, Result<(), EnrichError>)>,
) {
    let path = watched.paths().first().cloned().unwrap_or_default();
    match watched.reload_if_changed() {
        Reload::Unchanged => {}
        Reload::Reloaded => report.push((path, Ok(()))),
        Reload::Failed(e) => report.push((path, Err(e))),
    }
}
