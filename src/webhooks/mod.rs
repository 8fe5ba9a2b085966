//! Outgoing webhooks: a workspace's admins register URLs (`product::api::webhooks`), the
//! store queues one delivery per event and hook in its outbox, and this module sends them.
//!
//! * **When an event is queued.** Documents created or trashed, comments created and
//!   versions saved queue their deliveries in the transaction of the change itself
//!   (`store::webhooks_sql`), so an event exists exactly when its change committed.
//!   Content edits are announced as `document.updated` after the room's group commit,
//!   debounced per document ([`Changes`]); title and tag changes join the same debounce.
//!   Member changes are queued right after their transaction commits. A graceful
//!   shutdown announces every edit still in the debounce; a crash between a commit and
//!   its queueing loses that one notification (never the change).
//! * **Delivery** ([`dispatch`]): `POST` of the JSON envelope `{"id", "type",
//!   "created_at", "workspace_id", "data"}` with `X-Tandem-Event`, `X-Tandem-Delivery`
//!   and `X-Tandem-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
//!   ([`sign`]). Any 2xx is delivered; anything else (or no answer within the timeout)
//!   is retried with exponential backoff within the retry window (24 h by default), at
//!   least once: receivers dedupe on the delivery id. Redirects are not followed.
//! * **Targets** ([`target`]): http(s) only, and only public addresses unless
//!   `--webhook-allow-private`, checked at registration and on every connection.
//! * **Disabling**: a hook whose deliveries failed for good several times in a row
//!   (`--webhook-disable-after`) is disabled; nothing more is queued for it, and what it
//!   still had queued is marked failed. A ping still reaches it, so its owner can check
//!   a fix before making a new hook.
//! * **Several nodes**: each claims due rows under a lease, so a row is sent by one node
//!   at a time. Each node debounces the edits its own rooms committed, so a document
//!   edited through two nodes at once may be announced once per node.
//! * **Bounds**: 20 hooks per workspace, URLs of 2048 bytes, 200 finished deliveries kept
//!   per hook, 16 attempts in flight per node, the debounce map as in [`debounce`], and
//!   `--webhook-max-pending` deliveries waiting per hook: one more event disables the
//!   hook (and fails what it had waiting) rather than grow the outbox.

pub mod debounce;
pub mod dispatch;
pub mod sign;
pub mod target;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

pub use debounce::Changes;

use crate::config::WebhookConfig;
use crate::store::Store;
use crate::store::catalog::now_ms;

/// What the rest of the server reaches of the webhooks: the debounce of document changes
/// and a wake-up for the dispatcher. Cheap to clone.
#[derive(Clone)]
pub struct Hooks {
    pub changes: Arc<Changes>,
    wake: Arc<Notify>,
}

impl Hooks {
    /// Starts the dispatcher and the debounce's flusher on `tracker`; both end at `stop`.
    pub fn start(
        store: Arc<dyn Store>,
        config: &WebhookConfig,
        tracker: &TaskTracker,
        stop: CancellationToken,
    ) -> Result<Hooks, reqwest::Error> {
        // One process-wide TLS provider; a second install attempt is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .connect_timeout(config.webhook_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(target::PublicResolver { allow_private: config.webhook_allow_private })
            .build()?;
        let hooks = Hooks { changes: Arc::new(Changes::new(config.webhook_debounce)), wake: Arc::new(Notify::new()) };
        let dispatcher =
            dispatch::Dispatcher { store: store.clone(), config: config.clone(), client, wake: hooks.wake.clone() };
        tracker.spawn(dispatcher.run(stop.clone()));
        tracker.spawn(flush(store, hooks.changes.clone(), hooks.wake.clone(), stop));
        Ok(hooks)
    }

    /// Has the dispatcher look for due deliveries now rather than at its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Announces debounced document changes as `document.updated`. After `stop` it goes on
/// announcing everything waiting, due or not, until it holds the last reference to the
/// debounce (the rooms have flushed their last commits and the server state is gone), so
/// a graceful shutdown announces every committed edit; a crash loses the debounce's
/// content (the edits themselves are durable; see the module docs).
async fn flush(store: Arc<dyn Store>, changes: Arc<Changes>, wake: Arc<Notify>, stop: CancellationToken) {
    let mut stopping = false;
    loop {
        let tick = if stopping { Duration::from_millis(50) } else { changes.tick() };
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = changes.full.notified() => {}
            _ = stop.cancelled(), if !stopping => stopping = true,
        }
        let last = stopping && Arc::strong_count(&changes) == 1;
        let due = if stopping { changes.take_all() } else { changes.due(tokio::time::Instant::now()) };
        if announce(store.as_ref(), due).await > 0 {
            wake.notify_one();
        }
        if last {
            return;
        }
    }
}

/// Queues `document.updated` for each document still live; answers how many deliveries.
async fn announce(store: &dyn Store, docs: Vec<crate::ids::DocId>) -> u64 {
    let mut queued = 0;
    for doc in docs {
        let document = match store.document(&doc).await {
            Ok(Some(d)) if d.deleted_at.is_none() => d,
            Ok(_) => continue,
            Err(e) => {
                warn!(%doc, error = %e, "announcing a document change failed");
                continue;
            }
        };
        let data = serde_json::json!({
            "document_id": document.id, "title": document.title, "tags": document.tags,
            "updated_at": document.updated_at,
        });
        match store.enqueue_webhooks(&document.workspace_id, "document.updated", &data, now_ms()).await {
            Ok(n) => queued += n,
            Err(e) => warn!(%doc, error = %e, "announcing a document change failed"),
        }
    }
    queued
}
