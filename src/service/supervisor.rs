//! Runs the started stages: readiness, reloads and gauges while they work; a stage that
//! ends stops the rest; then shutdown within `service.shutdown_deadline_secs`.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::Stage;
use super::audit::Changes;
use super::context::Context;
use super::error::ServiceError;
use super::http::Health;
use super::stage::{Partitions, StageContext};
use super::watch::{self, Watched};
use crate::telemetry::{self, Event};

/// How the service ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Every stage finished its batch, committed and closed.
    Clean,
    /// The shutdown deadline passed with stages still busy (their uncommitted input is
    /// read again by the next owner).
    DeadlinePassed,
}

/// A started stage: what the supervisor watches and waits for.
pub struct Running {
    pub stage: Stage,
    /// The stage's loop; it returns once the token is cancelled (or it fails).
    pub thread: JoinHandle<Result<(), ServiceError>>,
    /// Whether the stage has its partitions and has restored them.
    pub ready: Box<dyn Fn() -> bool + Send>,
    /// The stage's consumer, for the watch that tells when its input waits for nobody.
    pub watched: Watched,
    /// Gauges refreshed once a second (the risk levels of the employees held).
    pub gauges: Option<Box<dyn Fn() + Send>>,
}

impl Running {
    /// Subscribe `consumer` to `topics` (as a member of `group`) and run `body` with it on
    /// a thread named after the stage; `gauges`, if any, exports the stage's gauges from
    /// its partitions.
    pub fn spawn<P: Partitions>(
        stage: Stage,
        group: String,
        topics: &[&str],
        consumer: BaseConsumer<StageContext<P>>,
        gauges: Option<fn(&P)>,
        body: impl FnOnce(&BaseConsumer<StageContext<P>>) -> Result<(), ServiceError> + Send + 'static,
    ) -> Result<Running, ServiceError> {
        consumer.subscribe(topics)?;
        let watched = Watched {
            stage,
            group,
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            held: Arc::clone(&consumer.context().held),
        };
        let consumer = Arc::new(consumer);
        let c = Arc::clone(&consumer);
        let ready: Box<dyn Fn() -> bool + Send> = Box::new(move || c.context().is_ready());
        let gauges = gauges.map(|export| {
            let c = Arc::clone(&consumer);
            Box::new(move || export(&c.context().partitions)) as Box<dyn Fn() + Send>
        });
        let thread = std::thread::Builder::new()
            .name(stage.as_str().to_owned())
            .spawn(move || body(&consumer))
            .map_err(ServiceError::thread(format!("{} stage", stage.as_str())))?;
        Ok(Running {
            stage,
            thread,
            ready,
            watched,
            gauges,
        })
    }
}

/// Runs the stages of one service.
pub struct Supervisor<'a> {
    pub ctx: &'a Context,
    pub health: &'a Health,
    /// Where roster changes are recorded.
    pub changes: Changes,
    /// The analyst API's view follower, when the API is on.
    pub api_view: Option<JoinHandle<()>>,
}

impl Supervisor<'_> {
    /// Run `stages` until the token is cancelled or one of them ends, then shut down.
    pub fn run(mut self, stages: Vec<Running>) -> Result<Ended, ServiceError> {
        let ctx = self.ctx;
        let mut threads = Vec::with_capacity(stages.len());
        let mut ready = Vec::with_capacity(stages.len());
        let mut watched = Vec::with_capacity(stages.len());
        let mut gauges = Vec::new();
        for r in stages {
            threads.push((r.stage, r.thread));
            ready.push(r.ready);
            watched.push(r.watched);
            gauges.extend(r.gauges);
        }
        let stalls = Arc::new(Mutex::new(Vec::new()));
        let watch_thread = watch::spawn(
            &ctx.kafka,
            watched,
            Arc::clone(&ctx.metrics),
            Arc::clone(&stalls),
            ctx.cancel.clone(),
        )
        .map_err(ServiceError::thread("stage watch"))?;

        let failed = self.supervise(&mut threads, &ready, &gauges, &stalls);

        self.health.set_ready(false);
        telemetry::ReadinessObserved { ready: false }.emit(&ctx.metrics);
        // The readiness and gauge closures hold the stages' consumers too. Gone now, each
        // consumer is closed by its own stage as it ends, so a close that does not return (a
        // broker that stopped answering) shows as that stage still busy at the deadline, not
        // as this thread stuck when it drops them.
        drop(ready);
        drop(gauges);
        self.shut_down(threads, watch_thread, failed)
    }

    /// While every stage runs: readiness, gauges, reloads. What ended the first stage to
    /// end (the token is cancelled then), or `None` once the token was cancelled.
    fn supervise(
        &mut self,
        threads: &mut Vec<(Stage, JoinHandle<Result<(), ServiceError>>)>,
        ready: &[Box<dyn Fn() -> bool + Send>],
        gauges: &[Box<dyn Fn() + Send>],
        stalls: &Mutex<Vec<watch::Stall>>,
    ) -> Option<ServiceError> {
        let ctx = self.ctx;
        let mut last_reload = Instant::now();
        let mut last_gauges: Option<Instant> = None;
        while !ctx.cancel.is_cancelled() {
            std::thread::sleep(Duration::from_millis(100));
            if ctx.cancel.is_cancelled() {
                break;
            }
            let stalled: Vec<String> = stalls
                .lock()
                .map(|s| s.iter().map(|s| s.why.clone()).collect())
                .unwrap_or_default();
            let is_ready = ready.iter().all(|r| r()) && stalled.is_empty();
            self.health.set_waiting(stalled);
            self.health.set_ready(is_ready);
            telemetry::ReadinessObserved { ready: is_ready }.emit(&ctx.metrics);
            if let Some(i) = threads.iter().position(|(_, t)| t.is_finished()) {
                let (stage, t) = threads.swap_remove(i);
                let failed = match t.join() {
                    Ok(Ok(())) => ServiceError::StageStopped(stage),
                    Ok(Err(e)) => ServiceError::StageFailed {
                        stage,
                        why: Box::new(e),
                    },
                    Err(_) => ServiceError::StagePanicked(stage),
                };
                let why = failed.to_string();
                tracing::error!("{why}");
                self.health.set_failed(why);
                ctx.cancel.cancel();
                return Some(failed);
            }
            // The risk gauges walk every employee held: once a second, input or not (a
            // partition taken over when no input comes must show too).
            if last_gauges.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                last_gauges = Some(Instant::now());
                gauges.iter().for_each(|export| export());
            }
            if last_reload.elapsed() > Duration::from_secs(10) {
                last_reload = Instant::now();
                self.reload();
            }
        }
        None
    }

    /// Reload the roster file and the GeoIP databases that changed; a roster change goes to
    /// the audit log.
    fn reload(&mut self) {
        let ctx = self.ctx;
        self.changes.roster(ctx.refresh_roster());
        for (path, r) in ctx.enricher.reload_if_changed() {
            match r {
                Ok(()) => tracing::info!(path = %path.display(), "reloaded"),
                Err(e) => tracing::error!(path = %path.display(), error = %e, "reload refused"),
            }
        }
        telemetry::GeoipDatabasesLoaded {
            databases: &ctx.enricher.databases(),
        }
        .emit(&ctx.metrics);
    }

    /// Wait for the stages, the watch and the API view until the shutdown deadline.
    fn shut_down(
        self,
        threads: Vec<(Stage, JoinHandle<Result<(), ServiceError>>)>,
        watch_thread: JoinHandle<()>,
        mut failed: Option<ServiceError>,
    ) -> Result<Ended, ServiceError> {
        let ctx = self.ctx;
        let deadline =
            Instant::now() + Duration::from_secs(ctx.config.service.shutdown_deadline_secs);
        while Instant::now() < deadline && threads.iter().any(|(_, t)| !t.is_finished()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut ended = Ended::Clean;
        for (stage, t) in threads {
            if !t.is_finished() {
                tracing::error!(
                    stage = stage.as_str(),
                    "still busy at the shutdown deadline"
                );
                ended = Ended::DeadlinePassed;
                continue;
            }
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failed = failed.or(Some(e)),
                Err(_) => failed = failed.or(Some(ServiceError::StagePanicked(stage))),
            }
        }
        for (what, thread) in [
            ("the stage watch", Some(watch_thread)),
            ("the api view reader", self.api_view),
        ] {
            match thread.map(|t| join_by(t, deadline)) {
                None | Some(Some(Ok(()))) => {}
                Some(Some(Err(_))) => tracing::error!("{what} panicked"),
                Some(None) => {
                    tracing::error!("{what} was still busy at the shutdown deadline");
                    ended = Ended::DeadlinePassed;
                }
            }
        }
        ctx.join_roster();
        match failed {
            Some(e) => Err(e),
            None => Ok(ended),
        }
    }
}

/// Waits for `thread` until `deadline`: what it returned, or `None` while it still runs.
pub fn join_by<T>(thread: JoinHandle<T>, deadline: Instant) -> Option<std::thread::Result<T>> {
    while !thread.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    thread.is_finished().then(|| thread.join())
}
