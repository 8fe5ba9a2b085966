//! Durable document state behind one [`Store`] trait: SQLite (embedded default) and
//! Postgres. The room actor loads through it; the group-commit [`writer`] appends to it.
//! All SQL lives in this module: written once in [`sql::SqlStore`] and the catalogue
//! files, generic over the database, with what differs in each backend's `Dialect`.

mod accounts_sql;
pub mod admin;
mod admin_sql;
pub mod api_tokens;
mod api_tokens_sql;
pub mod attachments;
mod attachments_sql;
pub mod audit;
mod audit_sql;
pub mod blobs;
pub mod blobs_s3;
pub mod catalog;
mod catalog_sql;
pub mod changes;
mod changes_sql;
pub mod comments;
mod comments_rows;
mod comments_sql;
mod dialect;
mod documents_sql;
mod error;
mod postgres;
pub mod profiles;
mod profiles_sql;
pub mod search;
mod sql;
mod sqlite;
pub mod versions;
mod versions_sql;
pub mod webhooks;
mod webhooks_sql;
pub mod writer;

use std::sync::Arc;

use async_trait::async_trait;
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use crate::config::SqliteSync;
use crate::ids::{DocId, UserId};

pub use error::{Conflict, StoreError};
pub use postgres::PgStore;
pub use sql::SqlStore;
pub use sqlite::SqliteStore;

/// What the store holds for one document: the snapshot, then the log rows after it.
#[derive(Debug, Default)]
pub struct StoredDoc {
    pub snapshot: Option<Vec<u8>>,
    pub updates: Vec<Vec<u8>>,
}

impl StoredDoc {
    /// Every stored update, snapshot first, in log order.
    pub fn parts(&self) -> impl Iterator<Item = &[u8]> {
        self.snapshot.iter().chain(self.updates.iter()).map(Vec::as_slice)
    }
}

/// What a compaction did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    /// Log rows folded into the snapshot and deleted.
    pub rows: u64,
    /// Size of the snapshot written, in bytes.
    pub snapshot_bytes: usize,
}

#[async_trait]
/// Document state (this trait) and the catalogue around it ([`catalog::Catalog`], with
/// [`profiles::Profiles`] and the [`changes::Changes`] feed).
pub trait Store: catalog::Catalog + profiles::Profiles + changes::Changes {
    /// The snapshot and the log rows after it, read consistently.
    async fn load_doc(&self, doc: &DocId) -> Result<StoredDoc, StoreError>;

    /// Appends updates (of any documents) in ONE transaction: all or none are durable.
    async fn append_updates(&self, batch: &[(DocId, bytes::Bytes)]) -> Result<(), StoreError> {
        self.append_updates_by(batch, &[]).await
    }

    /// [`Store::append_updates`], recording in the same transaction which users wrote to
    /// which documents (the contributors the next version names).
    async fn append_updates_by(
        &self,
        batch: &[(DocId, bytes::Bytes)],
        authors: &[(DocId, UserId)],
    ) -> Result<(), StoreError>;

    /// Folds the document's log into its snapshot and deletes the rows folded, in one
    /// transaction that reads every row it deletes (rows appended meanwhile by anyone
    /// are either folded in or left in the log).
    async fn compact(&self, doc: &DocId) -> Result<Compaction, StoreError>;

    /// Number of log rows a document has after its snapshot.
    async fn log_len(&self, doc: &DocId) -> Result<u64, StoreError>;

    /// Cheap round trip, for readiness.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the store a URL names, applying its migrations.
pub async fn open(url: &str, sync: SqliteSync) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, sync).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.into()))
    }
}

/// Compacts and counts the outcome.
pub async fn compact_counted(store: &dyn Store, doc: &DocId) -> Result<Compaction, StoreError> {
    let result = store.compact(doc).await;
    let outcome = match &result {
        Ok(c) => {
            metrics::histogram!(crate::metrics::COMPACTED_ROWS).record(c.rows as f64);
            "ok"
        }
        Err(_) => "failed",
    };
    metrics::counter!(crate::metrics::COMPACTIONS, "result" => outcome).increment(1);
    result
}

/// What compaction writes: the snapshot folding `rows` (seq, update) into `snapshot`, and
/// the last seq folded; `None` when there are no rows.
pub(crate) fn fold(
    doc: &DocId,
    snapshot: Option<Vec<u8>>,
    rows: &[(i64, Vec<u8>)],
) -> Result<Option<(Vec<u8>, i64)>, StoreError> {
    let Some((upto, _)) = rows.last() else {
        return Ok(None);
    };
    let parts: Vec<&[u8]> = snapshot.iter().map(Vec::as_slice).chain(rows.iter().map(|(_, d)| d.as_slice())).collect();
    Ok(Some((merge_state(doc, &parts)?, *upto)))
}

/// Merges a snapshot and log rows into one update. Applying to a fresh doc drops deleted
/// content (a smaller snapshot); if anything is left waiting on missing dependencies the
/// plain merge is used instead, so no row's content is ever dropped.
pub(crate) fn merge_state(doc: &DocId, parts: &[&[u8]]) -> Result<Vec<u8>, StoreError> {
    let corrupt = || StoreError::Corrupt(doc.clone());
    let fresh = Doc::new();
    for part in parts {
        let update = Update::decode_v1(part).map_err(|_| corrupt())?;
        // One transaction per part: yrs 0.28 takes time and memory that grow with the
        // square of what one transaction integrates (500 rows of 16 KiB: 3.2 s and 2 GB in
        // one transaction, 45 ms and 45 MB one by one; tests/large_logs.rs).
        fresh.transact_mut().apply_update(update).map_err(|_| corrupt())?;
    }
    let txn = fresh.transact();
    if txn.has_missing_updates() {
        return yrs::merge_updates_v1(parts.iter().copied()).map_err(|_| corrupt());
    }
    Ok(txn.encode_state_as_update_v1(&StateVector::default()))
}

#[cfg(test)]
mod tests;
