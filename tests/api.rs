//! The analyst API over HTTP, in process: the view holds what a replay of the example
//! events learned and raised; every endpoint is called with the right role, a wrong role
//! and no token; bad and oversized bodies get 4xx; every call is audited; and a
//! disposition recorded through the API silences the alert when the events are replayed
//! with it (`driftwatch replay --dispositions`). The streaming path (dispositions topic,
//! detect applying them) is in `service_mock.rs`.

use std::sync::{Arc, Mutex};

use driftwatch::alert::Alert;
use driftwatch::api::{Api, Audit, Call, Dispositions, Role};
use driftwatch::suppress::{Disposition, Verdict};
use reqwest::StatusCode;
use serde_json::{Value, json};

mod support;

#[derive(Default)]
struct Recorded {
    calls: Mutex<Vec<Call>>,
    dispositions: Mutex<Vec<(String, Disposition)>>,
    submitted: Mutex<Vec<Disposition>>,
}

struct AuditSink(Arc<Recorded>);
impl Audit for AuditSink {
    fn call(&self, call: &Call) {
        self.0.calls.lock().unwrap().push(call.clone());
    }
    fn disposition(&self, actor: &str, d: &Disposition) {
        self.0
            .dispositions
            .lock()
            .unwrap()
            .push((actor.to_owned(), d.clone()));
    }
}

struct Sink(Arc<Recorded>);
impl Dispositions for Sink {
    fn submit(&self, d: &Disposition) -> Result<(), String> {
        self.0.submitted.lock().unwrap().push(d.clone());
        Ok(())
    }
}

struct Server {
    base: String,
    tokens: std::collections::HashMap<Role, String>,
    recorded: Arc<Recorded>,
    alerts: Vec<Alert>,
    _runtime: tokio::runtime::Runtime,
}

fn start(max_body_bytes: usize) -> Server {
    let (config, roster, engine, alerts) = support::examples::replay_examples();
    let view = support::examples::view_of(&config, &engine, &alerts);
    let (api_config, tokens) = support::examples::api_with_a_token_per_role(max_body_bytes);
    let tokens: std::collections::HashMap<Role, String> = tokens.into_iter().collect();
    let recorded = Arc::new(Recorded::default());
    let r = Arc::clone(&roster);
    let api = Api::new(
        &api_config,
        view,
        Arc::new(move || Arc::clone(&r)),
        Arc::new(Sink(Arc::clone(&recorded))),
        Arc::new(AuditSink(Arc::clone(&recorded))),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = api.router(max_body_bytes);
    runtime.spawn(async move { axum::serve(listener, app).await });
    Server {
        base,
        tokens,
        recorded,
        alerts,
        _runtime: runtime,
    }
}

impl Server {
    fn call(
        &self,
        method: &str,
        path: &str,
        role: Option<Role>,
        body: Body,
    ) -> (StatusCode, Value) {
        // reqwest's async client on a small runtime of the call's own.
        let client = reqwest::Client::new();
        let url = format!("{}{path}", self.base);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut rq = match method {
                "GET" => client.get(&url),
                _ => client.post(&url),
            };
            if let Some(r) = role {
                rq = rq.bearer_auth(&self.tokens[&r]);
            }
            if let Some((content_type, bytes)) = body {
                rq = rq.header("Content-Type", content_type).body(bytes);
            }
            let response = rq.send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        })
    }
}

/// A request body and its content type.
type Body = Option<(&'static str, Vec<u8>)>;

fn json_body(v: &Value) -> Body {
    Some(("application/json", serde_json::to_vec(v).unwrap()))
}

#[test]
fn every_endpoint_with_the_right_role_a_wrong_role_and_no_token() {
    let s = start(16 * 1024);
    let alert_id = s.alerts[0].id.clone();
    let employee = s.alerts[0].employee_id.0.clone();
    let reads = [
        "/api/v1/employees".to_owned(),
        "/api/v1/employees?min_risk=medium".to_owned(),
        "/api/v1/employees?sort=risk&limit=5".to_owned(),
        "/api/v1/places?min_risk=low".to_owned(),
        format!("/api/v1/employees/{employee}"),
        "/api/v1/alerts".to_owned(),
        "/api/v1/alerts?severity=critical&rule=anonymizer".to_owned(),
        format!("/api/v1/alerts/{alert_id}"),
        "/api/v1/clusters".to_owned(),
    ];
    for path in &reads {
        for role in [Role::Auditor, Role::Analyst, Role::Admin] {
            let (status, body) = s.call("GET", path, Some(role), None);
            assert_eq!(status, StatusCode::OK, "{path} as {role:?}: {body}");
        }
        let (status, body) = s.call("GET", path, None, None);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert!(body["error"].is_string());
    }
    // A token nobody issued is no token.
    let (status, _) = {
        let mut fake = s.tokens.clone();
        fake.insert(Role::Admin, "dwt_not-a-real-token".into());
        let s2 = Server {
            base: s.base.clone(),
            tokens: fake,
            recorded: Arc::clone(&s.recorded),
            alerts: Vec::new(),
            _runtime: tokio::runtime::Runtime::new().unwrap(),
        };
        s2.call("GET", "/api/v1/alerts", Some(Role::Admin), None)
    };
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Dispose: analysts only.
    let path = format!("/api/v1/alerts/{alert_id}/disposition");
    let body = json!({"verdict": "benign", "note": "approved travel to Tokyo"});
    for role in [Role::Auditor, Role::Admin] {
        let (status, _) = s.call("POST", &path, Some(role), json_body(&body));
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}");
    }
    let (status, _) = s.call("POST", &path, None, json_body(&body));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        s.recorded.submitted.lock().unwrap().is_empty(),
        "nothing submitted yet"
    );
    let (status, reply) = s.call("POST", &path, Some(Role::Analyst), json_body(&body));
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    let submitted = s.recorded.submitted.lock().unwrap().clone();
    assert_eq!(submitted.len(), 1);
    let d = &submitted[0];
    assert_eq!(d.alert_id.as_deref(), Some(alert_id.as_str()));
    assert_eq!(d.verdict, Verdict::Benign);
    assert!(!d.rules.is_empty(), "the alert's rules, named");
    assert!(d.note.contains("analyst-1"), "{}", d.note);
    assert_eq!(s.recorded.dispositions.lock().unwrap()[0].0, "analyst-1");

    // Manage: admins only.
    let (status, reply) = s.call("GET", "/api/v1/admin/tokens", Some(Role::Admin), None);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["tokens"].as_array().unwrap().len(), 3);
    assert!(!reply.to_string().contains("sha256"), "never the digests");
    for role in [Role::Auditor, Role::Analyst] {
        let (status, _) = s.call("GET", "/api/v1/admin/tokens", Some(role), None);
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = s.call("GET", "/api/v1/admin/tokens", None, None);
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Every call was audited, with who and how it ended; none anonymous ones unnamed.
    let calls = s.recorded.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), reads.len() * 4 + 1 + 2 + 1 + 1 + 1 + 2 + 1);
    assert!(
        calls
            .iter()
            .any(|c| c.actor == "anonymous" && c.status == 401)
    );
    assert!(
        calls
            .iter()
            .any(|c| c.route == "/api/v1/alerts/{id}/disposition" && c.status == 202)
    );
}

#[test]
fn what_the_view_answers() {
    let s = start(16 * 1024);
    let (_, list) = s.call("GET", "/api/v1/employees", Some(Role::Auditor), None);
    let employees = list["employees"].as_array().unwrap();
    assert_eq!(employees.len(), 10, "the example roster");
    let (_, e) = s.call("GET", "/api/v1/employees/E1005", Some(Role::Auditor), None);
    assert_eq!(e["claimed"]["timezone"], "America/Chicago");
    assert!(e["baseline"]["interactive_logins"].as_u64().unwrap() > 0);
    // E1005 works the hours of UTC+9, Korean office hours (the example's planted case).
    assert_eq!(e["inferred_timezone"]["inferred_offset_hours"], 9.0, "{e}");
    assert!(!e["recent_findings"].as_array().unwrap().is_empty());
    let (status, _) = s.call("GET", "/api/v1/employees/E9999", Some(Role::Auditor), None);
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, high) = s.call(
        "GET",
        "/api/v1/employees?min_risk=high",
        Some(Role::Auditor),
        None,
    );
    let ids: Vec<&str> = high["employees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["employee_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"E1002"), "{ids:?}");
    assert!(ids.len() < 10);

    let (_, alerts) = s.call("GET", "/api/v1/alerts", Some(Role::Auditor), None);
    let alerts = alerts["alerts"].as_array().unwrap();
    let ids: std::collections::BTreeSet<&str> = s.alerts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(alerts.len(), ids.len(), "one entry per alert id");
    let (_, one) = s.call(
        "GET",
        &format!("/api/v1/alerts/{}", s.alerts[0].id),
        Some(Role::Auditor),
        None,
    );
    let lines = s.alerts.iter().filter(|a| a.id == s.alerts[0].id).count();
    assert_eq!(one["history"].as_array().unwrap().len(), lines);
    assert!(!one["alert"]["evidence"].as_array().unwrap().is_empty());
    let (_, critical) = s.call(
        "GET",
        "/api/v1/alerts?severity=critical",
        Some(Role::Auditor),
        None,
    );
    assert!(
        critical["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["alert"]["severity"] == "critical")
    );
    let (_, none) = s.call(
        "GET",
        "/api/v1/alerts?from=2030-01-01T00:00:00Z",
        Some(Role::Auditor),
        None,
    );
    assert!(none["alerts"].as_array().unwrap().is_empty());
}

#[test]
fn malformed_and_oversized_requests_get_4xx() {
    let s = start(1024);
    let path = format!("/api/v1/alerts/{}/disposition", s.alerts[0].id);
    let cases: Vec<(Body, StatusCode)> = vec![
        (
            Some(("application/json", b"{not json".to_vec())),
            StatusCode::BAD_REQUEST,
        ),
        (
            json_body(&json!({"verdict": "maybe"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            json_body(&json!({"verdict": "benign", "extra": 1})),
            StatusCode::BAD_REQUEST,
        ),
        (
            json_body(&json!({"verdict": "benign", "suppress_days": 9999})),
            StatusCode::BAD_REQUEST,
        ),
        (
            json_body(&json!({"verdict": "benign", "rules": ["nope"]})),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(("application/json", vec![0xff, 0xfe, 0x00])),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(("text/plain", b"benign".to_vec())),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            json_body(&json!({"verdict": "benign", "note": "x".repeat(5000)})),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (body, want) in cases {
        let (status, reply) = s.call("POST", &path, Some(Role::Analyst), body);
        assert_eq!(status, want, "{reply}");
        assert!(reply["error"].is_string(), "every refusal is JSON: {reply}");
    }
    let (status, _) = s.call(
        "POST",
        "/api/v1/alerts/dw-000000000000000000000000/disposition",
        Some(Role::Analyst),
        json_body(&json!({"verdict": "benign"})),
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    for q in [
        "/api/v1/alerts?severity=huge",
        "/api/v1/alerts?limit=-1",
        "/api/v1/alerts?bogus=1",
        "/api/v1/alerts?status=closed",
    ] {
        let (status, _) = s.call("GET", q, Some(Role::Auditor), None);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
    }
    let (status, _) = s.call("GET", "/api/v1/nothing", Some(Role::Auditor), None);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(s.recorded.submitted.lock().unwrap().is_empty());
    // The server is still up.
    let (status, _) = s.call("GET", "/api/v1/alerts", Some(Role::Auditor), None);
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn a_disposition_through_the_api_silences_the_repeat_alert() {
    let s = start(16 * 1024);
    // E1002's alert opens at high (a hosting exit in Shenyang) and escalates to critical.
    let id = s
        .alerts
        .iter()
        .find(|a| a.employee_id.0 == "E1002")
        .unwrap()
        .id
        .clone();
    assert!(s.alerts.iter().filter(|a| a.id == id).count() >= 2);
    let (status, _) = s.call(
        "POST",
        &format!("/api/v1/alerts/{id}/disposition"),
        Some(Role::Analyst),
        json_body(&json!({"verdict": "benign", "note": "contractor VPN approved by HR"})),
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    let d = s.recorded.submitted.lock().unwrap()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dispositions.jsonl");
    std::fs::write(&file, format!("{}\n", serde_json::to_string(&d).unwrap())).unwrap();
    let again = support::examples::replay_cli(&["--dispositions".as_ref(), file.as_os_str()]);
    assert!(
        again.iter().all(|a| a.employee_id.0 != "E1002"),
        "silenced: {again:?}"
    );
    let others = |v: &[Alert]| v.iter().filter(|a| a.employee_id.0 != "E1002").count();
    assert_eq!(others(&again), others(&s.alerts), "nobody else is touched");
}

/// Issue 19 (Grafana): the "who is risky now" list (`sort=risk`, `limit`), the claimed
/// point in the profile, and the places for the map, against what the replay raised.
#[test]
fn risky_now_and_the_places_for_the_map() {
    let s = start(16 * 1024);
    let get = |path: &str| {
        let (status, body) = s.call("GET", path, Some(Role::Auditor), None);
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    };
    let all = get("/api/v1/employees");
    let all = all["employees"].as_array().unwrap();
    let ids: Vec<&str> = all
        .iter()
        .map(|e| e["employee_id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "by id unless asked otherwise");
    let score = |e: &Value| e["risk"]["score"].as_f64().unwrap_or(-1.0);
    let top = all.iter().map(score).fold(f64::MIN, f64::max);
    assert!(top > 0.0, "the example raises alerts");

    let risky = get("/api/v1/employees?sort=risk&limit=3");
    let risky = risky["employees"].as_array().unwrap();
    assert_eq!(risky.len(), 3);
    assert_eq!(score(&risky[0]), top, "{risky:?}");
    assert!(
        risky.windows(2).all(|w| score(&w[0]) >= score(&w[1])),
        "highest first"
    );
    let at_risk = get("/api/v1/employees?sort=risk&min_risk=low");
    assert!(
        at_risk["employees"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["risk"]["level"].is_string())
    );
    assert!(
        get("/api/v1/employees?limit=0")["employees"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The roster's claimed point, as given in examples/roster.csv.
    let e = get("/api/v1/employees/E1009");
    assert_eq!(e["claimed"]["lat"], 35.6762, "{e}");
    assert_eq!(e["claimed"]["lon"], 139.6503, "{e}");

    // Places: each employee's claimed point, then the points their alerts showed.
    let places = get("/api/v1/places");
    let places = places["places"].as_array().unwrap();
    let claimed: Vec<&Value> = places.iter().filter(|p| p["kind"] == "claimed").collect();
    assert_eq!(
        claimed.len(),
        10,
        "every example employee has a claimed point"
    );
    let observed: Vec<&Value> = places.iter().filter(|p| p["kind"] == "observed").collect();
    assert!(!observed.is_empty(), "the alerts' location evidence");
    for p in &observed {
        let id = p["alert_id"].as_str().unwrap();
        let lines: Vec<&Alert> = s.alerts.iter().filter(|a| a.id == id).collect();
        assert!(!lines.is_empty(), "{p}");
        assert_eq!(lines[0].employee_id.0.as_ref(), p["employee_id"], "{p}");
        let shown = lines.iter().flat_map(|a| &a.evidence).any(|ev| {
            matches!(ev, driftwatch::alert::Evidence::Location { lat: Some(lat), lon: Some(lon), .. }
                if p["lat"] == *lat && p["lon"] == *lon)
        });
        assert!(
            shown,
            "an observed place is a location of the alert's lines: {p}"
        );
    }
    let one = get("/api/v1/places?employee_id=E1002");
    let one = one["places"].as_array().unwrap();
    assert!(one.iter().all(|p| p["employee_id"] == "E1002"), "{one:?}");
    assert_eq!(one[0]["kind"], "claimed");
    assert_eq!(one[0]["city"], "New York");
    assert!(one.iter().any(|p| p["kind"] == "observed"), "{one:?}");
    let high: std::collections::BTreeSet<String> =
        get("/api/v1/employees?min_risk=high")["employees"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["employee_id"].as_str().unwrap().to_owned())
            .collect();
    let high_places: std::collections::BTreeSet<String> =
        get("/api/v1/places?min_risk=high")["places"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["employee_id"].as_str().unwrap().to_owned())
            .collect();
    assert!(!high.is_empty());
    assert_eq!(high_places, high);
    for q in [
        "/api/v1/places?min_risk=huge",
        "/api/v1/employees?sort=name",
    ] {
        let (status, _) = s.call("GET", q, Some(Role::Auditor), None);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
    }
}
