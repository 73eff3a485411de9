//! One server start for `driftwatch run` and `driftwatch demo`: the runtime the stages
//! block on, the HTTP listener (`/metrics`, `/healthz`, `/readyz`, `/api/v1`) and the
//! signal watcher, built in one order and torn down in the reverse one.
//!
//! SIGTERM (how orchestrators stop a process) and SIGINT (Ctrl-C) cancel the service's stop
//! token, as [`Server::stop`] does from inside: the service's loops and the caller's own
//! (the demo's producer) see one flag.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Handles, http};

/// Worker threads of the runtime: the HTTP endpoints, the route and audit stages' async
/// work and the API; the stages' consumers poll on threads of their own.
const WORKER_THREADS: usize = 2;

/// How long the runtime's last tasks get once the service has stopped.
const RUNTIME_GRACE: Duration = Duration::from_secs(1);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("starting the runtime")]
    Runtime(#[source] std::io::Error),
    #[error("listening on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The runtime, the HTTP listener and the signal watcher of a running service, and the
/// [`Handles`] it shares with them. Give [`Server::runtime`] and [`Server::handles`] to
/// [`super::run_bounded`]; end with [`Server::shutdown`].
pub struct Server {
    runtime: Runtime,
    handles: Handles,
    addr: SocketAddr,
    http: JoinHandle<std::io::Result<()>>,
    http_stop: oneshot::Sender<()>,
}

impl Server {
    /// Build the runtime, bind `listen` (port 0: any free port, see [`Server::addr`]),
    /// serve the HTTP endpoints from fresh [`Handles`], and stop on SIGTERM or SIGINT.
    pub fn start(listen: SocketAddr) -> Result<Server, StartError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        let handles = Handles::default();
        let listen_error = |source| StartError::Listen {
            addr: listen,
            source,
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(listen))
            .map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;
        let (http_stop, http_stopped) = oneshot::channel::<()>();
        let http = runtime.spawn(http::serve(
            listener,
            Arc::clone(&handles.metrics),
            Arc::clone(&handles.health),
            Arc::clone(&handles.api),
            async move {
                let _ = http_stopped.await;
            },
        ));
        let stop = handles.stop.clone();
        runtime.spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested");
            stop.cancel();
        });
        Ok(Server {
            runtime,
            handles,
            addr,
            http,
            http_stop,
        })
    }

    /// The address the endpoints are served on (the bound port when `listen` said 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the service shares with the endpoints: metrics, health, the API, the stop flag.
    pub fn handles(&self) -> &Handles {
        &self.handles
    }

    /// The runtime the service's stages block on (not the calling thread's).
    pub fn runtime(&self) -> tokio::runtime::Handle {
        self.runtime.handle().clone()
    }

    /// Ask the service to stop, as a signal does.
    pub fn stop(&self) {
        self.handles.stop.cancel();
    }

    /// Whether a signal or [`Server::stop`] asked the service to stop.
    pub fn stopping(&self) -> bool {
        self.handles.stop.is_cancelled()
    }

    /// Stop serving (requests in flight get a moment to finish), then the runtime. Call
    /// once the service has returned.
    pub fn shutdown(self) {
        let _ = self.http_stop.send(());
        let _ = self.runtime.block_on(self.http);
        self.runtime.shutdown_timeout(RUNTIME_GRACE);
    }
}

/// SIGTERM (how orchestrators stop a process) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
