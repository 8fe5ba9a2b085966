//! `/api/v1/documents/{id}/versions`: the document's history. Rooms save automatic
//! versions (on an interval while edited, and when they close after edits); editors save
//! named ones and restore any version, as a forward edit through the room (the minimal
//! diff `PUT …/content` makes), which saves a version of kind `restore`. Readers list,
//! read, render and diff versions. Each saved version is announced on the events stream
//! once stored.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::comments::Author;
use super::content::{etag_of, render_error};
use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiJson, ApiPath, ApiQuery, text_field};
use crate::identity::access::Caller;
use crate::ids::{DocId, UserId, VersionId};
use crate::product::diff;
use crate::state::AppState;
use crate::store::catalog::{Role, now_ms};
use crate::store::versions::{MAX_KEPT_VERSIONS, NewVersion, StoredVersion, VersionKind, VersionMeta};

/// Diffs computed at once (each is CPU-bound, off the runtime), and how long a request
/// waits for a turn before it is answered 503.
const DIFFS_AT_ONCE: usize = 2;
const DIFF_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
static DIFFS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(DIFFS_AT_ONCE);

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;
const MAX_NAME: usize = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one))
        .routes(routes!(render))
        .routes(routes!(diff_versions))
        .routes(routes!(restore))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub id: VersionId,
    /// `auto`, `named` or `restore`.
    pub kind: &'static str,
    pub name: Option<String>,
    pub created_at: i64,
    /// Who saved it (named and restore versions).
    pub created_by: Option<Author>,
    /// Size of its Markdown, in bytes.
    pub bytes: i64,
    /// Users whose edits landed since the previous version.
    pub contributors: Vec<Author>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionPage {
    pub items: Vec<VersionView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionContent {
    #[serde(flatten)]
    pub version: VersionView,
    /// Its Markdown.
    pub content: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNamedVersion {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Restored {
    /// The document's new ETag (as `GET …/content` answers it).
    pub etag: String,
    /// The version that records the restore.
    pub version: Option<VersionView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// Another version's id, or `current` (the document as it is now).
    pub against: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiffView {
    pub hunks: Vec<diff::Hunk>,
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::VersionNotFound, "no such version of this document")
}

/// Names for the users versions mention, read once each.
async fn authors(app: &AppState, metas: &[VersionMeta]) -> Result<HashMap<UserId, String>, ApiError> {
    let mut ids: Vec<UserId> =
        metas.iter().flat_map(|m| m.contributors.iter().chain(m.created_by.iter())).cloned().collect();
    ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    ids.dedup();
    let mut names = HashMap::new();
    for id in ids {
        let name = app.store.user(&id).await?.map_or_else(|| "(deleted user)".to_owned(), |u| u.name);
        names.insert(id, name);
    }
    Ok(names)
}

fn view(m: &VersionMeta, names: &HashMap<UserId, String>) -> VersionView {
    let author = |id: &UserId| Author { id: id.clone(), name: names.get(id).cloned().unwrap_or_default() };
    VersionView {
        id: m.id.clone(),
        kind: m.kind.as_str(),
        name: m.name.clone(),
        created_at: m.created_at,
        created_by: m.created_by.as_ref().map(author),
        bytes: m.bytes,
        contributors: m.contributors.iter().map(author).collect(),
    }
}

async fn one_view(app: &AppState, m: &VersionMeta) -> Result<VersionView, ApiError> {
    Ok(view(m, &authors(app, std::slice::from_ref(m)).await?))
}

fn parse_cursor(cursor: &str) -> Option<(i64, VersionId)> {
    let (at, id) = cursor.split_once('.')?;
    Some((at.parse().ok()?, VersionId::new(id)))
}

async fn stored(app: &AppState, doc: &DocId, id: &VersionId) -> Result<StoredVersion, ApiError> {
    app.store.version(doc, id).await?.ok_or_else(not_found)
}

/// Saves what the document holds now as a version of `kind`, and announces it.
async fn save(
    app: &AppState,
    doc: &DocId,
    kind: VersionKind,
    name: Option<String>,
    by: &UserId,
) -> Result<Option<VersionMeta>, ApiError> {
    let snapshot = app.rooms.snapshot(doc).await?;
    let new = NewVersion::new(doc, kind, name, Some(by.clone()), &snapshot.state, &snapshot.text);
    let created = app.store.create_version(&new, now_ms()).await?;
    Ok(created.map(|c| {
        app.bus.events_stored(doc, c.event.seq);
        c.version
    }))
}

/// The document's versions, newest first.
#[utoipa::path(get, path = "/api/v1/documents/{id}/versions", tag = "versions", security(("bearer" = [])),
    params(("id" = String, Path), ListQuery),
    responses((status = 200, body = VersionPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<axum::Json<VersionPage>, ApiError> {
    caller.document(&app, &id, Role::Viewer).await?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let before = match q.cursor.as_deref() {
        Some(c) => Some(parse_cursor(c).ok_or_else(|| ApiError::new(ErrorCode::InvalidCursor, "malformed cursor"))?),
        None => None,
    };
    let metas = app.store.versions(&id, limit + 1, before).await?;
    let more = metas.len() > limit as usize;
    let metas = &metas[..metas.len().min(limit as usize)];
    let names = authors(&app, metas).await?;
    let next_cursor = more.then(|| metas.last().map(|m| format!("{}.{}", m.created_at, m.id))).flatten();
    Ok(axum::Json(VersionPage { items: metas.iter().map(|m| view(m, &names)).collect(), next_cursor }))
}

/// Saves the document as it is now under a name.
#[utoipa::path(post, path = "/api/v1/documents/{id}/versions", tag = "versions", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = NewNamedVersion,
    responses((status = 201, body = VersionView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    ApiJson(req): ApiJson<NewNamedVersion>,
) -> Result<(StatusCode, axum::Json<VersionView>), ApiError> {
    caller.document(&app, &id, Role::Editor).await?;
    let user = caller.user()?.clone();
    let name = text_field("name", &req.name, MAX_NAME)?;
    let meta = save(&app, &id, VersionKind::Named, Some(name), &user)
        .await?
        .ok_or_else(|| ApiError::internal("a named version was not stored"))?;
    Ok((StatusCode::CREATED, axum::Json(one_view(&app, &meta).await?)))
}

/// One version, with its Markdown.
#[utoipa::path(get, path = "/api/v1/documents/{id}/versions/{version}", tag = "versions", security(("bearer" = [])),
    params(("id" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = VersionContent), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, version)): ApiPath<(DocId, VersionId)>,
) -> Result<axum::Json<VersionContent>, ApiError> {
    caller.document(&app, &id, Role::Viewer).await?;
    let v = stored(&app, &id, &version).await?;
    let content = v.text()?;
    Ok(axum::Json(VersionContent { version: one_view(&app, &v.meta).await?, content }))
}

/// One version as sanitised HTML (a fragment).
#[utoipa::path(get, path = "/api/v1/documents/{id}/versions/{version}/render", tag = "versions",
    security(("bearer" = [])), params(("id" = String, Path), ("version" = String, Path)),
    responses((status = 200, content((String = "text/html"))), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn render(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, version)): ApiPath<(DocId, VersionId)>,
) -> Result<Response, ApiError> {
    caller.document(&app, &id, Role::Viewer).await?;
    let text = stored(&app, &id, &version).await?.text()?;
    let html = app.renderer.render(text).await.map_err(render_error)?;
    Ok(([(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], html).into_response())
}

/// The changes from this version to `against` (another version, or `current`): a
/// unified diff (`text/x-diff`), or hunks with the changed words marked when asked with
/// `Accept: application/json`.
#[utoipa::path(get, path = "/api/v1/documents/{id}/versions/{version}/diff", tag = "versions",
    security(("bearer" = [])), params(("id" = String, Path), ("version" = String, Path), DiffQuery),
    responses((status = 200, content((String = "text/x-diff"), (DiffView = "application/json"))),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn diff_versions(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, version)): ApiPath<(DocId, VersionId)>,
    ApiQuery(q): ApiQuery<DiffQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.document(&app, &id, Role::Viewer).await?;
    let old = stored(&app, &id, &version).await?.text()?;
    let (new, new_name) = if q.against == "current" {
        (app.rooms.text(&id).await?.text, "current".to_owned())
    } else {
        let other = VersionId::new(q.against.clone());
        (stored(&app, &id, &other).await?.text()?, q.against.clone())
    };
    let json = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"));
    let old_name = version.to_string();
    let busy = || ApiError::new(ErrorCode::DiffBusy, "the server is busy diffing; retry shortly");
    let turn = tokio::time::timeout(DIFF_WAIT, DIFFS.acquire()).await.map_err(|_| busy())?.map_err(|_| busy())?;
    let diffed = tokio::task::spawn_blocking(move || {
        if json {
            serde_json::to_vec(&DiffView { hunks: diff::hunks(&old, &new) }).map(|b| (b, "application/json"))
        } else {
            Ok((diff::unified(&old, &new, &old_name, &new_name).into_bytes(), "text/x-diff; charset=utf-8"))
        }
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    drop(turn);
    Ok(([(CONTENT_TYPE, HeaderValue::from_static(diffed.1))], diffed.0).into_response())
}

/// Makes the document read as this version again: a forward edit through its room (the
/// minimal diff `PUT …/content` makes, so text typed meanwhile elsewhere survives and no
/// history is reset), then saved as a version of kind `restore`. The text it replaces is
/// saved first as an automatic version, so a restore never loses anything.
#[utoipa::path(post, path = "/api/v1/documents/{id}/versions/{version}/restore", tag = "versions",
    security(("bearer" = [])), params(("id" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = Restored), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn restore(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, version)): ApiPath<(DocId, VersionId)>,
) -> Result<axum::Json<Restored>, ApiError> {
    caller.document(&app, &id, Role::Editor).await?;
    let user = caller.user()?.clone();
    let v = stored(&app, &id, &version).await?;
    let text = v.text()?;
    if text.len() > app.config.api.max_document_size {
        return Err(super::content::too_large(&app));
    }
    // Refused before anything changes when the restore could not be recorded.
    if app.store.kept_versions(&id).await? >= MAX_KEPT_VERSIONS {
        return Err(ApiError::new(
            ErrorCode::TooManyVersions,
            format!("a document keeps at most {MAX_KEPT_VERSIONS} named versions"),
        ));
    }
    // What the restore replaces stays in the history: an automatic version of it first
    // (nothing is stored when it equals the last version).
    save(&app, &id, VersionKind::Auto, None, &user).await?;
    let state = app.rooms.replace_text(&id, &text, Some(&user)).await?;
    let label = match &v.meta.name {
        Some(name) => format!("Restored “{name}”"),
        None => format!("Restored version {}", v.meta.id),
    };
    let saved = save(&app, &id, VersionKind::Restore, Some(label), &user).await?;
    let version = match saved {
        Some(meta) => Some(one_view(&app, &meta).await?),
        None => None,
    };
    Ok(axum::Json(Restored { etag: etag_of(&state.state_vector), version }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(super::parse_cursor("17.abc").map(|(at, id)| (at, id.to_string())), Some((17, "abc".into())));
        assert!(super::parse_cursor("abc").is_none());
        assert!(super::parse_cursor("x.abc").is_none());
    }
}
