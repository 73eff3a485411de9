//! claimed_location: a successful interactive login geolocated away from the employee's
//! claimed place. Fires from the first login, with no warm-up: comparing with the claimed
//! profile, not the employee's own history, is what catches a fraudulent hire on day one.
//!
//! * **A watch country** (`[detect] watch_countries`, default China and Russia, where the public
//!   reporting places the operators: Mandiant UNC5267, Microsoft Jasper Sleet) for someone
//!   claiming elsewhere: high on first sight. A hosting or VPN exit there counts too: an
//!   anonymizer in China is evidence of China, whoever runs it.
//! * **Another country**: medium, once a day (low, context, when the database places the
//!   address only to a country, without a city); high once it persists (`persistent_days`
//!   abroad within `window_days`), or when it comes back on another day within three days
//!   with a login from the claimed country in between: a trip is one stay, an account used
//!   from two countries by turns is not a trip.
//! * **Inside the claimed country** but farther from the claimed point than the larger of
//!   `radius_km` and the database's accuracy radius: low, context only. A City database
//!   places a home line at the ISP's hub and a phone anywhere in the country (measured on
//!   DB-IP Lite: docs/evaluation.md), so distance inside the country is what the network
//!   explains, never a page by itself.
//!
//! Never fires when the location is unknown (no GeoIP answer, or no coordinates for the
//! distance check), when the address is an anonymizer outside the watch countries (its
//! location says nothing about the person; the anonymizer rule judges that), when the
//! address is allowlisted (corporate egress by default), or when an approved trip covers
//! the login. Mobile-carrier and carrier-NAT addresses are judged by country only.

use std::collections::VecDeque;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::place::{claimed_place, seen_place};
use super::{Context, Validate, date_of, day_of, place};
use crate::alert::{Evidence, Finding, Severity};
use crate::enrich::Geo;
use crate::event::Outcome;

/// `[detect.claimed_location]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run the rule at all.
    pub enabled: bool,
    /// Severity of a login from another country. Default medium: one login abroad is
    /// evidence an analyst must see the same day, but an unapproved business trip looks the
    /// same for its first days; it opens an alert (risk 40 is above the medium threshold)
    /// without paging.
    pub severity: Severity,
    /// Risk (0–100) a login from another country contributes. Default 40.
    pub risk: u8,
    /// Distinct days abroad within `window_days` from which a login abroad is
    /// `persistent_severity`. Default 7: longer than a business trip (3–5 days), shorter
    /// than anyone living abroad needs to show it.
    pub persistent_days: u32,
    /// The window for `persistent_days`. Default 14.
    pub window_days: u32,
    /// Severity of a login abroad once persistent. Default high.
    pub persistent_severity: Severity,
    /// Risk of a login abroad once persistent. Default 60 (the high threshold).
    pub persistent_risk: u8,
    /// How far (km) from the claimed point a login inside the claimed country may be before
    /// it counts. Default 300: a metro area plus a commute and the usual error of a
    /// city-level GeoIP answer; the database's own accuracy radius wins when it is larger.
    pub radius_km: f64,
    /// Severity of a login inside the claimed country but too far from the claimed point.
    /// Default low: context. On real geography (DB-IP Lite) a phone or a home line placed
    /// at the ISP's hub is hundreds of km from its user every day; a laptop farm elsewhere
    /// in the country is found by its shared address and its hours instead.
    pub in_country_severity: Severity,
    /// Risk (0–100) such a login contributes. Default 10: context, never an alert alone.
    pub in_country_risk: u8,
    /// Intel-list tags whose addresses are judged by country only, never by distance.
    /// Default `mobile`, `carrier_nat`: a carrier's NAT gateway geolocates to wherever the
    /// carrier put it, often hundreds of km from the handset, and the accuracy radius MaxMind
    /// gives such blocks (up to 1000 km) says as much.
    pub coarse_tags: Vec<String>,
    /// Severity of a login from a watch country (`[detect] watch_countries`). Default high.
    pub watch_severity: Severity,
    /// Risk of it. Default 65: a page on its own.
    pub watch_risk: u8,
    /// Days within which a second stay abroad, with a login from the claimed country in
    /// between, is high. Default 3.
    pub return_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            severity: Severity::Medium,
            risk: 40,
            persistent_days: 7,
            window_days: 14,
            persistent_severity: Severity::High,
            persistent_risk: 60,
            radius_km: 300.0,
            in_country_severity: Severity::Low,
            in_country_risk: 10,
            coarse_tags: vec!["mobile".to_owned(), "carrier_nat".to_owned()],
            watch_severity: Severity::High,
            watch_risk: 65,
            return_days: 3,
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.persistent_days == 0
            || self.persistent_days > self.window_days
            || self.window_days > 31
        {
            errors.push(format!(
                "detect.claimed_location: persistent_days ({}) must be between 1 and window_days ({}), and window_days at most 31",
                self.persistent_days, self.window_days
            ));
        }
        errors.extend(super::risks_above_100(
            NAME,
            &[
                ("risk", self.risk),
                ("persistent_risk", self.persistent_risk),
                ("in_country_risk", self.in_country_risk),
                ("watch_risk", self.watch_risk),
            ],
        ));
        if !(self.radius_km.is_finite() && self.radius_km > 0.0) {
            errors.push(format!(
                "detect.claimed_location.radius_km: {} must be a positive number of km",
                self.radius_km
            ));
        }
        errors
    }
}

/// The rule's stable name.
pub const NAME: &str = "claimed_location";

/// Days on which the rule reported, so a place is reported once a day (one sign-in is
/// several records: session, MFA, SSO) and days abroad can be counted; and the last few
/// days a login placed the employee in the claimed country.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    reported: VecDeque<Reported>,
    /// Distinct days ([`day_of`]) placed at home, ascending, at most [`HOME_DAYS`].
    #[serde(default)]
    home_days: Vec<i32>,
    /// Networks (ASNs) that placed the employee at home, with the last day they did, most
    /// recent last, at most [`HOME_NETWORKS`].
    #[serde(default)]
    home_networks: Vec<HomeNetwork>,
}

/// An ASN that placed the employee in the claimed country, and the last day it did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct HomeNetwork {
    asn: u32,
    day: i32,
}

/// Home networks remembered: a home line, a phone, a second ISP and one spare.
const HOME_NETWORKS: usize = 4;

/// Home days remembered: enough to find one between two stays `return_days` apart.
const HOME_DAYS: usize = 4;

/// The most days remembered: the largest window allowed, plus in-country days.
const MAX_REPORTED: usize = 40;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reported {
    /// [`day_of`] the login.
    day: i32,
    /// ISO country of the login; `abroad` says whether it was outside the claimed one. Held
    /// inline (up to 40 of these per employee), not as a heap string each.
    country: CompactString,
    abroad: bool,
    /// A located stay abroad (medium or above), which counts towards persistence; context
    /// (placed only to a country, or on a home network) does not.
    #[serde(default)]
    stay: bool,
}

/// The finding for one event, if any: at most one per place and day; a login abroad turns
/// `persistent_severity` once the employee has been abroad on `persistent_days` distinct
/// days of the window.
pub fn check(cfg: &Config, ctx: &Context<'_>, state: &State) -> Option<Finding> {
    check_mismatch(cfg, ctx, state, &mismatch(cfg, ctx)?)
}

/// [`check`] of an event already found to be a mismatch.
fn check_mismatch(
    cfg: &Config,
    ctx: &Context<'_>,
    state: &State,
    mismatch: &Mismatch,
) -> Option<Finding> {
    let mut finding = judge(cfg, ctx, state, mismatch);
    let (day, country, abroad) = key(ctx)?;
    let stay = is_stay(cfg, ctx, state, mismatch);
    if state
        .reported
        .iter()
        .any(|r| r.day == day && r.abroad == abroad && r.country == country && r.stay == stay)
    {
        return None;
    }
    // Only a located stay abroad grows: a watch country is already high, and inside the
    // country or located only to a country it is context.
    if !abroad || finding.severity >= cfg.watch_severity || finding.severity < cfg.severity {
        return Some(finding);
    }
    let since = day - cfg.window_days as i32;
    let mut days: Vec<i32> = state
        .reported
        .iter()
        .filter(|r| r.stay && r.day > since)
        .map(|r| r.day)
        .collect();
    days.push(day);
    days.sort_unstable();
    days.dedup();
    if days.len() as u32 >= cfg.persistent_days {
        finding.severity = cfg.persistent_severity;
        finding.risk = cfg.persistent_risk;
        finding.summary.push_str(&format!(
            "; abroad on {} of the last {} days",
            days.len(),
            cfg.window_days
        ));
        finding.evidence.push(Evidence::Note {
            text: format!(
                "persistent: logins from outside {} on {} distinct days within {} days (threshold {})",
                ctx.profile.country,
                days.len(),
                cfg.window_days,
                cfg.persistent_days
            ),
        });
        return Some(finding);
    }
    // Abroad again within `return_days`, after a day placed at home: two stays, not one
    // trip.
    let earlier = state
        .reported
        .iter()
        .filter(|r| r.stay && r.day < day && day - r.day <= cfg.return_days as i32)
        .map(|r| r.day)
        .min();
    if let Some(earlier) = earlier
        && state.home_days.iter().any(|h| earlier < *h && *h < day)
    {
        finding.severity = cfg.persistent_severity;
        finding.risk = cfg.persistent_risk;
        finding
            .summary
            .push_str("; abroad again after a day back home: not one trip");
        finding.evidence.push(Evidence::Note {
            text: format!(
                "logins from outside {} on two stays within {} days, with a login from {} \
                 between them",
                ctx.profile.country, cfg.return_days, ctx.profile.country
            ),
        });
    }
    Some(finding)
}

/// Remember the day when this event is reported, or that it placed the employee at home.
pub fn update(cfg: &Config, ctx: &Context<'_>, state: &mut State) {
    update_mismatch(cfg, ctx, state, mismatch(cfg, ctx).as_ref());
}

/// [`update`] with the event's mismatch already known.
fn update_mismatch(
    cfg: &Config,
    ctx: &Context<'_>,
    state: &mut State,
    mismatch: Option<&Mismatch>,
) {
    let Some(mismatch) = mismatch else {
        if places_at_home(ctx) {
            let day = day_of(ctx.event.time);
            if let Some(asn) = ctx.geo.asn {
                state.home_networks.retain(|n| n.asn != asn);
                state.home_networks.push(HomeNetwork { asn, day });
                if state.home_networks.len() > HOME_NETWORKS {
                    state.home_networks.remove(0);
                }
            }
            if let Err(at) = state.home_days.binary_search(&day) {
                state.home_days.insert(at, day);
                if state.home_days.len() > HOME_DAYS {
                    state.home_days.remove(0);
                }
            }
        }
        return;
    };
    let Some((day, country, abroad)) = key(ctx) else {
        return;
    };
    let stay = is_stay(cfg, ctx, state, mismatch);
    if !state
        .reported
        .iter()
        .any(|r| r.day == day && r.abroad == abroad && r.country == country && r.stay == stay)
    {
        state.reported.push_back(Reported {
            day,
            country: country.into(),
            abroad,
            stay,
        });
    }
    let since = day - cfg.window_days as i32;
    state.reported.retain(|r| r.day > since);
    while state.reported.len() > MAX_REPORTED {
        state.reported.pop_front();
    }
}

/// A login that places the employee in the claimed country: interactive, not failed, not an
/// anonymizer or allowlisted address.
fn places_at_home(ctx: &Context<'_>) -> bool {
    ctx.event.kind.is_interactive()
        && ctx.event.outcome != Outcome::Failure
        && !ctx.allowlisted
        && !ctx.geo.is_anonymizer()
        && ctx
            .geo
            .country
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(&ctx.profile.country))
}

/// Whether the event is a located stay abroad: another country (not a watch one), placed to
/// a city, on a network that has not placed the employee at home.
fn is_stay(cfg: &Config, ctx: &Context<'_>, state: &State, mismatch: &Mismatch) -> bool {
    matches!(mismatch, Mismatch::Abroad)
        && ctx.geo.city.is_some()
        && home_network(cfg, ctx, state).is_none()
}

/// The home network this event's ASN is, if it placed the employee in the claimed country
/// within `window_days`.
fn home_network(cfg: &Config, ctx: &Context<'_>, state: &State) -> Option<HomeNetwork> {
    let asn = ctx.geo.asn?;
    let since = day_of(ctx.event.time) - cfg.window_days as i32;
    state
        .home_networks
        .iter()
        .find(|n| n.asn == asn && n.day > since)
        .copied()
}

fn key(ctx: &Context<'_>) -> Option<(i32, String, bool)> {
    let country = ctx.geo.country.as_deref()?.to_ascii_uppercase();
    let abroad = !country.eq_ignore_ascii_case(&ctx.profile.country);
    Some((day_of(ctx.event.time), country, abroad))
}

/// The verdict on one event alone, before once-a-day and persistence.
fn judge(cfg: &Config, ctx: &Context<'_>, state: &State, mismatch: &Mismatch) -> Finding {
    let Context {
        event,
        profile,
        geo,
        ..
    } = *ctx;
    let claimed = claimed_place(profile);
    let seen = seen_place(geo);
    let via = format!("via {} {}", event.format, event.ip);
    // What the database says about the network rather than where the person is.
    let context = |summary: String, note: Evidence| {
        finding(
            ctx,
            cfg.in_country_severity,
            cfg.in_country_risk,
            summary,
            Some(note),
        )
    };
    let far = match mismatch {
        Mismatch::Watch => {
            let hidden = if geo.is_anonymizer() {
                " (a hosting or VPN exit there: evidence of the country, whoever runs it)"
            } else {
                ""
            };
            let summary = format!(
                "{} logged in from {seen} {via}{hidden}; claimed location is {claimed}",
                profile.employee_id
            );
            let note = Evidence::Note {
                text: format!(
                    "{} is a watch country (detect.watch_countries): serious \
                     on first sight for someone claiming {}",
                    geo.country.as_deref().unwrap_or("?"),
                    profile.country
                ),
            };
            return finding(ctx, cfg.watch_severity, cfg.watch_risk, summary, Some(note));
        }
        Mismatch::Abroad if geo.city.is_none() => {
            // A country without a city is the database's registration of the network, often
            // its holder's country (GeoLite2 puts some Polish cable lines in the Netherlands,
            // where Liberty Global registers them): context, not a stay abroad.
            let summary = format!(
                "{} logged in from {seen} {via}, located only to the country; claimed location \
                 is {claimed}",
                profile.employee_id
            );
            let note = Evidence::Note {
                text: "located only to a country (no city): the database's registration of the \
                       network rather than a place; context"
                    .to_owned(),
            };
            return context(summary, note);
        }
        Mismatch::Abroad => {
            if let Some(home) = home_network(cfg, ctx, state) {
                // One ISP's addresses in two countries: the database placed part of the
                // network where its holder registered it (GeoLite2 puts blocks of Liberty
                // Global's Polish lines in Britain). A stay abroad comes from the
                // networks there, not from the employee's own ISP at home.
                let summary = format!(
                    "{} logged in from {seen} {via}, a network that placed them in {} the \
                     same fortnight; claimed location is {claimed}",
                    profile.employee_id, profile.country
                );
                let note = Evidence::Note {
                    text: format!(
                        "AS{} placed this employee in {} on {}: an address of the same network \
                         abroad is the database's placement of the network, not a stay; context",
                        home.asn,
                        profile.country,
                        date_of(home.day)
                    ),
                };
                return context(summary, note);
            }
            let summary = format!(
                "{} logged in from {seen} {via}; claimed location is {claimed}",
                profile.employee_id
            );
            return finding(ctx, cfg.severity, cfg.risk, summary, None);
        }
        Mismatch::InCountry(far) => far,
    };
    let summary = format!(
        "{} logged in from {seen} {via}, {:.0} km from the claimed point in {claimed} \
         (allowed {:.0} km)",
        profile.employee_id, far.distance_km, far.allowed_km
    );
    let note = Evidence::Note {
        text: format!(
            "{:.0} km from the claimed point; allowed {:.0} km = max(radius {:.0} km, \
             accuracy radius {:.0} km)",
            far.distance_km, far.allowed_km, cfg.radius_km, far.accuracy_km
        ),
    };
    context(summary, note)
}

/// Where the login is against the claim, when it is a mismatch.
enum Mismatch {
    /// In a watch country (anonymizer exits there included).
    Watch,
    Abroad,
    InCountry(TooFar),
}

/// The verdict alone, without building any text: on the hot path for every login.
fn mismatch(cfg: &Config, ctx: &Context<'_>) -> Option<Mismatch> {
    let Context {
        event,
        profile,
        geo,
        ..
    } = *ctx;
    if !event.kind.is_interactive() || ctx.allowlisted || ctx.trip.is_some() {
        return None;
    }
    if !cfg.enabled || event.outcome == Outcome::Failure {
        // A failed attempt is someone else's guess at a password as often as it is the
        // employee: it says nothing reliable about where the employee is.
        return None;
    }
    // Corporate egress and other allowlisted addresses arrive as `ctx.allowlisted`, decided
    // once for every detector by `[suppress]`.
    let country = geo.country.as_deref()?;
    let abroad = !country.eq_ignore_ascii_case(&profile.country);
    if ctx.is_watch(Some(country)) {
        return Some(Mismatch::Watch);
    }
    if geo.is_anonymizer() {
        return None;
    }
    if abroad {
        return Some(Mismatch::Abroad);
    }
    too_far(cfg, ctx).map(Mismatch::InCountry)
}

/// A login inside the claimed country but away from the claimed point.
struct TooFar {
    distance_km: f64,
    accuracy_km: f64,
    allowed_km: f64,
}

/// The in-country distance check: `None` when the login is close enough or cannot be
/// judged (no coordinates on either side, or an address placed only coarsely).
fn too_far(cfg: &Config, ctx: &Context<'_>) -> Option<TooFar> {
    if has_any_tag(ctx.geo, &cfg.coarse_tags) {
        return None;
    }
    let distance_km = place::of_profile(ctx.profile)?.distance_km(place::of_geo(ctx.geo)?);
    let accuracy_km = ctx.geo.accuracy_km.map_or(0.0, f64::from);
    let allowed_km = cfg.radius_km.max(accuracy_km);
    (distance_km > allowed_km).then_some(TooFar {
        distance_km,
        accuracy_km,
        allowed_km,
    })
}

fn finding(
    ctx: &Context<'_>,
    severity: Severity,
    risk: u8,
    summary: String,
    note: Option<Evidence>,
) -> Finding {
    let evidence: Vec<Evidence> = [
        Evidence::login(ctx.event),
        Evidence::location(ctx.geo),
        Evidence::claimed(ctx.profile),
    ]
    .into_iter()
    .chain(note)
    .collect();
    Finding::located(NAME, severity, risk, summary, evidence, ctx.geo)
}

fn has_any_tag(geo: &Geo, tags: &[String]) -> bool {
    geo.tags.iter().any(|t| tags.contains(t))
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
        // Judged once: check and update both start from whether the login is a mismatch.
        let mismatch = mismatch(cfg, ctx);
        let found = mismatch
            .as_ref()
            .and_then(|m| check_mismatch(cfg, ctx, state, m));
        update_mismatch(cfg, ctx, state, mismatch.as_ref());
        found.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::{AnonymousFlags, Geo};
    use crate::event::{EventKind, Format, LoginEvent};
    use crate::roster::{ClaimedProfile, EmployeeId};
    use crate::suppress::Trip;
    use std::sync::LazyLock;

    fn profile() -> ClaimedProfile {
        crate::detect::testkit::NEW_YORK.profile("E1")
    }

    fn event(outcome: Outcome) -> LoginEvent {
        LoginEvent::new(
            Format::Okta,
            chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            "a@corp.example".into(),
            "203.0.113.9".parse().unwrap(),
            EventKind::InteractiveLogin,
            outcome,
        )
    }

    fn geo(country: &str) -> Geo {
        Geo {
            country: Some(country.into()),
            city: Some("Shenyang".into()),
            accuracy_km: Some(50),
            asn: Some(64510),
            as_org: Some("Demo Cloud".into()),
            ..Geo::default()
        }
    }

    fn run(cfg: &Config, event: &LoginEvent, geo: &Geo) -> Option<Finding> {
        check(cfg, &context(event, geo, false, None), &State::default())
    }

    fn context<'a>(
        event: &'a LoginEvent,
        geo: &'a Geo,
        allowlisted: bool,
        trip: Option<&'a Trip>,
    ) -> Context<'a> {
        static PROFILE: LazyLock<ClaimedProfile> = LazyLock::new(profile);
        Context {
            event,
            profile: &PROFILE,
            geo,
            allowlisted,
            trip,
            network: &[],
            watch: &[],
        }
    }

    /// What MaxMind's official test databases (../shared/geoip/maxmind-test) say about `ip`.
    fn maxmind(ip: &str, with_anonymous_ip: bool) -> Geo {
        crate::detect::testkit::maxmind_geo(ip, with_anonymous_ip)
    }

    /// A US address at `lat, lon` with the given accuracy radius.
    fn us_at(lat: f64, lon: f64, accuracy_km: u32) -> Geo {
        Geo {
            country: Some("US".into()),
            latitude: Some(lat),
            longitude: Some(lon),
            accuracy_km: Some(accuracy_km),
            ..Geo::default()
        }
    }

    fn note(f: &Finding) -> &str {
        f.evidence
            .iter()
            .find_map(|e| match e {
                Evidence::Note { text } => Some(text.as_str()),
                _ => None,
            })
            .unwrap_or("")
    }

    /// Logins abroad, one sign-in a day (three records each), through check then update.
    fn days_abroad(days: i64) -> Vec<Finding> {
        let cfg = Config::default();
        let mut state = State::default();
        let profile = profile();
        let geo = geo("CN");
        let mut findings = Vec::new();
        for day in 0..days {
            for record in 0..3 {
                let mut e = event(Outcome::Success);
                e.time += chrono::Duration::days(day) + chrono::Duration::seconds(record * 5);
                let ctx = Context {
                    event: &e,
                    profile: &profile,
                    geo: &geo,
                    allowlisted: false,
                    trip: None,
                    network: &[],
                    watch: &[],
                };
                findings.extend(check(&cfg, &ctx, &state));
                update(&cfg, &ctx, &mut state);
            }
        }
        findings
    }

    #[test]
    fn a_place_is_reported_once_a_day() {
        let findings = days_abroad(3);
        assert_eq!(findings.len(), 3, "one finding per day, not per record");
        assert!(findings.iter().all(|f| f.severity == Severity::Medium));
    }

    #[test]
    fn a_business_trip_stays_medium_and_living_abroad_turns_high() {
        let week = days_abroad(5);
        assert!(
            week.iter().all(|f| f.severity == Severity::Medium),
            "a 5-day trip"
        );
        let month = days_abroad(10);
        let severities: Vec<Severity> = month.iter().map(|f| f.severity).collect();
        assert_eq!(&severities[..6], &[Severity::Medium; 6]);
        assert_eq!(
            &severities[6..],
            &[Severity::High; 4],
            "from the 7th day abroad"
        );
        assert_eq!(month[6].risk, 60);
        assert!(
            month[6].summary.contains("abroad on 7 of the last 14 days"),
            "{}",
            month[6].summary
        );
    }

    const WATCH: &[String] = &[];

    /// One interactive sign-in a day at each place, through check then update; `None` is a
    /// day with no login.
    fn days_at(places: &[Option<Geo>], watch: &[String]) -> Vec<Option<Finding>> {
        let days: Vec<Vec<Geo>> = places.iter().map(|p| p.iter().cloned().collect()).collect();
        sign_ins(&days, watch)
            .into_iter()
            .map(|day| day.into_iter().next())
            .collect()
    }

    /// Sign-ins a minute apart at each day's places, in order; the findings per day.
    fn sign_ins(days: &[Vec<Geo>], watch: &[String]) -> Vec<Vec<Finding>> {
        let cfg = Config::default();
        let mut state = State::default();
        let profile = profile();
        days.iter()
            .enumerate()
            .map(|(day, places)| {
                let mut found = Vec::new();
                for (n, geo) in places.iter().enumerate() {
                    let mut e = event(Outcome::Success);
                    e.time +=
                        chrono::Duration::days(day as i64) + chrono::Duration::minutes(n as i64);
                    let ctx = Context {
                        event: &e,
                        profile: &profile,
                        geo,
                        allowlisted: false,
                        trip: None,
                        network: &[],
                        watch,
                    };
                    found.extend(check(&cfg, &ctx, &state));
                    update(&cfg, &ctx, &mut state);
                }
                found
            })
            .collect()
    }

    #[test]
    fn a_watch_country_is_high_on_first_sight_even_through_an_anonymizer() {
        let watch = ["CN".to_owned(), "RU".to_owned()];
        let found = days_at(&[Some(geo("CN"))], &watch);
        let f = found[0].as_ref().expect("fires");
        assert_eq!((f.severity, f.risk), (Severity::High, 65));
        assert!(
            note(f).contains("CN is a watch country (detect.watch_countries)"),
            "{}",
            note(f)
        );
        // A hosting or VPN exit in a watch country still places the login there.
        let exit = Geo {
            tags: vec!["hosting".into()],
            ..geo("RU")
        };
        assert!(exit.is_anonymizer());
        let f = days_at(&[Some(exit.clone())], &watch)[0]
            .clone()
            .expect("fires");
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.summary.contains("a hosting or VPN exit there"),
            "{}",
            f.summary
        );
        // Without the watch list the same logins are an ordinary country and an anonymizer.
        let f = days_at(&[Some(geo("CN"))], WATCH)[0]
            .clone()
            .expect("fires");
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(days_at(&[Some(exit)], WATCH)[0], None);
        // An anonymizer exit elsewhere is still no place at all.
        let elsewhere = Geo {
            tags: vec!["hosting".into()],
            ..geo("DE")
        };
        assert_eq!(days_at(&[Some(elsewhere)], &watch)[0], None);
        // Someone who claims a watch country is not judged by it.
        let mut moscow = profile();
        moscow.country = "RU".into();
        let e = event(Outcome::Success);
        let ctx = Context {
            event: &e,
            profile: &moscow,
            geo: &geo("RU"),
            allowlisted: false,
            trip: None,
            network: &[],
            watch: &watch,
        };
        assert!(!ctx.is_watch(Some("RU")));
    }

    #[test]
    fn two_stays_abroad_with_a_day_home_between_are_not_one_trip() {
        let mexico = || Some(geo("MX"));
        let home = || Some(us_at(40.7, -74.0, 5));
        // Abroad, home, abroad again the next day: an account used from two countries by
        // turns.
        let found = days_at(&[mexico(), home(), mexico()], WATCH);
        assert_eq!(
            found[0].as_ref().map(|f| f.severity),
            Some(Severity::Medium)
        );
        assert_eq!(found[1], None);
        let f = found[2].as_ref().expect("fires");
        assert_eq!((f.severity, f.risk), (Severity::High, 60));
        assert!(
            f.summary.contains("abroad again after a day back home"),
            "{}",
            f.summary
        );
        // One trip of three days stays medium, and so does a second trip a week later.
        let found = days_at(
            &[
                mexico(),
                mexico(),
                mexico(),
                home(),
                None,
                None,
                None,
                mexico(),
            ],
            WATCH,
        );
        let severities: Vec<Severity> = found.iter().flatten().map(|f| f.severity).collect();
        assert_eq!(severities, [Severity::Medium; 4]);
        // A day abroad without a login from home in between is the same trip.
        let found = days_at(&[mexico(), None, mexico()], WATCH);
        assert_eq!(
            found[2].as_ref().map(|f| f.severity),
            Some(Severity::Medium)
        );
        // Home and abroad on the same days (a second user of the account, or a traveller's
        // phone roaming home) is one stay; with a day only at home between two such days it
        // is two.
        let (mx, us) = (geo("MX"), us_at(40.7, -74.0, 5));
        let both = vec![us.clone(), mx.clone()];
        let found = sign_ins(&[both.clone(), both.clone()], WATCH);
        assert_eq!(found[1][0].severity, Severity::Medium);
        let found = sign_ins(&[both.clone(), vec![us], both], WATCH);
        assert_eq!(found[2][0].severity, Severity::High);
    }

    #[test]
    fn the_home_isp_placed_abroad_is_the_database_not_a_stay() {
        // GeoLite2 places some blocks of Liberty Global's Polish lines (AS6830) in Marlow,
        // GB: the employee's own ISP, the same days as its other blocks place them at home.
        let home = Geo {
            asn: Some(6830),
            ..us_at(40.7, -74.0, 5)
        };
        let same_isp_abroad = Geo {
            asn: Some(6830),
            city: Some("Marlow".into()),
            ..geo("GB")
        };
        let found = sign_ins(&[vec![home.clone(), same_isp_abroad.clone()]], WATCH);
        let f = &found[0][0];
        assert_eq!((f.severity, f.risk), (Severity::Low, 10));
        assert!(
            note(f).starts_with("AS6830 placed this employee in US on 2023-11-14"),
            "{}",
            note(f)
        );
        // Every day for two weeks: still context, never a persistent stay.
        let days: Vec<Vec<Geo>> = (0..14)
            .map(|_| vec![home.clone(), same_isp_abroad.clone()])
            .collect();
        let found = sign_ins(&days, WATCH);
        assert!(
            found.iter().flatten().all(|f| f.severity == Severity::Low),
            "{found:?}"
        );
        // Another network abroad is a stay, and the home ISP before it counts for nothing
        // there; without a home login first the same address is a stay too.
        let found = sign_ins(&[vec![home.clone(), geo("GB")]], WATCH);
        assert_eq!(found[0][0].severity, Severity::Medium);
        let found = sign_ins(&[vec![same_isp_abroad]], WATCH);
        assert_eq!(found[0][0].severity, Severity::Medium);
    }

    #[test]
    fn persistence_settings_are_validated() {
        let bad = Config {
            persistent_days: 20,
            ..Config::default()
        };
        assert_eq!(bad.validate().len(), 1);
    }

    #[test]
    fn fires_from_the_first_login_abroad_with_evidence() {
        let f = run(&Config::default(), &event(Outcome::Success), &geo("CN")).expect("fires");
        assert_eq!(f.rule, "claimed_location");
        assert_eq!((f.severity, f.risk), (Severity::Medium, 40));
        assert!(f.summary.contains("Shenyang, CN"), "{}", f.summary);
        assert!(f.summary.contains("AS64510 Demo Cloud"), "{}", f.summary);
        assert!(f.summary.contains("New York, US"), "{}", f.summary);
        assert!(f.summary.contains("±50 km"), "{}", f.summary);
        assert!(matches!(f.evidence[0], Evidence::Login { .. }));
        assert!(matches!(f.evidence[2], Evidence::Claimed { ref country, .. } if country == "US"));
    }

    #[test]
    fn silent_in_the_claimed_country_whatever_the_case() {
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &geo("US")),
            None
        );
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &geo("us")),
            None
        );
    }

    #[test]
    fn silent_without_a_location() {
        let unknown = Geo {
            country: None,
            ..geo("CN")
        };
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &unknown),
            None
        );
    }

    #[test]
    fn an_anonymizer_is_location_unknown_not_a_mismatch() {
        let by_flag = Geo {
            anonymous: Some(AnonymousFlags {
                is_anonymous: true,
                is_anonymous_vpn: true,
                ..AnonymousFlags::default()
            }),
            ..geo("CN")
        };
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &by_flag),
            None
        );
        let by_list = Geo {
            tags: vec!["vpn".into()],
            ..geo("CN")
        };
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &by_list),
            None
        );
    }

    #[test]
    fn corporate_egress_is_exempt() {
        let egress = Geo {
            tags: vec!["corporate_egress".into()],
            ..geo("DE")
        };
        // The engine asks `[suppress]` (default allowlist_tags = ["corporate_egress"]).
        let e = event(Outcome::Success);
        let allowlisted = crate::suppress::Suppressions::default().is_allowlisted(e.ip, &egress);
        assert_eq!(
            check(
                &Config::default(),
                &context(&e, &egress, allowlisted, None),
                &State::default()
            ),
            None
        );
    }

    #[test]
    fn failed_attempts_and_disabled_rule_stay_silent() {
        assert_eq!(
            run(&Config::default(), &event(Outcome::Failure), &geo("CN")),
            None
        );
        let off = Config {
            enabled: false,
            ..Config::default()
        };
        assert_eq!(run(&off, &event(Outcome::Success), &geo("CN")), None);
        // An MFA step or a session with no stated outcome still places the person.
        assert!(run(&Config::default(), &event(Outcome::Unknown), &geo("CN")).is_some());
    }

    #[test]
    fn risk_above_100_is_a_config_error() {
        let bad = Config {
            risk: 101,
            ..Config::default()
        };
        assert_eq!(bad.validate().len(), 1);
        assert!(Config::default().validate().is_empty());
    }

    #[test]
    fn fires_in_country_far_from_the_claimed_point() {
        // MaxMind's test City database: 216.160.83.56 is Milton, WA (±22 km); the
        // employee claims New York, 3,869 km away.
        let milton = maxmind("216.160.83.56", false);
        assert_eq!(milton.city.as_deref(), Some("Milton"));
        let f = run(&Config::default(), &event(Outcome::Success), &milton).expect("fires");
        // Context only: inside the claimed country, distance is what the network explains.
        assert_eq!(f.severity, Severity::Low);
        assert_eq!(f.risk, 10);
        assert!(f.summary.contains("Milton, US"), "{}", f.summary);
        assert!(f.summary.contains("±22 km"), "{}", f.summary);
        assert!(
            f.summary
                .contains("3869 km from the claimed point in New York, US"),
            "{}",
            f.summary
        );
        assert!(f.summary.contains("(allowed 300 km)"), "{}", f.summary);
        assert_eq!(
            note(&f),
            "3869 km from the claimed point; allowed 300 km = max(radius 300 km, accuracy radius 22 km)"
        );
        assert!(
            f.evidence.iter().any(|e| matches!(e, Evidence::Database { database_type, .. } if database_type == "GeoIP2-City")),
            "{:?}",
            f.evidence
        );
    }

    #[test]
    fn in_country_near_the_claimed_point_is_silent() {
        // Newark, 14 km from the claimed point; Philadelphia, 130 km: both inside 300 km.
        for (lat, lon) in [(40.7357, -74.1724), (39.9526, -75.1652)] {
            assert_eq!(
                run(
                    &Config::default(),
                    &event(Outcome::Success),
                    &us_at(lat, lon, 5)
                ),
                None
            );
        }
        // Boston is 306 km away: just outside the default radius, inside a 400 km one.
        let boston = us_at(42.3601, -71.0589, 5);
        assert!(run(&Config::default(), &event(Outcome::Success), &boston).is_some());
        let wider = Config {
            radius_km: 400.0,
            ..Config::default()
        };
        assert_eq!(run(&wider, &event(Outcome::Success), &boston), None);
    }

    #[test]
    fn a_large_accuracy_radius_widens_the_allowance() {
        // With a 1000 km accuracy radius the answer could be anywhere within 1000 km, so
        // Detroit (773 km from New York) is not evidence and Atlanta (1,200 km) is.
        let detroit = us_at(42.3314, -83.0458, 1000);
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &detroit),
            None
        );
        let atlanta = us_at(33.749, -84.388, 1000);
        let f = run(&Config::default(), &event(Outcome::Success), &atlanta).expect("fires");
        assert!(f.summary.contains("(allowed 1000 km)"), "{}", f.summary);
    }

    #[test]
    fn mobile_carrier_addresses_are_judged_by_country_only() {
        // MaxMind's test City database: 149.101.100.0/28 is "US" at the country centroid
        // with a 1000 km accuracy radius, 2,071 km from New York: the shape of a carrier NAT
        // block.
        let centroid = maxmind("149.101.100.1", false);
        assert_eq!(centroid.accuracy_km, Some(1000));
        let plain = run(&Config::default(), &event(Outcome::Success), &centroid).expect("fires");
        assert!(
            plain.summary.contains("(allowed 1000 km)"),
            "{}",
            plain.summary
        );
        for tag in ["mobile", "carrier_nat"] {
            let carrier = Geo {
                tags: vec![tag.into()],
                ..centroid.clone()
            };
            assert_eq!(
                run(&Config::default(), &event(Outcome::Success), &carrier),
                None,
                "{tag}"
            );
            // A carrier abroad is still abroad: placed only to the country it is context,
            // with a city it is a stay abroad.
            let roaming = Geo {
                country: Some("MX".into()),
                ..carrier
            };
            assert_eq!(roaming.city, None);
            let f = run(&Config::default(), &event(Outcome::Success), &roaming).expect("fires");
            assert_eq!((f.severity, f.risk), (Severity::Low, 10), "{tag}");
            assert!(
                f.summary.contains("located only to the country"),
                "{}",
                f.summary
            );
            let in_a_city = Geo {
                city: Some("Monterrey".into()),
                ..roaming
            };
            let f = run(&Config::default(), &event(Outcome::Success), &in_a_city).expect("fires");
            assert_eq!((f.severity, f.risk), (Severity::Medium, 40), "{tag}");
        }
    }

    #[test]
    fn an_anonymizer_from_the_real_databases_is_not_a_mismatch() {
        // 81.2.69.142 is London in the test City database and carries every Anonymous-IP
        // flag in the test Anonymous-IP database.
        let plain = maxmind("81.2.69.142", false);
        assert_eq!(plain.country.as_deref(), Some("GB"));
        assert!(run(&Config::default(), &event(Outcome::Success), &plain).is_some());
        let anonymous = maxmind("81.2.69.142", true);
        assert!(anonymous.is_anonymizer());
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &anonymous),
            None
        );
    }

    #[test]
    fn an_approved_trip_or_an_allowlisted_address_is_silent() {
        let (e, abroad) = (event(Outcome::Success), geo("DE"));
        let trip = Trip {
            employee_id: EmployeeId("E1".into()),
            country: "DE".into(),
            from: chrono::NaiveDate::from_ymd_opt(2023, 11, 10).unwrap(),
            to: chrono::NaiveDate::from_ymd_opt(2023, 11, 20).unwrap(),
        };
        assert!(
            check(
                &Config::default(),
                &context(&e, &abroad, false, None),
                &State::default()
            )
            .is_some()
        );
        assert_eq!(
            check(
                &Config::default(),
                &context(&e, &abroad, false, Some(&trip)),
                &State::default()
            ),
            None
        );
        assert_eq!(
            check(
                &Config::default(),
                &context(&e, &abroad, true, None),
                &State::default()
            ),
            None
        );
        let far = us_at(33.749, -84.388, 5);
        assert_eq!(
            check(
                &Config::default(),
                &context(&e, &far, true, None),
                &State::default()
            ),
            None
        );
    }

    #[test]
    fn in_country_without_coordinates_on_either_side_is_silent() {
        let no_point = Geo {
            latitude: None,
            ..us_at(33.749, -84.388, 5)
        };
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &no_point),
            None
        );
        let far = us_at(33.749, -84.388, 5);
        let e = event(Outcome::Success);
        let unplaced = ClaimedProfile {
            point: None,
            ..profile()
        };
        let ctx = Context {
            profile: &unplaced,
            ..context(&e, &far, false, None)
        };
        assert_eq!(check(&Config::default(), &ctx, &State::default()), None);
    }

    #[test]
    fn non_interactive_events_are_never_scored() {
        let mut e = event(Outcome::Success);
        e.kind = EventKind::NonInteractive(crate::event::NonInteractive::TokenRefresh);
        assert_eq!(run(&Config::default(), &e, &geo("CN")), None);
        e.kind = EventKind::Logout;
        assert_eq!(
            run(&Config::default(), &e, &us_at(33.749, -84.388, 5)),
            None
        );
    }

    #[test]
    fn a_bad_radius_is_a_config_error() {
        for radius_km in [0.0, -5.0, f64::NAN] {
            let bad = Config {
                radius_km,
                ..Config::default()
            };
            assert_eq!(bad.validate().len(), 1, "{radius_km}");
            assert!(bad.validate()[0].starts_with("detect.claimed_location.radius_km"));
        }
        let bad = Config {
            in_country_risk: 101,
            ..Config::default()
        };
        assert_eq!(
            bad.validate(),
            vec!["detect.claimed_location.in_country_risk: 101 is above 100".to_owned()]
        );
    }
}
