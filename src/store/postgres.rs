//! The production store: Postgres. Each group commit is one transaction; whether commits
//! wait for fsync is the server's `synchronous_commit` setting (on by default).

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use super::catalog_sql::DOC_COLUMNS;
use super::{Compaction, Store, StoreError, StoredDoc, fold};
use crate::ids::DocId;

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            // During an outage, fail a commit within seconds rather than hold updates.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }

    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Serialises changes to a workspace's membership: a row lock on the workspace, held
    /// to the end of the transaction; statements after it see what the previous holder
    /// committed.
    async fn lock_workspace(
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        ws: &crate::ids::WorkspaceId,
    ) -> Result<(), StoreError> {
        sqlx::query("SELECT id FROM workspaces WHERE id = $1 FOR UPDATE").bind(ws.as_str()).execute(&mut **tx).await?;
        Ok(())
    }

    /// The ranked full-text match with tsvector (GIN) (matches between the control
    /// characters of [`super::catalog::SNIPPET_START`] and `SNIPPET_STOP`): selects the document columns,
    /// `rank` and `snippet`, and ends in a WHERE clause the listing filters extend.
    fn search_query(terms: &str) -> Option<sqlx::QueryBuilder<sqlx::Postgres>> {
        let tsquery = super::catalog::pg_tsquery(terms)?;
        let mut qb = sqlx::QueryBuilder::new(format!(
            "SELECT {DOC_COLUMNS}, ts_rank(d.search, query)::float8 AS rank,
                 ts_headline('simple', CASE WHEN d.content_text = '' THEN d.title ELSE left(d.content_text, 100000) END,
                     query, 'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', MaxWords=24, MinWords=8') AS snippet
             FROM documents d, to_tsquery('simple', "
        ));
        qb.push_bind(tsquery);
        qb.push(") query WHERE d.search @@ query");
        Some(qb)
    }
}

super::accounts_sql::accounts_impl!(PgStore, sqlx::Postgres);
super::documents_sql::documents_impl!(PgStore, sqlx::Postgres);

#[async_trait]
impl Store for PgStore {
    async fn load_doc(&self, doc: &DocId) -> Result<StoredDoc, StoreError> {
        // One REPEATABLE READ snapshot, so a compaction committing in between can't make
        // us see the new snapshot without the rows or the old one without them.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
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

    async fn append_updates(&self, batch: &[(DocId, bytes::Bytes)]) -> Result<(), StoreError> {
        let docs: Vec<&str> = batch.iter().map(|(d, _)| d.as_str()).collect();
        let datas: Vec<&[u8]> = batch.iter().map(|(_, b)| b.as_ref()).collect();
        sqlx::query(
            "INSERT INTO doc_updates (doc_id, data)
             SELECT * FROM UNNEST($1::text[], $2::bytea[])",
        )
        .bind(&docs)
        .bind(&datas)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn compact(&self, doc: &DocId) -> Result<Compaction, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Serialise compactions of one document across nodes; appends are not blocked.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(doc.as_str())
            .execute(&mut *tx)
            .await?;
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
        sqlx::query(
            "INSERT INTO doc_snapshots (doc_id, data, upto_seq) VALUES ($1, $2, $3)
             ON CONFLICT (doc_id) DO UPDATE SET data = excluded.data,
                 upto_seq = excluded.upto_seq, updated_at = now()",
        )
        .bind(doc.as_str())
        .bind(&merged)
        .bind(upto)
        .execute(&mut *tx)
        .await?;
        let seqs: Vec<i64> = rows.iter().map(|(seq, _)| *seq).collect();
        // Delete exactly the rows read: a row committed by another node after our read
        // may carry a lower seq than `upto` (sequences are handed out before commit).
        let deleted = sqlx::query("DELETE FROM doc_updates WHERE seq = ANY($1)")
            .bind(&seqs)
            .execute(&mut *tx)
            .await?
            .rows_affected();
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
