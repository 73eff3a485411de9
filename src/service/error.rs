//! Why the service could not start or keep running.

use crate::audit::AuditError;
use crate::enrich::EnrichError;
use crate::roster::RosterError;
use crate::route::deliver::RouteError;
use crate::suppress::SuppressError;
use rdkafka::error::KafkaError;

use super::Stage;

/// Why the service could not do its work.
///
/// Each message is whole: it carries its cause's text, so the cause is kept typed in the
/// variant but not also offered as a `source`. Which failures are the operator's to fix
/// (exit 2) and which are a run that failed (exit 1) is said by
/// [`ServiceError::is_configuration`], not by the chain's other types.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("topic {topic}: {message}")]
    Topic { topic: String, message: String },
    #[error("the configuration has no [kafka] section")]
    NoKafkaSection,
    /// `[kafka.client]` settings name environment variables that are not set (one message
    /// per setting).
    #[error("{}", .0.join("; "))]
    MissingEnvironment(Vec<String>),
    #[error("no roster: set [roster] path or kafka.roster_topic")]
    NoRoster,
    #[error("{0}")]
    Roster(RosterError),
    /// The roster topic's rows do not make a roster.
    #[error("roster topic {topic}: {error}")]
    RosterTopic { topic: String, error: RosterError },
    #[error("roster topic {topic}: no records while catching up")]
    RosterTopicSilent { topic: String },
    #[error("{0}")]
    Enrich(EnrichError),
    #[error("{0}")]
    Suppressions(SuppressError),
    #[error("audit log: {0}")]
    Audit(AuditError),
    #[error("{0}")]
    Route(RouteError),
    #[error("the ingest stage needs at least one [[kafka.input]] topic")]
    NoInputTopics,
    #[error("producer shut down before delivery")]
    ProducerGone,
    /// A thread of the service could not be started.
    #[error("starting the {what}: {error}")]
    Thread { what: String, error: std::io::Error },
    /// Something that is not a stage panicked (topic creation, the service thread).
    #[error("{0} panicked")]
    Panicked(&'static str),
    /// A stage ended while the service was running, which stops the rest.
    #[error("{} stage stopped", .0.as_str())]
    StageStopped(Stage),
    #[error("{} stage failed: {why}", .stage.as_str())]
    StageFailed {
        stage: Stage,
        why: Box<ServiceError>,
    },
    #[error("{} stage panicked", .0.as_str())]
    StagePanicked(Stage),
}

impl ServiceError {
    /// Whether this is a configuration the service cannot start on (no `[kafka]`, a secret
    /// missing from the environment, no roster or input topic, a roster, database or trip
    /// file that does not load) rather than a failure of a service that could start.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            ServiceError::NoKafkaSection
                | ServiceError::MissingEnvironment(_)
                | ServiceError::NoRoster
                | ServiceError::NoInputTopics
                | ServiceError::Roster(_)
                | ServiceError::Enrich(_)
                | ServiceError::Suppressions(_)
        )
    }

    /// A thread named `what` ("the stage watch", "ingest stage") that did not start.
    pub fn thread(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServiceError {
        let what = what.into();
        move |error| ServiceError::Thread { what, error }
    }
}
