//! The content of every output file, rendered without I/O: roster and travel CSV, intel
//! lists, GeoIP records, the configuration, Okta System Log JSON and Cisco ASA syslog.

use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::{Days, NaiveTime};
use ipnet::IpNet;
use serde::Serialize;

use super::events::{APPS, CLIENT_APPS, Kind, SimEvent};
use super::population::Setup;
use super::world::{self, CONSUMER_VPN_PROVIDER, NetId, NetKind, PLACES, continent, country_name};
use super::{SimError, Simulation};

/// Roster columns, in driftwatch's order.
const ROSTER_HEADER: [&str; 13] = [
    "employee_id",
    "aliases",
    "group",
    "claimed_country",
    "claimed_region",
    "claimed_city",
    "claimed_lat",
    "claimed_lon",
    "claimed_timezone",
    "work_hours",
    "start_date",
    "status",
    "display_name",
];

fn csv_text(what: &'static str, rows: Vec<Vec<String>>) -> Result<String, SimError> {
    let encode = |e: &dyn std::fmt::Display| SimError::Encode {
        what,
        message: e.to_string(),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.write_record(&row).map_err(|e| encode(&e))?;
    }
    let bytes = w.into_inner().map_err(|e| encode(&e))?;
    String::from_utf8(bytes).map_err(|e| encode(&e))
}

/// `roster.csv`: every employee's claims.
pub fn roster_csv(sim: &Simulation) -> Result<String, SimError> {
    let mut rows = vec![ROSTER_HEADER.iter().map(|s| (*s).to_owned()).collect()];
    for e in &sim.employees {
        let p = e.claimed_place();
        rows.push(vec![
            e.id.clone(),
            e.aliases.join(";"),
            e.department.to_owned(),
            p.country.to_owned(),
            p.region.to_owned(),
            p.city.to_owned(),
            format!("{:.4}", p.lat),
            format!("{:.4}", p.lon),
            p.tz.to_owned(),
            e.work_hours.map(|h| h.to_string()).unwrap_or_default(),
            e.start_date.to_string(),
            e.status.to_string(),
            format!("{} {}", e.first, e.last),
        ]);
    }
    csv_text("roster", rows)
}

/// `approved-travel.csv`: `employee_id,country,from,to`, dates inclusive, one approved trip
/// a row.
pub fn approved_travel_csv(sim: &Simulation) -> Result<String, SimError> {
    let mut rows = vec![vec![
        "employee_id".to_owned(),
        "country".to_owned(),
        "from".to_owned(),
        "to".to_owned(),
    ]];
    for e in &sim.employees {
        if let Setup::Away(a) = &e.setup
            && a.approved
        {
            let day = |d: u32| (sim.params.start + Days::new(u64::from(d))).to_string();
            rows.push(vec![
                e.id.clone(),
                PLACES[a.dest].country.to_owned(),
                day(a.depart),
                day(a.last + 1),
            ]);
        }
    }
    csv_text("approved travel", rows)
}

fn list(header: &str, lines: impl Iterator<Item = String>) -> String {
    let mut out =
        format!("# {header}\n# Simulated by `driftwatch simulate`: synthetic addresses.\n");
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn networks_of_kinds<'a>(
    sim: &'a Simulation,
    kinds: &'a [NetKind],
) -> impl Iterator<Item = NetId> + 'a {
    (0..sim.world.networks.len()).filter(move |&i| kinds.contains(&sim.world.networks[i].kind))
}

/// `corporate-egress.txt`: the company's office and VPN egress networks.
pub fn corporate_egress_txt(sim: &Simulation) -> String {
    list(
        "Corporate egress: offices and the company VPN (tag corporate_egress).",
        networks_of_kinds(sim, &[NetKind::Office, NetKind::CorporateVpn]).map(|i| {
            let n = &sim.world.networks[i];
            format!("{} # {:?} {}", n.net, n.kind, PLACES[n.place].city)
        }),
    )
}

/// `carrier-nat.txt`: the mobile carriers' NAT pools.
pub fn carrier_nat_txt(sim: &Simulation) -> String {
    list(
        "Mobile carrier NAT pools (tag carrier_nat).",
        networks_of_kinds(sim, &[NetKind::Mobile]).map(|i| {
            let n = &sim.world.networks[i];
            format!("{} # {}", n.net, sim.world.system_of(i).org)
        }),
    )
}

/// `consumer-vpn.txt`: the consumer VPN's ASN.
pub fn consumer_vpn_txt(sim: &Simulation) -> String {
    let mut asns: Vec<u32> = networks_of_kinds(sim, &[NetKind::ConsumerVpn])
        .map(|i| sim.world.system_of(i).number)
        .collect();
    asns.dedup();
    list(
        "Consumer VPN providers' ASNs (tag vpn; provider set in driftwatch.toml).",
        asns.into_iter()
            .map(|a| format!("AS{a} # {CONSUMER_VPN_PROVIDER} (simulated)")),
    )
}

#[derive(Serialize)]
pub struct Names {
    pub en: String,
}

fn names(s: &str) -> Names {
    Names { en: s.to_owned() }
}

#[derive(Serialize)]
pub struct Named {
    pub names: Names,
}

#[derive(Serialize)]
pub struct Coded {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iso_code: Option<String>,
    pub names: Names,
}

#[derive(Serialize)]
pub struct Location {
    pub accuracy_radius: u16,
    pub latitude: f64,
    pub longitude: f64,
    pub time_zone: String,
}

/// A GeoIP2 City record.
#[derive(Serialize)]
pub struct CityRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<Named>,
    pub continent: Coded,
    pub country: Coded,
    pub location: Location,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subdivisions: Vec<Coded>,
}

/// A GeoLite2-ASN record.
#[derive(Serialize)]
pub struct AsnRecord {
    pub autonomous_system_number: u32,
    pub autonomous_system_organization: String,
}

/// A GeoIP2-Anonymous-IP record (false flags left out, as MaxMind does).
#[derive(Serialize, Default)]
pub struct AnonymousRecord {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_anonymous: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_anonymous_vpn: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_hosting_provider: bool,
}

/// City records: one per network. Mobile pools are located only to the country, like
/// real carrier ranges.
pub fn city_records(world: &world::World) -> Vec<(IpNet, CityRecord)> {
    world
        .networks
        .iter()
        .map(|n| {
            let p = &PLACES[n.place];
            let (code, name) = continent(p.country);
            let country_only = n.kind == NetKind::Mobile;
            let record = CityRecord {
                city: (!country_only).then(|| Named {
                    names: names(p.city),
                }),
                continent: Coded {
                    code: Some(code.to_owned()),
                    iso_code: None,
                    names: names(name),
                },
                country: Coded {
                    code: None,
                    iso_code: Some(p.country.to_owned()),
                    names: names(country_name(p.country)),
                },
                location: Location {
                    accuracy_radius: n.accuracy_km,
                    latitude: p.lat,
                    longitude: p.lon,
                    time_zone: p.tz.to_owned(),
                },
                subdivisions: if country_only || p.region.is_empty() {
                    Vec::new()
                } else {
                    vec![Coded {
                        code: None,
                        iso_code: Some(p.region_code.to_owned()),
                        names: names(p.region),
                    }]
                },
            };
            (n.net, record)
        })
        .collect()
}

/// ASN records: one per network.
pub fn asn_records(world: &world::World) -> Vec<(IpNet, AsnRecord)> {
    (0..world.networks.len())
        .map(|i| {
            let s = world.system_of(i);
            (
                world.networks[i].net,
                AsnRecord {
                    autonomous_system_number: s.number,
                    autonomous_system_organization: s.org.clone(),
                },
            )
        })
        .collect()
}

/// Anonymous-IP records: hosting and consumer VPN networks only.
pub fn anonymous_records(world: &world::World) -> Vec<(IpNet, AnonymousRecord)> {
    world
        .networks
        .iter()
        .filter_map(|n| {
            let r = match n.kind {
                NetKind::Hosting => AnonymousRecord {
                    is_anonymous: true,
                    is_hosting_provider: true,
                    ..AnonymousRecord::default()
                },
                NetKind::ConsumerVpn => AnonymousRecord {
                    is_anonymous: true,
                    is_anonymous_vpn: true,
                    is_hosting_provider: true,
                },
                _ => return None,
            };
            Some((n.net, r))
        })
        .collect()
}

/// Seconds since 1970 the databases claim to be built at: three days before the first
/// simulated day, so they are "current" for the whole run.
pub fn build_epoch(sim: &Simulation) -> u64 {
    let built = sim.params.start - Days::new(3);
    built.and_time(NaiveTime::MIN).and_utc().timestamp().max(0) as u64
}

/// File names inside the output folder, shared by the writers and the configuration.
pub mod paths {
    pub const ROSTER: &str = "roster.csv";
    pub const APPROVED_TRAVEL: &str = "approved-travel.csv";
    pub const TRUTH: &str = "truth.json";
    pub const CONFIG: &str = "driftwatch.toml";
    pub const CITY: &str = "geoip/sim-city.mmdb";
    pub const ASN: &str = "geoip/sim-asn.mmdb";
    pub const ANONYMOUS: &str = "geoip/sim-anonymous-ip.mmdb";
    pub const CORPORATE_EGRESS: &str = "geoip/corporate-egress.txt";
    pub const CARRIER_NAT: &str = "geoip/carrier-nat.txt";
    pub const CONSUMER_VPN: &str = "geoip/consumer-vpn.txt";
    pub const OKTA: &str = "events/okta.ndjson";
    pub const VPN: &str = "events/vpn-cisco-asa.log";
    pub const ENTRA: &str = "events/entra-signins.ndjson";
    // The real world's files.
    /// An ASN database built from the ip-location-db ASN ranges.
    pub const REAL_ASN: &str = "geoip/asn.mmdb";
    /// The project's shipped consumer VPN list, as a deployment has it.
    pub const SHIPPED_VPN: &str = "geoip/consumer-vpn-providers.csv";
    /// The project's shipped mobile carrier list.
    pub const SHIPPED_MOBILE: &str = "geoip/mobile-carriers.csv";
    /// Public lists (X4BNet lists_vpn, bad-asn-list), as a deployment downloads them.
    pub const PUBLIC_VPN: &str = "geoip/public/x4bnet-vpn-ipv4.txt";
    pub const PUBLIC_DATACENTER: &str = "geoip/public/x4bnet-datacenter-ipv4.txt";
    pub const PUBLIC_BAD_ASN: &str = "geoip/public/bad-asn-list.csv";
    /// The simulator's truth, which no deployment has: the upper bound's lists.
    pub const TRUTH_CARRIERS: &str = "geoip/truth/carrier-nat.txt";
    pub const TRUTH_HOSTING: &str = "geoip/truth/hosting.txt";
    pub const TRUTH_VPN: &str = "geoip/truth/consumer-vpn.txt";
    /// The configuration with the truth lists added (list mode b).
    pub const CONFIG_FULL_LISTS: &str = "driftwatch-full-lists.toml";
}

/// The project's curated consumer VPN list, shipped in `geoip/`.
pub const SHIPPED_VPN_LIST: &str = include_str!("../../geoip/consumer-vpn-providers.csv");
/// The project's curated mobile carrier list, shipped in `geoip/`.
pub const SHIPPED_MOBILE_LIST: &str = include_str!("../../geoip/mobile-carriers.csv");

/// A truth list of the real world: every network of `kinds`, by block.
pub fn truth_list_txt(sim: &Simulation, header: &str, kinds: &[NetKind]) -> String {
    let mut out = format!(
        "# {header}\n# The simulator's truth (driftwatch simulate --world real): no deployment has \
         this list.\n"
    );
    for i in networks_of_kinds(sim, kinds) {
        let n = &sim.world.networks[i];
        let _ = writeln!(
            out,
            "{} # AS{} {}",
            n.net,
            sim.world.system_of(i).number,
            sim.world.system_of(i).org
        );
    }
    out
}

/// `driftwatch.toml` of a real world: the real City database, an ASN database built from
/// the real ranges, and only the lists a deployment has (the shipped list, public lists,
/// the company's own egress). With `full_lists`, the simulator's truth lists are added:
/// the upper bound no deployment reaches.
pub fn real_config_toml(sim: &Simulation, city: &std::path::Path, full_lists: bool) -> String {
    use paths::*;
    let p = &sim.params;
    let mut out = format!(
        r#"# driftwatch configuration for a simulated company in the real world
# (`driftwatch simulate --world real`): {employees} employees, {days} days from {start},
# seed {seed}. Addresses are real blocks of real networks, placed by the City database
# below; paths are relative to this file's folder. Ground truth: {TRUTH}.
#
#   driftwatch evaluate {dot}
#   driftwatch replay --config {CONFIG} events/

[decode]
format = "auto"
max_record_bytes = 65536
default_timezone = "UTC"

[roster]
path = "{ROSTER}"

[enrich]
city = "{city}"
city_layout = "auto"
asn = "{REAL_ASN}"
cache_size = 65536

# The company's own egress: offices and the secure web gateway its VPN leaves through.
[[enrich.lists]]
path = "{CORPORATE_EGRESS}"
tag = "corporate_egress"

# Shipped with driftwatch.
[[enrich.lists]]
path = "{SHIPPED_VPN}"
tag = "vpn"
provider_column = "provider"

[[enrich.lists]]
path = "{SHIPPED_MOBILE}"
tag = "mobile"
"#,
        employees = p.employees,
        days = p.days,
        start = p.start,
        seed = p.seed,
        city = city.display(),
        dot = ".",
    );
    for (path, tag) in [
        (PUBLIC_VPN, "vpn"),
        (PUBLIC_DATACENTER, "hosting"),
        (PUBLIC_BAD_ASN, "hosting"),
    ] {
        let _ = write!(
            out,
            "\n# Public list (../shared/geoip/anonymizer).\n[[enrich.lists]]\npath = \"{path}\"\ntag = \"{tag}\"\n"
        );
    }
    if full_lists {
        for (path, tag) in [
            (TRUTH_CARRIERS, "carrier_nat"),
            (TRUTH_HOSTING, "hosting"),
            (TRUTH_VPN, "vpn"),
        ] {
            let _ = write!(
                out,
                "\n# The simulator's truth: no deployment has this list.\n[[enrich.lists]]\npath = \"{path}\"\ntag = \"{tag}\"\n"
            );
        }
    }
    let _ = write!(
        out,
        r#"
# Detector settings are left at their defaults.

[suppress]
travel = "{APPROVED_TRAVEL}"

[dead_letter]
include_filtered = false
"#
    );
    out
}

/// `driftwatch.toml`: a complete configuration for the simulated company, with paths
/// relative to its own folder.
pub fn config_toml(sim: &Simulation) -> String {
    use paths::*;
    let p = &sim.params;
    format!(
        r#"# driftwatch configuration for a simulated company (`driftwatch simulate`):
# {employees} employees, {days} days from {start}, seed {seed}. Paths are relative to this
# file's folder. The ground truth is in {TRUTH}; approved trips in {APPROVED_TRAVEL}
# (employee_id,country,from,to).
#
#   driftwatch check-config --config {CONFIG}
#   driftwatch replay --config {CONFIG} events/

[decode]
format = "auto"
max_record_bytes = 65536
# The simulated Cisco ASA writes UTC timestamps with the year.
default_timezone = "UTC"

[roster]
path = "{ROSTER}"

[enrich]
city = "{CITY}"
city_layout = "geoip2"
asn = "{ASN}"
anonymous_ip = "{ANONYMOUS}"
cache_size = 65536

[[enrich.lists]]
path = "{CORPORATE_EGRESS}"
tag = "corporate_egress"

[[enrich.lists]]
path = "{CARRIER_NAT}"
tag = "carrier_nat"

[[enrich.lists]]
path = "{CONSUMER_VPN}"
tag = "vpn"
provider = "{CONSUMER_VPN_PROVIDER}"

# Detector settings are left at their defaults.

[suppress]
travel = "{APPROVED_TRAVEL}"

[dead_letter]
include_filtered = false
"#,
        employees = p.employees,
        days = p.days,
        start = p.start,
        seed = p.seed,
    )
}

/// 62 symbols for Okta-style ids.
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62(mut n: u128, len: usize) -> String {
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(BASE62[(n % 62) as usize] as char);
        n /= 62;
    }
    s
}

fn uuid(n: u128) -> String {
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Desktop and mobile user agents: (browser, os, raw).
const DESKTOP_AGENTS: &[(&str, &str, &str)] = &[
    (
        "CHROME",
        "Mac OS X",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    ),
    (
        "EDGE_CHROMIUM",
        "Windows 10",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    ),
    (
        "CHROME",
        "Windows 10",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    ),
    (
        "FIREFOX",
        "Linux",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
    ),
];
const MOBILE_AGENTS: &[(&str, &str, &str)] = &[
    (
        "SAFARI",
        "iOS",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
    ),
    (
        "CHROME",
        "Android",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
    ),
];

// The Okta record as typed structs: fields in Okta's (alphabetical) order, strings
// borrowed, so a record serialises without building a JSON tree.

#[derive(Serialize)]
struct Point {
    lat: f64,
    lon: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeoContext<'a> {
    city: Option<&'a str>,
    country: &'a str,
    geolocation: Point,
    postal_code: Option<&'a str>,
    state: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Actor<'a> {
    alternate_id: &'a str,
    detail_entry: Option<()>,
    display_name: &'a str,
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthenticationContext<'a> {
    authentication_provider: Option<()>,
    authentication_step: u8,
    credential_provider: Option<()>,
    credential_type: Option<()>,
    external_session_id: &'a str,
    interface: Option<()>,
    issuer: Option<()>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserAgent<'a> {
    browser: &'a str,
    os: &'a str,
    raw_user_agent: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Client<'a> {
    device: &'a str,
    geographical_context: &'a GeoContext<'a>,
    id: Option<()>,
    ip_address: &'a str,
    user_agent: UserAgent<'a>,
    zone: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DebugData<'a> {
    device_fingerprint: &'a str,
    request_id: &'a str,
    request_uri: &'a str,
    threat_suspected: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DebugContext<'a> {
    debug_data: DebugData<'a>,
}

#[derive(Serialize)]
struct OktaOutcome<'a> {
    reason: Option<&'a str>,
    result: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Hop<'a> {
    geographical_context: &'a GeoContext<'a>,
    ip: &'a str,
    source: Option<()>,
    version: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    ip_chain: [Hop<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecurityContext<'a> {
    as_number: u32,
    as_org: &'a str,
    domain: &'a str,
    is_proxy: bool,
    isp: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignOnMode {
    sign_on_mode_type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Target<'a> {
    alternate_id: &'a str,
    detail_entry: SignOnMode,
    display_name: &'a str,
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct Transaction<'a> {
    detail: Empty,
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OktaRecord<'a> {
    actor: Actor<'a>,
    authentication_context: AuthenticationContext<'a>,
    client: Client<'a>,
    debug_context: DebugContext<'a>,
    display_message: &'a str,
    event_type: &'a str,
    legacy_event_type: &'a str,
    outcome: OktaOutcome<'a>,
    published: &'a str,
    request: Request<'a>,
    security_context: SecurityContext<'a>,
    severity: &'a str,
    target: Option<[Target<'a>; 1]>,
    transaction: Transaction<'a>,
    uuid: &'a str,
    version: &'a str,
}

/// The event type, legacy type, message, result and reason of an Okta event.
fn okta_type(
    kind: Kind,
) -> Option<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
)> {
    Some(match kind {
        Kind::SessionStart => (
            "user.session.start",
            "core.user_auth.login_success",
            "User login to Okta",
            "SUCCESS",
            None,
        ),
        Kind::FailedLogin => (
            "user.session.start",
            "core.user_auth.login_failed",
            "User login to Okta",
            "FAILURE",
            Some("INVALID_CREDENTIALS"),
        ),
        Kind::Mfa => (
            "user.authentication.auth_via_mfa",
            "core.user.factor.attempt_success",
            "Authentication of user via MFA",
            "SUCCESS",
            None,
        ),
        Kind::Sso(_) => (
            "user.authentication.sso",
            "app.auth.sso",
            "User single sign on to app",
            "SUCCESS",
            None,
        ),
        // A native app acting for the user: counted, never scored.
        Kind::Token(_) => (
            "user.authentication.authenticate",
            "core.user_auth.login_success",
            "User authentication",
            "SUCCESS",
            None,
        ),
        Kind::SessionEnd => (
            "user.session.end",
            "core.user_auth.logout_success",
            "User logout from Okta",
            "SUCCESS",
            None,
        ),
        Kind::VpnStart | Kind::VpnEnd { .. } | Kind::EntraSignIn(_) => return None,
    })
}

/// One Okta System Log record (`/api/v1/logs` shape) for an Okta event; empty for a VPN
/// event.
pub fn okta_json(sim: &Simulation, ev: &SimEvent) -> String {
    let (Some(e), Some((event_type, legacy, message, result, reason))) =
        (sim.employees.get(ev.employee as usize), okta_type(ev.kind))
    else {
        return String::new();
    };
    let n = &sim.world.networks[ev.net];
    let p = &PLACES[n.place];
    let system = sim.world.system_of(ev.net);
    let mobile = n.kind == NetKind::Mobile;
    let agents = if mobile {
        MOBILE_AGENTS
    } else {
        DESKTOP_AGENTS
    };
    let (browser, os, raw) = agents[(e.device % agents.len() as u64) as usize];
    let request_id = base62(ev.nonce >> 64, 27);
    let session_id = format!("102{}", base62(u128::from(ev.session), 25));
    let ip = ev.ip.to_string();
    let published = ev.time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let fingerprint = format!("{:032x}", u128::from(e.device) * 0x1_0000_0001);
    let uuid = uuid(ev.nonce);
    // Okta's own geolocation of the address: the network's place (country only for
    // carrier NAT), or in the real world where the City database puts the block.
    let country_only = mobile;
    let located = sim.real.as_ref().and_then(|r| r.located.get(ev.net));
    let geo = match located {
        Some(at) => GeoContext {
            city: at.city.as_deref(),
            country: country_name(&at.country),
            geolocation: Point {
                lat: at.lat,
                lon: at.lon,
            },
            postal_code: None,
            state: at.region.as_deref(),
        },
        None => GeoContext {
            city: (!country_only).then_some(p.city),
            country: country_name(p.country),
            geolocation: Point {
                lat: p.lat,
                lon: p.lon,
            },
            postal_code: None,
            state: (!country_only && !p.region.is_empty()).then_some(p.region),
        },
    };
    let display_name;
    let client_id;
    let actor = match ev.kind {
        Kind::Token(app) => {
            client_id = format!("0oa{:017x}", (e.device ^ u64::from(app)) >> 8);
            Actor {
                alternate_id: &e.okta_login,
                detail_entry: None,
                display_name: CLIENT_APPS
                    .get(usize::from(app))
                    .copied()
                    .unwrap_or("Okta Verify"),
                id: &client_id,
                kind: "PublicClientApp",
            }
        }
        _ => {
            display_name = format!("{} {}", e.first, e.last);
            Actor {
                alternate_id: &e.okta_login,
                detail_entry: None,
                display_name: &display_name,
                id: &e.okta_id,
                kind: "User",
            }
        }
    };
    let app_id;
    let target = match ev.kind {
        Kind::Sso(app) => {
            let name = APPS.get(usize::from(app)).copied().unwrap_or("Slack");
            app_id = format!("0oa{:017x}", u64::from(app) * 0x9e37_79b9 + 0x1234);
            Some([Target {
                alternate_id: name,
                detail_entry: SignOnMode {
                    sign_on_mode_type: "SAML_2_0",
                },
                display_name: name,
                id: &app_id,
                kind: "AppInstance",
            }])
        }
        _ => None,
    };
    let record = OktaRecord {
        actor,
        authentication_context: AuthenticationContext {
            authentication_provider: None,
            authentication_step: 0,
            credential_provider: None,
            credential_type: None,
            external_session_id: &session_id,
            interface: None,
            issuer: None,
        },
        client: Client {
            device: if mobile { "Mobile" } else { "Computer" },
            geographical_context: &geo,
            id: None,
            ip_address: &ip,
            user_agent: UserAgent {
                browser,
                os,
                raw_user_agent: raw,
            },
            zone: "null",
        },
        debug_context: DebugContext {
            debug_data: DebugData {
                device_fingerprint: &fingerprint,
                request_id: &request_id,
                request_uri: "/api/v1/authn",
                threat_suspected: "false",
                url: "/api/v1/authn?",
            },
        },
        display_message: message,
        event_type,
        legacy_event_type: legacy,
        outcome: OktaOutcome { reason, result },
        published: &published,
        request: Request {
            ip_chain: [Hop {
                geographical_context: &geo,
                ip: &ip,
                source: None,
                version: if ev.ip.is_ipv4() { "V4" } else { "V6" },
            }],
        },
        security_context: SecurityContext {
            as_number: system.number,
            as_org: &system.org,
            domain: &system.domain,
            is_proxy: matches!(n.kind, NetKind::Hosting | NetKind::ConsumerVpn),
            isp: &system.org,
        },
        severity: if result == "FAILURE" { "WARN" } else { "INFO" },
        target,
        transaction: Transaction {
            detail: Empty {},
            id: &request_id,
            kind: "WEB",
        },
        uuid: &uuid,
        version: "0",
    };
    serde_json::to_string(&record).unwrap_or_default()
}

// The Entra ID sign-in as the Event Hub / diagnostic settings export writes it.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntraDevice<'a> {
    browser: &'a str,
    device_id: &'a str,
    operating_system: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntraStatus {
    error_code: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntraProperties<'a> {
    app_display_name: &'a str,
    client_app_used: &'a str,
    correlation_id: &'a str,
    created_date_time: &'a str,
    device_detail: EntraDevice<'a>,
    id: &'a str,
    ip_address: &'a str,
    is_interactive: bool,
    status: EntraStatus,
    user_agent: &'a str,
    user_display_name: &'a str,
    user_id: &'a str,
    user_principal_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntraRecord<'a> {
    caller_ip_address: &'a str,
    category: &'a str,
    correlation_id: &'a str,
    operation_name: &'a str,
    properties: EntraProperties<'a>,
    result_type: &'a str,
    tenant_id: &'a str,
    time: &'a str,
}

/// The simulated company's Entra ID tenant.
const TENANT: &str = "5d1c1ab0-1f1a-4a43-9d43-0d3a3c4c2e11";

/// One Entra ID sign-in record (Event Hub shape, category `SignInLogs`) for an Entra
/// event; empty for any other.
pub fn entra_json(sim: &Simulation, ev: &SimEvent) -> String {
    let (Some(e), Kind::EntraSignIn(app)) = (sim.employees.get(ev.employee as usize), ev.kind)
    else {
        return String::new();
    };
    let n = &sim.world.networks[ev.net];
    let mobile = n.kind == NetKind::Mobile;
    let agents = if mobile {
        MOBILE_AGENTS
    } else {
        DESKTOP_AGENTS
    };
    let (browser, os, raw) = agents[(e.device % agents.len() as u64) as usize];
    let id = uuid(ev.nonce);
    let correlation = uuid(ev.nonce.rotate_left(64) ^ u128::from(ev.session));
    let user_id = uuid(u128::from(e.device) << 64 | u128::from(e.device.rotate_left(17)));
    let device_id = format!("{:016x}", e.device);
    let ip = ev.ip.to_string();
    let created = ev.time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let written = (ev.time + chrono::Duration::seconds(40))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let display = format!("{} {}", e.first, e.last);
    let upn = format!("{}@{}", e.username, super::population::DOMAIN);
    let record = EntraRecord {
        caller_ip_address: &ip,
        category: "SignInLogs",
        correlation_id: &correlation,
        operation_name: "Sign-in activity",
        properties: EntraProperties {
            app_display_name: super::events::ENTRA_APPS
                .get(usize::from(app))
                .copied()
                .unwrap_or("OfficeHome"),
            client_app_used: if mobile {
                "Mobile Apps and Desktop clients"
            } else {
                "Browser"
            },
            correlation_id: &correlation,
            created_date_time: &created,
            device_detail: EntraDevice {
                browser,
                device_id: &device_id,
                operating_system: os,
            },
            id: &id,
            ip_address: &ip,
            is_interactive: true,
            status: EntraStatus { error_code: 0 },
            user_agent: raw,
            user_display_name: &display,
            user_id: &user_id,
            user_principal_name: &upn,
        },
        result_type: "0",
        tenant_id: TENANT,
        time: &written,
    };
    serde_json::to_string(&record).unwrap_or_default()
}

/// The VPN group every session uses.
const VPN_GROUP: &str = "GP-Remote";
/// The concentrator's host name in the syslog header.
const VPN_HOST: &str = "vpn-edge-1";

/// One Cisco ASA syslog line for a VPN event (UTC timestamp with the year).
pub fn asa_line(sim: &Simulation, ev: &SimEvent) -> String {
    let Some(e) = sim.employees.get(ev.employee as usize) else {
        return String::new();
    };
    let stamp = ev.time.format("%b %d %Y %H:%M:%S");
    let user = &e.vpn_login;
    let ip: IpAddr = ev.ip;
    let mut s = String::with_capacity(256);
    match ev.kind {
        Kind::VpnStart => {
            let _ = write!(
                s,
                "<166>{stamp} {VPN_HOST} : %ASA-6-113039: Group <{VPN_GROUP}> User <{user}> IP <{ip}> AnyConnect parent session started."
            );
        }
        Kind::VpnEnd {
            secs,
            bytes_out,
            bytes_in,
        } => {
            let _ = write!(
                s,
                "<164>{stamp} {VPN_HOST} : %ASA-4-113019: Group = {VPN_GROUP}, Username = {user}, IP = {ip}, Session disconnected. Session Type: SSL, Duration: {}h:{:02}m:{:02}s, Bytes xmt: {bytes_out}, Bytes rcv: {bytes_in}, Reason: User Requested",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            );
        }
        _ => {}
    }
    s
}
