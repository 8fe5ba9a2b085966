//! Housekeeping on a timer for the life of the server: thinning old automatic versions,
//! pruning old audit events and the changes feed's old records. Every job has the same
//! shape: a first run some time after start, then one per period, until shutdown; a run
//! that fails is logged and the next one tries again. The jobs run on the server's task
//! tracker, so shutdown waits for a run in progress.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::Retention;
use crate::store::catalog::now_ms;
use crate::store::{Store, StoreError};

/// How often the hourly jobs run, and how long after start their first run waits.
const HOURLY: Duration = Duration::from_secs(3600);
const FIRST_RUN: Duration = Duration::from_secs(60);
/// Most rows one run of a job deletes per batch.
const BATCH: u32 = 10_000;
/// Batches one run of the audit pruning takes at most (the rest waits for the next run).
const MAX_BATCHES: usize = 100;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// Runs `job` after `first`, then every `every`, until `stop`; `done` names what a
/// run's count counts, for the log.
pub fn every<F, Fut>(
    tracker: &TaskTracker,
    stop: CancellationToken,
    first: Duration,
    every: Duration,
    done: &'static str,
    job: F,
) where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<u64, StoreError>> + Send,
{
    tracker.spawn(async move {
        let mut next = tokio::time::Instant::now() + first;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = stop.cancelled() => return,
            }
            match job().await {
                Ok(0) => {}
                Ok(n) => info!(count = n, "{done}"),
                Err(e) => warn!(error = %e, "{done}: failed; retrying at the next run"),
            }
            next += every;
        }
    });
}

/// Starts every housekeeping job the configuration asks for.
pub fn start(
    tracker: &TaskTracker,
    stop: &CancellationToken,
    store: &Arc<dyn Store>,
    versions: &Retention,
    audit_days: u32,
    changes: Duration,
) {
    if versions.min_age().is_some() {
        let (store, retention) = (store.clone(), versions.clone());
        every(tracker, stop.clone(), FIRST_RUN, HOURLY, "thinned old automatic versions", move || {
            let (store, retention) = (store.clone(), retention.clone());
            async move { store.thin_versions(&retention, now_ms(), BATCH).await }
        });
    }
    if audit_days > 0 {
        let store = store.clone();
        every(tracker, stop.clone(), FIRST_RUN, HOURLY, "pruned old audit events", move || {
            let store = store.clone();
            async move { prune_audit(store.as_ref(), audit_days).await }
        });
    }
    // A tenth of the retention between runs (at most hourly), so short retentions hold.
    let period = (changes / 10).clamp(Duration::from_millis(100), HOURLY);
    let store = store.clone();
    every(tracker, stop.clone(), period, period, "pruned old changes-feed records", move || {
        let store = store.clone();
        async move { store.prune_changes(now_ms().saturating_sub(changes.as_millis() as i64)).await }
    });
}

/// Deletes every audit event older than `days`, batch by batch (at most
/// [`MAX_BATCHES`] batches a run).
pub async fn prune_audit(store: &dyn Store, days: u32) -> Result<u64, StoreError> {
    let before = now_ms() - i64::from(days) * DAY_MS;
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        let n = store.prune_audit(before, BATCH).await?;
        total += n;
        if n < u64::from(BATCH) {
            break;
        }
    }
    Ok(total)
}
