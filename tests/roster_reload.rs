//! Hot reload of the roster end to end: a broken replacement keeps the old roster serving.

use driftwatch::reload::Reload;
use driftwatch::roster::RosterError;
use driftwatch::sources::roster_file::{self, RosterConfig};

const HEADER: &str = "employee_id,aliases,claimed_country,claimed_timezone,status";

/// Replace the file the way operators should: write aside, then rename over it.
fn replace(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn good_then_bad_keeps_old_then_good_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.csv");
    replace(
        &path,
        &format!("{HEADER}\nE1,jdoe@corp.example,US,America/New_York,active\n"),
    );
    let watched = RosterConfig { path: path.clone() }.watch().unwrap();
    let first = watched.get();
    assert_eq!(first.resolve("jdoe").unwrap().employee_id.0, "E1");
    assert!(matches!(watched.reload_if_changed(), Reload::Unchanged));

    // A bad country on line 3: the reload fails with the row error...
    replace(
        &path,
        &format!(
            "{HEADER}\nE1,jdoe@corp.example,US,America/New_York,active\nE2,asmith,UK,Europe/London,active\n"
        ),
    );
    match watched.reload_if_changed() {
        Reload::Failed(RosterError::Invalid(errors)) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].line, 3);
        }
        other => panic!("expected a failed reload, got {other:?}"),
    }
    // ...and the old roster keeps serving.
    let still = watched.get();
    assert_eq!(still.len(), 1);
    assert!(still.resolve("asmith").is_none());
    assert_eq!(
        still.resolve("JDOE@corp.example").unwrap().employee_id.0,
        "E1"
    );

    // A truncated file must not replace it with an empty roster either.
    replace(&path, HEADER);
    assert!(matches!(
        watched.reload_if_changed(),
        Reload::Failed(RosterError::Empty)
    ));
    assert_eq!(watched.get().len(), 1);

    replace(
        &path,
        &format!(
            "{HEADER}\nE1,jdoe@corp.example,US,America/New_York,active\nE2,asmith,GB,Europe/London,active\n"
        ),
    );
    assert!(matches!(watched.reload_if_changed(), Reload::Reloaded));
    let now = watched.get();
    assert_eq!(now.len(), 2);
    assert_eq!(now.resolve("ASmith").unwrap().country, "GB");
    // A snapshot taken before the reload is unchanged: readers never see a mix.
    assert_eq!(first.len(), 1);
}

#[test]
fn a_service_does_not_start_on_a_broken_roster() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.json");
    replace(&path, "[{\"employee_id\": \"E1\"}]");
    let err = roster_file::watch(&path).err().unwrap();
    assert!(
        matches!(err, RosterError::Invalid(ref e) if e.len() == 3),
        "{err}"
    );
    assert!(matches!(
        roster_file::watch(&dir.path().join("absent.csv")),
        Err(RosterError::Io { .. })
    ));
}
