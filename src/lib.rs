//! driftwatch: post-hire login and network anomaly detection.
//!
//! Remote employees claim a country, a city and a time zone; their VPN and SSO logins say
//! where and when they really work. driftwatch compares the two from the first login.
//!
//! # Layout
//!
//! The core is pure (no I/O; the clock and inputs are arguments); drivers do the I/O.
//!
//! - [`event`]: [`event::LoginEvent`], the one normalised shape of every input record.
//! - [`decode`]: one adapter per input format (Okta, Entra ID, Google Workspace, OCSF, ECS,
//!   GlobalProtect, Cisco ASA, OpenVPN, Fortinet), format auto-detection, and the closed
//!   set of reasons a record is rejected.
//! - [`roster`]: claimed profiles from HR (CSV or JSON), validation, alias resolution.
//! - [`enrich`]: GeoIP (City in GeoIP2 or DB-IP layout, ASN, Anonymous-IP) and tagged
//!   intel lists, folded into [`enrich::Geo`], cached by address.
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
//! - [`evaluate`]: detection quality against the simulator's ground truth (recall per
//!   scenario, false alerts per 1,000 employee-days, time to first alert).
//! - [`config`]: the TOML file, composed from each module's own section, all errors at once.
//! - [`logs`]: the process's own logs on stderr, text or JSON lines
//!   (`DRIFTWATCH_LOG_FORMAT`), colours only on a terminal.
//! - [`reload`]: atomic hot reload of file-backed values, keeping the old one on failure.
//! - [`sources`]: the files the roster and the enricher load from, read and watched.
//! - [`drivers`]: the I/O around the core: [`drivers::input`] (files, gzip, stdin) and
//!   [`drivers::replay`] (`driftwatch replay`).
//! - [`service`]: `driftwatch run`, the core on Kafka: the ingest, detect and infra stages,
//!   the state changelog, dead letters, metrics and the health endpoints.
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
pub mod alert;
pub mod api;
pub mod audit;
pub mod config;
pub mod decode;
pub mod detect;
pub mod drivers;
pub mod engine;
pub mod enrich;
pub mod evaluate;
pub mod event;
pub mod hex;
pub mod logs;
pub mod pipeline;
pub mod reload;
pub mod report;
pub mod risk;
pub mod roster;
pub mod route;
pub mod service;
pub mod siem;
pub mod simulate;
pub mod sources;
pub mod state;
pub mod suppress;
pub mod text;
