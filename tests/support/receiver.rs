//! A local HTTP receiver for the routing tests: records every request (path, headers,
//! JSON body, arrival time, the status it answered) and answers as scripted per path.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub at: Instant,
    pub status: u16,
}

/// How a receiver answers on one path: these statuses first (then 2xx), or always this.
#[derive(Clone, Default)]
pub struct Script {
    pub first: Vec<u16>,
    pub always: Option<u16>,
}

#[derive(Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<Received>>>,
    pub scripts: Arc<Mutex<HashMap<String, Script>>>,
}

impl Receiver {
    /// Answer `path` with `status` from now on (503 to take a destination down, 200 to
    /// bring it back).
    pub fn set_always(&self, path: &str, status: Option<u16>) {
        self.scripts
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default()
            .always = status;
    }

    pub fn on(&self, path: &str) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

async fn receive(
    State(rx): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let status = {
        let mut scripts = rx.scripts.lock().unwrap();
        let script = scripts.entry(path.clone()).or_default();
        match script.always {
            Some(s) => s,
            None if !script.first.is_empty() => script.first.remove(0),
            None => 200,
        }
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    rx.got.lock().unwrap().push(Received {
        path,
        headers,
        body,
        at: Instant::now(),
        status,
    });
    let mut response = (StatusCode::from_u16(status).unwrap(), "{}").into_response();
    if status == 429 {
        response
            .headers_mut()
            .insert("Retry-After", "1".parse().unwrap());
    }
    response
}

/// A receiver on 127.0.0.1 answering every path, on a runtime of its own.
pub fn start_receiver(rx: &Receiver) -> (SocketAddr, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(receive).with_state(rx.clone());
    runtime.spawn(async move { axum::serve(listener, app).await });
    (addr, runtime)
}
