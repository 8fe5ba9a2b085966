//! Instance administration as stored: who is an instance admin, who is disabled, the
//! user listing admins search, and the counts system info shows. Both backends implement
//! [`Admin`] from the same SQL (`admin_sql.rs`); each change that an admin makes writes
//! its audit row in the same transaction.

use async_trait::async_trait;
use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;
use super::audit::AuditEntry;
use crate::ids::UserId;

/// What decides whether a user's credentials work and whether they administer the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub admin: bool,
    /// Unix ms; `Some`: no login, no refresh, no token of theirs works.
    pub disabled_at: Option<i64>,
}

/// A user as instance admins see them: the user's public fields, and their standing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminUser {
    #[schema(value_type = String)]
    pub id: UserId,
    pub email: Option<String>,
    pub name: String,
    pub created_at: i64,
    pub is_admin: bool,
    pub disabled_at: Option<i64>,
}

/// Which users a listing shows: oldest first, from a keyset position.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// A prefix of the email or of the name (case-insensitive).
    pub prefix: Option<String>,
    /// The creation time and id of the last user already seen.
    pub after: Option<(i64, UserId)>,
    pub limit: u32,
}

/// Why an admin change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRefusal {
    NoSuchUser,
    /// The instance would be left without an enabled admin.
    LastAdmin,
}

/// Cheap counts for system info (no scan of the document log).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemCounts {
    pub users: i64,
    pub admins: i64,
    pub disabled_users: i64,
    pub workspaces: i64,
    pub documents: i64,
    /// The database's size on disk, in bytes, as the database reports it.
    pub database_bytes: i64,
}

#[async_trait]
pub trait Admin: Send + Sync + 'static {
    /// `None` when there is no such user.
    async fn standing(&self, user: &UserId) -> Result<Option<Standing>, StoreError>;

    async fn list_users(&self, q: &UserQuery) -> Result<Vec<AdminUser>, StoreError>;

    /// Disables (`Some(at)`: every session revoked too) or enables (`None`) a user and
    /// writes `audit` (its target set to the user), in one transaction that also refuses
    /// to disable the last enabled admin.
    async fn set_disabled(
        &self,
        target: &UserId,
        disabled_at: Option<i64>,
        audit: &AuditEntry,
    ) -> Result<Result<(), AdminRefusal>, StoreError>;

    /// Grants or revokes the instance admin role of the account with `email`, writing
    /// `audit` (its target set to the user) in the same transaction; revoking the last
    /// enabled admin is refused. Answers the user's id.
    async fn set_admin(
        &self,
        email: &str,
        admin: bool,
        audit: AuditEntry,
    ) -> Result<Result<UserId, AdminRefusal>, StoreError>;

    async fn system_counts(&self) -> Result<SystemCounts, StoreError>;
}
