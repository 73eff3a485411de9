//! Hot reload of a value loaded from files (roster, GeoIP databases, intel lists).
//!
//! A [`Watched`] value holds the current version behind an [`ArcSwap`], so readers on the
//! hot path take a cheap snapshot and never block. [`Watched::reload_if_changed`] is called
//! by drivers (never by the pure core): when any watched file's modification time or size
//! changed, it loads a new version; if loading fails, the error is returned and the old
//! version keeps serving. Files are expected to be replaced atomically (write then rename,
//! as `geoipupdate` does); a half-written file simply fails to load and is retried on the
//! next check.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;

/// What identifies one version of a file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

/// A value loaded from files and swapped atomically when they change.
pub struct Watched<T, E> {
    current: ArcSwap<T>,
    paths: Vec<PathBuf>,
    stamps: std::sync::Mutex<Vec<Option<Stamp>>>,
    load: Box<dyn Fn() -> Result<T, E> + Send + Sync>,
}

/// What a reload check did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload<E> {
    /// No watched file changed.
    Unchanged,
    /// A file changed and the new version is now serving.
    Reloaded,
    /// A file changed but the new version failed to load; the old one keeps serving.
    Failed(E),
}

impl<T, E> Watched<T, E> {
    /// Load the first version now; fail if it cannot be loaded (a service must not start
    /// on a broken roster or database).
    pub fn new(
        paths: Vec<PathBuf>,
        load: impl Fn() -> Result<T, E> + Send + Sync + 'static,
    ) -> Result<Self, E> {
        let stamps = paths.iter().map(|p| stamp(p)).collect();
        let first = load()?;
        Ok(Watched {
            current: ArcSwap::from_pointee(first),
            paths,
            stamps: std::sync::Mutex::new(stamps),
            load: Box::new(load),
        })
    }

    /// The version serving now.
    pub fn get(&self) -> Arc<T> {
        self.current.load_full()
    }

    /// Reload if any watched file changed since the last successful or failed attempt.
    pub fn reload_if_changed(&self) -> Reload<E> {
        let now: Vec<_> = self.paths.iter().map(|p| stamp(p)).collect();
        {
            let mut seen = self.stamps.lock().unwrap_or_else(|p| p.into_inner());
            if *seen == now {
                return Reload::Unchanged;
            }
            // Remember this version even if it fails, so a broken file is reported once,
            // not on every check; the next replacement is tried afresh.
            *seen = now;
        }
        match (self.load)() {
            Ok(v) => {
                self.current.store(Arc::new(v));
                Reload::Reloaded
            }
            Err(e) => Reload::Failed(e),
        }
    }

    /// The watched files.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_number(path: PathBuf) -> impl Fn() -> Result<u32, String> {
        move || {
            let s = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            s.trim().parse::<u32>().map_err(|e| format!("{s:?}: {e}"))
        }
    }

    #[test]
    fn reloads_on_change_and_keeps_old_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.txt");
        std::fs::write(&path, "1").unwrap();
        let w = Watched::new(vec![path.clone()], load_number(path.clone())).unwrap();
        assert_eq!(*w.get(), 1);
        assert_eq!(w.reload_if_changed(), Reload::Unchanged);

        std::fs::write(&path, "22").unwrap();
        assert_eq!(w.reload_if_changed(), Reload::Reloaded);
        assert_eq!(*w.get(), 22);

        std::fs::write(&path, "not a number").unwrap();
        assert!(matches!(w.reload_if_changed(), Reload::Failed(_)));
        assert_eq!(
            *w.get(),
            22,
            "a broken replacement must leave the old value serving"
        );
        assert_eq!(
            w.reload_if_changed(),
            Reload::Unchanged,
            "a failure is reported once"
        );

        std::fs::write(&path, "333").unwrap();
        assert_eq!(w.reload_if_changed(), Reload::Reloaded);
        assert_eq!(*w.get(), 333);
    }

    #[test]
    fn refuses_to_start_on_a_broken_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.txt");
        std::fs::write(&path, "x").unwrap();
        assert!(Watched::new(vec![path.clone()], load_number(path)).is_err());
    }
}
