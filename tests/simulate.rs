//! `driftwatch simulate`: a small population through the library and the binary, checked
//! with the rest of driftwatch (check-config, replay, geoip lookup).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use driftwatch::simulate::{self, Params, Scenario, Simulation};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_driftwatch");

fn small(seed: u64) -> Params {
    Params {
        employees: 60,
        days: 10,
        seed,
        ..Params::default()
    }
}

fn generate(dir: &Path, seed: u64) -> simulate::Written {
    let sim = Simulation::new(small(seed)).unwrap();
    simulate::write(&sim, dir, false).unwrap()
}

/// Every file under `dir`, by relative path, with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn truth(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap()
}

fn lookup(config: &Path, ip: &str) -> Value {
    let out = ok(&["geoip", "lookup", "--config", config.to_str().unwrap(), ip]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["enrichment"].clone()
}

/// The figure after `label` on the replay summary line that starts with it.
fn summary_count(stderr: &str, label: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{stderr}"));
    line.trim_start()[label.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn same_seed_same_bytes_other_seed_other_events() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    generate(a.path(), 7);
    generate(b.path(), 7);
    generate(c.path(), 8);
    let (ta, tb, tc) = (tree(a.path()), tree(b.path()), tree(c.path()));
    assert_eq!(ta.len(), 12, "{:?}", ta.keys().collect::<Vec<_>>());
    assert_eq!(ta, tb);
    let okta = Path::new("events/okta.ndjson");
    assert_ne!(ta[okta], tc[okta]);
    assert_ne!(ta[Path::new("roster.csv")], tc[Path::new("roster.csv")]);
}

#[test]
fn events_are_sorted_and_okta_records_are_okta_sized() {
    let dir = tempfile::tempdir().unwrap();
    let written = generate(dir.path(), 3);
    let text = std::fs::read_to_string(dir.path().join("events/okta.ndjson")).unwrap();
    let times: Vec<String> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["published"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(times.len() as u64, written.truth.summary.okta_events);
    let mean = text.len() / times.len();
    assert!((1200..2200).contains(&mean), "mean record {mean} bytes");
    let vpn = std::fs::read_to_string(dir.path().join("events/vpn-cisco-asa.log")).unwrap();
    let stamps: Vec<chrono::NaiveDateTime> = vpn
        .lines()
        .map(|l| {
            // `<166>Oct 01 2026 13:12:35 vpn-edge-1 : %ASA-...`
            let stamp = &l[5..25];
            chrono::NaiveDateTime::parse_from_str(stamp, "%b %d %Y %H:%M:%S").unwrap()
        })
        .collect();
    assert_eq!(stamps.len() as u64, written.truth.summary.vpn_events);
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn every_scenario_is_planted_with_its_truth() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 1);
    let t = truth(dir.path());
    let entries = t["employees"].as_array().unwrap();
    assert_eq!(entries.len(), 60);
    for s in Scenario::PLANTED {
        let of: Vec<&Value> = entries
            .iter()
            .filter(|e| e["scenario"] == s.name())
            .collect();
        assert!(!of.is_empty(), "{s:?} missing");
        for e in of {
            let label = if s.is_fraudulent() {
                "fraudulent"
            } else {
                "legitimate"
            };
            assert_eq!(e["label"], label);
            assert!(!e["expected_rules"].as_array().unwrap().is_empty());
            assert!(e["first_anomalous_event"].is_string(), "{e}");
        }
    }
    let baseline = entries
        .iter()
        .find(|e| e["scenario"] == "baseline")
        .unwrap();
    assert!(baseline["first_anomalous_event"].is_null());
    assert_eq!(t["summary"]["fraudulent"], 6);
}

#[test]
fn the_binary_writes_a_company_driftwatch_reads_without_a_reject() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("company");
    let out = ok(&[
        "simulate",
        "--out",
        out_dir.to_str().unwrap(),
        "--employees",
        "60",
        "--days",
        "10",
        "--seed",
        "5",
        "--gzip",
    ]);
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(listed.contains("okta.ndjson.gz"), "{listed}");
    let config = out_dir.join("driftwatch.toml");
    let checked = ok(&["check-config", "--config", config.to_str().unwrap()]);
    let checked = String::from_utf8(checked.stdout).unwrap();
    assert!(checked.contains("roster: 60 employee(s)"), "{checked}");
    assert_eq!(checked.matches("  geoip: ").count(), 3, "{checked}");
    assert_eq!(checked.matches("  list: ").count(), 3, "{checked}");

    let replay = ok(&[
        "replay",
        "--no-progress",
        "--config",
        config.to_str().unwrap(),
        "--alerts-out",
        dir.path().join("alerts.jsonl").to_str().unwrap(),
        out_dir.join("events").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8(replay.stderr).unwrap();
    let t = truth(&out_dir);
    let events = t["summary"]["okta_events"].as_u64().unwrap()
        + t["summary"]["vpn_events"].as_u64().unwrap();
    assert_eq!(summary_count(&stderr, "decoded"), events, "{stderr}");
    assert_eq!(summary_count(&stderr, "rejected"), 0, "{stderr}");
    assert_eq!(summary_count(&stderr, "unknown users"), 0, "{stderr}");
}

#[test]
fn geoip_says_what_the_scenarios_claim() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 1);
    let config = dir.path().join("driftwatch.toml");
    let t = truth(dir.path());
    let entries = t["employees"].as_array().unwrap();
    let ips_of = |scenario: &str| -> BTreeSet<String> {
        entries
            .iter()
            .filter(|e| e["scenario"] == scenario)
            .flat_map(|e| e["planted_ips"].as_array().unwrap().iter())
            .map(|ip| ip.as_str().unwrap().to_owned())
            .collect()
    };

    // The laptop farm: one US residential address, not an anonymizer.
    let farm = ips_of("laptop_farm");
    assert_eq!(farm.len(), 1, "{farm:?}");
    let geo = lookup(&config, farm.first().unwrap());
    assert_eq!(geo["country"], "US", "{geo}");
    assert!(geo["anonymous"].is_null(), "{geo}");
    assert!(geo["tags"].is_null(), "{geo}");
    assert!(geo["as_org"].is_string(), "{geo}");
    let claimed: BTreeSet<&str> = entries
        .iter()
        .filter(|e| e["scenario"] == "laptop_farm")
        .map(|e| e["employee_id"].as_str().unwrap())
        .collect();
    assert_eq!(claimed.len(), 3);

    // The China worker: among the planted addresses, CN hosting and the consumer VPN.
    let lookups: Vec<Value> = ips_of("vpn_hosting_china")
        .iter()
        .map(|ip| lookup(&config, ip))
        .collect();
    let cn_hosting = lookups.iter().any(|g| {
        g["country"] == "CN"
            && g["anonymous"]["is_hosting_provider"] == true
            && g["anonymous"]["is_anonymous"] == true
    });
    let vpn = lookups
        .iter()
        .any(|g| g["vpn_provider"] == "Astrill VPN" && g["anonymous"]["is_anonymous_vpn"] == true);
    assert!(cn_hosting, "{lookups:#?}");
    assert!(vpn, "{lookups:#?}");
}

#[test]
fn too_small_a_population_is_refused() {
    let err = Simulation::new(Params {
        employees: 5,
        ..Params::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("--employees 5"), "{err}");
    let out = run(&["simulate", "--out", "/nonexistent/x", "--employees", "5"]);
    assert_eq!(out.status.code(), Some(2));
}
