//! The production store: Postgres. Each group commit is one transaction; whether commits
//! wait for fsync is the server's `synchronous_commit` setting (on by default). Opening
//! it, and its [`Dialect`].

use bytes::Bytes;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::StoreError;
use super::catalog_sql::DOC_COLUMNS;
use super::dialect::{Dialect, RowsAffected, distinct_docs};
use super::sql::SqlStore;
use crate::ids::{DocId, UserId, WorkspaceId};

/// The production store.
pub type PgStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            // During an outage, fail a commit within seconds rather than hold updates.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(SqlStore::new(pool, None))
    }
}

impl Dialect for Postgres {
    const BEGIN_WRITE: &'static str = "BEGIN";
    const BEGIN_SNAPSHOT: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    const NOW: &'static str = "now()";
    const DATABASE_BYTES: &'static str = "SELECT pg_database_size(current_database())";
    /// The oldest transaction still running, as of this snapshot.
    const CHANGE_HORIZON: &'static str = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint";
    const KEEP_APPEND_CONNECTION: bool = false;

    /// A row lock on the workspace.
    async fn lock_workspace(tx: &mut PgConnection, ws: &WorkspaceId) -> Result<(), StoreError> {
        sqlx::query("SELECT id FROM workspaces WHERE id = $1 FOR UPDATE").bind(ws.as_str()).execute(&mut *tx).await?;
        Ok(())
    }

    /// A row lock on the user.
    async fn lock_user(tx: &mut PgConnection, user: &UserId) -> Result<(), StoreError> {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE").bind(user.as_str()).execute(&mut *tx).await?;
        Ok(())
    }

    /// An advisory lock of its own (there is no row to lock before the first account).
    async fn lock_admins(tx: &mut PgConnection) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('tandem.instance_admins', 0))")
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// An advisory lock on the document's id, so compactions on different nodes take turns.
    async fn lock_compaction(tx: &mut PgConnection, doc: &DocId) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(doc.as_str())
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// One statement for the whole batch (one round trip, and one implicit transaction):
    /// the log rows, each document's content change for the feed, and the authors.
    async fn append(
        conn: &mut PgConnection,
        batch: &[(DocId, Bytes)],
        authors: &[(DocId, UserId)],
    ) -> Result<(), StoreError> {
        let docs: Vec<&str> = batch.iter().map(|(d, _)| d.as_str()).collect();
        let datas: Vec<&[u8]> = batch.iter().map(|(_, b)| b.as_ref()).collect();
        let changed = distinct_docs(batch);
        let author_docs: Vec<&str> = authors.iter().map(|(d, _)| d.as_str()).collect();
        let users: Vec<&str> = authors.iter().map(|(_, u)| u.as_str()).collect();
        sqlx::query(
            "WITH appended AS (
                 INSERT INTO doc_updates (doc_id, data) SELECT * FROM UNNEST($1::text[], $2::bytea[])
             ), changed AS (
                 INSERT INTO doc_content_changes (doc_id, seq, at)
                 SELECT id, tandem_change_seq(), $3 FROM UNNEST($4::text[]) AS id
                 ON CONFLICT (doc_id) DO UPDATE SET seq = excluded.seq, at = excluded.at
             )
             INSERT INTO doc_contributors (doc_id, user_id) SELECT * FROM UNNEST($5::text[], $6::text[])
             ON CONFLICT DO NOTHING",
        )
        .bind(&docs)
        .bind(&datas)
        .bind(super::catalog::now_ms())
        .bind(&changed)
        .bind(&author_docs)
        .bind(&users)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// By seq: a row committed by another node after our read may carry a lower seq than
    /// the last one read (sequences are handed out before commit).
    async fn delete_folded(tx: &mut PgConnection, _doc: &DocId, rows: &[(i64, Vec<u8>)]) -> Result<u64, StoreError> {
        let seqs: Vec<i64> = rows.iter().map(|(seq, _)| *seq).collect();
        let done = sqlx::query("DELETE FROM doc_updates WHERE seq = ANY($1)").bind(&seqs).execute(&mut *tx).await?;
        Ok(done.rows_affected())
    }

    /// A tsvector match (GIN index), ranked by `ts_rank`, the snippet by `ts_headline`.
    fn search_query(terms: &str) -> Option<QueryBuilder<Postgres>> {
        let tsquery = super::search::pg_tsquery(terms)?;
        let mut qb = QueryBuilder::new(format!(
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

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}
