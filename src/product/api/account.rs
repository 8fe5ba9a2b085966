//! `DELETE /api/v1/users/me`: the end of an account. Confirmed with the account's
//! password; an account without one (an identity provider's) confirms with a sign-in
//! from the last few minutes instead (its bearer token's `iat`), since there is nothing
//! else to ask. Only from a session, never with a personal token. Refused (409
//! `last_owner`) while the user is the only owner of a workspace others are members of:
//! they make someone else an owner, or delete it, first; and (409 `last_admin`) while
//! they are the instance's last enabled admin. What only the account held goes
//! (see `Profiles::delete_account`); its open connections close at once.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::ApiJson;
use crate::identity::access::{Caller, Resource, not_found};
use crate::identity::{accounts, audit};
use crate::ids::{DocId, UserId};
use crate::product::erase;
use crate::rate::Key;
use crate::state::AppState;
use crate::store::audit::{AuditAction, AuditEntry};
use crate::store::catalog::now_ms;
use crate::store::profiles::EraseRefusal;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(delete_me))
}

/// How recent a sign-in confirms deleting an account without a password.
pub const FRESH_SIGN_IN: Duration = Duration::from_secs(5 * 60);
/// Longest password read (as at login).
const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccount {
    /// The account's password; accounts without one sign in again instead.
    pub password: Option<String>,
}

/// When the bearer token was issued (already verified by the caller's extraction).
fn issued_at(headers: &HeaderMap) -> Option<i64> {
    let token = headers.get(AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")?.trim();
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iat")?.as_i64()
}

/// Checks that the account's holder asks: its password, or a fresh sign-in without one.
async fn confirm(app: &AppState, user: &UserId, headers: &HeaderMap, password: Option<String>) -> Result<(), ApiError> {
    let profile = app.store.profile(user).await?.ok_or_else(|| not_found(Resource::User))?;
    if !profile.has_password {
        let fresh = issued_at(headers).is_some_and(|iat| now_ms() / 1000 - iat <= FRESH_SIGN_IN.as_secs() as i64);
        if !fresh {
            let message = "this account has no password: sign in again, then delete it within five minutes";
            return Err(ApiError::new(ErrorCode::ReauthenticationRequired, message));
        }
        return Ok(());
    }
    let password = password
        .filter(|p| !p.is_empty() && p.len() <= MAX_PASSWORD_BYTES)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidField, "`password` is required (at most 1024 bytes)"))?;
    // Guesses with a stolen access token are as limited as guesses at login.
    if !app.login_per_account.allow(Key::text(&format!("delete-account:{user}"))) {
        return Err(ApiError::new(ErrorCode::TooManyAttempts, "too many attempts; retry in a minute"));
    }
    let hash = match &profile.email {
        Some(email) => app.store.credentials_by_email(email).await?.and_then(|c| c.password_hash),
        None => None,
    };
    if !accounts::verify_password(password, hash).await {
        return Err(ApiError::new(ErrorCode::WrongPassword, "that is not this account's password"));
    }
    Ok(())
}

/// The documents of the workspaces only `user` is a member of: the ones deletion takes.
async fn own_documents(app: &AppState, user: &UserId) -> Result<Vec<DocId>, ApiError> {
    let mut docs = Vec::new();
    for (ws, _) in app.store.workspaces_of(user).await? {
        if app.store.members(&ws.id).await?.len() == 1 {
            docs.extend(app.store.workspace_document_ids(&ws.id).await?);
        }
    }
    Ok(docs)
}

/// Deletes the caller's account for good. See the module's documentation for what goes.
#[utoipa::path(delete, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    request_body = DeleteAccount,
    responses((status = 204), (status = 401, body = ErrorBody),
        (status = 403, description = "wrong_password, reauthentication_required, session_required", body = ErrorBody),
        (status = 409, description = "last_owner, last_admin", body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn delete_me(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<DeleteAccount>,
) -> Result<StatusCode, ApiError> {
    let user = caller.session_user()?.clone();
    confirm(&app, &user, &headers, body.password).await?;
    // Like deleting a workspace: its rooms close before and again after.
    let before = own_documents(&app, &user).await?;
    erase::close_rooms(&app, &before).await;
    let erased = match app.store.delete_account(&user).await? {
        Ok(erased) => erased,
        Err(EraseRefusal::Missing) => return Err(not_found(Resource::User).into()),
        Err(EraseRefusal::LastAdmin) => {
            let message = "you are the instance's last enabled admin: make someone else an admin first";
            return Err(ApiError::new(ErrorCode::LastAdmin, message));
        }
        Err(EraseRefusal::LastOwner(workspaces)) => {
            let ids: Vec<String> = workspaces.iter().map(ToString::to_string).collect();
            let message = format!(
                "you are the only owner of workspaces others are members of ({}): make someone else an owner, \
                 or delete them, first",
                ids.join(", ")
            );
            return Err(ApiError::new(ErrorCode::LastOwner, message));
        }
    };
    let entry = AuditEntry::new(AuditAction::AccountDeleted)
        .actor(&user)
        .target("user", &user)
        .detail(serde_json::json!({"documents": erased.documents.len()}));
    audit::record(&app, entry).await;
    // Every open connection of the account, on every node, looks again too: its user is
    // gone (4401).
    erase::deleted(&app, &erased.documents, &erased.blobs).await;
    tracing::info!(user = %user, documents = erased.documents.len(), "account deleted");
    Ok(StatusCode::NO_CONTENT)
}
