//! The catalogue around the rooms: users, sessions, settings, workspaces and their
//! members, invitations, documents (metadata, tags, materialised text), shares and public
//! links. One [`Catalog`] trait; both backends implement it from the same SQL
//! (`accounts_sql.rs`, `documents_sql.rs`, over the rows of `catalog_sql.rs`), except
//! full-text search, which each does in its own dialect.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::StoreError;
use super::{
    admin::Admin, api_tokens::ApiTokens, attachments::Attachments, audit::Audit, comments::Comments,
    versions::Versions, webhooks::Webhooks,
};
use crate::ids::{DocId, UserId, WorkspaceId};

/// A member's role in a workspace, or a share's role on one document. Ordered: each role
/// can do everything the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Commenter,
    Editor,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Commenter => "commenter",
            Role::Editor => "editor",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "viewer" => Role::Viewer,
            "commenter" => Role::Commenter,
            "editor" => Role::Editor,
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            _ => return None,
        })
    }

    /// Whether this role may change the document's content in a room.
    pub fn can_edit(self) -> bool {
        self >= Role::Editor
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: Option<String>,
    pub name: String,
    pub created_at: i64,
}

/// A user with what login needs.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Option<String>,
    pub name: String,
    pub password_hash: Option<String>,
    /// External identity (issuer, subject) for users of an identity provider.
    pub external: Option<(String, String)>,
}

/// One refresh token; `family` links every token rotated from the same login.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub family: String,
    pub user_id: UserId,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    /// The workspace every user gets at signup.
    pub personal: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Member {
    pub user: User,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: String,
    pub workspace_id: WorkspaceId,
    pub email: String,
    pub role: Role,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
}

/// An invitation not yet accepted and not expired, as admins see it (never its token).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingInvitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// The member who sent it; it is revoked when they lose the right to invite.
    pub invited_by: UserId,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A change to one member of a workspace, asked by `actor`: `to: None` removes `target`
/// (or, when actor and target are the same, lets them leave).
#[derive(Debug, Clone)]
pub struct MemberChange {
    pub actor: UserId,
    pub target: UserId,
    pub to: Option<Role>,
}

/// Why a [`MemberChange`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRefusal {
    /// The actor is not a member of the workspace.
    ActorNotMember,
    /// The target is not a member of the workspace.
    TargetNotMember,
    /// Managing other members needs the admin role.
    NeedsAdmin,
    /// Making or unmaking an owner needs the owner role.
    NeedsOwner,
    /// The workspace would be left without an owner.
    LastOwner,
}

impl MemberChange {
    fn leaving(&self) -> bool {
        self.actor == self.target && self.to.is_none()
    }

    /// The rule, given the actor's and target's roles and the number of owners read in
    /// the transaction that makes the change: the target's current role, or why not.
    /// Anyone may leave; admins manage members; only owners make or unmake owners; a
    /// workspace always keeps an owner.
    pub fn check(&self, actor: Option<Role>, target: Option<Role>, owners: u64) -> Result<Role, MemberRefusal> {
        let actor = actor.ok_or(MemberRefusal::ActorNotMember)?;
        if !self.leaving() && actor < Role::Admin {
            return Err(MemberRefusal::NeedsAdmin);
        }
        let from = target.ok_or(MemberRefusal::TargetNotMember)?;
        let touches_owner = from == Role::Owner || self.to == Some(Role::Owner);
        if touches_owner && !self.leaving() && actor != Role::Owner {
            return Err(MemberRefusal::NeedsOwner);
        }
        if from == Role::Owner && self.to != Some(Role::Owner) && owners <= 1 {
            return Err(MemberRefusal::LastOwner);
        }
        Ok(from)
    }

    /// Which of the target's pending invitations the change revokes: all of them when
    /// they can no longer invite (removed, or below admin), the owner invitations when
    /// they stop being an owner.
    pub fn revokes(&self, from: Role) -> Option<InvitationsRevoked> {
        match self.to {
            None => Some(InvitationsRevoked::All),
            Some(to) if to < Role::Admin => Some(InvitationsRevoked::All),
            Some(to) if from == Role::Owner && to != Role::Owner => Some(InvitationsRevoked::OwnerRole),
            Some(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationsRevoked {
    All,
    OwnerRole,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Document {
    pub id: DocId,
    pub workspace_id: WorkspaceId,
    pub title: String,
    pub owner_id: UserId,
    pub tags: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    /// Offered as a starting point for new documents of its workspace.
    pub is_template: bool,
}

#[derive(Debug, Clone)]
pub struct NewDocument {
    pub id: DocId,
    pub workspace_id: WorkspaceId,
    pub title: String,
    pub owner_id: UserId,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    Created,
    #[default]
    Updated,
    Title,
}

/// Which documents a listing shows, in what order, from where.
#[derive(Debug, Clone)]
pub struct DocQuery {
    /// Only documents this user can see (workspace member or share).
    pub viewer: UserId,
    pub workspace: Option<WorkspaceId>,
    pub tag: Option<String>,
    pub owner: Option<UserId>,
    /// The trash (soft-deleted documents) instead of the live ones.
    pub deleted: bool,
    /// Only templates (`true`) or only other documents (`false`).
    pub template: Option<bool>,
    pub sort: SortKey,
    pub descending: bool,
    /// Keyset position: the sort value and id of the last document already seen.
    pub after: Option<(String, DocId)>,
    pub limit: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    pub document: Document,
    pub rank: f64,
    /// Matching text with the matched words between `<mark>` and `</mark>`.
    pub snippet: String,
}

/// A public link: anyone holding its token gets `role` (viewer or editor) on the document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Link {
    pub id: String,
    pub token: String,
    pub document_id: DocId,
    pub role: Role,
    pub created_at: i64,
}

/// What a user's access to one document is made of.
#[derive(Debug, Clone)]
pub struct DocAccess {
    pub document: Document,
    pub workspace_role: Option<Role>,
    pub share_role: Option<Role>,
}

impl DocAccess {
    /// The stronger of the workspace role and the share.
    pub fn role(&self) -> Option<Role> {
        self.workspace_role.max(self.share_role)
    }
}

/// The whole catalogue.
pub trait Catalog:
    Accounts + Documents + Comments + Versions + ApiTokens + Admin + Audit + Webhooks + Attachments
{
}

impl<T: Accounts + Documents + Comments + Versions + ApiTokens + Admin + Audit + Webhooks + Attachments> Catalog for T {}

/// Accounts and workspaces: users, sessions, settings, workspaces, members, invitations.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Fails with [`StoreError::Conflict`] when the email or external identity is taken.
    /// Shares made to the email before the account existed become the user's shares.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    async fn credentials_by_email(&self, email: &str) -> Result<Option<Credentials>, StoreError>;
    async fn user_by_external(&self, issuer: &str, subject: &str) -> Result<Option<User>, StoreError>;

    async fn create_session(&self, session: &Session, token_hash: &str) -> Result<(), StoreError>;
    async fn session_by_hash(&self, token_hash: &str) -> Result<Option<Session>, StoreError>;
    /// Marks a session used; `false` if it was already rotated or revoked (a reuse).
    async fn rotate_session(&self, id: &str, now: i64) -> Result<bool, StoreError>;
    async fn revoke_family(&self, family: &str, now: i64) -> Result<(), StoreError>;

    async fn settings(&self, user: &UserId) -> Result<Option<String>, StoreError>;
    async fn put_settings(&self, user: &UserId, json: &str) -> Result<(), StoreError>;

    /// Creates a workspace with `owner` as its owner.
    async fn create_workspace(&self, name: &str, owner: &UserId, personal: bool) -> Result<Workspace, StoreError>;
    async fn workspace(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError>;
    async fn workspaces_of(&self, user: &UserId) -> Result<Vec<(Workspace, Role)>, StoreError>;
    async fn personal_workspace(&self, user: &UserId) -> Result<Option<WorkspaceId>, StoreError>;
    async fn rename_workspace(&self, id: &WorkspaceId, name: &str) -> Result<bool, StoreError>;
    /// Deletes the workspace with its documents and all stored for them. `None`: no such
    /// workspace; else the blobs of the attachments deleted with it, for the caller to
    /// release (they were read in the deleting transaction).
    async fn delete_workspace(&self, id: &WorkspaceId) -> Result<Option<Vec<String>>, StoreError>;

    async fn member_role(&self, ws: &WorkspaceId, user: &UserId) -> Result<Option<Role>, StoreError>;
    async fn members(&self, ws: &WorkspaceId) -> Result<Vec<Member>, StoreError>;
    /// Changes or removes a member, in one transaction that locks the workspace's
    /// membership, reads the roles [`MemberChange::check`] needs, makes the change and
    /// revokes the invitations the target may no longer send: two concurrent changes can
    /// never both pass the last-owner rule. Answers the target's former role.
    async fn change_member(
        &self,
        ws: &WorkspaceId,
        change: &MemberChange,
    ) -> Result<Result<Role, MemberRefusal>, StoreError>;

    /// Records an invitation if `by` may still send it (an admin, or an owner for an owner
    /// invitation), checked under the same lock as [`Self::change_member`]: `false` if not.
    async fn create_invitation(&self, inv: &Invitation, token_hash: &str, by: &UserId) -> Result<bool, StoreError>;
    async fn invitation_by_hash(&self, token_hash: &str) -> Result<Option<Invitation>, StoreError>;
    /// The workspace's invitations neither accepted nor expired at `now`.
    async fn pending_invitations(&self, ws: &WorkspaceId, now: i64) -> Result<Vec<PendingInvitation>, StoreError>;
    /// Deletes a pending invitation, so its token no longer works; `false` if there is none.
    async fn revoke_invitation(&self, ws: &WorkspaceId, id: &str) -> Result<bool, StoreError>;
    /// Marks the invitation accepted and makes `user` a member with its role (keeping a
    /// stronger role the user already has), in one transaction; `false` if it was
    /// accepted already.
    async fn accept_invitation(&self, inv: &Invitation, user: &UserId, now: i64) -> Result<bool, StoreError>;
}

/// Documents: metadata, tags, listing and search, the searchable text, shares and links.
#[async_trait]
pub trait Documents: Send + Sync + 'static {
    async fn create_document(&self, doc: &NewDocument) -> Result<Document, StoreError>;
    /// The document, deleted or not.
    async fn document(&self, id: &DocId) -> Result<Option<Document>, StoreError>;
    /// Every document of a workspace, trashed ones included.
    async fn workspace_document_ids(&self, ws: &WorkspaceId) -> Result<Vec<DocId>, StoreError>;
    /// Whether a catalogue row exists for this room (rooms of app-issued tokens have none).
    async fn is_document(&self, id: &DocId) -> Result<bool, StoreError>;
    async fn list_documents(&self, q: &DocQuery) -> Result<Vec<Document>, StoreError>;
    async fn search_documents(&self, q: &DocQuery, terms: &str, offset: u32) -> Result<Vec<SearchHit>, StoreError>;
    async fn update_document(
        &self,
        id: &DocId,
        title: Option<&str>,
        tags: Option<&[String]>,
        is_template: Option<bool>,
        now: i64,
    ) -> Result<Option<Document>, StoreError>;
    async fn set_deleted(&self, id: &DocId, deleted_at: Option<i64>) -> Result<bool, StoreError>;
    /// Removes the document with its stored state, tags, shares, links and attachments.
    /// `None`: no such document; else the blobs of the attachments deleted with it, for
    /// the caller to release (they were read in the deleting transaction).
    async fn purge_document(&self, id: &DocId) -> Result<Option<Vec<String>>, StoreError>;
    /// Stores the plain text search reads (a no-op for rooms without a catalogue row).
    async fn set_document_text(&self, id: &DocId, text: &str, now: i64) -> Result<(), StoreError>;
    /// The document (deleted or not) with `user`'s roles on it; `None` if it doesn't exist.
    async fn document_access(&self, id: &DocId, user: &UserId) -> Result<Option<DocAccess>, StoreError>;

    async fn shares(&self, doc: &DocId) -> Result<Vec<Member>, StoreError>;
    async fn set_share(&self, doc: &DocId, user: &UserId, role: Role, now: i64) -> Result<(), StoreError>;
    async fn remove_share(&self, doc: &DocId, user: &UserId) -> Result<bool, StoreError>;
    /// Shares with the account of `email`, or, when there is none, records a pending share
    /// that account creation turns into a share. The caller learns nothing either way.
    async fn share_by_email(&self, doc: &DocId, email: &str, role: Role, now: i64) -> Result<(), StoreError>;
    /// Removes the share of the account of `email` and any pending share to it.
    async fn remove_share_by_email(&self, doc: &DocId, email: &str) -> Result<bool, StoreError>;

    async fn create_link(&self, link: &Link) -> Result<(), StoreError>;
    async fn links(&self, doc: &DocId) -> Result<Vec<Link>, StoreError>;
    async fn revoke_link(&self, doc: &DocId, id: &str, now: i64) -> Result<bool, StoreError>;
    /// The live (unrevoked) link with this token.
    async fn link_by_token(&self, token: &str) -> Result<Option<Link>, StoreError>;
}

/// Milliseconds since the Unix epoch: every catalogue time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_changes_keep_an_owner_and_respect_roles() {
        let change =
            |actor: &str, target: &str, to| MemberChange { actor: UserId::new(actor), target: UserId::new(target), to };
        use MemberRefusal::*;
        assert_eq!(change("a", "b", None).check(Some(Role::Owner), Some(Role::Owner), 1), Err(LastOwner));
        assert_eq!(change("a", "b", None).check(Some(Role::Owner), Some(Role::Owner), 2), Ok(Role::Owner));
        assert_eq!(change("a", "a", None).check(Some(Role::Viewer), Some(Role::Viewer), 1), Ok(Role::Viewer));
        assert_eq!(change("a", "a", None).check(Some(Role::Owner), Some(Role::Owner), 1), Err(LastOwner));
        assert_eq!(
            change("a", "b", Some(Role::Viewer)).check(Some(Role::Editor), Some(Role::Viewer), 1),
            Err(NeedsAdmin)
        );
        assert_eq!(
            change("a", "b", Some(Role::Owner)).check(Some(Role::Admin), Some(Role::Viewer), 1),
            Err(NeedsOwner)
        );
        assert_eq!(change("a", "b", None).check(None, Some(Role::Viewer), 1), Err(ActorNotMember));
        assert_eq!(change("a", "b", None).check(Some(Role::Admin), None, 1), Err(TargetNotMember));
        assert_eq!(change("a", "b", Some(Role::Editor)).revokes(Role::Admin), Some(InvitationsRevoked::All));
        assert_eq!(change("a", "b", Some(Role::Admin)).revokes(Role::Owner), Some(InvitationsRevoked::OwnerRole));
        assert_eq!(change("a", "b", Some(Role::Owner)).revokes(Role::Admin), None);
    }

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Editor && Role::Commenter > Role::Viewer);
        for r in [Role::Viewer, Role::Commenter, Role::Editor, Role::Admin, Role::Owner] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert!(!Role::Commenter.can_edit() && Role::Editor.can_edit());
    }
}
