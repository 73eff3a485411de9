//! Enrichment against databases and lists the tests write themselves: the flat DB-IP City
//! layout (no fixture of it exists), hot reload of replaced files, and corrupt
//! replacements that must leave the old version serving.

mod enrich_support;

use std::path::Path;

use driftwatch::enrich::{CityLayout, CityLayoutSetting, EnrichConfig, EnrichError, ListFormat};
use driftwatch::sources::enrich_files;
use enrich_support::{DbipRecord, city_only, list, maxmind, replace, write_asn_db, write_db};

fn dbip(
    city: &'static str,
    state1: &'static str,
    lat: f32,
    lon: f32,
    tz: &'static str,
) -> DbipRecord {
    DbipRecord {
        country_code: "DE",
        state1,
        state2: "",
        city,
        postcode: "",
        latitude: lat,
        longitude: lon,
        timezone: tz,
    }
}

fn write_dbip(path: &Path, database_type: &str, city: DbipRecord) {
    write_db(
        path,
        database_type,
        1_767_225_600,
        &[("192.0.2.0/24", city)],
    );
}

#[test]
fn dbip_flat_layout_is_detected_and_read() {
    let dir = tempfile::tempdir().unwrap();
    // The type name ip-location-db uses is not one we rely on: detection also works from
    // the record keys, whatever the name.
    for database_type in [
        "dbip-city-lite",
        "ip-location-db dbip-city",
        "Some-Vendor-City",
    ] {
        let path = dir.path().join("dbip.mmdb");
        write_dbip(
            &path,
            database_type,
            dbip("Berlin", "Land Berlin", 52.52, 13.405, "Europe/Berlin"),
        );
        let e = enrich_files::open(&city_only(path)).unwrap();
        assert_eq!(
            e.databases()[0].layout,
            Some(CityLayout::Dbip),
            "{database_type}"
        );
        let g = e.lookup("192.0.2.9".parse().unwrap());
        assert_eq!(g.country.as_deref(), Some("DE"));
        assert_eq!(g.region.as_deref(), Some("Land Berlin"));
        assert_eq!(g.city.as_deref(), Some("Berlin"));
        assert_eq!(g.time_zone.as_deref(), Some("Europe/Berlin"));
        assert!(
            (g.latitude.unwrap() - 52.52).abs() < 1e-4,
            "{:?}",
            g.latitude
        );
        assert!((g.longitude.unwrap() - 13.405).abs() < 1e-4);
        assert_eq!(g.accuracy_km, None, "DB-IP gives no accuracy radius");
        assert_eq!(g.region_code, None);
        assert_eq!(e.lookup("198.51.100.1".parse().unwrap()).country, None);
    }
}

#[test]
fn empty_strings_in_flat_records_are_no_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dbip.mmdb");
    write_dbip(&path, "dbip-city-lite", dbip("", "", 51.0, 9.0, ""));
    let e = enrich_files::open(&city_only(path)).unwrap();
    let g = e.lookup("192.0.2.1".parse().unwrap());
    assert_eq!(
        (g.country.as_deref(), g.city.as_deref(), g.region.as_deref()),
        (Some("DE"), None, None)
    );
    assert_eq!(g.time_zone, None);
}

#[test]
fn layout_setting_overrides_detection() {
    // A flat database that calls itself GeoLite2-City is read as GeoIP2 by its name, and
    // refused because its records do not read that way; the setting fixes it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("misnamed.mmdb");
    write_dbip(
        &path,
        "GeoLite2-City",
        dbip("Berlin", "Berlin", 52.52, 13.405, "Europe/Berlin"),
    );
    let err = enrich_files::open(&city_only(path.clone())).unwrap_err();
    assert!(matches!(err, EnrichError::Database { .. }), "{err}");
    let forced = enrich_files::open(&EnrichConfig {
        city_layout: CityLayoutSetting::Dbip,
        ..city_only(path)
    })
    .unwrap();
    assert_eq!(forced.databases()[0].layout, Some(CityLayout::Dbip));
    assert_eq!(
        forced.lookup("192.0.2.1".parse().unwrap()).city.as_deref(),
        Some("Berlin")
    );

    // Forcing the wrong layout is refused the same way.
    let wrong = enrich_files::open(&EnrichConfig {
        city_layout: CityLayoutSetting::Dbip,
        ..city_only(maxmind("GeoIP2-City-Test.mmdb"))
    });
    assert!(wrong.is_err());
}

#[test]
fn corrupt_or_foreign_files_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.mmdb");
    std::fs::write(&garbage, b"this is not a MaxMind database").unwrap();
    let err = enrich_files::open(&city_only(garbage)).unwrap_err();
    assert!(matches!(err, EnrichError::Database { .. }), "{err}");

    // A real database cut short (a download that stopped half way).
    let truncated = dir.path().join("truncated.mmdb");
    let bytes = std::fs::read(maxmind("GeoIP2-City-Test.mmdb")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    assert!(enrich_files::open(&city_only(truncated)).is_err());
}

#[test]
fn replaced_database_is_reloaded_and_the_cache_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.mmdb");
    write_dbip(
        &path,
        "dbip-city-lite",
        dbip("Berlin", "Berlin", 52.52, 13.405, "Europe/Berlin"),
    );
    let e = enrich_files::open(&city_only(path.clone())).unwrap();
    let ip = "192.0.2.77".parse().unwrap();
    assert_eq!(e.lookup(ip).city.as_deref(), Some("Berlin"));
    assert!(e.reload_if_changed().is_empty(), "nothing changed yet");

    replace(&path, 10, |tmp| {
        write_dbip(
            tmp,
            "dbip-city-lite",
            dbip("Hamburg", "Hamburg", 53.55, 9.99, "Europe/Berlin"),
        );
    });
    let report = e.reload_if_changed();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].0, path);
    assert!(report[0].1.is_ok(), "{report:?}");
    assert_eq!(
        e.lookup(ip).city.as_deref(),
        Some("Hamburg"),
        "the cached Berlin answer must not survive the reload"
    );

    // A corrupt replacement is reported once; the old database keeps serving.
    replace(&path, 20, |tmp| {
        std::fs::write(tmp, b"half a download").unwrap()
    });
    let report = e.reload_if_changed();
    assert_eq!(report.len(), 1);
    assert!(
        matches!(report[0].1, Err(EnrichError::Database { .. })),
        "{report:?}"
    );
    assert_eq!(e.lookup(ip).city.as_deref(), Some("Hamburg"));
    assert_eq!(e.lookup_uncached(ip).city.as_deref(), Some("Hamburg"));
    assert_eq!(e.databases()[0].layout, Some(CityLayout::Dbip));
    assert!(
        e.reload_if_changed().is_empty(),
        "a failure is reported once"
    );

    // A database of the wrong kind is refused like a corrupt one.
    replace(&path, 30, |tmp| {
        std::fs::copy(maxmind("GeoLite2-ASN-Test.mmdb"), tmp)
            .map(drop)
            .unwrap()
    });
    let report = e.reload_if_changed();
    assert!(
        matches!(report[0].1, Err(EnrichError::WrongDatabase { .. })),
        "{report:?}"
    );
    assert_eq!(e.lookup(ip).city.as_deref(), Some("Hamburg"));

    // And a good one after that is taken again, with its new build stamp.
    replace(&path, 40, |tmp| {
        std::fs::copy(maxmind("GeoIP2-City-Test.mmdb"), tmp)
            .map(drop)
            .unwrap()
    });
    assert!(e.reload_if_changed()[0].1.is_ok());
    assert_eq!(e.databases()[0].database_type, "GeoIP2-City");
    assert_eq!(e.databases()[0].layout, Some(CityLayout::Geoip2));
    assert_eq!(
        e.lookup("81.2.69.142".parse().unwrap()).city.as_deref(),
        Some("London")
    );
}

#[test]
fn replaced_list_is_reloaded_and_a_broken_one_keeps_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let asn = dir.path().join("asn.mmdb");
    write_asn_db(&asn, &[("198.51.100.0/24", 64500, "Demo")]);
    let path = dir.path().join("egress.txt");
    std::fs::write(&path, "# corporate egress\n192.0.2.0/28\n").unwrap();
    let e = enrich_files::open(&EnrichConfig {
        asn: Some(asn),
        lists: vec![list(path.clone(), "corporate_egress")],
        ..EnrichConfig::default()
    })
    .unwrap();
    let office = "192.0.2.5".parse().unwrap();
    let isp = "198.51.100.5".parse().unwrap();
    assert_eq!(e.lookup(office).tags, ["corporate_egress"]);
    assert!(e.lookup(isp).tags.is_empty());

    replace(&path, 10, |tmp| {
        std::fs::write(tmp, "AS64500 # the office ISP\n").unwrap()
    });
    assert!(e.reload_if_changed()[0].1.is_ok());
    assert!(e.lookup(office).tags.is_empty(), "the cached tag is gone");
    assert_eq!(e.lookup(isp).tags, ["corporate_egress"]);
    assert!(
        !e.lookup(isp).is_anonymizer(),
        "egress is not an anonymizer"
    );

    replace(&path, 20, |tmp| {
        std::fs::write(tmp, "AS64500\nnot-an-entry\n").unwrap()
    });
    let report = e.reload_if_changed();
    match &report[0].1 {
        Err(EnrichError::ListLine { line, .. }) => assert_eq!(*line, 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e.lookup(isp).tags,
        ["corporate_egress"],
        "the old list keeps serving"
    );
    assert_eq!(e.lists()[0].asns, 1);
}

#[test]
fn list_formats_and_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let ok = write(
        "mixed.txt",
        "\u{feff}# header\n\nAS9009\t# tab before the comment\n9010\n192.0.2.0/24 # office\n2001:db8::/32\n198.51.100.7\n",
    );
    let asn = dir.path().join("asn.mmdb");
    write_asn_db(&asn, &[("203.0.113.0/24", 9010, "x")]);
    let e = enrich_files::open(&EnrichConfig {
        asn: Some(asn.clone()),
        lists: vec![list(ok, "proxy")],
        ..EnrichConfig::default()
    })
    .unwrap();
    let info = &e.lists()[0];
    assert_eq!(
        (info.asns, info.ipv4_networks, info.ipv6_networks),
        (2, 2, 1)
    );
    assert_eq!(
        e.lookup("198.51.100.7".parse().unwrap()).intel[0].entry,
        "198.51.100.7/32"
    );
    assert_eq!(
        e.lookup("203.0.113.1".parse().unwrap()).intel[0].entry,
        "AS9010"
    );

    for (name, text, line) in [
        ("words.txt", "AS9009\nAS9009 M247\n", 2),
        ("csvish.txt", "9009,\"M247, GB\"\n", 1),
        ("range.txt", "1.2.3.4-1.2.3.9\n", 1),
    ] {
        let bad = write(name, text);
        let err = enrich_files::open(&EnrichConfig {
            asn: Some(asn.clone()),
            lists: vec![list(bad, "vpn")],
            ..EnrichConfig::default()
        })
        .unwrap_err();
        match err {
            EnrichError::ListLine { line: l, .. } => assert_eq!(l, line, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }

    // CSV: a named entry column and a provider column, with a file-wide fallback provider.
    let csv = write(
        "providers.list",
        "# comment\nprovider,network\nAcme VPN,192.0.2.0/24\n,198.51.100.0/24\n",
    );
    let mut config = list(csv.clone(), "vpn");
    config.format = ListFormat::Csv;
    config.entry_column = Some("Network".to_owned());
    config.provider_column = Some("provider".to_owned());
    config.provider = Some("Unnamed VPN".to_owned());
    let e = enrich_files::open(&EnrichConfig {
        lists: vec![config.clone()],
        ..EnrichConfig::default()
    })
    .unwrap();
    assert_eq!(
        e.lookup("192.0.2.1".parse().unwrap())
            .vpn_provider
            .as_deref(),
        Some("Acme VPN")
    );
    assert_eq!(
        e.lookup("198.51.100.1".parse().unwrap())
            .vpn_provider
            .as_deref(),
        Some("Unnamed VPN")
    );

    config.provider_column = Some("vendor".to_owned());
    let err = enrich_files::open(&EnrichConfig {
        lists: vec![config],
        ..EnrichConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("no column \"vendor\""), "{err}");
}

#[test]
fn cache_hits_return_the_same_geo() {
    let e = enrich_files::open(&city_only(maxmind("GeoIP2-City-Test.mmdb"))).unwrap();
    let a = e.lookup("81.2.69.142".parse().unwrap());
    let b = e.lookup("::ffff:81.2.69.142".parse().unwrap());
    assert!(
        std::sync::Arc::ptr_eq(&a, &b),
        "a hit is the cached Arc, mapped or not"
    );
    assert_eq!(*a, e.lookup_uncached("81.2.69.142".parse().unwrap()));
}

#[test]
fn records_of_unexpected_types_are_refused_at_open() {
    #[derive(serde::Serialize)]
    struct Odd {
        country_code: u32,
        city: &'static str,
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.mmdb");
    write_db(
        &path,
        "dbip-city-lite",
        0,
        &[(
            "192.0.2.0/24",
            Odd {
                country_code: 276,
                city: "Berlin",
            },
        )],
    );
    let err = enrich_files::open(&city_only(path)).unwrap_err();
    assert!(matches!(err, EnrichError::Database { .. }), "{err}");
    assert!(
        err.to_string().contains("(path: country_code)"),
        "the field is named: {err}"
    );
}

/// ip-location-db ships DB-IP City as an IPv4-only and an IPv6 file.
#[test]
fn split_ipv4_and_ipv6_city_databases() {
    let dir = tempfile::tempdir().unwrap();
    let v4 = dir.path().join("dbip-city-ipv4.mmdb");
    let v6 = dir.path().join("dbip-city-ipv6.mmdb");
    let berlin = dbip("Berlin", "Berlin", 52.52, 13.405, "Europe/Berlin");
    let tokyo = DbipRecord {
        country_code: "JP",
        ..dbip("Tokyo", "Tokyo", 35.68, 139.65, "Asia/Tokyo")
    };
    enrich_support::write_db_version(&v4, "dbip-city-ipv4", 0, true, &[("192.0.2.0/24", berlin)]);
    // The IPv6 file also (wrongly) covers the IPv4 range: the first City database wins.
    let potsdam = dbip("Potsdam", "Brandenburg", 52.39, 13.06, "Europe/Berlin");
    enrich_support::write_db(
        &v6,
        "dbip-city-ipv6",
        0,
        &[("2001:db8::/32", tokyo), ("192.0.2.0/24", potsdam)],
    );
    let e = enrich_files::open(&EnrichConfig {
        city: Some(v4),
        city_ipv6: Some(v6),
        ..EnrichConfig::default()
    })
    .unwrap();
    assert_eq!(e.databases().len(), 2);
    let de = e.lookup("192.0.2.1".parse().unwrap());
    assert_eq!(
        (de.city.as_deref(), de.databases.len()),
        (Some("Berlin"), 1)
    );
    let jp = e.lookup("2001:db8::1".parse().unwrap());
    assert_eq!(
        (jp.country.as_deref(), jp.city.as_deref()),
        (Some("JP"), Some("Tokyo"))
    );
    assert_eq!(jp.databases.len(), 1);
}
