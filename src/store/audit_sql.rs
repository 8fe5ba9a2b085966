//! [`Audit`] for [`SqlStore`]: the audit log's SQL, written once for both backends, and
//! [`insert`], which the admin changes call inside their own transactions.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, Type};

use super::StoreError;
use super::audit::{Audit, AuditAction, AuditEntry, AuditEvent, AuditQuery};
use super::dialect::{Dialect, RowsAffected};
use super::sql::SqlStore;
use crate::ids::{UserId, WorkspaceId};

#[derive(FromRow)]
struct EventRow {
    id: i64,
    at: i64,
    actor_id: Option<String>,
    actor_name: Option<String>,
    action: String,
    target_kind: Option<String>,
    target_id: Option<String>,
    workspace_id: Option<String>,
    address: Option<String>,
    detail: Option<String>,
}

impl TryFrom<EventRow> for AuditEvent {
    type Error = StoreError;

    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        let action = AuditAction::parse(&r.action)
            .ok_or_else(|| StoreError::Invalid(format!("audit row {}: action {}", r.id, r.action)))?;
        Ok(AuditEvent {
            id: r.id,
            at: r.at,
            actor_id: r.actor_id.map(UserId::new),
            actor_name: r.actor_name,
            action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            workspace_id: r.workspace_id.map(WorkspaceId::new),
            address: r.address,
            detail: r.detail.and_then(|d| serde_json::from_str(&d).ok()),
        })
    }
}

/// Writes one audit row on `conn` (a transaction's, so the row commits with the change).
pub(super) async fn insert<DB>(conn: &mut DB::Connection, e: &AuditEntry) -> Result<(), StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    let (kind, target) = e.target.as_ref().map(|(k, id)| (*k, id.as_str())).unzip();
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, action, target_kind, target_id, workspace_id, address, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.at)
    .bind(e.actor.as_ref().map(|u| u.as_str()))
    .bind(e.action.as_str())
    .bind(kind)
    .bind(target)
    .bind(e.workspace.as_ref().map(|w| w.as_str()))
    .bind(e.address.as_deref())
    .bind(e.detail_json())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl<DB> Audit for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert::<DB>(&mut conn, entry).await
    }

    async fn audit_events(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let mut qb = sqlx::QueryBuilder::<DB>::new(
            // The actor's name as it is now (none once the account is deleted).
            "SELECT a.id, a.at, a.actor_id, u.name AS actor_name, a.action, a.target_kind, a.target_id,
                    a.workspace_id, a.address, a.detail
             FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id WHERE 1 = 1",
        );
        if let Some(ws) = &q.workspace {
            qb.push(" AND a.workspace_id = ");
            qb.push_bind(ws.as_str().to_owned());
        }
        if let Some(action) = q.action {
            qb.push(" AND a.action = ");
            qb.push_bind(action.as_str().to_owned());
        }
        if let Some(actor) = &q.actor {
            qb.push(" AND a.actor_id = ");
            qb.push_bind(actor.as_str().to_owned());
        }
        for (clause, value) in [(" AND a.at >= ", q.since), (" AND a.at < ", q.until), (" AND a.id < ", q.before_id)] {
            if let Some(v) = value {
                qb.push(clause);
                qb.push_bind(v);
            }
        }
        qb.push(" ORDER BY a.id DESC LIMIT ");
        qb.push_bind(i64::from(q.limit));
        let rows: Vec<EventRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn prune_audit(&self, before: i64, max: u32) -> Result<u64, StoreError> {
        // Oldest first by `at` (its index), in bounded batches: a long-idle instance does
        // not hold a lock for one huge delete.
        let done = sqlx::query(
            "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY at LIMIT $2)",
        )
        .bind(before)
        .bind(i64::from(max))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
