//! [`Webhooks`] for [`SqlStore`]: hooks and their delivery outbox, written once for both
//! backends. [`SqlStore::enqueue_in`] queues deliveries inside another change's
//! transaction, so an event is queued exactly when its change commits.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, Type};

use super::StoreError;
use super::dialect::{Dialect, RowsAffected};
use super::sql::SqlStore;
use super::webhooks::{
    Attempt, Claimed, DELIVERIES_KEPT, Delivery, PING, Ping, Webhook, Webhooks, envelope, events_column, events_of,
};
use crate::ids::{DeliveryId, UserId, WebhookId, WorkspaceId};

const HOOK_COLUMNS: &str = "id, workspace_id, url, events, created_by, created_at, failures, disabled_at";
const DELIVERY_COLUMNS: &str =
    "id, event, created_at, state, attempts, next_at, last_status, last_error, latency_ms, finished_at";

#[derive(FromRow)]
struct HookRow {
    id: String,
    workspace_id: String,
    url: String,
    events: String,
    created_by: Option<String>,
    created_at: i64,
    failures: i64,
    disabled_at: Option<i64>,
}

impl From<HookRow> for Webhook {
    fn from(r: HookRow) -> Self {
        Webhook {
            id: WebhookId::new(r.id),
            workspace_id: WorkspaceId::new(r.workspace_id),
            url: r.url,
            events: events_of(&r.events),
            created_by: r.created_by.map(UserId::new),
            created_at: r.created_at,
            failures: r.failures,
            disabled_at: r.disabled_at,
        }
    }
}

#[derive(FromRow)]
struct DeliveryRow {
    id: String,
    event: String,
    created_at: i64,
    state: String,
    attempts: i64,
    next_at: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    latency_ms: Option<i64>,
    finished_at: Option<i64>,
}

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        Delivery {
            id: DeliveryId::new(r.id),
            event: r.event,
            created_at: r.created_at,
            state: r.state,
            attempts: r.attempts,
            next_at: r.next_at,
            last_status: r.last_status,
            last_error: r.last_error,
            latency_ms: r.latency_ms,
            finished_at: r.finished_at,
        }
    }
}

/// The enabled hooks of a workspace ($1) that take an event ($2: [`takes`]).
const LIVE_HOOKS: &str = "SELECT id FROM webhooks WHERE workspace_id = $1 AND disabled_at IS NULL AND events LIKE $2";

/// The `LIKE` pattern of the `events` column of a hook that takes `event`.
fn takes(event: &str) -> String {
    format!("%,{event},%")
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// Deliveries one hook may have waiting, as the server last set it.
    pub(super) fn max_pending(&self) -> i64 {
        self.webhook_max_pending.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Queues `event` for the workspace's enabled hooks that asked for it, in the
    /// caller's transaction; answers how many deliveries were queued. A hook with
    /// `max_pending` deliveries waiting (pings included) is disabled instead.
    pub(super) async fn enqueue_in(
        tx: &mut DB::Connection,
        ws: &str,
        event: &str,
        data: &serde_json::Value,
        (now, max_pending): (i64, i64),
    ) -> Result<u64, StoreError> {
        let hooks: Vec<(String,)> = sqlx::query_as(LIVE_HOOKS).bind(ws).bind(takes(event)).fetch_all(&mut *tx).await?;
        let max_pending = max_pending.max(1);
        let mut queued = 0;
        for (hook,) in &hooks {
            // Counts at most `max_pending` index entries: cheap while the receiver keeps up.
            let (pending,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries
                     WHERE hook_id = $1 AND state = 'pending' LIMIT $2) waiting",
            )
            .bind(hook.as_str())
            .bind(max_pending)
            .fetch_one(&mut *tx)
            .await?;
            if pending >= max_pending {
                sqlx::query("UPDATE webhooks SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL")
                    .bind(hook.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let reason = "the webhook was disabled with too many deliveries waiting";
                Self::fail_pending(tx, hook, now, reason).await?;
                continue;
            }
            Self::insert_delivery(tx, hook, ws, event, data, now).await?;
            queued += 1;
        }
        Ok(queued)
    }

    /// Fails what a disabled hook still had waiting (pings aside), so its log says so,
    /// and trims its log to the deliveries kept.
    async fn fail_pending(tx: &mut DB::Connection, hook: &str, now: i64, reason: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'failed', finished_at = $2, last_error = $3
             WHERE hook_id = $1 AND state = 'pending' AND event <> $4",
        )
        .bind(hook)
        .bind(now)
        .bind(reason)
        .bind(PING)
        .execute(&mut *tx)
        .await?;
        Self::prune(tx, hook).await
    }

    /// Deletes a hook's finished deliveries past the newest [`DELIVERIES_KEPT`].
    async fn prune(tx: &mut DB::Connection, hook: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE hook_id = $1 AND state <> 'pending' AND id NOT IN (
                 SELECT id FROM webhook_deliveries WHERE hook_id = $1 AND state <> 'pending'
                 ORDER BY created_at DESC, id DESC LIMIT $2)",
        )
        .bind(hook)
        .bind(DELIVERIES_KEPT)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    async fn insert_delivery(
        tx: &mut DB::Connection,
        hook: &str,
        ws: &str,
        event: &str,
        data: &serde_json::Value,
        now: i64,
    ) -> Result<DeliveryId, StoreError> {
        let id = DeliveryId::random();
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, hook_id, event, payload, created_at, state, next_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', $5)",
        )
        .bind(id.as_str())
        .bind(hook)
        .bind(event)
        .bind(envelope(&id, event, now, ws, data))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Ok(id)
    }
}

#[async_trait]
impl<DB> Webhooks for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Decode<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn create_webhook(&self, hook: &Webhook, secret: &str, per_workspace: i64) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        DB::lock_workspace(&mut tx, &hook.workspace_id).await?;
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM webhooks WHERE workspace_id = $1")
            .bind(hook.workspace_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if n >= per_workspace {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhooks (id, workspace_id, url, events, secret, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(hook.id.as_str())
        .bind(hook.workspace_id.as_str())
        .bind(hook.url.as_str())
        .bind(events_column(&hook.events))
        .bind(secret)
        .bind(hook.created_by.as_ref().map(UserId::as_str))
        .bind(hook.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    fn set_webhook_max_pending(&self, max_pending: i64) {
        self.webhook_max_pending.store(max_pending.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    async fn webhooks_of(&self, ws: &WorkspaceId) -> Result<Vec<Webhook>, StoreError> {
        let sql = format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE workspace_id = $1 ORDER BY created_at, id");
        let rows: Vec<HookRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ws.as_str()).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn webhook(&self, ws: &WorkspaceId, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        let sql = format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE workspace_id = $1 AND id = $2");
        let row: Option<HookRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    async fn delete_webhook(&self, ws: &WorkspaceId, id: &WebhookId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM webhooks WHERE workspace_id = $1 AND id = $2")
            .bind(ws.as_str())
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn enqueue_webhooks(
        &self,
        ws: &WorkspaceId,
        event: &str,
        data: &serde_json::Value,
        now: i64,
    ) -> Result<u64, StoreError> {
        // Most workspaces have no hook for most events: a read answers that without the
        // write lock (on SQLite the one writer the group commit also waits for). A hook
        // made between this read and the event is one made after the event.
        let any: Option<(String,)> =
            sqlx::query_as(LIVE_HOOKS).bind(ws.as_str()).bind(takes(event)).fetch_optional(&self.pool).await?;
        if any.is_none() {
            return Ok(0);
        }
        let mut tx = self.write_tx().await?;
        let n = Self::enqueue_in(&mut tx, ws.as_str(), event, data, (now, self.max_pending())).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn enqueue_ping(&self, hook: &Webhook, now: i64) -> Result<Ping, StoreError> {
        let mut tx = self.write_tx().await?;
        let waiting = "SELECT id FROM webhook_deliveries WHERE hook_id = $1 AND state = 'pending' AND event = $2";
        let pending: Option<(String,)> =
            sqlx::query_as(waiting).bind(hook.id.as_str()).bind(PING).fetch_optional(&mut *tx).await?;
        if let Some((id,)) = pending {
            return Ok(Ping::Waiting(DeliveryId::new(id)));
        }
        // A unique index holds one pending ping per hook; a ping queued by a concurrent
        // request meanwhile wins, and is the one answered.
        let id = DeliveryId::random();
        let data = serde_json::json!({"hook_id": hook.id});
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (id, hook_id, event, payload, created_at, state, next_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', $5) ON CONFLICT DO NOTHING",
        )
        .bind(id.as_str())
        .bind(hook.id.as_str())
        .bind(PING)
        .bind(envelope(&id, PING, now, hook.workspace_id.as_str(), &data))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            let (id,): (String,) =
                sqlx::query_as(waiting).bind(hook.id.as_str()).bind(PING).fetch_one(&mut *tx).await?;
            return Ok(Ping::Waiting(DeliveryId::new(id)));
        }
        tx.commit().await?;
        Ok(Ping::Queued(id))
    }

    async fn claim_deliveries(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<Claimed>, StoreError> {
        let mut tx = self.write_tx().await?;
        // The outer `lease_until <= now` is checked again on the locked row (Postgres
        // re-reads a row another transaction changed), so two nodes never both win one.
        // Fairness: the oldest due row of each hook with nothing in flight, so a hook with
        // a long backlog or a hanging receiver takes one sender, never the whole batch.
        // (Two nodes claiming at once may each take one row of a hook: two in flight.)
        let claimed: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
            "UPDATE webhook_deliveries SET lease_until = $2, attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM (
                     SELECT d.id, d.next_at,
                            ROW_NUMBER() OVER (PARTITION BY d.hook_id ORDER BY d.next_at, d.id) AS nth
                     FROM webhook_deliveries d JOIN webhooks h ON h.id = d.hook_id
                     WHERE d.state = 'pending' AND d.next_at <= $1 AND d.lease_until <= $1
                       AND ((h.disabled_at IS NULL AND h.paused_until <= $1) OR d.event = $4)
                       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries f
                                       WHERE f.hook_id = d.hook_id AND f.state = 'pending' AND f.lease_until > $1)
                 ) due
                 WHERE nth = 1 ORDER BY next_at LIMIT $3)
               AND state = 'pending' AND lease_until <= $1
             RETURNING id, hook_id, event, payload, created_at, attempts",
        )
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .bind(PING)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(claimed.len());
        for (id, hook_id, event, payload, created_at, attempts) in claimed {
            let (url, secret, hook_timeouts): (String, String, i64) =
                sqlx::query_as("SELECT url, secret, timeouts FROM webhooks WHERE id = $1")
                    .bind(hook_id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
            out.push(Claimed {
                id: DeliveryId::new(id),
                hook_id: WebhookId::new(hook_id),
                url,
                secret,
                event,
                payload,
                created_at,
                attempts,
                lease_until,
                hook_timeouts,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn finish_delivery(&self, c: &Claimed, a: &Attempt, now: i64) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let (state, next_at, finished_at) = match (a.delivered, a.retry_at) {
            (true, _) => ("delivered", now, Some(now)),
            (false, Some(at)) => ("pending", at, None),
            (false, None) => ("failed", now, Some(now)),
        };
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = $3, next_at = $4, finished_at = $5, lease_until = 0,
                 last_status = $6, last_error = $7, latency_ms = $8
             WHERE id = $1 AND lease_until = $2 AND state = 'pending'",
        )
        .bind(c.id.as_str())
        .bind(c.lease_until)
        .bind(state)
        .bind(next_at)
        .bind(finished_at)
        .bind(a.status)
        .bind(a.error.as_deref())
        .bind(a.latency_ms)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(());
        }
        if let Some(until) = a.pause_hook_until {
            sqlx::query("UPDATE webhooks SET timeouts = timeouts + 1, paused_until = $2 WHERE id = $1")
                .bind(c.hook_id.as_str())
                .bind(until)
                .execute(&mut *tx)
                .await?;
        } else if a.status.is_some() {
            sqlx::query("UPDATE webhooks SET timeouts = 0, paused_until = 0 WHERE id = $1 AND timeouts <> 0")
                .bind(c.hook_id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        match state {
            "delivered" => {
                sqlx::query("UPDATE webhooks SET failures = 0 WHERE id = $1")
                    .bind(c.hook_id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            "failed" => {
                sqlx::query(
                    "UPDATE webhooks SET failures = failures + 1,
                         disabled_at = CASE WHEN disabled_at IS NULL AND failures + 1 >= $2 THEN $3
                                            ELSE disabled_at END
                     WHERE id = $1",
                )
                .bind(c.hook_id.as_str())
                .bind(a.disable_after)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // A hook disabled sends nothing more but pings: what it still had queued
                // fails now, so its log says so.
                let (disabled,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM webhooks WHERE id = $1 AND disabled_at IS NOT NULL")
                        .bind(c.hook_id.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                if disabled > 0 {
                    let reason = "the webhook was disabled after repeated failures";
                    Self::fail_pending(&mut tx, c.hook_id.as_str(), now, reason).await?;
                }
            }
            _ => {}
        }
        if finished_at.is_some() {
            Self::prune(&mut tx, c.hook_id.as_str()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(&self, hook: &WebhookId, limit: i64, offset: i64) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE hook_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let rows: Vec<DeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(hook.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
