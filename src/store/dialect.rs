//! What differs between the two SQL backends, as one trait that `sqlx::Sqlite` (in
//! `sqlite.rs`) and `sqlx::Postgres` (in `postgres.rs`) implement: how transactions start,
//! the locks, the log's batch append and delete, the clock and the ranked full-text match.
//! Everything else is written once, generic over the database, in [`super::sql`] and the
//! catalogue files: `$N` placeholders, `RETURNING`, `ON CONFLICT … excluded`, BIGINT times
//! and TEXT ids mean the same on both.
//!
//! Generic code names the backend as `DB: Dialect` plus the bounds sqlx needs to run
//! queries on it; Rust does not carry a trait's `where` clauses to its users, so each
//! generic `impl` block repeats them (see [`super::sql::SqlStore`]).

use std::future::Future;

use bytes::Bytes;
use sqlx::IntoArguments;
use sqlx::{Database, QueryBuilder};

use super::StoreError;
use crate::ids::{DocId, UserId, WorkspaceId};

pub trait Dialect: Database<Arguments: IntoArguments<Self>, QueryResult: RowsAffected> {
    /// Starts a transaction that writes.
    const BEGIN_WRITE: &'static str;
    /// Starts a transaction that reads one consistent snapshot of every table.
    const BEGIN_SNAPSHOT: &'static str;
    /// The current time, in the type of the document tables' `updated_at` columns.
    const NOW: &'static str;
    /// One row, one BIGINT: the database's size in bytes.
    const DATABASE_BYTES: &'static str;
    /// A query answering the changes feed's horizon: every change numbered below it is
    /// committed (or never will be), and any committing later is numbered at or above it.
    const CHANGE_HORIZON: &'static str;

    /// Serialises changes to a workspace's membership until the transaction ends;
    /// statements after it see what the previous holder committed.
    fn lock_workspace(
        tx: &mut Self::Connection,
        ws: &WorkspaceId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Serialises changes to one user's personal API tokens until the transaction ends,
    /// so a count taken after it holds until commit.
    fn lock_user(tx: &mut Self::Connection, user: &UserId) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Serialises changes to who is an instance admin (and to the first account, which
    /// becomes one) until the transaction ends.
    fn lock_admins(tx: &mut Self::Connection) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Serialises compactions of one document until the transaction ends; appends are
    /// not blocked.
    fn lock_compaction(tx: &mut Self::Connection, doc: &DocId) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether appends keep one connection between batches instead of taking one from
    /// the pool each time. Taking one and giving it back costs a ping each way (two round
    /// trips to SQLite's worker thread, more than the append itself); a pooled Postgres
    /// connection is checked by that ping, and one kept across a server restart would
    /// fail its next batch, so Postgres keeps taking them from the pool.
    const KEEP_APPEND_CONNECTION: bool;

    /// Appends updates (of any documents) in one transaction, in as few round trips as
    /// the backend allows: the hot path of every edit. `authors` (distinct) are recorded
    /// as contributors in the same transaction, and so is each document's content change
    /// for the changes feed (once per document per batch, durable with the rows). On
    /// `conn`, the writer's own connection, which it keeps between batches; after an error
    /// it is dropped, not reused.
    fn append(
        conn: &mut Self::Connection,
        batch: &[(DocId, Bytes)],
        authors: &[(DocId, UserId)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes exactly the log `rows` (seq, data) a compaction read and folded, in its
    /// transaction; answers how many went.
    fn delete_folded(
        tx: &mut Self::Connection,
        doc: &DocId,
        rows: &[(i64, Vec<u8>)],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The ranked full-text match (matches between the control characters of
    /// [`super::search::SNIPPET_START`] and `SNIPPET_STOP`): selects the document
    /// columns, `rank` (higher is better) and `snippet`, and ends in a WHERE clause the
    /// listing filters extend. `None` when the terms hold no word.
    fn search_query(terms: &str) -> Option<QueryBuilder<Self>>;
}

/// How many rows a statement changed: every backend's query result tells, under no
/// common sqlx trait.
pub trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

/// The documents of a batch, each once, in id order (so concurrent appends on different
/// nodes lock their feed rows in the same order and never deadlock).
pub(super) fn distinct_docs(batch: &[(DocId, Bytes)]) -> Vec<&str> {
    let mut docs: Vec<&str> = batch.iter().map(|(d, _)| d.as_str()).collect();
    docs.sort_unstable();
    docs.dedup();
    docs
}
