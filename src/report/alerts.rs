//! The period's alerts: alert lines folded into one entry per alert id, analysts'
//! dispositions attached, where each alert stands at the end of the period, and the
//! shared-infrastructure clusters their evidence names.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::Period;
use super::model::{AlertEntry, AlertLine, AlertStatus, Cluster, ClusterMember, DispositionRef};
use crate::alert::{Alert, Evidence};
use crate::engine::Engine;
use crate::roster::EmployeeId;
use crate::suppress::{Disposition, Verdict};

/// A disposition as the audit log recorded it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The audit record's sequence number: later records win.
    pub seq: u64,
    /// The audit record's time: when the analyst decided.
    pub recorded: DateTime<Utc>,
    pub actor: String,
    pub disposition: Disposition,
}

impl Recorded {
    fn as_ref(&self) -> DispositionRef {
        let d = &self.disposition;
        DispositionRef {
            seq: self.seq,
            recorded: self.recorded,
            actor: self.actor.clone(),
            verdict: d.verdict,
            alert_id: d.alert_id.clone(),
            note: d.note.clone(),
            suppressed_from: d.time,
            suppressed_until: d.until.unwrap_or(
                d.time + chrono::Duration::days(crate::suppress::DEFAULT_SUPPRESSION_DAYS),
            ),
        }
    }
}

/// Every alert with a line in `period`, with every line it had, in the order they opened.
/// An alert's employee is `EmployeeId`, kept apart from the entry so pseudonymisation can
/// find the real id.
pub fn fold(lines: &[Alert], period: Period) -> Vec<(EmployeeId, AlertEntry)> {
    let in_period: BTreeSet<&str> = lines
        .iter()
        .filter(|a| period.contains(a.time))
        .map(|a| a.id.as_str())
        .collect();
    let mut order: Vec<&str> = Vec::new();
    let mut by_id: HashMap<&str, (EmployeeId, AlertEntry)> = HashMap::new();
    for a in lines.iter().filter(|a| in_period.contains(a.id.as_str())) {
        let line = AlertLine {
            time: a.time,
            status: a.status,
            severity: a.severity,
            rules: a.rules.clone(),
            risk: a.risk,
            summary: a.summary.clone(),
            evidence: a.evidence.clone(),
        };
        match by_id.get_mut(a.id.as_str()) {
            Some((_, e)) => {
                e.opened = e.opened.min(a.time);
                e.updated = e.updated.max(a.time);
                e.severity = e.severity.max(a.severity);
                e.risk = e.risk.max(a.risk);
                e.rules.extend(a.rules.iter().cloned());
                e.rules.sort();
                e.rules.dedup();
                e.lines.push(line);
            }
            None => {
                order.push(&a.id);
                let mut rules = a.rules.clone();
                rules.sort();
                rules.dedup();
                let entry = AlertEntry {
                    id: a.id.clone(),
                    employee: a.employee_id.0.to_string(),
                    opened: a.time,
                    updated: a.time,
                    severity: a.severity,
                    rules,
                    risk: a.risk,
                    status: AlertStatus::Closed,
                    disposition: None,
                    lines: vec![line],
                };
                by_id.insert(&a.id, (a.employee_id.clone(), entry));
            }
        }
    }
    order
        .into_iter()
        .filter_map(|id| by_id.remove(id))
        .collect()
}

/// Attach each disposition to its alert (by id; one without an id to the employee's
/// latest alert opened at or before its event time), keeping the latest per alert.
/// Returns the dispositions per employee: those of their alerts, and their others
/// recorded in `period` or about a login in it.
pub fn attach(
    alerts: &mut [(EmployeeId, AlertEntry)],
    dispositions: &[Recorded],
    period: Period,
) -> HashMap<EmployeeId, Vec<DispositionRef>> {
    let mut sorted: Vec<&Recorded> = dispositions.iter().collect();
    sorted.sort_by_key(|r| r.seq);
    let mut per_employee: HashMap<EmployeeId, Vec<DispositionRef>> = HashMap::new();
    for r in sorted {
        let d = &r.disposition;
        let target = match &d.alert_id {
            Some(id) => alerts.iter_mut().find(|(_, a)| &a.id == id),
            None => alerts
                .iter_mut()
                .filter(|(e, a)| *e == d.employee_id && a.opened <= d.time)
                .max_by_key(|(_, a)| a.opened),
        };
        let attached = target.is_some();
        if let Some((_, a)) = target {
            a.disposition = Some(r.as_ref());
        }
        // Kept for the employee when it names one of their alerts in the report, when the
        // analyst decided within the period, or when what was decided about (the alert's
        // first login) falls in it: a disposition of an alert this report does not list by
        // that id (made on a live run that raised it differently) is still shown, with
        // its alert id, rather than lost.
        if attached || period.contains(r.recorded) || period.contains(d.time) {
            per_employee
                .entry(d.employee_id.clone())
                .or_default()
                .push(r.as_ref());
        }
    }
    per_employee
}

/// Where each alert stands at the end of the period: disposed by an analyst (benign or
/// false positive), still the employee's open alert in the engine (risk not decayed
/// away), or closed.
pub fn settle(
    alerts: &mut [(EmployeeId, AlertEntry)],
    engine: &Engine,
    risk: &crate::risk::Config,
    at: DateTime<Utc>,
) {
    for (employee, a) in alerts.iter_mut() {
        let disposed = a
            .disposition
            .as_ref()
            .is_some_and(|d| d.verdict != Verdict::TruePositive);
        let open = engine.state(employee).is_some_and(|s| {
            s.risk.open.as_ref().is_some_and(|o| o.id == a.id)
                && risk.level(s.risk.score_at(risk, at)).is_some()
        });
        a.status = if disposed {
            AlertStatus::Disposed
        } else if open {
            AlertStatus::Open
        } else {
            AlertStatus::Closed
        };
    }
}

/// The shared-infrastructure clusters the alerts' evidence names, one per network, most
/// employees first.
pub fn clusters(alerts: &[(EmployeeId, AlertEntry)]) -> Vec<Cluster> {
    let mut by_network: BTreeMap<String, Cluster> = BTreeMap::new();
    for (_, a) in alerts {
        for line in &a.lines {
            for ev in &line.evidence {
                let Evidence::Cluster {
                    network,
                    employees_on_network,
                    members,
                } = ev
                else {
                    continue;
                };
                let c = by_network
                    .entry(network.clone())
                    .or_insert_with(|| Cluster {
                        network: network.clone(),
                        employees_on_network: 0,
                        members: Vec::new(),
                        first_seen: line.time,
                        last_seen: line.time,
                        alerts: Vec::new(),
                    });
                c.employees_on_network = c.employees_on_network.max(*employees_on_network);
                c.first_seen = c.first_seen.min(line.time);
                c.last_seen = c.last_seen.max(line.time);
                if !c.alerts.contains(&a.id) {
                    c.alerts.push(a.id.clone());
                }
                for m in members {
                    let member = ClusterMember {
                        employee: m.employee_id.0.to_string(),
                        claimed_country: m.claimed_country.clone(),
                        claimed_city: m.claimed_city.clone(),
                    };
                    if !c.members.contains(&member) {
                        c.members.push(member);
                    }
                }
            }
        }
    }
    let mut out: Vec<Cluster> = by_network.into_values().collect();
    for c in &mut out {
        c.members.sort();
    }
    out.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(a.network.cmp(&b.network))
    });
    out
}

/// The verdict's name, or `none`.
pub fn verdict_name(d: Option<&DispositionRef>) -> &'static str {
    match d.map(|d| d.verdict) {
        Some(Verdict::TruePositive) => "true_positive",
        Some(Verdict::Benign) => "benign",
        Some(Verdict::FalsePositive) => "false_positive",
        None => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;

    fn t(s: &str) -> DateTime<Utc> {
        super::super::parse_bound(s).unwrap()
    }

    fn entry(id: &str, employee: &str, opened: &str) -> (EmployeeId, AlertEntry) {
        (
            EmployeeId(employee.into()),
            AlertEntry {
                id: id.into(),
                employee: employee.into(),
                opened: t(opened),
                updated: t(opened),
                severity: Severity::High,
                rules: vec!["claimed_location".into()],
                risk: 70,
                status: AlertStatus::Closed,
                disposition: None,
                lines: vec![],
            },
        )
    }

    fn recorded(
        seq: u64,
        employee: &str,
        alert: Option<&str>,
        verdict: Verdict,
        time: &str,
    ) -> Recorded {
        Recorded {
            seq,
            recorded: t(time),
            actor: "ana".into(),
            disposition: Disposition {
                employee_id: EmployeeId(employee.into()),
                alert_id: alert.map(str::to_owned),
                verdict,
                rules: vec![],
                time: t(time),
                until: None,
                note: String::new(),
            },
        }
    }

    #[test]
    fn dispositions_attach_by_id_or_to_the_latest_alert_before_them() {
        let period = super::super::Period::new(t("2026-10-01"), t("2026-11-01")).unwrap();
        let mut alerts = vec![
            entry("a1", "E1", "2026-10-02"),
            entry("a2", "E1", "2026-10-10"),
            entry("b1", "E2", "2026-10-03"),
        ];
        let per = attach(
            &mut alerts,
            &[
                // Later records win, whatever order they come in.
                recorded(5, "E2", Some("b1"), Verdict::FalsePositive, "2026-10-06"),
                recorded(4, "E2", Some("b1"), Verdict::TruePositive, "2026-10-05"),
                // No id: the employee's latest alert opened by then (a1, not a2).
                recorded(6, "E1", None, Verdict::Benign, "2026-10-04"),
                // No alert to attach to: listed if recorded in the period, else dropped.
                recorded(7, "E3", None, Verdict::Benign, "2026-10-20"),
                recorded(8, "E3", None, Verdict::Benign, "2026-12-20"),
                // Decided in December about an October login, on an alert id this report
                // does not have: listed for the employee, not dropped.
                Recorded {
                    recorded: t("2026-12-02"),
                    ..recorded(
                        9,
                        "E3",
                        Some("live-only"),
                        Verdict::TruePositive,
                        "2026-10-07",
                    )
                },
            ],
            period,
        );
        let verdict = |i: usize| alerts[i].1.disposition.as_ref().map(|d| d.verdict);
        assert_eq!(verdict(0), Some(Verdict::Benign));
        assert_eq!(verdict(1), None);
        assert_eq!(verdict(2), Some(Verdict::FalsePositive));
        assert_eq!(per[&EmployeeId("E2".into())].len(), 2);
        let e3: Vec<u64> = per[&EmployeeId("E3".into())]
            .iter()
            .map(|d| d.seq)
            .collect();
        assert_eq!(e3, [7, 9]);
    }
}
