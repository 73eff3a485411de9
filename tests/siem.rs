//! SIEM alert formats through the real binary: `driftwatch replay --alerts-format
//! driftwatch|ocsf|ecs` over the shipped example company and a simulated one (every kind of
//! evidence), every OCSF line validated against the OCSF schema source and every ECS line
//! against the ECS field list in `../shared/reference/` (read at test time), the three
//! formats read back to the same alerts, `evaluate --alerts` on an OCSF file, a `file`
//! and a `webhook` destination with `format`, and `format` refused where the receiver fixes
//! the shape.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use driftwatch::alert::Alert;
use serde_json::{Value, json};

mod support;

use support::siem::{OCSF_ABSENT, OcsfCheck, check_ecs, ocsf_schema, validate_ocsf};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn driftwatch(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(args)
        .current_dir(repo(""))
        .output()
        .expect("run driftwatch")
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// A simulated company (300 employees, 30 days, seed 1): every detector fires, so its
/// alerts carry every kind of evidence (travel, sessions, clusters, baselines, hours).
fn simulated() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = driftwatch(&[
            os("simulate"),
            os("--out"),
            dir.path().as_os_str(),
            os("--employees"),
            os("300"),
            os("--days"),
            os("30"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .path()
}

/// The two companies: (name, config, events).
fn companies() -> Vec<(&'static str, PathBuf, PathBuf)> {
    vec![
        (
            "examples",
            repo("driftwatch.example.toml"),
            repo("examples/events"),
        ),
        (
            "simulated",
            simulated().join("driftwatch.toml"),
            simulated().join("events"),
        ),
    ]
}

/// `driftwatch replay --alerts-format <format>`: its lines.
fn replay(config: &Path, events: &Path, format: &str) -> Vec<String> {
    let out = driftwatch(&[
        os("replay"),
        os("--no-progress"),
        os("--alerts-format"),
        os(format),
        os("--config"),
        config.as_os_str(),
        events.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn replay_all(format: &str) -> Vec<(String, Vec<String>)> {
    companies()
        .into_iter()
        .map(|(name, config, events)| (name.to_owned(), replay(&config, &events, format)))
        .collect()
}

#[test]
fn ocsf_lines_of_real_replays_validate_against_the_schema() {
    let schema = ocsf_schema();
    assert_eq!(schema.class_uid, 2004);
    let lines = replay_all("ocsf");
    let n: usize = lines.iter().map(|(_, l)| l.len()).sum();
    assert!(n >= 15, "only {n} alert lines");
    let absent = validate_ocsf(schema, &lines);
    let stale: Vec<&str> = OCSF_ABSENT
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !absent.contains(*k))
        .collect();
    assert!(
        stale.is_empty(),
        "OCSF_ABSENT explains what is not absent: {stale:?}"
    );

    let all: Vec<Value> = lines
        .iter()
        .flat_map(|(_, l)| l.iter().map(|x| serde_json::from_str::<Value>(x).unwrap()))
        .collect();
    // Both ATT&CK techniques occur, T1133 exactly on the alerts with a VPN login.
    for v in &all {
        let alert: Alert = serde_json::from_value(v["unmapped"]["driftwatch"].clone()).unwrap();
        let vpn = alert.evidence.iter().any(|e| {
            matches!(e, driftwatch::alert::Evidence::Login { kind, .. } if kind.as_str().starts_with("vpn"))
        });
        let techniques: Vec<&str> = v["finding_info"]["attacks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["technique"]["uid"].as_str().unwrap())
            .collect();
        let want: &[&str] = if vpn { &["T1078", "T1133"] } else { &["T1078"] };
        assert_eq!(techniques, want, "{}", alert.id);
        assert_eq!(v["finding_info"]["uid"], json!(alert.id));
        assert_eq!(v["risk_score"], json!(alert.risk));
    }
    assert!(
        all.iter()
            .any(|v| v["finding_info"]["attacks"].as_array().unwrap().len() == 2)
    );
    // The evidence of the simulated company reaches every home: a login's place and
    // network, a travel's address, a session's.
    let names: BTreeSet<&str> = all
        .iter()
        .flat_map(|v| v["evidences"].as_array().unwrap())
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for kind in [
        "login", "claimed", "travel", "session", "cluster", "baseline", "hours", "share",
    ] {
        assert!(names.contains(kind), "no {kind} evidence in {names:?}");
    }
    assert!(all.iter().any(
        |v| v["evidences"][0]["src_endpoint"]["location"]["country"].is_string()
            && v["evidences"][0]["src_endpoint"]["autonomous_system"]["number"].is_u64()
    ));
}

/// A valid OCSF line of the example company.
fn one_ocsf_line() -> Value {
    let (_, config, events) = companies().remove(0);
    serde_json::from_str(&replay(&config, &events, "ocsf")[0]).unwrap()
}

#[test]
fn the_ocsf_validator_rejects_broken_lines() {
    let schema = ocsf_schema();
    let good = one_ocsf_line();
    assert!(OcsfCheck::line(schema, &good).0.is_empty());
    type Break = fn(&mut Value);
    let cases: [(&str, Break, &str); 8] = [
        (
            "required missing",
            |v| drop(v["finding_info"].as_object_mut().unwrap().remove("uid")),
            "finding_info.uid: required, missing",
        ),
        (
            "undefined attribute",
            |v| v["finding_info"]["colour"] = json!("red"),
            "finding_info.colour: not an attribute",
        ),
        (
            "enum value",
            |v| v["severity_id"] = json!(7),
            "severity_id: 7 is not one of",
        ),
        (
            "sibling caption",
            |v| v["severity"] = json!("Informational"),
            "but severity says",
        ),
        (
            "timestamp as text",
            |v| v["time"] = json!("2026-11-02T14:05:10Z"),
            "time: wrong type (timestamp_t)",
        ),
        (
            "an address that is not one",
            |v| v["evidences"][0]["src_endpoint"]["ip"] = json!("not-an-ip"),
            "evidences[].src_endpoint.ip: wrong type (ip_t)",
        ),
        (
            "attribute of a profile not applied",
            |v| v["attacks"] = v["finding_info"]["attacks"].clone(),
            "attacks: not an attribute",
        ),
        (
            "constraint",
            |v| v["finding_info"]["attacks"][0] = json!({"version": "17"}),
            "needs at least one of",
        ),
    ];
    for (what, broken, expect) in cases {
        let mut v = good.clone();
        broken(&mut v);
        let (errors, _) = OcsfCheck::line(schema, &v);
        assert!(
            errors.iter().any(|e| e.contains(expect)),
            "{what}: expected {expect:?} in {errors:?}"
        );
    }
    // A recommended attribute left out without a reason fails the whole validation.
    let mut v = good.clone();
    v.as_object_mut().unwrap().remove("evidences");
    let r = std::panic::catch_unwind(|| {
        validate_ocsf(schema, &[("broken".into(), vec![v.to_string()])])
    });
    let why = r.unwrap_err();
    let why = why.downcast_ref::<String>().unwrap();
    assert!(why.contains("recommended evidences is absent"), "{why}");
}

fn get<'a>(v: &'a Value, dotted: &str) -> &'a Value {
    if let Some(x) = v.get(dotted) {
        return x;
    }
    dotted.split('.').fold(v, |x, k| &x[k])
}

#[test]
fn ecs_lines_of_real_replays_validate_against_the_field_list() {
    let lines = replay_all("ecs");
    let mut errors = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    // Present on every line.
    let always = [
        "@timestamp",
        "event.kind",
        "event.created",
        "event.id",
        "event.risk_score",
        "rule.name",
        "rule.id",
        "user.id",
        "user.name",
        "source.ip",
        "threat.framework",
        "threat.technique.id",
        "threat.technique.name",
        "user.risk.calculated_score",
        "user.risk.calculated_level",
        "ecs.version",
    ];
    // Present where the alert has them (a placed address, an e-mail account).
    let somewhere = [
        "user.email",
        "source.geo.country_iso_code",
        "source.geo.city_name",
        "source.geo.location",
        "source.as.number",
        "source.as.organization.name",
    ];
    for (company, lines) in &lines {
        for (i, line) in lines.iter().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            let at = format!("{company} line {}", i + 1);
            errors.extend(check_ecs(&v).into_iter().map(|e| format!("{at}: {e}")));
            for f in always {
                if get(&v, f).is_null() {
                    errors.push(format!("{at}: {f} missing"));
                }
            }
            for f in somewhere {
                if !get(&v, f).is_null() {
                    seen.insert(f);
                }
            }
            if v["event"]["kind"] != "alert" {
                errors.push(format!("{at}: event.kind is not alert"));
            }
            let alert: Alert = serde_json::from_value(v["driftwatch"]["alert"].clone()).unwrap();
            let login_ip = alert.evidence.iter().find_map(|e| match e {
                driftwatch::alert::Evidence::Login { time, ip, .. } if *time == alert.time => {
                    Some(ip.to_string())
                }
                _ => None,
            });
            if v["source"]["ip"].as_str().map(str::to_owned) != login_ip {
                errors.push(format!("{at}: source.ip is not the triggering login's"));
            }
            if v["event"]["id"] != json!(alert.id) || v["user"]["id"] != json!(alert.employee_id) {
                errors.push(format!("{at}: event.id / user.id are not the alert's"));
            }
        }
    }
    for f in somewhere {
        if !seen.contains(f) {
            errors.push(format!("{f} on no line"));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn the_ecs_validator_rejects_broken_lines() {
    let (_, config, events) = companies().remove(0);
    let good: Value = serde_json::from_str(&replay(&config, &events, "ecs")[0]).unwrap();
    assert_eq!(check_ecs(&good), Vec::<String>::new());
    type Break = fn(&mut Value);
    let cases: [(Break, &str); 6] = [
        (
            |v| v["source"]["geo"]["colour"] = json!("red"),
            "source.geo.colour: not an ECS field",
        ),
        (
            |v| v["source"]["ip"] = json!("not-an-ip"),
            "source.ip: \"not-an-ip\" is not a ip",
        ),
        (
            |v| v["event"]["severity"] = json!("high"),
            "event.severity: \"high\" is not a long",
        ),
        (
            |v| v["rule"]["name"] = json!(["a", "b"]),
            "rule.name: an array",
        ),
        (
            |v| v["@timestamp"] = json!("yesterday"),
            "@timestamp: \"yesterday\" is not a date",
        ),
        (
            |v| v["source"]["geo"]["location"] = json!({"lat": 95.0, "lon": 0.0}),
            "is not a geo_point",
        ),
    ];
    for (broken, expect) in cases {
        let mut v = good.clone();
        broken(&mut v);
        let errors = check_ecs(&v);
        assert!(
            errors.iter().any(|e| e.contains(expect)),
            "expected {expect:?} in {errors:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// One set of alerts, three formats.
// ---------------------------------------------------------------------------------------

#[test]
fn every_format_reads_back_to_the_alerts_of_the_driftwatch_format() {
    for (name, config, events) in companies() {
        let plain: Vec<Alert> = replay(&config, &events, "driftwatch")
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for format in ["driftwatch", "ocsf", "ecs"] {
            let back: Vec<Alert> = replay(&config, &events, format)
                .iter()
                .map(|l| driftwatch::siem::read_alert(l.as_bytes()).unwrap())
                .collect();
            assert_eq!(back, plain, "{name} {format}");
        }
    }
}

#[test]
fn evaluate_scores_ocsf_and_ecs_alert_files_as_the_driftwatch_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = simulated().join("driftwatch.toml");
    let events = simulated().join("events");
    let truth = simulated().join("truth.json");
    let mut outputs = Vec::new();
    for format in ["driftwatch", "ocsf", "ecs"] {
        let file = dir.path().join(format!("{format}.jsonl"));
        std::fs::write(&file, replay(&config, &events, format).join("\n") + "\n").unwrap();
        let out = driftwatch(&[
            os("evaluate"),
            os("--json"),
            os("--truth"),
            truth.as_os_str(),
            os("--alerts"),
            file.as_os_str(),
        ]);
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(String::from_utf8(out.stdout).unwrap());
    }
    assert!(outputs[0].contains("recall"), "{}", outputs[0]);
    assert_eq!(outputs[1], outputs[0], "ocsf");
    assert_eq!(outputs[2], outputs[0], "ecs");
    // A line that is no alert is named, not skipped.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"class_uid\":2004}\n").unwrap();
    let out = driftwatch(&[
        os("evaluate"),
        os("--truth"),
        truth.as_os_str(),
        os("--alerts"),
        bad.as_os_str(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.jsonl line 1") && err.contains("unmapped.driftwatch"),
        "{err}"
    );
}

#[test]
fn replays_in_each_format_are_byte_identical_run_to_run() {
    let (_, config, events) = companies().remove(0);
    for format in ["ocsf", "ecs"] {
        assert_eq!(
            replay(&config, &events, format),
            replay(&config, &events, format)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Destinations.
// ---------------------------------------------------------------------------------------

/// The example config with absolute paths and `destinations` (`[[route.destination]]`
/// tables) added to its `[route]` section.
fn config_with_route(dir: &Path, destinations: &str) -> PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(repo("driftwatch.example.toml"))
        .unwrap()
        .replace("= \"examples/", &format!("= \"{root}/examples/"))
        .replace("= \"geoip/", &format!("= \"{root}/geoip/"));
    assert!(
        text.contains("\n[route]\n"),
        "the example config has a [route] section"
    );
    let path = dir.join("driftwatch.toml");
    // An array of tables may follow later sections: these join the example's [route].
    std::fs::write(&path, format!("{text}\n{destinations}\n")).unwrap();
    path
}

#[test]
fn file_and_webhook_destinations_write_the_format_they_are_given() {
    let dir = tempfile::tempdir().unwrap();
    let rx = support::receiver::Receiver::default();
    let (addr, _runtime) = support::receiver::start_receiver(&rx);
    let ocsf_file = dir.path().join("ocsf.jsonl");
    let plain_file = dir.path().join("plain.jsonl");
    let config = config_with_route(
        dir.path(),
        &format!(
            "[[route.destination]]\nname = \"siem-file\"\nkind = \"file\"\npath = {:?}\nformat = \"ocsf\"\n\n\
             [[route.destination]]\nname = \"plain-file\"\nkind = \"file\"\npath = {:?}\n\n\
             [[route.destination]]\nname = \"elastic\"\nkind = \"webhook\"\nurl = \"http://{addr}/ecs\"\nformat = \"ecs\"\n",
            ocsf_file.display(),
            plain_file.display()
        ),
    );
    let events = repo("examples/events");
    let out = driftwatch(&[
        os("replay"),
        os("--no-progress"),
        os("--route"),
        os("--config"),
        config.as_os_str(),
        events.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The OCSF file holds what `replay --alerts-format ocsf` writes, line for line.
    let file: Vec<String> = std::fs::read_to_string(&ocsf_file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let replayed = replay(&config, &events, "ocsf");
    assert_eq!(file, replayed);
    validate_ocsf(ocsf_schema(), &[("file destination".into(), file)]);
    // Without `format`, the driftwatch envelope as before.
    let plain = std::fs::read_to_string(&plain_file).unwrap();
    let first: Value = serde_json::from_str(plain.lines().next().unwrap()).unwrap();
    assert_eq!(first["source"], "driftwatch");
    assert!(first["alert"]["id"].is_string() && first["dedup_key"] == first["alert"]["id"]);
    // The webhook got ECS documents, keyed for idempotency by the alert id.
    let got = rx.on("/ecs");
    assert_eq!(got.len(), replayed.len());
    for r in &got {
        assert_eq!(check_ecs(&r.body), Vec::<String>::new());
        assert_eq!(r.body["event"]["kind"], "alert");
        assert_eq!(
            r.headers["idempotency-key"].to_str().unwrap(),
            r.body["event"]["id"].as_str().unwrap()
        );
    }
}

#[test]
fn format_where_the_receiver_fixes_the_shape_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_route(
        dir.path(),
        "[[route.destination]]\nname = \"am\"\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:9\"\nformat = \"ocsf\"\n\n\
         [[route.destination]]\nname = \"pd\"\nkind = \"pagerduty\"\nrouting_key = \"k\"\nformat = \"ecs\"\n\n\
         [[route.destination]]\nname = \"slack\"\nkind = \"slack\"\nurl = \"http://127.0.0.1:9\"\nformat = \"driftwatch\"\n\n\
         [[route.destination]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9\"\nformat = \"ecs\"\n",
    );
    let out = driftwatch(&[os("check-config"), os("--config"), config.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for (entry, kind) in [(1, "alertmanager"), (2, "pagerduty"), (3, "slack")] {
        assert!(
            err.contains(&format!(
                "route.destination (entry {entry}).format: \"{}\" cannot apply to a {kind} destination",
                ["ocsf", "ecs", "driftwatch"][entry - 1]
            )),
            "{err}"
        );
    }
    assert!(!err.contains("entry 4"), "{err}");
    // An unknown format is refused by name.
    let config = config_with_route(
        dir.path(),
        "[[route.destination]]\nname = \"hook\"\nkind = \"file\"\npath = \"-\"\nformat = \"cef\"\n",
    );
    let out = driftwatch(&[os("check-config"), os("--config"), config.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cef") && err.contains("ocsf"), "{err}");
}

#[test]
fn an_unknown_alerts_format_is_a_usage_error() {
    let out = driftwatch(&[
        os("replay"),
        os("--alerts-format"),
        os("cef"),
        repo("examples/events").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("driftwatch") && err.contains("ocsf") && err.contains("ecs"),
        "{err}"
    );
}
