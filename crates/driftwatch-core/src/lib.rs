//! driftwatch-core: the pure core of driftwatch, post-hire login and network anomaly
//! detection.
//!
//! Decoding, the roster, enrichment lookups, baselines, detectors and risk take the clock
//! and their inputs as arguments and do no I/O of their own: loaders take bytes, text or
//! readers, not paths ([`roster::Roster::from_bytes`], [`enrich::GeoDb::from_bytes`],
//! [`enrich::IntelList::read`], [`enrich::Enricher::new`], [`suppress::read_trips`]), and
//! nothing here watches a file, opens a socket or starts a task. The drivers — files, Kafka, HTTP, the command line — are
//! the `driftwatch` package, which reads the inputs, watches the files and calls in. This
//! crate does not depend on tokio, rdkafka, axum, reqwest, prometheus, hyper or tower, so
//! the compiler keeps the drivers out.
//!
//! # Layout
//!
//! - [`event`]: [`event::LoginEvent`], the one normalised shape of every input record.
//! - [`decode`]: one adapter per input format (Okta, Entra ID, Google Workspace, OCSF, ECS,
//!   GlobalProtect, Cisco ASA, OpenVPN, Fortinet), format auto-detection, and the closed
//!   set of reasons a record is rejected.
//! - [`roster`]: claimed profiles from HR (CSV or JSON), validation, alias resolution.
//! - [`enrich`]: GeoIP (City in GeoIP2 or DB-IP layout, ASN, Anonymous-IP) and tagged
//!   intel lists, folded into [`enrich::Geo`], cached by address; the `.mmdb` writer.
//! - [`detect`]: the detectors, one file each: pure functions from an enriched event, the
//!   claimed profile and the detector's own per-employee state to [`alert::Finding`]s.
//! - [`state`]: [`state::EmployeeState`], what is learned per employee, versioned and
//!   serialisable.
//! - [`risk`]: findings into a decaying per-employee risk; alerts opened and escalated.
//! - [`suppress`]: allowlisted networks / ASNs / tags, approved travel, analysts'
//!   dispositions.
//! - [`engine`]: the stateful detection stage: reorder buffer (lateness), state per
//!   employee, the shared-infrastructure index, detectors, risk.
//! - [`alert`]: findings, explained alerts with typed evidence, deterministic alert ids.
//! - [`pipeline`]: the core's stateless steps for one record (decode → resolve →
//!   enrich) and the [`pipeline::Tally`] of what happened.
//! - [`hex`]: lower-case hexadecimal and SHA-256 digests written that way, defined once.
//! - [`text`]: text from the logs made safe to show a person (forgeable account names,
//!   hosts, summaries).
pub mod alert;
pub mod decode;
pub mod detect;
pub mod engine;
pub mod enrich;
pub mod event;
pub mod hex;
pub mod pipeline;
pub mod risk;
pub mod roster;
pub mod state;
pub mod suppress;
pub mod text;
