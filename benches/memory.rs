//! Resident memory per tracked employee at 100,000 and 1,000,000 employees.
//!
//! `cargo bench --bench memory -- [--employees 100000,1000000] [--template-employees 500]
//! [--days 21]`
//!
//! Realistic states come from a replay of a simulated company (`--template-employees`
//! over `--days`, every detector learning); copies of them under new ids are restored into
//! one detection engine, as the detect stage does from its changelog, and the process's
//! resident memory (`/proc/self/statm`) is read before and after. Prints a Markdown table
//! for BENCHMARKS.md.

use std::path::Path;
use std::time::Instant;

use driftwatch::config::Config;
use driftwatch::drivers::input::Source;
use driftwatch::drivers::replay;
use driftwatch::engine::Engine;
use driftwatch::roster::EmployeeId;
use driftwatch::state::EmployeeState;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The world the templates come from: `--world real` for real address blocks placed by
/// DB-IP Lite City (docs/evaluation.md), else the synthetic one.
fn world() -> driftwatch::simulate::WorldChoice {
    match arg("--world").as_deref() {
        Some("real") => driftwatch::simulate::WorldChoice::real_default(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/geoip/anonymizer"),
        )
        .expect("the real GeoIP data (bench/fetch-geo)"),
        _ => driftwatch::simulate::WorldChoice::Synthetic,
    }
}

/// Replay a simulated company and keep its employees' states as templates.
fn templates(dir: &Path, employees: u32, days: u32) -> Vec<EmployeeState> {
    let params = driftwatch::simulate::Params {
        employees,
        days,
        seed: 7,
        start: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
    };
    let sim = driftwatch::simulate::Simulation::in_world(params, &world()).unwrap();
    driftwatch::simulate::write(&sim, dir, false).unwrap();
    let config = Config::load(&dir.join("driftwatch.toml")).unwrap();
    let loaded = replay::Loaded::load(&config, None, chrono::Utc::now()).unwrap();
    let mut engine = Engine::new(config.engine());
    let opts = replay::Options {
        keep_alerts: false,
        ..replay::Options::in_process(
            Source::expand(&dir.join("events")).unwrap(),
            config.decode.format,
        )
    };
    let core = loaded.core();
    replay::run(&core, &mut engine, &opts).unwrap();
    engine
        .states()
        .map(|(_, s)| s.clone())
        .filter(|s| s.events > 0)
        .collect()
}

fn main() {
    // `cargo test --all-targets` runs bench targets without `--bench`: compiled is enough.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // Each count is measured in a process of its own, so memory freed by an earlier
    // measurement and kept by the allocator does not hide in the next one's baseline.
    if let Some(n) = arg("--one").and_then(|n| n.parse::<usize>().ok()) {
        measure(n);
        return;
    }
    let counts: Vec<usize> = arg("--employees")
        .unwrap_or_else(|| "100000,1000000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let template_employees: u32 = arg("--template-employees")
        .and_then(|n| n.parse().ok())
        .unwrap_or(500);
    let days: u32 = arg("--days").and_then(|n| n.parse().ok()).unwrap_or(21);
    println!(
        "| tracked employees | resident memory added | per employee | restore into the engine |"
    );
    println!("|---|---|---|---|");
    let exe = std::env::current_exe().unwrap();
    for n in counts {
        let out = std::process::Command::new(&exe)
            .args(["--bench", "--one", &n.to_string()])
            .args(["--template-employees", &template_employees.to_string()])
            .args(["--days", &days.to_string()])
            .args(["--world", arg("--world").as_deref().unwrap_or("synthetic")])
            .output()
            .unwrap();
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

fn measure(n: usize) {
    let template_employees: u32 = arg("--template-employees")
        .and_then(|n| n.parse().ok())
        .unwrap_or(500);
    let days: u32 = arg("--days").and_then(|n| n.parse().ok()).unwrap_or(21);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let templates = templates(dir.path(), template_employees, days);
    let encoded: Vec<usize> = templates.iter().map(|s| s.encode().len()).collect();
    let mean_encoded = encoded.iter().sum::<usize>() as f64 / encoded.len().max(1) as f64;
    eprintln!(
        "templates: {} employees' states after {days} days ({:.1} s), {:.0} B encoded on average",
        templates.len(),
        started.elapsed().as_secs_f64(),
        mean_encoded
    );
    let config = Config::load(&dir.path().join("driftwatch.toml")).unwrap();
    let before = rss_bytes();
    let t = Instant::now();
    let mut engine = Engine::new(config.engine());
    for i in 0..n {
        let state = templates[i % templates.len()].clone();
        engine.restore(EmployeeId(format!("E{i:08}")), state);
    }
    let took = t.elapsed();
    let after = rss_bytes();
    let added = after.saturating_sub(before);
    println!(
        "| {n} | {:.0} MiB | {:.2} KB | {:.2} s |",
        added as f64 / (1024.0 * 1024.0),
        added as f64 / n as f64 / 1000.0,
        took.as_secs_f64()
    );
    drop(engine);
}
