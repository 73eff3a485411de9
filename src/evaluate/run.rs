//! The real-world evaluation of one simulated company (`driftwatch simulate --world real`):
//! its events replayed through the core in a list mode and with a City database, the
//! peers' logic run over the same enriched sign-ins, everything scored against the truth.
//!
//! List modes: [`ListMode::Deployed`] is what a real deployment has (the shipped list, the
//! public lists, the company's own egress: the simulation's `driftwatch.toml`);
//! [`ListMode::Full`] adds the simulator's truth lists (every carrier, hosting and VPN
//! block: `driftwatch-full-lists.toml`), an upper bound no deployment reaches.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;

use super::TruthFile;
use super::peers::{self, Peer, PeerLogin};
use super::score::{Line, Score, SummaryRow, score, summary_table};
use crate::config::Config;
use crate::decode::FormatChoice;
use crate::drivers::input::Source;
use crate::drivers::replay::{self, Loaded, Options};
use crate::engine::{Engine, Resolved};
use crate::event::{self, EventKind};

/// Which lists enrichment gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ListMode {
    /// Only what a real deployment has.
    Deployed,
    /// Plus the simulator's truth lists (the upper bound).
    Full,
}

impl ListMode {
    fn config(self) -> &'static str {
        match self {
            ListMode::Deployed => crate::simulate::records::paths::CONFIG,
            ListMode::Full => crate::simulate::records::paths::CONFIG_FULL_LISTS,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ListMode::Deployed => "deployed lists",
            ListMode::Full => "full truth lists",
        }
    }
}

/// Which City database enrichment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum CityChoice {
    /// The database the world was built with (DB-IP Lite City).
    Dbip,
    /// The other database of the download (GeoLite2 City), which the world was not built
    /// from: the disagreement between databases is part of what is measured.
    Geolite2,
}

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("reading {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Load(#[from] replay::LoadError),
    #[error(transparent)]
    Replay(#[from] replay::ReplayError),
    #[error("{dir}: no {what} (was it simulated with --world real and a GeoLite2 download?)")]
    Missing { dir: PathBuf, what: &'static str },
}

/// One evaluation's result: the truth, driftwatch's alert lines and each peer's.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub lists: ListMode,
    pub city: CityChoice,
    pub truth: TruthFile,
    pub driftwatch: Vec<Line>,
    pub peers: Vec<(Peer, Vec<Line>)>,
    pub records: u64,
    pub interactive_logins: usize,
    pub elapsed: Duration,
}

impl Outcome {
    /// driftwatch's score.
    pub fn score(&self) -> Score {
        score(&self.truth, &self.driftwatch)
    }
}

/// Several companies as one: employee ids prefixed with each company's tag, so pooled
/// figures weigh every employee once.
pub fn pool<'a>(
    parts: impl IntoIterator<Item = (&'a str, &'a TruthFile, &'a [Line])>,
) -> (TruthFile, Vec<Line>) {
    let mut truth: Option<TruthFile> = None;
    let mut lines = Vec::new();
    for (tag, t, l) in parts {
        let all = truth.get_or_insert_with(|| TruthFile {
            summary: t.summary.clone(),
            employees: Vec::new(),
        });
        all.employees.extend(t.employees.iter().map(|e| {
            let mut e = e.clone();
            e.employee_id = format!("{tag}/{}", e.employee_id);
            e
        }));
        lines.extend(l.iter().map(|x| {
            let mut x = x.clone();
            x.employee = format!("{tag}/{}", x.employee);
            x
        }));
    }
    (
        truth.unwrap_or(TruthFile {
            summary: super::TruthSummary {
                days: 0,
                real_world: None,
            },
            employees: Vec::new(),
        }),
        lines,
    )
}

/// Read a simulation's truth.
pub fn truth(dir: &Path) -> Result<TruthFile, RunError> {
    let path = dir.join(crate::simulate::records::paths::TRUTH);
    let bytes = std::fs::read(&path).map_err(|e| RunError::Read {
        path: path.clone(),
        message: e.to_string(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| RunError::Read {
        path,
        message: e.to_string(),
    })
}

/// The peers' view of a resolved sign-in: interactive and successful only, as their
/// rules are written.
fn peer_login(r: &Resolved) -> Option<PeerLogin> {
    let e = &r.event;
    if e.kind != EventKind::InteractiveLogin || e.outcome != event::Outcome::Success {
        return None;
    }
    let g = &r.geo;
    Some(PeerLogin {
        employee: r.employee.0.to_string(),
        time: e.time,
        ip: e.ip,
        country: g.country.clone(),
        region: g.region.clone(),
        city: g.city.clone(),
        lat: g.latitude,
        lon: g.longitude,
        accuracy_km: g.accuracy_km,
        asn: g.asn,
    })
}

/// Replay the simulation in `dir` with `lists` and `city`; score driftwatch and, when
/// `with_peers`, the peers.
pub fn evaluate_dir(
    dir: &Path,
    lists: ListMode,
    city: CityChoice,
    with_peers: bool,
) -> Result<Outcome, RunError> {
    let started = Instant::now();
    let truth = truth(dir)?;
    let mut config = Config::load(&dir.join(lists.config()))?;
    if city == CityChoice::Geolite2 {
        let other = truth
            .summary
            .real_world
            .as_ref()
            .and_then(|r| r.other_city_database.clone())
            .ok_or_else(|| RunError::Missing {
                dir: dir.to_owned(),
                what: "GeoLite2 City database in truth.json",
            })?;
        config.enrich.city = Some(PathBuf::from(other));
    }
    let loaded = Loaded::load(&config, None, Utc::now())?;
    let mut engine = Engine::new(config.engine());
    let events = dir.join("events");
    let inputs = Source::expand(&events).map_err(|e| RunError::Read {
        path: events.clone(),
        message: e.to_string(),
    })?;
    let opts = Options::in_process(inputs, FormatChoice::Auto);
    let mut stream = peers::Peers::new();
    let mut peer_alerts = Vec::new();
    let mut interactive = 0usize;
    let report = replay::run_observed(&loaded.core(), &mut engine, &opts, &mut |r| {
        if with_peers && let Some(login) = peer_login(r) {
            interactive += 1;
            stream.see(&login, &mut peer_alerts);
        }
        true
    })?
    .whole()?;
    let driftwatch: Vec<Line> = report.alerts.iter().map(Line::from).collect();
    let peers = if with_peers {
        Peer::ALL
            .iter()
            .map(|&p| {
                let lines: Vec<Line> = peer_alerts
                    .iter()
                    .filter(|a| a.peer == p)
                    .map(|a| Line {
                        employee: a.employee.clone(),
                        time: a.time,
                        severity: a.severity,
                        rules: vec![p.rule().to_owned()],
                    })
                    .collect();
                (p, lines)
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Outcome {
        lists,
        city,
        truth,
        driftwatch,
        peers,
        records: report.tally.records,
        interactive_logins: interactive,
        elapsed: started.elapsed(),
    })
}

/// What to evaluate: companies (one folder each, e.g. one per seed), list modes, City
/// databases, and whether the peers run too.
#[derive(Debug, Clone)]
pub struct Plan {
    pub dirs: Vec<PathBuf>,
    pub lists: Vec<ListMode>,
    pub cities: Vec<CityChoice>,
    pub peers: bool,
}

/// A whole evaluation: pooled rows over all companies, per-company rows, and the
/// per-scenario tables of each driftwatch configuration (pooled).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub companies: Vec<String>,
    pub employees: usize,
    pub days: u32,
    pub pooled: Vec<SummaryRow>,
    pub per_company: Vec<(String, Vec<SummaryRow>)>,
    #[serde(skip)]
    pub scenario_tables: Vec<(String, String)>,
}

fn detector_label(lists: ListMode, city: CityChoice) -> String {
    let db = match city {
        CityChoice::Dbip => "DB-IP Lite",
        CityChoice::Geolite2 => "GeoLite2",
    };
    format!("driftwatch, {}, {db}", lists.label())
}

fn peer_label(peer: Peer, city: CityChoice) -> String {
    match city {
        CityChoice::Dbip => peer.name().to_owned(),
        CityChoice::Geolite2 => format!("{} (GeoLite2)", peer.name()),
    }
}

/// Run a plan. `progress` is told what is being done (one line each).
pub fn evaluate_plan(plan: &Plan, progress: &mut dyn FnMut(&str)) -> Result<Report, RunError> {
    // (label, company tag, truth, lines) for every detector and company.
    let mut runs: Vec<(String, String, TruthFile, Vec<Line>)> = Vec::new();
    let mut companies = Vec::new();
    for dir in &plan.dirs {
        let tag = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        companies.push(tag.clone());
        for &city in &plan.cities {
            for (k, &lists) in plan.lists.iter().enumerate() {
                // The peers use no lists: once per City database is enough.
                let with_peers = plan.peers && k == 0;
                let o = evaluate_dir(dir, lists, city, with_peers)?;
                progress(&format!(
                    "{tag}: {} records, {}{} in {:.1} s",
                    o.records,
                    detector_label(lists, city),
                    if with_peers {
                        format!(" and the peers on {} sign-ins", o.interactive_logins)
                    } else {
                        String::new()
                    },
                    o.elapsed.as_secs_f64()
                ));
                runs.push((
                    detector_label(lists, city),
                    tag.clone(),
                    o.truth.clone(),
                    o.driftwatch,
                ));
                for (p, lines) in o.peers {
                    runs.push((peer_label(p, city), tag.clone(), o.truth.clone(), lines));
                }
            }
        }
    }
    // driftwatch with a deployment's lists first, then with the full lists, then the
    // peers; each with DB-IP before GeoLite2 (the order runs were made in).
    let mut labels: Vec<String> = Vec::new();
    for (l, ..) in &runs {
        if !labels.contains(l) {
            labels.push(l.clone());
        }
    }
    let rank = |l: &str| {
        if l.starts_with("driftwatch") && l.contains(ListMode::Deployed.label()) {
            0
        } else if l.starts_with("driftwatch") {
            1
        } else {
            2
        }
    };
    labels.sort_by_key(|l| rank(l));
    let mut pooled = Vec::new();
    let mut scenario_tables = Vec::new();
    let (mut employees, mut days) = (0, 0);
    for label in &labels {
        let parts = runs
            .iter()
            .filter(|(l, ..)| l == label)
            .map(|(_, tag, t, lines)| (tag.as_str(), t, lines.as_slice()));
        let (truth, lines) = pool(parts);
        employees = truth.employees.len();
        days = truth.summary.days;
        let s = score(&truth, &lines);
        pooled.push(SummaryRow::of(label, &s));
        if label.starts_with("driftwatch") {
            scenario_tables.push((label.clone(), s.tables()));
        }
    }
    let per_company = companies
        .iter()
        .map(|c| {
            let rows = labels
                .iter()
                .filter_map(|label| {
                    runs.iter()
                        .find(|(l, tag, ..)| l == label && tag == c)
                        .map(|(l, _, t, lines)| SummaryRow::of(l, &score(t, lines)))
                })
                .collect();
            (c.clone(), rows)
        })
        .collect();
    Ok(Report {
        companies,
        employees,
        days,
        pooled,
        per_company,
        scenario_tables,
    })
}

impl std::fmt::Display for Report {
    /// Markdown, as pasted into BENCHMARKS.md.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} employees over {} days in {} companies ({}), pooled:\n",
            self.employees,
            self.days,
            self.companies.len(),
            self.companies.join(", ")
        )?;
        write!(f, "{}", summary_table(&self.pooled))?;
        for (company, rows) in &self.per_company {
            writeln!(f, "\n{company}:\n")?;
            write!(f, "{}", summary_table(rows))?;
        }
        for (label, tables) in &self.scenario_tables {
            writeln!(f, "\nPer scenario, {label} (pooled):\n")?;
            write!(f, "{tables}")?;
        }
        Ok(())
    }
}
