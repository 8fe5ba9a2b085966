//! The group-commit writer: one task that appends updates from every room in batches, one
//! transaction per batch. While a transaction runs, new updates queue; the next batch takes
//! them all, so under load many updates share one commit and at rest none waits for a timer.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;
use tracing::{debug, error};

use super::{Store, StoreError};
use crate::ids::{DocId, UserId};

/// Requests waiting for the writer before senders feel backpressure.
const QUEUE_CAPACITY: usize = 4096;
/// Most updates in one transaction.
const MAX_BATCH: usize = 512;

/// The outcome of one append, shared by every update of its batch.
pub type Committed = Result<(), Arc<StoreError>>;

struct Request {
    doc: DocId,
    update: Bytes,
    /// The user who wrote it, when a user did (a contributor to the next version).
    author: Option<UserId>,
    done: oneshot::Sender<Committed>,
}

/// Handle to the writer task; cheap to clone. The task ends once every handle is dropped
/// and the queue is drained, so a clean shutdown loses nothing queued.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
}

impl Writer {
    pub fn spawn(store: Arc<dyn Store>, tracker: &TaskTracker) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        tracker.spawn(run(store, rx));
        Writer { tx }
    }

    /// Queues an update; the returned receiver resolves once it is committed (or failed).
    pub async fn append(&self, doc: DocId, update: Bytes, author: Option<UserId>) -> oneshot::Receiver<Committed> {
        let (done, rx) = oneshot::channel();
        // The task only stops when every Writer is gone, and we are one: send cannot fail.
        let _ = self.tx.send(Request { doc, update, author, done }).await;
        rx
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Request>) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
    let mut rows: Vec<(DocId, Bytes)> = Vec::with_capacity(MAX_BATCH);
    let mut authors: Vec<(DocId, UserId)> = Vec::new();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        rows.extend(batch.iter().map(|r| (r.doc.clone(), r.update.clone())));
        for r in &batch {
            if let Some(user) = &r.author
                && !authors.iter().any(|(d, u)| *d == r.doc && u == user)
            {
                authors.push((r.doc.clone(), user.clone()));
            }
        }
        let started = std::time::Instant::now();
        let result = store.append_updates_by(&rows, &authors).await.map_err(Arc::new);
        crate::metrics::hot(|h| {
            h.persist_batch.record(rows.len() as f64);
            h.persist_seconds.record(started.elapsed().as_secs_f64());
        });
        if result.is_err() {
            metrics::counter!(crate::metrics::PERSIST_FAILURES).increment(1);
        }
        match &result {
            Ok(()) => debug!(updates = rows.len(), elapsed_us = started.elapsed().as_micros() as u64, "group commit"),
            Err(e) => error!(updates = rows.len(), error = %e, "group commit failed"),
        }
        rows.clear();
        authors.clear();
        for req in batch.drain(..) {
            let _ = req.done.send(result.clone());
        }
    }
}
