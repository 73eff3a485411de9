//! The `driftwatch` command line. `anyhow` lives only here; exit codes are decided in one
//! place ([`main`]): 0 success, 1 a run that failed, 2 bad usage or configuration.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::{Parser, Subcommand};

use driftwatch::config::{Config, ConfigError};
use driftwatch::decode::FormatChoice;
use driftwatch::drivers::input::Source;
use driftwatch::drivers::replay::{self, Output};
use driftwatch::engine::Engine;
use driftwatch::enrich::EnrichError;
use driftwatch::roster::{Roster, RosterError};
use driftwatch::simulate::{self, SimError};
use driftwatch::sources::{enrich_files, suppress_files};
use driftwatch::suppress::SuppressError;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "driftwatch",
    version,
    about = "Are remote employees where and when they claim to be?"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the core over NDJSON / syslog files (plain or gzip) or stdin and write alerts
    /// as JSON lines.
    Replay {
        /// Configuration file (TOML). Without it: no roster, no GeoIP, defaults.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Roster file (CSV or JSON); overrides `[roster] path` in the config.
        #[arg(long)]
        roster: Option<PathBuf>,
        /// Input format: auto, okta, entra, google_workspace, ocsf, ecs, globalprotect,
        /// cisco_asa, openvpn, fortinet. Overrides `[decode] format`.
        #[arg(long)]
        format: Option<FormatChoice>,
        /// Where alerts go: a file, or - for stdout.
        #[arg(long, default_value = "-")]
        alerts_out: String,
        /// How alert lines are written: driftwatch (the alert object), ocsf (OCSF Detection
        /// Finding) or ecs (Elastic Common Schema). See docs/alerts.md, "Alerts in a SIEM".
        #[arg(long, value_enum, default_value = "driftwatch")]
        alerts_format: driftwatch::siem::AlertsFormat,
        /// Where rejected records go (JSON lines with the reason); overrides
        /// `[dead_letter] path`.
        #[arg(long)]
        dead_letter: Option<PathBuf>,
        /// Analysts' dispositions to apply (JSON lines: employee_id, alert_id, verdict
        /// true_positive|benign|false_positive, rules, time, until, note).
        #[arg(long)]
        dispositions: Option<PathBuf>,
        /// Never show a progress bar.
        #[arg(long)]
        no_progress: bool,
        /// At most this many inputs open at once (more are merged in order through
        /// temporary files), whatever the number of inputs.
        #[arg(long, default_value_t = replay::MAX_OPEN_INPUTS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..))]
        max_open_inputs: usize,
        /// Also deliver the alerts to the `[[route.destination]]`s of the config
        /// (Alertmanager, PagerDuty, Slack, webhooks, files) once the replay is done. Off by
        /// default: replaying old logs should not page anyone by accident.
        #[arg(long)]
        route: bool,
        /// Input files or folders (every file in them), or - for stdin.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Run as a streaming service on Kafka: consume the `[[kafka.input]]` topics, write
    /// alerts to the alerts topic, serve /metrics, /healthz and /readyz. Stops cleanly on
    /// SIGTERM or SIGINT.
    Run {
        #[arg(long, short, default_value = "driftwatch.toml")]
        config: PathBuf,
        /// Stages this process runs (comma-separated). Default: all of them.
        #[arg(long, value_delimiter = ',', default_values = ["ingest", "detect", "infra", "route", "audit"])]
        stages: Vec<driftwatch::service::Stage>,
    },
    /// Validate a configuration file and everything it points to (roster, databases,
    /// lists); print every problem at once.
    CheckConfig {
        #[arg(long, short, default_value = "driftwatch.toml")]
        config: PathBuf,
    },
    /// Write a simulated company: roster, GeoIP databases and lists, Okta and Cisco ASA
    /// logs with planted legitimate and fraudulent cases, ground truth and a config.
    Simulate {
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Employees in the roster.
        #[arg(long, default_value_t = 2000)]
        employees: u32,
        /// Days of activity.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Seed: the same seed writes byte-identical files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First simulated day (YYYY-MM-DD).
        #[arg(long, default_value = "2026-10-01")]
        start: chrono::NaiveDate,
        /// Gzip the event files.
        #[arg(long)]
        gzip: bool,
        /// `synthetic` (default: an invented address plan, no download) or `real`: real
        /// address blocks of real networks placed by DB-IP Lite City (needs --geo).
        #[arg(long, value_enum, default_value = "synthetic")]
        world: WorldKind,
        /// With --world real: the folder holding the ip-location-db packages
        /// (dbip-city-mmdb, asn and optionally geolite2-city-mmdb), as bench/fetch-geo and
        /// .ci/run unpack them. Default $DRIFTWATCH_REAL_GEO, else ~/.cache/driftwatch/geo.
        #[arg(long)]
        geo: Option<PathBuf>,
        /// With --world real: the public anonymizer lists (X4BNet lists_vpn, bad-asn-list).
        #[arg(long, default_value = "../shared/geoip/anonymizer")]
        lists: PathBuf,
    },
    /// A compliance report for a period (HTML, CSV or JSON), re-derived from the raw login
    /// logs with the replay core: population figures, one row per employee, the period's
    /// alerts and dispositions, and the method (settings, GeoIP builds, file digests,
    /// audit-log head).
    Report {
        #[arg(long, short)]
        config: PathBuf,
        /// First instant of the period: YYYY-MM-DD (midnight UTC) or RFC 3339.
        #[arg(long, value_parser = driftwatch::report::parse_bound)]
        from: chrono::DateTime<Utc>,
        /// End of the period, not included: `--from 2026-10-01 --to 2026-11-01` is October.
        #[arg(long, value_parser = driftwatch::report::parse_bound)]
        to: chrono::DateTime<Utc>,
        /// html, csv or json; several, comma-separated, with --out a folder.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "html")]
        format: Vec<driftwatch::report::ReportFormat>,
        /// A file, or a folder: one file per format named after the period
        /// (driftwatch-report-FROM--TO.html). Default stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace employee ids (and account names in alert text) by keyed pseudonyms;
        /// the key is DRIFTWATCH_REPORT_KEY, or a random one used once when unset.
        #[arg(long)]
        pseudonymise: bool,
        /// The audit log: dispositions and the head hash (its chain is verified first).
        #[arg(long)]
        audit_log: Option<PathBuf>,
        /// Input format; overrides `[decode] format`.
        #[arg(long = "input-format")]
        input_format: Option<FormatChoice>,
        /// The period's login logs (and earlier ones, for baselines): files or folders.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Score detection against a simulator's ground truth. With simulation folders
    /// (`driftwatch simulate --world real`): replay each in both list modes (what a
    /// deployment has, and the simulator's full truth), run the peers' documented logic
    /// (Panther, Okta, Mozilla geomodel) on the same sign-ins, and print recall at
    /// high/critical within 1 and 3 days and false alert lines per 1,000 employee-days,
    /// pooled and per company. With --truth and --alerts: score one replay's alert lines.
    Evaluate {
        /// Simulation folders (one per seed), each with truth.json, events/ and the configs.
        dirs: Vec<PathBuf>,
        /// List modes to run, comma-separated.
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "deployed,full"
        )]
        lists: Vec<driftwatch::evaluate::run::ListMode>,
        /// City databases to enrich with, comma-separated: dbip (the world's own) and
        /// geolite2 (a second opinion the world was not built from).
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "dbip,geolite2"
        )]
        city: Vec<driftwatch::evaluate::run::CityChoice>,
        /// Leave the peers out.
        #[arg(long)]
        no_peers: bool,
        /// The simulator's truth.json (scoring one replay's alert lines).
        #[arg(long, requires = "alerts", conflicts_with = "dirs")]
        truth: Option<PathBuf>,
        /// Alert lines written by `replay` (a file, or - for stdin), with --truth.
        #[arg(long, requires = "truth")]
        alerts: Option<PathBuf>,
        /// Print JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// See driftwatch work in one command: a simulated company streamed through an
    /// in-process Kafka broker and every stage of the service, each alert printed as it
    /// fires, then what was caught, the false alerts and a compliance report.
    Demo {
        /// Employees in the simulated company.
        #[arg(long, default_value_t = 2000)]
        employees: u32,
        /// Simulated days.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Wall-clock seconds the simulated days are compressed into.
        #[arg(long, default_value_t = 60)]
        duration_secs: u64,
        /// Seed of the simulation.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where the company, on-call notifications, audit log and report go (default: a
        /// folder in the system's temporary directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Address of /metrics and the analyst API.
        #[arg(long, default_value = "127.0.0.1:9464")]
        listen: std::net::SocketAddr,
        /// Partitions of the demo's topics.
        #[arg(long, default_value_t = 12)]
        partitions: i32,
        /// Leave the service, its metrics and its API up after the summary, until Ctrl-C.
        #[arg(long)]
        keep_running: bool,
    },
    /// Analyst API tools.
    Api {
        #[command(subcommand)]
        command: ApiCommand,
    },
    /// The tamper-evident audit log: check its hash chain, apply retention.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// GeoIP tools.
    Geoip {
        #[command(subcommand)]
        command: GeoipCommand,
    },
}

#[derive(Subcommand)]
enum ApiCommand {
    /// Make a new bearer token: prints the token (give it to its holder; it is not kept)
    /// and the `[[api.token]]` entry with its SHA-256 for the configuration.
    Token {
        /// Who holds it (shown in the audit log).
        #[arg(long)]
        name: String,
        /// auditor (reads), analyst (reads, records dispositions) or admin (reads, manages).
        #[arg(long)]
        role: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every record's hash and the chain between them; name the line and seq of each
    /// modified, removed, reordered or garbled record (exit 1).
    Verify {
        #[command(flatten)]
        log: AuditLogArg,
        /// A head hash published earlier (the compliance report prints one): fail unless
        /// that record is still in the log, which shows records cut off its end.
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
    },
    /// Drop the records older than the retention period behind a hashed anchor, so the
    /// rest still verifies. Refused while a writer (`driftwatch run`) holds the log.
    Prune {
        #[command(flatten)]
        log: AuditLogArg,
        /// Drop records older than this date (YYYY-MM-DD, UTC) or time (RFC 3339).
        /// Default: `[audit] retention_days` days ago.
        #[arg(long, conflicts_with = "older_than_days")]
        before: Option<String>,
        /// Drop records older than this many days.
        #[arg(long)]
        older_than_days: Option<u32>,
    },
}

/// Which audit log: the one a configuration names, or a file.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct AuditLogArg {
    /// Configuration file whose `[audit] path` is the log.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The audit log file.
    #[arg(long)]
    log: Option<PathBuf>,
}

#[derive(Subcommand)]
enum GeoipCommand {
    /// Print the full enrichment of each IP address as JSON.
    Lookup {
        #[arg(long, short)]
        config: Option<PathBuf>,
        #[arg(required = true)]
        ips: Vec<String>,
    },
    /// Build an ASN database (GeoLite2-ASN layout) for `[enrich] asn` from CSV ranges as
    /// ip-location-db publishes them (`@ip-location-db/asn`: asn-ipv4.csv, asn-ipv6.csv;
    /// `start_ip,end_ip,asn,organisation`, inclusive, no header).
    BuildAsn {
        /// The CSV files, IPv4 and IPv6 alike.
        #[arg(required = true, value_name = "CSV")]
        csv: Vec<PathBuf>,
        /// The database to write; replaced whole (written beside it, then renamed), so a
        /// running driftwatch reloads it safely.
        #[arg(long, value_name = "FILE.mmdb")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    if let Err(e) = driftwatch::logs::init() {
        eprintln!("driftwatch: {e}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("driftwatch: {e:#}");
            if is_configuration_error(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// `driftwatch run`: the service on its own threads, HTTP and signals on a small runtime.
fn serve(config: &Config, stages: &[driftwatch::service::Stage]) -> Result<()> {
    use driftwatch::service::{self, Ended, Handles, http};

    // Secrets named in [kafka.client] are needed from here on only (not to load the file).
    let missing = config
        .kafka
        .as_ref()
        .map(|k| k.missing_environment())
        .unwrap_or_default();
    if !missing.is_empty() {
        return Err(ConfigError::Invalid {
            path: config.source.clone().unwrap_or_default(),
            errors: missing,
        }
        .into());
    }

    // Everything the files say is checked before anything listens or connects, as
    // check-config checks it: a broken roster, database or trip list is a configuration
    // error (exit 2), not a service that answers /healthz and then dies.
    let roster_file = config
        .kafka
        .as_ref()
        .is_none_or(|k| k.roster_topic.is_none());
    let roster = roster_file
        .then(|| config.roster.as_ref().map(|r| r.path.clone()))
        .flatten();
    let checked = config.clone();
    let checked = driftwatch::config::Config {
        roster: if roster_file { checked.roster } else { None },
        ..checked
    };
    replay::Loaded::load(&checked, roster.as_deref(), Utc::now())?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let handles = Handles::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(config.service.listen))
        .with_context(|| format!("listening on {}", config.service.listen))?;
    eprintln!(
        "driftwatch: serving /metrics, /healthz and /readyz on http://{}",
        listener.local_addr()?
    );
    let (http_stop, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(http::serve(
        listener,
        std::sync::Arc::clone(&handles.metrics),
        std::sync::Arc::clone(&handles.health),
        std::sync::Arc::clone(&handles.api),
        async move {
            let _ = http_stopped.await;
        },
    ));
    let stop = handles.stop.clone();
    runtime.spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        stop.cancel();
    });
    let ended = service::run_bounded(config, stages, runtime.handle().clone(), &handles);
    let _ = http_stop.send(());
    let _ = runtime.block_on(server);
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match ended? {
        Ended::Clean => Ok(()),
        Ended::DeadlinePassed => anyhow::bail!(
            "stages were still busy after {} s (service.shutdown_deadline_secs); their \
             uncommitted input will be read again",
            config.service.shutdown_deadline_secs
        ),
    }
}

/// `replay --route`: every alert to every destination that wants it, retried until
/// delivered or refused (Ctrl-C stops). A refusal fails the command, listing each alert.
fn deliver_replayed(
    config: &Config,
    alerts: &[driftwatch::alert::Alert],
    roster: &Roster,
) -> Result<()> {
    use driftwatch::route::deliver;
    use std::sync::Arc;
    use tokio_util::sync::CancellationToken;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let stop = CancellationToken::new();
    let s = stop.clone();
    runtime.spawn(async move {
        shutdown_signal().await;
        s.cancel();
    });
    let metrics = Arc::new(driftwatch::telemetry::Metrics::new());
    let results = runtime.block_on(deliver::deliver_all(
        &config.route,
        alerts,
        roster,
        metrics,
        stop,
    ))?;
    let mut failed = Vec::new();
    for d in &results {
        eprintln!(
            "route {}: {} delivered, {} refused, {} not for this destination{}",
            d.destination,
            d.delivered,
            d.rejected.len(),
            d.skipped,
            if d.interrupted { " (interrupted)" } else { "" }
        );
        for (id, why) in &d.rejected {
            failed.push(format!("{} refused {id}: {why}", d.destination));
        }
        if d.interrupted {
            failed.push(format!(
                "{}: interrupted before every alert was delivered",
                d.destination
            ));
        }
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("alerts not delivered:\n  {}", failed.join("\n  "))
    }
}

/// SIGTERM (how orchestrators stop a process) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// A broken config file, roster or database is the operator's to fix (exit 2), not a
/// failed run.
fn is_configuration_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<ConfigError>().is_some()
            || c.downcast_ref::<RosterError>().is_some()
            || c.downcast_ref::<EnrichError>().is_some()
            || c.downcast_ref::<SuppressError>().is_some()
            || c.downcast_ref::<driftwatch::report::ReportError>()
                .is_some_and(driftwatch::report::ReportError::is_usage)
            || matches!(
                c.downcast_ref::<SimError>(),
                Some(SimError::TooFewEmployees { .. } | SimError::Days(_))
            )
    })
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Replay {
            config,
            roster,
            format,
            alerts_out,
            alerts_format,
            dead_letter,
            dispositions,
            no_progress,
            max_open_inputs,
            route,
            inputs,
        } => {
            let config = load_config(config.as_deref())?;
            if route && config.route.destination.is_empty() {
                return Err(ConfigError::Invalid {
                    path: PathBuf::from("--config"),
                    errors: vec!["--route: the configuration has no [[route.destination]]".into()],
                }
                .into());
            }
            let replay::Loaded {
                pipeline,
                roster,
                enricher,
                suppress,
            } = replay::Loaded::load(&config, roster.as_deref(), Utc::now())?;
            let mut engine = Engine::new(config.engine());
            if let Some(path) = &dispositions {
                for d in suppress_files::read_dispositions(path).context("loading dispositions")? {
                    engine.dispose(&d);
                }
            }
            let mut sources = Vec::new();
            for arg in &inputs {
                sources.extend(
                    Source::expand(arg).with_context(|| format!("reading {}", arg.display()))?,
                );
            }
            let dead_letter = dead_letter.or(config.dead_letter.path.clone());
            let opts = replay::Options {
                inputs: sources,
                format: format.unwrap_or(config.decode.format),
                alerts_out: Output::parse(&alerts_out),
                alerts_format,
                dead_letter: dead_letter.clone(),
                dead_letter_filtered: config.dead_letter.include_filtered,
                dead_letter_max_bytes: config.dead_letter.max_bytes,
                progress: !no_progress,
                keep_alerts: route,
                max_open_inputs,
            };
            let core = replay::Core {
                pipeline: &pipeline,
                roster: &roster,
                enricher: &enricher,
                suppress: &suppress,
            };
            let report = replay::run(&core, &mut engine, &opts)?;
            eprint!("{}", report.summary(dead_letter.as_deref()));
            if route {
                deliver_replayed(&config, &report.alerts, &roster)?;
            }
            if !report.broken.is_empty() {
                let names: Vec<&str> = report.broken.iter().map(|(n, _)| n.as_str()).collect();
                anyhow::bail!(
                    "{} input(s) broke before their end: {} (the others were read whole)",
                    names.len(),
                    names.join(", ")
                );
            }
            // Nothing readable at all is a failed run, not an empty success: the wrong
            // --format, the wrong files, or a collector that broke. Scripts check the status.
            let t = &report.tally;
            let bad: u64 = t
                .rejected
                .iter()
                .filter(|(reason, _)| reason.is_bad_input())
                .flat_map(|(_, by_format)| by_format.values())
                .sum();
            if t.records > 0 && t.decoded.is_empty() && bad > 0 {
                anyhow::bail!(
                    "none of the {} records could be read ({bad} rejected as bad input): \
                     is the --format right?",
                    t.records
                );
            }
            Ok(())
        }
        Command::Report {
            config,
            from,
            to,
            format,
            out,
            pseudonymise,
            audit_log,
            input_format,
            inputs,
        } => {
            let period = driftwatch::report::Period::new(from, to)?;
            let outputs = driftwatch::report::outputs(&format, out.as_deref(), period)?;
            let report = driftwatch::report::generate(&driftwatch::report::Job {
                config_path: &config,
                inputs: &inputs,
                period,
                input_format,
                audit_log: audit_log.as_deref(),
                pseudonymise,
            })?;
            for (format, path) in outputs {
                let text = driftwatch::report::render(&report, format)?;
                driftwatch::report::write(path.as_deref(), &text)?;
            }
            Ok(())
        }
        Command::Evaluate {
            dirs,
            lists,
            city,
            no_peers,
            truth,
            alerts,
            json,
        } => {
            if let (Some(truth), Some(alerts)) = (truth, alerts) {
                return evaluate_alerts(&truth, &alerts, json);
            }
            if dirs.is_empty() {
                anyhow::bail!("give simulation folders, or --truth and --alerts");
            }
            let plan = driftwatch::evaluate::run::Plan {
                dirs,
                lists,
                cities: city,
                peers: !no_peers,
            };
            let report =
                driftwatch::evaluate::run::evaluate_plan(&plan, &mut |line| eprintln!("{line}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            Ok(())
        }
        Command::Run { config, stages } => {
            let config = Config::load(&config)?;
            serve(&config, &stages)
        }
        Command::CheckConfig { config } => {
            let cfg = Config::load(&config)?;
            let replay::Loaded {
                roster,
                enricher,
                suppress,
                ..
            } = replay::Loaded::load(&cfg, None, Utc::now())?;
            // An account name several employees' aliases yield resolves to none of them:
            // each is blind to those logins. A problem of the roster, named row by row.
            let ambiguous = roster.ambiguous_accounts();
            if !ambiguous.is_empty() {
                let path = cfg
                    .roster
                    .as_ref()
                    .map(|r| r.path.clone())
                    .unwrap_or_default();
                return Err(ConfigError::Invalid {
                    path,
                    errors: ambiguous
                        .iter()
                        .map(|(name, ids)| {
                            let ids: Vec<&str> = ids.iter().map(|e| e.0.as_str()).collect();
                            format!(
                                "roster: the account name {name:?} comes from the aliases of {}: its logins (`{name}`, `DOMAIN\\{name}`) would be judged for nobody; give the right employee an explicit alias {name:?}",
                                ids.join(" and ")
                            )
                        })
                        .collect(),
                }
                .into());
            }
            println!("{}: OK", config.display());
            println!("  roster: {} employee(s)", roster.len());
            println!("  approved trips: {}", suppress.trips());
            for db in enricher.databases() {
                println!(
                    "  geoip: {:?} {} ({}), built {}",
                    db.kind,
                    db.database_type,
                    db.path.display(),
                    db.build_time.to_rfc3339()
                );
            }
            for list in enricher.lists() {
                println!(
                    "  list: {} tag={} ({} ASNs, {} IPv4 and {} IPv6 networks)",
                    list.path.display(),
                    list.tag,
                    list.asns,
                    list.ipv4_networks,
                    list.ipv6_networks
                );
            }
            Ok(())
        }
        Command::Simulate {
            out,
            employees,
            days,
            seed,
            start,
            gzip,
            world,
            geo,
            lists,
        } => {
            let params = simulate::Params {
                employees,
                days,
                seed,
                start,
            };
            let world = match world {
                WorldKind::Synthetic => simulate::WorldChoice::Synthetic,
                WorldKind::Real => {
                    let geo = geo.unwrap_or_else(simulate::real::default_geo_dir);
                    simulate::WorldChoice::Real(simulate::real::RealInputs::from_geo_dir(
                        &geo,
                        Some(lists),
                    )?)
                }
            };
            let sim = simulate::Simulation::in_world(params, &world)?;
            let written = simulate::write(&sim, &out, gzip)?;
            for f in &written.files {
                println!("{}", f.display());
            }
            let s = &written.truth.summary;
            eprintln!(
                "driftwatch simulate: {} employees ({} fraudulent), {} days, {} Okta, {} VPN and {} Entra events in {}",
                s.employees,
                s.fraudulent,
                s.days,
                s.okta_events,
                s.vpn_events,
                s.entra_events,
                out.display()
            );
            Ok(())
        }
        Command::Demo {
            employees,
            days,
            duration_secs,
            seed,
            out,
            listen,
            partitions,
            keep_running,
        } => {
            let opts = driftwatch::drivers::demo::Options {
                employees,
                days,
                seed,
                duration: std::time::Duration::from_secs(duration_secs),
                out: out.unwrap_or_else(|| std::env::temp_dir().join("driftwatch-demo")),
                listen,
                keep_running,
                partitions: partitions.max(1),
            };
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let s = std::sync::Arc::clone(&stop);
            let signals = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            std::thread::spawn(move || {
                signals.block_on(shutdown_signal());
                s.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            let summary = driftwatch::drivers::demo::run(&opts, stop, &mut std::io::stdout())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if summary.alerts.is_empty() {
                anyhow::bail!("the demo raised no alert");
            }
            Ok(())
        }
        Command::Api {
            command: ApiCommand::Token { name, role },
        } => {
            let role: driftwatch::api::Role =
                serde_json::from_value(serde_json::Value::String(role.clone())).map_err(|_| {
                    anyhow::Error::from(ConfigError::Invalid {
                        path: PathBuf::from("--role"),
                        errors: vec![format!("{role:?}: auditor, analyst or admin")],
                    })
                })?;
            let (token, sha256) = driftwatch::api::new_token().context("reading randomness")?;
            eprintln!("token for {name} (shown once; driftwatch keeps only its SHA-256):");
            println!("{token}");
            eprintln!(
                "\n[[api.token]]\nname = {}\nrole = \"{}\"\nsha256 = \"{sha256}\"",
                toml::Value::String(name.clone()),
                role.as_str()
            );
            Ok(())
        }
        Command::Audit { command } => audit(command),
        Command::Geoip {
            command: GeoipCommand::BuildAsn { csv, out },
        } => {
            let started = std::time::Instant::now();
            let build_epoch = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
            let built = driftwatch::enrich::asn_csv::build(&csv, &out, build_epoch)?;
            print!("{built}");
            println!(
                "wrote {} in {:.1} s",
                out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Geoip {
            command: GeoipCommand::Lookup { config, ips },
        } => {
            let config = load_config(config.as_deref())?;
            let enricher = enrich_files::open(&config.enrich).context("opening GeoIP databases")?;
            if enricher.databases().is_empty() {
                // An empty answer would read as "nothing known about this address".
                return Err(ConfigError::Invalid {
                    path: config.source.clone().unwrap_or_default(),
                    errors: vec![
                        "no GeoIP database to look up in: give a --config whose [enrich] names \
                         city, asn or anonymous_ip"
                            .to_owned(),
                    ],
                }
                .into());
            }
            for raw in ips {
                let ip = driftwatch::decode::fields::ip(Some(&raw))
                    .map_err(|r| anyhow::anyhow!("{raw}: {}", r.detail))?;
                let geo = enricher.lookup(ip);
                let out = serde_json::json!({ "ip": ip, "enrichment": &*geo });
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(())
        }
    }
}

fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}

/// `driftwatch audit verify|prune`. A log that does not verify fails the command (exit 1),
/// naming each problem; a missing `[audit] path` or a bad cutoff is bad usage (exit 2).
fn audit(command: AuditCommand) -> Result<()> {
    use driftwatch::audit;

    fn log_path(arg: &AuditLogArg) -> Result<(PathBuf, Option<Config>)> {
        if let Some(p) = &arg.log {
            return Ok((p.clone(), None));
        }
        let config_path = arg.config.clone().unwrap_or_default();
        let config = Config::load(&config_path)?;
        match config.audit.path.clone() {
            Some(p) => Ok((p, Some(config))),
            None => Err(ConfigError::Invalid {
                path: config_path,
                errors: vec!["[audit] path is not set: there is no audit log".to_owned()],
            }
            .into()),
        }
    }
    let usage = |flag: &str, error: String| -> anyhow::Error {
        ConfigError::Invalid {
            path: PathBuf::from(flag),
            errors: vec![error],
        }
        .into()
    };

    match command {
        AuditCommand::Verify { log, expect_head } => {
            let (path, _) = log_path(&log)?;
            let context = || format!("verifying audit log {}", path.display());
            let (verified, expected_seq) = match &expect_head {
                Some(hash) => {
                    let (v, seq) = audit::verify_head(&path, hash.trim()).with_context(context)?;
                    (v, Some(seq))
                }
                None => (audit::verify(&path).with_context(context)?, None),
            };
            match &verified.head {
                Some(head) => {
                    println!(
                        "{}: OK, {} record(s), seq {} to {}",
                        path.display(),
                        verified.records,
                        verified.first_seq,
                        head.seq
                    );
                    println!("  head: seq {} hash {}", head.seq, head.hash);
                }
                None => println!("{}: OK, empty", path.display()),
            }
            if let Some(before) = verified.pruned_before {
                println!(
                    "  pruned: starts with a retention anchor, records before {} dropped",
                    before.to_rfc3339()
                );
            }
            if let (Some(hash), Some(seq)) = (&expect_head, expected_seq) {
                println!("  expected head {}: present, seq {seq}", hash.trim());
            }
            Ok(())
        }
        AuditCommand::Prune {
            log,
            before,
            older_than_days,
        } => {
            let (path, config) = log_path(&log)?;
            let now = Utc::now();
            let cutoff = match (before, older_than_days) {
                (Some(text), _) => parse_cutoff(&text).map_err(|e| usage("--before", e))?,
                (None, Some(days)) => audit::retention_cutoff(days, now),
                (None, None) => match config.as_ref().and_then(|c| c.audit.cutoff(now)) {
                    Some(t) => t,
                    None => {
                        return Err(usage(
                            "--before",
                            "give --before or --older-than-days, or a config with \
                             [audit] retention_days"
                                .to_owned(),
                        ));
                    }
                },
            };
            if cutoff > now {
                return Err(usage(
                    "--before",
                    format!("{} is in the future: that would drop every record", cutoff),
                ));
            }
            let pruned = audit::prune(&path, cutoff)
                .with_context(|| format!("pruning audit log {}", path.display()))?;
            if pruned.dropped == 0 {
                println!(
                    "{}: nothing older than {} to drop ({} record(s))",
                    path.display(),
                    cutoff.to_rfc3339(),
                    pruned.kept
                );
            } else {
                println!(
                    "{}: dropped {} record(s) older than {}, kept {} after the retention anchor",
                    path.display(),
                    pruned.dropped,
                    cutoff.to_rfc3339(),
                    pruned.kept
                );
            }
            if let Some(head) = &pruned.head {
                println!("  head: seq {} hash {}", head.seq, head.hash);
            }
            Ok(())
        }
    }
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
fn parse_cutoff(text: &str) -> std::result::Result<chrono::DateTime<Utc>, String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{text:?}: expected YYYY-MM-DD or an RFC 3339 time"))
}

/// Which world `driftwatch simulate` builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum WorldKind {
    Synthetic,
    Real,
}

/// `evaluate --truth --alerts`: score one replay's alert lines.
fn evaluate_alerts(truth: &Path, alerts: &Path, json: bool) -> anyhow::Result<()> {
    let truth: driftwatch::evaluate::TruthFile = serde_json::from_slice(
        &std::fs::read(truth).with_context(|| format!("reading {}", truth.display()))?,
    )
    .with_context(|| format!("parsing {}", truth.display()))?;
    let text = if alerts == Path::new("-") {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(alerts).with_context(|| format!("reading {}", alerts.display()))?
    };
    let alerts = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            driftwatch::siem::read_alert(l.as_bytes())
                .with_context(|| format!("{} line {}", alerts.display(), i + 1))
        })
        .collect::<Result<Vec<driftwatch::alert::Alert>, _>>()
        .context("reading alert lines (driftwatch, OCSF or ECS)")?;
    let evaluation = driftwatch::evaluate::evaluate(&truth, &alerts);
    if json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        print!("{evaluation}");
    }
    Ok(())
}
