//! concurrent_sessions: the employee is in two places at once — a login or VPN session
//! starting while another session of theirs is still open far away, or two logins minutes
//! apart from places far apart. A US laptop kept on a corporate VPN by a facilitator while
//! the operator signs in from abroad looks exactly like this (FBI PSA I-012325: logins to
//! one account from several IPs in a short time, often in different countries).
//!
//! Unlike [`super::impossible_travel`], which compares consecutive logins by speed, this
//! compares with every session still open, however long ago it started: a session that is
//! open places the person there now. Ends get lost (a VPN concentrator restarts, a laptop
//! sleeps), so a VPN session without an end is assumed over after `max_session_hours`, and
//! the default severity is medium rather than high.
//!
//! "Far" is the effective distance (beyond both accuracy radii) between two countries: two
//! places in one country are what the network explains (a phone on the carrier's gateway
//! and the home line). The same network, an allowlisted address and an unlocated login
//! never count; anonymizer, satellite and mobile-carrier context or an approved trip lower
//! the severity, and a watch country at either end raises it to high, as for travel.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::travel::{CaveatConfig, Fix, Leg, interval, judge, same_network};
use super::{Context, Validate};
use crate::alert::{Evidence, Finding, Severity};
use crate::decode::fields::canonical;
use crate::event::{EventKind, LoginEvent};

/// The rule's stable name.
pub const NAME: &str = "concurrent_sessions";

/// How many open sessions [`State`] keeps. An employee rarely has more than a laptop and a
/// phone signed in; when full, the session that would end soonest makes room.
pub const KEEP: usize = 4;

/// The time over which the speed in the travel evidence is taken at the least. Only for
/// the figure (two logins in one second would be an infinite speed); this rule judges by
/// distance, not speed.
const EVIDENCE_MIN_HOURS: f64 = 1.0 / 60.0;

/// Session ids longer than this are cut when stored: vendors' ids are 10–40 characters,
/// and a hostile one must not bloat the state.
const MAX_SESSION_ID: usize = 64;

/// `[detect.concurrent_sessions]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run the rule at all.
    pub enabled: bool,
    /// Effective distance (km beyond both accuracy radii) above which two places cannot be
    /// one person at one time. Default 500: farther than a commute, and beyond the usual
    /// disagreement between a phone's carrier gateway and the home broadband.
    pub min_distance_km: f64,
    /// Interactive logins this close in time (minutes) count as concurrent. Default 30: a
    /// sign-in session is short, and within 30 minutes 500 km needs a plane.
    pub window_minutes: f64,
    /// A VPN session with no end record is taken as over after this many hours. Default 24:
    /// a working day and more; longer sessions are [`super::long_session`]'s business.
    pub max_session_hours: f64,
    /// Severity of two far-apart concurrent sessions. Default medium: strong evidence, but a
    /// lost end record can leave a session looking open after the person flew.
    pub severity: Severity,
    /// Risk (0–100). Default 40, above the medium threshold: one finding alerts, a second
    /// rule joining makes it high.
    pub risk: u8,
    /// Severity with anonymizer, satellite or mobile context or an approved trip. Default low.
    pub context_severity: Severity,
    /// Risk in that case. Default 10: context, never an alert on its own.
    pub context_risk: u8,
    /// Severity when either end is in a watch country (`[detect] watch_countries`).
    /// Default high.
    pub watch_severity: Severity,
    /// Risk in that case. Default 65: a page on its own.
    pub watch_risk: u8,
    /// Which networks count as satellite or mobile (`[detect.concurrent_sessions.context]`).
    pub context: CaveatConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            min_distance_km: 500.0,
            window_minutes: 30.0,
            max_session_hours: 24.0,
            severity: Severity::Medium,
            risk: 40,
            context_severity: Severity::Low,
            context_risk: 10,
            watch_severity: Severity::High,
            watch_risk: 65,
            context: CaveatConfig::default(),
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let ranges = [
            ("min_distance_km", self.min_distance_km, 0.0, 20_100.0),
            ("window_minutes", self.window_minutes, 0.0, 24.0 * 60.0),
            (
                "max_session_hours",
                self.max_session_hours,
                0.0,
                24.0 * 31.0,
            ),
        ];
        for (field, value, low, high) in ranges {
            if !(low..=high).contains(&value) {
                errors.push(format!(
                    "detect.{NAME}.{field}: {value} must be between {low} and {high}"
                ));
            }
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

impl Config {
    fn window(&self) -> Duration {
        Duration::milliseconds((self.window_minutes * 60_000.0) as i64)
    }

    fn session_length(&self) -> Duration {
        Duration::milliseconds((self.max_session_hours * 3.6e6) as i64)
    }
}

/// A session the employee has open: a VPN session until its end record (or
/// `max_session_hours`), a sign-in for `window_minutes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Open {
    /// Where and when it started.
    pub fix: Fix,
    /// The source's session id, when given (cut to 64 characters).
    pub session: Option<String>,
    /// A VPN session rather than a sign-in.
    pub vpn: bool,
}

impl Open {
    fn expires(&self, cfg: &Config) -> DateTime<Utc> {
        let length = if self.vpn {
            cfg.session_length()
        } else {
            cfg.window()
        };
        self.fix.time + length
    }

    /// Open at `time`. A login up to the window *before* the start also counts, so an event
    /// applied late (beyond the engine's lateness) still meets the session it overlapped.
    fn live_at(&self, cfg: &Config, time: DateTime<Utc>) -> bool {
        self.fix.time - cfg.window() <= time && time <= self.expires(cfg)
    }

    fn same_session(&self, event: &LoginEvent) -> bool {
        matches!((&self.session, &event.session), (Some(a), Some(b)) if a.as_str() == clip(b))
    }
}

/// What this detector remembers about one employee: open sessions, at most [`KEEP`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub open: Vec<Open>,
}

/// Findings for one event, against the state before it: the farthest session still open
/// when the event happened.
pub fn check(cfg: &Config, ctx: &Context<'_>, state: &State) -> Vec<Finding> {
    if !cfg.enabled {
        return Vec::new();
    }
    let Some(now) = Fix::of(ctx, &cfg.context) else {
        return Vec::new();
    };
    let farthest = state
        .open
        .iter()
        .filter(|o| o.live_at(cfg, now.time) && !o.same_session(ctx.event))
        .filter(|o| !same_network(o.fix.ip, now.ip) && o.fix.other_country(&now))
        .map(|o| (o, Leg::between(&o.fix, &now, EVIDENCE_MIN_HOURS)))
        .filter(|(_, leg)| leg.effective_km > cfg.min_distance_km)
        .max_by(|(_, a), (_, b)| a.effective_km.total_cmp(&b.effective_km));
    let Some((open, leg)) = farthest else {
        return Vec::new();
    };
    vec![finding(cfg, ctx, open, &now, &leg)]
}

fn finding(cfg: &Config, ctx: &Context<'_>, open: &Open, now: &Fix, leg: &Leg) -> Finding {
    let (severity, risk, notes) = judge(
        (cfg.severity, cfg.risk),
        (cfg.context_severity, cfg.context_risk),
        (cfg.watch_severity, cfg.watch_risk),
        [&open.fix, now],
        ctx.trip,
    );
    let what = match ctx.event.kind {
        EventKind::VpnSessionStart => "opened a VPN session",
        _ => "logged in",
    };
    let started = if open.fix.time <= now.time {
        format!("{} earlier", interval(leg.hours))
    } else {
        format!("{} later", interval(leg.hours))
    };
    let other = if open.vpn {
        format!(
            "a VPN session from {} opened {started} was still open",
            open.fix.describe()
        )
    } else {
        format!("a login from {} {started}", open.fix.describe())
    };
    let summary = format!(
        "{} {what} from {} while {other}: {:.0} km apart, {:.0} km beyond the accuracy radii \
         (limit {:.0} km)",
        ctx.profile.employee_id,
        now.describe(),
        leg.distance_km,
        leg.effective_km,
        cfg.min_distance_km,
    );
    let mut evidence = vec![
        Evidence::login(ctx.event),
        leg.evidence(&open.fix, now),
        Evidence::Session {
            session: open.session.clone(),
            started: Some(open.fix.time),
            ended: None,
            duration_hours: None,
            ip: open.fix.ip,
        },
        Evidence::location(ctx.geo),
    ];
    evidence.extend(notes);
    Finding::located(NAME, severity, risk, summary, evidence, ctx.geo)
}

/// Learn from one event: forget expired sessions, close ended ones, open new ones.
pub fn update(cfg: &Config, ctx: &Context<'_>, state: &mut State) {
    if !cfg.enabled {
        return;
    }
    let event = ctx.event;
    state.open.retain(|o| o.expires(cfg) >= event.time);
    match event.kind {
        EventKind::VpnSessionEnd | EventKind::Logout => close(state, event),
        _ => {
            if let Some(fix) = Fix::of(ctx, &cfg.context) {
                open(cfg, state, event, fix);
            }
        }
    }
}

/// An end closes the session with its id; an end without a known id closes the sessions
/// from its address (many VPN logs name the user and address, not a session).
fn close(state: &mut State, event: &LoginEvent) {
    let by_id = state.open.iter().any(|o| o.same_session(event));
    let ip = canonical(event.ip);
    state.open.retain(|o| {
        if by_id {
            !o.same_session(event)
        } else {
            o.fix.ip != ip
        }
    });
}

fn open(cfg: &Config, state: &mut State, event: &LoginEvent, fix: Fix) {
    let vpn = event.kind == EventKind::VpnSessionStart;
    // A restart of the same session, or another sign-in from the same network, replaces
    // the old entry: it is one session, and the newer start is the stricter reference.
    let replaced = |o: &Open| {
        let repeat_sign_in = !vpn && !o.vpn && same_network(o.fix.ip, fix.ip);
        o.same_session(event) || repeat_sign_in
    };
    state.open.retain(|o| !replaced(o));
    state.open.push(Open {
        fix,
        session: event.session.as_deref().map(|s| clip(s).to_owned()),
        vpn,
    });
    while state.open.len() > KEEP {
        let soonest = state
            .open
            .iter()
            .enumerate()
            .min_by_key(|(_, o)| o.expires(cfg))
            .map(|(i, _)| i);
        if let Some(i) = soonest {
            state.open.remove(i);
        }
    }
}

fn clip(session: &str) -> &str {
    match session.char_indices().nth(MAX_SESSION_ID) {
        Some((i, _)) => &session[..i],
        None => session,
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
mod tests {
    use super::*;
    use crate::detect::impossible_travel::tests::{
        anonymous, at, event, geo, login, london, new_york, shenyang, trip, with_ctx,
    };
    use crate::enrich::Geo;
    use crate::event::EventKind::{Logout, VpnSessionEnd, VpnSessionStart};

    fn vpn(kind: EventKind, ip: &str, minutes: f64, session: Option<&str>) -> LoginEvent {
        LoginEvent {
            session: session.map(str::to_owned),
            ..event(kind, ip, minutes)
        }
    }

    /// Checks then updates each event in turn; the findings per event.
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

    fn ny_session(minutes: f64) -> (LoginEvent, Geo) {
        (
            vpn(VpnSessionStart, "203.0.113.9", minutes, Some("gp-1")),
            new_york(),
        )
    }

    fn shenyang_session(minutes: f64) -> (LoginEvent, Geo) {
        (
            vpn(VpnSessionStart, "175.16.199.1", minutes, Some("gp-2")),
            shenyang(),
        )
    }

    #[test]
    fn overlapping_new_york_and_shenyang_sessions_fire() {
        let mut state = State::default();
        // Shenyang starts 6 h into the New York session: far beyond the login window.
        let found = run(
            &Config::default(),
            &mut state,
            &[ny_session(0.0), shenyang_session(360.0)],
        );
        assert_eq!(found[0], vec![]);
        let f = &found[1][0];
        assert_eq!((f.rule, f.severity, f.risk), (NAME, Severity::Medium, 40));
        assert!(
            f.summary.starts_with(
                "E1 opened a VPN session from Shenyang, CN (175.16.199.1) while a VPN session \
                 from New York, US (203.0.113.9) opened 6.0 h earlier was still open: 10"
            ),
            "{}",
            f.summary
        );
        let Evidence::Travel {
            distance_km,
            effective_km,
            hours,
            ..
        } = f.evidence[1]
        else {
            panic!("{:?}", f.evidence);
        };
        assert!((distance_km - 10_670.0).abs() < 30.0, "{distance_km}");
        assert_eq!(effective_km, ((distance_km - 70.0) * 10.0).round() / 10.0);
        assert_eq!(hours, 6.0);
        assert_eq!(
            f.evidence[2],
            Evidence::Session {
                session: Some("gp-1".into()),
                started: Some(at(0.0)),
                ended: None,
                duration_hours: None,
                ip: "203.0.113.9".parse().unwrap(),
            }
        );
    }

    #[test]
    fn sequential_sessions_do_not_fire() {
        let mut state = State::default();
        let end = (
            vpn(VpnSessionEnd, "203.0.113.9", 480.0, Some("gp-1")),
            Geo::default(),
        );
        let found = run(
            &Config::default(),
            &mut state,
            &[ny_session(0.0), end, shenyang_session(1440.0 + 600.0)],
        );
        assert_eq!(found, vec![vec![], vec![], vec![]]);
        // Nor does a session whose end was lost, once max_session_hours have passed.
        let mut state = State::default();
        let found = run(
            &Config::default(),
            &mut state,
            &[ny_session(0.0), shenyang_session(24.0 * 60.0 + 1.0)],
        );
        assert_eq!(found[1], vec![]);
        assert_eq!(state.open.len(), 1, "the expired session was forgotten");
    }

    #[test]
    fn session_end_closes_by_id_or_by_address() {
        let cfg = Config::default();
        let mut state = State::default();
        run(&cfg, &mut state, &[ny_session(0.0)]);
        // An end of another session id leaves it open ...
        let other = (
            vpn(VpnSessionEnd, "198.51.100.1", 10.0, Some("gp-9")),
            Geo::default(),
        );
        run(&cfg, &mut state, &[other]);
        assert_eq!(state.open.len(), 1);
        // ... a logout from its address without an id closes it.
        let logout = (vpn(Logout, "203.0.113.9", 20.0, None), Geo::default());
        run(&cfg, &mut state, &[logout]);
        assert_eq!(state.open, vec![]);
        let found = run(&cfg, &mut state, &[shenyang_session(60.0)]);
        assert_eq!(found[0], vec![]);
    }

    #[test]
    fn same_place_and_same_network_do_not_fire() {
        let mut state = State::default();
        let boston = geo("US", "Boston", (42.3601, -71.0589), 20);
        let found = run(
            &Config::default(),
            &mut state,
            &[
                ny_session(0.0),
                (login("198.51.100.7", 60.0), boston),
                (login("203.0.113.200", 120.0), shenyang()),
            ],
        );
        assert_eq!(found[1], vec![], "Boston is ~300 km from New York");
        assert_eq!(found[2], vec![], "the VPN's own /24, re-geolocated");
    }

    #[test]
    fn logins_minutes_apart_from_far_places_fire() {
        let cfg = Config::default();
        let mut state = State::default();
        let found = run(
            &cfg,
            &mut state,
            &[
                (login("203.0.113.9", 0.0), new_york()),
                (login("81.2.69.142", 20.0), london()),
            ],
        );
        let f = &found[1][0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(
            f.summary.starts_with(
                "E1 logged in from London, GB (81.2.69.142) while a login from \
                 New York, US (203.0.113.9) 20 min earlier"
            ),
            "{}",
            f.summary
        );
        // Outside the window the sign-in is over.
        let mut state = State::default();
        let found = run(
            &cfg,
            &mut state,
            &[
                (login("203.0.113.9", 0.0), new_york()),
                (login("81.2.69.142", 31.0), london()),
            ],
        );
        assert_eq!(found[1], vec![]);
    }

    #[test]
    fn anonymizer_and_trip_lower_severity() {
        let cfg = Config::default();
        let mut state = State::default();
        let found = run(
            &cfg,
            &mut state,
            &[
                ny_session(0.0),
                (login("198.51.100.7", 60.0), anonymous(london())),
            ],
        );
        assert_eq!(
            (found[1][0].severity, found[1][0].risk),
            (Severity::Low, 10)
        );
        assert!(
            found[1][0]
                .evidence
                .iter()
                .any(|e| matches!(e, Evidence::Note { text } if text.contains("anonymizer")))
        );
        let trip = trip();
        let found = with_ctx(
            &login("81.2.69.142", 90.0),
            &london(),
            false,
            Some(&trip),
            |ctx| check(&cfg, ctx, &state),
        );
        assert_eq!(found[0].severity, Severity::Low);
    }

    #[test]
    fn unlocated_allowlisted_and_failed_logins_do_not_count() {
        let cfg = Config::default();
        let mut state = State::default();
        run(&cfg, &mut state, &[ny_session(0.0)]);
        let before = state.clone();
        let failed = LoginEvent {
            outcome: crate::event::Outcome::Failure,
            ..login("81.2.69.142", 10.0)
        };
        for (event, geo, allowlisted) in [
            (login("81.2.69.142", 10.0), Geo::default(), false),
            (login("81.2.69.142", 10.0), london(), true),
            (failed, london(), false),
        ] {
            with_ctx(&event, &geo, allowlisted, None, |ctx| {
                assert_eq!(check(&cfg, ctx, &state), vec![]);
                update(&cfg, ctx, &mut state);
            });
        }
        assert_eq!(state, before);
    }

    #[test]
    fn state_is_bounded_and_keeps_the_long_session() {
        let cfg = Config::default();
        let mut state = State::default();
        run(&cfg, &mut state, &[ny_session(0.0)]);
        for i in 0..10u8 {
            let ip = format!("198.51.{i}.7");
            run(
                &cfg,
                &mut state,
                &[(login(&ip, 60.0 + f64::from(i)), new_york())],
            );
        }
        assert_eq!(state.open.len(), KEEP);
        assert!(
            state.open.iter().any(|o| o.vpn),
            "the VPN session outlives sign-ins"
        );
        let long_id = "x".repeat(1000);
        let e = vpn(VpnSessionStart, "198.51.200.7", 100.0, Some(&long_id));
        run(&cfg, &mut state, &[(e, new_york())]);
        assert!(
            state
                .open
                .iter()
                .all(|o| o.session.as_ref().is_none_or(|s| s.len() <= 64))
        );
        let bytes = postcard::to_stdvec(&state).unwrap();
        assert!(bytes.len() <= 400, "{} bytes", bytes.len());
        assert_eq!(postcard::from_bytes::<State>(&bytes).unwrap(), state);
        // The clipped id still matches its end record.
        let end = vpn(VpnSessionEnd, "198.51.99.9", 200.0, Some(&long_id));
        run(&cfg, &mut state, &[(end, Geo::default())]);
        assert!(
            state
                .open
                .iter()
                .all(|o| o.session.is_none() || o.session.as_deref() == Some("gp-1"))
        );
    }

    #[test]
    fn disabled_rule_and_config_errors() {
        let off = Config {
            enabled: false,
            ..Config::default()
        };
        let mut state = State::default();
        let found = run(&off, &mut state, &[ny_session(0.0), shenyang_session(60.0)]);
        assert_eq!(found, vec![vec![], vec![]]);
        assert!(Config::default().validate().is_empty());
        let bad = Config {
            min_distance_km: -1.0,
            window_minutes: f64::NAN,
            max_session_hours: 10_000.0,
            risk: 101,
            ..Config::default()
        };
        let errors = bad.validate();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors
                .iter()
                .all(|e| e.starts_with("detect.concurrent_sessions."))
        );
    }
}
