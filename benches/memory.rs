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

/// The allocator the `driftwatch` binary runs with (src/main.rs), so the figures are the
/// service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    // Each count is measured in a process of its own that only reads the templates, so
    // memory freed by the replay that made them (or by an earlier count), and kept by the
    // allocator for reuse, does not hide the restore's own memory.
    if let (Some(n), Some(dir)) = (
        arg("--one").and_then(|n| n.parse::<usize>().ok()),
        arg("--dir"),
    ) {
        measure(n, Path::new(&dir));
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
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let templates = templates(dir.path(), template_employees, days);
    let mut file = Vec::new();
    for s in &templates {
        let bytes = s.encode();
        file.extend((bytes.len() as u32).to_le_bytes());
        file.extend(bytes);
    }
    eprintln!(
        "templates: {} employees' states after {days} days ({:.1} s), {:.0} B encoded on average",
        templates.len(),
        started.elapsed().as_secs_f64(),
        (file.len() - 4 * templates.len()) as f64 / templates.len().max(1) as f64
    );
    std::fs::write(dir.path().join(TEMPLATES), file).unwrap();
    println!(
        "| tracked employees | resident memory added | per employee | restore into the engine |"
    );
    println!("|---|---|---|---|");
    let exe = std::env::current_exe().unwrap();
    for n in counts {
        let out = std::process::Command::new(&exe)
            .args(["--bench", "--one", &n.to_string(), "--dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

/// The templates' file in the company's folder: each state encoded, after its length.
const TEMPLATES: &str = "templates.bin";

fn measure(n: usize, dir: &Path) {
    let config = Config::load(&dir.join("driftwatch.toml")).unwrap();
    let bytes = std::fs::read(dir.join(TEMPLATES)).unwrap();
    let mut templates = Vec::new();
    let mut rest = bytes.as_slice();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let (state, tail) = tail.split_at(u32::from_le_bytes(*len) as usize);
        templates.push(EmployeeState::decode(state).unwrap());
        rest = tail;
    }
    drop(bytes);
    let before = rss_bytes();
    let t = Instant::now();
    let mut engine = Engine::new(config.engine());
    for i in 0..n {
        let state = templates[i % templates.len()].clone();
        engine.restore(EmployeeId(format!("E{i:08}").into()), state);
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
