//! The analyst API, `/api/v1` (OpenAPI document: `docs/openapi.yaml`).
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /api/v1/employees[?min_risk=high&sort=risk&limit=20]` | auditor, analyst, admin | every employee: claimed profile, baseline summary, inferred time zone, risk |
//! | `GET /api/v1/places[?min_risk=high&employee_id=E1]` | auditor, analyst, admin | claimed and observed places, one row each, for maps |
//! | `GET /api/v1/employees/{id}` | auditor, analyst, admin | one employee with their recent alert lines |
//! | `GET /api/v1/alerts[?status&severity&rule&employee_id&from&to&limit]` | auditor, analyst, admin | alerts, newest first |
//! | `GET /api/v1/alerts/{id}` | auditor, analyst, admin | one alert: latest line, every line, evidence, dispositions |
//! | `POST /api/v1/alerts/{id}/disposition` | analyst | record a verdict (and a suppression) |
//! | `GET /api/v1/clusters` | auditor, analyst, admin | shared-infrastructure clusters |
//! | `GET /api/v1/admin/tokens` | admin | the configured tokens: names and roles, never the digests |
//!
//! Least privilege: auditors read, analysts read and dispose, admins read and manage.
//! Tokens are bearer tokens; the configuration holds only their SHA-256 (`driftwatch api
//! token` makes one), compared in constant time. No token: 401; a token whose role may
//! not: 403. Bodies are limited to `[api] max_body_bytes`. Every call is handed to the
//! [`Audit`] sink (the audit log); access logs carry the method, the route, the status
//! and the token's name — an employee only as the id in the path.
//!
//! The API reads a [`view::View`] and hands dispositions to a [`Dispositions`] sink, so
//! the same router serves `driftwatch run` (view fed from Kafka, dispositions produced to
//! the dispositions topic, applied by the detect stage that owns the employee) and tests.

pub mod view;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::alert::Severity;
use crate::roster::{EmployeeId, Roster};
use crate::suppress::{DEFAULT_SUPPRESSION_DAYS, Disposition, Verdict};
use view::{AlertFilter, EmployeeOrder, View};

/// `[api]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Serve `/api/v1` beside `/metrics` on `[service] listen`. Off without tokens.
    pub enabled: bool,
    /// Largest request body accepted, bytes (a disposition is well under 1 KiB).
    pub max_body_bytes: usize,
    /// `[[api.token]]`.
    pub token: Vec<TokenConfig>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            enabled: false,
            max_body_bytes: 16 * 1024,
            token: Vec::new(),
        }
    }
}

/// One bearer token: who holds it, their role, and the SHA-256 of the token (hex).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    pub role: Role,
    pub sha256: String,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything, changes nothing.
    Auditor,
    /// Reads, and records dispositions.
    Analyst,
    /// Reads, and manages (tokens).
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Auditor, Role::Analyst, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Auditor => "auditor",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Dispose,
    Manage,
}

impl Permission {
    /// Whether a token of `role` may call an endpoint that needs this.
    pub fn granted_to(self, role: Role) -> bool {
        match self {
            Permission::Read => true,
            Permission::Dispose => role == Role::Analyst,
            Permission::Manage => role == Role::Admin,
        }
    }
}

/// Every operation of the API: the one table the router is built from, the permission
/// check reads, and the OpenAPI test compares with `docs/openapi.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ListEmployees,
    GetEmployee,
    ListPlaces,
    ListAlerts,
    GetAlert,
    Dispose,
    ListClusters,
    ListTokens,
    OpenApi,
}

/// The HTTP methods the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
}

impl HttpMethod {
    /// Upper case, as HTTP writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            HttpMethod::Get => MethodFilter::GET,
            HttpMethod::Post => MethodFilter::POST,
        }
    }
}

/// What the router serves for an [`Endpoint`] and who may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub method: HttpMethod,
    /// The path as axum and OpenAPI write it (`{id}` for a parameter).
    pub path: &'static str,
    /// Its `operationId` in the OpenAPI document.
    pub id: &'static str,
    pub permission: Permission,
}

impl Endpoint {
    pub const ALL: [Endpoint; 9] = [
        Endpoint::ListEmployees,
        Endpoint::GetEmployee,
        Endpoint::ListPlaces,
        Endpoint::ListAlerts,
        Endpoint::GetAlert,
        Endpoint::Dispose,
        Endpoint::ListClusters,
        Endpoint::ListTokens,
        Endpoint::OpenApi,
    ];

    pub fn operation(self) -> Operation {
        let (method, path, id, permission) = match self {
            Endpoint::ListEmployees => (
                HttpMethod::Get,
                "/api/v1/employees",
                "listEmployees",
                Permission::Read,
            ),
            Endpoint::GetEmployee => (
                HttpMethod::Get,
                "/api/v1/employees/{id}",
                "getEmployee",
                Permission::Read,
            ),
            Endpoint::ListPlaces => (
                HttpMethod::Get,
                "/api/v1/places",
                "listPlaces",
                Permission::Read,
            ),
            Endpoint::ListAlerts => (
                HttpMethod::Get,
                "/api/v1/alerts",
                "listAlerts",
                Permission::Read,
            ),
            Endpoint::GetAlert => (
                HttpMethod::Get,
                "/api/v1/alerts/{id}",
                "getAlert",
                Permission::Read,
            ),
            Endpoint::Dispose => (
                HttpMethod::Post,
                "/api/v1/alerts/{id}/disposition",
                "disposeAlert",
                Permission::Dispose,
            ),
            Endpoint::ListClusters => (
                HttpMethod::Get,
                "/api/v1/clusters",
                "listClusters",
                Permission::Read,
            ),
            Endpoint::ListTokens => (
                HttpMethod::Get,
                "/api/v1/admin/tokens",
                "listTokens",
                Permission::Manage,
            ),
            Endpoint::OpenApi => (
                HttpMethod::Get,
                "/api/v1/openapi.yaml",
                "getOpenApi",
                Permission::Read,
            ),
        };
        Operation {
            method,
            path,
            id,
            permission,
        }
    }

    /// The endpoint a request went to, by its matched route and method.
    fn of(method: &axum::http::Method, route: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| {
            let op = e.operation();
            op.path == route && op.method.as_str() == method.as_str()
        })
    }

    /// Its handler, on its method.
    fn handler(self) -> MethodRouter<Api> {
        let filter = self.operation().method.filter();
        match self {
            Endpoint::ListEmployees => on(filter, employees),
            Endpoint::GetEmployee => on(filter, employee),
            Endpoint::ListPlaces => on(filter, places),
            Endpoint::ListAlerts => on(filter, alerts),
            Endpoint::GetAlert => on(filter, alert),
            Endpoint::Dispose => on(filter, dispose),
            Endpoint::ListClusters => on(filter, clusters),
            Endpoint::ListTokens => on(filter, tokens),
            Endpoint::OpenApi => on(filter, openapi),
        }
    }
}

impl ApiConfig {
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.enabled && self.token.is_empty() {
            errors.push("api: enabled without any [[api.token]]".to_owned());
        }
        if self.max_body_bytes == 0 {
            errors.push("api.max_body_bytes: must be at least 1".to_owned());
        }
        let mut names = std::collections::HashSet::new();
        for (i, t) in self.token.iter().enumerate() {
            if t.name.trim().is_empty() || !names.insert(t.name.as_str()) {
                errors.push(format!(
                    "api.token (entry {}).name: empty or used twice",
                    i + 1
                ));
            }
            if decode_hex(&t.sha256).is_none_or(|d| d.len() != 32) {
                errors.push(format!(
                    "api.token (entry {}).sha256: must be 64 hex digits (`driftwatch api token` prints one)",
                    i + 1
                ));
            }
        }
        errors
    }
}

/// A new random token (32 bytes, URL-safe base64 without padding, prefixed `dwt_`) and
/// its SHA-256 for the configuration.
pub fn new_token() -> Result<(String, String), getrandom::Error> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let token = format!(
        "dwt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let digest = hex(&Sha256::digest(token.as_bytes()));
    Ok((token, digest))
}

/// One API call, for the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    pub time: DateTime<Utc>,
    /// The token's name, or `anonymous` when none matched.
    pub actor: String,
    pub role: Option<Role>,
    pub method: String,
    /// The route (`/api/v1/employees/{id}`), and the path as called.
    pub route: String,
    pub path: String,
    pub status: u16,
    /// Unauthenticated calls refused since the last one recorded and not recorded one by
    /// one (more than [`REFUSED_RECORDED_PER_MINUTE`] in a minute).
    pub unrecorded_before: u64,
}

/// Refused (401) calls written to the audit log one by one per minute; beyond, they are
/// counted, and the next one written says how many were not: a flood of unauthenticated
/// requests cannot grow the log without bound, and is still on record.
pub const REFUSED_RECORDED_PER_MINUTE: u32 = 20;

/// The current minute of refused calls.
#[derive(Debug, Default)]
struct Refused {
    since: Option<std::time::Instant>,
    recorded: u32,
    unrecorded: u64,
}

impl Refused {
    /// Whether to record one more refused call, and how many were not recorded before it.
    fn admit(&mut self) -> Option<u64> {
        let now = std::time::Instant::now();
        if self
            .since
            .is_none_or(|t| now.duration_since(t) >= std::time::Duration::from_secs(60))
        {
            self.since = Some(now);
            self.recorded = 0;
        }
        if self.recorded >= REFUSED_RECORDED_PER_MINUTE {
            self.unrecorded += 1;
            return None;
        }
        self.recorded += 1;
        Some(std::mem::take(&mut self.unrecorded))
    }
}

/// Where every API call and every disposition is recorded (the audit log).
pub trait Audit: Send + Sync {
    fn call(&self, call: &Call);
    fn disposition(&self, actor: &str, d: &Disposition);
}

/// Where dispositions go to be applied by the owner of the employee.
pub trait Dispositions: Send + Sync {
    /// Hand over; `Err` with a reason when it could not be (the caller answers 503).
    fn submit(&self, d: &Disposition) -> Result<(), String>;
}

/// What the handlers share.
#[derive(Clone)]
pub struct Api {
    pub tokens: Arc<Vec<(TokenConfig, [u8; 32])>>,
    pub view: Arc<View>,
    pub roster: Arc<dyn Fn() -> Arc<Roster> + Send + Sync>,
    pub dispositions: Arc<dyn Dispositions>,
    pub audit: Arc<dyn Audit>,
    refused: Arc<std::sync::Mutex<Refused>>,
}

/// The caller a request's token identified.
#[derive(Debug, Clone)]
struct Caller {
    name: String,
    role: Role,
}

impl Api {
    pub fn new(
        config: &ApiConfig,
        view: Arc<View>,
        roster: Arc<dyn Fn() -> Arc<Roster> + Send + Sync>,
        dispositions: Arc<dyn Dispositions>,
        audit: Arc<dyn Audit>,
    ) -> Api {
        let tokens = config
            .token
            .iter()
            .filter_map(|t| {
                let d: [u8; 32] = decode_hex(&t.sha256)?.try_into().ok()?;
                Some((t.clone(), d))
            })
            .collect();
        Api {
            tokens: Arc::new(tokens),
            view,
            roster,
            dispositions,
            audit,
            refused: Arc::default(),
        }
    }

    /// The token's holder. Every configured digest is compared, in constant time, so the
    /// time taken says nothing about which (or whether one) matched.
    fn caller(&self, headers: &HeaderMap) -> Option<Caller> {
        // The scheme name is case-insensitive (RFC 9110 §11.1).
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = token.trim();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (t, d) in self.tokens.iter() {
            if bool::from(d.ct_eq(&digest)) {
                found = Some(Caller {
                    name: t.name.clone(),
                    role: t.role,
                });
            }
        }
        found
    }

    /// The `/api/v1` routes ([`Endpoint::ALL`]), with authentication and each endpoint's
    /// permission, the body limit and the audit layer.
    pub fn router(self, max_body_bytes: usize) -> Router {
        let mut router = Router::new();
        for endpoint in Endpoint::ALL {
            router = router.route(endpoint.operation().path, endpoint.handler());
        }
        router
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(self.clone(), authenticate))
            .layer(DefaultBodyLimit::max(max_body_bytes))
            .with_state(self)
    }
}

/// 401 without a valid token; otherwise the caller goes into the request. Every call is
/// access-logged and audited; refused ones up to [`REFUSED_RECORDED_PER_MINUTE`] a minute,
/// the rest counted into the next one recorded.
async fn authenticate(State(api): State<Api>, mut request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let caller = api.caller(request.headers());
    let response = match &caller {
        None => error(
            StatusCode::UNAUTHORIZED,
            "a bearer token is required (Authorization: Bearer <token>)",
        ),
        Some(c) => {
            // What the endpoint needs ([`Endpoint::operation`]); an unknown path or a
            // method the path does not serve needs only a token.
            let needs = Endpoint::of(request.method(), &route)
                .map_or(Permission::Read, |e| e.operation().permission);
            if needs.granted_to(c.role) {
                request.extensions_mut().insert(c.clone());
                as_json_error(next.run(request).await).await
            } else {
                error(
                    StatusCode::FORBIDDEN,
                    &format!("the {} role may not do this", c.role.as_str()),
                )
            }
        }
    };
    let status = response.status().as_u16();
    let actor = caller.as_ref().map_or("anonymous", |c| c.name.as_str());
    tracing::info!(
        target: "driftwatch::api::access",
        method = %method,
        route = %route,
        status,
        actor,
        "api call"
    );
    let unrecorded_before = if caller.is_none() {
        let admitted = api
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admit();
        match admitted {
            Some(n) => n,
            None => return response,
        }
    } else {
        0
    };
    api.audit.call(&Call {
        time: Utc::now(),
        actor: actor.to_owned(),
        role: caller.as_ref().map(|c| c.role),
        method,
        route,
        path,
        status,
        unrecorded_before,
    });
    response
}

/// The framework's own refusals (413 from the body limit, 400 for a path that is not
/// UTF-8, 405 for a method a route does not serve) as the API's `{"error": ...}` body,
/// headers such as `Allow` kept, so every error a client sees has one shape.
async fn as_json_error(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let mut json = error(status, &message);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}

/// A query string that read, or the 400 that says it did not.
// The error is the response itself, built once and returned as is; boxing it would only
// move the allocation.
#[allow(clippy::result_large_err)]
fn query_of<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, Response> {
    query.map(|Query(q)| q).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "unknown or malformed query parameter",
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmployeeQuery {
    /// Only employees at this risk level or above.
    min_risk: Option<Severity>,
    /// `id` (default) or `risk` (highest score first).
    #[serde(default)]
    sort: EmployeeOrder,
    /// At most this many, after sorting.
    limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceQuery {
    /// Only employees at this risk level or above.
    min_risk: Option<Severity>,
    /// Only this employee.
    employee_id: Option<String>,
}

async fn employees(
    State(api): State<Api>,
    query: Result<Query<EmployeeQuery>, QueryRejection>,
) -> Response {
    let q = match query_of(query) {
        Ok(q) => q,
        Err(r) => return r,
    };
    json(
        StatusCode::OK,
        &serde_json::json!({
            "employees": api.view.employees(&(api.roster)(), q.min_risk, q.sort, q.limit)
        }),
    )
}

async fn places(
    State(api): State<Api>,
    query: Result<Query<PlaceQuery>, QueryRejection>,
) -> Response {
    let q = match query_of(query) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let employee = q.employee_id.map(|id| EmployeeId(id.into()));
    json(
        StatusCode::OK,
        &serde_json::json!({
            "places": api.view.places(&(api.roster)(), q.min_risk, employee.as_ref())
        }),
    )
}

async fn employee(State(api): State<Api>, Path(id): Path<String>) -> Response {
    match api.view.employee(&(api.roster)(), &EmployeeId(id.into())) {
        Some(e) => json(StatusCode::OK, &e),
        None => error(StatusCode::NOT_FOUND, "no such employee"),
    }
}

async fn alerts(
    State(api): State<Api>,
    query: Result<Query<AlertFilter>, QueryRejection>,
) -> Response {
    let f = match query_of(query) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if f.status
        .as_deref()
        .is_some_and(|s| !["open", "escalated", "disposed"].contains(&s))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "status: open, escalated or disposed",
        );
    }
    let list: Vec<serde_json::Value> = api
        .view
        .alerts(&f)
        .iter()
        .map(|e| {
            serde_json::json!({
                "alert": e.alert,
                "status": e.status(),
                "lines": e.history.len(),
                "dispositions": e.dispositions,
            })
        })
        .collect();
    json(StatusCode::OK, &serde_json::json!({ "alerts": list }))
}

async fn alert(State(api): State<Api>, Path(id): Path<String>) -> Response {
    match api.view.alert(&id) {
        Some(e) => json(
            StatusCode::OK,
            &serde_json::json!({
                "alert": e.alert,
                "status": e.status(),
                "history": e.history,
                "dispositions": e.dispositions,
            }),
        ),
        None => error(StatusCode::NOT_FOUND, "no such alert"),
    }
}

/// The body of `POST /api/v1/alerts/{id}/disposition`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DispositionBody {
    verdict: Verdict,
    #[serde(default)]
    note: String,
    /// Silence the alert's rules for this many days of event time from the alert's
    /// login (benign and false-positive verdicts; default 30, at most 365, 0 for none).
    #[serde(default)]
    suppress_days: Option<u32>,
    /// Only these rules (default: every rule of the alert).
    #[serde(default)]
    rules: Vec<String>,
}

/// Longest note kept.
const NOTE_MAX: usize = 4000;

async fn dispose(
    State(api): State<Api>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The media type without its parameters, case-insensitively (RFC 9110 §8.3.1).
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send application/json");
    }
    let b: DispositionBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("body: {e}")),
    };
    if b.note.chars().count() > NOTE_MAX {
        return error(StatusCode::BAD_REQUEST, "note: at most 4000 characters");
    }
    let days = b.suppress_days.unwrap_or(DEFAULT_SUPPRESSION_DAYS as u32);
    if days > 365 {
        return error(StatusCode::BAD_REQUEST, "suppress_days: at most 365");
    }
    if let Some(r) = b
        .rules
        .iter()
        .find(|r| !crate::detect::NAMES.contains(&r.as_str()))
    {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("rules: {r:?} is not a rule"),
        );
    }
    let Some(entry) = api.view.alert(&id) else {
        return error(StatusCode::NOT_FOUND, "no such alert");
    };
    // Suppression runs in event time, like detection: from the alert's login, so a replay
    // of older logs is judged the same way as live ones.
    let from = entry.history.first().map_or(entry.alert.time, |a| a.time);
    let until = if b.verdict == Verdict::TruePositive || days == 0 {
        Some(from)
    } else {
        Some(from + Duration::days(i64::from(days)))
    };
    let note = if b.note.is_empty() {
        format!("by {}", caller.name)
    } else {
        format!("{} (by {})", b.note, caller.name)
    };
    // Named rules, never "whatever is open when it arrives": the owner may apply it
    // before or after the alert's later lines.
    let rules = if b.rules.is_empty() {
        entry.alert.rules.clone()
    } else {
        b.rules
    };
    let d = Disposition {
        employee_id: entry.alert.employee_id.clone(),
        alert_id: Some(id),
        verdict: b.verdict,
        rules,
        time: from,
        until,
        note,
    };
    if let Err(why) = api.dispositions.submit(&d) {
        tracing::error!(error = %why, "disposition not recorded");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the disposition could not be recorded; try again",
        );
    }
    api.audit.disposition(&caller.name, &d);
    json(
        StatusCode::ACCEPTED,
        &serde_json::json!({ "disposition": d }),
    )
}

async fn clusters(State(api): State<Api>) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({ "clusters": api.view.clusters() }),
    )
}

async fn tokens(State(api): State<Api>) -> Response {
    let list: Vec<serde_json::Value> = api
        .tokens
        .iter()
        .map(|(t, _)| serde_json::json!({ "name": t.name, "role": t.role }))
        .collect();
    json(StatusCode::OK, &serde_json::json!({ "tokens": list }))
}

/// `docs/openapi.yaml`, the description of this API, as built into the binary: what a
/// client generator or an API explorer reads, always the one of the running version.
pub const OPENAPI_YAML: &str = include_str!("../../docs/openapi.yaml");

async fn openapi() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/yaml")],
        OPENAPI_YAML,
    )
        .into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

fn json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("encoding: {e}")),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": message }).to_string(),
    )
        .into_response()
}

use crate::hex::hex;

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17, item 3: a flood of unauthenticated calls is recorded up to the limit a
    /// minute, the rest counted into the next call recorded.
    #[test]
    fn refused_calls_are_recorded_up_to_a_limit_then_counted() {
        let mut r = Refused::default();
        for _ in 0..REFUSED_RECORDED_PER_MINUTE {
            assert_eq!(r.admit(), Some(0));
        }
        for _ in 0..500 {
            assert_eq!(r.admit(), None);
        }
        r.since = r.since.map(|t| t - std::time::Duration::from_secs(61));
        assert_eq!(
            r.admit(),
            Some(500),
            "the next minute's first says how many"
        );
        assert_eq!(r.admit(), Some(0));
    }
}
