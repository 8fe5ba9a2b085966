//! The audit log, read: `GET /api/v1/admin/audit` (the whole instance, for instance
//! admins) and `GET /api/v1/workspaces/{id}/audit` (one workspace's events, for its
//! admins and owners). Newest first, filtered by action, actor and time, a bounded page
//! at a time with a keyset cursor.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::{bad_cursor, page_limit};
use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiPath, ApiQuery};
use crate::identity::access::{Caller, workspace_role};
use crate::ids::{UserId, WorkspaceId};
use crate::state::AppState;
use crate::store::audit::{AuditAction, AuditEvent, AuditQuery};
use crate::store::catalog::Role;

/// Longest user id accepted as the `actor` filter, in bytes.
const MAX_ACTOR_BYTES: usize = 128;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(instance_audit)).routes(routes!(workspace_audit))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// One action only, e.g. `auth.login_failed`.
    pub action: Option<String>,
    /// One actor's events only (a user id).
    pub actor: Option<String>,
    /// Unix ms, inclusive.
    pub since: Option<i64>,
    /// Unix ms, exclusive.
    pub until: Option<i64>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 100; 50 when left out.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn audit_query(p: AuditParams, workspace: Option<WorkspaceId>) -> Result<AuditQuery, ApiError> {
    let action = match p.action.as_deref() {
        None | Some("") => None,
        Some(a) => Some(AuditAction::parse(a).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidQuery, "`action` is not an audit action (e.g. `auth.login`)")
        })?),
    };
    let actor = match p.actor {
        Some(a) if a.len() > MAX_ACTOR_BYTES => {
            return Err(ApiError::new(ErrorCode::InvalidQuery, "`actor` is not a user id"));
        }
        a => a.filter(|a| !a.is_empty()).map(UserId::new),
    };
    let before_id = match p.cursor.as_deref() {
        None => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| bad_cursor())?),
    };
    Ok(AuditQuery { workspace, action, actor, since: p.since, until: p.until, before_id, limit: page_limit(p.limit)? })
}

/// A page of events; `addresses`: whether the caller may see the clients' addresses
/// (instance admins: a workspace's admins see what happened there, not where from).
async fn page(app: &AppState, q: AuditQuery, addresses: bool) -> Result<Json<AuditPage>, ApiError> {
    let mut events = app.store.audit_events(&q).await?;
    if !addresses {
        events.iter_mut().for_each(|e| e.address = None);
    }
    let next_cursor = match events.last() {
        Some(last) if events.len() as u32 == q.limit => Some(last.id.to_string()),
        _ => None,
    };
    Ok(Json(AuditPage { events, next_cursor }))
}

/// Every audit event of the instance, newest first (instance admins, signed in).
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])), params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn instance_audit(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.instance_admin(&app).await?;
    page(&app, audit_query(p, None)?, true).await
}

/// A workspace's audit events (its members, shares, links and documents), newest first:
/// for its admins and owners.
#[utoipa::path(get, path = "/api/v1/workspaces/{id}/audit", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path), AuditParams),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn workspace_audit(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    workspace_role(&app, caller.user()?, &id, Role::Admin).await?;
    page(&app, audit_query(p, Some(id))?, false).await
}
