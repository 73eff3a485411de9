//! The logic other tools document, run beside driftwatch on the same enriched logins, so
//! an evaluation shows where driftwatch stands among the tools a user would otherwise use.
//!
//! Pure and deterministic: no I/O, no clock (every time comes from the logins), per-employee
//! state only, so one employee's alerts never depend on anyone else's logins. [`run`] takes
//! a whole slice; [`Peers::see`] streams one login at a time for evaluations of millions.
//!
//! # The peers
//!
//! Each peer compares a login with the employee's own history, as its source documents.
//! None of them knows the HR-claimed profile, so none can see a fraudulent hire who is
//! anomalous from the first login: that blind spot is what the evaluation measures.
//!
//! | peer | logic | source |
//! |---|---|---|
//! | [`Peer::PantherImpossibleTravel`] | haversine speed from the **cached last login only** above 900 km/h → High | panther-analysis `rules/standard_rules/impossible_travel_login.py` (`return speed > 900  # Boeing 747 cruising speed`), distance from `km_between_ipinfo_loc` in `global_helpers/panther_ipinfo_helpers.py` (also re-exported by the deprecated `panther_oss_helpers`) |
//! | [`Peer::OktaVelocity`] | speed between the previous and the current sign-in above 805 km/h → High | Okta "About behavior types" (Velocity: "distance and time elapsed between two subsequent user sign-ins"); 805 is the `velocityKph` default of Okta's Management API (`BehaviorDetectionRuleSettingsBasedOnDeviceVelocityInKilometersPerHour`) |
//! | [`Peer::OktaNewLocation`] | the sign-in's city (else its country) is not among the last 20 sign-ins' → Medium | Okta "About behavior types" (New City: "Checked against the last 20 successful sign-ins") |
//! | [`Peer::MozillaGeomodel`] | 50 km localities per user, forgotten 30 days after their last activity; a login outside every locality is a new locality → Low (Medium in a new country); movement faster than 1,000 km/h after a radius allowance → High | github mozilla/geomodel holds only a README naming the original, ameihm0912/geomodel; Mozilla's shipped re-implementation is MozDef `alerts/geomodel/{locality,alert}.py`: `_DEFAULT_RADIUS_KM = 50.0`, `_AIR_TRAVEL_SPEED = 277.778` m/s, the pad of `min(radius)` in `_travel_possible`; the original ameihm0912/geomodel: `expireevents = 720h` (30 days) and the NEWLOCATION event with severity 1, 2 when the country changed |
//!
//! Okta's behaviours are not alerts: they are conditions a sign-on policy reads (step-up
//! MFA, deny). Each one is reported here as the alert a policy would act on.
//!
//! # Choices where the sources leave room (the plain reading, written down)
//!
//! - **Coordinates.** A login without coordinates is skipped by every travel check and
//!   leaves its state untouched, so the next login is compared with the last located one.
//!   Azure-Sentinel #10232 is the failure users report when missing geo fields crash a
//!   rule; here they are just skipped. Okta new location needs only a country. Geomodel
//!   needs city, country and coordinates (MozDef `locality.from_event` returns `None`
//!   without any of them).
//! - **Same address.** Two logins from the same IP never raise a travel alert: a
//!   re-geolocated address is not a journey (panther-analysis PR #1734).
//! - **Zero gap.** Distance over no time is an infinite speed (for geomodel, the distance
//!   left after its radius allowance). Panther's code divides by 0.0001 h instead, which
//!   differs only below 90 m. Times are taken as given; a gap
//!   runs backwards only if the input is out of order, and then its length is used, as
//!   MozDef does (`abs`).
//! - **First sight.** A login with no history to compare with raises nothing. Panther's
//!   code says so (no cached login, no alert). Okta's documentation does not say what an
//!   empty behaviour profile makes of a first sign-in, and the original geomodel emitted
//!   NEWLOCATION for a user's very first locality; read literally, both would alert on
//!   every employee's first login, which tells no one apart. So a new location is new
//!   against at least one earlier sign-in. Geomodel's history is its live localities, so
//!   after 30 silent days it starts over.
//! - **One alert per peer per login**, in [`Peer::ALL`] order. Geomodel's impossible
//!   movement and new locality on the same login are one High alert that says both.
//! - **Earth radius**: each peer's own (Panther 6372.795477598 km, MozDef 6373.0 km; Okta
//!   does not say, so the mean radius 6371.0088 km), so thresholds land where theirs do.
//!
//! # What the peers do that the enriched login cannot show
//!
//! - Panther downgrades VPN and Apple Private Relay logins (ipinfo privacy table) to INFO
//!   and does not cache them. [`PeerLogin`] has no privacy flags, so every login is
//!   treated as Panther treats one without that table. Its satellite rule needs only the
//!   ASN and is kept: AS22351 (Intelsat) alerts at INFO, reported as [`Severity::Low`],
//!   the lowest there is; a satellite login is not cached when nothing is cached yet.
//!   Panther also reports Low when the hop is under 50 km and 0.1666 h ("likely a GEOIP
//!   inaccuracy"). Its cache expires a day after the last login (`timedelta(days=1)`); at
//!   900 km/h that cannot change an alert, since no two places are 21,600 km apart.
//! - Okta has separate New State (last 15 sign-ins), New Country (last 10) and New
//!   Geo-Location (last 20, 20 km) behaviours; this peer is New City, judged at country
//!   level when the city is unknown (a city-less login is new when its country is not
//!   among the last 20 sign-ins' countries).
//! - Geomodel: MozDef's own sample configuration keeps localities for 1 day and only
//!   alerts on impossible hops; the original geomodel kept 30 days (with 500 km
//!   localities) and alerted on every new locality. The combination here (50 km, 30 days,
//!   new localities alert) is the one described in docs/domain.md, "What the peers do". A
//!   locality's radius is the
//!   larger of 50 km and the database's accuracy radius, so a vague guess is not a new
//!   place nor a journey; MozDef uses the configured radius alone. A login within a
//!   locality's radius replaces it (centre, address, time), as MozDef's `update` does. The
//!   travel check compares the login with the most recently active locality, MozDef's
//!   `relevant_es`. MozDef's `asn_movement` factor (severity re-set on an ASN change) is
//!   not modelled.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::alert::Severity;

/// One interactive, successful sign-in as every peer sees it: who, when, from where (the
/// same enrichment driftwatch uses).
#[derive(Debug, Clone, PartialEq)]
pub struct PeerLogin {
    pub employee: String,
    pub time: DateTime<Utc>,
    pub ip: IpAddr,
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Accuracy radius in km when the database has one (DB-IP Lite has none).
    pub accuracy_km: Option<u32>,
    pub asn: Option<u32>,
}

/// A tool whose documented logic runs beside driftwatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Peer {
    PantherImpossibleTravel,
    OktaVelocity,
    OktaNewLocation,
    MozillaGeomodel,
}

impl Peer {
    /// Every peer, in the order their alerts for one login are given.
    pub const ALL: [Peer; 4] = [
        Peer::PantherImpossibleTravel,
        Peer::OktaVelocity,
        Peer::OktaNewLocation,
        Peer::MozillaGeomodel,
    ];

    /// A human name that says the threshold.
    pub fn name(self) -> &'static str {
        match self {
            Peer::PantherImpossibleTravel => "Panther impossible travel (900 km/h, last login)",
            Peer::OktaVelocity => "Okta velocity (805 km/h, previous sign-in)",
            Peer::OktaNewLocation => "Okta new location (not in the last 20 sign-ins)",
            Peer::MozillaGeomodel => "Mozilla geomodel (50 km localities for 30 days, 1,000 km/h)",
        }
    }

    /// The snake-case id, as serialised.
    pub fn rule(self) -> &'static str {
        match self {
            Peer::PantherImpossibleTravel => "panther_impossible_travel",
            Peer::OktaVelocity => "okta_velocity",
            Peer::OktaNewLocation => "okta_new_location",
            Peer::MozillaGeomodel => "mozilla_geomodel",
        }
    }
}

/// One alert a peer raises.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerAlert {
    pub peer: Peer,
    pub employee: String,
    pub time: DateTime<Utc>,
    pub severity: Severity,
    pub reason: String,
}

/// Run every peer over logins given in event-time order (across employees); returns the
/// alerts in login order, and for one login in [`Peer::ALL`] order.
pub fn run(logins: &[PeerLogin]) -> Vec<PeerAlert> {
    let mut peers = Peers::default();
    let mut out = Vec::new();
    for login in logins {
        peers.see(login, &mut out);
    }
    out
}

/// Every peer's state, fed one login at a time in event-time order.
#[derive(Debug, Default)]
pub struct Peers {
    employees: HashMap<String, History>,
    /// Place names as small ids, so no employee's state holds a string. Ids are only
    /// compared for equality or turned back into names, so the order they were handed out
    /// in (which does depend on other employees) never shows.
    names: Names,
}

impl Peers {
    /// No history yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Employees seen so far.
    pub fn employees(&self) -> usize {
        self.employees.len()
    }

    /// Show every peer one login; their alerts are appended to `out`.
    pub fn see(&mut self, login: &PeerLogin, out: &mut Vec<PeerAlert>) {
        let name = self.names.id(&place_name(login));
        let place = Place::of(login, name, &mut self.names);
        let fix = Fix::of(login, name);
        if !self.employees.contains_key(login.employee.as_str()) {
            self.employees
                .insert(login.employee.clone(), History::default());
        }
        let Some(history) = self.employees.get_mut(login.employee.as_str()) else {
            return; // inserted just above
        };
        let names = &self.names;
        let mut raise = |peer: Peer, (severity, reason): (Severity, String)| {
            out.push(PeerAlert {
                peer,
                employee: login.employee.clone(),
                time: login.time,
                severity,
                reason,
            })
        };
        if let Some(a) = history.panther.see(login, fix, names) {
            raise(Peer::PantherImpossibleTravel, a);
        }
        if let Some(a) = history.okta.velocity(fix, names) {
            raise(Peer::OktaVelocity, a);
        }
        if let Some(a) = history.okta.new_location(place, names) {
            raise(Peer::OktaNewLocation, a);
        }
        if let Some(a) = history.geomodel.see(login, fix, place, names) {
            raise(Peer::MozillaGeomodel, a);
        }
    }
}

/// What the peers keep about one employee.
#[derive(Debug, Default)]
struct History {
    panther: Panther,
    okta: Okta,
    geomodel: Geomodel,
}

/// A located login: all a travel check needs.
#[derive(Debug, Clone, Copy)]
struct Fix {
    time: DateTime<Utc>,
    ip: IpAddr,
    lat: f64,
    lon: f64,
    /// [`place_name`] as a [`Names`] id, for the reason text.
    name: u32,
}

impl Fix {
    fn of(login: &PeerLogin, name: u32) -> Option<Fix> {
        Some(Fix {
            time: login.time,
            ip: login.ip,
            lat: login.lat?,
            lon: login.lon?,
            name,
        })
    }

    fn distance_km(&self, other: &Fix, earth_radius_km: f64) -> f64 {
        haversine_km(
            (self.lat, self.lon),
            (other.lat, other.lon),
            earth_radius_km,
        )
    }
}

/// A hop between two located logins.
#[derive(Debug, Clone, Copy)]
struct Hop {
    km: f64,
    hours: f64,
    /// km/h after the allowance; infinite when the allowance-reduced distance is covered
    /// in no time.
    speed: f64,
}

/// The hop from `from` to `to`, with `allowance_km` taken off the distance first; `None`
/// for the same address, which is never a journey.
fn hop(from: &Fix, to: &Fix, earth_radius_km: f64, allowance_km: f64) -> Option<Hop> {
    if from.ip == to.ip {
        return None;
    }
    let km = from.distance_km(to, earth_radius_km);
    let hours = ((to.time - from.time).num_milliseconds() as f64 / 3_600_000.0).abs();
    let moved = (km - allowance_km).max(0.0);
    let speed = if hours > 0.0 {
        moved / hours
    } else if moved > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    Some(Hop { km, hours, speed })
}

impl Hop {
    fn describe(&self, from: &Fix, to: &Fix, names: &Names) -> String {
        let speed = if self.speed.is_finite() {
            format!("{:.0} km/h", self.speed)
        } else {
            "an infinite speed".to_owned()
        };
        format!(
            "{} ({}) to {} ({}): {:.0} km in {:.2} h, {speed}",
            names.name(from.name),
            from.ip,
            names.name(to.name),
            to.ip,
            self.km,
            self.hours
        )
    }
}

/// Great-circle distance in km. Not `detect::place::Point::distance_km`: each peer uses its
/// own Earth radius, so its threshold falls exactly where it falls in the peer.
fn haversine_km(a: (f64, f64), b: (f64, f64), earth_radius_km: f64) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let dl = (b.1 - a.1).to_radians();
    let h = ((p2 - p1) / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * earth_radius_km * h.sqrt().min(1.0).asin()
}

/// `Lyon, Auvergne-Rhone-Alpes, FR`: the parts the database gave.
fn place_name(login: &PeerLogin) -> String {
    let parts: Vec<&str> = [&login.city, &login.region, &login.country]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect();
    if parts.is_empty() {
        "an unknown place".to_owned()
    } else {
        parts.join(", ")
    }
}

// ---- Panther ------------------------------------------------------------------------

/// panther-analysis `impossible_travel_login.py`: `return speed > 900`.
const PANTHER_KMH: f64 = 900.0;
/// `km_between_ipinfo_loc`: `radius = 6372.795477598`.
const PANTHER_EARTH_RADIUS_KM: f64 = 6372.795477598;
/// `put_string_set(..., epoch_seconds=... + timedelta(days=1))`.
const PANTHER_CACHE_TTL: TimeDelta = TimeDelta::days(1);
/// `SATELLITE_NETWORK_ASNS = ["AS22351"]`.
const PANTHER_SATELLITE_ASN: u32 = 22351;

/// Panther: the last login only.
#[derive(Debug, Default)]
struct Panther {
    last: Option<Fix>,
}

impl Panther {
    fn see(
        &mut self,
        login: &PeerLogin,
        fix: Option<Fix>,
        names: &Names,
    ) -> Option<(Severity, String)> {
        let fix = fix?;
        let satellite = login.asn == Some(PANTHER_SATELLITE_ASN);
        let cached = self
            .last
            .take()
            .filter(|last| last.time.checked_add_signed(PANTHER_CACHE_TTL) >= Some(fix.time));
        let Some(last) = cached else {
            // "If we haven't seen this user login in the past 1 day, store this login for
            // future use and don't alert", unless it came over a satellite.
            if !satellite {
                self.last = Some(fix);
            }
            return None;
        };
        self.last = Some(fix);
        let hop = hop(&last, &fix, PANTHER_EARTH_RADIUS_KM, 0.0)?;
        if hop.speed <= PANTHER_KMH {
            return None;
        }
        let mut reason = format!(
            "impossible travel from {}",
            hop.describe(&last, &fix, names)
        );
        let severity = if satellite {
            reason.push_str("; satellite network AS22351 (Panther: INFO)");
            Severity::Low
        } else if hop.hours < 0.1666 && hop.km < 50.0 {
            reason.push_str("; under 50 km in under 10 minutes (Panther: likely GeoIP)");
            Severity::Low
        } else {
            Severity::High
        };
        let _ = write!(reason, " > {PANTHER_KMH:.0} km/h");
        Some((severity, reason))
    }
}

// ---- Okta ---------------------------------------------------------------------------

/// Okta Management API, `velocityKph` default.
const OKTA_VELOCITY_KMH: f64 = 805.0;
/// Okta does not say; the mean Earth radius.
const OKTA_EARTH_RADIUS_KM: f64 = 6371.0088;
/// Okta "About behavior types", New City: "Checked against the last 20 successful sign-ins".
const OKTA_WINDOW: usize = 20;

/// Okta: the previous located sign-in (velocity) and the last 20 sign-ins' places.
#[derive(Debug, Default)]
struct Okta {
    last: Option<Fix>,
    recent: VecDeque<Place>,
}

impl Okta {
    fn velocity(&mut self, fix: Option<Fix>, names: &Names) -> Option<(Severity, String)> {
        let fix = fix?;
        let last = self.last.replace(fix)?;
        let hop = hop(&last, &fix, OKTA_EARTH_RADIUS_KM, 0.0)?;
        (hop.speed > OKTA_VELOCITY_KMH).then(|| {
            (
                Severity::High,
                format!(
                    "velocity from {} > {OKTA_VELOCITY_KMH:.0} km/h",
                    hop.describe(&last, &fix, names)
                ),
            )
        })
    }

    fn new_location(&mut self, place: Option<Place>, names: &Names) -> Option<(Severity, String)> {
        let place = place?;
        let known = self.recent.iter().any(|p| match place.city {
            Some(city) => p.city == Some(city),
            None => p.country == place.country,
        });
        let window = self.recent.len();
        if window == OKTA_WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(place);
        // An empty window is a first sight: nothing to be new against.
        (!known && window > 0).then(|| {
            let level = if place.city.is_some() {
                "city"
            } else {
                "country (city unknown)"
            };
            (
                Severity::Medium,
                format!(
                    "new {level} {}: not among the last {window} sign-ins' locations",
                    names.name(place.name)
                ),
            )
        })
    }
}

// ---- Mozilla geomodel -----------------------------------------------------------------

/// MozDef `alerts/geomodel/locality.py`: `_DEFAULT_RADIUS_KM = 50.0`.
const GEOMODEL_RADIUS_KM: f64 = 50.0;
/// MozDef `alerts/geomodel/alert.py`: `_AIR_TRAVEL_SPEED = 277.778  # m/s`, 1,000 km/h.
const GEOMODEL_KMH: f64 = 1000.0;
/// MozDef `locality.py`: `_EARTH_RADIUS = 6373.0`.
const GEOMODEL_EARTH_RADIUS_KM: f64 = 6373.0;
/// ameihm0912/geomodel `etc/geomodel.conf`: `expireevents = 720h`.
const GEOMODEL_EXPIRY: TimeDelta = TimeDelta::days(30);

/// A place the user acts from: MozDef's `Locality`.
#[derive(Debug, Clone, Copy)]
struct Locality {
    at: Fix,
    radius_km: f64,
    country: u32,
}

/// Geomodel: the user's live localities.
#[derive(Debug, Default)]
struct Geomodel {
    localities: Vec<Locality>,
}

impl Geomodel {
    fn see(
        &mut self,
        login: &PeerLogin,
        fix: Option<Fix>,
        place: Option<Place>,
        names: &Names,
    ) -> Option<(Severity, String)> {
        let (fix, place) = (fix?, place?);
        // MozDef `from_event` needs a city as well as a country and coordinates.
        login.city.as_ref()?;
        if let Some(cutoff) = fix.time.checked_sub_signed(GEOMODEL_EXPIRY) {
            // `remove_outdated` keeps `lastaction >= last_valid_date`.
            self.localities.retain(|l| l.at.time >= cutoff);
        }
        let radius_km = GEOMODEL_RADIUS_KM.max(f64::from(login.accuracy_km.unwrap_or(0)));
        let latest = self
            .localities
            .iter()
            .reduce(|a, b| if b.at.time > a.at.time { b } else { a })
            .copied();
        let near = self.localities.iter().position(|l| {
            l.at.distance_km(&fix, GEOMODEL_EARTH_RADIUS_KM) <= l.radius_km.min(radius_km)
        });
        let here = Locality {
            at: fix,
            radius_km,
            country: place.country,
        };
        match near {
            Some(i) => self.localities[i] = here,
            None => self.localities.push(here),
        }
        let latest = latest?;
        let new_locality = near.is_none().then(|| {
            format!(
                "new locality {} (outside every locality of the last 30 days)",
                names.name(fix.name)
            )
        });
        let allowance = latest.radius_km.min(radius_km);
        let impossible = hop(&latest.at, &fix, GEOMODEL_EARTH_RADIUS_KM, allowance)
            .filter(|h| h.speed > GEOMODEL_KMH);
        match (impossible, new_locality) {
            (Some(h), new) => {
                let mut reason = format!(
                    "impossible movement from {} after a {allowance:.0} km allowance > {GEOMODEL_KMH:.0} km/h",
                    h.describe(&latest.at, &fix, names)
                );
                if let Some(new) = new {
                    let _ = write!(reason, "; {new}");
                }
                Some((Severity::High, reason))
            }
            (None, Some(mut new)) if latest.country != place.country => {
                new.push_str(", in a new country");
                Some((Severity::Medium, new))
            }
            (None, Some(new)) => Some((Severity::Low, new)),
            (None, None) => None,
        }
    }
}

// ---- Places -------------------------------------------------------------------------

/// Where a login is, by name: what Okta's new-location behaviour and geomodel's
/// country change compare. All [`Names`] ids.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Place {
    /// City + region + country, when the city is known.
    city: Option<u32>,
    country: u32,
    /// [`place_name`], for the reason text.
    name: u32,
}

impl Place {
    /// `None` without a country: nothing to compare.
    fn of(login: &PeerLogin, name: u32, names: &mut Names) -> Option<Place> {
        let country = login.country.as_deref()?;
        let city = login.city.as_deref().map(|city| {
            // Unit separators keep ("A B", "C") apart from ("A", "B C").
            let region = login.region.as_deref().unwrap_or("");
            names.id(&format!("{city}\u{1f}{region}\u{1f}{country}"))
        });
        Some(Place {
            city,
            country: names.id(country),
            name,
        })
    }
}

/// Names as small ids, and back. A GeoIP database has some hundred thousand place names,
/// so this stays small however many logins pass.
#[derive(Debug, Default)]
struct Names {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        // No database has 4 billion names; past that, ids would repeat.
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.ids.insert(name.into(), id);
        self.names.push(name.into());
        id
    }

    fn name(&self, id: u32) -> &str {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.names.get(i))
            .map_or("?", |n| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    /// Real coordinates, as Panther's own tests use them.
    const NEW_YORK: (&str, &str, &str, f64, f64) =
        ("New York City", "New York", "US", 40.71427, -74.00597);
    const LOS_ANGELES: (&str, &str, &str, f64, f64) =
        ("Los Angeles", "California", "US", 34.05223, -118.24368);
    const LONDON: (&str, &str, &str, f64, f64) = ("London", "England", "GB", 51.50853, -0.12574);
    const ROME: (&str, &str, &str, f64, f64) = ("Rome", "Lazio", "IT", 41.89193, 12.51133);
    const PARIS: (&str, &str, &str, f64, f64) = ("Paris", "Ile-de-France", "FR", 48.85341, 2.3488);

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(T0 + seconds, 0).unwrap()
    }

    fn login(
        employee: &str,
        seconds: i64,
        ip: &str,
        (city, region, country, lat, lon): (&str, &str, &str, f64, f64),
    ) -> PeerLogin {
        PeerLogin {
            employee: employee.into(),
            time: at(seconds),
            ip: ip.parse().unwrap(),
            country: Some(country.into()),
            region: Some(region.into()),
            city: Some(city.into()),
            lat: Some(lat),
            lon: Some(lon),
            accuracy_km: None,
            asn: Some(64_500),
        }
    }

    fn only(alerts: &[PeerAlert], peer: Peer) -> Vec<&PeerAlert> {
        alerts.iter().filter(|a| a.peer == peer).collect()
    }

    fn km(a: (&str, &str, &str, f64, f64), b: (&str, &str, &str, f64, f64), r: f64) -> f64 {
        haversine_km((a.3, a.4), (b.3, b.4), r)
    }

    /// Seconds to cover `d` km at `kmh`, rounded to the second the logins carry.
    fn gap(d: f64, kmh: f64) -> i64 {
        (d / kmh * 3600.0).round() as i64
    }

    #[test]
    fn panther_fires_at_901_kmh_and_not_at_899() {
        let d = km(NEW_YORK, LOS_ANGELES, PANTHER_EARTH_RADIUS_KM);
        assert!((3930.0..3950.0).contains(&d), "{d}");
        for (kmh, fires) in [(901.0, true), (899.0, false)] {
            let alerts = run(&[
                login("e", 0, "192.0.2.1", NEW_YORK),
                login("e", gap(d, kmh), "198.51.100.1", LOS_ANGELES),
            ]);
            let panther = only(&alerts, Peer::PantherImpossibleTravel);
            assert_eq!(panther.len(), usize::from(fires), "{kmh}: {alerts:?}");
            if fires {
                assert_eq!(panther[0].severity, Severity::High);
                assert!(
                    panther[0].reason.contains("901 km/h"),
                    "{}",
                    panther[0].reason
                );
                assert!(
                    panther[0].reason.contains("New York City"),
                    "{}",
                    panther[0].reason
                );
            }
        }
    }

    #[test]
    fn panther_compares_with_the_last_login_only() {
        // LA is reachable from NY in 6 h; the jump back to NY one hour later is not, but
        // Panther only sees LA -> NY.
        let alerts = run(&[
            login("e", 0, "192.0.2.1", NEW_YORK),
            login("e", 6 * 3600, "198.51.100.1", LOS_ANGELES),
            login("e", 7 * 3600, "192.0.2.1", NEW_YORK),
        ]);
        let panther = only(&alerts, Peer::PantherImpossibleTravel);
        assert_eq!(panther.len(), 1);
        assert_eq!(panther[0].time, at(7 * 3600));
    }

    #[test]
    fn panther_downgrades_satellite_and_short_quick_hops() {
        let mut satellite = login("e", 3600, "198.51.100.1", LOS_ANGELES);
        satellite.asn = Some(PANTHER_SATELLITE_ASN);
        let alerts = run(&[login("e", 0, "192.0.2.1", NEW_YORK), satellite]);
        let panther = only(&alerts, Peer::PantherImpossibleTravel);
        assert_eq!(panther[0].severity, Severity::Low, "{panther:?}");
        // With nothing cached, a satellite login is not cached either.
        let mut first = login("e", 0, "198.51.100.1", LOS_ANGELES);
        first.asn = Some(PANTHER_SATELLITE_ASN);
        let alerts = run(&[first, login("e", 3600, "192.0.2.1", NEW_YORK)]);
        assert!(only(&alerts, Peer::PantherImpossibleTravel).is_empty());

        let near = ("Newark", "New Jersey", "US", 40.73566, -74.17237);
        let alerts = run(&[
            login("e", 0, "192.0.2.1", NEW_YORK),
            login("e", 30, "198.51.100.1", near),
        ]);
        let panther = only(&alerts, Peer::PantherImpossibleTravel);
        assert_eq!(panther[0].severity, Severity::Low, "{panther:?}");
    }

    #[test]
    fn same_ip_never_travels_and_zero_gap_is_infinite_speed() {
        let same_ip = run(&[
            login("e", 0, "192.0.2.1", NEW_YORK),
            login("e", 0, "192.0.2.1", LONDON),
        ]);
        // New-location peers may speak (London is new); no travel alert does.
        assert!(
            same_ip.iter().all(|a| a.severity < Severity::High
                && matches!(a.peer, Peer::OktaNewLocation | Peer::MozillaGeomodel)),
            "{same_ip:?}"
        );

        let zero_gap = run(&[
            login("e", 0, "192.0.2.1", NEW_YORK),
            login("e", 0, "198.51.100.1", LONDON),
        ]);
        for peer in [
            Peer::PantherImpossibleTravel,
            Peer::OktaVelocity,
            Peer::MozillaGeomodel,
        ] {
            let a = only(&zero_gap, peer);
            assert_eq!(a.len(), 1, "{peer:?}: {zero_gap:?}");
            assert_eq!(a[0].severity, Severity::High);
            assert!(a[0].reason.contains("infinite"), "{}", a[0].reason);
        }
    }

    #[test]
    fn okta_velocity_fires_at_806_kmh_and_not_at_804() {
        let d = km(LONDON, ROME, OKTA_EARTH_RADIUS_KM);
        assert!((1420.0..1450.0).contains(&d), "{d}");
        for (kmh, fires) in [(806.0, true), (804.0, false)] {
            let alerts = run(&[
                login("e", 0, "192.0.2.1", LONDON),
                login("e", gap(d, kmh), "198.51.100.1", ROME),
            ]);
            let okta = only(&alerts, Peer::OktaVelocity);
            assert_eq!(okta.len(), usize::from(fires), "{kmh}: {alerts:?}");
            if fires {
                assert_eq!(okta[0].severity, Severity::High);
            }
        }
    }

    /// `n` distinct other cities, one a day, far enough apart in time to travel.
    fn elsewhere(n: usize) -> Vec<PeerLogin> {
        (0..n)
            .map(|i| {
                let city = format!("Town {i}");
                let mut l = login("e", (i as i64 + 1) * 86_400, "198.51.100.1", PARIS);
                l.city = Some(city);
                l.ip = format!("198.51.100.{}", i + 2).parse().unwrap();
                l
            })
            .collect()
    }

    #[test]
    fn okta_new_location_forgets_after_20_sign_ins() {
        for (others, fires) in [(19, false), (20, true)] {
            let mut logins = vec![login("e", 0, "192.0.2.1", LONDON)];
            logins.extend(elsewhere(others));
            logins.push(login("e", 400 * 86_400, "192.0.2.1", LONDON));
            let alerts = run(&logins);
            let last: Vec<_> = only(&alerts, Peer::OktaNewLocation)
                .into_iter()
                .filter(|a| a.time == at(400 * 86_400))
                .collect();
            assert_eq!(last.len(), usize::from(fires), "{others} others: {last:?}");
            if fires {
                assert_eq!(last[0].severity, Severity::Medium);
                assert!(last[0].reason.contains("London"), "{}", last[0].reason);
            }
        }
    }

    #[test]
    fn okta_new_location_is_quiet_on_first_sight_and_judges_cityless_logins_by_country() {
        let mut cityless = login("e", 86_400, "198.51.100.1", LONDON);
        cityless.city = None;
        let mut elsewhere = login("e", 2 * 86_400, "198.51.100.2", ROME);
        elsewhere.city = None;
        elsewhere.lat = None;
        elsewhere.lon = None;
        let alerts = run(&[login("e", 0, "192.0.2.1", LONDON), cityless, elsewhere]);
        let okta = only(&alerts, Peer::OktaNewLocation);
        assert_eq!(okta.len(), 1, "{okta:?}");
        assert_eq!(okta[0].time, at(2 * 86_400));
        assert!(okta[0].reason.contains("country"), "{}", okta[0].reason);
    }

    #[test]
    fn geomodel_localities_expire_after_30_days() {
        let day = 86_400;
        for (back, fires) in [(30 * day, false), (30 * day + 1, true)] {
            let alerts = run(&[
                login("e", 0, "192.0.2.1", LONDON),
                login("e", day, "198.51.100.1", PARIS),
                login("e", back, "192.0.2.1", LONDON),
            ]);
            let geo = only(&alerts, Peer::MozillaGeomodel);
            // Paris is a new locality in a new country; London again is new only once
            // its locality has expired.
            assert_eq!(geo.len(), 1 + usize::from(fires), "{back}: {geo:?}");
            assert_eq!(geo[0].time, at(day));
            assert_eq!(geo[0].severity, Severity::Medium);
            if fires {
                assert_eq!(geo[1].time, at(back));
                assert!(
                    geo[1].reason.contains("new locality London"),
                    "{}",
                    geo[1].reason
                );
            }
        }
    }

    #[test]
    fn geomodel_new_locality_in_the_same_country_is_low() {
        let cambridge = ("Cambridge", "England", "GB", 52.2, 0.11667);
        let alerts = run(&[
            login("e", 0, "192.0.2.1", LONDON),
            login("e", 86_400, "198.51.100.1", cambridge),
        ]);
        let geo = only(&alerts, Peer::MozillaGeomodel);
        assert_eq!(geo.len(), 1);
        assert_eq!(geo[0].severity, Severity::Low);
    }

    #[test]
    fn geomodel_radius_allowance_comes_from_the_accuracy_radius() {
        let d = km(LONDON, ROME, GEOMODEL_EARTH_RADIUS_KM);
        // 1,010 km/h once the 50 km allowance is taken off.
        let t = gap(d - 50.0, 1010.0);
        let case = |acc_from: Option<u32>, acc_to: Option<u32>, seconds: i64| {
            let mut from = login("e", 0, "192.0.2.1", LONDON);
            from.accuracy_km = acc_from;
            let mut to = login("e", seconds, "198.51.100.1", ROME);
            to.accuracy_km = acc_to;
            run(&[from, to])
                .into_iter()
                .filter(|a| a.peer == Peer::MozillaGeomodel)
                .map(|a| a.severity)
                .collect::<Vec<_>>()
        };
        assert_eq!(case(None, None, t), [Severity::High]);
        // 990 km/h after the allowance: possible, so only the new locality (new country).
        assert_eq!(case(None, None, gap(d - 50.0, 990.0)), [Severity::Medium]);
        // Both places vague to 100 km: a 100 km allowance makes it possible.
        assert_eq!(case(Some(100), Some(100), t), [Severity::Medium]);
        // The allowance is the smaller radius.
        assert_eq!(case(Some(100), None, t), [Severity::High]);
        // Accuracy below 50 km never shrinks a locality.
        assert_eq!(case(Some(1), Some(1), t), [Severity::High]);
    }

    #[test]
    fn geomodel_travels_from_the_most_recent_locality() {
        // Paris 10 minutes after London is impossible; from New York, the older locality
        // 8 h earlier, it would be possible (about 710 km/h).
        let hour = 3600;
        let alerts = run(&[
            login("e", 0, "192.0.2.1", NEW_YORK),
            login("e", 8 * hour, "198.51.100.1", LONDON),
            login("e", 8 * hour + 600, "203.0.113.1", PARIS),
        ]);
        let geo = only(&alerts, Peer::MozillaGeomodel);
        assert_eq!(geo.len(), 2, "{geo:?}");
        assert_eq!(geo[1].severity, Severity::High, "{}", geo[1].reason);
        assert!(geo[1].reason.contains("from London"), "{}", geo[1].reason);
        assert!(
            geo[1].reason.contains("new locality Paris"),
            "{}",
            geo[1].reason
        );
    }

    #[test]
    fn geomodel_locality_radius_is_50_km_or_the_accuracy_radius_if_wider() {
        let watford = ("Watford", "England", "GB", 51.65531, -0.39602); // ~25 km out
        let reading = ("Reading", "England", "GB", 51.45625, -0.97113); // ~59 km out
        let new_locality = |to, accuracy: Option<u32>| {
            let mut from = login("e", 0, "192.0.2.1", LONDON);
            from.accuracy_km = accuracy;
            let mut to = login("e", 86_400, "198.51.100.1", to);
            to.accuracy_km = accuracy;
            !only(&run(&[from, to]), Peer::MozillaGeomodel).is_empty()
        };
        assert!(!new_locality(watford, None));
        // A precise guess does not shrink a locality below geomodel's 50 km.
        assert!(!new_locality(watford, Some(1)));
        assert!(new_locality(reading, None));
        // A vague one widens it.
        assert!(!new_locality(reading, Some(100)));
    }

    #[test]
    fn logins_without_coordinates_are_skipped_not_fatal() {
        let mut blind = login("e", 60, "198.51.100.1", LONDON);
        blind.lat = None;
        blind.lon = None;
        blind.city = None;
        blind.region = None;
        let mut nothing = blind.clone();
        nothing.country = None;
        nothing.time = at(120);
        let alerts = run(&[login("e", 0, "192.0.2.1", NEW_YORK), blind, nothing]);
        // Only Okta's country-level check can judge the GB login.
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].peer, Peer::OktaNewLocation);
        // The next located login is compared with the last located one.
        let alerts = run(&[
            login("e", 0, "192.0.2.1", NEW_YORK),
            PeerLogin {
                lat: None,
                lon: None,
                ..login("e", 60, "198.51.100.1", PARIS)
            },
            login("e", 120, "198.51.100.2", LONDON),
        ]);
        let panther = only(&alerts, Peer::PantherImpossibleTravel);
        assert_eq!(panther.len(), 1);
        assert!(
            panther[0].reason.contains("New York City"),
            "{}",
            panther[0].reason
        );
    }

    #[test]
    fn peers_serialise_as_their_rule_ids() {
        for peer in Peer::ALL {
            assert_eq!(
                serde_json::to_value(peer).unwrap(),
                serde_json::json!(peer.rule())
            );
            assert!(!peer.name().is_empty());
        }
        let mut sorted = Peer::ALL;
        sorted.sort();
        assert_eq!(sorted, Peer::ALL);
    }

    const CITIES: [(&str, &str, &str, f64, f64); 5] = [NEW_YORK, LOS_ANGELES, LONDON, ROME, PARIS];

    /// One generated login: employee, city, address, minutes since the previous login,
    /// whether coordinates and the city are known, accuracy radius.
    fn arb_login() -> impl Strategy<Value = (usize, usize, u8, i64, bool, bool, Option<u32>)> {
        (
            0..3usize,
            0..CITIES.len(),
            0..4u8,
            0..600i64,
            any::<bool>(),
            any::<bool>(),
            prop::option::of(1..300u32),
        )
    }

    proptest! {
        #[test]
        fn an_employees_alerts_do_not_depend_on_others_interleaving(
            steps in prop::collection::vec(arb_login(), 0..60)
        ) {
            let mut seconds = 0;
            let logins: Vec<PeerLogin> = steps
                .into_iter()
                .map(|(e, c, ip, minutes, located, has_city, accuracy)| {
                    seconds += minutes * 60;
                    let mut l = login(&format!("e{e}"), seconds, &format!("192.0.2.{ip}"), CITIES[c]);
                    if !located {
                        l.lat = None;
                        l.lon = None;
                    }
                    if !has_city {
                        l.city = None;
                    }
                    l.accuracy_km = accuracy;
                    l
                })
                .collect();
            let together = run(&logins);
            for e in ["e0", "e1", "e2"] {
                let alone: Vec<PeerLogin> =
                    logins.iter().filter(|l| l.employee == e).cloned().collect();
                let mine: Vec<PeerAlert> =
                    together.iter().filter(|a| a.employee == e).cloned().collect();
                prop_assert_eq!(mine, run(&alone));
            }
        }
    }
}
