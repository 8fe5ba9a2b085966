//! `GET /api/v1/documents/{id}/mentionable`: who a comment on the document can mention,
//! for autocomplete: the workspace's members and those the document is shared with, by
//! name only. For those who may comment.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::comments::Author;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use crate::identity::access::Caller;
use crate::ids::DocId;
use crate::state::AppState;
use crate::store::catalog::Role;

/// Most users `mentionable` answers with.
const MENTIONABLE_LIMIT: usize = 20;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(mentionable))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MentionQuery {
    /// Names starting with this (any case).
    pub q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MentionList {
    pub items: Vec<Author>,
}

/// People who can read the document, for mentioning them: the workspace's members and
/// those it is shared with (names only).
#[utoipa::path(get, path = "/api/v1/documents/{id}/mentionable", tag = "comments", security(("bearer" = [])),
    params(("id" = String, Path), MentionQuery),
    responses((status = 200, body = MentionList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn mentionable(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    ApiQuery(q): ApiQuery<MentionQuery>,
) -> Result<axum::Json<MentionList>, ApiError> {
    let (doc, _) = caller.document(&app, &id, Role::Commenter).await?;
    caller.user()?;
    let prefix = q.q.unwrap_or_default().trim().to_lowercase();
    let mut people = app.store.members(&doc.workspace_id).await?;
    people.extend(app.store.shares(&id).await?);
    let mut items: Vec<Author> = Vec::new();
    for m in people {
        let known = items.iter().any(|a| a.id == m.user.id);
        if !known && m.user.name.to_lowercase().starts_with(&prefix) {
            items.push(Author { id: m.user.id, name: m.user.name });
        }
    }
    items.sort_by_key(|a| a.name.to_lowercase());
    items.truncate(MENTIONABLE_LIMIT);
    Ok(axum::Json(MentionList { items }))
}
