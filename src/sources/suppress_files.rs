//! The suppression files on disk: the approved-travel CSV the `[suppress]` section names,
//! and the dispositions file `driftwatch replay --dispositions` reads. What they mean is the
//! core's [`crate::suppress`]; this module reads them and names them in errors.

use std::path::Path;

use crate::suppress::{self, Config, Disposition, SuppressError, Suppressions};

/// Every problem with `cfg` that the file system shows: the travel file must be a file.
pub fn validate(cfg: &Config) -> Vec<String> {
    match &cfg.travel {
        Some(p) if !p.is_file() => {
            vec![format!(
                "suppress.travel: {} is not a readable file",
                p.display()
            )]
        }
        _ => Vec::new(),
    }
}

/// Load what `cfg` names: its allowlists and the approved trips of its travel file.
pub fn load(cfg: &Config) -> Result<Suppressions, SuppressError> {
    let trips = match &cfg.travel {
        Some(path) => suppress::read_trips(path, &read(path)?)?,
        None => Vec::new(),
    };
    Ok(Suppressions::new(cfg, trips))
}

/// Read the dispositions file at `path`, JSON lines (for replay; the API writes them in
/// production).
pub fn read_dispositions(path: &Path) -> Result<Vec<Disposition>, SuppressError> {
    suppress::read_dispositions(path, &read(path)?)
}

fn read(path: &Path) -> Result<String, SuppressError> {
    std::fs::read_to_string(path).map_err(|source| SuppressError::Io {
        path: path.to_owned(),
        source,
    })
}
