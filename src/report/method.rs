//! The report's method section: the settings, data and software the figures come from, so
//! an auditor can run the same command on the same files and get the same figures.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ReportError;
use super::model::{Definition, FileDigest};
use crate::config::Config;

/// The configuration sections that decide what is found, as the file writes them.
const SETTINGS_SECTIONS: [&str; 3] = ["detect", "risk", "suppress"];

/// The `[detect]`, `[risk]` and `[suppress]` sections of the configuration file, as TOML.
/// The settings types are read-only (`Deserialize`), so the file's own text is what can be
/// shown; a setting it leaves out has its documented default.
pub fn settings_toml(config_path: &Path) -> Result<String, ReportError> {
    let text = std::fs::read_to_string(config_path).map_err(|error| ReportError::Read {
        path: config_path.to_owned(),
        error,
    })?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| ReportError::Usage(format!("{}: {e}", config_path.display())))?;
    let mut picked = toml::Table::new();
    for section in SETTINGS_SECTIONS {
        if let Some(v) = table.get(section) {
            picked.insert(section.to_owned(), v.clone());
        }
    }
    let mut out = toml::to_string(&picked)
        .map_err(|e| ReportError::Usage(format!("{}: {e}", config_path.display())))?;
    if out.trim().is_empty() {
        out = "# no [detect], [risk] or [suppress] settings: every default applies\n".to_owned();
    }
    Ok(out)
}

/// Every file the figures depend on, by role, in a stable order.
pub fn files(config: &Config, config_path: &Path, inputs: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let mut files = vec![("config".to_owned(), config_path.to_owned())];
    if let Some(r) = &config.roster {
        files.push(("roster".to_owned(), r.path.clone()));
    }
    if let Some(t) = &config.suppress.travel {
        files.push(("approved_travel".to_owned(), t.clone()));
    }
    let e = &config.enrich;
    for p in [&e.city, &e.asn, &e.anonymous_ip].into_iter().flatten() {
        files.push(("geoip".to_owned(), p.clone()));
    }
    for l in &e.lists {
        files.push(("intel_list".to_owned(), l.path.clone()));
    }
    for p in inputs {
        files.push(("input".to_owned(), p.clone()));
    }
    files
}

/// SHA-256 and size of a file, read in blocks (inputs can be gigabytes).
pub fn digest(role: String, path: PathBuf) -> Result<FileDigest, ReportError> {
    let read = |error| ReportError::Read {
        path: path.clone(),
        error,
    };
    let mut f = std::fs::File::open(&path).map_err(read)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(read)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    let sha256 = crate::hex::hex(&h.finalize());
    Ok(FileDigest {
        role,
        path,
        bytes,
        sha256,
    })
}

/// What each figure counts.
pub fn definitions() -> Vec<Definition> {
    [
        (
            "period",
            "events with from ≤ time < to (UTC). Events before the period are applied to \
             the detectors (so baselines and working-hours history start the period as the \
             running service had them) but counted in no figure; events at or after the end \
             are neither applied nor counted.",
        ),
        (
            "logins",
            "successful (or outcome-unknown) interactive events of roster employees in the \
             period: interactive_login, mfa and vpn_session_start, the kinds the detectors \
             score. One sign-in may be several such records (session, MFA, SSO into apps). \
             Failed ones are counted apart as failed_logins; token refreshes, session ends and \
             service accounts are not logins.",
        ),
        (
            "allowlisted_logins",
            "logins from an allowlisted address ([suppress] tags, networks, ASNs; corporate \
             egress): they say nothing about where the person is.",
        ),
        (
            "anonymizer_share",
            "logins through a VPN, hosting provider, Tor or proxy (GeoIP2 Anonymous-IP flags \
             or an intel list tagged vpn, hosting, tor or proxy) over logins not allowlisted: \
             the share the anonymizer rule measures, over the whole period rather than its \
             sliding window.",
        ),
        (
            "share_from_claimed_country",
            "located logins from the claimed country over located logins, where a located \
             login has a GeoIP country and is neither allowlisted nor through an anonymizer \
             (whose exit country says nothing about the person). Logins on approved trips \
             count as located elsewhere.",
        ),
        (
            "inferred_offset_hours",
            "the UTC offset the working_hours rule infers from the activity it holds at the \
             end of the period (its window reaches back before the period); empty (not \
             inferred) while it holds fewer than min_active_days of the logins it counts — \
             logins at home or from an unknown place; logins located abroad and on approved \
             trips are claimed_location's. It differs from the claimed zone when they are at \
             least min_offset_gap_hours apart.",
        ),
        (
            "alerts",
            "alerts with at least one line (opened or escalated) in the period, re-derived \
             from the logs. status: open (still open at the end of the period), closed (the \
             risk decayed away or a later alert replaced it), disposed (an analyst judged it \
             benign or a false positive). Dispositions come from the audit log and are shown \
             beside the figures, not applied to them: the figures are what the detectors \
             found.",
        ),
        (
            "shared_infrastructure_clusters",
            "networks (an IPv4 address or IPv6 /64) that the period's shared_infrastructure \
             alerts name, with every employee they saw on them.",
        ),
        ("exceptions", super::exceptions::CRITERION),
    ]
    .into_iter()
    .map(|(figure, meaning)| Definition { figure, meaning })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_detection_sections_are_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[kafka]\nbrokers = \"secret:9092\"\n[detect.anonymizer]\nhigh_share = 0.4\n[risk]\nlow = 10.0\n",
        )
        .unwrap();
        let toml = settings_toml(&path).unwrap();
        assert!(toml.contains("high_share = 0.4"), "{toml}");
        assert!(toml.contains("[risk]"), "{toml}");
        assert!(!toml.contains("secret"), "{toml}");
    }

    #[test]
    fn digests_are_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, "abc").unwrap();
        let d = digest("input".into(), path).unwrap();
        assert_eq!(d.bytes, 3);
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
