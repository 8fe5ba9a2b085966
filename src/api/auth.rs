//! `/api/v1/auth`: signup, login, refresh (rotating), logout, me.

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, text_field};
use crate::access::Caller;
use crate::accounts::{self, RefreshRequest, Tokens};
use crate::app::AppState;
use crate::store::catalog::{NewUser, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
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

fn email_field(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "`email` is not an email address",
        ));
    }
    Ok(email)
}

/// Creates an account (and its personal workspace) and logs it in.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = Tokens), (status = 409, description = "email_taken", body = ErrorBody),
        (status = 422, description = "invalid_field", body = ErrorBody)))]
async fn signup(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<Tokens>), ApiError> {
    let email = email_field(&req.email)?;
    let name = text_field("name", &req.name, 100)?;
    if !(8..=1024).contains(&req.password.len()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "`password` must be 8 to 1024 bytes",
        ));
    }
    let password_hash = Some(accounts::hash_password(req.password).await?);
    let user = accounts::create_user(&app, NewUser { email: Some(email), name, password_hash, external: None }).await?;
    Ok((StatusCode::CREATED, Json(accounts::issue(&app, user, None).await?)))
}

/// Logs in with email and password. Throttled per account and per address.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Tokens), (status = 401, description = "invalid_credentials", body = ErrorBody),
        (status = 429, description = "too_many_attempts", body = ErrorBody)))]
async fn login(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let email = req.email.trim().to_lowercase();
    if !app.login_per_ip.allow(peer.ip()) || !app.login_per_account.allow(email.clone()) {
        metrics::counter!(crate::metrics::LIMITED, "limit" => "login_attempts").increment(1);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many login attempts; retry in a minute",
        ));
    }
    let creds = app.store.credentials_by_email(&email).await?;
    let hash = creds.as_ref().and_then(|c| c.password_hash.clone());
    if !accounts::verify_password(req.password, hash).await {
        metrics::counter!(crate::metrics::AUTH_FAILURES, "reason" => "invalid_credentials").increment(1);
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "wrong email or password"));
    }
    let user = creds.map(|c| c.user).ok_or_else(|| ApiError::internal("verified a password without an account"))?;
    Ok(Json(accounts::issue(&app, user, None).await?))
}

/// Trades a refresh token for a new pair; the old one stops working. Reusing a used
/// token revokes the whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = Tokens),
        (status = 401, description = "invalid_refresh_token or refresh_token_reused", body = ErrorBody)))]
async fn refresh(State(app): State<AppState>, ApiJson(req): ApiJson<RefreshRequest>) -> Result<Json<Tokens>, ApiError> {
    Ok(Json(accounts::refresh(&app, &req.refresh_token).await?))
}

/// Ends the session the refresh token belongs to.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "logged out")))]
async fn logout(State(app): State<AppState>, ApiJson(req): ApiJson<RefreshRequest>) -> Result<StatusCode, ApiError> {
    accounts::logout(&app, &req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calling user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
async fn me(State(app): State<AppState>, caller: Caller) -> Result<Json<User>, ApiError> {
    let user = caller.user()?;
    Ok(Json(app.store.user(user).await?.ok_or_else(|| crate::access::not_found("user"))?))
}
