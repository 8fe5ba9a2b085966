//! [`Comments`] for [`SqlStore`]: threads, replies, notifications and the per-document
//! event stream, written once for both backends. Every change and the event that
//! announces it commit together; the event's number comes from the document's row, which
//! the writer holds until it commits, so a document's events become visible in order.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, Type};

use super::StoreError;
use super::comments::{
    Changed, Comment, Comments, DocEvent, EVENTS_KEPT, EventKind, MAX_MESSAGES, MAX_REPLIES, MAX_THREADS,
    NOTIFICATION_EXCERPT_CHARS, NOTIFICATIONS_KEPT, NewComment, Notification, NotificationKind, Outcome,
};
use super::comments_rows::{COMMENT_COLUMNS, COMMENT_FROM, CommentRow, EventRow, NotificationRow};
use super::dialect::Dialect;
use super::sql::SqlStore;
use crate::ids::{CommentId, DocId, NotificationId, UserId, VersionId};

impl<DB> SqlStore<DB>
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
    /// Takes the document's next event number and writes the event about `comment`, in
    /// the caller's transaction.
    async fn comment_event(
        tx: &mut DB::Connection,
        doc: &DocId,
        kind: EventKind,
        comment: &Comment,
        (now, max_pending): (i64, i64),
    ) -> Result<DocEvent, StoreError> {
        let subject = (Some(comment.thread_id.clone()), Some(comment.id.clone()), None);
        Self::next_event(tx, doc, kind, subject, (now, max_pending)).await
    }

    /// Takes the document's next event number and writes the event (about a thread and
    /// message, or a version), in the caller's transaction; drops events older than the
    /// last [`EVENTS_KEPT`].
    pub(super) async fn next_event(
        tx: &mut DB::Connection,
        doc: &DocId,
        kind: EventKind,
        (thread_id, comment_id, version_id): (Option<CommentId>, Option<CommentId>, Option<VersionId>),
        (now, max_pending): (i64, i64),
    ) -> Result<DocEvent, StoreError> {
        let (seq, ws): (i64, String) = sqlx::query_as(
            "UPDATE documents SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq, workspace_id",
        )
        .bind(doc.as_str())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO document_events (document_id, seq, kind, thread_id, comment_id, version_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(doc.as_str())
        .bind(seq)
        .bind(kind.as_str())
        .bind(thread_id.as_ref().map(CommentId::as_str))
        .bind(comment_id.as_ref().map(CommentId::as_str))
        .bind(version_id.as_ref().map(VersionId::as_str))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // New comments and versions reach the workspace's webhooks, queued in this
        // transaction (edits and deletions of comments stay in the document's stream).
        let hooked = match kind {
            EventKind::CommentCreated => {
                Some(serde_json::json!({"document_id": doc, "thread_id": thread_id, "comment_id": comment_id}))
            }
            EventKind::VersionCreated => Some(serde_json::json!({"document_id": doc, "version_id": version_id})),
            EventKind::CommentUpdated | EventKind::CommentDeleted => None,
        };
        if let Some(data) = hooked {
            Self::enqueue_in(tx, &ws, kind.as_str(), &data, (now, max_pending)).await?;
        }
        sqlx::query("DELETE FROM document_events WHERE document_id = $1 AND seq <= $2")
            .bind(doc.as_str())
            .bind(seq - EVENTS_KEPT)
            .execute(&mut *tx)
            .await?;
        Ok(DocEvent {
            document_id: doc.clone(),
            seq: seq as u64,
            kind,
            thread_id,
            comment_id,
            version_id,
            created_at: now,
        })
    }

    async fn comment_in(tx: &mut DB::Connection, doc: &DocId, id: &str) -> Result<Option<Comment>, StoreError> {
        let sql = format!("SELECT {COMMENT_COLUMNS} {COMMENT_FROM} WHERE c.id = $1 AND c.document_id = $2");
        let row: Option<CommentRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(doc.as_str()).fetch_optional(&mut *tx).await?;
        row.map(Comment::try_from).transpose()
    }

    /// Runs `change` on one comment of the document in a write transaction, then reads it
    /// back and writes `kind`'s event; `Missing` when no such comment.
    async fn change_comment<F>(
        &self,
        doc: &DocId,
        id: &CommentId,
        kind: EventKind,
        now: i64,
        change: F,
    ) -> Result<Outcome<Changed>, StoreError>
    where
        F: for<'t> FnOnce(
                &'t mut DB::Connection,
                Comment,
            ) -> futures_util::future::BoxFuture<'t, Result<(), StoreError>>
            + Send,
    {
        let mut tx = self.write_tx().await?;
        let Some(before) = Self::comment_in(&mut tx, doc, id.as_str()).await? else {
            return Ok(Outcome::Missing);
        };
        change(&mut tx, before.clone()).await?;
        let comment = Self::comment_in(&mut tx, doc, id.as_str()).await?.unwrap_or(before);
        let event = Self::comment_event(&mut tx, doc, kind, &comment, (now, self.max_pending())).await?;
        tx.commit().await?;
        Ok(Outcome::Done(Changed { comment, event }))
    }
}

#[async_trait]
impl<DB> Comments for SqlStore<DB>
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
    async fn create_comment(
        &self,
        c: &NewComment,
        notify: &[(UserId, NotificationKind)],
        now: i64,
    ) -> Result<Outcome<Changed>, StoreError> {
        let mut tx = self.write_tx().await?;
        // The document's row first (as the event number is): writers to one document take
        // turns, so the thread checked below cannot go before this one commits, and the
        // counts hold under writers racing past the limits.
        sqlx::query("UPDATE documents SET event_seq = event_seq WHERE id = $1")
            .bind(c.document_id.as_str())
            .execute(&mut *tx)
            .await?;
        if c.thread_id != c.id {
            let thread: Option<(String,)> =
                sqlx::query_as("SELECT id FROM comments WHERE id = $1 AND document_id = $2 AND thread_id = id")
                    .bind(c.thread_id.as_str())
                    .bind(c.document_id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if thread.is_none() {
                return Ok(Outcome::Missing);
            }
        }
        let (all,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM comments WHERE document_id = $1")
            .bind(c.document_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if all >= MAX_MESSAGES {
            return Ok(Outcome::Full);
        }
        let (n, max): ((i64,), i64) = if c.thread_id == c.id {
            let q = sqlx::query_as("SELECT COUNT(*) FROM comments WHERE document_id = $1 AND thread_id = id");
            (q.bind(c.document_id.as_str()).fetch_one(&mut *tx).await?, MAX_THREADS)
        } else {
            let q = sqlx::query_as(
                "SELECT COUNT(*) FROM comments WHERE document_id = $1 AND thread_id = $2 AND id <> thread_id",
            );
            (q.bind(c.document_id.as_str()).bind(c.thread_id.as_str()).fetch_one(&mut *tx).await?, MAX_REPLIES)
        };
        let n = n.0;
        if n >= max {
            return Ok(Outcome::Full);
        }
        let anchor = c.anchor.as_ref();
        sqlx::query(
            "INSERT INTO comments (id, document_id, thread_id, author_id, body, anchor_start, anchor_end, quote, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(c.id.as_str())
        .bind(c.document_id.as_str())
        .bind(c.thread_id.as_str())
        .bind(c.author_id.as_str())
        .bind(c.body.as_str())
        .bind(anchor.map(|a| a.start.clone()))
        .bind(anchor.map(|a| a.end.clone()))
        .bind(anchor.map(|a| a.quote.as_str()))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for (user, kind) in notify {
            sqlx::query(
                "INSERT INTO notifications (id, user_id, kind, document_id, comment_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(NotificationId::random().as_str())
            .bind(user.as_str())
            .bind(kind.as_str())
            .bind(c.document_id.as_str())
            .bind(c.id.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // A user keeps their newest notifications only.
            sqlx::query(
                "DELETE FROM notifications WHERE user_id = $1 AND id NOT IN
                 (SELECT id FROM notifications WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2)",
            )
            .bind(user.as_str())
            .bind(NOTIFICATIONS_KEPT)
            .execute(&mut *tx)
            .await?;
        }
        let comment = Self::comment_in(&mut tx, &c.document_id, c.id.as_str())
            .await?
            .ok_or_else(|| StoreError::Invalid("a comment written in this transaction is missing".into()))?;
        let at = (now, self.max_pending());
        let event = Self::comment_event(&mut tx, &c.document_id, EventKind::CommentCreated, &comment, at).await?;
        tx.commit().await?;
        Ok(Outcome::Done(Changed { comment, event }))
    }

    async fn comments(&self, doc: &DocId, resolved: Option<bool>) -> Result<Vec<Comment>, StoreError> {
        let filter = match resolved {
            None => "",
            Some(true) => " AND t.resolved_at IS NOT NULL",
            Some(false) => " AND t.resolved_at IS NULL",
        };
        let sql = format!(
            "SELECT {COMMENT_COLUMNS} {COMMENT_FROM} WHERE c.document_id = $1{filter} ORDER BY c.created_at, c.id"
        );
        let rows: Vec<CommentRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(doc.as_str()).fetch_all(&self.pool).await?;
        rows.into_iter().map(Comment::try_from).collect()
    }

    async fn thread(&self, doc: &DocId, thread: &CommentId) -> Result<Vec<Comment>, StoreError> {
        let sql = format!(
            "SELECT {COMMENT_COLUMNS} {COMMENT_FROM} WHERE c.document_id = $1 AND c.thread_id = $2
             ORDER BY c.created_at, c.id"
        );
        let rows: Vec<CommentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(doc.as_str())
            .bind(thread.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(Comment::try_from).collect()
    }

    async fn comment(&self, doc: &DocId, id: &CommentId) -> Result<Option<Comment>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::comment_in(&mut conn, doc, id.as_str()).await
    }

    async fn move_anchors(&self, doc: &DocId, moved: &[(CommentId, Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        for (id, start, end) in moved {
            sqlx::query(
                "UPDATE comments SET anchor_start = $1, anchor_end = $2
                 WHERE id = $3 AND document_id = $4 AND anchor_start IS NOT NULL",
            )
            .bind(start.clone())
            .bind(end.clone())
            .bind(id.as_str())
            .bind(doc.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn thread_authors(&self, doc: &DocId, thread: &CommentId) -> Result<Vec<UserId>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT author_id FROM comments WHERE document_id = $1 AND thread_id = $2")
                .bind(doc.as_str())
                .bind(thread.as_str())
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(id,)| UserId::new(id)).collect())
    }

    async fn edit_comment(
        &self,
        doc: &DocId,
        id: &CommentId,
        body: &str,
        now: i64,
    ) -> Result<Outcome<Changed>, StoreError> {
        let body = body.to_owned();
        self.change_comment(doc, id, EventKind::CommentUpdated, now, move |tx, c| {
            Box::pin(async move {
                sqlx::query("UPDATE comments SET body = $1, edited_at = $2 WHERE id = $3")
                    .bind(body)
                    .bind(now)
                    .bind(c.id.as_str())
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    async fn resolve_thread(
        &self,
        doc: &DocId,
        thread: &CommentId,
        by: &UserId,
        resolved: bool,
        now: i64,
    ) -> Result<Outcome<Changed>, StoreError> {
        // Only a thread resolves: anything else is missing, and writes no event.
        if !self.comment(doc, thread).await?.is_some_and(|c| c.is_thread()) {
            return Ok(Outcome::Missing);
        }
        let by = by.clone();
        let outcome = self
            .change_comment(doc, thread, EventKind::CommentUpdated, now, move |tx, c| {
                Box::pin(async move {
                    if !c.is_thread() {
                        return Ok(());
                    }
                    let (at, who) = if resolved { (Some(now), Some(by.as_str().to_owned())) } else { (None, None) };
                    sqlx::query("UPDATE comments SET resolved_at = $1, resolved_by = $2 WHERE id = $3")
                        .bind(at)
                        .bind(who)
                        .bind(c.id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    Ok(())
                })
            })
            .await?;
        Ok(match outcome {
            Outcome::Done(changed) if !changed.comment.is_thread() => Outcome::Missing,
            other => other,
        })
    }

    async fn delete_comment(&self, doc: &DocId, id: &CommentId, now: i64) -> Result<Outcome<Changed>, StoreError> {
        self.change_comment(doc, id, EventKind::CommentDeleted, now, |tx, c| {
            Box::pin(async move {
                let (sql, key) = if c.is_thread() {
                    ("DELETE FROM comments WHERE document_id = $1 AND thread_id = $2", c.thread_id.as_str().to_owned())
                } else {
                    ("DELETE FROM comments WHERE document_id = $1 AND id = $2", c.id.as_str().to_owned())
                };
                sqlx::query(sql).bind(c.document_id.as_str()).bind(key).execute(&mut *tx).await?;
                Ok(())
            })
        })
        .await
    }

    async fn notifications(&self, user: &UserId, unread: bool, limit: u32) -> Result<Vec<Notification>, StoreError> {
        // A notification goes with its message (deleting one deletes the other), so the
        // joins always find the message and its author.
        let sql = format!(
            "SELECT n.id, n.kind, n.document_id, n.comment_id, c.thread_id, u.name AS author_name,
                    SUBSTR(c.body, 1, {NOTIFICATION_EXCERPT_CHARS}) AS excerpt, n.read_at, n.created_at
             FROM notifications n JOIN comments c ON c.id = n.comment_id JOIN users u ON u.id = c.author_id
             WHERE n.user_id = $1{} ORDER BY n.created_at DESC, n.id DESC LIMIT $2",
            if unread { " AND n.read_at IS NULL" } else { "" }
        );
        let rows: Vec<NotificationRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(Notification::try_from).collect()
    }

    async fn mark_read(&self, user: &UserId, ids: Option<&[NotificationId]>, now: i64) -> Result<u64, StoreError> {
        let mut qb = sqlx::QueryBuilder::<DB>::new("UPDATE notifications SET read_at = ");
        qb.push_bind(now);
        qb.push(" WHERE read_at IS NULL AND user_id = ");
        qb.push_bind(user.as_str().to_owned());
        if let Some(ids) = ids {
            if ids.is_empty() {
                return Ok(0);
            }
            qb.push(" AND id IN (");
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(id.as_str().to_owned());
            }
            qb.push(")");
        }
        let done = qb.build().execute(&self.pool).await?;
        Ok(super::dialect::RowsAffected::rows_affected(&done))
    }

    async fn events_after(&self, doc: &DocId, after: u64, limit: u32) -> Result<Vec<DocEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT document_id, seq, kind, thread_id, comment_id, version_id, created_at FROM document_events
             WHERE document_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(doc.as_str())
        .bind(after.min(i64::MAX as u64) as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(DocEvent::try_from).collect()
    }

    async fn event_bounds(&self, doc: &DocId) -> Result<(u64, u64), StoreError> {
        let last: Option<(i64,)> = sqlx::query_as("SELECT event_seq FROM documents WHERE id = $1")
            .bind(doc.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let (oldest,): (Option<i64>,) = sqlx::query_as("SELECT MIN(seq) FROM document_events WHERE document_id = $1")
            .bind(doc.as_str())
            .fetch_one(&self.pool)
            .await?;
        let last = last.map_or(0, |(n,)| n as u64);
        Ok((last, oldest.map_or(last + 1, |n| n as u64)))
    }
}
