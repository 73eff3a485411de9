//! Why a GeoIP database or intel list could not be loaded.

use std::path::PathBuf;

/// A database or list that cannot serve. Lookups never fail: a missing answer is `None`
/// in [`super::Geo`]; only opening and reloading files report errors.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// The configuration has problems; all of them are listed.
    #[error("enrich configuration: {}", .0.join("; "))]
    Config(Vec<String>),

    /// A MaxMind DB file cannot be read, is not a MaxMind DB, fails verification, or its
    /// records do not read as the slot needs. (`error` is shown in the message and not
    /// chained as a source, so it is not printed twice.)
    #[error("GeoIP database {path}: {error}")]
    Database {
        path: PathBuf,
        error: super::mmdb::MmdbError,
    },

    /// A readable MaxMind DB that holds something else than the slot it was configured for
    /// (e.g. a Country database given as `asn`).
    #[error("GeoIP database {path} ({database_type}): {reason}")]
    WrongDatabase {
        path: PathBuf,
        database_type: String,
        reason: String,
    },

    /// An intel list cannot be read.
    #[error("intel list {path}: {source}")]
    ListIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An intel list has a line that is neither an ASN nor an address or network.
    #[error("intel list {path}, line {line}: {message}")]
    ListLine {
        path: PathBuf,
        line: u64,
        message: String,
    },

    /// An intel list in CSV form cannot be parsed or lacks a configured column.
    #[error("intel list {path}: {message}")]
    ListCsv { path: PathBuf, message: String },

    /// An intel list names ASNs but no ASN database is configured, so they could never
    /// match; refusing is kinder than a list that silently does nothing.
    #[error(
        "intel list {path} has {asns} ASN entries but no `asn` database is configured to map addresses to ASNs"
    )]
    AsnListWithoutAsnDatabase { path: PathBuf, asns: usize },
}
