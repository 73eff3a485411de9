//! The audit log through its public API and `driftwatch audit`: a chain that verifies,
//! every kind of tampering found at its line, retention that keeps the chain whole, one
//! writer per file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Duration, TimeZone, Utc};
use driftwatch::audit::chain::sha256_hex;
use driftwatch::audit::{
    self, Anchor, AuditError, AuditLog, Entry, GENESIS, Kind, Problem, Record,
};
use serde_json::json;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap()
}

/// Record `i`: one hour after record `i - 1`, kinds in turn, details with floats and nested
/// objects (what re-serializing could change).
fn entry(i: u64) -> Entry {
    let kinds = [
        Kind::AlertRaised,
        Kind::AlertUpdated,
        Kind::Disposition,
        Kind::ApiCall,
        Kind::RosterChanged,
        Kind::ConfigChanged,
        Kind::AlertResolved,
    ];
    Entry {
        time: t0() + Duration::hours(i as i64),
        kind: kinds[i as usize % kinds.len()],
        actor: if i.is_multiple_of(2) {
            "driftwatch"
        } else {
            "alice"
        }
        .to_owned(),
        subject: (!i.is_multiple_of(3)).then(|| format!("dw-{i:024x}")),
        details: json!({
            "n": i,
            "risk": 0.1 + 0.2 * i as f64,
            "note": "naïve \"quoted\"\nline",
            "evidence": [{"km": 1234.5678901234, "ok": true}],
        }),
    }
}

/// A log of `n` records in a fresh folder.
fn log_of(n: u64) -> (tempfile::TempDir, PathBuf, Vec<Record>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut log = AuditLog::open(&path).unwrap();
    let records = (0..n).map(|i| log.append(entry(i)).unwrap()).collect();
    (dir, path, records)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// The problems `verify` finds; fails the test when it finds none.
fn problems(path: &Path) -> Vec<Problem> {
    match audit::verify(path) {
        Err(AuditError::Tampered { problems }) => problems,
        other => panic!("expected a tampered log, got {other:?}"),
    }
}

fn texts(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

#[test]
fn appended_records_verify_and_read_back() {
    let (_dir, path, records) = log_of(40);
    let v = audit::verify(&path).unwrap();
    assert_eq!(v.records, 40);
    assert_eq!(v.first_seq, 0);
    assert_eq!(v.pruned_before, None);
    let head = v.head.unwrap();
    assert_eq!((head.seq, &head.hash), (39, &records[39].hash));
    assert_eq!(records[0].prev, GENESIS);
    for w in records.windows(2) {
        assert_eq!(w[1].prev, w[0].hash);
        assert_eq!(w[1].seq, w[0].seq + 1);
    }
    assert_eq!(audit::read(&path).unwrap(), records);
}

#[test]
fn reopening_continues_the_chain() {
    let (_dir, path, records) = log_of(5);
    let mut log = AuditLog::open(&path).unwrap();
    assert_eq!(log.head().unwrap().hash, records[4].hash);
    let next = log.append(entry(5)).unwrap();
    assert_eq!((next.seq, &next.prev), (5, &records[4].hash));
    drop(log);
    assert_eq!(audit::verify(&path).unwrap().records, 6);
}

#[test]
fn an_empty_log_verifies_and_starts_at_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.jsonl");
    let mut log = AuditLog::open(&path).unwrap();
    assert_eq!(log.head(), None);
    let v = audit::verify(&path).unwrap();
    assert_eq!((v.records, v.head), (0, None));
    let first = log.append(entry(0)).unwrap();
    assert_eq!((first.seq, first.prev.as_str()), (0, GENESIS));
}

#[test]
fn a_modified_middle_record_is_found_at_its_line() {
    let (_dir, path, _) = log_of(30);
    let mut l = lines(&path);
    l[16] = l[16].replacen("\"actor\":\"driftwatch\"", "\"actor\":\"mallory\"", 1);
    assert!(l[16].contains("mallory"));
    write_lines(&path, &l);
    let p = problems(&path);
    assert_eq!(
        texts(&p),
        ["line 17 (seq 16): hash does not match its content (modified)"]
    );
}

#[test]
fn a_modified_and_rehashed_record_breaks_the_next_link() {
    let (_dir, path, records) = log_of(30);
    // What someone who knows the format does: change the record and recompute its hash.
    let mut forged = records[16].clone();
    forged.entry.details = json!({"n": 16, "note": "nothing happened"});
    let body = serde_json::to_string(&forged).unwrap();
    let cut = body.rfind(",\"hash\":").unwrap();
    forged.hash = sha256_hex(format!("{}}}", &body[..cut]).as_bytes());
    let mut l = lines(&path);
    l[16] = serde_json::to_string(&forged).unwrap();
    write_lines(&path, &l);
    let p = problems(&path);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!((p[0].line, p[0].seq), (18, Some(17)));
    assert!(
        p[0].what.contains("prev does not match the hash of seq 16"),
        "{}",
        p[0]
    );
}

#[test]
fn a_removed_middle_record_is_found() {
    let (_dir, path, _) = log_of(30);
    let mut l = lines(&path);
    l.remove(16);
    write_lines(&path, &l);
    assert_eq!(
        texts(&problems(&path)),
        ["line 17 (seq 17): follows seq 15 (a record was removed)"]
    );
}

#[test]
fn removed_records_renumbered_are_found_by_their_prev() {
    let (_dir, path, records) = log_of(10);
    // Drop seq 4 and renumber the rest without rehashing: every later hash breaks, and
    // the first renumbered record also names the wrong prev.
    let mut l = lines(&path);
    l.remove(4);
    for (i, line) in l.iter_mut().enumerate().skip(4) {
        *line = line.replacen(
            &format!("{{\"seq\":{}", i + 1),
            &format!("{{\"seq\":{i}"),
            1,
        );
    }
    write_lines(&path, &l);
    let p = problems(&path);
    assert!(p.iter().any(|p| p.line == 5
        && p.seq == Some(4)
        && p.what.starts_with("prev does not match the hash of seq 3")));
    assert!(p.iter().all(|p| p.line >= 5));
    assert_eq!(records.len(), 10);
}

#[test]
fn swapped_records_are_found_as_reordered() {
    let (_dir, path, _) = log_of(20);
    let mut l = lines(&path);
    l.swap(7, 8);
    write_lines(&path, &l);
    let p = texts(&problems(&path));
    assert_eq!(
        p,
        [
            "line 8 (seq 8): follows seq 6 (the record before it is elsewhere in the file: reordered)",
            "line 9 (seq 7): follows seq 8 (out of order)",
            "line 10 (seq 9): follows seq 7 (the record before it is elsewhere in the file: reordered)",
        ]
    );
}

#[test]
fn a_duplicated_record_is_found() {
    let (_dir, path, _) = log_of(10);
    let mut l = lines(&path);
    l.insert(5, l[4].clone());
    write_lines(&path, &l);
    let p = texts(&problems(&path));
    assert_eq!(p, ["line 6 (seq 4): repeats seq 4 (a duplicated record)"]);
}

#[test]
fn a_garbled_line_is_found() {
    let (_dir, path, _) = log_of(20);
    let mut l = lines(&path);
    l[9] = l[9][..l[9].len() / 2].to_owned();
    write_lines(&path, &l);
    let p = problems(&path);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!((p[0].line, p[0].seq), (10, None));
    assert!(
        p[0].what.starts_with("not a record (truncated or garbled)"),
        "{}",
        p[0]
    );
}

#[test]
fn an_inserted_line_of_junk_is_found() {
    let (_dir, path, _) = log_of(10);
    let mut l = lines(&path);
    l.insert(3, "{\"hello\":1}".to_owned());
    l.insert(6, String::new());
    write_lines(&path, &l);
    let p = problems(&path);
    assert_eq!(
        p.iter().map(|p| (p.line, p.seq)).collect::<Vec<_>>(),
        [(4, None), (7, None)]
    );
    assert!(p[1].what.contains("empty line"));
}

#[test]
fn a_modified_last_record_is_found() {
    let (_dir, path, _) = log_of(12);
    let mut l = lines(&path);
    let last = l.last_mut().unwrap();
    *last = last.replacen("\"n\":11", "\"n\":99", 1);
    write_lines(&path, &l);
    assert_eq!(
        texts(&problems(&path)),
        ["line 12 (seq 11): hash does not match its content (modified)"]
    );
}

#[test]
fn removed_first_records_are_found() {
    let (_dir, path, _) = log_of(10);
    let l = lines(&path);
    write_lines(&path, &l[3..]);
    let p = problems(&path);
    assert_eq!((p[0].line, p[0].seq), (1, Some(3)));
    assert!(p[0].what.contains("without a retention anchor"), "{}", p[0]);
}

#[test]
fn an_interrupted_write_is_found_and_refused_by_open() {
    let (_dir, path, _) = log_of(5);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"seq\":5,\"time\":\"2026-10");
    std::fs::write(&path, &text).unwrap();
    let p = problems(&path);
    assert_eq!((p.len(), p[0].line), (1, 6));
    assert!(p[0].what.contains("no newline"), "{}", p[0]);
    match AuditLog::open(&path) {
        Err(AuditError::Tampered { problems }) => assert_eq!(problems[0].line, 6),
        other => panic!("open should refuse it: {other:?}"),
    }
}

#[test]
fn open_refuses_a_tampered_log_naming_the_line() {
    let (_dir, path, _) = log_of(8);
    let mut l = lines(&path);
    l.swap(2, 3);
    write_lines(&path, &l);
    let err = AuditLog::open(&path).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 3 (seq 3)"), "{text}");
    // Nothing was appended to it.
    assert_eq!(lines(&path).len(), 8);
}

#[test]
fn cut_off_records_pass_verify_but_not_the_published_head() {
    let (_dir, path, records) = log_of(10);
    let published = records[9].hash.clone();
    let l = lines(&path);
    write_lines(&path, &l[..7]);
    // The file alone cannot show it...
    assert_eq!(audit::verify(&path).unwrap().records, 7);
    // ...the head published before can.
    match audit::verify_head(&path, &published) {
        Err(AuditError::Tampered { problems }) => {
            assert_eq!((problems[0].line, problems[0].seq), (7, Some(6)));
            assert!(problems[0].what.contains("not in it"), "{}", problems[0]);
        }
        other => panic!("expected the missing head to be found: {other:?}"),
    }
    // A head published earlier than the cut still passes: the log grew after it.
    let (_, seq) = audit::verify_head(&path, &records[4].hash).unwrap();
    assert_eq!(seq, 4);
}

#[test]
fn a_second_writer_is_refused() {
    let (_dir, path, _) = log_of(3);
    let mut first = AuditLog::open(&path).unwrap();
    assert!(matches!(
        AuditLog::open(&path),
        Err(AuditError::Locked { .. })
    ));
    assert!(matches!(
        audit::prune(&path, t0() + Duration::days(30)),
        Err(AuditError::Locked { .. })
    ));
    first.append(entry(3)).unwrap();
    drop(first);
    let mut again = AuditLog::open(&path).unwrap();
    again.append(entry(4)).unwrap();
    drop(again);
    assert_eq!(audit::verify(&path).unwrap().records, 5);
}

#[test]
fn prune_drops_old_records_behind_an_anchor_and_the_chain_still_verifies() {
    let (_dir, path, records) = log_of(48);
    let before_prune = lines(&path);
    let cutoff = t0() + Duration::hours(30);
    let pruned = audit::prune(&path, cutoff).unwrap();
    assert_eq!((pruned.dropped, pruned.kept), (30, 18));
    let anchor = pruned.anchor.clone().unwrap();
    assert_eq!(anchor.entry.kind, Kind::Pruned);
    assert_eq!((anchor.seq, &anchor.prev), (29, &records[29].hash));
    let details: Anchor = serde_json::from_value(anchor.entry.details.clone()).unwrap();
    assert_eq!(
        details,
        Anchor {
            before: cutoff,
            records_dropped: 30,
            last_dropped_seq: 29,
            last_dropped_hash: records[29].hash.clone(),
        }
    );

    let v = audit::verify(&path).unwrap();
    assert_eq!((v.records, v.first_seq), (19, 29));
    assert_eq!(v.pruned_before, Some(cutoff));
    assert_eq!(v.head.unwrap().hash, records[47].hash);
    // The records kept are the same bytes: every hash, and every head published, holds.
    let after = lines(&path);
    assert_eq!(after[1..], before_prune[30..]);
    assert!(
        audit::read(&path).unwrap()[1..]
            .iter()
            .all(|r| r.entry.time >= cutoff)
    );
    audit::verify_head(&path, &records[40].hash).unwrap();
    // The head published just before the cutoff is the record the anchor stands for.
    assert_eq!(audit::verify_head(&path, &records[29].hash).unwrap().1, 29);

    // Appending continues the chain, and a second prune drops the first anchor too.
    let mut log = AuditLog::open(&path).unwrap();
    log.append(entry(48)).unwrap();
    drop(log);
    let again = audit::prune(&path, t0() + Duration::hours(40)).unwrap();
    assert_eq!((again.dropped, again.kept), (10, 9));
    let v = audit::verify(&path).unwrap();
    assert_eq!((v.records, v.first_seq), (10, 39));
}

#[test]
fn an_edited_anchor_is_found() {
    let (_dir, path, _) = log_of(10);
    audit::prune(&path, t0() + Duration::hours(5)).unwrap();
    let mut l = lines(&path);
    l[0] = l[0].replacen("\"records_dropped\":5", "\"records_dropped\":2", 1);
    write_lines(&path, &l);
    let p = texts(&problems(&path));
    assert_eq!(
        p,
        ["line 1 (seq 4): hash does not match its content (modified)"]
    );
}

#[test]
fn pruning_everything_leaves_an_anchor_that_appends_chain_from() {
    let (_dir, path, records) = log_of(6);
    let pruned = audit::prune(&path, t0() + Duration::days(365)).unwrap();
    assert_eq!((pruned.dropped, pruned.kept), (6, 0));
    let anchor = pruned.anchor.unwrap();
    assert_eq!(pruned.head.unwrap().hash, anchor.hash);
    let mut log = AuditLog::open(&path).unwrap();
    assert_eq!(log.head().unwrap().seq, 5);
    let next = log.append(entry(6)).unwrap();
    assert_eq!((next.seq, &next.prev), (6, &records[5].hash));
    drop(log);
    let v = audit::verify(&path).unwrap();
    assert_eq!((v.records, v.first_seq), (2, 5));
}

#[test]
fn prune_with_nothing_old_leaves_the_file_alone() {
    let (_dir, path, _) = log_of(6);
    let before = std::fs::read(&path).unwrap();
    let pruned = audit::prune(&path, t0()).unwrap();
    assert_eq!((pruned.dropped, pruned.kept, pruned.anchor), (0, 6, None));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // An anchor alone is not pruned again and again: records at 0, 1, 2 h go behind an
    // anchor timed 2:30; at 2:45 only that anchor is older, and it stays.
    let first = audit::prune(&path, t0() + Duration::minutes(150)).unwrap();
    assert_eq!(first.dropped, 3);
    let once = std::fs::read(&path).unwrap();
    let pruned = audit::prune(&path, t0() + Duration::minutes(165)).unwrap();
    assert_eq!((pruned.dropped, pruned.kept), (0, 3));
    assert_eq!(std::fs::read(&path).unwrap(), once);
}

#[test]
fn prune_refuses_a_tampered_log() {
    let (_dir, path, _) = log_of(10);
    let mut l = lines(&path);
    l[2] = l[2].replacen("\"n\":2", "\"n\":3", 1);
    write_lines(&path, &l);
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(
        audit::prune(&path, t0() + Duration::hours(5)),
        Err(AuditError::Tampered { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_writer_prunes_without_letting_go_of_the_log() {
    let (_dir, path, _) = log_of(10);
    let mut log = AuditLog::open(&path).unwrap();
    let pruned = log.prune(t0() + Duration::hours(4)).unwrap();
    assert_eq!(pruned.dropped, 4);
    // Still the only writer of the new file.
    assert!(matches!(
        AuditLog::open(&path),
        Err(AuditError::Locked { .. })
    ));
    let next = log.append(entry(10)).unwrap();
    assert_eq!(next.seq, 10);
    drop(log);
    let v = audit::verify(&path).unwrap();
    assert_eq!((v.records, v.first_seq), (8, 3));
    assert!(!path.with_file_name(".audit.jsonl.prune").exists());
}

#[test]
fn retention_applies_when_the_log_is_opened() {
    // Records from 2020; kept 100 years, nothing goes; kept 1 day, all of them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut log = AuditLog::open(&path).unwrap();
    for i in 0..4 {
        let old = Utc.with_ymd_and_hms(2020, 1, 1, i, 0, 0).unwrap();
        log.append(Entry {
            time: old,
            ..entry(i.into())
        })
        .unwrap();
    }
    drop(log);
    let log = AuditLog::open_with_retention(&path, Some(36_500)).unwrap();
    drop(log);
    assert_eq!(audit::verify(&path).unwrap().pruned_before, None);
    let mut log = AuditLog::open_with_retention(&path, Some(1)).unwrap();
    assert_eq!(log.head().unwrap().seq, 3);
    log.append(Entry {
        time: Utc::now(),
        ..entry(4)
    })
    .unwrap();
    drop(log);
    let v = audit::verify(&path).unwrap();
    assert_eq!((v.records, v.first_seq), (2, 3));
    assert!(v.pruned_before.is_some());
}

#[test]
fn audit_section_of_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("driftwatch.toml");
    std::fs::write(
        &config,
        "[audit]\npath = \"logs/audit.jsonl\"\nretention_days = 400\n",
    )
    .unwrap();
    let c = driftwatch::config::Config::load(&config).unwrap();
    assert_eq!(c.audit.path.unwrap(), dir.path().join("logs/audit.jsonl"));
    assert_eq!(c.audit.retention_days, Some(400));

    std::fs::write(&config, "[audit]\nretention_days = 0\nkeep = true\n").unwrap();
    assert!(driftwatch::config::Config::load(&config).is_err());
    std::fs::write(&config, "[audit]\nretention_days = 0\n").unwrap();
    let err = driftwatch::config::Config::load(&config)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("audit.retention_days: must be at least 1"),
        "{err}"
    );
    assert!(err.contains("audit.path is not"), "{err}");
}

/// The bytes of a log of `n` records, built without the file (and its fsyncs).
fn log_bytes(n: u64) -> Vec<u8> {
    let mut prev = GENESIS.to_owned();
    let mut bytes = Vec::new();
    for i in 0..n {
        let (record, line) = audit::chain::seal(i, entry(i), &prev).unwrap();
        prev = record.hash;
        bytes.extend(line);
    }
    bytes
}

proptest::proptest! {
    // No failure files: a failing case prints its minimal input, which is what to turn into
    // a named regression test.
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Whatever byte of the file changes, to whatever value, verify sees it.
    #[test]
    fn any_changed_byte_is_found(n in 1u64..12, at in 0.0f64..1.0, to in 0u8..=255) {
        let mut bytes = log_bytes(n);
        let i = ((bytes.len() as f64 * at) as usize).min(bytes.len() - 1);
        proptest::prop_assume!(bytes[i] != to);
        bytes[i] = to;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, &bytes).unwrap();
        let found = audit::verify(&path);
        proptest::prop_assert!(
            matches!(found, Err(AuditError::Tampered { .. })),
            "byte {} -> {:?} not found: {:?}", i, to as char, found
        );
    }

    /// Whichever record but the last is removed, verify sees it.
    #[test]
    fn any_removed_record_but_the_last_is_found(n in 2u64..12, pick in 0.0f64..1.0) {
        let text = String::from_utf8(log_bytes(n)).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        let i = ((n - 1) as f64 * pick) as usize;
        lines.remove(i);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let found = audit::verify(&path);
        proptest::prop_assert!(
            matches!(found, Err(AuditError::Tampered { .. })),
            "record {} removed, not found: {:?}", i, found
        );
    }
}

// --- `driftwatch audit` ---

fn driftwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(args)
        .output()
        .expect("run driftwatch")
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn cli_verify_passes_a_good_log_and_names_the_line_of_a_tampered_one() {
    let (_dir, path, records) = log_of(20);
    let log = path.to_str().unwrap();
    let ok = driftwatch(&["audit", "verify", "--log", log]);
    assert_eq!(ok.status.code(), Some(0), "{}", show(&ok));
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(stdout.contains("OK, 20 record(s)"), "{}", show(&ok));
    assert!(stdout.contains(&records[19].hash), "{}", show(&ok));

    let mut l = lines(&path);
    l[5] = l[5].replacen("\"n\":5", "\"n\":6", 1);
    write_lines(&path, &l);
    let bad = driftwatch(&["audit", "verify", "--log", log]);
    assert_eq!(bad.status.code(), Some(1), "{}", show(&bad));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("line 6 (seq 5): hash does not match its content (modified)"),
        "{}",
        show(&bad)
    );
}

#[test]
fn cli_verify_expect_head_finds_cut_off_records() {
    let (_dir, path, records) = log_of(10);
    let log = path.to_str().unwrap();
    let ok = driftwatch(&[
        "audit",
        "verify",
        "--log",
        log,
        "--expect-head",
        &records[9].hash,
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", show(&ok));
    write_lines(&path, &lines(&path)[..8]);
    let plain = driftwatch(&["audit", "verify", "--log", log]);
    assert_eq!(plain.status.code(), Some(0), "{}", show(&plain));
    let bad = driftwatch(&[
        "audit",
        "verify",
        "--log",
        log,
        "--expect-head",
        &records[9].hash,
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", show(&bad));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("line 8 (seq 7): the log ends at seq 7"),
        "{}",
        show(&bad)
    );
}

#[test]
fn cli_reads_the_log_from_the_config_and_prunes_it() {
    let (dir, path, _) = log_of(10);
    let config = dir.path().join("driftwatch.toml");
    std::fs::write(
        &config,
        "[audit]\npath = \"audit.jsonl\"\nretention_days = 30\n",
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let ok = driftwatch(&["audit", "verify", "--config", c]);
    assert_eq!(ok.status.code(), Some(0), "{}", show(&ok));

    // Records are an hour apart from 2026-10-01T00:00Z: this drops the first five.
    let before = "2026-10-01T05:00:00Z";
    let writer = AuditLog::open(&path).unwrap();
    let locked = driftwatch(&["audit", "prune", "--config", c, "--before", before]);
    assert_eq!(locked.status.code(), Some(1), "{}", show(&locked));
    assert!(
        String::from_utf8_lossy(&locked.stderr).contains("locked"),
        "{}",
        show(&locked)
    );
    drop(writer);
    let pruned = driftwatch(&["audit", "prune", "--config", c, "--before", before]);
    assert_eq!(pruned.status.code(), Some(0), "{}", show(&pruned));
    assert!(
        String::from_utf8_lossy(&pruned.stdout).contains("dropped 5 record(s)"),
        "{}",
        show(&pruned)
    );
    let v = audit::verify(&path).unwrap();
    assert_eq!(v.first_seq, 4);
    let ok = driftwatch(&["audit", "verify", "--log", path.to_str().unwrap()]);
    assert_eq!(ok.status.code(), Some(0), "{}", show(&ok));
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("pruned"),
        "{}",
        show(&ok)
    );
}

#[test]
fn cli_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("driftwatch.toml");
    std::fs::write(&config, "").unwrap();
    let c = config.to_str().unwrap();
    let no_log = driftwatch(&["audit", "verify", "--config", c]);
    assert_eq!(no_log.status.code(), Some(2), "{}", show(&no_log));
    assert!(String::from_utf8_lossy(&no_log.stderr).contains("[audit] path is not set"));
    let neither = driftwatch(&["audit", "verify"]);
    assert_eq!(neither.status.code(), Some(2), "{}", show(&neither));
    let (_d, path, _) = log_of(2);
    let future = driftwatch(&[
        "audit",
        "prune",
        "--log",
        path.to_str().unwrap(),
        "--before",
        "2999-01-01",
    ]);
    assert_eq!(future.status.code(), Some(2), "{}", show(&future));
    let no_cutoff = driftwatch(&["audit", "prune", "--log", path.to_str().unwrap()]);
    assert_eq!(no_cutoff.status.code(), Some(2), "{}", show(&no_cutoff));
}

#[test]
fn cli_verify_of_a_missing_log_fails() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.jsonl");
    let o = driftwatch(&["audit", "verify", "--log", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
}
