//! Writing small MaxMind DB files: the simulator's world (`driftwatch simulate`), the demo
//! databases (`examples/build_demo_geoip.rs`) and the enrich tests' own databases. The
//! pipeline never writes databases; this is a tool for producing inputs.

use std::io::Write;
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
    /// A record cannot be encoded, or the tree cannot be written.
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
    let encode = |e: maxminddb_writer::Error| WriteMmdbError::Encode {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let io = |source| WriteMmdbError::Io {
        path: path.to_owned(),
        source,
    };
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
    for (net, record) in records {
        let data = db.insert_value(record).map_err(encode)?;
        let path = match net {
            IpNet::V4(v4) if meta.ipv4_only => {
                IpAddrWithMask::new(IpAddr::V4(v4.network()), v4.prefix_len())
            }
            IpNet::V6(_) if meta.ipv4_only => {
                return Err(WriteMmdbError::Ipv6InIpv4Database { network: *net });
            }
            _ => tree_path(*net),
        };
        db.insert_node(path, data);
    }
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out = db.write_to(std::io::BufWriter::new(file)).map_err(encode)?;
    out.flush().map_err(io)?;
    Ok(())
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
