//! The shipped example company (`examples/`), replayed in process: what the analyst API
//! tests serve.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use driftwatch::alert::Alert;
use driftwatch::api::view::View;
use driftwatch::api::{ApiConfig, Role, TokenConfig, new_token};
use driftwatch::config::Config;
use driftwatch::drivers::input::Source;
use driftwatch::drivers::replay;
use driftwatch::engine::Engine;
use driftwatch::roster::Roster;

pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The example config and roster, and a replay of `examples/events`: the engine with the
/// employees' states, and every alert line.
pub fn replay_examples() -> (Config, Arc<Roster>, Engine, Vec<Alert>) {
    let config = Config::load(&repo("driftwatch.example.toml")).unwrap();
    let loaded = replay::Loaded::load(&config, None, chrono::Utc::now()).unwrap();
    let mut engine = Engine::new(config.engine());
    let opts = replay::Options::in_process(
        Source::expand(&repo("examples/events")).unwrap(),
        config.decode.format,
    );
    let core = loaded.core();
    let alerts = replay::run(&core, &mut engine, &opts).unwrap().alerts;
    (config, Arc::new(loaded.roster), engine, alerts)
}

/// `driftwatch replay --config driftwatch.example.toml [extra…] examples/events`, the real
/// binary: its alert lines.
pub fn replay_cli(extra: &[&std::ffi::OsStr]) -> Vec<Alert> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["replay", "--no-progress", "--config"])
        .arg(repo("driftwatch.example.toml"))
        .args(extra)
        .arg(repo("examples/events"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The analyst API's view of what `engine` learned and `alerts` raised.
pub fn view_of(config: &Config, engine: &Engine, alerts: &[Alert]) -> Arc<View> {
    let view = Arc::new(View::new(
        config.risk.clone(),
        config.detect.working_hours.clone(),
    ));
    for (id, state) in engine.states() {
        view.apply_state(id, state);
    }
    for a in alerts {
        view.apply_alert(a);
    }
    view
}

/// An enabled API configuration with one new token per role (named `<role>-1`), and the
/// tokens themselves.
pub fn api_with_a_token_per_role(max_body_bytes: usize) -> (ApiConfig, Vec<(Role, String)>) {
    let mut config = ApiConfig {
        enabled: true,
        max_body_bytes,
        token: Vec::new(),
    };
    let mut tokens = Vec::new();
    for role in [Role::Auditor, Role::Analyst, Role::Admin] {
        let (token, sha256) = new_token().unwrap();
        config.token.push(TokenConfig {
            name: format!("{}-1", role.as_str()),
            role,
            sha256,
        });
        tokens.push((role, token));
    }
    assert!(config.validate().is_empty());
    (config, tokens)
}
