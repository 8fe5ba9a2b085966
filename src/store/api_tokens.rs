//! Personal API tokens as stored: what a token may do ([`TokenScope`]), its row
//! ([`ApiToken`]) and the [`ApiTokens`] trait both backends implement
//! (`api_tokens_sql.rs`). Only a hash of each secret is stored; `identity::personal`
//! makes and checks the secrets.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::StoreError;
use crate::ids::{ApiTokenId, UserId};

/// What a personal token may do. Ordered: `Write` can do everything `Read` can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Read through REST (`GET`, `HEAD`) and open documents read-only.
    Read,
    /// Everything its user may do, except managing personal tokens.
    Write,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [TokenScope::Read, TokenScope::Write].into_iter().find(|k| k.as_str() == s)
    }

    /// The scopes this one grants, as the API lists them (`write` includes `read`).
    pub fn granted(self) -> Vec<TokenScope> {
        match self {
            TokenScope::Read => vec![TokenScope::Read],
            TokenScope::Write => vec![TokenScope::Read, TokenScope::Write],
        }
    }
}

/// One personal token, never its secret.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub user_id: UserId,
    pub name: String,
    /// The secret's first characters, enough to tell tokens apart.
    pub prefix: String,
    pub scope: TokenScope,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// `None`: never expires.
    pub expires_at: Option<i64>,
}

impl ApiToken {
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

#[async_trait]
pub trait ApiTokens: Send + Sync + 'static {
    /// Stores `token` unless its user already holds `max_live` tokens that have not
    /// expired (answers `false` then); the user's expired tokens are deleted first.
    async fn create_api_token(&self, token: &ApiToken, hash: &str, max_live: i64) -> Result<bool, StoreError>;

    /// A user's tokens, oldest first.
    async fn api_tokens_of(&self, user: &UserId) -> Result<Vec<ApiToken>, StoreError>;

    /// The token whose secret hashes to `hash`, expired or not.
    async fn api_token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError>;

    /// Records a use at `now` unless one was recorded after `since`; whether it wrote.
    async fn touch_api_token(&self, id: &ApiTokenId, now: i64, since: i64) -> Result<bool, StoreError>;

    /// Deletes one of the user's tokens; `false` when the user has no such token.
    async fn delete_api_token(&self, user: &UserId, id: &ApiTokenId) -> Result<bool, StoreError>;
}
