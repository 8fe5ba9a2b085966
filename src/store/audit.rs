//! The audit log as stored: one row per security-relevant event ([`AuditEntry`] going
//! in, [`AuditEvent`] coming out), listed newest first with keyset pagination and pruned
//! by age. Both backends implement [`Audit`] from the same SQL (`audit_sql.rs`);
//! `identity::audit` records events, the API lists them.

use async_trait::async_trait;
use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;
use crate::ids::{UserId, WorkspaceId};

/// Largest `detail` kept, in bytes of JSON; a larger one is replaced by a marker, so no
/// caller (least of all a failed login's) can make a row big.
pub const MAX_DETAIL_BYTES: usize = 1024;

/// Declares [`AuditAction`] from one table: variant and its stable dotted name.
macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// What happened. The dotted names are part of the API: once published they
        /// never change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($(#[$doc])* $variant,)*
        }

        impl AuditAction {
            pub const ALL: &[AuditAction] = &[$(AuditAction::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    Login = "auth.login",
    /// A wrong password, an unknown email, or a disabled account.
    LoginFailed = "auth.login_failed",
    /// A used refresh token came back; its session was revoked.
    RefreshReuse = "auth.refresh_reuse",
    MemberAdded = "member.added",
    MemberRoleChanged = "member.role_changed",
    /// Removed by an admin, or left.
    MemberRemoved = "member.removed",
    ShareCreated = "share.created",
    ShareRevoked = "share.revoked",
    LinkCreated = "link.created",
    LinkRevoked = "link.revoked",
    TokenCreated = "token.created",
    TokenRevoked = "token.revoked",
    DocumentTrashed = "document.trashed",
    DocumentDeleted = "document.deleted",
    UserDisabled = "admin.user_disabled",
    UserEnabled = "admin.user_enabled",
    AdminGranted = "admin.granted",
    AdminRevoked = "admin.revoked",
    /// A workspace webhook registered (its URL and events in the detail).
    WebhookCreated = "webhook.created",
    WebhookDeleted = "webhook.deleted",
    /// An account deleted by its owner (actor and target are the deleted user).
    AccountDeleted = "account.deleted",
}

impl AuditAction {
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

impl Serialize for AuditAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One event to record. Built with [`AuditEntry::new`] and the setters; the time and the
/// address are filled in by whoever records it.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: Option<UserId>,
    pub action: AuditAction,
    /// What the event is about: a kind (`user`, `document`, `link`, `token`, `workspace`)
    /// and its id.
    pub target: Option<(&'static str, String)>,
    pub workspace: Option<WorkspaceId>,
    pub address: Option<String>,
    pub detail: Option<serde_json::Value>,
}

impl AuditEntry {
    /// An entry not stamped yet: `identity::audit::record` (or the store method writing it
    /// in its own transaction) sets `at` when it is written.
    pub fn new(action: AuditAction) -> Self {
        AuditEntry { at: 0, actor: None, action, target: None, workspace: None, address: None, detail: None }
    }

    pub fn actor(mut self, user: &UserId) -> Self {
        self.actor = Some(user.clone());
        self
    }

    pub fn target(mut self, kind: &'static str, id: impl std::fmt::Display) -> Self {
        self.target = Some((kind, id.to_string()));
        self
    }

    pub fn workspace(mut self, ws: &WorkspaceId) -> Self {
        self.workspace = Some(ws.clone());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The detail as stored: its JSON, or a marker when it is past [`MAX_DETAIL_BYTES`].
    pub fn detail_json(&self) -> Option<String> {
        let json = self.detail.as_ref()?.to_string();
        if json.len() <= MAX_DETAIL_BYTES {
            Some(json)
        } else {
            Some(serde_json::json!({"truncated": true, "bytes": json.len()}).to_string())
        }
    }
}

/// One recorded event, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEvent {
    /// Increasing in the order rows were written; the listing's cursor.
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// `None` for failed logins of unknown emails.
    #[schema(value_type = Option<String>)]
    pub actor_id: Option<UserId>,
    /// The actor's name now; `None` without an actor or once their account is gone.
    pub actor_name: Option<String>,
    /// A stable dotted name (`auth.login`, `share.created`, `admin.user_disabled`, …).
    #[schema(value_type = String)]
    pub action: AuditAction,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    #[schema(value_type = Option<String>)]
    pub workspace_id: Option<WorkspaceId>,
    /// The client's address, as the rate limits see it (behind trusted proxies only).
    pub address: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

/// Which events a listing shows, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// One workspace's events only (its admins' view); `None`: the whole instance.
    pub workspace: Option<WorkspaceId>,
    pub action: Option<AuditAction>,
    pub actor: Option<UserId>,
    /// Unix ms, inclusive.
    pub since: Option<i64>,
    /// Unix ms, exclusive.
    pub until: Option<i64>,
    /// Keyset position: only events with a smaller id.
    pub before_id: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait Audit: Send + Sync + 'static {
    /// Records one event on its own (after the change it tells of was committed).
    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    async fn audit_events(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;

    /// Deletes events older than `before` (Unix ms), at most `max`; answers how many.
    async fn prune_audit(&self, before: i64, max: u32) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::ALL {
            assert!(seen.insert(a.as_str()), "{} twice", a.as_str());
            assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
        }
        assert_eq!(AuditAction::parse("auth.nope"), None);
    }

    #[test]
    fn large_details_are_replaced_by_a_marker() {
        let small = AuditEntry::new(AuditAction::Login).detail(serde_json::json!({"email": "a@b"}));
        assert_eq!(small.detail_json().unwrap(), r#"{"email":"a@b"}"#);
        let big = AuditEntry::new(AuditAction::Login).detail(serde_json::json!({"x": "y".repeat(5000)}));
        let stored = big.detail_json().unwrap();
        assert!(stored.len() < 100 && stored.contains("truncated"), "{stored}");
    }
}
