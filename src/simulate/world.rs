//! The simulated world: places, autonomous systems, networks and the address plan.
//!
//! Every address is synthetic but real-looking: public unicast IPv4 chosen deterministically
//! from the seed (never private, shared, loopback, link-local, documentation, benchmarking
//! or multicast space, see [`is_special_v4`]) and IPv6 under the regional registries' global
//! unicast blocks. Each autonomous system holds its own IPv4 /16 and carves a /22 per
//! network out of it, the way a real ISP numbers its regions.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono_tz::Tz;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rand::RngExt;
use rand::rngs::ChaCha8Rng;

/// Index of a [`Place`] in [`PLACES`].
pub type PlaceId = usize;

/// What a place is used for in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceRole {
    /// Employees live here; the number weights how many.
    Home(u32),
    /// Only networks (hosting, VPN exits, travel) or a time zone (Seoul) live here.
    Elsewhere,
}

/// A city with its country, subdivision, coordinates and time zone.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    /// ISO 3166-1 alpha-2.
    pub country: &'static str,
    /// First-level subdivision, English name; empty for city states.
    pub region: &'static str,
    /// ISO 3166-2 code of `region` without the country prefix.
    pub region_code: &'static str,
    pub city: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// IANA time zone name.
    pub tz: &'static str,
    pub role: PlaceRole,
}

impl Place {
    /// The place's time zone; the table holds only names chrono-tz knows (tested).
    pub fn tz(&self) -> Tz {
        self.tz.parse().unwrap_or(Tz::UTC)
    }
}

// One argument per table column keeps the table readable.
#[allow(clippy::too_many_arguments)]
const fn p(
    country: &'static str,
    region: &'static str,
    region_code: &'static str,
    city: &'static str,
    lat: f64,
    lon: f64,
    tz: &'static str,
    weight: u32,
) -> Place {
    let role = if weight == 0 {
        PlaceRole::Elsewhere
    } else {
        PlaceRole::Home(weight)
    };
    Place {
        country,
        region,
        region_code,
        city,
        lat,
        lon,
        tz,
        role,
    }
}

/// Every place of the world. Weights make the US about 45 % of the company, spread over
/// its four mainland zones (and Arizona, which keeps standard time).
#[rustfmt::skip]
pub const PLACES: &[Place] = &[
    p("US", "New York", "NY", "New York", 40.7128, -74.0060, "America/New_York", 8),
    p("US", "Massachusetts", "MA", "Boston", 42.3601, -71.0589, "America/New_York", 3),
    p("US", "Georgia", "GA", "Atlanta", 33.7490, -84.3880, "America/New_York", 3),
    p("US", "Florida", "FL", "Miami", 25.7617, -80.1918, "America/New_York", 2),
    p("US", "Illinois", "IL", "Chicago", 41.8781, -87.6298, "America/Chicago", 4),
    p("US", "Texas", "TX", "Austin", 30.2672, -97.7431, "America/Chicago", 4),
    p("US", "Texas", "TX", "Dallas", 32.7767, -96.7970, "America/Chicago", 2),
    p("US", "Minnesota", "MN", "Minneapolis", 44.9778, -93.2650, "America/Chicago", 2),
    p("US", "Colorado", "CO", "Denver", 39.7392, -104.9903, "America/Denver", 3),
    p("US", "Utah", "UT", "Salt Lake City", 40.7608, -111.8910, "America/Denver", 1),
    p("US", "Arizona", "AZ", "Phoenix", 33.4484, -112.0740, "America/Phoenix", 2),
    p("US", "Washington", "WA", "Seattle", 47.6062, -122.3321, "America/Los_Angeles", 4),
    p("US", "California", "CA", "San Francisco", 37.7749, -122.4194, "America/Los_Angeles", 4),
    p("US", "California", "CA", "Los Angeles", 34.0522, -118.2437, "America/Los_Angeles", 2),
    p("US", "Oregon", "OR", "Portland", 45.5152, -122.6784, "America/Los_Angeles", 1),
    p("US", "Nevada", "NV", "Las Vegas", 36.1699, -115.1398, "America/Los_Angeles", 1),
    p("CA", "Ontario", "ON", "Toronto", 43.6532, -79.3832, "America/Toronto", 3),
    p("CA", "British Columbia", "BC", "Vancouver", 49.2827, -123.1207, "America/Vancouver", 2),
    p("CA", "Quebec", "QC", "Montreal", 45.5019, -73.5674, "America/Toronto", 1),
    p("GB", "England", "ENG", "London", 51.5074, -0.1278, "Europe/London", 4),
    p("GB", "England", "ENG", "Manchester", 53.4808, -2.2426, "Europe/London", 1),
    p("GB", "Scotland", "SCT", "Edinburgh", 55.9533, -3.1883, "Europe/London", 1),
    p("IE", "Leinster", "L", "Dublin", 53.3498, -6.2603, "Europe/Dublin", 1),
    p("DE", "Berlin", "BE", "Berlin", 52.5200, 13.4050, "Europe/Berlin", 3),
    p("DE", "Bavaria", "BY", "Munich", 48.1351, 11.5820, "Europe/Berlin", 2),
    p("FR", "Île-de-France", "IDF", "Paris", 48.8566, 2.3522, "Europe/Paris", 2),
    p("FR", "Auvergne-Rhône-Alpes", "ARA", "Lyon", 45.7640, 4.8357, "Europe/Paris", 1),
    p("PL", "Mazovia", "14", "Warsaw", 52.2297, 21.0122, "Europe/Warsaw", 2),
    p("PL", "Lesser Poland", "12", "Kraków", 50.0647, 19.9450, "Europe/Warsaw", 2),
    p("ES", "Madrid", "MD", "Madrid", 40.4168, -3.7038, "Europe/Madrid", 1),
    p("ES", "Catalonia", "CT", "Barcelona", 41.3874, 2.1686, "Europe/Madrid", 1),
    p("PT", "Lisbon", "11", "Lisbon", 38.7223, -9.1393, "Europe/Lisbon", 1),
    p("NL", "North Holland", "NH", "Amsterdam", 52.3676, 4.9041, "Europe/Amsterdam", 2),
    p("NL", "South Holland", "ZH", "Rotterdam", 51.9244, 4.4777, "Europe/Amsterdam", 1),
    p("IN", "Karnataka", "KA", "Bengaluru", 12.9716, 77.5946, "Asia/Kolkata", 4),
    p("IN", "Maharashtra", "MH", "Pune", 18.5204, 73.8567, "Asia/Kolkata", 2),
    p("IN", "Telangana", "TG", "Hyderabad", 17.3850, 78.4867, "Asia/Kolkata", 2),
    p("BR", "São Paulo", "SP", "São Paulo", -23.5505, -46.6333, "America/Sao_Paulo", 2),
    p("BR", "Santa Catarina", "SC", "Florianópolis", -27.5954, -48.5480, "America/Sao_Paulo", 1),
    p("MX", "Mexico City", "CMX", "Mexico City", 19.4326, -99.1332, "America/Mexico_City", 2),
    p("MX", "Jalisco", "JAL", "Guadalajara", 20.6597, -103.3496, "America/Mexico_City", 1),
    p("AR", "Buenos Aires", "C", "Buenos Aires", -34.6037, -58.3816, "America/Argentina/Buenos_Aires", 2),
    p("AR", "Córdoba", "X", "Córdoba", -31.4201, -64.1888, "America/Argentina/Cordoba", 1),
    p("JP", "Tokyo", "13", "Tokyo", 35.6762, 139.6503, "Asia/Tokyo", 2),
    p("JP", "Osaka", "27", "Osaka", 34.6937, 135.5023, "Asia/Tokyo", 1),
    p("AU", "New South Wales", "NSW", "Sydney", -33.8688, 151.2093, "Australia/Sydney", 2),
    p("AU", "Victoria", "VIC", "Melbourne", -37.8136, 144.9631, "Australia/Melbourne", 1),
    p("PH", "Metro Manila", "00", "Manila", 14.5995, 120.9842, "Asia/Manila", 2),
    p("PH", "Central Visayas", "07", "Cebu City", 10.3157, 123.8854, "Asia/Manila", 1),
    // Networks and time zones only.
    p("US", "Virginia", "VA", "Ashburn", 39.0438, -77.4874, "America/New_York", 0),
    p("SG", "", "", "Singapore", 1.3521, 103.8198, "Asia/Singapore", 0),
    p("HK", "", "", "Hong Kong", 22.3193, 114.1694, "Asia/Hong_Kong", 0),
    p("AE", "Dubai", "DU", "Dubai", 25.2048, 55.2708, "Asia/Dubai", 0),
    p("CN", "Beijing", "BJ", "Beijing", 39.9042, 116.4074, "Asia/Shanghai", 0),
    p("CN", "Liaoning", "LN", "Shenyang", 41.8057, 123.4315, "Asia/Shanghai", 0),
    p("RU", "Moscow", "MOW", "Moscow", 55.7558, 37.6173, "Europe/Moscow", 0),
    p("KR", "Seoul", "11", "Seoul", 37.5665, 126.9780, "Asia/Seoul", 0),
];

/// English country names, as GeoIP databases and Okta's `geographicalContext` write them.
pub fn country_name(code: &str) -> &'static str {
    match code {
        "US" => "United States",
        "CA" => "Canada",
        "GB" => "United Kingdom",
        "IE" => "Ireland",
        "DE" => "Germany",
        "FR" => "France",
        "PL" => "Poland",
        "ES" => "Spain",
        "PT" => "Portugal",
        "NL" => "Netherlands",
        "IN" => "India",
        "BR" => "Brazil",
        "MX" => "Mexico",
        "AR" => "Argentina",
        "JP" => "Japan",
        "AU" => "Australia",
        "PH" => "Philippines",
        "SG" => "Singapore",
        "HK" => "Hong Kong",
        "AE" => "United Arab Emirates",
        "CN" => "China",
        "RU" => "Russia",
        "KR" => "South Korea",
        _ => "Unknown",
    }
}

/// Continent, for the City database's `continent` record.
pub fn continent(code: &str) -> (&'static str, &'static str) {
    match code {
        "US" | "CA" | "MX" => ("NA", "North America"),
        "BR" | "AR" => ("SA", "South America"),
        "GB" | "IE" | "DE" | "FR" | "PL" | "ES" | "PT" | "NL" | "RU" => ("EU", "Europe"),
        "AU" => ("OC", "Oceania"),
        _ => ("AS", "Asia"),
    }
}

/// Residential ISPs (two) and the mobile carrier of each home country. The names are
/// invented.
#[rustfmt::skip]
const CARRIERS: &[(&str, [&str; 3])] = &[
    ("US", ["Lakeshore Cable Communications", "Pioneer Fiber", "Crescent Wireless"]),
    ("CA", ["Laurentian Telecom", "Maple Fibre", "Borealis Mobile"]),
    ("GB", ["Albion Broadband", "Thames Fibre", "Pennine Mobile"]),
    ("IE", ["Liffey Broadband", "Emerald Fibre", "Shamrock Mobile"]),
    ("DE", ["Rheinnetz GmbH", "Spreekabel GmbH", "Funkwelle Mobil"]),
    ("FR", ["Hexanet Telecom", "Fibre Azur", "Mistral Mobile"]),
    ("PL", ["Wislanet", "Orzel Telekom", "Bursztyn Mobile"]),
    ("ES", ["Ibercable", "Meseta Fibra", "Sol Movil"]),
    ("PT", ["Tejo Fibra", "Lusonet", "Atlantico Movel"]),
    ("NL", ["Polder Breedband", "Tulpnet", "Delta Mobiel"]),
    ("IN", ["Deccan Broadband", "Ganga Fibernet", "Monsoon Mobile"]),
    ("BR", ["Ipe Telecom", "Atlantica Fibra", "Tucano Movel"]),
    ("MX", ["Sierra Madre Cable", "Cenote Fibra", "Quetzal Movil"]),
    ("AR", ["Pampa Cable", "Rio de la Plata Fibra", "Condor Movil"]),
    ("JP", ["Sakura Hikari", "Kanto Net", "Fuji Mobile"]),
    ("AU", ["Southern Cross Broadband", "Eucalypt Internet", "Kookaburra Mobile"]),
    ("PH", ["Luzon Fiber", "Visayas Cable", "Sampaguita Mobile"]),
];

/// Cities where the company has an office (egress listed as corporate).
pub const OFFICE_CITIES: &[&str] = &["New York", "London", "Bengaluru", "Warsaw"];
/// Where the company's VPN concentrators egress to the internet.
pub const CORPORATE_VPN_CITIES: &[&str] = &["Amsterdam", "Ashburn"];
/// Business-travel destinations (hotel and airport networks).
pub const TRAVEL_CITIES: &[&str] = &[
    "London",
    "Paris",
    "Berlin",
    "Amsterdam",
    "Lisbon",
    "Tokyo",
    "Singapore",
    "Dubai",
    "New York",
    "Toronto",
    "Mexico City",
    "Sydney",
];
/// Hosting / VPS networks (flagged hosting in the Anonymous-IP database).
pub const HOSTING: &[(&str, &str)] = &[
    ("Beijing", "Huabei Cloud Computing Co."),
    ("Moscow", "Volga Hosting LLC"),
    ("Singapore", "Lion City VPS Pte. Ltd."),
    ("Amsterdam", "Dutch Datacenter B.V."),
    ("Ashburn", "Potomac Hosting LLC"),
];
/// Exit points of the simulated consumer VPN.
pub const CONSUMER_VPN_EXITS: &[&str] =
    &["Los Angeles", "New York", "Tokyo", "Singapore", "Hong Kong"];
/// The simulated consumer VPN provider (named after the one DPRK IT workers use most).
pub const CONSUMER_VPN_PROVIDER: &str = "Astrill VPN";
/// The company, owner of the office and VPN egress networks.
pub const COMPANY_ORG: &str = "Corp Example Inc.";

/// What kind of network an address block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetKind {
    /// Home broadband: one stable address per household.
    Residential,
    /// Mobile carrier-grade NAT: many subscribers behind few addresses.
    Mobile,
    /// A company office's egress.
    Office,
    /// The company VPN's egress.
    CorporateVpn,
    Hotel,
    Airport,
    /// Hosting / VPS.
    Hosting,
    /// The consumer VPN's exit servers.
    ConsumerVpn,
    /// A co-working space's line, shared by whoever works there (real world only).
    Coworking,
}

impl NetKind {
    /// GeoIP accuracy radius (km) typical for the kind: carrier NAT is located only to the
    /// country, broadband to the metro area.
    fn accuracy_km(self, country: &str) -> u16 {
        match self {
            NetKind::Mobile if country == "US" || country == "AU" || country == "BR" => 1000,
            NetKind::Mobile => 500,
            NetKind::Residential => 20,
            NetKind::Office | NetKind::CorporateVpn => 5,
            NetKind::Hotel | NetKind::Airport | NetKind::Coworking => 10,
            NetKind::Hosting | NetKind::ConsumerVpn => 50,
        }
    }
}

/// An autonomous system.
#[derive(Debug, Clone)]
pub struct AutonomousSystem {
    pub number: u32,
    pub org: String,
    /// Domain Okta reports in `securityContext.domain`.
    pub domain: String,
}

/// One address block with what the databases say about it.
#[derive(Debug, Clone)]
pub struct Network {
    pub net: IpNet,
    pub kind: NetKind,
    pub place: PlaceId,
    /// Index into [`World::systems`].
    pub system: usize,
    pub accuracy_km: u16,
}

/// The world: autonomous systems and their networks.
#[derive(Debug, Clone)]
pub struct World {
    pub systems: Vec<AutonomousSystem>,
    pub networks: Vec<Network>,
}

/// Index of a [`Network`] in [`World::networks`].
pub type NetId = usize;

/// First octets of large public unicast allocations the address plan draws /16s from.
/// None is special-use; [`is_special_v4`] double-checks every block.
const FIRST_OCTETS: &[u8] = &[
    24, 31, 37, 45, 46, 62, 67, 68, 71, 73, 76, 77, 78, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90,
    91, 92, 93, 94, 95, 96, 97, 98, 99, 101, 103, 106, 107, 108, 109, 110, 112, 113, 114, 115, 116,
    118, 119, 121, 122, 124, 125, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185,
    186, 187, 188, 189, 190, 191, 193, 194, 195, 200, 201, 212, 213, 217, 218, 219, 220, 221,
];

/// IANA special-purpose and otherwise non-public IPv4 blocks (RFC 6890 and successors).
const SPECIAL_V4: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.31.196.0/24",
    "192.52.193.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "192.175.48.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/3",
];

/// Does `net` overlap special-purpose IPv4 space?
pub fn is_special_v4(net: Ipv4Net) -> bool {
    SPECIAL_V4
        .iter()
        .filter_map(|s| s.parse::<Ipv4Net>().ok())
        .any(|s| s.contains(&net.network()) || net.contains(&s.network()))
}

/// Regional registries' IPv6 global unicast blocks, by where a country gets its addresses.
fn v6_registry_block(country: &str) -> u16 {
    match country {
        "US" | "CA" => 0x2600,
        "BR" | "AR" | "MX" => 0x2800,
        "IN" | "JP" | "AU" | "PH" | "CN" | "SG" | "HK" | "KR" => 0x2400,
        _ => 0x2a00,
    }
}

/// Hands out distinct /16s, then /22s inside the current one.
struct AddressPlan {
    used16: HashSet<(u8, u8)>,
    asns: HashSet<u32>,
    v6_used: HashSet<u32>,
}

impl AddressPlan {
    fn new() -> Self {
        AddressPlan {
            used16: HashSet::new(),
            asns: HashSet::new(),
            v6_used: HashSet::new(),
        }
    }

    fn slash16(&mut self, rng: &mut ChaCha8Rng) -> Ipv4Net {
        loop {
            let a = FIRST_OCTETS[rng.random_range(0..FIRST_OCTETS.len())];
            let b: u8 = rng.random();
            let Ok(net) = Ipv4Net::new(Ipv4Addr::new(a, b, 0, 0), 16) else {
                continue;
            };
            if !is_special_v4(net) && self.used16.insert((a, b)) {
                return net;
            }
        }
    }

    /// A public ASN in the 16-bit range, avoiding AS_TRANS and documentation/private ones.
    fn asn(&mut self, rng: &mut ChaCha8Rng) -> u32 {
        loop {
            let n = rng.random_range(1000..64000);
            if n != 23456 && self.asns.insert(n) {
                return n;
            }
        }
    }

    /// A /32 under the registry block for `country`.
    fn v6_slash32(&mut self, rng: &mut ChaCha8Rng, country: &str) -> Ipv6Net {
        loop {
            let high = v6_registry_block(country) | rng.random_range(0..0x10);
            let second: u16 = rng.random_range(0x100..0xffff);
            let key = (u32::from(high) << 16) | u32::from(second);
            if self.v6_used.insert(key) {
                let addr = Ipv6Addr::new(high, second, 0, 0, 0, 0, 0, 0);
                if let Ok(net) = Ipv6Net::new(addr, 32) {
                    return net;
                }
            }
        }
    }
}

/// The n-th /22 of a /16, narrowed to `prefix` (22..=32).
fn block(parent: Ipv4Net, n: u32, prefix: u8) -> Ipv4Net {
    let base = u32::from(parent.network()) + (n % 64) * 1024;
    Ipv4Net::new(Ipv4Addr::from(base), prefix).unwrap_or(parent)
}

/// Builds the world, one autonomous system at a time.
struct Builder<'a> {
    rng: &'a mut ChaCha8Rng,
    plan: AddressPlan,
    world: World,
}

impl Builder<'_> {
    fn system(&mut self, org: &str) -> (usize, Ipv4Net) {
        let number = self.plan.asn(self.rng);
        let domain = org
            .split_whitespace()
            .next()
            .unwrap_or("net")
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "")
            + ".net";
        self.world.systems.push(AutonomousSystem {
            number,
            org: org.to_owned(),
            domain,
        });
        (self.world.systems.len() - 1, self.plan.slash16(self.rng))
    }

    fn network(&mut self, net: IpNet, kind: NetKind, place: PlaceId, system: usize) -> NetId {
        let accuracy_km = kind.accuracy_km(PLACES[place].country);
        self.world.networks.push(Network {
            net,
            kind,
            place,
            system,
            accuracy_km,
        });
        self.world.networks.len() - 1
    }

    /// One system with a network of `kind` in each of `cities`.
    fn spread(&mut self, org: &str, kind: NetKind, cities: &[&str], prefix: u8) {
        let (system, slash16) = self.system(org);
        for (i, city) in cities.iter().enumerate() {
            if let Some(place) = place_by_city(city) {
                let net = IpNet::V4(block(slash16, i as u32, prefix));
                self.network(net, kind, place, system);
            }
        }
    }
}

/// The place of a city name in [`PLACES`].
pub fn place_by_city(city: &str) -> Option<PlaceId> {
    PLACES.iter().position(|p| p.city == city)
}

impl World {
    /// Build the world from the seed's generator.
    pub fn build(rng: &mut ChaCha8Rng) -> World {
        let mut b = Builder {
            rng,
            plan: AddressPlan::new(),
            world: World {
                systems: Vec::new(),
                networks: Vec::new(),
            },
        };
        for (country, [res1, res2, mobile]) in CARRIERS {
            let homes: Vec<PlaceId> = (0..PLACES.len())
                .filter(|&i| {
                    PLACES[i].country == *country && matches!(PLACES[i].role, PlaceRole::Home(_))
                })
                .collect();
            // The first residential ISP is dual-stack: a /36 per city under its /32.
            for (k, org) in [res1, res2].into_iter().enumerate() {
                let (system, slash16) = b.system(org);
                let v6 = (k == 0).then(|| b.plan.v6_slash32(b.rng, country));
                for (i, &place) in homes.iter().enumerate() {
                    b.network(
                        IpNet::V4(block(slash16, i as u32, 22)),
                        NetKind::Residential,
                        place,
                        system,
                    );
                    if let Some(v6) = v6 {
                        let base = u128::from(v6.network()) | ((i as u128 + 1) << 92);
                        if let Ok(net) = Ipv6Net::new(Ipv6Addr::from(base), 36) {
                            b.network(IpNet::V6(net), NetKind::Residential, place, system);
                        }
                    }
                }
            }
            // Carrier NAT: one pool for the whole country, located at its first city with
            // the country-sized radius real databases give mobile ranges.
            let (system, slash16) = b.system(mobile);
            if let Some(&first) = homes.first() {
                b.network(
                    IpNet::V4(block(slash16, 0, 24)),
                    NetKind::Mobile,
                    first,
                    system,
                );
            }
        }
        b.spread(COMPANY_ORG, NetKind::Office, OFFICE_CITIES, 28);
        // The company's VPN egress shares the company's system: a second /16 is not needed,
        // but a distinct block per city is.
        let company = b.world.systems.len() - 1;
        let slash16 = match b.world.networks.last().map(|n| n.net) {
            Some(IpNet::V4(last)) => Ipv4Net::new(last.network(), 16)
                .map(|n| n.trunc())
                .unwrap_or(last),
            _ => b.plan.slash16(b.rng),
        };
        for (i, city) in CORPORATE_VPN_CITIES.iter().enumerate() {
            if let Some(place) = place_by_city(city) {
                let net = IpNet::V4(block(slash16, 32 + i as u32, 28));
                b.network(net, NetKind::CorporateVpn, place, company);
            }
        }
        b.spread("Globe Guest WiFi", NetKind::Hotel, TRAVEL_CITIES, 24);
        b.spread(
            "SkyPort Airport Networks",
            NetKind::Airport,
            TRAVEL_CITIES,
            24,
        );
        for (city, org) in HOSTING {
            b.spread(org, NetKind::Hosting, &[city], 24);
        }
        b.spread(
            CONSUMER_VPN_PROVIDER,
            NetKind::ConsumerVpn,
            CONSUMER_VPN_EXITS,
            24,
        );
        // Direct logins from China come from a residential ISP in Shenyang.
        b.spread(
            "Liaoning Broadband Network",
            NetKind::Residential,
            &["Shenyang"],
            22,
        );
        b.world
    }

    /// Networks of `kind` at `place`, IPv4 first.
    pub fn networks_at(&self, place: PlaceId, kind: NetKind) -> Vec<NetId> {
        let mut ids: Vec<NetId> = (0..self.networks.len())
            .filter(|&i| self.networks[i].place == place && self.networks[i].kind == kind)
            .collect();
        ids.sort_by_key(|&i| (self.networks[i].net.addr().is_ipv6(), i));
        ids
    }

    /// Every network of `kind`.
    pub fn networks_of(&self, kind: NetKind) -> Vec<NetId> {
        (0..self.networks.len())
            .filter(|&i| self.networks[i].kind == kind)
            .collect()
    }

    /// The mobile carrier NAT pools of a country (one in the synthetic world, each
    /// carrier's blocks in the real one).
    pub fn mobile_pools(&self, country: &str) -> Vec<NetId> {
        (0..self.networks.len())
            .filter(|&i| {
                self.networks[i].kind == NetKind::Mobile
                    && PLACES[self.networks[i].place].country == country
            })
            .collect()
    }

    /// The `n`-th usable host of an IPv4 network (wrapping), or of an IPv6 network's first
    /// /64.
    pub fn host(&self, net: NetId, n: u32) -> IpAddr {
        match self.networks[net].net {
            IpNet::V4(v4) => {
                let size = 1u32 << (32 - u32::from(v4.prefix_len()).min(31));
                let usable = size.saturating_sub(2).max(1);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4.network()) + 1 + n % usable))
            }
            IpNet::V6(v6) => IpAddr::V6(Ipv6Addr::from(
                u128::from(v6.network()) | (u128::from(n) + 1),
            )),
        }
    }

    /// The `n`-th /48 of an IPv6 network (a household's delegated prefix).
    pub fn household_prefix(&self, net: NetId, n: u32) -> Option<u128> {
        match self.networks[net].net {
            IpNet::V6(v6) if v6.prefix_len() <= 48 => {
                let slots = 1u128 << (48 - v6.prefix_len());
                Some(u128::from(v6.network()) | ((u128::from(n) % slots) << 80))
            }
            _ => None,
        }
    }

    /// The network holding `ip`.
    pub fn network_of(&self, ip: IpAddr) -> Option<NetId> {
        (0..self.networks.len()).find(|&i| self.networks[i].net.contains(&ip))
    }

    /// The system of a network.
    pub fn system_of(&self, net: NetId) -> &AutonomousSystem {
        &self.systems[self.networks[net].system]
    }

    /// The place of a network.
    pub fn place_of(&self, net: NetId) -> &'static Place {
        &PLACES[self.networks[net].place]
    }
}

/// Great-circle distance in km.
pub fn distance_km(a: &Place, b: &Place) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.lat.to_radians(),
        a.lon.to_radians(),
        b.lat.to_radians(),
        b.lon.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn world() -> World {
        World::build(&mut ChaCha8Rng::seed_from_u64(7))
    }

    #[test]
    fn every_place_has_a_known_time_zone() {
        for p in PLACES {
            assert!(p.tz.parse::<Tz>().is_ok(), "{}", p.tz);
            assert_ne!(country_name(p.country), "Unknown", "{}", p.country);
        }
    }

    #[test]
    fn addresses_are_public_and_networks_disjoint() {
        let w = world();
        for n in &w.networks {
            match n.net {
                IpNet::V4(v4) => assert!(!is_special_v4(v4), "{v4}"),
                IpNet::V6(v6) => {
                    let first = v6.network().segments()[0];
                    assert!((0x2000..0x4000).contains(&first), "{v6}");
                    assert_ne!(v6.network().segments()[..2], [0x2001, 0x0db8]);
                }
            }
        }
        for (i, a) in w.networks.iter().enumerate() {
            for b in &w.networks[i + 1..] {
                assert!(
                    !a.net.contains(&b.net.network()) && !b.net.contains(&a.net.network()),
                    "{} overlaps {}",
                    a.net,
                    b.net
                );
            }
        }
    }

    #[test]
    fn special_ranges_are_recognised() {
        for s in [
            "10.1.0.0/16",
            "192.168.4.0/24",
            "198.51.100.0/24",
            "100.100.0.0/16",
        ] {
            assert!(is_special_v4(s.parse().unwrap()), "{s}");
        }
        assert!(!is_special_v4("73.12.0.0/16".parse().unwrap()));
    }

    #[test]
    fn same_seed_same_world_other_seed_other_addresses() {
        let a = world();
        let b = world();
        let c = World::build(&mut ChaCha8Rng::seed_from_u64(8));
        let nets = |w: &World| w.networks.iter().map(|n| n.net).collect::<Vec<_>>();
        assert_eq!(nets(&a), nets(&b));
        assert_ne!(nets(&a), nets(&c));
    }

    #[test]
    fn every_kind_exists() {
        let w = world();
        for kind in [
            NetKind::Residential,
            NetKind::Mobile,
            NetKind::Office,
            NetKind::CorporateVpn,
            NetKind::Hotel,
            NetKind::Airport,
            NetKind::Hosting,
            NetKind::ConsumerVpn,
        ] {
            assert!(!w.networks_of(kind).is_empty(), "{kind:?}");
        }
        let shenyang = place_by_city("Shenyang").unwrap();
        assert_eq!(w.networks_at(shenyang, NetKind::Residential).len(), 1);
        assert_eq!(w.mobile_pools("US").len(), 1);
    }
}
