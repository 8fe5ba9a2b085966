//! Per-document shares (a user + viewer, commenter or editor) and public links (view or
//! edit, revocable), managed by workspace admins and the document's author. Revoking
//! takes effect on open connections at once.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use crate::access::{self, Caller, can_manage, not_found};
use crate::app::AppState;
use crate::ids::{UserId, random_hex};
use crate::store::catalog::{Document, Link, Member, Role, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_shares, share))
        .routes(routes!(unshare))
        .routes(routes!(list_links, create_link))
        .routes(routes!(revoke_link))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// Who: a user id, or the email of an account.
    pub user_id: Option<UserId>,
    pub email: Option<String>,
    /// viewer, commenter or editor.
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// viewer or editor.
    pub role: Role,
}

/// The document, if the caller may manage its shares and links.
async fn managed(app: &AppState, caller: &Caller, id: &str) -> Result<Document, ApiError> {
    let (doc, role) = caller.document(app, id, Role::Viewer).await?;
    if !can_manage(caller, &doc, role) {
        return Err(access::forbidden("the admin role or authorship"));
    }
    Ok(doc)
}

#[utoipa::path(get, path = "/api/v1/documents/{id}/shares", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<Member>), (status = 403, body = ErrorBody)))]
async fn list_shares(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Member>>, ApiError> {
    let doc = managed(&app, &caller, &id).await?;
    Ok(Json(app.store.shares(&doc.id).await?))
}

/// Shares the document with a user (or changes their share).
#[utoipa::path(post, path = "/api/v1/documents/{id}/shares", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ShareRequest,
    responses((status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn share(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ShareRequest>,
) -> Result<Json<Member>, ApiError> {
    let doc = managed(&app, &caller, &id).await?;
    if req.role > Role::Editor {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "a share's role is viewer, commenter or editor",
        ));
    }
    let user = match (req.user_id, req.email) {
        (Some(id), None) => app.store.user(&id).await?,
        (None, Some(email)) => app.store.credentials_by_email(&email.trim().to_lowercase()).await?.map(|c| c.user),
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                "give exactly one of `user_id` and `email`",
            ));
        }
    }
    .ok_or_else(|| not_found("user"))?;
    app.store.set_share(&doc.id, &user.id, req.role, now_ms()).await?;
    access::changed(&app);
    Ok(Json(Member { user, role: req.role }))
}

#[utoipa::path(delete, path = "/api/v1/documents/{id}/shares/{user_id}", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unshare(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let doc = managed(&app, &caller, &id).await?;
    if !app.store.remove_share(&doc.id, &UserId::new(user_id)).await? {
        return Err(not_found("share"));
    }
    access::changed(&app);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/documents/{id}/links", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<Link>), (status = 403, body = ErrorBody)))]
async fn list_links(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Link>>, ApiError> {
    let doc = managed(&app, &caller, &id).await?;
    Ok(Json(app.store.links(&doc.id).await?))
}

/// Creates a public link. Its `token` opens the document: `?link=TOKEN` (or the
/// `Tandem-Link` header) on the REST API, `?link=TOKEN` on `/ws/{id}`.
#[utoipa::path(post, path = "/api/v1/documents/{id}/links", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = LinkRequest,
    responses((status = 201, body = Link), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_link(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<LinkRequest>,
) -> Result<(StatusCode, Json<Link>), ApiError> {
    let doc = managed(&app, &caller, &id).await?;
    if !matches!(req.role, Role::Viewer | Role::Editor) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "a link's role is viewer or editor",
        ));
    }
    let link =
        Link { id: random_hex(8), token: random_hex(24), document_id: doc.id, role: req.role, created_at: now_ms() };
    app.store.create_link(&link).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// Revokes a public link; connections opened with it close with 4403.
#[utoipa::path(delete, path = "/api/v1/documents/{id}/links/{link_id}", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path), ("link_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_link(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, link_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let doc = managed(&app, &caller, &id).await?;
    if !app.store.revoke_link(&doc.id, &link_id, now_ms()).await? {
        return Err(not_found("link"));
    }
    access::changed(&app);
    Ok(StatusCode::NO_CONTENT)
}
