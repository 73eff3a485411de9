//! The pure core's data path for one record: decode → resolve → enrich. Detection follows
//! in [`crate::engine`], which needs events in time order.
//!
//! [`Pipeline::process`] does no I/O: the roster and enricher snapshots are arguments, so
//! every driver (replay now, the Kafka service later) runs the same code and a behaviour is
//! tested once. [`Tally`] counts what happened, for summaries and metrics.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::alert::{Alert, Severity};
use crate::decode::{self, DecodeContext, FormatChoice, RejectReason, Rejection};
use crate::engine::Resolved;
use crate::enrich::{Enricher, Geo};
use crate::event::{Format, LoginEvent};
use crate::roster::Roster;

/// What became of one record.
#[derive(Debug)]
pub enum Processed {
    /// Blank line: nothing to do, nothing to count as bad.
    Blank,
    /// Did not decode.
    Rejected(Rejection),
    /// Decoded, but the account is not in the roster. Kept visible: an account HR does not
    /// know about matters. `ambiguous` names the employees it would be but for the
    /// roster's ambiguity (a user name several of them yield): never dropped in silence,
    /// since it blinds each of them.
    UnknownUser {
        event: LoginEvent,
        geo: Arc<Geo>,
        ambiguous: Vec<crate::roster::EmployeeId>,
        /// The employee the name imitates: it folds onto their alias only through Unicode
        /// normalisation (a Kelvin sign for a K), so it is another account, never theirs.
        imitates: Option<crate::roster::EmployeeId>,
    },
    /// Decoded, resolved and enriched: ready for the engine.
    Resolved(Resolved),
}

/// The core's first steps, configured.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    pub decode: DecodeContext,
}

impl Pipeline {
    /// Run one raw record through decode, resolve and enrich.
    pub fn process(
        &self,
        record: &[u8],
        format: FormatChoice,
        roster: &Roster,
        enricher: &Enricher,
    ) -> Processed {
        if record.iter().all(u8::is_ascii_whitespace) {
            return Processed::Blank;
        }
        let event = match decode::decode(record, format, &self.decode) {
            Ok(e) => e,
            Err(r) => return Processed::Rejected(r),
        };
        let geo = enricher.lookup(event.ip);
        let Some(profile) = roster.resolve(&event.user) else {
            let ambiguous = roster.ambiguous_between(&event.user);
            let imitates = roster.confusable_with(&event.user);
            return Processed::UnknownUser {
                event,
                geo,
                ambiguous,
                imitates,
            };
        };
        let employee = profile.employee_id.clone();
        Processed::Resolved(Resolved {
            event,
            employee,
            geo,
        })
    }
}

/// Distinct unknown account names kept by name; the rest count under [`OTHER_UNKNOWN`].
pub const MAX_UNKNOWN_NAMES: usize = 10_000;

/// The name further unknown accounts are counted under once [`MAX_UNKNOWN_NAMES`] is reached.
pub const OTHER_UNKNOWN: &str = "(other unknown accounts)";

/// Counts of what the core did over a run: the replay summary, and the figures metrics
/// export.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    /// Non-blank records read.
    pub records: u64,
    pub decoded: BTreeMap<Format, u64>,
    /// Rejections by reason, then by the format they were judged as (`None` when the
    /// format was never known, e.g. oversized under auto-detection).
    pub rejected: BTreeMap<RejectReason, BTreeMap<Option<Format>, u64>>,
    /// Non-interactive events (counted, never scored).
    pub non_interactive: u64,
    /// Events from private, loopback, link-local, multicast or unspecified addresses:
    /// processed, but they place nobody (`decode::fields::is_unroutable`).
    pub unroutable: u64,
    /// Account names not in the roster, with how often each was seen.
    pub unknown_users: BTreeMap<String, u64>,
    /// Account names that match several employees (`name (E1, E2)`), with how often each
    /// was seen: logins no employee is judged on until the roster says whose they are.
    pub ambiguous_users: BTreeMap<String, u64>,
    /// Account names that imitate an employee's through Unicode folding (`name → E1`), with
    /// how often each was seen: refused, reported.
    pub confusable_users: BTreeMap<String, u64>,
    pub alerts_by_rule: BTreeMap<String, u64>,
    pub alerts_by_severity: BTreeMap<Severity, u64>,
}

/// Count one more login under `name`. Bounded: a stream of junk account names must not
/// grow the tally forever, so past [`MAX_UNKNOWN_NAMES`] new names count under
/// [`OTHER_UNKNOWN`].
fn count_name(names: &mut BTreeMap<String, u64>, name: String) {
    let key = if names.len() < MAX_UNKNOWN_NAMES || names.contains_key(&name) {
        name
    } else {
        OTHER_UNKNOWN.to_owned()
    };
    *names.entry(key).or_default() += 1;
}

impl Tally {
    /// Count one processed record.
    pub fn count(&mut self, p: &Processed) {
        match p {
            Processed::Blank => return,
            Processed::Rejected(r) => {
                *self
                    .rejected
                    .entry(r.reason)
                    .or_default()
                    .entry(r.format)
                    .or_default() += 1;
            }
            Processed::UnknownUser {
                event, ambiguous, ..
            } if !ambiguous.is_empty() => {
                self.count_event(event);
                let ids: Vec<&str> = ambiguous.iter().map(|e| e.0.as_str()).collect();
                let key = format!("{} ({})", event.user.to_lowercase(), ids.join(", "));
                count_name(&mut self.ambiguous_users, key);
            }
            Processed::UnknownUser {
                event,
                imitates: Some(who),
                ..
            } => {
                self.count_event(event);
                count_name(
                    &mut self.confusable_users,
                    format!("{} → {}", event.user, who.0),
                );
            }
            Processed::UnknownUser { event, .. } => {
                self.count_event(event);
                count_name(&mut self.unknown_users, event.user.to_lowercase());
            }
            Processed::Resolved(r) => self.count_event(&r.event),
        }
        self.records += 1;
    }

    /// Count one alert line (opened or escalated).
    pub fn count_alert(&mut self, a: &Alert) {
        for r in &a.rules {
            *self.alerts_by_rule.entry(r.clone()).or_default() += 1;
        }
        *self.alerts_by_severity.entry(a.severity).or_default() += 1;
    }

    fn count_event(&mut self, event: &LoginEvent) {
        *self.decoded.entry(event.format).or_default() += 1;
        if crate::decode::fields::is_unroutable(event.ip) {
            self.unroutable += 1;
        }
        if !event.kind.is_interactive() {
            self.non_interactive += 1;
        }
    }

    /// Records rejected for any reason.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().flat_map(|m| m.values()).sum()
    }

    /// Events whose account is not in the roster.
    pub fn unknown_user_events(&self) -> u64 {
        self.unknown_users.values().sum()
    }

    /// Alerts raised.
    pub fn alerts_total(&self) -> u64 {
        self.alerts_by_severity.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::EnrichConfig;
    use std::path::Path;

    fn fixtures() -> (Roster, Enricher) {
        // The repository's examples, two levels above this crate.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let roster_csv = std::fs::read(root.join("examples/roster.csv")).unwrap();
        let roster = Roster::from_bytes(&roster_csv, crate::roster::RosterFormat::Csv).unwrap();
        let geo = root.join("examples/geoip");
        let enricher = crate::enrich::enricher::from_files(&EnrichConfig {
            city: Some(geo.join("demo-city.mmdb")),
            asn: Some(geo.join("demo-asn.mmdb")),
            anonymous_ip: Some(geo.join("demo-anonymous-ip.mmdb")),
            ..EnrichConfig::default()
        })
        .unwrap();
        (roster, enricher)
    }

    fn okta(user: &str, ip: &str, event_type: &str) -> Vec<u8> {
        format!(
            r#"{{"actor":{{"alternateId":"{user}","type":"User"}},"eventType":"{event_type}","outcome":{{"result":"SUCCESS"}},"published":"2026-11-03T14:00:00.000Z","client":{{"ipAddress":"{ip}"}},"uuid":"u-1"}}"#
        )
        .into_bytes()
    }

    fn process(record: &[u8]) -> Processed {
        let (roster, enricher) = fixtures();
        Pipeline::default().process(record, FormatChoice::Auto, &roster, &enricher)
    }

    #[test]
    fn resolves_through_an_alias_and_enriches() {
        // CORP\anguyen is E1001's alias; 2001:db8:100::/48 is Tokyo in the demo databases.
        let p = process(&okta(
            r"CORP\\ANGUYEN",
            "2001:db8:100:1::5",
            "user.session.start",
        ));
        let Processed::Resolved(r) = p else {
            panic!("{p:?}")
        };
        assert_eq!(r.employee.0, "E1001");
        assert_eq!(r.geo.country.as_deref(), Some("JP"));
        assert_eq!(r.event.ip.to_string(), "2001:db8:100:1::5");
    }

    #[test]
    fn unknown_accounts_are_kept_with_their_enrichment() {
        let p = process(&okta(
            "intruder@corp.example",
            "2001:db8:100:1::5",
            "user.session.start",
        ));
        let Processed::UnknownUser { event, geo, .. } = p else {
            panic!("{p:?}")
        };
        assert_eq!(event.user, "intruder@corp.example");
        assert_eq!(geo.country.as_deref(), Some("JP"));
    }

    #[test]
    fn tally_counts_every_outcome() {
        let (roster, enricher) = fixtures();
        let pipeline = Pipeline::default();
        let mut tally = Tally::default();
        for r in [
            okta(
                "anguyen@corp.example",
                "2001:db8:100:1::5",
                "user.session.start",
            ),
            okta("anguyen@corp.example", "198.51.100.11", "user.session.end"),
            okta("nobody@corp.example", "198.51.100.11", "user.session.start"),
            b"   ".to_vec(),
            b"{not json".to_vec(),
        ] {
            tally.count(&pipeline.process(&r, FormatChoice::Auto, &roster, &enricher));
        }
        assert_eq!(tally.records, 4, "blank lines are not records");
        assert_eq!(tally.decoded.get(&Format::Okta), Some(&3));
        assert_eq!(tally.non_interactive, 1);
        assert_eq!(tally.unknown_users.get("nobody@corp.example"), Some(&1));
        assert_eq!(tally.rejected_total(), 1);
    }

    #[test]
    fn unknown_account_names_are_bounded() {
        let (roster, enricher) = fixtures();
        let pipeline = Pipeline::default();
        let mut tally = Tally::default();
        for i in 0..MAX_UNKNOWN_NAMES + 5 {
            let record = okta(
                &format!("stranger{i}@corp.example"),
                "198.51.100.11",
                "user.session.start",
            );
            tally.count(&pipeline.process(&record, FormatChoice::Auto, &roster, &enricher));
        }
        assert_eq!(tally.unknown_users.len(), MAX_UNKNOWN_NAMES + 1);
        assert_eq!(tally.unknown_users.get(OTHER_UNKNOWN), Some(&5));
        assert_eq!(tally.unknown_user_events(), (MAX_UNKNOWN_NAMES + 5) as u64);
    }
}
