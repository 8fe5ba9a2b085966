//! `/api/v1/admin` and `/api/v1/system/info`: what instance admins do. List and search
//! users, disable and enable them (a disabled user's sessions are revoked and their open
//! connections closed at once, on every node), and look at the instance. Every route
//! needs an instance admin signed in with a session: a personal token never administers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiPath, ApiQuery};
use crate::identity::access::{self, Caller, Resource, not_found};
use crate::identity::audit;
use crate::ids::UserId;
use crate::state::AppState;
use crate::store::admin::{AdminRefusal, AdminUser, SystemCounts, UserQuery};
use crate::store::audit::{AuditAction, AuditEntry};

/// Most users one page lists.
pub const MAX_PAGE: u32 = 100;
const DEFAULT_PAGE: u32 = 50;
/// Longest search prefix, in characters.
const MAX_PREFIX_CHARS: usize = 100;
/// Longest cursor accepted, in bytes (a time, a dot and an id).
const MAX_CURSOR_BYTES: usize = 128;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(system_info))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersParams {
    /// A prefix of the email or the name, case-insensitive.
    pub q: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 100; 50 when left out.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<AdminUser>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A page size from a `limit` parameter: 1 to [`MAX_PAGE`].
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::new(ErrorCode::InvalidQuery, format!("`limit` must be 1 to {MAX_PAGE}"))),
    }
}

pub fn bad_cursor() -> ApiError {
    ApiError::new(ErrorCode::InvalidCursor, "`cursor` is not one this server handed out")
}

fn user_query(p: UsersParams) -> Result<UserQuery, ApiError> {
    let limit = page_limit(p.limit)?;
    let prefix = match p.q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(q) if q.chars().count() <= MAX_PREFIX_CHARS => Some(q.to_owned()),
        Some(_) => return Err(ApiError::new(ErrorCode::InvalidQuery, "`q` must be at most 100 characters")),
    };
    let after = match p.cursor.as_deref() {
        None => None,
        Some(c) if c.len() <= MAX_CURSOR_BYTES => {
            let (at, id) = c.split_once('.').ok_or_else(bad_cursor)?;
            Some((at.parse::<i64>().map_err(|_| bad_cursor())?, UserId::new(id)))
        }
        Some(_) => return Err(bad_cursor()),
    };
    Ok(UserQuery { prefix, after, limit })
}

/// Every user (or those whose email or name starts with `q`), oldest first.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), params(UsersParams),
    responses((status = 200, body = UserPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn list_users(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<UsersParams>,
) -> Result<Json<UserPage>, ApiError> {
    caller.instance_admin(&app).await?;
    let q = user_query(p)?;
    let users = app.store.list_users(&q).await?;
    let next_cursor = match users.last() {
        Some(last) if users.len() as u32 == q.limit => Some(format!("{}.{}", last.created_at, last.id)),
        _ => None,
    };
    Ok(Json(UserPage { users, next_cursor }))
}

/// Applies a disable or enable, answering refusals as the API does.
async fn set_disabled(app: &AppState, admin: &UserId, target: &UserId, disable: bool) -> Result<(), ApiError> {
    let action = if disable { AuditAction::UserDisabled } else { AuditAction::UserEnabled };
    let entry = audit::stamp(AuditEntry::new(action).actor(admin));
    let at = disable.then_some(entry.at);
    match app.store.set_disabled(target, at, &entry).await? {
        Ok(()) => Ok(()),
        Err(AdminRefusal::NoSuchUser) => Err(not_found(Resource::User).into()),
        Err(AdminRefusal::LastAdmin) => {
            Err(ApiError::new(ErrorCode::LastAdmin, "the instance must keep at least one enabled admin"))
        }
    }
}

/// Disables a user: they can no longer sign in or refresh, their sessions are revoked,
/// their access and personal tokens are refused from now on, and their open connections
/// close (4401). An admin cannot disable themselves, nor the last enabled admin.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/disable", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "cannot_disable_self or last_admin", body = ErrorBody)))]
async fn disable(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(target): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let admin = caller.instance_admin(&app).await?;
    let target = UserId::new(target);
    if *admin == target {
        return Err(ApiError::new(ErrorCode::CannotDisableSelf, "an admin cannot disable their own account"));
    }
    set_disabled(&app, admin, &target, true).await?;
    tracing::info!(admin = %admin, user = %target, "user disabled");
    access::changed(&app);
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a disabled user again: they can sign in; sessions revoked when they were
/// disabled stay revoked.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/enable", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn enable(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(target): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let admin = caller.instance_admin(&app).await?;
    let target = UserId::new(target);
    set_disabled(&app, admin, &target, false).await?;
    tracing::info!(admin = %admin, user = %target, "user enabled");
    Ok(StatusCode::NO_CONTENT)
}

/// What this node is running.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeInfo {
    /// Documents live in memory on this node.
    pub rooms: usize,
    /// Open WebSocket connections of this server process (both protocols).
    pub connections: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SystemInfo {
    pub version: &'static str,
    /// Seconds since this node started.
    pub uptime_seconds: u64,
    pub node: NodeInfo,
    /// Counts of the main tables and the database's size: the whole instance.
    pub storage: SystemCounts,
    /// Audit events older than this many days are pruned.
    pub audit_retention_days: u32,
}

/// The server's version, uptime, live rooms and connections, and storage sizes. Cheap:
/// counts of the small catalogue tables and the size the database reports.
#[utoipa::path(get, path = "/api/v1/system/info", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = SystemInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn system_info(State(app): State<AppState>, caller: Caller) -> Result<Json<SystemInfo>, ApiError> {
    caller.instance_admin(&app).await?;
    let storage = app.store.system_counts().await?;
    Ok(Json(SystemInfo {
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: app.started_at.elapsed().as_secs(),
        node: NodeInfo { rooms: app.rooms.live(), connections: crate::metrics::connections_active() },
        storage,
        audit_retention_days: app.config.auth.audit_retention_days,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_queries_are_bounded() {
        let p = |q: Option<&str>, cursor: Option<&str>, limit| UsersParams {
            q: q.map(Into::into),
            cursor: cursor.map(Into::into),
            limit,
        };
        assert!(user_query(p(None, None, Some(0))).is_err());
        assert!(user_query(p(None, None, Some(101))).is_err());
        assert!(user_query(p(Some(&"a".repeat(101)), None, None)).is_err());
        assert!(user_query(p(None, Some("nodot"), None)).is_err());
        let q = user_query(p(Some(" An "), Some("12.ab"), None)).unwrap();
        assert_eq!((q.prefix.as_deref(), q.limit), (Some("An"), DEFAULT_PAGE));
        assert_eq!(q.after, Some((12, UserId::new("ab"))));
    }
}
