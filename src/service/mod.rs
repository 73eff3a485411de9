//! `driftwatch run`: the core as a streaming service on Kafka (see docs/design.md,
//! "Streaming topology").
//!
//! ```text
//! input topics ─ingest─► driftwatch.logins (key employee) ─detect─► driftwatch.alerts
//!             └────────► driftwatch.network (key IP or /64) ─infra─► driftwatch.findings ─► detect
//! detect state ─► driftwatch.state-changelog (compacted, co-partitioned with logins)
//! bad input ─► driftwatch.dlq
//! ```
//!
//! Each stage is a consumer group of its own (`<group_id>.ingest`, `.detect`, `.infra`) on
//! a thread of its own; any number of instances share the partitions. A stage works in
//! batches: poll, apply, produce, wait for every acknowledgement, then store the input
//! offsets (committed in the background and on revoke): at-least-once, with redelivery made
//! harmless downstream (see [`detect`]).
//!
//! # Layout
//!
//! - [`run`] (here) is the composition root: it builds the [`context::Context`] every
//!   stage builds itself from, creates the topics, records the start in the audit log,
//!   serves the analyst API, starts the stages and hands them to the
//!   [`supervisor::Supervisor`]. One [`CancellationToken`] (`Handles::stop`) reaches every
//!   loop: stage loops, restore retries, followers, the watch, route retries.
//! - The stages, each with its `start(&Context) -> Result<Running, ServiceError>`:
//!   [`ingest`], [`detect`], [`infra`], [`route`] (one per destination), [`audit`].
//! - What the stages share: `stage` (consumer context, batch polling, the stage loop,
//!   restore retries), `kafka` (clients, topics, the outbox), `wire` (record formats,
//!   partitioner), `order` (event order, watermarks), `watch` (stalled groups).
//! - Around them: `config` (`[kafka]`, `[service]`), `roster_source`, `api` (the analyst
//!   API's Kafka side), `http` (`/metrics`, `/healthz`, `/readyz`), `server` (the runtime,
//!   listener and signal handling `run` and `demo` both start from), `error`.
//!
//! What the stages count and log is in [`crate::telemetry`].

pub mod api;
pub mod audit;
pub mod config;
pub mod context;
pub mod detect;
pub mod error;
pub mod http;
pub mod infra;
pub mod ingest;
pub mod kafka;
pub mod order;
pub mod roster_source;
pub mod route;
pub mod server;
pub mod stage;
pub mod supervisor;
pub mod watch;
pub mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::telemetry::Metrics;
use context::Context;
pub use error::ServiceError;
use http::Health;
pub use supervisor::Ended;
use supervisor::{Running, Supervisor, join_by};

/// A stage of the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Stage {
    Ingest,
    Detect,
    Infra,
    Route,
    Audit,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Ingest,
        Stage::Detect,
        Stage::Infra,
        Stage::Route,
        Stage::Audit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Detect => "detect",
            Stage::Infra => "infra",
            Stage::Route => "route",
            Stage::Audit => "audit",
        }
    }
}

/// What the service shares with its caller: the cancellation token (cancel it to shut
/// down; every loop of the service watches it), metrics and health for the HTTP endpoints.
#[derive(Clone)]
pub struct Handles {
    pub stop: CancellationToken,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    /// The analyst API, once `[api] enabled` has it served.
    pub api: http::ApiSlot,
}

impl Default for Handles {
    fn default() -> Self {
        Handles {
            stop: CancellationToken::new(),
            metrics: Arc::new(Metrics::new()),
            health: Health::new(),
            api: http::ApiSlot::default(),
        }
    }
}

/// Run the given stages until `handles.stop` is cancelled. `runtime` must not be the
/// calling thread's own runtime (stages block on it).
pub fn run(
    config: &Config,
    stages: &[Stage],
    runtime: Handle,
    handles: &Handles,
) -> Result<Ended, ServiceError> {
    let ctx = Context::build(config, runtime, handles)?;
    if ctx.kafka.create_topics {
        kafka::ensure_all_topics(&ctx.kafka, &ctx.runtime)?;
    }
    // Configuration and roster changes go to the audit log (through the audit topic).
    let changes = audit::Changes::record_start(&ctx)?;
    let api_view = api::start(&ctx, &handles.api)?;
    let running = start(&ctx, stages)?;
    Supervisor {
        ctx: &ctx,
        health: &handles.health,
        changes,
        api_view,
    }
    .run(running)
}

/// Start `stages`, each from the shared context (the route stage once per destination; the
/// audit stage only with an `[audit] path`).
fn start(ctx: &Context, stages: &[Stage]) -> Result<Vec<Running>, ServiceError> {
    let mut running = Vec::new();
    for &stage in stages {
        match stage {
            Stage::Ingest => running.push(ingest::start(ctx)?),
            Stage::Detect => running.push(detect::start(ctx)?),
            Stage::Infra => running.push(infra::start(ctx)?),
            Stage::Route => {
                let destinations = &ctx.config.route.destination;
                if destinations.is_empty() {
                    tracing::info!("route stage: no [[route.destination]], nothing to deliver");
                }
                for d in destinations {
                    running.push(route::start(ctx, d)?);
                }
            }
            Stage::Audit => running.extend(audit::start(ctx)?),
        }
    }
    Ok(running)
}

/// [`run`] on a thread of its own, with the shutdown deadline enforced from outside it.
///
/// Once `handles.stop` is cancelled, `run` has `service.shutdown_deadline_secs` for its stages
/// and then releases what it holds: librdkafka clients, which close on drop and can wait
/// for a broker that no longer answers. Whatever blocks in there, this returns
/// [`Ended::DeadlinePassed`] by [`SHUTDOWN_GRACE`] after the deadline and leaves the thread
/// to the process's exit; uncommitted input is read again by the next owner.
pub fn run_bounded(
    config: &Config,
    stages: &[Stage],
    runtime: Handle,
    handles: &Handles,
) -> Result<Ended, ServiceError> {
    let service = {
        let (config, stages, handles) = (config.clone(), stages.to_vec(), handles.clone());
        std::thread::Builder::new()
            .name("service".into())
            .spawn(move || run(&config, &stages, runtime, &handles))
            .map_err(ServiceError::thread("service thread"))?
    };
    while !service.is_finished() && !handles.stop.is_cancelled() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let deadline = Instant::now()
        + Duration::from_secs(config.service.shutdown_deadline_secs)
        + SHUTDOWN_GRACE;
    match join_by(service, deadline) {
        Some(Ok(ended)) => ended,
        Some(Err(_)) => Err(ServiceError::Panicked("the service")),
        None => {
            tracing::error!(
                "the service was still closing its clients {} s after the shutdown deadline; \
                 leaving them",
                SHUTDOWN_GRACE.as_secs()
            );
            Ok(Ended::DeadlinePassed)
        }
    }
}

/// How long [`run_bounded`] waits past the shutdown deadline for the service to release its
/// clients (a clean close takes well under a second).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
