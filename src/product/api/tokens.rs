//! `/api/v1/users/me/tokens`: a signed-in user's personal API tokens. Created with a
//! scope and an optional lifetime (the secret is answered once), listed without their
//! secrets, revoked. Managing tokens takes a session: a personal token cannot make,
//! list or revoke tokens, so a leaked one cannot outlive its own revocation.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiJson, ApiPath, text_field};
use crate::identity::access::{self, Caller, Resource, not_found};
use crate::identity::audit;
use crate::identity::personal::{self, MAX_LIFETIME, MAX_LIVE_TOKENS, MAX_NAME_CHARS, NewToken};
use crate::ids::ApiTokenId;
use crate::state::AppState;
use crate::store::api_tokens::{ApiToken, TokenScope};
use crate::store::audit::{AuditAction, AuditEntry};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(revoke))
}

/// A new personal token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What the token is for, 1 to 100 characters.
    pub name: String,
    /// `read` (GET only; documents open read-only) and/or `write` (as you, which
    /// includes `read`).
    pub scopes: Vec<TokenScope>,
    /// Seconds until it expires, at most a year; left out, it never expires.
    pub expires_in: Option<u64>,
}

/// A personal token as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    #[schema(value_type = String)]
    pub id: ApiTokenId,
    pub name: String,
    /// The secret's first characters, to tell tokens apart.
    pub prefix: String,
    pub scopes: Vec<TokenScope>,
    pub created_at: i64,
    /// Updated at most once a minute.
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            scopes: t.scope.granted(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
        }
    }
}

/// A token just made, with its secret: shown this once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// `Authorization: Bearer <token>`, or `?token=` on a WebSocket.
    pub token: String,
}

/// The caller's personal tokens, oldest first.
#[utoipa::path(get, path = "/api/v1/users/me/tokens", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = [TokenView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list(State(app): State<AppState>, caller: Caller) -> Result<Json<Vec<TokenView>>, ApiError> {
    let user = caller.session_user()?;
    let tokens = app.store.api_tokens_of(user).await?;
    Ok(Json(tokens.into_iter().map(Into::into).collect()))
}

/// Makes a personal token; the answer holds its secret, shown only this once.
#[utoipa::path(post, path = "/api/v1/users/me/tokens", tag = "users", security(("bearer" = [])),
    request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let user = caller.session_user()?;
    let name = text_field("name", &body.name, MAX_NAME_CHARS)?;
    let scope = body
        .scopes
        .iter()
        .copied()
        .max()
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidField, "`scopes` must hold `read` or `write`"))?;
    let lifetime = match body.expires_in {
        None => None,
        Some(secs) if (1..=MAX_LIFETIME.as_secs()).contains(&secs) => Some(Duration::from_secs(secs)),
        Some(_) => {
            let message = format!("`expires_in` must be 1 to {} seconds (a year)", MAX_LIFETIME.as_secs());
            return Err(ApiError::new(ErrorCode::InvalidField, message));
        }
    };
    let made = personal::create(&app, user, NewToken { name, scope, lifetime }).await?;
    let Some((token, secret)) = made else {
        let message = format!("at most {MAX_LIVE_TOKENS} personal tokens; revoke one first");
        return Err(ApiError::new(ErrorCode::TooManyTokens, message));
    };
    tracing::info!(user = %user, token = %token.id, scope = token.scope.as_str(), "personal token created");
    let detail = serde_json::json!({"name": token.name, "scope": token.scope.as_str()});
    audit::record(
        &app,
        AuditEntry::new(AuditAction::TokenCreated).actor(user).target("token", &token.id).detail(detail),
    )
    .await;
    Ok((StatusCode::CREATED, Json(CreatedToken { view: token.into(), token: secret })))
}

/// Revokes one of the caller's tokens: requests with it are refused from now on, and
/// connections opened with it close (4401).
#[utoipa::path(delete, path = "/api/v1/users/me/tokens/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller.session_user()?;
    let id = ApiTokenId::new(id);
    if !app.store.delete_api_token(user, &id).await? {
        return Err(not_found(Resource::Token).into());
    }
    tracing::info!(user = %user, token = %id, "personal token revoked");
    access::changed(&app);
    audit::record(&app, AuditEntry::new(AuditAction::TokenRevoked).actor(user).target("token", &id)).await;
    Ok(StatusCode::NO_CONTENT)
}
