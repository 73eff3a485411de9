//! Files the core's values are loaded from: reading them, naming them in errors, and
//! watching them for hot reload ([`crate::reload`]). The core (`driftwatch-core`) builds
//! its roster and enricher from bytes and readers and never opens a file itself.
//!
//! - [`roster_file`]: the `[roster]` section and the roster file.
//! - [`enrich_files`]: the GeoIP databases and intel lists of the `[enrich]` section.

pub mod enrich_files;
pub mod roster_file;
