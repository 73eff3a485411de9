//! impossible_travel: two consecutive interactive logins of one employee from places no one
//! could travel between in the time that separates them.
//!
//! The speed is taken over the *effective* distance — the great-circle distance minus both
//! GeoIP accuracy radii, floored at 0 — because a city-level guess with a 500 km radius is
//! not a point (docs/domain.md, "GeoIP is a guess, not a point": treating it as exact is a
//! classic false positive). Logins from the
//! same IPv4 address, the same IPv4 /24 or the same IPv6 /64 never fire: that is one network
//! re-geolocated by a database update, not a person moving (panther-analysis PR #1734), and
//! IPv6 privacy addresses change every day inside one /64.
//!
//! Anonymizers, satellite links and mobile carriers geolocate to a gateway, not to the
//! person, and cause most false positives of this rule in other products (panther-analysis
//! PR #1358, elastic/detection-rules #5865); an approved trip explains a journey. These
//! lower the severity and say so in a note, rather than silence the rule, so a pattern still
//! shows in the risk.
//!
//! What it shares with [`super::concurrent_sessions`] (a located login, the network context
//! that makes a location unreliable, the same-network test, the journey) is in
//! [`super::travel`].

use serde::{Deserialize, Serialize};

use super::travel::{CaveatConfig, Fix, Leg, interval, judge, same_network};
use super::{Context, Validate};
use crate::alert::{Evidence, Finding, Severity};

/// The rule's stable name.
pub const NAME: &str = "impossible_travel";

/// How many recent logins [`State`] keeps. The engine applies events in time order within
/// the lateness window; the few extra logins let an event later than that still be compared
/// with the logins just before and just after it, at about 50 bytes each.
pub const KEEP: usize = 4;

/// `[detect.impossible_travel]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run the rule at all.
    pub enabled: bool,
    /// Speed (km/h) over the effective distance above which the journey is impossible.
    /// Default 1000: an airliner cruises at 800–950 km/h and the accuracy radii are already
    /// subtracted, so only no-flight-could-do-it journeys fire (Mozilla geomodel's figure).
    pub max_speed_kmh: f64,
    /// The least time (minutes) a journey is assumed to take. Default 5: two logins seconds
    /// apart from two nearby cities (GeoIP noise between one person's phone and laptop) would
    /// otherwise give an absurd speed; with 5 minutes and 1000 km/h the places must be more
    /// than 83 km apart beyond their accuracy radii to fire.
    pub min_interval_minutes: f64,
    /// Severity of an impossible journey between two countries. Default medium: it is the
    /// "two continents within an hour" case, but a traveller's phone roaming through the
    /// home carrier looks the same; with a watch country at either end it is high
    /// (`watch_severity`), and other agreeing evidence makes it high through the risk.
    /// Journeys inside one country are never judged: there the network explains the
    /// distance (a phone on the carrier's gateway, a home line placed at the ISP's hub).
    pub severity: Severity,
    /// Risk (0–100) of an impossible journey. Default 40: an alert on its own.
    pub risk: u8,
    /// Severity when an anonymizer, satellite or mobile network is at either end or the
    /// login is on an approved trip. Default low: these geolocate to a gateway, so the
    /// journey is likely an artefact; it stays visible as context.
    pub context_severity: Severity,
    /// Risk (0–100) in that case. Default 14: context, below the low threshold.
    pub context_risk: u8,
    /// Severity when either end is in a watch country (`[detect] watch_countries`).
    /// Default high.
    pub watch_severity: Severity,
    /// Risk in that case. Default 65: a page on its own.
    pub watch_risk: u8,
    /// Which networks count as satellite or mobile (`[detect.impossible_travel.context]`).
    pub context: CaveatConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            max_speed_kmh: 1000.0,
            min_interval_minutes: 5.0,
            severity: Severity::Medium,
            risk: 40,
            context_severity: Severity::Low,
            context_risk: 14,
            watch_severity: Severity::High,
            watch_risk: 65,
            context: CaveatConfig::default(),
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !(self.max_speed_kmh.is_finite() && self.max_speed_kmh > 0.0) {
            errors.push(format!(
                "detect.{NAME}.max_speed_kmh: {} must be a number above 0",
                self.max_speed_kmh
            ));
        }
        if !(0.0..=24.0 * 60.0).contains(&self.min_interval_minutes) {
            errors.push(format!(
                "detect.{NAME}.min_interval_minutes: {} must be between 0 and 1440",
                self.min_interval_minutes
            ));
        }
        errors.extend(super::risks_above_100(
            NAME,
            &[
                ("risk", self.risk),
                ("context_risk", self.context_risk),
                ("watch_risk", self.watch_risk),
            ],
        ));
        errors
    }
}

/// What this detector remembers about one employee: the last few located interactive
/// logins, oldest first, at most [`KEEP`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub recent: Vec<Fix>,
}

/// Findings for one event, against the state before it: the fastest impossible journey
/// between the event and the logins just before and just after it in time.
pub fn check(cfg: &Config, ctx: &Context<'_>, state: &State) -> Vec<Finding> {
    if !cfg.enabled {
        return Vec::new();
    }
    let Some(now) = Fix::of(ctx, &cfg.context) else {
        return Vec::new();
    };
    let min_hours = cfg.min_interval_minutes / 60.0;
    let before = state.recent.iter().rev().find(|f| f.time <= now.time);
    let after = state.recent.iter().find(|f| f.time > now.time);
    let fastest = [before, after]
        .into_iter()
        .flatten()
        .filter(|other| !same_network(other.ip, now.ip))
        .filter(|other| other.other_country(&now))
        .map(|other| (other, Leg::between(other, &now, min_hours)))
        .filter(|(_, leg)| leg.speed_kmh > cfg.max_speed_kmh)
        .max_by(|(_, a), (_, b)| a.speed_kmh.total_cmp(&b.speed_kmh));
    let Some((other, leg)) = fastest else {
        return Vec::new();
    };
    vec![finding(cfg, ctx, other, &now, &leg)]
}

fn finding(cfg: &Config, ctx: &Context<'_>, other: &Fix, now: &Fix, leg: &Leg) -> Finding {
    let (severity, risk, notes) = judge(
        (cfg.severity, cfg.risk),
        (cfg.context_severity, cfg.context_risk),
        (cfg.watch_severity, cfg.watch_risk),
        [other, now],
        ctx.trip,
    );
    let order = if other.time <= now.time {
        "after"
    } else {
        "before"
    };
    let summary = format!(
        "{} logged in from {} {} {order} a login from {}: {:.0} km apart, {:.0} km beyond the \
         accuracy radii, {:.0} km/h against a limit of {:.0} km/h",
        ctx.profile.employee_id,
        now.describe(),
        interval(leg.hours),
        other.describe(),
        leg.distance_km,
        leg.effective_km,
        leg.speed_kmh,
        cfg.max_speed_kmh,
    );
    let mut evidence = vec![
        Evidence::login(ctx.event),
        leg.evidence(other, now),
        Evidence::location(ctx.geo),
    ];
    if leg.floored {
        evidence.push(Evidence::Note {
            text: format!(
                "logins {} apart: speed taken over the {} minute floor",
                interval(leg.hours),
                cfg.min_interval_minutes
            ),
        });
    }
    evidence.extend(notes);
    Finding::located(NAME, severity, risk, summary, evidence, ctx.geo)
}

/// Learn from one event: a located interactive login joins the recent ones, in time order.
pub fn update(cfg: &Config, ctx: &Context<'_>, state: &mut State) {
    if !cfg.enabled {
        return;
    }
    let Some(fix) = Fix::of(ctx, &cfg.context) else {
        return;
    };
    let at = state.recent.partition_point(|f| f.time <= fix.time);
    match at.checked_sub(1).and_then(|i| state.recent.get_mut(i)) {
        // A repeat from the same network only moves the reference later (the stricter
        // one), so a burst of logins from home does not push every other place out.
        Some(previous) if same_network(previous.ip, fix.ip) => *previous = fix,
        _ => state.recent.insert(at, fix),
    }
    if state.recent.len() > KEEP {
        let excess = state.recent.len() - KEEP;
        state.recent.drain(..excess);
    }
}

/// The rule, for the registration table in [`super`].
pub struct Rule;

impl super::Detector for Rule {
    const NAME: &'static str = NAME;
    const FAMILY: super::Family = super::Family::Location;
    const CLAIM: super::Claim = super::Claim::Place;
    type Config = Config;
    type State = State;

    fn observe(cfg: &Config, ctx: &Context<'_>, state: &mut State) -> Vec<Finding> {
        let found = check(cfg, ctx, state);
        update(cfg, ctx, state);
        found
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Builders shared by the travel and session rules' tests.

    use super::*;
    use crate::detect::travel::*;
    use crate::enrich::AnonymousFlags;
    use crate::enrich::Geo;
    use crate::event::Outcome;
    use crate::event::{EventKind, Format, LoginEvent, NonInteractive};
    use crate::roster::{ClaimedProfile, EmployeeId, Status};
    use crate::suppress::Trip;
    use chrono::{DateTime, Utc};
    use chrono::{Duration, NaiveDate};

    pub const NEW_YORK: (f64, f64) = (40.7128, -74.006);
    pub const LONDON: (f64, f64) = (51.5074, -0.1278);
    pub const SHENYANG: (f64, f64) = (41.8057, 123.4315);
    pub const CHICAGO: (f64, f64) = (41.8781, -87.6298);
    pub const TORONTO: (f64, f64) = (43.6532, -79.3832);
    pub const BUFFALO: (f64, f64) = (42.8864, -78.8784);

    pub fn profile() -> ClaimedProfile {
        ClaimedProfile {
            employee_id: EmployeeId("E1".into()),
            aliases: vec!["a@corp.example".into()],
            country: "US".into(),
            region: None,
            city: Some("New York".into()),
            point: Some(NEW_YORK),
            timezone: chrono_tz::America::New_York,
            work_hours: None,
            start_date: None,
            status: Status::Active,
            group: None,
            display_name: None,
            upn: None,
            manager: None,
        }
    }

    /// 2023-11-14T22:13:20Z plus `minutes`.
    pub fn at(minutes: f64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
            + Duration::milliseconds((minutes * 60_000.0) as i64)
    }

    pub fn event(kind: EventKind, ip: &str, minutes: f64) -> LoginEvent {
        LoginEvent::new(
            Format::Okta,
            at(minutes),
            "a@corp.example".into(),
            ip.parse().unwrap(),
            kind,
            Outcome::Success,
        )
    }

    pub fn login(ip: &str, minutes: f64) -> LoginEvent {
        event(EventKind::InteractiveLogin, ip, minutes)
    }

    pub fn geo(country: &str, city: &str, (lat, lon): (f64, f64), accuracy_km: u32) -> Geo {
        Geo {
            country: Some(country.into()),
            city: Some(city.into()),
            latitude: Some(lat),
            longitude: Some(lon),
            accuracy_km: Some(accuracy_km),
            asn: Some(64500),
            as_org: Some("Demo ISP".into()),
            ..Geo::default()
        }
    }

    pub fn new_york() -> Geo {
        geo("US", "New York", NEW_YORK, 20)
    }

    pub fn london() -> Geo {
        geo("GB", "London", LONDON, 20)
    }

    pub fn shenyang() -> Geo {
        geo("CN", "Shenyang", SHENYANG, 50)
    }

    pub fn anonymous(geo: Geo) -> Geo {
        Geo {
            anonymous: Some(AnonymousFlags {
                is_anonymous: true,
                is_anonymous_vpn: true,
                ..AnonymousFlags::default()
            }),
            ..geo
        }
    }

    pub fn trip() -> Trip {
        Trip {
            employee_id: EmployeeId("E1".into()),
            country: "GB".into(),
            from: NaiveDate::from_ymd_opt(2023, 11, 13).unwrap(),
            to: NaiveDate::from_ymd_opt(2023, 11, 20).unwrap(),
        }
    }

    /// Calls `f` with a context for the event (no trip unless given, no watch countries).
    pub fn with_ctx<R>(
        event: &LoginEvent,
        geo: &Geo,
        allowlisted: bool,
        trip: Option<&Trip>,
        f: impl FnOnce(&Context<'_>) -> R,
    ) -> R {
        with_ctx_watching(event, geo, allowlisted, trip, &[], f)
    }

    /// [`with_ctx`] with watch countries, never allowlisted.
    pub fn with_ctx_in<R>(
        event: &LoginEvent,
        geo: &Geo,
        trip: Option<&Trip>,
        watch: &[String],
        f: impl FnOnce(&Context<'_>) -> R,
    ) -> R {
        with_ctx_watching(event, geo, false, trip, watch, f)
    }

    fn with_ctx_watching<R>(
        event: &LoginEvent,
        geo: &Geo,
        allowlisted: bool,
        trip: Option<&Trip>,
        watch: &[String],
        f: impl FnOnce(&Context<'_>) -> R,
    ) -> R {
        let profile = profile();
        f(&Context {
            event,
            geo,
            profile: &profile,
            allowlisted,
            trip,
            network: &[],
            watch,
        })
    }

    /// Checks then updates each event in turn, as the engine does; the findings per event.
    fn run(cfg: &Config, state: &mut State, events: &[(LoginEvent, Geo)]) -> Vec<Vec<Finding>> {
        events
            .iter()
            .map(|(e, g)| {
                with_ctx(e, g, false, None, |ctx| {
                    let found = check(cfg, ctx, state);
                    update(cfg, ctx, state);
                    found
                })
            })
            .collect()
    }

    fn travel(f: &Finding) -> (f64, f64, f64, f64) {
        f.evidence
            .iter()
            .find_map(|e| match e {
                Evidence::Travel {
                    distance_km,
                    effective_km,
                    hours,
                    speed_kmh,
                    ..
                } => Some((*distance_km, *effective_km, *hours, *speed_kmh)),
                _ => None,
            })
            .expect("travel evidence")
    }

    fn notes(f: &Finding) -> Vec<&str> {
        f.evidence
            .iter()
            .filter_map(|e| match e {
                Evidence::Note { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// New York then `second` from `ip` `minutes` later; the second event's findings.
    fn after_new_york(ip: &str, minutes: f64, second: Geo) -> Vec<Finding> {
        let mut state = State::default();
        let found = run(
            &Config::default(),
            &mut state,
            &[
                (login("203.0.113.9", 0.0), new_york()),
                (login(ip, minutes), second),
            ],
        );
        assert!(found[0].is_empty());
        found[1].clone()
    }

    #[test]
    fn new_york_to_london_in_an_hour_fires_medium_with_the_figures() {
        let found = after_new_york("81.2.69.142", 60.0, london());
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!((f.rule, f.severity, f.risk), (NAME, Severity::Medium, 40));
        let (distance, effective, hours, speed) = travel(f);
        assert!((distance - 5570.0).abs() < 15.0, "{distance}");
        assert_eq!(effective, round1(distance - 40.0));
        assert_eq!(hours, 1.0);
        assert_eq!(speed, effective);
        assert!(
            f.summary.starts_with(
                "E1 logged in from London, GB (81.2.69.142) 1.0 h after a login from \
                 New York, US (203.0.113.9): 557"
            ),
            "{}",
            f.summary
        );
        assert!(f.summary.ends_with("against a limit of 1000 km/h"));
        assert!(notes(f).is_empty());
        let Evidence::Travel {
            from_time,
            to_time,
            from_place,
            ..
        } = &f.evidence[1]
        else {
            panic!("travel second: {:?}", f.evidence);
        };
        assert_eq!((*from_time, *to_time), (at(0.0), at(60.0)));
        assert_eq!(from_place.as_deref(), Some("New York, US"));
    }

    #[test]
    fn new_york_to_london_in_ten_hours_is_a_flight() {
        assert_eq!(after_new_york("81.2.69.142", 600.0, london()), vec![]);
        // ... and only just: 5530 km in 5.5 h is 1005 km/h.
        assert_eq!(after_new_york("81.2.69.142", 330.0, london()).len(), 1);
    }

    #[test]
    fn one_ipv4_24_re_geolocated_does_not_fire() {
        // The same address, or its /24, geolocated to London by a newer database build.
        assert_eq!(after_new_york("203.0.113.9", 60.0, london()), vec![]);
        assert_eq!(after_new_york("203.0.113.77", 60.0, london()), vec![]);
        assert_eq!(
            after_new_york("::ffff:203.0.113.200", 60.0, london()),
            vec![]
        );
        assert_eq!(after_new_york("203.0.114.9", 60.0, london()).len(), 1);
    }

    #[test]
    fn ipv6_privacy_addresses_in_one_64_do_not_fire() {
        let mut state = State::default();
        let first = ("2001:db8:1:2:a1b2:c3d4:e5f6:1", new_york());
        let found = run(
            &Config::default(),
            &mut state,
            &[
                (login(first.0, 0.0), first.1.clone()),
                (login("2001:db8:1:2:ffff:1:2:3", 60.0), london()),
            ],
        );
        assert_eq!(found[1], vec![]);
        let mut state = State::default();
        let found = run(
            &Config::default(),
            &mut state,
            &[
                (login(first.0, 0.0), first.1),
                (login("2001:db8:1:3::9", 60.0), london()),
            ],
        );
        assert_eq!(found[1].len(), 1, "another /64 is another network");
    }

    #[test]
    fn anonymizer_lowers_severity_and_says_so() {
        let found = after_new_york("198.51.100.7", 60.0, anonymous(london()));
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].severity, found[0].risk), (Severity::Low, 14));
        let notes = notes(&found[0]);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with(
                "London, GB (198.51.100.7): anonymizer (VPN, hosting, proxy or Tor) address"
            ),
            "{notes:?}"
        );
        assert!(notes[0].ends_with("severity lowered to low"));
    }

    #[test]
    fn satellite_and_mobile_carrier_lower_severity() {
        let intelsat = Geo {
            asn: Some(22351),
            ..london()
        };
        let found = after_new_york("198.51.100.7", 60.0, intelsat);
        assert_eq!(found[0].severity, Severity::Low);
        assert!(notes(&found[0])[0].contains("satellite"));
        let carrier = Geo {
            tags: vec!["carrier_nat".into()],
            ..london()
        };
        let found = after_new_york("198.51.100.7", 60.0, carrier);
        assert_eq!(found[0].severity, Severity::Low);
        assert!(notes(&found[0])[0].contains("mobile carrier"));
    }

    #[test]
    fn approved_trip_lowers_severity() {
        let cfg = Config::default();
        let mut state = State::default();
        run(&cfg, &mut state, &[(login("203.0.113.9", 0.0), new_york())]);
        let trip = trip();
        let found = with_ctx(
            &login("81.2.69.142", 60.0),
            &london(),
            false,
            Some(&trip),
            |ctx| check(&cfg, ctx, &state),
        );
        assert_eq!((found[0].severity, found[0].risk), (Severity::Low, 14));
        assert_eq!(
            notes(&found[0]),
            vec!["approved trip to GB from 2023-11-13 to 2023-11-20; severity lowered to low"]
        );
    }

    #[test]
    fn missing_geo_on_either_side_does_not_fire() {
        let unlocated = Geo {
            latitude: None,
            longitude: None,
            ..london()
        };
        assert_eq!(
            after_new_york("81.2.69.142", 60.0, unlocated.clone()),
            vec![]
        );
        // Nor does an unlocated login become the reference: the next one is compared with
        // New York.
        let mut state = State::default();
        let found = run(
            &Config::default(),
            &mut state,
            &[
                (login("203.0.113.9", 0.0), new_york()),
                (login("81.2.69.142", 30.0), unlocated),
                (login("81.2.69.142", 60.0), london()),
            ],
        );
        assert_eq!(found[2].len(), 1);
        assert_eq!(travel(&found[2][0]).2, 1.0);
        let mut state = State::default();
        let found = run(
            &Config::default(),
            &mut state,
            &[
                (login("203.0.113.9", 0.0), Geo::default()),
                (login("81.2.69.142", 60.0), london()),
            ],
        );
        assert_eq!(found, vec![vec![], vec![]]);
    }

    #[test]
    fn accuracy_radii_that_cover_the_distance_do_not_fire() {
        // New York to Toronto is ~550 km; country-level guesses with 1000 km radii.
        let vague = |g: Geo| Geo {
            accuracy_km: Some(1000),
            ..g
        };
        let toronto = geo("CA", "Toronto", TORONTO, 20);
        let mut state = State::default();
        let found = run(
            &Config::default(),
            &mut state,
            &[
                (login("203.0.113.9", 0.0), vague(new_york())),
                (login("198.51.100.7", 10.0), vague(toronto.clone())),
            ],
        );
        assert_eq!(found[1], vec![]);
        // With city-level radii the same pair is about 3000 km/h.
        let found = after_new_york("198.51.100.7", 10.0, toronto);
        assert_eq!(found.len(), 1);
        let (distance, effective, _, speed) = travel(&found[0]);
        assert!((distance - 550.0).abs() < 10.0, "{distance}");
        assert!((speed - effective * 6.0).abs() < 1.0, "{speed} {effective}");
    }

    #[test]
    fn a_journey_inside_one_country_is_never_judged() {
        // New York to Chicago (~1145 km) in 10 minutes: a phone on the carrier's gateway or
        // a home line placed at the ISP's hub, not a journey.
        let chicago = geo("US", "Chicago", CHICAGO, 20);
        assert_eq!(after_new_york("198.51.100.7", 10.0, chicago), vec![]);
    }

    #[test]
    fn a_watch_country_at_either_end_is_high() {
        let watch = ["CN".to_owned()];
        let cfg = Config::default();
        let mut state = State::default();
        run(&cfg, &mut state, &[(login("203.0.113.9", 0.0), new_york())]);
        let found = with_ctx_in(
            &login("198.51.100.7", 60.0),
            &shenyang(),
            None,
            &watch,
            |ctx| check(&cfg, ctx, &state),
        );
        assert_eq!((found[0].severity, found[0].risk), (Severity::High, 65));
        // Even through an anonymizer exit there, which would otherwise lower it.
        let found = with_ctx_in(
            &login("198.51.100.7", 60.0),
            &anonymous(shenyang()),
            None,
            &watch,
            |ctx| check(&cfg, ctx, &state),
        );
        assert_eq!(found[0].severity, Severity::High);
        // Without a watch list it is an ordinary impossible journey.
        let found = after_new_york("198.51.100.7", 60.0, shenyang());
        assert_eq!((found[0].severity, found[0].risk), (Severity::Medium, 40));
    }

    #[test]
    fn a_time_floor_keeps_nearby_logins_seconds_apart_finite() {
        // Across the border from Buffalo: ~100 km apart, 1 s apart: 80 km effective over
        // the 5 min floor is 960 km/h.
        let near = geo("CA", "Near", (BUFFALO.0 + 0.9, BUFFALO.1), 0);
        let exact_ny = geo("US", "Buffalo", BUFFALO, 20);
        let mut state = State::default();
        let found = run(
            &Config::default(),
            &mut state,
            &[
                (login("203.0.113.9", 0.0), exact_ny.clone()),
                (login("198.51.100.7", 1.0 / 60.0), near),
            ],
        );
        assert_eq!(found[1], vec![]);
        // 200+ km in one second fires, over the floor, and says so.
        let far = geo("CA", "Far", (BUFFALO.0 + 2.2, BUFFALO.1), 0);
        let mut state = State::default();
        let found = run(
            &Config::default(),
            &mut state,
            &[
                (login("203.0.113.9", 0.0), exact_ny),
                (login("198.51.100.7", 1.0 / 60.0), far),
            ],
        );
        let f = &found[1][0];
        let (_, effective, hours, speed) = travel(f);
        assert_eq!(hours, round3(1.0 / 3600.0));
        assert!(
            (speed - effective * 12.0).abs() < 1.0,
            "{speed} {effective}"
        );
        assert_eq!(
            notes(f),
            vec!["logins 1 s apart: speed taken over the 5 minute floor"]
        );
    }

    #[test]
    fn allowlisted_failed_and_non_interactive_logins_neither_fire_nor_anchor() {
        let cfg = Config::default();
        let mut state = State::default();
        run(&cfg, &mut state, &[(login("203.0.113.9", 0.0), new_york())]);
        let before = state.clone();
        let failed = LoginEvent {
            outcome: Outcome::Failure,
            ..login("81.2.69.142", 60.0)
        };
        let refresh = event(
            EventKind::NonInteractive(NonInteractive::TokenRefresh),
            "81.2.69.142",
            60.0,
        );
        for (event, allowlisted) in [
            (login("81.2.69.142", 60.0), true),
            (failed, false),
            (refresh, false),
        ] {
            with_ctx(&event, &london(), allowlisted, None, |ctx| {
                assert_eq!(check(&cfg, ctx, &state), vec![], "{event:?}");
                update(&cfg, ctx, &mut state);
            });
        }
        assert_eq!(state, before, "none of them became the reference");
        // New York again: had London become the reference, this would fire.
        let found = run(
            &cfg,
            &mut state,
            &[(login("203.0.113.9", 120.0), new_york())],
        );
        assert_eq!(found[0], vec![]);
    }

    #[test]
    fn a_late_event_is_compared_with_the_login_after_it() {
        let mut state = State::default();
        let found = run(
            &Config::default(),
            &mut state,
            &[
                (login("203.0.113.9", 0.0), new_york()),
                (login("203.0.114.9", 600.0), new_york()),
                // Arrives last, happened at 9 h: 9 h after New York is a flight, but 1 h
                // before New York again is not.
                (login("81.2.69.142", 540.0), london()),
            ],
        );
        let f = &found[2][0];
        assert!(
            f.summary.contains("1.0 h before a login from New York"),
            "{}",
            f.summary
        );
        let Evidence::Travel {
            from_ip, to_time, ..
        } = &f.evidence[1]
        else {
            panic!()
        };
        assert_eq!(
            (from_ip.to_string(), *to_time),
            ("81.2.69.142".into(), at(600.0))
        );
        assert_eq!(
            state.recent.iter().map(|f| f.time).collect::<Vec<_>>(),
            [at(0.0), at(540.0), at(600.0)]
        );
    }

    #[test]
    fn state_stays_small_and_in_order() {
        let cfg = Config::default();
        let mut state = State::default();
        let places = [new_york(), london(), shenyang()];
        for i in 0..20u8 {
            let ip = format!("198.51.{i}.7");
            let g = places[usize::from(i) % 3].clone();
            run(&cfg, &mut state, &[(login(&ip, f64::from(i) * 600.0), g)]);
        }
        assert_eq!(state.recent.len(), KEEP);
        assert!(state.recent.windows(2).all(|w| w[0].time <= w[1].time));
        assert_eq!(state.recent[KEEP - 1].time, at(19.0 * 600.0));
        // A burst from one network keeps one entry, the latest.
        for i in 0..5 {
            run(
                &cfg,
                &mut state,
                &[(login("203.0.113.9", 20_000.0 + f64::from(i)), new_york())],
            );
        }
        assert_eq!(state.recent.len(), KEEP);
        assert_eq!(state.recent[KEEP - 2].ip.to_string(), "198.51.19.7");
        assert_eq!(state.recent[KEEP - 1].time, at(20_004.0));
        let bytes = postcard::to_stdvec(&state).unwrap();
        assert!(bytes.len() <= 240, "{} bytes", bytes.len());
        assert_eq!(postcard::from_bytes::<State>(&bytes).unwrap(), state);
    }

    #[test]
    fn maxmind_test_city_database_milton_to_london() {
        let enricher = crate::detect::testkit::maxmind(false);
        let milton = enricher.lookup_uncached("216.160.83.56".parse().unwrap());
        let london = enricher.lookup_uncached("81.2.69.142".parse().unwrap());
        assert_eq!(
            (milton.accuracy_km, london.accuracy_km),
            (Some(22), Some(10))
        );
        let mut state = State::default();
        let found = run(
            &Config::default(),
            &mut state,
            &[
                (login("216.160.83.56", 0.0), milton),
                (login("81.2.69.142", 120.0), london),
            ],
        );
        let f = &found[1][0];
        let (distance, effective, hours, _) = travel(f);
        assert!((distance - 7700.0).abs() < 100.0, "{distance}");
        assert_eq!(effective, round1(distance - 32.0));
        assert_eq!(hours, 2.0);
        assert!(
            f.summary.contains("Milton, US (216.160.83.56)"),
            "{}",
            f.summary
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| matches!(e, Evidence::Database { .. }))
        );
    }

    #[test]
    fn disabled_rule_and_config_errors() {
        let off = Config {
            enabled: false,
            ..Config::default()
        };
        let mut state = State::default();
        let found = run(
            &off,
            &mut state,
            &[
                (login("203.0.113.9", 0.0), new_york()),
                (login("81.2.69.142", 60.0), london()),
            ],
        );
        assert_eq!(found, vec![vec![], vec![]]);
        assert_eq!(state, State::default());
        assert!(Config::default().validate().is_empty());
        let bad = Config {
            max_speed_kmh: f64::NAN,
            min_interval_minutes: -1.0,
            risk: 101,
            context_risk: 200,
            ..Config::default()
        };
        let errors = bad.validate();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors
                .iter()
                .all(|e| e.starts_with("detect.impossible_travel."))
        );
    }

    #[test]
    fn config_reads_the_context_table() {
        let cfg: Config =
            toml::from_str("max_speed_kmh = 800\n[context]\nsatellite_asns = [64512]\n").unwrap();
        assert_eq!(cfg.max_speed_kmh, 800.0);
        assert_eq!(cfg.context.satellite_asns, vec![64512]);
        assert_eq!(cfg.context.mobile_tags, vec!["mobile", "carrier_nat"]);
        assert!(toml::from_str::<Config>("max_speed = 800").is_err());
    }
}
