//! `driftwatch demo`, short: a small company over two weeks in a few seconds. The planted
//! cases are reported caught, the on-call file, the audit log and the compliance report
//! are written, and with `--keep-running` the metrics and the analyst API answer until
//! SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut rq = reqwest::Client::new().get(url);
        if let Some(t) = token {
            rq = rq.bearer_auth(t);
        }
        let r = rq.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

#[test]
fn a_short_demo_reports_the_planted_cases_and_serves_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args([
            "demo",
            "--employees",
            "200",
            "--days",
            "14",
            "--duration-secs",
            "8",
        ])
        .args(["--seed", "3", "--keep-running", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    while !lines.iter().any(|l: &String| l.contains("still serving")) {
        assert!(
            Instant::now() < deadline,
            "no summary within 4 minutes:\n{}",
            lines.join("\n")
        );
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(l) => lines.push(l),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the demo ended early:\n{}", lines.join("\n"))
            }
        }
    }
    let text = lines.join("\n");

    // Every planted scenario of the truth is reported, and caught.
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("truth.json")).unwrap()).unwrap();
    let mut fraudulent = 0;
    for (scenario, s) in truth["summary"]["scenarios"].as_object().unwrap() {
        let n = s["employees"].as_u64().unwrap();
        if s["label"] == "fraudulent" && n > 0 {
            fraudulent += 1;
            assert!(
                text.contains(&format!("caught {n}/{n} {scenario}")),
                "{scenario} not all caught:\n{text}"
            );
        }
    }
    assert!(fraudulent >= 3, "{text}");
    // Alerts were printed as they fired, with the planted case named and the time in UTC,
    // ISO 8601 (`2026-10-01T01:19Z`).
    assert!(text.contains("[planted: "), "{text}");
    for line in lines
        .iter()
        .filter(|l| l.contains("[planted: ") || l.contains("[legitimate: "))
    {
        let time = line.split_whitespace().next().unwrap_or_default();
        assert!(
            chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%MZ").is_ok(),
            "not an ISO 8601 UTC time: {line}"
        );
    }
    assert!(
        text.contains("false alerts on the legitimate population"),
        "{text}"
    );

    // What it wrote.
    let report = out.join("compliance-report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<html") && html.len() > 10_000);
    let oncall = std::fs::read_to_string(out.join("oncall.jsonl")).unwrap();
    assert!(oncall.lines().count() >= fraudulent, "{oncall}");
    let verified = driftwatch::audit::verify(&out.join("audit.jsonl")).unwrap();
    assert!(verified.records > 0);

    // Still up: metrics and the analyst API.
    let base = format!("http://127.0.0.1:{port}");
    let (status, metrics) = get(&format!("{base}/metrics"), None);
    assert_eq!(status, 200);
    assert!(metrics.contains("driftwatch_alerts_total"));
    let token = std::fs::read_to_string(out.join("api-token.txt")).unwrap();
    let (status, _) = get(&format!("{base}/api/v1/alerts"), None);
    assert_eq!(status, 401);
    let (status, body) = get(&format!("{base}/api/v1/alerts"), Some(token.trim()));
    assert_eq!(status, 200, "{body}");
    let alerts: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(!alerts["alerts"].as_array().unwrap().is_empty());

    // SIGTERM ends it cleanly.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "still running a minute after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
}
