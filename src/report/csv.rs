//! The CSV report: one row per employee, RFC 4180 (the `csv` crate quotes as needed), in
//! id order; `exception_rank` (1 = highest risk) and `exception` (`place`, `hours` or
//! `place;hours`) mark the exceptions, so sorting by the rank gives the HTML's list.
//! Shares are fractions with six decimals, empty when there is nothing to divide by; lists
//! are `;`-separated. A text cell that a spreadsheet would run as a formula (starting with
//! `=`, `+`, `-`, `@`, tab or carriage return) gets a leading `'`: roster fields and notes
//! are typed by people, and the file is meant to be opened in a spreadsheet.

use super::ReportError;
use super::alerts::verdict_name;
use std::collections::HashMap;

use super::model::{AlertStatus, ComplianceReport, Exception};

/// The header row.
pub const COLUMNS: [&str; 24] = [
    "employee",
    "status",
    "claimed_country",
    "claimed_city",
    "claimed_timezone",
    "logins",
    "failed_logins",
    "allowlisted_logins",
    "anonymized_logins",
    "located_logins",
    "logins_from_claimed_country",
    "share_from_claimed_country",
    "anonymizer_share",
    "claimed_offset_hours",
    "inferred_offset_hours",
    "timezone_differs",
    "alerts",
    "open_alerts",
    "highest_severity",
    "open_alert_rules",
    "alert_ids",
    "dispositions",
    "exception_rank",
    "exception",
];

/// The per-employee rows as CSV.
pub fn render(r: &ComplianceReport) -> Result<String, ReportError> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let fail = |e: ::csv::Error| ReportError::Render(e.to_string());
    w.write_record(COLUMNS).map_err(fail)?;
    let exceptions: HashMap<&str, (usize, &Exception)> = r
        .exceptions
        .iter()
        .enumerate()
        .map(|(i, e)| (e.row.employee.as_str(), (i + 1, e)))
        .collect();
    for e in &r.employees {
        let l = &e.logins;
        let mut open_rules: Vec<&str> = e
            .open_alerts()
            .flat_map(|a| a.rules.iter().map(String::as_str))
            .collect();
        open_rules.sort_unstable();
        open_rules.dedup();
        let exception = exceptions.get(e.employee.as_str());
        let record: [String; 24] = [
            text(&e.employee),
            text(&e.status),
            text(&e.claimed_country),
            text(e.claimed_city.as_deref().unwrap_or("")),
            text(&e.claimed_timezone),
            l.logins.to_string(),
            l.failed_logins.to_string(),
            l.allowlisted_logins.to_string(),
            l.anonymized_logins.to_string(),
            l.located_logins.to_string(),
            l.logins_from_claimed_country.to_string(),
            share(e.share_from_claimed_country),
            share(e.anonymizer_share),
            e.claimed_offset_hours
                .map(|v| v.to_string())
                .unwrap_or_default(),
            e.inferred_offset_hours
                .map(|v| v.to_string())
                .unwrap_or_default(),
            e.timezone_differs
                .map(|v| v.to_string())
                .unwrap_or_default(),
            e.alerts.len().to_string(),
            e.alerts
                .iter()
                .filter(|a| a.status == AlertStatus::Open)
                .count()
                .to_string(),
            e.highest_severity()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            open_rules.join(";"),
            e.alerts
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            text(
                &e.dispositions
                    .iter()
                    .map(|d| verdict_name(Some(d)))
                    .collect::<Vec<_>>()
                    .join(";"),
            ),
            exception
                .map(|(rank, _)| rank.to_string())
                .unwrap_or_default(),
            exception
                .map(|(_, x)| {
                    [(x.not_where, "place"), (x.not_when, "hours")]
                        .iter()
                        .filter(|(on, _)| *on)
                        .map(|(_, name)| *name)
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .unwrap_or_default(),
        ];
        w.write_record(&record).map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ReportError::Render(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ReportError::Render(e.to_string()))
}

fn share(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.6}")).unwrap_or_default()
}

/// A text cell, defused against spreadsheet formula injection.
fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_plain_text_is_kept() {
        assert_eq!(text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text("-1+2"), "'-1+2");
        assert_eq!(text("Berlin"), "Berlin");
    }
}
