//! Webhooks as stored: a workspace's hooks ([`Webhook`]) and the durable outbox of their
//! deliveries ([`Delivery`], [`Claimed`]), behind the [`Webhooks`] trait both backends
//! implement (`webhooks_sql.rs`). Changes that announce themselves (documents created or
//! trashed, comments, versions) queue their deliveries in their own transaction; the rest
//! go through [`Webhooks::enqueue_webhooks`] once their change has committed. The
//! `webhooks` module sends what is queued.

use async_trait::async_trait;
use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;
use crate::ids::{DeliveryId, UserId, WebhookId, WorkspaceId};

/// Every event type a hook may ask for.
pub const EVENT_TYPES: &[&str] = &[
    "document.created",
    "document.updated",
    "document.deleted",
    "comment.created",
    "version.created",
    "member.added",
    "member.removed",
];
/// The event a test ping sends, to its one hook whatever it asked for.
pub const PING: &str = "ping";
/// Deliveries one hook may have waiting until the server sets its own limit
/// ([`Webhooks::set_webhook_max_pending`]).
pub const DEFAULT_MAX_PENDING: i64 = 10_000;
/// Finished deliveries kept per hook for its log; older ones are deleted as new ones finish.
pub const DELIVERIES_KEPT: i64 = 200;

/// One hook, never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Webhook {
    pub id: WebhookId,
    pub workspace_id: WorkspaceId,
    pub url: String,
    /// The event types sent to it.
    pub events: Vec<String>,
    /// Who registered it (`null` for hooks made before this was recorded).
    #[schema(value_type = Option<String>)]
    pub created_by: Option<UserId>,
    pub created_at: i64,
    /// Deliveries in a row that failed after every retry (reset by any success).
    pub failures: i64,
    /// When the hook was disabled for failing; nothing is queued for it any more.
    pub disabled_at: Option<i64>,
}

/// One delivery as its hook's log shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    pub id: DeliveryId,
    /// The event type (`ping` for a test ping).
    pub event: String,
    pub created_at: i64,
    /// `pending`, `delivered` or `failed` (gave up after retrying).
    pub state: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (pending deliveries).
    pub next_at: i64,
    /// The HTTP status of the last attempt, when one was received.
    pub last_status: Option<i64>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// How long the last attempt took, in milliseconds.
    pub latency_ms: Option<i64>,
    pub finished_at: Option<i64>,
}

/// A delivery this node holds the lease of, with what sending it needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: DeliveryId,
    pub hook_id: WebhookId,
    pub url: String,
    pub secret: String,
    pub event: String,
    /// The exact body to send.
    pub payload: String,
    pub created_at: i64,
    /// Attempts including this one.
    pub attempts: i64,
    /// The lease this node holds; finishing checks it is still this one.
    pub lease_until: i64,
    /// Attempts in a row at this hook that got no answer in time.
    pub hook_timeouts: i64,
}

/// What a ping request came to: a new delivery, or the one still waiting (a hook has at
/// most one ping waiting, so pings cannot grow its outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ping {
    Queued(DeliveryId),
    Waiting(DeliveryId),
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub delivered: bool,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
    /// When to try again; `None` gives up (the delivery fails).
    pub retry_at: Option<i64>,
    /// Failed deliveries in a row that disable the hook.
    pub disable_after: i64,
    /// Set when the attempt got no answer in time: nothing more of the hook's is sent
    /// (pings aside) before then, so a receiver that hangs holds no sender for long.
    /// Any answer, even an error status, ends the pause.
    pub pause_hook_until: Option<i64>,
}

#[async_trait]
pub trait Webhooks: Send + Sync + 'static {
    /// Stores a hook unless its workspace holds `per_workspace` already (answers `false`
    /// then).
    async fn create_webhook(&self, hook: &Webhook, secret: &str, per_workspace: i64) -> Result<bool, StoreError>;

    /// Deliveries one hook may have waiting (`--webhook-max-pending`, at least 1), for
    /// every hook from the next event on, whenever the hook was made.
    fn set_webhook_max_pending(&self, max_pending: i64);

    /// A workspace's hooks, oldest first.
    async fn webhooks_of(&self, ws: &WorkspaceId) -> Result<Vec<Webhook>, StoreError>;

    async fn webhook(&self, ws: &WorkspaceId, id: &WebhookId) -> Result<Option<Webhook>, StoreError>;

    /// Deletes a hook and its deliveries, sent or not; `false` when there is no such hook.
    async fn delete_webhook(&self, ws: &WorkspaceId, id: &WebhookId) -> Result<bool, StoreError>;

    /// Queues `event` with `data` for every enabled hook of the workspace that asked for
    /// it; answers how many deliveries were queued. Call only after the change committed.
    /// A hook with the maximum of deliveries waiting (pings included) is disabled instead.
    async fn enqueue_webhooks(
        &self,
        ws: &WorkspaceId,
        event: &str,
        data: &serde_json::Value,
        now: i64,
    ) -> Result<u64, StoreError>;

    /// Queues a `ping` for one hook (enabled or not: a ping is how an owner checks a fix),
    /// unless one is waiting already: that one is answered then.
    async fn enqueue_ping(&self, hook: &Webhook, now: i64) -> Result<Ping, StoreError>;

    /// Leases up to `limit` deliveries due at `now` (of enabled hooks not paused, and pings
    /// of any) until `lease_until`: at most one per hook, and none of a hook with a
    /// delivery leased already, so one slow receiver holds at most one sender.
    async fn claim_deliveries(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<Claimed>, StoreError>;

    /// Records an attempt at a claimed delivery: delivered, retried later, or failed (which
    /// may disable its hook). A lease lost meanwhile (it expired and another node took the
    /// row) records nothing.
    async fn finish_delivery(&self, claimed: &Claimed, attempt: &Attempt, now: i64) -> Result<(), StoreError>;

    /// A hook's deliveries, newest first.
    async fn deliveries(&self, hook: &WebhookId, limit: i64, offset: i64) -> Result<Vec<Delivery>, StoreError>;
}

/// The `events` column: the list wrapped in commas, so `LIKE '%,type,%'` matches one type.
pub fn events_column(events: &[String]) -> String {
    format!(",{},", events.join(","))
}

/// The list the `events` column holds.
pub fn events_of(column: &str) -> Vec<String> {
    column.split(',').filter(|e| !e.is_empty()).map(str::to_owned).collect()
}

/// The body every delivery sends: the delivery's id, the event type, when it happened,
/// the workspace, and the event's own data.
pub fn envelope(id: &DeliveryId, event: &str, now: i64, ws: &str, data: &serde_json::Value) -> String {
    serde_json::json!({"id": id, "type": event, "created_at": now, "workspace_id": ws, "data": data}).to_string()
}
