//! claimed_location: a successful interactive login geolocated outside the employee's
//! claimed country. Fires from the first login, with no warm-up: comparing with the claimed
//! profile, not the employee's own history, is what catches a fraudulent hire on day one.
//!
//! Never fires when the location is unknown (no GeoIP answer), when the address is an
//! anonymizer (its location says nothing about the person; the anonymizer rule judges that),
//! or when the address carries an exempt intel tag (corporate egress by default).

use serde::Deserialize;

use super::Input;
use crate::alert::{Evidence, Finding, Severity};
use crate::event::Outcome;

/// `[rules.claimed_location]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run the rule at all.
    pub enabled: bool,
    /// Severity of a login from another country. Default high: one login abroad may be a
    /// trip, but it is exactly the evidence an analyst must see the same day.
    pub severity: Severity,
    /// Risk (0–100) the finding contributes.
    pub risk: u8,
    /// Intel-list tags whose addresses never count as a location (the company's own VPN or
    /// proxy egress geolocates wherever the concentrator is).
    pub exempt_tags: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            severity: Severity::High,
            risk: 60,
            exempt_tags: vec!["corporate_egress".to_owned()],
        }
    }
}

impl Config {
    /// Every problem with these settings.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.risk > 100 {
            errors.push(format!(
                "rules.claimed_location.risk: {} is above 100",
                self.risk
            ));
        }
        errors
    }
}

/// The rule's stable name.
pub const RULE: &str = "claimed_location";

/// The finding for one event, if any.
pub fn check(cfg: &Config, input: &Input<'_>) -> Option<Finding> {
    let Input {
        event,
        profile,
        geo,
    } = *input;
    if !cfg.enabled || event.outcome == Outcome::Failure {
        // A failed attempt is someone else's guess at a password as often as it is the
        // employee: it says nothing reliable about where the employee is.
        return None;
    }
    if geo.is_anonymizer() || geo.tags.iter().any(|t| cfg.exempt_tags.contains(t)) {
        return None;
    }
    let country = geo.country.as_deref()?;
    if country.eq_ignore_ascii_case(&profile.country) {
        return None;
    }
    let seen = place(geo.city.as_deref(), country);
    let claimed = place(profile.city.as_deref(), &profile.country);
    let network = match (geo.asn, geo.as_org.as_deref()) {
        (Some(asn), Some(org)) => format!(" (AS{asn} {org})"),
        (Some(asn), None) => format!(" (AS{asn})"),
        _ => String::new(),
    };
    let accuracy = geo
        .accuracy_km
        .map(|km| format!(", accuracy ±{km} km"))
        .unwrap_or_default();
    Some(Finding {
        rule: RULE,
        severity: cfg.severity,
        risk: cfg.risk,
        summary: format!(
            "{} logged in from {seen}{network}{accuracy} via {} {}; claimed location is {claimed}",
            profile.employee_id, event.format, event.ip,
        ),
        evidence: vec![
            Evidence::login(event),
            Evidence::location(geo),
            Evidence::claimed(profile),
        ]
        .into_iter()
        .chain(Evidence::databases(geo))
        .collect(),
    })
}

fn place(city: Option<&str>, country: &str) -> String {
    match city {
        Some(c) => format!("{c}, {country}"),
        None => country.to_owned(),
    }
}
