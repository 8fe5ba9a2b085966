//! The embedded store: SQLite in WAL mode. `synchronous=NORMAL` survives a crash of the
//! process (the contract every mode keeps); `FULL` also survives power loss. Opening it,
//! its background checkpoints, and its [`Dialect`].

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

use super::StoreError;
use super::catalog_sql::DOC_COLUMNS;
use super::dialect::{Dialect, RowsAffected, distinct_docs};
use super::sql::SqlStore;
use crate::config::SqliteSync;
use crate::ids::{DocId, UserId, WorkspaceId};

/// The embedded store.
pub type SqliteStore = SqlStore<Sqlite>;

/// Rows a query's result may run ahead of its reader.
const ROW_BUFFER: usize = 4096;

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

impl SqlStore<Sqlite> {
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
            .pragma("wal_autocheckpoint", "0")
            // Rows come back from SQLite's worker thread through a bounded channel: with
            // sqlx's default of 50 the thread and the runtime take turns every few rows
            // (a room opening a log of 10,000 rows spent 90 ms in those hand-overs). It holds
            // for every query on the pool: at most this many rows wait ahead of their reader.
            .row_buffer_size(ROW_BUFFER);
        if !in_memory(url) {
            make_private(opts.get_filename()).map_err(sqlx::Error::Io)?;
        }
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let checkpointer = tokio::spawn(checkpoint(pool.clone()));
        Ok(SqlStore::new(pool, Some(checkpointer.abort_handle())))
    }
}

impl Dialect for Sqlite {
    /// Takes the write lock up front: no BUSY on the read-to-write upgrade, and every
    /// writer waits for the one before (which is what serialises membership changes and
    /// compactions here).
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    /// A read transaction in WAL mode sees one snapshot.
    const BEGIN_SNAPSHOT: &'static str = "BEGIN";
    const NOW: &'static str = "unixepoch()";
    const DATABASE_BYTES: &'static str = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
    /// The counter every write transaction bumps under the one write lock.
    const CHANGE_HORIZON: &'static str = "SELECT value + 1 FROM change_clock WHERE id = 1";
    /// In-process: a kept connection cannot go stale.
    const KEEP_APPEND_CONNECTION: bool = true;

    async fn lock_workspace(_tx: &mut SqliteConnection, _ws: &WorkspaceId) -> Result<(), StoreError> {
        Ok(())
    }

    async fn lock_user(_tx: &mut SqliteConnection, _user: &UserId) -> Result<(), StoreError> {
        Ok(())
    }

    async fn lock_admins(_tx: &mut SqliteConnection) -> Result<(), StoreError> {
        Ok(())
    }

    async fn lock_compaction(_tx: &mut SqliteConnection, _doc: &DocId) -> Result<(), StoreError> {
        Ok(())
    }

    /// One round trip to the connection's worker thread for the whole batch: the
    /// transaction, every row and every author in one multi-statement query (each
    /// statement is a hop between threads otherwise, and a commit of one small update is
    /// mostly hops). If any statement fails, the rest (the COMMIT) does not run: the
    /// caller then closes the connection, which rolls the transaction back.
    async fn append(
        conn: &mut SqliteConnection,
        batch: &[(DocId, Bytes)],
        authors: &[(DocId, UserId)],
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let changed = distinct_docs(batch);
        let sql = append_sql(batch.len(), changed.len(), authors.len());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (doc, data) in batch {
            query = query.bind(doc.as_str()).bind(data.as_ref());
        }
        // The feed's content marker: one number per batch, one row per document.
        query = query.bind(super::catalog::now_ms());
        for doc in changed {
            query = query.bind(doc);
        }
        for (doc, user) in authors {
            query = query.bind(doc.as_str()).bind(user.as_str());
        }
        query.execute(&mut *conn).await?;
        Ok(())
    }

    async fn delete_folded(tx: &mut SqliteConnection, doc: &DocId, rows: &[(i64, Vec<u8>)]) -> Result<u64, StoreError> {
        // The write lock was held since the rows were read: the rows up to the last one
        // read are exactly those read.
        let Some((upto, _)) = rows.last() else { return Ok(0) };
        let done = sqlx::query("DELETE FROM doc_updates WHERE doc_id = $1 AND seq <= $2")
            .bind(doc.as_str())
            .bind(upto)
            .execute(&mut *tx)
            .await?;
        Ok(done.rows_affected())
    }

    /// FTS5, ranked by bm25 with the title weighted over the body.
    fn search_query(terms: &str) -> Option<QueryBuilder<Sqlite>> {
        let matcher = super::search::fts5_query(terms)?;
        let mut qb = QueryBuilder::new(format!(
            "SELECT {DOC_COLUMNS}, -bm25(documents_fts, 0.0, 10.0, 1.0) AS rank,
                 snippet(documents_fts, -1, char(1), char(2), '…', 16) AS snippet
             FROM documents_fts JOIN documents d ON d.id = documents_fts.doc_id
             WHERE documents_fts MATCH "
        ));
        qb.push_bind(matcher);
        Some(qb)
    }
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// `BEGIN IMMEDIATE; INSERT … (rows); INSERT … (authors); COMMIT` with numbered
/// parameters: each row binds (doc, data), then each author (doc, user). Batches are
/// mostly one row and at most one author, so the prepared statements cached per text stay
/// few.
fn append_sql(rows: usize, changed: usize, authors: usize) -> String {
    let pairs = |n: usize, from: usize| {
        (0..n).map(|i| format!("(${}, ${})", from + 2 * i + 1, from + 2 * i + 2)).collect::<Vec<_>>().join(", ")
    };
    let now = 2 * rows + 1;
    let marks = (0..changed)
        .map(|i| format!("(${}, (SELECT value FROM change_clock WHERE id = 1), ${now})", now + 1 + i))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = format!("BEGIN IMMEDIATE; INSERT INTO doc_updates (doc_id, data) VALUES {};", pairs(rows, 0));
    sql.push_str(" UPDATE change_clock SET value = value + 1 WHERE id = 1;");
    sql.push_str(&format!(
        " INSERT INTO doc_content_changes (doc_id, seq, at) VALUES {marks}
          ON CONFLICT (doc_id) DO UPDATE SET seq = excluded.seq, at = excluded.at;"
    ));
    if authors > 0 {
        sql.push_str(&format!(
            " INSERT INTO doc_contributors (doc_id, user_id) VALUES {} ON CONFLICT DO NOTHING;",
            pairs(authors, now + changed)
        ));
    }
    sql.push_str(" COMMIT;");
    sql
}
