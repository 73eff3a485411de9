//! Risk: findings add to a per-employee score that decays with a half-life; crossing a
//! severity threshold opens an alert, and a rising risk (or a new rule joining) updates
//! that same alert — same id — instead of opening a duplicate.
//!
//! The score is kept per rule: a rule's contribution is the larger of its decayed value and
//! the new finding's risk, plus a small step for every repeat, so a hundred identical
//! findings (one login seen by Okta, MFA and SSO records) do not add up to a hundred
//! alerts' worth of risk, while persistence still counts.
//!
//! Rules that read the same evidence form a family ([`crate::detect::family`]): where the
//! logins are (claimed_location, impossible_travel, concurrent_sessions, novelty,
//! sanctioned_region), when (working_hours), through what (anonymizer), with whom
//! (shared_infrastructure). A family counts once, by its strongest rule: a login abroad seen
//! as "abroad" and as "too fast from home" is one piece of evidence, not two. Families add
//! up, capped at 100: agreeing independent signals page where one alone would not. Families
//! below the low threshold are context, and add at most just under it together: context
//! explains, it never turns one signal into a page. Adding a finding never lowers the
//! score.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{
    Alert, AlertStatus, Evidence, Finding, FindingNote, Severity, alert_id, sentence,
};
use crate::event::LoginEvent;
use crate::roster::EmployeeId;

/// `[risk]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Hours for a contribution to halve. Default 168 (a week): working-hours and
    /// anonymizer evidence builds over weeks, and an analyst looks back about that far.
    pub half_life_hours: f64,
    /// Score at which each severity is reached. Defaults 15 / 35 / 60 / 85.
    pub low: f64,
    pub medium: f64,
    pub high: f64,
    pub critical: f64,
    /// The least severity that opens an alert. Default medium: low findings (novelty,
    /// one-off VPN use) are context, not pages.
    pub alert_at: Severity,
    /// Share of a finding's risk a repeat of the same rule adds on top. Default 0.1.
    pub repeat_step: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            half_life_hours: 168.0,
            low: 15.0,
            medium: 35.0,
            high: 60.0,
            critical: 85.0,
            alert_at: Severity::Medium,
            repeat_step: 0.1,
        }
    }
}

impl Config {
    /// Every problem with these settings.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.half_life_hours.is_nan() || self.half_life_hours <= 0.0 {
            errors.push("risk.half_life_hours must be above 0".to_owned());
        }
        let t = [self.low, self.medium, self.high, self.critical];
        if !t.windows(2).all(|w| w[0] < w[1]) || t[0] <= 0.0 || t[3] > 100.0 {
            errors.push(
                "risk thresholds must rise: 0 < low < medium < high < critical <= 100".to_owned(),
            );
        }
        if !(0.0..=1.0).contains(&self.repeat_step) {
            errors.push("risk.repeat_step must be between 0 and 1".to_owned());
        }
        errors
    }

    /// The severity a score reaches, if any.
    pub fn level(&self, score: f64) -> Option<Severity> {
        [
            (self.critical, Severity::Critical),
            (self.high, Severity::High),
            (self.medium, Severity::Medium),
            (self.low, Severity::Low),
        ]
        .into_iter()
        .find(|(t, _)| score >= *t)
        .map(|(_, s)| s)
    }
}

/// The score of per-rule contributions: per family its strongest rule; families at or above
/// the low threshold add up, and those below it (context: an in-country distance, a new
/// network, two colleagues on one carrier address) add at most just under the low
/// threshold together, so context never turns one signal into a page. At most 100.
fn score<'a>(cfg: &Config, by_rule: impl Iterator<Item = (&'a str, f64)>) -> f64 {
    let mut families: BTreeMap<&str, f64> = BTreeMap::new();
    for (rule, v) in by_rule {
        let slot = families.entry(crate::detect::family(rule)).or_insert(0.0);
        *slot = slot.max(v);
    }
    let (signals, context): (Vec<f64>, Vec<f64>) = families.values().partition(|v| **v >= cfg.low);
    let context_cap = (cfg.low - 1.0).max(0.0);
    (signals.iter().sum::<f64>() + context.iter().sum::<f64>().min(context_cap)).min(100.0)
}

/// The alert an employee has open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAlert {
    pub id: String,
    pub opened: DateTime<Utc>,
    pub severity: Severity,
    pub rules: Vec<String>,
    /// What the alert's lines said so far ([`SoFar`] as JSON: evidence is an internally
    /// tagged enum, which the state's binary form cannot read back), carried by every
    /// escalation.
    pub so_far: Vec<u8>,
}

/// An open alert's findings and evidence so far, each once, in the order they came.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SoFar {
    pub findings: Vec<FindingNote>,
    pub evidence: Vec<Evidence>,
}

/// Most findings an alert carries; later ones still count and still escalate, but the
/// first ones say why it opened.
pub const MAX_FINDINGS: usize = 16;
/// Most pieces of evidence an alert carries.
pub const MAX_EVIDENCE: usize = 32;

impl SoFar {
    fn read(bytes: &[u8]) -> SoFar {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    /// Add what one line's findings say; what was said already is not repeated.
    fn add(&mut self, findings: Vec<Finding>) {
        for f in findings {
            let note = FindingNote::of(&f);
            if !self.findings.contains(&note) && self.findings.len() < MAX_FINDINGS {
                self.findings.push(note);
            }
            for ev in f.evidence {
                if !self.evidence.contains(&ev) && self.evidence.len() < MAX_EVIDENCE {
                    self.evidence.push(ev);
                }
            }
        }
    }
}

/// Each rule's contribution to an employee's risk: a handful at most, one per rule, held
/// for every tracked employee, so a sorted vector (a map's smallest node is some 400 bytes)
/// with the rules' names borrowed from the rule table. Read and written as the map it
/// was, in JSON and on the changelog alike.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "BTreeMap<String, f64>", into = "BTreeMap<String, f64>")]
pub struct RuleScores(Vec<(Cow<'static, str>, f64)>);

impl RuleScores {
    fn find(&self, rule: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(r, _)| (**r).cmp(rule))
    }

    /// The contribution of `rule`, if it has one.
    pub fn get(&self, rule: &str) -> Option<&f64> {
        self.find(rule).ok().map(|i| &self.0[i].1)
    }

    /// The contribution of `rule` (a rule table name, as findings carry it), made 0 if it
    /// had none.
    pub fn slot(&mut self, rule: &'static str) -> &mut f64 {
        let i = match self.find(rule) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (Cow::Borrowed(rule), 0.0));
                i
            }
        };
        &mut self.0[i].1
    }

    /// Take `rule`'s contribution away.
    pub fn remove(&mut self, rule: &str) -> Option<f64> {
        self.find(rule).ok().map(|i| self.0.remove(i).1)
    }

    /// Every rule with its contribution, by rule name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(r, v)| (&**r, *v))
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut f64> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    /// Keep the contributions `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, f64) -> bool) {
        let before = self.0.len();
        self.0.retain(|(r, v)| keep(r, *v));
        // Given back only when something went: a rule added next would grow it again.
        if self.0.len() < before {
            self.0.shrink_to_fit();
        }
    }
}

/// A rule's name from the rule table when it is one (no copy), else its own copy.
fn rule_name(rule: &str) -> Cow<'static, str> {
    match crate::detect::NAMES.iter().find(|n| **n == rule) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(rule.to_owned()),
    }
}

impl From<BTreeMap<String, f64>> for RuleScores {
    fn from(map: BTreeMap<String, f64>) -> RuleScores {
        // A map's keys come sorted, as `find` needs them.
        RuleScores(map.into_iter().map(|(r, v)| (rule_name(&r), v)).collect())
    }
}

impl From<RuleScores> for BTreeMap<String, f64> {
    fn from(scores: RuleScores) -> Self {
        scores
            .0
            .into_iter()
            .map(|(r, v)| (r.into_owned(), v))
            .collect()
    }
}

impl<const N: usize> From<[(String, f64); N]> for RuleScores {
    fn from(pairs: [(String, f64); N]) -> RuleScores {
        BTreeMap::from(pairs).into()
    }
}

/// An employee's risk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// Decayed contribution per rule, as of `updated`.
    pub by_rule: RuleScores,
    pub updated: Option<DateTime<Utc>>,
    pub open: Option<OpenAlert>,
}

impl State {
    /// The score at `now` (decayed, never negative, at most 100).
    pub fn score_at(&self, cfg: &Config, now: DateTime<Utc>) -> f64 {
        let f = self.decay_factor(cfg, now);
        score(cfg, self.by_rule.iter().map(|(r, v)| (r, v * f)))
    }

    /// The score as of `updated`.
    fn total(&self, cfg: &Config) -> f64 {
        score(cfg, self.by_rule.iter())
    }

    fn decay_factor(&self, cfg: &Config, now: DateTime<Utc>) -> f64 {
        match self.updated {
            // Events earlier than the last update (late arrivals) do not un-decay.
            Some(t) if now > t => {
                let hours = (now - t).num_milliseconds() as f64 / 3.6e6;
                0.5f64.powf(hours / cfg.half_life_hours)
            }
            _ => 1.0,
        }
    }

    fn decay_to(&mut self, cfg: &Config, now: DateTime<Utc>) {
        let f = self.decay_factor(cfg, now);
        for v in self.by_rule.values_mut() {
            *v *= f;
        }
        // Contributions that decayed to nothing are forgotten: bounded state.
        self.by_rule.retain(|_, v| v >= 0.5);
        if self.updated.is_none_or(|t| now > t) {
            self.updated = Some(now);
        }
    }
}

/// Fold one event's findings into the risk; returns the alert to emit, if the event opens
/// one or raises / widens the open one.
pub fn apply(
    cfg: &Config,
    state: &mut State,
    employee: &EmployeeId,
    event: &LoginEvent,
    findings: Vec<Finding>,
) -> Option<Alert> {
    if findings.is_empty() {
        // Nothing to add. Decay is a function of time, so it is applied lazily when
        // something is added; only an open episode needs a look, to close it once the risk
        // has decayed away (the next crossing then opens a new alert).
        if state.open.is_some()
            && cfg
                .level(state.score_at(cfg, event.time))
                .is_none_or(|l| l < Severity::Low)
        {
            state.open = None;
        }
        return None;
    }
    state.decay_to(cfg, event.time);
    let score_before = state.total(cfg);
    if state.open.is_some() && cfg.level(score_before).is_none_or(|l| l < Severity::Low) {
        state.open = None;
    }
    for f in &findings {
        let slot = state.by_rule.slot(f.rule);
        let risk = f64::from(f.risk.min(100));
        *slot = slot.max(risk)
            + if *slot > 0.0 {
                cfg.repeat_step * risk
            } else {
                0.0
            };
        *slot = slot.min(100.0);
    }
    let score = state.total(cfg);
    let strongest = findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Low);
    // A high or critical finding (a sanctioned region, a login abroad) is worth an alert at
    // once; weaker ones must add up.
    let from_findings = (strongest >= Severity::High).then_some(strongest);
    let severity = cfg.level(score).max(from_findings)?;
    if severity < cfg.alert_at {
        return None;
    }
    let rules_now: Vec<String> = findings.iter().map(|f| f.rule.to_owned()).collect();
    let (id, status, rules) = match &mut state.open {
        None => {
            let id = alert_id(findings[0].rule, employee, event);
            let mut rules = rules_now.clone();
            rules.sort();
            rules.dedup();
            state.open = Some(OpenAlert {
                id: id.clone(),
                opened: event.time,
                severity,
                rules: rules.clone(),
                so_far: Vec::new(),
            });
            (id, AlertStatus::Open, rules)
        }
        Some(open) => {
            // A rule joining the open alert is news when it says something on its own (at
            // least the level that opens an alert). Weaker context joins silently: it is in
            // the score, but the alert's rules are those of its lines, so what an analyst
            // reads does not depend on when another stage's context arrived.
            let news = findings
                .iter()
                .any(|f| f.severity >= cfg.alert_at && !open.rules.iter().any(|r| r == f.rule));
            if severity <= open.severity && !news {
                return None;
            }
            open.severity = open.severity.max(severity);
            open.rules.extend(rules_now);
            open.rules.sort();
            open.rules.dedup();
            (open.id.clone(), AlertStatus::Escalated, open.rules.clone())
        }
    };
    let summary = findings
        .iter()
        .map(|f| sentence(&f.summary))
        .collect::<Vec<_>>()
        .join(" ");
    // Everything the alert's lines said so far, each once (rules that read the same login
    // each describe it): an escalation page carries the whole case.
    let open = state.open.as_mut()?;
    let mut so_far = SoFar::read(&open.so_far);
    so_far.add(findings);
    open.so_far = serde_json::to_vec(&so_far).unwrap_or_default();
    let severity = open.severity;
    Some(Alert {
        id,
        status,
        employee_id: employee.clone(),
        time: event.time,
        severity,
        rules,
        risk: score.round() as u8,
        summary,
        findings: so_far.findings,
        evidence: so_far.evidence,
        detected_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Format, Outcome};
    use proptest::prelude::*;

    /// The compact scores answer as the map they replaced did, and read and write its JSON
    /// and changelog bytes.
    #[test]
    fn rule_scores_keep_the_format_and_the_answers_of_a_map() {
        let mut scores = RuleScores::default();
        let mut map: BTreeMap<String, f64> = BTreeMap::new();
        for (rule, v) in [
            ("working_hours", 40.0),
            ("anonymizer", 10.0),
            ("not_a_rule_any_more", 3.0),
            ("claimed_location", 70.0),
            ("anonymizer", 5.0),
        ] {
            *scores.slot(rule) += v;
            *map.entry(rule.to_owned()).or_insert(0.0) += v;
        }
        assert_eq!(scores.remove("working_hours"), map.remove("working_hours"));
        assert_eq!(scores.remove("working_hours"), None);
        scores.retain(|_, v| v >= 5.0);
        map.retain(|_, v| *v >= 5.0);
        let pairs: Vec<(&str, f64)> = map.iter().map(|(r, v)| (r.as_str(), *v)).collect();
        assert_eq!(scores.iter().collect::<Vec<_>>(), pairs);
        assert_eq!(scores.get("anonymizer"), Some(&15.0));
        assert_eq!(scores.get("working_hours"), None);
        assert_eq!(
            serde_json::to_string(&scores).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        let bytes = postcard::to_stdvec(&scores).unwrap();
        assert_eq!(bytes, postcard::to_stdvec(&map).unwrap());
        assert_eq!(postcard::from_bytes::<RuleScores>(&bytes).unwrap(), scores);
    }

    fn event(hours: i64) -> LoginEvent {
        LoginEvent::new(
            Format::Okta,
            DateTime::from_timestamp(1_700_000_000 + hours * 3600, 0).unwrap(),
            "a".into(),
            "192.0.2.1".parse().unwrap(),
            EventKind::InteractiveLogin,
            Outcome::Success,
        )
    }

    /// `apply` for employee E1 at `hours` after the tests' epoch.
    fn step(cfg: &Config, s: &mut State, hours: i64, findings: Vec<Finding>) -> Option<Alert> {
        apply(cfg, s, &EmployeeId("E1".into()), &event(hours), findings)
    }

    fn finding(rule: &'static str, severity: Severity, risk: u8) -> Finding {
        Finding {
            rule,
            severity,
            risk,
            summary: format!("{rule} fired"),
            evidence: vec![],
        }
    }

    /// Two rules reading the same login both describe it; the line carries each piece of
    /// evidence once, in the order the rules gave them.
    #[test]
    fn a_line_carries_each_piece_of_evidence_once() {
        let (cfg, mut s) = (Config::default(), State::default());
        let database = Evidence::Database {
            database_type: "DBIP-City-Lite".into(),
            build: "2026-11-01".into(),
        };
        let claimed = Evidence::Claimed {
            country: "DE".into(),
            city: None,
            timezone: "Europe/Berlin".into(),
        };
        let with = |rule, evidence: Vec<Evidence>| Finding {
            evidence,
            ..finding(rule, Severity::High, 60)
        };
        let a = step(
            &cfg,
            &mut s,
            0,
            vec![
                with("claimed_location", vec![database.clone(), claimed.clone()]),
                with("anonymizer", vec![database.clone()]),
            ],
        )
        .expect("opens");
        assert_eq!(a.evidence, vec![database, claimed]);
    }

    /// An escalation page carries the whole case: every finding and piece of evidence of
    /// the alert's earlier lines, each once, with this line's news in `summary` as sentences.
    #[test]
    fn an_escalation_carries_the_evidence_and_findings_so_far() {
        let (cfg, mut s) = (Config::default(), State::default());
        let home = Evidence::Claimed {
            country: "US".into(),
            city: None,
            timezone: "America/Denver".into(),
        };
        let vpn = Evidence::Database {
            database_type: "GeoIP2-Anonymous-IP".into(),
            build: "2026-11-01".into(),
        };
        let with = |rule, severity, summary: &str, evidence: Vec<Evidence>| Finding {
            summary: summary.into(),
            evidence,
            ..finding(rule, severity, 60)
        };
        let opened = step(
            &cfg,
            &mut s,
            0,
            vec![with(
                "working_hours",
                Severity::High,
                "works the hours of UTC+8",
                vec![home.clone()],
            )],
        )
        .expect("opens");
        assert_eq!(opened.summary, "works the hours of UTC+8.");
        let escalated = step(
            &cfg,
            &mut s,
            5,
            vec![
                with(
                    "anonymizer",
                    Severity::High,
                    "logged in through a VPN.",
                    vec![vpn.clone(), home.clone()],
                ),
                with(
                    "claimed_location",
                    Severity::Medium,
                    "not in Denver",
                    vec![home.clone()],
                ),
            ],
        )
        .expect("escalates");
        assert_eq!(escalated.id, opened.id);
        assert_eq!(escalated.summary, "logged in through a VPN. not in Denver.");
        assert_eq!(
            escalated.evidence,
            vec![home, vpn],
            "the first line's evidence, then the new, each once"
        );
        let notes: Vec<(&str, &str)> = escalated
            .findings
            .iter()
            .map(|n| (n.rule.as_str(), n.summary.as_str()))
            .collect();
        assert_eq!(
            notes,
            [
                ("working_hours", "works the hours of UTC+8."),
                ("anonymizer", "logged in through a VPN."),
                ("claimed_location", "not in Denver.")
            ]
        );
        // The next alert starts afresh.
        s.open = None;
        let next = step(
            &cfg,
            &mut s,
            400,
            vec![finding("novelty", Severity::High, 60)],
        )
        .unwrap();
        assert_eq!(next.findings.len(), 1);
    }

    #[test]
    fn a_high_finding_opens_an_alert_and_repeats_do_not_duplicate_it() {
        let (cfg, mut s) = (Config::default(), State::default());
        let a = step(
            &cfg,
            &mut s,
            0,
            vec![finding("claimed_location", Severity::High, 60)],
        )
        .expect("opens");
        assert_eq!(a.status, AlertStatus::Open);
        assert_eq!(a.severity, Severity::High);
        for h in 1..5 {
            let again = step(
                &cfg,
                &mut s,
                h,
                vec![finding("claimed_location", Severity::High, 60)],
            );
            assert_eq!(
                again, None,
                "the same rule at the same level updates nothing"
            );
        }
        let escalated = step(
            &cfg,
            &mut s,
            6,
            vec![finding("anonymizer", Severity::Medium, 30)],
        )
        .expect("a new rule widens the alert");
        assert_eq!(escalated.id, a.id, "same alert, same id");
        assert_eq!(escalated.status, AlertStatus::Escalated);
        assert_eq!(escalated.rules, ["anonymizer", "claimed_location"]);
        assert_eq!(
            escalated.severity,
            Severity::Critical,
            "score {}",
            escalated.risk
        );
    }

    #[test]
    fn weak_findings_add_up_before_they_alert() {
        let (cfg, mut s) = (Config::default(), State::default());
        assert_eq!(
            step(&cfg, &mut s, 0, vec![finding("novelty", Severity::Low, 10)]),
            None
        );
        assert_eq!(
            step(
                &cfg,
                &mut s,
                1,
                vec![finding("anonymizer", Severity::Low, 18)]
            ),
            None
        );
        let a = step(
            &cfg,
            &mut s,
            2,
            vec![finding("working_hours", Severity::Medium, 20)],
        )
        .expect("about 48 is medium");
        assert_eq!(a.severity, Severity::Medium);
        assert_eq!(a.risk, 48);
    }

    #[test]
    fn one_family_counts_once_by_its_strongest_rule() {
        let (cfg, mut s) = (Config::default(), State::default());
        // Abroad, and too fast from home: one piece of evidence about where, not two.
        let a = step(
            &cfg,
            &mut s,
            0,
            vec![
                finding("claimed_location", Severity::Medium, 40),
                finding("impossible_travel", Severity::Medium, 40),
            ],
        )
        .expect("medium");
        assert_eq!((a.severity, a.risk), (Severity::Medium, 40));
        // Odd hours are another family: they add.
        let a = step(
            &cfg,
            &mut s,
            0,
            vec![finding("working_hours", Severity::Medium, 30)],
        )
        .expect("escalates");
        assert_eq!((a.severity, a.risk), (Severity::High, 70));
    }

    #[test]
    fn context_alone_never_reaches_the_low_threshold() {
        let (cfg, mut s) = (Config::default(), State::default());
        for rule in [
            "novelty",
            "shared_infrastructure",
            "anonymizer",
            "long_session",
        ] {
            let _ = step(&cfg, &mut s, 0, vec![finding(rule, Severity::Low, 14)]);
        }
        assert_eq!(s.score_at(&cfg, event(0).time), 14.0);
        // With one real signal the context adds, up to its cap.
        let a = step(
            &cfg,
            &mut s,
            0,
            vec![finding("claimed_location", Severity::Medium, 40)],
        )
        .expect("medium");
        assert_eq!(a.risk, 54);
        assert_eq!(a.severity, Severity::Medium);
    }

    #[test]
    fn context_joins_an_open_alert_silently_and_a_signal_joins_with_a_line() {
        let (cfg, mut s) = (Config::default(), State::default());
        let opened = step(
            &cfg,
            &mut s,
            0,
            vec![finding("claimed_location", Severity::Medium, 40)],
        )
        .expect("opens");
        assert_eq!(
            step(
                &cfg,
                &mut s,
                1,
                vec![finding("shared_infrastructure", Severity::Low, 14)]
            ),
            None
        );
        assert_eq!(
            s.open.as_ref().map(|o| o.rules.clone()),
            Some(vec!["claimed_location".to_owned()]),
            "in the score, not in the alert's rules"
        );
        assert_eq!(s.score_at(&cfg, event(1).time).round(), 54.0);
        let joined = step(
            &cfg,
            &mut s,
            2,
            vec![finding("anonymizer", Severity::Medium, 40)],
        )
        .expect("a medium finding from a new rule is news");
        assert_eq!(joined.id, opened.id);
        assert_eq!(joined.status, AlertStatus::Escalated);
        assert_eq!(joined.rules, ["anonymizer", "claimed_location"]);
    }

    #[test]
    fn risk_decays_and_a_new_episode_gets_a_new_id() {
        let (cfg, mut s) = (Config::default(), State::default());
        let first = step(
            &cfg,
            &mut s,
            0,
            vec![finding("claimed_location", Severity::High, 60)],
        )
        .unwrap();
        assert!(
            (s.score_at(&cfg, event(168).time) - 30.0).abs() < 0.01,
            "one half-life halves it"
        );
        // Eight weeks later the risk is gone and the episode closed.
        let later = step(
            &cfg,
            &mut s,
            8 * 168,
            vec![finding("claimed_location", Severity::High, 60)],
        )
        .unwrap();
        assert_eq!(later.status, AlertStatus::Open);
        assert_ne!(later.id, first.id);
    }

    #[test]
    fn thresholds_must_rise() {
        assert!(Config::default().validate().is_empty());
        let bad = Config {
            medium: 10.0,
            ..Config::default()
        };
        assert_eq!(bad.validate().len(), 1);
    }

    proptest! {
        /// More mismatching findings never lower the risk.
        #[test]
        fn more_findings_never_lower_risk(risks in proptest::collection::vec(0u8..=100, 1..30), extra in 0u8..=100) {
            let cfg = Config::default();
                        let rules = ["claimed_location", "anonymizer", "working_hours", "novelty"];
            let mut s = State::default();
            for (i, r) in risks.iter().enumerate() {
                let _ = step(&cfg, &mut s, 0, vec![finding(rules[i % 4], Severity::Medium, *r)]);
            }
            let before = s.score_at(&cfg, event(0).time);
            let _ = step(&cfg, &mut s, 0, vec![finding(rules[extra as usize % 4], Severity::Medium, extra)]);
            prop_assert!(s.score_at(&cfg, event(0).time) >= before);
        }
    }
}
