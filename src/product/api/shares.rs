//! Per-document shares (a user + viewer, commenter or editor) and public links (view or
//! edit, revocable), managed by workspace admins and the document's author, signed in
//! (a public link never manages anything). Revoking takes effect on open connections at
//! once. Sharing by email answers the same whether or not the email has an account: to
//! an address without one, the share is pending and applies when that account is made.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiJson, ApiPath, email_field, login_email};
use serde_json::json;

use crate::identity::access::{self, Caller, Resource, can_manage, not_found};
use crate::identity::audit;
use crate::ids::{DocId, LinkId, UserId, random_hex};
use crate::state::AppState;
use crate::store::audit::AuditAction;
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

/// What sharing by email answers: only what was asked, so the answer says nothing about
/// whether the address has an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailShare {
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ShareAnswer {
    /// Shared by `user_id`.
    User(Member),
    /// Shared by `email`.
    Email(EmailShare),
}

impl ShareAnswer {
    /// Who got which role, as the audit log keeps it.
    fn audit_detail(&self) -> serde_json::Value {
        match self {
            ShareAnswer::User(m) => json!({"user": m.user.id, "role": m.role.as_str()}),
            ShareAnswer::Email(e) => json!({"email": e.email, "role": e.role.as_str()}),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// viewer or editor.
    pub role: Role,
}

/// The document, if the caller is a signed-in user who may manage its shares and links.
async fn managed(app: &AppState, caller: &Caller, id: &DocId) -> Result<Document, ApiError> {
    caller.user()?;
    let (doc, role) = caller.document(app, id, Role::Viewer).await?;
    if !can_manage(caller, &doc, role) {
        return Err(access::forbidden("the admin role or authorship").into());
    }
    Ok(doc)
}

#[utoipa::path(get, path = "/api/v1/documents/{id}/shares", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<Member>), (status = 403, body = ErrorBody)))]
async fn list_shares(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
) -> Result<Json<Vec<Member>>, ApiError> {
    let doc = managed(&app, &caller, &id).await?;
    Ok(Json(app.store.shares(&doc.id).await?))
}

/// Shares the document with a user (or changes their share). By `email`, the answer is
/// the same whether or not the address has an account; without one, the share waits
/// for the account with that email to be created.
#[utoipa::path(post, path = "/api/v1/documents/{id}/shares", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ShareRequest,
    responses((status = 200, body = ShareAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn share(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    ApiJson(req): ApiJson<ShareRequest>,
) -> Result<Json<ShareAnswer>, ApiError> {
    let doc = managed(&app, &caller, &id).await?;
    if req.role > Role::Editor {
        return Err(ApiError::new(ErrorCode::InvalidField, "a share's role is viewer, commenter or editor"));
    }
    let answer = match (req.user_id, req.email) {
        (Some(id), None) => {
            let user = app.store.user(&id).await?.ok_or_else(|| not_found(Resource::User))?;
            app.store.set_share(&doc.id, &user.id, req.role, now_ms()).await?;
            ShareAnswer::User(Member { user, role: req.role })
        }
        (None, Some(email)) => {
            let email = email_field(&email)?;
            app.store.share_by_email(&doc.id, &email, req.role, now_ms()).await?;
            ShareAnswer::Email(EmailShare { email, role: req.role })
        }
        _ => {
            return Err(ApiError::new(ErrorCode::InvalidField, "give exactly one of `user_id` and `email`"));
        }
    };
    access::changed(&app);
    audit::record(&app, audit::document(AuditAction::ShareCreated, caller.user()?, &doc).detail(answer.audit_detail()))
        .await;
    Ok(Json(answer))
}

/// Removes a share. `user_id` may be an email: that removes the share of its account
/// and a pending share to it alike.
#[utoipa::path(delete, path = "/api/v1/documents/{id}/shares/{user_id}", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path), ("user_id" = String, Path, description = "a user id, or an email")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unshare(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, user_id)): ApiPath<(DocId, String)>,
) -> Result<StatusCode, ApiError> {
    let doc = managed(&app, &caller, &id).await?;
    let removed = if user_id.contains('@') {
        app.store.remove_share_by_email(&doc.id, &login_email(&user_id)?).await?
    } else {
        app.store.remove_share(&doc.id, &UserId::new(user_id.as_str())).await?
    };
    if !removed {
        return Err(not_found(Resource::Share).into());
    }
    access::changed(&app);
    let revoked = audit::document(AuditAction::ShareRevoked, caller.user()?, &doc).detail(json!({"user": user_id}));
    audit::record(&app, revoked).await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/documents/{id}/links", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<Link>), (status = 403, body = ErrorBody)))]
async fn list_links(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
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
    ApiPath(id): ApiPath<DocId>,
    ApiJson(req): ApiJson<LinkRequest>,
) -> Result<(StatusCode, Json<Link>), ApiError> {
    let doc = managed(&app, &caller, &id).await?;
    if !matches!(req.role, Role::Viewer | Role::Editor) {
        return Err(ApiError::new(ErrorCode::InvalidField, "a link's role is viewer or editor"));
    }
    let link = Link {
        id: random_hex(8),
        token: random_hex(24),
        document_id: doc.id.clone(),
        role: req.role,
        created_at: now_ms(),
    };
    app.store.create_link(&link).await?;
    let made = json!({"link": link.id, "role": link.role.as_str()});
    audit::record(&app, audit::document(AuditAction::LinkCreated, caller.user()?, &doc).detail(made)).await;
    Ok((StatusCode::CREATED, Json(link)))
}

/// Revokes a public link; connections opened with it close with 4403.
#[utoipa::path(delete, path = "/api/v1/documents/{id}/links/{link_id}", tag = "sharing", security(("bearer" = [])),
    params(("id" = String, Path), ("link_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_link(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, link_id)): ApiPath<(DocId, LinkId)>,
) -> Result<StatusCode, ApiError> {
    let doc = managed(&app, &caller, &id).await?;
    if !app.store.revoke_link(&doc.id, link_id.as_str(), now_ms()).await? {
        return Err(not_found(Resource::Link).into());
    }
    access::changed(&app);
    let revoked = json!({"link": link_id.as_str()});
    audit::record(&app, audit::document(AuditAction::LinkRevoked, caller.user()?, &doc).detail(revoked)).await;
    Ok(StatusCode::NO_CONTENT)
}
