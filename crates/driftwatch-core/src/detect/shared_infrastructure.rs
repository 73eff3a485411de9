//! shared_infrastructure: employees who claim to live far apart, logging in from the same
//! home network. A laptop farm hosts the company laptops of several "remote hires" in one
//! house (Mandiant: two "Texas" employees on one Nevada address; DOJ's Chapman case: 90+
//! laptops in one home), so their logins share an IPv4 address or an IPv6 /64 while the
//! roster puts them in different states or countries.
//!
//! # What counts
//!
//! Only successful (or outcome-less) interactive logins place a person, and only on an
//! address that could be a home: anonymizers (a shared VPN exit is thousands of strangers,
//! not a farm; the anonymizer rule judges it), carrier NAT, mobile and satellite ranges
//! (`ignore_tags`), allowlisted corporate egress, private and carrier-NAT address space, and
//! logins on an approved trip (a visiting colleague shares the hosts' networks by design) are
//! neither recorded nor judged.
//!
//! # Rarity
//!
//! An address used by more than `max_employees` distinct employees in the window is an
//! office, a campus or a NAT, and is ignored unless an intel list gives it one of
//! `watch_tags`. Between `rare_max_employees` and `max_employees`, or when most of those
//! seen on the address are passers-by rather than regulars, the finding is low context
//! (`crowded_risk`, its risk falling linearly towards half at `max_employees`): a dozen
//! colleagues on one address is more often a carrier's NAT, a hotel, a co-working space or
//! an offsite than a farm.
//!
//! # The cluster
//!
//! The evidence lists every employee seen on this network in the window (the event's
//! employee first, then by id) with their claimed places: the connected component *as seen
//! from this network*. Members linked only transitively (A and B share one address, B and C
//! another) are not followed: that needs an employee → networks index beside this one, which
//! the streaming issue's keyed infra stage is the place for. Each of those links still fires
//! on its own network, so every member of a farm is alerted.
//!
//! # Firing once
//!
//! Only *regulars* count: members seen on the network on `min_days` distinct days. A farm's
//! identities sign in from it every working day; a carrier's NAT address, a hotel's or a
//! café's is met by a phone once (on real geography, carrier NAT addresses shared by a few
//! employees in their first days were the main source of false farms).
//!
//! A finding fires when the cluster seen from this login holds a regular with a different
//! claimed place who is *new to this employee*: they appeared on the network, or came back
//! on another day, after this employee was last recorded on it (or this employee is new to
//! it). So each employee is told when a member joins or returns, on their next login, not
//! on every login. A member who is away longer than the window is forgotten.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::place::Point;
use super::{Context, Validate};
use crate::alert::{ClusterMember, Evidence, Finding, Severity};
use crate::enrich::{NetworkKey, network_key};
use crate::event::{LoginEvent, Outcome};
use crate::roster::{ClaimedProfile, EmployeeId};

/// The rule's stable name.
pub const NAME: &str = "shared_infrastructure";

/// `[detect.shared_infrastructure]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run the rule at all (and keep the network index; off, it holds nothing).
    pub enabled: bool,
    /// Days two logins may be apart and still count as sharing a network. Default 14: a farm
    /// logs every identity in every working day, while a dynamic residential address passes
    /// to a stranger within weeks; two weeks also matches the anonymizer window.
    pub window_days: u32,
    /// Claimed points in the same country this far apart (km) count as different places.
    /// Default 500: farther than any commute or a household's two cities, nearer than two
    /// states (Austin–Dallas is 290 km, Austin–Las Vegas 1,740 km). Without both points, the
    /// same country is the same place: no evidence without coordinates.
    pub min_claimed_distance_km: f64,
    /// More distinct employees than this on one network in the window make it an office,
    /// campus or NAT: ignored unless watch-tagged. Default 25: far above a household or a
    /// farm serving one company, far below an office.
    pub max_employees: u32,
    /// Up to this many distinct employees the network counts as a home, at full risk. Above
    /// it the finding is low and its risk at most `crowded_risk`, falling linearly to half
    /// at `max_employees`. Default 8: reported farms held a handful of identities per
    /// victim company.
    pub rare_max_employees: u32,
    /// Intel tags whose addresses are shared by strangers by design and are ignored.
    /// Default `carrier_nat`, `mobile`, `satellite` (one aircraft's Wi-Fi is one address).
    pub ignore_tags: Vec<String>,
    /// Intel tags whose addresses are judged however many employees use them (a known
    /// facilitator address). Default `laptop_farm`.
    pub watch_tags: Vec<String>,
    /// Severity and risk when at least `farm_employees` share the network.
    pub farm_severity: Severity,
    /// Default 70: a farm is strong evidence on its own.
    pub farm_risk: u8,
    /// Employees on one network (with at least two claimed places) that make a farm.
    /// Default 3: two may be a couple with a stale roster entry; three is not a household.
    pub farm_employees: u32,
    /// Severity and risk for two employees. Default low / 14: context. Two colleagues on one
    /// address are a household with a stale roster entry or a carrier's NAT met twice more
    /// often than two identities of one operator (measured on real geography,
    /// docs/evaluation.md); with another signal (their hours) it shows in the alert.
    pub pair_severity: Severity,
    pub pair_risk: u8,
    /// Risk at most for a crowded network (more than `rare_max_employees`) or one whose
    /// members are mostly passers-by. Default 14: context that shows in an alert, never one
    /// on its own or with one other signal.
    pub crowded_risk: u8,
    /// Distinct days another employee must have been seen on the network to count as one of
    /// its regulars. Default 3: a farm's identities sign in from it every working day; the
    /// address of a carrier's NAT, a hotel or a café is met by a phone now and then, and in
    /// a small country with one unlisted carrier a phone draws the same NAT address on two
    /// days often enough (measured on real geography, docs/evaluation.md), rarely on three.
    pub min_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            window_days: 14,
            min_claimed_distance_km: 500.0,
            max_employees: 25,
            rare_max_employees: 8,
            ignore_tags: ["carrier_nat", "mobile", "satellite"]
                .map(str::to_owned)
                .to_vec(),
            watch_tags: vec!["laptop_farm".to_owned()],
            farm_severity: Severity::High,
            farm_risk: 70,
            farm_employees: 3,
            pair_severity: Severity::Low,
            pair_risk: 14,
            crowded_risk: 14,
            min_days: 3,
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, why: &str| {
            errors.push(format!("detect.shared_infrastructure.{field}: {why}"));
        };
        if !(1..=365).contains(&self.window_days) {
            bad("window_days", "must be between 1 and 365");
        }
        if !(self.min_claimed_distance_km >= 0.0 && self.min_claimed_distance_km.is_finite()) {
            bad("min_claimed_distance_km", "must be a distance >= 0");
        }
        if !(2..=1000).contains(&self.max_employees) {
            bad("max_employees", "must be between 2 and 1000");
        }
        if self.rare_max_employees < 2 || self.rare_max_employees > self.max_employees {
            bad("rare_max_employees", "must be between 2 and max_employees");
        }
        if self.farm_employees < 3 {
            bad("farm_employees", "must be at least 3 (two is a pair)");
        }
        errors.extend(super::risks_above_100(
            NAME,
            &[("farm_risk", self.farm_risk), ("pair_risk", self.pair_risk)],
        ));
        errors
    }
}

impl Config {
    fn window(&self) -> Duration {
        Duration::days(i64::from(self.window_days))
    }

    /// Sightings kept per network: one more than `max_employees`, enough to know a network
    /// is crowded without remembering everyone on it.
    fn cap(&self) -> usize {
        usize::try_from(self.max_employees)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
    }
}

/// Does this event place its employee on a network that could be a home? The same test
/// decides what the index records and what the rule judges, so the two never disagree.
fn places_on_home_network(cfg: &Config, ctx: &Context<'_>) -> bool {
    let Context {
        event, geo, trip, ..
    } = *ctx;
    cfg.enabled
        && event.kind.is_interactive()
        // A failed attempt may be anyone guessing a password.
        && event.outcome != Outcome::Failure
        && !ctx.allowlisted
        && trip.is_none()
        && !geo.is_anonymizer()
        && !geo.tags.iter().any(|t| cfg.ignore_tags.contains(t))
        && is_public(event.ip)
}

/// Private, loopback, link-local, multicast and carrier-NAT space is shared by every
/// network that uses it; it says nothing about a house.
fn is_public(ip: IpAddr) -> bool {
    let carrier_nat = match crate::decode::fields::canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            a == 100 && (64..128).contains(&b)
        }
        IpAddr::V6(_) => false,
    };
    !(carrier_nat || crate::decode::fields::is_unroutable(ip))
}

/// Where an employee claims to be, as far as this rule compares places.
struct Claimed<'a> {
    country: &'a str,
    point: Option<(f64, f64)>,
}

impl Claimed<'_> {
    fn differs(&self, other: &Claimed<'_>, cfg: &Config) -> bool {
        if !self.country.eq_ignore_ascii_case(other.country) {
            return true;
        }
        match (self.point, other.point) {
            (Some((lat, lon)), Some((olat, olon))) => {
                Point { lat, lon }.distance_km(Point {
                    lat: olat,
                    lon: olon,
                }) > cfg.min_claimed_distance_km
            }
            _ => false,
        }
    }
}

/// Findings for one event.
pub fn check(cfg: &Config, ctx: &Context<'_>) -> Vec<Finding> {
    if !places_on_home_network(cfg, ctx) || ctx.network.is_empty() {
        return Vec::new();
    }
    let Context {
        event,
        geo,
        profile,
        network,
        ..
    } = *ctx;
    let me = Claimed {
        country: &profile.country,
        point: profile.point,
    };
    // Only members seen on the network on `min_days` distinct days count: a farm's
    // identities sign in from it every working day, a carrier's NAT address is met by a
    // phone now and then.
    let established = |s: &&Sighting| u32::from(s.days) >= cfg.min_days;
    let elsewhere = |s: &&Sighting| established(s) && me.differs(&s.claimed(), cfg);
    if !network.iter().filter(elsewhere).any(|s| s.new_to_viewer) {
        return Vec::new();
    }
    let employees = network.len().saturating_add(1);
    let regulars = network.iter().filter(established).count().saturating_add(1);
    let watched = geo.tags.iter().any(|t| cfg.watch_tags.contains(t));
    let crowded = |limit: u32| employees > usize::try_from(limit).unwrap_or(usize::MAX);
    if crowded(cfg.max_employees) && !watched {
        return Vec::new();
    }
    let is_farm = regulars >= usize::try_from(cfg.farm_employees).unwrap_or(usize::MAX);
    let (mut severity, mut risk) = if is_farm {
        (cfg.farm_severity, cfg.farm_risk)
    } else {
        (cfg.pair_severity, cfg.pair_risk)
    };
    let key = network_key(event.ip);
    let mut notes = Vec::new();
    // A farm is its regulars: most of those seen on it are there every day. A carrier NAT
    // or a hotel address has a few regulars among many passers-by.
    let mostly_regulars = regulars * 2 >= employees;
    if (crowded(cfg.rare_max_employees) || !mostly_regulars) && !watched {
        // Linear from full risk just above rare_max_employees to half at max_employees, and
        // never more than `crowded_risk`: low context, not a page on its own.
        let span = f64::from(
            cfg.max_employees
                .saturating_sub(cfg.rare_max_employees)
                .max(1),
        );
        let over = (employees as f64 - f64::from(cfg.rare_max_employees)).clamp(0.0, span);
        risk = ((f64::from(risk) * (1.0 - 0.5 * over / span)).round() as u8).min(cfg.crowded_risk);
        severity = severity.min(Severity::Low);
        notes.push(Evidence::Note {
            text: format!(
                "{employees} employees used {key} in {} days, {regulars} of them on several \
                 days: more often a carrier's NAT, a hotel or a co-working space than a home; \
                 risk lowered to {risk}",
                cfg.window_days
            ),
        });
    }
    let others: Vec<&Sighting> = network.iter().filter(elsewhere).collect();
    let places: Vec<String> = others
        .iter()
        .map(|s| format!("{} ({})", s.employee_id, s.place()))
        .collect();
    let summary = format!(
        "{} (claims {}) logged in from {key}, which {} other employee(s) claiming other places \
         used within {} days: {}; {employees} employee(s) on this network",
        profile.employee_id,
        place(profile.city.as_deref(), &profile.country),
        others.len(),
        cfg.window_days,
        places.join(", "),
    );
    let mut members = vec![ClusterMember {
        employee_id: profile.employee_id.clone(),
        claimed_country: profile.country.clone(),
        claimed_city: profile.city.clone(),
        last_seen: event.time,
    }];
    let mut rest: Vec<ClusterMember> = network.iter().map(Sighting::member).collect();
    rest.sort_by(|a, b| a.employee_id.cmp(&b.employee_id));
    members.extend(rest);
    let evidence: Vec<Evidence> = [
        Evidence::login(event),
        Evidence::location(geo),
        Evidence::claimed(profile),
        Evidence::Cluster {
            network: key.to_string(),
            employees_on_network: u32::try_from(employees).unwrap_or(u32::MAX),
            members,
        },
    ]
    .into_iter()
    .chain(notes)
    .collect();
    vec![Finding::located(
        NAME, severity, risk, summary, evidence, geo,
    )]
}

fn one() -> u16 {
    1
}

fn place(city: Option<&str>, country: &str) -> String {
    match city {
        Some(c) => format!("{c}, {country}"),
        None => country.to_owned(),
    }
}

/// One employee seen on a network (an IPv4 address or IPv6 /64), as
/// [`NetworkIndex::view`] shows it to another employee's login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sighting {
    pub employee_id: EmployeeId,
    /// Where that employee claims to be.
    pub claimed_country: String,
    pub claimed_city: Option<String>,
    pub claimed_point: Option<(f64, f64)>,
    /// When they were first and last seen on the network within the window.
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Distinct days (UTC) they were seen on it: a farm's identities are there every working
    /// day, while a carrier's NAT address passes a phone by now and then.
    #[serde(default = "one")]
    pub days: u16,
    /// They appeared on the network after the viewing employee was last recorded on it (or
    /// the viewer has not been recorded on it in the window): this pair has not been
    /// reported from the viewer's side yet. Set by [`NetworkIndex::view`].
    pub new_to_viewer: bool,
}

impl Sighting {
    fn claimed(&self) -> Claimed<'_> {
        Claimed {
            country: &self.claimed_country,
            point: self.claimed_point,
        }
    }

    fn place(&self) -> String {
        place(self.claimed_city.as_deref(), &self.claimed_country)
    }

    fn member(&self) -> ClusterMember {
        ClusterMember {
            employee_id: self.employee_id.clone(),
            claimed_country: self.claimed_country.clone(),
            claimed_city: self.claimed_city.clone(),
            last_seen: self.last_seen,
        }
    }
}

/// What the index holds per employee and network.
#[derive(Debug, Clone)]
struct Entry {
    sighting: Sighting,
    /// Order of the first and latest observation (the index's own counter): exact where
    /// event times tie, for "new to the viewer".
    first_seq: u64,
    last_seq: u64,
    /// Order of the observation that added the latest day: a member who comes back on
    /// another day is news to the others again (it is how a member becomes a regular).
    day_seq: u64,
}

/// Which employees were seen on which network, for the cross-employee check. Owned by the
/// engine (in the streaming service, by the infra stage keyed by network).
///
/// Memory is bounded twice: each network keeps at most `max_employees + 1` sightings (one per
/// employee; the least recent is dropped for a newcomer, which keeps a crowded network
/// crowded), and networks nobody used within the window are evicted. Eviction is amortised:
/// every network has exactly one entry in a FIFO expiry queue, and each observation examines
/// at most [`EVICT_PER_OBSERVE`] entries from its front — an expired network is dropped, a
/// live one goes to the back stamped with its latest sighting — so no event ever scans the
/// whole index, and stale networks drain at least as fast as new ones arrive.
#[derive(Debug, Default)]
pub struct NetworkIndex {
    networks: HashMap<NetworkKey, Vec<Entry>>,
    /// (time the network was last known to be in use, network), oldest first.
    expiry: VecDeque<(DateTime<Utc>, NetworkKey)>,
    /// Latest event time observed: the index's clock for eviction.
    clock: Option<DateTime<Utc>>,
    seq: u64,
}

/// Expiry-queue entries examined per observation: above one, so the queue drains faster
/// than observations can add networks.
const EVICT_PER_OBSERVE: usize = 2;

impl NetworkIndex {
    /// Other employees seen on the network of `event`'s address within the window before
    /// `event`, each marked whether it is new to `employee` (see [`Sighting::new_to_viewer`]).
    pub fn view(&self, cfg: &Config, event: &LoginEvent, employee: &EmployeeId) -> Vec<Sighting> {
        // Only what the rule can use: nothing for a disabled rule or an event it ignores.
        if !cfg.enabled || !event.kind.is_interactive() {
            return Vec::new();
        }
        let Some(entries) = self.networks.get(&network_key(event.ip)) else {
            return Vec::new();
        };
        let since = event.time - cfg.window();
        let live = |e: &&Entry| e.sighting.last_seen >= since;
        let mine = entries
            .iter()
            .filter(live)
            .find(|e| e.sighting.employee_id == *employee)
            .map(|e| e.last_seq);
        entries
            .iter()
            .filter(live)
            .filter(|e| e.sighting.employee_id != *employee)
            .map(|e| Sighting {
                new_to_viewer: mine.is_none_or(|seq| e.first_seq.max(e.day_seq) > seq),
                ..e.sighting.clone()
            })
            .collect()
    }

    /// Remember that the employee of `ctx` was on this network (when the event places them
    /// on a possible home network), and evict what the window has passed.
    pub fn observe(&mut self, cfg: &Config, ctx: &Context<'_>) {
        if !places_on_home_network(cfg, ctx) {
            return;
        }
        let time = ctx.event.time;
        let clock = self.clock.map_or(time, |c| c.max(time));
        self.clock = Some(clock);
        self.seq += 1;
        let key = network_key(ctx.event.ip);
        let since = clock - cfg.window();
        let entries = self.networks.entry(key).or_insert_with(|| {
            self.expiry.push_back((time, key));
            Vec::new()
        });
        entries.retain(|e| e.sighting.last_seen >= since);
        record(entries, ctx.profile, time, self.seq, cfg.cap());
        self.evict(since);
    }

    fn evict(&mut self, since: DateTime<Utc>) {
        for _ in 0..EVICT_PER_OBSERVE {
            match self.expiry.front() {
                Some((stamp, _)) if *stamp < since => {}
                _ => return,
            }
            let Some((_, key)) = self.expiry.pop_front() else {
                return;
            };
            let latest = self
                .networks
                .get(&key)
                .and_then(|es| es.iter().map(|e| e.sighting.last_seen).max());
            match latest {
                Some(t) if t >= since => self.expiry.push_back((t, key)),
                _ => {
                    self.networks.remove(&key);
                }
            }
        }
    }

    /// Networks held (for metrics and the memory-bound tests).
    pub fn networks(&self) -> usize {
        self.networks.len()
    }

    /// Sightings held over all networks.
    pub fn sightings(&self) -> usize {
        self.networks.values().map(Vec::len).sum()
    }
}

/// Add or refresh one employee's sighting on a network already pruned to the window.
fn record(
    entries: &mut Vec<Entry>,
    profile: &ClaimedProfile,
    time: DateTime<Utc>,
    seq: u64,
    cap: usize,
) {
    if let Some(e) = entries
        .iter_mut()
        .find(|e| e.sighting.employee_id == profile.employee_id)
    {
        let s = &mut e.sighting;
        // The roster may have been reloaded: the claim is always the current one.
        s.claimed_country.clone_from(&profile.country);
        s.claimed_city.clone_from(&profile.city);
        s.claimed_point = profile.point;
        if time > s.last_seen && time.date_naive() != s.last_seen.date_naive() {
            s.days = s.days.saturating_add(1);
            e.day_seq = seq;
        }
        s.first_seen = s.first_seen.min(time);
        s.last_seen = s.last_seen.max(time);
        e.last_seq = seq;
        return;
    }
    if entries.len() >= cap {
        let oldest = entries
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| (e.sighting.last_seen, e.last_seq))
            .map(|(i, _)| i);
        if let Some(i) = oldest {
            entries.swap_remove(i);
        }
    }
    entries.push(Entry {
        sighting: Sighting {
            employee_id: profile.employee_id.clone(),
            claimed_country: profile.country.clone(),
            claimed_city: profile.city.clone(),
            claimed_point: profile.point,
            first_seen: time,
            last_seen: time,
            days: 1,
            new_to_viewer: false,
        },
        first_seq: seq,
        last_seq: seq,
        day_seq: seq,
    });
}

/// The rule, for the registration table in [`super`]. The network index it reads
/// (`Context::network`) is kept beside the employees' state, by the engine or the infra
/// stage, not in it.
pub struct Rule;

impl super::Detector for Rule {
    const NAME: &'static str = NAME;
    const FAMILY: super::Family = super::Family::Infrastructure;
    const CLAIM: super::Claim = super::Claim::Place;
    type Config = Config;
    type State = super::NoState;

    fn observe(cfg: &Config, ctx: &Context<'_>, _state: &mut super::NoState) -> Vec<Finding> {
        check(cfg, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testkit::{
        self, AUSTIN, DALLAS, LAS_VEGAS, LONDON, NEW_YORK, Place, SEOUL, Scene,
    };
    use crate::enrich::{AnonymousFlags, Geo};
    use crate::event::EventKind;

    const FARM_IP: &str = "203.0.113.7";

    /// The rule with every member a regular from their first day: the mechanics below
    /// (clusters, crowding, windows) without the regulars' gate, which has tests of its own.
    fn one_day() -> Config {
        Config {
            min_days: 1,
            ..Config::default()
        }
    }

    /// The engine's order for one event: view, check, observe.
    fn login_on(
        index: &mut NetworkIndex,
        cfg: &Config,
        who: &ClaimedProfile,
        ip: &str,
        geo: Geo,
        day: u32,
    ) -> Vec<Finding> {
        let time = testkit::at("2026-03-02T15:00:00Z") + Duration::days(i64::from(day));
        let mut scene = Scene::new(testkit::login(who, ip, time), geo, who.clone());
        scene.network = index.view(cfg, &scene.event, &who.employee_id);
        let findings = check(cfg, &scene.context());
        index.observe(cfg, &scene.context());
        findings
    }

    fn cluster(f: &Finding) -> (&str, u32, Vec<&str>) {
        f.evidence
            .iter()
            .find_map(|e| match e {
                Evidence::Cluster {
                    network,
                    employees_on_network,
                    members,
                } => Some((
                    network.as_str(),
                    *employees_on_network,
                    members.iter().map(|m| m.employee_id.0.as_str()).collect(),
                )),
                _ => None,
            })
            .expect("a cluster in the evidence")
    }

    #[test]
    fn a_laptop_farm_fires_high_once_per_member_joining() {
        let (cfg, mut ix) = (one_day(), NetworkIndex::default());
        // Two "Texas" hires and a "New York" one, all on one Las Vegas home address.
        let (e1, e2, e3) = (
            AUSTIN.profile("E1"),
            DALLAS.profile("E2"),
            NEW_YORK.profile("E3"),
        );
        let on = |ix: &mut NetworkIndex, who: &ClaimedProfile, day| {
            login_on(ix, &cfg, who, FARM_IP, LAS_VEGAS.geo(), day)
        };
        assert!(on(&mut ix, &e1, 0).is_empty(), "alone on the network");
        assert!(
            on(&mut ix, &e2, 0).is_empty(),
            "Austin and Dallas are 290 km apart: one place"
        );
        let f = on(&mut ix, &e3, 1);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].rule, f[0].severity, f[0].risk),
            (NAME, Severity::High, 70)
        );
        assert_eq!(cluster(&f[0]), (FARM_IP, 3, vec!["E3", "E1", "E2"]));
        assert!(
            f[0].summary.contains("E3 (claims New York, US)")
                && f[0].summary.contains("E1 (Austin, US), E2 (Dallas, US)")
                && f[0].summary.contains("3 employee(s)"),
            "{}",
            f[0].summary
        );
        assert!(
            on(&mut ix, &e3, 2).is_empty(),
            "told once, not on every login"
        );
        // The earlier members learn of the newcomer on their next login, once.
        let f = on(&mut ix, &e1, 2);
        assert_eq!(f.len(), 1);
        assert_eq!(cluster(&f[0]).2, vec!["E1", "E2", "E3"]);
        assert_eq!(f[0].severity, Severity::High);
        assert!(on(&mut ix, &e1, 3).is_empty());
        assert_eq!(on(&mut ix, &e2, 3).len(), 1);
        assert!(on(&mut ix, &e2, 4).is_empty());
    }

    #[test]
    fn two_employees_claiming_other_countries_are_context() {
        let (cfg, mut ix) = (one_day(), NetworkIndex::default());
        let (e1, e2) = (NEW_YORK.profile("E1"), SEOUL.profile("E2"));
        assert!(login_on(&mut ix, &cfg, &e1, FARM_IP, NEW_YORK.geo(), 0).is_empty());
        let f = login_on(&mut ix, &cfg, &e2, FARM_IP, NEW_YORK.geo(), 0);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].severity, f[0].risk), (Severity::Low, 14));
        assert_eq!(cluster(&f[0]), (FARM_IP, 2, vec!["E2", "E1"]));
    }

    #[test]
    fn a_farm_counts_once_its_members_are_regulars() {
        // The default: a member counts once seen on the address on three days.
        let (cfg, mut ix) = (Config::default(), NetworkIndex::default());
        let members = [
            AUSTIN.profile("E1"),
            NEW_YORK.profile("E2"),
            SEOUL.profile("E3"),
        ];
        let mut fired = Vec::new();
        for day in 0..4 {
            for who in &members {
                for f in login_on(&mut ix, &cfg, who, FARM_IP, LAS_VEGAS.geo(), day) {
                    fired.push((day, who.employee_id.0.clone(), f.severity));
                }
            }
        }
        let first_high = fired.iter().find(|(_, _, s)| *s == Severity::High).cloned();
        assert_eq!(
            first_high,
            Some((2, "E3".into(), Severity::High)),
            "on the third day, once all three are regulars: {fired:?}"
        );
        assert!(fired.iter().all(|(day, ..)| *day >= 2), "{fired:?}");
    }

    #[test]
    fn a_carrier_nat_address_met_now_and_then_is_not_a_farm() {
        // Twelve employees in six cities pass through one address, each on one or two
        // days of a fortnight: a carrier's NAT, not a home.
        let (cfg, mut ix) = (Config::default(), NetworkIndex::default());
        let places = [AUSTIN, NEW_YORK, SEOUL, LONDON, DALLAS, LAS_VEGAS];
        let mut found = Vec::new();
        for day in 0..14u32 {
            for k in 0..12u32 {
                // Employee k is on the address on days k and k + 5 only.
                if day == k || day == k + 5 {
                    let who = places[(k % 6) as usize].profile(&format!("E{k}"));
                    found.extend(login_on(&mut ix, &cfg, &who, FARM_IP, NEW_YORK.geo(), day));
                }
            }
        }
        assert!(
            found.iter().all(|f| f.severity < Severity::Medium),
            "{:?}",
            found.iter().map(|f| f.severity).collect::<Vec<_>>()
        );
    }

    #[test]
    fn one_household_in_one_city_is_silent() {
        let (cfg, mut ix) = (one_day(), NetworkIndex::default());
        for (day, id) in ["E1", "E2", "E3", "E1", "E2"].into_iter().enumerate() {
            let who = AUSTIN.profile(id);
            let f = login_on(&mut ix, &cfg, &who, FARM_IP, AUSTIN.geo(), day as u32);
            assert!(f.is_empty(), "{id} on day {day}: {f:?}");
        }
        // Same country without coordinates is the same place: no evidence without them.
        let nowhere = ClaimedProfile {
            point: None,
            ..LAS_VEGAS.profile("E4")
        };
        assert!(login_on(&mut ix, &cfg, &nowhere, FARM_IP, AUSTIN.geo(), 6).is_empty());
    }

    /// `n` employees alternating between two claimed countries on one address; the last
    /// login's findings.
    fn crowd(cfg: &Config, n: usize, geo: Geo) -> Vec<Finding> {
        let mut ix = NetworkIndex::default();
        let mut last = Vec::new();
        for i in 0..n {
            let place: Place = if i % 2 == 0 { NEW_YORK } else { LONDON };
            last = login_on(
                &mut ix,
                cfg,
                &place.profile(&format!("E{i:02}")),
                FARM_IP,
                geo.clone(),
                0,
            );
        }
        last
    }

    #[test]
    fn an_address_shared_by_more_than_max_employees_is_ignored_unless_watched() {
        let cfg = one_day();
        assert!(
            crowd(&cfg, 26, NEW_YORK.geo()).is_empty(),
            "an office or NAT"
        );
        let watched = Geo {
            tags: vec!["laptop_farm".into()],
            ..NEW_YORK.geo()
        };
        let f = crowd(&cfg, 26, watched);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].severity, f[0].risk), (Severity::High, 70));
        assert_eq!(cluster(&f[0]).1, 26);
    }

    #[test]
    fn a_busy_address_below_the_limit_weighs_less() {
        let cfg = one_day();
        // 17 employees, above rare_max_employees (8): context, the crowded risk at most.
        let f = crowd(&cfg, 17, NEW_YORK.geo());
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].severity, f[0].risk),
            (Severity::Low, cfg.crowded_risk)
        );
        let higher = Config {
            crowded_risk: 100,
            ..cfg.clone()
        };
        // 9 above rare_max_employees of the 17 between it and 25: the scale that applies
        // under the cap.
        assert_eq!(
            crowd(&higher, 17, NEW_YORK.geo())[0].risk,
            (70.0f64 * (1.0 - 0.5 * 9.0 / 17.0)).round() as u8
        );
        assert!(f[0].evidence.iter().any(|e| matches!(
            e,
            Evidence::Note { text } if text.starts_with("17 employees used 203.0.113.7 in 14 days")
        )));
        let f = crowd(&cfg, 8, NEW_YORK.geo());
        assert_eq!((f[0].severity, f[0].risk), (Severity::High, 70), "a home");
    }

    #[test]
    fn carrier_nat_mobile_anonymizers_and_allowlisted_addresses_are_ignored() {
        let cfg = one_day();
        let tagged = |tag: &str| Geo {
            tags: vec![tag.into()],
            ..NEW_YORK.geo()
        };
        let vpn = Geo {
            anonymous: Some(AnonymousFlags {
                is_anonymous: true,
                is_anonymous_vpn: true,
                ..AnonymousFlags::default()
            }),
            ..NEW_YORK.geo()
        };
        for geo in [
            tagged("carrier_nat"),
            tagged("mobile"),
            tagged("satellite"),
            tagged("vpn"),
            vpn,
        ] {
            assert!(crowd(&cfg, 3, geo.clone()).is_empty(), "{geo:?}");
        }
        // The same scenario on a plain residential address fires: the tags made the difference.
        assert_eq!(crowd(&cfg, 3, NEW_YORK.geo()).len(), 1);

        let mut ix = NetworkIndex::default();
        let (e1, e2) = (NEW_YORK.profile("E1"), LONDON.profile("E2"));
        let t = testkit::at("2026-03-02T15:00:00Z");
        let mut s1 = Scene::new(testkit::login(&e1, FARM_IP, t), NEW_YORK.geo(), e1);
        s1.allowlisted = true;
        ix.observe(&cfg, &s1.context());
        assert_eq!(ix.networks(), 0, "corporate egress is not recorded");
        assert!(login_on(&mut ix, &cfg, &e2, FARM_IP, NEW_YORK.geo(), 0).is_empty());
    }

    #[test]
    fn failures_non_interactive_events_and_private_addresses_are_not_recorded() {
        let cfg = one_day();
        let mut ix = NetworkIndex::default();
        let e1 = NEW_YORK.profile("E1");
        let t = testkit::at("2026-03-02T15:00:00Z");
        for (ip, kind, outcome) in [
            (FARM_IP, EventKind::InteractiveLogin, Outcome::Failure),
            (FARM_IP, EventKind::VpnSessionEnd, Outcome::Success),
            (FARM_IP, EventKind::Logout, Outcome::Success),
            ("10.1.2.3", EventKind::InteractiveLogin, Outcome::Success),
            ("100.64.0.9", EventKind::InteractiveLogin, Outcome::Success),
            ("fd00::1", EventKind::InteractiveLogin, Outcome::Success),
        ] {
            let s = Scene::new(
                testkit::event(&e1, ip, t, kind, outcome),
                NEW_YORK.geo(),
                e1.clone(),
            );
            ix.observe(&cfg, &s.context());
        }
        assert_eq!(ix.networks(), 0);
        // A non-interactive event of another employee never fires, whoever is on the network.
        login_on(&mut ix, &cfg, &e1, FARM_IP, NEW_YORK.geo(), 0);
        let e2 = LONDON.profile("E2");
        let mut s = Scene::new(
            testkit::event(&e2, FARM_IP, t, EventKind::VpnSessionEnd, Outcome::Success),
            NEW_YORK.geo(),
            e2.clone(),
        );
        // The engine does not even look the network up for it…
        assert!(ix.view(&cfg, &s.event, &e2.employee_id).is_empty());
        // …and given the sightings an interactive login would see, it still never fires.
        let interactive = testkit::event(
            &e2,
            FARM_IP,
            t,
            EventKind::InteractiveLogin,
            Outcome::Success,
        );
        s.network = ix.view(&cfg, &interactive, &e2.employee_id);
        assert_eq!(s.network.len(), 1);
        assert!(check(&cfg, &s.context()).is_empty());
        // Nor does a disabled rule.
        let off = Config {
            enabled: false,
            ..one_day()
        };
        s.event.kind = EventKind::InteractiveLogin;
        assert!(check(&off, &s.context()).is_empty());
        assert_eq!(check(&cfg, &s.context()).len(), 1);
    }

    #[test]
    fn sightings_expire_with_the_window() {
        let cfg = one_day();
        let (e1, e2) = (NEW_YORK.profile("E1"), LONDON.profile("E2"));
        let pair = |gap: u32| {
            let mut ix = NetworkIndex::default();
            login_on(&mut ix, &cfg, &e1, FARM_IP, NEW_YORK.geo(), 0);
            login_on(&mut ix, &cfg, &e2, FARM_IP, NEW_YORK.geo(), gap).len()
        };
        assert_eq!(pair(13), 1);
        assert_eq!(pair(14), 1, "the window is inclusive");
        assert_eq!(pair(15), 0);
    }

    #[test]
    fn an_ipv6_slash64_is_one_network() {
        let (cfg, mut ix) = (one_day(), NetworkIndex::default());
        let (e1, e2, e3) = (
            NEW_YORK.profile("E1"),
            LONDON.profile("E2"),
            SEOUL.profile("E3"),
        );
        let geo = NEW_YORK.geo();
        assert!(login_on(&mut ix, &cfg, &e1, "2001:db8:1:2:aaaa::1", geo.clone(), 0).is_empty());
        // Another privacy address in the same /64: the same house.
        let f = login_on(
            &mut ix,
            &cfg,
            &e2,
            "2001:db8:1:2:ffff:1:2:3",
            geo.clone(),
            1,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(cluster(&f[0]), ("2001:db8:1:2::/64", 2, vec!["E2", "E1"]));
        // The neighbouring /64 is another subscriber.
        assert!(login_on(&mut ix, &cfg, &e3, "2001:db8:1:3::1", geo, 1).is_empty());
    }

    #[test]
    fn the_index_stays_bounded() {
        let cfg = Config {
            max_employees: 4,
            rare_max_employees: 3,
            ..one_day()
        };
        let mut ix = NetworkIndex::default();
        for i in 0..50 {
            login_on(
                &mut ix,
                &cfg,
                &NEW_YORK.profile(&format!("E{i}")),
                FARM_IP,
                NEW_YORK.geo(),
                0,
            );
        }
        assert_eq!(ix.sightings(), 5, "max_employees + 1 per network");
        let last = LONDON.profile("E99");
        let crowded = login_on(&mut ix, &cfg, &last, FARM_IP, NEW_YORK.geo(), 0);
        assert!(
            crowded.is_empty(),
            "a full network stays crowded: {crowded:?}"
        );

        for i in 0..200u32 {
            let ip = format!("198.51.100.{}", i % 250);
            login_on(
                &mut ix,
                &cfg,
                &NEW_YORK.profile("E1"),
                &ip,
                NEW_YORK.geo(),
                1,
            );
        }
        assert_eq!(ix.networks(), 201);
        // A month later, ordinary traffic on one network drains the stale ones a few at a time.
        let me = LONDON.profile("E2");
        for _ in 0..150 {
            login_on(&mut ix, &cfg, &me, "192.0.2.1", LONDON.geo(), 40);
        }
        assert_eq!((ix.networks(), ix.sightings()), (1, 1));
    }

    #[test]
    fn settings_are_validated_by_name() {
        assert!(one_day().validate().is_empty());
        let bad = Config {
            window_days: 0,
            min_claimed_distance_km: f64::NAN,
            max_employees: 1,
            farm_employees: 2,
            pair_risk: 101,
            ..one_day()
        };
        let errors = bad.validate();
        assert_eq!(errors.len(), 6, "{errors:?}");
        assert!(
            errors
                .iter()
                .all(|e| e.starts_with("detect.shared_infrastructure."))
        );
    }
}
