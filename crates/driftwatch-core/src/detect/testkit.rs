//! Builders shared by the detector tests: claimed places, profiles, enriched locations,
//! logins and a [`Scene`] that owns what a [`Context`] borrows.
//!
//! ```ignore
//! let me = testkit::AUSTIN.profile("E1");
//! let scene = Scene::new(testkit::login(&me, "203.0.113.7", testkit::at("2026-03-02T15:00:00Z")),
//!                        testkit::LAS_VEGAS.geo(), me);
//! let findings = check(&Config::default(), &scene.context());
//! ```

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::Context;
use super::shared_infrastructure::Sighting;
use crate::enrich::Geo;
use crate::event::{EventKind, Format, LoginEvent, Outcome};
use crate::roster::{ClaimedProfile, EmployeeId, Status};
use crate::suppress::Trip;

/// A city, for claimed profiles and geolocations alike.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub country: &'static str,
    pub city: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub tz: Tz,
}

pub const NEW_YORK: Place = Place {
    country: "US",
    city: "New York",
    lat: 40.7128,
    lon: -74.006,
    tz: chrono_tz::America::New_York,
};
pub const AUSTIN: Place = Place {
    country: "US",
    city: "Austin",
    lat: 30.2672,
    lon: -97.7431,
    tz: chrono_tz::America::Chicago,
};
/// 290 km from Austin: the same place for a 500 km threshold.
pub const DALLAS: Place = Place {
    country: "US",
    city: "Dallas",
    lat: 32.7767,
    lon: -96.797,
    tz: chrono_tz::America::Chicago,
};
pub const LAS_VEGAS: Place = Place {
    country: "US",
    city: "Las Vegas",
    lat: 36.1699,
    lon: -115.1398,
    tz: chrono_tz::America::Los_Angeles,
};
pub const SEATTLE: Place = Place {
    country: "US",
    city: "Seattle",
    lat: 47.6062,
    lon: -122.3321,
    tz: chrono_tz::America::Los_Angeles,
};
pub const LONDON: Place = Place {
    country: "GB",
    city: "London",
    lat: 51.5074,
    lon: -0.1278,
    tz: chrono_tz::Europe::London,
};
pub const SEOUL: Place = Place {
    country: "KR",
    city: "Seoul",
    lat: 37.5665,
    lon: 126.978,
    tz: chrono_tz::Asia::Seoul,
};

impl Place {
    /// An active employee claiming this place, alias `<id>@corp.example` in lower case.
    pub fn profile(&self, id: &str) -> ClaimedProfile {
        ClaimedProfile {
            employee_id: EmployeeId(id.into()),
            aliases: vec![format!("{}@corp.example", id.to_ascii_lowercase())],
            country: self.country.to_owned(),
            region: None,
            city: Some(self.city.to_owned()),
            point: Some((self.lat, self.lon)),
            timezone: self.tz,
            work_hours: None,
            start_date: None,
            status: Status::Active,
            group: None,
            display_name: None,
            upn: None,
            manager: None,
        }
    }

    /// A residential address geolocated here, ±20 km.
    pub fn geo(&self) -> Geo {
        Geo {
            country: Some(self.country.to_owned()),
            city: Some(self.city.to_owned()),
            latitude: Some(self.lat),
            longitude: Some(self.lon),
            accuracy_km: Some(20),
            time_zone: Some(self.tz.name().to_owned()),
            asn: Some(64500),
            as_org: Some("Demo Residential ISP".to_owned()),
            ..Geo::default()
        }
    }
}

/// An RFC 3339 instant; panics on a typo in the test itself.
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t.with_timezone(&Utc),
        Err(e) => panic!("bad test time {rfc3339:?}: {e}"),
    }
}

/// A successful interactive Okta login of `profile`'s first alias from `ip`.
pub fn login(profile: &ClaimedProfile, ip: &str, time: DateTime<Utc>) -> LoginEvent {
    event(
        profile,
        ip,
        time,
        EventKind::InteractiveLogin,
        Outcome::Success,
    )
}

/// Any event of `profile`'s first alias from `ip`.
pub fn event(
    profile: &ClaimedProfile,
    ip: &str,
    time: DateTime<Utc>,
    kind: EventKind,
    outcome: Outcome,
) -> LoginEvent {
    let ip = match ip.parse() {
        Ok(ip) => ip,
        Err(e) => panic!("bad test address {ip:?}: {e}"),
    };
    let user = profile.aliases.first().cloned().unwrap_or_default();
    LoginEvent::new(Format::Okta, time, user, ip, kind, outcome)
}

/// Everything a [`Context`] borrows, owned, with the defaults of an ordinary login: not
/// allowlisted, no trip, nobody else on the network.
#[derive(Debug, Clone)]
pub struct Scene {
    pub event: LoginEvent,
    pub geo: Geo,
    pub profile: ClaimedProfile,
    pub allowlisted: bool,
    pub trip: Option<Trip>,
    pub network: Vec<Sighting>,
    /// The watch countries (the default ones).
    pub watch: Vec<String>,
}

impl Scene {
    pub fn new(event: LoginEvent, geo: Geo, profile: ClaimedProfile) -> Scene {
        Scene {
            event,
            geo,
            profile,
            allowlisted: false,
            trip: None,
            network: Vec::new(),
            watch: super::DetectConfig::default().watch_countries,
        }
    }

    /// The detectors' view of this scene.
    pub fn context(&self) -> Context<'_> {
        Context {
            event: &self.event,
            geo: &self.geo,
            profile: &self.profile,
            allowlisted: self.allowlisted,
            trip: self.trip.as_ref(),
            network: &self.network,
            watch: &self.watch,
        }
    }
}

/// MaxMind's official test databases in `../shared/geoip/maxmind-test`: the City database,
/// and the Anonymous-IP one when asked for.
pub fn maxmind(anonymous_ip: bool) -> crate::enrich::Enricher {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/geoip/maxmind-test/"
    );
    let config = crate::enrich::EnrichConfig {
        city: Some(format!("{dir}GeoIP2-City-Test.mmdb").into()),
        anonymous_ip: anonymous_ip.then(|| format!("{dir}GeoIP2-Anonymous-IP-Test.mmdb").into()),
        ..crate::enrich::EnrichConfig::default()
    };
    match crate::enrich::enricher::from_files(&config) {
        Ok(e) => e,
        Err(e) => panic!("MaxMind test databases (../shared must sit beside the repo): {e}"),
    }
}

/// What the MaxMind test databases say about `ip`.
pub fn maxmind_geo(ip: &str, anonymous_ip: bool) -> Geo {
    let ip = match ip.parse() {
        Ok(ip) => ip,
        Err(e) => panic!("bad test address {ip:?}: {e}"),
    };
    maxmind(anonymous_ip).lookup_uncached(ip)
}

/// One event of a replayed history, with its enrichment and whether it is allowlisted.
pub struct Step {
    pub event: LoginEvent,
    pub geo: Geo,
    pub allowlisted: bool,
}

/// Run `steps` for `profile` in order, as the engine does: `observe` checks one event
/// against the state and then learns from it. Returns the findings of each step.
pub fn replay_steps<S>(
    profile: &ClaimedProfile,
    steps: &[Step],
    state: &mut S,
    mut observe: impl FnMut(&Context<'_>, &mut S) -> Vec<crate::alert::Finding>,
) -> Vec<Vec<crate::alert::Finding>> {
    steps
        .iter()
        .map(|s| {
            let ctx = Context {
                event: &s.event,
                geo: &s.geo,
                profile,
                allowlisted: s.allowlisted,
                trip: None,
                network: &[],
                watch: &[],
            };
            observe(&ctx, state)
        })
        .collect()
}
