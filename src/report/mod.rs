//! `driftwatch report`: a periodic compliance report (HTML, CSV or JSON) — first the
//! exceptions (employees not where or not when they claim, by risk), then the population's
//! figures, the period's alerts and dispositions, the method, and one row per employee.
//!
//! # Re-derived from the raw logs
//!
//! The report does not ask the running service for its state. It runs the login logs of
//! the period through the same core as `driftwatch replay` (decode → resolve → enrich →
//! engine, [`crate::drivers::replay::run_observed`]) and derives every figure from that
//! run: an auditor with the same logs, roster, databases and configuration runs the same
//! command and gets the same figures, and the method section lists the SHA-256 of each of
//! those files, the GeoIP builds, the detector settings and the driftwatch version. A
//! service that lost state, was misconfigured for a week or was restored from an old
//! changelog cannot make the report say otherwise.
//!
//! Events before the period are applied (so the detectors start the period with the
//! baselines and working-hours history the service had) but counted in no figure; events
//! at or after its end are neither applied nor counted. Analysts' dispositions come from
//! the tamper-evident audit log (`--audit-log`), whose chain is verified first and whose
//! head hash the report names; they are shown beside the alerts, not applied to the
//! detection, so a report shows what analysts closed as well as what the detectors found.
//!
//! # Layout
//!
//! - [`model`]: the report's types (what the JSON output is).
//! - [`figures`]: per-employee login counts (the replay's observer) and inferences.
//! - [`alerts`]: alert lines folded per alert, dispositions, clusters.
//! - [`exceptions`]: employees not where or not when they claim, by risk.
//! - [`method`]: settings, file digests and definitions.
//! - [`audit`]: dispositions and the head hash from the audit log.
//! - [`pseudonym`]: keyed pseudonyms for employee ids, in rows and in text.
//! - [`html`] (with [`svg`] charts) and [`csv`]: the renderings.

pub mod alerts;
pub mod audit;
pub mod csv;
pub mod exceptions;
pub mod figures;
pub mod html;
pub mod method;
pub mod model;
pub mod pseudonym;
pub mod svg;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;

use crate::alert::Evidence;
use crate::config::Config;
use crate::decode::FormatChoice;
use crate::drivers::input::Source;
use crate::drivers::replay::{self, Core, ReplayError};
use crate::engine::Engine;
use crate::roster::EmployeeId;
pub use model::ComplianceReport;
use model::{
    AlertFigures, AlertStatus, EmployeeRow, LoginCounts, Method, Population, RecordFigures,
};
use pseudonym::{Pseudonymiser, Redactor};

/// The reported span of event time: `from ≤ t < to`, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// `from` must be before `to`.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Period, ReportError> {
        if from >= to {
            return Err(ReportError::Usage(format!(
                "the period is empty: --from {} is not before --to {}",
                from.to_rfc3339(),
                to.to_rfc3339()
            )));
        }
        Ok(Period { from, to })
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }
}

/// A period bound from the command line: `YYYY-MM-DD` (midnight UTC), RFC 3339, or
/// `this-month` / `last-month` (midnight UTC on the first of the current / previous month,
/// by the clock), so a scheduled job reports the month just ended with
/// `--from last-month --to this-month` and needs no shell to compute dates.
pub fn parse_bound(s: &str) -> Result<DateTime<Utc>, String> {
    parse_bound_at(s, Utc::now())
}

/// [`parse_bound`] with the clock given.
pub fn parse_bound_at(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let first_of = |months_back: u32| {
        let this = now.date_naive().with_day(1)?;
        let d = this.checked_sub_months(chrono::Months::new(months_back))?;
        Some(d.and_hms_opt(0, 0, 0)?.and_utc())
    };
    let relative = match s {
        "this-month" => Some(first_of(0)),
        "last-month" => Some(first_of(1)),
        _ => None,
    };
    if let Some(t) = relative {
        return t.ok_or_else(|| format!("{s}: no such month"));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("{s:?} is not a date"));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("{s:?} is neither YYYY-MM-DD, an RFC 3339 time, this-month nor last-month")
        })
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One self-contained page with charts; prints well.
    Html,
    /// One row per employee (RFC 4180).
    Csv,
    /// Everything, as one object.
    Json,
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Bad arguments or settings (exit 2).
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("audit log {path}: {message}")]
    Audit { path: PathBuf, message: String },
    #[error("pseudonymisation key: {0}")]
    Key(String),
    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot render the report: {0}")]
    Render(String),
}

impl ReportError {
    /// The operator's to fix: bad arguments or settings, not a failed run.
    pub fn is_usage(&self) -> bool {
        matches!(self, ReportError::Usage(_))
    }
}

/// What to report on.
pub struct Request<'a> {
    pub core: Core<'a>,
    pub config: &'a Config,
    pub config_path: &'a Path,
    /// Input files (no stdin: each file's digest goes into the method section).
    pub inputs: Vec<PathBuf>,
    pub format: FormatChoice,
    pub period: Period,
    pub audit: Option<audit::Trail>,
    pub pseudonymise: Option<Pseudonymiser>,
    pub generated_at: DateTime<Utc>,
}

/// What `driftwatch report` is asked for, before anything is loaded.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    pub config_path: &'a Path,
    /// Files or folders of login logs (folders expand to their files).
    pub inputs: &'a [PathBuf],
    pub period: Period,
    /// Overrides `[decode] format`.
    pub input_format: Option<FormatChoice>,
    pub audit_log: Option<&'a Path>,
    pub pseudonymise: bool,
}

/// Load the configuration and everything it points to (roster, GeoIP databases and lists,
/// suppressions, the audit log), then [`derive`] the report. A configuration that does
/// not load is the operator's to fix ([`ReportError::Usage`]).
pub fn generate(job: &Job<'_>) -> Result<ComplianceReport, ReportError> {
    let usage = |what: &str, e: &dyn std::fmt::Display| ReportError::Usage(format!("{what}: {e}"));
    let config = Config::load(job.config_path).map_err(|e| usage("configuration", &e))?;
    let generated_at = Utc::now();
    let loaded = replay::Loaded::load(&config, None, generated_at).map_err(|e| {
        // The error and each of its causes: "loading roster F: line 3: ...".
        let chain: Vec<String> =
            std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
                .map(ToString::to_string)
                .collect();
        ReportError::Usage(chain.join(": "))
    })?;
    let request = Request {
        core: loaded.core(),
        config: &config,
        config_path: job.config_path,
        inputs: input_files(job.inputs)?,
        format: job.input_format.unwrap_or(config.decode.format),
        period: job.period,
        audit: job.audit_log.map(audit::Trail::load).transpose()?,
        pseudonymise: job
            .pseudonymise
            .then(pseudonym::Pseudonymiser::from_env)
            .transpose()?,
        generated_at,
    };
    derive(&request)
}

/// Run the period's logs through the core and derive the report.
pub fn derive(req: &Request<'_>) -> Result<ComplianceReport, ReportError> {
    let mut digests = Vec::new();
    for (role, path) in method::files(req.config, req.config_path, &req.inputs) {
        digests.push(method::digest(role, path)?);
    }
    let settings_toml = method::settings_toml(req.config_path)?;

    let opts = replay::Options::in_process(
        req.inputs.iter().cloned().map(Source::File).collect(),
        req.format,
    );
    let mut engine = Engine::new(req.config.engine());
    let mut counter = figures::Counter::new(req.period, req.core.roster, req.core.suppress);
    let run = replay::run_observed(&req.core, &mut engine, &opts, &mut |item| {
        counter.observe(item)
    })?
    .whole()?;

    let mut alerts = alerts::fold(&run.alerts, req.period);
    let no_dispositions = Vec::new();
    let recorded = req
        .audit
        .as_ref()
        .map_or(&no_dispositions, |t| &t.dispositions);
    let mut dispositions = alerts::attach(&mut alerts, recorded, req.period);
    alerts::settle(&mut alerts, &engine, &req.config.risk, req.period.to);
    let clusters = alerts::clusters(&alerts);

    let detect = &req.config.detect;
    let mut by_employee: HashMap<&EmployeeId, Vec<&model::AlertEntry>> = HashMap::new();
    for (e, a) in &alerts {
        by_employee.entry(e).or_default().push(a);
    }
    let mut rows = Vec::new();
    let mut total = LoginCounts::default();
    // Every status, so the JSON has the same keys whatever the roster holds.
    let mut by_status: BTreeMap<String, u64> = crate::roster::Status::ALL
        .iter()
        .map(|st| (st.as_str().to_owned(), 0))
        .collect();
    let (mut tz_inferred, mut tz_differs) = (0, 0);
    for profile in req.core.roster.iter() {
        let id = &profile.employee_id;
        let counts = counter.per_employee.get(id).copied().unwrap_or_default();
        total.add(&counts);
        *by_status
            .entry(profile.status.as_str().to_owned())
            .or_default() += 1;
        let offsets = figures::offsets(
            &detect.working_hours,
            profile,
            engine.state(id),
            req.period.to,
        );
        if let Some(d) = offsets.differs {
            tz_inferred += 1;
            tz_differs += u64::from(d);
        }
        let mine = by_employee.remove(id).unwrap_or_default();
        rows.push(EmployeeRow {
            employee: id.0.to_string(),
            status: profile.status.as_str().to_owned(),
            claimed_country: profile.country.clone(),
            claimed_city: profile.city.clone(),
            claimed_timezone: profile.timezone.name().to_owned(),
            share_from_claimed_country: counts.share_from_claimed_country(),
            anonymizer_share: counts.anonymizer_share(),
            logins: counts,
            claimed_offset_hours: Some(offsets.claimed),
            inferred_offset_hours: offsets.inferred,
            timezone_differs: offsets.differs,
            alerts: mine.iter().map(|a| model::AlertRef::of(a)).collect(),
            dispositions: dispositions.remove(id).unwrap_or_default(),
        });
    }

    let t = &run.tally;
    let high_share = detect.anonymizer.high_share;
    let population = Population {
        employees_in_roster: req.core.roster.len() as u64,
        employees_by_status: by_status,
        employees_active: rows.iter().filter(|r| r.logins.logins > 0).count() as u64,
        logins: total,
        share_from_claimed_country: total.share_from_claimed_country(),
        employees_timezone_inferred: tz_inferred,
        employees_timezone_differs: tz_differs,
        employees_using_anonymizers: rows
            .iter()
            .filter(|r| r.logins.anonymized_logins > 0)
            .count() as u64,
        employees_mostly_anonymized: rows
            .iter()
            .filter(|r| r.anonymizer_share.is_some_and(|s| s >= high_share))
            .count() as u64,
        claimed_country_share_distribution: figures::distribution(rows.iter().map(|r| {
            (
                r.logins.logins_from_claimed_country,
                r.logins.located_logins,
            )
        })),
        anonymizer_share_distribution: figures::distribution(rows.iter().map(|r| {
            (
                r.logins.anonymized_logins,
                r.logins.logins.saturating_sub(r.logins.allowlisted_logins),
            )
        })),
        shared_infrastructure_clusters: clusters.len() as u64,
        alerts: alert_figures(&alerts),
        records: RecordFigures {
            records: t.records,
            rejected: t.rejected_total(),
            unknown_user_events: t.unknown_user_events(),
            unknown_accounts: t.unknown_users.len() as u64,
            events_before_period: counter.before,
            events_in_period: counter.within,
            events_after_period: counter.after,
            late_events: run.late_events,
        },
    };

    let method = Method {
        driftwatch_version: env!("CARGO_PKG_VERSION").to_owned(),
        period: req.period,
        generated_at: req.generated_at,
        settings_toml,
        geoip_databases: req.core.enricher.databases(),
        intel_lists: req.core.enricher.lists(),
        files: digests,
        audit_log: req.audit.as_ref().map(audit::Trail::summary),
        pseudonymisation: req.pseudonymise.as_ref().map(Pseudonymiser::describe),
        definitions: method::definitions(),
    };
    let mut report = ComplianceReport {
        period: req.period,
        generated_at: req.generated_at,
        pseudonymised: false,
        population,
        exceptions: Vec::new(),
        employees: rows,
        alerts: Vec::new(),
        clusters,
        method,
    };
    match &req.pseudonymise {
        Some(p) => pseudonymise(&mut report, alerts, p, &Redactor::new(p, req.core.roster)),
        None => report.alerts = alerts.into_iter().map(|(_, a)| a).collect(),
    }
    report.employees.sort_by(|a, b| a.employee.cmp(&b.employee));
    // From the rows as shown, so a pseudonymised report's exceptions carry the same
    // pseudonyms and redacted notes.
    report.exceptions = exceptions::find(&report.employees);
    Ok(report)
}

fn alert_figures(alerts: &[(EmployeeId, model::AlertEntry)]) -> AlertFigures {
    let mut f = AlertFigures {
        total: alerts.len() as u64,
        ..AlertFigures::default()
    };
    for v in ["true_positive", "benign", "false_positive", "none"] {
        f.by_disposition.insert(v.to_owned(), 0);
    }
    for (_, a) in alerts {
        f.open += u64::from(a.status == AlertStatus::Open);
        for r in &a.rules {
            *f.by_rule.entry(r.clone()).or_default() += 1;
        }
        *f.by_severity.entry(a.severity).or_default() += 1;
        *f.by_disposition
            .entry(alerts::verdict_name(a.disposition.as_ref()).to_owned())
            .or_default() += 1;
    }
    f
}

/// Replace every employee id — rows, alerts, clusters, and inside alert text, evidence and
/// analysts' notes — by its pseudonym.
fn pseudonymise(
    report: &mut ComplianceReport,
    alerts: Vec<(EmployeeId, model::AlertEntry)>,
    p: &Pseudonymiser,
    r: &Redactor<'_>,
) {
    report.pseudonymised = true;
    let id = |s: &str| r.id(p, &EmployeeId(s.into()));
    let note = |d: &mut model::DispositionRef| d.note = r.text_any(&d.note);
    for row in &mut report.employees {
        row.employee = id(&row.employee);
        row.dispositions.iter_mut().for_each(note);
        row.alerts
            .iter_mut()
            .filter_map(|a| a.disposition.as_mut())
            .for_each(note);
    }
    for c in &mut report.clusters {
        for m in &mut c.members {
            m.employee = id(&m.employee);
        }
        c.members.sort();
    }
    report.alerts = alerts
        .into_iter()
        .map(|(employee, mut a)| {
            // Everyone the alert's text may name: its employee and its clusters' members.
            let mut named = vec![employee.clone()];
            for line in &a.lines {
                for ev in &line.evidence {
                    if let Evidence::Cluster { members, .. } = ev {
                        named.extend(members.iter().map(|m| m.employee_id.clone()));
                    }
                }
            }
            let pseudonym = r.id(p, &employee);
            a.employee = pseudonym.clone();
            if let Some(d) = a.disposition.as_mut() {
                note(d);
            }
            for line in &mut a.lines {
                line.summary = r.text(&line.summary, &named);
                for ev in &mut line.evidence {
                    pseudonymise_evidence(ev, &pseudonym, |s| r.text(s, &named), |e| r.id(p, e));
                }
            }
            a
        })
        .collect();
}

/// One piece of evidence with ids and account names replaced. Exhaustive on purpose: a
/// new kind of evidence must decide what in it names a person.
fn pseudonymise_evidence(
    ev: &mut Evidence,
    pseudonym: &str,
    text: impl Fn(&str) -> String,
    id: impl Fn(&EmployeeId) -> String,
) {
    match ev {
        // The account that signed in is the alert's employee.
        // Device names (`hking-laptop`) and the IdP's ids may carry a name too.
        Evidence::Login {
            user,
            source_id,
            correlation_id,
            user_agent,
            device,
            ..
        } => {
            *user = pseudonym.to_owned();
            for s in [source_id, correlation_id, user_agent, device]
                .into_iter()
                .flatten()
            {
                *s = text(s);
            }
        }
        Evidence::Cluster { members, .. } => {
            for m in members {
                m.employee_id = EmployeeId(id(&m.employee_id).into());
            }
        }
        Evidence::Note { text: t } => *t = text(t),
        // Device names (`hking-laptop`) and other learned values may carry a name.
        Evidence::Baseline { value, known, .. } => {
            *value = text(value);
            for k in known {
                *k = text(k);
            }
        }
        Evidence::Session { session, .. } => {
            if let Some(s) = session {
                *s = text(s);
            }
        }
        Evidence::Travel {
            from_place,
            to_place,
            ..
        } => {
            for place in [from_place, to_place].into_iter().flatten() {
                *place = text(place);
            }
        }
        Evidence::Share { providers, .. } => {
            for pr in providers {
                *pr = text(pr);
            }
        }
        // Places, networks, claimed places and database builds name no one.
        Evidence::Location { .. }
        | Evidence::Claimed { .. }
        | Evidence::Database { .. }
        | Evidence::Hours { .. } => {}
    }
}

/// The files behind the command line's inputs (folders expand to their files). Stdin is
/// refused: each input's SHA-256 goes into the method section.
pub fn input_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, ReportError> {
    let mut files = Vec::new();
    for arg in args {
        let sources = Source::expand(arg).map_err(|error| ReportError::Read {
            path: arg.clone(),
            error,
        })?;
        for s in sources {
            match s {
                Source::File(p) => files.push(p),
                Source::Stdin => {
                    return Err(ReportError::Usage(
                        "a report reads files, not stdin: each input's SHA-256 goes into its \
                         method section"
                            .to_owned(),
                    ));
                }
            }
        }
    }
    Ok(files)
}

/// Where each format goes: stdout (`None`) or a file. Several formats need `out` to be a
/// folder; checked before any work is done.
pub fn outputs(
    formats: &[ReportFormat],
    out: Option<&Path>,
    period: Period,
) -> Result<Vec<(ReportFormat, Option<PathBuf>)>, ReportError> {
    let mut formats = formats.to_vec();
    formats.dedup();
    if formats.is_empty() {
        return Err(ReportError::Usage("--format: name at least one".to_owned()));
    }
    match out {
        Some(dir) if dir.is_dir() => Ok(formats
            .into_iter()
            .map(|f| (f, Some(output_path(dir, period, f))))
            .collect()),
        _ if formats.len() > 1 => Err(ReportError::Usage(
            "several formats need --out to be an existing folder (one file per format)".to_owned(),
        )),
        out => Ok(vec![(formats[0], out.map(Path::to_owned))]),
    }
}

/// Where a report in `format` goes: `out` itself, or — when `out` is a folder — a file in
/// it named after the period (`driftwatch-report-2026-10-01--2026-11-01.html`), so a
/// scheduled job keeps one file per period without computing names.
pub fn output_path(out: &Path, period: Period, format: ReportFormat) -> PathBuf {
    if !out.is_dir() {
        return out.to_owned();
    }
    let ext = match format {
        ReportFormat::Html => "html",
        ReportFormat::Csv => "csv",
        ReportFormat::Json => "json",
    };
    let day = |t: DateTime<Utc>| {
        if t.time() == chrono::NaiveTime::MIN {
            t.format("%Y-%m-%d").to_string()
        } else {
            t.format("%Y-%m-%dT%H%M%SZ").to_string()
        }
    };
    out.join(format!(
        "driftwatch-report-{}--{}.{ext}",
        day(period.from),
        day(period.to)
    ))
}

/// Write the report to `out` (stdout when `None`). A file is written beside its final
/// name and renamed into place, so a scheduled job never leaves half a report behind.
pub fn write(out: Option<&Path>, text: &str) -> Result<(), ReportError> {
    use std::io::Write as _;
    let Some(path) = out else {
        return std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|error| ReportError::Write {
                path: PathBuf::from("-"),
                error,
            });
    };
    let fail = |error| ReportError::Write {
        path: path.to_owned(),
        error,
    };
    let name = path.file_name().ok_or_else(|| {
        fail(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        ))
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(error));
    }
    Ok(())
}

/// The report as text in `format`.
pub fn render(report: &ComplianceReport, format: ReportFormat) -> Result<String, ReportError> {
    match format {
        ReportFormat::Html => Ok(html::render(report)),
        ReportFormat::Csv => csv::render(report),
        ReportFormat::Json => serde_json::to_string_pretty(report)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| ReportError::Render(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The login evidence's device, user agent and IdP ids go through the pseudonymiser
    /// like the source id: a device is often named after its user.
    #[test]
    fn login_evidence_is_pseudonymised_in_every_text_field() {
        let mut ev = Evidence::Login {
            time: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            ip: "192.0.2.1".parse().unwrap(),
            kind: crate::event::EventKind::InteractiveLogin,
            format: crate::event::Format::Okta,
            user: "dramos@corp.example".into(),
            source_id: Some("evt-dramos".into()),
            correlation_id: Some("tx-dramos".into()),
            user_agent: Some("agent of dramos".into()),
            device: Some("dramos-laptop".into()),
        };
        pseudonymise_evidence(
            &mut ev,
            "P-1",
            |s| s.replace("dramos", "P-1"),
            |e| e.0.to_string(),
        );
        let text = serde_json::to_string(&ev).unwrap();
        assert!(!text.contains("dramos"), "{text}");
        for part in ["tx-P-1", "agent of P-1", "P-1-laptop", "evt-P-1"] {
            assert!(text.contains(part), "{part} in {text}");
        }
    }

    #[test]
    fn bounds_are_dates_or_rfc3339() {
        assert_eq!(
            parse_bound("2026-10-01").unwrap().to_rfc3339(),
            "2026-10-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_bound("2026-10-01T02:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2026-10-01T00:00:00+00:00"
        );
        assert!(parse_bound("October").is_err());
        let now = parse_bound("2026-03-31T23:00:00Z").unwrap();
        assert_eq!(
            parse_bound_at("last-month", now).unwrap(),
            parse_bound("2026-02-01").unwrap()
        );
        assert_eq!(
            parse_bound_at("this-month", now).unwrap(),
            parse_bound("2026-03-01").unwrap()
        );
        let january = parse_bound("2026-01-15").unwrap();
        assert_eq!(
            parse_bound_at("last-month", january).unwrap(),
            parse_bound("2025-12-01").unwrap()
        );
        assert!(parse_bound("2026-02-30").is_err());
    }

    #[test]
    fn a_period_is_half_open_and_not_empty() {
        let (a, b) = (
            parse_bound("2026-10-01").unwrap(),
            parse_bound("2026-11-01").unwrap(),
        );
        let p = Period::new(a, b).unwrap();
        assert!(p.contains(a));
        assert!(!p.contains(b));
        assert!(Period::new(b, a).unwrap_err().is_usage());
        assert!(Period::new(a, a).is_err());
    }
}
