//! The catalogue's rows as the database returns them, and their conversion to the
//! catalogue's types; the queries are in `accounts_sql.rs` and `documents_sql.rs`.

use sqlx::FromRow;

use super::StoreError;
use super::catalog::{Credentials, Document, Invitation, Link, Member, Role, Session, User, Workspace};
use crate::ids::{DocId, UserId, WorkspaceId};

pub(super) const DOC_COLUMNS: &str =
    "d.id, d.workspace_id, d.title, d.owner_id, d.created_at, d.updated_at, d.deleted_at, d.is_template";

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
    is_template: i64,
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
            is_template: self.is_template != 0,
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
