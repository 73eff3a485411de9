//! working_hours: the employee's activity, judged over weeks, fits another time zone than
//! the claimed one. The classic case: a worker who claims New York but keeps Korean office
//! hours signs in from 19:00 to 04:00 New York time (DOMAIN.md).
//!
//! # Model
//!
//! Every successful interactive login is placed in the claimed zone's local time *at that
//! instant* (chrono-tz), so a DST change moves nothing: 09:00 in New York is 09:00 in
//! October and in November. The state keeps, per active local day of a sliding window
//! (default 28 days), the local hours with activity and how many logins fell inside and
//! outside the claimed working window (the roster's `work_hours`, or a generous default).
//!
//! * **Sustained**: at least `min_active_days` active days and `min_logins` logins in the
//!   window, so a week of late nights before a release does not count.
//! * **Significant**: a one-sided binomial test (statrs) of the logins outside the window
//!   against `expected_outside_share`: p = P(X ≥ outside | n = logins, p = expected).
//! * **Another zone**: the active hours, as an hour-of-week histogram, are rotated by every
//!   whole-hour shift that lands on a real UTC offset (−12 … +14); the shift that puts the
//!   most activity inside a standard workday (`model_workday`, 09:00–18:00 Mon–Fri) wins,
//!   ties going to the smallest shift (the claim stands until the data says otherwise).
//!   Rotation is weekday-aware: Sunday 19:00 in New York is Monday 09:00 in Seoul. The
//!   inferred offset is the claimed offset at the event plus that shift.
//!
//! Medium when all three hold and at least `min_share_outside` of the logins fall outside;
//! high when the inferred offset is `high_offset_gap_hours` or more from the claimed one,
//! `high_share_outside` or more fall outside, over `high_active_days` or more. A finding is
//! emitted when the level rises, and repeated at the same level at most every
//! `repeat_days`, not on every login.
//!
//! Events during an approved trip are left out: a week in Seoul on business is Seoul hours.

use std::collections::VecDeque;

use chrono::{Datelike, NaiveTime, Offset, TimeZone, Timelike};
use chrono_tz::{OffsetName, Tz};
use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, DiscreteCDF};

use super::Context;
use crate::alert::{Evidence, Finding, Severity};
use crate::event::Outcome;
use crate::roster::{ClaimedProfile, WorkHours};

/// The rule's stable name.
pub const NAME: &str = "working_hours";

// Monday-first, the order `Weekday::num_days_from_monday` indexes the week in.
use crate::roster::work_hours::WEEK;
const HOURS_PER_WEEK: i32 = 7 * 24;
const SECONDS_PER_DAY: i64 = 86_400;
/// Real UTC offsets run from −12 (Baker Island) to +14 (Kiribati).
const OFFSETS_HOURS: (f64, f64) = (-12.0, 14.0);
/// The longest window the state may keep: bounds its size (about 10 bytes a day).
const MAX_WINDOW_DAYS: u16 = 56;

/// `[detect.working_hours]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run the rule at all.
    pub enabled: bool,
    /// Local days of history judged (sliding window). Default 28: four working weeks are
    /// enough to see a pattern and short enough that a change of habit shows within a month.
    pub window_days: u16,
    /// Active days needed before judging. Default 7: more than a week, so one busy week
    /// (a release, an on-call rotation) is not enough.
    pub min_active_days: u32,
    /// Logins needed before judging. Default 15: a handful of logins is too few for the
    /// test to mean anything.
    pub min_logins: u32,
    /// Share of logins outside the claimed window expected of an honest employee (the null
    /// hypothesis of the test). Default 0.15: evening e-mail and the odd weekend happen.
    pub expected_outside_share: f64,
    /// Significance level of the one-sided binomial test. Default 0.001: this rule judges
    /// many employees every day, so a lax level would page on chance.
    pub alpha: f64,
    /// Least share outside the window for any finding. Default 0.4: with hundreds of logins
    /// even a 20 % share is "significant"; an effect this small is habit, not another zone.
    pub min_share_outside: f64,
    /// Least distance (hours, around the clock) between the inferred and the claimed offset
    /// for any finding. Default 3: a shift of an hour or two is an early bird or a late
    /// riser; weekend work in the claimed zone infers no shift at all.
    pub min_offset_gap_hours: f64,
    /// Distance between inferred and claimed offset for high. Default 6: another continent.
    pub high_offset_gap_hours: f64,
    /// Share outside the window for high. Default 0.6: most of the work happens while the
    /// claimed zone is off.
    pub high_share_outside: f64,
    /// Active days for high. Default 10: two working weeks of the same pattern.
    pub high_active_days: u32,
    /// The claimed window when the roster gives no `work_hours`. Default
    /// `07:00-20:00 Mon-Fri`: generous on purpose, so only work that fits another zone
    /// falls outside it.
    pub default_hours: WorkHours,
    /// The workday the offset inference fits activity into. Default `09:00-18:00 Mon-Fri`,
    /// the office day of the places this rule looks for.
    pub model_workday: WorkHours,
    /// Minutes before the claimed window opens or after it closes that still count as
    /// inside. Default 60: people sign in a little before their shift starts and finish a
    /// little late; a night-shift worker logging in at 21:45 for 22:00 is on time.
    pub grace_minutes: u32,
    /// Logins within this many minutes of the last counted one are the same sign-in (SSO,
    /// MFA and VPN records of one act) and count once. Default 5.
    pub burst_minutes: u32,
    /// Days before a finding at the same level is repeated. Default 7, the risk half-life:
    /// a pattern that persists keeps the risk up without a finding on every login.
    pub repeat_days: u32,
    /// Risk (0–100) of a medium finding. Default 40: sustained and significant evidence
    /// alerts at medium on its own.
    pub medium_risk: u8,
    /// Risk (0–100) of a high finding. Default 70: reaches high on its own.
    pub high_risk: u8,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            window_days: 28,
            min_active_days: 7,
            min_logins: 15,
            expected_outside_share: 0.15,
            alpha: 0.001,
            min_share_outside: 0.4,
            min_offset_gap_hours: 3.0,
            high_offset_gap_hours: 6.0,
            high_share_outside: 0.6,
            high_active_days: 10,
            default_hours: hours("07:00-20:00 Mon-Fri"),
            model_workday: hours("09:00-18:00 Mon-Fri"),
            grace_minutes: 60,
            burst_minutes: 5,
            repeat_days: 7,
            medium_risk: 40,
            high_risk: 70,
        }
    }
}

/// A default written in this file; the tests parse every one.
fn hours(text: &str) -> WorkHours {
    text.parse()
        .expect("default working hours in working_hours.rs are valid")
}

impl Config {
    /// Every problem with these settings.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, why: String| {
            errors.push(format!("detect.{NAME}.{field}: {why}"));
        };
        if !(7..=MAX_WINDOW_DAYS).contains(&self.window_days) {
            fail(
                "window_days",
                format!(
                    "{} is not between 7 and {MAX_WINDOW_DAYS}",
                    self.window_days
                ),
            );
        }
        let window = u32::from(self.window_days);
        for (field, days) in [
            ("min_active_days", self.min_active_days),
            ("high_active_days", self.high_active_days),
        ] {
            if days == 0 || days > window {
                fail(field, format!("{days} is not between 1 and window_days"));
            }
        }
        if self.min_logins == 0 {
            fail("min_logins", "must be at least 1".to_owned());
        }
        let share = self.expected_outside_share;
        if !(share > 0.0 && share < 1.0) {
            fail(
                "expected_outside_share",
                format!("{share} is not strictly between 0 and 1"),
            );
        }
        if !(self.alpha > 0.0 && self.alpha <= 0.5) {
            fail("alpha", format!("{} is not in (0, 0.5]", self.alpha));
        }
        for (field, v) in [
            ("min_share_outside", self.min_share_outside),
            ("high_share_outside", self.high_share_outside),
        ] {
            if !(0.0..=1.0).contains(&v) {
                fail(field, format!("{v} is not between 0 and 1"));
            }
        }
        for (field, v) in [
            ("min_offset_gap_hours", self.min_offset_gap_hours),
            ("high_offset_gap_hours", self.high_offset_gap_hours),
        ] {
            // Around the clock no two offsets are more than 12 hours apart.
            if !(0.0..=12.0).contains(&v) {
                fail(field, format!("{v} is not between 0 and 12"));
            }
        }
        if self.repeat_days == 0 {
            fail("repeat_days", "must be at least 1".to_owned());
        }
        for (field, v) in [
            ("medium_risk", self.medium_risk),
            ("high_risk", self.high_risk),
        ] {
            if v > 100 {
                fail(field, format!("{v} is above 100"));
            }
        }
        errors
    }

    /// The claimed window: the roster's, else the default.
    fn window<'a>(&'a self, profile: &'a ClaimedProfile) -> &'a WorkHours {
        profile.work_hours.as_ref().unwrap_or(&self.default_hours)
    }
}

/// What this detector remembers about one employee: a few hundred bytes (one entry per
/// active local day of the window).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Fingerprint of the claimed zone and window the history was recorded against. When
    /// the roster changes (a relocation, a new shift) the old history means nothing in the
    /// new local time, so it is dropped.
    claim: u32,
    /// Active local days in the window, oldest first, at most `window_days`.
    days: VecDeque<ActiveDay>,
    /// Event time (Unix seconds) of the last login counted, to count a burst once.
    last_counted: Option<i64>,
    /// The last finding emitted, so the same verdict is not repeated on every login.
    last_fired: Option<Fired>,
}

/// One local day with activity, in the claimed zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ActiveDay {
    /// Days from the common era (`NaiveDate::num_days_from_ce`).
    day: i32,
    /// Bit `h` set: activity in local hour `h`.
    hours: u32,
    /// Logins inside and outside the claimed window.
    inside: u16,
    outside: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Fired {
    severity: Severity,
    /// Event time, Unix seconds.
    at: i64,
}

impl State {
    /// Record one scored event.
    fn observe(&mut self, cfg: &Config, ctx: &Context<'_>) {
        let tz = ctx.profile.timezone;
        let window = cfg.window(ctx.profile);
        let claim = fingerprint(tz, window);
        if self.claim != claim {
            *self = State {
                claim,
                ..State::default()
            };
        }
        let local = ctx.event.time.with_timezone(&tz).naive_local();
        let day = local.date().num_days_from_ce();
        let newest = self.days.back().map_or(day, |d| d.day.max(day));
        let first_kept = newest - i32::from(cfg.window_days) + 1;
        if day < first_kept {
            // Older than the window: it would be dropped at once.
            return;
        }
        while self.days.front().is_some_and(|d| d.day < first_kept) {
            self.days.pop_front();
        }
        let at = ctx.event.time.timestamp();
        let burst = i64::from(cfg.burst_minutes) * 60;
        let counted = self.last_counted.is_none_or(|t| (at - t).abs() >= burst);
        if counted {
            self.last_counted = Some(self.last_counted.map_or(at, |t| t.max(at)));
        }
        // Days are kept sorted; a late event finds or inserts its own day.
        let at_index = self.days.partition_point(|d| d.day < day);
        if self.days.get(at_index).is_none_or(|d| d.day != day) {
            self.days.insert(
                at_index,
                ActiveDay {
                    day,
                    hours: 0,
                    inside: 0,
                    outside: 0,
                },
            );
        }
        let Some(entry) = self.days.get_mut(at_index) else {
            return;
        };
        entry.hours |= 1 << local.hour();
        if counted {
            let grace = chrono::Duration::minutes(i64::from(cfg.grace_minutes));
            let inside = window.contains(local)
                || window.contains(local + grace)
                || window.contains(local - grace);
            let count = if inside {
                &mut entry.inside
            } else {
                &mut entry.outside
            };
            *count = count.saturating_add(1);
        }
    }

    /// Active days, logins, and logins outside the claimed window.
    fn totals(&self) -> (u32, u32, u32) {
        let logins = self
            .days
            .iter()
            .map(|d| u32::from(d.inside) + u32::from(d.outside))
            .sum();
        let outside = self.days.iter().map(|d| u32::from(d.outside)).sum();
        (self.days.len() as u32, logins, outside)
    }

    /// Active (day, hour) slots per local hour of the week, Monday 00:00 first.
    fn week(&self) -> [u32; HOURS_PER_WEEK as usize] {
        let mut week = [0u32; HOURS_PER_WEEK as usize];
        for d in &self.days {
            let Some(date) = chrono::NaiveDate::from_num_days_from_ce_opt(d.day) else {
                continue;
            };
            let base = date.weekday().num_days_from_monday() as usize * 24;
            for (h, slot) in week[base..base + 24].iter_mut().enumerate() {
                *slot += (d.hours >> h) & 1;
            }
        }
        week
    }
}

/// FNV-1a over the zone name and the window: stable across runs and builds, unlike the
/// standard hasher, because the state outlives the process.
fn fingerprint(tz: Tz, window: &WorkHours) -> u32 {
    // FNV-1a over the zone's name and the window's fields; no text is built (this runs for
    // every login). Stable across runs, as the state is stored.
    let mut h: u32 = 0x811c_9dc5;
    let mut feed = |b: u8| h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    tz.name().bytes().for_each(&mut feed);
    feed(b'|');
    for v in [window.start_minute(), window.end_minute()] {
        v.to_le_bytes().into_iter().for_each(&mut feed);
    }
    for d in WEEK {
        feed(u8::from(window.starts_on(d)));
    }
    h
}

/// What the history says, when it is enough to say anything.
#[derive(Debug, Clone, PartialEq)]
struct Verdict {
    severity: Severity,
    claimed_offset_hours: f64,
    inferred_offset_hours: f64,
    share_outside: f64,
    active_days: u32,
    logins: u32,
    outside: u32,
    p_value: f64,
}

/// Judge the history (which already includes the event in `ctx`).
fn judge(cfg: &Config, ctx: &Context<'_>, state: &State) -> Option<Verdict> {
    let (active_days, logins, outside) = state.totals();
    if active_days < cfg.min_active_days || logins < cfg.min_logins {
        return None;
    }
    let share_outside = f64::from(outside) / f64::from(logins);
    if share_outside < cfg.min_share_outside {
        return None;
    }
    let p_value = p_at_least(outside, logins, cfg.expected_outside_share)?;
    if p_value >= cfg.alpha {
        return None;
    }
    let claimed_offset_hours = offset_hours(ctx);
    // With a rostered pattern (a night shift) the question is how far the activity sits
    // from that pattern; without one, from an ordinary office day.
    let model = ctx
        .profile
        .work_hours
        .as_ref()
        .unwrap_or(&cfg.model_workday);
    let shift = best_shift(&state.week(), model, claimed_offset_hours);
    let inferred_offset_hours = claimed_offset_hours + f64::from(shift);
    let gap = clock_distance(claimed_offset_hours, inferred_offset_hours);
    if gap < cfg.min_offset_gap_hours {
        return None;
    }
    let high = gap >= cfg.high_offset_gap_hours
        && share_outside >= cfg.high_share_outside
        && active_days >= cfg.high_active_days;
    Some(Verdict {
        severity: if high {
            Severity::High
        } else {
            Severity::Medium
        },
        claimed_offset_hours,
        inferred_offset_hours,
        share_outside,
        active_days,
        logins,
        outside,
        p_value,
    })
}

/// What the activity history says about the employee's time zone, for the analyst API
/// and the compliance report (not a finding: no threshold or test applied).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inferred {
    /// The claimed zone's UTC offset at `at`, hours (DST included).
    pub claimed_offset_hours: f64,
    /// The offset whose working day fits the recorded activity best, hours.
    pub inferred_offset_hours: f64,
    /// Share of counted logins outside the claimed window.
    pub share_outside: f64,
    pub active_days: u32,
    pub logins: u32,
}

impl Inferred {
    /// Whether the inferred offset is at least `min_gap_hours` from the claimed one
    /// (around the clock).
    pub fn differs(&self, min_gap_hours: f64) -> bool {
        clock_distance(self.claimed_offset_hours, self.inferred_offset_hours) >= min_gap_hours
    }
}

/// The offset the recorded activity points to, judged at `at` against `profile`'s claim;
/// `None` before `min_active_days` of activity (too little to say anything) or when the
/// history was recorded against another claim (the roster changed since).
pub fn inferred(
    cfg: &Config,
    profile: &ClaimedProfile,
    state: &State,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<Inferred> {
    if state.claim != fingerprint(profile.timezone, cfg.window(profile)) {
        return None;
    }
    let (active_days, logins, outside) = state.totals();
    if active_days < cfg.min_active_days || logins == 0 {
        return None;
    }
    let claimed_offset_hours = zone_offset_hours(profile.timezone, at);
    let model = profile.work_hours.as_ref().unwrap_or(&cfg.model_workday);
    let shift = best_shift(&state.week(), model, claimed_offset_hours);
    Some(Inferred {
        claimed_offset_hours,
        inferred_offset_hours: claimed_offset_hours + f64::from(shift),
        share_outside: f64::from(outside) / f64::from(logins),
        active_days,
        logins,
    })
}

/// One-sided binomial test: P(X ≥ k) for X ~ Binomial(n, p). `None` for a bad `p`
/// (validation rejects it; a finding with a made-up p-value would be worse than none).
fn p_at_least(k: u32, n: u32, p: f64) -> Option<f64> {
    let dist = Binomial::new(p, u64::from(n)).ok()?;
    Some(match k.checked_sub(1) {
        None => 1.0,
        // sf(x) = P(X > x), computed from the regularised beta function, so tiny tails
        // keep their precision instead of rounding 1 − cdf to zero.
        Some(below) => dist.sf(u64::from(below)),
    })
}

/// The claimed zone's offset at the event: DST included, with its abbreviation.
fn claimed_offset(ctx: &Context<'_>) -> chrono_tz::TzOffset {
    ctx.profile
        .timezone
        .offset_from_utc_datetime(&ctx.event.time.naive_utc())
}

/// The claimed zone's UTC offset at the event, in hours.
fn offset_hours(ctx: &Context<'_>) -> f64 {
    zone_offset_hours(ctx.profile.timezone, ctx.event.time)
}

/// `tz`'s UTC offset at `at`, in hours (DST included).
pub fn zone_offset_hours(tz: Tz, at: chrono::DateTime<chrono::Utc>) -> f64 {
    f64::from(
        tz.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    ) / 3600.0
}

/// The whole-hour shift of the local week that puts the most activity inside the model
/// workday, among shifts landing on a real UTC offset. Ties go to the smallest shift, and
/// no activity inside any shift leaves the claim (0).
fn best_shift(week: &[u32; HOURS_PER_WEEK as usize], model: &WorkHours, claimed: f64) -> i32 {
    // Mid-hour, so a model written to the half hour (08:30–17:30) counts whole hours right.
    let in_model: Vec<bool> = (0..HOURS_PER_WEEK)
        .map(|t| {
            let day = WEEK[(t / 24) as usize];
            let time = NaiveTime::from_hms_opt((t % 24) as u32, 30, 0).unwrap_or(NaiveTime::MIN);
            model.contains_at(day, time)
        })
        .collect();
    let mass = |shift: i32| -> u32 {
        week.iter()
            .enumerate()
            .filter(|(t, _)| in_model[(*t as i32 + shift).rem_euclid(HOURS_PER_WEEK) as usize])
            .map(|(_, n)| n)
            .sum()
    };
    let lowest = (OFFSETS_HOURS.0 - claimed).ceil() as i32;
    let highest = (OFFSETS_HOURS.1 - claimed).floor() as i32;
    let mut shifts: Vec<i32> = (lowest..=highest).collect();
    shifts.sort_by_key(|s| (s.abs(), *s));
    let mut best = (0, mass(0));
    for s in shifts {
        let m = mass(s);
        if m > best.1 {
            best = (s, m);
        }
    }
    best.0
}

/// Hours between two UTC offsets around the clock (UTC+14 and UTC−10 share a wall clock).
fn clock_distance(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(24.0);
    d.min(24.0 - d)
}

/// `UTC+9`, `UTC-5`, `UTC+5:30`.
fn format_offset(hours: f64) -> String {
    let minutes = (hours * 60.0).round() as i64;
    let sign = if minutes < 0 { '-' } else { '+' };
    let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
    if m == 0 {
        format!("UTC{sign}{h}")
    } else {
        format!("UTC{sign}{h}:{m:02}")
    }
}

/// True when the rule looks at this event at all.
fn scored(cfg: &Config, ctx: &Context<'_>) -> bool {
    // A failed login may be someone else guessing a password; an approved trip is another
    // zone on purpose; a login geolocated in another country is a trip (approved or not) and
    // is claimed_location's to judge — its hours are the local hours of wherever the person
    // is. None says when the employee works at home. A login whose location is unknown
    // (anonymizer, no GeoIP answer) still counts: hiding the place must not hide the hours.
    let abroad = !ctx.geo.is_anonymizer()
        && ctx
            .geo
            .country
            .as_deref()
            .is_some_and(|c| !c.eq_ignore_ascii_case(&ctx.profile.country));
    cfg.enabled
        && ctx.event.kind.is_interactive()
        && ctx.event.outcome != Outcome::Failure
        && ctx.trip.is_none()
        && !abroad
}

/// Record the event and return the verdict when a finding is due for it: the level rose
/// since the last finding, or `repeat_days` passed. Shared by `check` (on a copy) and
/// `update`, so both agree on when the rule fired.
fn observe_and_judge(cfg: &Config, ctx: &Context<'_>, state: &mut State) -> Option<Verdict> {
    state.observe(cfg, ctx);
    let verdict = judge(cfg, ctx, state)?;
    let now = ctx.event.time.timestamp();
    let due = match state.last_fired {
        None => true,
        Some(last) => {
            verdict.severity > last.severity
                || now - last.at >= i64::from(cfg.repeat_days) * SECONDS_PER_DAY
        }
    };
    due.then_some(verdict)
}

/// Findings for one event, against the state before it.
pub fn check(cfg: &Config, ctx: &Context<'_>, state: &State) -> Vec<Finding> {
    if !scored(cfg, ctx) {
        return Vec::new();
    }
    // The event is part of the evidence: judge the history as it will be after it.
    let mut after = state.clone();
    observe_and_judge(cfg, ctx, &mut after)
        .map(|v| finding(cfg, ctx, &v))
        .into_iter()
        .collect()
}

/// Learn from one event.
pub fn update(cfg: &Config, ctx: &Context<'_>, state: &mut State) {
    let _ = observe(cfg, ctx, state);
}

/// `check` and `update` in one pass, without copying the state: what the engine calls.
pub fn observe(cfg: &Config, ctx: &Context<'_>, state: &mut State) -> Vec<Finding> {
    if !scored(cfg, ctx) {
        return Vec::new();
    }
    let Some(v) = observe_and_judge(cfg, ctx, state) else {
        return Vec::new();
    };
    state.last_fired = Some(Fired {
        severity: v.severity,
        at: ctx.event.time.timestamp(),
    });
    vec![finding(cfg, ctx, &v)]
}

fn finding(cfg: &Config, ctx: &Context<'_>, v: &Verdict) -> Finding {
    let profile = ctx.profile;
    let window = cfg.window(profile);
    let window_name = if profile.work_hours.is_some() {
        format!("the claimed hours {window}")
    } else {
        format!("the default working window {window}")
    };
    let claimed = match claimed_offset(ctx).abbreviation() {
        Some(abbr) => format!("{}, {abbr}", format_offset(v.claimed_offset_hours)),
        None => format_offset(v.claimed_offset_hours),
    };
    let percent = |share: f64| (share * 100.0).round();
    let test = format!(
        "one-sided binomial: {} of {} logins outside {window} against {}% expected, alpha {}",
        v.outside,
        v.logins,
        percent(cfg.expected_outside_share),
        cfg.alpha,
    );
    let (severity, risk) = match v.severity {
        Severity::High | Severity::Critical => (Severity::High, cfg.high_risk),
        Severity::Medium | Severity::Low => (Severity::Medium, cfg.medium_risk),
    };
    Finding {
        rule: NAME,
        severity,
        risk,
        summary: format!(
            "{} works the hours of {}, not of the claimed {} ({claimed}): {}% of {} logins \
             on {} active days fell outside {window_name} local time \
             (one-sided binomial test against {}% expected, p = {:.1e})",
            profile.employee_id,
            format_offset(v.inferred_offset_hours),
            profile.timezone.name(),
            percent(v.share_outside),
            v.logins,
            v.active_days,
            percent(cfg.expected_outside_share),
            v.p_value,
        ),
        evidence: vec![
            Evidence::login(ctx.event),
            Evidence::Hours {
                claimed_timezone: profile.timezone.name().to_owned(),
                claimed_offset_hours: v.claimed_offset_hours,
                inferred_offset_hours: v.inferred_offset_hours,
                share_outside: v.share_outside,
                active_days: v.active_days,
                logins: v.logins,
                test,
                p_value: v.p_value,
            },
            Evidence::claimed(profile),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
    use chrono_tz::America::New_York;
    use chrono_tz::Asia::Seoul;

    use crate::enrich::Geo;
    use crate::event::{EventKind, Format, LoginEvent, NonInteractive};
    use crate::roster::{EmployeeId, Status};
    use crate::suppress::Trip;

    const WEEKDAYS: [Weekday; 5] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];

    fn profile(tz: Tz, work_hours: Option<&str>) -> ClaimedProfile {
        ClaimedProfile {
            employee_id: EmployeeId("E7".into()),
            aliases: vec!["jdoe@corp.example".into()],
            country: "US".into(),
            region: Some("NY".into()),
            city: Some("New York".into()),
            point: Some((40.7128, -74.006)),
            timezone: tz,
            work_hours: work_hours.map(|w| w.parse().unwrap()),
            start_date: None,
            status: Status::Active,
            group: None,
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn event(time: DateTime<Utc>, kind: EventKind, outcome: Outcome) -> LoginEvent {
        LoginEvent::new(
            Format::Okta,
            time,
            "jdoe@corp.example".into(),
            "198.51.100.23".parse().unwrap(),
            kind,
            outcome,
        )
    }

    fn login(time: DateTime<Utc>) -> LoginEvent {
        event(time, EventKind::InteractiveLogin, Outcome::Success)
    }

    /// Logins every `step_minutes` for `hours` hours from `start` local time in `tz` (the
    /// zone the person really sits in), on `days` of `weeks` weeks from `monday`.
    fn shifts(
        tz: Tz,
        monday: NaiveDate,
        weeks: u32,
        days: &[Weekday],
        start: (u32, u32),
        hours: u32,
        step_minutes: i64,
    ) -> Vec<LoginEvent> {
        let mut out = Vec::new();
        for week in 0..weeks {
            for day in days {
                let d = monday + Duration::days(i64::from(week * 7 + day.num_days_from_monday()));
                let first = d.and_hms_opt(start.0, start.1, 0).unwrap();
                let mut t = tz.from_local_datetime(&first).earliest().unwrap();
                let end = t + Duration::hours(i64::from(hours));
                while t < end {
                    out.push(login(t.with_timezone(&Utc)));
                    t += Duration::minutes(step_minutes);
                }
            }
        }
        out.sort_by_key(|e| e.time);
        out
    }

    /// Two weeks (or more) of Korean office hours, 09:10–17:10 KST hourly, Mon–Fri.
    fn korea_hours(weeks: u32) -> Vec<LoginEvent> {
        shifts(Seoul, date(2025, 11, 10), weeks, &WEEKDAYS, (9, 10), 9, 60)
    }

    /// Applies events in order as the engine does: check against the state before, then
    /// update.
    fn replay_with(
        cfg: &Config,
        profile: &ClaimedProfile,
        trip: Option<&Trip>,
        events: &[LoginEvent],
        state: &mut State,
    ) -> Vec<Finding> {
        let geo = Geo::default();
        let mut findings = Vec::new();
        for event in events {
            let ctx = Context {
                event,
                geo: &geo,
                profile,
                allowlisted: false,
                trip,
                network: &[],
            };
            findings.extend(check(cfg, &ctx, state));
            update(cfg, &ctx, state);
        }
        findings
    }

    fn replay(
        cfg: &Config,
        profile: &ClaimedProfile,
        events: &[LoginEvent],
    ) -> (Vec<Finding>, State) {
        let mut state = State::default();
        let findings = replay_with(cfg, profile, None, events, &mut state);
        (findings, state)
    }

    fn severities(findings: &[Finding]) -> Vec<Severity> {
        findings.iter().map(|f| f.severity).collect()
    }

    fn hours_evidence(f: &Finding) -> (f64, f64, f64, u32, u32, f64) {
        f.evidence
            .iter()
            .find_map(|e| match e {
                Evidence::Hours {
                    claimed_offset_hours,
                    inferred_offset_hours,
                    share_outside,
                    active_days,
                    logins,
                    p_value,
                    ..
                } => Some((
                    *claimed_offset_hours,
                    *inferred_offset_hours,
                    *share_outside,
                    *active_days,
                    *logins,
                    *p_value,
                )),
                _ => None,
            })
            .expect("hours evidence")
    }

    #[test]
    fn logins_geolocated_abroad_are_a_trip_not_working_hours() {
        // The same Korean hours, but every login geolocates in Korea: that is a stay abroad
        // (claimed_location's to judge), not evidence about hours at home.
        let in_korea = Geo {
            country: Some("KR".into()),
            ..Geo::default()
        };
        let profile = profile(New_York, None);
        let (cfg, mut state) = (Config::default(), State::default());
        for event in &korea_hours(2) {
            let ctx = Context {
                event,
                geo: &in_korea,
                profile: &profile,
                allowlisted: false,
                trip: None,
                network: &[],
            };
            assert!(check(&cfg, &ctx, &state).is_empty());
            update(&cfg, &ctx, &mut state);
        }
        assert_eq!(state, State::default());
        // Behind an anonymizer the place is unknown, so the hours still count.
        let hidden = Geo {
            tags: vec!["vpn".into()],
            ..in_korea
        };
        let mut findings = Vec::new();
        for event in &korea_hours(2) {
            let ctx = Context {
                event,
                geo: &hidden,
                profile: &profile,
                allowlisted: false,
                trip: None,
                network: &[],
            };
            findings.extend(check(&cfg, &ctx, &state));
            update(&cfg, &ctx, &mut state);
        }
        assert_eq!(severities(&findings), [Severity::Medium, Severity::High]);
    }

    #[test]
    fn korean_office_hours_claimed_in_new_york_fire_medium_then_high() {
        let events = korea_hours(2);
        assert_eq!(events.len(), 90);
        // 09:10 KST on Monday 10 November is 19:10 EST on Sunday 9 November.
        let first = events[0].time.with_timezone(&New_York);
        assert_eq!((first.weekday(), first.hour()), (Weekday::Sun, 19));
        // No grace, so the hand-counted figures below are the hours themselves.
        let exact = Config {
            grace_minutes: 0,
            ..Config::default()
        };
        let (findings, state) = replay(&exact, &profile(New_York, None), &events);
        assert_eq!(severities(&findings), [Severity::Medium, Severity::High]);

        // Medium once seven New York days are active (Sunday 16 November, 19:10).
        let (claimed, inferred, share, days, logins, p) = hours_evidence(&findings[0]);
        assert_eq!((claimed, inferred, days, logins), (-5.0, 9.0, 7, 46));
        // Only Monday–Thursday 19:10 in New York falls inside the default window.
        assert_eq!(share, 42.0 / 46.0);
        assert!(p < 1e-20, "{p}");
        assert_eq!(findings[0].risk, 40);

        // High at the tenth active day: Wednesday 19 November.
        let high = &findings[1];
        let (claimed, inferred, share, days, logins, p) = hours_evidence(high);
        assert_eq!((claimed, inferred, days), (-5.0, 9.0, 10));
        assert_eq!(high.risk, 70);
        assert!(share >= 0.9, "{share}");
        assert!(p < 1e-30, "{p}");
        assert!(logins >= 60, "{logins}");
        assert!(
            high.summary.starts_with(
                "E7 works the hours of UTC+9, not of the claimed America/New_York (UTC-5, EST):"
            ),
            "{}",
            high.summary
        );
        assert!(
            high.summary
                .contains("outside the default working window 07:00-20:00 Mon-Fri"),
            "{}",
            high.summary
        );
        assert!(matches!(high.evidence[0], Evidence::Login { .. }));
        assert!(
            matches!(&high.evidence[2], Evidence::Claimed { timezone, .. } if timezone == "America/New_York")
        );

        // Two weeks: 12 New York days, 82 of 90 logins outside (only Mon–Thu 19:10 inside).
        assert_eq!(state.totals(), (12, 90, 82));
    }

    #[test]
    fn a_persisting_pattern_repeats_weekly_not_per_login() {
        let (findings, _) = replay(
            &Config::default(),
            &profile(New_York, None),
            &korea_hours(4),
        );
        assert_eq!(
            severities(&findings),
            [
                Severity::Medium,
                Severity::High,
                Severity::High,
                Severity::High
            ]
        );
        let high_times: Vec<_> = findings[1..]
            .iter()
            .map(|f| match f.evidence[0] {
                Evidence::Login { time, .. } => time,
                _ => unreachable!(),
            })
            .collect();
        for pair in high_times.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::days(7));
        }
    }

    #[test]
    fn new_york_office_hours_never_fire() {
        let events = shifts(New_York, date(2025, 11, 10), 4, &WEEKDAYS, (9, 10), 9, 60);
        let (findings, state) = replay(&Config::default(), &profile(New_York, None), &events);
        assert_eq!(findings, []);
        assert_eq!(state.totals(), (20, 180, 0));
    }

    #[test]
    fn a_rostered_night_shift_never_fires_and_the_same_hours_unrostered_do() {
        let sun_thu = [
            Weekday::Sun,
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
        ];
        let events = shifts(New_York, date(2025, 11, 10), 3, &sun_thu, (22, 10), 8, 60);
        let night = profile(New_York, Some("22:00-06:00 Sun-Thu"));
        let (findings, state) = replay(&Config::default(), &night, &events);
        assert_eq!(findings, []);
        let (days, logins, outside) = state.totals();
        assert_eq!((days, logins, outside), (19, 120, 0));

        // Without the roster pattern these hours fit UTC+6 (22:00 EST = 09:00 UTC+6).
        let (findings, _) = replay(&Config::default(), &profile(New_York, None), &events);
        let last = findings.last().expect("fires without the roster pattern");
        assert_eq!(last.severity, Severity::High);
        let (claimed, inferred, share, ..) = hours_evidence(last);
        assert_eq!((claimed, inferred, share), (-5.0, 6.0, 1.0));
    }

    #[test]
    fn the_us_dst_change_week_moves_nothing() {
        // 09:00–17:30 New York time every half hour, 20 Oct – 14 Nov 2025; clocks went back
        // on Sunday 2 November. A tight claimed window makes any hour of drift count.
        let events = shifts(New_York, date(2025, 10, 20), 4, &WEEKDAYS, (9, 0), 9, 30);
        assert_eq!(events[0].time.hour(), 13, "09:00 EDT is 13:00 UTC");
        assert_eq!(
            events[events.len() - 1].time.hour(),
            22,
            "17:30 EST is 22:30 UTC"
        );
        let tight = profile(New_York, Some("09:00-18:00 Mon-Fri"));
        let (findings, state) = replay(&Config::default(), &tight, &events);
        assert_eq!(findings, []);
        assert_eq!(state.totals(), (20, 360, 0));
        let nine_to_six = ((1u32 << 9) - 1) << 9;
        assert!(
            state.days.iter().all(|d| d.hours == nine_to_six),
            "{:?}",
            state.days
        );
        // And the inferred offset is the claimed one in both halves of the window.
        assert_eq!(
            best_shift(&state.week(), &Config::default().model_workday, -5.0),
            0
        );
    }

    #[test]
    fn a_night_shift_signing_in_a_little_early_is_on_time() {
        // Rostered 22:00-06:00 Sun-Thu, signing in at 21:40 and again at 02:00 each night:
        // with the default grace every login is inside; without it the 21:40 ones are not.
        let profile = profile(New_York, Some("22:00-06:00 Sun-Thu"));
        let nights = shifts(
            New_York,
            date(2025, 11, 3),
            3,
            &[
                Weekday::Sun,
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
            ],
            (21, 40),
            2,
            260,
        );
        let (findings, state) = replay(&Config::default(), &profile, &nights);
        assert_eq!(findings, []);
        assert_eq!(state.totals().2, 0, "nothing outside with the grace");
        let strict = Config {
            grace_minutes: 0,
            ..Config::default()
        };
        let (_, state) = replay(&strict, &profile, &nights);
        assert_eq!(
            state.totals().2,
            15,
            "the 21:40 sign-ins fall outside without it"
        );
    }

    #[test]
    fn too_few_days_or_logins_never_fire_even_all_off_hours() {
        // One week of Korean hours: six New York days, 45 logins, 41 outside.
        let one_week = korea_hours(1);
        let exact = Config {
            grace_minutes: 0,
            ..Config::default()
        };
        let (findings, state) = replay(&exact, &profile(New_York, None), &one_week);
        assert_eq!(findings, []);
        assert_eq!(state.totals(), (6, 45, 41));
        let lenient = Config {
            min_active_days: 6,
            ..exact.clone()
        };
        let (findings, _) = replay(&lenient, &profile(New_York, None), &one_week);
        assert_eq!(
            severities(&findings),
            [Severity::Medium],
            "the day gate was what held it"
        );

        // Twelve days with one 03:00 login each: 12 logins, all outside.
        let sparse: Vec<_> = (0..12)
            .map(|d| {
                let local = (date(2025, 11, 3) + Duration::days(d))
                    .and_hms_opt(3, 0, 0)
                    .unwrap();
                login(
                    New_York
                        .from_local_datetime(&local)
                        .unwrap()
                        .with_timezone(&Utc),
                )
            })
            .collect();
        let (findings, state) = replay(&Config::default(), &profile(New_York, None), &sparse);
        assert_eq!(findings, []);
        assert_eq!(state.totals(), (12, 12, 12));
        let lenient = Config {
            min_logins: 12,
            ..Config::default()
        };
        let (findings, _) = replay(&lenient, &profile(New_York, None), &sparse);
        assert_eq!(findings.len(), 1, "the login gate was what held it");
    }

    #[test]
    fn non_interactive_failed_and_trip_events_are_ignored() {
        let korea = korea_hours(3);
        let claimed = profile(New_York, None);
        let as_kind = |kind: EventKind, outcome: Outcome| -> Vec<LoginEvent> {
            korea.iter().map(|e| event(e.time, kind, outcome)).collect()
        };
        for events in [
            as_kind(
                EventKind::NonInteractive(NonInteractive::TokenRefresh),
                Outcome::Success,
            ),
            as_kind(
                EventKind::NonInteractive(NonInteractive::ServiceAccount),
                Outcome::Success,
            ),
            as_kind(EventKind::VpnSessionEnd, Outcome::Success),
            as_kind(EventKind::Logout, Outcome::Unknown),
            as_kind(EventKind::InteractiveLogin, Outcome::Failure),
        ] {
            let (findings, state) = replay(&Config::default(), &claimed, &events);
            assert_eq!(findings, []);
            assert_eq!(state, State::default());
        }
        let trip = Trip {
            employee_id: EmployeeId("E7".into()),
            country: "KR".into(),
            from: date(2025, 11, 9),
            to: date(2025, 12, 1),
        };
        let mut state = State::default();
        let findings = replay_with(
            &Config::default(),
            &claimed,
            Some(&trip),
            &korea,
            &mut state,
        );
        assert_eq!(findings, []);
        assert_eq!(state, State::default());
        // MFA and VPN starts are interactive and count like logins.
        let mfa = as_kind(EventKind::Mfa, Outcome::Success);
        let (findings, _) = replay(&Config::default(), &claimed, &mfa);
        assert_eq!(findings.len(), 3);
    }

    #[test]
    fn a_sign_in_burst_counts_once() {
        let t = korea_hours(1)[0].time;
        let burst: Vec<_> = [0, 20, 70, 250, 400]
            .into_iter()
            .map(|s| login(t + Duration::seconds(s)))
            .collect();
        let (_, state) = replay(&Config::default(), &profile(New_York, None), &burst);
        // 0, 20, 70 and 250 s are within 5 minutes of the first; 400 s is not.
        assert_eq!(state.totals(), (1, 2, 2));
    }

    #[test]
    fn a_roster_change_restarts_the_history() {
        let events = korea_hours(2);
        let (_, mut state) = replay(&Config::default(), &profile(New_York, None), &events);
        assert_eq!(state.totals().0, 12);
        // HR records the relocation: the next login is judged in Seoul time, from scratch.
        let next = login(events[events.len() - 1].time + Duration::days(3));
        let moved = profile(Seoul, None);
        let findings = replay_with(&Config::default(), &moved, None, &[next], &mut state);
        assert_eq!(findings, []);
        assert_eq!(state.totals(), (1, 1, 0));
    }

    #[test]
    fn the_window_slides() {
        let events = korea_hours(8);
        let (_, state) = replay(&Config::default(), &profile(New_York, None), &events);
        let (days, ..) = state.totals();
        let span = state.days.back().unwrap().day - state.days.front().unwrap().day;
        assert!(span < 28, "{span}");
        assert_eq!(days, 24, "six New York days a week, four weeks");
    }

    #[test]
    fn state_stays_small() {
        let (_, state) = replay(
            &Config::default(),
            &profile(New_York, None),
            &korea_hours(4),
        );
        let typical = postcard::to_stdvec(&state).unwrap();
        println!(
            "working_hours state after four weeks of Korean hours: {} bytes",
            typical.len()
        );
        assert!(typical.len() <= 300, "{}", typical.len());
        assert_eq!(postcard::from_bytes::<State>(&typical).unwrap(), state);

        // Worst case: every hour of 28 days active with hundreds of logins a day.
        let every_hour: Vec<_> = (0..28 * 24)
            .flat_map(|h| {
                let t = DateTime::from_timestamp(1_762_000_000 + h * 3600, 0).unwrap();
                (0..10).map(move |i| login(t + Duration::minutes(i * 6)))
            })
            .collect();
        let (_, full) = replay(&Config::default(), &profile(New_York, None), &every_hour);
        assert_eq!(full.days.len(), 28);
        let worst = postcard::to_stdvec(&full).unwrap();
        println!(
            "working_hours state, worst case (28 days, every hour): {} bytes",
            worst.len()
        );
        assert!(worst.len() <= 800, "{}", worst.len());
        assert_eq!(postcard::from_bytes::<State>(&worst).unwrap(), full);
    }

    #[test]
    fn offset_inference_is_weekday_aware() {
        // Korean Mon–Fri in New York local time starts on Sunday evening: +14, not -10
        // (which would also match the hours but put the week a day early).
        let (_, state) = replay(
            &Config::default(),
            &profile(New_York, None),
            &korea_hours(2),
        );
        let model = Config::default().model_workday;
        assert_eq!(best_shift(&state.week(), &model, -5.0), 14);
        // Claimed in Seoul, the same activity is simply office hours.
        let (_, seoul) = replay(&Config::default(), &profile(Seoul, None), &korea_hours(2));
        assert_eq!(best_shift(&seoul.week(), &model, 9.0), 0);
        // No activity inside any shift leaves the claim.
        assert_eq!(best_shift(&[0; 168], &model, -5.0), 0);
    }

    #[test]
    fn test_and_formatting_helpers() {
        assert_eq!(p_at_least(0, 20, 0.15), Some(1.0));
        let all = p_at_least(10, 10, 0.15).unwrap();
        assert!((all - 0.15f64.powi(10)).abs() < 1e-15, "{all}");
        // P(X >= 1) = 1 - 0.85^n
        let one = p_at_least(1, 5, 0.15).unwrap();
        assert!((one - (1.0 - 0.85f64.powi(5))).abs() < 1e-12, "{one}");
        assert_eq!(p_at_least(3, 10, f64::NAN), None);
        assert_eq!(clock_distance(-5.0, 9.0), 10.0);
        assert_eq!(clock_distance(14.0, -10.0), 0.0);
        assert_eq!(clock_distance(5.5, 1.0), 4.5);
        assert_eq!(format_offset(9.0), "UTC+9");
        assert_eq!(format_offset(-5.0), "UTC-5");
        assert_eq!(format_offset(5.5), "UTC+5:30");
        assert_eq!(format_offset(-3.5), "UTC-3:30");
        assert_eq!(format_offset(0.0), "UTC+0");
    }

    #[test]
    fn config_defaults_validate_and_toml_overrides() {
        let cfg = Config::default();
        assert_eq!(cfg.validate(), Vec::<String>::new());
        assert_eq!(cfg.default_hours.to_string(), "07:00-20:00 Mon-Fri");
        assert_eq!(cfg.model_workday.to_string(), "09:00-18:00 Mon-Fri");
        let cfg: Config = toml::from_str(
            "default_hours = \"08:00-19:00 Mon-Sat\"\nmin_logins = 30\nalpha = 0.01",
        )
        .unwrap();
        assert_eq!(cfg.default_hours.to_string(), "08:00-19:00 Mon-Sat");
        assert_eq!((cfg.min_logins, cfg.alpha, cfg.window_days), (30, 0.01, 28));
        assert!(toml::from_str::<Config>("min_days = 3").is_err());
        assert!(toml::from_str::<Config>("default_hours = \"9-5\"").is_err());

        let bad = Config {
            window_days: 90,
            min_active_days: 0,
            min_logins: 0,
            expected_outside_share: 1.0,
            alpha: 0.0,
            high_share_outside: 1.5,
            min_offset_gap_hours: 13.0,
            repeat_days: 0,
            high_risk: 101,
            ..Config::default()
        };
        let errors = bad.validate();
        for field in [
            "window_days",
            "min_active_days",
            "min_logins",
            "expected_outside_share",
            "alpha",
            "high_share_outside",
            "min_offset_gap_hours",
            "repeat_days",
            "high_risk",
        ] {
            let prefix = format!("detect.working_hours.{field}:");
            assert!(
                errors.iter().any(|e| e.starts_with(&prefix)),
                "{field}: {errors:?}"
            );
        }
        assert_eq!(errors.len(), 9, "{errors:?}");
    }

    #[test]
    fn disabled_is_silent() {
        let cfg = Config {
            enabled: false,
            ..Config::default()
        };
        let (findings, state) = replay(&cfg, &profile(New_York, None), &korea_hours(2));
        assert_eq!(findings, []);
        assert_eq!(state, State::default());
    }

    #[test]
    fn inferred_offset_points_to_where_the_hours_are_worked() {
        let cfg = Config::default();
        let claim = profile(New_York, None);
        let (_, state) = replay(&cfg, &claim, &korea_hours(3));
        let at = DateTime::parse_from_rfc3339("2025-12-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let found = super::inferred(&cfg, &claim, &state, at).expect("three weeks are enough");
        assert_eq!(found.claimed_offset_hours, -5.0);
        assert_eq!(found.inferred_offset_hours, 9.0, "{found:?}");
        assert!(found.differs(cfg.min_offset_gap_hours));
        assert!(found.share_outside > 0.5, "{found:?}");
        // Worked where claimed: no difference.
        let korea = profile(Seoul, None);
        let (_, state) = replay(&cfg, &korea, &korea_hours(3));
        let same = super::inferred(&cfg, &korea, &state, at).unwrap();
        assert!(!same.differs(cfg.min_offset_gap_hours), "{same:?}");
        // Too little history says nothing.
        let (_, state) = replay(&cfg, &korea, &korea_hours(3)[..3]);
        assert_eq!(super::inferred(&cfg, &korea, &state, at), None);
    }
}
