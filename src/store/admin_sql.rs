//! [`Admin`] for [`SqlStore`]: instance admins, disabled users, the user listing and the
//! system counts, written once for both backends. Changes take the admins lock
//! ([`Dialect::lock_admins`]) so two of them can never both remove the last admin.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, Type};

use super::StoreError;
use super::admin::{Admin, AdminRefusal, AdminUser, Standing, SystemCounts, UserQuery};
use super::audit::AuditEntry;
use super::audit_sql;
use super::dialect::Dialect;
use super::sql::SqlStore;
use crate::ids::UserId;

#[derive(FromRow)]
struct AdminUserRow {
    id: String,
    email: Option<String>,
    name: String,
    created_at: i64,
    is_admin: i64,
    disabled_at: Option<i64>,
}

impl From<AdminUserRow> for AdminUser {
    fn from(r: AdminUserRow) -> Self {
        AdminUser {
            id: UserId::new(r.id),
            email: r.email,
            name: r.name,
            created_at: r.created_at,
            is_admin: r.is_admin != 0,
            disabled_at: r.disabled_at,
        }
    }
}

/// `s` as a LIKE pattern matching what starts with it (`\` escapes the wildcards).
fn prefix_pattern(s: &str) -> String {
    let mut p = String::with_capacity(s.len() + 1);
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Decode<'q, DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// Whether a change to `target` would leave no enabled admin: true when `target` is
    /// an enabled admin and no other enabled admin exists. Run under the admins lock.
    pub(super) async fn would_orphan(conn: &mut DB::Connection, target: &UserId) -> Result<bool, StoreError> {
        let (others,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled_at IS NULL AND id <> $1")
                .bind(target.as_str())
                .fetch_one(&mut *conn)
                .await?;
        Ok(others == 0)
    }

    pub(super) async fn standing_on(conn: &mut DB::Connection, user: &UserId) -> Result<Option<Standing>, StoreError> {
        let row: Option<(i64, Option<i64>)> = sqlx::query_as("SELECT is_admin, disabled_at FROM users WHERE id = $1")
            .bind(user.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        Ok(row.map(|(admin, disabled_at)| Standing { admin: admin != 0, disabled_at }))
    }
}

#[async_trait]
impl<DB> Admin for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn standing(&self, user: &UserId) -> Result<Option<Standing>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::standing_on(&mut conn, user).await
    }

    async fn list_users(&self, q: &UserQuery) -> Result<Vec<AdminUser>, StoreError> {
        let mut qb = sqlx::QueryBuilder::<DB>::new(
            "SELECT id, email, name, created_at, is_admin, disabled_at FROM users WHERE 1 = 1",
        );
        if let Some(prefix) = &q.prefix {
            let pattern = prefix_pattern(prefix);
            qb.push(" AND (email LIKE ");
            qb.push_bind(pattern.clone());
            qb.push(" ESCAPE '\\' OR lower(name) LIKE ");
            qb.push_bind(pattern);
            qb.push(" ESCAPE '\\')");
        }
        if let Some((at, id)) = &q.after {
            qb.push(" AND (created_at > ");
            qb.push_bind(*at);
            qb.push(" OR (created_at = ");
            qb.push_bind(*at);
            qb.push(" AND id > ");
            qb.push_bind(id.as_str().to_owned());
            qb.push("))");
        }
        qb.push(" ORDER BY created_at, id LIMIT ");
        qb.push_bind(i64::from(q.limit));
        let rows: Vec<AdminUserRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn set_disabled(
        &self,
        target: &UserId,
        disabled_at: Option<i64>,
        audit: &AuditEntry,
    ) -> Result<Result<(), AdminRefusal>, StoreError> {
        let mut tx = self.write_tx().await?;
        DB::lock_admins(&mut tx).await?;
        let Some(standing) = Self::standing_on(&mut tx, target).await? else {
            return Ok(Err(AdminRefusal::NoSuchUser));
        };
        if disabled_at.is_some() && standing.admin && Self::would_orphan(&mut tx, target).await? {
            return Ok(Err(AdminRefusal::LastAdmin));
        }
        // Disabling keeps the first time (a repeat changes nothing); enabling clears it.
        sqlx::query("UPDATE users SET disabled_at = CASE WHEN $2 IS NULL THEN NULL ELSE COALESCE(disabled_at, $2) END WHERE id = $1")
            .bind(target.as_str())
            .bind(disabled_at)
            .execute(&mut *tx)
            .await?;
        if let Some(at) = disabled_at {
            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                .bind(target.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        audit_sql::insert::<DB>(&mut tx, &audit.clone().target("user", target)).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn set_admin(
        &self,
        email: &str,
        admin: bool,
        audit: AuditEntry,
    ) -> Result<Result<UserId, AdminRefusal>, StoreError> {
        let mut tx = self.write_tx().await?;
        DB::lock_admins(&mut tx).await?;
        let row: Option<(String,)> =
            sqlx::query_as("SELECT id FROM users WHERE email = $1").bind(email).fetch_optional(&mut *tx).await?;
        let Some((id,)) = row else {
            return Ok(Err(AdminRefusal::NoSuchUser));
        };
        let id = UserId::new(id);
        if !admin && Self::would_orphan(&mut tx, &id).await? {
            return Ok(Err(AdminRefusal::LastAdmin));
        }
        sqlx::query("UPDATE users SET is_admin = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(i64::from(admin))
            .execute(&mut *tx)
            .await?;
        audit_sql::insert::<DB>(&mut tx, &audit.target("user", &id)).await?;
        tx.commit().await?;
        Ok(Ok(id))
    }

    async fn system_counts(&self) -> Result<SystemCounts, StoreError> {
        let (users, admins, disabled_users): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*),
                    COALESCE(SUM(CASE WHEN is_admin = 1 THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN disabled_at IS NULL THEN 0 ELSE 1 END), 0)
             FROM users",
        )
        .fetch_one(&self.pool)
        .await?;
        let (workspaces,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM workspaces").fetch_one(&self.pool).await?;
        let (documents,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM documents").fetch_one(&self.pool).await?;
        let (database_bytes,): (i64,) = sqlx::query_as(DB::DATABASE_BYTES).fetch_one(&self.pool).await?;
        Ok(SystemCounts { users, admins, disabled_users, workspaces, documents, database_bytes })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefixes_escape_like_wildcards() {
        assert_eq!(super::prefix_pattern("Ann_%\\"), "ann\\_\\%\\\\%");
    }
}
