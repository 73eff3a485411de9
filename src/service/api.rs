//! The analyst API in `driftwatch run`.
//!
//! **Which instance answers for an employee?** Every instance that serves the API answers
//! for every employee, from a materialised view: a reader of its own (no consumer group,
//! every partition from the beginning) follows the compacted state changelog (the
//! employees' states, summarised as they arrive), the alerts topic and the dispositions
//! topic. We chose this over routing each request to the instance owning the employee's
//! partition because the view is small (a summary per employee and the alert lines), reads
//! never wait on a rebalance or a restore, and no instance needs to know the others'
//! addresses. The price is that the view is eventually consistent: a state is visible
//! once its changelog write is read back (well under a second on a healthy cluster).
//!
//! **Dispositions** are produced to the dispositions topic, keyed by employee and
//! co-partitioned with the logins, so the detect stage that owns the employee applies the
//! suppression to the state it holds (and writes it to the changelog); the API answers 202
//! once the broker has the record.
//!
//! **Audit**: each call and disposition is produced to the audit topic (one partition);
//! the audit stage appends it, with the alerts, to the hash-chained audit log.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::Utc;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use super::config::{KafkaConfig, Topics};
use super::context::Context;
use super::error::ServiceError;
use super::http::ApiSlot;
use super::kafka;
use super::wire::{self, MARKER_KEY, Stored};
use crate::api::view::View;
use crate::api::{Audit, Call, Dispositions};
use crate::roster::EmployeeId;
use crate::suppress::Disposition;

/// How long a disposition may wait for the broker before the API answers 503.
const PRODUCE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serve the analyst API when `[api] enabled`: its router goes into `slot` (for the HTTP
/// server), and a view of every employee, whichever instance owns them, is followed from
/// the topics; the follower's thread, `None` when the API is off.
pub fn start(ctx: &Context, slot: &ApiSlot) -> Result<Option<JoinHandle<()>>, ServiceError> {
    let config = &ctx.config;
    if !config.api.enabled {
        return Ok(None);
    }
    let kafka = &ctx.kafka;
    let view = Arc::new(View::new(
        config.risk.clone(),
        config.detect.working_hours.clone(),
    ));
    let feed = follow(kafka, Arc::clone(&view), ctx.cancel.clone())?;
    let meta: BaseConsumer = kafka::client_config(kafka).create()?;
    let producer = kafka::producer(kafka)?;
    let dispositions = KafkaDispositions {
        producer: producer.clone(),
        topic: kafka.topics.dispositions.clone(),
        partitions: kafka::partition_count(&meta, &kafka.topics.dispositions)?,
        runtime: ctx.runtime.clone(),
    };
    let audit = KafkaAudit {
        producer,
        topic: kafka.topics.audit.clone(),
        runtime: ctx.runtime.clone(),
    };
    let router = crate::api::Api::new(
        &config.api,
        view,
        Arc::clone(&ctx.roster),
        Arc::new(dispositions),
        Arc::new(audit),
    )
    .router(config.api.max_body_bytes);
    // Set once per process; a second `run` in one process keeps the first router.
    let _ = slot.set(router);
    Ok(Some(feed))
}

/// Follow the changelog, alerts and dispositions topics into `view` until `stop`.
pub fn follow(
    kafka_config: &KafkaConfig,
    view: Arc<View>,
    stop: CancellationToken,
) -> Result<JoinHandle<()>, ServiceError> {
    let consumer: BaseConsumer = kafka::client_config(kafka_config)
        .set("group.id", format!("{}.api-view", kafka_config.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()?;
    let t = &kafka_config.topics;
    let mut tpl = TopicPartitionList::new();
    for topic in [&t.changelog, &t.alerts, &t.dispositions] {
        for p in 0..kafka::partition_count(&consumer, topic)? {
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
        }
    }
    consumer.assign(&tpl)?;
    let topics = t.clone();
    std::thread::Builder::new()
        .name("api-view".into())
        .spawn(move || {
            while !stop.is_cancelled() {
                match consumer.poll(Duration::from_millis(200)) {
                    Some(Ok(m)) => apply(&view, &topics, &m),
                    Some(Err(e)) => tracing::warn!(error = %e, "api view: read failed"),
                    None => {}
                }
            }
        })
        .map_err(ServiceError::thread("api view"))
}

fn apply(view: &View, t: &Topics, m: &impl Message) {
    let payload = m.payload().unwrap_or_default();
    let topic = m.topic();
    if topic == t.changelog {
        let Some(key) = m.key() else { return };
        if key == MARKER_KEY {
            return;
        }
        let id = EmployeeId(String::from_utf8_lossy(key).into());
        if payload.is_empty() {
            view.remove_state(&id);
            return;
        }
        match Stored::decode(payload) {
            Ok(stored) => view.apply_state(&id, &stored.state),
            Err(e) => tracing::warn!(error = %e, "api view: unreadable state"),
        }
    } else if topic == t.alerts {
        match crate::siem::read_alert(payload) {
            Ok(a) => view.apply_alert(&a),
            Err(e) => tracing::warn!(error = %e, "api view: unreadable alert"),
        }
    } else if topic == t.dispositions {
        match serde_json::from_slice::<Disposition>(payload) {
            Ok(d) => view.apply_disposition(&d),
            Err(e) => tracing::warn!(error = %e, "api view: unreadable disposition"),
        }
    }
}

/// Dispositions onto their topic, keyed and partitioned like the logins.
pub struct KafkaDispositions {
    pub producer: FutureProducer,
    pub topic: String,
    pub partitions: i32,
    pub runtime: Handle,
}

impl Dispositions for KafkaDispositions {
    fn submit(&self, d: &Disposition) -> Result<(), String> {
        let value = serde_json::to_vec(d).map_err(|e| e.to_string())?;
        let key = d.employee_id.0.as_bytes();
        let record = FutureRecord::to(&self.topic)
            .key(key)
            .payload(&value)
            .partition(wire::partition_for(key, self.partitions));
        // The handler waits for the broker's acknowledgement: 202 means it is kept.
        tokio::task::block_in_place(|| {
            self.runtime
                .block_on(self.producer.send(record, PRODUCE_TIMEOUT))
                .map(|_| ())
                .map_err(|(e, _)| e.to_string())
        })
    }
}

/// Audit entries onto the audit topic (one partition, so one order); the audit stage
/// appends them to the log. Fire and forget: an API call is not refused because the audit
/// topic is slow, but a failure is logged.
pub struct KafkaAudit {
    pub producer: FutureProducer,
    pub topic: String,
    pub runtime: Handle,
}

impl KafkaAudit {
    /// Record `kind` by `actor` about `subject` (the audit stage stamps and chains it).
    pub fn record(
        &self,
        kind: &str,
        actor: &str,
        subject: Option<&str>,
        details: serde_json::Value,
    ) {
        self.send(json!({
            "time": Utc::now(),
            "kind": kind,
            "actor": actor,
            "subject": subject,
            "details": details,
        }));
    }

    fn send(&self, entry: serde_json::Value) {
        let value = entry.to_string();
        let producer = self.producer.clone();
        let topic = self.topic.clone();
        self.runtime.spawn(async move {
            let record = FutureRecord::<(), _>::to(&topic)
                .payload(&value)
                .partition(0);
            if let Err((e, _)) = producer.send(record, PRODUCE_TIMEOUT).await {
                tracing::error!(error = %e, "audit entry not written");
            }
        });
    }
}

impl Audit for KafkaAudit {
    fn call(&self, call: &Call) {
        self.record("api_call", &call.actor, None, {
            let mut details = json!({
                "method": call.method,
                "route": call.route,
                "path": call.path,
                "status": call.status,
                "role": call.role,
            });
            if call.unrecorded_before > 0 {
                details["unrecorded_before"] = json!(call.unrecorded_before);
            }
            details
        });
    }

    fn disposition(&self, actor: &str, d: &Disposition) {
        let subject = d
            .alert_id
            .clone()
            .unwrap_or_else(|| d.employee_id.0.to_string());
        self.record(
            "disposition",
            actor,
            Some(&subject),
            serde_json::to_value(d).unwrap_or_default(),
        );
        // A benign or false-positive verdict closes the alert (the route stage resolves
        // its page); a true positive leaves it open for the people working the incident.
        if d.verdict != crate::suppress::Verdict::TruePositive
            && let Some(id) = &d.alert_id
        {
            self.record(
                "alert_resolved",
                actor,
                Some(id),
                json!({ "reason": d.verdict, "employee_id": d.employee_id }),
            );
        }
    }
}
