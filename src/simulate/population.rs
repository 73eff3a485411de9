//! The employees: who they claim to be (the roster), where they really are, how they
//! reach the internet, and the planted scenario each one plays.

use std::collections::{HashMap, HashSet};

use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;

use super::real::Rates;
use super::scenarios::Scenario;
use super::world::{
    self, CORPORATE_VPN_CITIES, NetId, NetKind, OFFICE_CITIES, PLACES, PlaceId, PlaceRole,
    TRAVEL_CITIES, World, place_by_city,
};
use crate::roster::{Status, WorkHours};

/// The e-mail domain of every account.
pub const DOMAIN: &str = "corp.example";
/// The NetBIOS domain of `DOMAIN\user` aliases.
pub const NETBIOS: &str = "CORP";

/// A household's connection: a stable IPv4 address and, on dual-stack ISPs, a delegated
/// IPv6 /48 whose hosts use daily privacy addresses.
#[derive(Debug, Clone)]
pub struct Home {
    pub place: PlaceId,
    pub v4: NetId,
    pub host: u32,
    /// The IPv6 network and the household's /48 in it.
    pub v6: Option<(NetId, u128)>,
}

/// Days abroad: a business trip (hotels, an airport on arrival) or an approved stay
/// (a rented home's broadband).
#[derive(Debug, Clone)]
pub struct Away {
    pub dest: PlaceId,
    /// Where logins come from at the destination.
    pub net: NetId,
    /// Arrival logins come from here, when set.
    pub airport: Option<NetId>,
    /// Departure day (no logins: flying); the employee works abroad on the days after it
    /// up to and including `last`, flies back on `last + 1` and is home from `last + 2`.
    pub depart: u32,
    pub last: u32,
    pub approved: bool,
}

/// Where a fraudulent worker's logins come from.
#[derive(Debug, Clone)]
pub enum Sources {
    /// Consumer VPN exits, hosting ranges and, now and then, a Chinese home connection.
    ChinaMix,
    /// One residential address shared by a laptop farm.
    Farm { net: NetId, host: u32 },
    /// The claimed home connection (only the hours are wrong).
    Home,
    /// Straight from home broadband in China or Russia, phones there now and then.
    Direct {
        net: NetId,
        host: u32,
        phones: Vec<NetId>,
    },
    /// Servers of Chinese clouds.
    Cloud(Vec<NetId>),
    /// US consumer VPN exits and VPS addresses, a different one most days.
    UsExits(Vec<NetId>),
    /// A residential proxy in the claimed city: a broadband address there, not the home.
    Proxy { net: NetId, host: u32 },
    /// Mostly US exits; now and then straight from China or a Chinese cloud.
    Mixed {
        exits: Vec<NetId>,
        direct: Vec<NetId>,
        cloud: Vec<NetId>,
    },
}

/// What an employee's scenario changes about their logins.
#[derive(Debug, Clone)]
pub enum Setup {
    None,
    Away(Away),
    /// The first `until` days come from the old home.
    Relocated {
        old: Home,
        until: u32,
    },
    /// Most logins through the national carrier NAT.
    MobileFirst,
    /// Every login through the company VPN's egress.
    CorporateEgress(NetId),
    /// Works other hours (and maybe from elsewhere) than claimed.
    Fraud {
        tz: Tz,
        hours: WorkHours,
        sources: Sources,
    },
    /// A second person logs in from these far networks on some days.
    TwoContinents {
        far: Vec<NetId>,
    },
    /// Some days from a co-working space's line.
    Coworking(NetId),
    /// A consumer VPN for a share of sign-ins; exits in the home country first.
    PrivacyVpn {
        exits: Vec<NetId>,
        share: f64,
    },
}

/// One employee.
#[derive(Debug, Clone)]
pub struct Employee {
    /// HR id, `E10001`...
    pub id: String,
    pub first: &'static str,
    pub last: &'static str,
    /// Unique user name.
    pub username: String,
    /// Roster aliases, in one of several forms.
    pub aliases: Vec<String>,
    /// What Okta writes as `actor.alternateId` (an alias, sometimes in other case).
    pub okta_login: String,
    /// What the VPN concentrator writes as the user.
    pub vpn_login: String,
    /// Okta user id (`00u...`).
    pub okta_id: String,
    pub department: &'static str,
    /// Claimed place (the roster's country, region, city, point and time zone).
    pub claimed: PlaceId,
    /// Roster `work_hours`, when HR recorded them.
    pub work_hours: Option<WorkHours>,
    pub start_date: NaiveDate,
    pub status: Status,
    pub home: Home,
    /// The office network, for employees living in an office city.
    pub office: Option<NetId>,
    /// Share of ordinary logins through the phone's mobile connection.
    pub mobile_share: f64,
    /// Connects through the company VPN (Cisco AnyConnect) too.
    pub uses_vpn: bool,
    /// Signs in through Microsoft Entra ID too (mail, Teams): real world only.
    pub entra: bool,
    /// Seeds the device fingerprint and user agent.
    pub device: u64,
    pub scenario: Scenario,
    pub setup: Setup,
}

impl Employee {
    /// The claimed place.
    pub fn claimed_place(&self) -> &'static world::Place {
        &PLACES[self.claimed]
    }
}

#[rustfmt::skip]
const FIRST: &[&str] = &[
    "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "Daniel",
    "Sarah", "Wei", "Mei", "Hiroshi", "Yuki", "Priya", "Arjun", "Ananya", "Rahul", "Lucas",
    "Gabriela", "Mateo", "Valentina", "Sofia", "Diego", "Camila", "Olivia", "Liam", "Emma",
    "Noah", "Amelia", "Jakub", "Zofia", "Lukas", "Hannah", "Pierre", "Chloe", "Javier", "Lucia",
    "Sven", "Fatima", "Omar", "Aisha", "Kenji", "Ji-woo", "Maria", "Jose", "Andile", "Tomasz",
    "Ines", "Noel", "Grace", "Ethan", "Ava", "Isabel", "Leo", "Mia",
];
#[rustfmt::skip]
const LAST: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez",
    "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Lee", "Thompson",
    "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Nguyen", "Kim", "Chen", "Wang", "Tanaka", "Sato", "Suzuki", "Patel", "Sharma", "Singh",
    "Reddy", "Silva", "Santos", "Oliveira", "Hernandez", "Gonzalez", "Rodriguez", "Fernandez",
    "Kowalski", "Nowak", "Wisniewski", "Muller", "Schmidt", "Schneider", "Dubois", "Laurent",
    "Moreau", "Jansen", "de Vries", "Murphy", "Kelly", "O'Brien", "Reyes", "Cruz", "Bautista",
];
const DEPARTMENTS: &[&str] = &[
    "Platform",
    "Data",
    "Payments",
    "Security",
    "Mobile",
    "Operations",
    "Support",
    "Finance",
    "Sales",
    "Design",
];

/// Hands out distinct host numbers per network, so no two households share an address.
#[derive(Default)]
struct Hosts(HashMap<NetId, u32>);

impl Hosts {
    fn next(&mut self, net: NetId, rng: &mut ChaCha8Rng) -> u32 {
        let n = self.0.entry(net).or_insert_with(|| rng.random_range(3..40));
        *n += rng.random_range(1..4);
        *n
    }
}

/// Builds the population.
struct Builder<'a> {
    world: &'a World,
    /// The real world's rates, when the world is real.
    real: Option<&'a Rates>,
    rng: &'a mut ChaCha8Rng,
    start: NaiveDate,
    days: u32,
    hosts: Hosts,
    usernames: HashSet<String>,
}

fn home_places() -> Vec<(PlaceId, u32)> {
    PLACES
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p.role {
            PlaceRole::Home(w) => Some((i, w)),
            PlaceRole::Elsewhere => None,
        })
        .collect()
}

fn weighted(rng: &mut ChaCha8Rng, items: &[(PlaceId, u32)]) -> PlaceId {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total.max(1));
    for &(i, w) in items {
        if pick < w {
            return i;
        }
        pick -= w;
    }
    items.first().map(|&(i, _)| i).unwrap_or(0)
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn places_where(pred: impl Fn(&world::Place) -> bool) -> Vec<(PlaceId, u32)> {
    home_places()
        .into_iter()
        .filter(|&(i, _)| pred(&PLACES[i]))
        .collect()
}

impl Builder<'_> {
    fn home(&mut self, place: PlaceId) -> Home {
        let w = self.world;
        let v4s: Vec<NetId> = w
            .networks_at(place, NetKind::Residential)
            .into_iter()
            .filter(|&n| w.networks[n].net.addr().is_ipv4())
            .collect();
        let v4 = pick(self.rng, &v4s);
        let host = self.hosts.next(v4, self.rng);
        let system = w.networks[v4].system;
        let v6 = w
            .networks_at(place, NetKind::Residential)
            .into_iter()
            .find(|&n| w.networks[n].net.addr().is_ipv6() && w.networks[n].system == system)
            .filter(|_| self.rng.random_bool(0.7))
            .and_then(|n| {
                let slot = self.hosts.next(n, self.rng);
                w.household_prefix(n, slot).map(|p| (n, p))
            });
        Home {
            place,
            v4,
            host,
            v6,
        }
    }

    fn username(&mut self, first: &str, last: &str) -> String {
        let clean = |s: &str| {
            s.to_lowercase()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        };
        let (f, l) = (clean(first), clean(last));
        let base = match self.rng.random_range(0..3) {
            0 => format!("{}{l}", &f[..1.min(f.len())]),
            1 => format!("{f}.{l}"),
            _ => format!("{f}{}", &l[..1.min(l.len())]),
        };
        let mut name = base.clone();
        let mut n = 2;
        while !self.usernames.insert(name.clone()) {
            name = format!("{base}{n}");
            n += 1;
        }
        name
    }

    /// The claimed place for a scenario; a laptop farm's places are chosen per farm.
    fn claimed_for(&mut self, scenario: Scenario) -> PlaceId {
        let pool = match scenario {
            Scenario::TwoContinents if self.real.is_some() => {
                places_where(|p| !p.tz.starts_with("Asia/"))
            }
            Scenario::VpnHostingChina | Scenario::TwoContinents | Scenario::MobileCarrierNat => {
                places_where(|p| p.country == "US")
            }
            Scenario::HoursOnly if self.real.is_some() => {
                // Korea's office hours must be far from the claimed zone's to be a sign:
                // the Americas and Europe.
                places_where(|p| p.tz.starts_with("America/") || p.tz.starts_with("Europe/"))
            }
            Scenario::HoursOnly => places_where(|p| p.tz == "America/New_York"),
            Scenario::UsVpnHopping => places_where(|p| p.country == "US"),
            Scenario::DirectChinaRussia | Scenario::ChinaCloud | Scenario::Mixed => {
                places_where(|p| !p.tz.starts_with("Asia/"))
            }
            Scenario::Coworking => places_where(|p| matches!(p.role, PlaceRole::Home(w) if w >= 2)),
            Scenario::CorporateVpnEgress => {
                places_where(|p| ["GB", "IE", "DE", "FR", "PL", "ES", "PT"].contains(&p.country))
            }
            Scenario::Relocated => {
                let all = home_places();
                all.iter()
                    .copied()
                    .filter(|&(i, _)| {
                        all.iter()
                            .filter(|&&(j, _)| PLACES[j].country == PLACES[i].country)
                            .count()
                            > 1
                    })
                    .collect()
            }
            _ => home_places(),
        };
        weighted(self.rng, &pool)
    }

    fn setup(&mut self, scenario: Scenario, claimed: PlaceId) -> Setup {
        let w = self.world;
        let days = self.days;
        match scenario {
            Scenario::Baseline | Scenario::NightShift => Setup::None,
            Scenario::MobileCarrierNat => Setup::MobileFirst,
            Scenario::CorporateVpnEgress => {
                let egress = place_by_city(CORPORATE_VPN_CITIES[0])
                    .map(|p| w.networks_at(p, NetKind::CorporateVpn))
                    .and_then(|n| n.first().copied())
                    .unwrap_or(0);
                Setup::CorporateEgress(egress)
            }
            Scenario::BusinessTravel | Scenario::ApprovedTrip => {
                let country = PLACES[claimed].country;
                let business = scenario == Scenario::BusinessTravel;
                let dests: Vec<PlaceId> = if business {
                    TRAVEL_CITIES
                        .iter()
                        .filter_map(|c| place_by_city(c))
                        .collect()
                } else {
                    home_places().into_iter().map(|(i, _)| i).collect()
                };
                let dests: Vec<PlaceId> = dests
                    .into_iter()
                    .filter(|&d| PLACES[d].country != country)
                    .collect();
                let dest = pick(self.rng, &dests);
                let kind = if business {
                    NetKind::Hotel
                } else {
                    NetKind::Residential
                };
                let net = w.networks_at(dest, kind).first().copied().unwrap_or(0);
                let airport = business
                    .then(|| w.networks_at(dest, NetKind::Airport).first().copied())
                    .flatten();
                let stay = if business {
                    self.rng.random_range(3..6)
                } else {
                    self.rng.random_range(6..12)
                };
                let stay = stay.min(days.saturating_sub(4)).max(1);
                let depart = self.rng.random_range(1..(days - stay - 1).max(2));
                Setup::Away(Away {
                    dest,
                    net,
                    airport,
                    depart,
                    last: depart + stay,
                    approved: !business || self.rng.random_bool(0.5),
                })
            }
            Scenario::Relocated => {
                let country = PLACES[claimed].country;
                let olds = places_where(|p| p.country == country);
                let olds: Vec<(PlaceId, u32)> =
                    olds.into_iter().filter(|&(i, _)| i != claimed).collect();
                let old = weighted(self.rng, &olds);
                let old = self.home(old);
                Setup::Relocated {
                    old,
                    until: self.rng.random_range(3..6).min(days / 2),
                }
            }
            Scenario::VpnHostingChina => Setup::Fraud {
                tz: chrono_tz::Asia::Shanghai,
                hours: korea_hours(),
                sources: Sources::ChinaMix,
            },
            Scenario::HoursOnly if self.real.is_some() => {
                // A residential proxy in the claimed city: a broadband line there.
                let lines = w.networks_at(claimed, NetKind::Residential);
                let net = pick(self.rng, &lines);
                let host = self.hosts.next(net, self.rng);
                Setup::Fraud {
                    tz: chrono_tz::Asia::Seoul,
                    hours: korea_hours(),
                    sources: Sources::Proxy { net, host },
                }
            }
            Scenario::HoursOnly => Setup::Fraud {
                tz: chrono_tz::Asia::Seoul,
                hours: korea_hours(),
                sources: Sources::Home,
            },
            Scenario::TwoContinents => {
                // The real world's far side is where the operators are; the synthetic one
                // keeps its mix.
                let far_countries: &[&str] = if self.real.is_some() {
                    &["CN", "RU"]
                } else {
                    &["CN", "RU", "SG", "NL"]
                };
                let far: Vec<NetId> = w
                    .networks_of(NetKind::Hosting)
                    .into_iter()
                    .chain(w.networks_of(NetKind::Residential))
                    .filter(|&n| far_countries.contains(&w.place_of(n).country))
                    .filter(|&n| w.networks[n].net.addr().is_ipv4())
                    .collect();
                Setup::TwoContinents { far }
            }
            Scenario::Household | Scenario::NewHire => Setup::None,
            Scenario::Coworking => w
                .networks_at(claimed, NetKind::Coworking)
                .first()
                .map_or(Setup::None, |&n| Setup::Coworking(n)),
            Scenario::ConsumerVpnUser => {
                let country = PLACES[claimed].country;
                let all = w.networks_of(NetKind::ConsumerVpn);
                let mut exits: Vec<NetId> = all
                    .iter()
                    .copied()
                    .filter(|&n| w.place_of(n).country == country)
                    .take(3)
                    .collect();
                // Now and then an exit abroad (a streaming catalogue, a default server).
                if !all.is_empty() {
                    exits.push(all[self.rng.random_range(0..all.len())]);
                }
                Setup::PrivacyVpn {
                    exits,
                    share: self.rng.random_range(0.2..0.6),
                }
            }
            Scenario::DirectChinaRussia => {
                let country = if self.rng.random_bool(0.7) {
                    "CN"
                } else {
                    "RU"
                };
                let homes: Vec<NetId> = w
                    .networks_of(NetKind::Residential)
                    .into_iter()
                    .filter(|&n| w.place_of(n).country == country)
                    .collect();
                let net = pick(self.rng, &homes);
                let host = self.hosts.next(net, self.rng);
                Setup::Fraud {
                    tz: chrono_tz::Asia::Seoul,
                    hours: korea_hours(),
                    sources: Sources::Direct {
                        net,
                        host,
                        phones: w.mobile_pools(country),
                    },
                }
            }
            Scenario::ChinaCloud => Setup::Fraud {
                tz: chrono_tz::Asia::Seoul,
                hours: korea_hours(),
                sources: Sources::Cloud(self.some_of(&chinese_clouds(w), 3)),
            },
            Scenario::UsVpnHopping => Setup::Fraud {
                tz: chrono_tz::Asia::Seoul,
                hours: korea_hours(),
                sources: Sources::UsExits(us_exits(w)),
            },
            Scenario::Mixed => {
                let direct: Vec<NetId> = w
                    .networks_of(NetKind::Residential)
                    .into_iter()
                    .filter(|&n| w.place_of(n).country == "CN")
                    .collect();
                Setup::Fraud {
                    tz: chrono_tz::Asia::Seoul,
                    hours: korea_hours(),
                    sources: Sources::Mixed {
                        exits: us_exits(w),
                        direct: self.some_of(&direct, 2),
                        cloud: self.some_of(&chinese_clouds(w), 2),
                    },
                }
            }
            // Farms are set up per group in `build`.
            Scenario::LaptopFarm => Setup::None,
        }
    }

    fn employee(&mut self, index: usize, scenario: Scenario, claimed: PlaceId) -> Employee {
        let rng = &mut *self.rng;
        let first = pick(rng, FIRST);
        let last = pick(rng, LAST);
        let department = pick(rng, DEPARTMENTS);
        let device: u64 = rng.random();
        let username = self.username(first, last);
        let rng = &mut *self.rng;
        let email = format!("{username}@{DOMAIN}");
        let netbios = format!("{NETBIOS}\\{username}");
        let aliases = match rng.random_range(0..4) {
            0 => vec![email.clone(), netbios.clone()],
            1 => vec![email.clone(), username.clone()],
            2 => vec![email.clone()],
            _ => vec![email.clone(), netbios.clone(), username.clone()],
        };
        // Okta keeps the case the account was created with; matching ignores it.
        let okta_login = if rng.random_bool(0.1) {
            let mut c = email.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or(email)
        } else {
            email
        };
        let vpn_login = if aliases.contains(&netbios) && rng.random_bool(0.5) {
            netbios
        } else {
            username.clone()
        };
        let work_hours = if scenario == Scenario::NightShift {
            "22:00-06:00 Sun-Thu".parse().ok()
        } else if rng.random_bool(0.08) && !scenario.is_fraudulent() {
            None
        } else {
            let start = pick(rng, &[480u16, 510, 540, 540, 540, 570, 600]);
            let len = pick(rng, &[510u16, 540, 540]);
            let end = start + len;
            format!(
                "{:02}:{:02}-{:02}:{:02} Mon-Fri",
                start / 60,
                start % 60,
                end / 60,
                end % 60
            )
            .parse()
            .ok()
        };
        let new_hire = (scenario == Scenario::Baseline && rng.random_bool(0.015))
            || scenario == Scenario::NewHire;
        let start_date = if new_hire {
            self.start + Days::new(u64::from(rng.random_range(1..(self.days / 2).max(2))))
        } else {
            self.start - Days::new(rng.random_range(30..2500))
        };
        let status = if scenario != Scenario::Baseline || new_hire {
            Status::Active
        } else {
            match rng.random_range(0..1000) {
                0..10 => Status::Leave,
                10..15 => Status::Terminated,
                _ => Status::Active,
            }
        };
        let mut mobile_share = rng.random_range(0.0..0.08);
        let uses_vpn = scenario.is_fraudulent() || rng.random_bool(0.25);
        // The real world's phones and second identity provider (drawn after everything the
        // synthetic world draws, which stays as it was for a seed).
        let mut entra = false;
        if let Some(rates) = self.real {
            mobile_share = if scenario.is_fraudulent() {
                0.0
            } else {
                (rates.mobile_share * rng.random_range(0.4..1.6)).min(0.6)
            };
            entra = rng.random_bool(rates.entra_users);
        }
        let home = self.home(claimed);
        let office = OFFICE_CITIES
            .iter()
            .any(|c| PLACES[claimed].city == *c)
            .then(|| {
                self.world
                    .networks_at(claimed, NetKind::Office)
                    .first()
                    .copied()
            })
            .flatten()
            .filter(|_| self.rng.random_bool(0.5));
        let setup = self.setup(scenario, claimed);
        let okta_id = format!("00u{:017x}", device >> 1);
        Employee {
            id: format!("E{}", 10_001 + index),
            first,
            last,
            username,
            aliases,
            okta_login,
            vpn_login,
            okta_id,
            department,
            claimed,
            work_hours,
            start_date,
            status,
            home,
            office,
            mobile_share,
            uses_vpn,
            entra,
            device,
            scenario,
            setup,
        }
    }
}

/// 09:00-18:00 on weekdays: office hours where the fraudulent workers really are.
fn korea_hours() -> WorkHours {
    "09:00-18:00 Mon-Fri"
        .parse()
        .unwrap_or_else(|_| unreachable!("a valid literal"))
}

/// Servers of the Chinese clouds in the world.
fn chinese_clouds(w: &World) -> Vec<NetId> {
    w.networks_of(NetKind::Hosting)
        .into_iter()
        .filter(|&n| w.place_of(n).country == "CN")
        .collect()
}

/// US consumer VPN exits and VPS addresses.
fn us_exits(w: &World) -> Vec<NetId> {
    w.networks_of(NetKind::ConsumerVpn)
        .into_iter()
        .chain(w.networks_of(NetKind::Hosting))
        .filter(|&n| w.place_of(n).country == "US")
        .collect()
}

/// How many employees of a scenario a population of `n` gets in this world.
fn planted(s: Scenario, n: u32, real: Option<&Rates>) -> u32 {
    match real {
        Some(rates) => s.planted_real(n, rates),
        None => s.planted(n),
    }
}

/// Build `n` employees for a `days`-long simulation from `start`, planting every scenario
/// of the world (the real world's when `real` has its rates).
pub fn build(
    world: &World,
    real: Option<&Rates>,
    rng: &mut ChaCha8Rng,
    n: u32,
    start: NaiveDate,
    days: u32,
) -> Vec<Employee> {
    let planted_list: &[Scenario] = if real.is_some() {
        &Scenario::PLANTED_REAL
    } else {
        &Scenario::PLANTED
    };
    // Farms (three) and households (two) sit together; the rest are shuffled.
    let grouped = |s: Scenario| matches!(s, Scenario::LaptopFarm | Scenario::Household);
    let mut scenarios: Vec<Scenario> = planted_list
        .iter()
        .filter(|s| !grouped(**s))
        .flat_map(|&s| std::iter::repeat_n(s, planted(s, n, real) as usize))
        .collect();
    let in_groups: u32 = planted_list
        .iter()
        .filter(|s| grouped(**s))
        .map(|&s| planted(s, n, real))
        .sum();
    scenarios.resize((n - in_groups) as usize, Scenario::Baseline);
    scenarios.shuffle(rng);
    for &(s, size) in &[(Scenario::LaptopFarm, 3), (Scenario::Household, 2)] {
        if !planted_list.contains(&s) {
            continue;
        }
        for _ in 0..planted(s, n, real) / size {
            let at = rng.random_range(0..=scenarios.len());
            for _ in 0..size {
                scenarios.insert(at, s);
            }
        }
    }
    let mut b = Builder {
        world,
        real,
        rng,
        start,
        days,
        hosts: Hosts::default(),
        usernames: HashSet::new(),
    };
    let mut out: Vec<Employee> = Vec::with_capacity(n as usize);
    let mut i = 0;
    while i < scenarios.len() {
        match scenarios[i] {
            Scenario::LaptopFarm => {
                out.extend(b.farm(i));
                i += 3;
            }
            Scenario::Household => {
                out.extend(b.household(i));
                i += 2;
            }
            s => {
                let claimed = b.claimed_for(s);
                out.push(b.employee(i, s, claimed));
                i += 1;
            }
        }
    }
    out
}

impl Builder<'_> {
    /// Two colleagues living together: one claimed place, one home connection.
    fn household(&mut self, first_index: usize) -> Vec<Employee> {
        let claimed = self.claimed_for(Scenario::Household);
        let a = self.employee(first_index, Scenario::Household, claimed);
        let mut b = self.employee(first_index + 1, Scenario::Household, claimed);
        b.home = a.home.clone();
        vec![a, b]
    }

    /// `k` of `items`, at random (all of them when there are fewer).
    fn some_of(&mut self, items: &[NetId], k: usize) -> Vec<NetId> {
        let mut v = items.to_vec();
        v.shuffle(self.rng);
        v.truncate(k.max(1));
        v
    }

    /// Three employees claiming three different US states, on one residential address in a
    /// fourth state, working Korea hours.
    fn farm(&mut self, first_index: usize) -> Vec<Employee> {
        let us = places_where(|p| p.country == "US");
        let farm_place = weighted(self.rng, &us);
        let farm_home = self.home(farm_place);
        let mut states = vec![PLACES[farm_place].region];
        let mut members = Vec::new();
        for k in 0..3 {
            let choices: Vec<(PlaceId, u32)> = us
                .iter()
                .copied()
                .filter(|&(p, _)| !states.contains(&PLACES[p].region))
                .collect();
            let claimed = weighted(self.rng, &choices);
            states.push(PLACES[claimed].region);
            let mut e = self.employee(first_index + k, Scenario::LaptopFarm, claimed);
            e.setup = Setup::Fraud {
                tz: chrono_tz::Asia::Seoul,
                hours: korea_hours(),
                sources: Sources::Farm {
                    net: farm_home.v4,
                    host: farm_home.host,
                },
            };
            members.push(e);
        }
        members
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn population(n: u32) -> Vec<Employee> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let world = World::build(&mut rng);
        let start = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        build(&world, None, &mut rng, n, start, 30)
    }

    #[test]
    fn ids_and_user_names_are_unique_and_every_scenario_is_planted() {
        let people = population(300);
        assert_eq!(people.len(), 300);
        let ids: HashSet<_> = people.iter().map(|e| &e.id).collect();
        let names: HashSet<_> = people.iter().map(|e| &e.username).collect();
        assert_eq!(ids.len(), 300);
        assert_eq!(names.len(), 300);
        for s in Scenario::PLANTED {
            let n = people.iter().filter(|e| e.scenario == s).count() as u32;
            assert_eq!(n, s.planted(300), "{s:?}");
        }
    }

    #[test]
    fn a_laptop_farm_is_three_states_on_one_address() {
        let people = population(60);
        let farm: Vec<&Employee> = people
            .iter()
            .filter(|e| e.scenario == Scenario::LaptopFarm)
            .collect();
        assert_eq!(farm.len(), 3);
        let states: HashSet<_> = farm.iter().map(|e| e.claimed_place().region).collect();
        assert_eq!(states.len(), 3);
        let addresses: HashSet<_> = farm
            .iter()
            .map(|e| match &e.setup {
                Setup::Fraud {
                    sources: Sources::Farm { net, host },
                    ..
                } => (*net, *host),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(addresses.len(), 1);
        assert!(farm.iter().all(|e| e.claimed_place().country == "US"));
    }

    #[test]
    fn households_do_not_share_addresses() {
        let people = population(500);
        let homes: HashSet<_> = people.iter().map(|e| (e.home.v4, e.home.host)).collect();
        // Only laptop-farm members (who have their own claimed homes too) could repeat.
        assert_eq!(homes.len(), people.len());
    }
}
