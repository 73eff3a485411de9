//! Writing MaxMind DB files: the simulator's world (`driftwatch simulate`), the demo
//! databases (`examples/build_demo_geoip.rs`), the enrich tests' own databases, and ASN
//! databases converted from CSV (`driftwatch geoip build-asn`, [`super::asn_csv`]). The
//! pipeline never writes databases; this is a tool for producing inputs.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use maxminddb_writer::Database;
use maxminddb_writer::metadata::IpVersion;
use maxminddb_writer::paths::IpAddrWithMask;
use serde::Serialize;

/// Why a database could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteMmdbError {
    /// The file cannot be created or written.
    #[error("writing {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A record cannot be encoded.
    #[error("encoding a record: {message}")]
    Record { message: String },
    /// A network names a record that was not given.
    #[error("{network} points at record {index}, which does not exist")]
    NoSuchRecord { network: IpNet, index: usize },
    /// The tree cannot be written.
    #[error("encoding {path}: {message}")]
    Encode {
        path: std::path::PathBuf,
        message: String,
    },
    /// An IPv6 network was given for an IPv4-only database.
    #[error("{network} cannot go into an IPv4-only database")]
    Ipv6InIpv4Database { network: IpNet },
}

/// What a database says about itself.
pub struct Meta<'a> {
    /// Metadata `database_type`.
    pub database_type: &'a str,
    /// English description.
    pub description: &'a str,
    /// Metadata `build_epoch`, seconds since 1970.
    pub build_epoch: u64,
    /// Write an IPv4-only database (`ip_version` 4), as some converters do.
    pub ipv4_only: bool,
}

/// Write a database with one record per network. An IPv6 database (the usual kind) holds
/// IPv4 networks under `::/96`, where readers look them up.
pub fn write_mmdb<T: Serialize>(
    path: &Path,
    meta: &Meta<'_>,
    records: &[(IpNet, T)],
) -> Result<(), WriteMmdbError> {
    let db = build(
        meta,
        records.iter().map(|(_, record)| record),
        records.iter().enumerate().map(|(i, (net, _))| (*net, i)),
    )?;
    write_file(&db, path).map(drop)
}

/// Write a database whose networks share records: each of `records` is stored once, and
/// `networks` pairs a network with the index of its record. Networks must not overlap
/// (where they do, the writer's tree keeps whichever came last), so a caller with input
/// that may overlap refuses it first. Returns the file's size in bytes.
pub fn write_shared<T: Serialize>(
    path: &Path,
    meta: &Meta<'_>,
    records: &[T],
    networks: impl IntoIterator<Item = (IpNet, usize)>,
) -> Result<u64, WriteMmdbError> {
    let db = build(meta, records, networks)?;
    write_file(&db, path)
}

/// A database with one record per network as a `.mmdb` file's bytes, for tests that read
/// it back without a file.
pub fn mmdb_bytes<T: Serialize>(
    meta: &Meta<'_>,
    records: &[(IpNet, T)],
) -> Result<Vec<u8>, WriteMmdbError> {
    let db = build(
        meta,
        records.iter().map(|(_, record)| record),
        records.iter().enumerate().map(|(i, (net, _))| (*net, i)),
    )?;
    db.write_to(Vec::new()).map_err(|e| WriteMmdbError::Record {
        message: e.to_string(),
    })
}

/// The database: `records` in the data section in order (integers keep the width of their
/// Rust type: a `u16` is written as uint16), then the networks pointing at them.
fn build<'r, T: Serialize + 'r>(
    meta: &Meta<'_>,
    records: impl IntoIterator<Item = &'r T>,
    networks: impl IntoIterator<Item = (IpNet, usize)>,
) -> Result<Database, WriteMmdbError> {
    let mut db = Database::default();
    db.metadata.ip_version = if meta.ipv4_only {
        IpVersion::V4
    } else {
        IpVersion::V6
    };
    db.metadata.database_type = meta.database_type.to_owned();
    db.metadata.languages = vec!["en".to_owned()];
    db.metadata.binary_format_major_version = 2;
    db.metadata.binary_format_minor_version = 0;
    db.metadata.build_epoch = meta.build_epoch;
    db.metadata
        .description
        .insert("en".to_owned(), meta.description.to_owned());
    // The writer's handle type is not nameable outside its crate; a local vector infers it.
    let mut stored = Vec::new();
    for record in records {
        stored.push(
            db.insert_value(record)
                .map_err(|e| WriteMmdbError::Record {
                    message: e.to_string(),
                })?,
        );
    }
    for (net, index) in networks {
        let data = *stored.get(index).ok_or(WriteMmdbError::NoSuchRecord {
            network: net,
            index,
        })?;
        let path = match net {
            IpNet::V4(v4) if meta.ipv4_only => {
                IpAddrWithMask::new(IpAddr::V4(v4.network()), v4.prefix_len())
            }
            IpNet::V6(_) if meta.ipv4_only => {
                return Err(WriteMmdbError::Ipv6InIpv4Database { network: net });
            }
            _ => tree_path(net),
        };
        db.insert_node(path, data);
    }
    Ok(db)
}

/// Write `db` to `path` through a temporary file beside it, renamed over it as
/// `geoipupdate` does, so a running driftwatch watching `path` never reads half a file.
/// Returns the file's size in bytes.
fn write_file(db: &Database, path: &Path) -> Result<u64, WriteMmdbError> {
    let io = |source| WriteMmdbError::Io {
        path: path.to_owned(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.partial"));
    let written = (|| {
        let file = std::fs::File::create(&tmp).map_err(io)?;
        let out =
            db.write_to(std::io::BufWriter::new(file))
                .map_err(|e| WriteMmdbError::Encode {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?;
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        let len = file.metadata().map_err(io)?.len();
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(len)
    })();
    if written.is_err() {
        // Only clutter if it stays; the error is what the caller needs.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Where a network sits in an IPv6 tree: IPv4 as the IPv4-compatible `::a.b.c.d/96+len`.
fn tree_path(net: IpNet) -> IpAddrWithMask {
    match net {
        IpNet::V4(v4) => IpAddrWithMask::new(
            IpAddr::V6(v4.network().to_ipv6_compatible()),
            96 + v4.prefix_len(),
        ),
        IpNet::V6(v6) => IpAddrWithMask::new(IpAddr::V6(v6.network()), v6.prefix_len()),
    }
}
