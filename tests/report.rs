//! `driftwatch report` through the binary, on a simulated company (`driftwatch simulate
//! --employees 60 --days 21 --seed 3`): the figures against counts made here from the raw
//! event files and against the ground truth, CSV and JSON parsed, the HTML opened in
//! headless Chromium (no console message, figures in the DOM, printable), pseudonyms that
//! leave no employee id behind, and dispositions from a real audit log.
//!
//! Chromium is Debian's `chromium` (`.ci/run` installs it); `DRIFTWATCH_CHROMIUM` may name
//! another binary. Without it the browser tests fail rather than pass unseen.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use driftwatch::audit::{AuditLog, Entry, Kind};
use driftwatch::report::pseudonym::Pseudonymiser;
use driftwatch::roster::EmployeeId;
use driftwatch::suppress::{Disposition, Verdict};

const BIN: &str = env!("CARGO_BIN_EXE_driftwatch");

/// The whole simulated span, and a week inside it.
const ALL: (&str, &str) = ("2026-09-01", "2026-12-01");
const WEEK: (&str, &str) = ("2026-10-08", "2026-10-15");

/// A simulated company in its own folder.
struct Sim {
    dir: tempfile::TempDir,
}

impl Sim {
    fn new() -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let out = run(Command::new(BIN)
            .args([
                "simulate",
                "--employees",
                "60",
                "--days",
                "21",
                "--seed",
                "3",
                "--out",
            ])
            .arg(dir.path()));
        assert!(out.status.success(), "simulate: {}", stderr(&out));
        Sim { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn config(&self) -> PathBuf {
        self.path("driftwatch.toml")
    }

    /// `driftwatch report` with `args` (period, format, …) over the event files, into `out`.
    fn report(&self, config: &Path, args: &[&str], out: &Path, envs: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("report")
            .arg("--config")
            .arg(config)
            .args(args)
            .arg("--out")
            .arg(out);
        cmd.arg(self.path("events"));
        cmd.env_remove("DRIFTWATCH_REPORT_KEY");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        run(&mut cmd)
    }

    /// The JSON report for `period`.
    fn json(&self, period: (&str, &str), extra: &[&str]) -> Value {
        let out = self.path("report.json");
        let mut args = vec!["--from", period.0, "--to", period.1, "--format", "json"];
        args.extend_from_slice(extra);
        let o = self.report(&self.config(), &args, &out, &[]);
        assert!(o.status.success(), "report: {}", stderr(&o));
        serde_json::from_slice(&std::fs::read(&out).unwrap()).expect("the JSON report parses")
    }

    fn truth(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path("truth.json")).unwrap()).unwrap()
    }

    /// Employee ids of a scenario.
    fn scenario(&self, name: &str) -> Vec<String> {
        let ids: Vec<String> = self.truth()["employees"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["scenario"] == name)
            .map(|e| e["employee_id"].as_str().unwrap().to_owned())
            .collect();
        assert!(!ids.is_empty(), "the simulation plants {name}");
        ids
    }

    /// (id, aliases) of every roster row.
    fn roster(&self) -> Vec<(String, Vec<String>)> {
        let mut r = csv::Reader::from_path(self.path("roster.csv")).unwrap();
        let headers = r.headers().unwrap().clone();
        let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
        let (id, aliases) = (col("employee_id"), col("aliases"));
        r.records()
            .map(|row| {
                let row = row.unwrap();
                (
                    row[id].to_owned(),
                    row[aliases]
                        .split(';')
                        .filter(|a| !a.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )
            })
            .collect()
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the command runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn at(s: &str) -> DateTime<Utc> {
    driftwatch::report::parse_bound(s).unwrap()
}

/// Interactive logins counted straight from the simulator's files, per account name
/// (lower case): Okta `user.session.start`, `user.authentication.sso` and
/// `user.authentication.auth_via_*` by a `User` actor, and AnyConnect 113039 session starts.
/// Returns (successful, failed) per account.
fn logins_in_files(sim: &Sim, period: (&str, &str)) -> HashMap<String, (u64, u64)> {
    let (from, to) = (at(period.0), at(period.1));
    let mut per: HashMap<String, (u64, u64)> = HashMap::new();
    for line in std::fs::read_to_string(sim.path("events/okta.ndjson"))
        .unwrap()
        .lines()
    {
        let r: Value = serde_json::from_str(line).unwrap();
        let t = r["eventType"].as_str().unwrap();
        let interactive = t == "user.session.start"
            || t == "user.authentication.sso"
            || t.starts_with("user.authentication.auth_via_");
        if !interactive || r["actor"]["type"] != "User" {
            continue;
        }
        let time: DateTime<Utc> = r["published"].as_str().unwrap().parse().unwrap();
        if !(from <= time && time < to) {
            continue;
        }
        let e = per
            .entry(r["actor"]["alternateId"].as_str().unwrap().to_lowercase())
            .or_default();
        if r["outcome"]["result"] == "FAILURE" {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }
    for line in std::fs::read_to_string(sim.path("events/vpn-cisco-asa.log"))
        .unwrap()
        .lines()
    {
        if !line.contains("%ASA-6-113039") {
            continue;
        }
        // `<166>Sep 30 2026 23:18:59 vpn-edge-1 : %ASA-6-113039: Group <G> User <U> IP <I> …`
        let stamp = &line[line.find('>').unwrap() + 1..][..20];
        let time = NaiveDateTime::parse_from_str(stamp, "%b %d %Y %H:%M:%S")
            .unwrap()
            .and_utc();
        if !(from <= time && time < to) {
            continue;
        }
        let user = line
            .split("User <")
            .nth(1)
            .unwrap()
            .split('>')
            .next()
            .unwrap();
        per.entry(user.to_lowercase()).or_default().0 += 1;
    }
    per
}

/// The same per employee. Accounts are matched to the roster by their user name: the
/// part after `DOMAIN\` and before `@`, lower case (the simulator gives every employee a
/// distinct one; the report's resolver is not used here).
fn logins_per_employee(sim: &Sim, period: (&str, &str)) -> HashMap<String, (u64, u64)> {
    let name = |account: &str| -> String {
        let a = account.rsplit('\\').next().unwrap_or(account);
        a.split('@').next().unwrap_or(a).to_lowercase()
    };
    let mut owner: HashMap<String, String> = HashMap::new();
    let mut per: HashMap<String, (u64, u64)> = HashMap::new();
    for (id, aliases) in sim.roster() {
        for a in aliases {
            let previous = owner.insert(name(&a), id.clone());
            assert!(previous.is_none_or(|p| p == id), "{a} names two employees");
        }
        per.insert(id, (0, 0));
    }
    for (account, (ok, failed)) in logins_in_files(sim, period) {
        let id = owner
            .get(&name(&account))
            .unwrap_or_else(|| panic!("{account} is no roster employee's"));
        let n = per.get_mut(id).unwrap();
        n.0 += ok;
        n.1 += failed;
    }
    per
}

fn row<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["employees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["employee"] == id)
        .unwrap_or_else(|| panic!("no row for {id}"))
}

fn sha256_hex(path: &Path) -> String {
    Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn json_figures_match_the_event_files_and_the_replay() {
    let sim = Sim::new();
    let r = sim.json(ALL, &[]);
    let p = &r["population"];

    // Per employee and in total, the logins counted here from the raw files.
    let expected = logins_per_employee(&sim, ALL);
    for (id, (ok, failed)) in &expected {
        let row = row(&r, id);
        assert_eq!(row["logins"], *ok, "{id} logins");
        assert_eq!(row["failed_logins"], *failed, "{id} failed logins");
    }
    let total: u64 = expected.values().map(|n| n.0).sum();
    assert!(total > 3000, "{total}");
    assert_eq!(p["logins"], total);
    assert_eq!(
        p["failed_logins"],
        expected.values().map(|n| n.1).sum::<u64>()
    );

    // And the replay's own summary: interactive = decoded − non-interactive.
    let out = run(Command::new(BIN)
        .args(["replay", "--no-progress", "--alerts-out", "-", "--config"])
        .arg(sim.config())
        .arg(sim.path("events")));
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stderr(&out);
    let figure = |name: &str| -> u64 {
        let line = summary
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap();
        line[name.len() + 2..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        p["logins"].as_u64().unwrap() + p["failed_logins"].as_u64().unwrap(),
        figure("decoded") - figure("non-interactive"),
        "{summary}"
    );
    let replayed = String::from_utf8(out.stdout).unwrap();
    let ids: HashSet<String> = replayed
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let reported: HashSet<String> = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reported, ids, "the report's alerts are the replay's");
    assert_eq!(p["alerts"]["total"], ids.len());

    // Sums and shares hold together.
    let rows = r["employees"].as_array().unwrap();
    assert_eq!(rows.len(), 60);
    assert_eq!(p["employees_in_roster"], 60);
    let sum = |k: &str| rows.iter().map(|r| r[k].as_u64().unwrap()).sum::<u64>();
    for k in [
        "logins",
        "located_logins",
        "logins_from_claimed_country",
        "anonymized_logins",
        "allowlisted_logins",
    ] {
        assert_eq!(p[k], sum(k), "{k}");
    }
    let share = p["share_from_claimed_country"].as_f64().unwrap();
    let want = sum("logins_from_claimed_country") as f64 / sum("located_logins") as f64;
    assert!((share - want).abs() < 1e-12);
    assert_eq!(
        p["employees_timezone_differs"],
        rows.iter()
            .filter(|r| r["timezone_differs"] == true)
            .count()
    );
    for (d, share) in [
        (
            "claimed_country_share_distribution",
            "share_from_claimed_country",
        ),
        ("anonymizer_share_distribution", "anonymizer_share"),
    ] {
        let bins = p[d].as_array().unwrap();
        assert_eq!(bins.len(), 10);
        let n: u64 = bins.iter().map(|b| b["employees"].as_u64().unwrap()).sum();
        let with_share = rows.iter().filter(|r| !r[share].is_null()).count();
        assert_eq!(n, with_share as u64, "{d}");
        // Each bin holds the employees whose share falls in it.
        for b in bins {
            let (lo, hi) = (b["from"].as_f64().unwrap(), b["to"].as_f64().unwrap());
            let inside = rows
                .iter()
                .filter_map(|r| r[share].as_f64())
                .filter(|s| *s >= lo && (*s < hi || (hi == 1.0 && *s == 1.0)))
                .count();
            assert_eq!(b["employees"], inside, "{d} {}", b["label"]);
        }
    }

    // The method names what was used.
    let m = &r["method"];
    assert_eq!(m["driftwatch_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["geoip_databases"].as_array().unwrap().len(), 3);
    assert!(m["audit_log"].is_null());
    let files = m["files"].as_array().unwrap();
    for f in [
        "events/okta.ndjson",
        "events/vpn-cisco-asa.log",
        "roster.csv",
        "driftwatch.toml",
    ] {
        let path = sim.path(f);
        let entry = files
            .iter()
            .find(|e| Path::new(e["path"].as_str().unwrap()) == path)
            .unwrap_or_else(|| panic!("{f} not among the files"));
        assert_eq!(entry["sha256"], sha256_hex(&path), "{f}");
    }
    assert!(
        m["settings_toml"].as_str().unwrap().contains("travel"),
        "{}",
        m["settings_toml"]
    );
}

#[test]
fn planted_cases_show_in_the_figures() {
    let sim = Sim::new();
    let r = sim.json(("2026-10-01", "2026-10-22"), &[]);
    let truth = sim.truth();
    let severity_rank = |s: &str| {
        ["low", "medium", "high", "critical"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };

    // Every fraudulent employee has an alert at high or above, still open.
    for e in truth["employees"].as_array().unwrap() {
        let id = e["employee_id"].as_str().unwrap();
        let alerts = row(&r, id)["alerts"].as_array().unwrap().clone();
        if e["label"] == "fraudulent" {
            assert!(
                alerts
                    .iter()
                    .any(|a| severity_rank(a["severity"].as_str().unwrap()) >= 2
                        && a["status"] == "open"),
                "{id} ({}) has no open high alert: {alerts:?}",
                e["scenario"]
            );
        } else if e["scenario"] == "baseline" {
            assert!(alerts.is_empty(), "{id}: {alerts:?}");
        }
    }

    // The VPN/hosting operator in China: almost nothing located at home, mostly anonymized,
    // and working another continent's hours.
    let china = &sim.scenario("vpn_hosting_china")[0];
    let c = row(&r, china);
    assert!(
        c["share_from_claimed_country"].as_f64().unwrap() < 0.2,
        "{c}"
    );
    assert!(c["anonymizer_share"].as_f64().unwrap() > 0.5, "{c}");
    assert_eq!(c["timezone_differs"], true, "{c}");

    // Honest employees at home: nearly all from the claimed country, no other zone.
    for id in sim.scenario("baseline") {
        let b = row(&r, &id);
        if let Some(share) = b["share_from_claimed_country"].as_f64() {
            assert!(share >= 0.9, "{id}: {b}");
        }
        assert_ne!(b["timezone_differs"], true, "{id}: {b}");
        assert_eq!(
            b["anonymizer_share"].as_f64().unwrap_or(0.0),
            0.0,
            "{id}: {b}"
        );
    }

    // Korean hours from a US home: located at home, but the zone differs by ≥ 6 h.
    let hours = &sim.scenario("hours_only")[0];
    let h = row(&r, hours);
    assert!(
        h["share_from_claimed_country"].as_f64().unwrap() > 0.9,
        "{h}"
    );
    assert_eq!(h["timezone_differs"], true, "{h}");
    let gap = (h["inferred_offset_hours"].as_f64().unwrap()
        - h["claimed_offset_hours"].as_f64().unwrap())
    .abs();
    assert!(gap >= 6.0, "{h}");

    // The laptop farm is one cluster of exactly its three employees.
    let farm: BTreeMap<String, ()> = sim
        .scenario("laptop_farm")
        .into_iter()
        .map(|i| (i, ()))
        .collect();
    let clusters = r["clusters"].as_array().unwrap();
    let c = clusters
        .iter()
        .find(|c| {
            c["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| farm.contains_key(m["employee"].as_str().unwrap()))
        })
        .expect("a cluster with the laptop farm");
    let members: BTreeMap<String, ()> = c["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["employee"].as_str().unwrap().to_owned(), ()))
        .collect();
    assert_eq!(members, farm);
    assert_eq!(
        r["population"]["alerts"]["by_rule"]["shared_infrastructure"],
        3
    );
}

#[test]
fn events_before_the_period_teach_the_detectors_but_are_not_counted() {
    let sim = Sim::new();
    let r = sim.json(WEEK, &[]);
    let expected = logins_per_employee(&sim, WEEK);
    for (id, (ok, failed)) in &expected {
        assert_eq!(row(&r, id)["logins"], *ok, "{id}");
        assert_eq!(row(&r, id)["failed_logins"], *failed, "{id}");
    }
    let rec = &r["population"]["records"];
    assert!(
        rec["events_before_period"].as_u64().unwrap() > 1000,
        "{rec}"
    );
    assert!(rec["events_after_period"].as_u64().unwrap() > 1000, "{rec}");
    // History from before the period: the hours-only case is judged within one week.
    let hours = &sim.scenario("hours_only")[0];
    assert_eq!(row(&r, hours)["timezone_differs"], true);
    // Only alerts with a line in the week; their earlier lines come along.
    let (from, to) = (at(WEEK.0), at(WEEK.1));
    for a in r["alerts"].as_array().unwrap() {
        let times: Vec<DateTime<Utc>> = a["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["time"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(times.iter().any(|t| from <= *t && *t < to), "{a}");
        assert!(
            times.iter().all(|t| *t < to),
            "nothing after the period was applied: {a}"
        );
    }
}

#[test]
fn csv_has_a_row_per_employee_that_agrees_with_the_json() {
    let sim = Sim::new();
    let json = sim.json(("2026-10-01", "2026-10-22"), &[]);
    let out = sim.path("report.csv");
    let o = sim.report(
        &sim.config(),
        &[
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-22",
            "--format",
            "csv",
        ],
        &out,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(headers, driftwatch::report::csv::COLUMNS);
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 60);
    for r in &rows {
        assert_eq!(r.len(), headers.len());
        let j = row(&json, &r[col("employee")]);
        assert_eq!(
            r[col("logins")].parse::<u64>().unwrap(),
            j["logins"].as_u64().unwrap()
        );
        assert_eq!(
            &r[col("claimed_country")],
            j["claimed_country"].as_str().unwrap()
        );
        match j["share_from_claimed_country"].as_f64() {
            Some(s) => assert!(
                (r[col("share_from_claimed_country")].parse::<f64>().unwrap() - s).abs() < 1e-6
            ),
            None => assert_eq!(&r[col("share_from_claimed_country")], ""),
        }
        assert_eq!(
            r[col("open_alerts")].parse::<usize>().unwrap(),
            j["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["status"] == "open")
                .count()
        );
    }
    // The exceptions: ranked as the JSON lists them, with what they are.
    let exceptions = json["exceptions"].as_array().unwrap();
    assert!(!exceptions.is_empty());
    for (i, e) in exceptions.iter().enumerate() {
        let id = e["employee"].as_str().unwrap();
        let r = rows.iter().find(|r| &r[col("employee")] == id).unwrap();
        assert_eq!(r[col("exception_rank")], (i + 1).to_string(), "{id}");
        let mut kind = Vec::new();
        if e["not_where"] == true {
            kind.push("place");
        }
        if e["not_when"] == true {
            kind.push("hours");
        }
        assert_eq!(r[col("exception")], kind.join(";"), "{id}");
    }
    let ranked = rows
        .iter()
        .filter(|r| !r[col("exception_rank")].is_empty())
        .count();
    assert_eq!(ranked, exceptions.len());
    let china = &sim.scenario("vpn_hosting_china")[0];
    let c = rows.iter().find(|r| &r[col("employee")] == china).unwrap();
    assert_eq!(&c[col("highest_severity")], "critical");
    assert_eq!(&c[col("exception")], "place;hours");
    assert!(
        c[col("open_alert_rules")]
            .split(';')
            .any(|r| r == "anonymizer"),
        "{c:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Headless Chromium

fn chromium_bin() -> String {
    std::env::var("DRIFTWATCH_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

/// What Chromium made of a page: the DOM after loading, and every console message.
struct Page {
    dom: String,
    console: Vec<String>,
}

/// Load `html` in headless Chromium (fresh profile, no network), dump its DOM and collect
/// its console messages. With `--enable-logging=stderr` Chromium logs each console message
/// (any level: errors, CSP violations, uncaught exceptions) as a `CONSOLE` line.
fn open_in_chromium(html: &Path) -> Page {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium_bin())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} (install Debian's chromium): {e}",
                chromium_bin()
            )
        });
    assert!(out.status.success(), "chromium failed: {}", stderr(&out));
    let console = stderr(&out)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("CONSOLE(") || l.contains("Uncaught"))
        .map(str::to_owned)
        .collect();
    let dom = String::from_utf8(out.stdout).unwrap();
    assert!(dom.contains("</html>"), "no DOM: {dom}");
    Page { dom, console }
}

/// The opening tag of the first element with `attr="value"` after `from` in `dom`.
fn tag_with<'a>(dom: &'a str, attr: &str, value: &str) -> Option<&'a str> {
    let needle = format!("{attr}=\"{value}\"");
    let at = dom.find(&needle)?;
    let start = dom[..at].rfind('<')?;
    let end = at + dom[at..].find('>')?;
    Some(&dom[start..=end])
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let needle = format!(" {name}=\"");
    let at = tag.find(&needle)? + needle.len();
    Some(&tag[at..at + tag[at..].find('"')?])
}

/// The `data-value` of the element with `data-figure="key"` in `scope`.
fn figure(scope: &str, key: &str) -> String {
    let tag = tag_with(scope, "data-figure", key).unwrap_or_else(|| panic!("no {key} figure"));
    attr(tag, "data-value")
        .unwrap_or_else(|| panic!("{key} has no value: {tag}"))
        .to_owned()
}

/// The `<tr>` of an employee.
fn employee_row<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("<tr data-employee=\"{id}\"><th"))
        .unwrap_or_else(|| panic!("no row for {id}"));
    &dom[start..start + dom[start..].find("</tr>").unwrap()]
}

#[test]
fn the_html_opens_in_chromium_without_a_console_message_and_shows_the_figures() {
    let sim = Sim::new();
    let json = sim.json(("2026-10-01", "2026-10-22"), &[]);
    let html = sim.path("report.html");
    let o = sim.report(
        &sim.config(),
        &["--from", "2026-10-01", "--to", "2026-10-22"],
        &html,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let page = open_in_chromium(&html);
    assert!(
        page.console.is_empty(),
        "console messages: {:#?}",
        page.console
    );
    let dom = &page.dom;

    let p = &json["population"];
    for key in [
        "employees_in_roster",
        "employees_active",
        "logins",
        "failed_logins",
        "located_logins",
        "logins_from_claimed_country",
        "employees_timezone_differs",
        "employees_using_anonymizers",
        "shared_infrastructure_clusters",
    ] {
        assert_eq!(figure(dom, key), p[key].to_string(), "{key}");
    }
    assert_eq!(
        figure(dom, "alerts_total"),
        p["alerts"]["total"].to_string()
    );
    let share: f64 = figure(dom, "share_from_claimed_country").parse().unwrap();
    assert!((share - p["share_from_claimed_country"].as_f64().unwrap()).abs() < 1e-6);

    // Per employee, and the planted case stands out.
    for e in json["employees"].as_array().unwrap() {
        let tr = employee_row(dom, e["employee"].as_str().unwrap());
        assert_eq!(figure(tr, "logins"), e["logins"].to_string());
    }
    let china = &sim.scenario("vpn_hosting_china")[0];
    let tr = employee_row(dom, china);
    assert!(
        figure(tr, "share_from_claimed_country")
            .parse::<f64>()
            .unwrap()
            < 0.2
    );
    assert!(figure(tr, "anonymizer_share").parse::<f64>().unwrap() > 0.5);
    assert_eq!(
        attr(
            tag_with(tr, "data-figure", "offsets").unwrap(),
            "data-differs"
        ),
        Some("true")
    );
    assert!(figure(tr, "open_alerts").parse::<u32>().unwrap() >= 1);

    // Charts: inline SVG with a title, one bar per rule with alerts.
    for chart in [
        "chart-alerts-by-rule",
        "chart-claimed-country-share",
        "chart-anonymizer-share",
    ] {
        let svg = tag_with(dom, "id", chart).unwrap_or_else(|| panic!("no {chart}"));
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(
            dom.contains(&format!("<title id=\"{chart}-title\">")),
            "{chart} has a title"
        );
    }
    for rule in p["alerts"]["by_rule"].as_object().unwrap().keys() {
        assert!(
            tag_with(dom, "data-bar", rule).is_some(),
            "no bar for {rule}"
        );
    }
    // Self-contained: nothing loads from anywhere.
    for external in [
        "<script",
        "<link",
        "<img",
        "src=\"http",
        "href=\"http",
        "url(",
    ] {
        assert!(!dom.contains(external), "{external} in the page");
    }
    assert_eq!(
        tag_with(dom, "data-figure", "audit_head_hash").map(|_| ()),
        Some(())
    );
    assert!(dom.contains(">no audit log<"));
}

#[test]
fn the_console_check_catches_a_broken_page() {
    // The check above is only worth something if it can fail: the same report with an
    // external image and a script (both refused by its Content-Security-Policy) must
    // produce console messages.
    let sim = Sim::new();
    let html = sim.path("report.html");
    let o = sim.report(
        &sim.config(),
        &["--from", "2026-10-01", "--to", "2026-10-22"],
        &html,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&html).unwrap().replace(
        "</main>",
        "<img src=\"https://example.invalid/x.png\" alt=\"\"><script>console.log('hi')</script></main>",
    );
    let broken = sim.path("broken.html");
    std::fs::write(&broken, text).unwrap();
    let page = open_in_chromium(&broken);
    assert!(page.console.len() >= 2, "{:#?}", page.console);
}

#[test]
fn the_html_prints_to_several_pages() {
    let sim = Sim::new();
    let html = sim.path("report.html");
    let o = sim.report(
        &sim.config(),
        &["--from", "2026-10-01", "--to", "2026-10-22"],
        &html,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let pdf = sim.path("report.pdf");
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium_bin())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&bytes);
    let pages = text.matches("/Type /Page").count() - text.matches("/Type /Pages").count();
    // Alerts, employees and method each start a page.
    assert!(pages >= 4, "{pages} page(s)");
}

// ---------------------------------------------------------------------------------------
// Pseudonyms

/// Every employee id and e-mail / `DOMAIN\` alias of the roster found in `text`.
fn real_ids_in(sim: &Sim, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (id, aliases) in sim.roster() {
        // Ids are upper case (`E10001`); alert ids and digests are lower-case hex.
        if text.contains(&id) {
            found.push(id.clone());
        }
        for a in aliases
            .iter()
            .filter(|a| a.contains('@') || a.contains('\\'))
        {
            if text.to_lowercase().contains(&a.to_lowercase()) {
                found.push(a.clone());
            }
        }
    }
    found
}

#[test]
fn pseudonymised_reports_name_no_employee() {
    let sim = Sim::new();
    let key = "a report key of more than sixteen bytes";
    let p = Pseudonymiser::with_key(key.as_bytes());
    let china = sim.scenario("vpn_hosting_china")[0].clone();
    let farm = sim.scenario("laptop_farm");
    let args = |f: &'static str| {
        vec![
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-22",
            "--pseudonymise",
            "--format",
            f,
        ]
    };

    let mut outputs = Vec::new();
    for format in ["json", "csv", "html"] {
        let out = sim.path(&format!("pseudo.{format}"));
        let o = sim.report(
            &sim.config(),
            &args(format),
            &out,
            &[("DRIFTWATCH_REPORT_KEY", key)],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            real_ids_in(&sim, &text),
            Vec::<String>::new(),
            "{format} names employees"
        );
        outputs.push(text);
    }
    // The control: without --pseudonymise the same check finds them.
    let plain = sim.json(("2026-10-01", "2026-10-22"), &[]);
    assert!(real_ids_in(&sim, &plain.to_string()).len() >= 60);

    let r: Value = serde_json::from_str(&outputs[0]).unwrap();
    assert_eq!(r["pseudonymised"], true);
    let c = row(&r, &p.pseudonym(&EmployeeId(china.as_str().into())));
    assert!(c["share_from_claimed_country"].as_f64().unwrap() < 0.2);
    // Alerts, their text and the clusters carry the same pseudonyms.
    let farm_pseudonyms: HashSet<String> = farm
        .iter()
        .map(|i| p.pseudonym(&EmployeeId(i.as_str().into())))
        .collect();
    let cluster: HashSet<String> = r["clusters"][0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["employee"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(cluster, farm_pseudonyms);
    let farm_alert = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == "shared_infrastructure")
        })
        .unwrap();
    let text = farm_alert.to_string();
    assert!(
        farm_pseudonyms
            .iter()
            .filter(|p| text.contains(p.as_str()))
            .count()
            >= 2,
        "{text}"
    );
    assert!(
        r["method"]["pseudonymisation"]
            .as_str()
            .unwrap()
            .contains("DRIFTWATCH_REPORT_KEY")
    );

    // The same key gives the same pseudonyms; no key, a different set every time.
    let again = sim.path("again.json");
    let o = sim.report(
        &sim.config(),
        &args("json"),
        &again,
        &[("DRIFTWATCH_REPORT_KEY", key)],
    );
    assert!(o.status.success());
    let ids = |v: &Value| -> Vec<String> {
        v["employees"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["employee"].as_str().unwrap().to_owned())
            .collect()
    };
    let again: Value = serde_json::from_slice(&std::fs::read(&again).unwrap()).unwrap();
    assert_eq!(ids(&again), ids(&r));
    let random = |name: &str| -> Value {
        let out = sim.path(name);
        let o = sim.report(&sim.config(), &args("json"), &out, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
    };
    let (a, b) = (random("r1.json"), random("r2.json"));
    let (a, b): (HashSet<String>, HashSet<String>) =
        (ids(&a).into_iter().collect(), ids(&b).into_iter().collect());
    assert!(a.is_disjoint(&b));
    assert!(a.is_disjoint(&ids(&r).into_iter().collect()));
}

// ---------------------------------------------------------------------------------------
// The audit log

#[test]
fn dispositions_come_from_the_verified_audit_log_and_its_head_is_printed() {
    let sim = Sim::new();
    let period = ("2026-10-01", "2026-10-22");
    let plain = sim.json(period, &[]);
    let hours = sim.scenario("hours_only")[0].clone();
    let alias = sim
        .roster()
        .into_iter()
        .find(|(i, _)| *i == hours)
        .unwrap()
        .1[0]
        .clone();
    let alert = plain["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["employee"] == hours.as_str())
        .expect("the hours-only case has an alert");
    let alert_id = alert["id"].as_str().unwrap().to_owned();

    let log_path = sim.path("audit.jsonl");
    let mut log = AuditLog::open(&log_path).unwrap();
    let note = format!("{hours} ({alias}) confirmed the night roster <script>alert(1)</script>");
    let disposition = Disposition {
        employee_id: EmployeeId(hours.as_str().into()),
        alert_id: Some(alert_id.clone()),
        verdict: Verdict::Benign,
        rules: vec![],
        // As the analyst API records it: suppression from the alert's first login.
        time: alert["opened"].as_str().unwrap().parse().unwrap(),
        until: None,
        note: note.clone(),
    };
    log.append(Entry {
        time: Utc::now(),
        kind: Kind::ApiCall,
        actor: "ana".into(),
        subject: None,
        details: serde_json::json!({"method": "GET", "path": "/api/v1/alerts", "status": 200, "role": "analyst"}),
    })
    .unwrap();
    log.append(Entry {
        time: Utc::now(),
        kind: Kind::Disposition,
        actor: "ana".into(),
        subject: Some(alert_id.clone()),
        details: serde_json::to_value(&disposition).unwrap(),
    })
    .unwrap();
    let head = log.head().unwrap();
    drop(log);

    let log_arg = log_path.to_str().unwrap();
    let r = sim.json(period, &["--audit-log", log_arg]);
    let a = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == alert_id.as_str())
        .unwrap();
    assert_eq!(a["status"], "disposed", "{a}");
    assert_eq!(a["disposition"]["verdict"], "benign");
    assert_eq!(a["disposition"]["actor"], "ana");
    assert_eq!(a["disposition"]["seq"], 1);
    let recorded: DateTime<Utc> = a["disposition"]["recorded"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((Utc::now() - recorded).num_minutes().abs() < 10, "{a}");
    assert_eq!(a["disposition"]["suppressed_from"], alert["opened"]);
    let by = &r["population"]["alerts"]["by_disposition"];
    assert_eq!(by["benign"], 1);
    assert_eq!(
        by["none"],
        r["population"]["alerts"]["total"].as_u64().unwrap() - 1
    );
    assert_eq!(
        r["population"]["alerts"]["open"],
        plain["population"]["alerts"]["open"].as_u64().unwrap() - 1
    );
    let audit = &r["method"]["audit_log"];
    assert_eq!(audit["head_hash"], head.hash.as_str());
    assert_eq!(audit["head_seq"], 1);
    assert_eq!(audit["records"], 2);
    assert_eq!(audit["dispositions"], 1);
    assert_eq!(row(&r, &hours)["dispositions"][0]["note"], note.as_str());
    // Still an exception, with the verdict, but after every one whose alerts stand: its
    // only alert was judged benign, so it has no standing risk.
    let exceptions = r["exceptions"].as_array().unwrap();
    let before = plain["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["employee"] == hours.as_str())
        .expect("the hours-only case is an exception");
    assert_eq!(before["risk"], alert["risk"], "undisposed, its risk stands");
    let last = exceptions.last().unwrap();
    assert_eq!(last["employee"], hours.as_str(), "{exceptions:#?}");
    assert!(last["risk"].is_null(), "{last}");
    assert_eq!(last["highest_risk"], alert["risk"]);
    assert_eq!(last["alerts"][0]["disposition"]["verdict"], "benign");
    assert!(
        exceptions[..exceptions.len() - 1]
            .iter()
            .all(|e| e["risk"].as_u64().is_some())
    );

    // In the HTML: the head hash, and the note escaped (no script element, no console).
    let html = sim.path("audit.html");
    let o = sim.report(
        &sim.config(),
        &["--from", period.0, "--to", period.1, "--audit-log", log_arg],
        &html,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let page = open_in_chromium(&html);
    assert!(page.console.is_empty(), "{:#?}", page.console);
    assert!(page.dom.contains(&format!(
        "<code data-figure=\"audit_head_hash\">{}</code>",
        head.hash
    )));
    assert!(!page.dom.contains("<script"), "the note became markup");
    assert!(page.dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let tr = employee_row(&page.dom, &hours);
    let cell = &tr[tr.find("data-figure=\"dispositions\"").unwrap()..];
    let today = Utc::now().format("%Y-%m-%d").to_string();
    assert!(cell.contains(&format!("benign by ana ({today})")), "{tr}");
    let start = page
        .dom
        .find(&format!("<tr data-exception=\"{hours}\""))
        .expect("the hours-only case among the exceptions");
    let tr = &page.dom[start..start + page.dom[start..].find("</tr>").unwrap()];
    assert!(tr.contains(", benign by ana</span>"), "{tr}");
    assert!(tr.contains("judged benign or false positive"), "{tr}");

    // Pseudonymised, the analyst's note loses the id and the account too.
    let out = sim.path("audit-pseudo.json");
    let o = sim.report(
        &sim.config(),
        &[
            "--from",
            period.0,
            "--to",
            period.1,
            "--format",
            "json",
            "--pseudonymise",
            "--audit-log",
            log_arg,
        ],
        &out,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(real_ids_in(&sim, &text), Vec::<String>::new());
    assert!(!text.contains(&alias));
    assert!(text.contains("confirmed the night roster"));

    // A modified record: no report, and the error says where.
    let tampered = std::fs::read_to_string(&log_path)
        .unwrap()
        .replace("benign", "true_positive");
    std::fs::write(&log_path, tampered).unwrap();
    let out = sim.path("tampered.json");
    let o = sim.report(
        &sim.config(),
        &[
            "--from",
            period.0,
            "--to",
            period.1,
            "--format",
            "json",
            "--audit-log",
            log_arg,
        ],
        &out,
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    assert!(!out.exists());
}

// ---------------------------------------------------------------------------------------
// Hostile data and bad usage

#[test]
fn text_from_the_roster_is_escaped_in_html_and_defused_in_csv() {
    let sim = Sim::new();
    let roster = std::fs::read_to_string(sim.path("roster.csv")).unwrap();
    let mut lines: Vec<String> = roster.lines().map(str::to_owned).collect();
    let city = lines[0]
        .split(',')
        .position(|h| h == "claimed_city")
        .unwrap();
    let (img, formula) = ("<img src=x onerror=alert(1)>", "=1+2");
    for (i, text) in [(1, img), (2, formula)] {
        let mut fields: Vec<&str> = lines[i].split(',').collect();
        fields[city] = text;
        lines[i] = fields.join(",");
    }
    std::fs::write(sim.path("roster-hostile.csv"), lines.join("\n") + "\n").unwrap();
    let config = std::fs::read_to_string(sim.config())
        .unwrap()
        .replace("path = \"roster.csv\"", "path = \"roster-hostile.csv\"");
    let hostile = sim.path("hostile.toml");
    std::fs::write(&hostile, config).unwrap();

    let html = sim.path("hostile.html");
    let o = sim.report(
        &hostile,
        &["--from", "2026-10-01", "--to", "2026-10-22"],
        &html,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let page = open_in_chromium(&html);
    assert!(page.console.is_empty(), "{:#?}", page.console);
    assert!(!page.dom.contains("<img"), "the city became an element");
    assert!(page.dom.contains("&lt;img src=x onerror=alert(1)&gt;"));

    let csv_out = sim.path("hostile.csv");
    let o = sim.report(
        &hostile,
        &[
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-22",
            "--format",
            "csv",
        ],
        &csv_out,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut reader = csv::Reader::from_path(&csv_out).unwrap();
    let cities: Vec<String> = reader.records().map(|r| r.unwrap()[3].to_owned()).collect();
    assert!(cities.contains(&format!("'{formula}")), "{cities:?}");
    assert!(cities.contains(&img.to_owned()));
    assert!(!cities.contains(&formula.to_owned()));
}

#[test]
fn bad_usage_exits_2_and_writes_nothing() {
    let sim = Sim::new();
    let out = sim.path("never.json");
    for (args, envs, why) in [
        (
            vec!["--from", "2026-10-22", "--to", "2026-10-01"],
            vec![],
            "empty",
        ),
        (
            vec!["--from", "October", "--to", "2026-10-01"],
            vec![],
            "neither",
        ),
        (
            vec![
                "--from",
                "2026-10-01",
                "--to",
                "2026-10-22",
                "--pseudonymise",
            ],
            vec![("DRIFTWATCH_REPORT_KEY", "short")],
            "at least 16 bytes",
        ),
    ] {
        let o = sim.report(&sim.config(), &args, &out, &envs);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{args:?}: {}", stderr(&o));
        assert!(!out.exists());
    }
    let o = run(Command::new(BIN)
        .args([
            "report",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-22",
            "--config",
        ])
        .arg(sim.config())
        .arg("-"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not stdin"), "{}", stderr(&o));
}

#[test]
fn several_formats_go_to_a_folder_one_file_each_named_after_the_period() {
    let sim = Sim::new();
    let dir = sim.path("reports");
    std::fs::create_dir(&dir).unwrap();
    let o = sim.report(
        &sim.config(),
        &[
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-22",
            "--format",
            "html,csv,json",
        ],
        &dir,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "driftwatch-report-2026-10-01--2026-10-22.csv",
            "driftwatch-report-2026-10-01--2026-10-22.html",
            "driftwatch-report-2026-10-01--2026-10-22.json",
        ]
    );
    let json: Value = serde_json::from_slice(
        &std::fs::read(dir.join("driftwatch-report-2026-10-01--2026-10-22.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["population"]["employees_in_roster"], 60);

    // Several formats into one file cannot work.
    let o = sim.report(
        &sim.config(),
        &[
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-22",
            "--format",
            "html,json",
        ],
        &sim.path("one-file"),
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!sim.path("one-file").exists());
}

/// The argument list of the CronJob's container and the systemd unit's `ExecStart`.
fn scheduled_commands() -> Vec<(&'static str, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/report");
    let cron = std::fs::read_to_string(root.join("cronjob.yaml")).unwrap();
    let mut lines = cron.lines().skip_while(|l| l.trim() != "args:").skip(1);
    let cron_args: Vec<String> = lines
        .by_ref()
        .map_while(|l| l.trim().strip_prefix("- "))
        .map(str::to_owned)
        .collect();
    let unit = std::fs::read_to_string(root.join("driftwatch-report.service")).unwrap();
    let exec = unit
        .replace("\\\n", " ")
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=").map(str::to_owned))
        .expect("an ExecStart");
    let mut unit_args: Vec<String> = exec.split_whitespace().map(str::to_owned).collect();
    assert_eq!(unit_args.remove(0), "/usr/local/bin/driftwatch");
    vec![
        ("cronjob.yaml", cron_args),
        ("driftwatch-report.service", unit_args),
    ]
}

#[test]
fn the_scheduled_commands_run() {
    // The CronJob and the systemd unit run the binary as written, with their paths moved
    // into a simulated company: a typo in a flag fails here, not on the 1st of the month.
    let sim = Sim::new();
    let audit = sim.path("audit.jsonl");
    AuditLog::open(&audit).unwrap();
    let (from, to) = (
        driftwatch::report::parse_bound("last-month").unwrap(),
        driftwatch::report::parse_bound("this-month").unwrap(),
    );
    let stem = format!(
        "driftwatch-report-{}--{}",
        from.format("%Y-%m-%d"),
        to.format("%Y-%m-%d")
    );
    for (file, args) in scheduled_commands() {
        assert_eq!(args.first().map(String::as_str), Some("report"), "{file}");
        let out = sim.path(&format!("scheduled-{file}"));
        std::fs::create_dir(&out).unwrap();
        let moved: Vec<String> = args
            .iter()
            .map(|a| {
                let mut a = a.clone();
                for (from, to) in [
                    ("/etc/driftwatch/driftwatch.toml", sim.config()),
                    ("/var/lib/driftwatch/audit/audit.jsonl", audit.clone()),
                    ("/var/lib/driftwatch/audit.jsonl", audit.clone()),
                    ("/var/lib/driftwatch/reports", out.clone()),
                    ("/reports", out.clone()),
                    ("/data/logs", sim.path("events")),
                    ("/var/log/driftwatch/logins", sim.path("events")),
                ] {
                    if a.ends_with(from) {
                        a = a.replace(from, to.to_str().unwrap());
                    }
                }
                a
            })
            .collect();
        assert!(
            moved
                .iter()
                .all(|a| !a.contains("/etc/") && !a.contains("/var/")),
            "{file}: a path this test does not know: {moved:?}"
        );
        let o = run(Command::new(BIN)
            .args(&moved)
            .env_remove("DRIFTWATCH_REPORT_KEY"));
        assert!(o.status.success(), "{file}: {moved:?}: {}", stderr(&o));
        for ext in ["html", "json"] {
            let report = out.join(format!("{stem}.{ext}"));
            assert!(report.is_file(), "{file}: no {}", report.display());
        }
        let json: Value =
            serde_json::from_slice(&std::fs::read(out.join(format!("{stem}.json"))).unwrap())
                .unwrap();
        assert!(json["method"]["audit_log"]["path"].is_string(), "{file}");
    }
}

// ---------------------------------------------------------------------------------------
// Exceptions first, the appendix last, histograms that show outliers

/// The `<section>`s of `<main>`, in order: (id, its text up to the next section).
fn sections(dom: &str) -> Vec<(String, &str)> {
    let main = &dom[dom.find("<main>").expect("a main element")..];
    let starts: Vec<usize> = main
        .match_indices("<section id=\"")
        .map(|(i, _)| i)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let end = starts.get(k + 1).copied().unwrap_or(main.len());
            let tag = &main[i..i + main[i..].find('>').unwrap()];
            (attr(tag, "id").unwrap().to_owned(), &main[i..end])
        })
        .collect()
}

/// Every opening tag in `scope` that starts with `prefix` (`<tr data-exception=`).
fn tags<'a>(scope: &'a str, prefix: &str) -> Vec<&'a str> {
    scope
        .match_indices(prefix)
        .map(|(i, _)| &scope[i..=i + scope[i..].find('>').unwrap()])
        .collect()
}

/// The employees the criterion the report states picks, worked out here from the JSON's
/// alerts and rows: an alert naming a place or hours rule, or logins in the period and an
/// inferred zone that differs.
fn exceptions_by_the_criterion(r: &Value) -> HashSet<String> {
    let place_or_hours = [
        "claimed_location",
        "sanctioned_region",
        "impossible_travel",
        "concurrent_sessions",
        "anonymizer",
        "shared_infrastructure",
        "working_hours",
    ];
    let mut found: HashSet<String> = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| place_or_hours.contains(&x.as_str().unwrap()))
        })
        .map(|a| a["employee"].as_str().unwrap().to_owned())
        .collect();
    for e in r["employees"].as_array().unwrap() {
        if e["timezone_differs"] == true && e["logins"].as_u64().unwrap() > 0 {
            found.insert(e["employee"].as_str().unwrap().to_owned());
        }
    }
    found
}

/// `html` with its Content-Security-Policy taken out and a script added that writes each
/// histogram bar's height as Chromium lays it out (CSS pixels) into
/// `data-rendered-height`: what a reader sees, not only what the SVG asks for.
fn with_bar_measurer(html: &str) -> String {
    let csp = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">";
    assert!(html.contains(csp) || !html.contains("Content-Security-Policy"));
    html.replace(csp, "").replace(
        "</body>",
        "<script>for (const g of document.querySelectorAll('g[data-bin]')) { \
         g.setAttribute('data-rendered-height', \
         g.querySelector('rect').getBoundingClientRect().height.toFixed(2)); }</script></body>",
    )
}

/// Each bar of the histogram `chart` in `dom`: (data-bin, employees, rendered height, the
/// tick text under it).
fn bars_of(dom: &str, chart: &str) -> Vec<(String, u64, f64, String)> {
    let start = dom
        .find(&format!("<svg id=\"{chart}\""))
        .unwrap_or_else(|| panic!("no {chart}"));
    let svg = &dom[start..start + dom[start..].find("</svg>").unwrap()];
    tags(svg, "<g data-bin=")
        .into_iter()
        .map(|g| {
            let at = svg.find(g).unwrap();
            let tick = &svg[at..];
            let tick = &tick[tick.find("class=\"tick\"").expect("a tick label")..];
            let tick = &tick[tick.find('>').unwrap() + 1..tick.find("</text>").unwrap()];
            (
                attr(g, "data-bin").unwrap().to_owned(),
                attr(g, "data-employees").unwrap().parse().unwrap(),
                attr(g, "data-rendered-height")
                    .expect("measured")
                    .parse()
                    .unwrap(),
                tick.to_owned(),
            )
        })
        .collect()
}

#[test]
fn exceptions_lead_the_html_in_risk_order_and_the_appendix_holds_everyone() {
    let sim = Sim::new();
    let period = ("2026-10-01", "2026-10-22");
    let json = sim.json(period, &[]);
    let html = sim.path("report.html");
    let o = sim.report(
        &sim.config(),
        &["--from", period.0, "--to", period.1],
        &html,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let page = open_in_chromium(&html);
    assert!(page.console.is_empty(), "{:#?}", page.console);

    // Exceptions first, the appendix of every employee last.
    let sections = sections(&page.dom);
    let ids: Vec<&str> = sections.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.first(), Some(&"exceptions"), "{ids:?}");
    assert_eq!(ids.last(), Some(&"employees"), "{ids:?}");
    let (exceptions, appendix) = (sections[0].1, sections[sections.len() - 1].1);
    assert!(appendix.contains(">Appendix: every employee</h2>"));
    let everyone = json["employees"].as_array().unwrap();
    assert_eq!(tags(appendix, "<tr data-employee=").len(), everyone.len());
    for e in everyone {
        let id = e["employee"].as_str().unwrap();
        assert!(
            appendix.contains(&format!("<tr data-employee=\"{id}\"><th")),
            "{id}"
        );
    }

    // The right employees: every fraudulent one, no one of the honest baseline, and
    // exactly those the stated criterion picks.
    let rows = tags(exceptions, "<tr data-exception=");
    let listed: Vec<String> = rows
        .iter()
        .map(|t| attr(t, "data-exception").unwrap().to_owned())
        .collect();
    let set: HashSet<String> = listed.iter().cloned().collect();
    assert_eq!(set.len(), listed.len(), "each once: {listed:?}");
    for e in sim.truth()["employees"].as_array().unwrap() {
        let id = e["employee_id"].as_str().unwrap().to_owned();
        if e["label"] == "fraudulent" {
            assert!(set.contains(&id), "{id} ({}) missing", e["scenario"]);
        } else if e["scenario"] == "baseline" {
            assert!(!set.contains(&id), "{id} is honest");
        }
    }
    assert_eq!(set, exceptions_by_the_criterion(&json));
    assert_eq!(
        figure(exceptions, "exceptions"),
        listed.len().to_string(),
        "the count said"
    );
    assert!(
        exceptions.contains("min_offset_gap_hours"),
        "the criterion is said"
    );

    // In risk order: the highest risk of each one's alerts (no dispositions here), then
    // severity, then id — worked out here from the JSON's alerts.
    let rank = |s: &str| {
        ["low", "medium", "high", "critical"]
            .iter()
            .position(|x| *x == s)
    };
    let mut best: HashMap<String, (u64, Option<usize>)> = HashMap::new();
    for a in json["alerts"].as_array().unwrap() {
        let b = best
            .entry(a["employee"].as_str().unwrap().to_owned())
            .or_insert((0, None));
        b.0 = b.0.max(a["risk"].as_u64().unwrap());
        b.1 = b.1.max(rank(a["severity"].as_str().unwrap()));
    }
    let mut expected = listed.clone();
    expected.sort_by(|a, b| {
        let (ka, kb) = (best.get(a).copied(), best.get(b).copied());
        kb.cmp(&ka).then(a.cmp(b))
    });
    assert_eq!(listed, expected);
    let mut by_id = listed.clone();
    by_id.sort();
    assert_ne!(listed, by_id, "the order check could pass by id order");
    let risks: Vec<u64> = rows
        .iter()
        .map(|t| attr(t, "data-risk").unwrap().parse().unwrap())
        .collect();
    assert!(risks.windows(2).all(|w| w[0] >= w[1]), "{risks:?}");
    for (i, t) in rows.iter().enumerate() {
        assert_eq!(attr(t, "data-rank"), Some((i + 1).to_string().as_str()));
    }
    // Each with its alerts: id, severity, rules and times as the JSON has them.
    for a in json["alerts"].as_array().unwrap() {
        let emp = a["employee"].as_str().unwrap();
        if !set.contains(emp) {
            continue;
        }
        let start = exceptions
            .find(&format!("<tr data-exception=\"{emp}\""))
            .unwrap();
        let tr = &exceptions[start..start + exceptions[start..].find("</tr>").unwrap()];
        let at = tr
            .find(&format!("data-alert-id=\"{}\"", a["id"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{emp}: no {}", a["id"]));
        let item = &tr[at..];
        let item = &item[..item.find("<br>").or_else(|| item.find("</td>")).unwrap()];
        let opened: DateTime<Utc> = a["opened"].as_str().unwrap().parse().unwrap();
        let opened = opened.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for want in [
            a["severity"].as_str().unwrap(),
            a["rules"][0].as_str().unwrap(),
            opened.as_str(),
        ] {
            assert!(item.contains(want), "{want} in {item}");
        }
        assert!(tr.contains("no disposition"), "{tr}");
    }
    // The JSON lists the same, in the same order.
    let json_order: Vec<&str> = json["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["employee"].as_str().unwrap())
        .collect();
    assert_eq!(json_order, listed);

    // Histograms: every bar labelled by its range, a non-zero one at least 4 px tall as
    // Chromium draws it.
    let measured = sim.path("measured.html");
    std::fs::write(
        &measured,
        with_bar_measurer(&std::fs::read_to_string(&html).unwrap()),
    )
    .unwrap();
    let page = open_in_chromium(&measured);
    for chart in ["chart-claimed-country-share", "chart-anonymizer-share"] {
        let bars = bars_of(&page.dom, chart);
        assert_eq!(bars.len(), 10, "{chart}");
        for (i, (label, n, h, tick)) in bars.iter().enumerate() {
            assert_eq!(tick, &format!("{}–{}%", i * 10, i * 10 + 10), "{chart}");
            assert_eq!(tick, label);
            if *n > 0 {
                assert!(*h >= 4.0, "{chart} {label}: {n} drawn {h} px tall");
            } else {
                assert_eq!(*h, 0.0, "{chart} {label}");
            }
        }
    }

    // A period without logins: no exceptions, said plainly.
    let empty = sim.path("empty.html");
    let o = sim.report(
        &sim.config(),
        &["--from", "2026-11-10", "--to", "2026-11-17"],
        &empty,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let page = open_in_chromium(&empty);
    let sections = first_section(&page.dom);
    assert!(
        sections.contains("<strong>No exceptions.</strong>"),
        "{sections}"
    );
    assert_eq!(figure(&sections, "exceptions"), "0");
    assert!(!sections.contains("<tr data-exception="));
}

/// The first section of `<main>`, owned.
fn first_section(dom: &str) -> String {
    let s = sections(dom);
    assert_eq!(s[0].0, "exceptions");
    s[0].1.to_owned()
}

#[test]
fn a_bar_of_2_beside_one_of_1891_is_drawn_visibly_in_chromium() {
    // The demo company's claimed-country shares (2,000 employees): 3, 0, 0, 0, 0, 1, 2, 7,
    // 14, 1,891. On a plain linear scale a bar of 2 is 0.2 px: nothing to see.
    let counts = [2u64, 0, 0, 0, 0, 1, 2, 7, 14, 1891];
    let bins: Vec<driftwatch::report::model::Bin> = counts
        .iter()
        .enumerate()
        .map(|(i, &n)| driftwatch::report::model::Bin {
            label: format!("{}–{}%", i * 10, i * 10 + 10),
            from: i as f64 / 10.0,
            to: (i + 1) as f64 / 10.0,
            employees: n,
        })
        .collect();
    let svg =
        driftwatch::report::svg::histogram("h", "Shares", "Employees per band", &bins, "share (%)");
    let dir = tempfile::tempdir().unwrap();
    let page_path = dir.path().join("histogram.html");
    std::fs::write(
        &page_path,
        with_bar_measurer(&format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>{svg}</body></html>"
        )),
    )
    .unwrap();
    let page = open_in_chromium(&page_path);
    let bars = bars_of(&page.dom, "h");
    let height = |label: &str| bars.iter().find(|b| b.0 == label).unwrap().2;
    assert!(height("0–10%") >= 4.0, "{bars:?}");
    assert!(height("50–60%") >= 4.0, "{bars:?}");
    assert_eq!(height("10–20%"), 0.0, "{bars:?}");
    assert!(height("90–100%") >= 150.0, "{bars:?}");
    assert_eq!(bars[9].3, "90–100%");
    assert!(page.dom.contains(">1,891</text>"), "the count is printed");
    assert!(page.dom.contains(">2</text>"), "the count is printed");
    assert!(page.dom.contains("linear scale"), "the scale is said");
}
