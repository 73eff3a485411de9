//! Claimed working hours: a daily span of local time on a set of weekdays, such as
//! `09:00-18:00 Mon-Fri` or the night shift `22:00-06:00 Sun-Thu`.
//!
//! # Format
//!
//! `HH:MM-HH:MM DAYS`, where `DAYS` is a comma-separated list of days (`Mon`, `Tue`, ...
//! or full names, any case) and day ranges (`Mon-Fri`). A range may wrap around the week
//! (`Fri-Mon` is Friday, Saturday, Sunday, Monday). The end may be `24:00`; `00:00-24:00`
//! is the whole day. Days are required: HR writing `09:00-17:00` alone more likely means
//! weekdays than every day, so guessing would be wrong either way.
//!
//! A span whose end is not after its start crosses midnight. Its days name the day the
//! shift *starts*: `22:00-06:00 Sun-Thu` covers Sunday 22:00 to Monday 06:00, ..., and
//! Thursday 22:00 to Friday 06:00, but not Saturday 03:00.
//!
//! Times are local wall-clock times in the employee's claimed time zone; converting an
//! instant to that local time (and so handling DST) is the caller's job.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDateTime, NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MINUTES_PER_DAY: u16 = 24 * 60;

/// Monday-first, the order `Weekday::num_days_from_monday` uses and HR writes weeks in.
pub const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Why a `work_hours` value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkHoursError {
    /// No day list after the time span.
    #[error("missing days after the time span (e.g. \"09:00-18:00 Mon-Fri\")")]
    MissingDays,
    /// The span is not `HH:MM-HH:MM`.
    #[error("time span {0:?} is not HH:MM-HH:MM")]
    Span(String),
    /// A time is not `HH:MM` within the day.
    #[error("time {0:?} is not HH:MM between 00:00 and 24:00")]
    Time(String),
    /// Start and end are equal, so the span is empty (or meant 24 hours: write 00:00-24:00).
    #[error("start and end are both {0}; for the whole day write 00:00-24:00")]
    Empty(String),
    /// `24:00` used as a start.
    #[error("24:00 can only end a span")]
    StartAtMidnightEnd,
    /// A day name is not recognised.
    #[error("{0:?} is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)")]
    Day(String),
}

/// A set of weekdays, one bit per day, Monday = bit 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Days(u8);

impl Days {
    fn bit(day: Weekday) -> u8 {
        1 << day.num_days_from_monday()
    }

    fn insert(&mut self, day: Weekday) {
        self.0 |= Self::bit(day);
    }

    fn contains(self, day: Weekday) -> bool {
        self.0 & Self::bit(day) != 0
    }
}

/// A parsed `work_hours` value; see the module documentation for the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkHours {
    /// Minutes after local midnight, `0..1440`.
    start: u16,
    /// Minutes after local midnight, `1..=1440`; not after `start` means the span
    /// crosses midnight.
    end: u16,
    days: Days,
}

impl WorkHours {
    /// True when the local date and time falls within the claimed hours.
    pub fn contains(&self, local: NaiveDateTime) -> bool {
        self.contains_at(local.weekday(), local.time())
    }

    /// True when the local weekday and time of day fall within the claimed hours.
    pub fn contains_at(&self, day: Weekday, time: NaiveTime) -> bool {
        // Seconds are ignored: claims are written to the minute.
        let minute = (time.hour() * 60 + time.minute()) as u16;
        if self.crosses_midnight() {
            (self.days.contains(day) && minute >= self.start)
                || (self.days.contains(day.pred()) && minute < self.end)
        } else {
            self.days.contains(day) && self.start <= minute && minute < self.end
        }
    }

    /// True when a shift starting on this day is claimed.
    pub fn starts_on(&self, day: Weekday) -> bool {
        self.days.contains(day)
    }

    /// True when a shift runs past local midnight into the next day.
    pub fn crosses_midnight(&self) -> bool {
        self.end <= self.start
    }

    /// Start of the shift, in minutes after local midnight (`0..1440`).
    pub fn start_minute(&self) -> u16 {
        self.start
    }

    /// End of the shift, in minutes after local midnight (`1..=1440`); on the next day
    /// when [`WorkHours::crosses_midnight`].
    pub fn end_minute(&self) -> u16 {
        self.end
    }

    /// Length of one shift in minutes.
    pub fn shift_minutes(&self) -> u16 {
        if self.crosses_midnight() {
            MINUTES_PER_DAY - self.start + self.end
        } else {
            self.end - self.start
        }
    }
}

impl FromStr for WorkHours {
    type Err = WorkHoursError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (span, days) = s
            .split_once(char::is_whitespace)
            .ok_or(WorkHoursError::MissingDays)?;
        let (start, end) = span
            .split_once('-')
            .ok_or_else(|| WorkHoursError::Span(span.to_owned()))?;
        let start = parse_minute(start)?;
        let end = parse_minute(end)?;
        if start == MINUTES_PER_DAY {
            return Err(WorkHoursError::StartAtMidnightEnd);
        }
        // 00:00 as an end means midnight at the end of the day, like 24:00.
        let end = if end == 0 { MINUTES_PER_DAY } else { end };
        if start == end % MINUTES_PER_DAY && !(start == 0 && end == MINUTES_PER_DAY) {
            return Err(WorkHoursError::Empty(format_minute(start)));
        }
        Ok(WorkHours {
            start,
            end,
            days: parse_days(days)?,
        })
    }
}

fn parse_minute(s: &str) -> Result<u16, WorkHoursError> {
    let bad = || WorkHoursError::Time(s.to_owned());
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let two_digits = |t: &str| (1..=2).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || m.len() != 2 || !two_digits(m) {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    match (h, m) {
        (24, 0) => Ok(MINUTES_PER_DAY),
        (0..=23, 0..=59) => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

fn parse_days(s: &str) -> Result<Days, WorkHoursError> {
    let mut days = Days::default();
    for item in s.split(',').map(str::trim) {
        match item.split_once('-') {
            Some((from, to)) => {
                let from = parse_day(from)?;
                let to = parse_day(to)?;
                let mut day = from;
                // At most seven steps: a range wraps around the week once.
                for _ in 0..7 {
                    days.insert(day);
                    if day == to {
                        break;
                    }
                    day = day.succ();
                }
            }
            None => days.insert(parse_day(item)?),
        }
    }
    Ok(days)
}

fn parse_day(s: &str) -> Result<Weekday, WorkHoursError> {
    let t = s.trim();
    // chrono accepts "mon" and "monday" in any case, which is what HR exports write.
    t.parse::<Weekday>()
        .map_err(|_| WorkHoursError::Day(t.to_owned()))
}

fn format_minute(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Mon",
        Weekday::Tue => "Tue",
        Weekday::Wed => "Wed",
        Weekday::Thu => "Thu",
        Weekday::Fri => "Fri",
        Weekday::Sat => "Sat",
        Weekday::Sun => "Sun",
    }
}

impl fmt::Display for Days {
    /// Runs of consecutive days as ranges, from Monday unless a run wraps over the
    /// weekend, which then leads: `Sun-Thu` prints as written, not as `Mon-Thu,Sun`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(last_off) = WEEK.iter().rposition(|d| !self.contains(*d)) else {
            return f.write_str("Mon-Sun");
        };
        let wraps = self.contains(Weekday::Sun) && self.contains(Weekday::Mon);
        // Scanning starts the day after `off`.
        let off = if wraps { last_off } else { WEEK.len() - 1 };
        let mut first = true;
        let mut run: Option<(Weekday, Weekday)> = None;
        let mut flush = |run: Option<(Weekday, Weekday)>, f: &mut fmt::Formatter<'_>| {
            let Some((a, b)) = run else { return Ok(()) };
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if a == b {
                f.write_str(day_name(a))
            } else {
                write!(f, "{}-{}", day_name(a), day_name(b))
            }
        };
        for step in 1..=7 {
            let day = WEEK[(off + step) % 7];
            if self.contains(day) {
                run = Some(run.map_or((day, day), |(a, _)| (a, day)));
            } else {
                flush(run.take(), f)?;
            }
        }
        flush(run, f)
    }
}

impl fmt::Display for WorkHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{} {}",
            format_minute(self.start),
            format_minute(self.end),
            self.days
        )
    }
}

/// Serialised as its text form, the same the roster file uses.
impl Serialize for WorkHours {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WorkHours {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn wh(s: &str) -> WorkHours {
        s.parse().unwrap()
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn day_shift() {
        let w = wh("09:00-18:00 Mon-Fri");
        assert!(w.contains_at(Weekday::Mon, t(9, 0)));
        assert!(w.contains_at(Weekday::Fri, t(17, 59)));
        assert!(!w.contains_at(Weekday::Fri, t(18, 0)), "end is exclusive");
        assert!(!w.contains_at(Weekday::Wed, t(8, 59)));
        assert!(!w.contains_at(Weekday::Sat, t(12, 0)));
        assert!(!w.crosses_midnight());
        assert_eq!(w.shift_minutes(), 9 * 60);
    }

    #[test]
    fn night_shift_belongs_to_the_day_it_starts() {
        let w = wh("22:00-06:00 Sun-Thu");
        assert!(w.crosses_midnight());
        assert_eq!(w.shift_minutes(), 8 * 60);
        assert!(w.contains_at(Weekday::Sun, t(22, 0)));
        assert!(w.contains_at(Weekday::Mon, t(3, 0)), "Sunday's shift");
        assert!(w.contains_at(Weekday::Fri, t(5, 59)), "Thursday's shift");
        assert!(
            !w.contains_at(Weekday::Fri, t(22, 30)),
            "no shift starts Friday"
        );
        assert!(!w.contains_at(Weekday::Sat, t(3, 0)), "Friday started none");
        assert!(
            !w.contains_at(Weekday::Sun, t(3, 0)),
            "Saturday started none"
        );
        assert!(!w.contains_at(Weekday::Tue, t(6, 0)), "end is exclusive");
        assert!(!w.contains_at(Weekday::Tue, t(12, 0)));
        let local = chrono::NaiveDate::from_ymd_opt(2025, 3, 10) // a Monday
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert!(w.contains(local));
    }

    #[test]
    fn day_lists_and_wrapping_ranges() {
        let w = wh("10:00-14:00 mon, Wednesday,FRI");
        let on: Vec<_> = WEEK.iter().filter(|d| w.starts_on(**d)).collect();
        assert_eq!(on, [&Weekday::Mon, &Weekday::Wed, &Weekday::Fri]);
        let w = wh("08:00-16:00 Fri-Mon");
        let on: Vec<_> = WEEK.iter().filter(|d| w.starts_on(**d)).collect();
        assert_eq!(
            on,
            [&Weekday::Mon, &Weekday::Fri, &Weekday::Sat, &Weekday::Sun]
        );
    }

    #[test]
    fn whole_day_and_midnight_ends() {
        let w = wh("00:00-24:00 Mon-Sun");
        assert!(w.contains_at(Weekday::Thu, t(0, 0)));
        assert!(w.contains_at(Weekday::Thu, t(23, 59)));
        assert_eq!(w.shift_minutes(), MINUTES_PER_DAY);
        assert_eq!(wh("18:00-00:00 Sat"), wh("18:00-24:00 Sat"));
        assert!(!wh("18:00-24:00 Sat").contains_at(Weekday::Sun, t(0, 0)));
    }

    #[test]
    fn bad_forms_are_rejected_with_a_reason() {
        use WorkHoursError as E;
        let err = |s: &str| s.parse::<WorkHours>().unwrap_err();
        assert_eq!(err("09:00-18:00"), E::MissingDays);
        assert_eq!(err(""), E::MissingDays);
        assert_eq!(err("0900 Mon"), E::Span("0900".into()));
        assert_eq!(err("0900-1800 Mon"), E::Time("0900".into()));
        assert_eq!(err("09:00-25:00 Mon"), E::Time("25:00".into()));
        assert_eq!(err("09:60-18:00 Mon"), E::Time("09:60".into()));
        assert_eq!(err("9:0-18:00 Mon"), E::Time("9:0".into()));
        assert_eq!(err("+9:00-18:00 Mon"), E::Time("+9:00".into()));
        assert_eq!(err("09:00-09:00 Mon"), E::Empty("09:00".into()));
        assert_eq!(err("24:00-06:00 Mon"), E::StartAtMidnightEnd);
        assert_eq!(err("09:00-18:00 Mon-Fry"), E::Day("Fry".into()));
        assert_eq!(err("09:00-18:00 Mon,,Fri"), E::Day("".into()));
        assert_eq!(err("09:00-18:00 weekdays"), E::Day("weekdays".into()));
    }

    #[test]
    fn displays_canonically() {
        assert_eq!(wh("22:00-06:00 sun-thu").to_string(), "22:00-06:00 Sun-Thu");
        assert_eq!(
            wh("9:00-17:30 Mon,Tue,Wed").to_string(),
            "09:00-17:30 Mon-Wed"
        );
        assert_eq!(
            wh("09:00-17:00 Mon,Wed,Fri").to_string(),
            "09:00-17:00 Mon,Wed,Fri"
        );
        assert_eq!(wh("00:00-24:00 Mon-Sun").to_string(), "00:00-24:00 Mon-Sun");
        assert_eq!(wh("08:00-16:00 Fri-Mon").to_string(), "08:00-16:00 Fri-Mon");
        assert_eq!(wh("08:00-16:00 Sun,Tue").to_string(), "08:00-16:00 Tue,Sun");
        assert_eq!(
            serde_json::to_string(&wh("09:00-18:00 Mon-Fri")).unwrap(),
            "\"09:00-18:00 Mon-Fri\""
        );
    }

    proptest! {
        #[test]
        fn display_round_trips(start in 0u16..1440, end in 1u16..=1440, days in 1u8..128) {
            prop_assume!(start != end % MINUTES_PER_DAY || (start == 0 && end == MINUTES_PER_DAY));
            let w = WorkHours { start, end, days: Days(days) };
            prop_assert_eq!(w.to_string().parse::<WorkHours>(), Ok(w));
        }

        #[test]
        fn every_shift_minute_is_contained(start in 0u16..1440, len in 1u16..1440, day in 0usize..7) {
            let end = (start + len - 1) % MINUTES_PER_DAY + 1;
            let mut days = Days::default();
            days.insert(WEEK[day]);
            let w = WorkHours { start, end, days };
            prop_assert_eq!(w.shift_minutes(), len);
            let inside = (0..7usize * 1440)
                .filter(|m| {
                    let time = NaiveTime::from_hms_opt((m % 1440 / 60) as u32, (m % 60) as u32, 0).unwrap();
                    w.contains_at(WEEK[m / 1440], time)
                })
                .count();
            prop_assert_eq!(inside, usize::from(len));
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<WorkHours>();
        }
    }
}
