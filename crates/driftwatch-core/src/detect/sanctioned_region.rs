//! sanctioned_region: an interactive login from a comprehensively sanctioned country (North
//! Korea, Iran, Cuba, Syria) or an occupied region of Ukraine is critical, on any login,
//! from day one. It is both the strongest location evidence there is (DPRK IT workers) and
//! a compliance event in itself: the company's systems were reached from a jurisdiction it
//! may not serve.
//!
//! Choices that differ from the other location rules, on purpose:
//! - A **failed** login counts (configurable): the account name was valid and the attempt
//!   came from a sanctioned jurisdiction; whether it was the employee or someone holding
//!   their credentials, an analyst must look today. A password spray from such a country
//!   makes one alert per targeted account — set `failures = false` to drop those.
//! - An **anonymizer** address counts: elsewhere its location says nothing about the person,
//!   but a VPN or hosting exit *inside* a sanctioned country is rare, deliberate, and still
//!   traffic from that country. The evidence says it was an anonymizer.
//! - An approved **trip** does not silence it: a trip does not make access from a sanctioned
//!   jurisdiction lawful. The evidence says a trip covers the login.
//! - An **allowlisted** address (corporate egress) does: it is the company's own network,
//!   and its geolocation says nothing about anyone.
//!
//! Regions are matched by ISO 3166-2 code where the City database gives one (GeoIP2
//! layouts) and by English name otherwise (DB-IP's flat layout has names only).

use serde::Deserialize;

use super::place::{claimed_place, seen_place};
use super::{Context, Validate};
use crate::alert::{Evidence, Finding, Severity};
use crate::enrich::Geo;
use crate::event::Outcome;

/// The rule's stable name.
pub const NAME: &str = "sanctioned_region";

/// `[detect.sanctioned_region]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run the detector at all.
    pub enabled: bool,
    /// ISO 3166-1 alpha-2 countries where any login is critical. Default KP, IR, CU, SY:
    /// the countries under comprehensive US (OFAC) and EU sanctions.
    pub countries: Vec<String>,
    /// Sub-national regions where any login is critical. Default: the Russian-occupied
    /// regions of Ukraine — Crimea (UA-43), Sevastopol (UA-40), Donetsk (UA-14), Luhansk
    /// (UA-09), Zaporizhzhia (UA-23) and Kherson (UA-65), as in US Executive Orders 13685
    /// and 14065 and the EU's measures. GeoIP cannot tell the occupied part of an oblast
    /// from the rest, so the whole oblast counts; remove an entry to narrow it.
    pub regions: Vec<Region>,
    /// Severity of a finding. Default critical: see the module documentation.
    pub severity: Severity,
    /// Risk (0–100) a finding contributes. Default 100: one login is enough.
    pub risk: u8,
    /// Whether a failed login counts. Default true: see the module documentation.
    pub failures: bool,
}

/// One sanctioned sub-national region.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// ISO 3166-2 code, country first: `UA-43`.
    pub code: String,
    /// English names a City database may give the region instead of (or without) the code;
    /// matched case-insensitively as a part of the database's name, so `Donetsk` also
    /// matches `Donetsk Oblast`.
    #[serde(default)]
    pub names: Vec<String>,
}

impl Region {
    fn new(code: &str, names: &[&str]) -> Region {
        Region {
            code: code.to_owned(),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
        }
    }

    /// `("UA", "43")` from `UA-43`.
    fn parts(&self) -> Option<(&str, &str)> {
        self.code.split_once('-')
    }

    /// True when `geo` lies in this region.
    fn contains(&self, geo: &Geo) -> bool {
        let Some((country, subdivision)) = self.parts() else {
            return false;
        };
        if !geo
            .country
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(country))
        {
            return false;
        }
        let by_code = geo
            .region_code
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(subdivision));
        let by_name = geo.region.as_deref().is_some_and(|region| {
            let region = region.to_lowercase();
            self.names
                .iter()
                .any(|n| region.contains(&n.to_lowercase()))
        });
        by_code || by_name
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            countries: ["KP", "IR", "CU", "SY"].map(str::to_owned).to_vec(),
            // Names include the spellings GeoNames, DB-IP and MaxMind use.
            regions: vec![
                Region::new("UA-43", &["Crimea", "Krym"]),
                Region::new("UA-40", &["Sevastopol"]),
                Region::new("UA-14", &["Donetsk", "Donets'k"]),
                Region::new("UA-09", &["Luhansk", "Lugansk", "Luhans'k"]),
                Region::new(
                    "UA-23",
                    &["Zaporizhzhia", "Zaporizhia", "Zaporizhzhya", "Zaporozhye"],
                ),
                Region::new("UA-65", &["Kherson"]),
            ],
            severity: Severity::Critical,
            risk: 100,
            failures: true,
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for c in &self.countries {
            if !is_country_code(c) {
                errors.push(format!(
                    "detect.sanctioned_region.countries: {c:?} is not an ISO 3166-1 alpha-2 code"
                ));
            }
        }
        for r in &self.regions {
            let valid = r.parts().is_some_and(|(country, sub)| {
                is_country_code(country)
                    && (1..=3).contains(&sub.len())
                    && sub.chars().all(|ch| ch.is_ascii_alphanumeric())
            });
            if !valid {
                errors.push(format!(
                    "detect.sanctioned_region.regions: {:?} is not an ISO 3166-2 code like UA-43",
                    r.code
                ));
            }
            if r.names.iter().any(|n| n.trim().is_empty()) {
                errors.push(format!(
                    "detect.sanctioned_region.regions: {} has an empty name",
                    r.code
                ));
            }
        }
        errors.extend(super::risks_above_100(NAME, &[("risk", self.risk)]));
        errors
    }
}

fn is_country_code(c: &str) -> bool {
    c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic())
}

/// What put the login on the list.
enum Match<'a> {
    Country(&'a str),
    Region(&'a Region),
}

fn sanctioned<'a>(cfg: &'a Config, geo: &Geo) -> Option<Match<'a>> {
    let country = geo.country.as_deref().and_then(|country| {
        cfg.countries
            .iter()
            .find(|c| c.eq_ignore_ascii_case(country))
    });
    if let Some(c) = country {
        return Some(Match::Country(c));
    }
    cfg.regions
        .iter()
        .find(|r| r.contains(geo))
        .map(Match::Region)
}

/// Findings for one event.
pub fn check(cfg: &Config, ctx: &Context<'_>) -> Vec<Finding> {
    let Context {
        event,
        geo,
        profile,
        ..
    } = *ctx;
    if !cfg.enabled || !event.kind.is_interactive() || ctx.allowlisted {
        return Vec::new();
    }
    let failed = event.outcome == Outcome::Failure;
    if failed && !cfg.failures {
        return Vec::new();
    }
    let Some(found) = sanctioned(cfg, geo) else {
        return Vec::new();
    };
    let listed = match found {
        Match::Country(c) => format!("sanctioned country {c}"),
        Match::Region(r) => format!("sanctioned region {}", r.code),
    };
    let what = if failed {
        "attempted to log in (failed)"
    } else {
        "logged in"
    };
    let mut notes = vec![format!(
        "{listed} is on the [detect.sanctioned_region] list"
    )];
    if geo.is_anonymizer() {
        notes.push(
            "the address is an anonymizer exit; an exit inside a sanctioned country still counts"
                .to_owned(),
        );
    }
    if ctx.trip.is_some() {
        notes.push(
            "an approved trip covers this login; it does not make access from a sanctioned \
             jurisdiction lawful"
                .to_owned(),
        );
    }
    let evidence: Vec<Evidence> = [
        Evidence::login(event),
        Evidence::location(geo),
        Evidence::claimed(profile),
    ]
    .into_iter()
    .chain(notes.into_iter().map(|text| Evidence::Note { text }))
    .collect();
    vec![Finding::located(
        NAME,
        cfg.severity,
        cfg.risk,
        format!(
            "{} {what} from {} via {} {}, in {listed}; claimed location is {}",
            profile.employee_id,
            seen_place(geo),
            event.format,
            event.ip,
            claimed_place(profile),
        ),
        evidence,
        geo,
    )]
}

/// The rule, for the registration table in [`super`].
pub struct Rule;

impl super::Detector for Rule {
    const NAME: &'static str = NAME;
    const FAMILY: super::Family = super::Family::Location;
    const CLAIM: super::Claim = super::Claim::Place;
    type Config = Config;
    type State = super::NoState;

    fn observe(cfg: &Config, ctx: &Context<'_>, _state: &mut super::NoState) -> Vec<Finding> {
        check(cfg, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::AnonymousFlags;
    use crate::event::{EventKind, Format, LoginEvent, NonInteractive};
    use crate::roster::{ClaimedProfile, EmployeeId};
    use crate::suppress::Trip;

    fn profile() -> ClaimedProfile {
        crate::detect::testkit::AUSTIN.profile("E7")
    }

    fn event(kind: EventKind, outcome: Outcome) -> LoginEvent {
        LoginEvent::new(
            Format::Okta,
            chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            "g@corp.example".into(),
            "2a02:d2c0::17".parse().unwrap(),
            kind,
            outcome,
        )
    }

    fn login() -> LoginEvent {
        event(EventKind::InteractiveLogin, Outcome::Success)
    }

    fn run_with(
        cfg: &Config,
        event: &LoginEvent,
        geo: &Geo,
        allowlisted: bool,
        trip: Option<&Trip>,
    ) -> Vec<Finding> {
        check(
            cfg,
            &Context {
                event,
                geo,
                profile: &profile(),
                allowlisted,
                trip,
                network: &[],
                watch: &[],
            },
        )
    }

    fn run(event: &LoginEvent, geo: &Geo) -> Vec<Finding> {
        run_with(&Config::default(), event, geo, false, None)
    }

    /// What MaxMind's official test City database (../shared/geoip/maxmind-test) says.
    fn maxmind(ip: &str) -> Geo {
        crate::detect::testkit::maxmind_geo(ip, false)
    }

    fn ukraine(region_code: Option<&str>, region: Option<&str>) -> Geo {
        Geo {
            country: Some("UA".into()),
            region_code: region_code.map(Into::into),
            region: region.map(Into::into),
            city: Some("Somewhere".into()),
            ..Geo::default()
        }
    }

    fn notes(f: &Finding) -> Vec<&str> {
        f.evidence
            .iter()
            .filter_map(|e| match e {
                Evidence::Note { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_login_from_iran_is_critical_on_day_one() {
        // 2a02:d2c0::/29 is Iran in MaxMind's test City database.
        let iran = maxmind("2a02:d2c0::17");
        assert_eq!(iran.country.as_deref(), Some("IR"));
        let found = run(&login(), &iran);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(
            (f.rule, f.severity, f.risk),
            (NAME, Severity::Critical, 100)
        );
        assert_eq!(
            f.summary,
            "E7 logged in from IR, accuracy ±100 km via okta 2a02:d2c0::17, in sanctioned \
             country IR; claimed location is Austin, US"
        );
        assert_eq!(
            notes(f),
            ["sanctioned country IR is on the [detect.sanctioned_region] list"]
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| matches!(e, Evidence::Database { .. }))
        );
    }

    #[test]
    fn every_listed_country_fires_and_others_do_not() {
        for c in ["KP", "IR", "CU", "SY", "kp"] {
            let geo = Geo {
                country: Some(c.into()),
                ..Geo::default()
            };
            assert_eq!(run(&login(), &geo).len(), 1, "{c}");
        }
        for c in ["CN", "RU", "US", "KR"] {
            let geo = Geo {
                country: Some(c.into()),
                ..Geo::default()
            };
            assert!(run(&login(), &geo).is_empty(), "{c}");
        }
        // Ukraine without a region (the test database's 2a02:d300::/29) is not listed.
        let ua = maxmind("2a02:d300::1");
        assert_eq!(ua.country.as_deref(), Some("UA"));
        assert!(run(&login(), &ua).is_empty());
        // No location at all: nothing to say.
        assert!(run(&login(), &Geo::default()).is_empty());
    }

    #[test]
    fn occupied_regions_match_by_code_or_by_name() {
        for (code, name) in [
            (Some("43"), None),
            (Some("40"), Some("Sevastopol")),
            (None, Some("Autonomous Republic of Crimea")),
            (None, Some("Donetsk Oblast")),
            (None, Some("LUHANSK")),
            (None, Some("Zaporizhia Oblast")),
            (Some("65"), Some("Kherson Oblast")),
        ] {
            let found = run(&login(), &ukraine(code, name));
            assert_eq!(found.len(), 1, "{code:?} {name:?}");
            assert_eq!(found[0].severity, Severity::Critical);
        }
        let crimea = run(&login(), &ukraine(None, Some("Crimea")));
        assert!(
            crimea[0].summary.contains("in sanctioned region UA-43"),
            "{}",
            crimea[0].summary
        );
        // Kyiv (UA-30) and Lviv (UA-46) are not occupied.
        assert!(run(&login(), &ukraine(Some("30"), Some("Kyiv City"))).is_empty());
        assert!(run(&login(), &ukraine(Some("46"), Some("Lviv Oblast"))).is_empty());
        // The same code or name in another country is not the Ukrainian region.
        let elsewhere = Geo {
            country: Some("US".into()),
            region_code: Some("43".into()),
            region: Some("Kherson".into()),
            ..Geo::default()
        };
        assert!(run(&login(), &elsewhere).is_empty());
    }

    #[test]
    fn the_lists_are_configurable() {
        let cfg = Config {
            countries: vec!["RU".into()],
            regions: vec![Region::new("GE-AB", &["Abkhazia"])],
            ..Config::default()
        };
        let ru = Geo {
            country: Some("RU".into()),
            ..Geo::default()
        };
        assert_eq!(run_with(&cfg, &login(), &ru, false, None).len(), 1);
        let abkhazia = Geo {
            country: Some("GE".into()),
            region_code: Some("AB".into()),
            ..Geo::default()
        };
        assert_eq!(run_with(&cfg, &login(), &abkhazia, false, None).len(), 1);
        let iran = Geo {
            country: Some("IR".into()),
            ..Geo::default()
        };
        assert!(run_with(&cfg, &login(), &iran, false, None).is_empty());
        assert!(run_with(&cfg, &login(), &ukraine(Some("43"), None), false, None).is_empty());
    }

    #[test]
    fn a_failed_login_counts_unless_configured_off() {
        let kp = Geo {
            country: Some("KP".into()),
            ..Geo::default()
        };
        let failed = event(EventKind::InteractiveLogin, Outcome::Failure);
        let found = run(&failed, &kp);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Critical);
        assert!(
            found[0].summary.contains("attempted to log in (failed)"),
            "{}",
            found[0].summary
        );
        let no_failures = Config {
            failures: false,
            ..Config::default()
        };
        assert!(run_with(&no_failures, &failed, &kp, false, None).is_empty());
    }

    #[test]
    fn an_anonymizer_exit_there_counts_and_says_so() {
        let exit = Geo {
            country: Some("SY".into()),
            anonymous: Some(AnonymousFlags {
                is_anonymous: true,
                is_hosting_provider: true,
                ..AnonymousFlags::default()
            }),
            ..Geo::default()
        };
        let found = run(&login(), &exit);
        assert_eq!(found.len(), 1);
        assert!(notes(&found[0])[1].starts_with("the address is an anonymizer exit"));
    }

    #[test]
    fn a_trip_does_not_silence_it_but_an_allowlisted_address_does() {
        let cuba = Geo {
            country: Some("CU".into()),
            ..Geo::default()
        };
        let trip = Trip {
            employee_id: EmployeeId("E7".into()),
            country: "CU".into(),
            from: chrono::NaiveDate::from_ymd_opt(2023, 11, 1).unwrap(),
            to: chrono::NaiveDate::from_ymd_opt(2023, 11, 30).unwrap(),
        };
        let found = run_with(&Config::default(), &login(), &cuba, false, Some(&trip));
        assert_eq!(found.len(), 1);
        assert!(notes(&found[0])[1].starts_with("an approved trip covers this login"));
        assert!(run_with(&Config::default(), &login(), &cuba, true, None).is_empty());
    }

    #[test]
    fn non_interactive_events_and_a_disabled_rule_are_silent() {
        let kp = Geo {
            country: Some("KP".into()),
            ..Geo::default()
        };
        for kind in [
            EventKind::NonInteractive(NonInteractive::TokenRefresh),
            EventKind::Logout,
            EventKind::VpnSessionEnd,
        ] {
            assert!(
                run(&event(kind, Outcome::Success), &kp).is_empty(),
                "{kind:?}"
            );
        }
        // MFA steps and VPN session starts are interactive.
        for kind in [EventKind::Mfa, EventKind::VpnSessionStart] {
            assert_eq!(
                run(&event(kind, Outcome::Unknown), &kp).len(),
                1,
                "{kind:?}"
            );
        }
        let off = Config {
            enabled: false,
            ..Config::default()
        };
        assert!(run_with(&off, &login(), &kp, false, None).is_empty());
    }

    #[test]
    fn bad_codes_are_config_errors() {
        assert!(Config::default().validate().is_empty());
        let bad = Config {
            countries: vec!["IRN".into()],
            regions: vec![Region::new("UA43", &[]), Region::new("UA-4300", &["x"])],
            risk: 101,
            ..Config::default()
        };
        let errors = bad.validate();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors
                .iter()
                .all(|e| e.starts_with("detect.sanctioned_region."))
        );
        let empty_name = Config {
            regions: vec![Region::new("UA-43", &[" "])],
            ..Config::default()
        };
        assert_eq!(
            empty_name.validate(),
            ["detect.sanctioned_region.regions: UA-43 has an empty name"]
        );
    }

    #[test]
    fn config_reads_from_toml() {
        let cfg: Config = toml::from_str(
            r#"
            countries = ["KP"]
            [[regions]]
            code = "UA-43"
            names = ["Crimea"]
            "#,
        )
        .unwrap();
        assert_eq!(cfg.countries, ["KP"]);
        assert_eq!(cfg.regions, [Region::new("UA-43", &["Crimea"])]);
        assert_eq!(cfg.severity, Severity::Critical);
        assert!(toml::from_str::<Config>(r#"countrys = ["KP"]"#).is_err());
    }
}
