//! Personal API tokens: long-lived bearer secrets a signed-in user makes for scripts and
//! tools (`tandem_` and 64 hex digits), usable wherever a user's access token is, within
//! their scope. The secret is shown once and stored as its SHA-256, like refresh tokens.
//! `access` checks them on every request and connection; the API makes and revokes them.

use std::time::Duration;

use crate::identity::accounts::token_hash;
use crate::ids::{ApiTokenId, UserId, random_hex};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::api_tokens::{ApiToken, TokenScope};
use crate::store::catalog::now_ms;

/// What every personal token starts with, so they are told from JWTs (and found by
/// secret scanners).
pub const PREFIX: &str = "tandem_";
/// Random bytes in a secret (as hex after the prefix).
const SECRET_BYTES: usize = 32;
/// Characters of the secret kept in the clear to tell tokens apart: the prefix and 8
/// hex digits (32 of the 256 random bits).
const SHOWN_CHARS: usize = PREFIX.len() + 8;
/// Most tokens a user holds that have not expired.
pub const MAX_LIVE_TOKENS: i64 = 50;
/// Longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest lifetime a token can be given.
pub const MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// A use is recorded at most this often per token, so requests do not each write.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Whether a bearer token is a personal token (rather than a JWT).
pub fn is_personal(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// What a new token is made from; the name is checked already.
pub struct NewToken {
    pub name: String,
    pub scope: TokenScope,
    /// `None`: never expires.
    pub lifetime: Option<Duration>,
}

/// Makes and stores a token for `user`; answers it with its secret, or `None` when the
/// user holds [`MAX_LIVE_TOKENS`] already.
pub async fn create(app: &AppState, user: &UserId, new: NewToken) -> Result<Option<(ApiToken, String)>, StoreError> {
    let secret = format!("{PREFIX}{}", random_hex(SECRET_BYTES));
    let now = now_ms();
    let token = ApiToken {
        id: ApiTokenId::random(),
        user_id: user.clone(),
        name: new.name,
        prefix: secret[..SHOWN_CHARS].to_owned(),
        scope: new.scope,
        created_at: now,
        last_used_at: None,
        expires_at: new.lifetime.map(|d| now + d.as_millis() as i64),
    };
    let stored = app.store.create_api_token(&token, &token_hash(&secret), MAX_LIVE_TOKENS).await?;
    Ok(stored.then_some((token, secret)))
}

/// The stored token a secret stands for, expired or not; `None` for an unknown (or
/// revoked) one.
pub async fn find(app: &AppState, secret: &str) -> Result<Option<ApiToken>, StoreError> {
    app.store.api_token_by_hash(&token_hash(secret)).await
}

/// Whether `token` is still there (not revoked) and has not expired: for what holds a
/// caller longer than a request (event streams).
pub async fn is_live(app: &AppState, token: &ApiToken) -> Result<bool, StoreError> {
    let now = now_ms();
    Ok(app.store.api_tokens_of(&token.user_id).await?.iter().any(|t| t.id == token.id && !t.expired(now)))
}

/// Records that `token` was used now, unless that was done in the last minute (here, or
/// on another node). A failure is logged: it never refuses the request.
pub async fn touch(app: &AppState, token: &ApiToken) {
    let now = now_ms();
    if token.last_used_at.is_some_and(|at| now - at < TOUCH_EVERY_MS) {
        return;
    }
    if let Err(e) = app.store.touch_api_token(&token.id, now, now - TOUCH_EVERY_MS).await {
        tracing::warn!(token = %token.id, error = %e, "personal token use not recorded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_tokens_are_told_from_jwts_by_their_prefix() {
        assert!(is_personal("tandem_0123abcd"));
        assert!(!is_personal("eyJhbGciOiJIUzI1NiJ9.e30.x"));
        assert_eq!(SHOWN_CHARS, 15);
    }
}
