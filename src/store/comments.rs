//! Comments, notifications and each document's event stream: the rows and the
//! [`Comments`] trait the catalogue implements for both backends (`comments_sql.rs`).
//! Anchors are stored as the encoded Yjs relative positions the rooms make and resolve;
//! the store never looks inside them.

use async_trait::async_trait;

use super::StoreError;
use crate::ids::{CommentId, DocId, NotificationId, UserId, VersionId};

/// Stored events a document keeps for clients resuming their stream; older ones are
/// deleted as new ones come.
pub const EVENTS_KEPT: i64 = 1000;
/// Most threads one document holds.
pub const MAX_THREADS: i64 = 5000;
/// Most replies one thread holds.
pub const MAX_REPLIES: i64 = 500;
/// Notifications one user keeps (older ones are deleted as new ones come).
pub const NOTIFICATIONS_KEPT: i64 = 1000;
/// Most messages (threads and replies) one document holds.
pub const MAX_MESSAGES: i64 = 20_000;

/// One message: a thread's first (`thread_id == id`) or a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: CommentId,
    pub document_id: DocId,
    pub thread_id: CommentId,
    pub author_id: UserId,
    pub author_name: String,
    pub body: String,
    pub anchor: Option<StoredAnchor>,
    pub resolved_at: Option<i64>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
}

impl Comment {
    pub fn is_thread(&self) -> bool {
        self.id == self.thread_id
    }
}

/// Where a thread points: two encoded relative positions, and the text between them when
/// the thread was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnchor {
    pub start: Vec<u8>,
    pub end: Vec<u8>,
    pub quote: String,
}

/// A message to write. A thread has `thread_id == id`.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub id: CommentId,
    pub document_id: DocId,
    pub thread_id: CommentId,
    pub author_id: UserId,
    pub body: String,
    pub anchor: Option<StoredAnchor>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    Mention,
    Reply,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Mention => "mention",
            NotificationKind::Reply => "reply",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mention" => Some(NotificationKind::Mention),
            "reply" => Some(NotificationKind::Reply),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: NotificationId,
    pub kind: NotificationKind,
    pub document_id: DocId,
    pub comment_id: CommentId,
    /// The thread the message is in (the message itself when it starts one).
    pub thread_id: CommentId,
    /// Who wrote the message.
    pub author_name: String,
    /// The message's first [`NOTIFICATION_EXCERPT_CHARS`] characters.
    pub excerpt: String,
    pub read: bool,
    pub created_at: i64,
}

/// Characters of a message a notification quotes.
pub const NOTIFICATION_EXCERPT_CHARS: u32 = 140;

/// What a stored event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    CommentCreated,
    CommentUpdated,
    CommentDeleted,
    VersionCreated,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CommentCreated => "comment.created",
            EventKind::CommentUpdated => "comment.updated",
            EventKind::CommentDeleted => "comment.deleted",
            EventKind::VersionCreated => "version.created",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [EventKind::CommentCreated, EventKind::CommentUpdated, EventKind::CommentDeleted, EventKind::VersionCreated]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One entry of a document's event stream, numbered per document in commit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocEvent {
    pub document_id: DocId,
    pub seq: u64,
    pub kind: EventKind,
    pub thread_id: Option<CommentId>,
    pub comment_id: Option<CommentId>,
    pub version_id: Option<VersionId>,
    pub created_at: i64,
}

/// A change to a thread or message: what it was done to, and the event that says so.
#[derive(Debug, Clone)]
pub struct Changed {
    pub comment: Comment,
    pub event: DocEvent,
}

/// What a change asked of the store found.
#[derive(Debug)]
pub enum Outcome<T> {
    Done(T),
    /// No such comment on that document.
    Missing,
    /// The document already holds [`MAX_THREADS`] threads or [`MAX_MESSAGES`] messages, or
    /// the thread [`MAX_REPLIES`] replies.
    Full,
}

#[async_trait]
pub trait Comments: Send + Sync + 'static {
    /// Writes a message, the notifications it sends (`notify`: users and why) and its
    /// `comment.created` event, in one transaction. A reply to a missing thread is
    /// `Missing`; past the limits, `Full`.
    async fn create_comment(
        &self,
        c: &NewComment,
        notify: &[(UserId, NotificationKind)],
        now: i64,
    ) -> Result<Outcome<Changed>, StoreError>;

    /// Every message of the document's threads, in creation order; `resolved` keeps only
    /// the threads (and their replies) in that state.
    async fn comments(&self, doc: &DocId, resolved: Option<bool>) -> Result<Vec<Comment>, StoreError>;

    /// The messages of one thread of the document, in creation order (none: no such thread).
    async fn thread(&self, doc: &DocId, thread: &CommentId) -> Result<Vec<Comment>, StoreError>;

    /// One message (of that document).
    async fn comment(&self, doc: &DocId, id: &CommentId) -> Result<Option<Comment>, StoreError>;

    /// Replaces threads' stored positions with equivalent ones (`(thread, start, end)`)
    /// that name text still there; a thread deleted meanwhile is passed over.
    async fn move_anchors(&self, doc: &DocId, moved: &[(CommentId, Vec<u8>, Vec<u8>)]) -> Result<(), StoreError>;

    /// Everyone who wrote in the thread.
    async fn thread_authors(&self, doc: &DocId, thread: &CommentId) -> Result<Vec<UserId>, StoreError>;

    async fn edit_comment(
        &self,
        doc: &DocId,
        id: &CommentId,
        body: &str,
        now: i64,
    ) -> Result<Outcome<Changed>, StoreError>;

    /// Resolves or reopens a thread.
    async fn resolve_thread(
        &self,
        doc: &DocId,
        thread: &CommentId,
        by: &UserId,
        resolved: bool,
        now: i64,
    ) -> Result<Outcome<Changed>, StoreError>;

    /// Deletes a message; a thread's first message takes the whole thread with it.
    async fn delete_comment(&self, doc: &DocId, id: &CommentId, now: i64) -> Result<Outcome<Changed>, StoreError>;

    /// A user's notifications, newest first, at most `limit`.
    async fn notifications(&self, user: &UserId, unread: bool, limit: u32) -> Result<Vec<Notification>, StoreError>;

    /// Marks a user's notifications read: these ids (others' ids are ignored), or all.
    async fn mark_read(&self, user: &UserId, ids: Option<&[NotificationId]>, now: i64) -> Result<u64, StoreError>;

    /// The document's stored events after `after`, oldest first, at most `limit`.
    async fn events_after(&self, doc: &DocId, after: u64, limit: u32) -> Result<Vec<DocEvent>, StoreError>;

    /// The last event number the document gave, and the oldest it still keeps.
    async fn event_bounds(&self, doc: &DocId) -> Result<(u64, u64), StoreError>;
}
