//! `GET /api/v1/changes`: what changed among the documents the caller can see since a
//! cursor, for desktop and offline clients that keep a copy of their document list.
//! Each page names every document at most once, with its state now: `upserted` (it
//! exists and the caller can read it; in the trash when `deleted_at` is set), `deleted`
//! (gone for good) or `removed` (the caller lost access). A client starts without
//! `since`, stores `next`, and asks again from it; `more` says another page is waiting.
//!
//! Durable before visible: the feed is read from committed rows only, and never hands
//! out a cursor past a change that could still commit (see `store::changes`). Records of
//! deletions and lost access are kept for `--changes-retention`; a cursor older than
//! that is answered 410 `cursor_expired`, and the client lists everything again.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::ApiQuery;
use crate::identity::access::Caller;
use crate::ids::{DocId, UserId, WorkspaceId};
use crate::state::AppState;
use crate::store::changes::{Change, ChangeCursor, ChangeKind, ChangesRead};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(changes))
}

/// Changes per page unless asked otherwise, and at most.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;
/// Longest cursor accepted, in bytes (an instance, a number and a document id).
const MAX_CURSOR_BYTES: usize = 128;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// The `next` of the previous page; left out, every document the caller can see.
    pub since: Option<String>,
    /// Changes per page, 1 to 500 (default 100).
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentChangeKind {
    Upserted,
    Deleted,
    Removed,
}

/// One document's change; the document's fields are set for `upserted` only.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeView {
    #[schema(value_type = String)]
    pub document_id: DocId,
    pub kind: DocumentChangeKind,
    pub title: Option<String>,
    #[schema(value_type = Option<String>)]
    pub workspace_id: Option<WorkspaceId>,
    #[schema(value_type = Option<String>)]
    pub owner_id: Option<UserId>,
    pub tags: Option<Vec<String>>,
    pub is_template: Option<bool>,
    pub created_at: Option<i64>,
    /// When its metadata or content last changed.
    pub updated_at: Option<i64>,
    /// Set while it is in the trash.
    pub deleted_at: Option<i64>,
}

impl From<Change> for ChangeView {
    fn from(c: Change) -> Self {
        let empty = |kind| ChangeView {
            document_id: c.document_id.clone(),
            kind,
            title: None,
            workspace_id: None,
            owner_id: None,
            tags: None,
            is_template: None,
            created_at: None,
            updated_at: None,
            deleted_at: None,
        };
        match c.kind {
            ChangeKind::Deleted => empty(DocumentChangeKind::Deleted),
            ChangeKind::Removed => empty(DocumentChangeKind::Removed),
            ChangeKind::Upserted { document: d, updated_at } => ChangeView {
                title: Some(d.title),
                workspace_id: Some(d.workspace_id),
                owner_id: Some(d.owner_id),
                tags: Some(d.tags),
                is_template: Some(d.is_template),
                created_at: Some(d.created_at),
                updated_at: Some(updated_at),
                deleted_at: d.deleted_at,
                ..empty(DocumentChangeKind::Upserted)
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesView {
    pub changes: Vec<ChangeView>,
    /// The cursor to ask from next time.
    pub next: String,
    /// Another page is waiting: ask again from `next` now.
    pub more: bool,
}

/// A cursor as clients hold it: `INSTANCE.SEQ` or `INSTANCE.SEQ.DOC`.
fn encode(instance: &str, c: &ChangeCursor) -> String {
    match &c.after {
        Some(doc) => format!("{instance}.{}.{doc}", c.seq),
        None => format!("{instance}.{}", c.seq),
    }
}

/// The cursor a client sent, if it is one of this database's.
fn decode(instance: &str, raw: &str) -> Result<ChangeCursor, ApiError> {
    let invalid = |why: &str| ApiError::new(ErrorCode::InvalidCursor, format!("`since` {why}; start again without it"));
    if raw.len() > MAX_CURSOR_BYTES {
        return Err(invalid("is too long"));
    }
    let mut parts = raw.split('.');
    if parts.next() != Some(instance) {
        return Err(invalid("is not a cursor of this server"));
    }
    let seq =
        parts.next().and_then(|s| s.parse::<i64>().ok()).filter(|s| *s >= 0).ok_or_else(|| invalid("is malformed"))?;
    let after = match parts.next() {
        None => None,
        Some(doc) => Some(DocId::parse(doc).ok_or_else(|| invalid("is malformed"))?),
    };
    if parts.next().is_some() {
        return Err(invalid("is malformed"));
    }
    Ok(ChangeCursor { seq, after })
}

/// Documents created, changed (metadata or content), trashed, deleted, or whose access
/// the caller gained or lost, since `since`, oldest first.
#[utoipa::path(get, path = "/api/v1/changes", tag = "changes", security(("bearer" = [])), params(ChangesQuery),
    responses((status = 200, body = ChangesView), (status = 400, description = "invalid_cursor", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 410, description = "cursor_expired", body = ErrorBody)))]
async fn changes(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> Result<Json<ChangesView>, ApiError> {
    let user = caller.user()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, format!("`limit` must be 1 to {MAX_LIMIT}")));
    }
    let instance = app.store.change_instance().await?;
    let since = match &q.since {
        Some(raw) => decode(&instance, raw)?,
        None => ChangeCursor::start(),
    };
    let page = match app.store.changes_since(user, &since, limit).await? {
        ChangesRead::Page(page) => page,
        ChangesRead::Expired => {
            let message = "changes that old are no longer kept; list everything again (without `since`)";
            return Err(ApiError::new(ErrorCode::CursorExpired, message));
        }
        ChangesRead::Ahead => {
            return Err(ApiError::new(ErrorCode::InvalidCursor, "`since` is ahead of this server; start again"));
        }
    };
    Ok(Json(ChangesView {
        changes: page.changes.into_iter().map(Into::into).collect(),
        next: encode(&instance, &page.next),
        more: page.more,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_others() {
        let doc = DocId::parse("0123456789abcdef0123456789abcdef").unwrap();
        for c in [ChangeCursor { seq: 42, after: None }, ChangeCursor { seq: 7, after: Some(doc) }] {
            assert_eq!(decode("abc", &encode("abc", &c)).unwrap(), c);
        }
        for bad in ["xyz.42", "abc", "abc.-1", "abc.x", "abc.1.", "abc.1.2.3", ""] {
            assert_eq!(decode("abc", bad).unwrap_err().code, ErrorCode::InvalidCursor, "{bad}");
        }
        assert!(decode("abc", &format!("abc.{}", "9".repeat(200))).is_err());
    }
}
