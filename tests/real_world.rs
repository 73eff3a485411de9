//! The real-world evaluation end to end, small: `driftwatch simulate --world real` builds a
//! company of real address blocks placed by the published DB-IP Lite City database (and
//! the ip-location-db ASN ranges), and `driftwatch evaluate` replays it in both list modes
//! and with both City databases, with the peers' logic beside. This checks that it runs,
//! that a seed gives the same files twice, and that the report has every row and
//! scenario; how good the figures are is the benchmark's business (BENCHMARKS.md), not a
//! test's.
//!
//! Needs the ip-location-db packages `.ci/run` fetches (`$DRIFTWATCH_REAL_GEO`, default
//! `~/.cache/driftwatch/geo`); without them it fails, saying so.

use std::path::{Path, PathBuf};
use std::process::Command;

fn real_geo() -> PathBuf {
    match std::env::var_os("DRIFTWATCH_REAL_GEO") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
            .join(".cache/driftwatch/geo"),
    }
}

fn driftwatch(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(args)
        .output()
        .expect("run driftwatch");
    assert!(
        out.status.success(),
        "driftwatch {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn simulate(out: &Path, seed: u64) {
    let geo = real_geo();
    let lists = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/geoip/anonymizer");
    let (geo, lists, out) = (
        geo.to_string_lossy().into_owned(),
        lists.to_string_lossy().into_owned(),
        out.to_string_lossy().into_owned(),
    );
    driftwatch(&[
        "simulate",
        "--world",
        "real",
        "--geo",
        &geo,
        "--lists",
        &lists,
        "--employees",
        "300",
        "--days",
        "14",
        "--seed",
        &seed.to_string(),
        "--out",
        &out,
    ]);
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn a_small_real_world_company_is_simulated_and_evaluated() {
    assert!(
        real_geo().is_dir(),
        "{} is missing: .ci/run fetches the ip-location-db packages (see tests/real_geoip.rs)",
        real_geo().display()
    );
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("seed-3"), dir.path().join("seed-3-again"));
    simulate(&a, 3);
    simulate(&b, 3);
    for f in [
        "truth.json",
        "roster.csv",
        "events/okta.ndjson",
        "events/entra-signins.ndjson",
        "events/vpn-cisco-asa.log",
        "geoip/corporate-egress.txt",
        "geoip/truth/carrier-nat.txt",
    ] {
        assert!(
            read(&a.join(f)) == read(&b.join(f)),
            "{f} differs between two runs of one seed"
        );
    }

    let truth: serde_json::Value = serde_json::from_slice(&read(&a.join("truth.json"))).unwrap();
    let summary = &truth["summary"];
    assert!(summary["real_world"]["networks"].as_u64().unwrap() > 300);
    assert!(
        summary["entra_events"].as_u64().unwrap() > 0,
        "a second identity provider"
    );
    let scenarios = summary["scenarios"].as_object().unwrap();
    for s in [
        "direct_china_russia",
        "china_cloud",
        "us_vpn_hopping",
        "laptop_farm",
        "hours_only",
        "two_continents",
        "mixed",
        "household",
        "coworking",
        "consumer_vpn_user",
        "new_hire",
        "mobile_carrier_nat",
        "corporate_vpn_egress",
        "business_travel",
        "night_shift",
    ] {
        assert!(scenarios.contains_key(s), "{s} is planted: {scenarios:?}");
    }
    // Phones: the carriers' blocks are real, and the database puts them anywhere in the
    // country.
    let carriers = String::from_utf8(read(&a.join("geoip/truth/carrier-nat.txt"))).unwrap();
    assert!(carriers.contains("T-Mobile USA"), "{carriers}");

    let markdown = driftwatch(&["evaluate", &a.to_string_lossy()]);
    for row in [
        "| driftwatch, deployed lists, DB-IP Lite |",
        "| driftwatch, deployed lists, GeoLite2 |",
        "| driftwatch, full truth lists, DB-IP Lite |",
        "| driftwatch, full truth lists, GeoLite2 |",
        "| Panther impossible travel",
        "| Okta velocity",
        "| Okta new location",
        "| Mozilla geomodel",
        "| laptop_farm |",
        "| baseline |",
    ] {
        assert!(markdown.contains(row), "no {row} in:\n{markdown}");
    }
    let deployed = markdown
        .find("| driftwatch, deployed lists, DB-IP Lite |")
        .unwrap();
    let peers = markdown.find("| Panther impossible travel").unwrap();
    assert!(deployed < peers, "a deployment's lists come first");

    let json: serde_json::Value = serde_json::from_str(&driftwatch(&[
        "evaluate",
        "--json",
        "--city",
        "dbip",
        "--lists",
        "deployed",
        "--no-peers",
        &a.to_string_lossy(),
    ]))
    .unwrap();
    assert_eq!(json["employees"], 300);
    let rows = json["pooled"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "one detector asked for");
    let r = &rows[0];
    for k in ["recall_1d", "recall_3d", "high_per_1000", "any_per_1000"] {
        let v = r[k].as_f64().unwrap();
        assert!(v.is_finite() && v >= 0.0, "{k} = {v}");
    }
    assert!(r["recall_1d"].as_f64() <= r["recall_3d"].as_f64());
}
