//! long_session: a VPN session that lasted longer than a day. The State/Treasury/FBI
//! advisory (May 2022) names sessions kept alive for a day or more as an indicator: a
//! laptop in a facilitator's laptop farm stays connected so the operator abroad can reach
//! it by remote desktop at any hour.
//!
//! One long session is as often a laptop left on at home, so the finding is low, and medium
//! only for sessions of several days; a pattern builds up in the risk. Only a duration the
//! source gives (the session end record's `vpn.duration_secs`) is used: pairing start and
//! end records ourselves would be a guess whenever either is lost. Sessions from
//! allowlisted networks (offices, the company's own egress) are infrastructure kept up on
//! purpose and never fire.

use chrono::Duration;
use serde::Deserialize;

use super::{Context, Validate};
use crate::alert::{Evidence, Finding, Severity};
use crate::event::EventKind;

/// The rule's stable name.
pub const NAME: &str = "long_session";

/// `[detect.long_session]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run the rule at all.
    pub enabled: bool,
    /// Sessions longer than this many hours fire. Default 24, the advisory's "a day or
    /// more": no working day needs a tunnel open round the clock.
    pub max_hours: f64,
    /// Severity of a session longer than `max_hours`. Default low: one forgotten laptop.
    pub severity: Severity,
    /// Risk (0–100). Default 20: a low finding alone; repeats and other rules add up.
    pub risk: u8,
    /// Sessions longer than this many hours are rated `very_long_severity`. Default 72:
    /// three days and nights connected is a machine meant to stay reachable, not an
    /// oversight.
    pub very_long_hours: f64,
    /// Severity of a very long session. Default medium.
    pub very_long_severity: Severity,
    /// Risk of a very long session. Default 35, the medium threshold: it alerts alone.
    pub very_long_risk: u8,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            max_hours: 24.0,
            severity: Severity::Low,
            risk: 20,
            very_long_hours: 72.0,
            very_long_severity: Severity::Medium,
            very_long_risk: 35,
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !(self.max_hours.is_finite() && self.max_hours > 0.0) {
            errors.push(format!(
                "detect.{NAME}.max_hours: {} must be a number above 0",
                self.max_hours
            ));
        }
        if !(self.very_long_hours.is_finite() && self.very_long_hours >= self.max_hours) {
            errors.push(format!(
                "detect.{NAME}.very_long_hours: {} must be a number at least max_hours ({})",
                self.very_long_hours, self.max_hours
            ));
        }
        errors.extend(super::risks_above_100(
            NAME,
            &[("risk", self.risk), ("very_long_risk", self.very_long_risk)],
        ));
        errors
    }
}

/// Findings for one event: a VPN session end whose stated duration is too long.
pub fn check(cfg: &Config, ctx: &Context<'_>) -> Vec<Finding> {
    let event = ctx.event;
    if !cfg.enabled || event.kind != EventKind::VpnSessionEnd || ctx.allowlisted {
        return Vec::new();
    }
    let Some(secs) = event.vpn.as_ref().and_then(|v| v.duration_secs) else {
        return Vec::new();
    };
    let hours = secs as f64 / 3600.0;
    if hours <= cfg.max_hours {
        return Vec::new();
    }
    let (severity, risk) = if hours > cfg.very_long_hours {
        (cfg.very_long_severity, cfg.very_long_risk)
    } else {
        (cfg.severity, cfg.risk)
    };
    // A duration too large for a date (a corrupt field) still fires; only the start is
    // left out.
    let started = i64::try_from(secs)
        .ok()
        .and_then(Duration::try_seconds)
        .and_then(|d| event.time.checked_sub_signed(d));
    let session = event
        .session
        .as_deref()
        .map(|s| format!(" {s}"))
        .unwrap_or_default();
    let summary = format!(
        "{}'s VPN session{session} from {} lasted {hours:.1} h, ending {}; sessions longer than \
         {:.0} h are an indicator of a machine kept reachable for someone else",
        ctx.profile.employee_id,
        event.ip,
        event.time.format("%Y-%m-%d %H:%M UTC"),
        cfg.max_hours,
    );
    let evidence = vec![
        Evidence::login(event),
        Evidence::Session {
            session: event.session.clone(),
            started,
            ended: Some(event.time),
            duration_hours: Some((hours * 100.0).round() / 100.0),
            ip: event.ip,
        },
        Evidence::location(ctx.geo),
    ];
    vec![Finding::located(
        NAME, severity, risk, summary, evidence, ctx.geo,
    )]
}

/// The rule, for the registration table in [`super`].
pub struct Rule;

impl super::Detector for Rule {
    const NAME: &'static str = NAME;
    const FAMILY: super::Family = super::Family::Session;
    const CLAIM: super::Claim = super::Claim::Context;
    type Config = Config;
    type State = super::NoState;

    fn observe(cfg: &Config, ctx: &Context<'_>, _state: &mut super::NoState) -> Vec<Finding> {
        check(cfg, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{DecodeContext, decode_as};
    use crate::detect::impossible_travel::tests::{at, event, new_york, with_ctx};
    use crate::enrich::Geo;
    use crate::event::{Format, LoginEvent, VpnSession};

    fn ended(hours: Option<f64>) -> LoginEvent {
        LoginEvent {
            session: Some("gp-1".into()),
            vpn: Some(VpnSession {
                duration_secs: hours.map(|h| (h * 3600.0) as u64),
                ..VpnSession::default()
            }),
            ..event(EventKind::VpnSessionEnd, "203.0.113.9", 0.0)
        }
    }

    fn run(cfg: &Config, event: &LoginEvent, allowlisted: bool) -> Vec<Finding> {
        with_ctx(event, &new_york(), allowlisted, None, |ctx| check(cfg, ctx))
    }

    #[test]
    fn a_thirty_hour_session_fires_low_with_its_span() {
        let found = run(&Config::default(), &ended(Some(30.0)), false);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!((f.rule, f.severity, f.risk), (NAME, Severity::Low, 20));
        assert_eq!(
            f.summary,
            "E1's VPN session gp-1 from 203.0.113.9 lasted 30.0 h, ending 2023-11-14 22:13 UTC; \
             sessions longer than 24 h are an indicator of a machine kept reachable for someone else"
        );
        assert_eq!(
            f.evidence[1],
            Evidence::Session {
                session: Some("gp-1".into()),
                started: Some(at(-30.0 * 60.0)),
                ended: Some(at(0.0)),
                duration_hours: Some(30.0),
                ip: "203.0.113.9".parse().unwrap(),
            }
        );
    }

    #[test]
    fn a_session_of_days_is_medium() {
        let found = run(&Config::default(), &ended(Some(80.0)), false);
        assert_eq!((found[0].severity, found[0].risk), (Severity::Medium, 35));
    }

    #[test]
    fn a_working_day_or_no_duration_does_not_fire() {
        assert_eq!(run(&Config::default(), &ended(Some(8.0)), false), vec![]);
        assert_eq!(run(&Config::default(), &ended(Some(24.0)), false), vec![]);
        assert_eq!(run(&Config::default(), &ended(None), false), vec![]);
        let no_vpn = LoginEvent {
            vpn: None,
            ..ended(None)
        };
        assert_eq!(run(&Config::default(), &no_vpn, false), vec![]);
    }

    #[test]
    fn only_session_ends_from_unlisted_networks_count() {
        let start = LoginEvent {
            kind: EventKind::VpnSessionStart,
            ..ended(Some(30.0))
        };
        assert_eq!(run(&Config::default(), &start, false), vec![]);
        assert_eq!(run(&Config::default(), &ended(Some(30.0)), true), vec![]);
        let off = Config {
            enabled: false,
            ..Config::default()
        };
        assert_eq!(run(&off, &ended(Some(30.0)), false), vec![]);
    }

    #[test]
    fn an_absurd_duration_fires_without_a_start() {
        let mut e = ended(None);
        e.vpn = Some(VpnSession {
            duration_secs: Some(u64::MAX),
            ..VpnSession::default()
        });
        let found = run(&Config::default(), &e, false);
        assert!(matches!(
            found[0].evidence[1],
            Evidence::Session { started: None, .. }
        ));
    }

    #[test]
    fn a_decoded_cisco_anyconnect_disconnect_of_43_hours() {
        // The ASA 113019 record the decoder is tested with (1d 19h:41m:14s).
        let text = "<164>Oct 01 2014 00:05:44 fff-vpn-cluster-2 : %ASA-4-113019: Group = \
                    apple_short, Username = idan, IP = 44.188.239.218, Session disconnected. \
                    Session Type: SSL, Duration: 1d 19h:41m:14s, Bytes xmt: 187346964, \
                    Bytes rcv: 28559584, Reason: User Requested";
        let event = decode_as(text, Format::CiscoAsa, &DecodeContext::default()).unwrap();
        let found = with_ctx(&event, &Geo::default(), false, None, |ctx| {
            check(&Config::default(), ctx)
        });
        assert_eq!(found[0].severity, Severity::Low);
        assert!(
            found[0].summary.contains("lasted 43.7 h"),
            "{}",
            found[0].summary
        );
    }

    #[test]
    fn config_errors() {
        assert!(Config::default().validate().is_empty());
        let bad = Config {
            max_hours: 0.0,
            very_long_hours: 10.0,
            risk: 101,
            very_long_risk: 101,
            ..Config::default()
        };
        let errors = bad.validate();
        assert_eq!(errors.len(), 3, "{errors:?}");
        let inverted = Config {
            very_long_hours: 12.0,
            ..Config::default()
        };
        assert_eq!(inverted.validate().len(), 1);
    }
}
