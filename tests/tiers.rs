//! tests/TIERS sorts every integration test into the hermetic or the external tier, and
//! `.ci/run` runs them tier by tier: the list must name every test file once, and a
//! hermetic test must not reach for anything outside cargo's build.

use std::collections::BTreeMap;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `name → tier` from tests/TIERS; panics on a malformed or repeated line.
fn tiers() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("tests/TIERS")).unwrap();
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(
            fields.len() == 2 && matches!(fields[0], "hermetic" | "external"),
            "tests/TIERS:{}: `hermetic NAME` or `external NAME`, not {line:?}",
            n + 1
        );
        let previous = out.insert(fields[1].to_owned(), fields[0].to_owned());
        assert!(previous.is_none(), "tests/TIERS names {} twice", fields[1]);
    }
    out
}

/// The integration test binaries: tests/*.rs.
fn test_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("tests"))
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

/// What a hermetic test may not mention: a program other than driftwatch itself, a broker,
/// a browser or downloaded data.
fn external_reaches(source: &str) -> Vec<String> {
    const MARKERS: [&str; 16] = [
        "MockCluster",
        "Broker::start",
        "promtool",
        "prometheus-alertmanager",
        "amtool",
        "chromium",
        "kubectl",
        "kubernetes-validate",
        "docker-compose",
        "yamllint",
        "shellcheck",
        "systemd-analyze",
        "hadolint",
        "DRIFTWATCH_REAL_GEO",
        "real_geo",
        "\"demo\"",
    ];
    let mut found: Vec<String> = MARKERS
        .iter()
        .filter(|m| source.contains(*m))
        .map(|m| (*m).to_owned())
        .collect();
    // Programs: only driftwatch's own binary (or a `BIN` constant naming it), and the POSIX
    // shell that every machine has.
    let bin_const = source.contains("const BIN: &str = env!(\"CARGO_BIN_EXE_driftwatch\")");
    for (i, _) in source.match_indices("Command::new(") {
        let arg = source[i + "Command::new(".len()..].trim_start();
        let allowed = arg.starts_with("env!(\"CARGO_BIN_EXE_driftwatch\")")
            || arg.starts_with("\"sh\")")
            || (bin_const && arg.starts_with("BIN)"));
        if !allowed {
            let end = arg.find(')').unwrap_or(arg.len()).min(60);
            found.push(format!("Command::new({}", &arg[..end]));
        }
    }
    found
}

#[test]
fn every_integration_test_is_in_exactly_one_tier() {
    let tiers = tiers();
    let files = test_files();
    let unlisted: Vec<&String> = files.iter().filter(|f| !tiers.contains_key(*f)).collect();
    let stale: Vec<&String> = tiers.keys().filter(|t| !files.contains(t)).collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "tests/TIERS: add {unlisted:?} (hermetic or external), remove {stale:?}"
    );
}

#[test]
fn hermetic_tests_reach_for_nothing_outside_cargo() {
    let mut reaches = Vec::new();
    for (name, tier) in tiers() {
        if tier != "hermetic" || name == "tiers" {
            continue;
        }
        let source = std::fs::read_to_string(root().join(format!("tests/{name}.rs"))).unwrap();
        for r in external_reaches(&source) {
            reaches.push(format!("tests/{name}.rs: {r}"));
        }
    }
    assert!(
        reaches.is_empty(),
        "hermetic tests that are not (move them to `external` in tests/TIERS):\n{}",
        reaches.join("\n")
    );
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Unit tests run in the hermetic tier, so the code they live in starts no other program:
/// a unit test that needs promtool, a browser or a broker binary belongs in tests/ under
/// `external`.
#[test]
fn unit_tests_start_no_other_program() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("crates"), &mut files);
    let mut reaches = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for r in external_reaches(&source)
            .into_iter()
            .filter(|r| r.starts_with("Command::new("))
        {
            reaches.push(format!("{}: {r}", file.display()));
        }
    }
    assert!(reaches.is_empty(), "{}", reaches.join("\n"));
}

/// The check finds what it looks for: each kind of reach in a made-up test.
#[test]
fn the_reach_check_finds_programs_brokers_browsers_and_data() {
    assert!(
        external_reaches("let x = Command::new(env!(\"CARGO_BIN_EXE_driftwatch\"));").is_empty()
    );
    for source in [
        "Command::new(\"promtool\")",
        "std::process::Command::new(tool)",
        "Command::new(BIN)",
        "let c = MockCluster::new(1);",
        "let b = support::tansu::Broker::start();",
        "std::env::var(\"DRIFTWATCH_REAL_GEO\")",
        ".args([\"demo\", \"--seconds\", \"5\"])",
    ] {
        assert!(!external_reaches(source).is_empty(), "{source}");
    }
    // And the external tests it would flag are flagged.
    let dashboards = std::fs::read_to_string(root().join("tests/dashboards.rs")).unwrap();
    assert!(!external_reaches(&dashboards).is_empty());
}
