//! The roster file on disk: the `[roster]` section, reading the file and watching it for hot
//! reload. What the file means (columns, validation, alias matching) is the core's
//! [`crate::roster`]; this module only finds the bytes and says which file they came from.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::reload::Watched;
use crate::roster::{Roster, RosterError, RosterFormat};

/// The `[roster]` configuration section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterConfig {
    /// The roster file. `.csv` is read as CSV and `.json` as JSON; any other name is
    /// recognised by content (JSON starts with `[` or `{`). Watched for hot reload.
    pub path: PathBuf,
}

impl RosterConfig {
    /// Every problem with this section, empty when it is usable. Only looks at the file
    /// system: whether the content parses is [`load`]'s to report.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.path.as_os_str().is_empty() {
            problems.push("roster.path is empty".to_owned());
        } else if self.path.file_name().is_none() {
            problems.push(format!(
                "roster.path {} does not name a file",
                self.path.display()
            ));
        } else if !self.path.is_file() {
            // Reported with the other problems; the content is checked when it loads.
            problems.push(format!(
                "roster.path {} is not a readable file",
                self.path.display()
            ));
        }
        problems
    }

    /// Load the roster this section names.
    pub fn load(&self) -> Result<Roster, RosterError> {
        load(&self.path)
    }

    /// Load the roster and watch it for hot reload; see [`watch`].
    pub fn watch(&self) -> Result<Watched<Roster, RosterError>, RosterError> {
        watch(&self.path)
    }
}

/// Load the roster file at `path`, CSV or JSON by extension (or by content for other
/// names). A file that cannot be read is [`RosterError::Io`], naming it.
pub fn load(path: &Path) -> Result<Roster, RosterError> {
    let content = std::fs::read(path).map_err(|source| RosterError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Roster::from_bytes(&content, RosterFormat::of(path, &content))
}

/// Load the roster at `path` and watch it: a driver calls
/// [`Watched::reload_if_changed`] periodically; a replacement that fails to load is
/// reported and the previous roster keeps serving.
pub fn watch(path: &Path) -> Result<Watched<Roster, RosterError>, RosterError> {
    let owned = path.to_path_buf();
    Watched::new(vec![owned.clone()], move || load(&owned))
}
