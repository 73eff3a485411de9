//! Writing small MaxMind DB files with the `maxminddb-writer` dev-dependency. Shared (by
//! `#[path]`) between `examples/build_demo_geoip.rs` and the enrich tests, which write
//! their own databases; it is not part of the library, which only reads databases.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use maxminddb_writer::Database;
use maxminddb_writer::metadata::IpVersion;
use maxminddb_writer::paths::IpAddrWithMask;
use serde::Serialize;

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
) -> Result<(), Box<dyn std::error::Error>> {
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
        let data = db.insert_value(record)?;
        let path = match net {
            IpNet::V4(v4) if meta.ipv4_only => {
                IpAddrWithMask::new(IpAddr::V4(v4.network()), v4.prefix_len())
            }
            IpNet::V6(_) if meta.ipv4_only => {
                return Err(format!("{net} cannot go into an IPv4-only database").into());
            }
            _ => tree_path(*net),
        };
        db.insert_node(path, data);
    }
    let file = std::fs::File::create(path)?;
    let mut out = db.write_to(std::io::BufWriter::new(file))?;
    out.flush()?;
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
