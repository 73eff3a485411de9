//! Scoring alert lines against a simulator's ground truth the way the SOC feels them:
//! for fraud, whether a high or critical line came within one and three days of the first
//! fraudulent sign-in; for the legitimate population, how many lines (each one a page or a
//! ticket) per 1,000 employee-days, at high/critical and at any severity, and which rules.
//!
//! Lines come from driftwatch's alerts or from a peer's logic (`super::peers`), so both are
//! scored by the same code.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{TruthEmployee, TruthFile};
use crate::alert::{Alert, Severity};

/// One alert line of any detector.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub employee: String,
    pub time: DateTime<Utc>,
    pub severity: Severity,
    pub rules: Vec<String>,
}

impl From<&Alert> for Line {
    fn from(a: &Alert) -> Line {
        Line {
            employee: a.employee_id.0.to_string(),
            time: a.time,
            severity: a.severity,
            rules: a.rules.clone(),
        }
    }
}

/// A fraud scenario's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FraudRow {
    pub scenario: String,
    pub employees: usize,
    /// Share with a high or critical line within 1 day / 3 days of the first fraudulent
    /// sign-in.
    pub recall_1d: f64,
    pub recall_3d: f64,
    /// Share with any line at all during the run.
    pub detected_any: f64,
    /// Median hours from the first fraudulent sign-in to the first high or critical line,
    /// over the employees who got one.
    pub median_hours_to_high: Option<f64>,
}

/// A legitimate population's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegitRow {
    pub scenario: String,
    pub employees: usize,
    pub employee_days: f64,
    /// High or critical lines, and lines of any severity, per 1,000 employee-days.
    pub high_per_1000: f64,
    pub any_per_1000: f64,
    /// Employees with at least one high or critical line.
    pub employees_high: usize,
    /// Lines per rule (a line names each rule that contributed).
    pub rules: BTreeMap<String, usize>,
}

/// One detector's score on one simulated company.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub fraud: Vec<FraudRow>,
    pub legit: Vec<LegitRow>,
    /// Over all fraudulent employees.
    pub recall_1d: f64,
    pub recall_3d: f64,
    pub median_hours_to_high: Option<f64>,
    /// Over the whole legitimate population.
    pub high_per_1000: f64,
    pub any_per_1000: f64,
    pub legit_employees_high: usize,
    pub legit_employees: usize,
    /// False lines per rule over the legitimate population, high or critical only.
    pub false_high_rules: BTreeMap<String, usize>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The days an employee was there to be alerted on: the whole run, or from the start date
/// for someone hired during it.
fn employee_days(e: &TruthEmployee, days: u32) -> f64 {
    e.days_active.map_or(f64::from(days), f64::from)
}

/// Score `lines` against `truth`.
pub fn score(truth: &TruthFile, lines: &[Line]) -> Score {
    let mut by_employee: HashMap<&str, Vec<&Line>> = HashMap::new();
    for l in lines {
        by_employee.entry(l.employee.as_str()).or_default().push(l);
    }
    let days = truth.summary.days;
    struct FraudAcc {
        employees: usize,
        in_1d: usize,
        in_3d: usize,
        any: usize,
        hours: Vec<f64>,
    }
    let mut fraud: BTreeMap<&str, FraudAcc> = BTreeMap::new();
    let mut legit: BTreeMap<&str, LegitRow> = BTreeMap::new();
    let mut all_hours = Vec::new();
    let (mut f_total, mut f_1d, mut f_3d) = (0usize, 0usize, 0usize);
    let mut false_high_rules: BTreeMap<String, usize> = BTreeMap::new();
    for e in &truth.employees {
        let mine = by_employee
            .get(e.employee_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if e.label == "fraudulent" {
            let acc = fraud.entry(e.scenario.as_str()).or_insert(FraudAcc {
                employees: 0,
                in_1d: 0,
                in_3d: 0,
                any: 0,
                hours: Vec::new(),
            });
            acc.employees += 1;
            f_total += 1;
            acc.any += usize::from(!mine.is_empty());
            let first_high = mine
                .iter()
                .filter(|l| l.severity >= Severity::High)
                .map(|l| l.time)
                .min();
            if let (Some(t), Some(start)) = (first_high, e.first_anomalous_event) {
                let h = ((t - start).num_seconds() as f64 / 3600.0).max(0.0);
                acc.hours.push(h);
                all_hours.push(h);
                let within = |d: i64| t <= start + Duration::days(d);
                if within(1) {
                    acc.in_1d += 1;
                    f_1d += 1;
                }
                if within(3) {
                    acc.in_3d += 1;
                    f_3d += 1;
                }
            }
        } else {
            let row = legit.entry(e.scenario.as_str()).or_insert(LegitRow {
                scenario: e.scenario.clone(),
                employees: 0,
                employee_days: 0.0,
                high_per_1000: 0.0,
                any_per_1000: 0.0,
                employees_high: 0,
                rules: BTreeMap::new(),
            });
            row.employees += 1;
            row.employee_days += employee_days(e, days);
            let highs = mine.iter().filter(|l| l.severity >= Severity::High).count();
            // Accumulate counts here; turned into rates below.
            row.high_per_1000 += highs as f64;
            row.any_per_1000 += mine.len() as f64;
            row.employees_high += usize::from(highs > 0);
            for l in mine {
                for r in &l.rules {
                    *row.rules.entry(r.clone()).or_default() += 1;
                    if l.severity >= Severity::High {
                        *false_high_rules.entry(r.clone()).or_default() += 1;
                    }
                }
            }
        }
    }
    let rate = |n: f64, d: f64| if d > 0.0 { n * 1000.0 / d } else { 0.0 };
    let (mut high_total, mut any_total, mut days_total) = (0.0, 0.0, 0.0);
    let mut legit_employees_high = 0;
    let mut legit_employees = 0;
    let legit: Vec<LegitRow> = legit
        .into_values()
        .map(|mut r| {
            high_total += r.high_per_1000;
            any_total += r.any_per_1000;
            days_total += r.employee_days;
            legit_employees_high += r.employees_high;
            legit_employees += r.employees;
            r.high_per_1000 = rate(r.high_per_1000, r.employee_days);
            r.any_per_1000 = rate(r.any_per_1000, r.employee_days);
            r
        })
        .collect();
    let share = |k: usize, n: usize| if n > 0 { k as f64 / n as f64 } else { 0.0 };
    Score {
        fraud: fraud
            .into_iter()
            .map(|(s, a)| FraudRow {
                scenario: s.to_owned(),
                employees: a.employees,
                recall_1d: share(a.in_1d, a.employees),
                recall_3d: share(a.in_3d, a.employees),
                detected_any: share(a.any, a.employees),
                median_hours_to_high: median(a.hours),
            })
            .collect(),
        legit,
        recall_1d: share(f_1d, f_total),
        recall_3d: share(f_3d, f_total),
        median_hours_to_high: median(all_hours),
        high_per_1000: rate(high_total, days_total),
        any_per_1000: rate(any_total, days_total),
        legit_employees_high,
        legit_employees,
        false_high_rules,
    }
}

fn hours(h: Option<f64>) -> String {
    h.map_or("—".to_owned(), |h| format!("{h:.1} h"))
}

fn top_rules(rules: &BTreeMap<String, usize>, k: usize) -> String {
    let mut v: Vec<(&String, &usize)> = rules.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let s: Vec<String> = v
        .into_iter()
        .take(k)
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    if s.is_empty() {
        "—".to_owned()
    } else {
        s.join(", ")
    }
}

impl Score {
    /// The per-scenario tables, Markdown.
    pub fn tables(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| fraud scenario | employees | high+ within 1 day | within 3 days | any alert | median time to first high |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for r in &self.fraud {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} | {:.2} | {} |",
                r.scenario,
                r.employees,
                r.recall_1d,
                r.recall_3d,
                r.detected_any,
                hours(r.median_hours_to_high)
            );
        }
        let _ = writeln!(
            out,
            "\n| legitimate population | employees | high+ lines / 1,000 employee-days | any / 1,000 | employees with high+ | rules (lines) |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for r in &self.legit {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} | {} | {} |",
                r.scenario,
                r.employees,
                r.high_per_1000,
                r.any_per_1000,
                r.employees_high,
                top_rules(&r.rules, 4)
            );
        }
        out
    }
}

/// One row of the summary table: a detector (driftwatch in a list mode, or a peer) on one
/// company.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    pub detector: String,
    pub recall_1d: f64,
    pub recall_3d: f64,
    /// The lowest per-scenario recall within 3 days.
    pub worst_scenario_3d: Option<(String, f64)>,
    pub median_hours_to_high: Option<f64>,
    pub high_per_1000: f64,
    pub any_per_1000: f64,
    pub legit_employees_high: usize,
    pub legit_employees: usize,
    pub false_high_rules: String,
}

impl SummaryRow {
    pub fn of(detector: &str, s: &Score) -> SummaryRow {
        SummaryRow {
            detector: detector.to_owned(),
            recall_1d: s.recall_1d,
            recall_3d: s.recall_3d,
            worst_scenario_3d: s
                .fraud
                .iter()
                .min_by(|a, b| a.recall_3d.total_cmp(&b.recall_3d))
                .map(|r| (r.scenario.clone(), r.recall_3d)),
            median_hours_to_high: s.median_hours_to_high,
            high_per_1000: s.high_per_1000,
            any_per_1000: s.any_per_1000,
            legit_employees_high: s.legit_employees_high,
            legit_employees: s.legit_employees,
            false_high_rules: top_rules(&s.false_high_rules, 3),
        }
    }
}

/// The summary table of several detectors, Markdown.
pub fn summary_table(rows: &[SummaryRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| detector | recall high+ ≤ 1 day | ≤ 3 days | worst scenario (≤ 3 days) | median time to first high | false high+ / 1,000 employee-days | false any / 1,000 | legitimate employees with high+ | false high+ by rule |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let worst = r
            .worst_scenario_3d
            .as_ref()
            .map_or("—".to_owned(), |(s, v)| format!("{s} {v:.2}"));
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.2} | {} | {} | {:.2} | {:.2} | {} of {} | {} |",
            r.detector,
            r.recall_1d,
            r.recall_3d,
            worst,
            hours(r.median_hours_to_high),
            r.high_per_1000,
            r.any_per_1000,
            r.legit_employees_high,
            r.legit_employees,
            r.false_high_rules
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(e: &str, hours: i64, sev: Severity, rule: &str) -> Line {
        Line {
            employee: e.to_owned(),
            time: DateTime::from_timestamp(1_800_000_000 + hours * 3600, 0).unwrap(),
            severity: sev,
            rules: vec![rule.to_owned()],
        }
    }

    fn truth() -> TruthFile {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        serde_json::from_value(serde_json::json!({
            "summary": {"days": 10},
            "employees": [
                {"employee_id": "F1", "label": "fraudulent", "scenario": "cn", "first_anomalous_event": start},
                {"employee_id": "F2", "label": "fraudulent", "scenario": "cn", "first_anomalous_event": start},
                {"employee_id": "F3", "label": "fraudulent", "scenario": "cn", "first_anomalous_event": start},
                {"employee_id": "L1", "label": "legitimate", "scenario": "baseline", "first_anomalous_event": null},
                {"employee_id": "L2", "label": "legitimate", "scenario": "baseline", "first_anomalous_event": null},
                {"employee_id": "N1", "label": "legitimate", "scenario": "new_hire", "first_anomalous_event": null, "days_active": 2},
            ]
        }))
        .unwrap()
    }

    #[test]
    fn recall_windows_rates_and_rules() {
        let lines = [
            line("F1", 5, Severity::High, "claimed_location"),
            // Medium first, high only on day 2.
            line("F2", 1, Severity::Medium, "claimed_location"),
            line("F2", 40, Severity::Critical, "working_hours"),
            // F3: high after four days, outside both windows.
            line("F3", 100, Severity::High, "working_hours"),
            line("L1", 3, Severity::High, "impossible_travel"),
            line("L1", 4, Severity::Medium, "novelty"),
            line("N1", 1, Severity::Low, "novelty"),
        ];
        let s = score(&truth(), &lines);
        let cn = &s.fraud[0];
        assert_eq!(cn.employees, 3);
        assert!((cn.recall_1d - 1.0 / 3.0).abs() < 1e-9);
        assert!((cn.recall_3d - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(cn.detected_any, 1.0);
        assert_eq!(cn.median_hours_to_high, Some(40.0));
        let base = s.legit.iter().find(|r| r.scenario == "baseline").unwrap();
        // 1 high line, 2 lines in 20 employee-days.
        assert!((base.high_per_1000 - 50.0).abs() < 1e-9);
        assert!((base.any_per_1000 - 100.0).abs() < 1e-9);
        assert_eq!(base.employees_high, 1);
        let hire = s.legit.iter().find(|r| r.scenario == "new_hire").unwrap();
        assert!((hire.any_per_1000 - 500.0).abs() < 1e-9, "2 days active");
        // Overall: 1 high and 3 lines in 22 employee-days.
        assert!((s.high_per_1000 - 1000.0 / 22.0).abs() < 1e-9);
        assert_eq!(s.false_high_rules.get("impossible_travel"), Some(&1));
        let row = SummaryRow::of("driftwatch", &s);
        assert_eq!(
            row.worst_scenario_3d.as_ref().map(|w| w.0.as_str()),
            Some("cn")
        );
        assert!(summary_table(&[row]).contains("| driftwatch | 0.33 | 0.67 |"));
    }
}
