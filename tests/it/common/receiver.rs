//! A webhook receiver on 127.0.0.1: an axum server that records every request it gets
//! and answers 500 for the first `fail_first` of them (or every one while `down`), so
//! tests can watch deliveries, retries and signatures; and a [`BlackHole`] that accepts
//! connections and never answers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub event: String,
    pub delivery: String,
    pub signature: String,
    pub body: Vec<u8>,
    pub json: Value,
}

impl Received {
    /// Whether `X-Tandem-Signature` is `t=<t>,v1=<HMAC-SHA256(secret, "<t>.<body>")>`
    /// with `t` within a minute of now.
    pub fn signed_with(&self, secret: &str) -> bool {
        let Some((t, v1)) = self.signature.split_once(",v1=") else { return false };
        let Some(t) = t.strip_prefix("t=") else { return false };
        let Ok(secs) = t.parse::<u64>() else { return false };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&self.body);
        now.abs_diff(secs) < 60 && hex::encode(mac.finalize().into_bytes()) == v1
    }
}

#[derive(Default)]
struct Inner {
    got: Mutex<Vec<Received>>,
    requests: AtomicUsize,
    fail_first: AtomicUsize,
    down: AtomicBool,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Receiver {
    /// Starts a receiver answering 500 to its first `fail_first` requests.
    pub async fn start(fail_first: usize) -> Receiver {
        let inner = Arc::new(Inner::default());
        inner.fail_first.store(fail_first, Ordering::SeqCst);
        let app = Router::new().route("/hook", post(receive)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// While down, every request is answered 503 (and still counted).
    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::SeqCst);
    }

    /// Requests received, answered well or not.
    pub fn requests(&self) -> usize {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Deliveries answered 2xx.
    pub fn received(&self) -> Vec<Received> {
        self.inner.got.lock().unwrap().clone()
    }

    /// Waits (at most `within`) for an accepted delivery of `event`.
    pub async fn wait_for(&self, event: &str, within: Duration) -> Received {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(r) = self.received().into_iter().find(|r| r.event == event) {
                return r;
            }
            assert!(tokio::time::Instant::now() < deadline, "no {event} within {within:?}: got {:?}", self.events());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Event types accepted so far, in order.
    pub fn events(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.event).collect()
    }
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let n = inner.requests.fetch_add(1, Ordering::SeqCst);
    if inner.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if n < inner.fail_first.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let received = Received {
        event: header("x-tandem-event"),
        delivery: header("x-tandem-delivery"),
        signature: header("x-tandem-signature"),
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body: body.to_vec(),
    };
    inner.got.lock().unwrap().push(received);
    StatusCode::NO_CONTENT
}

/// A listener on 127.0.0.1 that accepts connections and never answers; counts them.
pub struct BlackHole {
    pub url: String,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl BlackHole {
    pub async fn start() -> BlackHole {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            // Bounded: the test aborts it long before.
            while held.len() < 1000 {
                let Ok((socket, _)) = listener.accept().await else { return };
                count.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        BlackHole { url, accepted, task }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}
