//! The comment tables' rows as the database returns them, and their conversion to the
//! types of [`super::comments`]; the queries are in `comments_sql.rs`.

use sqlx::FromRow;

use super::StoreError;
use super::comments::{Comment, DocEvent, EventKind, Notification, NotificationKind, StoredAnchor};
use crate::ids::{CommentId, DocId, NotificationId, UserId, VersionId};

pub(super) const COMMENT_COLUMNS: &str = "c.id, c.document_id, c.thread_id, c.author_id, u.name AS author_name, c.body, \
     c.anchor_start, c.anchor_end, c.quote, t.resolved_at, c.created_at, c.edited_at";
pub(super) const COMMENT_FROM: &str =
    "FROM comments c JOIN users u ON u.id = c.author_id JOIN comments t ON t.id = c.thread_id";

#[derive(FromRow)]
pub(super) struct CommentRow {
    id: String,
    document_id: String,
    thread_id: String,
    author_id: String,
    author_name: String,
    body: String,
    anchor_start: Option<Vec<u8>>,
    anchor_end: Option<Vec<u8>>,
    quote: Option<String>,
    resolved_at: Option<i64>,
    created_at: i64,
    edited_at: Option<i64>,
}

fn doc_id(s: &str) -> Result<DocId, StoreError> {
    DocId::parse(s).ok_or_else(|| StoreError::Invalid(format!("document id `{s}`")))
}

impl TryFrom<CommentRow> for Comment {
    type Error = StoreError;

    fn try_from(r: CommentRow) -> Result<Self, StoreError> {
        let anchor = match (r.anchor_start, r.anchor_end) {
            (Some(start), Some(end)) => Some(StoredAnchor { start, end, quote: r.quote.unwrap_or_default() }),
            _ => None,
        };
        Ok(Comment {
            id: CommentId::new(r.id),
            document_id: doc_id(&r.document_id)?,
            thread_id: CommentId::new(r.thread_id),
            author_id: UserId::new(r.author_id),
            author_name: r.author_name,
            body: r.body,
            anchor,
            resolved_at: r.resolved_at,
            created_at: r.created_at,
            edited_at: r.edited_at,
        })
    }
}

#[derive(FromRow)]
pub(super) struct EventRow {
    document_id: String,
    seq: i64,
    kind: String,
    thread_id: Option<String>,
    comment_id: Option<String>,
    version_id: Option<String>,
    created_at: i64,
}

impl TryFrom<EventRow> for DocEvent {
    type Error = StoreError;

    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        let kind =
            EventKind::parse(&r.kind).ok_or_else(|| StoreError::Invalid(format!("unknown event kind {:?}", r.kind)))?;
        Ok(DocEvent {
            document_id: doc_id(&r.document_id)?,
            seq: r.seq as u64,
            kind,
            thread_id: r.thread_id.map(CommentId::new),
            comment_id: r.comment_id.map(CommentId::new),
            version_id: r.version_id.map(VersionId::new),
            created_at: r.created_at,
        })
    }
}

#[derive(FromRow)]
pub(super) struct NotificationRow {
    id: String,
    kind: String,
    document_id: String,
    comment_id: String,
    thread_id: String,
    author_name: String,
    excerpt: String,
    read_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<NotificationRow> for Notification {
    type Error = StoreError;

    fn try_from(r: NotificationRow) -> Result<Self, StoreError> {
        let kind = NotificationKind::parse(&r.kind)
            .ok_or_else(|| StoreError::Invalid(format!("unknown notification kind {:?}", r.kind)))?;
        Ok(Notification {
            id: NotificationId::new(r.id),
            kind,
            document_id: doc_id(&r.document_id)?,
            comment_id: CommentId::new(r.comment_id),
            thread_id: CommentId::new(r.thread_id),
            author_name: r.author_name,
            excerpt: r.excerpt,
            read: r.read_at.is_some(),
            created_at: r.created_at,
        })
    }
}
