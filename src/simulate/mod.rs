//! Simulate: a seeded, deterministic company whose employees log in through Okta and a
//! Cisco AnyConnect VPN, with planted legitimate and fraudulent cases and the ground truth
//! to score detectors against (`driftwatch simulate`).
//!
//! - [`world`]: places, autonomous systems, networks and the address plan.
//! - [`population`]: employees, their claims (the roster) and their real situation.
//! - [`scenarios`]: the planted cases, their labels and expected detectors.
//! - [`events`]: working days turned into events, streamed in time order.
//! - [`records`]: pure rendering of every output file's content.
//! - [`writers`]: the only part that touches files.
//!
//! Everything but [`writers`] is pure: the same [`Params`] give the same bytes.

pub mod events;
pub mod population;
pub mod real;
pub mod records;
pub mod scenarios;
pub mod world;
pub mod writers;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde::Serialize;

pub use events::{EventStream, Kind, SimEvent};
pub use population::Employee;
pub use scenarios::Scenario;
pub use world::World;
pub use writers::{Written, write};

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Employees in the roster. Default 2000.
    pub employees: u32,
    /// Days of activity. Default 30.
    pub days: u32,
    /// Seed: the same seed gives byte-identical output. Default 1.
    pub seed: u64,
    /// First simulated day. Default 2026-10-01 (the US and EU DST changes fall inside a
    /// 30-day run, on different dates).
    pub start: NaiveDate,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            employees: 2000,
            days: 30,
            seed: 1,
            start: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap_or_default(),
        }
    }
}

/// Why a simulation cannot be run or written.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Too few employees to plant every scenario at least once.
    #[error("--employees {given}: at least {needed} are needed to plant every scenario")]
    TooFewEmployees { given: u32, needed: u32 },
    /// Too few or too many days.
    #[error("--days {0}: between 7 (a trip needs a week) and 366")]
    Days(u32),
    /// An output file could not be written.
    #[error("writing {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A GeoIP database could not be written.
    #[error(transparent)]
    Mmdb(#[from] crate::enrich::write::WriteMmdbError),
    /// A file's content could not be encoded.
    #[error("encoding {what}: {message}")]
    Encode { what: &'static str, message: String },
    /// The real world's data (City database, ASN ranges) could not be read.
    #[error("real-world data: {message}")]
    RealData { message: String },
}

/// A generated company: the world, the employees, and the parameters that made them.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub params: Params,
    pub world: World,
    /// What the real world adds (where the database places each network, the seed's
    /// rates); `None` for the synthetic world.
    pub real: Option<real::RealWorld>,
    pub employees: Vec<Employee>,
}

/// Which world to simulate in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorldChoice {
    /// An invented address plan with its own GeoIP databases (no download).
    Synthetic,
    /// Real address blocks placed by a real City database ([`real`]).
    Real(real::RealInputs),
}

impl WorldChoice {
    /// The real world from the default download folder ([`real::default_geo_dir`]) and the
    /// public lists in `lists`.
    pub fn real_default(lists: std::path::PathBuf) -> Result<WorldChoice, SimError> {
        Ok(WorldChoice::Real(real::RealInputs::from_geo_dir(
            &real::default_geo_dir(),
            Some(lists),
        )?))
    }
}

impl Simulation {
    /// Generate a company in `world` (reading the real data when it is real).
    pub fn in_world(params: Params, world: &WorldChoice) -> Result<Simulation, SimError> {
        match world {
            WorldChoice::Synthetic => Simulation::new(params),
            WorldChoice::Real(inputs) => {
                Simulation::real(params, &real::RealSources::load(inputs)?)
            }
        }
    }

    /// Generate the synthetic world and the population (events are generated lazily by
    /// [`Simulation::events`]).
    pub fn new(params: Params) -> Result<Simulation, SimError> {
        check(&params, Scenario::planted_total(params.employees.max(1)))?;
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let world = World::build(&mut rng);
        let employees = population::build(
            &world,
            None,
            &mut rng,
            params.employees,
            params.start,
            params.days,
        );
        Ok(Simulation {
            params,
            world,
            real: None,
            employees,
        })
    }

    /// Generate a world of real address blocks placed by a real City database (see
    /// [`real`]) and the real world's population.
    pub fn real(params: Params, sources: &real::RealSources) -> Result<Simulation, SimError> {
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let (world, real) = real::build(sources, &mut rng);
        let needed: u32 = Scenario::PLANTED_REAL
            .iter()
            .map(|s| s.planted_real(params.employees.max(1), &real.rates))
            .sum();
        check(&params, needed)?;
        let employees = population::build(
            &world,
            Some(&real.rates),
            &mut rng,
            params.employees,
            params.start,
            params.days,
        );
        Ok(Simulation {
            params,
            world,
            real: Some(real),
            employees,
        })
    }

    /// Every event in time order, generated as it is consumed.
    pub fn events(&self) -> EventStream<'_> {
        EventStream::new(self)
    }

    /// The ground truth, given what the event stream recorded while it was consumed.
    pub fn truth(&self, seen: &Observed) -> Truth {
        let employees: Vec<TruthEntry> = self
            .employees
            .iter()
            .enumerate()
            .map(|(i, e)| TruthEntry {
                employee_id: e.id.clone(),
                label: if e.scenario.is_fraudulent() {
                    "fraudulent"
                } else {
                    "legitimate"
                },
                scenario: e.scenario.name(),
                expected_rules: e.scenario.expected_rules().to_vec(),
                first_anomalous_event: seen
                    .first_anomalous
                    .get(i)
                    .copied()
                    .flatten()
                    .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
                planted_ips: seen.planted_ips.get(i).cloned().unwrap_or_default(),
                days_active: (e.start_date > self.params.start).then(|| {
                    let end = self.params.start + chrono::Days::new(u64::from(self.params.days));
                    (end - e.start_date).num_days().max(0) as u32
                }),
            })
            .collect();
        let mut scenarios: BTreeMap<&'static str, ScenarioCount> = BTreeMap::new();
        for e in &self.employees {
            let c = scenarios.entry(e.scenario.name()).or_insert(ScenarioCount {
                label: if e.scenario.is_fraudulent() {
                    "fraudulent"
                } else {
                    "legitimate"
                },
                employees: 0,
                expected_rules: e.scenario.expected_rules().to_vec(),
            });
            c.employees += 1;
        }
        let fraudulent = self
            .employees
            .iter()
            .filter(|e| e.scenario.is_fraudulent())
            .count();
        Truth {
            summary: Summary {
                seed: self.params.seed,
                employees: self.employees.len(),
                days: self.params.days,
                start: self.params.start.to_string(),
                fraudulent,
                legitimate: self.employees.len() - fraudulent,
                okta_events: seen.okta_events,
                vpn_events: seen.vpn_events,
                entra_events: seen.entra_events,
                real_world: self.real.as_ref().map(|r| RealSummary {
                    city_database: r.city_path.display().to_string(),
                    other_city_database: r.other_city.as_ref().map(|p| p.display().to_string()),
                    rates: r.rates,
                    networks: self.world.networks.len(),
                    systems: self.world.systems.len(),
                }),
                malformed_records: 0,
                unknown_accounts: Vec::new(),
                scenarios,
                expected_rules_meaning: "fraudulent: detectors expected to alert; \
                    legitimate: detectors the behaviour reaches, which must stay below high \
                    severity (suppressed, exempt or explained by context)",
            },
            employees,
        }
    }
}

/// The planted cases plus a few ordinary colleagues for them to stand out from; a trip
/// needs a week.
fn check(params: &Params, planted: u32) -> Result<(), SimError> {
    let needed = planted + 5;
    if params.employees < needed {
        return Err(SimError::TooFewEmployees {
            given: params.employees,
            needed,
        });
    }
    if !(7..=366).contains(&params.days) {
        return Err(SimError::Days(params.days));
    }
    Ok(())
}

/// What consuming the event stream observed, for the ground truth.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub okta_events: u64,
    pub vpn_events: u64,
    pub entra_events: u64,
    /// Per employee, the first anomalous interactive event.
    pub first_anomalous: Vec<Option<DateTime<Utc>>>,
    /// Per employee, the distinct addresses of planted behaviour (at most
    /// [`MAX_PLANTED_IPS`]); empty for baseline employees.
    pub planted_ips: Vec<Vec<IpAddr>>,
}

/// Addresses listed per employee in the truth file: enough to look some up.
pub const MAX_PLANTED_IPS: usize = 12;

impl Observed {
    /// Start observing a simulation's stream.
    pub fn new(sim: &Simulation) -> Self {
        Observed {
            planted_ips: vec![Vec::new(); sim.employees.len()],
            ..Observed::default()
        }
    }

    /// Count one event.
    pub fn see(&mut self, sim: &Simulation, ev: &SimEvent) {
        if ev.kind.is_vpn() {
            self.vpn_events += 1;
        } else if ev.kind.is_entra() {
            self.entra_events += 1;
        } else {
            self.okta_events += 1;
        }
        let planted = sim
            .employees
            .get(ev.employee as usize)
            .is_some_and(|e| e.scenario != Scenario::Baseline);
        if planted
            && ev.anomalous
            && let Some(ips) = self.planted_ips.get_mut(ev.employee as usize)
            && ips.len() < MAX_PLANTED_IPS
            && !ips.contains(&ev.ip)
        {
            ips.push(ev.ip);
        }
    }

    /// Take the first-anomalous times from the exhausted stream.
    pub fn finish(&mut self, stream: &EventStream<'_>) {
        self.first_anomalous = stream.first_anomalous().to_vec();
        for ips in &mut self.planted_ips {
            let sorted: BTreeSet<IpAddr> = ips.drain(..).collect();
            ips.extend(sorted);
        }
    }
}

/// `truth.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    pub summary: Summary,
    pub employees: Vec<TruthEntry>,
}

/// The truth file's summary.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub seed: u64,
    pub employees: usize,
    pub days: u32,
    pub start: String,
    pub fraudulent: usize,
    pub legitimate: usize,
    pub okta_events: u64,
    pub vpn_events: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub entra_events: u64,
    /// The real world's facts (`--world real`); absent for the synthetic world.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_world: Option<RealSummary>,
    /// Records deliberately malformed (none are generated).
    pub malformed_records: u64,
    /// Accounts deliberately absent from the roster (none are generated).
    pub unknown_accounts: Vec<String>,
    pub scenarios: BTreeMap<&'static str, ScenarioCount>,
    pub expected_rules_meaning: &'static str,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a real-world truth file says about its world.
#[derive(Debug, Clone, Serialize)]
pub struct RealSummary {
    /// The City database the world's blocks were placed with.
    pub city_database: String,
    /// A second City database to evaluate with (never used to build the world).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_city_database: Option<String>,
    /// The noise rates drawn for the seed.
    pub rates: real::Rates,
    pub networks: usize,
    pub systems: usize,
}

/// Employees per scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioCount {
    pub label: &'static str,
    pub employees: usize,
    pub expected_rules: Vec<&'static str>,
}

/// One employee's ground truth.
#[derive(Debug, Clone, Serialize)]
pub struct TruthEntry {
    pub employee_id: String,
    pub label: &'static str,
    pub scenario: &'static str,
    pub expected_rules: Vec<&'static str>,
    /// RFC 3339 time of the first interactive event of the planted behaviour.
    pub first_anomalous_event: Option<String>,
    /// Addresses of the planted behaviour (a sample), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub planted_ips: Vec<IpAddr>,
    /// Days from the start date to the end of the run, for someone hired during it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_active: Option<u32>,
}
