//! What the travel rules share ([`super::impossible_travel`], [`super::concurrent_sessions`]):
//! a located login ([`Fix`]), the network context that makes a location unreliable
//! ([`Caveats`], configured by [`CaveatConfig`]), the same-network test, the journey between
//! two logins ([`Leg`]) and the verdict that context lowers ([`judge`]).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::Context;
use super::place::{self, Point};
use crate::alert::{Evidence, Severity};
use crate::decode::fields::canonical;
use crate::enrich::{Geo, network_key};
use crate::event::Outcome;
use crate::suppress::Trip;

/// Which networks geolocate to a gateway rather than to the person: the `context` table of
/// the travel rules ([`Config::context`], [`super::concurrent_sessions::Config::context`]).
/// Anonymizers need no setting: [`Geo::is_anonymizer`] decides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaveatConfig {
    /// Intel-list tags of mobile carrier networks. Default `mobile` and `carrier_nat`: a
    /// phone's address geolocates to the carrier's gateway, often hundreds of km away
    /// (elastic/detection-rules #5865: ~40% of travel alerts came from mobile agents).
    pub mobile_tags: Vec<String>,
    /// Intel-list tags of satellite networks. Default `satellite`.
    pub satellite_tags: Vec<String>,
    /// Satellite and in-flight Wi-Fi ASNs. Default 22351 (Intelsat, named in
    /// panther-analysis issue #1873) and 14593 (SpaceX Starlink, now on airliners too):
    /// their addresses geolocate to a ground station on another continent.
    pub satellite_asns: Vec<u32>,
}

impl Default for CaveatConfig {
    fn default() -> Self {
        CaveatConfig {
            mobile_tags: vec!["mobile".to_owned(), "carrier_nat".to_owned()],
            satellite_tags: vec!["satellite".to_owned()],
            satellite_asns: vec![22351, 14593],
        }
    }
}

impl CaveatConfig {
    /// What about `geo` makes its location unreliable.
    pub fn of(&self, geo: &Geo) -> Caveats {
        let tagged = |tags: &[String]| tags.iter().any(|t| geo.has_tag(t));
        Caveats {
            anonymizer: geo.is_anonymizer(),
            satellite: tagged(&self.satellite_tags)
                || geo.asn.is_some_and(|a| self.satellite_asns.contains(&a)),
            mobile: tagged(&self.mobile_tags),
            coarse: geo.city.is_none(),
        }
    }
}

/// Why a login's location may be a gateway's rather than the person's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caveats {
    /// VPN, hosting, proxy or Tor exit.
    pub anonymizer: bool,
    /// A satellite or in-flight network.
    pub satellite: bool,
    /// A mobile carrier (carrier-grade NAT).
    pub mobile: bool,
    /// Located only to a country (no city): the database's answer is the country's
    /// registration, often of the network's holder elsewhere, not a place.
    #[serde(default)]
    pub coarse: bool,
}

impl Caveats {
    /// True when any caveat applies.
    pub fn any(self) -> bool {
        self.anonymizer || self.satellite || self.mobile || self.coarse
    }

    /// The caveats in words, for notes: `anonymizer and mobile carrier`.
    fn describe(self) -> String {
        let words: Vec<&str> = [
            (self.anonymizer, "anonymizer (VPN, hosting, proxy or Tor)"),
            (self.satellite, "satellite or in-flight network"),
            (self.mobile, "mobile carrier"),
            (self.coarse, "located only to a country"),
        ]
        .into_iter()
        .filter_map(|(set, word)| set.then_some(word))
        .collect();
        words.join(" and ")
    }
}

/// An interactive login that places the employee: when, from where, and how reliably.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// Whole seconds are plenty for speeds and keep the stored form small.
    #[serde(with = "chrono::serde::ts_seconds")]
    pub time: DateTime<Utc>,
    pub ip: IpAddr,
    pub point: Point,
    pub accuracy_km: Option<u32>,
    /// Country code and city, held inline (most city names fit in 24 bytes): an employee
    /// keeps several fixes, so a heap string each adds up.
    pub country: Option<CompactString>,
    pub city: Option<CompactString>,
    pub asn: Option<u32>,
    pub caveats: Caveats,
    /// Located in a watch country other than the claimed one (`[detect] watch_countries`),
    /// anonymizer exits there included.
    #[serde(default)]
    pub watch: bool,
}

impl Fix {
    /// The event as a located login, when it places the person: an interactive kind that did
    /// not fail, from an address that is not allowlisted, with coordinates. A failed attempt
    /// is as often someone else's guess at a password; an allowlisted address (corporate
    /// egress) is where the company's network is, not the person.
    pub fn of(ctx: &Context<'_>, caveats: &CaveatConfig) -> Option<Fix> {
        let Context { event, geo, .. } = *ctx;
        let places =
            event.kind.is_interactive() && event.outcome != Outcome::Failure && !ctx.allowlisted;
        if !places {
            return None;
        }
        let watch = ctx.is_watch(geo.country.as_deref());
        let mut caveats = caveats.of(geo);
        // A hosting or VPN exit in a watch country is evidence of that country.
        caveats.anonymizer &= !watch;
        Some(Fix {
            time: event.time,
            ip: canonical(event.ip),
            point: place::of_geo(geo)?,
            accuracy_km: geo.accuracy_km,
            country: geo.country.as_deref().map(CompactString::from),
            city: geo.city.as_deref().map(CompactString::from),
            asn: geo.asn,
            caveats,
            watch,
        })
    }

    /// Whether the two fixes are in different countries, both known. Movement inside one
    /// country is what the network explains (a phone on the carrier's gateway, a home line
    /// placed at the ISP's hub: docs/evaluation.md), so only a border crossing is evidence.
    pub fn other_country(&self, other: &Fix) -> bool {
        match (&self.country, &other.country) {
            (Some(a), Some(b)) => !a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }

    /// `City, CC`, `CC`, or the coordinates when the database names no place.
    pub fn place(&self) -> String {
        match (&self.city, &self.country) {
            (Some(city), Some(country)) => format!("{city}, {country}"),
            (None, Some(country)) => country.to_string(),
            (Some(city), None) => city.to_string(),
            (None, None) => format!("{:.2},{:.2}", self.point.lat, self.point.lon),
        }
    }

    /// `London, GB (81.2.69.142)`.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.place(), self.ip)
    }
}

/// True when `a` and `b` are one network whose geolocation may differ between lookups or
/// database builds: the same IPv4 /24 (which includes the same address) or the same IPv6
/// /64 (one subscriber's LAN, with privacy addresses that change daily).
pub fn same_network(a: IpAddr, b: IpAddr) -> bool {
    match (canonical(a), canonical(b)) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (a @ IpAddr::V6(_), b @ IpAddr::V6(_)) => network_key(a) == network_key(b),
        _ => false,
    }
}

/// The journey between two located logins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leg {
    /// Great-circle distance between the two points.
    pub distance_km: f64,
    /// Distance minus both accuracy radii, at least 0: the least the person must have moved.
    pub effective_km: f64,
    /// Time between the logins.
    pub hours: f64,
    /// Effective distance over the time, the time taken as at least the floor given.
    pub speed_kmh: f64,
    /// The floor replaced the real time.
    pub floored: bool,
}

impl Leg {
    /// The journey from `a` to `b` (either order), timing it as at least `min_hours`.
    pub fn between(a: &Fix, b: &Fix, min_hours: f64) -> Leg {
        let distance_km = a.point.distance_km(b.point);
        let radii = f64::from(a.accuracy_km.unwrap_or(0)) + f64::from(b.accuracy_km.unwrap_or(0));
        let effective_km = (distance_km - radii).max(0.0);
        let hours = (b.time - a.time).num_milliseconds().unsigned_abs() as f64 / 3.6e6;
        let timed = hours.max(min_hours);
        // Both zero (same instant, floor 0): nothing moved that we can measure.
        let speed_kmh = if timed > 0.0 {
            effective_km / timed
        } else {
            0.0
        };
        Leg {
            distance_km,
            effective_km,
            hours,
            speed_kmh,
            floored: hours < min_hours,
        }
    }

    /// The typed evidence, earlier login first.
    pub fn evidence(&self, a: &Fix, b: &Fix) -> Evidence {
        let (from, to) = if a.time <= b.time { (a, b) } else { (b, a) };
        Evidence::Travel {
            from_time: from.time,
            from_ip: from.ip,
            from_place: Some(from.place()),
            to_time: to.time,
            to_ip: to.ip,
            to_place: Some(to.place()),
            distance_km: round1(self.distance_km),
            effective_km: round1(self.effective_km),
            hours: round3(self.hours),
            speed_kmh: round1(self.speed_kmh),
        }
    }
}

/// Severity and risk after the context that explains a journey, with the notes that say
/// why: caveats at either end and an approved trip lower the verdict to the context one;
/// an end in a watch country raises it to `watch` whatever the network there (a hosting
/// exit in a watch country is still in it), unless an approved trip covers the login.
pub fn judge(
    (severity, risk): (Severity, u8),
    (context_severity, context_risk): (Severity, u8),
    watch: (Severity, u8),
    ends: [&Fix; 2],
    trip: Option<&Trip>,
) -> (Severity, u8, Vec<Evidence>) {
    if let Some(end) = ends.iter().find(|e| e.watch)
        && trip.is_none()
    {
        // A watch country is evidence whatever else is said of either end.
        let note = Evidence::Note {
            text: format!(
                "{}: a watch country (detect.watch_countries); severity {}",
                end.describe(),
                watch.0
            ),
        };
        return (severity.max(watch.0), risk.max(watch.1), vec![note]);
    }
    let mut notes: Vec<String> = Vec::new();
    for end in ends {
        if end.caveats.any() {
            notes.push(format!(
                "{}: {} address, located at a gateway rather than the person; severity lowered to {context_severity}",
                end.describe(),
                end.caveats.describe()
            ));
        }
    }
    if let Some(trip) = trip {
        notes.push(format!(
            "approved trip to {} from {} to {}; severity lowered to {context_severity}",
            trip.country, trip.from, trip.to
        ));
    }
    let notes: Vec<Evidence> = notes
        .into_iter()
        .map(|text| Evidence::Note { text })
        .collect();
    if notes.is_empty() {
        (severity, risk, notes)
    } else {
        // Never raise: a context verdict configured above the plain one would punish the
        // explained case.
        (
            context_severity.min(severity),
            context_risk.min(risk),
            notes,
        )
    }
}

/// `40 min`, `3.5 h`, `12 s`.
pub fn interval(hours: f64) -> String {
    if hours >= 1.0 {
        format!("{hours:.1} h")
    } else if hours * 60.0 >= 1.0 {
        format!("{:.0} min", hours * 60.0)
    } else {
        format!("{:.0} s", hours * 3600.0)
    }
}

pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
