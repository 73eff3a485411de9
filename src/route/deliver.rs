//! Delivery to one destination: its HTTP client (or file), a token-bucket rate limit
//! (`governor`) and a retry loop with exponential backoff and full jitter (`backon`'s
//! delays).
//!
//! Errors that can pass — connection refused, timeouts, 408, 425, 429 and 5xx — are retried
//! without a limit on attempts, waiting at most `max_backoff_secs` between two (longer
//! when the destination asks so with `Retry-After`), so a destination down for an hour
//! gets everything once it is back. Any other answer (400, 401, 403, 404, 413, 422...)
//! would be the same the next time: the alert is handed back as [`Outcome::Rejected`] and
//! the caller keeps it (dead-letter topic or file).

use std::io::Write;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio_util::sync::CancellationToken;

use super::page::{Links, Person};
use super::payload::{self, Action};
use super::{DestinationConfig, Kind, RouteConfig};
use crate::alert::Alert;
use crate::roster::Roster;
use crate::telemetry::labels::AttemptOutcome;
use crate::telemetry::{
    DestinationName, Event, Metrics, NotificationAttempted, NotificationDeadLettered,
    NotificationDelivered, NotificationSkipped,
};

/// How much of a refusing destination's answer is kept with the dead letter.
const ANSWER_KEEP: usize = 512;

/// An alert on its way to a destination.
#[derive(Debug, Clone)]
pub struct Routed {
    pub alert: Alert,
    /// What the roster says about the employee (group, name, UPN, manager), as of when
    /// the alert was read.
    pub person: Person,
    pub action: Action,
    /// When the alert was written (the alerts topic's timestamp, or its emission), for the
    /// delivery latency.
    pub written: Option<DateTime<Utc>>,
}

/// What became of one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// The destination refused it for good; the reason says why (status and answer).
    Rejected(String),
}

/// Why a destination could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("route destination {name}: {message}")]
    Setup { name: String, message: String },
}

/// One destination, ready to deliver.
pub struct Destination {
    pub config: DestinationConfig,
    url: Option<String>,
    routing_key: String,
    client: reqwest::Client,
    headers: HeaderMap,
    limiter: DefaultDirectRateLimiter,
    file: Option<Mutex<Box<dyn Write + Send>>>,
    links: Links,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Addresses, keys and headers can be secrets (Slack webhook addresses are).
        f.debug_struct("Destination")
            .field("name", &self.config.name)
            .field("kind", &self.config.kind)
            .finish_non_exhaustive()
    }
}

impl Destination {
    pub fn new(
        config: &DestinationConfig,
        links: &Links,
        metrics: Arc<Metrics>,
    ) -> Result<Destination, RouteError> {
        let fail = |message: String| RouteError::Setup {
            name: config.name.clone(),
            message,
        };
        let mut headers = HeaderMap::new();
        for (k, v) in config.resolved_headers() {
            let name = HeaderName::try_from(k.as_str())
                .map_err(|e| fail(format!("header name {k:?}: {e}")))?;
            let mut value =
                HeaderValue::try_from(v).map_err(|_| fail(format!("header {k}: invalid value")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .user_agent(concat!("driftwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| fail(format!("HTTP client: {e}")))?;
        let period = Duration::from_secs_f64(1.0 / config.rate_per_second.max(1e-6));
        let quota = Quota::with_period(period)
            .ok_or_else(|| fail("rate_per_second is too high".into()))?
            .allow_burst(NonZeroU32::new(config.burst).unwrap_or(NonZeroU32::MIN));
        let file = match (config.kind, &config.path) {
            (Kind::File, Some(p)) if p.as_os_str() == "-" => Some(Mutex::new(Box::new(
                std::io::stdout(),
            )
                as Box<dyn Write + Send>)),
            (Kind::File, Some(p)) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| fail(format!("{}: {e}", p.display())))?;
                Some(Mutex::new(Box::new(f) as Box<dyn Write + Send>))
            }
            _ => None,
        };
        metrics.preregister_destination(config.into());
        Ok(Destination {
            url: config.resolved_url(),
            routing_key: config.resolved_routing_key(),
            config: config.clone(),
            client,
            headers,
            limiter: RateLimiter::direct(quota),
            file,
            links: links.clone(),
            metrics,
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Its name as the `destination` label of the notification metrics.
    pub fn label(&self) -> DestinationName<'_> {
        DestinationName::from(&self.config)
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Deliver `alerts` in order, each exactly once if the destination answers, retrying
    /// what can pass. `None` when `stop` was cancelled before every alert had an outcome: the
    /// caller must not count the batch as done (it is read again after a restart).
    pub async fn deliver(
        &self,
        alerts: &[Routed],
        stop: &CancellationToken,
    ) -> Option<Vec<Outcome>> {
        let mut outcomes = Vec::with_capacity(alerts.len());
        match self.config.kind {
            Kind::Alertmanager => {
                for chunk in alerts.chunks(self.config.max_batch.max(1)) {
                    let now = Utc::now();
                    let body: Vec<_> = chunk
                        .iter()
                        .map(|r| {
                            payload::alertmanager(
                                &r.alert,
                                &r.person,
                                r.action,
                                now,
                                chrono::Duration::hours(i64::from(self.config.resolve_after_hours)),
                                &self.links,
                            )
                        })
                        .collect();
                    let url = format!(
                        "{}/api/v2/alerts",
                        self.url
                            .as_deref()
                            .unwrap_or_default()
                            .trim_end_matches('/')
                    );
                    let outcome = self.post(&url, &body, None, stop).await?;
                    outcomes.extend(std::iter::repeat_n(outcome, chunk.len()));
                }
            }
            _ => {
                for r in alerts {
                    outcomes.push(self.one(r, stop).await?);
                }
            }
        }
        for (r, outcome) in alerts.iter().zip(&outcomes) {
            self.count(r, outcome);
        }
        Some(outcomes)
    }

    async fn one(&self, r: &Routed, stop: &CancellationToken) -> Option<Outcome> {
        let links = &self.links;
        let url = self.url.as_deref().unwrap_or_default();
        let now = Utc::now();
        match self.config.kind {
            Kind::Pagerduty => {
                let body = payload::pagerduty(
                    &r.alert,
                    &r.person,
                    &self.routing_key,
                    r.action,
                    now,
                    links,
                );
                self.post(url, &body, None, stop).await
            }
            Kind::Slack => {
                let body = payload::slack(&r.alert, &r.person, r.action, now, links);
                self.post(url, &body, None, stop).await
            }
            Kind::Webhook => {
                let body = self.body(r, now);
                self.post(url, &body, Some(&r.alert.id), stop).await
            }
            Kind::File => {
                let line = self.body(r, now);
                self.attempts(stop, || async {
                    let mut text = line.to_string();
                    text.push('\n');
                    let mut out = self.file.as_ref()?.lock().unwrap_or_else(|p| p.into_inner());
                    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                        Ok(()) => Some(Attempt::Done(Outcome::Delivered)),
                        Err(e) => {
                            tracing::warn!(destination = self.name(), error = %e, "write failed; retrying");
                            Some(Attempt::Retry(None))
                        }
                    }
                })
                .await
            }
            Kind::Alertmanager => None, // batched in `deliver`
        }
    }

    /// A webhook's body or a file's line, in the destination's `format`.
    fn body(&self, r: &Routed, now: DateTime<Utc>) -> serde_json::Value {
        payload::alert_body(
            &r.alert,
            &r.person,
            r.action,
            now,
            &self.links,
            self.config.format.unwrap_or_default(),
        )
    }

    /// POST `body` as JSON until it is accepted or refused for good.
    async fn post(
        &self,
        url: &str,
        body: &impl serde::Serialize,
        idempotency_key: Option<&str>,
        stop: &CancellationToken,
    ) -> Option<Outcome> {
        self.attempts(stop, || async {
            let mut request = self
                .client
                .post(url)
                .headers(self.headers.clone())
                .json(body);
            if let Some(key) = idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            Some(match request.send().await {
                Ok(answer) if answer.status().is_success() => Attempt::Done(Outcome::Delivered),
                Ok(answer) if retryable(answer.status()) => {
                    let wait = retry_after(answer.headers());
                    tracing::warn!(
                        destination = self.name(),
                        status = answer.status().as_u16(),
                        "destination failed; retrying"
                    );
                    Attempt::Retry(wait)
                }
                Ok(answer) => {
                    let status = answer.status();
                    let text = answer.text().await.unwrap_or_default();
                    let why = format!("HTTP {status}: {}", payload::truncate(text.trim(), ANSWER_KEEP));
                    tracing::error!(destination = self.name(), reason = %why, "destination refused an alert");
                    Attempt::Done(Outcome::Rejected(why))
                }
                Err(e) if e.is_builder() => {
                    // Never the address in the message: it can be a secret.
                    Attempt::Done(Outcome::Rejected(format!("request: {}", e.without_url())))
                }
                Err(e) => {
                    tracing::warn!(destination = self.name(), error = %e.without_url(), "destination unreachable; retrying");
                    Attempt::Retry(None)
                }
            })
        })
        .await
    }

    /// Run `attempt` (after the rate limiter lets it) until it is done, waiting between
    /// attempts; `None` if stopped first.
    async fn attempts<F, Fut>(&self, stop: &CancellationToken, mut attempt: F) -> Option<Outcome>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<Attempt>>,
    {
        let max = Duration::from_secs(self.config.max_backoff_secs);
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(self.config.initial_backoff_ms))
            .with_max_delay(max)
            .with_jitter()
            .without_max_times()
            .build();
        let counter = |outcome| {
            NotificationAttempted {
                destination: self.label(),
                outcome,
            }
            .emit(&self.metrics)
        };
        loop {
            if stop.is_cancelled() {
                return None;
            }
            self.limiter.until_ready().await;
            match attempt().await? {
                Attempt::Done(outcome) => {
                    counter(match outcome {
                        Outcome::Delivered => AttemptOutcome::Ok,
                        Outcome::Rejected(_) => AttemptOutcome::Rejected,
                    });
                    return Some(outcome);
                }
                Attempt::Retry(asked) => {
                    counter(AttemptOutcome::Retry);
                    let delay = delays.next().unwrap_or(max);
                    let wait = asked.map_or(delay, |a| a.min(max).max(delay));
                    if !sleep_unless_stopped(wait, stop).await {
                        return None;
                    }
                }
            }
        }
    }

    fn count(&self, r: &Routed, outcome: &Outcome) {
        let destination = self.label();
        match outcome {
            Outcome::Delivered => NotificationDelivered {
                destination,
                written: r.written,
            }
            .emit(&self.metrics),
            Outcome::Rejected(_) => NotificationDeadLettered { destination }.emit(&self.metrics),
        }
    }

    /// Count an alert this destination's filters did not take.
    pub fn skipped(&self) {
        NotificationSkipped {
            destination: self.label(),
        }
        .emit(&self.metrics);
    }
}

enum Attempt {
    Done(Outcome),
    /// Try again, after at least this long if the destination said so.
    Retry(Option<Duration>),
}

/// Answers that can change on their own: the destination is busy, down or slow.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || matches!(
            status,
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_EARLY | StatusCode::TOO_MANY_REQUESTS
        )
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs and ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Sleep `d`; false if `stop` was cancelled meanwhile (the sleep ends then).
async fn sleep_unless_stopped(d: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(d) => !stop.is_cancelled(),
    }
}

/// What one destination did with a replay's alerts.
#[derive(Debug, Clone, Default)]
pub struct Delivered {
    pub destination: String,
    pub delivered: usize,
    pub skipped: usize,
    /// Alert id and why, for each alert the destination refused.
    pub rejected: Vec<(String, String)>,
    /// Set when stopped before every alert had an outcome.
    pub interrupted: bool,
}

/// Deliver a finished replay's alerts to every configured destination (concurrently, each
/// in order). Used by `driftwatch replay --route`.
pub async fn deliver_all(
    config: &RouteConfig,
    alerts: &[Alert],
    roster: &Roster,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> Result<Vec<Delivered>, RouteError> {
    let written = Utc::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, d) in config.destination.iter().enumerate() {
        let dest = Destination::new(d, &config.links(), Arc::clone(&metrics))?;
        let mut routed = Vec::new();
        let mut skipped = 0;
        for a in alerts {
            let person = Person::of(roster.get(&a.employee_id));
            if dest.config.wants(a, person.group.as_deref()) {
                routed.push(Routed {
                    alert: a.clone(),
                    person,
                    action: Action::Trigger,
                    written: Some(written),
                });
            } else {
                dest.skipped();
                skipped += 1;
            }
        }
        let stop = stop.clone();
        tasks.spawn(async move {
            let outcomes = dest.deliver(&routed, &stop).await;
            let mut done = Delivered {
                destination: dest.name().to_owned(),
                skipped,
                interrupted: outcomes.is_none(),
                ..Delivered::default()
            };
            for (r, o) in routed.iter().zip(outcomes.unwrap_or_default()) {
                match o {
                    Outcome::Delivered => done.delivered += 1,
                    Outcome::Rejected(why) => done.rejected.push((r.alert.id.clone(), why)),
                }
            }
            (i, done)
        });
    }
    let mut results: Vec<(usize, Delivered)> = tasks.join_all().await;
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, d)| d).collect())
}
