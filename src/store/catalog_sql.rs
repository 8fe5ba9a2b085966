//! The catalogue's SQL, written once for both backends: `$N` placeholders, `RETURNING`,
//! `ON CONFLICT … excluded`, BIGINT times and TEXT ids mean the same on SQLite and
//! Postgres. [`catalog_impl!`] expands it for each store type; only full-text search is
//! written per dialect (in `sqlite.rs` and `postgres.rs`).

use sqlx::FromRow;

use super::StoreError;
use super::catalog::{Credentials, Document, Invitation, Link, Member, Role, Session, User, Workspace};
use crate::ids::{DocId, UserId, WorkspaceId};

pub(super) const DOC_COLUMNS: &str =
    "d.id, d.workspace_id, d.title, d.owner_id, d.created_at, d.updated_at, d.deleted_at";

#[derive(FromRow)]
pub(super) struct UserRow {
    id: String,
    email: Option<String>,
    name: String,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User { id: UserId::new(r.id), email: r.email, name: r.name, created_at: r.created_at }
    }
}

#[derive(FromRow)]
pub(super) struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: Option<String>,
}

impl From<CredentialsRow> for Credentials {
    fn from(r: CredentialsRow) -> Self {
        Credentials { user: r.user.into(), password_hash: r.password_hash }
    }
}

#[derive(FromRow)]
pub(super) struct SessionRow {
    id: String,
    family: String,
    user_id: String,
    expires_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            id: r.id,
            family: r.family,
            user_id: UserId::new(r.user_id),
            expires_at: r.expires_at,
            rotated_at: r.rotated_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(FromRow)]
pub(super) struct WorkspaceRow {
    id: String,
    name: String,
    personal: i64,
    created_at: i64,
}

impl From<WorkspaceRow> for Workspace {
    fn from(r: WorkspaceRow) -> Self {
        Workspace { id: WorkspaceId::new(r.id), name: r.name, personal: r.personal != 0, created_at: r.created_at }
    }
}

#[derive(FromRow)]
pub(super) struct MemberRow {
    #[sqlx(flatten)]
    user: UserRow,
    role: String,
}

impl MemberRow {
    pub(super) fn into_member(self) -> Result<Member, StoreError> {
        Ok(Member { user: self.user.into(), role: role(&self.role)? })
    }
}

#[derive(FromRow)]
pub(super) struct InvitationRow {
    id: String,
    workspace_id: String,
    email: String,
    role: String,
    expires_at: i64,
    accepted_at: Option<i64>,
}

impl InvitationRow {
    pub(super) fn into_invitation(self) -> Result<Invitation, StoreError> {
        Ok(Invitation {
            id: self.id,
            workspace_id: WorkspaceId::new(self.workspace_id),
            email: self.email,
            role: role(&self.role)?,
            expires_at: self.expires_at,
            accepted_at: self.accepted_at,
        })
    }
}

#[derive(FromRow)]
pub(super) struct DocRow {
    id: String,
    workspace_id: String,
    title: String,
    owner_id: String,
    created_at: i64,
    updated_at: i64,
    deleted_at: Option<i64>,
}

impl DocRow {
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn into_document(self, tags: Vec<String>) -> Result<Document, StoreError> {
        Ok(Document {
            id: DocId::parse(&self.id).ok_or_else(|| StoreError::Invalid(format!("document id `{}`", self.id)))?,
            workspace_id: WorkspaceId::new(self.workspace_id),
            title: self.title,
            owner_id: UserId::new(self.owner_id),
            tags,
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
        })
    }
}

/// A full-text hit: the document, its rank (higher is better) and a snippet.
#[derive(FromRow)]
pub(super) struct SearchRow {
    #[sqlx(flatten)]
    pub(super) doc: DocRow,
    pub(super) rank: f64,
    pub(super) snippet: String,
}

#[derive(FromRow)]
pub(super) struct LinkRow {
    id: String,
    token: String,
    document_id: String,
    role: String,
    created_at: i64,
}

impl LinkRow {
    pub(super) fn into_link(self) -> Result<Link, StoreError> {
        Ok(Link {
            id: self.id,
            token: self.token,
            document_id: DocId::parse(&self.document_id)
                .ok_or_else(|| StoreError::Invalid(format!("document id `{}`", self.document_id)))?,
            role: role(&self.role)?,
            created_at: self.created_at,
        })
    }
}

pub(super) fn role(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::Invalid(format!("role `{s}`")))
}

/// A unique-constraint violation becomes [`StoreError::Conflict`]; anything else stays.
pub(super) fn conflict(e: sqlx::Error, what: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(e),
    }
}

/// Groups `(document_id, tag)` rows by document, in the order of `docs`.
pub(super) fn with_tags(docs: Vec<DocRow>, tags: Vec<(String, String)>) -> Result<Vec<Document>, StoreError> {
    let mut by_doc: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (doc, tag) in tags {
        by_doc.entry(doc).or_default().push(tag);
    }
    docs.into_iter()
        .map(|d| {
            let tags = by_doc.remove(d.id()).unwrap_or_default();
            d.into_document(tags)
        })
        .collect()
}

/// Implements [`Catalog`](super::catalog::Catalog) for a store with a `pool` field and a
/// `write_tx()` method (a transaction that writes), on database `$db`. The store also
/// provides `search_query` (the ranked match) in its own dialect.
macro_rules! catalog_impl {
    ($store:ty, $db:ty) => {
        use $crate::store::catalog::{
            Catalog, Credentials, DocAccess, DocQuery, Document, Invitation, Link, Member, NewDocument, NewUser, Role,
            SearchHit, Session, SortKey, User, Workspace,
        };
        use $crate::store::catalog_sql::{
            CredentialsRow, DOC_COLUMNS, DocRow, InvitationRow, LinkRow, MemberRow, SearchRow, SessionRow, UserRow,
            WorkspaceRow, conflict, role, with_tags,
        };
        use $crate::ids::{UserId, WorkspaceId};

        impl $store {
            async fn tags_of(&self, ids: &[&str]) -> Result<Vec<(String, String)>, StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT document_id, tag FROM document_tags WHERE document_id IN (",
                );
                let mut list = qb.separated(", ");
                for id in ids {
                    list.push_bind(id.to_string());
                }
                qb.push(") ORDER BY tag");
                Ok(qb.build_query_as().fetch_all(&self.pool).await?)
            }

            async fn documents_with_tags(&self, rows: Vec<DocRow>) -> Result<Vec<Document>, StoreError> {
                let ids: Vec<&str> = rows.iter().map(|r| r.id()).collect();
                let tags = self.tags_of(&ids).await?;
                with_tags(rows, tags)
            }

            /// Visibility and filters of a listing, as `AND …` clauses on `documents d`.
            fn push_filters(qb: &mut sqlx::QueryBuilder<$db>, q: &DocQuery) {
                qb.push(" AND (d.workspace_id IN (SELECT workspace_id FROM workspace_members WHERE user_id = ");
                qb.push_bind(q.viewer.as_str().to_owned());
                qb.push(") OR d.id IN (SELECT document_id FROM document_shares WHERE user_id = ");
                qb.push_bind(q.viewer.as_str().to_owned());
                qb.push("))");
                qb.push(if q.deleted { " AND d.deleted_at IS NOT NULL" } else { " AND d.deleted_at IS NULL" });
                if let Some(ws) = &q.workspace {
                    qb.push(" AND d.workspace_id = ");
                    qb.push_bind(ws.as_str().to_owned());
                }
                if let Some(owner) = &q.owner {
                    qb.push(" AND d.owner_id = ");
                    qb.push_bind(owner.as_str().to_owned());
                }
                if let Some(tag) = &q.tag {
                    qb.push(" AND EXISTS (SELECT 1 FROM document_tags t WHERE t.document_id = d.id AND t.tag = ");
                    qb.push_bind(tag.clone());
                    qb.push(")");
                }
            }
        }

        #[async_trait]
        impl Catalog for $store {
            async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
                let id = UserId::random();
                let (issuer, subject) = user.external.unzip();
                let now = $crate::store::catalog::now_ms();
                sqlx::query(
                    "INSERT INTO users (id, email, name, password_hash, issuer, subject, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(id.as_str())
                .bind(&user.email)
                .bind(&user.name)
                .bind(&user.password_hash)
                .bind(issuer)
                .bind(subject)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(|e| conflict(e, "user"))?;
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
                let row: Option<CredentialsRow> = sqlx::query_as(
                    "SELECT id, email, name, created_at, password_hash FROM users WHERE email = $1",
                )
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn user_by_external(&self, issuer: &str, subject: &str) -> Result<Option<User>, StoreError> {
                let row: Option<UserRow> = sqlx::query_as(
                    "SELECT id, email, name, created_at FROM users WHERE issuer = $1 AND subject = $2",
                )
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
                .bind($crate::store::catalog::now_ms())
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
                    created_at: $crate::store::catalog::now_ms(),
                };
                let mut tx = self.write_tx().await?;
                sqlx::query(
                    "INSERT INTO workspaces (id, name, personal, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(ws.id.as_str())
                .bind(name)
                .bind(i64::from(personal))
                .bind(owner.as_str())
                .bind(ws.created_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
                )
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
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT id FROM workspaces WHERE created_by = $1 AND personal = 1")
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

            async fn delete_workspace(&self, id: &WorkspaceId) -> Result<bool, StoreError> {
                let mut tx = self.write_tx().await?;
                for sql in [
                    "DELETE FROM doc_updates WHERE doc_id IN (SELECT id FROM documents WHERE workspace_id = $1)",
                    "DELETE FROM doc_snapshots WHERE doc_id IN (SELECT id FROM documents WHERE workspace_id = $1)",
                ] {
                    sqlx::query(sql).bind(id.as_str()).execute(&mut *tx).await?;
                }
                let done = sqlx::query("DELETE FROM workspaces WHERE id = $1").bind(id.as_str()).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
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

            async fn set_member_role(&self, ws: &WorkspaceId, user: &UserId, r: Role) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE workspace_members SET role = $3 WHERE workspace_id = $1 AND user_id = $2")
                    .bind(ws.as_str())
                    .bind(user.as_str())
                    .bind(r.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn remove_member(&self, ws: &WorkspaceId, user: &UserId) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2")
                    .bind(ws.as_str())
                    .bind(user.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn owner_count(&self, ws: &WorkspaceId) -> Result<u64, StoreError> {
                let (n,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM workspace_members WHERE workspace_id = $1 AND role = 'owner'")
                        .bind(ws.as_str())
                        .fetch_one(&self.pool)
                        .await?;
                Ok(n as u64)
            }

            async fn create_invitation(&self, inv: &Invitation, token_hash: &str, by: &UserId) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO invitations (id, workspace_id, email, role, token_hash, invited_by, expires_at, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&inv.id)
                .bind(inv.workspace_id.as_str())
                .bind(&inv.email)
                .bind(inv.role.as_str())
                .bind(token_hash)
                .bind(by.as_str())
                .bind(inv.expires_at)
                .bind($crate::store::catalog::now_ms())
                .execute(&self.pool)
                .await?;
                Ok(())
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

            async fn create_document(&self, doc: &NewDocument) -> Result<Document, StoreError> {
                let now = $crate::store::catalog::now_ms();
                let mut tx = self.write_tx().await?;
                sqlx::query(
                    "INSERT INTO documents (id, workspace_id, title, owner_id, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(doc.id.as_str())
                .bind(doc.workspace_id.as_str())
                .bind(&doc.title)
                .bind(doc.owner_id.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict(e, "document"))?;
                for tag in &doc.tags {
                    sqlx::query("INSERT INTO document_tags (document_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(doc.id.as_str())
                        .bind(tag)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                let mut tags = doc.tags.clone();
                tags.sort();
                tags.dedup();
                Ok(Document {
                    id: doc.id.clone(),
                    workspace_id: doc.workspace_id.clone(),
                    title: doc.title.clone(),
                    owner_id: doc.owner_id.clone(),
                    tags,
                    created_at: now,
                    updated_at: now,
                    deleted_at: None,
                })
            }

            async fn document(&self, id: &DocId) -> Result<Option<Document>, StoreError> {
                let sql = format!("SELECT {DOC_COLUMNS} FROM documents d WHERE d.id = $1");
                let row: Option<DocRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_optional(&self.pool).await?;
                match row {
                    Some(row) => Ok(self.documents_with_tags(vec![row]).await?.pop()),
                    None => Ok(None),
                }
            }

            async fn is_document(&self, id: &DocId) -> Result<bool, StoreError> {
                let row: Option<(String,)> = sqlx::query_as("SELECT id FROM documents WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.is_some())
            }

            async fn list_documents(&self, q: &DocQuery) -> Result<Vec<Document>, StoreError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!("SELECT {DOC_COLUMNS} FROM documents d WHERE 1 = 1"));
                Self::push_filters(&mut qb, q);
                let col = match q.sort {
                    SortKey::Created => "d.created_at",
                    SortKey::Updated => "d.updated_at",
                    SortKey::Title => "d.title",
                };
                let (cmp, dir) = if q.descending { ("<", "DESC") } else { (">", "ASC") };
                if let Some((value, id)) = &q.after {
                    qb.push(format!(" AND ({col}, d.id) {cmp} ("));
                    match q.sort {
                        SortKey::Title => qb.push_bind(value.clone()),
                        _ => qb.push_bind(value.parse::<i64>().unwrap_or(0)),
                    };
                    qb.push(", ");
                    qb.push_bind(id.as_str().to_owned());
                    qb.push(")");
                }
                qb.push(format!(" ORDER BY {col} {dir}, d.id {dir} LIMIT "));
                qb.push_bind(i64::from(q.limit));
                let rows: Vec<DocRow> = qb.build_query_as().fetch_all(&self.pool).await?;
                self.documents_with_tags(rows).await
            }

            async fn search_documents(&self, q: &DocQuery, terms: &str, offset: u32) -> Result<Vec<SearchHit>, StoreError> {
                let Some(mut qb) = Self::search_query(terms) else {
                    return Ok(Vec::new());
                };
                Self::push_filters(&mut qb, q);
                qb.push(" ORDER BY rank DESC, d.id LIMIT ");
                qb.push_bind(i64::from(q.limit));
                qb.push(" OFFSET ");
                qb.push_bind(i64::from(offset));
                let hits: Vec<SearchRow> = qb.build_query_as().fetch_all(&self.pool).await?;
                let ids: Vec<&str> = hits.iter().map(|h| h.doc.id()).collect();
                let tags = self.tags_of(&ids).await?;
                let (rows, extra): (Vec<DocRow>, Vec<(f64, String)>) =
                    hits.into_iter().map(|h| (h.doc, (h.rank, h.snippet))).unzip();
                Ok(with_tags(rows, tags)?
                    .into_iter()
                    .zip(extra)
                    .map(|(document, (rank, snippet))| SearchHit { document, rank, snippet })
                    .collect())
            }

            async fn update_document(
                &self,
                id: &DocId,
                title: Option<&str>,
                tags: Option<&[String]>,
                now: i64,
            ) -> Result<Option<Document>, StoreError> {
                let mut tx = self.write_tx().await?;
                let done = sqlx::query("UPDATE documents SET title = COALESCE($2, title), updated_at = $3 WHERE id = $1")
                    .bind(id.as_str())
                    .bind(title)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Ok(None);
                }
                if let Some(tags) = tags {
                    sqlx::query("DELETE FROM document_tags WHERE document_id = $1").bind(id.as_str()).execute(&mut *tx).await?;
                    for tag in tags {
                        sqlx::query("INSERT INTO document_tags (document_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                            .bind(id.as_str())
                            .bind(tag)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                self.document(id).await
            }

            async fn set_deleted(&self, id: &DocId, deleted_at: Option<i64>) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE documents SET deleted_at = $2 WHERE id = $1")
                    .bind(id.as_str())
                    .bind(deleted_at)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn purge_document(&self, id: &DocId) -> Result<bool, StoreError> {
                let mut tx = self.write_tx().await?;
                sqlx::query("DELETE FROM doc_updates WHERE doc_id = $1").bind(id.as_str()).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM doc_snapshots WHERE doc_id = $1").bind(id.as_str()).execute(&mut *tx).await?;
                let done = sqlx::query("DELETE FROM documents WHERE id = $1").bind(id.as_str()).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_document_text(&self, id: &DocId, text: &str, now: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE documents SET content_text = $2, updated_at = $3 WHERE id = $1 AND content_text <> $2")
                    .bind(id.as_str())
                    .bind(text)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn document_access(&self, id: &DocId, user: &UserId) -> Result<Option<DocAccess>, StoreError> {
                #[derive(sqlx::FromRow)]
                struct Row {
                    #[sqlx(flatten)]
                    doc: DocRow,
                    ws_role: Option<String>,
                    share_role: Option<String>,
                }
                let sql = format!(
                    "SELECT {DOC_COLUMNS}, m.role AS ws_role, s.role AS share_role FROM documents d
                     LEFT JOIN workspace_members m ON m.workspace_id = d.workspace_id AND m.user_id = $2
                     LEFT JOIN document_shares s ON s.document_id = d.id AND s.user_id = $2
                     WHERE d.id = $1"
                );
                let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(id.as_str())
                    .bind(user.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let workspace_role = row.ws_role.as_deref().map(role).transpose()?;
                let share_role = row.share_role.as_deref().map(role).transpose()?;
                let document = self.documents_with_tags(vec![row.doc]).await?.pop();
                Ok(document.map(|document| DocAccess { document, workspace_role, share_role }))
            }

            async fn shares(&self, doc: &DocId) -> Result<Vec<Member>, StoreError> {
                let rows: Vec<MemberRow> = sqlx::query_as(
                    "SELECT u.id, u.email, u.name, u.created_at, s.role FROM document_shares s
                     JOIN users u ON u.id = s.user_id WHERE s.document_id = $1 ORDER BY s.created_at, u.id",
                )
                .bind(doc.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(MemberRow::into_member).collect()
            }

            async fn set_share(&self, doc: &DocId, user: &UserId, r: Role, now: i64) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO document_shares (document_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (document_id, user_id) DO UPDATE SET role = excluded.role",
                )
                .bind(doc.as_str())
                .bind(user.as_str())
                .bind(r.as_str())
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn remove_share(&self, doc: &DocId, user: &UserId) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM document_shares WHERE document_id = $1 AND user_id = $2")
                    .bind(doc.as_str())
                    .bind(user.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_link(&self, link: &Link) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO public_links (id, token, document_id, role, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&link.id)
                .bind(&link.token)
                .bind(link.document_id.as_str())
                .bind(link.role.as_str())
                .bind(link.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn links(&self, doc: &DocId) -> Result<Vec<Link>, StoreError> {
                let rows: Vec<LinkRow> = sqlx::query_as(
                    "SELECT id, token, document_id, role, created_at FROM public_links
                     WHERE document_id = $1 AND revoked_at IS NULL ORDER BY created_at, id",
                )
                .bind(doc.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(LinkRow::into_link).collect()
            }

            async fn revoke_link(&self, doc: &DocId, id: &str, now: i64) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE public_links SET revoked_at = $3 WHERE document_id = $1 AND id = $2 AND revoked_at IS NULL",
                )
                .bind(doc.as_str())
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn link_by_token(&self, token: &str) -> Result<Option<Link>, StoreError> {
                let row: Option<LinkRow> = sqlx::query_as(
                    "SELECT id, token, document_id, role, created_at FROM public_links
                     WHERE token = $1 AND revoked_at IS NULL",
                )
                .bind(token)
                .fetch_optional(&self.pool)
                .await?;
                row.map(LinkRow::into_link).transpose()
            }
        }
    };
}

pub(crate) use catalog_impl;
