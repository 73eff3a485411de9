//! The exceptions an auditor reads first: employees not where or not when they claim in
//! the period, decided from what the report already holds (the period's alerts and their
//! rules, the working-hours inference against the claimed zone) and sorted by risk.
//!
//! A rule makes an exception when it compares the logins with the claim: where they come
//! from or when, as each rule declares ([`detect::Claim`]). The context rules (a new device
//! or network, a long session) say nothing about the claim on their own and make none. Dispositions are shown, not applied, as everywhere in the report: an employee whose
//! alerts an analyst judged benign is still listed, with the verdict, after those whose
//! alerts stand.

use std::cmp::Reverse;

use super::model::{AlertRef, EmployeeRow, Exception};
use crate::detect::{self, Claim};
use crate::suppress::Verdict;

/// The criterion in words, as the report prints it.
pub const CRITERION: &str = "An employee is an exception when, in the period, they are \
not where they claim — one of their alerts names claimed_location, sanctioned_region, \
impossible_travel, concurrent_sessions, anonymizer or shared_infrastructure — or not when \
they claim — one of their alerts names working_hours, or they logged in during the period and \
the working time zone inferred from their activity at its end is at least \
min_offset_gap_hours from the claimed one. novelty and long_session alone make no exception: \
a new device or network and a long session say nothing about the claim. Exceptions are sorted \
by risk, highest first: the highest risk of their alerts in the period that no analyst judged \
benign or a false positive; employees whose alerts were all so judged, and those found by the \
inferred time zone alone, follow. Dispositions are shown, not applied.";

/// The exceptions among `employees`, highest risk first, each judged from its row (its
/// alerts in the period and the inferred zone).
pub fn find(employees: &[EmployeeRow]) -> Vec<Exception> {
    let mut out: Vec<Exception> = employees.iter().filter_map(exception).collect();
    out.sort_by(|a, b| rank_key(a).cmp(&rank_key(b)));
    out
}

/// Highest standing risk first, then highest risk of any alert, then severity, then id.
fn rank_key(e: &Exception) -> impl Ord + '_ {
    (
        Reverse(e.risk),
        Reverse(e.highest_risk),
        Reverse(e.row.highest_severity()),
        e.row.employee.as_str(),
    )
}

fn exception(row: &EmployeeRow) -> Option<Exception> {
    let alerts = &row.alerts;
    let rules_in = |claim: Claim| {
        let mut v: Vec<String> = alerts
            .iter()
            .flat_map(|a| a.rules.iter())
            .filter(|r| detect::claim(r) == Some(claim))
            .cloned()
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let place_rules = rules_in(Claim::Place);
    let hours_rules = rules_in(Claim::Hours);
    let timezone_differs = row.logins.logins > 0 && row.timezone_differs == Some(true);
    if place_rules.is_empty() && hours_rules.is_empty() && !timezone_differs {
        return None;
    }
    let standing = |a: &&AlertRef| {
        !a.disposition
            .as_ref()
            .is_some_and(|d| matches!(d.verdict, Verdict::Benign | Verdict::FalsePositive))
    };
    Some(Exception {
        not_where: !place_rules.is_empty(),
        not_when: !hours_rules.is_empty() || timezone_differs,
        place_rules,
        hours_rules,
        risk: alerts.iter().filter(standing).map(|a| a.risk).max(),
        highest_risk: alerts.iter().map(|a| a.risk).max(),
        open: row.open_alerts().next().is_some(),
        row: row.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;
    use crate::report::model::{AlertEntry, AlertStatus, DispositionRef, LoginCounts};

    #[test]
    fn every_rule_is_place_hours_or_context() {
        for r in detect::NAMES {
            match detect::claim(r) {
                Some(Claim::Place | Claim::Hours) => {
                    assert!(CRITERION.contains(r), "the criterion names {r}")
                }
                Some(Claim::Context) => assert!(
                    CRITERION.contains(&format!("{r} ")) || CRITERION.contains(&format!("{r}:")),
                    "the criterion says {r} alone makes no exception"
                ),
                None => panic!("{r} declares no claim"),
            }
        }
        assert_eq!(detect::claim("no_such_rule"), None);
    }

    fn row(id: &str, logins: u64, differs: Option<bool>) -> EmployeeRow {
        EmployeeRow {
            employee: id.into(),
            status: "active".into(),
            claimed_country: "US".into(),
            claimed_city: None,
            claimed_timezone: "America/New_York".into(),
            logins: LoginCounts {
                logins,
                ..LoginCounts::default()
            },
            share_from_claimed_country: None,
            anonymizer_share: None,
            claimed_offset_hours: Some(-5.0),
            inferred_offset_hours: differs.map(|d| if d { 9.0 } else { -5.0 }),
            timezone_differs: differs,
            alerts: vec![],
            dispositions: vec![],
        }
    }

    fn alert(id: &str, employee: &str, risk: u8, rules: &[&str]) -> AlertEntry {
        let t = crate::report::parse_bound("2026-10-02").unwrap();
        AlertEntry {
            id: id.into(),
            employee: employee.into(),
            opened: t,
            updated: t,
            severity: if risk >= 85 {
                Severity::Critical
            } else {
                Severity::Medium
            },
            rules: rules.iter().map(|r| (*r).to_owned()).collect(),
            risk,
            status: AlertStatus::Open,
            disposition: None,
            lines: vec![],
        }
    }

    /// `rows` with their alerts among `alerts`, as the report builds them.
    fn with(rows: &[EmployeeRow], alerts: &[AlertEntry]) -> Vec<EmployeeRow> {
        let mut rows = rows.to_vec();
        for r in &mut rows {
            r.alerts = alerts
                .iter()
                .filter(|a| a.employee == r.employee)
                .map(AlertRef::of)
                .collect();
        }
        rows
    }

    #[test]
    fn place_and_hours_rules_and_the_inferred_zone_make_exceptions_in_risk_order() {
        let rows = [
            row("A", 10, None),
            row("B", 10, None),
            row("C", 10, Some(true)),
            row("D", 0, Some(true)),
            row("E", 10, None),
            row("F", 10, Some(false)),
            row("G", 10, None),
        ];
        let mut benign = alert("g1", "G", 95, &["claimed_location"]);
        benign.disposition = Some(DispositionRef {
            seq: 1,
            recorded: benign.opened,
            actor: "ana".into(),
            verdict: Verdict::Benign,
            alert_id: Some("g1".into()),
            note: String::new(),
            suppressed_from: benign.opened,
            suppressed_until: benign.opened,
        });
        let alerts = [
            alert("a1", "A", 40, &["claimed_location", "novelty"]),
            alert("b1", "B", 90, &["working_hours"]),
            alert("e1", "E", 50, &["novelty", "long_session"]),
            alert("a2", "A", 70, &["long_session"]),
            benign,
        ];
        let ex = find(&with(&rows, &alerts));
        let order: Vec<&str> = ex.iter().map(|e| e.row.employee.as_str()).collect();
        // B (90) before A (70, from its long-session alert); G's 95 was judged benign, so
        // it follows; C is found by its inferred zone alone. D did not log in; E has only
        // context rules; F's zone agrees.
        assert_eq!(order, ["B", "A", "G", "C"]);
        assert!(ex[0].not_when && !ex[0].not_where);
        assert_eq!(ex[1].place_rules, ["claimed_location"]);
        assert_eq!(ex[1].risk, Some(70));
        assert_eq!(ex[1].row.alerts.len(), 2);
        assert_eq!((ex[2].risk, ex[2].highest_risk), (None, Some(95)));
        assert!(ex[3].timezone_differs() && ex[3].row.alerts.is_empty());
        assert!(find(&with(&rows[3..=5], &alerts[2..3])).is_empty());
    }
}
