//! The pure core's data path for one record: decode → resolve → enrich → detect.
//!
//! [`Pipeline::process`] does no I/O: the roster and enricher snapshots are arguments, so
//! every driver (replay now, the Kafka service later) runs the same code and a behaviour is
//! tested once. [`Tally`] counts what happened, for summaries and metrics.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::alert::{Alert, Severity};
use crate::decode::{self, DecodeContext, FormatChoice, RejectReason, Rejection};
use crate::enrich::{Enricher, Geo};
use crate::event::{Format, LoginEvent};
use crate::roster::{EmployeeId, Roster};
use crate::rules::{self, RulesConfig};

/// What became of one record.
#[derive(Debug)]
pub enum Processed {
    /// Blank line: nothing to do, nothing to count as bad.
    Blank,
    /// Did not decode.
    Rejected(Rejection),
    /// Decoded, but the account is not in the roster. Kept visible: an account HR does not
    /// know about matters.
    UnknownUser { event: LoginEvent, geo: Arc<Geo> },
    /// Decoded and resolved; zero or more alerts.
    Scored {
        event: LoginEvent,
        employee: EmployeeId,
        geo: Arc<Geo>,
        alerts: Vec<Alert>,
    },
}

/// The core, configured.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    pub decode: DecodeContext,
    pub rules: RulesConfig,
}

impl Pipeline {
    /// Run one raw record through the core.
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
            return Processed::UnknownUser { event, geo };
        };
        let input = rules::Input {
            event: &event,
            profile,
            geo: &geo,
        };
        let alerts = rules::evaluate(&self.rules, &input)
            .into_iter()
            .map(|f| Alert::from_finding(&profile.employee_id, &event, f))
            .collect();
        let employee = profile.employee_id.clone();
        Processed::Scored {
            event,
            employee,
            geo,
            alerts,
        }
    }
}

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
    /// Account names not in the roster, with how often each was seen.
    pub unknown_users: BTreeMap<String, u64>,
    pub alerts_by_rule: BTreeMap<String, u64>,
    pub alerts_by_severity: BTreeMap<Severity, u64>,
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
            Processed::UnknownUser { event, .. } => {
                self.count_event(event);
                *self
                    .unknown_users
                    .entry(event.user.to_lowercase())
                    .or_default() += 1;
            }
            Processed::Scored { event, alerts, .. } => {
                self.count_event(event);
                for a in alerts {
                    for r in &a.rules {
                        *self.alerts_by_rule.entry(r.clone()).or_default() += 1;
                    }
                    *self.alerts_by_severity.entry(a.severity).or_default() += 1;
                }
            }
        }
        self.records += 1;
    }

    fn count_event(&mut self, event: &LoginEvent) {
        *self.decoded.entry(event.format).or_default() += 1;
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
