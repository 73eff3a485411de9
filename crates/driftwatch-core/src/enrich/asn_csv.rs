//! `driftwatch geoip build-asn`: an ASN database from CSV ranges.
//!
//! The ip-location-db project publishes its ASN data (RouteViews, the five RIRs and DB-IP's
//! IP-to-ASN Lite, merged) on npm only as CSV (`@ip-location-db/asn`): one inclusive range
//! a line, `start_ip,end_ip,asn,"organisation"`, no header, IPv4 and IPv6 in separate files.
//! This turns such files into a database in the GeoLite2-ASN layout
//! (`autonomous_system_number`, `autonomous_system_organization`) for the `asn` slot:
//!
//! - each range is split into the CIDR networks that cover exactly it;
//! - each (number, organisation) pair is stored once and its networks point at it, so the
//!   data section holds one record per autonomous system, not one per network;
//! - the number is stored in the narrowest unsigned type that holds it, uint16 up to 65 535
//!   and uint32 above, as other writers (Python's `mmdb-writer`) do: the databases it writes
//!   are also what proves driftwatch reads narrow integers;
//! - IPv4 ranges go under `::/96` of an IPv6 tree, where readers look IPv4 addresses up.
//!
//! Ranges may overlap: the published IPv4 file has a few (`214.95.0.0-215.0.255.255` AS749
//! and `215.0.0.0-215.1.3.255` AS721). Where they do, the narrower range wins, as the more
//! specific route does in BGP (and, between ranges of one size, the later line); each
//! overlap is reported. Overlaps are resolved on ranges before they are split into
//! networks, because the writer's tree would otherwise keep whichever network was inserted
//! last.
//!
//! Reading ([`read_ranges`]) and planning ([`plan`]) are pure; [`build`] reads the files
//! and writes the database through [`super::write::write_shared`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use serde::{Serialize, Serializer};

use super::write::{Meta, WriteMmdbError, write_shared};

/// The `database_type` of the databases this writes.
pub const DATABASE_TYPE: &str = "ip-location-db-ASN";

/// Why an ASN database could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildAsnError {
    /// A CSV file cannot be opened or read.
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A CSV row is not a range and an ASN.
    #[error("{path}, line {line}: {problem}")]
    Row {
        path: PathBuf,
        line: u64,
        problem: String,
    },
    /// The files hold no range at all.
    #[error("no ranges in {files}: nothing to build")]
    Empty { files: String },
    /// The database cannot be written.
    #[error(transparent)]
    Write(#[from] WriteMmdbError),
}

/// Where a row came from: the index of its file among the inputs and its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Index into the list of input files.
    pub file: usize,
    /// Line in that file, from 1.
    pub line: u64,
}

/// One CSV row: an inclusive range of addresses and the autonomous system announcing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsnRange {
    /// First address.
    pub first: IpAddr,
    /// Last address, included.
    pub last: IpAddr,
    /// Autonomous system number.
    pub asn: u32,
    /// Its organisation; may be empty.
    pub organization: String,
    /// Where the row is.
    pub origin: Origin,
}

/// Read the rows of one CSV file (`path` names it in errors; `file` is its index among the
/// inputs) and append them to `ranges`.
pub fn read_ranges(
    path: &Path,
    file: usize,
    input: impl Read,
    ranges: &mut Vec<AsnRange>,
) -> Result<(), BuildAsnError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut record = csv::StringRecord::new();
    loop {
        let line = csv.position().line();
        let row_error = |line, problem: String| BuildAsnError::Row {
            path: path.to_owned(),
            line,
            problem,
        };
        match csv.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                return Err(match e.kind() {
                    csv::ErrorKind::Utf8 { err, .. } => {
                        row_error(line, format!("field {} is not UTF-8", err.field() + 1))
                    }
                    csv::ErrorKind::Io(_) => match e.into_kind() {
                        csv::ErrorKind::Io(source) => BuildAsnError::Read {
                            path: path.to_owned(),
                            source,
                        },
                        _ => unreachable!("the kind was Io a line above"),
                    },
                    _ => row_error(line, e.to_string()),
                });
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        let range = parse_row(&record)
            .map_err(|problem| row_error(line, problem))?
            .with_origin(Origin { file, line });
        ranges.push(range);
    }
}

/// A row's fields, before its origin is known.
struct Row {
    first: IpAddr,
    last: IpAddr,
    asn: u32,
    organization: String,
}

impl Row {
    fn with_origin(self, origin: Origin) -> AsnRange {
        AsnRange {
            first: self.first,
            last: self.last,
            asn: self.asn,
            organization: self.organization,
            origin,
        }
    }
}

fn parse_row(record: &csv::StringRecord) -> Result<Row, String> {
    let [first, last, asn, organization] = [0, 1, 2, 3].map(|i| record.get(i));
    let (Some(first), Some(last), Some(asn), Some(organization), 4) =
        (first, last, asn, organization, record.len())
    else {
        return Err(format!(
            "expected 4 fields (start_ip,end_ip,asn,organisation), found {}",
            record.len()
        ));
    };
    let address = |name: &str, text: &str| {
        text.parse::<IpAddr>()
            .map_err(|_| format!("{name} {text:?} is not an IP address"))
    };
    let (first, last) = (address("start_ip", first)?, address("end_ip", last)?);
    if first.is_ipv4() != last.is_ipv4() {
        return Err(format!(
            "start_ip {first} and end_ip {last} are not of one IP version"
        ));
    }
    if first > last {
        return Err(format!("start_ip {first} is after end_ip {last}"));
    }
    if let IpAddr::V6(v6) = first {
        // `::/96` holds the IPv4 networks in an IPv6 database; an IPv6 range there would
        // answer for IPv4 addresses.
        if u128::from(v6) >> 32 == 0 {
            return Err(format!(
                "{first} is in ::/96, where this database keeps IPv4: give IPv4 ranges as IPv4"
            ));
        }
    }
    let digits = asn.strip_prefix("AS").unwrap_or(asn);
    let asn = digits
        .parse::<u32>()
        .map_err(|_| format!("asn {asn:?} is not a number from 0 to 4294967295"))?;
    Ok(Row {
        first,
        last,
        asn,
        organization: organization.to_owned(),
    })
}

/// A GeoLite2-ASN record.
#[derive(Debug, Serialize)]
pub struct AsnRecord<'a> {
    /// In the narrowest unsigned type that holds it.
    pub autonomous_system_number: NarrowUint,
    /// Left out when the CSV has none (MaxMind does the same).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub autonomous_system_organization: &'a str,
}

/// An unsigned number written as uint16 when it fits and as uint32 otherwise. The writer
/// crate encodes each Rust integer type as the MaxMind DB type of its width (`u16` as
/// uint16, `u32` as uint32), so choosing the width is choosing the type to serialize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NarrowUint(pub u32);

impl Serialize for NarrowUint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match u16::try_from(self.0) {
            Ok(narrow) => s.serialize_u16(narrow),
            Err(_) => s.serialize_u32(self.0),
        }
    }
}

/// Where a narrower range cut into a wider one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    /// The range that answers for the addresses both cover.
    pub kept: Origin,
    /// The range that lost them.
    pub cut: Origin,
}

/// What goes into the database: each record once, and the networks pointing at them.
#[derive(Debug)]
pub struct Plan<'a> {
    /// The records, each (number, organisation) once.
    pub records: Vec<AsnRecord<'a>>,
    /// Non-overlapping networks and the index of their record, in address order.
    pub networks: Vec<(IpNet, usize)>,
    /// Where ranges overlapped.
    pub overlaps: Vec<Overlap>,
}

/// A stretch of addresses (IPv4 as `u32` values, IPv6 as `u128`, in separate maps) owned
/// by one range.
#[derive(Debug, Clone, Copy)]
struct Segment {
    last: u128,
    range: usize,
}

/// Resolve overlaps, store each record once, split the ranges into networks.
pub fn plan(ranges: &[AsnRange]) -> Plan<'_> {
    // Paint the ranges widest first onto a map of disjoint segments: a narrower range then
    // covers the part of a wider one it overlaps. Between ranges of one size, the later line
    // paints last and wins.
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    let span = |r: &AsnRange| bits(r.last) - bits(r.first);
    order.sort_by(|&a, &b| span(&ranges[b]).cmp(&span(&ranges[a])).then(a.cmp(&b)));
    let (mut v4, mut v6) = (BTreeMap::new(), BTreeMap::new());
    let mut overlaps = Vec::new();
    for i in order {
        let r = &ranges[i];
        let map = if r.first.is_ipv4() { &mut v4 } else { &mut v6 };
        for cut in paint(map, bits(r.first), bits(r.last), i) {
            overlaps.push(Overlap {
                kept: r.origin,
                cut: ranges[cut].origin,
            });
        }
    }
    overlaps.sort_by_key(|o| (o.kept.file, o.kept.line, o.cut.file, o.cut.line));
    overlaps.dedup();

    let mut index = HashMap::new();
    let mut records = Vec::new();
    let mut networks = Vec::new();
    for (map, v4) in [(&v4, true), (&v6, false)] {
        for (&first, segment) in map {
            let r = &ranges[segment.range];
            let record = *index
                .entry((r.asn, r.organization.as_str()))
                .or_insert_with(|| {
                    records.push(AsnRecord {
                        autonomous_system_number: NarrowUint(r.asn),
                        autonomous_system_organization: &r.organization,
                    });
                    records.len() - 1
                });
            if v4 {
                // Both ends came from IPv4 addresses, so they fit.
                let (a, b) = (first as u32, segment.last as u32);
                let subnets = Ipv4Subnets::new(Ipv4Addr::from(a), Ipv4Addr::from(b), 0);
                networks.extend(subnets.map(|n| (IpNet::V4(n), record)));
            } else {
                let (a, b) = (Ipv6Addr::from(first), Ipv6Addr::from(segment.last));
                let subnets = Ipv6Subnets::new(a, b, 0);
                networks.extend(subnets.map(|n| (IpNet::V6(n), record)));
            }
        }
    }
    Plan {
        records,
        networks,
        overlaps,
    }
}

/// An address as a number, IPv4 in the low 32 bits.
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4).into(),
        IpAddr::V6(v6) => v6.into(),
    }
}

/// Give `[first, last]` to `range` in `map`, cutting back the segments it covers. Returns
/// the ranges it took addresses from.
fn paint(map: &mut BTreeMap<u128, Segment>, first: u128, last: u128, range: usize) -> Vec<usize> {
    let mut cut = Vec::new();
    // A segment that starts before `first` and reaches into it keeps its head (and its
    // tail, when it reaches past `last`).
    if let Some((_, before)) = map.range_mut(..first).next_back()
        && before.last >= first
    {
        let whole = *before;
        before.last = first - 1;
        if whole.last > last {
            map.insert(last + 1, whole);
        }
        cut.push(whole.range);
    }
    // Segments that start inside lose what `[first, last]` covers.
    let inside: Vec<u128> = map.range(first..=last).map(|(&start, _)| start).collect();
    for start in inside {
        if let Some(segment) = map.remove(&start) {
            if segment.last > last {
                map.insert(last + 1, segment);
            }
            cut.push(segment.range);
        }
    }
    map.insert(first, Segment { last, range });
    cut
}

/// What [`build`] wrote.
#[derive(Debug)]
pub struct Built {
    /// The CSV files, in the order given ([`Origin::file`] indexes them).
    pub files: Vec<PathBuf>,
    /// Rows read from them.
    pub ranges: usize,
    /// CIDR networks in the database.
    pub networks: usize,
    /// Distinct (number, organisation) records.
    pub records: usize,
    /// Records whose number is stored as uint16.
    pub uint16_records: usize,
    /// Where ranges overlapped.
    pub overlaps: Vec<Overlap>,
    /// Size of the database file.
    pub bytes: u64,
}

/// Overlaps listed one by one in the summary; more are counted.
const OVERLAPS_LISTED: usize = 10;

impl fmt::Display for Built {
    /// The summary `geoip build-asn` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ranges, {} networks, {} AS records ({} stored as uint16, {} as uint32), {} bytes",
            self.ranges,
            self.networks,
            self.records,
            self.uint16_records,
            self.records - self.uint16_records,
            self.bytes
        )?;
        if self.overlaps.is_empty() {
            return Ok(());
        }
        writeln!(
            f,
            "{} overlapping range(s); where they overlap, the narrower range answers:",
            self.overlaps.len()
        )?;
        let at = |o: Origin| format!("{}:{}", self.files[o.file].display(), o.line);
        for o in self.overlaps.iter().take(OVERLAPS_LISTED) {
            writeln!(f, "  {} cuts into {}", at(o.kept), at(o.cut))?;
        }
        if self.overlaps.len() > OVERLAPS_LISTED {
            writeln!(f, "  and {} more", self.overlaps.len() - OVERLAPS_LISTED)?;
        }
        Ok(())
    }
}

/// Read the CSV files, write the database to `out` (through a temporary file renamed over
/// it) with build time `build_epoch` (seconds since 1970).
pub fn build(csvs: &[PathBuf], out: &Path, build_epoch: u64) -> Result<Built, BuildAsnError> {
    let mut ranges = Vec::new();
    for (file, path) in csvs.iter().enumerate() {
        let read = |source| BuildAsnError::Read {
            path: path.clone(),
            source,
        };
        let input = std::fs::File::open(path).map_err(read)?;
        read_ranges(path, file, std::io::BufReader::new(input), &mut ranges)?;
    }
    let names: Vec<String> = csvs
        .iter()
        .map(|p| {
            p.file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
        })
        .collect();
    if ranges.is_empty() {
        return Err(BuildAsnError::Empty {
            files: names.join(", "),
        });
    }
    let plan = plan(&ranges);
    let description = format!(
        "ASN ranges from {}, converted by driftwatch geoip build-asn",
        names.join(", ")
    );
    let meta = Meta {
        database_type: DATABASE_TYPE,
        description: &description,
        build_epoch,
        ipv4_only: false,
    };
    let networks = plan.networks.len();
    let bytes = write_shared(out, &meta, &plan.records, plan.networks)?;
    Ok(Built {
        files: csvs.to_vec(),
        ranges: ranges.len(),
        networks,
        records: plan.records.len(),
        uint16_records: plan
            .records
            .iter()
            .filter(|r| u16::try_from(r.autonomous_system_number.0).is_ok())
            .count(),
        overlaps: plan.overlaps,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<AsnRange>, BuildAsnError> {
        let mut ranges = Vec::new();
        read_ranges(Path::new("asn.csv"), 0, text.as_bytes(), &mut ranges)?;
        Ok(ranges)
    }

    fn error(text: &str) -> String {
        read(text).unwrap_err().to_string()
    }

    fn networks(plan: &Plan<'_>) -> Vec<(String, u32)> {
        plan.networks
            .iter()
            .map(|(net, r)| {
                let asn = plan.records[*r].autonomous_system_number.0;
                (net.to_string(), asn)
            })
            .collect()
    }

    /// The first lines of the published asn-ipv4.csv and asn-ipv6.csv.
    const PUBLISHED: &str = "\
1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"
1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd
1.0.64.0,1.0.127.255,18144,\"Enecom,Inc.\"
1.1.1.0,1.1.1.255,13335,\"Cloudflare, Inc.\"
2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project
";

    #[test]
    fn published_rows_are_read() {
        let ranges = read(PUBLISHED).unwrap();
        assert_eq!(ranges.len(), 5);
        assert_eq!(ranges[0].organization, "Cloudflare, Inc.");
        assert_eq!(
            ranges[2].organization, "Enecom,Inc.",
            "a comma inside quotes"
        );
        assert_eq!(ranges[4].first, "2001:200::".parse::<IpAddr>().unwrap());
        assert_eq!(ranges[4].origin, Origin { file: 0, line: 5 });

        let plan = plan(&ranges);
        assert_eq!(
            plan.records.len(),
            4,
            "Cloudflare's two ranges share one record"
        );
        assert!(plan.overlaps.is_empty());
        let nets = networks(&plan);
        assert_eq!(nets[0], ("1.0.0.0/24".to_owned(), 13335));
        assert_eq!(nets[1], ("1.0.4.0/22".to_owned(), 38803));
        assert_eq!(nets[2], ("1.0.64.0/18".to_owned(), 18144));
        assert_eq!(nets[3], ("1.1.1.0/24".to_owned(), 13335));
        // 2001:200:: to 2001:200:1b9:ffff:... is 0x1ba /48s: /40, /41, /43, /44, /45, /47.
        let v6: Vec<&str> = nets[4..].iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            v6,
            [
                "2001:200::/40",
                "2001:200:100::/41",
                "2001:200:180::/43",
                "2001:200:1a0::/44",
                "2001:200:1b0::/45",
                "2001:200:1b8::/47"
            ]
        );
    }

    #[test]
    fn ranges_split_into_the_networks_that_cover_exactly_them() {
        let (nets, _) = plan_of("10.0.0.1,10.0.0.6,64500,Odd\n");
        let nets: Vec<String> = nets.into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            nets,
            ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
        );
        let (all, _) = plan_of("0.0.0.0,255.255.255.255,64500,Everything\n");
        assert_eq!(all, [("0.0.0.0/0".to_owned(), 64500)]);
    }

    /// The networks (with their ASN) and overlaps of the plan for `text`.
    fn plan_of(text: &str) -> (Vec<(String, u32)>, Vec<Overlap>) {
        let ranges = read(text).unwrap();
        let plan = plan(&ranges);
        (networks(&plan), plan.overlaps)
    }

    /// The published asn-ipv4.csv has lines 399115 and 399116 overlapping.
    #[test]
    fn where_ranges_overlap_the_narrower_one_answers() {
        let (nets, overlaps) = plan_of(
            "214.95.0.0,215.0.255.255,749,United States Department of Defense (DoD)\n\
             215.0.0.0,215.1.3.255,721,DoD Network Information Center\n",
        );
        assert!(
            nets.contains(&("214.128.0.0/9".to_owned(), 749)),
            "{nets:?}"
        );
        assert!(nets.contains(&("215.0.0.0/16".to_owned(), 721)), "{nets:?}");
        assert!(nets.contains(&("215.1.0.0/22".to_owned(), 721)), "{nets:?}");
        assert!(!nets.iter().any(|(n, a)| n.starts_with("215.") && *a == 749));
        assert_eq!(
            overlaps,
            [Overlap {
                kept: Origin { file: 0, line: 2 },
                cut: Origin { file: 0, line: 1 }
            }]
        );

        // A narrow range in the middle of a wide one leaves the wide one both sides.
        let (inside, _) = plan_of("10.0.0.0,10.0.3.255,1,Wide\n10.0.1.0,10.0.1.255,2,Narrow\n");
        assert_eq!(
            inside,
            [
                ("10.0.0.0/24".to_owned(), 1),
                ("10.0.1.0/24".to_owned(), 2),
                ("10.0.2.0/23".to_owned(), 1)
            ]
        );
        // Of two equal ranges, the later line.
        let (twice, _) = plan_of("10.0.0.0,10.0.0.255,1,First\n10.0.0.0,10.0.0.255,2,Second\n");
        assert_eq!(twice, [("10.0.0.0/24".to_owned(), 2)]);
    }

    #[test]
    fn numbers_are_stored_in_the_narrowest_unsigned_type() {
        use crate::enrich::write::{Meta, mmdb_bytes};
        let meta = Meta {
            database_type: DATABASE_TYPE,
            description: "unit test",
            build_epoch: 1,
            ipv4_only: false,
        };
        let record = |asn| AsnRecord {
            autonomous_system_number: NarrowUint(asn),
            autonomous_system_organization: "",
        };
        let bytes = mmdb_bytes(
            &meta,
            &[
                ("192.0.2.0/24".parse().unwrap(), record(65_535)),
                ("198.51.100.0/24".parse().unwrap(), record(65_536)),
            ],
        )
        .unwrap();
        let reader = maxminddb::Reader::from_source(bytes).unwrap();
        let number = [maxminddb::PathElement::Key("autonomous_system_number")];
        let at = |ip: &str| reader.lookup(ip.parse().unwrap()).unwrap();
        // The crate's typed readers accept only their own width: they tell the type.
        assert_eq!(
            at("192.0.2.1").decode_path::<u16>(&number).unwrap(),
            Some(65_535)
        );
        assert!(at("192.0.2.1").decode_path::<u32>(&number).is_err());
        assert_eq!(
            at("198.51.100.1").decode_path::<u32>(&number).unwrap(),
            Some(65_536)
        );
        let org = [maxminddb::PathElement::Key(
            "autonomous_system_organization",
        )];
        assert_eq!(
            at("192.0.2.1").decode_path::<String>(&org).unwrap(),
            None,
            "an empty organisation is left out"
        );
    }

    #[test]
    fn bad_rows_are_refused_naming_the_file_and_line() {
        let ok = "1.0.0.0,1.0.0.255,13335,Cloudflare\n";
        let cases = [
            ("1.0.0.0,1.0.0.255,13335\n", "expected 4 fields"),
            (
                "start_ip,end_ip,asn,org\n",
                "start_ip \"start_ip\" is not an IP address",
            ),
            ("1.0.0.0,2001:db8::,1,X\n", "are not of one IP version"),
            (
                "1.0.0.9,1.0.0.1,1,X\n",
                "start_ip 1.0.0.9 is after end_ip 1.0.0.1",
            ),
            (
                "1.0.0.0,1.0.0.255,4294967296,X\n",
                "asn \"4294967296\" is not a number",
            ),
            ("1.0.0.0,1.0.0.255,-5,X\n", "asn \"-5\" is not a number"),
            (
                "::1.2.3.0,::1.2.3.255,1,X\n",
                "where this database keeps IPv4",
            ),
        ];
        for (row, problem) in cases {
            let err = error(&format!("{ok}{ok}{row}"));
            assert!(
                err.starts_with("asn.csv, line 3: ") && err.contains(problem),
                "{row:?}: {err}"
            );
        }
        let utf8 = read_bytes(b"1.0.0.0,1.0.0.255,1,Caf\xe9\n")
            .unwrap_err()
            .to_string();
        assert_eq!(utf8, "asn.csv, line 1: field 4 is not UTF-8");
        assert_eq!(
            read("AS1,x").unwrap_err().to_string().split(':').next(),
            Some("asn.csv, line 1")
        );
        assert_eq!(
            read("1.0.0.0,1.0.0.255,AS64500,X\n").unwrap()[0].asn,
            64_500
        );
        assert!(read("").unwrap().is_empty());
    }

    fn read_bytes(bytes: &[u8]) -> Result<Vec<AsnRange>, BuildAsnError> {
        let mut ranges = Vec::new();
        read_ranges(Path::new("asn.csv"), 0, bytes, &mut ranges)?;
        Ok(ranges)
    }
}
