//! Reading the registry in-process: the series `/metrics` would show, without the text
//! format in between. For tests, and for the demo, which waits on the service's own counts.
//!
//! Reading never creates a series (`with_label_values` would, at 0).

use std::collections::BTreeMap;

use prometheus::proto::{MetricFamily, MetricType};

use super::Metrics;

/// One series as the text exposition shows it: a histogram gives `_bucket` (with `le`),
/// `_sum` and `_count` series, a summary its quantiles, `_sum` and `_count`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Metrics {
    /// Every series of the registry, the process collector's included.
    pub fn samples(&self) -> Vec<Sample> {
        self.registry.gather().iter().flat_map(samples_of).collect()
    }

    /// The value of the series `name` whose labels include all of `labels` (the first such
    /// series, in label order); `None` if there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        find(&self.samples(), name, labels)
    }
}

/// The value of the sample `name` whose labels include all of `labels`.
pub fn find(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn samples_of(family: &MetricFamily) -> Vec<Sample> {
    let name = family.name();
    let mut out = Vec::new();
    for m in family.get_metric() {
        let labels: BTreeMap<String, String> = m
            .get_label()
            .iter()
            .map(|l| (l.name().to_owned(), l.value().to_owned()))
            .collect();
        let mut push = |suffix: &str, extra: Option<(&str, String)>, value: f64| {
            let mut labels = labels.clone();
            if let Some((k, v)) = extra {
                labels.insert(k.to_owned(), v);
            }
            out.push(Sample {
                name: format!("{name}{suffix}"),
                labels,
                value,
            });
        };
        match family.get_field_type() {
            MetricType::COUNTER => push("", None, m.get_counter().get_value()),
            MetricType::GAUGE => push("", None, m.get_gauge().get_value()),
            // No collector of the `prometheus` crate makes one (its text encoder cannot
            // write one either).
            MetricType::UNTYPED => {}
            MetricType::HISTOGRAM => {
                let h = m.get_histogram();
                let mut infinite = false;
                for b in h.get_bucket() {
                    let le = b.upper_bound();
                    infinite |= le == f64::INFINITY;
                    push(
                        "_bucket",
                        Some(("le", le_label(le))),
                        b.cumulative_count() as f64,
                    );
                }
                // As the text encoder does: the +Inf bucket is the count.
                if !infinite {
                    push(
                        "_bucket",
                        Some(("le", "+Inf".to_owned())),
                        h.get_sample_count() as f64,
                    );
                }
                push("_sum", None, h.get_sample_sum());
                push("_count", None, h.get_sample_count() as f64);
            }
            MetricType::SUMMARY => {
                let s = m.get_summary();
                for q in s.get_quantile() {
                    push("", Some(("quantile", q.quantile().to_string())), q.value());
                }
                push("_sum", None, s.sample_sum());
                push("_count", None, s.sample_count() as f64);
            }
        }
    }
    out
}

/// A bucket's bound as the text format writes it (`0.00025`, `+Inf`).
fn le_label(bound: f64) -> String {
    if bound == f64::INFINITY {
        "+Inf".to_owned()
    } else {
        bound.to_string()
    }
}
