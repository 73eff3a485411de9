//! Helpers shared by the integration tests: a real Kafka-compatible broker, `driftwatch
//! run` processes, and a scripted HTTP receiver for the routing tests.
// Each test binary uses a different subset.
#![allow(dead_code)]

pub mod examples;
pub mod receiver;
pub mod service;
pub mod siem;
pub mod tansu;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Runs `future` to completion on the calling thread.
///
/// rdkafka's admin and delivery futures are completed by librdkafka's own threads, so they
/// need no async runtime; this lets the broker helpers stay synchronous, and callable from
/// plain `#[test]`s as well as from `spawn_blocking` inside async ones (a nested tokio
/// `block_on` would panic there).
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            // A wake before the park leaves the token set, so the park returns at once.
            Poll::Pending => thread::park(),
        }
    }
}

/// Sends `signal` (`-TERM`, `-STOP`, ...) to process `pid` with kill(1); panics if it fails.
pub fn kill(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}
