//! [`Attachments`] for [`SqlStore`]: attachment rows, written once for both backends.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, Type};

use super::StoreError;
use super::attachments::{Attachment, Attachments, Quotas, Refused};
use super::dialect::Dialect;
use super::sql::SqlStore;
use crate::ids::{AttachmentId, DocId, UserId, WorkspaceId};

/// Bytes of attachments in the workspaces made by the creator of workspace `$1`.
const CREATOR_BYTES: &str = "SELECT CAST(SUM(a.size) AS BIGINT) FROM attachments a
     JOIN workspaces w ON w.id = a.workspace_id
     WHERE w.created_by = (SELECT created_by FROM workspaces WHERE id = $1)";

const COLUMNS: &str = "id, document_id, workspace_id, name, content_type, size, sha256, created_by, created_at";

#[derive(FromRow)]
struct AttachmentRow {
    id: String,
    document_id: String,
    workspace_id: String,
    name: String,
    content_type: String,
    size: i64,
    sha256: String,
    created_by: Option<String>,
    created_at: i64,
}

impl TryFrom<AttachmentRow> for Attachment {
    type Error = StoreError;

    fn try_from(r: AttachmentRow) -> Result<Self, StoreError> {
        let document_id = DocId::parse(&r.document_id)
            .ok_or_else(|| StoreError::Invalid(format!("attachment {}: document id", r.id)))?;
        Ok(Attachment {
            id: AttachmentId::new(r.id),
            document_id,
            workspace_id: WorkspaceId::new(r.workspace_id),
            name: r.name,
            content_type: r.content_type,
            size: r.size,
            sha256: r.sha256,
            created_by: r.created_by.map(UserId::new),
            created_at: r.created_at,
        })
    }
}

/// Which attachment rows a deletion of documents takes with it.
pub(super) enum AttachmentsOf<'a> {
    Document(&'a DocId),
    /// Every document of the workspace.
    Workspace(&'a WorkspaceId),
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// Deletes the attachment rows of a document, or of a workspace's documents, in the
    /// caller's transaction (before the documents, which would cascade to them unseen),
    /// and answers their distinct blobs: the caller releases them once it commits. An
    /// upload that lands before is deleted and answered here; one after finds no document.
    pub(super) async fn delete_attachments_in(
        conn: &mut DB::Connection,
        of: AttachmentsOf<'_>,
    ) -> Result<Vec<String>, StoreError> {
        let (sql, key) = match of {
            AttachmentsOf::Document(doc) => {
                ("DELETE FROM attachments WHERE document_id = $1 RETURNING sha256", doc.as_str())
            }
            AttachmentsOf::Workspace(ws) => (
                "DELETE FROM attachments WHERE workspace_id = $1
                     OR document_id IN (SELECT id FROM documents WHERE workspace_id = $1) RETURNING sha256",
                ws.as_str(),
            ),
        };
        let rows: Vec<(String,)> = sqlx::query_as(sql).bind(key).fetch_all(&mut *conn).await?;
        let mut blobs: Vec<String> = rows.into_iter().map(|(sha256,)| sha256).collect();
        blobs.sort();
        blobs.dedup();
        Ok(blobs)
    }
}

#[async_trait]
impl<DB> Attachments for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Decode<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Decode<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn create_attachments(&self, rows: &[Attachment], quotas: Quotas) -> Result<Result<(), Refused>, StoreError> {
        let Some(first) = rows.first() else { return Ok(Ok(())) };
        let workspace = &first.workspace_id;
        debug_assert!(rows.iter().all(|a| &a.workspace_id == workspace), "one workspace at a time");
        let adding = rows.iter().fold(0i64, |sum, a| sum.saturating_add(a.size));
        let mut tx = self.write_tx().await?;
        // The creator first, then the workspace: the order account deletion takes them in.
        let creator: Option<(Option<String>,)> = sqlx::query_as("SELECT created_by FROM workspaces WHERE id = $1")
            .bind(workspace.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((Some(creator),)) = &creator {
            DB::lock_user(&mut tx, &UserId::new(creator.clone())).await?;
        }
        DB::lock_workspace(&mut tx, workspace).await?;
        let (used,): (Option<i64>,) =
            sqlx::query_as("SELECT CAST(SUM(size) AS BIGINT) FROM attachments WHERE workspace_id = $1")
                .bind(workspace.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if used.unwrap_or(0).saturating_add(adding) > quotas.workspace {
            return Ok(Err(Refused::OverQuota));
        }
        let (all,): (Option<i64>,) = sqlx::query_as(CREATOR_BYTES).bind(workspace.as_str()).fetch_one(&mut *tx).await?;
        if all.unwrap_or(0).saturating_add(adding) > quotas.user {
            return Ok(Err(Refused::OverUserQuota));
        }
        for a in rows {
            sqlx::query(
                "INSERT INTO attachments (id, document_id, workspace_id, name, content_type, size, sha256, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(a.id.as_str())
            .bind(a.document_id.as_str())
            .bind(a.workspace_id.as_str())
            .bind(a.name.as_str())
            .bind(a.content_type.as_str())
            .bind(a.size)
            .bind(a.sha256.as_str())
            .bind(a.created_by.as_ref().map(UserId::as_str))
            .bind(a.created_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn attachments_of(&self, doc: &DocId, limit: u32) -> Result<Vec<Attachment>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM attachments WHERE document_id = $1 ORDER BY created_at, id LIMIT $2");
        let rows: Vec<AttachmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(doc.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn attachment(&self, doc: &DocId, id: &AttachmentId) -> Result<Option<Attachment>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM attachments WHERE document_id = $1 AND id = $2");
        let row: Option<AttachmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(doc.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn delete_attachment(&self, doc: &DocId, id: &AttachmentId) -> Result<Option<Attachment>, StoreError> {
        let sql = format!("DELETE FROM attachments WHERE document_id = $1 AND id = $2 RETURNING {COLUMNS}");
        let row: Option<AttachmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(doc.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn blob_in_use(&self, sha256: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM attachments WHERE sha256 = $1 LIMIT 1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn workspace_attachment_bytes(&self, ws: &WorkspaceId) -> Result<i64, StoreError> {
        let (used,): (Option<i64>,) =
            sqlx::query_as("SELECT CAST(SUM(size) AS BIGINT) FROM attachments WHERE workspace_id = $1")
                .bind(ws.as_str())
                .fetch_one(&self.pool)
                .await?;
        Ok(used.unwrap_or(0))
    }

    async fn creator_attachment_bytes(&self, ws: &WorkspaceId) -> Result<i64, StoreError> {
        let (used,): (Option<i64>,) = sqlx::query_as(CREATOR_BYTES).bind(ws.as_str()).fetch_one(&self.pool).await?;
        Ok(used.unwrap_or(0))
    }
}
