//! What the analyst API answers from: an in-memory view of every employee's state summary,
//! every alert line and every disposition, fed from outside (the streaming driver follows
//! the changelog, alerts and dispositions topics; tests feed it directly).
//!
//! Only summaries are kept per employee (a few hundred bytes, not the whole state), so
//! one instance can hold the view of the whole company.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::alert::{Alert, Evidence, Severity};
use crate::detect::working_hours;
use crate::risk::OpenAlert;
use crate::roster::{EmployeeId, Roster};
use crate::state::EmployeeState;
use crate::suppress::{Disposition, Silence};

/// Alert lines kept per employee for "recent findings".
const RECENT_PER_EMPLOYEE: usize = 20;

/// The summary of one employee's learned state.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub events: u64,
    pub interactive_logins: u64,
    /// Countries the baseline learned from, most logins first.
    pub countries: Vec<CountryCount>,
    /// Autonomous systems learned from, most logins first (at most 10).
    pub asns: Vec<AsnCount>,
    /// Share of logins through an anonymizer over the anonymizer detector's window.
    pub anonymizer_share: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountryCount {
    pub country: String,
    pub logins: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct AsnCount {
    pub asn: u32,
    pub logins: u32,
}

/// The risk of an employee as of their last event.
#[derive(Debug, Clone, Serialize)]
pub struct Risk {
    pub score: f64,
    /// `None` below the lowest level.
    pub level: Option<Severity>,
    pub open_alert: Option<OpenAlertView>,
}

/// The alert an employee has open, as the API shows it (what its lines said is in the
/// alert itself).
#[derive(Debug, Clone, Serialize)]
pub struct OpenAlertView {
    pub id: String,
    pub opened: chrono::DateTime<chrono::Utc>,
    pub severity: Severity,
    pub rules: Vec<String>,
}

impl From<&OpenAlert> for OpenAlertView {
    fn from(o: &OpenAlert) -> OpenAlertView {
        OpenAlertView {
            id: o.id.clone(),
            opened: o.opened,
            severity: o.severity,
            rules: o.rules.clone(),
        }
    }
}

/// What the view holds per employee: the state's summary once a state was read (`None`
/// for an employee known only from an alert line, or whose state was removed).
#[derive(Debug, Clone, Default)]
struct EmployeeEntry {
    baseline: Option<Baseline>,
    risk: Option<Risk>,
    hours: working_hours::State,
    silences: Vec<Silence>,
    /// Ids of this employee's alerts, oldest first.
    alerts: Vec<String>,
}

/// One alert: every line of it, newest last, and its dispositions.
#[derive(Debug, Clone, Serialize)]
pub struct AlertEntry {
    /// The current line: the latest written (not the latest event time).
    pub alert: Alert,
    /// Every line (open, then escalations), in the order written.
    pub history: Vec<Alert>,
    pub dispositions: Vec<Disposition>,
}

impl AlertEntry {
    /// `disposed` once an analyst recorded a verdict, else the latest line's status.
    pub fn status(&self) -> &'static str {
        if !self.dispositions.is_empty() {
            return "disposed";
        }
        self.alert.status.as_str()
    }
}

/// A network several employees claiming different places logged in from
/// (`shared_infrastructure` evidence), with the alerts that named it.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    pub network: String,
    pub employees_on_network: u32,
    pub members: BTreeMap<String, ClusterMemberView>,
    pub alert_ids: Vec<String>,
    pub last_seen: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterMemberView {
    pub claimed_country: String,
    pub claimed_city: Option<String>,
    pub last_seen: DateTime<Utc>,
}

#[derive(Default)]
struct Inner {
    employees: HashMap<EmployeeId, EmployeeEntry>,
    alerts: HashMap<String, AlertEntry>,
    /// Alert ids in the order their first line arrived.
    order: Vec<String>,
    clusters: BTreeMap<String, Cluster>,
}

/// The view; cheap to read concurrently, written by one feeder.
#[derive(Default)]
pub struct View {
    inner: RwLock<Inner>,
    risk: crate::risk::Config,
    hours: working_hours::Config,
}

/// An employee as the API shows them.
#[derive(Debug, Clone, Serialize)]
pub struct EmployeeView {
    pub employee_id: String,
    pub claimed: Option<Claimed>,
    pub baseline: Option<Baseline>,
    pub inferred_timezone: Option<working_hours::Inferred>,
    pub risk: Option<Risk>,
    pub silences: Vec<Silence>,
    /// The employee's latest alert lines (rules, severity, summary, evidence).
    pub recent_findings: Vec<Alert>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Claimed {
    pub country: String,
    pub region: Option<String>,
    pub city: Option<String>,
    pub timezone: String,
    pub work_hours: Option<String>,
    pub status: String,
    pub group: Option<String>,
    /// The roster's claimed point (`claimed_lat`, `claimed_lon`), degrees; left out when
    /// the roster gives none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
}

/// How the employee list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmployeeOrder {
    /// By employee id.
    #[default]
    Id,
    /// Highest risk score first (ties by id); employees without a risk last.
    Risk,
}

/// What kind of place a [`Place`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    /// Where the roster says the employee works.
    Claimed,
    /// Where a login named by one of the employee's alert lines geolocated.
    Observed,
}

/// One place of one employee, for a map: the roster's claimed point, or the location
/// evidence of the employee's alert lines.
#[derive(Debug, Clone, Serialize)]
pub struct Place {
    pub employee_id: String,
    pub kind: PlaceKind,
    pub lat: f64,
    pub lon: f64,
    pub country: Option<String>,
    pub city: Option<String>,
    /// The alert whose line showed the place (`observed` only).
    pub alert_id: Option<String>,
    /// The event time of the latest alert line that showed it (`observed` only).
    pub time: Option<DateTime<Utc>>,
    /// That line's severity (`observed` only).
    pub severity: Option<Severity>,
}

/// Filters of the alert list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertFilter {
    /// `open`, `escalated` or `disposed`.
    pub status: Option<String>,
    pub severity: Option<Severity>,
    pub rule: Option<String>,
    pub employee_id: Option<String>,
    /// Latest line's event time at or after.
    pub from: Option<DateTime<Utc>>,
    /// Latest line's event time before.
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<usize>,
}

impl View {
    pub fn new(risk: crate::risk::Config, hours: working_hours::Config) -> View {
        View {
            inner: RwLock::default(),
            risk,
            hours,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// An employee's state changed (a changelog record).
    pub fn apply_state(&self, employee: &EmployeeId, state: &EmployeeState) {
        let d = &state.detectors;
        let baseline = Baseline {
            first_seen: state.first_seen,
            last_seen: state.last_seen,
            events: state.events,
            interactive_logins: state.interactive,
            countries: d
                .novelty
                .countries()
                .into_iter()
                .map(|(country, logins)| CountryCount { country, logins })
                .collect(),
            asns: d
                .novelty
                .asns()
                .into_iter()
                .take(10)
                .map(|(asn, logins)| AsnCount { asn, logins })
                .collect(),
            anonymizer_share: d.anonymizer.share(),
        };
        let score = state
            .last_seen
            .map_or(0.0, |t| state.risk.score_at(&self.risk, t));
        // The level of the score shown, so the two never disagree at a boundary.
        let score = (score * 10.0).round() / 10.0;
        let risk = Risk {
            score,
            level: self.risk.level(score),
            open_alert: state.risk.open.as_ref().map(OpenAlertView::from),
        };
        let mut inner = self.write();
        let entry = inner.employees.entry(employee.clone()).or_default();
        entry.baseline = Some(baseline);
        entry.risk = Some(risk);
        entry.hours = d.working_hours.clone();
        entry.silences = state.silences.clone();
    }

    /// An employee's state was removed (a changelog tombstone): their summary goes, the
    /// index of their alerts stays.
    pub fn remove_state(&self, employee: &EmployeeId) {
        if let Some(e) = self.write().employees.get_mut(employee) {
            *e = EmployeeEntry {
                alerts: std::mem::take(&mut e.alerts),
                ..EmployeeEntry::default()
            };
        }
    }

    /// An alert line was written.
    pub fn apply_alert(&self, alert: &Alert) {
        let mut inner = self.write();
        let inner = &mut *inner;
        match inner.alerts.get_mut(&alert.id) {
            Some(e) => {
                if e.history.iter().any(|a| a == alert) {
                    return; // a redelivered line
                }
                // The latest line written is the current one, whatever its event time: an
                // escalation raised by a late event can carry an earlier time than the
                // line it escalates. One employee's lines share a partition of the alerts
                // topic, so they arrive in the order the detect stage wrote them, the
                // order the route stage pages them in.
                e.history.push(alert.clone());
                e.alert = alert.clone();
            }
            None => {
                inner.alerts.insert(
                    alert.id.clone(),
                    AlertEntry {
                        alert: alert.clone(),
                        history: vec![alert.clone()],
                        dispositions: Vec::new(),
                    },
                );
                inner.order.push(alert.id.clone());
                let e = inner
                    .employees
                    .entry(alert.employee_id.clone())
                    .or_default();
                e.alerts.push(alert.id.clone());
            }
        }
        for ev in &alert.evidence {
            if let Evidence::Cluster {
                network,
                employees_on_network,
                members,
            } = ev
            {
                let c = inner
                    .clusters
                    .entry(network.clone())
                    .or_insert_with(|| Cluster {
                        network: network.clone(),
                        employees_on_network: *employees_on_network,
                        members: BTreeMap::new(),
                        alert_ids: Vec::new(),
                        last_seen: alert.time,
                    });
                c.employees_on_network = c.employees_on_network.max(*employees_on_network);
                c.last_seen = c.last_seen.max(alert.time);
                if !c.alert_ids.contains(&alert.id) {
                    c.alert_ids.push(alert.id.clone());
                }
                for m in members {
                    c.members.insert(
                        m.employee_id.0.to_string(),
                        ClusterMemberView {
                            claimed_country: m.claimed_country.clone(),
                            claimed_city: m.claimed_city.clone(),
                            last_seen: m.last_seen,
                        },
                    );
                }
            }
        }
    }

    /// An analyst's disposition was recorded.
    pub fn apply_disposition(&self, d: &Disposition) {
        let Some(id) = &d.alert_id else { return };
        if let Some(e) = self.write().alerts.get_mut(id)
            && !e.dispositions.contains(d)
        {
            e.dispositions.push(d.clone());
        }
    }

    /// Employees in the roster or the view, sorted by `order`; `min_level`: only those at
    /// that level or above; `limit`: at most that many (after sorting).
    pub fn employees(
        &self,
        roster: &Roster,
        min_level: Option<Severity>,
        order: EmployeeOrder,
        limit: Option<usize>,
    ) -> Vec<EmployeeView> {
        let inner = self.read();
        let mut out: Vec<EmployeeView> = Self::ids(&inner, roster)
            .into_iter()
            .map(|id| self.employee_in(&inner, roster, id, 0))
            .filter(|e| at_least(e.risk.as_ref(), min_level))
            .collect();
        if order == EmployeeOrder::Risk {
            // Stable: ties keep the id order.
            let score = |e: &EmployeeView| e.risk.as_ref().map_or(-1.0, |r| r.score);
            out.sort_by(|a, b| score(b).total_cmp(&score(a)));
        }
        out.truncate(limit.unwrap_or(usize::MAX));
        out
    }

    /// Every known employee id (roster and view), sorted.
    fn ids<'a>(inner: &'a Inner, roster: &'a Roster) -> Vec<&'a EmployeeId> {
        let mut ids: Vec<&EmployeeId> = roster.iter().map(|p| &p.employee_id).collect();
        ids.extend(inner.employees.keys().filter(|id| roster.get(id).is_none()));
        ids.sort();
        ids.dedup();
        ids
    }

    /// The places of the employees at `min_level` or above (or of `employee` alone): each
    /// one's claimed point, then every distinct point their alert lines' location evidence
    /// showed (the latest line that showed it), by employee id.
    pub fn places(
        &self,
        roster: &Roster,
        min_level: Option<Severity>,
        employee: Option<&EmployeeId>,
    ) -> Vec<Place> {
        let inner = self.read();
        let mut out = Vec::new();
        for id in Self::ids(&inner, roster) {
            if employee.is_some_and(|e| e != id) {
                continue;
            }
            // The risk as the view holds it, without building the employee's whole view.
            let risk = inner.employees.get(id).and_then(|e| e.risk.as_ref());
            if !at_least(risk, min_level) {
                continue;
            }
            if let Some(p) = roster.get(id)
                && let Some((lat, lon)) = p.point
            {
                out.push(Place {
                    employee_id: id.0.to_string(),
                    kind: PlaceKind::Claimed,
                    lat,
                    lon,
                    country: Some(p.country.clone()),
                    city: p.city.clone(),
                    alert_id: None,
                    time: None,
                    severity: None,
                });
            }
            let lines = inner
                .employees
                .get(id)
                .into_iter()
                .flat_map(|e| &e.alerts)
                .filter_map(|a| inner.alerts.get(a))
                .flat_map(|a| &a.history);
            let mut observed: Vec<Place> = Vec::new();
            for line in lines {
                for ev in &line.evidence {
                    let Evidence::Location {
                        country,
                        city,
                        lat: Some(lat),
                        lon: Some(lon),
                        ..
                    } = ev
                    else {
                        continue;
                    };
                    let place = Place {
                        employee_id: id.0.to_string(),
                        kind: PlaceKind::Observed,
                        lat: *lat,
                        lon: *lon,
                        country: country.clone(),
                        city: city.clone(),
                        alert_id: Some(line.id.clone()),
                        time: Some(line.time),
                        severity: Some(line.severity),
                    };
                    match observed.iter_mut().find(|p| p.lat == *lat && p.lon == *lon) {
                        Some(seen) if seen.time < place.time => *seen = place,
                        Some(_) => {}
                        None => observed.push(place),
                    }
                }
            }
            observed.sort_by_key(|p| p.time);
            out.extend(observed);
        }
        out
    }

    /// One employee with their recent alert lines, if the roster or the view knows them.
    pub fn employee(&self, roster: &Roster, id: &EmployeeId) -> Option<EmployeeView> {
        let inner = self.read();
        if roster.get(id).is_none() && !inner.employees.contains_key(id) {
            return None;
        }
        Some(self.employee_in(&inner, roster, id, RECENT_PER_EMPLOYEE))
    }

    fn employee_in(
        &self,
        inner: &Inner,
        roster: &Roster,
        id: &EmployeeId,
        recent: usize,
    ) -> EmployeeView {
        let profile = roster.get(id);
        let entry = inner.employees.get(id);
        let inferred = match (profile, entry) {
            (Some(p), Some(e)) => e
                .baseline
                .as_ref()
                .and_then(|b| b.last_seen)
                .and_then(|at| working_hours::inferred(&self.hours, p, &e.hours, at)),
            _ => None,
        };
        let mut recent_findings: Vec<Alert> = entry
            .map(|e| {
                e.alerts
                    .iter()
                    .filter_map(|a| inner.alerts.get(a))
                    .flat_map(|a| a.history.iter().cloned())
                    .collect()
            })
            .unwrap_or_default();
        recent_findings.sort_by_key(|a| std::cmp::Reverse(a.time));
        recent_findings.truncate(recent);
        EmployeeView {
            employee_id: id.0.to_string(),
            claimed: profile.map(|p| Claimed {
                country: p.country.clone(),
                region: p.region.clone(),
                city: p.city.clone(),
                timezone: p.timezone.name().to_owned(),
                work_hours: p.work_hours.as_ref().map(|w| w.to_string()),
                status: p.status.as_str().to_owned(),
                group: p.group.clone(),
                lat: p.point.map(|(lat, _)| lat),
                lon: p.point.map(|(_, lon)| lon),
            }),
            baseline: entry.and_then(|e| e.baseline.clone()),
            inferred_timezone: inferred,
            risk: entry.and_then(|e| e.risk.clone()),
            silences: entry.map(|e| e.silences.clone()).unwrap_or_default(),
            recent_findings,
        }
    }

    /// Alerts matching `f`, newest first (by the latest line's event time).
    pub fn alerts(&self, f: &AlertFilter) -> Vec<AlertEntry> {
        let inner = self.read();
        let mut out: Vec<AlertEntry> = inner
            .order
            .iter()
            .filter_map(|id| inner.alerts.get(id))
            .filter(|e| {
                let a = &e.alert;
                f.status.as_deref().is_none_or(|s| e.status() == s)
                    && f.severity.is_none_or(|s| a.severity == s)
                    && f.rule
                        .as_deref()
                        .is_none_or(|r| a.rules.iter().any(|x| x == r))
                    && f.employee_id
                        .as_deref()
                        .is_none_or(|id| a.employee_id.0 == id)
                    && f.from.is_none_or(|t| a.time >= t)
                    && f.to.is_none_or(|t| a.time < t)
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            b.alert
                .time
                .cmp(&a.alert.time)
                .then(a.alert.id.cmp(&b.alert.id))
        });
        out.truncate(f.limit.unwrap_or(100).min(1000));
        out
    }

    pub fn alert(&self, id: &str) -> Option<AlertEntry> {
        self.read().alerts.get(id).cloned()
    }

    /// Shared-infrastructure clusters, most recent first.
    pub fn clusters(&self) -> Vec<Cluster> {
        let mut out: Vec<Cluster> = self.read().clusters.values().cloned().collect();
        out.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then(a.network.cmp(&b.network))
        });
        out
    }
}

/// Whether `e`'s risk level is `min` or above (always, without `min`).
fn at_least(risk: Option<&Risk>, min: Option<Severity>) -> bool {
    min.is_none_or(|min| risk.and_then(|r| r.level).is_some_and(|l| l >= min))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertStatus;

    #[test]
    fn a_removed_state_leaves_the_alerts_but_not_the_summary() {
        let view = View::new(
            crate::risk::Config::default(),
            working_hours::Config::default(),
        );
        let id = EmployeeId("E9".into());
        let roster = Roster::default();
        let state = EmployeeState {
            events: 3,
            last_seen: DateTime::from_timestamp(1_790_000_000, 0),
            ..EmployeeState::default()
        };
        view.apply_state(&id, &state);
        view.apply_alert(&Alert {
            id: "dw-000000000000000000000009".into(),
            status: AlertStatus::Open,
            employee_id: id.clone(),
            time: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            severity: Severity::Medium,
            rules: vec!["claimed_location".into()],
            risk: 40,
            summary: "s".into(),
            findings: Vec::new(),
            evidence: vec![],
            detected_at: None,
        });
        let before = view.employee(&roster, &id).unwrap();
        assert_eq!(before.baseline.map(|b| b.events), Some(3));
        view.remove_state(&id);
        let after = view.employee(&roster, &id).unwrap();
        assert!(after.baseline.is_none() && after.risk.is_none());
        assert_eq!(after.recent_findings.len(), 1, "the alert index stays");
    }

    /// An escalation raised by a late event carries an earlier event time than the line it
    /// escalates; it is still the alert's current line (as paged), in the alert and in the
    /// severity filter.
    #[test]
    fn the_current_line_is_the_latest_written_not_the_latest_in_event_time() {
        let view = View::new(
            crate::risk::Config::default(),
            working_hours::Config::default(),
        );
        let line = |secs: i64, status: AlertStatus, severity: Severity| Alert {
            id: "dw-000000000000000000000007".into(),
            status,
            employee_id: EmployeeId("E7".into()),
            time: DateTime::from_timestamp(1_790_000_000 + secs, 0).unwrap(),
            severity,
            rules: vec!["claimed_location".into()],
            risk: 60,
            summary: "s".into(),
            findings: Vec::new(),
            detected_at: None,
            evidence: vec![],
        };
        view.apply_alert(&line(3600, AlertStatus::Open, Severity::High));
        view.apply_alert(&line(60, AlertStatus::Escalated, Severity::Critical));
        // A redelivered older line changes nothing.
        view.apply_alert(&line(3600, AlertStatus::Open, Severity::High));
        let entry = view.alert("dw-000000000000000000000007").unwrap();
        assert_eq!(entry.alert.severity, Severity::Critical);
        assert_eq!(entry.status(), "escalated");
        assert_eq!(entry.history.len(), 2);
        let critical = view.alerts(&AlertFilter {
            severity: Some(Severity::Critical),
            ..AlertFilter::default()
        });
        assert_eq!(critical.len(), 1);
        let high = view.alerts(&AlertFilter {
            severity: Some(Severity::High),
            ..AlertFilter::default()
        });
        assert!(high.is_empty(), "{high:?}");
    }

    /// Issue 19: a point shown by several lines is one observed place, with the latest
    /// line's alert and time; a line without coordinates shows none; ids without a risk
    /// sort last by risk.
    #[test]
    fn places_are_distinct_points_and_risk_sorts_the_unseen_last() {
        let view = View::new(
            crate::risk::Config::default(),
            working_hours::Config::default(),
        );
        let at = |lat: Option<f64>| Evidence::Location {
            country: Some("NL".into()),
            city: Some("Amsterdam".into()),
            lat,
            lon: lat.map(|_| 4.89),
            accuracy_km: None,
            asn: None,
            as_org: None,
            tags: Vec::new(),
        };
        let line = |secs: i64, status: AlertStatus, evidence: Vec<Evidence>| Alert {
            id: "dw-000000000000000000000005".into(),
            status,
            employee_id: EmployeeId("E5".into()),
            time: DateTime::from_timestamp(1_790_000_000 + secs, 0).unwrap(),
            severity: Severity::High,
            rules: vec!["novelty".into()],
            risk: 60,
            summary: "s".into(),
            findings: Vec::new(),
            evidence,
            detected_at: None,
        };
        view.apply_alert(&line(0, AlertStatus::Open, vec![at(Some(52.37))]));
        view.apply_alert(&line(
            60,
            AlertStatus::Escalated,
            vec![at(Some(52.37)), at(None)],
        ));
        let places = view.places(&Roster::default(), None, None);
        assert_eq!(places.len(), 1, "{places:?}");
        assert_eq!(places[0].kind, PlaceKind::Observed);
        assert_eq!(places[0].time.map(|t| t.timestamp()), Some(1_790_000_060));
        let nobody = EmployeeId("E0".into());
        assert!(
            view.places(&Roster::default(), None, Some(&nobody))
                .is_empty()
        );
        // E5 has no state (no risk), E6 one with a score of 0: E6 first by risk.
        let e6 = EmployeeId("E6".into());
        view.apply_state(&e6, &EmployeeState::default());
        let ids = |order| {
            view.employees(&Roster::default(), None, order, None)
                .into_iter()
                .map(|e| e.employee_id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(EmployeeOrder::Id), ["E5", "E6"]);
        assert_eq!(ids(EmployeeOrder::Risk), ["E6", "E5"]);
    }
}
