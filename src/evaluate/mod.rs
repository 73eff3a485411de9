//! Detection quality against a ground truth: which planted cases were caught, how fast,
//! and how often legitimate employees were alerted. Reads the simulator's `truth.json` and
//! the alert lines of a replay; pure apart from parsing what it is given.
//!
//! - [`score`]: the real-world evaluation's figures (recall at high within 1 and 3 days,
//!   false lines per 1,000 employee-days per population), for driftwatch and peers alike.
//! - [`peers`]: the logic other tools document (Panther, Okta, Mozilla geomodel).
//! - [`run`]: a simulated company replayed in each list mode, with the peers beside.

pub mod peers;
pub mod run;
pub mod score;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{Alert, AlertStatus, Severity};

/// The parts of a `truth.json` the evaluation needs.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthFile {
    pub summary: TruthSummary,
    pub employees: Vec<TruthEmployee>,
}

/// `summary` of a truth file.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthSummary {
    pub days: u32,
    /// The real world's facts, when the company was simulated in it.
    #[serde(default)]
    pub real_world: Option<TruthRealWorld>,
}

/// The parts of a real world's summary the evaluation needs.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthRealWorld {
    pub city_database: String,
    #[serde(default)]
    pub other_city_database: Option<String>,
}

/// One employee's truth.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthEmployee {
    pub employee_id: String,
    /// `legitimate` or `fraudulent`.
    pub label: String,
    pub scenario: String,
    pub first_anomalous_event: Option<DateTime<Utc>>,
    /// Days the employee was there, for someone hired during the run; absent means all.
    #[serde(default)]
    pub days_active: Option<u32>,
}

impl TruthEmployee {
    fn is_fraud(&self) -> bool {
        self.label == "fraudulent"
    }
}

/// Figures for one scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioRow {
    pub scenario: String,
    pub label: String,
    pub employees: usize,
    /// Employees with any alert.
    pub alerted: usize,
    /// Employees with a high or critical alert.
    pub alerted_high: usize,
    /// For fraudulent scenarios: alerted / employees.
    pub recall: Option<f64>,
    /// Hours from the first anomalous event to the first alert, median and worst.
    pub time_to_alert_median_h: Option<f64>,
    pub time_to_alert_max_h: Option<f64>,
    /// Rules that alerted in this scenario, with how many alert lines named each.
    pub rules: BTreeMap<String, usize>,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub scenarios: Vec<ScenarioRow>,
    pub employees: usize,
    pub days: u32,
    /// Alerts opened for legitimate employees, per 1,000 legitimate employee-days.
    pub false_alerts_per_1000_employee_days: f64,
    pub false_alerts: usize,
    /// Fraudulent employees with no alert.
    pub missed: Vec<String>,
    /// Legitimate employees with a high or critical alert.
    pub legitimate_high: Vec<String>,
}

/// Compare alerts with the truth.
pub fn evaluate(truth: &TruthFile, alerts: &[Alert]) -> Evaluation {
    let mut by_employee: HashMap<&str, Vec<&Alert>> = HashMap::new();
    for a in alerts {
        by_employee
            .entry(a.employee_id.0.as_str())
            .or_default()
            .push(a);
    }
    let mut rows: BTreeMap<(&str, &str), (ScenarioRow, Vec<f64>)> = BTreeMap::new();
    let (mut missed, mut legitimate_high) = (Vec::new(), Vec::new());
    let mut false_alerts = 0;
    let mut legitimate = 0usize;
    for e in &truth.employees {
        let mine = by_employee
            .get(e.employee_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let (row, delays) = rows
            .entry((e.label.as_str(), e.scenario.as_str()))
            .or_insert_with(|| {
                (
                    ScenarioRow {
                        scenario: e.scenario.clone(),
                        label: e.label.clone(),
                        employees: 0,
                        alerted: 0,
                        alerted_high: 0,
                        recall: None,
                        time_to_alert_median_h: None,
                        time_to_alert_max_h: None,
                        rules: BTreeMap::new(),
                    },
                    Vec::new(),
                )
            });
        row.employees += 1;
        let high = mine.iter().any(|a| a.severity >= Severity::High);
        row.alerted += usize::from(!mine.is_empty());
        row.alerted_high += usize::from(high);
        for a in mine {
            for r in &a.rules {
                *row.rules.entry(r.clone()).or_default() += 1;
            }
        }
        let first = mine.iter().map(|a| a.time).min();
        if e.is_fraud() {
            match (first, e.first_anomalous_event) {
                (None, _) => missed.push(e.employee_id.clone()),
                (Some(t), Some(start)) => {
                    delays.push(((t - start).num_seconds() as f64 / 3600.0).max(0.0))
                }
                (Some(_), None) => {}
            }
        } else {
            legitimate += 1;
            false_alerts += mine
                .iter()
                .filter(|a| a.status == AlertStatus::Open)
                .count();
            if high {
                legitimate_high.push(e.employee_id.clone());
            }
        }
    }
    let scenarios = rows
        .into_values()
        .map(|(mut row, mut delays)| {
            if row.label == "fraudulent" {
                row.recall = Some(row.alerted as f64 / row.employees.max(1) as f64);
                delays.sort_by(f64::total_cmp);
                row.time_to_alert_median_h = delays.get(delays.len() / 2).copied();
                row.time_to_alert_max_h = delays.last().copied();
            }
            row
        })
        .collect();
    let employee_days = legitimate as f64 * f64::from(truth.summary.days);
    Evaluation {
        scenarios,
        employees: truth.employees.len(),
        days: truth.summary.days,
        false_alerts_per_1000_employee_days: if employee_days > 0.0 {
            false_alerts as f64 * 1000.0 / employee_days
        } else {
            0.0
        },
        false_alerts,
        missed,
        legitimate_high,
    }
}

impl fmt::Display for Evaluation {
    /// A Markdown report, as pasted into BENCHMARKS.md.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} employees over {} days.\n", self.employees, self.days)?;
        writeln!(
            f,
            "| scenario | label | employees | alerted | high+ | recall | time to first alert (median / max) | rules |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|---|---|")?;
        for r in &self.scenarios {
            let recall = r
                .recall
                .map_or("—".to_owned(), |v| format!("{:.0} %", v * 100.0));
            let ttfa = match (r.time_to_alert_median_h, r.time_to_alert_max_h) {
                (Some(m), Some(x)) => format!("{m:.1} h / {x:.1} h"),
                _ => "—".to_owned(),
            };
            let rules: Vec<String> = r.rules.iter().map(|(k, n)| format!("{k} {n}")).collect();
            writeln!(
                f,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.scenario,
                r.label,
                r.employees,
                r.alerted,
                r.alerted_high,
                recall,
                ttfa,
                if rules.is_empty() {
                    "—".to_owned()
                } else {
                    rules.join(", ")
                }
            )?;
        }
        writeln!(
            f,
            "\nFalse alerts: {} opened for legitimate employees = {:.2} per 1,000 employee-days; \
             legitimate employees with a high or critical alert: {}; fraudulent employees missed: {}.",
            self.false_alerts,
            self.false_alerts_per_1000_employee_days,
            self.legitimate_high.len(),
            self.missed.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::EmployeeId;

    fn alert(employee: &str, hours: i64, severity: Severity, status: AlertStatus) -> Alert {
        Alert {
            id: format!("dw-{employee}-{hours}"),
            status,
            employee_id: EmployeeId(employee.into()),
            time: DateTime::from_timestamp(1_800_000_000 + hours * 3600, 0).unwrap(),
            severity,
            rules: vec!["claimed_location".into()],
            risk: 60,
            summary: String::new(),
            findings: Vec::new(),
            evidence: vec![],
            detected_at: None,
        }
    }

    #[test]
    fn recall_delay_and_false_alerts() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let truth: TruthFile = serde_json::from_value(serde_json::json!({
            "summary": {"days": 10},
            "employees": [
                {"employee_id": "F1", "label": "fraudulent", "scenario": "vpn", "first_anomalous_event": start},
                {"employee_id": "F2", "label": "fraudulent", "scenario": "vpn", "first_anomalous_event": start},
                {"employee_id": "L1", "label": "legitimate", "scenario": "normal", "first_anomalous_event": null},
                {"employee_id": "L2", "label": "legitimate", "scenario": "normal", "first_anomalous_event": null},
            ]
        }))
        .unwrap();
        let alerts = [
            alert("F1", 5, Severity::High, AlertStatus::Open),
            alert("F1", 9, Severity::Critical, AlertStatus::Escalated),
            alert("L1", 1, Severity::Medium, AlertStatus::Open),
        ];
        let ev = evaluate(&truth, &alerts);
        let vpn = ev.scenarios.iter().find(|r| r.scenario == "vpn").unwrap();
        assert_eq!((vpn.employees, vpn.alerted, vpn.alerted_high), (2, 1, 1));
        assert_eq!(vpn.recall, Some(0.5));
        assert_eq!(vpn.time_to_alert_median_h, Some(5.0));
        assert_eq!(ev.missed, ["F2"]);
        assert_eq!(ev.false_alerts, 1);
        assert!((ev.false_alerts_per_1000_employee_days - 50.0).abs() < 1e-9);
        assert!(ev.legitimate_high.is_empty());
        let text = ev.to_string();
        assert!(
            text.contains("| vpn | fraudulent | 2 | 1 | 1 | 50 % | 5.0 h / 5.0 h |"),
            "{text}"
        );
    }
}
