//! The accounts half of the catalogue (users, sessions, settings, workspaces, members,
//! invitations): [`Accounts`] for [`SqlStore`], its SQL written once for both backends.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, Type};

use super::StoreError;
use super::attachments_sql::AttachmentsOf;
use super::audit::{AuditAction, AuditEntry};
use super::audit_sql;
use super::catalog::{
    Accounts, Credentials, Invitation, InvitationsRevoked, Member, MemberChange, MemberRefusal, NewUser,
    PendingInvitation, Role, Session, User, Workspace,
};
use super::catalog_sql::{CredentialsRow, InvitationRow, MemberRow, SessionRow, UserRow, WorkspaceRow, role};
use super::dialect::{Dialect, RowsAffected};
use super::error::USER_KEYS;
use super::sql::SqlStore;
use crate::ids::{UserId, WorkspaceId};

/// The audit detail of the admin role the first account gets.
fn first_account() -> serde_json::Value {
    serde_json::json!({"reason": "first account"})
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// Deletes a workspace, its documents and everything stored for them, in the caller's
    /// transaction: the one way both a workspace's and an account's deletion take one.
    /// `None`: no such workspace; else the blobs of its deleted attachments, to release
    /// once the transaction commits.
    pub(super) async fn delete_workspace_in(
        conn: &mut DB::Connection,
        ws: &WorkspaceId,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let blobs = Self::delete_attachments_in(conn, AttachmentsOf::Workspace(ws)).await?;
        // Rows keyed by document id without a foreign key: nothing cascades to them.
        for sql in [
            "DELETE FROM doc_updates WHERE doc_id IN (SELECT id FROM documents WHERE workspace_id = $1)",
            "DELETE FROM doc_snapshots WHERE doc_id IN (SELECT id FROM documents WHERE workspace_id = $1)",
            "DELETE FROM doc_contributors WHERE doc_id IN (SELECT id FROM documents WHERE workspace_id = $1)",
        ] {
            sqlx::query(sql).bind(ws.as_str()).execute(&mut *conn).await?;
        }
        let done = sqlx::query("DELETE FROM workspaces WHERE id = $1").bind(ws.as_str()).execute(&mut *conn).await?;
        Ok((done.rows_affected() == 1).then_some(blobs))
    }
}

#[async_trait]
impl<DB> Accounts for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> f64: Decode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        let id = UserId::random();
        let (issuer, subject) = user.external.unzip();
        let now = crate::store::catalog::now_ms();
        let mut tx = self.write_tx().await?;
        // Under the admins lock, so of two concurrent first accounts only one sees no
        // users and becomes the instance admin.
        DB::lock_admins(&mut tx).await?;
        let (admin,): (i64,) = sqlx::query_as(
            "INSERT INTO users (id, email, name, password_hash, issuer, subject, created_at, is_admin)
             SELECT $1, $2, $3, $4, $5, $6, $7, CASE WHEN EXISTS (SELECT 1 FROM users) THEN 0 ELSE 1 END
             RETURNING is_admin",
        )
        .bind(id.as_str())
        .bind(&user.email)
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(issuer)
        .bind(subject)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| USER_KEYS.map(e))?;
        if admin != 0 {
            let granted = AuditEntry::new(AuditAction::AdminGranted).target("user", &id).detail(first_account());
            audit_sql::insert::<DB>(&mut tx, &AuditEntry { at: now, ..granted }).await?;
        }
        if let Some(email) = &user.email {
            sqlx::query(
                "INSERT INTO document_shares (document_id, user_id, role, created_at)
                 SELECT document_id, $1, role, created_at FROM pending_shares WHERE email = $2
                 ON CONFLICT DO NOTHING",
            )
            .bind(id.as_str())
            .bind(email)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM pending_shares WHERE email = $1").bind(email).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(User { id, email: user.email, name: user.name, created_at: now })
    }

    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as("SELECT id, email, name, created_at FROM users WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    async fn credentials_by_email(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
        let row: Option<CredentialsRow> =
            sqlx::query_as("SELECT id, email, name, created_at, password_hash FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(Into::into))
    }

    async fn user_by_external(&self, issuer: &str, subject: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> =
            sqlx::query_as("SELECT id, email, name, created_at FROM users WHERE issuer = $1 AND subject = $2")
                .bind(issuer)
                .bind(subject)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(Into::into))
    }

    async fn create_session(&self, s: &Session, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, family, user_id, token_hash, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id)
        .bind(&s.family)
        .bind(s.user_id.as_str())
        .bind(token_hash)
        .bind(s.expires_at)
        .bind(crate::store::catalog::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_by_hash(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT id, family, user_id, expires_at, rotated_at, revoked_at FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Into::into))
    }

    async fn rotate_session(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET rotated_at = $2 WHERE id = $1 AND rotated_at IS NULL AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL")
            .bind(family)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn settings(&self, user: &UserId) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT settings FROM user_settings WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(s,)| s))
    }

    async fn put_settings(&self, user: &UserId, json: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO user_settings (user_id, settings) VALUES ($1, $2)
             ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings",
        )
        .bind(user.as_str())
        .bind(json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_workspace(&self, name: &str, owner: &UserId, personal: bool) -> Result<Workspace, StoreError> {
        let ws = Workspace {
            id: WorkspaceId::random(),
            name: name.to_owned(),
            personal,
            created_at: crate::store::catalog::now_ms(),
        };
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO workspaces (id, name, personal, created_by, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(ws.id.as_str())
            .bind(name)
            .bind(i64::from(personal))
            .bind(owner.as_str())
            .bind(ws.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(ws.id.as_str())
            .bind(owner.as_str())
            .bind(Role::Owner.as_str())
            .bind(ws.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ws)
    }

    async fn workspace(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError> {
        let row: Option<WorkspaceRow> =
            sqlx::query_as("SELECT id, name, personal, created_at FROM workspaces WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(Into::into))
    }

    async fn workspaces_of(&self, user: &UserId) -> Result<Vec<(Workspace, Role)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            ws: WorkspaceRow,
            role: String,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT w.id, w.name, w.personal, w.created_at, m.role FROM workspaces w
             JOIN workspace_members m ON m.workspace_id = w.id
             WHERE m.user_id = $1 ORDER BY w.created_at, w.id",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|r| Ok((r.ws.into(), role(&r.role)?))).collect()
    }

    async fn personal_workspace(&self, user: &UserId) -> Result<Option<WorkspaceId>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM workspaces WHERE created_by = $1 AND personal = 1")
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(id,)| WorkspaceId::new(id)))
    }

    async fn rename_workspace(&self, id: &WorkspaceId, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE workspaces SET name = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_workspace(&self, id: &WorkspaceId) -> Result<Option<Vec<String>>, StoreError> {
        let mut tx = self.write_tx().await?;
        let deleted = Self::delete_workspace_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn member_role(&self, ws: &WorkspaceId, user: &UserId) -> Result<Option<Role>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT role FROM workspace_members WHERE workspace_id = $1 AND user_id = $2")
                .bind(ws.as_str())
                .bind(user.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(r,)| role(&r)).transpose()
    }

    async fn members(&self, ws: &WorkspaceId) -> Result<Vec<Member>, StoreError> {
        let rows: Vec<MemberRow> = sqlx::query_as(
            "SELECT u.id, u.email, u.name, u.created_at, m.role FROM workspace_members m
             JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 ORDER BY m.created_at, u.id",
        )
        .bind(ws.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(MemberRow::into_member).collect()
    }

    async fn change_member(
        &self,
        ws: &WorkspaceId,
        change: &MemberChange,
    ) -> Result<Result<Role, MemberRefusal>, StoreError> {
        let mut tx = self.write_tx().await?;
        DB::lock_workspace(&mut tx, ws).await?;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT user_id, role FROM workspace_members
             WHERE workspace_id = $1 AND (user_id = $2 OR user_id = $3 OR role = 'owner')",
        )
        .bind(ws.as_str())
        .bind(change.actor.as_str())
        .bind(change.target.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let (mut actor, mut target, mut owners) = (None, None, 0);
        for (user, r) in rows {
            let r = role(&r)?;
            owners += u64::from(r == Role::Owner);
            if user == change.actor.as_str() {
                actor = Some(r);
            }
            if user == change.target.as_str() {
                target = Some(r);
            }
        }
        let from = match change.check(actor, target, owners) {
            Ok(from) => from,
            Err(refused) => return Ok(Err(refused)),
        };
        match change.to {
            Some(to) => sqlx::query("UPDATE workspace_members SET role = $3 WHERE workspace_id = $1 AND user_id = $2")
                .bind(ws.as_str())
                .bind(change.target.as_str())
                .bind(to.as_str()),
            None => sqlx::query("DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2")
                .bind(ws.as_str())
                .bind(change.target.as_str()),
        }
        .execute(&mut *tx)
        .await?;
        let revoke = match change.revokes(from) {
            Some(InvitationsRevoked::All) => {
                Some("DELETE FROM invitations WHERE workspace_id = $1 AND invited_by = $2 AND accepted_at IS NULL")
            }
            Some(InvitationsRevoked::OwnerRole) => Some(
                "DELETE FROM invitations
                 WHERE workspace_id = $1 AND invited_by = $2 AND accepted_at IS NULL AND role = 'owner'",
            ),
            None => None,
        };
        if let Some(sql) = revoke {
            sqlx::query(sql).bind(ws.as_str()).bind(change.target.as_str()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Ok(from))
    }

    async fn create_invitation(&self, inv: &Invitation, token_hash: &str, by: &UserId) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        DB::lock_workspace(&mut tx, &inv.workspace_id).await?;
        let done = sqlx::query(
            "INSERT INTO invitations (id, workspace_id, email, role, token_hash, invited_by, expires_at, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (
                 SELECT 1 FROM workspace_members WHERE workspace_id = $2 AND user_id = $6
                 AND (role = 'owner' OR (role = 'admin' AND $4 <> 'owner')))",
        )
        .bind(&inv.id)
        .bind(inv.workspace_id.as_str())
        .bind(&inv.email)
        .bind(inv.role.as_str())
        .bind(token_hash)
        .bind(by.as_str())
        .bind(inv.expires_at)
        .bind(crate::store::catalog::now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn invitation_by_hash(&self, token_hash: &str) -> Result<Option<Invitation>, StoreError> {
        let row: Option<InvitationRow> = sqlx::query_as(
            "SELECT id, workspace_id, email, role, expires_at, accepted_at FROM invitations WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(InvitationRow::into_invitation).transpose()
    }

    async fn pending_invitations(&self, ws: &WorkspaceId, now: i64) -> Result<Vec<PendingInvitation>, StoreError> {
        let rows: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, email, role, invited_by, created_at, expires_at FROM invitations
             WHERE workspace_id = $1 AND accepted_at IS NULL AND expires_at > $2 ORDER BY created_at, id",
        )
        .bind(ws.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, email, r, by, created_at, expires_at)| {
                Ok(PendingInvitation {
                    id,
                    email,
                    role: role(&r)?,
                    invited_by: UserId::new(by),
                    created_at,
                    expires_at,
                })
            })
            .collect()
    }

    async fn revoke_invitation(&self, ws: &WorkspaceId, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM invitations WHERE workspace_id = $1 AND id = $2 AND accepted_at IS NULL")
            .bind(ws.as_str())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn accept_invitation(&self, inv: &Invitation, user: &UserId, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("UPDATE invitations SET accepted_at = $2 WHERE id = $1 AND accepted_at IS NULL")
            .bind(&inv.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let current: Option<(String,)> =
            sqlx::query_as("SELECT role FROM workspace_members WHERE workspace_id = $1 AND user_id = $2")
                .bind(inv.workspace_id.as_str())
                .bind(user.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let current = current.map(|(r,)| role(&r)).transpose()?;
        let granted = current.max(Some(inv.role)).unwrap_or(inv.role);
        sqlx::query(
            "INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(inv.workspace_id.as_str())
        .bind(user.as_str())
        .bind(granted.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
