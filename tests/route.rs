//! On-call routing against real receivers: a real Alertmanager (Debian package
//! `prometheus-alertmanager`) that shows driftwatch's alerts through its API and routes
//! them to a webhook receiver this test runs, and local HTTP servers standing in for
//! PagerDuty, Slack and a generic webhook that check every payload, fail the first
//! requests (500, 429 with Retry-After) and refuse for good (400).
//!
//! The alerts come from `driftwatch replay --route` over the example events. The streaming
//! route stage (offsets committed only after delivery, restart) is in `service_mock.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use driftwatch::alert::Alert;
use serde_json::Value;
use support::receiver::{Received, Receiver, Script, start_receiver};

mod support;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The example config with absolute paths and `extra` as its `[route]` section, in `dir`.
fn config_with(dir: &Path, extra: &str) -> PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(repo("driftwatch.example.toml"))
        .unwrap()
        .replace("= \"examples/", &format!("= \"{root}/examples/"))
        .replace("= \"geoip/", &format!("= \"{root}/geoip/"))
        // The example's own [route] table (links, no destinations) gives way to the test's.
        .replace("\n[route]\n", "\n")
        .lines()
        .filter(|l| !l.starts_with("runbook_url = ") && !l.starts_with("api_url = "))
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("driftwatch.toml");
    std::fs::write(&path, format!("{text}\n{extra}\n")).unwrap();
    path
}

/// `driftwatch replay --route`: exit status, the alerts it wrote, its stderr.
fn replay_route(config: &Path) -> (bool, Vec<Alert>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["replay", "--no-progress", "--route", "--config"])
        .arg(config)
        .arg(repo("examples/events"))
        .output()
        .unwrap();
    let alerts = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out.status.success(),
        alerts,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ids(alerts: &[Alert]) -> BTreeSet<String> {
    alerts.iter().map(|a| a.id.clone()).collect()
}

/// A real Alertmanager, killed when dropped.
struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_alertmanager(webhook: &str) -> Alertmanager {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertmanager.yml");
    // Grouped per employee as deploy/alertmanager/alertmanager.yml does; short waits so
    // the test sees the notification within seconds.
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname, employee_id]\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    \
             webhook_configs:\n      - url: {webhook}\n        send_resolved: true\n\
             inhibit_rules:\n  - source_matchers: [severity=\"critical\"]\n    \
             target_matchers: [severity=~\"low|medium|high\"]\n    equal: [alert_id]\n  \
             - source_matchers: [severity=\"high\"]\n    \
             target_matchers: [severity=~\"low|medium\"]\n    equal: [alert_id]\n  \
             - source_matchers: [severity=\"medium\"]\n    \
             target_matchers: [severity=\"low\"]\n    equal: [alert_id]\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("alertmanager.log")).unwrap();
    let child = Command::new("prometheus-alertmanager")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect(
            "prometheus-alertmanager (Debian package prometheus-alertmanager) must be installed",
        );
    let am = Alertmanager {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&format!("{}/-/ready", am.url)).is_none_or(|(s, _)| s != 200) {
        assert!(
            Instant::now() < deadline,
            "Alertmanager not ready within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    am
}

/// A GET with a plain HTTP/1.1 request (status, body).
fn get(url: &str) -> Option<(u16, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let r = reqwest::get(url).await.ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    })
}

#[test]
fn alertmanager_shows_and_routes_what_driftwatch_posts() {
    let hook = Receiver::default();
    let (hook_addr, _hook_runtime) = start_receiver(&hook);
    let am = start_alertmanager(&format!("http://{hook_addr}/alertmanager-webhook"));
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        &format!(
            "[route]\nrunbook_url = \"https://example.invalid/docs/runbook.md\"\n\
             api_url = \"https://driftwatch.example.invalid:9464/\"\n\
             [[route.destination]]\nname = \"alertmanager\"\nkind = \"alertmanager\"\n\
             url = \"{}\"\nmax_batch = 4\n",
            am.url
        ),
    );
    let (ok, alerts, stderr) = replay_route(&config);
    assert!(ok, "{stderr}");
    let want = ids(&alerts);
    assert!(
        want.len() >= 2 && alerts.len() > want.len(),
        "the examples raise and escalate alerts"
    );
    assert!(
        stderr.contains(&format!("route alertmanager: {} delivered", alerts.len())),
        "{stderr}"
    );

    // Alertmanager's own API lists each alert once, by id, with its labels.
    let (status, text) = get(&format!(
        "{}/api/v2/alerts?filter=source%3D%22driftwatch%22",
        am.url
    ))
    .unwrap();
    assert_eq!(status, 200, "{text}");
    let listed: Vec<Value> = serde_json::from_str(&text).unwrap();
    let listed_ids: BTreeSet<String> = listed
        .iter()
        .map(|a| a["labels"]["alert_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed_ids, want);
    // One Alertmanager alert per id and severity: a line that only adds a rule updates
    // it; an escalation to a higher severity is a new one that inhibits the older.
    let per_severity: BTreeSet<(String, String)> = alerts
        .iter()
        .map(|a| (a.id.clone(), a.severity.as_str().to_owned()))
        .collect();
    assert_eq!(listed.len(), per_severity.len(), "{text}");
    let roster = driftwatch::sources::roster_file::load(&repo("examples/roster.csv")).unwrap();
    let mut correlated = 0;
    for a in &listed {
        let labels = &a["labels"];
        let id = labels["alert_id"].as_str().unwrap();
        // The last line of this id at this severity is what Alertmanager holds.
        let alert = alerts
            .iter()
            .rev()
            .find(|x| x.id == id && labels["severity"] == x.severity.as_str())
            .unwrap();
        assert_eq!(labels["alertname"], "DriftwatchDetection");
        assert_eq!(
            labels["employee_id"].as_str(),
            Some(alert.employee_id.0.as_str())
        );
        assert_eq!(
            a["annotations"]["rules"].as_str(),
            Some(alert.rules.join(",").as_str())
        );
        assert_eq!(
            a["annotations"]["summary"].as_str(),
            Some(alert.summary.as_str())
        );
        // What an analyst acts on arrives as annotations: the runbook section of the
        // lead rule (its most severe finding's, not the first name) and its next step, the
        // alert in the API, both times, the roster's person and the sign-in's ids.
        let notes = &a["annotations"];
        let rule = alert.lead_rule().expect("a rule");
        assert_eq!(
            notes["runbook_url"],
            format!("https://example.invalid/docs/runbook.md#{rule}"),
            "{a}"
        );
        assert_eq!(
            notes["next_step"].as_str(),
            Some(driftwatch::route::page::next_step(rule))
        );
        assert_eq!(
            notes["alert_url"],
            format!("https://driftwatch.example.invalid:9464/api/v1/alerts/{id}")
        );
        let login_time = alert
            .time
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        assert_eq!(notes["login_time"].as_str(), Some(login_time.as_str()));
        // Replay records no detection time: the delivery time stands in, named so.
        assert!(notes.get("detected_at").is_none(), "{a}");
        let delivered = notes["delivered_at"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(delivered).is_ok(),
            "{a}"
        );
        let profile = roster.get(&alert.employee_id).unwrap();
        for (key, want) in [
            ("display_name", &profile.display_name),
            ("upn", &profile.upn),
            ("manager", &profile.manager),
            ("group", &profile.group),
        ] {
            assert_eq!(
                notes.get(key).and_then(Value::as_str),
                want.as_deref(),
                "{key}: {a}"
            );
        }
        assert!(
            profile.display_name.is_some(),
            "the example roster names them"
        );
        assert_eq!(
            labels.get("group").and_then(Value::as_str),
            profile.group.as_deref()
        );
        for personal in ["display_name", "upn", "manager"] {
            assert!(
                labels.get(personal).is_none(),
                "{personal} is never a label"
            );
        }
        let line_login = alert.evidence.iter().rev().find_map(|e| match e {
            driftwatch::alert::Evidence::Login {
                time,
                correlation_id,
                ..
            } if *time == alert.time => Some(correlation_id.clone()),
            _ => None,
        });
        if let Some(Some(correlation)) = line_login {
            correlated += 1;
            assert_eq!(notes["correlation_id"].as_str(), Some(correlation.as_str()));
        }
        // Firing until endsAt, a day after delivery; only the highest severity of an id is
        // active, the lower ones are inhibited by it.
        let top = alerts
            .iter()
            .filter(|x| x.id == id)
            .map(|x| x.severity)
            .max()
            .unwrap();
        let state = if alert.severity == top {
            "active"
        } else {
            "suppressed"
        };
        assert_eq!(a["status"]["state"], state, "{a}");
    }

    assert!(
        correlated > 0,
        "an Okta login's transaction id reaches Alertmanager"
    );

    // Alertmanager routes them to the receiver, grouped per employee.
    let deadline = Instant::now() + Duration::from_secs(30);
    let routed = loop {
        let got: BTreeSet<String> = hook
            .on("/alertmanager-webhook")
            .iter()
            .flat_map(|r| r.body["alerts"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["labels"]["alert_id"].as_str().map(str::to_owned))
            .collect();
        if got == want || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        routed, want,
        "every alert reaches the receiver through Alertmanager"
    );
    for r in hook.on("/alertmanager-webhook") {
        assert_eq!(r.body["status"], "firing");
        let group = r.body["groupLabels"].as_object().unwrap();
        assert!(group.contains_key("employee_id"), "{}", r.body);
        // And the receiver behind Alertmanager gets the annotations a page is made of.
        for a in r.body["alerts"].as_array().unwrap() {
            let id = a["labels"]["alert_id"].as_str().unwrap();
            assert_eq!(
                a["annotations"]["alert_url"],
                format!("https://driftwatch.example.invalid:9464/api/v1/alerts/{id}")
            );
            for key in [
                "next_step",
                "runbook_url",
                "login_time",
                "delivered_at",
                "display_name",
            ] {
                assert!(a["annotations"][key].is_string(), "{key}: {a}");
            }
        }
    }

    // Delivering again (a redelivery after a crash) changes nothing in Alertmanager.
    let (ok, _, stderr) = replay_route(&config);
    assert!(ok, "{stderr}");
    let (_, text) = get(&format!(
        "{}/api/v2/alerts?filter=source%3D%22driftwatch%22",
        am.url
    ))
    .unwrap();
    let again: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(
        again.len(),
        listed.len(),
        "the same ids are the same alerts"
    );
}

#[test]
fn pagerduty_slack_and_webhook_get_every_alert_through_failures() {
    let rx = Receiver::default();
    {
        let mut s = rx.scripts.lock().unwrap();
        s.insert(
            "/pagerduty".into(),
            Script {
                first: vec![500, 503, 429],
                always: None,
            },
        );
        s.insert(
            "/slack".into(),
            Script {
                first: vec![500, 502],
                always: None,
            },
        );
        s.insert(
            "/hook".into(),
            Script {
                first: vec![503],
                always: None,
            },
        );
        s.insert(
            "/refuses".into(),
            Script {
                first: vec![],
                always: Some(400),
            },
        );
    }
    let (addr, _runtime) = start_receiver(&rx);
    let base = format!("http://{addr}");
    let dir = tempfile::tempdir().unwrap();
    let fast = "initial_backoff_ms = 20\nmax_backoff_secs = 1";
    let config = config_with(
        dir.path(),
        &format!(
            "[route]\n\
             [[route.destination]]\nname = \"pagerduty\"\nkind = \"pagerduty\"\nurl = \"{base}/pagerduty\"\n\
             routing_key = \"${{DW_TEST_PD_KEY}}\"\n{fast}\n\
             [[route.destination]]\nname = \"slack\"\nkind = \"slack\"\nurl = \"{base}/slack\"\n\
             min_severity = \"critical\"\n{fast}\n\
             [[route.destination]]\nname = \"webhook\"\nkind = \"webhook\"\nurl = \"{base}/hook\"\n\
             headers = {{ Authorization = \"Bearer ${{DW_TEST_TOKEN}}\" }}\n\
             rate_per_second = 10\nburst = 1\n{fast}\n"
        ),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["replay", "--no-progress", "--route", "--config"])
        .arg(&config)
        .arg(repo("examples/events"))
        .env("DW_TEST_PD_KEY", "0123456789abcdef0123456789abcdef")
        .env("DW_TEST_TOKEN", "s3cret")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("s3cret") && !stderr.contains("0123456789abcdef0123456789abcdef"),
        "secrets never logged: {stderr}"
    );
    let alerts: Vec<Alert> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want = ids(&alerts);
    assert!(want.len() >= 2);

    // PagerDuty Events API v2: one trigger per alert line, dedup_key the alert id.
    let pd = rx.on("/pagerduty");
    let accepted: Vec<&Received> = pd.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        accepted.len(),
        alerts.len(),
        "every line once, after the failures"
    );
    assert_eq!(pd.len(), alerts.len() + 3, "500, 503 and 429 were retried");
    for (r, a) in accepted.iter().zip(&alerts) {
        let b = &r.body;
        assert_eq!(b["routing_key"], "0123456789abcdef0123456789abcdef");
        assert_eq!(b["event_action"], "trigger");
        assert_eq!(b["dedup_key"].as_str(), Some(a.id.as_str()), "in order");
        let summary = b["payload"]["summary"].as_str().unwrap();
        assert!(!summary.is_empty() && summary.len() <= 1024);
        assert!(
            ["critical", "error", "warning", "info"]
                .contains(&b["payload"]["severity"].as_str().unwrap())
        );
        assert_eq!(b["payload"]["source"], "driftwatch");
        assert_eq!(
            b["payload"]["custom_details"]["employee_id"].as_str(),
            Some(a.employee_id.0.as_str())
        );
    }
    // The 429 asked for a second: the next attempt waited for it.
    let after_429 = pd.windows(2).find(|w| w[0].status == 429).unwrap();
    assert!(after_429[1].at - after_429[0].at >= Duration::from_millis(950));

    // Slack: only critical alerts (the destination's filter).
    let high: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.severity >= driftwatch::alert::Severity::Critical)
        .collect();
    assert!(
        !high.is_empty() && high.len() < alerts.len(),
        "the filter must matter here"
    );
    let slack: Vec<Received> = rx
        .on("/slack")
        .into_iter()
        .filter(|r| r.status == 200)
        .collect();
    assert_eq!(slack.len(), high.len());
    for (r, a) in slack.iter().zip(&high) {
        assert!(
            r.body["text"]
                .as_str()
                .unwrap()
                .contains(a.employee_id.0.as_str())
        );
        assert!(
            r.body["attachments"][0]["text"]
                .as_str()
                .unwrap()
                .contains(&a.id)
        );
    }
    assert!(
        stderr.contains(&format!(
            "route slack: {} delivered, 0 refused, {} not for this destination",
            high.len(),
            alerts.len() - high.len()
        )),
        "{stderr}"
    );

    // The webhook: the alert itself, the id as Idempotency-Key, the configured header,
    // and no faster than 10 requests a second.
    let hook: Vec<Received> = rx
        .on("/hook")
        .into_iter()
        .filter(|r| r.status == 200)
        .collect();
    assert_eq!(hook.len(), alerts.len());
    for (r, a) in hook.iter().zip(&alerts) {
        assert_eq!(r.headers["idempotency-key"], a.id.as_str());
        assert_eq!(r.headers["authorization"], "Bearer s3cret");
        let back: Alert = serde_json::from_value(r.body["alert"].clone()).unwrap();
        assert_eq!(&back, a);
    }
    let all = rx.on("/hook");
    let span = all.last().unwrap().at - all.first().unwrap().at;
    let floor = Duration::from_millis(100 * (all.len() as u64 - 1)).mul_f64(0.9);
    assert!(
        span >= floor,
        "{} requests in {span:?}: the rate limit is 10/s",
        all.len()
    );
}

#[test]
fn a_destination_that_refuses_fails_the_replay_and_names_each_alert() {
    let rx = Receiver::default();
    rx.scripts.lock().unwrap().insert(
        "/refuses".into(),
        Script {
            first: vec![],
            always: Some(400),
        },
    );
    let (addr, _runtime) = start_receiver(&rx);
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        &format!(
            "[route]\n[[route.destination]]\nname = \"strict\"\nkind = \"webhook\"\nurl = \"http://{addr}/refuses\"\n"
        ),
    );
    let (ok, alerts, stderr) = replay_route(&config);
    assert!(!ok, "{stderr}");
    assert_eq!(
        rx.on("/refuses").len(),
        alerts.len(),
        "a 400 is not retried"
    );
    for a in &alerts {
        assert!(
            stderr.contains(&format!("strict refused {}: HTTP 400", a.id)),
            "{stderr}"
        );
    }
}
