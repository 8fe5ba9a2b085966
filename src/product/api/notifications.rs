//! `/api/v1/users/me/notifications`: what mentions and replies told the caller, and
//! marking it read. A notification names its document and quotes its message, so it is
//! listed only while the caller can still read that document.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiJson, ApiQuery};
use crate::identity::access::Caller;
use crate::ids::{CommentId, DocId, NotificationId};
use crate::state::AppState;
use crate::store::catalog::Role;
use crate::store::catalog::now_ms;

/// Most notifications listed (the newest).
const LIMIT: u32 = 100;
/// Most ids one call marks read.
const MAX_IDS: usize = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(mark_read))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: NotificationId,
    /// `mention`: you were mentioned; `reply`: someone replied in a thread you wrote in.
    pub kind: &'static str,
    pub document_id: DocId,
    pub document_title: String,
    /// The message that notified you.
    pub comment_id: CommentId,
    /// Its thread (the message itself when it starts one).
    pub thread_id: CommentId,
    pub author_name: String,
    /// The message's first 140 characters.
    pub excerpt: String,
    pub read: bool,
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    pub items: Vec<NotificationView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only those not read yet.
    pub unread: Option<bool>,
}

/// Either `ids` or `"all": true`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    #[serde(default)]
    pub ids: Option<Vec<NotificationId>>,
    #[serde(default)]
    pub all: bool,
}

/// Your notifications, newest first (at most 100).
#[utoipa::path(get, path = "/api/v1/users/me/notifications", tag = "notifications", security(("bearer" = [])),
    params(ListQuery), responses((status = 200, body = NotificationList), (status = 401, body = ErrorBody)))]
async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<axum::Json<NotificationList>, ApiError> {
    let user = caller.user()?;
    let found = app.store.notifications(user, q.unread.unwrap_or(false), LIMIT).await?;
    // One access check per document named (at most LIMIT): someone removed from a
    // document no longer sees its title or its messages here.
    let mut titles: HashMap<DocId, Option<String>> = HashMap::new();
    let mut items = Vec::with_capacity(found.len());
    for n in found {
        if !titles.contains_key(&n.document_id) {
            let title = match caller.document(&app, &n.document_id, Role::Viewer).await {
                Ok((doc, _)) => Some(doc.title),
                Err(e) if e.is_refusal() => None,
                Err(e) => return Err(e.into()),
            };
            titles.insert(n.document_id.clone(), title);
        }
        let Some(Some(title)) = titles.get(&n.document_id) else { continue };
        items.push(NotificationView {
            id: n.id,
            kind: n.kind.as_str(),
            document_title: title.clone(),
            document_id: n.document_id,
            comment_id: n.comment_id,
            thread_id: n.thread_id,
            author_name: n.author_name,
            excerpt: n.excerpt,
            read: n.read,
            created_at: n.created_at,
        });
    }
    Ok(axum::Json(NotificationList { items }))
}

/// Marks notifications read: the ids given (others' ids are ignored), or all of yours.
#[utoipa::path(post, path = "/api/v1/users/me/notifications/read", tag = "notifications",
    security(("bearer" = [])), request_body = MarkRead,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn mark_read(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<MarkRead>,
) -> Result<StatusCode, ApiError> {
    let user = caller.user()?;
    let ids = match (req.ids, req.all) {
        (Some(ids), false) if ids.len() <= MAX_IDS => Some(ids),
        (None, true) => None,
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidBody,
                format!("send `ids` (at most {MAX_IDS}) or `\"all\": true`"),
            ));
        }
    };
    app.store.mark_read(user, ids.as_deref(), now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
