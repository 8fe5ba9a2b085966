//! [`Profiles`] for [`SqlStore`]: profiles, who may see whom, and account deletion,
//! written once for both backends.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, Type};

use super::StoreError;
use super::dialect::Dialect;
use super::profiles::{EraseRefusal, Erased, Profile, Profiles};
use super::sql::SqlStore;
use crate::ids::{DocId, UserId, WorkspaceId};

#[derive(FromRow)]
struct ProfileRow {
    id: String,
    email: Option<String>,
    name: String,
    avatar_url: Option<String>,
    has_password: i64,
    is_admin: i64,
    created_at: i64,
}

impl From<ProfileRow> for Profile {
    fn from(r: ProfileRow) -> Self {
        Profile {
            id: UserId::new(r.id),
            email: r.email,
            name: r.name,
            avatar_url: r.avatar_url,
            has_password: r.has_password != 0,
            is_admin: r.is_admin != 0,
            created_at: r.created_at,
        }
    }
}

/// Whether `$1` and `$2` meet: one workspace, or a document one can read through a
/// share and the other through its workspace or a share of their own.
const MEET: &str = "SELECT CAST(1 AS BIGINT) AS met WHERE $1 = $2
    OR EXISTS (SELECT 1 FROM workspace_members a JOIN workspace_members b ON a.workspace_id = b.workspace_id
               WHERE a.user_id = $1 AND b.user_id = $2)
    OR EXISTS (SELECT 1 FROM document_shares s JOIN documents d ON d.id = s.document_id
               JOIN workspace_members m ON m.workspace_id = d.workspace_id
               WHERE (s.user_id = $1 AND m.user_id = $2) OR (s.user_id = $2 AND m.user_id = $1))
    OR EXISTS (SELECT 1 FROM document_shares a JOIN document_shares b ON a.document_id = b.document_id
               WHERE a.user_id = $1 AND b.user_id = $2)";

/// The statements that detach a user from what stays (in order, each bound to the user
/// as `$1`), once the workspaces only they were in are gone.
const DETACH: &[&str] = &[
    // Documents they made in workspaces that stay pass to one of its other owners.
    "UPDATE documents SET owner_id = (SELECT m.user_id FROM workspace_members m
         WHERE m.workspace_id = documents.workspace_id AND m.role = 'owner' AND m.user_id <> $1
         ORDER BY m.created_at, m.user_id LIMIT 1)
     WHERE owner_id = $1",
    "UPDATE workspaces SET created_by = (SELECT m.user_id FROM workspace_members m
         WHERE m.workspace_id = workspaces.id AND m.role = 'owner' AND m.user_id <> $1
         ORDER BY m.created_at, m.user_id LIMIT 1)
     WHERE created_by = $1",
    "DELETE FROM invitations WHERE invited_by = $1",
    // A thread goes with the message that started it.
    "DELETE FROM comments WHERE thread_id IN (SELECT id FROM comments WHERE author_id = $1 AND thread_id = id)",
    "DELETE FROM doc_contributors WHERE user_id = $1",
    "UPDATE doc_versions SET created_by = NULL WHERE created_by = $1",
    "UPDATE attachments SET created_by = NULL WHERE created_by = $1",
    // Sessions, settings, memberships, shares, tokens, notifications, comments cascade.
    "DELETE FROM users WHERE id = $1",
    // Written by the cascades just above, for no one.
    "DELETE FROM doc_access_changes WHERE user_id = $1",
];

#[async_trait]
impl<DB> Profiles for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Decode<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn profile(&self, user: &UserId) -> Result<Option<Profile>, StoreError> {
        let row: Option<ProfileRow> = sqlx::query_as(
            "SELECT id, email, name, avatar_url,
                 CAST(CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_password, is_admin, created_at
             FROM users WHERE id = $1",
        )
        .bind(user.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Into::into))
    }

    async fn set_profile(
        &self,
        user: &UserId,
        name: Option<&str>,
        avatar_url: Option<Option<&str>>,
    ) -> Result<Option<Profile>, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET name = COALESCE($2, name),
                 avatar_url = CASE WHEN $3 = 1 THEN $4 ELSE avatar_url END
             WHERE id = $1",
        )
        .bind(user.as_str())
        .bind(name)
        .bind(i64::from(avatar_url.is_some()))
        .bind(avatar_url.flatten())
        .execute(&self.pool)
        .await?;
        if super::dialect::RowsAffected::rows_affected(&done) != 1 {
            return Ok(None);
        }
        self.profile(user).await
    }

    async fn can_see_user(&self, viewer: &UserId, user: &UserId) -> Result<bool, StoreError> {
        let met: Option<(i64,)> =
            sqlx::query_as(MEET).bind(viewer.as_str()).bind(user.as_str()).fetch_optional(&self.pool).await?;
        Ok(met.is_some())
    }

    async fn delete_account(&self, user: &UserId) -> Result<Result<Erased, EraseRefusal>, StoreError> {
        let mut tx = self.write_tx().await?;
        // Admins first, as `set_admin` and `set_disabled` take them: the last enabled
        // admin cannot leave the instance without one.
        DB::lock_admins(&mut tx).await?;
        DB::lock_user(&mut tx, user).await?;
        let admin = Self::standing_on(&mut tx, user).await?.is_some_and(|s| s.admin && s.disabled_at.is_none());
        if admin && Self::would_orphan(&mut tx, user).await? {
            return Ok(Err(EraseRefusal::LastAdmin));
        }
        let workspaces: Vec<(String,)> =
            sqlx::query_as("SELECT workspace_id FROM workspace_members WHERE user_id = $1 ORDER BY workspace_id")
                .bind(user.as_str())
                .fetch_all(&mut *tx)
                .await?;
        // In one order, like every membership change: counts read below hold until commit.
        for (ws,) in &workspaces {
            DB::lock_workspace(&mut tx, &WorkspaceId::new(ws.clone())).await?;
        }
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT id FROM users WHERE id = $1").bind(user.as_str()).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Ok(Err(EraseRefusal::Missing));
        }
        let last_owner: Vec<(String,)> = sqlx::query_as(
            "SELECT m.workspace_id FROM workspace_members m
             WHERE m.user_id = $1 AND m.role = 'owner'
               AND NOT EXISTS (SELECT 1 FROM workspace_members o WHERE o.workspace_id = m.workspace_id
                               AND o.role = 'owner' AND o.user_id <> $1)
               AND EXISTS (SELECT 1 FROM workspace_members x WHERE x.workspace_id = m.workspace_id AND x.user_id <> $1)
             ORDER BY m.workspace_id",
        )
        .bind(user.as_str())
        .fetch_all(&mut *tx)
        .await?;
        if !last_owner.is_empty() {
            let ids = last_owner.into_iter().map(|(w,)| WorkspaceId::new(w)).collect();
            return Ok(Err(EraseRefusal::LastOwner(ids)));
        }
        let alone: Vec<(String,)> = sqlx::query_as(
            "SELECT m.workspace_id FROM workspace_members m WHERE m.user_id = $1 AND NOT EXISTS
                 (SELECT 1 FROM workspace_members o WHERE o.workspace_id = m.workspace_id AND o.user_id <> $1)
             ORDER BY m.workspace_id",
        )
        .bind(user.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let (mut docs, mut blobs) = (Vec::new(), Vec::new());
        for (ws,) in &alone {
            let ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM documents WHERE workspace_id = $1")
                .bind(ws.as_str())
                .fetch_all(&mut *tx)
                .await?;
            docs.extend(ids.into_iter().filter_map(|(id,)| DocId::parse(&id)));
            blobs.extend(Self::delete_workspace_in(&mut tx, &WorkspaceId::new(ws.clone())).await?.unwrap_or_default());
        }
        blobs.sort();
        blobs.dedup();
        for &sql in DETACH {
            sqlx::query(sql).bind(user.as_str()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Ok(Erased { documents: docs, blobs }))
    }
}
