//! The HTML report: one self-contained page (inline CSS and SVG, no script, no external
//! asset — a Content-Security-Policy forbids them, so a browser would say so), readable on
//! screen and on paper (`@media print`: A4 landscape, table headers repeated on every
//! page, sections starting on a new page, no backgrounds).
//!
//! The order is the reader's: the exceptions first (who is not where or not when they
//! claim, by risk, with the criterion in words), then population, distributions, alerts,
//! clusters and method, and the per-employee table last as an appendix, in small print
//! (2,000 employees print on 44 A4 pages rather than 116).
//!
//! Every string that comes from data (ids, cities, notes, alert summaries) goes through
//! [`esc`]. Key figures carry `data-figure` (and the raw number in `data-value`), rows
//! `data-employee` / `data-alert`, so tests and scripts can read the page.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use super::alerts::verdict_name;
use super::exceptions;
use super::model::{AlertEntry, ComplianceReport, DispositionRef, EmployeeRow, Population};
use super::svg;

/// Escape text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color: #111; background: #fff; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; border-bottom: 2px solid #2f5d8a; padding-bottom: .2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #999; padding: .25rem .45rem; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #333; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.figures th[scope=row] { font-weight: normal; }
table.wide { font-size: 12px; width: 100%; }
table.appendix th, table.appendix td { padding: .1rem .3rem; }
p.criterion { max-width: 60rem; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; }
.sev-critical { font-weight: 700; text-decoration: underline; }
.sev-high { font-weight: 700; }
.muted { color: #555; }
.flag { font-weight: 700; }
figure { margin: 1rem 0; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: .3rem; }
svg.chart { max-width: 100%; height: auto; }
svg .label, svg .value { font: 12px system-ui, sans-serif; fill: #111; }
svg .tick { font: 11px system-ui, sans-serif; fill: #111; }
svg .note { font: 11px system-ui, sans-serif; fill: #555; }
pre { border: 1px solid #999; padding: .5rem; white-space: pre-wrap; font-size: 12px; }
code { font-size: 12px; overflow-wrap: anywhere; }
nav ol { columns: 2; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  nav { display: none; }
  section.page { break-before: page; }
  thead { display: table-header-group; }
  tr, figure, pre { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  table.exceptions { font-size: 9.5px; }
  table.appendix { font-size: 8px; }
  table.appendix th, table.appendix td { padding: 0 2px; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// The whole page.
pub fn render(r: &ComplianceReport) -> String {
    let mut s = String::with_capacity(64 * 1024 + r.employees.len() * 1024);
    let period = format!("{} to {}", day(r.period.from), day(r.period.to));
    let _ = write!(
        s,
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="generator" content="driftwatch {version}">
<title>driftwatch compliance report, {period}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>Compliance report: logins against claimed profiles</h1>
<p>Period <time data-figure="period_from" datetime="{from}">{from}</time> to <time data-figure="period_to" datetime="{to}">{to}</time> (UTC; the end is not included). Generated <time datetime="{gen}">{gen}</time> by driftwatch {version} from the raw login logs of the period{pseudo}.</p>
</header>
<nav aria-label="Contents"><ol>
<li><a href="#exceptions">Exceptions</a></li>
<li><a href="#population">Population</a></li>
<li><a href="#charts">Distributions</a></li>
<li><a href="#alerts">Alerts</a></li>
<li><a href="#clusters">Shared infrastructure</a></li>
<li><a href="#method">Method</a></li>
<li><a href="#employees">Appendix: every employee</a></li>
</ol></nav>
<main>
"##,
        version = esc(&r.method.driftwatch_version),
        from = time(r.period.from),
        to = time(r.period.to),
        gen = time(r.generated_at),
        pseudo = if r.pseudonymised {
            "; employee ids are <strong data-figure=\"pseudonymised\">pseudonymised</strong>"
        } else {
            ""
        },
    );
    exceptions(&mut s, r);
    population(&mut s, &r.population);
    charts(&mut s, r);
    alerts(&mut s, r);
    clusters(&mut s, r);
    method(&mut s, r);
    employees(&mut s, &r.employees);
    s.push_str("</main>\n</body>\n</html>\n");
    s
}

/// The exceptions, first: who is not where or not when they claim, highest risk first,
/// with the criterion in words and a plain statement when there are none.
fn exceptions(s: &mut String, r: &ComplianceReport) {
    let n = r.exceptions.len();
    let _ = write!(
        s,
        "<section id=\"exceptions\" aria-labelledby=\"exceptions-h\">\n<h2 id=\"exceptions-h\">Exceptions: not where or not when they claim</h2>\n<p class=\"criterion\">{}</p>\n",
        esc(exceptions::CRITERION)
    );
    if n == 0 {
        let _ = writeln!(
            s,
            "<p data-figure=\"exceptions\" data-value=\"0\"><strong>No exceptions.</strong> None of the {} employees in the roster was found away from the place or outside the hours they claim in the period.</p>\n</section>",
            r.population.employees_in_roster
        );
        return;
    }
    let _ = write!(
        s,
        "<p><strong data-figure=\"exceptions\" data-value=\"{n}\">{n} of {roster} employees</strong> are exceptions in the period; every employee is in the appendix.</p>\n\
<table class=\"wide exceptions\">\n<caption>Exceptions, highest risk first</caption>\n<thead><tr>\
<th scope=\"col\" class=\"num\">#</th><th scope=\"col\">Employee</th><th scope=\"col\">Why</th><th scope=\"col\">Claimed</th><th scope=\"col\">Seen in the period</th>\
<th scope=\"col\" class=\"num\">Risk</th><th scope=\"col\">Alerts: severity, rules, first and last line (UTC), status, disposition</th><th scope=\"col\">Dispositions</th></tr></thead>\n<tbody>\n",
        roster = r.population.employees_in_roster,
    );
    for (i, x) in r.exceptions.iter().enumerate() {
        let e = &x.row;
        let mut why = Vec::new();
        if x.not_where {
            why.push(format!(
                "<strong>Not where</strong>: {}",
                esc(&x.place_rules.join(", "))
            ));
        }
        if x.not_when {
            let mut parts: Vec<String> = x.hours_rules.iter().map(|r| esc(r)).collect();
            if x.timezone_differs() {
                parts.push(match (e.inferred_offset_hours, e.claimed_offset_hours) {
                    (Some(i), Some(c)) => {
                        format!("works {} hours, claims {}", utc_offset(i), utc_offset(c))
                    }
                    _ => "inferred time zone differs".to_owned(),
                });
            }
            why.push(format!("<strong>Not when</strong>: {}", parts.join("; ")));
        }
        let claimed = format!(
            "{}{}<br>{}",
            e.claimed_city
                .as_deref()
                .map(|c| format!("{}, ", esc(c)))
                .unwrap_or_default(),
            esc(&e.claimed_country),
            esc(&e.claimed_timezone),
        );
        let pct =
            |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{:.1}%", v * 100.0));
        let seen = format!(
            "{} logins; {} of located from the claimed country; {} through anonymizers{}",
            e.logins.logins,
            pct(e.share_from_claimed_country),
            pct(e.anonymizer_share),
            // Said under "why" already when it differs.
            e.inferred_offset_hours
                .filter(|_| !x.timezone_differs())
                .map(|i| format!("; works {} hours", utc_offset(i)))
                .unwrap_or_default(),
        );
        let risk = match (x.risk, x.highest_risk) {
            (Some(r), _) => r.to_string(),
            (None, Some(h)) => {
                format!("– <span class=\"muted\">({h}, judged benign or false positive)</span>")
            }
            (None, None) => "– <span class=\"muted\">(no alert)</span>".to_owned(),
        };
        let alerts: Vec<String> = e
            .alerts
            .iter()
            .map(|a| {
                format!(
                    "<span data-field=\"alert\" data-alert-id=\"{id}\"><span class=\"sev-{sev}\">{sev}</span> {rules}, {opened}{updated}, {status}, {disp}</span>",
                    id = esc(&a.id),
                    sev = a.severity.as_str(),
                    rules = esc(&a.rules.join(", ")),
                    opened = time(a.opened),
                    updated = if a.updated == a.opened {
                        String::new()
                    } else {
                        format!(" → {}", time(a.updated))
                    },
                    status = a.status.as_str(),
                    disp = a
                        .disposition
                        .as_ref()
                        .map_or_else(|| "no disposition".to_owned(), |d| format!("{} by {}", verdict_name(Some(d)), esc(&d.actor))),
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "<tr data-exception=\"{emp}\" data-rank=\"{rank}\" data-risk=\"{rv}\"><td class=\"num\">{rank}</td><th scope=\"row\">{emp}</th><td data-field=\"why\">{why}</td><td>{claimed}</td><td data-field=\"seen\">{seen}</td><td class=\"num\" data-field=\"risk\">{risk}</td><td data-field=\"alerts\">{alerts}</td><td data-field=\"dispositions\">{disp}</td></tr>",
            emp = esc(&e.employee),
            rank = i + 1,
            rv = x.risk.map(|r| r.to_string()).unwrap_or_default(),
            why = why.join("<br>"),
            alerts = if alerts.is_empty() {
                "–".to_owned()
            } else {
                alerts.join("<br>")
            },
            disp = dispositions(&e.dispositions),
        );
    }
    s.push_str("</tbody></table>\n</section>\n");
}

/// Dispositions as a cell: verdict, by whom, on which day, the note; "–" when none.
fn dispositions(ds: &[DispositionRef]) -> String {
    if ds.is_empty() {
        return "–".to_owned();
    }
    ds.iter()
        .map(|d| {
            format!(
                "{} by {} ({}){}",
                verdict_name(Some(d)),
                esc(&d.actor),
                day(d.recorded),
                if d.note.is_empty() {
                    String::new()
                } else {
                    format!(": “{}”", esc(&d.note))
                }
            )
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

fn population(s: &mut String, p: &Population) {
    s.push_str(
        "<section id=\"population\" class=\"page\" aria-labelledby=\"population-h\">\n<h2 id=\"population-h\">Population</h2>\n",
    );
    let l = &p.logins;
    let status = |k: &str| p.employees_by_status.get(k).copied().unwrap_or(0);
    let rows: Vec<(&str, &str, Cell)> = vec![
        (
            "employees_in_roster",
            "Employees in the roster",
            Cell::n(p.employees_in_roster),
        ),
        (
            "employees_status_active",
            "… of whom active",
            Cell::n(status("active")),
        ),
        (
            "employees_status_leave",
            "… on leave",
            Cell::n(status("leave")),
        ),
        (
            "employees_status_terminated",
            "… terminated",
            Cell::n(status("terminated")),
        ),
        (
            "employees_active",
            "Employees with logins in the period",
            Cell::n(p.employees_active),
        ),
        (
            "logins",
            "Logins (interactive, successful)",
            Cell::n(l.logins),
        ),
        ("failed_logins", "Failed logins", Cell::n(l.failed_logins)),
        (
            "allowlisted_logins",
            "Logins from allowlisted addresses (corporate egress)",
            Cell::n(l.allowlisted_logins),
        ),
        (
            "anonymized_logins",
            "Logins through anonymizers (VPN, hosting, Tor, proxy)",
            Cell::n(l.anonymized_logins),
        ),
        (
            "located_logins",
            "Located logins",
            Cell::n(l.located_logins),
        ),
        (
            "logins_from_claimed_country",
            "Located logins from the claimed country",
            Cell::n(l.logins_from_claimed_country),
        ),
        (
            "share_from_claimed_country",
            "Share of located logins from the claimed country",
            Cell::share(p.share_from_claimed_country),
        ),
        (
            "employees_timezone_inferred",
            "Employees whose working time zone could be inferred",
            Cell::n(p.employees_timezone_inferred),
        ),
        (
            "employees_timezone_differs",
            "… whose inferred time zone differs from the claimed one",
            Cell::n(p.employees_timezone_differs),
        ),
        (
            "employees_using_anonymizers",
            "Employees with logins through anonymizers",
            Cell::n(p.employees_using_anonymizers),
        ),
        (
            "employees_mostly_anonymized",
            "… with an anonymizer share at or above the rule's high share",
            Cell::n(p.employees_mostly_anonymized),
        ),
        (
            "shared_infrastructure_clusters",
            "Shared-infrastructure clusters",
            Cell::n(p.shared_infrastructure_clusters),
        ),
        (
            "alerts_total",
            "Alerts in the period",
            Cell::n(p.alerts.total),
        ),
        (
            "alerts_open",
            "… still open at its end",
            Cell::n(p.alerts.open),
        ),
    ];
    figure_table(s, "Key figures", &rows);
    let d = &p.records;
    let rows: Vec<(&str, &str, Cell)> = vec![
        ("records", "Records read", Cell::n(d.records)),
        (
            "rejected",
            "Records rejected (not decodable)",
            Cell::n(d.rejected),
        ),
        (
            "unknown_user_events",
            "Events of accounts not in the roster",
            Cell::n(d.unknown_user_events),
        ),
        (
            "unknown_accounts",
            "… from this many accounts",
            Cell::n(d.unknown_accounts),
        ),
        (
            "events_before_period",
            "Events before the period (learned from, not counted)",
            Cell::n(d.events_before_period),
        ),
        (
            "events_in_period",
            "Events in the period (all kinds)",
            Cell::n(d.events_in_period),
        ),
        (
            "events_after_period",
            "Events after the period (ignored)",
            Cell::n(d.events_after_period),
        ),
        (
            "late_events",
            "Events later than the reorder window",
            Cell::n(d.late_events),
        ),
    ];
    figure_table(s, "The data behind the figures", &rows);
    s.push_str("</section>\n");
}

fn figure_table(s: &mut String, caption: &str, rows: &[(&str, &str, Cell)]) {
    let _ = write!(
        s,
        "<table class=\"figures\">\n<caption>{}</caption>\n<thead><tr><th scope=\"col\">Figure</th><th scope=\"col\" class=\"num\">Value</th></tr></thead>\n<tbody>\n",
        esc(caption)
    );
    for (key, label, cell) in rows {
        let _ = writeln!(
            s,
            "<tr><th scope=\"row\">{}</th>{}</tr>",
            esc(label),
            cell.td(key)
        );
    }
    s.push_str("</tbody></table>\n");
}

fn charts(s: &mut String, r: &ComplianceReport) {
    let p = &r.population;
    s.push_str("<section id=\"charts\" aria-labelledby=\"charts-h\">\n<h2 id=\"charts-h\">Distributions</h2>\n");
    let by_rule: Vec<(String, u64)> = {
        let mut v: Vec<(String, u64)> = p
            .alerts
            .by_rule
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    let _ = write!(
        s,
        "<figure>\n<figcaption>Alerts by rule</figcaption>\n{}\n</figure>\n",
        svg::bars(
            "chart-alerts-by-rule",
            "Alerts by rule",
            "Number of the period's alerts naming each detection rule; an alert naming two rules counts under both.",
            &by_rule
        )
    );
    let _ = write!(
        s,
        "<figure>\n<figcaption>Share of located logins from the claimed country, per employee</figcaption>\n{}\n</figure>\n",
        svg::histogram(
            "chart-claimed-country-share",
            "Share of located logins from the claimed country",
            "Employees per ten-point band of the share of their located logins that came from the country they claim. Honest employees sit at 90–100%.",
            &p.claimed_country_share_distribution,
            "share of located logins from the claimed country (%)"
        )
    );
    let _ = write!(
        s,
        "<figure>\n<figcaption>Share of logins through anonymizers, per employee</figcaption>\n{}\n</figure>\n",
        svg::histogram(
            "chart-anonymizer-share",
            "Share of logins through anonymizers",
            "Employees per ten-point band of the share of their logins that went through a VPN, hosting provider, Tor or proxy. Most employees sit at 0–10%.",
            &p.anonymizer_share_distribution,
            "share of logins through anonymizers (%)"
        )
    );
    s.push_str("</section>\n");
}

fn alerts(s: &mut String, r: &ComplianceReport) {
    let a = &r.population.alerts;
    s.push_str("<section id=\"alerts\" class=\"page\" aria-labelledby=\"alerts-h\">\n<h2 id=\"alerts-h\">Alerts</h2>\n");
    count_table(
        s,
        "Alerts by rule",
        "Rule",
        "alerts_by_rule",
        a.by_rule.iter().map(|(k, n)| (k.clone(), *n)),
    );
    count_table(
        s,
        "Alerts by highest severity",
        "Severity",
        "alerts_by_severity",
        a.by_severity
            .iter()
            .map(|(k, n)| (k.as_str().to_owned(), *n)),
    );
    count_table(
        s,
        "Alerts by disposition",
        "Disposition",
        "alerts_by_disposition",
        a.by_disposition.iter().map(|(k, n)| (k.clone(), *n)),
    );
    s.push_str("<table class=\"wide\">\n<caption>Every alert with a line in the period</caption>\n<thead><tr><th scope=\"col\">Alert</th><th scope=\"col\">Employee</th><th scope=\"col\">Opened</th><th scope=\"col\">Updated</th><th scope=\"col\">Severity</th><th scope=\"col\">Rules</th><th scope=\"col\" class=\"num\">Risk</th><th scope=\"col\">Status</th><th scope=\"col\">Disposition</th><th scope=\"col\">Latest summary</th></tr></thead>\n<tbody>\n");
    if r.alerts.is_empty() {
        s.push_str("<tr><td colspan=\"10\">No alerts in the period.</td></tr>\n");
    }
    for e in &r.alerts {
        alert_row(s, e);
    }
    s.push_str("</tbody></table>\n</section>\n");
}

fn count_table(
    s: &mut String,
    caption: &str,
    what: &str,
    key: &str,
    rows: impl Iterator<Item = (String, u64)>,
) {
    let _ = write!(
        s,
        "<table data-figure=\"{key}\">\n<caption>{}</caption>\n<thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">Alerts</th></tr></thead>\n<tbody>\n",
        esc(caption),
        esc(what)
    );
    let mut any = false;
    for (k, n) in rows {
        any = true;
        let _ = writeln!(
            s,
            "<tr><th scope=\"row\">{k}</th><td class=\"num\" data-key=\"{k}\" data-value=\"{n}\">{n}</td></tr>",
            k = esc(&k)
        );
    }
    if !any {
        s.push_str("<tr><td colspan=\"2\">none</td></tr>\n");
    }
    s.push_str("</tbody></table>\n");
}

fn alert_row(s: &mut String, e: &AlertEntry) {
    let summary = e.lines.last().map_or("", |l| l.summary.as_str());
    let disposition = match &e.disposition {
        Some(d) => format!(
            "{} by {} at {}{}",
            verdict_name(Some(d)),
            esc(&d.actor),
            time(d.recorded),
            if d.note.is_empty() {
                String::new()
            } else {
                format!(": “{}”", esc(&d.note))
            }
        ),
        None => "none".to_owned(),
    };
    let _ = writeln!(
        s,
        "<tr data-alert=\"{id}\" data-employee=\"{emp}\"><td><code>{id}</code></td><td>{emp}</td><td>{opened}</td><td>{updated}</td><td class=\"sev-{sev}\" data-figure=\"severity\">{sev}</td><td data-figure=\"rules\">{rules}</td><td class=\"num\">{risk}</td><td data-figure=\"status\">{status}</td><td data-figure=\"disposition\">{disposition}</td><td>{summary}</td></tr>",
        id = esc(&e.id),
        emp = esc(&e.employee),
        opened = time(e.opened),
        updated = time(e.updated),
        sev = e.severity.as_str(),
        rules = esc(&e.rules.join(", ")),
        risk = e.risk,
        status = e.status.as_str(),
        summary = esc(summary),
    );
}

fn clusters(s: &mut String, r: &ComplianceReport) {
    s.push_str("<section id=\"clusters\" aria-labelledby=\"clusters-h\">\n<h2 id=\"clusters-h\">Shared infrastructure</h2>\n<p>Networks (an IPv4 address or an IPv6 /64) used by employees who claim different places, as the period's <code>shared_infrastructure</code> alerts found them.</p>\n");
    s.push_str("<table class=\"wide\">\n<caption>Clusters</caption>\n<thead><tr><th scope=\"col\">Network</th><th scope=\"col\" class=\"num\">Employees on it</th><th scope=\"col\">Members (claimed place)</th><th scope=\"col\">First seen</th><th scope=\"col\">Last seen</th><th scope=\"col\">Alerts</th></tr></thead>\n<tbody>\n");
    if r.clusters.is_empty() {
        s.push_str("<tr><td colspan=\"6\">No shared infrastructure in the period.</td></tr>\n");
    }
    for c in &r.clusters {
        let members: Vec<String> = c
            .members
            .iter()
            .map(|m| {
                format!(
                    "{} ({}{})",
                    esc(&m.employee),
                    m.claimed_city
                        .as_deref()
                        .map(|c| format!("{}, ", esc(c)))
                        .unwrap_or_default(),
                    esc(&m.claimed_country)
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "<tr data-cluster=\"{net}\"><td><code>{net}</code></td><td class=\"num\" data-figure=\"employees_on_network\">{n}</td><td>{members}</td><td>{first}</td><td>{last}</td><td>{alerts}</td></tr>",
            net = esc(&c.network),
            n = c.employees_on_network,
            members = members.join("; "),
            first = time(c.first_seen),
            last = time(c.last_seen),
            alerts = c
                .alerts
                .iter()
                .map(|a| format!("<code>{}</code>", esc(a)))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    s.push_str("</tbody></table>\n</section>\n");
}

fn employees(s: &mut String, rows: &[EmployeeRow]) {
    s.push_str("<section id=\"employees\" class=\"page\" aria-labelledby=\"employees-h\">\n<h2 id=\"employees-h\">Appendix: every employee</h2>\n<p>One row per roster employee, by id; the exceptions among them lead the report.</p>\n");
    s.push_str("<table class=\"wide appendix\">\n<caption>One row per roster employee</caption>\n<thead><tr>\
<th scope=\"col\">Employee</th><th scope=\"col\">Status</th><th scope=\"col\">Claimed country</th><th scope=\"col\">Claimed city</th><th scope=\"col\">Claimed time zone</th>\
<th scope=\"col\" class=\"num\">Logins</th><th scope=\"col\" class=\"num\">From claimed country</th><th scope=\"col\">Offset claimed / inferred</th>\
<th scope=\"col\" class=\"num\">Anonymizer share</th><th scope=\"col\">Open alerts</th><th scope=\"col\">Other alerts</th><th scope=\"col\">Dispositions</th></tr></thead>\n<tbody>\n");
    for r in rows {
        let offsets = match (r.claimed_offset_hours, r.inferred_offset_hours) {
            (Some(c), Some(i)) => format!(
                "{} / <span class=\"{}\">{}</span>",
                utc_offset(c),
                if r.timezone_differs == Some(true) {
                    "flag"
                } else {
                    ""
                },
                utc_offset(i)
            ),
            (Some(c), None) => format!(
                "{} / <span class=\"muted\" title=\"not inferred\">–</span>",
                utc_offset(c)
            ),
            _ => "–".to_owned(),
        };
        let alert_list = |open: bool| {
            let list: Vec<String> = r
                .alerts
                .iter()
                .filter(|a| (a.status == super::model::AlertStatus::Open) == open)
                .map(|a| {
                    format!(
                        "<span class=\"sev-{sev}\">{sev}</span> {rules}{status}",
                        sev = a.severity.as_str(),
                        rules = esc(&a.rules.join(", ")),
                        status = if open {
                            String::new()
                        } else {
                            format!(" ({})", a.status.as_str())
                        }
                    )
                })
                .collect();
            if list.is_empty() {
                "–".to_owned()
            } else {
                list.join("<br>")
            }
        };
        let _ = writeln!(
            s,
            "<tr data-employee=\"{emp}\"><th scope=\"row\">{emp}</th><td>{status}</td><td data-figure=\"claimed_country\">{country}</td><td>{city}</td><td>{tz}</td>{logins}{share}<td data-figure=\"offsets\" data-claimed=\"{dc}\" data-inferred=\"{di}\" data-differs=\"{dd}\">{offsets}</td>{anon}<td data-figure=\"open_alerts\" data-value=\"{n_open}\">{open}</td><td data-figure=\"other_alerts\">{other}</td><td data-figure=\"dispositions\">{disp}</td></tr>",
            emp = esc(&r.employee),
            status = esc(&r.status),
            country = esc(&r.claimed_country),
            city = esc(r.claimed_city.as_deref().unwrap_or("")),
            tz = esc(&r.claimed_timezone),
            logins = Cell::n(r.logins.logins).td("logins"),
            share = Cell::share(r.share_from_claimed_country).td("share_from_claimed_country"),
            dc = r
                .claimed_offset_hours
                .map(|v| v.to_string())
                .unwrap_or_default(),
            di = r
                .inferred_offset_hours
                .map(|v| v.to_string())
                .unwrap_or_default(),
            dd = r
                .timezone_differs
                .map(|v| v.to_string())
                .unwrap_or_default(),
            anon = Cell::share(r.anonymizer_share).td("anonymizer_share"),
            n_open = r.open_alerts().count(),
            open = alert_list(true),
            other = alert_list(false),
            disp = dispositions(&r.dispositions),
        );
    }
    s.push_str("</tbody></table>\n</section>\n");
}

fn method(s: &mut String, r: &ComplianceReport) {
    let m = &r.method;
    s.push_str("<section id=\"method\" class=\"page\" aria-labelledby=\"method-h\">\n<h2 id=\"method-h\">Method</h2>\n");
    s.push_str("<p>Every figure is re-derived from the raw login logs with the same core as <code>driftwatch replay</code> (decode, resolve to the roster, GeoIP enrichment, detectors and risk), independent of the running service's state. Running the same command over the same files gives the same figures; the files are listed below with their SHA-256.</p>\n<dl class=\"meta\">\n");
    let audit = match &m.audit_log {
        Some(a) => format!(
            "<code data-figure=\"audit_head_hash\">{}</code> (record {}; {} records verified, {} dispositions; {})",
            esc(a.head_hash.as_deref().unwrap_or("empty log")),
            a.head_seq
                .map(|s| s.to_string())
                .unwrap_or_else(|| "–".into()),
            a.records,
            a.dispositions,
            esc(&a.path.display().to_string())
        ),
        None => "<span data-figure=\"audit_head_hash\">no audit log</span> (no dispositions shown)"
            .to_owned(),
    };
    let meta = [
        (
            "driftwatch version",
            format!(
                "<span data-figure=\"driftwatch_version\">{}</span>",
                esc(&m.driftwatch_version)
            ),
        ),
        (
            "Period",
            format!(
                "{} to {} (UTC, end excluded)",
                time(m.period.from),
                time(m.period.to)
            ),
        ),
        ("Generated", time(m.generated_at)),
        ("Audit-log head", audit),
        (
            "Pseudonymisation",
            m.pseudonymisation
                .as_deref()
                .map(esc)
                .unwrap_or_else(|| "none: real employee ids".to_owned()),
        ),
    ];
    for (k, v) in meta {
        let _ = writeln!(s, "<dt>{}</dt><dd>{v}</dd>", esc(k));
    }
    s.push_str("</dl>\n<h3>GeoIP databases</h3>\n<table>\n<caption>Databases the enrichment used</caption>\n<thead><tr><th scope=\"col\">Kind</th><th scope=\"col\">Type</th><th scope=\"col\">Build</th><th scope=\"col\">File</th></tr></thead>\n<tbody>\n");
    if m.geoip_databases.is_empty() {
        s.push_str("<tr><td colspan=\"4\">none configured: no location was known</td></tr>\n");
    }
    for d in &m.geoip_databases {
        let kind = serde_json::to_value(d.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<tr data-database=\"{kind}\"><td>{kind}</td><td>{t}</td><td data-figure=\"build\">{b}</td><td><code>{p}</code></td></tr>",
            kind = esc(&kind),
            t = esc(&d.database_type),
            b = time(d.build_time),
            p = esc(&d.path.display().to_string())
        );
    }
    s.push_str("</tbody></table>\n");
    if !m.intel_lists.is_empty() {
        s.push_str("<table>\n<caption>Intel lists</caption>\n<thead><tr><th scope=\"col\">Tag</th><th scope=\"col\">Provider</th><th scope=\"col\" class=\"num\">ASNs</th><th scope=\"col\" class=\"num\">IPv4 networks</th><th scope=\"col\" class=\"num\">IPv6 networks</th><th scope=\"col\">File</th></tr></thead>\n<tbody>\n");
        for l in &m.intel_lists {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
                esc(&l.tag),
                esc(l.provider.as_deref().unwrap_or("")),
                l.asns,
                l.ipv4_networks,
                l.ipv6_networks,
                esc(&l.path.display().to_string())
            );
        }
        s.push_str("</tbody></table>\n");
    }
    let _ = write!(
        s,
        "<h3>Detector settings</h3>\n<p>The <code>[detect]</code>, <code>[risk]</code> and <code>[suppress]</code> sections of the configuration as written; every setting not shown has its documented default (<code>driftwatch.example.toml</code> of driftwatch {}).</p>\n<pre data-figure=\"settings\">{}</pre>\n",
        esc(&m.driftwatch_version),
        esc(&m.settings_toml)
    );
    s.push_str("<h3>Files</h3>\n<table class=\"wide\">\n<caption>Every file the figures come from</caption>\n<thead><tr><th scope=\"col\">Role</th><th scope=\"col\">File</th><th scope=\"col\" class=\"num\">Bytes</th><th scope=\"col\">SHA-256</th></tr></thead>\n<tbody>\n");
    for f in &m.files {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
            esc(&f.role),
            esc(&f.path.display().to_string()),
            f.bytes,
            esc(&f.sha256)
        );
    }
    s.push_str("</tbody></table>\n<h3>Definitions</h3>\n<dl>\n");
    for d in &m.definitions {
        let _ = writeln!(
            s,
            "<dt><code>{}</code></dt><dd>{}</dd>",
            esc(d.figure),
            esc(d.meaning)
        );
    }
    s.push_str("</dl>\n</section>\n");
}

/// A figure's cell: the text shown and the raw number for machines.
struct Cell {
    text: String,
    value: String,
}

impl Cell {
    fn n(n: u64) -> Cell {
        Cell {
            text: n.to_string(),
            value: n.to_string(),
        }
    }

    /// A share as a percentage with one decimal; "–" when there is nothing to divide by.
    fn share(v: Option<f64>) -> Cell {
        match v {
            Some(v) => Cell {
                text: format!("{:.1}%", v * 100.0),
                value: format!("{v:.6}"),
            },
            None => Cell {
                text: "–".to_owned(),
                value: String::new(),
            },
        }
    }

    fn td(&self, key: &str) -> String {
        format!(
            "<td class=\"num\" data-figure=\"{}\" data-value=\"{}\">{}</td>",
            esc(key),
            esc(&self.value),
            esc(&self.text)
        )
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// `UTC+9`, `UTC−4`, `UTC+5:30`.
fn utc_offset(hours: f64) -> String {
    let sign = if hours < 0.0 { '−' } else { '+' };
    let minutes = (hours.abs() * 60.0).round() as i64;
    if minutes % 60 == 0 {
        format!("UTC{sign}{}", minutes / 60)
    } else {
        format!("UTC{sign}{}:{:02}", minutes / 60, minutes % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_open_markup() {
        assert_eq!(
            esc(r#"<img src=x onerror='a'> & "q""#),
            "&lt;img src=x onerror=&#39;a&#39;&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn offsets_read_like_utc_offsets() {
        assert_eq!(utc_offset(9.0), "UTC+9");
        assert_eq!(utc_offset(-4.0), "UTC−4");
        assert_eq!(utc_offset(5.5), "UTC+5:30");
        assert_eq!(utc_offset(0.0), "UTC+0");
    }
}
