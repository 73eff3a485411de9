//! What every stage builds itself from: the configuration, the runtime, the metrics, the
//! service's cancellation token and the sources the stages share (roster, GeoIP databases,
//! suppressions). Built once by [`super::run`]; each stage's `start` takes it by reference
//! and clones what its thread keeps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::BaseConsumer;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use super::config::KafkaConfig;
use super::error::ServiceError;
use super::kafka::{self, Outbox};
use super::roster_source::RosterSource;
use super::stage::{LoopOptions, Partitions, StageContext};
use super::{Handles, Stage};
use crate::config::Config;
use crate::roster::Roster;
use crate::sources::enrich_files::{self, EnrichFiles};
use crate::sources::suppress_files;
use crate::suppress::Suppressions;
use crate::telemetry::{self, Event, Metrics};

/// The roster in force now (a file reloaded by the supervisor, or a topic followed).
pub type CurrentRoster = Arc<dyn Fn() -> Arc<Roster> + Send + Sync>;

/// The shared context of the service's stages.
pub struct Context {
    pub config: Config,
    /// `config.kafka`, which the service cannot run without.
    pub kafka: KafkaConfig,
    /// The runtime the stages block on for acknowledgements and HTTP (not theirs: they run
    /// on threads of their own).
    pub runtime: Handle,
    pub metrics: Arc<Metrics>,
    /// Cancelled to shut down; every loop of the service watches it.
    pub cancel: CancellationToken,
    pub roster: CurrentRoster,
    pub enricher: Arc<EnrichFiles>,
    pub suppress: Arc<Suppressions>,
    /// Where [`Context::roster`] comes from: the supervisor refreshes a file and, at the
    /// end, joins a topic's follower. Behind a mutex because the roster closure reads it.
    pub(super) roster_source: Arc<Mutex<RosterSource>>,
}

impl Context {
    /// Check the Kafka settings and load the shared sources. A roster topic is read to its
    /// end here, then followed until `handles.stop` is cancelled.
    pub fn build(
        config: &Config,
        runtime: Handle,
        handles: &Handles,
    ) -> Result<Context, ServiceError> {
        let kafka = config.kafka.clone().ok_or(ServiceError::NoKafkaSection)?;
        let missing = kafka.missing_environment();
        if !missing.is_empty() {
            return Err(ServiceError::MissingEnvironment(missing));
        }
        let metrics = Arc::clone(&handles.metrics);
        let cancel = handles.stop.clone();
        let source = match &kafka.roster_topic {
            Some(topic) => RosterSource::follow_topic(&kafka, topic, cancel.clone())?,
            None => {
                let r = config.roster.as_ref().ok_or(ServiceError::NoRoster)?;
                RosterSource::File(r.watch().map_err(ServiceError::Roster)?)
            }
        };
        source.refresh();
        let roster_source = Arc::new(Mutex::new(source));
        let roster = {
            let r = Arc::clone(&roster_source);
            Arc::new(move || r.lock().unwrap_or_else(|p| p.into_inner()).get()) as CurrentRoster
        };
        let enricher = Arc::new(enrich_files::open(&config.enrich).map_err(ServiceError::Enrich)?);
        telemetry::GeoipDatabasesLoaded {
            databases: &enricher.databases(),
        }
        .emit(&metrics);
        let suppress =
            Arc::new(suppress_files::load(&config.suppress).map_err(ServiceError::Suppressions)?);
        Ok(Context {
            config: config.clone(),
            kafka,
            runtime,
            metrics,
            cancel,
            roster,
            enricher,
            suppress,
            roster_source,
        })
    }

    /// The consumer group of `stage` (route destinations add their name: see
    /// `route::group`).
    pub fn group(&self, stage: Stage) -> String {
        format!("{}.{}", self.kafka.group_id, stage.as_str())
    }

    /// A stage's consumer in `group`, with `partitions` called on assignment.
    pub fn consumer<P: Partitions>(
        &self,
        group: &str,
        partitions: P,
    ) -> Result<BaseConsumer<StageContext<P>>, ServiceError> {
        Ok(kafka::consumer_config(&self.kafka, group)
            .create_with_context(StageContext::new(partitions, Arc::clone(&self.metrics)))?)
    }

    /// The reader a stage restores its partitions with (and asks partition counts).
    pub fn restore_reader(&self, group: &str) -> Result<BaseConsumer, ServiceError> {
        Ok(kafka::client_config(&self.kafka)
            .set("group.id", format!("{group}.restore"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .create()?)
    }

    /// An outbox on a producer of the stage's own.
    pub fn outbox(&self) -> Result<Outbox, ServiceError> {
        Ok(Outbox::new(
            kafka::producer(&self.kafka)?,
            self.runtime.clone(),
        ))
    }

    /// How a stage loops: `[service]` batching, the token, the dead-letter topic; no
    /// watermarks (a stage that writes them sets `announce_to`).
    pub fn loop_options(&self) -> LoopOptions {
        LoopOptions {
            batch_max: self.config.service.batch_max.max(1),
            batch_wait: Duration::from_millis(self.config.service.batch_wait_ms),
            stop: self.cancel.clone(),
            dlq: self.kafka.topics.dlq.clone(),
            announce_to: Vec::new(),
        }
    }

    /// Refresh the roster file; the roster in force afterwards.
    pub fn refresh_roster(&self) -> Arc<Roster> {
        self.roster_source
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .refresh();
        (self.roster)()
    }

    /// Wait for a roster topic's follower to end (after cancellation).
    pub fn join_roster(&self) {
        self.roster_source
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join();
    }
}
