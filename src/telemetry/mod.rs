//! The service's telemetry as typed events, after Vector's `internal_events`
//! (`docs/specs/instrumentation.md` there): each thing worth knowing is one struct named
//! `<Noun><Verb>[Error]`, and its [`Event::emit`] both logs it (with `tracing` fields) and
//! counts it in [`Metrics`]. Stages never touch a metric handle; they emit events.
//!
//! # Layout
//!
//! - [`registry`]: [`Metrics`], the private registry: every metric's name, help, labels
//!   and buckets, and the series preregistered at 0.
//! - [`labels`]: the label values. Closed sets are enums with an `ALL` list (which
//!   preregistration walks); topic and destination names are borrowed from the
//!   configuration or from a consumed record; countries and rules come from closed tables.
//!   No label is ever built from a caller's `&str`, so an employee, an e-mail address or an
//!   IP address cannot become a label value: it does not compile.
//! - One file of events per area: [`ingest`] (records read, rejected, dead-lettered,
//!   enriched), [`detect`] (findings, alerts, duplicates, late records, risk levels),
//!   [`stage`] (what every stage shares: processing time, event lag, watermarks, state
//!   restore, partitions, consumer lag), [`route`] (notifications), [`process`] (readiness,
//!   HTTP, GeoIP databases).
//! - [`read`]: reading the registry in-process ([`Metrics::value`], [`Metrics::samples`]),
//!   for tests and the demo. `/metrics` serves [`Metrics::render`].
//!
//! # Conventions
//!
//! Metric names are `driftwatch_<what>_<unit>[_total]`, base units (seconds). Per-record
//! events log at `trace`, per-batch and rare ones at `debug`, errors at `error`; the log
//! target is the event's module (`driftwatch::telemetry::ingest`...), so
//! `RUST_LOG=driftwatch::telemetry=debug` shows what the metrics count. A log line that
//! says more than the event knows (why a stage is stalled, what a restore found) stays
//! where that knowledge is.
//!
//! A label value comes from the configuration (or a record, or an enum):
//!
//! ```
//! use driftwatch::service::config::InputTopic;
//! use driftwatch::telemetry::{Event, Metrics, UnknownUserSeen};
//! let input = InputTopic { topic: "logins.okta".into(), format: Default::default() };
//! let metrics = Metrics::new();
//! UnknownUserSeen { topic: (&input).into() }.emit(&metrics);
//! let labels = [("source", "logins.okta")];
//! assert_eq!(metrics.value("driftwatch_unknown_users_total", &labels), Some(1.0));
//! ```
//!
//! An unbounded one does not compile:
//!
//! ```compile_fail
//! use driftwatch::telemetry::{Event, Metrics, UnknownUserSeen};
//! // A topic name only comes from the configuration or a consumed record.
//! UnknownUserSeen { topic: "alice@example.com" }.emit(&Metrics::new());
//! ```

pub mod detect;
pub mod ingest;
pub mod labels;
pub mod process;
pub mod read;
pub mod registry;
pub mod route;
pub mod stage;

pub use detect::{
    AlertRaised, ChangelogWritten, DuplicateSkipped, EmployeesTallied, FindingsRaised,
    LateRecordApplied,
};
pub use ingest::{
    LoginEnriched, LoginLocated, RecordConsumed, RecordDeadLettered, RecordRejected,
    UnknownUserSeen, UnroutableLoginSeen,
};
pub use labels::{DestinationName, RecordFormat, TopicName};
pub use process::{GeoipDatabasesLoaded, HttpConnectionRefused, ReadinessObserved};
pub use read::Sample;
pub use registry::Metrics;
pub use route::{
    NotificationAttempted, NotificationDeadLettered, NotificationDelivered, NotificationSkipped,
    NotificationsPending,
};
pub use stage::{
    BatchProcessed, ConsumerStatsReceived, EventLagObserved, RecordsHeld, StagePartitionsObserved,
    StageRejoined, StateRestoreFailed, StateRestored, WatermarkPublished, WatermarkTimedOut,
};

/// Something that happened, worth a log line and a count.
pub trait Event {
    /// Log it and count it.
    fn emit(&self, metrics: &Metrics);
}

#[cfg(test)]
pub(crate) mod testing;
