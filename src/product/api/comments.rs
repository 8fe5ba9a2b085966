//! `/api/v1/documents/{id}/comments`: threads anchored in the text, replies, edits,
//! resolve and delete (who can be mentioned: `mentions.rs`). Commenters and above write (with an
//! account: links only read); viewers and links read. A thread's anchor is made and
//! resolved by the document's room (`realtime::room::anchors`): listing resolves every
//! anchor in one pass over the live text. Each change is stored with its event and then
//! announced, so event streams never show what is not durable.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::identity::access::{Caller, forbidden};
use crate::ids::{CommentId, DocId, UserId};
use crate::realtime::room::AnchorAt;
use crate::realtime::room::anchors::{Anchor, AnchorError, Resolved};
use crate::state::AppState;
use crate::store::catalog::{Role, now_ms};
use crate::store::comments::{
    Changed, Comment, MAX_MESSAGES, MAX_REPLIES, MAX_THREADS, NewComment, NotificationKind, Outcome, StoredAnchor,
};

/// Longest message, in characters.
pub const MAX_BODY_CHARS: usize = 10_000;
/// Most users one message may mention.
pub const MAX_MENTIONS: usize = 20;
/// How long a client's positions may wait for the edits they name to reach the room.
const UNKNOWN_POSITION_WAIT: Duration = Duration::from_secs(2);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(reply)).routes(routes!(patch, delete))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AnchorInput {
    /// A range of the current text, in UTF-16 code units.
    Range { index: u32, length: u32 },
    /// Yjs relative positions into the text `content`, each `Y.encodeRelativePosition`
    /// in base64: the start associated to the right, the end to the left.
    Encoded { start: String, end: String },
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewThread {
    pub body: String,
    /// Absent: a thread on the whole document.
    #[serde(default)]
    pub anchor: Option<AnchorInput>,
    #[serde(default)]
    pub mentions: Vec<UserId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReply {
    pub body: String,
    #[serde(default)]
    pub mentions: Vec<UserId>,
}

/// Exactly one of `body` (your own message) and `resolved` (a thread).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentPatch {
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub resolved: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Author {
    pub id: UserId,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnchorView {
    /// Where the range is now, in UTF-16 code units of the text.
    pub index: u32,
    pub length: u32,
    /// The text the range covered when the thread was started.
    pub quote: String,
    /// The range's text was deleted.
    pub orphaned: bool,
    /// The positions, for clients that follow them themselves (base64).
    pub start: String,
    pub end: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub id: CommentId,
    pub body: String,
    pub author: Author,
    pub created_at: i64,
    pub edited_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadView {
    pub id: CommentId,
    pub body: String,
    pub author: Author,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub resolved: bool,
    pub resolved_at: Option<i64>,
    /// Absent for a thread on the whole document.
    pub anchor: Option<AnchorView>,
    pub replies: Vec<CommentView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadList {
    pub items: Vec<ThreadView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only resolved (`true`) or open (`false`) threads.
    pub resolved: Option<bool>,
}

fn view(c: &Comment) -> CommentView {
    CommentView {
        id: c.id.clone(),
        body: c.body.clone(),
        author: Author { id: c.author_id.clone(), name: c.author_name.clone() },
        created_at: c.created_at,
        edited_at: c.edited_at,
    }
}

fn anchor_view(stored: &StoredAnchor, at: Resolved) -> AnchorView {
    AnchorView {
        index: at.index,
        length: at.length,
        quote: stored.quote.clone(),
        orphaned: at.orphaned,
        start: BASE64.encode(&stored.start),
        end: BASE64.encode(&stored.end),
    }
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::CommentNotFound, "no such comment on this document")
}

fn body_field(body: &str) -> Result<String, ApiError> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::new(ErrorCode::InvalidField, format!("`body` must be 1 to {MAX_BODY_CHARS} characters")));
    }
    Ok(body.to_owned())
}

impl From<AnchorError> for ApiError {
    fn from(e: AnchorError) -> Self {
        ApiError::new(ErrorCode::InvalidAnchor, e.to_string())
    }
}

/// The threads of the messages given (in creation order), with their anchors resolved
/// against the live document in one pass, ordered by position (whole-document threads
/// first), then by creation.
async fn threads(app: &AppState, doc: &DocId, messages: Vec<Comment>) -> Result<Vec<ThreadView>, ApiError> {
    let mut replies: HashMap<CommentId, Vec<CommentView>> = HashMap::new();
    let mut firsts = Vec::new();
    for c in messages {
        if c.is_thread() {
            firsts.push(c);
        } else {
            replies.entry(c.thread_id.clone()).or_default().push(view(&c));
        }
    }
    // The anchored threads, each with where its anchor is now (one pass over the text).
    let anchored: Vec<(CommentId, StoredAnchor)> =
        firsts.iter().filter_map(|t| Some((t.id.clone(), t.anchor.clone()?))).collect();
    let stored: Vec<(Vec<u8>, Vec<u8>)> = anchored.iter().map(|(_, a)| (a.start.clone(), a.end.clone())).collect();
    let resolved = if stored.is_empty() { Vec::new() } else { app.rooms.resolve(doc, stored).await? };
    let mut moved = Vec::new();
    let mut anchors: HashMap<CommentId, AnchorView> = HashMap::new();
    for ((id, mut stored), resolution) in anchored.into_iter().zip(resolved) {
        if let Some((start, end)) = resolution.moved {
            (stored.start, stored.end) = (start, end);
            moved.push((id.clone(), stored.start.clone(), stored.end.clone()));
        }
        anchors.insert(id, anchor_view(&stored, resolution.at));
    }
    // Positions that named deleted text are stored moved, so the next listing finds them
    // in the one pass; a failure here only costs the next listing that walk again.
    if !moved.is_empty()
        && let Err(e) = app.store.move_anchors(doc, &moved).await
    {
        tracing::warn!(%doc, error = %e, "storing moved comment anchors failed");
    }
    let mut items: Vec<ThreadView> = firsts
        .into_iter()
        .map(|t| {
            let anchor = anchors.remove(&t.id);
            let c = view(&t);
            ThreadView {
                replies: replies.remove(&t.id).unwrap_or_default(),
                id: c.id,
                body: c.body,
                author: c.author,
                created_at: c.created_at,
                edited_at: c.edited_at,
                resolved: t.resolved_at.is_some(),
                resolved_at: t.resolved_at,
                anchor,
            }
        })
        .collect();
    items.sort_by_key(|t| (t.anchor.as_ref().map(|a| a.index), t.created_at));
    Ok(items)
}

/// One thread as it is now.
async fn thread(app: &AppState, doc: &DocId, id: &CommentId) -> Result<ThreadView, ApiError> {
    let messages = app.store.thread(doc, id).await?;
    threads(app, doc, messages).await?.pop().ok_or_else(not_found)
}

/// Makes the anchor in the document's room. A client's positions may name text it typed
/// a moment ago that has not reached the room yet: those wait a little for it.
async fn make_anchor(app: &AppState, doc: &DocId, input: AnchorInput) -> Result<Anchor, ApiError> {
    let at = match input {
        AnchorInput::Range { index, length } => AnchorAt::Range { index, length },
        AnchorInput::Encoded { start, end } => {
            let decode = |s: &str| BASE64.decode(s).map_err(|_| ApiError::from(AnchorError::Malformed));
            AnchorAt::Encoded { start: decode(&start)?, end: decode(&end)? }
        }
    };
    let deadline = tokio::time::Instant::now() + UNKNOWN_POSITION_WAIT;
    loop {
        match app.rooms.anchor(doc, at.clone()).await? {
            Err(AnchorError::Unknown) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            answer => return Ok(answer?),
        }
    }
}

/// Who a new message notifies: the mentioned users, and for a reply everyone who wrote
/// in the thread; only those who can read the document, never the author.
async fn recipients(
    app: &AppState,
    doc: &DocId,
    author: &UserId,
    mentions: &[UserId],
    thread: Option<&CommentId>,
) -> Result<Vec<(UserId, NotificationKind)>, ApiError> {
    if mentions.len() > MAX_MENTIONS {
        return Err(ApiError::new(ErrorCode::InvalidField, format!("at most {MAX_MENTIONS} `mentions`")));
    }
    let mut wanted: Vec<(UserId, NotificationKind)> = Vec::new();
    for user in mentions {
        if user != author && !wanted.iter().any(|(u, _)| u == user) {
            wanted.push((user.clone(), NotificationKind::Mention));
        }
    }
    if let Some(thread) = thread {
        for user in app.store.thread_authors(doc, thread).await? {
            if user != *author && !wanted.iter().any(|(u, _)| *u == user) {
                wanted.push((user, NotificationKind::Reply));
            }
        }
    }
    let mut readers = Vec::with_capacity(wanted.len());
    for (user, kind) in wanted {
        let can_read = app.store.document_access(doc, &user).await?.is_some_and(|a| a.role().is_some());
        if can_read {
            readers.push((user, kind));
        }
    }
    Ok(readers)
}

/// Announces a stored change to every node's event streams.
fn announce(app: &AppState, changed: &Changed) {
    app.bus.events_stored(&changed.event.document_id, changed.event.seq);
}

fn done(outcome: Outcome<Changed>) -> Result<Changed, ApiError> {
    match outcome {
        Outcome::Done(changed) => Ok(changed),
        Outcome::Missing => Err(not_found()),
        Outcome::Full => Err(ApiError::new(
            ErrorCode::TooManyComments,
            format!(
                "a document holds at most {MAX_THREADS} threads and {MAX_MESSAGES} messages, a thread {MAX_REPLIES} replies"
            ),
        )),
    }
}

/// The document's threads, each with its replies and its anchor where the text is now.
#[utoipa::path(get, path = "/api/v1/documents/{id}/comments", tag = "comments", security(("bearer" = [])),
    params(("id" = String, Path), ListQuery),
    responses((status = 200, body = ThreadList), (status = 404, body = ErrorBody)))]
async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<axum::Json<ThreadList>, ApiError> {
    caller.document(&app, &id, Role::Viewer).await?;
    let messages = app.store.comments(&id, q.resolved).await?;
    Ok(axum::Json(ThreadList { items: threads(&app, &id, messages).await? }))
}

/// Starts a thread, on a range of the text or on the whole document.
#[utoipa::path(post, path = "/api/v1/documents/{id}/comments", tag = "comments", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = NewThread,
    responses((status = 201, body = ThreadView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    ApiJson(req): ApiJson<NewThread>,
) -> Result<(StatusCode, axum::Json<ThreadView>), ApiError> {
    caller.document(&app, &id, Role::Commenter).await?;
    let author = caller.user()?.clone();
    let body = body_field(&req.body)?;
    let notify = recipients(&app, &id, &author, &req.mentions, None).await?;
    let anchor = match req.anchor {
        Some(input) => Some(make_anchor(&app, &id, input).await?),
        None => None,
    };
    let at = anchor.as_ref().map(|a| Resolved { index: a.index, length: a.length, orphaned: false });
    let comment_id = CommentId::random();
    let new = NewComment {
        id: comment_id.clone(),
        document_id: id.clone(),
        thread_id: comment_id,
        author_id: author,
        body,
        anchor: anchor.map(|a| StoredAnchor { start: a.start, end: a.end, quote: a.quote }),
    };
    let changed = done(app.store.create_comment(&new, &notify, now_ms()).await?)?;
    announce(&app, &changed);
    let c = view(&changed.comment);
    let anchor = changed.comment.anchor.as_ref().zip(at).map(|(a, at)| anchor_view(a, at));
    let thread = ThreadView {
        id: c.id,
        body: c.body,
        author: c.author,
        created_at: c.created_at,
        edited_at: None,
        resolved: false,
        resolved_at: None,
        anchor,
        replies: Vec::new(),
    };
    Ok((StatusCode::CREATED, axum::Json(thread)))
}

/// Replies in a thread; everyone who wrote in it is notified.
#[utoipa::path(post, path = "/api/v1/documents/{id}/comments/{thread}/replies", tag = "comments",
    security(("bearer" = [])), params(("id" = String, Path), ("thread" = String, Path)), request_body = NewReply,
    responses((status = 201, body = CommentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn reply(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, thread)): ApiPath<(DocId, CommentId)>,
    ApiJson(req): ApiJson<NewReply>,
) -> Result<(StatusCode, axum::Json<CommentView>), ApiError> {
    caller.document(&app, &id, Role::Commenter).await?;
    let author = caller.user()?.clone();
    let body = body_field(&req.body)?;
    let notify = recipients(&app, &id, &author, &req.mentions, Some(&thread)).await?;
    let new = NewComment {
        id: CommentId::random(),
        document_id: id.clone(),
        thread_id: thread,
        author_id: author,
        body,
        anchor: None,
    };
    let changed = done(app.store.create_comment(&new, &notify, now_ms()).await?)?;
    announce(&app, &changed);
    Ok((StatusCode::CREATED, axum::Json(view(&changed.comment))))
}

/// Edits your own message (`body`), or resolves and reopens a thread (`resolved`).
/// Answers with the thread.
#[utoipa::path(patch, path = "/api/v1/documents/{id}/comments/{comment}", tag = "comments",
    security(("bearer" = [])), params(("id" = String, Path), ("comment" = String, Path)), request_body = CommentPatch,
    responses((status = 200, body = ThreadView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn patch(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, comment)): ApiPath<(DocId, CommentId)>,
    ApiJson(req): ApiJson<CommentPatch>,
) -> Result<axum::Json<ThreadView>, ApiError> {
    caller.document(&app, &id, Role::Commenter).await?;
    let user = caller.user()?.clone();
    let existing = app.store.comment(&id, &comment).await?.ok_or_else(not_found)?;
    let changed = match (req.body, req.resolved) {
        (Some(body), None) => {
            if existing.author_id != user {
                return Err(forbidden("being the message's author").into());
            }
            let body = body_field(&body)?;
            app.store.edit_comment(&id, &comment, &body, now_ms()).await?
        }
        (None, Some(resolved)) => {
            if !existing.is_thread() {
                return Err(ApiError::new(ErrorCode::InvalidField, "only a thread (its first message) resolves"));
            }
            app.store.resolve_thread(&id, &comment, &user, resolved, now_ms()).await?
        }
        _ => return Err(ApiError::new(ErrorCode::InvalidBody, "send exactly one of `body` and `resolved`")),
    };
    let changed = done(changed)?;
    announce(&app, &changed);
    Ok(axum::Json(thread(&app, &id, &changed.comment.thread_id).await?))
}

/// Deletes your own message, or any message as a workspace admin or owner; a thread's
/// first message takes the thread with it.
#[utoipa::path(delete, path = "/api/v1/documents/{id}/comments/{comment}", tag = "comments",
    security(("bearer" = [])), params(("id" = String, Path), ("comment" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, comment)): ApiPath<(DocId, CommentId)>,
) -> Result<StatusCode, ApiError> {
    let (_, role) = caller.document(&app, &id, Role::Commenter).await?;
    let user = caller.user()?.clone();
    let existing = app.store.comment(&id, &comment).await?.ok_or_else(not_found)?;
    if existing.author_id != user && role < Role::Admin {
        return Err(forbidden("being the message's author, or a workspace admin").into());
    }
    let changed = done(app.store.delete_comment(&id, &comment, now_ms()).await?)?;
    announce(&app, &changed);
    Ok(StatusCode::NO_CONTENT)
}
