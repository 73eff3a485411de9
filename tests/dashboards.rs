//! The Grafana dashboards in `dashboards/` against the real things: every dashboard is valid
//! against Grafana's dashboard JSON schema (schemaVersion 42, from `@grafana/schema`, in
//! `../shared/reference/grafana/`), follows the house rules (a unit, a description and the
//! datasource variable on every panel, `$__rate_interval` or `$__range` as every range),
//! and every panel's PromQL (and every recorded series) returns at least one series from a
//! real Prometheus that loaded `deploy/prometheus/recording.yml` and scraped a real
//! `driftwatch run` (a simulated company through a tansu broker, with malformed records, an
//! unknown user and a webhook destination, so that every metric a panel shows has series).
//! The panels on the analyst API (Infinity datasource) are called on that run's `/api/v1`
//! with an auditor token, and their root and column selectors must find values.
//!
//! Needs `/usr/bin/prometheus` (Debian package `prometheus`, which `.ci/run` installs) and
//! tansu (see `tests/support/tansu.rs`). `promtool check rules` and `promtool test rules`
//! on the recording rules run in `tests/prometheus_rules.rs`, with every other rules file.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::Digest;
use support::receiver::{Receiver, start_receiver};
use support::service::{Options, company, log_tail, run_config, stop, wait_done, wait_until};
use support::tansu::{Broker, create_topic, free_port, produce};

/// The Grafana dashboard schema, relative to the repository.
const SCHEMA: &str = "../shared/reference/grafana/dashboard-v1.schema.json";
/// The uid of the provisioned Prometheus datasource, which every dashboard's `datasource`
/// variable defaults to.
const DATASOURCE_UID: &str = "driftwatch-prometheus";
/// How every Prometheus panel and target names its datasource: through the variable.
const DATASOURCE_REF: &str = "${datasource}";
/// The Infinity plugin's datasource type, for the panels on driftwatch's API.
const INFINITY: &str = "yesoreyeram-infinity-datasource";
/// The uid of the provisioned Infinity datasource (`driftwatch-api.yaml`), which every
/// dashboard's `api` variable defaults to.
const API_UID: &str = "driftwatch-api";
/// How every Infinity panel and target names its datasource.
const API_REF: &str = "${api}";
/// Labels whose values a dashboard variable of the same name filters, by metric (raw or
/// recorded): a selector of one of these metrics must match `label=~"$label"`. Every raw
/// metric also carries `instance` (the scrape target's), recorded ones do not.
const FILTERED: [(&str, &[&str]); 10] = [
    ("driftwatch_records_consumed_total", &["source"]),
    ("driftwatch_records_rejected_total", &["source"]),
    ("driftwatch_unknown_users_total", &["source"]),
    ("driftwatch_dead_lettered_total", &["source"]),
    ("driftwatch_unroutable_logins_total", &["source"]),
    ("driftwatch_alerts_total", &["rule", "severity"]),
    ("driftwatch_findings_total", &["severity"]),
    ("driftwatch:records_consumed:rate5m", &["source"]),
    ("driftwatch:alerts:rate5m", &["rule", "severity"]),
    ("driftwatch:findings:rate5m", &["severity"]),
];
/// Grafana's own variables a query may use.
const BUILT_IN: [&str; 3] = ["__rate_interval", "__range", "__interval"];
const PROMETHEUS: &str = "/usr/bin/prometheus";

const INPUT: &str = "sim.raw";
const PATIENCE: Duration = Duration::from_secs(120);
/// How long every panel gets to show data once the run has caught up: consumer lag comes
/// from librdkafka statistics every 5 s, and rates need two scrapes.
const SERIES_PATIENCE: Duration = Duration::from_secs(60);
/// What `$__rate_interval` becomes with a 1 s scrape interval: Grafana would use at least
/// four scrape intervals; 30 s spans the whole short run at every step.
const RATE_INTERVAL: &str = "30s";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A dashboard file and its JSON.
struct Dashboard {
    file: String,
    json: Value,
}

/// Every `dashboards/*.json`, by file name.
fn dashboards() -> Vec<Dashboard> {
    let mut out: Vec<Dashboard> = std::fs::read_dir(root().join("dashboards"))
        .expect("read dashboards/")
        .map(|e| e.expect("list dashboards/").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read a dashboard");
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            Dashboard { file, json }
        })
        .collect();
    out.sort_by(|a, b| a.file.cmp(&b.file));
    assert!(
        out.len() >= 4,
        "SOC overview, detections, pipeline health and employee at least"
    );
    out
}

fn schema_validator() -> jsonschema::Validator {
    let path = root().join(SCHEMA);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::draft7::new(&schema).expect("the Grafana schema compiles")
}

/// What the schema says is wrong with `dashboard`, one line per error.
fn schema_errors(validator: &jsonschema::Validator, dashboard: &Value) -> Vec<String> {
    validator
        .iter_errors(dashboard)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect()
}

/// The panels that show data: top-level ones and those inside rows (a collapsed row keeps
/// its panels in `panels`).
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().into_iter().flatten() {
        if p["type"] == "row" {
            out.extend(p["panels"].as_array().into_iter().flatten());
        } else {
            out.push(p);
        }
    }
    out
}

/// One panel query.
struct Query {
    dashboard: String,
    panel: String,
    expr: String,
    instant: bool,
}

/// Every PromQL query of a dashboard: its panels' (Prometheus targets), its annotations',
/// and its query variables' (`label_values(metric, label)` as `group by (label) (metric)`,
/// which has series exactly when the variable has values).
fn queries(d: &Dashboard) -> Vec<Query> {
    let title = d.json["title"].as_str().unwrap_or(&d.file).to_owned();
    let mut out = Vec::new();
    for a in d.json["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(expr) = a["expr"].as_str() {
            out.push(Query {
                dashboard: title.clone(),
                panel: format!("annotation {}", a["name"]),
                expr: expr.to_owned(),
                instant: false,
            });
        }
    }
    for v in variables(&d.json) {
        if v["type"] != "query" {
            continue;
        }
        let definition = v["definition"].as_str().unwrap_or_default();
        let (metric, label) = definition
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.split_once(','))
            .unwrap_or(("", ""));
        out.push(Query {
            dashboard: title.clone(),
            panel: format!("variable {}", v["name"]),
            expr: format!("group by ({}) ({})", label.trim(), metric.trim()),
            instant: true,
        });
    }
    for p in panels(&d.json) {
        for t in p["targets"].as_array().into_iter().flatten() {
            if t["datasource"]["type"] == INFINITY {
                continue;
            }
            out.push(Query {
                dashboard: title.clone(),
                panel: p["title"].as_str().unwrap_or("(untitled)").to_owned(),
                expr: t["expr"].as_str().unwrap_or_default().to_owned(),
                instant: t["instant"] == true,
            });
        }
    }
    out
}

/// The template variables of a dashboard.
fn variables(dashboard: &Value) -> impl Iterator<Item = &Value> {
    dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
}

/// One Infinity panel query: a path of driftwatch's API, where its rows are (`root`, a
/// dotted path; empty for the answer itself) and the dotted path of each column in a row.
struct ApiQuery {
    dashboard: String,
    panel: String,
    url: String,
    root: String,
    columns: Vec<String>,
}

fn api_queries(d: &Dashboard) -> Vec<ApiQuery> {
    let title = d.json["title"].as_str().unwrap_or(&d.file).to_owned();
    let mut out = Vec::new();
    for p in panels(&d.json) {
        for t in p["targets"].as_array().into_iter().flatten() {
            if t["datasource"]["type"] != INFINITY {
                continue;
            }
            out.push(ApiQuery {
                dashboard: title.clone(),
                panel: p["title"].as_str().unwrap_or("(untitled)").to_owned(),
                url: t["url"].as_str().unwrap_or_default().to_owned(),
                root: t["root_selector"].as_str().unwrap_or_default().to_owned(),
                columns: t["columns"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| c["selector"].as_str().unwrap_or_default().to_owned())
                    .collect(),
            });
        }
    }
    out
}

/// The value at a dotted path (`risk.open_alert.id`); the empty path is `value` itself.
fn at_path<'v>(value: &'v Value, path: &str) -> &'v Value {
    if path.is_empty() {
        return value;
    }
    path.split('.').fold(value, |v, key| &v[key])
}

/// What an API answer lacks for a panel: rows at `root` (an array, or one object as one
/// row), and for every column a row where its selector finds a value (not null, not
/// missing), as Infinity's backend parser would read them.
fn selector_problems(answer: &Value, root: &str, columns: &[String]) -> Vec<String> {
    let rows: Vec<&Value> = match at_path(answer, root) {
        Value::Array(rows) => rows.iter().collect(),
        row @ Value::Object(_) => vec![row],
        other => return vec![format!("root selector {root:?} finds no rows: {other}")],
    };
    if rows.is_empty() {
        return vec![format!("root selector {root:?} finds an empty list")];
    }
    columns
        .iter()
        .filter(|c| rows.iter().all(|r| at_path(r, c).is_null()))
        .map(|c| format!("column selector {c:?} finds nothing in {} rows", rows.len()))
        .collect()
}

/// Every selector of a metric in a PromQL expression: the metric's name and what is
/// between its braces (empty without).
fn selectors(expr: &str) -> Vec<(&str, &str)> {
    let bytes = expr.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !is_name(bytes[i]) || (i > 0 && is_name(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_name(bytes[i]) {
            i += 1;
        }
        let name = &expr[start..i];
        if !(name.starts_with("driftwatch_")
            || name.starts_with("driftwatch:")
            || name.starts_with("process_"))
        {
            continue;
        }
        let matchers = match expr[i..].strip_prefix('{') {
            Some(rest) => rest.split_once('}').map_or(rest, |(m, _)| m),
            None => "",
        };
        out.push((name, matchers));
    }
    out
}

/// What a Prometheus expression lacks of the dashboard variables' filters: `instance` on
/// every raw metric, and the labels of [`FILTERED`].
fn filter_problems(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (name, matchers) in selectors(expr) {
        let mut wanted: Vec<&str> = FILTERED
            .iter()
            .find(|(m, _)| *m == name)
            .map(|(_, labels)| labels.to_vec())
            .unwrap_or_default();
        if !name.contains(':') {
            wanted.push("instance");
        }
        for label in wanted {
            let matcher = format!("{label}=~\"${label}\"");
            if !matchers.contains(&matcher) {
                out.push(format!("{name} without {matcher} in {expr:?}"));
            }
        }
    }
    out
}

/// The variables (`$name`, `${name}`, `${name:format}`) that `text` uses.
fn used_variables(text: &str) -> BTreeSet<String> {
    text.split('$')
        .skip(1)
        .filter_map(|rest| {
            let name: String = match rest.strip_prefix('{') {
                Some(inner) => inner
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect(),
                None => rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect(),
            };
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// Every recorded series of `deploy/prometheus/recording.yml`, as instant queries: each
/// must have series too, used by a panel or not.
fn recorded() -> Vec<Query> {
    let path = root().join("deploy/prometheus/recording.yml");
    let text = std::fs::read_to_string(&path).expect("read recording.yml");
    let names: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- record:"))
        .map(str::trim)
        .collect();
    assert!(!names.is_empty(), "no record: in {}", path.display());
    names
        .into_iter()
        .map(|name| Query {
            dashboard: "deploy/prometheus/recording.yml".to_owned(),
            panel: "recording rule".to_owned(),
            expr: name.to_owned(),
            instant: true,
        })
        .collect()
}

/// Every way `dashboard` breaks the house rules, one line per problem.
fn problems(file: &str, dashboard: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if dashboard["schemaVersion"] != 42 {
        out.push(format!(
            "schemaVersion is {}, not 42",
            dashboard["schemaVersion"]
        ));
    }
    // A stable uid: the file's name, so links and provisioning survive re-imports.
    let stem = file.trim_end_matches(".json");
    if dashboard["uid"] != stem {
        out.push(format!(
            "uid {} is not the file name {stem:?}",
            dashboard["uid"]
        ));
    }
    let all_panels = panels(dashboard);
    let uses = |kind: &str| all_panels.iter().any(|p| p["datasource"]["type"] == kind);
    // One datasource variable per kind of panel, each defaulting to the provisioned uid.
    let datasource_variables = [
        (
            "datasource",
            "prometheus",
            DATASOURCE_UID,
            uses("prometheus"),
        ),
        ("api", INFINITY, API_UID, uses(INFINITY)),
    ];
    for (name, kind, uid, used) in datasource_variables {
        match variables(dashboard).find(|v| v["type"] == "datasource" && v["query"] == kind) {
            Some(v) => {
                if v["name"] != name {
                    out.push(format!(
                        "the {kind} datasource variable must be named {name}: {v}"
                    ));
                }
                if v["current"]["value"] != uid {
                    out.push(format!(
                        "the {name} variable defaults to {}, not the provisioned {uid}",
                        v["current"]["value"]
                    ));
                }
            }
            None if used => out.push(format!(
                "no {name} template variable (type datasource, {kind})"
            )),
            None => {}
        }
    }
    let defined: BTreeSet<String> = variables(dashboard)
        .filter_map(|v| v["name"].as_str().map(str::to_owned))
        .collect();
    let mut used = BTreeSet::new();
    let prometheus = json!({ "type": "prometheus", "uid": DATASOURCE_REF });
    let infinity = json!({ "type": INFINITY, "uid": API_REF });
    let mut ids = BTreeSet::new();
    let rows = dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["type"] == "row");
    for p in rows.chain(all_panels.iter().copied()) {
        if !ids.insert(p["id"].to_string()) {
            out.push(format!("panel id {} is used twice", p["id"]));
        }
    }
    for a in dashboard["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if a["builtIn"] == 1 {
            continue;
        }
        let at = format!("annotation {}", a["name"]);
        if a["datasource"] != prometheus {
            out.push(format!(
                "{at}: datasource {} is not {prometheus}",
                a["datasource"]
            ));
        }
        let expr = a["expr"].as_str().unwrap_or_default();
        out.extend(expr_problems(&at, expr));
        used.extend(used_variables(expr));
    }
    for v in variables(dashboard).filter(|v| v["type"] == "query") {
        let at = format!("variable {}", v["name"]);
        if v["datasource"] != prometheus {
            out.push(format!(
                "{at}: datasource {} is not {prometheus}",
                v["datasource"]
            ));
        }
        let definition = v["definition"].as_str().unwrap_or_default();
        if !definition.starts_with("label_values(") || v["query"]["query"] != definition {
            out.push(format!(
                "{at}: a label_values(metric, label) query, as its definition"
            ));
        }
        if v["multi"] != true || v["includeAll"] != true || v["allValue"] != ".*" {
            out.push(format!("{at}: multi-value, with All as .*"));
        }
    }
    for p in &all_panels {
        let title = p["title"].as_str().unwrap_or_default();
        let at = format!("panel {title:?}");
        if title.is_empty() {
            out.push(format!("{at}: no title"));
        }
        if p["description"].as_str().is_none_or(str::is_empty) {
            out.push(format!("{at}: no description"));
        }
        if p["fieldConfig"]["defaults"]["unit"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            out.push(format!("{at}: no unit (fieldConfig.defaults.unit)"));
        }
        let wanted = if p["datasource"]["type"] == INFINITY {
            &infinity
        } else {
            &prometheus
        };
        if p["datasource"] != *wanted {
            out.push(format!(
                "{at}: datasource {} is not {wanted}",
                p["datasource"]
            ));
        }
        let targets = p["targets"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        if targets.is_empty() {
            out.push(format!("{at}: no query"));
        }
        for t in targets {
            if t["datasource"] != *wanted {
                out.push(format!(
                    "{at}: target datasource {} is not {wanted}",
                    t["datasource"]
                ));
            }
            if wanted == &infinity {
                let url = t["url"].as_str().unwrap_or_default();
                if !url.starts_with("/api/v1/") {
                    out.push(format!(
                        "{at}: URL {url:?} is not a path of the API (the datasource has the base)"
                    ));
                }
                if t["type"] != "json" || t["source"] != "url" || t["format"] != "table" {
                    out.push(format!(
                        "{at}: an Infinity query is JSON from a URL, as a table"
                    ));
                }
                if !t["root_selector"].is_string()
                    || t["columns"].as_array().is_none_or(|c| {
                        c.is_empty()
                            || c.iter()
                                .any(|c| c["selector"].as_str().is_none_or(str::is_empty))
                    })
                {
                    out.push(format!(
                        "{at}: a root selector and a selector for every column"
                    ));
                }
                // The token lives in the datasource (secureJsonData), never in a panel.
                if t["url_options"]["headers"]
                    .as_array()
                    .is_some_and(|h| !h.is_empty())
                    || t["url"].to_string().to_lowercase().contains("token")
                {
                    out.push(format!("{at}: headers or a token in the query"));
                }
                used.extend(used_variables(url));
            } else {
                let expr = t["expr"].as_str().unwrap_or_default();
                out.extend(expr_problems(&at, expr));
                used.extend(used_variables(expr));
            }
        }
    }
    for name in &used {
        if !defined.contains(name) && !BUILT_IN.contains(&name.as_str()) {
            out.push(format!("${name} is used but no variable defines it"));
        }
    }
    for name in &defined {
        let is_filter =
            variables(dashboard).any(|v| v["name"] == name.as_str() && v["type"] == "query");
        if is_filter && !used.contains(name) {
            out.push(format!("variable {name} is defined but no query uses it"));
        }
    }
    let text = dashboard.to_string();
    if text.contains('@') || has_dotted_quad(&text) {
        out.push("an e-mail or an IP address in the dashboard".to_owned());
    }
    out
}

/// What is wrong with one PromQL query of a dashboard (`at` says where it is): none, a
/// fixed window, a variable's filter missing.
fn expr_problems(at: &str, expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    if expr.is_empty() {
        out.push(format!("{at}: a query without expr"));
    }
    for window in windows(expr) {
        if window != "$__rate_interval" && window != "$__range" {
            out.push(format!(
                "{at}: range [{window}] in {expr:?}: use $__rate_interval (or $__range \
                 for totals over the time range); fixed windows belong in \
                 deploy/prometheus/recording.yml"
            ));
        }
    }
    out.extend(
        filter_problems(expr)
            .into_iter()
            .map(|p| format!("{at}: {p}")),
    );
    out
}

/// The contents of every `[...]` in a PromQL expression (range selectors and subqueries).
fn windows(expr: &str) -> Vec<&str> {
    expr.split('[')
        .skip(1)
        .filter_map(|rest| rest.split_once(']').map(|(w, _)| w.trim()))
        .collect()
}

/// Whether `text` holds four dot-separated groups of digits (an IPv4 address).
fn has_dotted_quad(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .any(|token| {
            let parts: Vec<&str> = token.split('.').collect();
            parts.len() >= 4 && parts.iter().all(|p| !p.is_empty())
        })
}

/// What a test breaks in a good dashboard, and how.
type Breakage = (&'static str, fn(&mut Value));

/// The first top-level panel that is not a row.
fn first_panel(dashboard: &mut Value) -> &mut Value {
    dashboard["panels"]
        .as_array_mut()
        .and_then(|ps| ps.iter_mut().find(|p| p["type"] != "row"))
        .expect("a dashboard with a panel outside rows")
}

#[test]
fn every_dashboard_validates_against_the_grafana_schema() {
    let validator = schema_validator();
    for d in dashboards() {
        let errors = schema_errors(&validator, &d.json);
        assert!(
            errors.is_empty(),
            "{} does not validate against {SCHEMA}:\n{}",
            d.file,
            errors.join("\n")
        );
    }
}

#[test]
fn a_dashboard_with_a_wrong_typed_field_fails_validation() {
    let validator = schema_validator();
    let good = dashboards().remove(0).json;
    let breakages: [Breakage; 4] = [
        ("a panel's height as a string", |d| {
            first_panel(d)["gridPos"]["h"] = json!("tall")
        }),
        ("schemaVersion as a string", |d| {
            d["schemaVersion"] = json!("42")
        }),
        ("a panel without a type", |d| {
            first_panel(d).as_object_mut().unwrap().remove("type");
        }),
        ("fieldConfig without overrides", |d| {
            first_panel(d)["fieldConfig"]
                .as_object_mut()
                .unwrap()
                .remove("overrides");
        }),
    ];
    for (what, breakage) in breakages {
        let mut broken = good.clone();
        breakage(&mut broken);
        assert!(
            !schema_errors(&validator, &broken).is_empty(),
            "{what}: the schema must refuse it"
        );
    }
}

#[test]
fn every_panel_has_a_unit_a_description_and_the_datasource_variable() {
    let mut uids = BTreeMap::new();
    for d in dashboards() {
        let found = problems(&d.file, &d.json);
        assert!(found.is_empty(), "{}:\n{}", d.file, found.join("\n"));
        if let Some(other) = uids.insert(d.json["uid"].to_string(), d.file.clone()) {
            panic!("{} and {other} share the uid {}", d.file, d.json["uid"]);
        }
    }
}

#[test]
fn the_house_rules_catch_a_careless_panel() {
    let d = dashboards().remove(0);
    assert!(problems(&d.file, &d.json).is_empty());
    let breakages: [Breakage; 5] = [
        ("no description", |d| {
            first_panel(d)
                .as_object_mut()
                .unwrap()
                .remove("description");
        }),
        ("no unit", |d| {
            first_panel(d)["fieldConfig"]["defaults"]
                .as_object_mut()
                .unwrap()
                .remove("unit");
        }),
        ("a fixed datasource", |d| {
            first_panel(d)["targets"][0]["datasource"]["uid"] = json!(DATASOURCE_UID)
        }),
        ("a fixed rate window", |d| {
            first_panel(d)["targets"][0]["expr"] =
                json!("sum(rate(driftwatch_records_consumed_total[5m]))")
        }),
        ("an address in a legend", |d| {
            first_panel(d)["targets"][0]["legendFormat"] = json!("192.0.2.7")
        }),
    ];
    for (what, breakage) in breakages {
        let mut broken = d.json.clone();
        breakage(&mut broken);
        assert!(
            !problems(&d.file, &broken).is_empty(),
            "{what}: the house rules must refuse it"
        );
    }
}

/// The panel titled `title` (top level) of a dashboard.
fn panel_titled<'d>(dashboard: &'d mut Value, title: &str) -> &'d mut Value {
    dashboard["panels"]
        .as_array_mut()
        .and_then(|ps| ps.iter_mut().find(|p| p["title"] == title))
        .unwrap_or_else(|| panic!("no panel {title:?}"))
}

/// The variable named `name` of a dashboard.
fn variable_named<'d>(dashboard: &'d mut Value, name: &str) -> &'d mut Value {
    dashboard["templating"]["list"]
        .as_array_mut()
        .and_then(|vs| vs.iter_mut().find(|v| v["name"] == name))
        .unwrap_or_else(|| panic!("no variable {name:?}"))
}

#[test]
fn the_house_rules_catch_a_careless_filter_or_api_panel() {
    let d = dashboards()
        .into_iter()
        .find(|d| d.file == "driftwatch-soc-overview.json")
        .expect("the SOC overview");
    assert!(problems(&d.file, &d.json).is_empty());
    const RISKY: &str = "Who is risky now";
    const ALERTS: &str = "Alerts by rule and severity";
    let breakages: [Breakage; 11] = [
        ("an alert query without the rule filter", |d| {
            panel_titled(d, ALERTS)["targets"][0]["expr"] = json!(
                "sum by (rule, severity) (rate(driftwatch_alerts_total{instance=~\"$instance\", \
                 severity=~\"$severity\"}[$__rate_interval])) * 3600"
            )
        }),
        ("a raw metric without the instance filter", |d| {
            panel_titled(d, "Employees at risk")["targets"][0]["expr"] =
                json!("sum(driftwatch_employees_by_risk{level!=\"none\"})")
        }),
        ("a recorded series without the source filter", |d| {
            panel_titled(d, "Events per second")["targets"][0]["expr"] =
                json!("sum(driftwatch:records_consumed:rate5m)")
        }),
        ("a variable no query uses", |d| {
            let mut extra = variable_named(d, "rule").clone();
            extra["name"] = json!("unused");
            d["templating"]["list"].as_array_mut().unwrap().push(extra);
        }),
        ("a query on a variable nobody defines", |d| {
            d["templating"]["list"]
                .as_array_mut()
                .unwrap()
                .retain(|v| v["name"] != "severity");
        }),
        ("a single-value filter", |d| {
            variable_named(d, "source")["multi"] = json!(false)
        }),
        ("an annotation with a fixed window", |d| {
            d["annotations"]["list"][1]["expr"] = json!(
                "sum by (rule, severity) (increase(driftwatch_alerts_total{instance=~\"$instance\", \
                 rule=~\"$rule\", severity=~\"$severity\"}[5m])) > 0"
            )
        }),
        ("an Infinity panel on a fixed datasource", |d| {
            panel_titled(d, RISKY)["targets"][0]["datasource"]["uid"] = json!(API_UID)
        }),
        ("an Infinity panel on a full URL", |d| {
            panel_titled(d, RISKY)["targets"][0]["url"] =
                json!("http://driftwatch:9464/api/v1/employees?sort=risk")
        }),
        ("a token in a panel", |d| {
            panel_titled(d, RISKY)["targets"][0]["url_options"]["headers"] =
                json!([{"key": "Authorization", "value": "Bearer dwt_x"}])
        }),
        ("the api variable on another default", |d| {
            variable_named(d, "api")["current"]["value"] = json!("my-infinity")
        }),
    ];
    for (what, breakage) in breakages {
        let mut broken = d.json.clone();
        breakage(&mut broken);
        assert!(
            !problems(&d.file, &broken).is_empty(),
            "{what}: the house rules must refuse it"
        );
    }
}

#[test]
fn provisioning_serves_the_dashboards_datasource_and_folder() {
    let read = |p: &str| {
        std::fs::read_to_string(root().join("dashboards/provisioning").join(p))
            .unwrap_or_else(|e| panic!("read dashboards/provisioning/{p}: {e}"))
    };
    let datasources = read("datasources/driftwatch.yaml");
    let lines: Vec<&str> = datasources.lines().map(str::trim).collect();
    assert!(lines.contains(&"apiVersion: 1"));
    assert!(lines.contains(&"type: prometheus"), "{datasources}");
    assert!(
        lines.contains(&format!("uid: {DATASOURCE_UID}").as_str()),
        "the provisioned datasource must have the uid the dashboards default to"
    );
    // The Infinity datasource of the API panels: the uid they default to, a bearer token
    // from Grafana's environment (never in the file), and only driftwatch's host allowed.
    let api = read("datasources/driftwatch-api.yaml");
    let yaml: yaml_serde::Value = yaml_serde::from_str(&api).expect("driftwatch-api.yaml is YAML");
    let yaml = serde_json::to_value(yaml).unwrap();
    assert_eq!(yaml["apiVersion"], 1);
    let ds = &yaml["datasources"][0];
    assert_eq!(ds["type"], INFINITY, "{api}");
    assert_eq!(
        ds["uid"], API_UID,
        "the uid the dashboards' api variable defaults to"
    );
    assert_eq!(ds["jsonData"]["auth_method"], "bearerToken", "{api}");
    let token = ds["secureJsonData"]["bearerToken"]
        .as_str()
        .unwrap_or_default();
    assert!(
        token.starts_with("${") && token.ends_with('}') && !api.contains("dwt_"),
        "the token comes from the environment: {token:?}"
    );
    let url = ds["url"].as_str().expect("a base URL");
    assert_eq!(ds["jsonData"]["allowedHosts"], json!([url]), "{api}");
    // The compose stack installs the plugin and gives Grafana a token that driftwatch
    // there accepts, with the auditor role (reads only).
    let compose_text = std::fs::read_to_string(root().join("deploy/compose/compose.yaml"))
        .expect("read deploy/compose/compose.yaml");
    let compose: yaml_serde::Value = yaml_serde::from_str(&compose_text).unwrap();
    let compose = serde_json::to_value(compose).unwrap();
    let grafana = &compose["services"]["grafana"]["environment"];
    assert!(
        grafana["GF_PLUGINS_PREINSTALL"]
            .as_str()
            .is_some_and(|p| p.split(',').any(|p| p.trim() == INFINITY)),
        "compose's Grafana installs {INFINITY}: {grafana}"
    );
    let variable = token.trim_start_matches("${").trim_end_matches('}');
    let given = grafana[variable]
        .as_str()
        .expect("compose gives Grafana the token");
    let digest = driftwatch::hex::hex(&sha2::Sha256::digest(given.as_bytes()));
    let config: toml::Value = toml::from_str(
        &std::fs::read_to_string(root().join("deploy/compose/driftwatch.toml")).unwrap(),
    )
    .unwrap();
    let entry = config["api"]["token"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["sha256"].as_str() == Some(digest.as_str()))
        .expect("the token compose gives Grafana is one of driftwatch.toml's");
    assert_eq!(entry["role"].as_str(), Some("auditor"), "{entry}");
    assert!(
        url.contains("driftwatch:9464"),
        "compose's driftwatch: {url}"
    );

    let providers = read("dashboards/driftwatch.yaml");
    let lines: Vec<&str> = providers.lines().map(str::trim).collect();
    assert!(lines.contains(&"apiVersion: 1"));
    assert!(lines.contains(&"type: file"), "{providers}");
    assert!(
        lines.iter().any(|l| l.starts_with("path: /")),
        "a file provider needs an absolute path: {providers}"
    );
}

/// A Prometheus on a free 127.0.0.1 port scraping one target every second and evaluating
/// the recording rules every second; killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Prometheus {
    fn start(dir: &Path, target: u16) -> Prometheus {
        assert!(
            Path::new(PROMETHEUS).exists(),
            "{PROMETHEUS} is missing: apt-get install prometheus (.ci/run does)"
        );
        let rules = root().join("deploy/prometheus/recording.yml");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}
scrape_configs:
  - job_name: driftwatch
    static_configs:
      - targets: ["127.0.0.1:{target}"]
"#,
                rules = rules.display()
            ),
        )
        .expect("write prometheus.yml");
        let port = free_port();
        let log = dir.join("prometheus.log");
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prometheus-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create prometheus.log"))
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus { child, port, log };
        wait_until(
            "prometheus ready",
            &prometheus.log,
            Duration::from_secs(30),
            || http_get(port, "/-/ready").is_some_and(|(s, _)| s == 200),
        );
        prometheus
    }

    /// The series `expr` returns: over `[start, end]` at 1 s steps, or at `end` when
    /// `instant`. `Err` with Prometheus' message when the query fails.
    fn series(
        &self,
        expr: &str,
        instant: bool,
        start: f64,
        end: f64,
    ) -> Result<Vec<Value>, String> {
        let path = if instant {
            format!("/api/v1/query?query={}&time={end:.3}", encode(expr))
        } else {
            format!(
                "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step=1",
                encode(expr)
            )
        };
        let (status, body) =
            http_get(self.port, &path).ok_or_else(|| "prometheus did not answer".to_owned())?;
        let reply: Value = serde_json::from_str(&body)
            .map_err(|e| format!("HTTP {status}, not JSON ({e}): {body}"))?;
        if reply["status"] != "success" {
            return Err(format!("HTTP {status}: {}", reply["error"]));
        }
        Ok(match &reply["data"]["result"] {
            Value::Array(series) => series.clone(),
            Value::Null => Vec::new(),
            scalar => vec![scalar.clone()],
        })
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` over HTTP/1.0, so that the answer is neither chunked nor kept alive.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_get_as(port, path, None)
}

/// [`http_get`] with a bearer token, as Grafana's Infinity datasource calls the API.
fn http_get_as(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// Percent-encoding of a query parameter.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A panel's expression as Grafana would send it: its variables replaced. `range` is the
/// dashboard's time range.
fn substitute(expr: &str, range: &str) -> String {
    let mut expr = expr.to_owned();
    // The filters at All.
    for name in ["instance", "source", "rule", "severity"] {
        expr = expr
            .replace(&format!("${{{name}}}"), ".*")
            .replace(&format!("${name}"), ".*");
    }
    expr.replace("${__rate_interval}", RATE_INTERVAL)
        .replace("$__rate_interval", RATE_INTERVAL)
        .replace("${__range}", range)
        .replace("$__range", range)
        .replace("${__interval}", "1s")
        .replace("$__interval", "1s")
}

/// Input that is not a known employee's login: two records that do not decode (rejected
/// and dead-lettered) and a VPN session of an account the roster does not know.
fn odd_records(records: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let asa = records
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .find(|r| r.contains("%ASA-6-113039") && r.contains("User <"))
        .expect("the simulated company has Cisco ASA sessions");
    let (head, rest) = asa.split_once("User <").unwrap();
    let (_, tail) = rest.split_once('>').unwrap();
    let unknown = format!("{head}User <contractor.unknown>{tail}");
    vec![
        br#"{"actor": {"alternateId": "#.to_vec(),
        b"this line is no log format driftwatch knows".to_vec(),
        unknown.into_bytes(),
    ]
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

#[test]
fn every_panel_query_returns_series_from_a_real_run() {
    let started = Instant::now();
    let mut all: Vec<Query> = dashboards().iter().flat_map(queries).collect();
    all.extend(recorded());
    let api: Vec<ApiQuery> = dashboards().iter().flat_map(api_queries).collect();
    assert!(!api.is_empty(), "the dashboards have panels on the API");
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start();
    let bootstrap = broker.bootstrap.clone();
    let mut records = company(dir.path(), 60, 10, 5);
    // The odd records come first and last: their series appear with their first count,
    // which no rate can see, and the second count is what the panels show.
    let odd = odd_records(&records);
    records.splice(0..0, odd.iter().cloned());
    records.extend(odd);
    create_topic(&bootstrap, INPUT, 1, false);

    // A webhook destination that answers 200 to everything.
    let hook = Receiver::default();
    let (hook_addr, _hook_runtime) = start_receiver(&hook);
    // The API on, with an auditor token like the one Grafana's Infinity datasource has.
    let (token, sha256) = driftwatch::api::new_token().expect("a token");
    let opts = Options {
        extra_toml: format!(
            "[route]\n[[route.destination]]\nname = \"webhook\"\nkind = \"webhook\"\n\
             url = \"http://{hook_addr}/hook\"\n\
             [api]\nenabled = true\n[[api.token]]\nname = \"grafana\"\nrole = \"auditor\"\n\
             sha256 = \"{sha256}\"\n"
        ),
        ..Options::default()
    };
    let run = run_config(dir.path(), &bootstrap, "dash", INPUT, &opts);
    let prometheus = Prometheus::start(dir.path(), run.port);
    let scraping_since = now();
    let log = dir.path().join("run.log");
    let child = run.start(&log, None);
    // Input only once Prometheus scrapes a ready service, and in slices a few scrapes
    // apart, so that the counters rise while Prometheus watches and rates are not all 0.
    wait_until("the service ready and scraped", &log, PATIENCE, || {
        run.get("/readyz").is_some_and(|(s, _)| s == 200)
            && prometheus
                .series("up == 1", true, 0.0, now())
                .is_ok_and(|s| !s.is_empty())
    });
    for slice in records.chunks(records.len().div_ceil(4)) {
        let batch: Vec<(Option<&[u8]>, &[u8])> =
            slice.iter().map(|r| (None, r.as_slice())).collect();
        produce(&bootstrap, INPUT, &batch);
        std::thread::sleep(Duration::from_secs(2));
    }
    wait_done(&bootstrap, "dash", INPUT, &log, PATIENCE);
    wait_until("alerts delivered to the webhook", &log, PATIENCE, || {
        !hook.on("/hook").is_empty()
    });

    // Poll until every panel has data: some series appear only after a few scrapes or
    // rule evaluations (rates, consumer lag, the route stage's first delivery).
    let deadline = Instant::now() + SERIES_PATIENCE;
    let (empty, flat) = loop {
        let end = now();
        let range = format!("{}s", (end - scraping_since).ceil() as u64 + 1);
        let mut empty = Vec::new();
        let mut flat = Vec::new();
        for q in &all {
            let expr = substitute(&q.expr, &range);
            let at = format!("{} / {}: {expr}", q.dashboard, q.panel);
            if expr.contains('$') {
                empty.push(format!("{at}: a variable the test does not know"));
                continue;
            }
            match prometheus.series(&expr, q.instant, scraping_since, end) {
                Ok(series) if series.is_empty() => empty.push(format!("{at}: no series")),
                Ok(series) if !series.iter().any(has_a_number) => flat.push(at),
                Ok(_) => {}
                Err(e) => empty.push(format!("{at}: {e}")),
            }
        }
        empty.extend(api_problems(run.port, &token, &api));
        if empty.is_empty() || Instant::now() >= deadline {
            break (empty, flat);
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    assert!(
        empty.is_empty(),
        "panels without data:\n{}\n\nrun log tail:\n{}\n\nprometheus log tail:\n{}",
        empty.join("\n"),
        log_tail(&log),
        log_tail(&prometheus.log)
    );
    // The selector check can fail: a column the answer lacks, a root it lacks.
    let q = api
        .iter()
        .find(|q| !q.url.contains('$'))
        .expect("an API panel without variables");
    let (_, body) = http_get_as(run.port, &q.url, Some(&token)).expect("the API answers");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    assert!(selector_problems(&answer, &q.root, &q.columns).is_empty());
    let mut columns = q.columns.clone();
    columns.push("risk.no_such_field".to_owned());
    assert_eq!(selector_problems(&answer, &q.root, &columns).len(), 1);
    assert!(!selector_problems(&answer, "no_such_list", &q.columns).is_empty());
    // Without the token the API refuses Grafana.
    assert_eq!(http_get(run.port, &q.url).map(|(s, _)| s), Some(401));
    // Not a failure: a percentile of nothing is NaN, and a rate of a quiet counter is 0.
    if !flat.is_empty() {
        eprintln!(
            "panels whose series are only NaN or 0 in this short run:\n{}",
            flat.join("\n")
        );
    }
    stop(child, "-TERM");
    eprintln!(
        "{} queries (panels, annotations, variables and recorded series) and {} API panel \
         queries checked in {:.0?} (webhook requests: {})",
        all.len(),
        api.len(),
        started.elapsed(),
        hook.on("/hook").len()
    );
}

/// What the API panels lack, one line each: every panel's URL (its variables replaced as
/// a user following the SOC overview's link would: `employee` the riskiest employee,
/// `alert` their open alert) called with the token, its root and column selectors applied
/// to the answer.
fn api_problems(port: u16, token: &str, api: &[ApiQuery]) -> Vec<String> {
    let call = |path: &str| -> Result<Value, String> {
        match http_get_as(port, path, Some(token)) {
            Some((200, body)) => serde_json::from_str(&body).map_err(|e| format!("not JSON: {e}")),
            Some((status, body)) => Err(format!("HTTP {status}: {body}")),
            None => Err("the API did not answer".to_owned()),
        }
    };
    let top = call("/api/v1/employees?sort=risk&limit=1&min_risk=low");
    let top = top.as_ref().map(|t| &t["employees"][0]);
    let (employee, alert) = match top {
        Ok(e) if e["risk"]["open_alert"]["id"].is_string() => (
            e["employee_id"].as_str().unwrap_or_default().to_owned(),
            e["risk"]["open_alert"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ),
        Ok(e) => return vec![format!("no employee at risk with an open alert yet: {e}")],
        Err(e) => return vec![format!("the riskiest employee: {e}")],
    };
    let mut out = Vec::new();
    for q in api {
        let url = q
            .url
            .replace("${employee}", &encode(&employee))
            .replace("${alert}", &encode(&alert));
        let at = format!("{} / {}: {url}", q.dashboard, q.panel);
        if url.contains('$') {
            out.push(format!("{at}: a variable the test does not know"));
            continue;
        }
        match call(&url) {
            Ok(answer) => out.extend(
                selector_problems(&answer, &q.root, &q.columns)
                    .into_iter()
                    .map(|p| format!("{at}: {p}")),
            ),
            Err(e) => out.push(format!("{at}: {e}")),
        }
    }
    out
}

/// Whether a result series (matrix or vector) has a value other than NaN and 0.
fn has_a_number(series: &Value) -> bool {
    let values: Vec<&Value> = match (&series["values"], &series["value"]) {
        (Value::Array(vs), _) => vs.iter().collect(),
        (_, v @ Value::Array(_)) => vec![v],
        _ => Vec::new(),
    };
    values
        .iter()
        .filter_map(|v| v[1].as_str())
        .filter_map(|v| v.parse::<f64>().ok())
        .any(|v| v.is_finite() && v != 0.0)
}
