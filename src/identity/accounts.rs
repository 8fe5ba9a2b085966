//! Accounts: argon2id passwords, the access + refresh token pairs login hands out, refresh
//! token rotation (a reused token revokes its whole family) and users provisioned from an
//! external identity provider.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::identity::audit;
use crate::identity::jwks::Identity;
use crate::ids::{UserId, random_hex};
use crate::state::AppState;
use crate::store::audit::{AuditAction, AuditEntry};
use crate::store::catalog::{NewUser, Session, User, now_ms};
use crate::store::{Conflict, StoreError};

/// Why an account operation failed. Refused refresh tokens end their session; the rest
/// is the store's, or a fault of this server.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("unknown refresh token")]
    UnknownRefreshToken,
    #[error("this session was logged out or revoked")]
    SessionRevoked,
    #[error("refresh token expired")]
    RefreshTokenExpired,
    #[error("the account is gone")]
    AccountGone,
    /// An instance admin disabled the account: no login, refresh or token works.
    #[error("this account is disabled")]
    AccountDisabled,
    /// A used token came back: it leaked, and its whole family is revoked.
    #[error("this refresh token was already used; the session is revoked, log in again")]
    RefreshTokenReused,
    #[error("an account with this email exists already")]
    EmailTaken,
    /// A fault of this server (hashing, a row that vanished), never the caller's.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccountError {
    /// Whether a refresh token was refused, so the session it stands for is over.
    pub fn ends_session(&self) -> bool {
        matches!(
            self,
            AccountError::UnknownRefreshToken
                | AccountError::SessionRevoked
                | AccountError::RefreshTokenExpired
                | AccountError::AccountGone
                | AccountError::AccountDisabled
                | AccountError::RefreshTokenReused
        )
    }

    /// Whether the caller was refused, rather than the server failing to answer.
    pub fn is_refusal(&self) -> bool {
        self.ends_session() || matches!(self, AccountError::EmailTaken)
    }
}

/// A hash of a password nobody has, verified when the email is unknown so that a login
/// takes as long whether or not the account exists.
static DECOY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    Argon2::default().hash_password(random_hex(16).as_bytes()).map(|h| h.to_string()).unwrap_or_default()
});

/// What signup, login and refresh answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tokens {
    /// JWT for `Authorization: Bearer` and the WebSocket `token` parameter.
    pub access_token: String,
    /// Single-use token for `POST /api/v1/auth/refresh`. Left out for the web app
    /// (`X-Tandem-Session: 1`), which gets it only as an HttpOnly cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub token_type: &'static str,
    pub user: User,
}

/// The refresh token; the web app leaves it out and sends its session cookie instead.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

pub async fn hash_password(password: String) -> Result<String, AccountError> {
    let internal = |e: &dyn std::fmt::Display| AccountError::Internal(format!("password hashing: {e}"));
    tokio::task::spawn_blocking(move || Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()))
        .await
        .map_err(|e| internal(&e))?
        .map_err(|e| internal(&e))
}

/// Whether `password` matches `hash` (or the decoy, when there is no account).
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| DECOY_HASH.clone());
    let ok = tokio::task::spawn_blocking(move || {
        Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok()
    })
    .await
    .unwrap_or(false);
    ok && known
}

/// Refresh tokens are stored as their SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new access token and a refresh token in `family` (a new family for a new login).
pub async fn issue(app: &AppState, user: User, family: Option<String>) -> Result<Tokens, AccountError> {
    let cfg = &app.config.auth;
    let refresh_token = random_hex(32);
    let session = Session {
        id: random_hex(12),
        family: family.unwrap_or_else(|| random_hex(12)),
        user_id: user.id.clone(),
        expires_at: now_ms() + cfg.refresh_token_ttl.as_millis() as i64,
        rotated_at: None,
        revoked_at: None,
    };
    app.store.create_session(&session, &token_hash(&refresh_token)).await?;
    Ok(Tokens {
        access_token: app.keys.mint_user(user.id.as_str(), cfg.access_token_ttl),
        refresh_token: Some(refresh_token),
        expires_in: cfg.access_token_ttl.as_secs(),
        token_type: "Bearer",
        user,
    })
}

/// Trades a refresh token for a new pair. A token that was already used means it leaked:
/// its whole family (every token rotated from the same login) is revoked.
pub async fn refresh(app: &AppState, token: &str) -> Result<Tokens, AccountError> {
    let now = now_ms();
    let session = app.store.session_by_hash(&token_hash(token)).await?.ok_or(AccountError::UnknownRefreshToken)?;
    if session.revoked_at.is_some() {
        return Err(AccountError::SessionRevoked);
    }
    if session.rotated_at.is_some() || !app.store.rotate_session(&session.id, now).await? {
        app.store.revoke_family(&session.family, now).await?;
        tracing::warn!(user = %session.user_id, "refresh token reused; session family revoked");
        audit::record(app, AuditEntry::new(AuditAction::RefreshReuse).actor(&session.user_id)).await;
        return Err(AccountError::RefreshTokenReused);
    }
    if session.expires_at <= now {
        return Err(AccountError::RefreshTokenExpired);
    }
    let user = app.store.user(&session.user_id).await?.ok_or(AccountError::AccountGone)?;
    ensure_enabled(app, &user.id).await?;
    issue(app, user, Some(session.family)).await
}

/// Refuses a disabled account (one that is gone is left to the caller to judge). One
/// primary-key read: every request with a user's token makes it, so that disabling takes
/// effect at once on every node, with no cache to keep in step.
pub async fn ensure_enabled(app: &AppState, user: &UserId) -> Result<(), AccountError> {
    match app.store.standing(user).await? {
        Some(standing) if standing.disabled_at.is_some() => Err(AccountError::AccountDisabled),
        _ => Ok(()),
    }
}

/// Ends the session a refresh token belongs to (every token of its family).
pub async fn logout(app: &AppState, token: &str) -> Result<(), AccountError> {
    if let Some(session) = app.store.session_by_hash(&token_hash(token)).await? {
        app.store.revoke_family(&session.family, now_ms()).await?;
    }
    Ok(())
}

/// Creates a user and their personal workspace.
pub async fn create_user(app: &AppState, new: NewUser) -> Result<User, AccountError> {
    with_workspace(app, new).await.map_err(|e| match e {
        StoreError::Conflict(Conflict::EmailTaken) => AccountError::EmailTaken,
        e => e.into(),
    })
}

async fn with_workspace(app: &AppState, new: NewUser) -> Result<User, StoreError> {
    let user = app.store.create_user(new).await?;
    app.store.create_workspace("Personal", &user.id, true).await?;
    Ok(user)
}

/// The local user of an external identity, created on first sight.
pub async fn provision_external(app: &AppState, id: Identity) -> Result<UserId, AccountError> {
    if let Some(user) = app.store.user_by_external(&id.issuer, &id.subject).await? {
        return Ok(user.id);
    }
    let new = NewUser {
        email: None,
        name: id.name.or(id.email).unwrap_or_else(|| id.subject.clone()),
        password_hash: None,
        external: Some((id.issuer.clone(), id.subject.clone())),
    };
    match with_workspace(app, new).await {
        Ok(user) => Ok(user.id),
        // Two first requests raced: the other one created the user.
        Err(StoreError::Conflict(Conflict::IdentityTaken)) => app
            .store
            .user_by_external(&id.issuer, &id.subject)
            .await?
            .map(|u| u.id)
            .ok_or_else(|| AccountError::Internal("external user vanished".into())),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_and_the_decoy_never_does() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(hash.clone())).await);
        assert!(!verify_password("wrong".into(), Some(hash)).await);
        assert!(!verify_password("anything".into(), None).await);
    }
}
