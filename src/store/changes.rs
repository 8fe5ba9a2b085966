//! The changes feed as stored: what changed for one user since a cursor (documents
//! created, edited, trashed, deleted, or that they gained or lost access to), read by
//! `api/changes.rs` for sync clients. The numbering differs per backend (see the 0010
//! migrations): one write lock orders SQLite's counter; on Postgres changes carry their
//! transaction's id and a reader hands out only those below the oldest transaction still
//! running, so a change that commits later never lands behind a cursor already given.

use async_trait::async_trait;

use super::StoreError;
use super::catalog::Document;
use crate::ids::{DocId, UserId};

/// A position in the feed: every change numbered below `seq` was seen, and those at `seq`
/// up to document `after` (all of them when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeCursor {
    pub seq: i64,
    pub after: Option<DocId>,
}

impl ChangeCursor {
    /// Before every change: a full listing.
    pub fn start() -> Self {
        ChangeCursor { seq: -1, after: None }
    }
}

/// What happened to one document, as the caller sees it now.
#[derive(Debug, Clone)]
pub enum ChangeKind {
    /// It exists and the caller can read it (live or in the trash): its current state,
    /// and when its metadata or content last changed.
    Upserted { document: Document, updated_at: i64 },
    /// It was deleted for good.
    Deleted,
    /// It exists but the caller can no longer read it.
    Removed,
}

#[derive(Debug, Clone)]
pub struct Change {
    pub document_id: DocId,
    pub kind: ChangeKind,
}

/// One page of the feed.
#[derive(Debug, Clone)]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    pub next: ChangeCursor,
    /// More changes wait past `next` right now.
    pub more: bool,
}

/// The answer to a read of the feed.
#[derive(Debug, Clone)]
pub enum ChangesRead {
    Page(ChangesPage),
    /// The cursor is older than the retention kept: the client lists everything again.
    Expired,
    /// The cursor is ahead of anything this database handed out.
    Ahead,
}

#[async_trait]
pub trait Changes: Send + Sync + 'static {
    /// The id that tells this database's cursors from another's.
    async fn change_instance(&self) -> Result<String, StoreError>;

    /// Up to `limit` changes visible to `user` after `since`, read in one snapshot; a
    /// document appears at most once per page.
    async fn changes_since(&self, user: &UserId, since: &ChangeCursor, limit: u32) -> Result<ChangesRead, StoreError>;

    /// Drops access records older than `before` (Unix ms); answers how many went.
    async fn prune_changes(&self, before: i64) -> Result<u64, StoreError>;
}
