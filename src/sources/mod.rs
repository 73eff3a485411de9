//! Files the core's values are loaded from: reading them, naming them in errors, and
//! watching them for hot reload ([`crate::reload`]). The core (`driftwatch-core`) builds
//! its roster, enricher and suppressions from bytes, text and readers and never opens a
//! file itself.
//!
//! - [`roster_file`]: the `[roster]` section and the roster file.
//! - [`enrich_files`]: the GeoIP databases and intel lists of the `[enrich]` section.
//! - [`suppress_files`]: the approved-travel file of the `[suppress]` section, and
//!   dispositions for replay.

pub mod enrich_files;
pub mod roster_file;
pub mod suppress_files;
