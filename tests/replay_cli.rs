//! `driftwatch replay`, `check-config` and `geoip lookup` through the real binary, on the
//! shipped example company and on the real vendor samples in ../shared/samples.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shared(rel: &str) -> PathBuf {
    root().join("../shared").join(rel)
}

fn driftwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run driftwatch")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The example config with `from` replaced by `to` (which must be there), written beside
/// the example so its relative paths still resolve; removed when dropped.
struct ExampleConfig(PathBuf);

impl ExampleConfig {
    fn with(name: &str, from: &str, to: &str) -> ExampleConfig {
        let text = std::fs::read_to_string(root().join("driftwatch.example.toml")).unwrap();
        assert!(text.contains(from), "the example config has no {from:?}");
        let path = root().join(format!("target-test-{name}-{}.toml", std::process::id()));
        std::fs::write(&path, text.replace(from, to)).unwrap();
        ExampleConfig(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for ExampleConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A sign-in of the example Okta log (of `account`, when given) to forge variants from.
fn okta_sign_in(account: Option<&str>) -> Value {
    let text = std::fs::read_to_string(root().join("examples/events/okta-system-log.ndjson"))
        .expect("the example Okta log");
    let line = text
        .lines()
        .find(|l| l.contains("user.session.start") && account.is_none_or(|a| l.contains(a)))
        .expect("an example sign-in");
    serde_json::from_str(line).expect("a JSON record")
}

/// `okta_sign_in(account)` once per item, each changed by `edit` and given its own uuid, as
/// NDJSON.
fn forged_okta<T>(account: Option<&str>, items: &[T], edit: impl Fn(&mut Value, &T)) -> String {
    let template = okta_sign_in(account);
    let mut text = String::new();
    for (i, item) in items.iter().enumerate() {
        let mut r = template.clone();
        edit(&mut r, item);
        r["uuid"] = Value::from(format!("forged-{i}"));
        text.push_str(&format!("{r}\n"));
    }
    text
}

/// The number after `label` in replay's summary.
fn summary_count(summary: &str, label: &str) -> u64 {
    let line = summary
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{summary}"));
    line.trim_start()[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"))
}

fn replay_example(dir: &Path) -> (Output, Vec<Value>, Vec<Value>) {
    let dlq = dir.join("dlq.jsonl");
    let out = driftwatch(&[
        "replay",
        "--config",
        "driftwatch.example.toml",
        "--dead-letter",
        dlq.to_str().unwrap(),
        "examples/events/",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts = json_lines(&String::from_utf8(out.stdout.clone()).unwrap());
    let dead = json_lines(&std::fs::read_to_string(&dlq).unwrap());
    (out, alerts, dead)
}

#[test]
fn quick_start_replay_alerts_on_the_planted_cases_and_keeps_bad_records() {
    let dir = tempfile::tempdir().unwrap();
    let (out, alerts, dead) = replay_example(dir.path());

    // E1002 (claims New York) logs in through a hosting exit in Shenyang (a watch country,
    // so it places the login there) and later from Tokyo. E1007 (claims London) visits
    // Berlin on an approved trip (examples/approved-travel.csv): no alert.
    let employees: BTreeSet<&str> = alerts
        .iter()
        .map(|a| a["employee_id"].as_str().unwrap())
        .collect();
    assert!(employees.contains("E1002"), "{employees:?}");
    assert!(
        !employees.contains("E1007"),
        "the approved trip is suppressed: {employees:?}"
    );
    for a in &alerts {
        for key in [
            "id",
            "status",
            "employee_id",
            "time",
            "severity",
            "rules",
            "risk",
            "summary",
            "evidence",
        ] {
            assert!(a.get(key).is_some(), "alert without {key}: {a}");
        }
        assert!(a["time"].as_str().unwrap().ends_with('Z'));
    }
    let opened = alerts
        .iter()
        .find(|a| a["employee_id"] == "E1002" && a["status"] == "open")
        .expect("E1002's alert opens");
    assert!(
        opened["rules"]
            .as_array()
            .unwrap()
            .contains(&"claimed_location".into()),
        "{opened}"
    );
    let summary = opened["summary"].as_str().unwrap();
    assert!(
        summary.contains("Shenyang, CN") && summary.contains("New York, US"),
        "{summary}"
    );
    assert_eq!(
        opened["severity"], "high",
        "a watch country pages on first sight"
    );
    let evidence_types: BTreeSet<&str> = opened["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in ["login", "location", "claimed", "database"] {
        assert!(evidence_types.contains(t), "no {t} evidence in {opened}");
    }

    let reasons: BTreeSet<&str> = dead.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    assert_eq!(
        reasons,
        BTreeSet::from([
            "invalid_json",
            "missing_ip",
            "invalid_time",
            "unknown_format"
        ])
    );
    for d in &dead {
        assert!(
            d["source"]
                .as_str()
                .unwrap()
                .ends_with("broken-records.log")
        );
        assert!(d["line"].as_u64().unwrap() >= 1);
        assert!(
            d["record"].as_str().is_some(),
            "the record itself is kept: {d}"
        );
    }

    let summary = stderr(&out);
    assert_eq!(summary_count(&summary, "rejected"), 4);
    assert_eq!(summary_count(&summary, "alerts"), alerts.len() as u64);
    assert!(
        summary.contains("jsmith@corp.example"),
        "unknown accounts are listed:\n{summary}"
    );
    assert!(summary.contains("svc-backup@corp.example"), "{summary}");
    assert!(summary.contains("okta 150"), "{summary}");
}

#[test]
fn alert_ids_are_the_same_on_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let (_, first, _) = replay_example(dir.path());
    let (_, second, _) = replay_example(dir.path());
    assert!(!first.is_empty());
    assert_eq!(first, second);
    // One id per alert: an escalation line repeats the id of the alert it updates.
    let opened: Vec<&Value> = first.iter().filter(|a| a["status"] == "open").collect();
    let ids: BTreeSet<&str> = opened.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), opened.len(), "each opened alert has its own id");
    for a in first.iter().filter(|a| a["status"] == "escalated") {
        assert!(
            ids.contains(a["id"].as_str().unwrap()),
            "escalates an opened alert: {a}"
        );
    }
}

#[test]
fn gzip_files_and_stdin_give_the_same_alerts_as_plain_files() {
    let dir = tempfile::tempdir().unwrap();
    let plain = root().join("examples/events/okta-system-log.ndjson");
    let bytes = std::fs::read(&plain).unwrap();
    let gz_path = dir.path().join("okta.log.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes).unwrap();
    std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();

    let args = |input: &str| {
        vec![
            "replay",
            "--config",
            "driftwatch.example.toml",
            "--format",
            "okta",
            input,
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    let run = |input: &str| {
        let a = args(input);
        driftwatch(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let from_plain = run(plain.to_str().unwrap());
    let from_gz = run(gz_path.to_str().unwrap());
    assert!(
        from_plain.status.success() && from_gz.status.success(),
        "{}",
        stderr(&from_gz)
    );
    assert!(!from_plain.stdout.is_empty());
    assert_eq!(from_plain.stdout, from_gz.stdout);

    let mut child = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(args("-"))
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let from_stdin = child.wait_with_output().unwrap();
    assert!(from_stdin.status.success(), "{}", stderr(&from_stdin));
    assert_eq!(from_plain.stdout, from_stdin.stdout);
}

/// Every line of every line-based real sample either decodes or lands in the dead-letter
/// file with a reason: nothing is lost, nothing panics.
#[test]
fn every_real_sample_line_is_decoded_or_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keep-all.toml");
    std::fs::write(&config, "[dead_letter]\ninclude_filtered = true\n").unwrap();
    let dlq = dir.path().join("dlq.jsonl");
    let files: Vec<PathBuf> = [
        "elastic-integrations/okta-system-events.ndjson",
        "elastic-integrations/azure-signinlogs-eventhub.ndjson",
        "elastic-integrations/google-workspace-login.ndjson",
        "elastic-integrations/panw-globalprotect.log",
        "elastic-integrations/cisco-asa-anyconnect.log",
        "crowdsec-hub/fortinet-sslvpn-login-fail.log",
        "crowdsec-hub/openvpn-bf.log",
        "crowdsec-hub/openvpn-server.log",
    ]
    .iter()
    .map(|f| shared(&format!("samples/{f}")))
    .collect();
    let mut args: Vec<String> = [
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--dead-letter",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(dlq.to_str().unwrap().to_owned());
    args.extend(files.iter().map(|f| f.to_str().unwrap().to_owned()));
    let out = driftwatch(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));

    let lines: u64 = files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count() as u64
        })
        .sum();
    let summary = stderr(&out);
    let decoded = summary_count(&summary, "decoded");
    let rejected = summary_count(&summary, "rejected");
    let dead = json_lines(&std::fs::read_to_string(&dlq).unwrap());
    assert_eq!(
        summary_count(&summary, "driftwatch replay:"),
        lines,
        "{summary}"
    );
    assert_eq!(decoded + rejected, lines, "{summary}");
    assert_eq!(dead.len() as u64, rejected, "every rejected record is kept");
    // Each format contributes decoded events.
    for format in [
        "okta",
        "entra",
        "google_workspace",
        "globalprotect",
        "cisco_asa",
        "fortinet",
        "openvpn",
    ] {
        assert!(
            summary.contains(&format!("{format} ")),
            "no {format} decoded:\n{summary}"
        );
    }
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &dead {
        *by_reason.entry(d["reason"].as_str().unwrap()).or_default() += 1;
        assert!(!d["detail"].as_str().unwrap().is_empty());
    }
    assert!(by_reason.contains_key("not_a_login"), "{by_reason:?}");
}

#[test]
fn oversized_and_non_utf8_records_are_dead_lettered_whole() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("odd.log");
    let mut data = vec![b'{'; 100_000];
    data.push(b'\n');
    data.extend_from_slice(b"\xff\xfe not text\n");
    std::fs::write(&input, &data).unwrap();
    let dlq = dir.path().join("dlq.jsonl");
    let out = driftwatch(&[
        "replay",
        "--dead-letter",
        dlq.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    // Nothing readable: the run fails, and the dead letters are written all the same.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let dead = json_lines(&std::fs::read_to_string(&dlq).unwrap());
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0]["reason"], "oversized");
    assert_eq!(dead[0]["bytes"], 100_000);
    assert_eq!(dead[0]["record"].as_str().unwrap().len(), 100_000);
    assert_eq!(dead[1]["reason"], "invalid_encoding");
    assert_eq!(dead[1]["record_base64"], "//4gbm90IHRleHQ=");
}

#[test]
fn check_config_accepts_the_example_from_any_directory() {
    let out = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["check-config", "--config"])
        .arg(root().join("driftwatch.example.toml"))
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("roster: 10 employee(s)"), "{text}");
    assert!(text.contains("Driftwatch-Demo-GeoIP2-City"), "{text}");
    assert!(text.contains("consumer-vpn-providers.csv"), "{text}");
}

#[test]
fn check_config_reports_every_problem_at_once_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        r#"
[decode]
default_timezone = "Mars/Olympus_Mons"
max_record_bytes = 0
max_recrod_bytes = 5
[roster]
path = "no-such-roster.csv"
[enrich]
city = "no-such-city.mmdb"
cache_size = 0
[detect.claimed_location]
risk = 250
[detect.novelty]
warmup_logins = "five"
[risk]
alert_at = "urgent"
"#,
    )
    .unwrap();
    let out = driftwatch(&["check-config", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    // Unknown settings, wrong types and bad values are reported beside the bad paths,
    // each once, in words: not only the first serde met.
    for needle in [
        "Mars/Olympus_Mons",
        "decode.max_record_bytes: must be at least 1",
        "decode.max_recrod_bytes: unknown setting `max_recrod_bytes` (did you mean `max_record_bytes`?)",
        "detect.novelty.warmup_logins: must be a whole number from 0 to 4294967295, not the text \"five\"",
        "risk.alert_at: \"urgent\" is not one of low, medium, high, critical",
        "no-such-roster.csv",
        "no-such-city.mmdb",
        "cache_size",
        "detect.claimed_location.risk",
    ] {
        assert!(err.contains(needle), "{needle:?} not reported in:\n{err}");
    }
    assert!(err.contains("9 problem(s)"), "{err}");
    for rust in [
        "expected u",
        "expected f64",
        "expected struct",
        "expected a string",
    ] {
        assert!(!err.contains(rust), "a Rust type in:\n{err}");
    }
}

#[test]
fn unknown_config_keys_are_rejected_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("typo.toml");
    std::fs::write(&config, "[enrich]\ncity_db = \"x.mmdb\"\n").unwrap();
    let out = driftwatch(&["check-config", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("city_db"), "{}", stderr(&out));
}

#[test]
fn a_broken_roster_is_a_configuration_error_listing_every_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("roster.csv");
    std::fs::write(
        &roster,
        "employee_id,aliases,claimed_country,claimed_timezone,status\n\
         E1,a@x.example,ZZ,America/New_York,active\n\
         E2,b@x.example,US,Not/AZone,active\n",
    )
    .unwrap();
    let out = driftwatch(&[
        "replay",
        "--roster",
        roster.to_str().unwrap(),
        "examples/events/okta-system-log.ndjson",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("line 2") && err.contains("line 3"), "{err}");
}

#[test]
fn geoip_lookup_prints_the_full_enrichment() {
    let out = driftwatch(&[
        "geoip",
        "lookup",
        "--config",
        "driftwatch.example.toml",
        "203.0.113.20",
        "2001:db8:100::1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<Value> = serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(docs.len(), 2);
    let cn = &docs[0]["enrichment"];
    assert_eq!(docs[0]["ip"], "203.0.113.20");
    assert_eq!(cn["country"], "CN");
    assert_eq!(cn["city"], "Shenyang");
    assert_eq!(cn["accuracy_km"], 50);
    assert_eq!(cn["asn"], 64510);
    assert_eq!(cn["anonymous"]["is_anonymous_vpn"], true);
    assert_eq!(cn["vpn_provider"], "DemoVPN (Astrill-like, demo data)");
    assert!(cn["databases"].as_array().unwrap().len() >= 2, "{cn}");
    assert_eq!(docs[1]["enrichment"]["country"], "JP");

    let bad = driftwatch(&[
        "geoip",
        "lookup",
        "--config",
        "driftwatch.example.toml",
        "not-an-ip",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("not-an-ip"));
}

#[test]
fn a_benign_disposition_silences_the_employee_s_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let (_, alerts, _) = replay_example(dir.path());
    let opened = alerts
        .iter()
        .find(|a| a["employee_id"] == "E1002" && a["status"] == "open")
        .expect("E1002 alerts without a disposition");
    let disposition = serde_json::json!({
        "employee_id": "E1002",
        "alert_id": opened["id"],
        "verdict": "benign",
        "rules": ["claimed_location", "anonymizer"],
        "time": opened["time"],
        "note": "contractor on assignment in Tokyo, VPN approved",
    });
    let file = dir.path().join("dispositions.jsonl");
    std::fs::write(&file, format!("{disposition}\n")).unwrap();
    let out = driftwatch(&[
        "replay",
        "--config",
        "driftwatch.example.toml",
        "--dispositions",
        file.to_str().unwrap(),
        "examples/events/",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert!(
        after.iter().all(|a| a["employee_id"] != "E1002"),
        "{after:?}"
    );
    assert!(
        after.iter().any(|a| a["employee_id"] == "E1005"),
        "others still alert: {after:?}"
    );

    std::fs::write(
        &file,
        "{\"employee_id\": \"E1002\", \"verdict\": \"maybe\"}\n",
    )
    .unwrap();
    let bad = driftwatch(&[
        "replay",
        "--dispositions",
        file.to_str().unwrap(),
        "examples/events/okta-system-log.ndjson",
    ]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a bad dispositions file is a configuration error"
    );
    assert!(stderr(&bad).contains("line 1"), "{}", stderr(&bad));
}

/// Issue 17, item 1: records dated in the future cannot switch an employee's detection off.
/// Two Okta records of E1002 dated 2030, one dated 9999, and two year-less Cisco ASA lines
/// of E1005 dated a few days from now, all placed first in a copy of the examples: the
/// dated ones are dead-lettered as `future_time` and counted; the year-less ones are read as
/// their latest past occurrence; E1002's and E1005's alerts are those of the plain examples.
#[test]
fn future_dated_records_are_dead_lettered_and_do_not_blind_the_detectors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, plain, _) = replay_example(dir.path());
    let events = copy_of_examples(dir.path());
    let okta = events.join("okta-system-log.ndjson");
    let text = std::fs::read_to_string(&okta).unwrap();
    let forged = forged_okta(
        Some("bcarter@corp.example"),
        &[
            "2030-01-01T09:00:00.000Z",
            "2030-01-02T09:00:00.000Z",
            "9999-01-01T00:00:00.000Z",
        ],
        |r, when| r["published"] = Value::from(*when),
    );
    std::fs::write(&okta, format!("{forged}{text}")).unwrap();
    let asa = events.join("cisco-asa.log");
    let text = std::fs::read_to_string(&asa).unwrap();
    let mut early = String::new();
    for days in [8, 9] {
        let when = chrono::Utc::now() + chrono::Duration::days(days);
        early.push_str(&format!(
            "<166>{} vpn-edge-1 : %ASA-6-113039: Group <GP-Remote> User <eklein> IP <198.51.100.141> AnyConnect parent session started.\n",
            when.format("%b %d %H:%M:%S")
        ));
    }
    std::fs::write(&asa, format!("{early}{text}")).unwrap();

    let dlq = dir.path().join("dlq-forged.jsonl");
    let out = driftwatch(&[
        "replay",
        "--config",
        "driftwatch.example.toml",
        "--dead-letter",
        dlq.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts = json_lines(&String::from_utf8(out.stdout.clone()).unwrap());
    let of = |lines: &[Value], who: &str| -> Vec<Value> {
        lines
            .iter()
            .filter(|a| a["employee_id"] == who)
            .cloned()
            .collect()
    };
    assert!(!of(&plain, "E1002").is_empty());
    assert_eq!(
        of(&alerts, "E1002"),
        of(&plain, "E1002"),
        "E1002's alerts changed"
    );
    // The year-less lines are last year's logins (their own off-hours alert, a year back);
    // E1005's alert on his real logins of November is still raised.
    let e1005 = of(&alerts, "E1005");
    let year = |a: &Value| a["time"].as_str().unwrap()[..4].parse::<i32>().unwrap();
    let this_year = chrono::Datelike::year(&chrono::Utc::now());
    assert!(
        e1005
            .iter()
            .all(|a| year(a) < this_year || a["time"].as_str().unwrap() < "2026-12"),
        "read as a past occurrence: {e1005:#?}"
    );
    assert!(
        e1005
            .iter()
            .any(|a| a["time"].as_str().unwrap().starts_with("2026-11")
                && a["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == "working_hours")),
        "E1005's working_hours alert on his logins of November is gone: {e1005:#?}"
    );
    let dead = json_lines(&std::fs::read_to_string(&dlq).unwrap());
    let future: Vec<&Value> = dead
        .iter()
        .filter(|d| d["reason"] == "future_time")
        .collect();
    assert_eq!(future.len(), 3, "{dead:#?}");
    assert!(
        future
            .iter()
            .all(|d| d["record"].as_str().unwrap().contains("bcarter")),
        "only the dated Okta records are from the future: {future:#?}"
    );
    let summary = stderr(&out);
    let rejected = summary
        .lines()
        .find(|l| l.trim_start().starts_with("rejected"))
        .unwrap_or_default();
    assert!(rejected.contains("future_time 3"), "{summary}");
}

/// Issue 17, item 1, the rest: a record dated after the logs but before the wall clock
/// (not `future_time`) must not hold its whole input back in the merge. Two Cisco ASA lines
/// of E1005 dated weeks after the examples, placed first, stopped the ASA log behind them
/// until every other input had passed their date; E1005's real VPN logins then came after
/// his Okta ones, older than his working-hours window, and his November alert vanished
/// (replaced by a medium one on the forged days). Each input is read ahead, so the forged
/// lines wait in their own place in time.
#[test]
fn a_record_dated_weeks_after_the_logs_does_not_hold_its_input_back() {
    let dir = tempfile::tempdir().unwrap();
    let (_, plain, _) = replay_example(dir.path());
    let events = copy_of_examples(dir.path());
    let asa = events.join("cisco-asa.log");
    let text = std::fs::read_to_string(&asa).unwrap();
    let forged = "<166>Nov 30 2026 13:00:00 vpn-edge-1 : %ASA-6-113039: Group <GP-Remote> User <eklein> IP <198.51.100.141> AnyConnect parent session started.\n\
                  <166>Dec 01 2026 13:00:00 vpn-edge-1 : %ASA-6-113039: Group <GP-Remote> User <eklein> IP <198.51.100.141> AnyConnect parent session started.\n";
    std::fs::write(&asa, format!("{forged}{text}")).unwrap();
    let out = driftwatch(&[
        "replay",
        "--config",
        "driftwatch.example.toml",
        "--no-progress",
        events.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts = json_lines(&String::from_utf8(out.stdout.clone()).unwrap());
    let november = |lines: &[Value]| -> Vec<Value> {
        lines
            .iter()
            .filter(|a| a["time"].as_str().unwrap() < "2026-11-30")
            .cloned()
            .collect()
    };
    assert!(
        plain.iter().any(|a| a["employee_id"] == "E1005"),
        "the examples alert on E1005"
    );
    assert_eq!(
        november(&alerts),
        november(&plain),
        "the alerts on the real logins changed"
    );
    assert!(
        !stderr(&out).contains("late events"),
        "the real logins were applied out of order: {}",
        stderr(&out)
    );
}

/// Issue 17, item 11: `[kafka.client]` may not override what the delivery guarantees rest
/// on; each such key is refused by name, with why.
#[test]
fn kafka_client_settings_the_guarantees_rest_on_are_refused_by_name() {
    let config = ExampleConfig::with(
        "kafka",
        "[kafka.client]\n",
        "[kafka.client]\n\"enable.auto.offset.store\" = \"true\"\n\"isolation.level\" = \"read_uncommitted\"\n\"acks\" = \"1\"\n\"client.id\" = \"fine\"\n",
    );
    let out = driftwatch(&["check-config", "--config", config.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for key in ["enable.auto.offset.store", "isolation.level", "acks"] {
        assert!(
            err.contains(&format!("kafka.client.{key}: driftwatch sets it itself")),
            "{key}: {err}"
        );
    }
    assert!(!err.contains("client.id"), "{err}");
}

/// Issue 17, item 8: an account name from the logs cannot drive the terminal. ANSI escapes
/// and CR/LF in an unknown account's name forged a fake "alerts 0" line in the summary; they
/// are printed escaped.
#[test]
fn control_characters_in_account_names_are_escaped_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("forged.ndjson");
    let name = "mallory\u{1b}[2J\r\n  alerts                  0\u{202e}";
    let forged = forged_okta(None, &[name], |r, name| {
        r["actor"]["alternateId"] = Value::from(*name);
    });
    std::fs::write(&events, forged).unwrap();
    let out = driftwatch(&[
        "replay",
        "--config",
        "driftwatch.example.toml",
        events.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stderr(&out);
    assert!(
        !summary.contains('\u{1b}') && !summary.contains('\r'),
        "{summary:?}"
    );
    assert!(!summary.contains('\u{202e}'), "{summary:?}");
    assert_eq!(
        summary
            .lines()
            .filter(|l| l.trim_start().starts_with("alerts"))
            .count(),
        1,
        "{summary}"
    );
    assert!(
        summary.contains("mallory\\u{1b}[2j\\u{d}\\u{a}"),
        "{summary}"
    );
}

/// Issue 17, item 13: `geoip lookup` without a database says so and exits 2, instead of
/// printing an empty answer that reads as "nothing known about this address".
#[test]
fn geoip_lookup_without_a_database_is_a_usage_error() {
    let out = driftwatch(&["geoip", "lookup", "203.0.113.9"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no GeoIP database"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

/// Issue 17, item 14: a replay that could read none of its records fails (exit 1) instead
/// of passing for a quiet day; one with some readable records still succeeds.
#[test]
fn a_replay_whose_every_record_was_rejected_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.log");
    std::fs::write(&junk, "not a log line\n{\"also\": \"not one\"}\n").unwrap();
    let out = driftwatch(&[
        "replay",
        "--config",
        "driftwatch.example.toml",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("none of the 2 records could be read"),
        "{}",
        stderr(&out)
    );
    // The wrong format for good records: the same.
    let wrong = driftwatch(&[
        "replay",
        "--config",
        "driftwatch.example.toml",
        "--format",
        "cisco_asa",
        "examples/events/okta-system-log.ndjson",
    ]);
    assert_eq!(wrong.status.code(), Some(1), "{}", stderr(&wrong));
    let mixed = driftwatch(&[
        "replay",
        "--config",
        "driftwatch.example.toml",
        "examples/events/broken-records.log",
        "examples/events/cisco-asa.log",
    ]);
    assert!(mixed.status.success(), "{}", stderr(&mixed));
}

/// Issue 17, item 7: one roster row must not blind another employee in silence. A new hire
/// E1013 with `eklein@personal.example` makes the bare account `eklein` (E1005's VPN name)
/// ambiguous: check-config names both rows and fails; replay counts those logins as
/// ambiguous, naming both employees, instead of folding them into unknown accounts.
#[test]
fn an_account_that_matches_two_employees_is_reported_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let mut roster = std::fs::read_to_string(root().join("examples/roster.csv")).unwrap();
    roster.push_str("E1013,eklein@personal.example,Payments,US,Texas,Dallas,32.7767,-96.7970,America/Chicago,09:00-17:00 Mon-Fri,2026-11-01,active,,,\n");
    let roster_path = dir.path().join("roster.csv");
    std::fs::write(&roster_path, roster).unwrap();
    let config = ExampleConfig::with(
        "ambiguous",
        "path = \"examples/roster.csv\"",
        &format!("path = {:?}", roster_path.display().to_string()),
    );
    let check = driftwatch(&["check-config", "--config", config.path()]);
    let replay = driftwatch(&["replay", "--config", config.path(), "examples/events/"]);
    assert_eq!(check.status.code(), Some(2), "{}", stderr(&check));
    let err = stderr(&check);
    assert!(
        err.contains("\"eklein\"") && err.contains("E1005 and E1013"),
        "{err}"
    );
    assert!(replay.status.success(), "{}", stderr(&replay));
    let summary = stderr(&replay);
    let line = summary
        .lines()
        .find(|l| l.trim_start().starts_with("AMBIGUOUS"))
        .unwrap_or_else(|| panic!("no AMBIGUOUS line:\n{summary}"));
    assert!(line.contains("eklein (E1005, E1013)"), "{line}");
}

/// Issue 17, item 10: a truncated gzip no longer aborts the whole replay. The other inputs
/// are read whole (their alerts are written), the broken one is named in the summary, and
/// the run exits 1. A compliance report over it fails: figures over part of an input would
/// be wrong.
#[test]
fn a_truncated_gzip_is_reported_and_the_other_inputs_are_finished() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let okta = std::fs::read(root().join("examples/events/okta-system-log.ndjson")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&okta).unwrap();
    let mut bytes = gz.finish().unwrap();
    bytes.truncate(bytes.len() / 2);
    let broken = dir.path().join("okta-truncated.ndjson.gz");
    std::fs::write(&broken, &bytes).unwrap();
    let out = driftwatch(&[
        "replay",
        "--config",
        "driftwatch.example.toml",
        broken.to_str().unwrap(),
        "examples/events/cisco-asa.log",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let summary = stderr(&out);
    assert!(
        summary.contains("BROKEN INPUT") && summary.contains("okta-truncated.ndjson.gz"),
        "{summary}"
    );
    let alerts = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert!(
        alerts.iter().any(|a| a["employee_id"] == "E1005"),
        "the ASA log was read to its end: {alerts:#?}"
    );
    let report = dir.path().join("report.json");
    let out = driftwatch(&[
        "report",
        "--config",
        "driftwatch.example.toml",
        "--from",
        "2026-11-01",
        "--to",
        "2026-12-01",
        "--format",
        "json",
        "--out",
        report.to_str().unwrap(),
        broken.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("okta-truncated.ndjson.gz"),
        "{}",
        stderr(&out)
    );
    assert!(!report.exists(), "no report from part of an input");
}

/// Issue 17, item 6: the dead-letter file does not amplify its input. A small gzip of NUL
/// lines keeps each record as base64 (JSON would write every NUL as six bytes), and the file
/// stops at `[dead_letter] max_bytes`; what was not written is counted in the summary.
#[test]
fn the_dead_letter_file_is_bounded_and_counts_what_it_cut() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..200_000 {
        gz.write_all(b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\n").unwrap();
    }
    let bomb = dir.path().join("nul.log.gz");
    std::fs::write(&bomb, gz.finish().unwrap()).unwrap();
    let config = ExampleConfig::with("dlq", "\nmax_bytes = 268435456\n", "\nmax_bytes = 200000\n");
    let dlq = dir.path().join("dlq.jsonl");
    let out = driftwatch(&[
        "replay",
        "--config",
        config.path(),
        "--dead-letter",
        dlq.to_str().unwrap(),
        bomb.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "nothing readable: {}",
        stderr(&out)
    );
    let size = std::fs::metadata(&dlq).unwrap().len();
    assert!(size <= 200_000, "{size} bytes");
    let dead = json_lines(&std::fs::read_to_string(&dlq).unwrap());
    assert!(dead.len() > 100, "{}", dead.len());
    assert!(dead[0]["record"].is_null(), "{}", dead[0]);
    assert_eq!(dead[0]["record_base64"], "AAAAAAAAAAAAAAAAAAAAAA==");
    let summary = stderr(&out);
    let cut = summary
        .lines()
        .find(|l| l.trim_start().starts_with("NOT WRITTEN"))
        .unwrap_or_else(|| panic!("{summary}"));
    let n: u64 = cut.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert_eq!(n + dead.len() as u64, 200_000, "{summary}");
}

/// Issue 17, item 2: `run` with a malformed roster is a configuration error (exit 2), found
/// before it listens or connects to anything.
#[test]
fn run_with_a_broken_roster_exits_2_before_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("roster.csv");
    std::fs::write(&roster, "employee_id,aliases\nE1,\n").unwrap();
    let config = ExampleConfig::with(
        "run",
        "path = \"examples/roster.csv\"",
        &format!("path = {:?}", roster.display().to_string()),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["run", "--config", config.path()])
        .current_dir(root())
        .output()
        .unwrap();
    drop(config);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("roster"), "{err}");
    assert!(!err.contains("serving"), "it listened first: {err}");
}

/// Issue 17, item 12: logins from addresses that place nobody (unspecified, loopback,
/// private, multicast, link-local) are counted apart in the summary, not passed off as
/// ordinary logins; documentation and public addresses are not.
#[test]
fn unroutable_addresses_are_counted_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let text = forged_okta(
        Some("bcarter@corp.example"),
        &[
            "0.0.0.0",
            "127.0.0.1",
            "10.1.2.3",
            "224.0.0.1",
            "fe80::1",
            "203.0.113.20",
        ],
        |r, ip| r["client"]["ipAddress"] = Value::from(*ip),
    );
    let events = dir.path().join("internal.ndjson");
    std::fs::write(&events, text).unwrap();
    let out = driftwatch(&[
        "replay",
        "--config",
        "driftwatch.example.toml",
        events.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        summary_count(&stderr(&out), "unroutable"),
        5,
        "{}",
        stderr(&out)
    );
}

/// Issue 17, item 9: a name that folds onto an employee's alias only through Unicode
/// normalisation (`Ksato@corp.example` with U+212A KELVIN SIGN, fullwidth letters) is another
/// account: it resolves to nobody and the summary names whom it imitates.
#[test]
fn an_account_name_imitating_an_employee_through_unicode_is_refused_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let text = forged_okta(
        None,
        &["\u{212a}sato@corp.example", "ｋｓａｔｏ@corp.example"],
        |r, name| r["actor"]["alternateId"] = Value::from(*name),
    );
    let events = dir.path().join("confusable.ndjson");
    std::fs::write(&events, text).unwrap();
    let out = driftwatch(&[
        "replay",
        "--config",
        "driftwatch.example.toml",
        events.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stderr(&out);
    let line = summary
        .lines()
        .find(|l| l.trim_start().starts_with("CONFUSABLE"))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(line.contains("→ E1009"), "{line}");
    assert!(
        line.trim_start()["CONFUSABLE".len()..]
            .trim_start()
            .starts_with('2'),
        "{line}"
    );
    assert!(!summary.contains("state "), "nobody was judged: {summary}");
}

/// A copy of `examples/events` in `dir`, to forge records into.
fn copy_of_examples(dir: &Path) -> PathBuf {
    let events = dir.join("events");
    std::fs::create_dir(&events).unwrap();
    for entry in std::fs::read_dir(root().join("examples/events")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, events.join(path.file_name().unwrap())).unwrap();
    }
    events
}

/// The example events dealt round-robin into `files` files (most of them empty when there
/// are more files than lines), every file covering the same weeks: the worst case for a
/// merge that may hold only a few inputs open.
fn dealt_examples(dir: &Path, files: usize) -> PathBuf {
    let out = dir.join("dealt");
    std::fs::create_dir(&out).unwrap();
    let mut names: Vec<PathBuf> = std::fs::read_dir(root().join("examples/events"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    names.sort();
    let mut lines = Vec::new();
    for name in names {
        let text = std::fs::read_to_string(name).unwrap();
        lines.extend(text.lines().map(str::to_owned));
    }
    let mut bodies = vec![String::new(); files];
    for (i, line) in lines.iter().enumerate() {
        bodies[i % files].push_str(line);
        bodies[i % files].push('\n');
    }
    for (i, body) in bodies.iter().enumerate() {
        std::fs::write(out.join(format!("part-{i:05}.log")), body).unwrap();
    }
    out
}

fn replay_dealt(dir: &Path, max_open: usize, ulimit: u32) -> Output {
    // The shell's `ulimit -n` bounds the file descriptors of the replay it executes.
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {ulimit} && exec \"$0\" replay --config driftwatch.example.toml --no-progress --max-open-inputs {max_open} \"$1\""
        ))
        .arg(env!("CARGO_BIN_EXE_driftwatch"))
        .arg(dir)
        .current_dir(root())
        .output()
        .unwrap()
}

#[test]
fn a_merge_holding_few_inputs_open_writes_what_holding_all_open_writes() {
    let dir = tempfile::tempdir().unwrap();
    let dealt = dealt_examples(dir.path(), 300);
    let all = replay_dealt(&dealt, 1000, 4096);
    assert!(all.status.success(), "{}", stderr(&all));
    let alerts = json_lines(&String::from_utf8_lossy(&all.stdout));
    assert!(
        alerts.len() >= 3,
        "the examples raise alerts: {}",
        stderr(&all)
    );
    for max_open in [2, 3, 17] {
        let few = replay_dealt(&dealt, max_open, 4096);
        assert!(few.status.success(), "{}", stderr(&few));
        assert_eq!(
            String::from_utf8_lossy(&few.stdout),
            String::from_utf8_lossy(&all.stdout),
            "--max-open-inputs {max_open} changed the alerts"
        );
        // The same records counted: the summary's figures (not its timing) agree.
        let figures = |o: &Output| -> Vec<String> {
            stderr(o)
                .lines()
                .filter(|l| !l.contains(" in ") && !l.contains("/s"))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(figures(&few), figures(&all), "--max-open-inputs {max_open}");
    }
}

#[test]
fn ten_thousand_inputs_replay_under_a_128_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let dealt = dealt_examples(dir.path(), 10_000);
    let out = replay_dealt(&dealt, 64, 128);
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert!(alerts.len() >= 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("295 records from 10000 input(s)"),
        "{}",
        stderr(&out)
    );
}

/// `driftwatch replay` with `DRIFTWATCH_LOG` and `DRIFTWATCH_LOG_FORMAT` set, stderr.
fn replay_logs(format: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_driftwatch"));
    command
        .args([
            "replay",
            "--config",
            "driftwatch.example.toml",
            "examples/events/",
        ])
        .current_dir(root())
        .env("DRIFTWATCH_LOG", "debug")
        .env_remove("NO_COLOR");
    match format {
        Some(f) => command.env("DRIFTWATCH_LOG_FORMAT", f),
        None => command.env_remove("DRIFTWATCH_LOG_FORMAT"),
    };
    command.output().expect("run driftwatch")
}

#[test]
fn logs_are_json_lines_when_asked_and_never_coloured_off_a_terminal() {
    let json = replay_logs(Some("json"));
    assert!(json.status.success(), "{}", stderr(&json));
    let text = stderr(&json);
    // The logs, then replay's summary (plain text, not a log).
    let logs: Vec<Value> = text
        .lines()
        .take_while(|l| !l.starts_with("driftwatch replay:"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert!(logs.len() >= 3, "the databases' debug lines:\n{text}");
    for log in &logs {
        assert_eq!(log["level"], "DEBUG", "{log}");
        assert!(log["timestamp"].is_string(), "{log}");
        assert!(
            log["target"].as_str().unwrap().starts_with("driftwatch"),
            "{log}"
        );
        assert!(log["fields"]["message"].is_string(), "{log}");
    }
    assert!(
        logs.iter()
            .any(|l| l["fields"]["path"] == "examples/geoip/demo-city.mmdb"),
        "fields are kept as JSON fields:\n{text}"
    );

    // Text, the default, through a pipe: no escape codes for a collector to store.
    let plain = replay_logs(None);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let text = stderr(&plain);
    assert!(text.contains("database opened"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "ANSI escapes off a terminal:\n{text}"
    );

    let wrong = replay_logs(Some("xml"));
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
    assert!(
        stderr(&wrong).contains("DRIFTWATCH_LOG_FORMAT=\"xml\" is not a log format"),
        "{}",
        stderr(&wrong)
    );
}
