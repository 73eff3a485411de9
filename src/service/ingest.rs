//! The ingest stage: input topics → decode → resolve → enrich → `driftwatch.logins` keyed
//! (and partitioned) by employee, and interactive logins onto `driftwatch.network` keyed by
//! network. Bad records and logins of accounts the roster does not know go to
//! `driftwatch.dlq` with the reason and the source coordinates in headers.

use std::collections::HashMap;
use std::sync::Arc;

use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};

use super::kafka::Outbox;
use super::metrics::Metrics;
use super::stage::payload;
use super::wire::{LoginRecord, Source, partition_for};
use crate::decode::{FormatChoice, RejectReason};
use crate::enrich::{DatabaseKind, Enricher, network_key};
use crate::pipeline::{Pipeline, Processed};
use crate::roster::Roster;

/// Where ingest writes and how those topics are partitioned.
#[derive(Debug, Clone)]
pub struct IngestTopics {
    pub logins: String,
    pub logins_partitions: i32,
    pub network: String,
    pub network_partitions: i32,
    pub dlq: String,
    pub dlq_partitions: i32,
}

/// The ingest stage's fixed parts.
pub struct Ingest {
    pub pipeline: Pipeline,
    /// Format of each input topic.
    pub formats: HashMap<String, FormatChoice>,
    pub topics: IngestTopics,
    /// Also dead-letter well-formed records that are not logins.
    pub include_filtered: bool,
    pub metrics: Arc<Metrics>,
    /// The databases configured, for the lookup metric.
    pub databases: Vec<DatabaseKind>,
}

/// Why a record went to the dead-letter topic, beyond the decoder's reasons.
pub const UNKNOWN_USER: &str = "unknown_user";

impl Ingest {
    /// Process one batch of input records into `outbox`.
    pub fn apply(
        &self,
        batch: &[OwnedMessage],
        roster: &Roster,
        enricher: &Enricher,
        outbox: &mut Outbox,
    ) {
        let t = &self.topics;
        for m in batch {
            let topic = m.topic();
            let format = self.formats.get(topic).copied().unwrap_or_default();
            let source = Source {
                topic: topic.to_owned(),
                partition: m.partition(),
                offset: m.offset(),
            };
            match self.pipeline.process(payload(m), format, roster, enricher) {
                Processed::Blank => {
                    self.consumed(topic, "blank");
                }
                Processed::Rejected(r) => {
                    let fmt = r
                        .format
                        .map_or_else(|| format_label(format), |f| f.as_str());
                    self.consumed(topic, fmt);
                    self.metrics
                        .records_rejected
                        .with_label_values(&[topic, fmt, r.reason.as_str()])
                        .inc();
                    if r.reason != RejectReason::NotALogin || self.include_filtered {
                        self.dead_letter(outbox, m, &source, r.reason.as_str(), &r.detail, fmt);
                    }
                }
                Processed::UnknownUser { event, geo } => {
                    let fmt = event.format.as_str();
                    self.consumed(topic, fmt);
                    self.metrics.observe_geo(&geo, &self.databases);
                    self.metrics.unknown_users.with_label_values(&[topic]).inc();
                    // Not bad input, but a login HR cannot vouch for: kept where an analyst
                    // can find it, and counted.
                    let detail = "account is not in the roster";
                    self.dead_letter(outbox, m, &source, UNKNOWN_USER, detail, fmt);
                }
                Processed::Resolved(r) => {
                    let fmt = r.event.format.as_str();
                    self.consumed(topic, fmt);
                    self.metrics.observe_geo(&r.geo, &self.databases);
                    self.metrics.observe_login_country(r.geo.country.as_deref());
                    self.metrics.observe_event_lag("ingest", r.event.time);
                    let interactive = r.event.kind.is_interactive();
                    let rec = LoginRecord {
                        employee: r.employee,
                        event: r.event,
                        geo: Arc::unwrap_or_clone(r.geo),
                        source,
                    };
                    let value = serde_json::to_vec(&rec).unwrap_or_default();
                    let key = rec.employee.0.as_bytes();
                    outbox.send(
                        &t.logins,
                        partition_for(key, t.logins_partitions),
                        key,
                        &value,
                        None,
                    );
                    if interactive {
                        let net = network_key(rec.event.ip).to_string();
                        outbox.send(
                            &t.network,
                            partition_for(net.as_bytes(), t.network_partitions),
                            net.as_bytes(),
                            &value,
                            None,
                        );
                    }
                }
            }
        }
    }

    fn consumed(&self, topic: &str, format: &str) {
        self.metrics
            .records_consumed
            .with_label_values(&[topic, format])
            .inc();
    }

    fn dead_letter(
        &self,
        outbox: &mut Outbox,
        m: &OwnedMessage,
        source: &Source,
        reason: &str,
        detail: &str,
        format: &str,
    ) {
        dead_letter(
            outbox,
            &self.topics.dlq,
            self.topics.dlq_partitions,
            m,
            source,
            "ingest",
            reason,
            detail,
            format,
        );
        self.metrics
            .dead_lettered
            .with_label_values(&[&source.topic, reason])
            .inc();
    }
}

/// Keep a record that could not be used on the dead-letter topic: the record as it came,
/// with why and from where in headers.
#[allow(clippy::too_many_arguments)]
pub fn dead_letter(
    outbox: &mut Outbox,
    dlq: &str,
    dlq_partitions: i32,
    m: &OwnedMessage,
    source: &Source,
    stage: &str,
    reason: &str,
    detail: &str,
    format: &str,
) {
    let partition = source.partition.rem_euclid(dlq_partitions.max(1));
    let headers = OwnedHeaders::new()
        .insert(header("driftwatch.reason", reason))
        .insert(header("driftwatch.detail", detail))
        .insert(header("driftwatch.format", format))
        .insert(header("driftwatch.stage", stage))
        .insert(header("driftwatch.source.topic", &source.topic))
        .insert(header(
            "driftwatch.source.partition",
            &source.partition.to_string(),
        ))
        .insert(header(
            "driftwatch.source.offset",
            &source.offset.to_string(),
        ));
    outbox.send(
        dlq,
        partition,
        m.key().unwrap_or_default(),
        payload(m),
        Some(headers),
    );
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}

/// The format label before a record was recognised.
fn format_label(choice: FormatChoice) -> &'static str {
    match choice {
        FormatChoice::Auto => "auto",
        FormatChoice::Fixed(f) => f.as_str(),
    }
}
