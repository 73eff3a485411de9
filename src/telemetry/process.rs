//! Events of the process around the stages: readiness, the HTTP server, the GeoIP
//! databases loaded.

use super::labels::database_label;
use super::{Event, Metrics};
use crate::enrich::DatabaseInfo;

/// The supervisor's view of readiness (what `/readyz` says): every stage restored and
/// reading, none stalled. Sets `driftwatch_ready` to 1 or 0.
#[derive(Debug, Clone, Copy)]
pub struct ReadinessObserved {
    pub ready: bool,
}

impl Event for ReadinessObserved {
    fn emit(&self, m: &Metrics) {
        tracing::trace!(ready = self.ready, "readiness");
        m.ready.set(i64::from(self.ready));
    }
}

/// An HTTP connection closed as soon as accepted: the server held its limit of open
/// connections (`service::http::Limits`). Counts
/// `driftwatch_http_connections_refused_total`.
#[derive(Debug, Clone, Copy)]
pub struct HttpConnectionRefused {
    pub limit: usize,
}

impl Event for HttpConnectionRefused {
    fn emit(&self, m: &Metrics) {
        tracing::debug!(limit = self.limit, "http: connection refused at the limit");
        m.http_refused.inc();
    }
}

/// The GeoIP databases loaded now (after start and after every reload check). Sets
/// `driftwatch_geoip_database_build_timestamp_seconds{database}` to when the vendor built
/// each; a database no longer loaded loses its series.
#[derive(Debug, Clone, Copy)]
pub struct GeoipDatabasesLoaded<'a> {
    pub databases: &'a [DatabaseInfo],
}

impl Event for GeoipDatabasesLoaded<'_> {
    fn emit(&self, m: &Metrics) {
        tracing::trace!(databases = self.databases.len(), "geoip databases loaded");
        m.geoip_database_build_timestamp_seconds.reset();
        for db in self.databases {
            m.geoip_database_build_timestamp_seconds
                .with_label_values(&[database_label(db.kind)])
                .set(db.build_time.timestamp());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::DatabaseKind;
    use crate::telemetry::testing::{describe, emit, maxmind};

    #[test]
    fn readiness_and_refusals_change_their_one_series() {
        let m = Metrics::new();
        let (changes, lines) = emit(&m, &ReadinessObserved { ready: true });
        assert_eq!(describe(&changes), ["driftwatch_ready{} 0 -> 1"]);
        assert_eq!(lines.len(), 1);
        let (changes, lines) = emit(&m, &HttpConnectionRefused { limit: 4 });
        assert_eq!(
            describe(&changes),
            ["driftwatch_http_connections_refused_total{} 0 -> 1"]
        );
        assert_eq!(lines[0].fields.get("limit").map(String::as_str), Some("4"));
    }

    #[test]
    fn database_builds_follow_the_loaded_databases() {
        let m = Metrics::new();
        let databases = maxmind().databases();
        GeoipDatabasesLoaded {
            databases: &databases,
        }
        .emit(&m);
        let build = |m: &Metrics, db| {
            m.value(
                "driftwatch_geoip_database_build_timestamp_seconds",
                &[("database", db)],
            )
        };
        for d in &databases {
            let expected = d.build_time.timestamp() as f64;
            assert_eq!(build(&m, database_label(d.kind)), Some(expected), "{d:?}");
        }
        // After a reload without the ASN database, its series is gone.
        let without_asn: Vec<DatabaseInfo> = databases
            .into_iter()
            .filter(|d| d.kind != DatabaseKind::Asn)
            .collect();
        GeoipDatabasesLoaded {
            databases: &without_asn,
        }
        .emit(&m);
        assert_eq!(build(&m, "asn"), None);
        assert!(build(&m, "city").is_some());
    }
}
