//! [`SqlStore`]: the one store over either SQL backend, and its document log (the
//! [`Store`] trait). Its SQL is written once; what differs per backend is the
//! [`Dialect`]. The catalogue half lives in `accounts_sql.rs` and `documents_sql.rs`.

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, Pool, Type};

use super::dialect::Dialect;
use super::{Compaction, Store, StoreError, StoredDoc, fold};
use crate::ids::{DocId, UserId};

/// The store over the database `DB` ([`super::SqliteStore`] or [`super::PgStore`]).
///
/// Generic code over it carries this bound set (a trait's `where` clauses do not carry
/// over to its users, so each generic `impl` repeats it):
///
/// ```text
/// DB: Dialect,
/// for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
/// for<'q> &'q str: Encode<'q, DB> + Type<DB>,
/// for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
/// …the value types the queries bind and read, and the row's column indexes.
/// ```
pub struct SqlStore<DB: Database> {
    pub(super) pool: Pool<DB>,
    /// The group-commit writer's connection, kept between batches where the backend says
    /// so ([`Dialect::KEEP_APPEND_CONNECTION`]; the writer is the only caller of appends,
    /// so the lock is never contended).
    pub(super) appender: tokio::sync::Mutex<Option<PoolConnection<DB>>>,
    /// Work beside the pool (SQLite's WAL checkpoints), stopped with the store.
    pub(super) background: Option<tokio::task::AbortHandle>,
    /// Deliveries one webhook may have waiting (`--webhook-max-pending`), read as each
    /// event is queued so a changed flag holds for hooks made before it.
    pub(super) webhook_max_pending: std::sync::atomic::AtomicI64,
}

impl<DB: Database> Drop for SqlStore<DB> {
    fn drop(&mut self) {
        if let Some(task) = &self.background {
            task.abort();
        }
    }
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
{
    /// A transaction that writes (on SQLite it takes the write lock up front, so it never
    /// fails with BUSY on upgrade).
    pub(super) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, DB>, StoreError> {
        Ok(self.pool.begin_with(DB::BEGIN_WRITE).await?)
    }

    pub(super) fn new(pool: Pool<DB>, background: Option<tokio::task::AbortHandle>) -> Self {
        SqlStore {
            pool,
            appender: tokio::sync::Mutex::new(None),
            background,
            webhook_max_pending: super::webhooks::DEFAULT_MAX_PENDING.into(),
        }
    }
}

#[async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> f64: Decode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<Vec<u8>>: Encode<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn load_doc(&self, doc: &DocId) -> Result<StoredDoc, StoreError> {
        // One snapshot, so a compaction committing in between can't make us see the new
        // snapshot without the rows or the old one without them.
        let mut tx = self.pool.begin_with(DB::BEGIN_SNAPSHOT).await?;
        let snapshot: Option<(Vec<u8>,)> = sqlx::query_as("SELECT data FROM doc_snapshots WHERE doc_id = $1")
            .bind(doc.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let updates: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT data FROM doc_updates WHERE doc_id = $1 ORDER BY seq")
            .bind(doc.as_str())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(StoredDoc { snapshot: snapshot.map(|(d,)| d), updates: updates.into_iter().map(|(d,)| d).collect() })
    }

    async fn append_updates_by(
        &self,
        batch: &[(DocId, bytes::Bytes)],
        authors: &[(DocId, UserId)],
    ) -> Result<(), StoreError> {
        if !DB::KEEP_APPEND_CONNECTION {
            let mut conn = self.pool.acquire().await?;
            return DB::append(&mut conn, batch, authors).await;
        }
        let mut held = self.appender.lock().await;
        let conn = match held.take() {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        let conn = held.insert(conn);
        let appended = DB::append(conn, batch, authors).await;
        if appended.is_err()
            && let Some(mut conn) = held.take()
        {
            // Whatever state the failure left it in (a transaction still open) goes with
            // it: closed, not handed back to the pool.
            conn.close_on_drop();
        }
        appended
    }

    async fn compact(&self, doc: &DocId) -> Result<Compaction, StoreError> {
        // A writing transaction: on SQLite it holds the write lock, so nothing appends
        // between the read and the delete; on Postgres rows may, and are left alone.
        let mut tx = self.write_tx().await?;
        DB::lock_compaction(&mut tx, doc).await?;
        let snapshot: Option<(Vec<u8>,)> = sqlx::query_as("SELECT data FROM doc_snapshots WHERE doc_id = $1")
            .bind(doc.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let rows: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, data FROM doc_updates WHERE doc_id = $1 ORDER BY seq")
                .bind(doc.as_str())
                .fetch_all(&mut *tx)
                .await?;
        let Some((merged, upto)) = fold(doc, snapshot.map(|(d,)| d), &rows)? else {
            return Ok(Compaction::default());
        };
        let upsert = format!(
            "INSERT INTO doc_snapshots (doc_id, data, upto_seq) VALUES ($1, $2, $3)
             ON CONFLICT (doc_id) DO UPDATE SET data = excluded.data,
                 upto_seq = excluded.upto_seq, updated_at = {}",
            DB::NOW
        );
        sqlx::query(sqlx::AssertSqlSafe(upsert)).bind(doc.as_str()).bind(&merged).bind(upto).execute(&mut *tx).await?;
        let deleted = DB::delete_folded(&mut tx, doc, &rows).await?;
        tx.commit().await?;
        Ok(Compaction { rows: deleted, snapshot_bytes: merged.len() })
    }

    async fn log_len(&self, doc: &DocId) -> Result<u64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM doc_updates WHERE doc_id = $1")
            .bind(doc.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
