//! The durability contract against a real server process: whatever any client received
//! survives `kill -9` (and SIGTERM) of the server, on SQLite and on Postgres.

use crate::common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::client::Event;
use common::process::ServerProcess;
use common::{Client, SECRET};
use tandem::identity::tokens::Keys;

const WRITERS: usize = 4;
const MAX_EDITS_PER_WRITER: usize = 5_000;

fn markers(text: &str) -> BTreeSet<String> {
    text.split(';').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

struct Outcome {
    written: usize,
    received: BTreeSet<String>,
    read_back: BTreeSet<String>,
}

/// Writers edit continuously while an observer records what it receives; after `run_for`
/// the server is stopped by `stop`; then a new server reads the document back.
async fn edit_then_stop(database_url: Option<String>, run_for: Duration, stop: fn(ServerProcess)) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), database_url.as_deref());
    let token = common::token(&Keys::from_secret(SECRET.as_bytes()), &["*=rw"]);
    let url = server.ws_url("crash", &token);

    let mut observer = Client::connect(&url).await.unwrap();
    observer.sync().await;
    let done = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (url, done, written) = (url.clone(), done.clone(), written.clone());
        writers.push(tokio::spawn(async move {
            let mut c = Client::connect(&url).await.unwrap();
            c.sync().await;
            for i in 0..MAX_EDITS_PER_WRITER {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                if c.try_append(&format!("w{w}.{i};")).await.is_err() {
                    break;
                }
                written.fetch_add(1, Ordering::Relaxed);
                // Drain echoes; a closed socket ends this writer.
                loop {
                    match c.next_event(Duration::from_millis(1)).await {
                        Some(Event::Closed(_)) => return,
                        Some(_) => {}
                        None => break,
                    }
                }
            }
        }));
    }
    let observe = tokio::spawn(async move {
        loop {
            match observer.next_event(Duration::from_secs(30)).await {
                Some(Event::Closed(_)) | None => return observer.text(),
                Some(_) => {}
            }
        }
    });
    tokio::time::sleep(run_for).await;
    stop(server);
    let received = markers(&observe.await.unwrap());
    done.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.await;
    }

    let server = ServerProcess::start(dir.path(), database_url.as_deref());
    let mut reader = Client::connect(&server.ws_url("crash", &token)).await.unwrap();
    reader.sync().await;
    let read_back = markers(&reader.text());
    Outcome { written: written.load(Ordering::Relaxed), received, read_back }
}

fn check(name: &str, o: &Outcome) {
    let lost: Vec<&String> = o.received.difference(&o.read_back).collect();
    eprintln!(
        "{name}: written {}, received by observer {}, read back {}, lost {}",
        o.written,
        o.received.len(),
        o.read_back.len(),
        lost.len()
    );
    assert!(o.received.len() >= 50, "too few edits reached the observer to mean anything");
    assert!(lost.is_empty(), "{} received edits lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
    assert!(o.read_back.len() <= o.written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_received_update_sqlite() {
    let o = edit_then_stop(None, Duration::from_millis(1500), ServerProcess::kill9).await;
    check("kill -9 (sqlite)", &o);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_received_update_postgres() {
    let url = common::pg::fresh_database().await;
    let o = edit_then_stop(Some(url), Duration::from_millis(1500), ServerProcess::kill9).await;
    check("kill -9 (postgres)", &o);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_every_received_update_sqlite() {
    let o = edit_then_stop(None, Duration::from_millis(1000), |s| {
        assert!(s.terminate().success(), "clean exit on SIGTERM");
    })
    .await;
    check("SIGTERM (sqlite)", &o);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_every_received_update_postgres() {
    let url = common::pg::fresh_database().await;
    let o = edit_then_stop(Some(url), Duration::from_millis(1000), |s| {
        assert!(s.terminate().success(), "clean exit on SIGTERM");
    })
    .await;
    check("SIGTERM (postgres)", &o);
}
