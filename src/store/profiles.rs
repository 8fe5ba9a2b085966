//! People as other people see them, and the end of an account: a user's profile (name,
//! avatar), who may look at whose, and the deletion of an account with what only it
//! held. The [`Profiles`] trait both backends implement (`profiles_sql.rs`).

use async_trait::async_trait;
use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;
use crate::ids::{DocId, UserId, WorkspaceId};

/// A user's own view of their account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Profile {
    #[schema(value_type = String)]
    pub id: UserId,
    pub email: Option<String>,
    pub name: String,
    pub avatar_url: Option<String>,
    /// Whether the account signs in with a password (accounts of an identity provider
    /// have none).
    pub has_password: bool,
    /// An instance admin (the web app offers the administration page).
    pub is_admin: bool,
    pub created_at: i64,
}

/// What deleting an account removed, for the caller to close what is still open.
#[derive(Debug, Clone, Default)]
pub struct Erased {
    /// Documents deleted with the workspaces only this user was a member of.
    pub documents: Vec<DocId>,
    /// The blobs of the attachments deleted with them, for the caller to release.
    pub blobs: Vec<String>,
}

/// Why an account was not deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EraseRefusal {
    /// The user is the only owner of these workspaces, which have other members.
    LastOwner(Vec<WorkspaceId>),
    /// No such user.
    Missing,
    /// The user is the instance's last enabled admin.
    LastAdmin,
}

#[async_trait]
pub trait Profiles: Send + Sync + 'static {
    async fn profile(&self, user: &UserId) -> Result<Option<Profile>, StoreError>;

    /// Changes the name and/or avatar (`Some(None)` clears it); `None` when there is no
    /// such user.
    async fn set_profile(
        &self,
        user: &UserId,
        name: Option<&str>,
        avatar_url: Option<Option<&str>>,
    ) -> Result<Option<Profile>, StoreError>;

    /// Whether `viewer` may see `user`'s profile: themselves, or someone they share a
    /// workspace with, or a document (a share on one the other can read).
    async fn can_see_user(&self, viewer: &UserId, user: &UserId) -> Result<bool, StoreError>;

    /// Deletes the account in one transaction that locks its workspaces: refused while it
    /// is the only owner of a workspace with other members. Workspaces where it is the
    /// only member go with their documents; the documents it made elsewhere pass to an
    /// owner of their workspace; its sessions, tokens, settings, memberships, shares,
    /// invitations sent, notifications and comments (with the threads it started) go.
    async fn delete_account(&self, user: &UserId) -> Result<Result<Erased, EraseRefusal>, StoreError>;
}
