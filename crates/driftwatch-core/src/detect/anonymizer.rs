//! anonymizer: the share of an employee's interactive logins that come through a VPN,
//! hosting provider, Tor or proxy, over a sliding window of days. One-off use is low (people
//! try a VPN at a café); persistent use is medium: DPRK IT workers sit behind consumer VPNs
//! and rented servers every day (Mandiant UNC5267), but so do employees who value their
//! privacy (1–4 % of the real world's population, docs/evaluation.md), so persistent use
//! alone opens an alert without paging, and pages with one more agreeing signal (their
//! hours, a place). Named consumer VPN providers known for it (Astrill VPN first) raise the
//! severity one step.
//!
//! What counts: successful (or outcome-unknown) interactive logins that are not allowlisted.
//! Corporate VPN egress and other allowlisted addresses are left out of both the count and
//! the share: they say nothing about the person, and counting them would dilute the share of
//! someone who alternates the company VPN with a consumer one. Failed logins do not count:
//! they are someone else's guesses as often as the employee.
//!
//! A finding is made on an anonymized login, at most once a day per employee unless the level
//! rises, so a day of fifty VPN logins is one piece of evidence, not fifty.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::{Context, Validate, day_of, truncated};
use crate::alert::{Evidence, Finding, Severity};
use crate::enrich::Geo;
use crate::event::Outcome;

/// The rule's stable name.
pub const NAME: &str = "anonymizer";

/// Longest window the state may be asked to hold: it keeps one bucket per day.
pub const MAX_WINDOW_DAYS: u32 = 31;

/// How many distinct provider names the state remembers (most recent first to stay).
const MAX_PROVIDERS: usize = 4;

/// Longest provider name kept, in characters: names come from intel lists, which are
/// operator-edited files.
const MAX_NAME_CHARS: usize = 40;

/// `[detect.anonymizer]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run the detector at all.
    pub enabled: bool,
    /// Days the share is measured over. Default 14: two working weeks, long enough that a
    /// week of hotel Wi-Fi through a VPN does not look like a habit. At most 31.
    pub window_days: u32,
    /// Share of the window's logins through anonymizers from which use is persistent
    /// (high). Default 0.5: most of the employee's logins.
    pub high_share: f64,
    /// Least number of logins in the window before a share can be persistent. Default 10:
    /// about three working days, so two VPN logins out of three is not a pattern.
    pub min_logins: u32,
    /// Severity of persistent use. Default medium (see the module documentation).
    pub persistent_severity: Severity,
    /// Consumer VPN providers (as `Geo::vpn_provider` names them) that raise the severity
    /// one step. Default `Astrill VPN`: the provider DPRK IT workers use most (Mandiant
    /// UNC5267, Sep 2024; Splunk "Okta Non-Standard VPN Usage" lists it first).
    pub high_risk_providers: Vec<String>,
    /// Risk contributed at each severity.
    pub risk: Risks,
}

/// Risk (0–100) a finding contributes at each severity: `[detect.anonymizer.risk]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Risks {
    /// One-off use. Default 10: below the low threshold (15) on its own; context only.
    pub low: u8,
    /// Persistent use, or one-off use of a high-risk provider. Default 40: an alert at
    /// medium on its own, high with one more agreeing signal.
    pub medium: u8,
    /// Persistent use of a high-risk provider. Default 60: the high threshold.
    pub high: u8,
    /// Persistent use of a high-risk provider when `persistent_severity` is high. Default
    /// 85: the critical threshold.
    pub critical: u8,
}

impl Default for Risks {
    fn default() -> Self {
        Risks {
            low: 10,
            medium: 40,
            high: 60,
            critical: 85,
        }
    }
}

impl Risks {
    fn at(self, severity: Severity) -> u8 {
        match severity {
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            window_days: 14,
            high_share: 0.5,
            min_logins: 10,
            persistent_severity: Severity::Medium,
            high_risk_providers: vec!["Astrill VPN".to_owned()],
            risk: Risks::default(),
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !(1..=MAX_WINDOW_DAYS).contains(&self.window_days) {
            errors.push(format!(
                "detect.anonymizer.window_days: {} must be between 1 and {MAX_WINDOW_DAYS}",
                self.window_days
            ));
        }
        if !(self.high_share > 0.0 && self.high_share <= 1.0) {
            errors.push(format!(
                "detect.anonymizer.high_share: {} must be above 0 and at most 1",
                self.high_share
            ));
        }
        if self.min_logins == 0 {
            errors.push("detect.anonymizer.min_logins must be at least 1".to_owned());
        }
        for severity in Severity::ALL {
            let risk = self.risk.at(severity);
            if risk > 100 {
                errors.push(format!(
                    "detect.anonymizer.risk.{severity}: {risk} is above 100"
                ));
            }
        }
        errors
    }
}

impl Config {
    /// The window in days, within what the state can hold.
    fn window(&self) -> u32 {
        self.window_days.clamp(1, MAX_WINDOW_DAYS)
    }

    fn is_high_risk(&self, provider: &str) -> bool {
        self.high_risk_providers
            .iter()
            .any(|p| p.eq_ignore_ascii_case(provider))
    }
}

/// What this detector remembers about one employee: one bucket per day of the window, the
/// last few provider names, and the last finding (for once-a-day emission). At most
/// [`MAX_WINDOW_DAYS`] buckets and [`MAX_PROVIDERS`] names: about 300 bytes encoded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// Ascending by day; only days inside the window of the newest one.
    days: VecDeque<Day>,
    /// Provider names seen through anonymized logins, with the last day each was seen.
    providers: Vec<ProviderSeen>,
    /// The last finding made: its day and severity.
    last: Option<Emitted>,
}

impl State {
    /// The share of the employee's logins that came through an anonymizer over the days
    /// held (the window), as the rule measures it; `None` before any login.
    pub fn share(&self) -> Option<f64> {
        let f = self.days.iter().fold(Figures::default(), |f, d| Figures {
            logins: f.logins + u32::from(d.logins),
            anonymized: f.anonymized + u32::from(d.anonymized),
            high_risk: f.high_risk,
        });
        f.ratio()
    }
}

/// One day's counts. Counters saturate: a day of 65,535 logins is already absurd.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Day {
    /// Days since 0001-01-01 (proleptic Gregorian, UTC).
    day: i32,
    logins: u16,
    anonymized: u16,
    /// Anonymized logins through a high-risk provider.
    high_risk: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ProviderSeen {
    name: String,
    day: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Emitted {
    day: i32,
    severity: Severity,
}

/// Counts over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Figures {
    logins: u32,
    anonymized: u32,
    high_risk: u32,
}

impl Figures {
    /// Anonymized logins over logins; `None` without logins.
    fn ratio(self) -> Option<f64> {
        (self.logins > 0).then(|| f64::from(self.anonymized) / f64::from(self.logins))
    }

    fn share(self) -> f64 {
        self.ratio().unwrap_or(0.0)
    }
}

impl State {
    /// Counts over the `window` days ending on `day` (inclusive).
    fn window(&self, window: u32, day: i32) -> Figures {
        let first = first_day(window, day);
        self.days
            .iter()
            .filter(|d| (first..=day).contains(&d.day))
            .fold(Figures::default(), |f, d| Figures {
                logins: f.logins + u32::from(d.logins),
                anonymized: f.anonymized + u32::from(d.anonymized),
                high_risk: f.high_risk + u32::from(d.high_risk),
            })
    }

    /// Provider names seen within the `window` days ending on `day`.
    fn providers(&self, window: u32, day: i32) -> impl Iterator<Item = &str> {
        let first = first_day(window, day);
        self.providers
            .iter()
            .filter(move |p| (first..=day).contains(&p.day))
            .map(|p| p.name.as_str())
    }
}

fn first_day(window: u32, day: i32) -> i32 {
    let span = i32::try_from(window).unwrap_or(i32::MAX).saturating_sub(1);
    day.saturating_sub(span)
}

/// Whether an event takes part in the share at all.
fn counts(cfg: &Config, ctx: &Context<'_>) -> bool {
    cfg.enabled
        && ctx.event.kind.is_interactive()
        && ctx.event.outcome != Outcome::Failure
        && !ctx.allowlisted
}

/// The verdict on an anonymized login, before the once-a-day rule.
struct Verdict {
    severity: Severity,
    /// Window figures including this login.
    figures: Figures,
    /// The severity before a high-risk provider raised it, when one did.
    raised_from: Option<Severity>,
    providers: Vec<String>,
}

/// What the login says, if it went through an anonymizer and the once-a-day rule lets a
/// finding out.
fn judge(cfg: &Config, ctx: &Context<'_>, state: &State) -> Option<Verdict> {
    if !counts(cfg, ctx) || !ctx.geo.is_anonymizer() {
        return None;
    }
    let day = day_of(ctx.event.time);
    let provider = ctx.geo.vpn_provider.as_deref();
    let high_risk_now = provider.is_some_and(|p| cfg.is_high_risk(p));
    let before = state.window(cfg.window(), day);
    let figures = Figures {
        logins: before.logins + 1,
        anonymized: before.anonymized + 1,
        high_risk: before.high_risk + u32::from(high_risk_now),
    };
    let persistent = figures.logins >= cfg.min_logins && figures.share() >= cfg.high_share;
    let base = if persistent {
        cfg.persistent_severity
    } else {
        Severity::Low
    };
    let (severity, raised_from) = if figures.high_risk > 0 {
        (raise(base), Some(base))
    } else {
        (base, None)
    };
    // Once a day, unless the level rises; a late event for an earlier day does not reopen it.
    if state
        .last
        .is_some_and(|e| e.day >= day && e.severity >= severity)
    {
        return None;
    }
    let mut providers: Vec<String> = provider
        .into_iter()
        .chain(state.providers(cfg.window(), day))
        .map(str::to_owned)
        .collect();
    providers.sort();
    providers.dedup();
    Some(Verdict {
        severity,
        figures,
        raised_from,
        providers,
    })
}

fn raise(s: Severity) -> Severity {
    match s {
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        Severity::High | Severity::Critical => Severity::Critical,
    }
}

/// What kind of anonymizer an address is, in words (`a VPN (Astrill VPN) / a hosting
/// provider`), from the Anonymous-IP flags, the intel tags and the named provider.
fn kinds(geo: &Geo) -> String {
    let flags = geo.anonymous.unwrap_or_default();
    let vpn = match &geo.vpn_provider {
        Some(p) => format!("a VPN ({p})"),
        None => "a VPN".to_owned(),
    };
    let words: Vec<String> = [
        (flags.is_anonymous_vpn || geo.has_tag("vpn"), vpn),
        (
            flags.is_hosting_provider || geo.has_tag("hosting"),
            "a hosting provider".to_owned(),
        ),
        (
            flags.is_tor_exit_node || geo.has_tag("tor"),
            "Tor".to_owned(),
        ),
        (
            flags.is_public_proxy || flags.is_residential_proxy || geo.has_tag("proxy"),
            "a proxy".to_owned(),
        ),
    ]
    .into_iter()
    .filter_map(|(present, word)| present.then_some(word))
    .collect();
    if words.is_empty() {
        "an anonymizer".to_owned()
    } else {
        words.join(" / ")
    }
}

/// Findings for one event, against the state before it.
pub fn check(cfg: &Config, ctx: &Context<'_>, state: &State) -> Vec<Finding> {
    let Some(v) = judge(cfg, ctx, state) else {
        return Vec::new();
    };
    let Context { event, geo, .. } = *ctx;
    let Figures {
        logins, anonymized, ..
    } = v.figures;
    let share = v.figures.share();
    let network = geo
        .asn
        .map(|asn| match &geo.as_org {
            Some(org) => format!(" AS{asn} {org}"),
            None => format!(" AS{asn}"),
        })
        .unwrap_or_default();
    let providers = if v.providers.is_empty() {
        String::new()
    } else {
        format!("; providers: {}", v.providers.join(", "))
    };
    let summary = format!(
        "{} logged in through {} via {} {}{network}: {anonymized} of {logins} interactive \
         logins ({:.0}%) in the last {} days went through anonymizers{providers}",
        ctx.profile.employee_id,
        kinds(geo),
        event.format,
        event.ip,
        share * 100.0,
        cfg.window(),
    );
    let note = v.raised_from.map(|from| Evidence::Note {
        text: format!(
            "a provider on detect.anonymizer.high_risk_providers ({}) was used in the window: \
             severity raised from {from} to {}",
            cfg.high_risk_providers.join(", "),
            v.severity
        ),
    });
    let evidence: Vec<Evidence> = [
        Evidence::login(event),
        Evidence::location(geo),
        Evidence::Share {
            what: "interactive logins through an anonymizer (VPN, hosting, Tor, proxy)".to_owned(),
            share,
            matching: anonymized,
            logins,
            window_days: cfg.window(),
            providers: v.providers,
        },
    ]
    .into_iter()
    .chain(note)
    .collect();
    vec![Finding::located(
        NAME,
        v.severity,
        cfg.risk.at(v.severity),
        summary,
        evidence,
        geo,
    )]
}

/// Learn from one event: count it in its day, remember its provider, and remember a finding
/// `check` made so the next one waits for tomorrow or a higher level.
pub fn update(cfg: &Config, ctx: &Context<'_>, state: &mut State) {
    if !counts(cfg, ctx) {
        return;
    }
    let day = day_of(ctx.event.time);
    if let Some(v) = judge(cfg, ctx, state) {
        state.last = Some(match state.last {
            Some(e) if e.day > day => Emitted {
                day: e.day,
                severity: e.severity.max(v.severity),
            },
            _ => Emitted {
                day,
                severity: v.severity,
            },
        });
    }
    let newest = state.days.back().map_or(day, |d| d.day.max(day));
    let first = first_day(cfg.window(), newest);
    if day < first {
        // Later than the whole window: it can no longer change any share.
        return;
    }
    let anonymized = ctx.geo.is_anonymizer();
    let provider = ctx.geo.vpn_provider.as_deref().filter(|_| anonymized);
    let bucket = match state.days.iter().position(|d| d.day >= day) {
        Some(i) if state.days.get(i).is_some_and(|d| d.day == day) => i,
        at => {
            let at = at.unwrap_or(state.days.len());
            state.days.insert(
                at,
                Day {
                    day,
                    logins: 0,
                    anonymized: 0,
                    high_risk: 0,
                },
            );
            at
        }
    };
    if let Some(d) = state.days.get_mut(bucket) {
        d.logins = d.logins.saturating_add(1);
        d.anonymized = d.anonymized.saturating_add(u16::from(anonymized));
        let high_risk = provider.is_some_and(|p| cfg.is_high_risk(p));
        d.high_risk = d.high_risk.saturating_add(u16::from(high_risk));
    }
    while state.days.front().is_some_and(|d| d.day < first) {
        state.days.pop_front();
    }
    if let Some(name) = provider {
        remember_provider(state, truncated(name, MAX_NAME_CHARS), day);
    }
    state.providers.retain(|p| p.day >= first);
}

fn remember_provider(state: &mut State, name: String, day: i32) {
    if let Some(p) = state.providers.iter_mut().find(|p| p.name == name) {
        p.day = p.day.max(day);
        return;
    }
    if state.providers.len() >= MAX_PROVIDERS {
        // Forget the provider seen longest ago.
        let oldest = state
            .providers
            .iter()
            .enumerate()
            .min_by_key(|(_, p)| p.day)
            .map(|(i, _)| i);
        if let Some(i) = oldest {
            state.providers.swap_remove(i);
        }
    }
    state.providers.push(ProviderSeen { name, day });
}

/// The rule, for the registration table in [`super`].
pub struct Rule;

impl super::Detector for Rule {
    const NAME: &'static str = NAME;
    const FAMILY: super::Family = super::Family::Anonymizer;
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
    use crate::enrich::{AnonymousFlags, Enricher};
    use crate::event::{EventKind, Format, LoginEvent, NonInteractive};
    use crate::roster::ClaimedProfile;
    use chrono::DateTime;

    const DAY: i64 = 86_400;
    /// 2023-11-13 (a Monday) 14:00 UTC.
    const T0: i64 = 1_699_884_000;

    fn profile() -> ClaimedProfile {
        crate::detect::testkit::SEATTLE.profile("E3")
    }

    fn login_at(secs: i64, ip: &str) -> LoginEvent {
        LoginEvent::new(
            Format::Okta,
            DateTime::from_timestamp(secs, 0).unwrap(),
            "c@corp.example".into(),
            ip.parse().unwrap(),
            EventKind::InteractiveLogin,
            Outcome::Success,
        )
    }

    /// MaxMind's official test Anonymous-IP database (../shared/geoip/maxmind-test) and
    /// City database, as the engine would see them.
    fn maxmind() -> Enricher {
        crate::detect::testkit::maxmind(true)
    }

    /// 71.160.223.0/24 is a hosting provider in the test Anonymous-IP database.
    const HOSTING: &str = "71.160.223.7";
    /// 216.160.83.56 (Milton, WA) has no Anonymous-IP record.
    const HOME: &str = "216.160.83.56";

    fn vpn(provider: &str) -> Geo {
        Geo {
            country: Some("US".into()),
            tags: vec!["vpn".into()],
            vpn_provider: Some(provider.into()),
            ..Geo::default()
        }
    }

    use crate::detect::testkit::Step;

    fn step(secs: i64, ip: &str, geo: Geo) -> Step {
        Step {
            event: login_at(secs, ip),
            geo,
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

    fn share_of(f: &Finding) -> (u32, u32, u32, Vec<String>) {
        f.evidence
            .iter()
            .find_map(|e| match e {
                Evidence::Share {
                    matching,
                    logins,
                    window_days,
                    providers,
                    ..
                } => Some((*matching, *logins, *window_days, providers.clone())),
                _ => None,
            })
            .expect("share evidence")
    }

    #[test]
    fn one_off_use_is_low() {
        let db = maxmind();
        let hosting = db.lookup_uncached(HOSTING.parse().unwrap());
        assert!(hosting.anonymous.is_some_and(|a| a.is_hosting_provider));
        let home = db.lookup_uncached(HOME.parse().unwrap());
        assert!(!home.is_anonymizer());
        // 19 ordinary logins over ten days, then one through a hosting provider.
        let mut steps: Vec<Step> = (0..19)
            .map(|i| step(T0 + i / 2 * DAY + i * 60, HOME, home.clone()))
            .collect();
        steps.push(step(T0 + 10 * DAY, HOSTING, hosting));
        let mut state = State::default();
        let found = replay(&Config::default(), &mut state, &steps);
        assert!(found[..19].iter().all(Vec::is_empty));
        let f = &found[19][0];
        assert_eq!((f.severity, f.risk), (Severity::Low, 10));
        assert_eq!(share_of(f), (1, 20, 14, vec![]));
        assert!(
            f.summary
                .contains("through a hosting provider via okta 71.160.223.7: 1 of 20 interactive logins (5%) in the last 14 days went through anonymizers"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn twelve_of_fourteen_days_through_hosting_is_persistent() {
        let db = maxmind();
        let hosting = db.lookup_uncached(HOSTING.parse().unwrap());
        let home = db.lookup_uncached(HOME.parse().unwrap());
        // One login a day: two days at home, then twelve through a hosting provider.
        let steps: Vec<Step> = (0..14)
            .map(|d| {
                if d < 2 {
                    step(T0 + d * DAY, HOME, home.clone())
                } else {
                    step(T0 + d * DAY, HOSTING, hosting.clone())
                }
            })
            .collect();
        let mut state = State::default();
        let found = replay(&Config::default(), &mut state, &steps);
        let severities: Vec<Option<Severity>> = found
            .iter()
            .map(|f| f.first().map(|f| f.severity))
            .collect();
        // Low while fewer than 10 logins are in the window; persistent (medium) from the
        // tenth on, once a day.
        assert_eq!(&severities[..2], [None, None]);
        assert!(severities[2..9].iter().all(|s| *s == Some(Severity::Low)));
        assert!(severities[9..].iter().all(|s| *s == Some(Severity::Medium)));
        let last = &found[13][0];
        assert_eq!(last.risk, 40);
        assert_eq!(share_of(last), (12, 14, 14, vec![]));
        assert!(
            last.summary.contains("12 of 14 interactive logins (86%)"),
            "{}",
            last.summary
        );
    }

    #[test]
    fn a_named_high_risk_provider_raises_the_severity() {
        // One-off: low becomes medium.
        let mut state = State::default();
        let found = replay(
            &Config::default(),
            &mut state,
            &[step(T0, "198.51.100.4", vpn("Astrill VPN"))],
        );
        let f = &found[0][0];
        assert_eq!((f.severity, f.risk), (Severity::Medium, 40));
        assert_eq!(share_of(f).3, ["Astrill VPN"]);
        assert!(
            f.summary.contains("through a VPN (Astrill VPN) via okta"),
            "{}",
            f.summary
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| matches!(e, Evidence::Note { text }
            if text.ends_with("severity raised from low to medium")))
        );
        // Another named provider is reported but does not raise.
        let mut state = State::default();
        let found = replay(
            &Config::default(),
            &mut state,
            &[step(T0, "198.51.100.5", vpn("NordVPN"))],
        );
        assert_eq!(found[0][0].severity, Severity::Low);
        assert_eq!(share_of(&found[0][0]).3, ["NordVPN"]);
        // Persistent: medium becomes high, and the provider stays in the evidence on
        // days the login came through plain hosting.
        let mut state = State::default();
        let steps: Vec<Step> = (0..10)
            .map(|d| {
                let geo = if d == 0 {
                    vpn("astrill vpn")
                } else {
                    vpn("NordVPN")
                };
                step(T0 + d * DAY, "198.51.100.6", geo)
            })
            .collect();
        let found = replay(&Config::default(), &mut state, &steps);
        let f = &found[9][0];
        assert_eq!((f.severity, f.risk), (Severity::High, 60));
        assert_eq!(share_of(f).3, ["NordVPN", "astrill vpn"]);
        // With persistent use set to high, the named provider makes it critical.
        let cfg = Config {
            persistent_severity: Severity::High,
            ..Config::default()
        };
        let found = replay(&cfg, &mut State::default(), &steps);
        assert_eq!(
            (found[9][0].severity, found[9][0].risk),
            (Severity::Critical, 85)
        );
    }

    #[test]
    fn allowlisted_addresses_are_left_out_of_the_share() {
        let egress = Geo {
            tags: vec!["vpn".into(), "corporate_egress".into()],
            ..Geo::default()
        };
        let mut state = State::default();
        let mut steps: Vec<Step> = (0..20)
            .map(|i| Step {
                allowlisted: true,
                ..step(T0 + i * 3600, "192.0.2.10", egress.clone())
            })
            .collect();
        steps.push(step(T0 + DAY, "198.51.100.4", vpn("NordVPN")));
        let found = replay(&Config::default(), &mut state, &steps);
        assert!(
            found[..20].iter().all(Vec::is_empty),
            "corporate egress never fires"
        );
        // The twenty corporate logins are not in the denominator either.
        assert_eq!(
            share_of(&found[20][0]),
            (1, 1, 14, vec!["NordVPN".to_owned()])
        );
        assert_eq!(state.days.len(), 1);
    }

    #[test]
    fn the_window_slides_and_old_days_drop_out() {
        let hosting = maxmind().lookup_uncached(HOSTING.parse().unwrap());
        let mut state = State::default();
        let steps: Vec<Step> = (0..12)
            .map(|d| step(T0 + d * DAY, HOSTING, hosting.clone()))
            .collect();
        let found = replay(&Config::default(), &mut state, &steps);
        assert_eq!(found[11][0].severity, Severity::Medium);
        // Three weeks later the old days are out of the window: one login is one-off again.
        let later = replay(
            &Config::default(),
            &mut state,
            &[step(T0 + 32 * DAY, HOSTING, hosting.clone())],
        );
        assert_eq!(later[0][0].severity, Severity::Low);
        assert_eq!(share_of(&later[0][0]), (1, 1, 14, vec![]));
        assert_eq!(state.days.len(), 1);
        // Day 12 is still inside a 14-day window ending on day 25 — partly slid.
        let mut state = State::default();
        replay(&Config::default(), &mut state, &steps);
        let partly = replay(
            &Config::default(),
            &mut state,
            &[step(T0 + 20 * DAY, HOSTING, hosting)],
        );
        // Days 7..=11 (5 logins) plus this one.
        assert_eq!(share_of(&partly[0][0]), (6, 6, 14, vec![]));
    }

    #[test]
    fn at_most_once_a_day_unless_the_level_rises() {
        let mut state = State::default();
        let found = replay(
            &Config::default(),
            &mut state,
            &[
                step(T0, "198.51.100.4", vpn("NordVPN")),
                step(T0 + 60, "198.51.100.4", vpn("NordVPN")),
                step(T0 + 120, "198.51.100.4", vpn("Astrill VPN")),
                step(T0 + 180, "198.51.100.4", vpn("Astrill VPN")),
                step(T0 + DAY, "198.51.100.4", vpn("NordVPN")),
            ],
        );
        let severities: Vec<Option<Severity>> = found
            .iter()
            .map(|f| f.first().map(|f| f.severity))
            .collect();
        assert_eq!(
            severities,
            [
                Some(Severity::Low),
                None,
                Some(Severity::Medium),
                None,
                // The next day: Astrill is still in the window.
                Some(Severity::Medium),
            ]
        );
        // A late event for the day before does not reopen it.
        let late = replay(
            &Config::default(),
            &mut state,
            &[step(T0 + 300, "198.51.100.4", vpn("NordVPN"))],
        );
        assert!(late[0].is_empty());
    }

    #[test]
    fn failures_and_non_interactive_events_are_not_counted() {
        let tor = Geo {
            anonymous: Some(AnonymousFlags {
                is_anonymous: true,
                is_tor_exit_node: true,
                ..AnonymousFlags::default()
            }),
            ..Geo::default()
        };
        let mut state = State::default();
        let mut failed = step(T0, "65.0.0.1", tor.clone());
        failed.event.outcome = Outcome::Failure;
        let mut refresh = step(T0 + 60, "65.0.0.1", tor.clone());
        refresh.event.kind = EventKind::NonInteractive(NonInteractive::TokenRefresh);
        let found = replay(&Config::default(), &mut state, &[failed, refresh]);
        assert!(found.iter().all(Vec::is_empty));
        assert_eq!(state, State::default());
        // An MFA step is interactive; the kind is named.
        let mut mfa = step(T0 + 120, "65.0.0.1", tor);
        mfa.event.kind = EventKind::Mfa;
        mfa.event.outcome = Outcome::Unknown;
        let found = replay(&Config::default(), &mut state, &[mfa]);
        assert!(
            found[0][0].summary.contains("through Tor via"),
            "{}",
            found[0][0].summary
        );
    }

    #[test]
    fn kinds_come_from_the_real_anonymous_ip_database() {
        let db = maxmind();
        let kind = |ip: &str| kinds(&db.lookup_uncached(ip.parse().unwrap()));
        assert_eq!(kind("1.2.0.1"), "a VPN");
        assert_eq!(kind("71.160.223.1"), "a hosting provider");
        assert_eq!(kind("186.30.236.1"), "a proxy");
        assert_eq!(
            kind("81.2.69.1"),
            "a VPN / a hosting provider / Tor / a proxy"
        );
        assert_eq!(kinds(&vpn("Astrill VPN")), "a VPN (Astrill VPN)");
    }

    #[test]
    fn state_stays_bounded() {
        let mut state = State::default();
        let steps: Vec<Step> = (0..90 * 8)
            .map(|i| {
                let provider = format!("Provider {} with a rather long marketing name", i % 7);
                step(T0 + i * DAY / 8, "198.51.100.4", vpn(&provider))
            })
            .collect();
        replay(&Config::default(), &mut state, &steps);
        assert_eq!(state.days.len(), 14);
        assert_eq!(state.providers.len(), MAX_PROVIDERS);
        assert!(
            state
                .providers
                .iter()
                .all(|p| p.name.chars().count() <= MAX_NAME_CHARS)
        );
        let bytes = postcard::to_stdvec(&state).unwrap();
        assert!(bytes.len() < 300, "{} bytes", bytes.len());
        assert_eq!(postcard::from_bytes::<State>(&bytes).unwrap(), state);
        // The widest window allowed stays small too.
        let wide = Config {
            window_days: MAX_WINDOW_DAYS,
            ..Config::default()
        };
        let mut state = State::default();
        replay(&wide, &mut state, &steps);
        assert_eq!(state.days.len(), MAX_WINDOW_DAYS as usize);
        assert!(postcard::to_stdvec(&state).unwrap().len() < 400);
    }

    #[test]
    fn bad_settings_are_config_errors() {
        assert!(Config::default().validate().is_empty());
        let bad = Config {
            window_days: 0,
            high_share: 1.5,
            min_logins: 0,
            risk: Risks {
                critical: 101,
                ..Risks::default()
            },
            ..Config::default()
        };
        assert_eq!(
            bad.validate(),
            [
                "detect.anonymizer.window_days: 0 must be between 1 and 31",
                "detect.anonymizer.high_share: 1.5 must be above 0 and at most 1",
                "detect.anonymizer.min_logins must be at least 1",
                "detect.anonymizer.risk.critical: 101 is above 100",
            ]
        );
        let cfg: Config = toml::from_str("window_days = 7\n[risk]\nlow = 5\n").unwrap();
        assert_eq!((cfg.window_days, cfg.risk.low, cfg.risk.high), (7, 5, 60));
    }
}
