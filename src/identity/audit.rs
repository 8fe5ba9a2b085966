//! Recording security-relevant events in the audit log. Each event is stamped with the
//! time and the client's address: the address as the rate limits see it
//! ([`crate::rate::ClientIp`], `X-Forwarded-For` believed only from trusted proxies),
//! kept for the length of each request by the [`with_address`] layer, so a handler
//! records an event with one call and no address to thread through.
//!
//! Where a store method makes the change (admin changes, the first account's admin role),
//! the row is written in the same transaction; the other events are recorded by
//! [`record`] right after the change committed, and a failure to record is logged, never
//! turned into a failure of the change that already happened.

use std::net::IpAddr;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::rate::ClientIp;
use crate::state::AppState;
use serde_json::json;

use crate::ids::{UserId, WorkspaceId};
use crate::store::audit::{AuditAction, AuditEntry};
use crate::store::catalog::{Document, MemberChange, Role, now_ms};

tokio::task_local! {
    /// The address of the client whose request is being served.
    static ADDRESS: IpAddr;
}

/// Layer: serves the request with its client's address known to [`stamp`].
pub async fn with_address(ClientIp(ip): ClientIp, req: Request, next: Next) -> Response {
    ADDRESS.scope(ip, next.run(req)).await
}

/// The entry with the time and (inside a request) the client's address filled in.
pub fn stamp(mut entry: AuditEntry) -> AuditEntry {
    entry.at = now_ms();
    entry.address = ADDRESS.try_with(|ip| ip.to_string()).ok();
    entry
}

/// Records an event whose change has committed.
pub async fn record(app: &AppState, entry: AuditEntry) {
    let entry = stamp(entry);
    if let Err(e) = app.store.record_audit(&entry).await {
        metrics::counter!(crate::metrics::AUDIT_FAILURES).increment(1);
        tracing::warn!(action = entry.action.as_str(), error = %e, "audit event not recorded");
    }
}

/// A member change's event: `member.role_changed` (from and to) or `member.removed`.
pub fn member_change(ws: &WorkspaceId, change: &MemberChange, from: Role) -> AuditEntry {
    let (action, detail) = match change.to {
        Some(to) => (AuditAction::MemberRoleChanged, json!({"from": from.as_str(), "to": to.as_str()})),
        None => (AuditAction::MemberRemoved, json!({"role": from.as_str(), "left": change.actor == change.target})),
    };
    AuditEntry::new(action).actor(&change.actor).target("user", &change.target).workspace(ws).detail(detail)
}

/// An event about one document (its shares, links, trash), in the document's workspace.
pub fn document(action: AuditAction, actor: &UserId, doc: &Document) -> AuditEntry {
    AuditEntry::new(action).actor(actor).target("document", &doc.id).workspace(&doc.workspace_id)
}
