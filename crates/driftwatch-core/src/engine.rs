//! The detection engine: per-employee state, detectors and risk, applied to resolved and
//! enriched events in event-time order.
//!
//! Events may arrive out of order (several sources, collectors that batch). The engine holds
//! them in a reorder buffer and applies them once the watermark — the latest event time
//! seen — has passed them by the configured lateness, so any order within the lateness gives
//! the same state and the same alerts. An event later than that is still applied (never
//! dropped) and counted as late. `flush` applies everything held, at the end of a replay.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::alert::{Alert, Finding, Severity};
use crate::detect::{self, Context, DetectConfig};
use crate::enrich::Geo;
use crate::event::LoginEvent;
use crate::risk;
use crate::roster::{EmployeeId, Roster};
use crate::state::EmployeeState;
use crate::suppress::{Disposition, Silence, Suppressions, Verdict};

/// A decoded event resolved to an employee and enriched: the engine's input.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub event: LoginEvent,
    pub employee: EmployeeId,
    pub geo: Arc<Geo>,
}

impl Resolved {
    /// Total order used by the reorder buffer: event time first, then the event's own
    /// content, so equal times are applied in the same order whatever order they came in.
    fn order_key(&self) -> impl Ord + '_ {
        let e = &self.event;
        (
            e.time,
            &self.employee,
            e.format,
            e.source_id.as_deref(),
            e.ip,
            e.kind.as_str(),
            &e.user,
        )
    }
}

/// An event held in a reorder buffer, with what its holder needs to remember about it.
/// Boxed, with its sort key computed once, so heap operations move a few words and compare
/// integers rather than strings.
struct Pending<T> {
    time: DateTime<Utc>,
    /// A stable hash of the event's content: orders equal times the same way whatever
    /// order they arrived in. Full content comparison settles the (rare) hash ties.
    tiebreak: u64,
    item: Box<Resolved>,
    tag: T,
}

impl<T> Pending<T> {
    fn new(item: Resolved, tag: T) -> Pending<T> {
        // FNV-1a: stable across runs and machines (unlike the std RandomState hasher).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for b in bytes.iter().chain([0xffu8].iter()) {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        let e = &item.event;
        feed(item.employee.0.as_bytes());
        feed(e.format.as_str().as_bytes());
        feed(e.source_id.as_deref().unwrap_or("").as_bytes());
        match e.ip {
            std::net::IpAddr::V4(a) => feed(&a.octets()),
            std::net::IpAddr::V6(a) => feed(&a.octets()),
        }
        feed(e.kind.as_str().as_bytes());
        feed(e.user.as_bytes());
        Pending {
            time: e.time,
            tiebreak: h,
            item: Box::new(item),
            tag,
        }
    }
}

impl<T> PartialEq for Pending<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl<T> Eq for Pending<T> {}
impl<T> PartialOrd for Pending<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Pending<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.tiebreak)
            .cmp(&(other.time, other.tiebreak))
            .then_with(|| self.item.order_key().cmp(&other.item.order_key()))
    }
}

/// Events held until a watermark passes them, released in one total order: event time,
/// then the event's content. `replay`'s engine and the service's detect and infra stages
/// all hold events here, so whatever order records arrive in, each applies them in the
/// same order. `T` is what the holder keeps beside each event (the service: where the
/// record came from).
pub struct ReorderBuffer<T> {
    heap: BinaryHeap<Reverse<Pending<T>>>,
}

impl<T> Default for ReorderBuffer<T> {
    fn default() -> Self {
        ReorderBuffer {
            heap: BinaryHeap::new(),
        }
    }
}

impl<T> ReorderBuffer<T> {
    /// Hold one event.
    pub fn push(&mut self, item: Resolved, tag: T) {
        self.heap.push(Reverse(Pending::new(item, tag)));
    }

    /// The earliest event held, if it is at or before `until` (everything when `None`).
    pub fn pop_until(&mut self, until: Option<DateTime<Utc>>) -> Option<(Resolved, T)> {
        let Reverse(next) = self.heap.peek()?;
        if until.is_some_and(|u| next.time > u) {
            return None;
        }
        let Reverse(next) = self.heap.pop()?;
        Some((*next.item, next.tag))
    }

    /// The earliest event held: its time and what was kept beside it.
    pub fn peek(&self) -> Option<(DateTime<Utc>, &T)> {
        self.heap.peek().map(|Reverse(p)| (p.time, &p.tag))
    }

    /// What is kept beside every event held, in no particular order.
    pub fn tags(&self) -> impl Iterator<Item = &T> {
        self.heap.iter().map(|Reverse(p)| &p.tag)
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Drop everything held.
    pub fn clear(&mut self) {
        self.heap.clear();
    }
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub detect: DetectConfig,
    pub risk: risk::Config,
    /// How late an event may arrive and still be applied in order.
    pub lateness: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            detect: DetectConfig::default(),
            risk: risk::Config::default(),
            lateness: Duration::hours(6),
        }
    }
}

/// The detection engine.
pub struct Engine {
    settings: Settings,
    /// Boxed: a state is some 600 bytes, and a map of them inline would hold that much again
    /// in every empty slot of its table.
    states: HashMap<EmployeeId, Box<EmployeeState>>,
    network: detect::shared_infrastructure::NetworkIndex,
    pending: ReorderBuffer<()>,
    watermark: Option<DateTime<Utc>>,
    late: u64,
    /// Findings made since the last `take_finding_counts`, by rule and severity.
    finding_counts: BTreeMap<(&'static str, Severity), u64>,
}

impl Engine {
    pub fn new(settings: Settings) -> Engine {
        Engine {
            settings,
            states: HashMap::new(),
            network: Default::default(),
            pending: ReorderBuffer::default(),
            watermark: None,
            late: 0,
            finding_counts: BTreeMap::new(),
        }
    }

    /// Take one event; returns the alerts of every event the watermark released.
    pub fn push(&mut self, item: Resolved, roster: &Roster, suppress: &Suppressions) -> Vec<Alert> {
        let time = item.event.time;
        let mut alerts = Vec::new();
        if self
            .watermark
            .is_some_and(|w| time < w - self.settings.lateness)
        {
            self.late += 1;
            alerts.extend(self.apply_now(item, Vec::new(), roster, suppress));
            return alerts;
        }
        self.pending.push(item, ());
        self.watermark = Some(self.watermark.map_or(time, |w| w.max(time)));
        let release = self.watermark.map(|w| w - self.settings.lateness);
        while let Some((next, ())) = self.pending.pop_until(release) {
            alerts.extend(self.apply_now(next, Vec::new(), roster, suppress));
        }
        alerts
    }

    /// Apply everything still held (end of input).
    pub fn flush(&mut self, roster: &Roster, suppress: &Suppressions) -> Vec<Alert> {
        let mut alerts = Vec::new();
        while let Some((next, ())) = self.pending.pop_until(None) {
            alerts.extend(self.apply_now(next, Vec::new(), roster, suppress));
        }
        alerts
    }

    /// Apply one event now, with findings made elsewhere about it (in the service, the
    /// infra stage's shared-infrastructure findings): the caller has put it in order (the
    /// service's stages hold events in a [`ReorderBuffer`] of their own). The findings join
    /// the event's own in the registration order, so the alert reads as `replay`'s, which
    /// makes every finding in one place.
    pub fn apply_now(
        &mut self,
        item: Resolved,
        elsewhere: Vec<Finding>,
        roster: &Roster,
        suppress: &Suppressions,
    ) -> Option<Alert> {
        let Resolved {
            event,
            employee,
            geo,
        } = item;
        // The roster may have been reloaded without this employee since the event was
        // resolved: nothing to compare with, so nothing to score.
        let profile = roster.get(&employee)?;
        let cfg = &self.settings.detect;
        let network = self
            .network
            .view(&cfg.shared_infrastructure, &event, &employee);
        let ctx = Context {
            event: &event,
            geo: &geo,
            profile,
            allowlisted: suppress.is_allowlisted(event.ip, &geo),
            trip: suppress.trip(&employee, event.time, geo.country.as_deref()),
            network: &network,
            watch: &cfg.watch_countries,
        };
        // Look up before inserting: `entry` would clone the id on every event.
        if !self.states.contains_key(&employee) {
            self.states.insert(employee.clone(), Box::default());
        }
        let state = self.states.get_mut(&employee)?;
        let mut findings = detect::apply(cfg, &ctx, &mut state.detectors);
        if !elsewhere.is_empty() {
            findings.extend(elsewhere);
            // Stable: findings of one rule keep their order.
            findings.sort_by_key(|f| detect::NAMES.iter().position(|n| *n == f.rule));
        }
        for f in &findings {
            *self.finding_counts.entry((f.rule, f.severity)).or_default() += 1;
        }
        state.touch(event.time, event.kind.is_interactive());
        self.network.observe(&cfg.shared_infrastructure, &ctx);
        score(&self.settings.risk, state, &employee, &event, findings)
    }

    /// Score findings made elsewhere about one of this engine's employees — in the streaming
    /// service, shared-infrastructure findings from the infra stage, which sees every
    /// employee on a network while this engine sees only its partition's employees.
    pub fn apply_findings(
        &mut self,
        employee: &EmployeeId,
        event: &LoginEvent,
        findings: Vec<Finding>,
    ) -> Option<Alert> {
        if !self.states.contains_key(employee) {
            self.states.insert(employee.clone(), Box::default());
        }
        let state = self.states.get_mut(employee)?;
        score(&self.settings.risk, state, employee, event, findings)
    }

    /// Put back an employee's state read from durable storage (the streaming service's
    /// changelog), replacing whatever the engine held.
    pub fn restore(&mut self, employee: EmployeeId, state: EmployeeState) {
        self.states.insert(employee, Box::new(state));
    }

    /// Forget an employee (their partition moved to another instance).
    pub fn forget(&mut self, employee: &EmployeeId) -> Option<EmployeeState> {
        self.states.remove(employee).map(|s| *s)
    }

    /// Employees held, for metrics.
    pub fn employees(&self) -> usize {
        self.states.len()
    }

    /// Apply an analyst's disposition: a benign or false-positive verdict closes the
    /// employee's open alert, takes its rules' risk away and silences them from the
    /// disposition's time until its end; a true positive changes nothing.
    pub fn dispose(&mut self, d: &Disposition) {
        if d.verdict == Verdict::TruePositive {
            return;
        }
        let state = self.states.entry(d.employee_id.clone()).or_default();
        let rules = if d.rules.is_empty() {
            state
                .risk
                .open
                .as_ref()
                .map(|o| o.rules.clone())
                .unwrap_or_default()
        } else {
            d.rules.clone()
        };
        if rules.is_empty() {
            return;
        }
        let until = d
            .until
            .unwrap_or(d.time + Duration::days(crate::suppress::DEFAULT_SUPPRESSION_DAYS));
        for r in &rules {
            state.risk.by_rule.remove(r);
        }
        if state
            .risk
            .open
            .as_ref()
            .is_some_and(|o| o.rules.iter().all(|r| rules.contains(r)))
        {
            state.risk.open = None;
        }
        state.silences.retain(|s| s.until > d.time);
        state.silences.push(Silence {
            rules,
            from: d.time,
            until,
        });
        while state.silences.len() > crate::state::MAX_SILENCES {
            state.silences.remove(0);
        }
    }

    /// What the engine knows about an employee.
    pub fn state(&self, employee: &EmployeeId) -> Option<&EmployeeState> {
        self.states.get(employee).map(|s| &**s)
    }

    /// Every employee's state.
    pub fn states(&self) -> impl Iterator<Item = (&EmployeeId, &EmployeeState)> {
        self.states.iter().map(|(e, s)| (e, &**s))
    }

    /// Findings made since the last call, by rule and severity (silenced ones included:
    /// the rule still fired).
    pub fn take_finding_counts(&mut self) -> Vec<(&'static str, Severity, u64)> {
        std::mem::take(&mut self.finding_counts)
            .into_iter()
            .map(|((r, s), n)| (r, s, n))
            .collect()
    }

    /// Events that arrived later than the lateness allows (applied anyway).
    pub fn late_events(&self) -> u64 {
        self.late
    }

    /// Events held in the reorder buffer.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// Risk for one event's findings, minus the rules an analyst silenced. Silenced rules still
/// learn (the detectors' state was updated before this); they just add no risk and no alert.
fn score(
    cfg: &risk::Config,
    state: &mut EmployeeState,
    employee: &EmployeeId,
    event: &LoginEvent,
    mut findings: Vec<Finding>,
) -> Option<Alert> {
    let time = event.time;
    findings.retain(|f| !state.silences.iter().any(|s| s.covers(f.rule, time)));
    risk::apply(cfg, &mut state.risk, employee, event, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertStatus;
    use crate::detect::testkit::{self, NEW_YORK, SEOUL};

    fn roster() -> Roster {
        Roster::from_csv_reader(
            "employee_id,aliases,claimed_country,claimed_city,claimed_lat,claimed_lon,claimed_timezone,status\n\
             E1,e1@corp.example,US,New York,40.7128,-74.006,America/New_York,active\n"
                .as_bytes(),
        )
        .unwrap()
    }

    fn day0() -> DateTime<Utc> {
        testkit::at("2026-03-02T14:00:00Z")
    }

    /// E1 (claims New York) signs in from Seoul on `day`.
    fn abroad(day: i64) -> Resolved {
        let profile = NEW_YORK.profile("E1");
        let mut event = testkit::login(&profile, "203.0.113.9", day0() + Duration::days(day));
        event.source_id = Some(format!("s{day}"));
        Resolved {
            event,
            employee: EmployeeId("E1".into()),
            geo: Arc::new(SEOUL.geo()),
        }
    }

    fn engine() -> Engine {
        Engine::new(Settings {
            lateness: Duration::zero(),
            ..Settings::default()
        })
    }

    fn disposition(verdict: Verdict, alert: &Alert) -> Disposition {
        Disposition {
            employee_id: EmployeeId("E1".into()),
            alert_id: Some(alert.id.clone()),
            verdict,
            rules: vec![],
            time: day0() + Duration::hours(1),
            until: Some(day0() + Duration::days(10)),
            note: "known assignment in Seoul".into(),
        }
    }

    #[test]
    fn a_benign_disposition_silences_the_repeat_alert_until_it_ends() {
        let (roster, sup, mut engine) = (roster(), Suppressions::default(), engine());
        let first = engine.push(abroad(0), &roster, &sup);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].rules, ["claimed_location"]);

        engine.dispose(&disposition(Verdict::Benign, &first[0]));
        let state = engine.state(&EmployeeId("E1".into())).unwrap();
        assert_eq!(state.risk.open, None, "the alert is closed");
        assert_eq!(
            state.risk.by_rule.get("claimed_location"),
            None,
            "its risk is gone"
        );
        for day in 1..10 {
            assert_eq!(
                engine.push(abroad(day), &roster, &sup),
                [],
                "day {day} is silenced"
            );
        }
        // The silence ends on day 10: the behaviour alerts again, as a new alert.
        let again = engine.push(abroad(12), &roster, &sup);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].status, AlertStatus::Open);
        assert_ne!(again[0].id, first[0].id);
        // The detector kept learning while silenced: twelve days abroad is persistent.
        assert_eq!(again[0].severity, crate::alert::Severity::High);
    }

    #[test]
    fn a_true_positive_changes_nothing() {
        let (roster, sup, mut engine) = (roster(), Suppressions::default(), engine());
        let first = engine.push(abroad(0), &roster, &sup);
        engine.dispose(&disposition(Verdict::TruePositive, &first[0]));
        let state = engine.state(&EmployeeId("E1".into())).unwrap();
        assert!(state.risk.open.is_some());
        assert!(state.silences.is_empty());
    }
}
