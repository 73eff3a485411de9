//! novelty: a country, network (ASN) or device the employee has not used before, judged
//! against their own history after a warm-up — the classic Okta / Entra "unfamiliar sign-in"
//! signal. It is kept as a low-weight input: a self-baseline learns a fraudulent hire's
//! habits as normal from day one (docs/domain.md, "Why a self-baseline fails"), so novelty
//! only adds context to the rules that
//! compare with the claimed profile, and a new laptop or ISP alone never pages anyone.
//!
//! What it does not judge: an anonymizer's country (its location is unknown, not new — the
//! anonymizer rule judges it; its ASN still is news), an allowlisted address's country or
//! ASN (corporate egress says nothing), failed logins (someone else's guesses) and
//! non-interactive events.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::Context;
use super::{Validate, day_of, truncated};
use crate::alert::{Evidence, Finding, Severity};
use crate::event::Outcome;

/// The rule's stable name.
pub const NAME: &str = "novelty";

/// How many countries, ASNs and devices the baseline keeps; the least recently seen goes
/// first. A remote employee uses one or two countries, a handful of ISPs (home, mobile,
/// café) and a few devices: these caps hold months of a normal life and bound the state.
pub const MAX_COUNTRIES: usize = 8;
pub const MAX_ASNS: usize = 16;
pub const MAX_DEVICES: usize = 8;

/// Longest device name kept, in characters (a UUID is 36); names come from the sources.
const MAX_DEVICE_CHARS: usize = 40;

/// `[detect.novelty]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run the detector at all.
    pub enabled: bool,
    /// Logins to learn from before anything is new. Default 20, Okta's "last 20 logins":
    /// about a working week, enough to have seen home, mobile and office networks.
    pub warmup_logins: u32,
    /// Days to learn for, as well. Default 7: a week covers weekend and weekday habits
    /// (Entra learns 5–14 days); both conditions must hold.
    pub warmup_days: u32,
    /// Severity of a finding. Default low: context for the other rules, never a page.
    pub severity: Severity,
    /// Risk (0–100) a finding contributes. Default 10: below the low threshold (15) alone;
    /// it tips a borderline case, it never makes one.
    pub risk: u8,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            warmup_logins: 20,
            warmup_days: 7,
            severity: Severity::Low,
            risk: 10,
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        errors.extend(super::risks_above_100(NAME, &[("risk", self.risk)]));
        if self.warmup_days > 366 {
            errors.push(format!(
                "detect.novelty.warmup_days: {} is more than a year",
                self.warmup_days
            ));
        }
        errors
    }
}

/// What this detector remembers about one employee: how long it has been learning, and the
/// countries, ASNs and devices seen, each with a count and the last day seen. At most
/// [`MAX_COUNTRIES`] + [`MAX_ASNS`] + [`MAX_DEVICES`] entries: under 500 bytes encoded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// Interactive logins learned from (saturating).
    logins: u32,
    /// Day number ([`day_of`]) of the earliest login learned from.
    first_day: Option<i32>,
    /// Country codes and device names are short: held inline ([`CompactString`], up to 24
    /// bytes), not as a heap string each, for every tracked employee.
    countries: Known<CompactString>,
    asns: Known<u32>,
    devices: Known<CompactString>,
}

/// A bounded set of values with how often and how recently each was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Known<T>(Vec<Seen<T>>);

impl<T> Default for Known<T> {
    fn default() -> Self {
        Known(Vec::new())
    }
}

impl State {
    /// Countries learned from, with how many logins each (most first), for the analyst
    /// API's baseline summary.
    pub fn countries(&self) -> Vec<(String, u32)> {
        let mut out: Vec<(String, u32)> = self
            .countries
            .0
            .iter()
            .map(|s| (s.value.to_string(), s.count))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Autonomous systems learned from, with how many logins each (most first).
    pub fn asns(&self) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = self.asns.0.iter().map(|s| (s.value, s.count)).collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Seen<T> {
    value: T,
    count: u32,
    last_day: i32,
}

impl<T: PartialEq> Known<T> {
    fn contains(&self, value: &T) -> bool {
        self.0.iter().any(|s| s.value == *value)
    }

    /// Count `value` as seen on `day`, evicting the least recently seen (then least often
    /// seen) entry when the set is full.
    fn learn(&mut self, value: T, day: i32, cap: usize) {
        if let Some(s) = self.0.iter_mut().find(|s| s.value == value) {
            s.count = s.count.saturating_add(1);
            s.last_day = s.last_day.max(day);
            return;
        }
        if self.0.len() >= cap {
            let stalest = self
                .0
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| (s.last_day, s.count))
                .map(|(i, _)| i);
            if let Some(i) = stalest {
                self.0.swap_remove(i);
            }
        }
        self.0.push(Seen {
            value,
            count: 1,
            last_day: day,
        });
    }

    /// The known values, most used first, for evidence.
    fn listed(&self, show: impl Fn(&T) -> String) -> Vec<String> {
        let mut seen: Vec<&Seen<T>> = self.0.iter().collect();
        seen.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_day.cmp(&a.last_day)));
        seen.into_iter().map(|s| show(&s.value)).collect()
    }
}

/// The event's values for each dimension, as the baseline stores them; `None` where the
/// dimension says nothing for this event.
struct Values {
    country: Option<CompactString>,
    asn: Option<u32>,
    device: Option<CompactString>,
}

fn values(ctx: &Context<'_>) -> Values {
    let geo = ctx.geo;
    // Corporate egress says nothing about place or network; an anonymizer's place is
    // unknown, but its network is a fact about the login.
    let network_counts = !ctx.allowlisted;
    let place_counts = network_counts && !geo.is_anonymizer();
    Values {
        country: geo.country.as_deref().filter(|_| place_counts).map(|c| {
            // Inline, with no String on the way: this runs for every login.
            let mut c = CompactString::from(c);
            c.make_ascii_uppercase();
            c
        }),
        asn: geo.asn.filter(|_| network_counts),
        device: ctx
            .event
            .device
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| truncated::<CompactString>(d, MAX_DEVICE_CHARS)),
    }
}

/// Whether an event takes part at all.
fn counts(cfg: &Config, ctx: &Context<'_>) -> bool {
    cfg.enabled && ctx.event.kind.is_interactive() && ctx.event.outcome != Outcome::Failure
}

impl State {
    fn warmed_up(&self, cfg: &Config, day: i32) -> bool {
        let days = i64::from(cfg.warmup_days);
        self.logins >= cfg.warmup_logins
            && self
                .first_day
                .is_some_and(|first| i64::from(day) - i64::from(first) >= days)
    }
}

/// Findings for one event, against the state before it.
pub fn check(cfg: &Config, ctx: &Context<'_>, state: &State) -> Vec<Finding> {
    if !counts(cfg, ctx) || !state.warmed_up(cfg, day_of(ctx.event.time)) {
        return Vec::new();
    }
    let v = values(ctx);
    let baseline = |what: &str, value: String, known: Vec<String>| Evidence::Baseline {
        what: what.to_owned(),
        value,
        known,
        logins_seen: u64::from(state.logins),
    };
    let mut news: Vec<(String, Evidence)> = Vec::new();
    if let Some(c) = v.country.filter(|c| !state.countries.contains(c)) {
        let known = state.countries.listed(CompactString::to_string);
        news.push((
            format!("country {c}"),
            baseline("country", c.to_string(), known),
        ));
    }
    if let Some(asn) = v.asn.filter(|a| !state.asns.contains(a)) {
        let org = ctx
            .geo
            .as_org
            .as_deref()
            .map(|o| format!(" {o}"))
            .unwrap_or_default();
        let known = state.asns.listed(|a| format!("AS{a}"));
        news.push((
            format!("network AS{asn}{org}"),
            baseline("asn", format!("AS{asn}"), known),
        ));
    }
    if let Some(d) = v.device.filter(|d| !state.devices.contains(d)) {
        let known = state.devices.listed(CompactString::to_string);
        news.push((
            format!("device {d}"),
            baseline("device", d.to_string(), known),
        ));
    }
    if news.is_empty() {
        return Vec::new();
    }
    let (what, baselines): (Vec<String>, Vec<Evidence>) = news.into_iter().unzip();
    let event = ctx.event;
    let evidence: Vec<Evidence> = [Evidence::login(event), Evidence::location(ctx.geo)]
        .into_iter()
        .chain(baselines)
        .collect();
    vec![Finding::located(
        NAME,
        cfg.severity,
        cfg.risk,
        format!(
            "{} logged in via {} {} from a new {} (own baseline: {} logins)",
            ctx.profile.employee_id,
            event.format,
            event.ip,
            what.join(", a new "),
            state.logins
        ),
        evidence,
        ctx.geo,
    )]
}

/// Learn from one event.
pub fn update(cfg: &Config, ctx: &Context<'_>, state: &mut State) {
    if !counts(cfg, ctx) {
        return;
    }
    let day = day_of(ctx.event.time);
    state.logins = state.logins.saturating_add(1);
    state.first_day = Some(state.first_day.map_or(day, |f| f.min(day)));
    let v = values(ctx);
    if let Some(c) = v.country {
        state.countries.learn(c, day, MAX_COUNTRIES);
    }
    if let Some(a) = v.asn {
        state.asns.learn(a, day, MAX_ASNS);
    }
    if let Some(d) = v.device {
        state.devices.learn(d, day, MAX_DEVICES);
    }
}

/// The rule, for the registration table in [`super`].
pub struct Rule;

impl super::Detector for Rule {
    const NAME: &'static str = NAME;
    const FAMILY: super::Family = super::Family::Location;
    const CLAIM: super::Claim = super::Claim::Context;
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
    use crate::enrich::{AnonymousFlags, Geo};
    use crate::event::{EventKind, Format, LoginEvent, NonInteractive};
    use crate::roster::ClaimedProfile;
    use chrono::DateTime;

    const DAY: i64 = 86_400;
    /// 2023-11-13 14:00 UTC.
    const T0: i64 = 1_699_884_000;

    fn profile() -> ClaimedProfile {
        crate::detect::testkit::SEATTLE.profile("E5")
    }

    /// What MaxMind's official test City database (../shared/geoip/maxmind-test) says.
    fn maxmind(ip: &str) -> Geo {
        crate::detect::testkit::maxmind_geo(ip, false)
    }

    use crate::detect::testkit::Step;

    fn step(secs: i64, ip: &str, geo: &Geo, asn: u32, device: &str) -> Step {
        let mut event = LoginEvent::new(
            Format::Okta,
            DateTime::from_timestamp(secs, 0).unwrap(),
            "e@corp.example".into(),
            ip.parse().unwrap(),
            EventKind::InteractiveLogin,
            Outcome::Success,
        );
        event.device = Some(device.to_owned());
        Step {
            event,
            geo: Geo {
                asn: Some(asn),
                as_org: Some(format!("Org {asn}")),
                ..geo.clone()
            },
            allowlisted: false,
        }
    }

    /// Run `steps` through check then update, as the engine does; the findings per step.
    fn replay(cfg: &Config, state: &mut State, steps: &[Step]) -> Vec<Vec<Finding>> {
        crate::detect::testkit::replay_steps(&profile(), steps, state, |ctx, state| {
            let found = check(cfg, ctx, state);
            update(cfg, ctx, state);
            found
        })
    }

    /// Ten days of three logins a day from home (Milton, WA in the test database), on
    /// AS7922 and AS20057 (home ISP, phone), from one laptop: a warmed-up baseline.
    fn warmed_up() -> State {
        let home = maxmind("216.160.83.56");
        assert_eq!(home.country.as_deref(), Some("US"));
        let steps: Vec<Step> = (0..30)
            .map(|i| {
                let asn = if i % 3 == 0 { 20057 } else { 7922 };
                step(
                    T0 + i / 3 * DAY + i * 600,
                    "216.160.83.56",
                    &home,
                    asn,
                    "LAPTOP-E5",
                )
            })
            .collect();
        let mut state = State::default();
        let found = replay(&Config::default(), &mut state, &steps);
        assert!(
            found.iter().all(Vec::is_empty),
            "nothing is new while learning"
        );
        state
    }

    fn baselines(f: &Finding) -> Vec<(&str, &str, &[String], u64)> {
        f.evidence
            .iter()
            .filter_map(|e| match e {
                Evidence::Baseline {
                    what,
                    value,
                    known,
                    logins_seen,
                } => Some((
                    what.as_str(),
                    value.as_str(),
                    known.as_slice(),
                    *logins_seen,
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_new_country_asn_and_device_after_warm_up_is_one_low_finding() {
        let mut state = warmed_up();
        // 2001:218::/32 is Japan in the test City database.
        let tokyo = maxmind("2001:218::1");
        let found = replay(
            &Config::default(),
            &mut state,
            &[step(
                T0 + 11 * DAY,
                "2001:218::1",
                &tokyo,
                2516,
                "DESKTOP-X9",
            )],
        );
        let f = &found[0][0];
        assert_eq!((f.rule, f.severity, f.risk), (NAME, Severity::Low, 10));
        assert_eq!(
            f.summary,
            "E5 logged in via okta 2001:218::1 from a new country JP, a new network AS2516 \
             Org 2516, a new device DESKTOP-X9 (own baseline: 30 logins)"
        );
        let us = ["US".to_owned()];
        let asns = ["AS7922".to_owned(), "AS20057".to_owned()];
        let laptop = ["LAPTOP-E5".to_owned()];
        assert_eq!(
            baselines(f),
            [
                ("country", "JP", &us[..], 30),
                ("asn", "AS2516", &asns[..], 30),
                ("device", "DESKTOP-X9", &laptop[..], 30),
            ]
        );
        // Learned: the same again is not new.
        let again = replay(
            &Config::default(),
            &mut state,
            &[step(
                T0 + 12 * DAY,
                "2001:218::2",
                &tokyo,
                2516,
                "DESKTOP-X9",
            )],
        );
        assert!(again[0].is_empty());
    }

    #[test]
    fn known_values_and_other_addresses_in_them_are_not_new() {
        let mut state = warmed_up();
        let home = maxmind("216.160.83.56");
        // Another address (an IPv6 privacy address rotating daily) on a known ISP, known
        // country, known device: nothing new. Lower-case country and padded device too.
        let mut s = step(
            T0 + 11 * DAY,
            "2001:db8:1:2::99",
            &home,
            7922,
            " LAPTOP-E5 ",
        );
        s.geo.country = Some("us".into());
        let found = replay(&Config::default(), &mut state, &[s]);
        assert!(found[0].is_empty());
        // Only the device is new: the finding names only it.
        let found = replay(
            &Config::default(),
            &mut state,
            &[step(
                T0 + 11 * DAY,
                "216.160.83.57",
                &home,
                7922,
                "PHONE-E5",
            )],
        );
        let f = &found[0][0];
        assert_eq!(baselines(f).len(), 1);
        assert!(
            f.summary.contains("from a new device PHONE-E5 ("),
            "{}",
            f.summary
        );
    }

    #[test]
    fn never_fires_during_warm_up() {
        let home = maxmind("216.160.83.56");
        let tokyo = maxmind("2001:218::1");
        // Twenty-five logins in two days: enough logins, not enough days.
        let mut steps: Vec<Step> = (0..25)
            .map(|i| step(T0 + i * 3600, "216.160.83.56", &home, 7922, "LAPTOP-E5"))
            .collect();
        steps.push(step(
            T0 + 2 * DAY,
            "2001:218::1",
            &tokyo,
            2516,
            "DESKTOP-X9",
        ));
        let mut state = State::default();
        assert!(
            replay(&Config::default(), &mut state, &steps)
                .iter()
                .all(Vec::is_empty)
        );
        // Ten days but only five logins: enough days, not enough logins.
        let mut steps: Vec<Step> = (0..5)
            .map(|i| step(T0 + i * 2 * DAY, "216.160.83.56", &home, 7922, "LAPTOP-E5"))
            .collect();
        steps.push(step(
            T0 + 10 * DAY,
            "2001:218::1",
            &tokyo,
            2516,
            "DESKTOP-X9",
        ));
        let mut state = State::default();
        assert!(
            replay(&Config::default(), &mut state, &steps)
                .iter()
                .all(Vec::is_empty)
        );
        // Both thresholds are settings.
        let quick = Config {
            warmup_logins: 5,
            warmup_days: 3,
            ..Config::default()
        };
        let mut state = State::default();
        let found = replay(&quick, &mut state, &steps);
        assert_eq!(found[5].len(), 1);
    }

    #[test]
    fn an_anonymizer_country_is_unknown_but_its_asn_is_new() {
        let mut state = warmed_up();
        let exit = Geo {
            country: Some("NL".into()),
            anonymous: Some(AnonymousFlags {
                is_anonymous: true,
                is_anonymous_vpn: true,
                ..AnonymousFlags::default()
            }),
            ..Geo::default()
        };
        let found = replay(
            &Config::default(),
            &mut state,
            &[step(
                T0 + 11 * DAY,
                "198.51.100.4",
                &exit,
                9009,
                "LAPTOP-E5",
            )],
        );
        let f = &found[0][0];
        assert_eq!(
            baselines(f).iter().map(|b| (b.0, b.1)).collect::<Vec<_>>(),
            [("asn", "AS9009")]
        );
        // NL was not learned either: a later honest login from NL is new.
        assert!(!state.countries.contains(&"NL".into()));
        assert!(state.asns.contains(&9009));
    }

    #[test]
    fn allowlisted_addresses_only_count_their_device() {
        let mut state = warmed_up();
        let egress = Geo {
            country: Some("DE".into()),
            tags: vec!["corporate_egress".into()],
            ..Geo::default()
        };
        let mut s = step(T0 + 11 * DAY, "192.0.2.10", &egress, 64500, "LAPTOP-E5");
        s.allowlisted = true;
        assert!(
            replay(&Config::default(), &mut state, &[s])
                .iter()
                .all(Vec::is_empty)
        );
        let mut s = step(T0 + 11 * DAY, "192.0.2.10", &egress, 64500, "NEW-LAPTOP");
        s.allowlisted = true;
        let found = replay(&Config::default(), &mut state, &[s]);
        assert_eq!(baselines(&found[0][0])[0].0, "device");
        assert_eq!(baselines(&found[0][0]).len(), 1);
    }

    #[test]
    fn failures_non_interactive_and_missing_fields_say_nothing() {
        let mut state = warmed_up();
        let before = state.clone();
        let tokyo = maxmind("2001:218::1");
        let mut failed = step(T0 + 11 * DAY, "2001:218::1", &tokyo, 2516, "X");
        failed.event.outcome = Outcome::Failure;
        let mut refresh = step(T0 + 11 * DAY, "2001:218::1", &tokyo, 2516, "X");
        refresh.event.kind = EventKind::NonInteractive(NonInteractive::TokenRefresh);
        let found = replay(&Config::default(), &mut state, &[failed, refresh]);
        assert!(found.iter().all(Vec::is_empty));
        assert_eq!(state, before);
        // No GeoIP answer and no device: nothing to compare, but the login still counts.
        let mut bare = step(T0 + 11 * DAY, "192.0.2.1", &Geo::default(), 0, "");
        bare.geo.asn = None;
        let found = replay(&Config::default(), &mut state, &[bare]);
        assert!(found[0].is_empty());
        assert_eq!(state.logins, before.logins + 1);
    }

    #[test]
    fn the_baseline_is_bounded_and_evicts_the_least_recently_seen() {
        let mut state = warmed_up();
        let home = maxmind("216.160.83.56");
        // Sixty days, each from a new country, ASN and device.
        let steps: Vec<Step> = (0..60u32)
            .map(|i| {
                let mut s = step(
                    T0 + (11 + i64::from(i)) * DAY,
                    "216.160.83.56",
                    &home,
                    100 + i,
                    &format!("DEVICE-{i:03}-with-a-very-long-name-from-an-mdm-export-field"),
                );
                s.geo.country = Some(format!("X{}", char::from(b'A' + (i % 26) as u8)));
                s
            })
            .collect();
        replay(&Config::default(), &mut state, &steps);
        assert_eq!(state.countries.0.len(), MAX_COUNTRIES);
        assert_eq!(state.asns.0.len(), MAX_ASNS);
        assert_eq!(state.devices.0.len(), MAX_DEVICES);
        assert!(
            state
                .devices
                .0
                .iter()
                .all(|d| d.value.chars().count() <= MAX_DEVICE_CHARS)
        );
        // The home ISP, last seen on day 9, was evicted before the newest ASNs.
        assert!(!state.asns.contains(&7922));
        assert!(state.asns.contains(&159));
        let bytes = postcard::to_stdvec(&state).unwrap();
        assert!(bytes.len() < 600, "{} bytes", bytes.len());
        assert_eq!(postcard::from_bytes::<State>(&bytes).unwrap(), state);
    }

    #[test]
    fn bad_settings_are_config_errors() {
        assert!(Config::default().validate().is_empty());
        let bad = Config {
            risk: 200,
            warmup_days: 400,
            ..Config::default()
        };
        assert_eq!(
            bad.validate(),
            [
                "detect.novelty.risk: 200 is above 100",
                "detect.novelty.warmup_days: 400 is more than a year",
            ]
        );
        let cfg: Config = toml::from_str("warmup_logins = 5").unwrap();
        assert_eq!((cfg.warmup_logins, cfg.warmup_days), (5, 7));
        assert!(toml::from_str::<Config>("warmup = 5").is_err());
    }
}
