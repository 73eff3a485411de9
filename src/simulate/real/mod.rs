//! The real world: the simulated company's people reach the internet through real address
//! blocks of real autonomous systems, and where those blocks are is whatever a real City
//! database (DB-IP Lite by default) says.
//!
//! The synthetic world ([`super::world::World::build`]) places every address exactly where
//! its user is. Here the two part ways, as they do in real logs: a broadband block is the
//! one the database puts nearest the home when the ISP has one there, and otherwise (or for
//! a share of homes, [`Rates::hub_placed`]) wherever the database puts it, often the ISP's
//! hub city hundreds of km away; a phone's address is one of the carrier's blocks anywhere
//! in the country; hosting, VPN and hotel blocks are where the database says they are.
//! The people themselves stay where the population puts them (their claimed place, a trip,
//! a farm): only the addresses come from the real world.
//!
//! - [`catalog`]: which real systems play which role, and in which countries.
//! - [`inputs`]: reading the ASN ranges (ip-location-db CSV) and opening the City
//!   database: the only part that touches files.
//!
//! Only IPv4 is simulated here: the IPv6 ranges would need the second DB-IP file and add no
//! case the IPv4 world lacks, except daily privacy addresses (the synthetic world has them).

pub mod catalog;
pub mod inputs;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};
use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde::Serialize;

use super::world::{
    AutonomousSystem, CORPORATE_VPN_CITIES, NetId, NetKind, Network, OFFICE_CITIES, PLACES, Place,
    PlaceId, PlaceRole, TRAVEL_CITIES, World, place_by_city,
};
use catalog::{CATALOG, Role};
pub use inputs::{RealInputs, RealSources, default_geo_dir};

/// Where a City database places a block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Located {
    pub country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    pub lat: f64,
    pub lon: f64,
}

/// The rates of the real world's noise, drawn per seed from documented ranges (see
/// [`Rates::draw`] and `docs/evaluation.md`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    /// Share of homes whose broadband block the database places away from the home (the
    /// ISP's hub city or anywhere in the country) even when a block near the home exists.
    pub hub_placed: f64,
    /// Mean share of an ordinary employee's interactive sign-ins made from the phone on the
    /// mobile network (mail, MFA approvals). Each employee draws around it.
    pub mobile_share: f64,
    /// Share of employees who also sign in through Microsoft Entra ID (mail, Teams), often
    /// from another network minutes after the Okta sign-in.
    pub entra_users: f64,
    /// Share of employees sharing a home address with a colleague (a household).
    pub households: f64,
    /// Share of employees in office cities who work from a co-working space some days.
    pub coworking: f64,
    /// Share of employees who use a consumer VPN for some of their sign-ins (privacy).
    pub consumer_vpn_users: f64,
    /// Share of employees hired during the simulated month (few days of history).
    pub new_hires: f64,
    /// Share of an ordinary employee's working days with a sign-in in the evening
    /// (19:00-23:30 local), mostly mail on the phone.
    pub after_hours_days: f64,
    /// Share of weekend days with a sign-in.
    pub weekend_days: f64,
}

impl Rates {
    /// The ranges, as `(low, high)`: each rate is drawn uniformly in its range, per seed.
    pub const RANGES: [(&'static str, f64, f64); 9] = [
        ("hub_placed", 0.10, 0.30),
        ("mobile_share", 0.10, 0.30),
        ("entra_users", 0.30, 0.60),
        ("households", 0.005, 0.02),
        ("coworking", 0.02, 0.06),
        ("consumer_vpn_users", 0.01, 0.04),
        ("new_hires", 0.01, 0.03),
        ("after_hours_days", 0.05, 0.20),
        ("weekend_days", 0.03, 0.12),
    ];

    /// Draw the rates for one seed.
    pub fn draw(rng: &mut ChaCha8Rng) -> Rates {
        let mut v = Self::RANGES.map(|(_, lo, hi)| rng.random_range(lo..=hi));
        v.iter_mut()
            .for_each(|x| *x = (*x * 1000.0).round() / 1000.0);
        let [
            hub_placed,
            mobile_share,
            entra_users,
            households,
            coworking,
            consumer_vpn_users,
            new_hires,
            after_hours_days,
            weekend_days,
        ] = v;
        Rates {
            hub_placed,
            mobile_share,
            entra_users,
            households,
            coworking,
            consumer_vpn_users,
            new_hires,
            after_hours_days,
            weekend_days,
        }
    }
}

/// What the real world knows beyond the synthetic one's shape.
#[derive(Debug, Clone)]
pub struct RealWorld {
    /// Where the City database places each network of [`World::networks`] (same index).
    pub located: Vec<Located>,
    /// The rates drawn for this seed.
    pub rates: Rates,
    /// The City database's file, for the configuration.
    pub city_path: std::path::PathBuf,
    /// The ASN ranges the world was built from, for the ASN database written beside it.
    pub asn_csv: std::path::PathBuf,
    /// A second City database to evaluate with, when there is one.
    pub other_city: Option<std::path::PathBuf>,
    /// The public anonymizer lists folder, copied into the simulation.
    pub public_lists: Option<std::path::PathBuf>,
}

/// A /24 (or smaller) block of a catalogued system, with where the database puts it.
#[derive(Debug, Clone)]
struct Block {
    net: Ipv4Net,
    asn: u32,
    role: Role,
    at: Located,
}

/// Great-circle distance in km between two points.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (la1, la2) = (lat1.to_radians(), lat2.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

fn km_to(place: &Place, at: &Located) -> f64 {
    haversine_km(place.lat, place.lon, at.lat, at.lon)
}

/// Blocks sampled per system: enough that most metros of a large ISP have a nearby one.
const SAMPLES_PER_SYSTEM: usize = 2500;

/// Sample the catalogue's blocks: up to [`SAMPLES_PER_SYSTEM`] random /24s of each system,
/// kept when the database places them in one of the entry's countries.
fn sample_blocks(sources: &RealSources, rng: &mut ChaCha8Rng) -> Vec<Block> {
    let mut out = Vec::new();
    for entry in CATALOG {
        let Some(ranges) = sources.ranges.get(&entry.asn) else {
            continue;
        };
        // Weighted by size: a /24 index over all of the system's ranges.
        let sizes: Vec<u64> = ranges
            .iter()
            .map(|&(lo, hi)| (u64::from(hi >> 8) - u64::from(lo >> 8)) + 1)
            .collect();
        let total: u64 = sizes.iter().sum();
        if total == 0 {
            continue;
        }
        let mut seen = std::collections::HashSet::new();
        let tries = SAMPLES_PER_SYSTEM.min(total as usize);
        for _ in 0..tries {
            let mut k = rng.random_range(0..total);
            let mut base = 0u32;
            for (i, &s) in sizes.iter().enumerate() {
                if k < s {
                    base = ((ranges[i].0 >> 8) + k as u32) << 8;
                    break;
                }
                k -= s;
            }
            if !seen.insert(base) {
                continue;
            }
            let Ok(net) = Ipv4Net::new(Ipv4Addr::from(base), 24) else {
                continue;
            };
            // A block may straddle ranges of different systems: look up a host inside it
            // that the system certainly holds.
            let probe = Ipv4Addr::from(base | 0x40);
            if !ranges
                .iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&u32::from(probe)))
            {
                continue;
            }
            let Some(at) = sources.locate(probe.into()) else {
                continue;
            };
            if !entry.countries.contains(&at.country.as_str()) {
                continue;
            }
            out.push(Block {
                net,
                asn: entry.asn,
                role: entry.role,
                at,
            });
        }
    }
    out
}

/// The nearest place of the table in `country`, home places first (so a network's users'
/// place is a place people are simulated in when there is one).
fn nearest_place(country: &str, at: &Located) -> Option<PlaceId> {
    let candidates: Vec<PlaceId> = (0..PLACES.len())
        .filter(|&i| PLACES[i].country == country)
        .collect();
    candidates
        .iter()
        .copied()
        .min_by(|&a, &b| km_to(&PLACES[a], at).total_cmp(&km_to(&PLACES[b], at)))
}

/// Builds the world's systems and networks from sampled blocks.
struct Builder<'a> {
    rng: &'a mut ChaCha8Rng,
    sources: &'a RealSources,
    world: World,
    located: Vec<Located>,
    systems: HashMap<u32, usize>,
    /// Blocks already given to a network.
    used: std::collections::HashSet<Ipv4Net>,
}

impl Builder<'_> {
    fn system(&mut self, asn: u32) -> usize {
        if let Some(&i) = self.systems.get(&asn) {
            return i;
        }
        let org = self
            .sources
            .orgs
            .get(&asn)
            .cloned()
            .unwrap_or_else(|| format!("AS{asn}"));
        let domain = org
            .split(|c: char| !c.is_ascii_alphanumeric())
            .find(|w| w.len() > 2)
            .unwrap_or("net")
            .to_lowercase()
            + ".net";
        self.world.systems.push(AutonomousSystem {
            number: asn,
            org,
            domain,
        });
        let i = self.world.systems.len() - 1;
        self.systems.insert(asn, i);
        i
    }

    fn network(&mut self, block: &Block, prefix: u8, kind: NetKind, place: PlaceId) -> NetId {
        self.used.insert(block.net);
        let net = Ipv4Net::new(block.net.network(), prefix).unwrap_or(block.net);
        let system = self.system(block.asn);
        self.world.networks.push(Network {
            net: IpNet::V4(net),
            kind,
            place,
            system,
            // Not written anywhere: the real database answers for real blocks.
            accuracy_km: 0,
        });
        self.located.push(block.at.clone());
        self.world.networks.len() - 1
    }

    fn free<'b>(&self, blocks: &'b [Block]) -> Vec<&'b Block> {
        blocks
            .iter()
            .filter(|b| !self.used.contains(&b.net))
            .collect()
    }

    /// The free block nearest to `place`.
    fn nearest<'b>(&self, blocks: &'b [Block], place: &Place) -> Option<&'b Block> {
        self.free(blocks)
            .into_iter()
            .min_by(|a, b| km_to(place, &a.at).total_cmp(&km_to(place, &b.at)))
    }

    fn random<'b>(&mut self, blocks: &'b [Block]) -> Option<&'b Block> {
        let free = self.free(blocks);
        (!free.is_empty()).then(|| free[self.rng.random_range(0..free.len())])
    }
}

/// Blocks by role and country, sorted by address for a deterministic order.
type Index = BTreeMap<(Role, String), BTreeMap<u32, Vec<Block>>>;

fn index(blocks: Vec<Block>) -> Index {
    let mut idx: Index = BTreeMap::new();
    for b in blocks {
        idx.entry((b.role, b.at.country.clone()))
            .or_default()
            .entry(b.asn)
            .or_default()
            .push(b);
    }
    for systems in idx.values_mut() {
        for v in systems.values_mut() {
            v.sort_by_key(|b| b.net);
        }
    }
    idx
}

/// How many broadband blocks each home place gets per ISP, and mobile blocks per carrier.
const HOME_BLOCKS_PER_ISP: usize = 3;
const MOBILE_BLOCKS_PER_CARRIER: usize = 6;

/// Build the real world for one seed.
pub fn build(sources: &RealSources, rng: &mut ChaCha8Rng) -> (World, RealWorld) {
    let rates = Rates::draw(rng);
    let idx = index(sample_blocks(sources, rng));
    let mut b = Builder {
        rng,
        sources,
        world: World {
            systems: Vec::new(),
            networks: Vec::new(),
        },
        located: Vec::new(),
        systems: HashMap::new(),
        used: Default::default(),
    };
    let of = |role: Role, country: &str| -> Vec<(u32, Vec<Block>)> {
        idx.get(&(role, country.to_owned()))
            .map(|m| m.iter().map(|(a, v)| (*a, v.clone())).collect())
            .unwrap_or_default()
    };

    // Home broadband: per home place and ISP, the nearest blocks, or (for a share of them)
    // wherever the database puts a random one of the ISP's blocks in the country.
    let mut homes_of: BTreeMap<&str, PlaceId> = BTreeMap::new();
    for (pid, place) in PLACES.iter().enumerate() {
        if !matches!(place.role, PlaceRole::Home(_)) {
            continue;
        }
        homes_of.entry(place.country).or_insert(pid);
        for (_, blocks) in of(Role::Residential, place.country) {
            for _ in 0..HOME_BLOCKS_PER_ISP {
                let hub = b.rng.random_bool(rates.hub_placed);
                let chosen = if hub {
                    b.random(&blocks)
                } else {
                    b.nearest(&blocks, place)
                };
                if let Some(block) = chosen.cloned() {
                    b.network(&block, 24, NetKind::Residential, pid);
                }
            }
        }
    }
    // Phones: a few blocks of each carrier anywhere in the country; the people behind them
    // are the whole country's.
    for (country, &pid) in &homes_of {
        for (_, blocks) in of(Role::Mobile, country) {
            for _ in 0..MOBILE_BLOCKS_PER_CARRIER {
                if let Some(block) = b.random(&blocks).cloned() {
                    b.network(&block, 24, NetKind::Mobile, pid);
                }
            }
        }
    }
    // Offices, hotels, airports and co-working spaces: business lines nearest the city.
    let business_at = |b: &mut Builder<'_>, city: &str, kind: NetKind, prefix: u8| {
        let Some(pid) = place_by_city(city) else {
            return;
        };
        let place = &PLACES[pid];
        let all: Vec<Block> = of(Role::Business, place.country)
            .into_iter()
            .flat_map(|(_, v)| v)
            .collect();
        if let Some(block) = b.nearest(&all, place).cloned() {
            b.network(&block, prefix, kind, pid);
        }
    };
    for city in OFFICE_CITIES {
        business_at(&mut b, city, NetKind::Office, 28);
    }
    for city in TRAVEL_CITIES {
        business_at(&mut b, city, NetKind::Hotel, 24);
        business_at(&mut b, city, NetKind::Airport, 24);
    }
    for (pid, place) in PLACES.iter().enumerate() {
        if matches!(place.role, PlaceRole::Home(w) if w >= 2) {
            business_at(&mut b, place.city, NetKind::Coworking, 26);
        }
        let _ = pid;
    }
    // The company's secure web gateway, nearest its two egress cities.
    for city in CORPORATE_VPN_CITIES {
        if let Some(pid) = place_by_city(city) {
            let place = &PLACES[pid];
            let all: Vec<Block> = CATALOG
                .iter()
                .filter(|e| e.role == Role::CorporateEgress)
                .flat_map(|e| e.countries.iter())
                .flat_map(|c| of(Role::CorporateEgress, c))
                .flat_map(|(_, v)| v)
                .collect();
            if let Some(block) = b.nearest(&all, place).cloned() {
                b.network(&block, 27, NetKind::CorporateVpn, pid);
            }
        }
    }
    // Hosting and consumer VPN servers: a few blocks of each system per country, located
    // wherever the database says; their place is the nearest simulated place there.
    for (role, kind, per) in [
        (Role::Hosting, NetKind::Hosting, 4),
        (Role::ConsumerVpn, NetKind::ConsumerVpn, 4),
    ] {
        let keys: Vec<String> = idx
            .keys()
            .filter(|(r, _)| *r == role)
            .map(|(_, c)| c.clone())
            .collect();
        for country in keys {
            for (_, blocks) in of(role, &country) {
                for _ in 0..per {
                    let Some(block) = b.random(&blocks).cloned() else {
                        break;
                    };
                    if let Some(pid) = nearest_place(&country, &block.at) {
                        b.network(&block, 24, kind, pid);
                    }
                }
            }
        }
    }
    // Broadband and phones where the operators really are: China and Russia.
    for country in ["CN", "RU"] {
        for (role, kind, per) in [
            (Role::Residential, NetKind::Residential, 8),
            (Role::Mobile, NetKind::Mobile, 4),
        ] {
            for (_, blocks) in of(role, country) {
                for _ in 0..per {
                    let Some(block) = b.random(&blocks).cloned() else {
                        break;
                    };
                    if let Some(pid) = nearest_place(country, &block.at) {
                        b.network(&block, 24, kind, pid);
                    }
                }
            }
        }
    }
    let Builder { world, located, .. } = b;
    (
        world,
        RealWorld {
            located,
            rates,
            city_path: sources.inputs.city.clone(),
            asn_csv: sources.inputs.asn_csv.clone(),
            other_city: sources.inputs.other_city.clone(),
            public_lists: sources.inputs.public_lists.clone(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_matches_known_distances() {
        // London - Paris about 344 km; Bengaluru - Pune about 735 km.
        let lp = haversine_km(51.5074, -0.1278, 48.8566, 2.3522);
        assert!((lp - 344.0).abs() < 5.0, "{lp}");
        let bp = haversine_km(12.9716, 77.5946, 18.5204, 73.8567);
        assert!((bp - 735.0).abs() < 10.0, "{bp}");
    }

    #[test]
    fn rates_stay_in_their_ranges_and_vary_by_seed() {
        use rand::SeedableRng;
        let a = Rates::draw(&mut ChaCha8Rng::seed_from_u64(1));
        let b = Rates::draw(&mut ChaCha8Rng::seed_from_u64(2));
        assert_ne!(a, b);
        for r in [a, b] {
            let v = [
                r.hub_placed,
                r.mobile_share,
                r.entra_users,
                r.households,
                r.coworking,
                r.consumer_vpn_users,
                r.new_hires,
                r.after_hours_days,
                r.weekend_days,
            ];
            for (x, (name, lo, hi)) in v.iter().zip(Rates::RANGES) {
                assert!((lo - 1e-9..=hi + 1e-9).contains(x), "{name} {x}");
            }
        }
    }
}
