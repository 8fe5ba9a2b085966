//! Test harness: the real server on 127.0.0.1:0 (in-process, or as a child process for
//! crash tests), a y-websocket client built from tokio-tungstenite + yrs, and throwaway
//! Postgres databases.
#![allow(dead_code)]

#[macro_use]
pub mod api;
pub mod client;
pub mod converge;
pub mod pg;
pub mod process;
pub mod proxy;
pub mod raw;
pub mod receiver;
pub mod sse;

use std::net::SocketAddr;
use std::time::Duration;

use tandem::config::ServeConfig;
use tandem::identity::tokens::{Grant, Keys};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use client::Client;

pub const SECRET: &str = "t3st-0nly-9f2c4e6a8b0d1f3e5a7c9b2d";

/// A server running in this process on a free loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub keys: Keys,
    pub dir: TempDir,
    pub database_url: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

pub fn base_config(dir: &std::path::Path) -> ServeConfig {
    let mut cfg = ServeConfig::with_data_dir(dir);
    cfg.signing.jwt_secret = Some(SECRET.into());
    cfg
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut ServeConfig)) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), None, tweak).await
    }

    /// Starts a server on `dir` (reusing what an earlier server left there).
    pub async fn start_in(dir: TempDir, database_url: Option<String>, tweak: impl FnOnce(&mut ServeConfig)) -> Self {
        let mut cfg = base_config(dir.path());
        cfg.storage.database_url = database_url.clone();
        tweak(&mut cfg);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tandem::app::run(cfg, listener, async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            keys: Keys::from_secret(SECRET.as_bytes()),
            dir,
            database_url,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn ws_url(&self, room: &str, token: &str) -> String {
        format!("ws://{}/ws/{room}?token={token}", self.addr)
    }

    pub fn token(&self, grants: &[&str]) -> String {
        token(&self.keys, grants)
    }

    /// A client with read-write access to every room, synced with `room`.
    pub async fn client(&self, room: &str) -> Client {
        let mut c = Client::connect(&self.ws_url(room, &self.token(&["*=rw"]))).await.unwrap();
        c.sync().await;
        c
    }

    /// Graceful shutdown; returns the data dir for a restart.
    pub async fn stop(mut self) -> (TempDir, Option<String>) {
        let _ = self.stop.take().unwrap().send(());
        let result = tokio::time::timeout(Duration::from_secs(30), self.task.take().unwrap())
            .await
            .expect("server stops within 30 s")
            .expect("server task");
        result.expect("server ran cleanly");
        (self.dir, self.database_url)
    }
}

pub fn token(keys: &Keys, grants: &[&str]) -> String {
    let grants: Vec<Grant> = grants.iter().map(|g| Grant::parse(g).unwrap()).collect();
    keys.mint("tester", &grants, Duration::from_secs(3600))
}

/// Polls `probe` until `ok` holds on its output or `within` passes.
pub async fn eventually_async<F, Fut, V>(within: Duration, mut probe: F, ok: impl Fn(V) -> bool) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = V>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if ok(probe().await) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
