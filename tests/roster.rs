//! The roster through its public API: example files, validation reports, alias
//! resolution, formats.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{NaiveDate, NaiveTime, Weekday};
use driftwatch::roster::{
    ClaimedProfile, EmployeeId, Field, Roster, RosterError, RowError, Status,
};
use driftwatch::sources::roster_file::{self, RosterConfig};
use proptest::prelude::*;

const EXAMPLE_CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/roster.csv");
const EXAMPLE_JSON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/roster.json");
const MAXMIND: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/geoip/maxmind-test");

const HEADER: &str = "employee_id,aliases,claimed_country,claimed_region,claimed_city,\
claimed_lat,claimed_lon,claimed_timezone,work_hours,start_date,status";

/// A CSV roster: the standard header, then `rows` (the header is line 1).
fn csv(rows: &[&str]) -> String {
    std::iter::once(HEADER)
        .chain(rows.iter().copied())
        .collect::<Vec<_>>()
        .join("\n")
}

fn load_csv(text: &str) -> Result<Roster, RosterError> {
    Roster::from_csv_reader(text.as_bytes())
}

/// A valid row for `id` with these aliases.
fn row(id: &str, aliases: &str) -> String {
    format!(
        "{id},{aliases},US,NY,New York,40.7128,-74.0060,America/New_York,09:00-18:00 Mon-Fri,2024-01-02,active"
    )
}

fn invalid(result: Result<Roster, RosterError>) -> Vec<RowError> {
    match result {
        Err(RosterError::Invalid(errors)) => errors,
        Err(other) => panic!("expected row errors, got {other}"),
        Ok(r) => panic!("expected row errors, loaded {} employees", r.len()),
    }
}

fn id_of(roster: &Roster, user: &str) -> Option<String> {
    roster.resolve(user).map(|p| p.employee_id.0.to_string())
}

#[test]
fn example_files_load_and_agree() {
    let from_csv = roster_file::load(Path::new(EXAMPLE_CSV)).unwrap();
    let from_json = roster_file::load(Path::new(EXAMPLE_JSON)).unwrap();
    assert_eq!(from_csv.len(), 10);
    assert_eq!(from_json.len(), from_csv.len());
    for p in from_csv.iter() {
        assert_eq!(from_json.get(&p.employee_id), Some(p));
    }

    // The demo GeoIP plan: 3 + 1 night shift in New York, 2 Austin, 2 London, Berlin, Tokyo.
    let count = |tz: &str, country: &str| {
        from_csv
            .iter()
            .filter(|p| p.timezone.name() == tz && p.country == country)
            .count()
    };
    assert_eq!(count("America/New_York", "US"), 4);
    assert_eq!(count("America/Chicago", "US"), 2);
    assert_eq!(count("Europe/London", "GB"), 2);
    assert_eq!(count("Europe/Berlin", "DE"), 1);
    assert_eq!(count("Asia/Tokyo", "JP"), 1);
    assert!(from_csv.iter().all(|p| p.status == Status::Active));

    let night = from_csv.get(&EmployeeId("E1010".into())).unwrap();
    let hours = night.work_hours.unwrap();
    assert!(hours.crosses_midnight());
    assert!(hours.contains_at(Weekday::Mon, NaiveTime::from_hms_opt(3, 0, 0).unwrap()));
    assert_eq!(night.point, Some((40.7128, -74.0060)));
    assert_eq!(
        from_csv
            .get(&EmployeeId("E1007".into()))
            .unwrap()
            .start_date,
        None
    );
}

#[test]
fn every_example_alias_resolves_in_any_case() {
    let roster = roster_file::load(Path::new(EXAMPLE_CSV)).unwrap();
    for p in roster.iter() {
        let id = Some(p.employee_id.0.to_string());
        assert_eq!(id_of(&roster, &p.employee_id.0), id);
        assert_eq!(id_of(&roster, &p.employee_id.0.to_lowercase()), id);
        for alias in &p.aliases {
            assert_eq!(id_of(&roster, alias), id, "{alias}");
            assert_eq!(id_of(&roster, &alias.to_uppercase()), id, "{alias}");
        }
    }
    // Forms the file does not list, reached through the user name of a listed alias.
    assert_eq!(id_of(&roster, "anguyen").as_deref(), Some("E1001"));
    assert_eq!(id_of(&roster, "CORP\\BCarter").as_deref(), Some("E1002"));
    assert_eq!(id_of(&roster, "chloe.park").as_deref(), Some("E1003"));
    assert!(roster.ambiguous_names().is_empty());
    assert_eq!(roster.resolve("nobody@corp.example"), None);
    assert_eq!(roster.resolve(""), None);
}

#[test]
fn email_alias_matches_every_form_of_its_account() {
    let roster = load_csv(&csv(&[&row("E1", "jdoe@corp.example")])).unwrap();
    for form in [
        "jdoe@corp.example",
        "JDoe@Corp.Example",
        " jdoe@corp.example ",
        "CORP\\jdoe",
        "corp\\JDOE",
        "jdoe",
        "JDOE",
        "e1",
    ] {
        assert_eq!(id_of(&roster, form).as_deref(), Some("E1"), "{form:?}");
    }
    // A different e-mail domain is a different account (guest, personal address).
    assert_eq!(roster.resolve("jdoe@other.example"), None);
    assert_eq!(roster.resolve("jdoe2"), None);
    assert_eq!(roster.resolve("CORP\\jdoe\\x"), None);
    assert_eq!(roster.resolve("CORP\\jdoe@corp.example"), None);
}

#[test]
fn domain_user_alias_matches_its_user_name_but_not_an_email() {
    let roster = load_csv(&csv(&[&row("E1", "CORP\\jdoe")])).unwrap();
    for form in ["CORP\\jdoe", "corp\\JDoe", "jdoe", "LAB\\jdoe"] {
        assert_eq!(id_of(&roster, form).as_deref(), Some("E1"), "{form:?}");
    }
    // The roster does not say which e-mail domain CORP is: no match by guesswork.
    assert_eq!(roster.resolve("jdoe@corp.example"), None);
}

#[test]
fn bare_name_shared_across_domains_resolves_to_nobody() {
    let roster = load_csv(&csv(&[
        &row("E1", "jdoe@corp.example"),
        &row("E2", "jdoe@contractor.example;CONTRACT\\jdoe"),
        &row("E3", "asmith@corp.example"),
    ]))
    .unwrap();
    assert_eq!(roster.resolve("jdoe"), None);
    assert_eq!(roster.resolve("CORP\\jdoe"), None);
    assert_eq!(id_of(&roster, "jdoe@corp.example").as_deref(), Some("E1"));
    assert_eq!(
        id_of(&roster, "JDOE@contractor.example").as_deref(),
        Some("E2")
    );
    assert_eq!(id_of(&roster, "contract\\jdoe").as_deref(), Some("E2"));
    assert_eq!(id_of(&roster, "asmith").as_deref(), Some("E3"));
    assert_eq!(roster.ambiguous_names(), ["jdoe"]);
}

#[test]
fn explicit_bare_alias_wins_over_a_derived_user_name_in_any_row_order() {
    for rows in [
        [row("E1", "jdoe@corp.example"), row("E2", "jdoe")],
        [row("E2", "jdoe"), row("E1", "jdoe@corp.example")],
    ] {
        let roster = load_csv(&csv(&[&rows[0], &rows[1]])).unwrap();
        assert_eq!(id_of(&roster, "jdoe").as_deref(), Some("E2"));
        assert_eq!(id_of(&roster, "CORP\\jdoe").as_deref(), Some("E2"));
        assert_eq!(id_of(&roster, "jdoe@corp.example").as_deref(), Some("E1"));
    }
}

#[test]
fn every_validation_error_is_reported_with_its_line() {
    let text = csv(&[
        &row("E1", "a@corp.example;a1"),          // 2 ok
        ",,US,,,,,America/New_York,,,active",     // 3
        "E3,,UK,,,,,America/New_York,,,active",   // 4
        "E4,,US,,,,,America/Gotham,,,active",     // 5
        "E5,,US,,,91,10,UTC,,,active",            // 6
        "E6,,US,,,40,,UTC,,,active",              // 7
        "E7,,US,,,,east,UTC,,,active",            // 8
        "E8,,US,,,,,UTC,9-5,,active",             // 9
        "E9,,US,,,,,UTC,,2024-02-30,active",      // 10
        "E10,,US,,,,,UTC,,,suspended",            // 11
        "E11,a@,US,,,,,UTC,,,active",             // 12
        "e12@corp.example,,US,,,,,UTC,,,active",  // 13
        "E1,,US,,,,,UTC,,,active",                // 14
        "E14,A@Corp.Example,US,,,,,UTC,,,active", // 15
        "a1,,US,,,,,UTC,,,active",                // 16
        "E16,,US,,,,,UTC",                        // 17
        "E17,,,,,,,,,,",                          // 18
    ]);
    let errors = invalid(load_csv(&text));
    let got: Vec<(u64, Field)> = errors.iter().map(|e| (e.line, e.field)).collect();
    use Field::*;
    assert_eq!(
        got,
        [
            (3, EmployeeId),
            (4, ClaimedCountry),
            (5, ClaimedTimezone),
            (6, ClaimedLat),
            (7, ClaimedLon),
            (8, ClaimedLon),
            (8, ClaimedLat),
            (9, WorkHours),
            (10, StartDate),
            (11, Status),
            (12, Aliases),
            (13, EmployeeId),
            (14, EmployeeId),
            (15, Aliases),
            (16, EmployeeId),
            (17, Record),
            (18, ClaimedCountry),
            (18, ClaimedTimezone),
            (18, Status),
        ]
    );
    let message = |line: u64, field: Field| {
        errors
            .iter()
            .find(|e| e.line == line && e.field == field)
            .map(|e| e.message.as_str())
            .unwrap()
    };
    assert_eq!(message(3, EmployeeId), "is required");
    assert!(message(4, ClaimedCountry).contains("\"UK\" is not an assigned ISO 3166-1"));
    assert!(message(5, ClaimedTimezone).contains("America/Gotham"));
    assert!(message(6, ClaimedLat).contains("between -90 and 90"));
    assert_eq!(message(7, ClaimedLon), "is required with claimed_lat");
    assert!(message(9, WorkHours).contains("\"9-5\""));
    assert!(message(10, StartDate).contains("YYYY-MM-DD"));
    assert!(message(11, Status).contains("suspended"));
    assert!(message(12, Aliases).contains("\"a@\" is not user@domain"));
    assert!(message(13, EmployeeId).contains("stable HR id"));
    assert_eq!(
        message(14, EmployeeId),
        "duplicate employee_id; first on line 2"
    );
    assert_eq!(
        message(15, Aliases),
        "alias \"a@corp.example\" is also claimed by E1 (line 2)"
    );
    assert_eq!(
        message(16, EmployeeId),
        "employee_id a1 is also claimed by E1 (line 2)"
    );
    assert_eq!(message(17, Record), "has 8 fields; the header has 11");
    let e14 = errors.iter().find(|e| e.line == 14).unwrap();
    assert_eq!(e14.employee_id.as_deref(), Some("E1"));
}

#[test]
fn three_bad_rows_give_three_errors_all_listed() {
    let text = csv(&[
        &row("E1", "a@corp.example"),
        "E2,,XX,,,,,UTC,,,active",
        &row("E3", ""),
        "E4,,US,,,,,Mars/Olympus,,,active",
        "E5,,US,,,,,UTC,,,retired",
    ]);
    let err = load_csv(&text).unwrap_err();
    let RosterError::Invalid(errors) = &err else {
        panic!("{err}")
    };
    assert_eq!(errors.len(), 3);
    let shown = err.to_string();
    assert!(shown.starts_with("roster has 3 problems:"), "{shown}");
    for part in [
        "line 3 (E2): claimed_country:",
        "line 5 (E4): claimed_timezone:",
        "line 6 (E5): status:",
    ] {
        assert!(shown.contains(part), "{part} missing from:\n{shown}");
    }
}

#[test]
fn bad_utf8_is_a_row_error_among_the_others() {
    let mut text = csv(&[&row("E1", ""), "E2,,US,,,,,UTC,,,active"]).into_bytes();
    text.extend_from_slice(b"\nE3,,US,,\xff\xfe,,,UTC,,,active\nE4,,ZZ,,,,,UTC,,,active");
    let errors = invalid(Roster::from_csv_reader(text.as_slice()));
    let got: Vec<(u64, Field)> = errors.iter().map(|e| (e.line, e.field)).collect();
    assert_eq!(got, [(4, Field::Record), (5, Field::ClaimedCountry)]);
}

#[test]
fn header_problems_are_listed_together() {
    let err = load_csv("employee_id,status,Status,claimed_city\nE1,active,active,X").unwrap_err();
    let RosterError::Header(message) = err else {
        panic!("{err}")
    };
    assert_eq!(
        message,
        "missing column claimed_country; missing column claimed_timezone; \
         column status appears more than once"
    );
}

#[test]
fn columns_in_any_order_and_case_with_extra_columns_ignored() {
    let shuffled = "\u{feff}Status, manager ,CLAIMED_TIMEZONE,claimed_country,Employee_ID,aliases,cost_center\n\
                    active,Bob,Asia/Tokyo,jp,E9,ksato@corp.example;ksato,42\n";
    let roster = load_csv(shuffled).unwrap();
    let p = roster.resolve("KSATO").unwrap();
    assert_eq!(p.employee_id, EmployeeId("E9".into()));
    assert_eq!(p.country, "JP");
    assert_eq!(p.timezone, chrono_tz::Asia::Tokyo);
    assert_eq!(
        (p.region.as_ref(), p.point, p.work_hours),
        (None, None, None)
    );
    // `manager` is a column (trimmed header, any case); `cost_center` is not.
    assert_eq!(p.manager.as_deref(), Some("Bob"));
    assert_eq!((p.display_name.as_ref(), p.upn.as_ref()), (None, None));
}

/// The columns pages show: `group`, `display_name`, `upn` and `manager`, the same names in
/// CSV and JSON, free text, blank or null meaning absent.
#[test]
fn page_columns_come_from_csv_and_json() {
    let roster = roster_file::load(Path::new(EXAMPLE_CSV)).unwrap();
    let diego = roster.resolve("dramos").unwrap();
    assert_eq!(diego.group.as_deref(), Some("Payments"));
    assert_eq!(diego.display_name.as_deref(), Some("Diego Ramos"));
    assert_eq!(diego.upn.as_deref(), Some("dramos@corp.example"));
    assert_eq!(diego.manager.as_deref(), Some("eklein@corp.example"));
    let fiona = roster.resolve("fhughes").unwrap();
    assert_eq!(fiona.display_name.as_deref(), Some("Fiona Hughes"));
    assert_eq!((fiona.upn.as_ref(), fiona.manager.as_ref()), (None, None));
    let from_json = roster_file::load(Path::new(EXAMPLE_JSON)).unwrap();
    let with_names = |r: &Roster| {
        r.iter()
            .filter(|p| p.display_name.is_some())
            .map(|p| p.employee_id.0.to_string())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(with_names(&roster).len(), 6);
    assert_eq!(with_names(&from_json), with_names(&roster));

    let csv_text = format!(
        "{HEADER},Display_Name,upn,manager,group\n{},Jo Doe,,  ,\n",
        row("E1", "jdoe@corp.example")
    );
    let p = load_csv(&csv_text).unwrap();
    let p = p.resolve("jdoe").unwrap();
    assert_eq!(p.display_name.as_deref(), Some("Jo Doe"));
    assert_eq!(
        (p.upn.as_ref(), p.manager.as_ref(), p.group.as_ref()),
        (None, None, None)
    );

    let errors = invalid(Roster::from_json_str(
        r#"[{"employee_id": "E1", "claimed_country": "US", "claimed_timezone": "UTC",
             "status": "active", "display_name": ["Jo"], "upn": null, "manager": 7}]"#,
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, Field::DisplayName);
    let ok = Roster::from_json_str(
        r#"[{"employee_id": "E1", "claimed_country": "US", "claimed_timezone": "UTC",
             "status": "active", "manager": 7, "upn": "jdoe@corp.example"}]"#,
    )
    .unwrap();
    let p = ok.get(&EmployeeId("E1".into())).unwrap();
    assert_eq!(
        p.manager.as_deref(),
        Some("7"),
        "a number is taken as its text"
    );
    assert_eq!(p.upn.as_deref(), Some("jdoe@corp.example"));
}

#[test]
fn header_only_roster_is_refused() {
    assert!(matches!(load_csv(HEADER), Err(RosterError::Empty)));
    assert!(matches!(
        Roster::from_json_str("[]"),
        Err(RosterError::Empty)
    ));
}

#[test]
fn json_forms() {
    let wrapped = r#"{"employees": [
        {"employee_id": "E1", "aliases": "jdoe@corp.example; CORP\\jdoe",
         "claimed_country": "us", "claimed_timezone": "America/Chicago",
         "claimed_lat": 30.2672, "claimed_lon": "-97.7431", "status": "leave",
         "start_date": null, "team": ["ignored"]}
    ]}"#;
    let roster = Roster::from_json_str(wrapped).unwrap();
    let p = roster.resolve("corp\\jdoe").unwrap();
    assert_eq!(p.aliases, ["jdoe@corp.example", "CORP\\jdoe"]);
    assert_eq!(p.point, Some((30.2672, -97.7431)));
    assert_eq!((p.country.as_str(), p.status), ("US", Status::Leave));

    let errors = invalid(Roster::from_json_str(
        r#"[
  {"employee_id": "E1", "claimed_country": "US", "claimed_timezone": "UTC", "status": "active"},
  "E2",
  {"employee_id": "E3", "claimed_country": "US", "claimed_timezone": "UTC",
   "status": true, "aliases": ["a@corp.example", 7]},
  {"employee_id": "E1", "claimed_country": "US", "claimed_timezone": "UTC", "status": "active"}
]"#,
    ));
    let got: Vec<(u64, Field, Option<&str>)> = errors
        .iter()
        .map(|e| (e.line, e.field, e.employee_id.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (3, Field::Record, None),
            (4, Field::Aliases, Some("E3")),
            (4, Field::Status, Some("E3")),
            (6, Field::EmployeeId, Some("E1")),
        ]
    );
    assert_eq!(errors[2].message, "true is not a string");

    for bad in [
        "{\"people\": []}",
        "{\"employees\": [], \"x\": 1}",
        "42",
        "[",
        "",
    ] {
        assert!(
            matches!(Roster::from_json_str(bad), Err(RosterError::Json(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn load_picks_the_format_by_extension_then_content() {
    let dir = tempfile::tempdir().unwrap();
    let json = std::fs::read_to_string(EXAMPLE_JSON).unwrap();
    let csv_text = std::fs::read_to_string(EXAMPLE_CSV).unwrap();
    for (name, text) in [
        ("roster.JSON", &json),
        ("roster.txt", &json),
        ("roster", &csv_text),
        ("roster.Csv", &csv_text),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        assert_eq!(roster_file::load(&path).unwrap().len(), 10, "{name}");
    }
    let missing = dir.path().join("absent.csv");
    let err = roster_file::load(&missing).unwrap_err();
    assert!(matches!(err, RosterError::Io { .. }));
    assert!(err.to_string().contains("absent.csv"), "{err}");
}

#[test]
fn config_is_strict_and_validated() {
    let config: RosterConfig = toml::from_str("path = \"examples/roster.csv\"").unwrap();
    assert!(config.validate().is_empty());
    assert!(toml::from_str::<RosterConfig>("path = \"r.csv\"\nrefresh = 5").is_err());
    let empty = RosterConfig { path: "".into() };
    assert_eq!(empty.validate(), ["roster.path is empty"]);
    let dir = RosterConfig { path: "/".into() };
    assert_eq!(dir.validate().len(), 1);
}

#[test]
fn profile_serializes_for_evidence() {
    let roster = roster_file::load(Path::new(EXAMPLE_CSV)).unwrap();
    let p: &ClaimedProfile = roster.resolve("lmorgan").unwrap();
    assert_eq!(
        serde_json::to_value(p).unwrap(),
        serde_json::json!({
            "employee_id": "E1010",
            "aliases": ["lmorgan@corp.example", "CORP\\lmorgan"],
            "country": "US",
            "region": "New York",
            "city": "New York",
            "point": [40.7128, -74.006],
            "timezone": "America/New_York",
            "work_hours": "22:00-06:00 Sun-Thu",
            "start_date": "2023-08-14",
            "status": "active",
            "group": "Operations"
        }),
        "no display_name, upn or manager in this row: left out, not null"
    );
    assert_eq!(p.start_date, NaiveDate::from_ymd_opt(2023, 8, 14));
}

/// Every country code MaxMind's test databases report must be claimable, or a real
/// employee there could not be on the roster.
#[test]
fn every_country_maxmind_reports_is_claimable() {
    fn collect(v: &serde_json::Value, codes: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if k.ends_with("country")
                        && let Some(code) = v.get("iso_code").and_then(|c| c.as_str())
                    {
                        codes.insert(code.to_owned());
                    }
                    collect(v, codes);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| collect(i, codes)),
            _ => {}
        }
    }
    let mut codes = BTreeSet::new();
    for file in [
        "GeoIP2-Country-Test.json",
        "GeoIP2-City-Test.json",
        "GeoIP2-Enterprise-Test.json",
    ] {
        let text = std::fs::read_to_string(format!("{MAXMIND}/{file}")).unwrap();
        collect(&serde_json::from_str(&text).unwrap(), &mut codes);
    }
    assert!(codes.len() > 30, "{codes:?}");
    let rows: Vec<String> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| format!("E{i},,{c},,,,,UTC,,,active"))
        .collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let roster = load_csv(&csv(&rows)).unwrap();
    assert_eq!(roster.len(), codes.len());
}

proptest! {
    #[test]
    fn arbitrary_csv_never_panics(body in "\\PC{0,300}", header_too in any::<bool>()) {
        let text = if header_too { format!("{HEADER}\n{body}") } else { body };
        let _ = load_csv(&text);
    }

    #[test]
    fn csv_shaped_rows_never_panic(rows in proptest::collection::vec(
        proptest::collection::vec("[ -~]{0,12}|US|UTC|active|40\\.1|9:00-1:00 Mon-Sun", 0..13), 0..6)
    ) {
        let lines: Vec<String> = rows.iter().map(|r| r.join(",")).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let _ = load_csv(&csv(&lines));
    }

    /// Issue 17, item 9: an account name that needs folding to match (one letter of an
    /// all-ASCII alias written fullwidth or as a look-alike compatibility character)
    /// matches nobody and is named as imitating the employee; the alias itself still
    /// resolves, in any case.
    #[test]
    fn a_name_that_needs_folding_never_resolves_and_is_reported(
        local in "[a-z]{2,10}",
        at in 0usize..10,
        kelvin in any::<bool>(),
        upper in any::<bool>(),
    ) {
        let alias = format!("{local}@corp.example");
        let roster = load_csv(&csv(&[&row("E7", &alias), &row("E8", "other@corp.example")])).unwrap();
        let shown = if upper { alias.to_uppercase() } else { alias.clone() };
        prop_assert_eq!(roster.resolve(&shown).map(|p| p.employee_id.0.as_str()), Some("E7"));
        let i = at % local.len();
        let c = local.as_bytes()[i] as char;
        let folded = if kelvin && c == 'k' { '\u{212a}' } else { char::from_u32(c as u32 + 0xfee0).unwrap() };
        let forged: String = alias.chars().enumerate().map(|(j, x)| if j == i { folded } else { x }).collect();
        prop_assert!(roster.resolve(&forged).is_none(), "{forged} resolved");
        prop_assert_eq!(roster.confusable_with(&forged), Some(EmployeeId("E7".into())));
    }

    /// Issue 17, item 7: two employees whose aliases yield the same bare account name
    /// make it resolve to neither, and both are named; their full aliases still resolve.
    #[test]
    fn a_bare_name_two_rows_yield_resolves_to_neither_and_names_both(local in "[a-z]{2,10}") {
        let roster = load_csv(&csv(&[
            &row("E1", &format!("{local}@corp.example")),
            &row("E2", &format!("{local}@personal.example")),
        ]))
        .unwrap();
        prop_assert!(roster.resolve(&local).is_none());
        prop_assert_eq!(
            roster.ambiguous_between(&local),
            vec![EmployeeId("E1".into()), EmployeeId("E2".into())]
        );
        let corp = format!("{local}@corp.example");
        prop_assert_eq!(roster.resolve(&corp).map(|p| p.employee_id.0.as_str()), Some("E1"));
        prop_assert_eq!(roster.ambiguous_accounts().len(), 1);
    }

    #[test]
    fn arbitrary_bytes_and_json_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Roster::from_csv_reader(bytes.as_slice());
        let _ = Roster::from_json_str(&String::from_utf8_lossy(&bytes));
    }
}
