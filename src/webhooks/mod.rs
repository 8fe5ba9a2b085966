//! Outgoing webhooks: a workspace's admins register URLs (`product::api::webhooks`), the
//! store queues one delivery per event and hook in its outbox, and this module sends them.
//!
//! * **When an event is queued.** Documents created or trashed, comments created and
//!   versions saved queue their deliveries in the transaction of the change itself
//!   (`store::webhooks_sql`), so an event exists exactly when its change committed.
//!   Content edits are announced as `document.updated` after the room's group commit,
//!   debounced per document ([`UpdateDebounce`]); title and tag changes join the same debounce.
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
//!   a fix before making a new hook; a hook has at most one ping waiting.
//! * **Fairness** ([`dispatch`]): one delivery per hook in flight, each on its own task;
//!   a hook whose receiver did not answer in time is paused (doubling per timeout in a
//!   row), so a hanging receiver cannot hold up other hooks' deliveries.
//! * **Several nodes**: each claims due rows under a lease, so a row is sent by one node
//!   at a time. Each node debounces the edits its own rooms committed, so a document
//!   edited through two nodes at once may be announced once per node.
//! * **Bounds**: 20 hooks per workspace, URLs of 2048 bytes, 200 finished deliveries kept
//!   per hook, 16 attempts in flight per node, the debounce map as in [`debounce`], and
//!   `--webhook-max-pending` deliveries waiting per hook (pings included; the flag as the
//!   server runs now, whenever the hook was made): one more event disables the hook (and
//!   fails what it had waiting) rather than grow the outbox.

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

pub use debounce::UpdateDebounce;

use crate::config::WebhookConfig;
use crate::ids::{DocId, WorkspaceId};
use crate::store::Store;
use crate::store::catalog::now_ms;

/// What the rest of the server reaches of the webhooks: the debounce of document changes,
/// queueing an event, and a wake-up for the dispatcher. Cheap to clone.
#[derive(Clone)]
pub struct Hooks {
    pub changes: Arc<UpdateDebounce>,
    store: Arc<dyn Store>,
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
        store.set_webhook_max_pending(i64::from(config.webhook_max_pending));
        let hooks = Hooks {
            changes: Arc::new(UpdateDebounce::new(config.webhook_debounce)),
            store: store.clone(),
            wake: Arc::new(Notify::new()),
        };
        let dispatcher = dispatch::Dispatcher { store, config: config.clone(), client, wake: hooks.wake.clone() };
        tracker.spawn(dispatcher.run(stop.clone()));
        tracker.spawn(flush(hooks.clone(), stop));
        Ok(hooks)
    }

    /// Has the dispatcher look for due deliveries now rather than at its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Queues `event` for the workspace's hooks after its change committed, and wakes the
    /// dispatcher when anything was queued. The change stands whether or not this works,
    /// so a failure is logged rather than answered.
    pub async fn announce(&self, ws: &WorkspaceId, event: &str, data: &serde_json::Value) {
        match self.store.enqueue_webhooks(ws, event, data, now_ms()).await {
            Ok(0) => {}
            Ok(_) => self.wake(),
            Err(e) => warn!(workspace = %ws, event, error = %e, "queueing a webhook event failed"),
        }
    }
}

/// Announces debounced document changes as `document.updated`. After `stop` it goes on
/// announcing everything waiting, due or not, until it holds the last reference to the
/// debounce (the rooms have flushed their last commits and the server state is gone), so
/// a graceful shutdown announces every committed edit; a crash loses the debounce's
/// content (the edits themselves are durable; see the module docs).
async fn flush(hooks: Hooks, stop: CancellationToken) {
    let changes = hooks.changes.clone();
    let mut stopping = false;
    loop {
        let tick = if stopping { Duration::from_millis(50) } else { changes.tick() };
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = changes.full.notified() => {}
            _ = stop.cancelled(), if !stopping => stopping = true,
        }
        // The last holders: this task's `hooks` and `changes`.
        let last = stopping && Arc::strong_count(&changes) == 2;
        let due = if stopping { changes.take_all() } else { changes.due(tokio::time::Instant::now()) };
        updated(&hooks, due).await;
        if last {
            return;
        }
    }
}

/// Queues `document.updated` for each document still live.
async fn updated(hooks: &Hooks, docs: Vec<DocId>) {
    for doc in docs {
        let document = match hooks.store.document(&doc).await {
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
        hooks.announce(&document.workspace_id, "document.updated", &data).await;
    }
}
