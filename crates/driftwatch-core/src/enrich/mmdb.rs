//! Opening MaxMind DB files the way their publishers write them, verified.
//!
//! The `maxminddb` crate reads search trees and records well, but it is stricter about the
//! metadata section than the files people download:
//!
//! - `Reader::from_source` deserializes the metadata into fixed Rust types: `node_count`
//!   must be stored as a uint32, `record_size` and `ip_version` as uint16, `build_epoch` as
//!   a uint64, and `description` and `languages` must be present. Writers that pick the
//!   narrowest integer type for a value, or leave out what they have nothing to say in,
//!   write files it refuses to open.
//! - `Reader::verify` also demands a non-empty `description` map and `database_type`
//!   (`reader.rs`, `verify_metadata`). The ip-location-db packages of DB-IP Lite City and
//!   GeoLite2 City have `description: {}` and `languages: []`, and are refused with
//!   "description - Expected: non-empty map Actual: {}".
//!
//! Neither is damage: a description is prose for people, and the width of an integer says
//! nothing about its value. So the metadata part is done here. [`read_metadata`] reads the
//! metadata map with any integer width whose value fits and with `description`,
//! `languages`, `database_type` and `binary_format_minor_version` optional, and checks what
//! reading needs (format version 2, IP version 4 or 6, record size 24, 28 or 32, a search
//! tree that fits before the metadata). [`open`] then replaces the metadata section with
//! the same values in the types the crate expects ([`encode_metadata`]) before handing the
//! bytes to `Reader::from_source`. The search tree and the data section are not touched.
//!
//! Verification of everything else is kept ([`verify`]), done with the crate's public API
//! the way its own `verify_database` does it: the 16-byte separator, every network of the
//! search tree (so a pointer out of the data section or a cycle is caught), and every
//! distinct record decoded in full. That is what makes hot reload safe: a replacement that
//! is corrupt or truncated (half a download, a disk that filled up) is refused when it is
//! opened, and the previous database keeps serving, instead of failing lookups one by one
//! later.

use std::collections::BTreeMap;
use std::fmt;

use maxminddb::{MaxMindDbError, Reader, WithinOptions};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Where the metadata starts: the last occurrence of this marker in the file.
const METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";
/// Zero bytes between the search tree and the data section.
const SEPARATOR_LEN: usize = 16;
/// Nesting deeper than this in metadata is a pointer loop, not a real file.
const MAX_METADATA_DEPTH: u32 = 16;

/// Why a file cannot be opened as a MaxMind DB.
#[derive(Debug, thiserror::Error)]
pub enum MmdbError {
    /// No metadata marker: not a MaxMind DB file, or one whose end was cut off.
    #[error("no MaxMind DB metadata: not a MaxMind DB file, or one cut short")]
    NoMetadata,
    /// A metadata field is missing, of a type that cannot hold its meaning, or out of range.
    #[error("metadata field `{field}`: {problem}")]
    Metadata {
        /// The metadata key (`node_count`), or `metadata` for the section as a whole.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The bytes between the search tree and the data section are not the zero separator:
    /// the tree's size in the metadata does not match the file.
    #[error(
        "the {SEPARATOR_LEN} bytes after the search tree (offset {offset}) are not the zero \
         separator: node_count or record_size does not match the file, or it is damaged"
    )]
    Separator {
        /// Where the separator should be.
        offset: usize,
    },
    /// The reader refused the file, or verification of the tree or a record failed.
    #[error(transparent)]
    Reader(#[from] MaxMindDbError),
    /// A record does not read as the layout the database is used for.
    #[error("the record for {ip}: {error}")]
    Record {
        /// An address the record is for.
        ip: std::net::IpAddr,
        /// The field that could not be read, and why (shown in the message, so not chained
        /// as a source as well).
        error: MaxMindDbError,
    },
}

/// The metadata of a database, read leniently (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Always 2 for the files this reads.
    pub binary_format_major_version: u16,
    /// 0 when missing.
    pub binary_format_minor_version: u16,
    /// When the database was built, seconds since 1970.
    pub build_epoch: u64,
    /// The vendor's name for what the database holds; empty when missing.
    pub database_type: String,
    /// Descriptions by language; empty when missing.
    pub description: BTreeMap<String, String>,
    /// 4 or 6.
    pub ip_version: u16,
    /// Languages of the records' names; empty when missing.
    pub languages: Vec<String>,
    /// Nodes in the search tree.
    pub node_count: u32,
    /// Bits per record in a node: 24, 28 or 32.
    pub record_size: u16,
}

impl Metadata {
    /// Bytes of the search tree.
    fn tree_len(&self) -> u64 {
        u64::from(self.node_count) * u64::from(self.record_size) / 4
    }
}

/// A database opened and verified: the crate's reader over the file's bytes (with its
/// metadata section in canonical form) and the metadata as the file gave it.
pub struct Opened {
    /// Reads the search tree and records.
    pub reader: Reader<Vec<u8>>,
    /// The metadata.
    pub metadata: Metadata,
}

/// Extra capacity to give a buffer a file is read into, so [`open`] can replace the
/// metadata section in place: far more than the canonical form of real metadata adds (a
/// few bytes where a writer used pointers); past it, only a reallocation is lost.
pub const METADATA_SLACK: usize = 4096;

/// Open and verify the database in `bytes` (a whole `.mmdb` file).
pub fn open(bytes: Vec<u8>) -> Result<Opened, MmdbError> {
    open_remembering(bytes, None).map(|(opened, _)| opened)
}

/// How a database's search tree and records were checked when it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Walked in full ([`verify`]), just now.
    Walked,
    /// These very bytes (by SHA-256) were walked in full before, by this verification.
    Remembered,
}

/// Bumped whenever [`verify`] checks more: a database remembered as verified by an older
/// check is walked again.
const VERIFY_VERSION: u32 = 1;

/// What remembers the databases walked in full, by a key made of the check's version and
/// the SHA-256 of the file's bytes. The driver keeps it (a folder of empty files, see
/// `driftwatch::sources::enrich_files::VerifiedDir`); the core only asks and tells.
pub trait Remembered {
    /// Whether bytes with this key were walked before.
    fn contains(&self, key: &str) -> bool;
    /// Remember that bytes with this key were walked. Best effort: one that cannot be
    /// remembered is only walked again at the next start.
    fn insert(&self, key: &str);
}

/// [`open`], skipping the full walk of [`verify`] for bytes `remembered` says were walked
/// before, and remembering them there once walked.
///
/// The walk reads every network and record of the file (1.2 s of a 1.3 s start with DB-IP
/// Lite City, IPv4 and IPv6, and an ASN database); it is what refuses a damaged file (half a
/// download, a full disk, a cycle in the tree) before it serves, so lookups never fail one by
/// one later. Keyed by the SHA-256 of the whole file (about 40 ms for 134 MB with the CPU's
/// SHA instructions), any changed byte is walked again, so the protection is the same; the
/// metadata and separator checks run every time. The folder must be as trusted as the
/// databases: whoever can write it can mark bytes as verified.
pub fn open_remembering(
    mut bytes: Vec<u8>,
    remembered: Option<&dyn Remembered>,
) -> Result<(Opened, Checked), MmdbError> {
    let key = remembered.map(|_| format!("v{VERIFY_VERSION}-{}", crate::hex::sha256_hex(&bytes)));
    let marker = memchr::memmem::rfind(&bytes, METADATA_MARKER).ok_or(MmdbError::NoMetadata)?;
    let metadata_start = marker + METADATA_MARKER.len();
    let metadata = read_metadata(&bytes[metadata_start..])?;

    // What the crate checks when it opens, said here with the field named; and the
    // separator, which its `verify` checks.
    let tree_len = usize::try_from(metadata.tree_len()).unwrap_or(usize::MAX);
    let data_start = tree_len.saturating_add(SEPARATOR_LEN);
    if data_start > marker {
        return Err(MmdbError::Metadata {
            field: "node_count",
            problem: format!(
                "a search tree of {} nodes of {} bits and the separator need {data_start} bytes, \
                 but the metadata starts at byte {marker}: the file is cut short or damaged",
                metadata.node_count, metadata.record_size
            ),
        });
    }
    if bytes[tree_len..data_start].iter().any(|&b| b != 0) {
        return Err(MmdbError::Separator { offset: tree_len });
    }
    let data_len = marker - data_start;

    bytes.truncate(metadata_start);
    bytes.extend_from_slice(&encode_metadata(&metadata));
    let reader = Reader::from_source(bytes)?;
    let checked = match (remembered, &key) {
        (Some(r), Some(key)) if r.contains(key) => Checked::Remembered,
        _ => {
            verify(&reader, data_len)?;
            if let (Some(r), Some(key)) = (remembered, &key) {
                r.insert(key);
            }
            Checked::Walked
        }
    };
    Ok((Opened { reader, metadata }, checked))
}

/// Read the metadata map that follows the marker.
pub fn read_metadata(section: &[u8]) -> Result<Metadata, MmdbError> {
    let whole = |problem: String| MmdbError::Metadata {
        field: "metadata",
        problem,
    };
    let mut decoder = MetaDecoder {
        section,
        // Every value costs one; pointers can make a small section expand, this bounds it.
        budget: section.len().saturating_mul(8).max(1024),
    };
    let (value, _) = decoder.value(0, 0).map_err(whole)?;
    let Value::Map(entries) = value else {
        return Err(whole(format!("expected a map, found {}", value.kind())));
    };
    let get = |name: &str| entries.iter().find(|(k, _)| *k == name).map(|(_, v)| v);

    let major: u16 = required_uint(
        get("binary_format_major_version"),
        "binary_format_major_version",
    )?;
    let minor: u16 = optional_uint(
        get("binary_format_minor_version"),
        "binary_format_minor_version",
    )?
    .unwrap_or(0);
    let build_epoch: u64 = required_uint(get("build_epoch"), "build_epoch")?;
    let ip_version: u16 = required_uint(get("ip_version"), "ip_version")?;
    let node_count: u32 = required_uint(get("node_count"), "node_count")?;
    let record_size: u16 = required_uint(get("record_size"), "record_size")?;
    let database_type = match get("database_type") {
        None => String::new(),
        Some(Value::Str(s)) => (*s).to_owned(),
        Some(other) => return Err(wrong_type("database_type", "a string", other)),
    };
    let description = match get("description") {
        None => BTreeMap::new(),
        Some(Value::Map(m)) => m
            .iter()
            .map(|(lang, text)| match text {
                Value::Str(t) => Ok(((*lang).to_owned(), (*t).to_owned())),
                other => Err(wrong_type("description", "a map of strings", other)),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(wrong_type("description", "a map", other)),
    };
    let languages = match get("languages") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|l| match l {
                Value::Str(s) => Ok((*s).to_owned()),
                other => Err(wrong_type("languages", "an array of strings", other)),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(wrong_type("languages", "an array", other)),
    };

    let out_of = |field, value: String, allowed: &str| MmdbError::Metadata {
        field,
        problem: format!("{value}; expected {allowed}"),
    };
    if major != 2 {
        return Err(out_of(
            "binary_format_major_version",
            major.to_string(),
            "2 (the only MaxMind DB format version there is)",
        ));
    }
    if !matches!(ip_version, 4 | 6) {
        return Err(out_of("ip_version", ip_version.to_string(), "4 or 6"));
    }
    if !matches!(record_size, 24 | 28 | 32) {
        return Err(out_of(
            "record_size",
            record_size.to_string(),
            "24, 28 or 32",
        ));
    }
    if node_count == 0 {
        return Err(out_of("node_count", "0".into(), "at least one node"));
    }
    // The crate turns the epoch into a `SystemTime` and driftwatch into a `DateTime`.
    if i64::try_from(build_epoch)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .is_none()
    {
        return Err(out_of("build_epoch", build_epoch.to_string(), "a time"));
    }
    Ok(Metadata {
        binary_format_major_version: major,
        binary_format_minor_version: minor,
        build_epoch,
        database_type,
        description,
        ip_version,
        languages,
        node_count,
        record_size,
    })
}

fn wrong_type(field: &'static str, expected: &str, found: &Value<'_>) -> MmdbError {
    MmdbError::Metadata {
        field,
        problem: format!("expected {expected}, found {}", found.kind()),
    }
}

fn optional_uint<T: TryFrom<u128>>(
    value: Option<&Value<'_>>,
    field: &'static str,
) -> Result<Option<T>, MmdbError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let wide = match *value {
        Value::Uint(v) => v,
        // A signed int32 holds a count just as well while it is not negative.
        Value::Int(v) if v >= 0 => v.unsigned_abs().into(),
        ref other => return Err(wrong_type(field, "an unsigned integer", other)),
    };
    T::try_from(wide)
        .map(Some)
        .map_err(|_| MmdbError::Metadata {
            field,
            problem: format!("{wide} is out of range"),
        })
}

fn required_uint<T: TryFrom<u128>>(
    value: Option<&Value<'_>>,
    field: &'static str,
) -> Result<T, MmdbError> {
    optional_uint(value, field)?.ok_or(MmdbError::Metadata {
        field,
        problem: "missing".to_owned(),
    })
}

/// A metadata value. Records are read by the crate; only the metadata needs this.
#[derive(Debug)]
enum Value<'a> {
    Str(&'a str),
    Uint(u128),
    Int(i32),
    Double,
    Bytes,
    Bool,
    Map(Vec<(&'a str, Value<'a>)>),
    Array(Vec<Value<'a>>),
}

impl Value<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Uint(_) => "an unsigned integer",
            Value::Int(_) => "a signed integer",
            Value::Double => "a floating-point number",
            Value::Bytes => "bytes",
            Value::Bool => "a boolean",
            Value::Map(_) => "a map",
            Value::Array(_) => "an array",
        }
    }
}

/// Reads values of the MaxMind DB data format from the metadata section (pointers are
/// relative to its start).
struct MetaDecoder<'a> {
    section: &'a [u8],
    budget: usize,
}

impl<'a> MetaDecoder<'a> {
    /// The value at `pos` and the position after it.
    fn value(&mut self, mut pos: usize, depth: u32) -> Result<(Value<'a>, usize), String> {
        if depth > MAX_METADATA_DEPTH {
            return Err("values nested too deeply (a pointer loop?)".to_owned());
        }
        self.budget = self
            .budget
            .checked_sub(1)
            .ok_or("too many values for its size (a pointer loop?)")?;
        let ctrl = self.byte(&mut pos)?;
        if ctrl >> 5 == 1 {
            // A pointer: the value is elsewhere; reading goes on after the pointer.
            let high = usize::from(ctrl & 0b111);
            let target = match (ctrl >> 3) & 0b11 {
                0 => (high << 8) | self.be(&mut pos, 1)?,
                1 => ((high << 16) | self.be(&mut pos, 2)?) + 2048,
                2 => ((high << 24) | self.be(&mut pos, 3)?) + 526_336,
                _ => self.be(&mut pos, 4)?,
            };
            let (value, _) = self.value(target, depth + 1)?;
            return Ok((value, pos));
        }
        let kind = match ctrl >> 5 {
            0 => 7 + u16::from(self.byte(&mut pos)?),
            k => u16::from(k),
        };
        let size = match ctrl & 0x1f {
            29 => 29 + self.be(&mut pos, 1)?,
            30 => 285 + self.be(&mut pos, 2)?,
            31 => 65_821 + self.be(&mut pos, 3)?,
            s => usize::from(s),
        };
        let value = match kind {
            2 => {
                let bytes = self.take(&mut pos, size)?;
                Value::Str(std::str::from_utf8(bytes).map_err(|e| format!("a string: {e}"))?)
            }
            3 | 15 => {
                let want = if kind == 3 { 8 } else { 4 };
                if size != want {
                    return Err(format!("a floating-point number of {size} bytes"));
                }
                self.take(&mut pos, size)?;
                Value::Double
            }
            4 => {
                self.take(&mut pos, size)?;
                Value::Bytes
            }
            // uint16, uint32, uint64, uint128: big-endian, leading zero bytes left out.
            5 | 6 | 9 | 10 => {
                let max = match kind {
                    5 => 2,
                    6 => 4,
                    9 => 8,
                    _ => 16,
                };
                if size > max {
                    return Err(format!("an unsigned integer type {kind} of {size} bytes"));
                }
                let bytes = self.take(&mut pos, size)?;
                Value::Uint(bytes.iter().fold(0u128, |v, &b| (v << 8) | u128::from(b)))
            }
            8 => {
                if size > 4 {
                    return Err(format!("an int32 of {size} bytes"));
                }
                let bytes = self.take(&mut pos, size)?;
                let v = bytes.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b));
                Value::Int(v.cast_signed())
            }
            7 => {
                let mut entries = Vec::new();
                for _ in 0..size {
                    let (key, next) = self.value(pos, depth + 1)?;
                    let Value::Str(key) = key else {
                        return Err(format!("a map key that is {}", key.kind()));
                    };
                    let (value, next) = self.value(next, depth + 1)?;
                    entries.push((key, value));
                    pos = next;
                }
                Value::Map(entries)
            }
            11 => {
                let mut items = Vec::new();
                for _ in 0..size {
                    let (item, next) = self.value(pos, depth + 1)?;
                    items.push(item);
                    pos = next;
                }
                Value::Array(items)
            }
            14 => {
                if size > 1 {
                    return Err(format!("a boolean of value {size}"));
                }
                Value::Bool
            }
            other => {
                return Err(format!(
                    "a value of type {other}, which metadata cannot hold"
                ));
            }
        };
        Ok((value, pos))
    }

    fn byte(&self, pos: &mut usize) -> Result<u8, String> {
        Ok(self.take(pos, 1)?[0])
    }

    /// A big-endian number of `n` (at most 4) bytes.
    fn be(&self, pos: &mut usize, n: usize) -> Result<usize, String> {
        Ok(self
            .take(pos, n)?
            .iter()
            .fold(0usize, |v, &b| (v << 8) | usize::from(b)))
    }

    fn take(&self, pos: &mut usize, n: usize) -> Result<&'a [u8], String> {
        let end = pos
            .checked_add(n)
            .filter(|&end| end <= self.section.len())
            .ok_or_else(|| format!("a value at byte {pos} runs past the end of the file"))?;
        let bytes = &self.section[*pos..end];
        *pos = end;
        Ok(bytes)
    }
}

/// `metadata` in the MaxMind DB data format with the types the specification (and the
/// `maxminddb` crate) give each field.
pub fn encode_metadata(metadata: &Metadata) -> Vec<u8> {
    let mut e = Encoder::default();
    e.map(9);
    e.string("binary_format_major_version");
    e.uint16(metadata.binary_format_major_version);
    e.string("binary_format_minor_version");
    e.uint16(metadata.binary_format_minor_version);
    e.string("build_epoch");
    e.uint64(metadata.build_epoch);
    e.string("database_type");
    e.string(&metadata.database_type);
    e.string("description");
    e.map(metadata.description.len());
    for (lang, text) in &metadata.description {
        e.string(lang);
        e.string(text);
    }
    e.string("ip_version");
    e.uint16(metadata.ip_version);
    e.string("languages");
    e.array(metadata.languages.len());
    for lang in &metadata.languages {
        e.string(lang);
    }
    e.string("node_count");
    e.uint32(metadata.node_count);
    e.string("record_size");
    e.uint16(metadata.record_size);
    e.into_bytes()
}

/// Writes values of the MaxMind DB data format, one control byte (and size) at a time:
/// for the canonical metadata, and for tests that need metadata no writer library would
/// write (missing fields, narrow integers).
#[derive(Debug, Default)]
pub struct Encoder(Vec<u8>);

impl Encoder {
    /// A map of `len` key/value pairs follows.
    pub fn map(&mut self, len: usize) {
        self.control(7, len);
    }

    /// An array of `len` values follows.
    pub fn array(&mut self, len: usize) {
        self.control(11, len);
    }

    /// A UTF-8 string.
    pub fn string(&mut self, s: &str) {
        self.control(2, s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    /// A uint16.
    pub fn uint16(&mut self, v: u16) {
        self.uint(5, v.into());
    }

    /// A uint32.
    pub fn uint32(&mut self, v: u32) {
        self.uint(6, v.into());
    }

    /// A uint64.
    pub fn uint64(&mut self, v: u64) {
        self.uint(9, v.into());
    }

    /// A uint128.
    pub fn uint128(&mut self, v: u128) {
        self.uint(10, v);
    }

    /// What was written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn uint(&mut self, kind: u8, v: u128) {
        // Big-endian without leading zero bytes: zero takes no bytes at all.
        let bytes = v.to_be_bytes();
        let skip = (v.leading_zeros() / 8) as usize;
        self.control(kind, bytes.len() - skip);
        self.0.extend_from_slice(&bytes[skip..]);
    }

    /// The control byte(s) of a value of type `kind` and `size`. Sizes past 16 843 036 do
    /// not exist in the format; metadata never comes near.
    fn control(&mut self, kind: u8, size: usize) {
        let (first, extension_len, base) = match size {
            0..29 => (size as u8, 0, 0),
            29..285 => (29, 1, 29),
            285..65_821 => (30, 2, 285),
            _ => (31, 3, 65_821),
        };
        if kind <= 7 {
            self.0.push((kind << 5) | first);
        } else {
            // Extended types: type 0 in the control byte, the type less 7 in the next.
            self.0.push(first);
            self.0.push(kind - 7);
        }
        let extension = (size - base).to_be_bytes();
        self.0
            .extend_from_slice(&extension[extension.len() - extension_len..]);
    }
}

/// Verify the search tree and every record it points to, with the crate's public API:
/// what `Reader::verify` does after its metadata checks (`verify_database`).
pub fn verify(reader: &Reader<Vec<u8>>, data_len: usize) -> Result<(), MaxMindDbError> {
    let node_count = reader.metadata().node_count as usize;
    // A tree of N nodes has at most N + 1 leaves; as the crate does, allow more before
    // calling it a cycle.
    let limit = node_count.saturating_mul(3);
    let mut decoded = BitSet::new(data_len);
    let options = WithinOptions::default().include_networks_without_data();
    for (n, network) in reader.networks(options)?.enumerate() {
        // Every pointer is resolved into the data section by the iterator, which errs on one
        // that points outside it.
        let network = network?;
        if n >= limit {
            return Err(MaxMindDbError::invalid_database(format!(
                "the search tree has more than {limit} networks for {node_count} nodes: a cycle"
            )));
        }
        if let Some(offset) = network.offset()
            && decoded.insert(offset)
        {
            network.decode::<Walk>()?;
        }
    }
    Ok(())
}

/// Offsets into the data section already decoded: one bit a byte, an eighth of the data
/// section's size, where a hash set of a City database's offsets would take many times that.
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(len: usize) -> BitSet {
        BitSet(vec![0; len.div_ceil(64)])
    }

    /// True when `i` was not in the set.
    fn insert(&mut self, i: usize) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        match self.0.get_mut(word) {
            Some(w) if *w & bit == 0 => {
                *w |= bit;
                true
            }
            Some(_) => false,
            // The iterator only yields offsets inside the data section; an offset past it
            // is decoded (and refused) rather than remembered.
            None => true,
        }
    }
}

/// Any value, read in full and dropped: strings are checked to be UTF-8, map keys to be
/// strings, every pointer followed. What a record holds is the reader's business later.
struct Walk;

impl<'de> Deserialize<'de> for Walk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Walk, D::Error> {
        d.deserialize_any(WalkVisitor)
    }
}

struct WalkVisitor;

impl<'de> Visitor<'de> for WalkVisitor {
    type Value = Walk;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a MaxMind DB value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Walk, E> {
        Ok(Walk)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Walk, E> {
        Ok(Walk)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Walk, E> {
        Ok(Walk)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Walk, E> {
        Ok(Walk)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Walk, E> {
        Ok(Walk)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Walk, E> {
        Ok(Walk)
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Walk, E> {
        Ok(Walk)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Walk, A::Error> {
        while map.next_key::<Key>()?.is_some() {
            map.next_value::<Walk>()?;
        }
        Ok(Walk)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Walk, A::Error> {
        while seq.next_element::<Walk>()?.is_some() {}
        Ok(Walk)
    }
}

/// A map key, which must be a string.
struct Key;

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string map key")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Key, E> {
                Ok(Key)
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::write::{Meta, mmdb_bytes};

    #[derive(serde::Serialize)]
    struct Record {
        name: &'static str,
        count: u16,
    }

    /// A small database as the crate-compatible writer writes it.
    fn written() -> Vec<u8> {
        let meta = Meta {
            database_type: "Test-DB",
            description: "driftwatch unit test",
            build_epoch: 1_700_000_000,
            ipv4_only: false,
        };
        let records = [(
            "192.0.2.0/24".parse().unwrap(),
            Record {
                name: "abc",
                count: 7,
            },
        )];
        mmdb_bytes(&meta, &records).unwrap()
    }

    fn metadata_start(bytes: &[u8]) -> usize {
        memchr::memmem::rfind(bytes, METADATA_MARKER).unwrap() + METADATA_MARKER.len()
    }

    fn metadata_of(bytes: &[u8]) -> Metadata {
        read_metadata(&bytes[metadata_start(bytes)..]).unwrap()
    }

    /// `bytes` with its metadata section replaced by `metadata`.
    fn with_metadata(mut bytes: Vec<u8>, metadata: Vec<u8>) -> Vec<u8> {
        bytes.truncate(metadata_start(&bytes));
        bytes.extend(metadata);
        bytes
    }

    /// A metadata entry: its key, and what writes its value.
    type Field<'a> = (&'a str, &'a dyn Fn(&mut Encoder));

    /// Metadata as a writer that picks its own types might write it: `fields` are the
    /// entries, each written by its closure.
    fn metadata(fields: &[Field<'_>]) -> Vec<u8> {
        let mut e = Encoder::default();
        e.map(fields.len());
        for (key, write) in fields {
            e.string(key);
            write(&mut e);
        }
        e.into_bytes()
    }

    fn lookup_count(opened: &Opened) -> u16 {
        #[derive(serde::Deserialize)]
        struct Count {
            count: u16,
        }
        let found = opened.reader.lookup("192.0.2.1".parse().unwrap()).unwrap();
        found.decode::<Count>().unwrap().unwrap().count
    }

    /// Issue 18: a database walked once is not walked again at the next start; any changed
    /// byte is, and a damaged copy is refused though its original was remembered.
    #[test]
    fn a_verified_database_is_remembered_by_its_bytes_and_a_damaged_one_never() {
        #[derive(Default)]
        struct Memory(std::sync::Mutex<std::collections::HashSet<String>>);
        impl Remembered for Memory {
            fn contains(&self, key: &str) -> bool {
                self.0.lock().unwrap().contains(key)
            }
            fn insert(&self, key: &str) {
                self.0.lock().unwrap().insert(key.to_owned());
            }
        }
        let memory = Memory::default();
        let remembered = || Some(&memory as &dyn Remembered);
        let good = written();
        let (_, first) = open_remembering(good.clone(), remembered()).unwrap();
        assert_eq!(first, Checked::Walked);
        assert_eq!(memory.0.lock().unwrap().len(), 1);
        let (opened, again) = open_remembering(good.clone(), remembered()).unwrap();
        assert_eq!(again, Checked::Remembered);
        assert_eq!(
            lookup_count(&opened),
            lookup_count(&open(good.clone()).unwrap())
        );

        // A string in a record that is not UTF-8: only the walk decodes every record.
        let mut damaged = good.clone();
        let tree_len = metadata_of(&good).tree_len() as usize;
        let at = memchr::memmem::find(&damaged[tree_len..], b"abc").unwrap() + tree_len;
        damaged[at] = 0xff;
        let err = open_remembering(damaged, remembered()).err();
        assert!(
            err.is_some(),
            "a damaged copy opened on its original's record"
        );
        assert_eq!(
            memory.0.lock().unwrap().len(),
            1,
            "nothing remembered for it"
        );
        // Without a folder nothing is remembered and everything is walked.
        assert_eq!(open_remembering(good, None).unwrap().1, Checked::Walked);
    }

    #[test]
    fn canonical_metadata_reads_back_the_same() {
        let bytes = written();
        let meta = metadata_of(&bytes);
        assert_eq!(meta.database_type, "Test-DB");
        assert_eq!(meta.languages, ["en"]);
        assert_eq!(read_metadata(&encode_metadata(&meta)).unwrap(), meta);
        let opened = open(bytes).unwrap();
        assert_eq!(opened.metadata, meta);
        assert_eq!(opened.reader.metadata().node_count, meta.node_count);
        assert_eq!(lookup_count(&opened), 7);
    }

    /// The ip-location-db packages (DB-IP Lite City, GeoLite2 City) write
    /// `description: {}` and `languages: []`; the crate's `verify` refuses that.
    #[test]
    fn empty_description_and_languages_open() {
        let bytes = written();
        let m = metadata_of(&bytes);
        let empty = metadata(&[
            ("binary_format_major_version", &|e| e.uint16(2)),
            ("binary_format_minor_version", &|e| e.uint16(0)),
            ("build_epoch", &|e| e.uint64(1_780_666_922)),
            ("database_type", &|e| e.string("city ipv4")),
            ("description", &|e| e.map(0)),
            ("ip_version", &|e| e.uint16(6)),
            ("languages", &|e| e.array(0)),
            ("node_count", &|e| e.uint32(m.node_count)),
            ("record_size", &|e| e.uint16(m.record_size)),
        ]);
        let bytes = with_metadata(bytes, empty);

        let strict = Reader::from_source(bytes.clone()).unwrap().verify();
        let err = strict.expect_err("the crate's verify refuses an empty description");
        assert!(err.to_string().contains("description"), "{err}");

        let opened = open(bytes).unwrap();
        assert!(opened.metadata.description.is_empty());
        assert!(opened.metadata.languages.is_empty());
        assert_eq!(opened.metadata.database_type, "city ipv4");
        assert_eq!(lookup_count(&opened), 7);
    }

    /// Integers in the narrowest type that holds them (or int32), and the optional fields
    /// left out: the crate's `from_source` refuses each of these.
    #[test]
    fn narrow_integers_and_missing_optional_fields_open() {
        let bytes = written();
        let m = metadata_of(&bytes);
        let node_count = m.node_count;
        let record_size = m.record_size;
        let quirky = metadata(&[
            ("binary_format_major_version", &|e| e.uint32(2)),
            ("build_epoch", &|e| e.uint32(1_700_000_000)),
            ("ip_version", &|e| e.uint128(6)),
            ("node_count", &|e| e.uint64(node_count.into())),
            ("record_size", &|e| {
                // An int32 written by hand: type 8 is extended (0, then 8 - 7).
                e.0.extend_from_slice(&[0x01, 0x01, record_size as u8]);
            }),
            ("x-vendor-note", &|e| e.string("unknown keys are skipped")),
        ]);
        let bytes = with_metadata(bytes, quirky);
        assert!(
            Reader::from_source(bytes.clone()).is_err(),
            "the crate's own metadata types are strict"
        );
        let opened = open(bytes).unwrap();
        let meta = &opened.metadata;
        assert_eq!(
            (meta.build_epoch, meta.ip_version, meta.node_count),
            (1_700_000_000, 6, node_count)
        );
        assert_eq!(meta.record_size, record_size);
        assert_eq!(
            (
                meta.database_type.as_str(),
                meta.binary_format_minor_version
            ),
            ("", 0)
        );
        assert!(meta.description.is_empty() && meta.languages.is_empty());
        assert_eq!(lookup_count(&opened), 7);
    }

    #[test]
    fn metadata_that_cannot_be_read_is_refused_naming_the_field() {
        let bytes = written();
        let m = metadata_of(&bytes);
        let refused = |fields: &[Field<'_>]| -> String {
            match open(with_metadata(written(), metadata(fields))) {
                Ok(_) => panic!("opened"),
                Err(e) => e.to_string(),
            }
        };
        let nodes = m.node_count;
        let size = m.record_size;
        let no_node_count = refused(&[
            ("binary_format_major_version", &|e| e.uint16(2)),
            ("build_epoch", &|e| e.uint64(1)),
            ("ip_version", &|e| e.uint16(6)),
            ("record_size", &|e| e.uint16(size)),
        ]);
        assert_eq!(no_node_count, "metadata field `node_count`: missing");
        let too_wide = refused(&[
            ("binary_format_major_version", &|e| e.uint16(2)),
            ("build_epoch", &|e| e.uint64(1)),
            ("ip_version", &|e| e.uint64(1 << 20)),
            ("node_count", &|e| e.uint32(nodes)),
            ("record_size", &|e| e.uint16(size)),
        ]);
        assert_eq!(
            too_wide,
            "metadata field `ip_version`: 1048576 is out of range"
        );
        let text = refused(&[
            ("binary_format_major_version", &|e| e.uint16(2)),
            ("build_epoch", &|e| e.string("yesterday")),
            ("ip_version", &|e| e.uint16(6)),
            ("node_count", &|e| e.uint32(nodes)),
            ("record_size", &|e| e.uint16(size)),
        ]);
        assert_eq!(
            text,
            "metadata field `build_epoch`: expected an unsigned integer, found a string"
        );
        let too_many_nodes = refused(&[
            ("binary_format_major_version", &|e| e.uint16(2)),
            ("build_epoch", &|e| e.uint64(1)),
            ("ip_version", &|e| e.uint16(6)),
            ("node_count", &|e| e.uint32(nodes * 1000)),
            ("record_size", &|e| e.uint16(size)),
        ]);
        assert!(
            too_many_nodes.starts_with("metadata field `node_count`: a search tree of"),
            "{too_many_nodes}"
        );
        let version = refused(&[
            ("binary_format_major_version", &|e| e.uint16(3)),
            ("build_epoch", &|e| e.uint64(1)),
            ("ip_version", &|e| e.uint16(6)),
            ("node_count", &|e| e.uint32(nodes)),
            ("record_size", &|e| e.uint16(size)),
        ]);
        assert!(
            version.starts_with("metadata field `binary_format_major_version`: 3;"),
            "{version}"
        );
    }

    /// What verification is for: a replacement file that is cut short or damaged is
    /// refused when it is opened, so the previous database keeps serving.
    #[test]
    fn truncated_or_damaged_files_are_refused() {
        let bytes = written();
        assert!(matches!(
            open(bytes[..bytes.len() / 2].to_vec()),
            Err(MmdbError::NoMetadata)
        ));
        assert!(matches!(open(Vec::new()), Err(MmdbError::NoMetadata)));

        // The separator after the search tree.
        let m = metadata_of(&bytes);
        let tree_len = m.tree_len() as usize;
        let mut separator = bytes.clone();
        separator[tree_len + 3] = 1;
        let err = open(separator).err().unwrap();
        assert!(matches!(err, MmdbError::Separator { .. }), "{err}");

        // A string in a record that is not UTF-8 (the record is only ever decoded here).
        let mut record = bytes.clone();
        let at = memchr::memmem::find(&record[tree_len..], b"abc").unwrap() + tree_len;
        record[at] = 0xff;
        let err = open(record).err().unwrap();
        assert!(matches!(err, MmdbError::Reader(_)), "{err}");
        assert!(err.to_string().contains("invalid UTF-8"), "{err}");

        // A search tree pointer past the data section. Node 0's left record is the first
        // 3 bytes of a 24-bit tree (the writer picks 24 bits for a database this small).
        assert_eq!(m.record_size, 24);
        let mut tree = bytes.clone();
        tree[..3].copy_from_slice(&[0xff, 0xff, 0xff]);
        let err = open(tree).err().unwrap();
        assert!(err.to_string().contains("data pointer"), "{err}");
    }

    #[test]
    fn a_pointer_loop_in_metadata_is_refused() {
        // A map whose only value points back at the map itself.
        let mut e = Encoder::default();
        e.map(1);
        e.string("node_count");
        e.0.extend_from_slice(&[0b0010_0000, 0]);
        let err = read_metadata(&e.into_bytes()).unwrap_err().to_string();
        assert!(err.contains("pointer loop"), "{err}");
    }

    #[test]
    fn encoder_sizes_match_the_format() {
        for len in [0, 28, 29, 284, 285, 65_820, 65_821, 70_000] {
            let text = "x".repeat(len);
            let mut e = Encoder::default();
            e.map(1);
            e.string("database_type");
            e.string(&text);
            let bytes = e.into_bytes();
            let mut decoder = MetaDecoder {
                section: &bytes,
                budget: 100,
            };
            let (value, end) = decoder.value(0, 0).unwrap();
            assert_eq!(end, bytes.len(), "{len}");
            let Value::Map(entries) = value else {
                panic!("{value:?}")
            };
            assert!(
                matches!(entries[0].1, Value::Str(s) if s.len() == len),
                "{len}"
            );
        }
    }
}
