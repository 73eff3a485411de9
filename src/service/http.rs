//! The service's HTTP endpoints: `/metrics` for Prometheus, `/healthz` for liveness and
//! `/readyz` for readiness.
//!
//! Liveness and readiness are separate because they ask different things: a process that
//! is restoring a partition's state from its changelog is healthy (restarting it would
//! only start the restore again) but not ready (its alerts would be computed on partial
//! state). An orchestrator restarts on `/healthz` and routes or waits on `/readyz`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::telemetry::{Event, HttpConnectionRefused, Metrics};

/// Liveness and readiness of the service, shared by the stages that change them and the
/// HTTP handlers that report them. Lock-free: handlers never wait on a busy stage.
#[derive(Debug, Default)]
pub struct Health {
    /// True once every assigned partition's state is restored; false again while a
    /// rebalance restores new partitions.
    ready: AtomicBool,
    /// Why the service cannot go on. Set once: the first failure is the cause, later ones
    /// are usually its consequences.
    failed: OnceLock<String>,
    /// Stages whose input waits for nobody ([`super::watch`]), one sentence each.
    waiting: std::sync::Mutex<Vec<String>>,
}

impl Health {
    /// A service that is alive and not yet ready.
    pub fn new() -> Arc<Health> {
        Arc::new(Health::default())
    }

    /// Mark the service ready (state restored, consuming) or not (restoring).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether the service is ready and has not failed.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && self.failure().is_none()
    }

    /// Mark the service failed for good: `/healthz` answers 503 with `why` from now on.
    /// Only the first reason is kept.
    pub fn set_failed(&self, why: String) {
        // Err means a reason is already recorded, which is the one to keep.
        let _ = self.failed.set(why);
    }

    /// The reason given to [`Health::set_failed`], if any.
    pub fn failure(&self) -> Option<&str> {
        self.failed.get().map(String::as_str)
    }

    /// The stalled stages, each with what it waits for (empty: none).
    pub fn set_waiting(&self, why: Vec<String>) {
        if let Ok(mut w) = self.waiting.lock() {
            *w = why;
        }
    }

    /// What [`Health::set_waiting`] said last.
    pub fn waiting(&self) -> Vec<String> {
        self.waiting.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

/// The analyst API's router, set by the service once its view and sinks exist (the HTTP
/// server starts first, so that health answers during the restore).
pub type ApiSlot = Arc<OnceLock<Router>>;

/// What the handlers share.
#[derive(Clone)]
struct Shared {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    api: ApiSlot,
}

/// Serve the endpoints on `listener` until `shutdown` completes, then finish the requests
/// in flight and return.
///
/// The listener is bound by the caller, so that a bad address is reported before the
/// service starts and tests can bind port 0.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    api: ApiSlot,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(
        listener,
        Shared {
            metrics,
            health,
            api,
        },
        Limits::default(),
        shutdown,
    )
    .await
}

/// What one client may hold of the server. The endpoints answer in milliseconds; anything
/// slower is a stuck or hostile client, and must not keep `/healthz` from answering.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; more are closed as soon as they are accepted.
    pub connections: usize,
    /// A connection must send its first byte within this.
    pub first_byte: Duration,
    /// And its request headers within this.
    pub header_read: Duration,
    /// A connection (kept alive or not) is closed after this.
    pub lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Well under a process's usual 1,024 file descriptors, which Kafka's sockets
            // and the GeoIP files share.
            connections: 256,
            first_byte: Duration::from_secs(5),
            header_read: Duration::from_secs(10),
            lifetime: Duration::from_secs(120),
        }
    }
}

async fn serve_with(
    listener: tokio::net::TcpListener,
    shared: Shared,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let app = router(shared.clone());
    let open = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::warn!(error = %e, "http: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            HttpConnectionRefused {
                limit: limits.connections,
            }
            .emit(&shared.metrics);
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        connections.spawn(async move {
            let _permit = permit;
            // A client that connects and says nothing is let go early.
            let mut first = [0u8; 1];
            match tokio::time::timeout(limits.first_byte, stream.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(limits.lifetime, connection).await;
        });
    }
    // Requests in flight get a moment to finish; the endpoints answer in milliseconds.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
    Ok(())
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(api)
        .with_state(shared)
}

/// Everything else goes to the analyst API when it is on (it answers 401 / 404 itself).
async fn api(State(s): State<Shared>, request: axum::extract::Request) -> Response {
    use tower::ServiceExt as _;
    match s.api.get() {
        Some(router) => match router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        None => plain(StatusCode::NOT_FOUND, "not found".to_owned()),
    }
}

async fn metrics(State(s): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        s.metrics.render(),
    )
        .into_response()
}

async fn healthz(State(s): State<Shared>) -> Response {
    match s.health.failure() {
        Some(why) => plain(StatusCode::SERVICE_UNAVAILABLE, format!("failed: {why}")),
        None => plain(StatusCode::OK, "ok".to_owned()),
    }
}

/// A failed service is not ready either; the reason says which of the two it is.
async fn readyz(State(s): State<Shared>) -> Response {
    match s.health.failure() {
        Some(why) => plain(StatusCode::SERVICE_UNAVAILABLE, format!("failed: {why}")),
        None if s.health.is_ready() => plain(StatusCode::OK, "ready".to_owned()),
        None => {
            let waiting = s.health.waiting();
            if waiting.is_empty() {
                plain(StatusCode::SERVICE_UNAVAILABLE, "restoring".to_owned())
            } else {
                plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("stalled: {}", waiting.join("; ")),
                )
            }
        }
    }
}

fn plain(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::SocketAddr;

    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    use super::*;
    use crate::decode::FormatChoice;
    use crate::event::Format;
    use crate::telemetry::testing::input;
    use crate::telemetry::{RecordConsumed, TopicName};

    /// A running server on a free port, and the means to stop it.
    struct Running {
        addr: SocketAddr,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
        stop: oneshot::Sender<()>,
        task: JoinHandle<std::io::Result<()>>,
    }

    async fn start() -> Running {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("cannot bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("bound listener has no address: {e}"),
        };
        let metrics = Arc::new(Metrics::new());
        let health = Health::new();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            listener,
            Arc::clone(&metrics),
            Arc::clone(&health),
            ApiSlot::default(),
            async {
                // A dropped sender stops the server too.
                let _ = stopped.await;
            },
        ));
        Running {
            addr,
            metrics,
            health,
            stop,
            task,
        }
    }

    /// A response: status code, header block (lower-cased), body.
    struct Reply {
        status: u16,
        headers: String,
        body: String,
    }

    /// One HTTP/1.1 GET on a fresh connection, read to the end (`Connection: close`).
    ///
    /// The client is std's blocking socket on the blocking pool: tokio is built without
    /// `io-util`, and the server keeps the runtime's thread.
    async fn get(addr: SocketAddr, path: &str) -> Reply {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let exchange = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(addr)?;
            stream.write_all(request.as_bytes())?;
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw)?;
            Ok::<_, std::io::Error>(raw)
        });
        let raw = match exchange.await {
            Ok(Ok(raw)) => raw,
            Ok(Err(e)) => panic!("GET {path} from {addr}: {e}"),
            Err(e) => panic!("GET {path}: client task: {e}"),
        };
        let text = String::from_utf8_lossy(&raw);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            panic!("GET {path}: no header block in {text:?}");
        };
        let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok());
        let Some(status) = status else {
            panic!("GET {path}: bad status line {status_line:?}");
        };
        Reply {
            status,
            headers: headers.to_ascii_lowercase(),
            body: body.to_owned(),
        }
    }

    async fn stop(server: Running) {
        let _ = server.stop.send(());
        match server.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("server failed: {e}"),
            Err(e) => panic!("server task: {e}"),
        }
    }

    /// Issue 17, item 3: idle and slow clients are let go, connections beyond the limit are
    /// closed at once (and counted), and `/healthz` keeps answering through it all.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_and_slow_clients_cannot_hold_the_server() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = Arc::new(Metrics::new());
        let shared = Shared {
            metrics: Arc::clone(&metrics),
            health: Health::new(),
            api: ApiSlot::default(),
        };
        let limits = Limits {
            connections: 4,
            first_byte: Duration::from_millis(300),
            header_read: Duration::from_millis(300),
            lifetime: Duration::from_secs(5),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_with(listener, shared, limits, async {
            let _ = stopped.await;
        }));
        let closed_within = |secs: f64, stream: std::net::TcpStream, partial: &'static [u8]| {
            tokio::task::spawn_blocking(move || {
                let mut stream = stream;
                stream.write_all(partial).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs_f64(secs)))
                    .unwrap();
                let mut rest = Vec::new();
                // Closed: the end is reached (or a reset); still open: a timeout.
                match stream.read_to_end(&mut rest) {
                    Ok(_) => true,
                    Err(e) => !matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                }
            })
        };
        // Four idle connections fill the server; two more are closed on accept.
        let mut idle = Vec::new();
        for _ in 0..6 {
            idle.push(std::net::TcpStream::connect(addr).unwrap());
        }
        let mut waits = Vec::new();
        for stream in idle {
            waits.push(closed_within(3.0, stream, b""));
        }
        for w in waits {
            assert!(w.await.unwrap(), "an idle connection was kept");
        }
        let refused = metrics.value("driftwatch_http_connections_refused_total", &[]);
        assert!(refused.is_some_and(|r| r >= 2.0), "{refused:?}");
        // A client that starts a request and stalls is let go too.
        let slow = std::net::TcpStream::connect(addr).unwrap();
        assert!(
            closed_within(3.0, slow, b"GET /heal").await.unwrap(),
            "a stalled request was kept"
        );
        assert_eq!(get(addr, "/healthz").await.status, 200);
        let _ = stop.send(());
        task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn ready_only_after_restore() {
        let server = start().await;
        let r = get(server.addr, "/readyz").await;
        assert_eq!((r.status, r.body.as_str()), (503, "restoring"));
        let r = get(server.addr, "/healthz").await;
        assert_eq!((r.status, r.body.as_str()), (200, "ok"));

        server.health.set_ready(true);
        let r = get(server.addr, "/readyz").await;
        assert_eq!((r.status, r.body.as_str()), (200, "ready"));

        // A rebalance brings new partitions to restore.
        server.health.set_ready(false);
        assert_eq!(get(server.addr, "/readyz").await.status, 503);
        stop(server).await;
    }

    #[tokio::test]
    async fn failure_is_reported_by_both_probes_with_the_first_reason() {
        let server = start().await;
        server.health.set_ready(true);
        server
            .health
            .set_failed("changelog topic driftwatch.state-3 is gone".to_owned());
        server.health.set_failed("a later consequence".to_owned());
        for path in ["/healthz", "/readyz"] {
            let r = get(server.addr, path).await;
            assert_eq!(r.status, 503, "{path}");
            assert_eq!(
                r.body, "failed: changelog topic driftwatch.state-3 is gone",
                "{path}"
            );
        }
        assert!(!server.health.is_ready());
        stop(server).await;
    }

    #[tokio::test]
    async fn metrics_are_served_in_the_text_format() {
        let server = start().await;
        let okta = input("logins.okta", FormatChoice::Fixed(Format::Okta));
        for _ in 0..3 {
            RecordConsumed {
                topic: TopicName::from(&okta),
                format: Format::Okta.into(),
            }
            .emit(&server.metrics);
        }
        let r = get(server.addr, "/metrics").await;
        assert_eq!(r.status, 200);
        assert!(
            r.headers
                .contains("content-type: text/plain; version=0.0.4"),
            "{}",
            r.headers
        );
        assert!(
            r.body.contains(
                "driftwatch_records_consumed_total{format=\"okta\",source=\"logins.okta\"} 3\n"
            ),
            "{}",
            r.body
        );
        assert_eq!(get(server.addr, "/nope").await.status, 404);
        stop(server).await;
    }

    #[tokio::test]
    async fn shutdown_stops_accepting() {
        let server = start().await;
        let addr = server.addr;
        stop(server).await;
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
