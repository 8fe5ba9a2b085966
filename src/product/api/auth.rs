//! `/api/v1/auth`: signup, login, refresh (rotating), logout, me. Bodies are small and
//! every field is bounded before any work (hashing, limiter keys, queries) is done.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiJson, email_field, login_email, optional_json, text_field};
use super::session;
use crate::identity::access::Caller;
use crate::identity::accounts::{self, RefreshRequest, Tokens};
use crate::identity::audit;
use crate::ids::UserId;
use crate::rate::{ClientIp, Key};
use crate::state::AppState;
use crate::store::audit::{AuditAction, AuditEntry};
use crate::store::catalog::{NewUser, User};

/// Largest request body on these routes (answered 413 past it).
const MAX_BODY: usize = 16 * 1024;
const PASSWORD_BYTES: std::ops::RangeInclusive<usize> = 8..=1024;
/// Refresh tokens are 64 hex characters; anything much longer is not one.
const MAX_REFRESH_TOKEN_BYTES: usize = 256;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    /// 8 to 1024 bytes.
    pub password: String,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

fn invalid_field(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, message)
}

fn password_field(password: &str) -> Result<(), ApiError> {
    if PASSWORD_BYTES.contains(&password.len()) {
        Ok(())
    } else {
        Err(invalid_field("`password` must be 8 to 1024 bytes"))
    }
}

fn refresh_token_field(token: &str) -> Result<(), ApiError> {
    if token.len() <= MAX_REFRESH_TOKEN_BYTES {
        return Ok(());
    }
    Err(ApiError::new(ErrorCode::InvalidRefreshToken, "unknown refresh token"))
}

/// Creates an account (and its personal workspace) and logs it in. Throttled per address.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = Tokens), (status = 409, description = "email_taken", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody)))]
async fn signup(
    State(app): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<Response, ApiError> {
    let email = email_field(&req.email)?;
    let name = text_field("name", &req.name, 100)?;
    password_field(&req.password)?;
    if !app.signups_per_ip.allow(Key::addr(client)) {
        metrics::counter!(crate::metrics::LIMITED, "limit" => "signups_per_ip").increment(1);
        return Err(ApiError::new(ErrorCode::RateLimited, "too many signups from this address; retry later"));
    }
    let password_hash = Some(accounts::hash_password(req.password).await?);
    let user = accounts::create_user(&app, NewUser { email: Some(email), name, password_hash, external: None }).await?;
    let tokens = accounts::issue(&app, user, None).await?;
    Ok(with_session(&app, &headers, StatusCode::CREATED, tokens))
}

/// Logs in with email and password. Throttled per account and per address.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Tokens), (status = 401, description = "invalid_credentials", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody),
        (status = 429, description = "too_many_attempts", body = ErrorBody)))]
async fn login(
    State(app): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let email = login_email(&req.email)?;
    if req.password.len() > *PASSWORD_BYTES.end() {
        return Err(invalid_field("`password` must be at most 1024 bytes"));
    }
    if !app.login_per_ip.allow(Key::addr(client)) || !app.login_per_account.allow(Key::text(&email)) {
        metrics::counter!(crate::metrics::LIMITED, "limit" => "login_attempts").increment(1);
        return Err(ApiError::new(ErrorCode::TooManyAttempts, "too many login attempts; retry in a minute"));
    }
    let creds = app.store.credentials_by_email(&email).await?;
    let hash = creds.as_ref().and_then(|c| c.password_hash.clone());
    if !accounts::verify_password(req.password, hash).await {
        metrics::counter!(crate::metrics::AUTH_FAILURES, "reason" => ErrorCode::InvalidCredentials.as_str())
            .increment(1);
        let known = creds.as_ref().map(|c| &c.user.id);
        audit::record(&app, login_failed(known, &email, ErrorCode::InvalidCredentials)).await;
        return Err(ApiError::new(ErrorCode::InvalidCredentials, "wrong email or password"));
    }
    let user = creds.map(|c| c.user).ok_or_else(|| ApiError::internal("verified a password without an account"))?;
    // Told only to whoever knows the password, so it reveals nothing to a guesser.
    if let Err(e) = accounts::ensure_enabled(&app, &user.id).await {
        metrics::counter!(crate::metrics::AUTH_FAILURES, "reason" => ErrorCode::AccountDisabled.as_str()).increment(1);
        audit::record(&app, login_failed(Some(&user.id), &email, ErrorCode::AccountDisabled)).await;
        return Err(e.into());
    }
    audit::record(&app, AuditEntry::new(AuditAction::Login).actor(&user.id).target("user", &user.id)).await;
    let tokens = accounts::issue(&app, user, None).await?;
    Ok(with_session(&app, &headers, StatusCode::OK, tokens))
}

/// A refused login's audit event: bounded (the email was checked to be at most 254
/// bytes), and only as many as the login limits let through per address and account.
fn login_failed(user: Option<&UserId>, email: &str, why: ErrorCode) -> AuditEntry {
    let entry =
        AuditEntry::new(AuditAction::LoginFailed).detail(serde_json::json!({"email": email, "reason": why.as_str()}));
    match user {
        Some(user) => entry.actor(user).target("user", user),
        None => entry,
    }
}

/// Trades a refresh token for a new pair; the old one stops working. Reusing a used
/// token revokes the whole session. The token comes in the body, or (from the web app,
/// with `X-Tandem-Session: 1`) in the session cookie, which is then rotated too.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = Tokens),
        (status = 401, description = "invalid_refresh_token or refresh_token_reused", body = ErrorBody),
        (status = 403, description = "session_header_required", body = ErrorBody)))]
async fn refresh(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let req: RefreshRequest = optional_json(&body)?;
    let (token, from_cookie) = match req.refresh_token {
        Some(token) => (token, false),
        None => match session::cookie_refresh_token(&headers)? {
            Some(token) => (token, true),
            None => return Err(invalid_refresh_token()),
        },
    };
    refresh_token_field(&token)?;
    match accounts::refresh(&app, &token).await {
        Ok(tokens) if from_cookie => Ok(with_session(&app, &headers, StatusCode::OK, tokens)),
        Ok(tokens) => Ok(Json(tokens).into_response()),
        // A dead cookie is cleared, so the app stops presenting it.
        Err(e) if from_cookie && e.ends_session() => Ok((session::clear(&headers), ApiError::from(e)).into_response()),
        Err(e) => Err(e.into()),
    }
}

/// Ends the session the refresh token (in the body, or the web app's cookie) belongs to,
/// and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "logged out"),
        (status = 403, description = "session_header_required", body = ErrorBody)))]
async fn logout(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let req: RefreshRequest = optional_json(&body)?;
    let token = match req.refresh_token {
        Some(token) => Some(token),
        None => session::cookie_refresh_token(&headers)?,
    };
    if let Some(token) = token.filter(|t| refresh_token_field(t).is_ok())
        && let Err(e) = accounts::logout(&app, &token).await
    {
        // The session could not be ended (the store is down): the browser forgets its
        // cookie all the same, and the caller is told that the token still works.
        return Ok((session::clear(&headers), ApiError::from(e)).into_response());
    }
    Ok((StatusCode::NO_CONTENT, session::clear(&headers)).into_response())
}

fn invalid_refresh_token() -> ApiError {
    ApiError::new(ErrorCode::InvalidRefreshToken, "no refresh token in the body or the session cookie")
}

/// The tokens as JSON, and the session cookie. A request from the web app gets the
/// refresh token only as the HttpOnly cookie, never in a body its scripts could read.
fn with_session(app: &AppState, headers: &HeaderMap, status: StatusCode, mut tokens: Tokens) -> Response {
    let max_age = app.config.auth.refresh_token_ttl.as_secs();
    let cookies = session::set(headers, tokens.refresh_token.as_deref().unwrap_or_default(), max_age);
    if session::from_app(headers) {
        tokens.refresh_token = None;
    }
    (status, cookies, Json(tokens)).into_response()
}

/// The calling user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
async fn me(State(app): State<AppState>, caller: Caller) -> Result<Json<User>, ApiError> {
    let user = caller.user()?;
    Ok(Json(
        app.store
            .user(user)
            .await?
            .ok_or_else(|| crate::identity::access::not_found(crate::identity::access::Resource::User))?,
    ))
}
