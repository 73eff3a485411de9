//! Events of the detect stage (and the infra stage's share of them): findings, alerts,
//! redelivered and late input, the changelog, risk levels.

use super::labels::{DuplicateKind, LateKind, RiskLevel, Rule};
use super::{Event, Metrics};
use crate::alert::{AlertStatus, Severity};

/// Findings of one detector at one severity (`count` of them: the engine tallies per
/// batch). Counts `driftwatch_findings_total{detector,severity}`.
#[derive(Debug, Clone, Copy)]
pub struct FindingsRaised {
    pub rule: Rule,
    pub severity: Severity,
    pub count: u64,
}

impl Event for FindingsRaised {
    fn emit(&self, m: &Metrics) {
        let (detector, severity) = (self.rule.as_str(), self.severity.as_str());
        tracing::debug!(detector, severity, count = self.count, "findings raised");
        m.findings
            .with_label_values(&[detector, severity])
            .inc_by(self.count);
    }
}

/// An alert line written (opened or escalated). Counts
/// `driftwatch_alerts_total{rule,severity,status}`; `rule` is the lead rule (the one of the
/// most severe finding), empty for an alert without findings.
#[derive(Debug, Clone, Copy)]
pub struct AlertRaised {
    pub rule: Option<Rule>,
    pub severity: Severity,
    pub status: AlertStatus,
}

impl AlertRaised {
    /// Of an alert line: its lead rule, severity and status.
    pub fn of(alert: &crate::alert::Alert) -> AlertRaised {
        AlertRaised {
            rule: alert.lead_rule().and_then(Rule::named),
            severity: alert.severity,
            status: alert.status,
        }
    }
}

impl Event for AlertRaised {
    fn emit(&self, m: &Metrics) {
        let rule = self.rule.map_or("", Rule::as_str);
        let (severity, status) = (self.severity.as_str(), self.status.as_str());
        tracing::debug!(rule, severity, status, "alert raised");
        m.alerts.with_label_values(&[rule, severity, status]).inc();
    }
}

/// Redelivered input skipped because its effect was already recorded (an instance crashed
/// between writing and committing). Counts `driftwatch_duplicates_skipped_total{kind}`.
#[derive(Debug, Clone, Copy)]
pub struct DuplicateSkipped {
    pub kind: DuplicateKind,
}

impl Event for DuplicateSkipped {
    fn emit(&self, m: &Metrics) {
        let kind = self.kind.as_str();
        tracing::debug!(kind, "duplicate skipped");
        m.duplicates_skipped.with_label_values(&[kind]).inc();
    }
}

/// A record that arrived behind the watermark, applied at once out of event-time order
/// (never dropped). Counts `driftwatch_late_records_total{kind}`.
#[derive(Debug, Clone, Copy)]
pub struct LateRecordApplied {
    pub kind: LateKind,
}

impl Event for LateRecordApplied {
    fn emit(&self, m: &Metrics) {
        let kind = self.kind.as_str();
        tracing::debug!(kind, "late record applied out of order");
        m.late_records.with_label_values(&[kind]).inc();
    }
}

/// State records the broker acknowledged on the changelog topic. Counts
/// `driftwatch_changelog_writes_total`.
#[derive(Debug, Clone, Copy)]
pub struct ChangelogWritten {
    pub records: usize,
}

impl Event for ChangelogWritten {
    fn emit(&self, m: &Metrics) {
        tracing::trace!(records = self.records, "changelog written");
        m.changelog_writes.inc_by(self.records as u64);
    }
}

/// The employees this process holds, per current risk level. Sets
/// `driftwatch_employees_tracked` and `driftwatch_employees_by_risk{level}` (every level,
/// 0 included).
#[derive(Debug, Clone, Copy)]
pub struct EmployeesTallied {
    /// Per [`RiskLevel::ALL`], in its order.
    pub by_level: [u64; RiskLevel::ALL.len()],
}

impl EmployeesTallied {
    /// Tally each tracked employee's current risk level (`None`: below the lowest level,
    /// see `risk::Config::level`).
    pub fn of(levels: impl IntoIterator<Item = Option<Severity>>) -> EmployeesTallied {
        let mut by_level = [0; RiskLevel::ALL.len()];
        for level in levels {
            let level = RiskLevel::from(level);
            if let Some(slot) = RiskLevel::ALL
                .iter()
                .position(|&l| l == level)
                .and_then(|i| by_level.get_mut(i))
            {
                *slot += 1;
            }
        }
        EmployeesTallied { by_level }
    }

    pub fn total(&self) -> u64 {
        self.by_level.iter().sum()
    }
}

impl Event for EmployeesTallied {
    fn emit(&self, m: &Metrics) {
        let total = self.total();
        tracing::trace!(employees = total, "employees tallied");
        m.employees_tracked.set(total as i64);
        for (level, count) in RiskLevel::ALL.iter().zip(self.by_level) {
            m.employees_by_risk
                .with_label_values(&[level.as_str()])
                .set(count as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::testing::{Case, describe, emit};

    fn rule(name: &str) -> Rule {
        match Rule::named(name) {
            Some(r) => r,
            None => panic!("no detector {name}"),
        }
    }

    #[test]
    fn each_detection_event_counts_its_one_series_and_logs_its_labels() {
        let m = Metrics::new();
        let cases: Vec<Case> = vec![
            (
                Box::new(FindingsRaised {
                    rule: rule("claimed_location"),
                    severity: Severity::High,
                    count: 3,
                }),
                "driftwatch_findings_total{detector=\"claimed_location\",severity=\"high\"} 0 -> 3",
                &[("detector", "claimed_location"), ("severity", "high")],
            ),
            (
                Box::new(AlertRaised {
                    rule: Some(rule("working_hours")),
                    severity: Severity::Medium,
                    status: AlertStatus::Escalated,
                }),
                "driftwatch_alerts_total{rule=\"working_hours\",severity=\"medium\",status=\"escalated\"} 0 -> 1",
                &[("rule", "working_hours"), ("status", "escalated")],
            ),
            (
                Box::new(AlertRaised {
                    rule: None,
                    severity: Severity::Low,
                    status: AlertStatus::Open,
                }),
                "driftwatch_alerts_total{rule=\"\",severity=\"low\",status=\"open\"} - -> 1",
                &[("rule", ""), ("severity", "low")],
            ),
            (
                Box::new(DuplicateSkipped {
                    kind: DuplicateKind::Disposition,
                }),
                "driftwatch_duplicates_skipped_total{kind=\"disposition\"} 0 -> 1",
                &[("kind", "disposition")],
            ),
            (
                Box::new(LateRecordApplied {
                    kind: LateKind::NetworkLogin,
                }),
                "driftwatch_late_records_total{kind=\"network_login\"} 0 -> 1",
                &[("kind", "network_login")],
            ),
            (
                Box::new(ChangelogWritten { records: 7 }),
                "driftwatch_changelog_writes_total{} 0 -> 7",
                &[("records", "7")],
            ),
        ];
        for (event, counted, logged) in cases {
            let (changes, lines) = emit(&m, event.as_ref());
            assert_eq!(describe(&changes), [counted]);
            assert_eq!(lines.len(), 1, "{lines:?}");
            for (k, v) in logged {
                assert_eq!(lines[0].fields.get(*k).map(String::as_str), Some(*v), "{k}");
            }
        }
    }

    #[test]
    fn employees_are_counted_per_risk_level() {
        let m = Metrics::new();
        EmployeesTallied::of([
            None,
            Some(Severity::High),
            Some(Severity::High),
            Some(Severity::Low),
        ])
        .emit(&m);
        let tally = EmployeesTallied::of([None, Some(Severity::High), Some(Severity::Low)]);
        let (changes, _) = emit(&m, &tally);
        assert_eq!(
            describe(&changes),
            [
                "driftwatch_employees_by_risk{level=\"high\"} 2 -> 1",
                "driftwatch_employees_tracked{} 4 -> 3",
            ]
        );
        let level = |l| m.value("driftwatch_employees_by_risk", &[("level", l)]);
        assert_eq!(m.value("driftwatch_employees_tracked", &[]), Some(3.0));
        assert_eq!(level("none"), Some(1.0));
        assert_eq!(level("low"), Some(1.0));
        assert_eq!(level("medium"), Some(0.0));
        assert_eq!(level("high"), Some(1.0));
        assert_eq!(level("critical"), Some(0.0));
    }
}
