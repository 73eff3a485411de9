//! Events of the ingest stage: input records read, rejected, dead-lettered, resolved and
//! enriched.

use super::labels::{Country, LookupResult, RecordFormat, TopicName, database_label};
use super::{Event, Metrics};
use crate::decode::RejectReason;
use crate::enrich::{DatabaseKind, Geo};
use crate::service::ingest::DeadLetterReason;

/// A record read from an input topic, in the format it decoded as (or what stood for it).
/// Counts `driftwatch_records_consumed_total{source,format}`.
#[derive(Debug, Clone, Copy)]
pub struct RecordConsumed<'a> {
    pub topic: TopicName<'a>,
    pub format: RecordFormat,
}

impl Event for RecordConsumed<'_> {
    fn emit(&self, m: &Metrics) {
        let (source, format) = (self.topic.as_str(), self.format.as_str());
        tracing::trace!(source, format, "record consumed");
        m.records_consumed
            .with_label_values(&[source, format])
            .inc();
    }
}

/// A record that did not decode. Counts
/// `driftwatch_records_rejected_total{source,format,reason}`; its dead letter, if it gets
/// one, is a [`RecordDeadLettered`] of its own.
#[derive(Debug, Clone, Copy)]
pub struct RecordRejected<'a> {
    pub topic: TopicName<'a>,
    pub format: RecordFormat,
    pub reason: RejectReason,
}

impl Event for RecordRejected<'_> {
    fn emit(&self, m: &Metrics) {
        let (source, format) = (self.topic.as_str(), self.format.as_str());
        let reason = self.reason.as_str();
        tracing::debug!(source, format, reason, "record rejected");
        m.records_rejected
            .with_label_values(&[source, format, reason])
            .inc();
    }
}

/// A record written to the dead-letter topic. Counts
/// `driftwatch_dead_lettered_total{source,reason}`.
#[derive(Debug, Clone, Copy)]
pub struct RecordDeadLettered<'a> {
    /// The topic the record was read from (an input, or one of driftwatch's own).
    pub topic: TopicName<'a>,
    pub reason: DeadLetterReason,
}

impl Event for RecordDeadLettered<'_> {
    fn emit(&self, m: &Metrics) {
        let (source, reason) = (self.topic.as_str(), self.reason.as_str());
        tracing::debug!(source, reason, "record dead-lettered");
        m.dead_lettered.with_label_values(&[source, reason]).inc();
    }
}

/// A login whose account matches no employee in the roster. Counts
/// `driftwatch_unknown_users_total{source}`.
#[derive(Debug, Clone, Copy)]
pub struct UnknownUserSeen<'a> {
    pub topic: TopicName<'a>,
}

impl Event for UnknownUserSeen<'_> {
    fn emit(&self, m: &Metrics) {
        let source = self.topic.as_str();
        tracing::debug!(source, "login of an account the roster does not know");
        m.unknown_users.with_label_values(&[source]).inc();
    }
}

/// A login from an address that places nobody (private, loopback, link-local, multicast,
/// unspecified); processed all the same. Counts `driftwatch_unroutable_logins_total{source}`.
#[derive(Debug, Clone, Copy)]
pub struct UnroutableLoginSeen<'a> {
    pub topic: TopicName<'a>,
}

impl Event for UnroutableLoginSeen<'_> {
    fn emit(&self, m: &Metrics) {
        let source = self.topic.as_str();
        tracing::debug!(source, "login from an unroutable address");
        m.unroutable_logins.with_label_values(&[source]).inc();
    }
}

/// One enrichment: for each configured database, whether it had an answer for the address.
/// Counts `driftwatch_geoip_lookups_total{database,result}` once per configured database.
///
/// An Anonymous-IP record without any flag set counts as `not_found`: MaxMind stores empty
/// records for some networks, and they say nothing about the address. The enricher caches
/// by address, so this counts enrichments of events, not reads of the database file: the
/// hit rate of the data, not of the cache.
#[derive(Debug, Clone, Copy)]
pub struct LoginEnriched<'a> {
    pub geo: &'a Geo,
    /// The databases configured (`geo.databases` names those that had a record).
    pub configured: &'a [DatabaseKind],
}

impl LoginEnriched<'_> {
    fn result(&self, kind: DatabaseKind) -> LookupResult {
        let had_record = self.geo.databases.iter().any(|b| b.kind == kind);
        if had_record && (kind != DatabaseKind::AnonymousIp || self.geo.anonymous.is_some()) {
            LookupResult::Found
        } else {
            LookupResult::NotFound
        }
    }
}

impl Event for LoginEnriched<'_> {
    fn emit(&self, m: &Metrics) {
        let mut found = 0;
        for &kind in self.configured {
            let result = self.result(kind);
            found += usize::from(result == LookupResult::Found);
            m.geoip_lookups
                .with_label_values(&[database_label(kind), result.as_str()])
                .inc();
        }
        tracing::trace!(databases = self.configured.len(), found, "login enriched");
    }
}

/// A resolved login, by the country of its address. Counts
/// `driftwatch_logins_by_country_total{country}`.
#[derive(Debug, Clone, Copy)]
pub struct LoginLocated {
    pub country: Country,
}

impl Event for LoginLocated {
    fn emit(&self, m: &Metrics) {
        let country = self.country.as_str();
        tracing::trace!(country, "login located");
        m.logins_by_country.with_label_values(&[country]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::FormatChoice;
    use crate::event::Format;
    use crate::telemetry::testing::{Case, describe, emit, input, ip, maxmind};

    #[test]
    fn each_record_event_counts_its_one_series_and_logs_its_labels() {
        let okta = input("logins.okta", FormatChoice::Fixed(Format::Okta));
        let topic = TopicName::from(&okta);
        let m = Metrics::new();
        m.preregister_input(topic, okta.format);
        let reason = RejectReason::MissingIp;
        let cases: Vec<Case> = vec![
            (
                Box::new(RecordConsumed {
                    topic,
                    format: Format::Okta.into(),
                }),
                "driftwatch_records_consumed_total{format=\"okta\",source=\"logins.okta\"} 0 -> 1",
                &[("source", "logins.okta"), ("format", "okta")],
            ),
            (
                Box::new(RecordRejected {
                    topic,
                    format: okta.format.into(),
                    reason,
                }),
                "driftwatch_records_rejected_total{format=\"okta\",reason=\"missing_ip\",source=\"logins.okta\"} 0 -> 1",
                &[("source", "logins.okta"), ("reason", "missing_ip")],
            ),
            (
                Box::new(RecordDeadLettered {
                    topic,
                    reason: DeadLetterReason::UnknownUser,
                }),
                "driftwatch_dead_lettered_total{reason=\"unknown_user\",source=\"logins.okta\"} 0 -> 1",
                &[("source", "logins.okta"), ("reason", "unknown_user")],
            ),
            (
                Box::new(UnknownUserSeen { topic }),
                "driftwatch_unknown_users_total{source=\"logins.okta\"} 0 -> 1",
                &[("source", "logins.okta")],
            ),
            (
                Box::new(UnroutableLoginSeen { topic }),
                "driftwatch_unroutable_logins_total{source=\"logins.okta\"} - -> 1",
                &[("source", "logins.okta")],
            ),
            (
                Box::new(LoginLocated {
                    country: Country::of(Some("GB")),
                }),
                "driftwatch_logins_by_country_total{country=\"GB\"} - -> 1",
                &[("country", "GB")],
            ),
        ];
        for (event, counted, logged) in cases {
            let (changes, lines) = emit(&m, event.as_ref());
            assert_eq!(describe(&changes), [counted]);
            assert_eq!(lines.len(), 1, "{lines:?}");
            for (k, v) in logged {
                assert_eq!(lines[0].fields.get(*k).map(String::as_str), Some(*v), "{k}");
            }
            assert_eq!(lines[0].target, "driftwatch::telemetry::ingest");
        }
    }

    /// London (City + Anonymous-IP), Milton WA (City + ASN), Telstra (ASN only),
    /// TEST-NET-1 (nothing).
    #[test]
    fn an_enrichment_counts_each_configured_database_once() {
        let enricher = maxmind();
        let configured: Vec<DatabaseKind> = enricher.databases().iter().map(|d| d.kind).collect();
        let m = Metrics::new();
        let geo = enricher.lookup_uncached(ip("81.2.69.142"));
        let (changes, lines) = emit(
            &m,
            &LoginEnriched {
                geo: &geo,
                configured: &configured,
            },
        );
        assert_eq!(
            describe(&changes),
            [
                "driftwatch_geoip_lookups_total{database=\"anonymous_ip\",result=\"found\"} 0 -> 1",
                "driftwatch_geoip_lookups_total{database=\"asn\",result=\"not_found\"} 0 -> 1",
                "driftwatch_geoip_lookups_total{database=\"city\",result=\"found\"} 0 -> 1",
            ]
        );
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].fields.get("found").map(String::as_str), Some("2"));
        // Only what is configured is counted.
        let (changes, _) = emit(
            &m,
            &LoginEnriched {
                geo: &geo,
                configured: &[DatabaseKind::City],
            },
        );
        assert_eq!(
            describe(&changes),
            ["driftwatch_geoip_lookups_total{database=\"city\",result=\"found\"} 1 -> 2"]
        );
    }
}
