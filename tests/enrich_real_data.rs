//! Enrichment against real inputs: MaxMind's test databases (answers taken from the JSON
//! sources next to them) and the real X4BNet and bad-asn-list intel lists.

mod enrich_support;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use driftwatch::enrich::{
    CityLayout, DatabaseKind, EnrichConfig, EnrichError, Enricher, Geo, IntelListConfig,
};
use driftwatch::sources::enrich_files::{self, EnrichFiles};
use enrich_support::{list, maxmind, shared, write_asn_db, x4bnet};
use ipnet::IpNet;

fn geo(e: &Enricher, ip: &str) -> Geo {
    (*e.lookup(ip.parse().unwrap())).clone()
}

fn maxmind_all() -> EnrichFiles {
    enrich_files::open(&EnrichConfig {
        city: Some(maxmind("GeoIP2-City-Test.mmdb")),
        asn: Some(maxmind("GeoLite2-ASN-Test.mmdb")),
        anonymous_ip: Some(maxmind("GeoIP2-Anonymous-IP-Test.mmdb")),
        ..EnrichConfig::default()
    })
    .unwrap()
}

#[test]
fn geoip2_city_test_database() {
    let e = maxmind_all();
    let london = geo(&e, "81.2.69.142");
    assert_eq!(london.country.as_deref(), Some("GB"));
    assert_eq!(london.region.as_deref(), Some("England"));
    assert_eq!(london.region_code.as_deref(), Some("ENG"));
    assert_eq!(london.city.as_deref(), Some("London"));
    assert_eq!(london.accuracy_km, Some(10));
    assert_eq!(london.latitude, Some(51.5142));
    assert_eq!(london.longitude, Some(-0.0931));
    assert_eq!(london.time_zone.as_deref(), Some("Europe/London"));
    assert_eq!(london.network, Some("81.2.69.142/31".parse().unwrap()));

    let boxford = geo(&e, "2.125.160.216");
    assert_eq!(
        (
            boxford.country.as_deref(),
            boxford.city.as_deref(),
            boxford.accuracy_km
        ),
        (Some("GB"), Some("Boxford"), Some(100))
    );
    assert_eq!(
        boxford.region.as_deref(),
        Some("England"),
        "the first subdivision is the region"
    );

    let linkoping = geo(&e, "89.160.20.112");
    assert_eq!(linkoping.country.as_deref(), Some("SE"));
    assert_eq!(linkoping.city.as_deref(), Some("Linköping"));
    assert_eq!(linkoping.accuracy_km, Some(76));
    assert_eq!(linkoping.time_zone.as_deref(), Some("Europe/Stockholm"));

    let milton = geo(&e, "216.160.83.56");
    assert_eq!(milton.country.as_deref(), Some("US"));
    assert_eq!(milton.region_code.as_deref(), Some("WA"));
    assert_eq!(milton.city.as_deref(), Some("Milton"));
    assert_eq!(milton.accuracy_km, Some(22));
    assert_eq!(milton.time_zone.as_deref(), Some("America/Los_Angeles"));

    // IPv6, country-level only; and an IPv4-mapped address is its IPv4 client.
    let tokyo = geo(&e, "2001:218::1");
    assert_eq!(tokyo.country.as_deref(), Some("JP"));
    assert_eq!(tokyo.city, None);
    assert_eq!(tokyo.accuracy_km, Some(100));
    assert_eq!(tokyo.network, Some("2001:218::/32".parse().unwrap()));
    assert_eq!(geo(&e, "::ffff:81.2.69.142"), london);
}

#[test]
fn geolite2_city_test_database_reads_the_same_layout() {
    let e = enrich_files::open(&enrich_support::city_only(maxmind(
        "GeoLite2-City-Test.mmdb",
    )))
    .unwrap();
    assert_eq!(e.databases()[0].layout, Some(CityLayout::Geoip2));
    assert_eq!(e.databases()[0].database_type, "GeoLite2-City");
    let g = geo(&e, "81.2.69.150");
    assert_eq!(
        (g.country.as_deref(), g.city.as_deref()),
        (Some("GB"), Some("London"))
    );
    assert_eq!(g.accuracy_km, Some(3), "81.2.69.144/28 has a 3 km radius");
}

#[test]
fn asn_and_anonymous_ip_test_databases() {
    let e = maxmind_all();
    let telstra = geo(&e, "1.128.0.0");
    assert_eq!(telstra.asn, Some(1221));
    assert_eq!(telstra.as_org.as_deref(), Some("Telstra Pty Ltd"));
    assert_eq!(
        telstra.network,
        Some("1.128.0.0/11".parse().unwrap()),
        "ASN network without a City record"
    );
    let att = geo(&e, "12.81.96.1");
    assert_eq!(
        (att.asn, att.as_org),
        (Some(7018), None),
        "a record without an organisation"
    );

    let vpn = geo(&e, "1.2.0.1").anonymous.unwrap();
    assert!(vpn.is_anonymous && vpn.is_anonymous_vpn);
    assert!(
        !vpn.is_hosting_provider && !vpn.is_tor_exit_node,
        "missing flags are false"
    );
    let all = geo(&e, "81.2.69.1").anonymous.unwrap();
    assert!(all.is_anonymous_vpn && all.is_hosting_provider && all.is_public_proxy);
    assert!(all.is_residential_proxy && all.is_tor_exit_node);
    assert!(
        geo(&e, "71.160.223.5")
            .anonymous
            .unwrap()
            .is_hosting_provider
    );
    assert!(geo(&e, "6.1.0.4").anonymous.unwrap().is_residential_proxy);
    assert!(geo(&e, "abcd:1000::1").anonymous.unwrap().is_public_proxy);
    assert!(geo(&e, "65.0.0.1").anonymous.unwrap().is_tor_exit_node);
    assert!(geo(&e, "1.2.0.1").is_anonymizer());
    assert_eq!(
        geo(&e, "89.160.20.112").anonymous,
        None,
        "no Anonymous-IP record"
    );
}

#[test]
fn database_infos_carry_type_and_build() {
    let e = maxmind_all();
    let infos = e.databases();
    let types: Vec<_> = infos
        .iter()
        .map(|d| (d.kind, d.database_type.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            (DatabaseKind::City, "GeoIP2-City"),
            (DatabaseKind::Asn, "GeoLite2-ASN"),
            (DatabaseKind::AnonymousIp, "GeoIP2-Anonymous-IP"),
        ]
    );
    for info in &infos {
        let reader = maxminddb::Reader::open_readfile(&info.path).unwrap();
        assert_eq!(
            info.build_time.timestamp(),
            i64::try_from(reader.metadata().build_epoch).unwrap(),
            "{}",
            info.path.display()
        );
    }
    assert_eq!(infos[1].layout, None);
    let json = serde_json::to_value(&infos).unwrap();
    assert!(
        json[0]["build_time"].as_str().unwrap().ends_with('Z'),
        "{json}"
    );
    assert_eq!(json[0]["layout"], "geoip2");

    let stamps = geo(&e, "81.2.69.142").databases;
    assert_eq!(
        stamps.iter().map(|s| s.kind).collect::<Vec<_>>(),
        [DatabaseKind::City, DatabaseKind::AnonymousIp],
        "only the databases with a record for the address"
    );
}

#[test]
fn a_database_in_the_wrong_slot_is_refused() {
    let asn_as_city = enrich_files::open(&enrich_support::city_only(maxmind(
        "GeoLite2-ASN-Test.mmdb",
    )));
    assert!(
        matches!(asn_as_city, Err(EnrichError::WrongDatabase { .. })),
        "{asn_as_city:?}"
    );
    let city_as_asn = enrich_files::open(&EnrichConfig {
        asn: Some(maxmind("GeoIP2-City-Test.mmdb")),
        ..EnrichConfig::default()
    });
    let err = city_as_asn.unwrap_err().to_string();
    assert!(err.contains("autonomous_system_number"), "{err}");
    let city_as_anonymous = enrich_files::open(&EnrichConfig {
        anonymous_ip: Some(maxmind("GeoIP2-City-Test.mmdb")),
        ..EnrichConfig::default()
    });
    assert!(matches!(
        city_as_anonymous,
        Err(EnrichError::WrongDatabase { .. })
    ));
}

#[test]
fn missing_files_are_all_reported_before_anything_opens() {
    let err = enrich_files::open(&EnrichConfig {
        city: Some("/nonexistent/city.mmdb".into()),
        anonymous_ip: Some("/nonexistent/anon.mmdb".into()),
        lists: vec![list("/nonexistent/vpn.txt".into(), "vpn")],
        ..EnrichConfig::default()
    })
    .unwrap_err();
    match err {
        EnrichError::Config(problems) => assert_eq!(problems.len(), 3, "{problems:?}"),
        other => panic!("{other:?}"),
    }
}

/// An ASN database the tests write, mapping documentation ranges to the ASNs real lists
/// name, so ASN lists can be tested with real files.
fn asn_db(dir: &Path) -> PathBuf {
    let path = dir.join("asn.mmdb");
    write_asn_db(
        &path,
        &[
            ("198.51.100.0/24", 9009, "M247 Europe SRL"),
            ("192.0.2.0/24", 136787, "TEFINCOM S.A."),
            ("203.0.113.0/24", 64496, "Demo Eyeball ISP"),
            ("2001:db8::/32", 209854, "Surfshark Ltd."),
        ],
    );
    path
}

fn x4bnet_lists() -> Vec<IntelListConfig> {
    vec![
        list(x4bnet("input/vpn/ASN.txt"), "vpn"),
        list(x4bnet("output/vpn/ipv4.txt"), "vpn"),
        list(x4bnet("output/vpn/ipv6.txt"), "vpn"),
        list(x4bnet("input/datacenter/ASN.txt"), "hosting"),
        list(x4bnet("output/datacenter/ipv4.txt"), "hosting"),
        list(x4bnet("output/datacenter/ipv6.txt"), "hosting"),
        list(
            shared("geoip/anonymizer/bad-asn-list/bad-asn-list.csv"),
            "hosting",
        ),
    ]
}

#[test]
fn real_x4bnet_and_bad_asn_lists_tag_by_asn_and_network() {
    let dir = tempfile::tempdir().unwrap();
    let e = enrich_files::open(&EnrichConfig {
        asn: Some(asn_db(dir.path())),
        lists: x4bnet_lists(),
        ..EnrichConfig::default()
    })
    .unwrap();

    let infos = e.lists();
    assert_eq!(infos[0].asns, 15, "input/vpn/ASN.txt has 15 ASNs");
    assert_eq!(infos[1].ipv4_networks, 10_862);
    assert_eq!(infos[2].ipv6_networks, 498);
    assert!(
        infos[3].asns > 850,
        "tab-separated comments read too: {}",
        infos[3].asns
    );
    assert!(infos[6].asns > 700, "bad-asn-list.csv: {}", infos[6].asns);

    // AS9009 is in the vpn ASN list, the datacenter ASN list and bad-asn-list.
    let m247 = geo(&e, "198.51.100.10");
    assert_eq!(m247.tags, ["hosting", "vpn"]);
    assert!(m247.is_anonymizer());
    assert_eq!(m247.intel[0].entry, "AS9009");
    assert_eq!(m247.intel.len(), 3, "{:?}", m247.intel);
    assert_eq!(m247.vpn_provider, None, "X4BNet's list names no provider");

    let eyeball = geo(&e, "203.0.113.10");
    assert!(eyeball.tags.is_empty() && !eyeball.is_anonymizer());

    // By network, from the generated outputs.
    let v4 = geo(&e, "2.26.157.77");
    assert!(v4.has_tag("vpn"), "{v4:?}");
    assert!(
        v4.intel.iter().any(|m| m.entry == "2.26.157.0/24"),
        "{:?}",
        v4.intel
    );
    let v6 = geo(&e, "2001:ac8:1234::1");
    assert!(
        v6.intel.iter().any(|m| m.entry == "2001:ac8::/32"),
        "{:?}",
        v6.intel
    );
}

#[test]
fn bad_asn_list_quirks_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let asn = dir.path().join("asn.mmdb");
    write_asn_db(
        &asn,
        &[
            ("198.51.100.0/24", 51447, "RootLayer"), // `51447, "RootLayer Web Services Ltd, NL"`
            ("192.0.2.0/24", 15497, "COLOCALL"),     // embedded doubled quotes
            ("203.0.113.0/24", 398779, "ACEHOST"),   // quoted ASN, last line
        ],
    );
    let e = enrich_files::open(&EnrichConfig {
        asn: Some(asn),
        lists: vec![list(
            shared("geoip/anonymizer/bad-asn-list/bad-asn-list.csv"),
            "hosting",
        )],
        ..EnrichConfig::default()
    })
    .unwrap();
    for ip in ["198.51.100.1", "192.0.2.1", "203.0.113.1"] {
        assert_eq!(geo(&e, ip).tags, ["hosting"], "{ip}");
    }
}

/// The prefix index answers like a linear scan on the real 42 566-prefix datacenter list:
/// probe each prefix's first and last address and the addresses just outside it.
#[test]
fn real_datacenter_list_matches_a_linear_scan() {
    let path = x4bnet("output/datacenter/ipv4.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let nets: Vec<IpNet> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
    let e = enrich_files::open(&EnrichConfig {
        lists: vec![list(path, "hosting")],
        ..EnrichConfig::default()
    })
    .unwrap();
    let mut checked = 0;
    for net in nets.iter().step_by(211) {
        let IpNet::V4(v4) = net else { continue };
        let first = u32::from(v4.network());
        let last = u32::from(v4.broadcast());
        for probe in [first.wrapping_sub(1), first, last, last.wrapping_add(1)] {
            let ip = IpAddr::V4(probe.into());
            let want = nets
                .iter()
                .filter(|n| n.contains(&ip))
                .max_by_key(|n| n.prefix_len())
                .map(|n| n.to_string());
            let got = e.lookup_uncached(ip).intel.first().map(|m| m.entry.clone());
            assert_eq!(got, want, "{ip}");
            checked += 1;
        }
    }
    assert!(checked > 700);
}

#[test]
fn curated_consumer_vpn_list_names_providers() {
    let dir = tempfile::tempdir().unwrap();
    let curated = Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/consumer-vpn-providers.csv");
    let vpn_list = IntelListConfig {
        provider_column: Some("provider".to_owned()),
        ..list(curated.clone(), "vpn")
    };
    let e = enrich_files::open(&EnrichConfig {
        asn: Some(asn_db(dir.path())),
        lists: vec![vpn_list, list(x4bnet("input/vpn/ASN.txt"), "vpn")],
        ..EnrichConfig::default()
    })
    .unwrap();
    let nord = geo(&e, "192.0.2.1");
    assert_eq!(nord.vpn_provider.as_deref(), Some("NordVPN"));
    assert_eq!(nord.intel.len(), 2, "both lists match AS136787");
    assert_eq!(nord.intel[0].list, curated);
    assert_eq!(
        geo(&e, "2001:db8::1").vpn_provider.as_deref(),
        Some("Surfshark")
    );
    assert_eq!(
        geo(&e, "198.51.100.1").vpn_provider,
        None,
        "M247 is shared hosting, not NordVPN alone"
    );

    // Every row carries a confidence level and a source.
    let mut rows = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_path(&curated)
        .unwrap();
    let mut n = 0;
    for row in rows.deserialize::<(String, String, String, String)>() {
        let (entry, provider, confidence, source) = row.unwrap();
        assert!(entry.starts_with("AS") && !provider.is_empty(), "{entry}");
        assert!(
            ["high", "medium", "low"].contains(&confidence.as_str()),
            "{entry}"
        );
        assert!(source.len() > 10, "{entry} needs a source");
        n += 1;
    }
    assert!(n >= 10);
}

#[test]
fn asn_lists_need_an_asn_database() {
    let err = enrich_files::open(&EnrichConfig {
        lists: vec![list(x4bnet("input/vpn/ASN.txt"), "vpn")],
        ..EnrichConfig::default()
    })
    .unwrap_err();
    assert!(
        matches!(err, EnrichError::AsnListWithoutAsnDatabase { asns: 15, .. }),
        "{err}"
    );
}

/// `enrich::mmdb` does the crate's verification with its public API and reads the metadata
/// itself: on every MaxMind test database (the decoder test database holds every type of
/// the format) it must agree with the crate.
#[test]
fn every_maxmind_test_database_opens_as_the_crate_opens_it() {
    let mut checked = 0;
    for entry in std::fs::read_dir(shared("geoip/maxmind-test")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "mmdb") {
            continue;
        }
        let strict = maxminddb::Reader::open_readfile(&path).unwrap();
        strict.verify().unwrap();
        let opened = driftwatch::enrich::mmdb::open(std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (ours, theirs) = (&opened.metadata, strict.metadata());
        assert_eq!(ours.database_type, theirs.database_type);
        assert_eq!(ours.build_epoch, theirs.build_epoch);
        assert_eq!(ours.description, theirs.description);
        assert_eq!(ours.languages, theirs.languages);
        assert_eq!(
            (ours.node_count, ours.record_size, ours.ip_version),
            (theirs.node_count, theirs.record_size, theirs.ip_version),
            "{}",
            path.display()
        );
        assert_eq!(opened.reader.metadata(), theirs, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 15, "{checked} databases");
}
