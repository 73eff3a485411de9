//! driftwatch: post-hire login and network anomaly detection.
//!
//! Remote employees claim a country, a city and a time zone; their VPN and SSO logins say
//! where and when they really work. driftwatch compares the two from the first login.
//!
//! # Layout
//!
//! A workspace of two crates. The core is pure (no I/O; the clock and inputs are
//! arguments) and is its own crate, `driftwatch-core` (`crates/driftwatch-core`), whose
//! dependencies leave out tokio, rdkafka, axum, reqwest and prometheus; this crate holds
//! the drivers, which do the I/O. The core's modules are re-exported here under their own
//! names, so `driftwatch::roster` is `driftwatch_core::roster`:
//!
//! - [`event`]: [`event::LoginEvent`], the one normalised shape of every input record.
//! - [`decode`]: one adapter per input format, format auto-detection, reject reasons.
//! - [`roster`]: claimed profiles from HR (CSV or JSON), validation, alias resolution.
//! - [`enrich`]: GeoIP and tagged intel lists folded into [`enrich::Geo`], cached by
//!   address; the `.mmdb` writer.
//! - [`detect`]: the detectors, one file each; [`state`]: what is learned per employee;
//!   [`risk`]: findings into a decaying risk and alerts; [`suppress`]: allowlists, approved
//!   travel, dispositions; [`engine`]: the stateful detection stage.
//! - [`alert`]: findings, explained alerts with typed evidence, deterministic alert ids.
//! - [`pipeline`]: decode → resolve → enrich for one record, and its tally.
//! - [`hex`], [`text`]: SHA-256 hex; log text made safe to show.
//!
//! Around it, in this crate, the drivers and what they share:
//!
//! - [`evaluate`]: detection quality against the simulator's ground truth (recall per
//!   scenario, false alerts per 1,000 employee-days, time to first alert).
//! - [`config`]: the TOML file, composed from each module's own section, all errors at once.
//! - [`logs`]: the process's own logs on stderr, text or JSON lines
//!   (`DRIFTWATCH_LOG_FORMAT`), colours only on a terminal.
//! - [`reload`]: atomic hot reload of file-backed values, keeping the old one on failure.
//! - [`sources`]: the files the roster and the enricher load from, read and watched.
//! - [`drivers`]: the I/O around the core: [`drivers::input`] (files, gzip, stdin),
//!   [`drivers::replay`] (`driftwatch replay`) and [`drivers::demo`] (`driftwatch demo`).
//! - [`service`]: `driftwatch run`, the core on Kafka: the ingest, detect and infra stages,
//!   the state changelog, dead letters and the health endpoints; [`service::server`]
//!   starts the runtime, the HTTP listener and the signal watcher `run` and `demo` share.
//! - [`telemetry`]: the service's metrics as typed events, one struct per thing that
//!   happens, each logging and counting it; label values from enums and configuration only.
//! - [`api`]: the analyst API (`/api/v1`): bearer tokens with roles, the in-memory view it
//!   answers from, dispositions.
//! - [`audit`]: the tamper-evident audit log: hash-chained JSON lines of alerts,
//!   dispositions, roster, configuration and API calls; verification and retention.
//! - [`route`]: on-call routing: destination filters, Alertmanager / PagerDuty / Slack /
//!   webhook payloads, delivery with retries and rate limits.
//! - [`report`]: `driftwatch report`, the periodic compliance report (HTML, CSV, JSON)
//!   re-derived from the raw logs with the replay core; dispositions and the head hash
//!   from the audit log; optional pseudonyms.
//! - [`siem`]: alerts as OCSF Detection Findings or ECS documents for a SIEM, and the
//!   reader of an alert line in any format.
//! - [`simulate`]: a seeded synthetic company (roster, GeoIP world, Okta and VPN logs,
//!   planted legitimate and fraudulent cases, ground truth) for `driftwatch simulate`.
pub mod api;
pub mod audit;
pub mod config;
pub mod drivers;
pub mod evaluate;
pub mod logs;
pub mod reload;
pub mod report;
pub mod route;
pub mod service;
pub mod siem;
pub mod simulate;
pub mod sources;
pub mod telemetry;

pub use driftwatch_core::{
    alert, decode, detect, engine, enrich, event, hex, pipeline, risk, roster, state, suppress,
    text,
};
