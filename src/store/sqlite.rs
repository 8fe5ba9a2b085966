//! The embedded store: SQLite in WAL mode. `synchronous=NORMAL` survives a crash of the
//! process (the contract every mode keeps); `FULL` also survives power loss.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::catalog_sql::DOC_COLUMNS;
use super::{Compaction, Store, StoreError, StoredDoc, fold};
use crate::config::SqliteSync;
use crate::ids::DocId;

pub struct SqliteStore {
    pool: SqlitePool,
    checkpointer: tokio::task::JoinHandle<()>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpointer.abort();
    }
}

/// How often the WAL is copied back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Passive checkpoints on a connection of their own: they never block the writer.
async fn checkpoint(pool: SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Makes the database and its `-wal` and `-shm` files readable by this user only. SQLite
/// gives those two the main file's mode, so the main file is created 0600 (in a 0700
/// directory, if that is missing too) before SQLite opens it; files an older version
/// left readable to others are tightened.
fn make_private(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        crate::config::create_private_dir(dir)?;
    }
    let mut create = std::fs::OpenOptions::new();
    create.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
    create.open(path)?;
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(file = %Path::new(&file).display(), error = %e, "could not make the file private");
            }
            _ => {}
        }
    }
    Ok(())
}

impl SqliteStore {
    pub async fn open(url: &str, sync: SqliteSync) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match sync {
                SqliteSync::Normal => SqliteSynchronous::Normal,
                SqliteSync::Full => SqliteSynchronous::Full,
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Checkpoints run in the background (below), not inside whichever commit
            // happens to cross the WAL threshold: that commit would stall every room
            // waiting on it for the length of the checkpoint.
            .pragma("wal_autocheckpoint", "0");
        if !in_memory(url) {
            make_private(opts.get_filename()).map_err(sqlx::Error::Io)?;
        }
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let checkpointer = tokio::spawn(checkpoint(pool.clone()));
        Ok(SqliteStore { pool, checkpointer })
    }

    /// A transaction that writes takes the lock up front (no BUSY on upgrade).
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Serialises changes to a workspace's membership: nothing to do, `BEGIN IMMEDIATE`
    /// already makes every writer wait for the one before.
    async fn lock_workspace(
        _tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        _ws: &crate::ids::WorkspaceId,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// The ranked full-text match in FTS5 (matches between the control characters of
    /// [`super::catalog::SNIPPET_START`] and `SNIPPET_STOP`): selects the document columns, `rank` and
    /// `snippet`, and ends in a WHERE clause the listing filters extend.
    fn search_query(terms: &str) -> Option<sqlx::QueryBuilder<sqlx::Sqlite>> {
        let matcher = super::catalog::fts5_query(terms)?;
        let mut qb = sqlx::QueryBuilder::new(format!(
            "SELECT {DOC_COLUMNS}, -bm25(documents_fts, 0.0, 10.0, 1.0) AS rank,
                 snippet(documents_fts, -1, char(1), char(2), '…', 16) AS snippet
             FROM documents_fts JOIN documents d ON d.id = documents_fts.doc_id
             WHERE documents_fts MATCH "
        ));
        qb.push_bind(matcher);
        Some(qb)
    }
}

super::accounts_sql::accounts_impl!(SqliteStore, sqlx::Sqlite);
super::documents_sql::documents_impl!(SqliteStore, sqlx::Sqlite);

#[async_trait]
impl Store for SqliteStore {
    async fn load_doc(&self, doc: &DocId) -> Result<StoredDoc, StoreError> {
        let mut tx = self.pool.begin().await?;
        let snapshot: Option<(Vec<u8>,)> = sqlx::query_as("SELECT data FROM doc_snapshots WHERE doc_id = ?")
            .bind(doc.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let updates: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT data FROM doc_updates WHERE doc_id = ? ORDER BY seq")
            .bind(doc.as_str())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(StoredDoc { snapshot: snapshot.map(|(d,)| d), updates: updates.into_iter().map(|(d,)| d).collect() })
    }

    async fn append_updates(&self, batch: &[(DocId, bytes::Bytes)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for (doc, data) in batch {
            sqlx::query("INSERT INTO doc_updates (doc_id, data) VALUES (?, ?)")
                .bind(doc.as_str())
                .bind(data.as_ref())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn compact(&self, doc: &DocId) -> Result<Compaction, StoreError> {
        // IMMEDIATE takes the write lock first: nothing can append between the read and
        // the delete, and the deferred read-then-write upgrade can't fail with BUSY.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let snapshot: Option<(Vec<u8>,)> = sqlx::query_as("SELECT data FROM doc_snapshots WHERE doc_id = ?")
            .bind(doc.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let rows: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, data FROM doc_updates WHERE doc_id = ? ORDER BY seq")
                .bind(doc.as_str())
                .fetch_all(&mut *tx)
                .await?;
        let Some((merged, upto)) = fold(doc, snapshot.map(|(d,)| d), &rows)? else {
            return Ok(Compaction::default());
        };
        sqlx::query(
            "INSERT INTO doc_snapshots (doc_id, data, upto_seq) VALUES (?, ?, ?)
             ON CONFLICT (doc_id) DO UPDATE SET data = excluded.data,
                 upto_seq = excluded.upto_seq, updated_at = unixepoch()",
        )
        .bind(doc.as_str())
        .bind(&merged)
        .bind(upto)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM doc_updates WHERE doc_id = ? AND seq <= ?")
            .bind(doc.as_str())
            .bind(upto)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Compaction { rows: deleted, snapshot_bytes: merged.len() })
    }

    async fn log_len(&self, doc: &DocId) -> Result<u64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM doc_updates WHERE doc_id = ?")
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
