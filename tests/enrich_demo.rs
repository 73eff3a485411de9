//! The demo GeoIP data the repository ships (examples/geoip): the committed `.mmdb` files
//! must still say what their JSON sources say, and the quick-start configuration must
//! enrich the demo addresses as the README promises.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use driftwatch::enrich::{CityLayout, DatabaseKind, EnrichConfig, Enricher, Geo};
use driftwatch::sources::enrich_files::{self, EnrichFiles};
use ipnet::IpNet;
use maxminddb::Reader;
use serde_json::Value;

fn demo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/geoip")
        .join(name)
}

/// An IPv4 network stored under `::/96` in an IPv6 tree, as the IPv4 network it is.
fn as_written(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 && v6.network().segments()[..6] == [0; 6] => {
            let o = v6.network().octets();
            let v4 = std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]);
            IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap()
        }
        other => other,
    }
}

fn check_committed_database(name: &str) {
    let source: Value =
        serde_json::from_str(&std::fs::read_to_string(demo(&format!("{name}.json"))).unwrap())
            .unwrap();
    let reader = Reader::open_readfile(demo(&format!("{name}.mmdb"))).unwrap();
    reader.verify().unwrap();
    let meta = reader.metadata();
    assert_eq!(meta.database_type, source["database_type"], "{name}");
    assert_eq!(
        meta.build_epoch,
        source["build_epoch"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(
        meta.description.get("en").map(String::as_str),
        source["description"].as_str(),
        "{name}"
    );

    let want: BTreeMap<IpNet, Value> = source["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let net: IpNet = r["network"].as_str().unwrap().parse().unwrap();
            (net, r["data"].clone())
        })
        .collect();
    let mut got = BTreeMap::new();
    for found in reader.networks(Default::default()).unwrap() {
        let found = found.unwrap();
        let net = found.network().unwrap();
        let net = as_written(IpNet::new(net.ip(), net.prefix()).unwrap());
        let data: Value = found.decode().unwrap().unwrap();
        got.insert(net, data);
    }
    assert_eq!(
        got, want,
        "{name}.mmdb no longer matches {name}.json: run `cargo run --example build_demo_geoip`"
    );
}

#[test]
fn committed_demo_databases_match_their_json_sources() {
    for name in ["demo-city", "demo-asn", "demo-anonymous-ip"] {
        check_committed_database(name);
    }
}

fn quick_start() -> EnrichFiles {
    let text = std::fs::read_to_string(demo("demo-enrich.toml")).unwrap();
    let mut config: EnrichConfig = toml::from_str(&text).unwrap();
    // The file's paths are relative to the repository root, which is where the README runs
    // it; tests may run elsewhere.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for path in [&mut config.city, &mut config.asn, &mut config.anonymous_ip]
        .into_iter()
        .flatten()
    {
        *path = root.join(&*path);
    }
    for list in &mut config.lists {
        list.path = root.join(&list.path);
    }
    assert_eq!(enrich_files::validate(&config), Vec::<String>::new());
    enrich_files::open(&config).unwrap()
}

fn lookup(e: &Enricher, ip: &str) -> Geo {
    (*e.lookup(ip.parse().unwrap())).clone()
}

#[test]
fn quick_start_enriches_the_demo_plan() {
    let e = quick_start();
    let dbs = e.databases();
    assert_eq!(
        dbs.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [
            DatabaseKind::City,
            DatabaseKind::Asn,
            DatabaseKind::AnonymousIp
        ]
    );
    assert_eq!(dbs[0].layout, Some(CityLayout::Geoip2));
    assert_eq!(dbs[0].build_time.to_rfc3339(), "2026-01-01T00:00:00+00:00");

    // (ip, country, region code, city, accuracy km, time zone, ASN)
    let plan = [
        (
            "198.51.100.7",
            "US",
            "NY",
            "New York",
            20,
            "America/New_York",
            64500,
        ),
        (
            "198.51.100.200",
            "US",
            "TX",
            "Austin",
            20,
            "America/Chicago",
            64500,
        ),
        (
            "192.0.2.1",
            "GB",
            "ENG",
            "London",
            10,
            "Europe/London",
            64501,
        ),
        (
            "192.0.2.129",
            "DE",
            "BE",
            "Berlin",
            10,
            "Europe/Berlin",
            64502,
        ),
        (
            "203.0.113.10",
            "CN",
            "LN",
            "Shenyang",
            50,
            "Asia/Shanghai",
            64510,
        ),
        (
            "203.0.113.250",
            "RU",
            "PRI",
            "Vladivostok",
            100,
            "Asia/Vladivostok",
            64511,
        ),
        (
            "100.64.0.99",
            "US",
            "WA",
            "Seattle",
            200,
            "America/Los_Angeles",
            64520,
        ),
        (
            "2001:db8:100:7::1",
            "JP",
            "13",
            "Tokyo",
            20,
            "Asia/Tokyo",
            64530,
        ),
    ];
    for (ip, country, region, city, acc, tz, asn) in plan {
        let g = lookup(&e, ip);
        assert_eq!(g.country.as_deref(), Some(country), "{ip}");
        assert_eq!(g.region_code.as_deref(), Some(region), "{ip}");
        assert_eq!(g.city.as_deref(), Some(city), "{ip}");
        assert_eq!(g.accuracy_km, Some(acc), "{ip}");
        assert_eq!(g.time_zone.as_deref(), Some(tz), "{ip}");
        assert_eq!(g.asn, Some(asn), "{ip}");
        assert!(g.latitude.is_some() && g.longitude.is_some(), "{ip}");
    }

    let vpn = lookup(&e, "203.0.113.10");
    assert!(vpn.is_anonymizer());
    assert_eq!(vpn.tags, ["vpn"]);
    assert_eq!(
        vpn.vpn_provider.as_deref(),
        Some("DemoVPN (Astrill-like, demo data)")
    );
    assert_eq!(vpn.as_org.as_deref(), Some("Demo Cloud Hosting (CN)"));
    let flags = vpn.anonymous.unwrap();
    assert!(flags.is_anonymous && flags.is_anonymous_vpn && flags.is_hosting_provider);
    assert!(!flags.is_tor_exit_node && !flags.is_public_proxy);

    let vps = lookup(&e, "203.0.113.200");
    assert!(
        vps.is_anonymizer(),
        "hosting flag alone makes an anonymizer"
    );
    assert_eq!(vps.vpn_provider, None);

    let home = lookup(&e, "198.51.100.7");
    assert!(!home.is_anonymizer());
    assert_eq!(home.anonymous, None);
    assert_eq!(home.network, Some("198.51.100.0/25".parse().unwrap()));
    assert_eq!(
        home.databases.len(),
        2,
        "City and ASN answered, Anonymous-IP had no record"
    );

    let nowhere = lookup(&e, "8.8.8.8");
    assert_eq!(
        nowhere,
        Geo::default(),
        "outside the demo plan nothing is known"
    );
}

#[test]
fn geo_json_is_the_full_enrichment() {
    let e = quick_start();
    let json = serde_json::to_value(&*e.lookup("203.0.113.10".parse().unwrap())).unwrap();
    for key in [
        "country",
        "region",
        "region_code",
        "city",
        "latitude",
        "longitude",
        "accuracy_km",
        "time_zone",
        "network",
        "asn",
        "as_org",
        "anonymous",
        "tags",
        "vpn_provider",
        "intel",
        "databases",
    ] {
        assert!(json.get(key).is_some(), "{key} missing from {json:#}");
    }
    assert_eq!(json["network"], "203.0.113.0/25");
    assert_eq!(json["intel"][0]["entry"], "AS64510");
    assert_eq!(json["databases"][0]["build_time"], "2026-01-01T00:00:00Z");
    assert_eq!(json["anonymous"]["is_tor_exit_node"], false);
}
