//! The GeoIP databases and intel lists on disk: checking the files the `[enrich]` section
//! names, reading them, and watching them for replacement. Lookups, the databases' and
//! lists' formats and the cache are the core's [`crate::enrich`]; this module only finds the
//! bytes, says which file they came from, and hands new versions to the [`Enricher`].

use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::enrich::mmdb::{self, MmdbError};
use crate::enrich::{
    CityLayoutSetting, DatabaseKind, EnrichConfig, EnrichError, Enricher, GeoDb, IntelList,
    IntelListConfig,
};
use crate::reload::{Reload, Watched};

/// An [`Enricher`] over files, each watched: [`EnrichFiles::reload_if_changed`] loads the
/// ones that were replaced and swaps them in. Dereferences to the [`Enricher`] for lookups.
pub struct EnrichFiles {
    enricher: Enricher,
    /// Parallel to the enricher's databases (the order of
    /// [`EnrichConfig::database_slots`]) and lists: slot `i` here is slot `i` there.
    databases: Vec<Watched<GeoDb, EnrichError>>,
    lists: Vec<Watched<IntelList, EnrichError>>,
}

impl std::fmt::Debug for EnrichFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.enricher.fmt(f)
    }
}

impl Deref for EnrichFiles {
    type Target = Enricher;

    fn deref(&self) -> &Enricher {
        &self.enricher
    }
}

/// Every problem with `config`, in one pass, the files included: each must exist and be a
/// file (their content is checked by [`open`]).
pub fn validate(config: &EnrichConfig) -> Vec<String> {
    config.validate_with(file_problem)
}

fn file_problem(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => None,
        Ok(_) => Some(format!("{} is not a file", path.display())),
        Err(e) => Some(format!("{}: {e}", path.display())),
    }
}

/// Validate `config` (every problem at once), then open every database and list. Fails on
/// the first file that cannot serve: a detector must not start on half its data.
pub fn open(config: &EnrichConfig) -> Result<EnrichFiles, EnrichError> {
    let problems = validate(config);
    if !problems.is_empty() {
        return Err(EnrichError::Config(problems));
    }
    let mut databases = Vec::new();
    for (kind, path) in config.database_slots() {
        let path = path.to_path_buf();
        let layout = config.city_layout;
        databases.push(Watched::new(vec![path.clone()], move || {
            read_database(&path, kind, layout)
        })?);
    }
    let has_asn_db = config.asn.is_some();
    let mut lists = Vec::new();
    for list in &config.lists {
        let list = list.clone();
        lists.push(Watched::new(vec![list.path.clone()], move || {
            read_list(&list, has_asn_db)
        })?);
    }
    let enricher = Enricher::new(
        databases.iter().map(Watched::get).collect(),
        lists.iter().map(Watched::get).collect(),
        config.cache_size,
    );
    Ok(EnrichFiles {
        enricher,
        databases,
        lists,
    })
}

impl EnrichFiles {
    /// The enricher, for callers that want it without the files (a one-off command).
    pub fn into_enricher(self) -> Enricher {
        self.enricher
    }

    /// Reload every database and list whose file was replaced since the last check.
    /// Returns one entry per file that changed: `Ok` when the new version serves, the error
    /// when it could not be loaded (the old version keeps serving). Unchanged files are left
    /// out. Any successful reload starts a fresh cache. Called by drivers, e.g. every minute.
    pub fn reload_if_changed(&self) -> Vec<(PathBuf, Result<(), EnrichError>)> {
        let mut report = Vec::new();
        let databases = check(&self.databases, &mut report);
        let lists = check(&self.lists, &mut report);
        self.enricher.replace(databases, lists);
        report
    }
}

/// Check each watched file; report what changed, and return the new versions by slot.
fn check<T>(
    watched: &[Watched<T, EnrichError>],
    report: &mut Vec<(PathBuf, Result<(), EnrichError>)>,
) -> Vec<(usize, Arc<T>)> {
    let mut fresh = Vec::new();
    for (slot, w) in watched.iter().enumerate() {
        let path = w.paths().first().cloned().unwrap_or_default();
        match w.reload_if_changed() {
            Reload::Unchanged => {}
            Reload::Reloaded => {
                fresh.push((slot, w.get()));
                report.push((path, Ok(())));
            }
            Reload::Failed(e) => report.push((path, Err(e))),
        }
    }
    fresh
}

/// Read the database at `path` for the `kind` slot; databases verified before are not
/// walked again ([`VerifiedDir`]).
fn read_database(
    path: &Path,
    kind: DatabaseKind,
    layout: CityLayoutSetting,
) -> Result<GeoDb, EnrichError> {
    let bytes = read_with_slack(path).map_err(|e| EnrichError::Database {
        path: path.to_owned(),
        error: MmdbError::Reader(e.into()),
    })?;
    let remembered = VerifiedDir::from_environment();
    GeoDb::from_bytes(
        path,
        bytes,
        kind,
        layout,
        remembered.as_ref().map(|r| r as &dyn mmdb::Remembered),
    )
}

/// Where a database walked in full is remembered, by the SHA-256 of its bytes: one empty
/// file per key, never a database, in a `verified-mmdb` folder. The folder must be as
/// trusted as the databases: whoever can write it can mark bytes as verified.
#[derive(Debug, Clone)]
pub struct VerifiedDir(pub PathBuf);

impl VerifiedDir {
    /// `$DRIFTWATCH_CACHE_DIR` (empty: nowhere), else `$XDG_CACHE_HOME/driftwatch`, else
    /// `~/.cache/driftwatch`, each with `verified-mmdb` inside.
    pub fn from_environment() -> Option<VerifiedDir> {
        let base = match std::env::var_os("DRIFTWATCH_CACHE_DIR") {
            Some(dir) if dir.is_empty() => return None,
            Some(dir) => PathBuf::from(dir),
            None => std::env::var_os("XDG_CACHE_HOME")
                .filter(|d| !d.is_empty())
                .map(|d| PathBuf::from(d).join("driftwatch"))
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/driftwatch"))
                })?,
        };
        Some(VerifiedDir(base.join("verified-mmdb")))
    }
}

impl mmdb::Remembered for VerifiedDir {
    fn contains(&self, key: &str) -> bool {
        self.0.join(key).is_file()
    }

    /// Best effort: a folder that cannot be written only means the next start walks again.
    fn insert(&self, key: &str) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        if let Err(e) = builder
            .create(&self.0)
            .and_then(|()| std::fs::write(self.0.join(key), b""))
        {
            tracing::debug!(folder = %self.0.display(), error = %e, "cannot remember a verified database");
        }
    }
}

/// The file's bytes, with room to spare for [`mmdb::open`] to rewrite the metadata in place
/// (a reallocation would briefly hold a City database twice).
fn read_with_slack(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut bytes = Vec::with_capacity(
        usize::try_from(len)
            .unwrap_or(0)
            .saturating_add(mmdb::METADATA_SLACK),
    );
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Read the list a configuration entry names.
fn read_list(config: &IntelListConfig, has_asn_db: bool) -> Result<IntelList, EnrichError> {
    let file = File::open(&config.path).map_err(|source| EnrichError::ListIo {
        path: config.path.clone(),
        source,
    })?;
    IntelList::read(config, std::io::BufReader::new(file), has_asn_db)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::ListFormat;

    /// The folder remembers a key once told, as an empty file; one that cannot be written
    /// (a file is in the folder's way) remembers nothing and does not fail.
    #[test]
    fn a_verified_dir_remembers_keys_as_empty_files() {
        use driftwatch_core::enrich::mmdb::Remembered;
        let dir = tempfile::tempdir().unwrap();
        let verified = VerifiedDir(dir.path().join("verified-mmdb"));
        assert!(!verified.contains("v1-abc"));
        verified.insert("v1-abc");
        assert!(verified.contains("v1-abc"));
        assert!(!verified.contains("v1-abd"));
        assert_eq!(
            std::fs::read(dir.path().join("verified-mmdb/v1-abc")).unwrap(),
            b""
        );
        std::fs::write(dir.path().join("blocked"), b"a file").unwrap();
        let blocked = VerifiedDir(dir.path().join("blocked"));
        blocked.insert("v1-abc");
        assert!(!blocked.contains("v1-abc"));
    }

    #[test]
    fn validate_reports_every_problem_at_once() {
        let c = EnrichConfig {
            city: Some("/nonexistent/city.mmdb".into()),
            asn: Some("/nonexistent/asn.mmdb".into()),
            cache_size: 0,
            lists: vec![IntelListConfig {
                path: "/nonexistent/list.txt".into(),
                tag: "Consumer VPN".into(),
                provider: Some(" ".into()),
                format: ListFormat::Auto,
                entry_column: Some("asn".into()),
                provider_column: None,
            }],
            ..EnrichConfig::default()
        };
        let problems = validate(&c);
        let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
        assert!(has("enrich.city"), "{problems:?}");
        assert!(has("enrich.asn"), "{problems:?}");
        assert!(has("cache_size"), "{problems:?}");
        assert!(has("enrich.lists (entry 1).path"), "{problems:?}");
        assert!(has("enrich.lists (entry 1).tag"), "{problems:?}");
        assert!(has("enrich.lists (entry 1).provider"), "{problems:?}");
        assert!(has("enrich.lists (entry 1).entry_column"), "{problems:?}");
        assert_eq!(problems.len(), 7, "{problems:?}");
    }
}
