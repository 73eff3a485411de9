//! claimed_location: a successful interactive login geolocated outside the employee's
//! claimed country. Fires from the first login, with no warm-up: comparing with the claimed
//! profile, not the employee's own history, is what catches a fraudulent hire on day one.
//!
//! Never fires when the location is unknown (no GeoIP answer), when the address is an
//! anonymizer (its location says nothing about the person; the anonymizer rule judges that),
//! or when the address carries an exempt intel tag (corporate egress by default).

use serde::Deserialize;

use super::Context;
use crate::alert::{Evidence, Finding, Severity};
use crate::event::Outcome;

/// `[detect.claimed_location]`.
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
                "detect.claimed_location.risk: {} is above 100",
                self.risk
            ));
        }
        errors
    }
}

/// The rule's stable name.
pub const NAME: &str = "claimed_location";

/// The finding for one event, if any.
pub fn check(cfg: &Config, ctx: &Context<'_>) -> Option<Finding> {
    let Context {
        event,
        profile,
        geo,
        ..
    } = *ctx;
    if !event.kind.is_interactive() || ctx.allowlisted || ctx.trip.is_some() {
        return None;
    }
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
        rule: NAME,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::{AnonymousFlags, Geo};
    use crate::event::{EventKind, Format, LoginEvent};
    use crate::roster::{ClaimedProfile, EmployeeId, Status};

    fn profile() -> ClaimedProfile {
        ClaimedProfile {
            employee_id: EmployeeId("E1".into()),
            aliases: vec!["a@corp.example".into()],
            country: "US".into(),
            region: None,
            city: Some("New York".into()),
            point: Some((40.7128, -74.006)),
            timezone: chrono_tz::America::New_York,
            work_hours: None,
            start_date: None,
            status: Status::Active,
        }
    }

    fn event(outcome: Outcome) -> LoginEvent {
        LoginEvent::new(
            Format::Okta,
            chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            "a@corp.example".into(),
            "203.0.113.9".parse().unwrap(),
            EventKind::InteractiveLogin,
            outcome,
        )
    }

    fn geo(country: &str) -> Geo {
        Geo {
            country: Some(country.into()),
            city: Some("Shenyang".into()),
            accuracy_km: Some(50),
            asn: Some(64510),
            as_org: Some("Demo Cloud".into()),
            ..Geo::default()
        }
    }

    fn run(cfg: &Config, event: &LoginEvent, geo: &Geo) -> Option<Finding> {
        check(
            cfg,
            &Context {
                event,
                profile: &profile(),
                geo,
                allowlisted: false,
                trip: None,
                network: &[],
            },
        )
    }

    #[test]
    fn fires_from_the_first_login_abroad_with_evidence() {
        let f = run(&Config::default(), &event(Outcome::Success), &geo("CN")).expect("fires");
        assert_eq!(f.rule, "claimed_location");
        assert_eq!(f.severity, Severity::High);
        assert!(f.summary.contains("Shenyang, CN"), "{}", f.summary);
        assert!(f.summary.contains("AS64510 Demo Cloud"), "{}", f.summary);
        assert!(f.summary.contains("New York, US"), "{}", f.summary);
        assert!(f.summary.contains("±50 km"), "{}", f.summary);
        assert!(matches!(f.evidence[0], Evidence::Login { .. }));
        assert!(matches!(f.evidence[2], Evidence::Claimed { ref country, .. } if country == "US"));
    }

    #[test]
    fn silent_in_the_claimed_country_whatever_the_case() {
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &geo("US")),
            None
        );
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &geo("us")),
            None
        );
    }

    #[test]
    fn silent_without_a_location() {
        let unknown = Geo {
            country: None,
            ..geo("CN")
        };
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &unknown),
            None
        );
    }

    #[test]
    fn an_anonymizer_is_location_unknown_not_a_mismatch() {
        let by_flag = Geo {
            anonymous: Some(AnonymousFlags {
                is_anonymous: true,
                is_anonymous_vpn: true,
                ..AnonymousFlags::default()
            }),
            ..geo("CN")
        };
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &by_flag),
            None
        );
        let by_list = Geo {
            tags: vec!["vpn".into()],
            ..geo("CN")
        };
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &by_list),
            None
        );
    }

    #[test]
    fn corporate_egress_is_exempt() {
        let egress = Geo {
            tags: vec!["corporate_egress".into()],
            ..geo("DE")
        };
        assert_eq!(
            run(&Config::default(), &event(Outcome::Success), &egress),
            None
        );
    }

    #[test]
    fn failed_attempts_and_disabled_rule_stay_silent() {
        assert_eq!(
            run(&Config::default(), &event(Outcome::Failure), &geo("CN")),
            None
        );
        let off = Config {
            enabled: false,
            ..Config::default()
        };
        assert_eq!(run(&off, &event(Outcome::Success), &geo("CN")), None);
        // An MFA step or a session with no stated outcome still places the person.
        assert!(run(&Config::default(), &event(Outcome::Unknown), &geo("CN")).is_some());
    }

    #[test]
    fn risk_above_100_is_a_config_error() {
        let bad = Config {
            risk: 101,
            ..Config::default()
        };
        assert_eq!(bad.validate().len(), 1);
        assert!(Config::default().validate().is_empty());
    }
}
