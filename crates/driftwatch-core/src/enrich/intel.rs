//! Intel lists: files of ASNs and networks, each file tagged (`vpn`, `hosting`, …) and
//! optionally naming the provider of each entry.
//!
//! Network membership is a binary search over prefixes sorted by start address, with a
//! link from each prefix to the one enclosing it: CIDR prefixes either nest or are
//! disjoint, so when the nearest prefix starting at or below an address does not contain
//! it, only its enclosing prefixes can. A lookup is O(log n + nesting depth), whatever the
//! list's size (X4BNet's datacenter list has ~50 000 prefixes).

use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::config::{IntelListConfig, ListFormat};
use super::error::EnrichError;

/// What one list entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    Asn(u32),
    Net(IpNet),
}

impl std::fmt::Display for Entry {
    /// `AS9009` or `2.26.164.0/22`, as lists write them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::Asn(asn) => write!(f, "AS{asn}"),
            Entry::Net(net) => write!(f, "{net}"),
        }
    }
}

/// `AS9009`, `as9009`, `9009`, `1.2.3.0/24`, `2001:db8::/32`, or a bare address (a host
/// route). Host bits set in a network (`1.2.3.4/24`) are cleared rather than refused: lists
/// written by hand do that, and the meaning is clear.
fn parse_entry(raw: &str) -> Result<Entry, String> {
    let s = raw.trim();
    let digits = match s.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("as") => s.get(2..).unwrap_or(""),
        _ => s,
    };
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits
            .parse::<u32>()
            .map(Entry::Asn)
            .map_err(|_| format!("ASN {s:?} is out of range"));
    }
    if s.contains('/') {
        return s
            .parse::<IpNet>()
            .map(|n| Entry::Net(n.trunc()))
            .map_err(|_| format!("{s:?} is not an ASN or a network"));
    }
    s.parse::<IpAddr>()
        .map(|ip| Entry::Net(IpNet::from(ip)))
        .map_err(|_| format!("{s:?} is not an ASN, an address or a network"))
}

/// One prefix of a [`PrefixSet`].
#[derive(Debug, Clone)]
struct Span<T> {
    start: T,
    end: T,
    /// Index of the nearest enclosing span, if any.
    parent: Option<u32>,
    net: IpNet,
    provider: Option<Arc<str>>,
}

/// Prefixes of one address family as `u32` or `u128` ranges; see the module doc.
#[derive(Debug, Clone)]
struct PrefixSet<T> {
    spans: Vec<Span<T>>,
}

impl<T: Copy + Ord> PrefixSet<T> {
    fn new(mut spans: Vec<Span<T>>) -> Self {
        // Enclosing prefixes sort before the prefixes they contain.
        spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut open: Vec<usize> = Vec::new();
        for i in 0..spans.len() {
            let start = spans[i].start;
            while open.last().is_some_and(|&top| spans[top].end < start) {
                open.pop();
            }
            spans[i].parent = open.last().and_then(|&top| u32::try_from(top).ok());
            open.push(i);
        }
        PrefixSet { spans }
    }

    /// The most specific prefix containing `x`.
    fn find(&self, x: T) -> Option<&Span<T>> {
        let mut i = self
            .spans
            .partition_point(|s| s.start <= x)
            .checked_sub(1)?;
        loop {
            let span = self.spans.get(i)?;
            if x <= span.end {
                return Some(span);
            }
            i = usize::try_from(span.parent?).ok()?;
        }
    }

    fn len(&self) -> usize {
        self.spans.len()
    }
}

fn span_of(net: IpNet, provider: Option<Arc<str>>) -> Result<Span<u32>, Span<u128>> {
    match net {
        IpNet::V4(n) => Ok(Span {
            start: u32::from(n.network()),
            end: u32::from(n.broadcast()),
            parent: None,
            net,
            provider,
        }),
        IpNet::V6(n) => Err(Span {
            start: u128::from(n.network()),
            end: u128::from(n.broadcast()),
            parent: None,
            net,
            provider,
        }),
    }
}

/// What a list says about an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListHit<'a> {
    /// The provider the matching entry names.
    pub provider: Option<&'a str>,
    /// The matching entry.
    pub entry: Entry,
}

/// Counts and settings of one loaded list, for `driftwatch geoip` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListInfo {
    /// The list file.
    pub path: PathBuf,
    /// The tag its matches get.
    pub tag: String,
    /// The provider configured for the whole file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// How many ASNs it holds.
    pub asns: usize,
    /// How many IPv4 networks it holds.
    pub ipv4_networks: usize,
    /// How many IPv6 networks it holds.
    pub ipv6_networks: usize,
}

/// One loaded list: what [`super::Enricher`] serves, read by [`IntelList::read`].
#[derive(Debug)]
pub struct IntelList {
    tag: Arc<str>,
    path: PathBuf,
    provider: Option<Arc<str>>,
    asns: HashMap<u32, Option<Arc<str>>>,
    v4: PrefixSet<u32>,
    v6: PrefixSet<u128>,
}

/// Gathers entries while a file is read; providers are interned because a curated list
/// repeats a handful of names over many rows.
struct Builder {
    providers: HashMap<String, Arc<str>>,
    asns: HashMap<u32, Option<Arc<str>>>,
    v4: Vec<Span<u32>>,
    v6: Vec<Span<u128>>,
}

impl Builder {
    fn add(&mut self, entry: Entry, provider: Option<&str>) {
        let provider = provider.map(|p| {
            self.providers
                .entry(p.to_owned())
                .or_insert_with(|| Arc::from(p))
                .clone()
        });
        match entry {
            Entry::Asn(asn) => {
                // The first row naming an ASN wins, as the first list line would.
                self.asns.entry(asn).or_insert(provider);
            }
            Entry::Net(net) => match span_of(net, provider) {
                Ok(v4) => self.v4.push(v4),
                Err(v6) => self.v6.push(v6),
            },
        }
    }
}

impl IntelList {
    /// Read the list a configuration entry names from `input`, the file's content
    /// (`config.path` names it in errors and in every match). Without an ASN database
    /// (`has_asn_database` false) a list with ASN entries is refused: they could never
    /// match, and refusing is kinder than a list that silently does nothing.
    pub fn read(
        config: &IntelListConfig,
        input: impl Read,
        has_asn_database: bool,
    ) -> Result<IntelList, EnrichError> {
        let path = config.path.as_path();
        let mut b = Builder {
            providers: HashMap::new(),
            asns: HashMap::new(),
            v4: Vec::new(),
            v6: Vec::new(),
        };
        let fixed = config.provider.as_deref();
        match config.format.resolve(path) {
            ListFormat::Csv => read_csv(path, input, config, &mut b)?,
            ListFormat::Lines | ListFormat::Auto => read_lines(path, input, fixed, &mut b)?,
        }
        if !has_asn_database && !b.asns.is_empty() {
            return Err(EnrichError::AsnListWithoutAsnDatabase {
                path: path.to_owned(),
                asns: b.asns.len(),
            });
        }
        Ok(IntelList {
            tag: Arc::from(config.tag.as_str()),
            path: path.to_owned(),
            provider: fixed.map(Arc::from),
            asns: b.asns,
            v4: PrefixSet::new(b.v4),
            v6: PrefixSet::new(b.v6),
        })
    }

    /// The tag this list gives its matches.
    pub fn tag(&self) -> &Arc<str> {
        &self.tag
    }

    /// The list file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry matching `ip` (by network) or `asn`, the network first: it is the more
    /// specific evidence.
    pub(crate) fn find(&self, ip: IpAddr, asn: Option<u32>) -> Option<ListHit<'_>> {
        let by_net = match ip {
            IpAddr::V4(v4) => self.v4.find(u32::from(v4)).map(|s| (s.net, &s.provider)),
            IpAddr::V6(v6) => self.v6.find(u128::from(v6)).map(|s| (s.net, &s.provider)),
        };
        if let Some((net, provider)) = by_net {
            return Some(ListHit {
                provider: provider.as_deref(),
                entry: Entry::Net(net),
            });
        }
        let asn = asn?;
        let provider = self.asns.get(&asn)?;
        Some(ListHit {
            provider: provider.as_deref(),
            entry: Entry::Asn(asn),
        })
    }

    /// Counts for display.
    pub fn info(&self) -> ListInfo {
        ListInfo {
            path: self.path.clone(),
            tag: self.tag.to_string(),
            provider: self.provider.as_deref().map(str::to_owned),
            asns: self.asns.len(),
            ipv4_networks: self.v4.len(),
            ipv6_networks: self.v6.len(),
        }
    }
}

fn read_lines(
    path: &Path,
    mut input: impl Read,
    provider: Option<&str>,
    b: &mut Builder,
) -> Result<(), EnrichError> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|source| EnrichError::ListIo {
            path: path.to_owned(),
            source,
        })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    for (n, line) in (1u64..).zip(text.lines()) {
        let content = line.split('#').next().unwrap_or("");
        let mut words = content.split_whitespace();
        let Some(word) = words.next() else { continue };
        let bad = |message: String| EnrichError::ListLine {
            path: path.to_owned(),
            line: n,
            message,
        };
        if let Some(extra) = words.next() {
            return Err(bad(format!(
                "unexpected {extra:?} after {word:?}; put remarks after '#'"
            )));
        }
        b.add(parse_entry(word).map_err(bad)?, provider);
    }
    Ok(())
}

fn read_csv(
    path: &Path,
    input: impl Read,
    config: &IntelListConfig,
    b: &mut Builder,
) -> Result<(), EnrichError> {
    let csv_err = |message: String| EnrichError::ListCsv {
        path: path.to_owned(),
        message,
    };
    // Flexible and trimmed: real lists (bad-asn-list) have rows like `51447, "Name, NL"`,
    // where the space before the quote splits the name into two fields; only the entry
    // and provider columns matter here.
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| csv_err(e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                csv_err(format!(
                    "no column {name:?} (columns: {})",
                    headers.iter().collect::<Vec<_>>().join(", ")
                ))
            })
    };
    let entry_at = match &config.entry_column {
        Some(name) => column(name)?,
        None => 0,
    };
    let provider_at = config.provider_column.as_deref().map(column).transpose()?;
    for row in reader.records() {
        let row = row.map_err(|e| csv_err(e.to_string()))?;
        let line = row.position().map_or(0, |p| p.line());
        let bad = |message: String| EnrichError::ListLine {
            path: path.to_owned(),
            line,
            message,
        };
        let raw = row
            .get(entry_at)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("no entry in the entry column".to_owned()))?;
        let entry = parse_entry(raw).map_err(bad)?;
        let provider = provider_at
            .and_then(|i| row.get(i))
            .filter(|p| !p.is_empty())
            .or(config.provider.as_deref());
        b.add(entry, provider);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn entries() {
        assert_eq!(parse_entry("AS9009"), Ok(Entry::Asn(9009)));
        assert_eq!(parse_entry(" as209854 "), Ok(Entry::Asn(209854)));
        assert_eq!(parse_entry("51447"), Ok(Entry::Asn(51447)));
        assert_eq!(
            parse_entry("2.26.164.0/22"),
            Ok(Entry::Net("2.26.164.0/22".parse().unwrap()))
        );
        assert_eq!(
            parse_entry("10.1.2.3/8"),
            Ok(Entry::Net("10.0.0.0/8".parse().unwrap()))
        );
        assert_eq!(
            parse_entry("2001:ac8::/32"),
            Ok(Entry::Net("2001:ac8::/32".parse().unwrap()))
        );
        assert_eq!(
            parse_entry("192.0.2.7"),
            Ok(Entry::Net("192.0.2.7/32".parse().unwrap()))
        );
        for bad in ["AS", "AS12x", "AS99999999999", "1.2.3.0/33", "vpn", ""] {
            assert!(parse_entry(bad).is_err(), "{bad:?} must be refused");
        }
    }

    fn set(nets: &[&str]) -> PrefixSet<u32> {
        PrefixSet::new(
            nets.iter()
                .map(|n| span_of(n.parse().unwrap(), Some(Arc::from(*n))).unwrap())
                .collect(),
        )
    }

    fn found(s: &PrefixSet<u32>, ip: &str) -> Option<String> {
        let ip: std::net::Ipv4Addr = ip.parse().unwrap();
        s.find(u32::from(ip)).map(|sp| sp.net.to_string())
    }

    #[test]
    fn nested_prefixes_give_the_most_specific_and_fall_back_to_the_enclosing() {
        let s = set(&[
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.0/24",
            "10.2.0.0/16",
            "192.0.2.0/24",
        ]);
        assert_eq!(found(&s, "10.1.2.3").as_deref(), Some("10.1.2.0/24"));
        assert_eq!(found(&s, "10.1.3.3").as_deref(), Some("10.1.0.0/16"));
        // After a nested run ends, the enclosing /8 still answers.
        assert_eq!(found(&s, "10.3.0.1").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(found(&s, "10.255.255.255").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(found(&s, "11.0.0.0"), None);
        assert_eq!(found(&s, "9.255.255.255"), None);
        assert_eq!(found(&s, "192.0.2.255").as_deref(), Some("192.0.2.0/24"));
        assert_eq!(found(&s, "0.0.0.0"), None);
    }

    proptest! {
        /// The prefix set answers exactly as a linear scan for the most specific prefix.
        #[test]
        fn prefix_set_matches_linear_scan(
            nets in proptest::collection::vec((any::<u32>(), 8u8..=32), 0..60),
            probes in proptest::collection::vec(any::<u32>(), 1..60),
        ) {
            // Cluster addresses into 16.0.0.0/4 so prefixes overlap often.
            let nets: Vec<IpNet> = nets
                .iter()
                .map(|&(a, len)| {
                    let a = (a & 0x0fff_ffff) | 0x1000_0000;
                    IpNet::new(IpAddr::V4(a.into()), len).unwrap().trunc()
                })
                .collect();
            let s = PrefixSet::new(nets.iter().map(|n| span_of(*n, None).unwrap()).collect());
            for p in probes {
                let p = (p & 0x0fff_ffff) | 0x1000_0000;
                let ip = IpAddr::V4(p.into());
                let want = nets.iter().filter(|n| n.contains(&ip)).map(|n| n.prefix_len()).max();
                let got = s.find(p).map(|sp| sp.net.prefix_len());
                prop_assert_eq!(got, want);
            }
        }
    }
}
