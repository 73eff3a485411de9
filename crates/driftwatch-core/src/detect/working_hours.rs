//! working_hours: the employee works the hours of another time zone than the claimed one.
//! The classic case: a worker who claims New York but keeps Korean office hours signs in
//! from 19:00 to 04:00 New York time (docs/domain.md, "Indicators").
//!
//! # Model
//!
//! Every successful interactive login is placed in the claimed zone's local time *at that
//! instant* (chrono-tz), so a DST change moves nothing: 09:00 in New York is 09:00 in
//! October and in November. The claimed working days and start come from the roster's
//! `work_hours` (else the generous `default_hours` for the days and `model_workday` for the
//! start). Records of one sign-in (SSO, MFA, VPN within `burst_minutes`) count once.
//!
//! * **Sequential test.** Once a day, when work starts (the day's first login after
//!   `wake_gap_hours` without activity) on a claimed working day, a CUSUM of
//!   log-likelihood ratios takes one step: up by `ln(p1/p0)` when work started
//!   `min_offset_gap_hours` or more from the claimed start, down by `ln((1-p1)/(1-p0))`
//!   otherwise, never below zero (Page's CUSUM, the change-detection form of Wald's
//!   sequential test). `p0` (`expected_outside_share`) is how often an honest employee's
//!   day starts at an odd hour; `p1` (`shifted_outside_share`) is how often someone working
//!   another continent's day does. The unit is the working day, not the login: the logins
//!   of one session say the same thing several times, and an evening's mail after a normal
//!   day does not move a day's start. Two working days started off the claimed start cross
//!   the high threshold; any day started on time takes most of the evidence away. The
//!   *run* is the stretch since the sum last stood at zero.
//! * **Another zone.** The inferred offset comes from when the employee *starts* working:
//!   each active day's first login after `wake_gap_hours` without activity, averaged on the
//!   clock face (a circular mean, so 23:00 and 01:00 average to midnight), against the start
//!   of the roster's `work_hours` (else `model_workday`). Logins cluster at the start of a workday, so fitting whole
//!   activity histograms to a workday leans towards the east; start times do not.
//!
//! Medium when the CUSUM passes `ln(1/alpha)` with `min_active_days` days started off the
//! claimed start in the run and the inferred offset `min_offset_gap_hours` or more from the
//! claimed one; high when it passes `ln(1/high_alpha)` with `high_active_days` such days,
//! `high_share_outside` of the run's days off, and a gap of `high_offset_gap_hours`. Logins
//! inside and outside the claimed window (give or take `grace_minutes`) are counted for the
//! evidence. A
//! finding is emitted when the level rises, and repeated at the same level at most every
//! `repeat_days`, not on every login.
//!
//! Left out: logins during an approved trip, and every login within `travel_quiet_hours`
//! of one geolocated in another country: a week in Seoul on business is Seoul hours, and
//! the phone roaming through the home carrier keeps them too.

use std::collections::VecDeque;

use chrono::{Datelike, Offset, TimeZone, Timelike};
use chrono_tz::{OffsetName, Tz};
use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, DiscreteCDF};

use super::{Context, Validate};
use crate::alert::{Evidence, Finding, Severity};
use crate::event::Outcome;
use crate::roster::{ClaimedProfile, WorkHours};

/// The rule's stable name.
pub const NAME: &str = "working_hours";

// Monday-first, the order `Weekday::num_days_from_monday` indexes the week in.
use crate::roster::work_hours::WEEK;
const SECONDS_PER_DAY: i64 = 86_400;
const MINUTES_PER_DAY: f64 = 1440.0;
/// Real UTC offsets run from −12 (Baker Island) to +14 (Kiribati).
const OFFSETS_HOURS: (f64, f64) = (-12.0, 14.0);
/// The longest window the state may keep: bounds its size (about 12 bytes a day).
const MAX_WINDOW_DAYS: u16 = 56;
/// No wake-up recorded on a day.
const NO_WAKE: u16 = u16::MAX;

/// `[detect.working_hours]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run the rule at all.
    pub enabled: bool,
    /// Local days of history kept for the inferred offset and the evidence (sliding
    /// window). Default 28: four working weeks.
    pub window_days: u16,
    /// Share of an honest employee's claimed working days whose work starts
    /// `min_offset_gap_hours` or more from the claimed start (`p0` of the test). Default
    /// 0.025: a day that begins only in the evening (mail on the phone on a day off, a sick
    /// day) happens, a few times a year.
    pub expected_outside_share: f64,
    /// The same share for someone working another zone's day (`p1`). Default 0.9: their
    /// every working day starts off the claimed start.
    pub shifted_outside_share: f64,
    /// Medium when the CUSUM reaches ln(1/alpha). Default 0.01.
    pub alpha: f64,
    /// High when it reaches ln(1/high_alpha). Default 0.001: two working days in a row
    /// started off the claimed start, with none on time between them; the inferred offset
    /// must also be `high_offset_gap_hours` away, which a few odd days in a month of
    /// ordinary ones never make it.
    pub high_alpha: f64,
    /// Days off the claimed start the run must hold for a medium finding. Default 2: one
    /// odd day is not a pattern.
    pub min_active_days: u32,
    /// The same for a high finding. Default 2: someone who starts on a Thursday has two
    /// working days in their first three calendar days.
    pub high_active_days: u32,
    /// Least share of the run's working days started off the claimed start for high.
    /// Default 0.8.
    pub high_share_outside: f64,
    /// Least distance (hours, around the clock) between the inferred and the claimed offset
    /// for any finding. Default 3: a shift of an hour or two is an early bird or a late
    /// riser.
    pub min_offset_gap_hours: f64,
    /// Distance between inferred and claimed offset for high. Default 6: another continent.
    pub high_offset_gap_hours: f64,
    /// The claimed window when the roster gives no `work_hours`. Default
    /// `07:00-20:00 Mon-Fri`: generous on purpose, so only work that fits another zone
    /// falls outside it.
    pub default_hours: WorkHours,
    /// The workday whose start the inferred offset is measured against when the roster
    /// gives no `work_hours`. Default `09:00-18:00 Mon-Fri`, the office day of the places
    /// this rule looks for.
    pub model_workday: WorkHours,
    /// Minutes before the claimed window opens or after it closes that a login still counts
    /// as inside, for the evidence. Default 60.
    pub grace_minutes: u32,
    /// Logins within this many minutes of the last counted one are the same sign-in (SSO,
    /// MFA and VPN records of one act) and count once. Default 5.
    pub burst_minutes: u32,
    /// Hours without activity after which a login starts a working day (its time is a
    /// "wake-up" for the inferred offset). Default 6: longer than a lunch break or an
    /// evening away, shorter than a night.
    pub wake_gap_hours: u32,
    /// Hours after a login geolocated in another country during which logins are left out.
    /// Default 24: a traveller's phone roams through the home carrier at the destination's
    /// hours.
    pub travel_quiet_hours: u32,
    /// Days before a finding at the same level is repeated. Default 7, the risk half-life:
    /// a pattern that persists keeps the risk up without a finding on every login.
    pub repeat_days: u32,
    /// Risk (0–100) of a medium finding. Default 40: alerts at medium on its own, high
    /// with one more agreeing signal.
    pub medium_risk: u8,
    /// Risk (0–100) of a high finding. Default 70: reaches high on its own.
    pub high_risk: u8,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            window_days: 28,
            expected_outside_share: 0.025,
            shifted_outside_share: 0.9,
            alpha: 0.01,
            high_alpha: 0.001,
            min_active_days: 2,
            high_active_days: 2,
            high_share_outside: 0.8,
            min_offset_gap_hours: 3.0,
            high_offset_gap_hours: 6.0,
            default_hours: hours("07:00-20:00 Mon-Fri"),
            model_workday: hours("09:00-18:00 Mon-Fri"),
            grace_minutes: 60,
            burst_minutes: 5,
            wake_gap_hours: 6,
            travel_quiet_hours: 24,
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

impl Validate for Config {
    fn validate(&self) -> Vec<String> {
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
        let (p0, p1) = (self.expected_outside_share, self.shifted_outside_share);
        if !(p0 > 0.0 && p0 < 1.0) {
            fail(
                "expected_outside_share",
                format!("{p0} is not strictly between 0 and 1"),
            );
        }
        if !(p1 > p0 && p1 < 1.0) {
            fail(
                "shifted_outside_share",
                format!("{p1} is not above expected_outside_share and below 1"),
            );
        }
        for (field, a) in [("alpha", self.alpha), ("high_alpha", self.high_alpha)] {
            if !(a > 0.0 && a <= 0.5) {
                fail(field, format!("{a} is not in (0, 0.5]"));
            }
        }
        if self.high_alpha > self.alpha {
            fail("high_alpha", "must not be above alpha".to_owned());
        }
        if !(0.0..=1.0).contains(&self.high_share_outside) {
            fail(
                "high_share_outside",
                format!("{} is not between 0 and 1", self.high_share_outside),
            );
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
        if !(1..=23).contains(&self.wake_gap_hours) {
            fail("wake_gap_hours", "must be between 1 and 23".to_owned());
        }
        if self.repeat_days == 0 {
            fail("repeat_days", "must be at least 1".to_owned());
        }
        errors.extend(super::risks_above_100(
            NAME,
            &[
                ("medium_risk", self.medium_risk),
                ("high_risk", self.high_risk),
            ],
        ));
        errors
    }
}

impl Config {
    /// The claimed window: the roster's, else the default.
    fn window<'a>(&'a self, profile: &'a ClaimedProfile) -> &'a WorkHours {
        profile.work_hours.as_ref().unwrap_or(&self.default_hours)
    }

    /// The workday whose start wake-ups are compared with: the roster's, else the model.
    fn model<'a>(&'a self, profile: &'a ClaimedProfile) -> &'a WorkHours {
        profile.work_hours.as_ref().unwrap_or(&self.model_workday)
    }

    /// What one working day adds to the CUSUM.
    fn step(&self, outside: bool) -> f64 {
        let (p0, p1) = (self.expected_outside_share, self.shifted_outside_share);
        if outside {
            (p1 / p0).ln()
        } else {
            ((1.0 - p1) / (1.0 - p0)).ln()
        }
    }
}

/// What this detector remembers about one employee: a few hundred bytes (one entry per
/// active local day of the window, and the test's running figures).
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
    /// Event time of the latest login seen (counted or not), for wake-ups.
    last_seen: Option<i64>,
    /// The CUSUM and its current run.
    cusum: f32,
    run: Run,
    /// Logins before this time (Unix seconds) are left out: the employee was just
    /// geolocated abroad.
    quiet_until: Option<i64>,
    /// The last finding emitted, so the same verdict is not repeated on every login.
    last_fired: Option<Fired>,
}

/// The stretch since the CUSUM last stood at zero, in claimed working days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Run {
    /// Days whose work started off the claimed start.
    days: u8,
    /// When the latest of them started.
    last_session: i64,
    /// Days started on time, and off it.
    inside: u16,
    outside: u16,
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
    /// Local minute of the day's first login after a long pause ([`NO_WAKE`] when none).
    #[serde(default = "no_wake")]
    wake: u16,
}

fn no_wake() -> u16 {
    NO_WAKE
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
                quiet_until: self.quiet_until,
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
        let wakes = self
            .last_seen
            .is_none_or(|t| at - t >= i64::from(cfg.wake_gap_hours) * 3600);
        self.last_seen = Some(self.last_seen.map_or(at, |t| t.max(at)));
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
                    wake: NO_WAKE,
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
        if !(wakes && entry.wake == NO_WAKE) {
            return;
        }
        // The day's start of work: evidence once per day, on the claimed working days.
        let minute = (local.hour() * 60 + local.minute()) as u16;
        entry.wake = minute;
        if !window.starts_on(local.weekday()) {
            return;
        }
        let start = f64::from(cfg.model(ctx.profile).start_minute()) / 60.0;
        let off = clock_distance(f64::from(minute) / 60.0, start) >= cfg.min_offset_gap_hours;
        let sum = (f64::from(self.cusum) + cfg.step(off)).max(0.0);
        if sum == 0.0 {
            self.run = Run::default();
        } else if off {
            self.run.outside = self.run.outside.saturating_add(1);
            self.run.days = self.run.days.saturating_add(1);
            self.run.last_session = at;
        } else {
            self.run.inside = self.run.inside.saturating_add(1);
        }
        self.cusum = sum as f32;
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

    /// The circular mean of the days' wake-up minutes (local, in the claimed zone) and how
    /// many days had one.
    fn mean_wake(&self) -> Option<(f64, u32)> {
        let (mut x, mut y, mut n) = (0.0, 0.0, 0u32);
        for d in self.days.iter().filter(|d| d.wake != NO_WAKE) {
            let angle = f64::from(d.wake) / MINUTES_PER_DAY * std::f64::consts::TAU;
            x += angle.cos();
            y += angle.sin();
            n += 1;
        }
        if n == 0 || (x.abs() < 1e-9 && y.abs() < 1e-9) {
            return None;
        }
        let minutes =
            y.atan2(x).rem_euclid(std::f64::consts::TAU) / std::f64::consts::TAU * MINUTES_PER_DAY;
        Some((minutes, n))
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

/// The UTC offset the employee's working days start in: the claimed offset moved by how
/// far the mean wake-up is from the start of the model workday, whole hours, wrapped into
/// the real offsets.
fn infer_offset(claimed_offset_hours: f64, model: &WorkHours, wake_minutes: f64) -> f64 {
    // Around the clock: a start 23 hours "late" is an hour early.
    let mut late = (wake_minutes - f64::from(model.start_minute())) / 60.0;
    if late > 12.0 {
        late -= 24.0;
    } else if late < -12.0 {
        late += 24.0;
    }
    // Starting `late` hours after the claimed start means living `late` hours west.
    let mut offset = (claimed_offset_hours - late).round();
    while offset < OFFSETS_HOURS.0 {
        offset += 24.0;
    }
    while offset > OFFSETS_HOURS.1 {
        offset -= 24.0;
    }
    offset
}

/// What the history says, when it is enough to say anything.
#[derive(Debug, Clone, PartialEq)]
struct Verdict {
    severity: Severity,
    claimed_offset_hours: f64,
    inferred_offset_hours: f64,
    /// Share of the window's counted logins outside the claimed window.
    share_outside: f64,
    /// Claimed working days in the window with a start of work, and those started off the
    /// claimed start.
    work_days: u32,
    off_days: u32,
    /// Logins in the window, for the evidence.
    logins: u32,
    cusum: f64,
    /// P(at least `off_days` of `work_days` | an honest employee's share).
    p_value: f64,
}

impl State {
    /// Claimed working days of the window with a start of work, and how many started at
    /// least `min_offset_gap_hours` from the model start.
    fn work_days(&self, cfg: &Config, profile: &ClaimedProfile) -> (u32, u32) {
        let window = cfg.window(profile);
        let start = f64::from(cfg.model(profile).start_minute()) / 60.0;
        let mut work = 0;
        let mut off = 0;
        for d in self.days.iter().filter(|d| d.wake != NO_WAKE) {
            let Some(date) = chrono::NaiveDate::from_num_days_from_ce_opt(d.day) else {
                continue;
            };
            if !window.starts_on(date.weekday()) {
                continue;
            }
            work += 1;
            if clock_distance(f64::from(d.wake) / 60.0, start) >= cfg.min_offset_gap_hours {
                off += 1;
            }
        }
        (work, off)
    }
}

/// Judge the history (which already includes the event in `ctx`).
fn judge(cfg: &Config, ctx: &Context<'_>, state: &State) -> Option<Verdict> {
    let cusum = f64::from(state.cusum);
    let run = state.run;
    if cusum < (1.0 / cfg.alpha).ln() || u32::from(run.days) < cfg.min_active_days {
        return None;
    }
    let claimed_offset_hours = offset_hours(ctx);
    let (wake, _) = state.mean_wake()?;
    let inferred_offset_hours = infer_offset(claimed_offset_hours, cfg.model(ctx.profile), wake);
    let gap = clock_distance(claimed_offset_hours, inferred_offset_hours);
    if gap < cfg.min_offset_gap_hours {
        return None;
    }
    let run_days = u32::from(run.inside) + u32::from(run.outside);
    let off_share = f64::from(run.outside) / f64::from(run_days.max(1));
    let high = cusum >= (1.0 / cfg.high_alpha).ln()
        && u32::from(run.days) >= cfg.high_active_days
        && off_share >= cfg.high_share_outside
        && gap >= cfg.high_offset_gap_hours;
    let (_, logins, outside) = state.totals();
    let (work_days, off_days) = state.work_days(cfg, ctx.profile);
    let p_value = p_at_least(off_days, work_days, cfg.expected_outside_share).unwrap_or(1.0);
    Some(Verdict {
        severity: if high {
            Severity::High
        } else {
            Severity::Medium
        },
        claimed_offset_hours,
        inferred_offset_hours,
        share_outside: f64::from(outside) / f64::from(logins.max(1)),
        work_days,
        off_days,
        logins,
        cusum,
        p_value,
    })
}

/// What the activity history says about the employee's time zone, for the analyst API
/// and the compliance report (not a finding: no threshold or test applied).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inferred {
    /// The claimed zone's UTC offset at `at`, hours (DST included).
    pub claimed_offset_hours: f64,
    /// The offset the employee's working days start in, hours.
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

/// Days with a wake-up needed before [`inferred`] says anything: fewer is an anecdote.
const MIN_INFERRED_DAYS: u32 = 3;

/// The offset the recorded activity points to, judged at `at` against `profile`'s claim;
/// `None` before three days with a start of work (too little to say anything) or when the
/// history was recorded against another claim (the roster changed since).
pub fn inferred(
    cfg: &Config,
    profile: &ClaimedProfile,
    state: &State,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<Inferred> {
    let window = cfg.window(profile);
    if state.claim != fingerprint(profile.timezone, window) {
        return None;
    }
    let (active_days, logins, outside) = state.totals();
    let (wake, with_wake) = state.mean_wake()?;
    if with_wake < MIN_INFERRED_DAYS || logins == 0 {
        return None;
    }
    let claimed_offset_hours = zone_offset_hours(profile.timezone, at);
    Some(Inferred {
        claimed_offset_hours,
        inferred_offset_hours: infer_offset(claimed_offset_hours, cfg.model(profile), wake),
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

/// True when the login is geolocated in a city of another country than the claimed one,
/// by an address that is not an anonymizer: the person is abroad. An address the database
/// places only to a country (no city) is its registration, not a place: it counts as an
/// unknown location.
fn located_abroad(ctx: &Context<'_>) -> bool {
    !ctx.geo.is_anonymizer()
        && !ctx.allowlisted
        && ctx.geo.city.is_some()
        && ctx
            .geo
            .country
            .as_deref()
            .is_some_and(|c| !c.eq_ignore_ascii_case(&ctx.profile.country))
}

/// True when the rule looks at this event at all.
fn scored(cfg: &Config, ctx: &Context<'_>, state: &State) -> bool {
    // A failed login may be someone else guessing a password; an approved trip is another
    // zone on purpose; a login geolocated in another country is a trip (approved or not)
    // and is claimed_location's to judge, and so is everything just after one (the phone
    // roaming through the home carrier). A login whose location is unknown (anonymizer,
    // no GeoIP answer) still counts: hiding the place must not hide the hours.
    let quiet = state
        .quiet_until
        .is_some_and(|t| ctx.event.time.timestamp() < t);
    cfg.enabled
        && ctx.event.kind.is_interactive()
        && ctx.event.outcome != Outcome::Failure
        && ctx.trip.is_none()
        && !located_abroad(ctx)
        && !quiet
}

/// Remember a login abroad: the following hours are left out.
fn note_travel(cfg: &Config, ctx: &Context<'_>, state: &mut State) {
    if cfg.enabled && ctx.event.kind.is_interactive() && located_abroad(ctx) {
        let until = ctx.event.time.timestamp() + i64::from(cfg.travel_quiet_hours) * 3600;
        state.quiet_until = Some(state.quiet_until.map_or(until, |t| t.max(until)));
    }
}

/// Record the event and return the verdict when a finding is due for it: the level rose
/// since the last finding, or `repeat_days` passed. Shared by `check` (on a copy) and
/// `update`, so both agree on when the rule fired.
fn observe_and_judge(cfg: &Config, ctx: &Context<'_>, state: &mut State) -> Option<Verdict> {
    note_travel(cfg, ctx, state);
    if !scored(cfg, ctx, state) {
        return None;
    }
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
    let model_start = cfg.model(profile).start_minute();
    let test = format!(
        "CUSUM over claimed working days of whether work started {} h or more from {:02}:{:02}: \
         {:.0}% of days expected of an honest employee against {:.0}% for another zone's day; \
         {:.1} (medium at {:.1}, high at {:.1}); {} of {} working days in the window started off it",
        cfg.min_offset_gap_hours,
        model_start / 60,
        model_start % 60,
        cfg.expected_outside_share * 100.0,
        cfg.shifted_outside_share * 100.0,
        v.cusum,
        (1.0 / cfg.alpha).ln(),
        (1.0 / cfg.high_alpha).ln(),
        v.off_days,
        v.work_days,
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
            "{} works the hours of {}, not of the claimed {} ({claimed}): {} of {} working \
             days started {} h or more off {:02}:{:02} local time, and {}% of {} logins fell \
             outside {window_name} (sequential test: odds {:.0e} to 1 against an honest \
             employee)",
            profile.employee_id,
            format_offset(v.inferred_offset_hours),
            profile.timezone.name(),
            v.off_days,
            v.work_days,
            cfg.min_offset_gap_hours,
            model_start / 60,
            model_start % 60,
            percent(v.share_outside),
            v.logins,
            v.cusum.exp(),
        ),
        evidence: vec![
            Evidence::login(ctx.event),
            Evidence::Hours {
                claimed_timezone: profile.timezone.name().to_owned(),
                claimed_offset_hours: v.claimed_offset_hours,
                inferred_offset_hours: v.inferred_offset_hours,
                share_outside: v.share_outside,
                active_days: v.work_days,
                logins: v.logins,
                test,
                p_value: v.p_value,
            },
            Evidence::claimed(profile),
        ],
    }
}

/// The rule, for the registration table in [`super`].
pub struct Rule;

impl super::Detector for Rule {
    const NAME: &'static str = NAME;
    const FAMILY: super::Family = super::Family::Hours;
    const CLAIM: super::Claim = super::Claim::Hours;
    type Config = Config;
    type State = State;

    fn observe(cfg: &Config, ctx: &Context<'_>, state: &mut State) -> Vec<Finding> {
        observe(cfg, ctx, state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
    use chrono_tz::America::New_York;
    use chrono_tz::Asia::Seoul;

    use crate::detect::testkit;
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
            display_name: None,
            upn: None,
            manager: None,
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
                watch: &[],
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
        // The same Korean hours, but every login geolocates in a Korean city: that is a stay
        // abroad (claimed_location's to judge), not evidence about hours at home.
        let in_korea = testkit::SEOUL.geo();
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
                watch: &[],
            };
            assert!(check(&cfg, &ctx, &state).is_empty());
            update(&cfg, &ctx, &mut state);
        }
        assert_eq!(state.totals(), (0, 0, 0), "nothing counted");
        // Behind an anonymizer, or placed only to the country, the place is unknown, so the
        // hours still count (after the quiet day that follows the last stay abroad).
        for hidden in [
            Geo {
                tags: vec!["vpn".into()],
                ..in_korea.clone()
            },
            Geo {
                city: None,
                ..in_korea.clone()
            },
        ] {
            let mut state = State::default();
            let mut findings = Vec::new();
            for event in &korea_hours(2) {
                let ctx = Context {
                    event,
                    geo: &hidden,
                    profile: &profile,
                    allowlisted: false,
                    trip: None,
                    network: &[],
                    watch: &[],
                };
                findings.extend(check(&cfg, &ctx, &state));
                update(&cfg, &ctx, &mut state);
            }
            // High, and again a week later.
            assert_eq!(severities(&findings), [Severity::High; 2], "{hidden:?}");
        }
    }

    #[test]
    fn korean_office_hours_claimed_in_new_york_are_high_on_the_second_working_day() {
        let events = korea_hours(2);
        assert_eq!(events.len(), 90);
        // 09:10 KST on Monday 10 November is 19:10 EST on Sunday 9 November.
        let first = events[0].time.with_timezone(&New_York);
        assert_eq!((first.weekday(), first.hour()), (Weekday::Sun, 19));
        let (findings, state) = replay(&Config::default(), &profile(New_York, None), &events);
        // High once two claimed working days (Monday and Tuesday) started off 09:00; Sunday
        // is not a working day. Repeated a week later, not on every login.
        assert_eq!(severities(&findings), [Severity::High, Severity::High]);
        let high = &findings[0];
        let at = match high.evidence[0] {
            Evidence::Login { time, .. } => time.with_timezone(&New_York),
            _ => unreachable!(),
        };
        assert_eq!(
            (at.weekday(), at.hour(), at.minute()),
            (Weekday::Tue, 19, 10)
        );
        let (claimed, inferred, share, days, logins, p) = hours_evidence(high);
        assert_eq!((claimed, inferred, days), (-5.0, 9.0, 2));
        // Sunday evening's five, Monday's nine (four after midnight, five in the evening),
        // Tuesday's four after midnight and its 19:10: sixteen outside 07:00-20:00 give or
        // take the hour of grace (Monday 19:10 and 20:10, Tuesday 19:10 are inside).
        assert_eq!((logins, share), (19, 16.0 / 19.0));
        assert!(p < 0.01, "{p}");
        assert_eq!(high.risk, 70);
        assert!(
            high.summary.starts_with(
                "E7 works the hours of UTC+9, not of the claimed America/New_York (UTC-5, EST):"
            ),
            "{}",
            high.summary
        );
        assert!(
            high.summary
                .contains("2 of 2 working days started 3 h or more off 09:00 local time"),
            "{}",
            high.summary
        );
        assert!(matches!(
            &high.evidence[1],
            Evidence::Hours { test, .. } if test.starts_with("CUSUM over claimed working days")
        ));
        assert!(
            matches!(&high.evidence[2], Evidence::Claimed { timezone, .. } if timezone == "America/New_York")
        );
        // Two weeks: 12 New York days, 74 of 90 logins outside (only Mon–Thu 19:10 and
        // 20:10 inside, with the grace).
        assert_eq!(state.totals(), (12, 90, 74));
    }

    #[test]
    fn a_persisting_pattern_repeats_weekly_not_per_login() {
        let (findings, _) = replay(
            &Config::default(),
            &profile(New_York, None),
            &korea_hours(4),
        );
        assert_eq!(severities(&findings), [Severity::High; 4]);
        let times: Vec<_> = findings
            .iter()
            .map(|f| match f.evidence[0] {
                Evidence::Login { time, .. } => time,
                _ => unreachable!(),
            })
            .collect();
        for pair in times.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::days(7));
        }
    }

    #[test]
    fn new_york_office_hours_never_fire() {
        let events = shifts(New_York, date(2025, 11, 10), 4, &WEEKDAYS, (9, 10), 9, 60);
        let (findings, state) = replay(&Config::default(), &profile(New_York, None), &events);
        assert_eq!(findings, []);
        assert_eq!(state.totals(), (20, 180, 0));
        assert_eq!(state.cusum, 0.0);
    }

    #[test]
    fn evenings_and_weekends_of_an_ordinary_employee_never_fire() {
        // Office days 08:30-17:30, plus mail at 21:00 on the phone every day including the
        // weekend, and a whole Saturday of weekend work: every evening and weekend login
        // is outside the window, but every working day starts on time.
        let mut events = shifts(New_York, date(2025, 11, 10), 4, &WEEKDAYS, (8, 30), 9, 90);
        events.extend(shifts(
            New_York,
            date(2025, 11, 10),
            4,
            &WEEK,
            (21, 0),
            1,
            60,
        ));
        events.extend(shifts(
            New_York,
            date(2025, 11, 10),
            4,
            &[Weekday::Sat],
            (10, 0),
            6,
            60,
        ));
        events.sort_by_key(|e| e.time);
        let claim = profile(New_York, Some("08:30-17:30 Mon-Fri"));
        let (findings, state) = replay(&Config::default(), &claim, &events);
        assert_eq!(findings, []);
        let (_, logins, outside) = state.totals();
        // Evenings and weekends put three logins in ten outside the window.
        assert_eq!((outside, logins), (52, 172));
    }

    #[test]
    fn ordinary_office_hours_infer_the_claimed_offset_not_one_east() {
        // Sign-ins cluster at the start of the day (08:40 and 09:10, a few after lunch):
        // fitting whole-day histograms leaned an hour east; the start of work does not.
        let mut events = shifts(New_York, date(2025, 11, 10), 3, &WEEKDAYS, (8, 40), 1, 30);
        events.extend(shifts(
            New_York,
            date(2025, 11, 10),
            3,
            &WEEKDAYS,
            (9, 10),
            1,
            30,
        ));
        events.extend(shifts(
            New_York,
            date(2025, 11, 10),
            3,
            &WEEKDAYS,
            (13, 30),
            1,
            30,
        ));
        events.sort_by_key(|e| e.time);
        let claim = profile(New_York, Some("09:00-17:30 Mon-Fri"));
        let cfg = Config::default();
        let (_, state) = replay(&cfg, &claim, &events);
        let at = DateTime::parse_from_rfc3339("2025-12-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let found = super::inferred(&cfg, &claim, &state, at).unwrap();
        assert_eq!(
            found.inferred_offset_hours, found.claimed_offset_hours,
            "{found:?}"
        );
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

        // Without the roster pattern these hours start 13 hours after 09:00: UTC+6 (22:00
        // EST is 09:00 UTC+6).
        let (findings, _) = replay(&Config::default(), &profile(New_York, None), &events);
        let last = findings.last().expect("fires without the roster pattern");
        assert_eq!(last.severity, Severity::High);
        let (claimed, inferred, ..) = hours_evidence(last);
        assert_eq!((claimed, inferred), (-5.0, 6.0));
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
            state
                .days
                .iter()
                .all(|d| d.hours == nine_to_six && d.wake == 9 * 60),
            "{:?}",
            state.days
        );
        // And the inferred offset is the claimed one in both halves of the window.
        let cfg = Config::default();
        for (at, offset) in [
            ("2025-10-31T12:00:00Z", -4.0),
            ("2025-11-14T12:00:00Z", -5.0),
        ] {
            let at = DateTime::parse_from_rfc3339(at).unwrap().to_utc();
            let found = super::inferred(&cfg, &tight, &state, at).unwrap();
            assert_eq!(
                (found.claimed_offset_hours, found.inferred_offset_hours),
                (offset, offset)
            );
        }
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
        let (findings, state) = replay(&strict, &profile, &nights);
        assert_eq!(
            state.totals().2,
            15,
            "the 21:40 sign-ins fall outside without it"
        );
        assert_eq!(
            findings,
            [],
            "but the night starts on time: 20 minutes is not 3 hours"
        );
    }

    #[test]
    fn one_odd_working_day_never_fires_even_all_off_hours() {
        // One Korean working day (a New York Monday evening into Tuesday morning).
        let one_day: Vec<_> = shifts(
            Seoul,
            date(2025, 11, 11),
            1,
            &[Weekday::Tue],
            (9, 10),
            9,
            60,
        );
        let (findings, state) = replay(&Config::default(), &profile(New_York, None), &one_day);
        assert_eq!(findings, []);
        assert!(state.cusum > 0.0 && state.run.days == 1, "{:?}", state.run);
        let lenient = Config {
            min_active_days: 1,
            high_active_days: 1,
            alpha: 0.05,
            high_alpha: 0.03,
            ..Config::default()
        };
        let (findings, _) = replay(&lenient, &profile(New_York, None), &one_day);
        assert_eq!(
            severities(&findings),
            [Severity::High],
            "the day gate was what held it"
        );
    }

    #[test]
    fn a_day_started_on_time_takes_the_evidence_away() {
        // Two weeks as usual, then two odd starts (a sick Monday and Tuesday with evening
        // mail only), then the usual again: the odd days pass the high threshold of the
        // test, but the start of work over the window stays at home, and ordinary days
        // take the evidence away again: each about ln(0.1 / 0.975) = -2.28 against
        // ln(0.9 / 0.025) = +3.58 for an odd one, never below zero.
        let before = shifts(New_York, date(2025, 11, 10), 2, &WEEKDAYS, (9, 0), 8, 60);
        let odd = shifts(
            New_York,
            date(2025, 11, 24),
            1,
            &[Weekday::Mon, Weekday::Tue],
            (20, 0),
            1,
            60,
        );
        let after = shifts(
            New_York,
            date(2025, 11, 24),
            2,
            &[Weekday::Wed, Weekday::Thu, Weekday::Fri],
            (9, 0),
            8,
            60,
        );
        let events: Vec<_> = before.into_iter().chain(odd).chain(after).collect();
        let claim = profile(New_York, Some("09:00-18:00 Mon-Fri"));
        let (findings, state) = replay(&Config::default(), &claim, &events);
        assert_eq!(findings, []);
        assert_eq!(state.cusum, 0.0);
        // The same two days as someone's very first ones are a pattern of their own.
        let odd = shifts(
            New_York,
            date(2025, 11, 24),
            1,
            &[Weekday::Mon, Weekday::Tue],
            (20, 0),
            1,
            60,
        );
        let (findings, _) = replay(&Config::default(), &claim, &odd);
        assert_eq!(severities(&findings), [Severity::High]);
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
    fn a_phone_roaming_on_a_trip_is_quiet() {
        // A New Yorker in Seoul: hotel sign-ins located in Seoul, and the phone, roaming
        // through its US carrier, at Seoul's office hours. The hotel's location quiets the
        // phone's hours for a day after each stay abroad.
        let hotel = testkit::SEOUL.geo();
        let phone = testkit::SEATTLE.geo();
        let claim = profile(New_York, None);
        let (cfg, mut state) = (Config::default(), State::default());
        let mut findings = Vec::new();
        for (i, event) in korea_hours(1).iter().enumerate() {
            let geo = if i % 9 == 0 { &hotel } else { &phone };
            let ctx = Context {
                event,
                geo,
                profile: &claim,
                allowlisted: false,
                trip: None,
                network: &[],
                watch: &[],
            };
            findings.extend(check(&cfg, &ctx, &state));
            update(&cfg, &ctx, &mut state);
        }
        assert_eq!(findings, []);
        assert_eq!(state.totals(), (0, 0, 0));
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
        assert_eq!(state.run.days, 1, "the history under the old claim is gone");
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
        assert!(typical.len() <= 360, "{}", typical.len());
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
        assert!(worst.len() <= 900, "{}", worst.len());
        assert_eq!(postcard::from_bytes::<State>(&worst).unwrap(), full);
    }

    #[test]
    fn offset_inference_is_weekday_aware() {
        // Korean Mon–Fri in New York local time starts on Sunday evening: the start of
        // work is 19:10, ten hours after 09:00, so UTC+9 (not a day early).
        let cfg = Config::default();
        let at = DateTime::parse_from_rfc3339("2025-11-28T00:00:00Z")
            .unwrap()
            .to_utc();
        let (_, state) = replay(&cfg, &profile(New_York, None), &korea_hours(2));
        let found = super::inferred(&cfg, &profile(New_York, None), &state, at).unwrap();
        assert_eq!(found.inferred_offset_hours, 9.0);
        // Claimed in Seoul, the same activity is simply office hours.
        let (_, seoul) = replay(&cfg, &profile(Seoul, None), &korea_hours(2));
        let found = super::inferred(&cfg, &profile(Seoul, None), &seoul, at).unwrap();
        assert_eq!(found.inferred_offset_hours, 9.0);
        assert!(!found.differs(cfg.min_offset_gap_hours));
        // Starts around midnight average on the clock face, not to noon.
        assert_eq!(infer_offset(0.0, &cfg.model_workday, 9.0 * 60.0), 0.0);
        assert_eq!(
            infer_offset(-5.0, &cfg.model_workday, 19.0 * 60.0 + 10.0),
            9.0
        );
        // 23:00 in New York is 09:00 at UTC+5, around the clock.
        assert_eq!(infer_offset(-5.0, &cfg.model_workday, 23.0 * 60.0), 5.0);
        assert_eq!(infer_offset(-5.0, &cfg.model_workday, 3.0 * 60.0), 1.0);
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
        // Each working day off the claimed start is strong evidence, one on time most of
        // it away: two odd days pass high, one ordinary day almost undoes one.
        let cfg = Config::default();
        assert!(2.0 * cfg.step(true) >= (1.0 / cfg.high_alpha).ln());
        assert!(cfg.step(true) < (1.0 / cfg.alpha).ln());
        assert!(cfg.step(false) < -2.0);
    }

    #[test]
    fn config_defaults_validate_and_toml_overrides() {
        let cfg = Config::default();
        assert_eq!(cfg.validate(), Vec::<String>::new());
        assert_eq!(cfg.default_hours.to_string(), "07:00-20:00 Mon-Fri");
        assert_eq!(cfg.model_workday.to_string(), "09:00-18:00 Mon-Fri");
        let cfg: Config = toml::from_str(
            "default_hours = \"08:00-19:00 Mon-Sat\"\nmin_active_days = 3\nalpha = 0.001",
        )
        .unwrap();
        assert_eq!(cfg.default_hours.to_string(), "08:00-19:00 Mon-Sat");
        assert_eq!(
            (cfg.min_active_days, cfg.alpha, cfg.window_days),
            (3, 0.001, 28)
        );
        assert!(toml::from_str::<Config>("min_logins = 3").is_err());
        assert!(toml::from_str::<Config>("default_hours = \"9-5\"").is_err());

        let bad = Config {
            window_days: 90,
            min_active_days: 0,
            expected_outside_share: 1.0,
            alpha: 0.0,
            high_share_outside: 1.5,
            min_offset_gap_hours: 13.0,
            wake_gap_hours: 0,
            repeat_days: 0,
            high_risk: 101,
            ..Config::default()
        };
        let errors = bad.validate();
        for field in [
            "window_days",
            "min_active_days",
            "expected_outside_share",
            "shifted_outside_share",
            "alpha",
            "high_share_outside",
            "min_offset_gap_hours",
            "wake_gap_hours",
            "repeat_days",
            "high_risk",
            "high_alpha",
        ] {
            let prefix = format!("detect.working_hours.{field}:");
            assert!(
                errors.iter().any(|e| e.starts_with(&prefix)),
                "{field}: {errors:?}"
            );
        }
        assert_eq!(errors.len(), 11, "{errors:?}");
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
