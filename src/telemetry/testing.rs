//! What an event did: the series it changed (read from the registry) and the log lines it
//! wrote (caught by a subscriber for the current thread only).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

use super::read::Sample;
use super::{Event, Metrics};
use crate::decode::FormatChoice;
use crate::enrich::{EnrichConfig, Enricher};
use crate::service::config::InputTopic;

/// One series an event changed: name, labels, value before (`None`: the series did not
/// exist) and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub before: Option<f64>,
    pub after: f64,
}

/// An event, the one change it must make (as [`describe`] writes it) and fields its log
/// line must carry.
pub type Case<'a> = (Box<dyn Event + 'a>, &'a str, &'a [(&'a str, &'a str)]);

/// One log line: level, target and fields (`message` among them).
#[derive(Debug, Clone)]
pub struct Line {
    pub level: tracing::Level,
    pub target: String,
    pub fields: BTreeMap<String, String>,
}

/// Emit `event` on `metrics` and say what changed and what was logged. Process metrics
/// (CPU, memory) move on their own and are left out.
pub fn emit(metrics: &Metrics, event: &dyn Event) -> (Vec<Change>, Vec<Line>) {
    let before = ours(metrics.samples());
    let lines = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Catch(Arc::clone(&lines)));
    tracing::subscriber::with_default(subscriber, || event.emit(metrics));
    let after = ours(metrics.samples());
    let changes = after
        .into_iter()
        .filter_map(|s| {
            let was = before
                .iter()
                .find(|b| b.name == s.name && b.labels == s.labels)
                .map(|b| b.value);
            (was != Some(s.value)).then_some(Change {
                name: s.name,
                labels: s.labels,
                before: was,
                after: s.value,
            })
        })
        .collect();
    let lines = lines.lock().map(|l| l.clone()).unwrap_or_default();
    (changes, lines)
}

/// The changes as `name{label="value",...} before -> after` lines, sorted, for asserting
/// in one comparison.
pub fn describe(changes: &[Change]) -> Vec<String> {
    let mut out: Vec<String> = changes
        .iter()
        .map(|c| {
            let labels: Vec<String> = c
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let before = c.before.map_or("-".to_owned(), |b| b.to_string());
            format!("{}{{{}}} {before} -> {}", c.name, labels.join(","), c.after)
        })
        .collect();
    out.sort();
    out
}

/// MaxMind's official test City, ASN and Anonymous-IP databases from ../shared.
pub fn maxmind() -> Enricher {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/geoip/maxmind-test/");
    let config = EnrichConfig {
        city: Some(format!("{dir}GeoIP2-City-Test.mmdb").into()),
        asn: Some(format!("{dir}GeoLite2-ASN-Test.mmdb").into()),
        anonymous_ip: Some(format!("{dir}GeoIP2-Anonymous-IP-Test.mmdb").into()),
        ..EnrichConfig::default()
    };
    match crate::sources::enrich_files::open(&config) {
        Ok(e) => e.into_enricher(),
        Err(e) => panic!("MaxMind test databases (../shared must sit beside the repo): {e}"),
    }
}

pub fn ip(s: &str) -> IpAddr {
    match s.parse() {
        Ok(ip) => ip,
        Err(e) => panic!("bad test address {s:?}: {e}"),
    }
}

/// Statistics of a real librdkafka 2.12.1 consumer (the rdkafka crate's bundled build)
/// against `rdkafka::mocking::MockCluster`, as emitted to `stats_raw` and indented: topic
/// `logins.okta` with 3 partitions of 10 records; the consumer committed offsets 7 on
/// partition 0 and 4 on partition 1, and nothing on partition 2.
pub fn consumer_stats() -> rdkafka::Statistics {
    let captured = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/librdkafka/consumer-stats.json"
    ));
    match serde_json::from_str(captured) {
        Ok(s) => s,
        Err(e) => panic!("captured librdkafka statistics do not deserialize: {e}"),
    }
}

/// An input topic as the configuration names it.
pub fn input(topic: &str, format: FormatChoice) -> InputTopic {
    InputTopic {
        topic: topic.to_owned(),
        format,
    }
}

fn ours(samples: Vec<Sample>) -> Vec<Sample> {
    samples
        .into_iter()
        .filter(|s| s.name.starts_with("driftwatch_"))
        .collect()
}

struct Catch(Arc<Mutex<Vec<Line>>>);

impl<S: tracing::Subscriber> Layer<S> for Catch {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        let line = Line {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields: fields.0,
        };
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }
}

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}
