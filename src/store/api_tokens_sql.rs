//! [`ApiTokens`] for [`SqlStore`]: personal API tokens, written once for both backends.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, Type};

use super::StoreError;
use super::api_tokens::{ApiToken, ApiTokens, TokenScope};
use super::dialect::{Dialect, RowsAffected};
use super::sql::SqlStore;
use crate::ids::{ApiTokenId, UserId};

const COLUMNS: &str = "id, user_id, name, prefix, scope, created_at, last_used_at, expires_at";

#[derive(FromRow)]
struct TokenRow {
    id: String,
    user_id: String,
    name: String,
    prefix: String,
    scope: String,
    created_at: i64,
    last_used_at: Option<i64>,
    expires_at: Option<i64>,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;

    fn try_from(r: TokenRow) -> Result<Self, StoreError> {
        let scope = TokenScope::parse(&r.scope)
            .ok_or_else(|| StoreError::Invalid(format!("api token {}: scope {}", r.id, r.scope)))?;
        Ok(ApiToken {
            id: ApiTokenId::new(r.id),
            user_id: UserId::new(r.user_id),
            name: r.name,
            prefix: r.prefix,
            scope,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
        })
    }
}

#[async_trait]
impl<DB> ApiTokens for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn create_api_token(&self, t: &ApiToken, hash: &str, max_live: i64) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        DB::lock_user(&mut tx, &t.user_id).await?;
        sqlx::query("DELETE FROM api_tokens WHERE user_id = $1 AND expires_at <= $2")
            .bind(t.user_id.as_str())
            .bind(t.created_at)
            .execute(&mut *tx)
            .await?;
        let (live,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM api_tokens WHERE user_id = $1")
            .bind(t.user_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if live >= max_live {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, scope, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(t.id.as_str())
        .bind(t.user_id.as_str())
        .bind(t.name.as_str())
        .bind(hash)
        .bind(t.prefix.as_str())
        .bind(t.scope.as_str())
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn api_tokens_of(&self, user: &UserId) -> Result<Vec<ApiToken>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id");
        let rows: Vec<TokenRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user.as_str()).fetch_all(&self.pool).await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn api_token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1");
        let row: Option<TokenRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(&self.pool).await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn touch_api_token(&self, id: &ApiTokenId, now: i64, since: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET last_used_at = $2
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)",
        )
        .bind(id.as_str())
        .bind(now)
        .bind(since)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_api_token(&self, user: &UserId, id: &ApiTokenId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1 AND id = $2")
            .bind(user.as_str())
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
