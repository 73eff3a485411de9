//! Login activity: each employee's working days turned into events, streamed in time order
//! with bounded memory.
//!
//! A day is generated for everybody at once; its events wait in a heap until no later day
//! can produce an earlier event. Local day `d` starts no earlier than UTC midnight of `d`
//! minus 14 hours (the largest offset east of UTC), so after generating day `d` every
//! event before that bound for day `d + 1` is final. The heap holds about two days of
//! events, whatever the length of the simulation.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv6Addr};

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::Simulation;
use super::population::{Employee, Home, Setup, Sources};
use super::scenarios::Scenario;
use super::world::{CONSUMER_VPN_EXITS, NetId, NetKind, World, place_by_city};
use crate::roster::{Status, WorkHours};

/// What happened, in the vocabulary of the source that logs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Okta `user.session.start`, SUCCESS.
    SessionStart,
    /// Okta `user.session.start`, FAILURE (wrong password).
    FailedLogin,
    /// Okta `user.authentication.auth_via_mfa`.
    Mfa,
    /// Okta `user.authentication.sso` into an app (index into the app list).
    Sso(u8),
    /// Okta non-interactive authentication by a native client app (`PublicClientApp`
    /// actor) refreshing its token.
    Token(u8),
    /// Okta `user.session.end`.
    SessionEnd,
    /// Cisco ASA 113039: AnyConnect session started.
    VpnStart,
    /// Cisco ASA 113019: session disconnected, with its figures.
    VpnEnd {
        secs: u32,
        bytes_out: u64,
        bytes_in: u64,
    },
    /// Microsoft Entra ID interactive sign-in into an app (index into [`ENTRA_APPS`]).
    EntraSignIn(u8),
}

impl Kind {
    /// Written to the VPN log rather than Okta's.
    pub fn is_vpn(self) -> bool {
        matches!(self, Kind::VpnStart | Kind::VpnEnd { .. })
    }

    /// Written to the Entra ID sign-in log.
    pub fn is_entra(self) -> bool {
        matches!(self, Kind::EntraSignIn(_))
    }

    /// A person signing in (what detectors score).
    pub fn is_interactive(self) -> bool {
        matches!(
            self,
            Kind::SessionStart
                | Kind::FailedLogin
                | Kind::Sso(_)
                | Kind::VpnStart
                | Kind::EntraSignIn(_)
        )
    }
}

/// One generated event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEvent {
    pub time: DateTime<Utc>,
    /// Index into [`Simulation::employees`].
    pub employee: u32,
    pub day: u32,
    /// Order within the employee's day, for a total order among equal times.
    pub seq: u32,
    pub kind: Kind,
    pub ip: IpAddr,
    pub net: NetId,
    /// The Okta session (`externalSessionId`) the event belongs to.
    pub session: u64,
    /// Per-event randomness for ids (uuid, request id).
    pub nonce: u128,
    /// Part of the behaviour the employee's scenario plants.
    pub anomalous: bool,
}

impl Ord for SimEvent {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.employee, self.day, self.seq).cmp(&(
            other.time,
            other.employee,
            other.day,
            other.seq,
        ))
    }
}

impl PartialOrd for SimEvent {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A source address and whether it is part of the planted behaviour.
#[derive(Debug, Clone, Copy)]
struct Access {
    ip: IpAddr,
    net: NetId,
    anomalous: bool,
}

/// Mixes the seed, employee and day into one generator seed (SplitMix64 finaliser), so a
/// day's events depend on nothing generated before them.
fn day_seed(seed: u64, employee: u32, day: u32) -> u64 {
    let mut z =
        seed ^ (u64::from(employee) << 32 | u64::from(day)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The UTC instant of a local wall-clock time; a time skipped by a DST change moves an
/// hour later, as clocks do.
fn at_local(tz: Tz, date: NaiveDate, minutes: i64) -> DateTime<Utc> {
    let naive = date.and_time(NaiveTime::MIN) + Duration::minutes(minutes);
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| naive.and_utc())
}

/// Generates one employee's day.
struct Day<'a> {
    world: &'a World,
    e: &'a Employee,
    index: u32,
    day: u32,
    rng: ChaCha8Rng,
    out: Vec<SimEvent>,
    /// The household's IPv6 privacy address for the day.
    v6_today: Option<(NetId, IpAddr)>,
    office_today: bool,
    /// Earliest instant the day may use (see the module documentation).
    floor: DateTime<Utc>,
    /// The real world's rates (after-hours and weekend sign-ins); `None` in the synthetic
    /// world, whose output for a seed stays as it was.
    rates: Option<&'a super::real::Rates>,
}

impl Day<'_> {
    fn push(&mut self, time: DateTime<Utc>, kind: Kind, a: Access, session: u64) {
        let seq = self.out.len() as u32;
        let nonce = self.rng.random();
        self.out.push(SimEvent {
            time: time.max(self.floor),
            employee: self.index,
            day: self.day,
            seq,
            kind,
            ip: a.ip,
            net: a.net,
            session,
            nonce,
            anomalous: a.anomalous || all_anomalous(self.e.scenario),
        });
    }

    fn host(&mut self, net: NetId, hosts: u32) -> Access {
        let n = self.rng.random_range(0..hosts);
        Access {
            ip: self.world.host(net, n),
            net,
            anomalous: true,
        }
    }

    fn home(&self, home: &Home, anomalous: bool) -> Access {
        match self.v6_today {
            Some((net, ip)) if std::ptr::eq(home, &self.e.home) => Access { ip, net, anomalous },
            _ => Access {
                ip: self.world.host(home.v4, home.host),
                net: home.v4,
                anomalous,
            },
        }
    }

    fn mobile(&mut self, anomalous: bool) -> Option<Access> {
        let pools = self.world.mobile_pools(self.e.claimed_place().country);
        // One pool (the synthetic world) is taken without a draw, so a seed's synthetic
        // output stays as it was.
        let pool = match pools.len() {
            0 => return None,
            1 => pools[0],
            n => pools[self.rng.random_range(0..n)],
        };
        // A handful of public addresses serve the whole country's subscribers.
        let mut a = self.host(pool, 8);
        a.anomalous = anomalous;
        Some(a)
    }

    /// One of `nets` (a host among `hosts`), or the home line when there is none.
    fn one_of(&mut self, nets: &[NetId], hosts: u32) -> Access {
        match nets.len() {
            0 => self.home(&self.e.home, true),
            n => {
                let net = nets[self.rng.random_range(0..n)];
                self.host(net, hosts)
            }
        }
    }

    /// Where one sign-in comes from.
    fn access(&mut self) -> Access {
        let w = self.world;
        let e = self.e;
        match &e.setup {
            Setup::Away(away) if (away.depart + 1..=away.last).contains(&self.day) => {
                match away.airport {
                    Some(airport) if self.day == away.depart + 1 && self.out.is_empty() => {
                        self.host(airport, 250)
                    }
                    _ => self.host(away.net, 250),
                }
            }
            Setup::Relocated { old, until } if self.day < *until => self.home(old, true),
            Setup::CorporateEgress(net) => self.host(*net, 12),
            Setup::MobileFirst if self.rng.random_bool(0.85) => self
                .mobile(true)
                .unwrap_or_else(|| self.home(&e.home, false)),
            Setup::Coworking(net) if self.rng.random_bool(0.3) => {
                let mut a = self.host(*net, 20);
                a.anomalous = false;
                a
            }
            Setup::PrivacyVpn { exits, share } if self.rng.random_bool(*share) => {
                // Home-country exits most of the time; the last one is abroad.
                let n = exits.len();
                let k = if n > 1 && self.rng.random_bool(0.85) {
                    self.rng.random_range(0..n - 1)
                } else {
                    n.saturating_sub(1)
                };
                match exits.get(k) {
                    Some(&net) => {
                        let mut a = self.host(net, 200);
                        a.anomalous = false;
                        a
                    }
                    None => self.home(&e.home, false),
                }
            }
            Setup::Fraud { sources, .. } => match sources {
                Sources::Home => self.home(&e.home, true),
                Sources::Proxy { net, host } => Access {
                    ip: w.host(*net, *host),
                    net: *net,
                    anomalous: true,
                },
                Sources::Direct { net, host, phones } => {
                    if !phones.is_empty() && self.rng.random_bool(0.15) {
                        self.one_of(phones, 8)
                    } else {
                        Access {
                            ip: w.host(*net, *host),
                            net: *net,
                            anomalous: true,
                        }
                    }
                }
                Sources::Cloud(servers) => self.one_of(servers, 4),
                Sources::UsExits(exits) => {
                    // One exit per day (a different US city most days), chosen from the day.
                    let n = exits.len();
                    if n == 0 {
                        self.home(&e.home, true)
                    } else {
                        let net =
                            exits[(day_seed(u64::from(self.index), 7, self.day) as usize) % n];
                        self.host(net, 200)
                    }
                }
                Sources::Mixed {
                    exits,
                    direct,
                    cloud,
                } => {
                    let roll = self.rng.random_range(0..100);
                    match roll {
                        0..15 if !direct.is_empty() => self.one_of(direct, 200),
                        15..25 if !cloud.is_empty() => self.one_of(cloud, 4),
                        _ => self.one_of(exits, 200),
                    }
                }
                Sources::Farm { net, host } => Access {
                    ip: w.host(*net, *host),
                    net: *net,
                    anomalous: true,
                },
                Sources::ChinaMix => {
                    let roll = self.rng.random_range(0..100);
                    let kind = match roll {
                        0..65 => NetKind::ConsumerVpn,
                        65..85 => NetKind::Hosting,
                        _ => NetKind::Residential,
                    };
                    let nets: Vec<NetId> = match kind {
                        // Mostly the provider's US exits: they look like the claimed country.
                        NetKind::ConsumerVpn if roll < 45 => CONSUMER_VPN_EXITS[..2]
                            .iter()
                            .filter_map(|c| place_by_city(c))
                            .flat_map(|p| w.networks_at(p, NetKind::ConsumerVpn))
                            .collect(),
                        NetKind::Residential => place_by_city("Shenyang")
                            .map(|p| w.networks_at(p, kind))
                            .unwrap_or_default(),
                        _ => w.networks_of(kind),
                    };
                    let pick = self.rng.random_range(0..nets.len().max(1));
                    match nets.get(pick) {
                        Some(&net) => self.host(net, 200),
                        None => self.home(&e.home, true),
                    }
                }
            },
            _ => {
                if self.office_today
                    && let Some(office) = e.office
                {
                    let mut a = self.host(office, 6);
                    a.anomalous = false;
                    return a;
                }
                if self.rng.random_bool(e.mobile_share)
                    && let Some(a) = self.mobile(false)
                {
                    return a;
                }
                self.home(&e.home, false)
            }
        }
    }

    /// The time zone and hours the employee really works today, or `None` for a day off.
    fn schedule(&self, date: NaiveDate) -> Option<(Tz, WorkHours)> {
        let e = self.e;
        let claimed = e.work_hours.unwrap_or_else(default_hours);
        let (tz, hours) = match &e.setup {
            Setup::Fraud { tz, hours, .. } => (*tz, *hours),
            Setup::Away(a) if (a.depart..=a.last + 1).contains(&self.day) => {
                if self.day == a.depart || self.day == a.last + 1 {
                    return None; // flying
                }
                (super::world::PLACES[a.dest].tz(), claimed)
            }
            Setup::Relocated { old, until } if self.day < *until => {
                (super::world::PLACES[old.place].tz(), claimed)
            }
            _ => (e.claimed_place().tz(), claimed),
        };
        hours.starts_on(date.weekday()).then_some((tz, hours))
    }

    /// A legitimate employee's sign-in outside working hours, in the real world: mail on
    /// the phone in the evening or at the weekend, or a laptop opened at home.
    fn off_hours(&mut self, tz: Tz, date: NaiveDate, from_min: i64, to_min: i64) {
        let minute = self.rng.random_range(from_min..to_min);
        let t = at_local(tz, date, minute) + Duration::seconds(self.rng.random_range(0..60));
        let via = if self.rng.random_bool(0.6) {
            self.mobile(false)
                .unwrap_or_else(|| self.home(&self.e.home, false))
        } else {
            self.home(&self.e.home, false)
        };
        let session: u64 = self.rng.random();
        let kind = if self.e.entra && self.rng.random_bool(0.5) {
            Kind::EntraSignIn(self.rng.random_range(0..ENTRA_APPS.len() as u8))
        } else {
            Kind::SessionStart
        };
        self.push(t, kind, via, session);
    }

    fn generate(mut self, date: NaiveDate) -> Vec<SimEvent> {
        let legitimate_at_home = !self.e.scenario.is_fraudulent()
            && matches!(
                self.e.setup,
                Setup::None | Setup::MobileFirst | Setup::Coworking(_) | Setup::PrivacyVpn { .. }
            );
        let Some((tz, hours)) = self.schedule(date) else {
            if let Some(rates) = self.rates
                && legitimate_at_home
                && self.rng.random_bool(rates.weekend_days)
            {
                let tz = self.e.claimed_place().tz();
                self.off_hours(tz, date, 9 * 60, 22 * 60);
            }
            return self.out;
        };
        if let Some(rates) = self.rates
            && legitimate_at_home
            && self.rng.random_bool(rates.after_hours_days)
        {
            // Evening, 19:00-23:30 on the local clock of a day worked from home.
            self.off_hours(tz, date, 19 * 60, 23 * 60 + 30);
        }
        let e = self.e;
        if let Some((net, prefix)) = e.home.v6 {
            // A privacy address: the household's first /64, a new interface id each day.
            let iid: u64 = self.rng.random();
            let ip = IpAddr::V6(Ipv6Addr::from(prefix | 1u128 << 64 | u128::from(iid)));
            self.v6_today = self.rng.random_bool(0.6).then_some((net, ip));
        }
        self.office_today = e.office.is_some() && self.rng.random_bool(0.3);
        let start_min = i64::from(hours.start_minute()) + self.rng.random_range(-20..25);
        let t0 = at_local(tz, date, start_min) + Duration::seconds(self.rng.random_range(0..60));
        let shift = i64::from(hours.shift_minutes()) + self.rng.random_range(-30..45);
        let secs = |m: i64| Duration::seconds(m);

        let main = self.access();
        let session: u64 = self.rng.random();
        if self.rng.random_bool(0.03) {
            let t = t0 - secs(self.rng.random_range(30..180));
            self.push(t, Kind::FailedLogin, main, session);
        }
        self.push(t0, Kind::SessionStart, main, session);
        if self.rng.random_bool(0.9) {
            let t = t0 + secs(self.rng.random_range(5..25));
            self.push(t, Kind::Mfa, main, session);
        }
        for _ in 0..self.rng.random_range(1..3) {
            let t = t0 + secs(self.rng.random_range(30..600));
            let app = self.rng.random_range(0..APPS.len() as u8);
            self.push(t, Kind::Sso(app), main, session);
        }
        for _ in 0..self.rng.random_range(0..3) {
            let t = t0 + secs(self.rng.random_range(600..shift * 60));
            let app = self.rng.random_range(0..CLIENT_APPS.len() as u8);
            self.push(t, Kind::Token(app), main, session);
        }
        if self.rng.random_bool(0.35) {
            // Back from lunch, maybe on another connection.
            let later = self.access();
            let session: u64 = self.rng.random();
            let t = t0 + secs(self.rng.random_range(4 * 3600..5 * 3600));
            self.push(t, Kind::SessionStart, later, session);
            let app = self.rng.random_range(0..APPS.len() as u8);
            self.push(t + secs(40), Kind::Sso(app), later, session);
        }
        if let Setup::TwoContinents { far } = &e.setup
            && self.day % 3 == 1
            && !far.is_empty()
        {
            // Someone else on the same account, on another continent, within the hour.
            let net = far[self.rng.random_range(0..far.len())];
            let other = self.host(net, 200);
            let session: u64 = self.rng.random();
            let t = t0 + secs(self.rng.random_range(600..3000));
            self.push(t, Kind::SessionStart, other, session);
            self.push(t + secs(12), Kind::Mfa, other, session);
        }
        if e.entra {
            // Mail and Teams through Entra ID, minutes after the Okta sign-in: from the
            // phone half the time, else the same connection (or, for fraud, wherever the
            // operator is).
            for _ in 0..self.rng.random_range(1..3) {
                let t = t0 + secs(self.rng.random_range(60..2400));
                let via = if !e.scenario.is_fraudulent() && self.rng.random_bool(0.5) {
                    self.mobile(false).unwrap_or(main)
                } else if e.scenario.is_fraudulent() {
                    self.access()
                } else {
                    main
                };
                let app = self.rng.random_range(0..ENTRA_APPS.len() as u8);
                let session: u64 = self.rng.random();
                self.push(t, Kind::EntraSignIn(app), via, session);
            }
        }
        let end = t0 + secs(shift * 60);
        if self.rng.random_bool(0.6) {
            self.push(end, Kind::SessionEnd, main, session);
        }
        if e.uses_vpn {
            let on = t0 + secs(self.rng.random_range(60..480));
            let off = end - secs(self.rng.random_range(0..1200));
            let secs_on = (off - on).num_seconds().max(60) as u32;
            self.push(on, Kind::VpnStart, main, session);
            let bytes_out = self.rng.random_range(20_000_000..900_000_000);
            let bytes_in = self.rng.random_range(5_000_000..100_000_000);
            self.push(
                off,
                Kind::VpnEnd {
                    secs: secs_on,
                    bytes_out,
                    bytes_in,
                },
                main,
                session,
            );
        }
        self.out
    }
}

/// Hours for an employee the roster has none for.
fn default_hours() -> WorkHours {
    "09:00-18:00 Mon-Fri"
        .parse()
        .unwrap_or_else(|_| unreachable!("a valid literal"))
}

/// Apps employees sign in to through Okta.
pub const APPS: &[&str] = &[
    "Slack",
    "GitHub Enterprise",
    "Jira Cloud",
    "Google Workspace",
    "AWS IAM Identity Center",
    "Zoom",
    "Salesforce",
];

/// Apps employees sign in to through Entra ID.
pub const ENTRA_APPS: &[&str] = &[
    "Office 365 Exchange Online",
    "Microsoft Teams",
    "OfficeHome",
];

/// Native client apps that refresh tokens in the background.
pub const CLIENT_APPS: &[&str] = &["Okta Verify", "Slack Desktop", "Microsoft Outlook"];

/// All events of one local day for every employee, in generation order.
pub fn day_events(sim: &Simulation, day: u32) -> Vec<SimEvent> {
    let date = sim.params.start + Days::new(u64::from(day));
    let floor = date.and_time(NaiveTime::MIN).and_utc() - Duration::hours(14);
    let mut out = Vec::new();
    for (i, e) in sim.employees.iter().enumerate() {
        if e.status != Status::Active || date < e.start_date {
            continue;
        }
        let index = i as u32;
        let d = Day {
            world: &sim.world,
            e,
            index,
            day,
            rng: ChaCha8Rng::seed_from_u64(day_seed(sim.params.seed, index, day)),
            out: Vec::new(),
            v6_today: None,
            office_today: false,
            floor,
            rates: sim.real.as_ref().map(|r| &r.rates),
        };
        out.extend(d.generate(date));
    }
    out
}

/// Every event of the simulation in time order; also records each employee's first
/// anomalous sign-in for the ground truth.
pub struct EventStream<'a> {
    sim: &'a Simulation,
    next_day: u32,
    heap: BinaryHeap<Reverse<SimEvent>>,
    first_anomalous: Vec<Option<DateTime<Utc>>>,
}

impl<'a> EventStream<'a> {
    pub(super) fn new(sim: &'a Simulation) -> Self {
        EventStream {
            sim,
            next_day: 0,
            heap: BinaryHeap::new(),
            first_anomalous: vec![None; sim.employees.len()],
        }
    }

    /// Each employee's first anomalous interactive event among those generated so far
    /// (all of them once the stream is exhausted).
    pub fn first_anomalous(&self) -> &[Option<DateTime<Utc>>] {
        &self.first_anomalous
    }

    /// No event of a day not yet generated can come before this.
    fn watermark(&self) -> Option<DateTime<Utc>> {
        (self.next_day < self.sim.params.days).then(|| {
            let date = self.sim.params.start + Days::new(u64::from(self.next_day));
            date.and_time(NaiveTime::MIN).and_utc() - Duration::hours(14)
        })
    }
}

impl Iterator for EventStream<'_> {
    type Item = SimEvent;

    fn next(&mut self) -> Option<SimEvent> {
        loop {
            let ready = match (self.heap.peek(), self.watermark()) {
                (Some(Reverse(top)), Some(mark)) => top.time < mark,
                (Some(_), None) => true,
                (None, None) => return None,
                (None, Some(_)) => false,
            };
            if ready {
                return self.heap.pop().map(|Reverse(e)| e);
            }
            for ev in day_events(self.sim, self.next_day) {
                if ev.anomalous && ev.kind.is_interactive() {
                    let slot = &mut self.first_anomalous[ev.employee as usize];
                    *slot = Some(slot.map_or(ev.time, |t| t.min(ev.time)));
                }
                self.heap.push(Reverse(ev));
            }
            self.next_day += 1;
        }
    }
}

/// Does this employee's scenario make every sign-in anomalous (hours, not places)?
pub fn all_anomalous(s: Scenario) -> bool {
    matches!(
        s,
        Scenario::NightShift
            | Scenario::HoursOnly
            | Scenario::LaptopFarm
            | Scenario::VpnHostingChina
            | Scenario::DirectChinaRussia
            | Scenario::ChinaCloud
            | Scenario::UsVpnHopping
            | Scenario::Mixed
    )
}
