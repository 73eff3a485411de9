//! The Prometheus rules and the Alertmanager example in `deploy/`, checked by the programs
//! that will load them — `promtool check rules`, `promtool test rules`, `amtool
//! check-config`, `amtool config routes test` and a real Alertmanager — and held to what
//! those programs cannot see: every alert has a severity, a team, a summary, a description
//! and a runbook section that exists and gives the same severity; the unit tests make every
//! alert fire and keep it quiet; the runbook has a section for every detection rule.
//!
//! promtool (Debian package `prometheus`) and amtool and prometheus-alertmanager (package
//! `prometheus-alertmanager`) must be installed, as `.ci/run` does: a missing tool fails
//! the test, because a check that skips itself is a check that silently stopped running.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Where every `runbook_url` points: the runbook on the default branch, plus an anchor.
const RUNBOOK_URL: &str = "https://github.com/driftwatch/driftwatch/blob/main/docs/runbook.md#";

/// Label names that would identify a person or an address. No driftwatch metric has one,
/// so no alert built from them can; this keeps a static label from adding one.
const PERSONAL_LABELS: [&str; 8] = [
    "employee",
    "employee_id",
    "user",
    "account",
    "email",
    "ip",
    "address",
    "client_ip",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn prometheus_dir() -> PathBuf {
    repo().join("deploy/prometheus")
}

fn alerts_file() -> PathBuf {
    prometheus_dir().join("alerts.yml")
}

fn alerts_test_file() -> PathBuf {
    prometheus_dir().join("tests/alerts.test.yml")
}

fn alertmanager_file() -> PathBuf {
    repo().join("deploy/alertmanager/alertmanager.yml")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Run a command to completion. A program that is not installed fails with the package
/// that provides it.
fn run(cmd: &mut Command, package: &str) -> Output {
    match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == io::ErrorKind::NotFound => panic!(
            "{} is not installed: install the Debian package {package} (.ci/run does)",
            cmd.get_program().to_string_lossy()
        ),
        Err(e) => panic!("{} did not run: {e}", cmd.get_program().to_string_lossy()),
    }
}

/// stdout and stderr of a finished command, for failure messages.
fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn promtool<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> Output {
    run(Command::new("promtool").args(args), "prometheus")
}

fn amtool<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> Output {
    run(Command::new("amtool").args(args), "prometheus-alertmanager")
}

/// Every file in `deploy/prometheus/` that is a rules file (its top-level key is `groups`),
/// so rule files added later are checked without touching this test.
fn rule_files() -> Vec<PathBuf> {
    let dir = prometheus_dir();
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .filter(|p| read(p).lines().any(|l| l.starts_with("groups:")))
        .collect();
    files.sort();
    files
}

fn unit_test_files() -> Vec<PathBuf> {
    let dir = prometheus_dir().join("tests");
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.to_string_lossy().ends_with(".test.yml"))
        .collect();
    files.sort();
    files
}

// --- promtool -------------------------------------------------------------------------

#[test]
fn every_rules_file_passes_promtool_check_rules() {
    let files = rule_files();
    assert!(
        files.contains(&alerts_file()),
        "alerts.yml is not among the rules files {files:?}"
    );
    let out = promtool(
        ["check", "rules"]
            .iter()
            .map(OsStr::new)
            .chain(files.iter().map(|f| f.as_os_str())),
    );
    assert!(
        out.status.success(),
        "promtool check rules:\n{}",
        text(&out)
    );
}

#[test]
fn every_rules_unit_test_file_passes_promtool_test_rules() {
    let files = unit_test_files();
    assert!(
        files.contains(&alerts_test_file()),
        "alerts.test.yml is not among {files:?}"
    );
    for file in files {
        // Rule files are resolved relative to the test file, so the working directory
        // does not matter.
        let out = promtool([OsStr::new("test"), OsStr::new("rules"), file.as_os_str()]);
        assert!(
            out.status.success(),
            "promtool test rules {}:\n{}",
            file.display(),
            text(&out)
        );
    }
}

/// The checks above can fail: promtool refuses each of these broken rules, and accepts the
/// same rule unbroken.
#[test]
fn promtool_refuses_broken_rules() {
    let rule = |expr: &str, duration: &str, summary: &str| {
        format!(
            "groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: {expr}\n        \
             for: {duration}\n        labels:\n          severity: ticket\n        annotations:\n          \
             summary: '{summary}'\n"
        )
    };
    let good_expr = "rate(driftwatch_records_consumed_total[5m]) == 0";
    let good_summary = "{{ $labels.source }} is silent";
    let dir = tempfile::tempdir().expect("temp dir");
    let check = |name: &str, content: &str| {
        let path = dir.path().join(name);
        fs::write(&path, content).expect("write rules");
        promtool([OsStr::new("check"), OsStr::new("rules"), path.as_os_str()])
    };

    let good = check("good.yml", &rule(good_expr, "5m", good_summary));
    assert!(
        good.status.success(),
        "the control rule must pass:\n{}",
        text(&good)
    );
    for (name, content) in [
        (
            "unbalanced.yml",
            rule(
                "rate(driftwatch_records_consumed_total[5m] == 0",
                "5m",
                good_summary,
            ),
        ),
        (
            "duration.yml",
            rule(good_expr, "five minutes", good_summary),
        ),
        ("template.yml", rule(good_expr, "5m", "{{ $labels.source ")),
    ] {
        let out = check(name, &content);
        assert!(
            !out.status.success(),
            "promtool accepted {name}:\n{content}\n{}",
            text(&out)
        );
    }
}

/// With every expression replaced by one that never fires, the unit tests fail for every
/// alert: each alert has a firing case, and it depends on the expression.
#[test]
fn the_unit_tests_fail_for_every_alert_that_never_fires() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("alerts.yml");
    fs::write(&rules, never_firing(&read(&alerts_file()))).expect("write rules");
    fs::create_dir(dir.path().join("tests")).expect("tests dir");
    let tests = dir.path().join("tests/alerts.test.yml");
    fs::copy(alerts_test_file(), &tests).expect("copy tests");

    let checked = promtool([OsStr::new("check"), OsStr::new("rules"), rules.as_os_str()]);
    assert!(
        checked.status.success(),
        "the mutated rules must still be valid:\n{}",
        text(&checked)
    );
    let out = promtool([OsStr::new("test"), OsStr::new("rules"), tests.as_os_str()]);
    let output = text(&out);
    assert!(
        !out.status.success(),
        "the unit tests passed with alerts that never fire"
    );
    for alert in parse_alerts(&read(&alerts_file())) {
        assert!(
            output.contains(&format!("alertname: {},", alert.name)),
            "no unit test failed for {} when it never fires:\n{output}",
            alert.name
        );
    }
}

/// Every alert has a case where it fires and one where it must stay quiet.
#[test]
fn every_alert_has_a_firing_and_a_quiet_unit_test() {
    let cases = test_cases(&read(&alerts_test_file()));
    let alerts = parse_alerts(&read(&alerts_file()));
    for alert in &alerts {
        let (fires, quiet) = cases.get(&alert.name).copied().unwrap_or_default();
        assert!(fires, "{}: no unit test where it fires", alert.name);
        assert!(quiet, "{}: no unit test where it stays quiet", alert.name);
    }
    let names: BTreeSet<&str> = alerts.iter().map(|a| a.name.as_str()).collect();
    for tested in cases.keys() {
        assert!(
            names.contains(tested.as_str()),
            "the unit tests name {tested}, which alerts.yml does not define"
        );
    }
}

/// The line parser below finds as many alerts as promtool does, so the convention checks
/// cover every rule.
#[test]
fn every_alert_is_seen_by_the_convention_checks() {
    let out = promtool([
        OsStr::new("check"),
        OsStr::new("rules"),
        alerts_file().as_os_str(),
    ]);
    let output = text(&out);
    let found: usize = output
        .split("SUCCESS: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no rule count in promtool's output:\n{output}"));
    assert_eq!(parse_alerts(&read(&alerts_file())).len(), found);
}

// --- conventions ----------------------------------------------------------------------

#[test]
fn every_alert_has_labels_and_annotations_for_on_call() {
    let alerts = parse_alerts(&read(&alerts_file()));
    assert!(!alerts.is_empty(), "no alert parsed from alerts.yml");
    for a in &alerts {
        let label = |k: &str| a.labels.get(k).map(String::as_str);
        assert!(
            matches!(label("severity"), Some("page" | "ticket")),
            "{}: severity must be page or ticket, is {:?}",
            a.name,
            label("severity")
        );
        assert!(
            matches!(label("team"), Some("platform" | "soc")),
            "{}: team must be platform or soc, is {:?}",
            a.name,
            label("team")
        );
        assert_eq!(label("service"), Some("driftwatch"), "{}: service", a.name);
        for key in ["summary", "description"] {
            assert!(
                a.annotations.get(key).is_some_and(|v| v.len() > 10),
                "{}: no {key}",
                a.name
            );
        }
        assert_eq!(
            a.annotations.get("runbook_url"),
            Some(&format!("{RUNBOOK_URL}{}", a.name.to_lowercase())),
            "{}: runbook_url must point at its own section",
            a.name
        );
        for personal in PERSONAL_LABELS {
            assert!(
                !a.labels.contains_key(personal),
                "{}: label {personal} would name a person or an address",
                a.name
            );
            let template = format!("$labels.{personal} ");
            for (key, value) in &a.annotations {
                assert!(
                    !format!("{value} ").contains(&template),
                    "{}: annotation {key} uses {personal}",
                    a.name
                );
            }
        }
    }
}

/// Each alert's runbook section exists under the anchor its `runbook_url` names, and
/// opens with the same severity the alert carries.
#[test]
fn every_runbook_url_has_a_section_that_gives_the_same_severity() {
    let runbook = Runbook::parse(&read(&repo().join("docs/runbook.md")));
    for a in parse_alerts(&read(&alerts_file())) {
        let url = a
            .annotations
            .get("runbook_url")
            .cloned()
            .unwrap_or_default();
        let anchor = url.strip_prefix(RUNBOOK_URL).unwrap_or_else(|| {
            panic!("{}: runbook_url {url:?} is not under {RUNBOOK_URL}", a.name)
        });
        let section = runbook.sections.get(anchor).unwrap_or_else(|| {
            panic!(
                "{}: docs/runbook.md has no heading with anchor #{anchor}",
                a.name
            )
        });
        let severity = a.labels.get("severity").map(String::as_str).unwrap_or("");
        let opening = match severity {
            "page" => "**Page",
            _ => "**Ticket",
        };
        assert!(
            section.trim_start().starts_with(opening),
            "{}: the runbook section should open with {opening}, for severity {severity}",
            a.name
        );
    }
}

/// Every detector's rule name has a runbook section, and the link the route stage puts in
/// its payloads lands on it.
#[test]
fn the_runbook_has_a_section_for_every_detection_rule() {
    let runbook = Runbook::parse(&read(&repo().join("docs/runbook.md")));
    for &rule in driftwatch::detect::NAMES {
        assert!(
            runbook.sections.contains_key(rule),
            "docs/runbook.md has no section headed {rule}"
        );
        let link = driftwatch::route::payload::runbook("docs/runbook.md", rule);
        let anchor = link
            .rsplit_once('#')
            .map(|(_, a)| a.to_owned())
            .unwrap_or_default();
        assert!(
            runbook.anchors.contains(&anchor),
            "docs/runbook.md has no anchor #{anchor}, which the route stage links for {rule}"
        );
    }
}

#[test]
fn github_slugs_are_computed_like_github() {
    assert_eq!(slug("DriftwatchDown"), "driftwatchdown");
    assert_eq!(slug("claimed_location"), "claimed_location");
    assert_eq!(slug("How alerts reach you"), "how-alerts-reach-you");
    assert_eq!(slug("`run`: the service (v2)"), "run-the-service-v2");
    let r = Runbook::parse("# A\n```sh\n# not a heading\n```\n## A\n<a id=\"x-y\"></a>\n### B\n");
    let anchors: Vec<&str> = r.anchors.iter().map(String::as_str).collect();
    assert_eq!(anchors, ["a", "a-1", "b", "x-y"]);
}

// --- Alertmanager ---------------------------------------------------------------------

#[test]
fn the_alertmanager_example_passes_amtool_check_config() {
    let out = amtool([OsStr::new("check-config"), alertmanager_file().as_os_str()]);
    assert!(out.status.success(), "amtool check-config:\n{}", text(&out));
    assert!(text(&out).contains("SUCCESS"), "{}", text(&out));
}

#[test]
fn amtool_refuses_a_broken_alertmanager_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("alertmanager.yml");
    // A route to a receiver that does not exist.
    let broken = read(&alertmanager_file()).replace("receiver: soc-pager", "receiver: nobody");
    fs::write(&path, broken).expect("write config");
    let out = amtool([OsStr::new("check-config"), path.as_os_str()]);
    assert!(!out.status.success(), "amtool accepted:\n{}", text(&out));
}

/// Where each kind of alert goes: employee detections by severity, and every alert of
/// alerts.yml by its team and severity.
#[test]
fn the_alertmanager_example_routes_each_alert_to_its_receiver() {
    let detection = |severity: &str| {
        vec![
            "alertname=DriftwatchDetection".to_owned(),
            "source=driftwatch".to_owned(),
            format!("severity={severity}"),
            "employee_id=E1042".to_owned(),
            "alert_id=dw-0123456789abcdef01234567".to_owned(),
            "group=contractors".to_owned(),
        ]
    };
    let mut cases = vec![
        (detection("critical"), "soc-pager"),
        (detection("high"), "soc-pager"),
        (detection("medium"), "soc-ticket"),
        (detection("low"), "soc-ticket"),
    ];
    for a in parse_alerts(&read(&alerts_file())) {
        let receiver = match (a.labels["team"].as_str(), a.labels["severity"].as_str()) {
            ("soc", _) => "soc-ticket",
            (_, "page") => "driftwatch-ops-pager",
            _ => "driftwatch-ops-ticket",
        };
        let mut labels = vec![format!("alertname={}", a.name)];
        labels.extend(a.labels.iter().map(|(k, v)| format!("{k}={v}")));
        cases.push((labels, receiver));
    }
    let config = alertmanager_file();
    for (labels, expected) in cases {
        let mut args = vec![
            "config".to_owned(),
            "routes".to_owned(),
            "test".to_owned(),
            format!("--config.file={}", config.display()),
        ];
        args.extend(labels.iter().cloned());
        let out = amtool(&args);
        let got = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success() && got == expected,
            "{labels:?} routes to {got:?}, expected {expected}:\n{}",
            text(&out)
        );
    }
}

/// A real Alertmanager with the example configuration (receivers pointed at a local HTTP
/// server, group_wait shortened): an employee's critical alert pages, the same employee's
/// medium alert is inhibited and never notifies, another employee's medium alert goes to
/// the SOC channel and ticket, and health alerts reach the platform receivers. This also
/// proves the receivers' templates render: a template error sends nothing.
#[test]
fn a_real_alertmanager_notifies_only_the_most_severe_alert_of_an_employee() {
    let sink = Sink::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("alertmanager.yml");
    fs::write(
        &config,
        local_config(&read(&alertmanager_file()), &sink.addr),
    )
    .expect("write config");
    let am = Alertmanager::start(&config, dir.path());

    // Labels and annotations as the route stage and Prometheus send them.
    let post = |labels: &[&str], annotations: &[(&str, &str)]| {
        let mut args = vec![
            format!("--alertmanager.url={}", am.url),
            "alert".to_owned(),
            "add".to_owned(),
        ];
        args.extend(
            annotations
                .iter()
                .map(|(k, v)| format!("--annotation={k}={v}")),
        );
        args.extend(labels.iter().map(|l| (*l).to_owned()));
        let out = amtool(&args);
        assert!(out.status.success(), "amtool alert add:\n{}", text(&out));
    };
    let runbook = |anchor: &str| format!("{RUNBOOK_URL}{anchor}");
    let e1 = [
        "alertname=DriftwatchDetection",
        "source=driftwatch",
        "employee_id=E1001",
        "alert_id=dw-00000000000000000000e100",
    ];
    // The critical one first, so the inhibition source is known when the medium arrives.
    post(
        &[&e1[..], &["severity=critical"]].concat(),
        &[
            ("summary", "E1001 logged in from Pyongyang, KP"),
            ("rules", "sanctioned_region,claimed_location"),
            ("runbook_url", &runbook("sanctioned-region")),
        ],
    );
    post(
        &[&e1[..], &["severity=medium"]].concat(),
        &[
            ("summary", "E1001 logged in from Tokyo, JP"),
            ("rules", "claimed_location"),
            ("runbook_url", &runbook("claimed-location")),
        ],
    );
    post(
        &[
            "alertname=DriftwatchDetection",
            "source=driftwatch",
            "employee_id=E2002",
            "alert_id=dw-00000000000000000000e200",
            "severity=medium",
        ],
        &[
            ("summary", "E2002 logged in from Lisbon, PT"),
            ("rules", "claimed_location"),
            ("runbook_url", &runbook("claimed-location")),
        ],
    );
    post(
        &[
            "alertname=DriftwatchDown",
            "service=driftwatch",
            "team=platform",
            "severity=page",
            "job=driftwatch",
            "instance=dw-0:9464",
        ],
        &[
            ("summary", "driftwatch instance dw-0:9464 is down"),
            (
                "description",
                "Prometheus has not been able to scrape dw-0:9464.",
            ),
            ("runbook_url", &runbook("driftwatchdown")),
        ],
    );
    post(
        &[
            "alertname=DriftwatchGeoIPDatabaseStale",
            "service=driftwatch",
            "team=platform",
            "severity=ticket",
            "job=driftwatch",
            "instance=dw-0:9464",
            "database=city",
        ],
        &[
            ("summary", "The city GeoIP database is 15d 2h 0m 0s old"),
            (
                "description",
                "The city database loaded by dw-0:9464 was built 15d ago.",
            ),
            ("runbook_url", &runbook("driftwatchgeoipdatabasestale")),
        ],
    );

    // What each receiver must get: (path of the placeholder URL, text in the body).
    let expected = [
        (PAGERDUTY, "SOC-PAGERDUTY"),
        (PAGERDUTY, r#""severity":"critical""#),
        (
            PAGERDUTY,
            "employee E1001: sanctioned_region,claimed_location",
        ),
        (PAGERDUTY, "PLATFORM-PAGERDUTY"),
        (PAGERDUTY, "dw-0:9464 is down"),
        (SOC_SLACK, "E2002 logged in from Lisbon"),
        (SOC_SLACK, "runbook.md#claimed-location|runbook"),
        (SOC_TICKETS, "E2002"),
        (
            OPS_SLACK,
            "The city database loaded by dw-0:9464 was built 15d ago.",
        ),
        (OPS_TICKETS, "DriftwatchGeoIPDatabaseStale"),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = sink.requests();
        let missing: Vec<_> = expected
            .iter()
            .filter(|(path, needle)| {
                !seen
                    .iter()
                    .any(|(p, body)| p.as_str() == *path && body.contains(needle))
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "notifications missing: {missing:?}\nreceived: {seen:#?}\nalertmanager log:\n{}",
            am.log()
        );
        thread::sleep(Duration::from_millis(200));
    }

    // The inhibited alert: suppressed in Alertmanager's view, and never sent.
    let out = amtool([
        format!("--alertmanager.url={}", am.url),
        "alert".to_owned(),
        "query".to_owned(),
        "--inhibited".to_owned(),
        "-o".to_owned(),
        "json".to_owned(),
    ]);
    let inhibited: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let inhibited: Vec<(String, String)> = inhibited
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let label = |k: &str| a["labels"][k].as_str().unwrap_or("").to_owned();
            (label("employee_id"), label("severity"))
        })
        .collect();
    assert_eq!(
        inhibited,
        [("E1001".to_owned(), "medium".to_owned())],
        "only E1001's medium alert is inhibited"
    );
    // Both employees' medium groups were flushed after the same group_wait; E2002's has
    // arrived, so E1001's would have by now.
    thread::sleep(Duration::from_secs(2));
    for (path, body) in sink.requests() {
        if path == SOC_SLACK || path == SOC_TICKETS {
            assert!(
                !body.contains("E1001"),
                "the inhibited alert was sent to {path}: {body}"
            );
        }
    }
}

// The receivers' placeholder URLs, as paths on the local sink (see `local_config`).
const PAGERDUTY: &str = "/events.pagerduty.com/v2/enqueue";
const SOC_SLACK: &str = "/hooks.slack.com/services/REPLACE/WITH/SOC-WEBHOOK";
const SOC_TICKETS: &str = "/tickets.example.internal/alertmanager/soc";
const OPS_SLACK: &str = "/hooks.slack.com/services/REPLACE/WITH/OPS-WEBHOOK";
const OPS_TICKETS: &str = "/tickets.example.internal/alertmanager/platform";

/// The example configuration with every receiver URL sent to `sink` instead (the host and
/// path become the path: `https://hooks.slack.com/x` → `http://<sink>/hooks.slack.com/x`),
/// and the detection group_wait cut to a second.
fn local_config(config: &str, sink: &str) -> String {
    let mut out = String::new();
    for line in config.lines() {
        let key = line.trim_start().trim_start_matches("- ");
        let line = match line.find("https://") {
            Some(i) if key.starts_with("url:") || key.starts_with("api_url:") => {
                format!(
                    "{}http://{sink}/{}",
                    &line[..i],
                    &line[i + "https://".len()..]
                )
            }
            _ => line.replace("group_wait: 30s", "group_wait: 1s"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A local HTTP server standing in for PagerDuty, Slack and the ticket webhooks: it keeps
/// each request's path and body and answers 200.
struct Sink {
    addr: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Sink {
    fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the sink");
        let addr = listener.local_addr().expect("sink address").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&seen);
        // Lives until the test process exits: nothing else listens on its port.
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(request) = serve(stream) {
                    keep.lock().unwrap_or_else(|p| p.into_inner()).push(request);
                }
            }
        });
        Sink { addr, seen }
    }

    fn requests(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Read one HTTP/1.1 request (Alertmanager sends a Content-Length) and answer 200.
fn serve(stream: TcpStream) -> Option<(String, String)> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut writer = stream.try_clone().ok()?;
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let path = request_line.split_whitespace().nth(1)?.to_owned();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    writer
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        .ok()?;
    Some((path, String::from_utf8_lossy(&body).into_owned()))
}

/// `prometheus-alertmanager` on a free local port, without clustering; killed when
/// dropped.
struct Alertmanager {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Alertmanager {
    fn start(config: &Path, dir: &Path) -> Alertmanager {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = dir.join("alertmanager.log");
        let log_file = fs::File::create(&log).expect("log file");
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| match e.kind() {
                io::ErrorKind::NotFound => panic!(
                    "prometheus-alertmanager is not installed: install the Debian package \
                     prometheus-alertmanager (.ci/run does)"
                ),
                _ => panic!("prometheus-alertmanager did not start: {e}"),
            });
        let am = Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !http_ok(port, "/-/ready") {
            assert!(
                Instant::now() < deadline,
                "Alertmanager not ready:\n{}",
                am.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
        am
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_ok(port: u16, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut response = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut response).is_ok()
        && response.starts_with("HTTP/1.1 200")
}

// --- reading the files ----------------------------------------------------------------

/// One alerting rule as far as the conventions care: its name, labels and annotations.
#[derive(Debug, Default)]
struct AlertRule {
    name: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

/// A YAML file as JSON values, through the YAML crate (a key given twice is an error).
fn yaml(text: &str) -> serde_json::Value {
    let v: yaml_serde::Value = yaml_serde::from_str(text).expect("YAML");
    serde_json::to_value(v).expect("YAML as JSON")
}

/// Every rule of a rules file (`groups[].rules[]`), in order.
fn rules_of(doc: &serde_json::Value) -> Vec<&serde_json::Value> {
    doc["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .collect()
}

/// A string map (`labels`, `annotations`): a value that is not a string is kept as its
/// JSON text, so a check on it fails rather than skips it.
fn strings(v: &serde_json::Value) -> BTreeMap<String, String> {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (k.clone(), text)
        })
        .collect()
}

/// The alerting rules of a rules file. A folded annotation (`>-`) reads as YAML folds it:
/// its lines joined by single spaces.
fn parse_alerts(text: &str) -> Vec<AlertRule> {
    rules_of(&yaml(text))
        .into_iter()
        .filter_map(|r| {
            Some(AlertRule {
                name: r["alert"].as_str()?.to_owned(),
                labels: strings(&r["labels"]),
                annotations: strings(&r["annotations"]),
            })
        })
        .collect()
}

/// The rules file with every `expr` replaced by one that never returns anything, as YAML
/// promtool reads (JSON is YAML).
fn never_firing(text: &str) -> String {
    let mut doc = yaml(text);
    for group in doc["groups"].as_array_mut().into_iter().flatten() {
        for rule in group["rules"].as_array_mut().into_iter().flatten() {
            rule["expr"] = "vector(0) == 1".into();
        }
    }
    serde_json::to_string_pretty(&doc).expect("JSON")
}

/// Per alert name in a promtool test file: whether some case expects it firing, and
/// whether some case expects it quiet (`exp_alerts: []` or none).
fn test_cases(text: &str) -> BTreeMap<String, (bool, bool)> {
    let mut cases: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    let doc = yaml(text);
    let checks = doc["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["alert_rule_test"].as_array().into_iter().flatten());
    for check in checks {
        let Some(name) = check["alertname"].as_str() else {
            continue;
        };
        let entry = cases.entry(name.to_owned()).or_default();
        match check["exp_alerts"].as_array() {
            Some(expected) if !expected.is_empty() => entry.0 = true,
            _ => entry.1 = true,
        }
    }
    cases
}

/// The anchors of a Markdown file as GitHub renders it: heading slugs (numbered when
/// repeated) and explicit `<a id="…">` / `<a name="…">` anchors, with the text under each
/// heading.
struct Runbook {
    anchors: BTreeSet<String>,
    sections: BTreeMap<String, String>,
}

impl Runbook {
    fn parse(markdown: &str) -> Runbook {
        let mut anchors = BTreeSet::new();
        let mut sections: BTreeMap<String, String> = BTreeMap::new();
        let mut used: BTreeMap<String, usize> = BTreeMap::new();
        let mut current: Option<String> = None;
        let mut in_code = false;
        for line in markdown.lines() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
            } else if !in_code && line.starts_with('#') {
                let base = slug(line.trim_start_matches('#'));
                let n = used.entry(base.clone()).or_insert(0);
                let anchor = if *n == 0 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                };
                *n += 1;
                anchors.insert(anchor.clone());
                sections.insert(anchor.clone(), String::new());
                current = Some(anchor);
                continue;
            } else if !in_code {
                for attr in ["<a id=\"", "<a name=\""] {
                    for (i, _) in line.match_indices(attr) {
                        let rest = &line[i + attr.len()..];
                        if let Some(end) = rest.find('"') {
                            anchors.insert(rest[..end].to_owned());
                        }
                    }
                }
            }
            if let Some(text) = current.as_ref().and_then(|a| sections.get_mut(a)) {
                text.push_str(line);
                text.push('\n');
            }
        }
        Runbook { anchors, sections }
    }
}

/// GitHub's heading anchor: lower case, punctuation other than `-` and `_` dropped,
/// spaces turned into hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}
