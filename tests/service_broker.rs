//! `driftwatch run` against a real Kafka-compatible broker (tansu), as separate processes:
//! a reference run straight through; a run killed with SIGKILL mid-stream and restarted;
//! two instances in one group, one stopped mid-stream; a broker that goes away and comes
//! back; and a shutdown while the broker is frozen, which must still end at its deadline. The interrupted runs must account for every input record, write no alert line
//! twice, and end with the reference's alerts and state.
//!
//! Exact agreement holds with shared-infrastructure findings too: they come back to the
//! detect stage through the findings topic, and the stages' event-time watermarks make
//! detect apply each login with its findings whatever the timing (`service::order`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use driftwatch::alert::Alert;
use driftwatch::service::SHUTDOWN_GRACE;
use driftwatch::service::detect::revision;
use driftwatch::service::wire::{LoginRecord, MARKER_KEY, Stored, WATERMARK_KEY};
use driftwatch::state::EmployeeState;
use rdkafka::consumer::{BaseConsumer, Consumer};
use support::service::{
    Options, Run, company, ingested, log_tail, run_config, stop, wait_done, wait_until,
};
use support::tansu::{Broker, Until, client_config, create_topic, drain, produce};

const INPUT: &str = "sim.raw";
const PATIENCE: Duration = Duration::from_secs(240);

/// What a run left on the broker.
struct Outcome {
    alerts: Vec<Alert>,
    states: BTreeMap<Vec<u8>, EmployeeState>,
    /// Input offsets that reached the logins topic or the dead-letter topic.
    accounted: BTreeSet<i64>,
}

fn outcome(bootstrap: &str, run: &str) -> Outcome {
    let alerts = drain(bootstrap, &format!("{run}.alerts"), Until::End)
        .iter()
        .map(|r| serde_json::from_slice(r.value.as_deref().unwrap_or_default()).unwrap())
        .collect();
    let mut states = BTreeMap::new();
    for r in drain(bootstrap, &format!("{run}.changelog"), Until::End) {
        let key = r.key.unwrap_or_default();
        if key == MARKER_KEY {
            continue;
        }
        let stored = Stored::decode(r.value.as_deref().unwrap_or_default()).unwrap();
        states.insert(key, stored.state);
    }
    let mut accounted = BTreeSet::new();
    for r in drain(bootstrap, &format!("{run}.logins"), Until::End) {
        if r.key.as_deref() == Some(WATERMARK_KEY) {
            continue;
        }
        let login: LoginRecord = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
        accounted.insert(login.source.offset);
    }
    for r in drain(bootstrap, &format!("{run}.dlq"), Until::End) {
        let offset = r
            .headers
            .iter()
            .find(|(k, _)| k == "driftwatch.source.offset")
            .map(|(_, v)| String::from_utf8_lossy(v).parse::<i64>().unwrap())
            .expect("a dead letter names its source offset");
        accounted.insert(offset);
    }
    Outcome {
        alerts,
        states,
        accounted,
    }
}

fn revisions(alerts: &[Alert]) -> BTreeSet<String> {
    alerts.iter().map(revision).collect()
}

/// Every rule each employee was alerted for, over all their alert lines.
fn rules_by_employee(alerts: &[Alert]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for a in alerts {
        out.entry(a.employee_id.0.to_string())
            .or_default()
            .extend(a.rules.iter().cloned());
    }
    out
}

/// What two runs must share whatever the timing: no alert line twice, every input record
/// accounted for, the same rules per employee, the same employees in state.
fn assert_equivalent(reference: &Outcome, other: &Outcome, what: &str) {
    assert_eq!(
        revisions(&other.alerts).len(),
        other.alerts.len(),
        "{what}: an alert line appears twice"
    );
    assert_eq!(
        other.accounted, reference.accounted,
        "{what}: input records not accounted for"
    );
    assert_eq!(
        rules_by_employee(&other.alerts),
        rules_by_employee(&reference.alerts),
        "{what}: different rules per employee"
    );
    let employees = |o: &Outcome| o.states.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(
        employees(other),
        employees(reference),
        "{what}: employees in state"
    );
}

/// Exact agreement: the same alert lines, each once, and the same state per employee.
fn assert_same(reference: &Outcome, other: &Outcome, what: &str) {
    assert_equivalent(reference, other, what);
    assert_eq!(
        revisions(&other.alerts),
        revisions(&reference.alerts),
        "{what}: different alerts"
    );
    for (k, s) in &reference.states {
        assert_eq!(
            other.states.get(k),
            Some(s),
            "{what}: state of {}",
            String::from_utf8_lossy(k)
        );
    }
}

/// A broker with the simulated company on the input topic (one partition, time order).
fn broker_with_company(dir: &Path, employees: u32, days: u32) -> (Broker, Vec<Vec<u8>>) {
    let broker = Broker::start();
    let records = company(dir, employees, days, 11);
    create_topic(&broker.bootstrap, INPUT, 1, false);
    (broker, records)
}

fn produce_to(bootstrap: &str, topic: &str, records: &[Vec<u8>]) {
    let batch: Vec<(Option<&[u8]>, &[u8])> = records.iter().map(|r| (None, r.as_slice())).collect();
    produce(bootstrap, topic, &batch);
}

/// Runs `run` straight through and returns what it left.
fn reference(bootstrap: &str, run: &Run, log: &Path) -> Outcome {
    let child = run.start(log, None);
    wait_done(bootstrap, &run.name, INPUT, log, PATIENCE);
    stop(child, "-TERM");
    outcome(bootstrap, &run.name)
}

#[test]
fn a_crash_and_a_rebalance_lose_nothing_and_repeat_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, records) = broker_with_company(dir.path(), 120, 14);
    let bootstrap = broker.bootstrap.clone();
    produce_to(&bootstrap, INPUT, &records);
    let log = dir.path().join("runs.log");
    let opts = Options::default();

    let want = reference(
        &bootstrap,
        &run_config(dir.path(), &bootstrap, "ref", INPUT, &opts),
        &log,
    );
    assert!(want.alerts.len() >= 5, "the simulated fraud raises alerts");
    assert!(want.states.len() >= 100, "{} employees", want.states.len());
    let all: BTreeSet<i64> = (0..records.len() as i64).collect();
    assert_eq!(want.accounted, all, "every simulated record is a login");
    assert_eq!(
        revisions(&want.alerts).len(),
        want.alerts.len(),
        "reference: an alert line appears twice"
    );

    // Killed with SIGKILL a third of the way in, then started again.
    let third = records.len() as i64 / 3;
    let crash = run_config(dir.path(), &bootstrap, "crash", INPUT, &opts);
    let first = crash.start(&log, None);
    wait_until("a third of the input", &log, PATIENCE, || {
        ingested(&bootstrap, "crash", INPUT) >= third
    });
    stop(first, "-KILL");
    // Restarting a few seconds later makes the restarted consumers' first join come well
    // after the dead members' last heartbeat, which is when tansu 0.6's coordinator can
    // settle a group on an empty assignment (docs/service.md, "A stage nobody feeds"): the stage
    // watch must get the run going again, as it would in production.
    std::thread::sleep(Duration::from_secs(4));
    let second = crash.start(&log, None);
    wait_done(&bootstrap, "crash", INPUT, &log, PATIENCE);
    stop(second, "-TERM");
    assert_same(&want, &outcome(&bootstrap, "crash"), "after SIGKILL");

    // Two instances share the group; one leaves mid-stream and the other takes over. The
    // pair reads its own copy of the input (same records, same offsets), two thirds of it
    // at first: the last third arrives after one instance has left.
    const PAIR_INPUT: &str = "sim.raw.pair";
    create_topic(&bootstrap, PAIR_INPUT, 1, false);
    let two_thirds = records.len() * 2 / 3;
    let a = run_config(dir.path(), &bootstrap, "pair", PAIR_INPUT, &opts);
    let b = a.second_instance(dir.path());
    let ready = |r: &Run| r.get("/readyz").is_some_and(|(s, _)| s == 200);
    // One after the other, each ready (assigned and restored), so that the group has
    // settled on both before any input arrives and both do part of the work.
    let a_child = a.start(&log, None);
    wait_until("the first instance ready", &log, PATIENCE, || ready(&a));
    let b_child = b.start(&log, None);
    wait_until("the second instance ready", &log, PATIENCE, || ready(&b));
    produce_to(&bootstrap, PAIR_INPUT, &records[..two_thirds]);
    let tracked = |r: &Run| r.metric("driftwatch_employees_tracked").unwrap_or(0.0);
    wait_until("both instances holding employees", &log, PATIENCE, || {
        tracked(&a) > 0.0 && tracked(&b) > 0.0
    });
    wait_done(&bootstrap, "pair", PAIR_INPUT, &log, PATIENCE);
    stop(b_child, "-TERM");
    produce_to(&bootstrap, PAIR_INPUT, &records[two_thirds..]);
    wait_done(&bootstrap, "pair", PAIR_INPUT, &log, PATIENCE);
    assert!(
        a.metric("driftwatch_restored_employees_total")
            .unwrap_or(0.0)
            > 0.0,
        "the remaining instance restores the leaver's employees from the changelog"
    );
    assert_eq!(
        tracked(&a) as usize,
        want.states.len(),
        "the remaining instance holds every employee"
    );
    stop(a_child, "-TERM");
    assert_same(&want, &outcome(&bootstrap, "pair"), "after a rebalance");
}

#[test]
fn the_service_waits_for_a_broker_that_went_away_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut broker, records) = broker_with_company(dir.path(), 40, 10);
    let bootstrap = broker.bootstrap.clone();
    let log = dir.path().join("runs.log");
    let opts = Options::default();
    let half = records.len() / 2;
    produce_to(&bootstrap, INPUT, &records[..half]);

    let run = run_config(dir.path(), &bootstrap, "outage", INPUT, &opts);
    let child = run.start(&log, None);
    wait_done(&bootstrap, "outage", INPUT, &log, PATIENCE);

    broker.stop();
    std::thread::sleep(Duration::from_secs(8));
    let mut child = child;
    assert!(
        child.is_running(),
        "the service must wait for the broker, not exit"
    );
    assert_eq!(
        run.get("/healthz").map(|(s, _)| s),
        Some(200),
        "an unreachable broker is not a failed process"
    );
    broker.restart();
    produce_to(&bootstrap, INPUT, &records[half..]);
    wait_done(&bootstrap, "outage", INPUT, &log, PATIENCE);
    stop(child, "-TERM");
    let got = outcome(&bootstrap, "outage");

    // The same input in one go, on the same broker, for comparison.
    let want = reference(
        &bootstrap,
        &run_config(dir.path(), &bootstrap, "calm", INPUT, &opts),
        &log,
    );
    let rules = rules_by_employee(&want.alerts);
    assert!(
        rules.values().any(|r| r.contains("shared_infrastructure")),
        "the infra stage's findings reach the alerts: {rules:?}"
    );
    assert_equivalent(&want, &got, "after a broker outage");
}

/// A shutdown ends at its deadline even when the broker cannot answer it. The broker is
/// frozen (SIGSTOP: connections stay open, nothing answers), so closing the consumers (a
/// last commit, leaving the group) waits on librdkafka's request timeouts, a minute and
/// more. SIGTERM must still end `driftwatch run` by the deadline plus its grace, with a
/// failure exit that names the deadline.
#[test]
fn a_shutdown_the_broker_cannot_answer_ends_at_the_deadline() {
    const DEADLINE_SECS: u64 = 2;
    let dir = tempfile::tempdir().unwrap();
    let (broker, records) = broker_with_company(dir.path(), 20, 7);
    let bootstrap = broker.bootstrap.clone();
    let log = dir.path().join("runs.log");
    produce_to(&bootstrap, INPUT, &records);
    let opts = Options {
        shutdown_deadline_secs: DEADLINE_SECS,
        ..Options::default()
    };
    let run = run_config(dir.path(), &bootstrap, "frozen", INPUT, &opts);
    let mut child = run.start(&log, None);
    wait_done(&bootstrap, "frozen", INPUT, &log, PATIENCE);

    broker.freeze();
    let asked = std::time::Instant::now();
    child.signal("-TERM");
    let limit = Duration::from_secs(DEADLINE_SECS) + SHUTDOWN_GRACE + Duration::from_secs(10);
    let status = child.wait_for(limit);
    let took = asked.elapsed();
    broker.thaw();
    let status = status.unwrap_or_else(|| {
        panic!(
            "driftwatch run still running {} s after SIGTERM with a {DEADLINE_SECS} s \
             deadline\n{}",
            took.as_secs(),
            log_tail(&log)
        )
    });
    assert!(
        !status.success(),
        "a shutdown past its deadline is a failure exit: {status}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("shutdown_deadline_secs"),
        "the error names the setting: {}",
        log_tail(&log)
    );
}

/// A stage whose input waits for nobody says so. Another member of the infra group (a
/// "squatter" whose client id sorts first, so the range assignor gives it the only
/// partition) holds the network topic and never commits: the service's infra stage holds
/// nothing while records pile up. After the session timeout and a margin, `/readyz` names
/// the stage and what waits, and `driftwatch_stage_stalled{stage="infra"}` is 1; once the
/// squatter leaves, the stage gets the partition, catches up and the service is ready.
#[test]
fn a_stage_whose_input_nobody_consumes_is_named_by_readyz_and_the_metric() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, records) = broker_with_company(dir.path(), 40, 7);
    let bootstrap = broker.bootstrap.clone();
    let log = dir.path().join("runs.log");
    let opts = Options {
        partitions: 1,
        extra_toml: "[kafka.client]\n\"session.timeout.ms\" = \"6000\"\n".to_owned(),
        ..Options::default()
    };
    let run = run_config(dir.path(), &bootstrap, "stall", INPUT, &opts);
    create_topic(&bootstrap, "stall.network", 1, false);

    let stop_squatter = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let squatter: BaseConsumer = client_config(&bootstrap)
        .set("group.id", "stall.infra")
        .set("client.id", "a-squatter")
        .set("enable.auto.commit", "false")
        .set("partition.assignment.strategy", "range")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    squatter.subscribe(&["stall.network"]).unwrap();
    let holding = {
        let stop = std::sync::Arc::clone(&stop_squatter);
        std::thread::spawn(move || {
            // Polls (so it stays in the group and takes part in rebalances), never commits.
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = squatter.poll(Duration::from_millis(100));
            }
            squatter.unsubscribe();
            drop(squatter);
        })
    };
    produce_to(&bootstrap, INPUT, &records);
    let child = run.start(&log, None);
    let readyz = |r: &Run| r.get("/readyz").unwrap_or((0, String::new()));
    wait_until("the infra stage reported stalled", &log, PATIENCE, || {
        let (status, body) = readyz(&run);
        status == 503
            && body.contains("infra stage holds no partitions")
            && body.contains("stall.network")
            && run.metric_series("driftwatch_stage_stalled", "stage=\"infra\"") == Some(1.0)
    });
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        log_text.contains("infra stage holds no partitions"),
        "the log names the stage and what it waits for"
    );
    // A stalled stage leaves its group and joins it again; the squatter still sorts first
    // and keeps the partition, so the stage stays stalled.
    wait_until(
        "the stalled stage rejoined its group",
        &log,
        PATIENCE,
        || {
            run.metric_series("driftwatch_stage_rejoins_total", "stage=\"infra\"")
                .is_some_and(|n| n >= 1.0)
        },
    );

    stop_squatter.store(true, std::sync::atomic::Ordering::SeqCst);
    holding.join().unwrap();
    wait_done(&bootstrap, "stall", INPUT, &log, PATIENCE);
    wait_until("ready again, nothing stalled", &log, PATIENCE, || {
        readyz(&run).0 == 200
            && run.metric_series("driftwatch_stage_stalled", "stage=\"infra\"") == Some(0.0)
    });
    assert_eq!(
        run.metric_series("driftwatch_stage_partitions", "stage=\"infra\""),
        Some(1.0)
    );
    stop(child, "-TERM");
}
