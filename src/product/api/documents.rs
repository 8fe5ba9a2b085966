//! `/api/v1/documents`: create (with initial Markdown), list (filters, sort, keyset
//! pagination) and search (ranked, with snippets), get, patch (title, tags), soft delete,
//! restore, permanent delete and duplicate. Content itself lives in the room
//! (`api/content.rs`). A public link reads (and, for an edit link, writes) content only:
//! metadata, trash, restore and duplicate need a signed-in user with the role.

use std::borrow::Cow;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::attachments::Copies;
use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiJson, ApiPath, ApiQuery, tags_field, text_field};
use crate::identity::access::{self, AccessError, Caller, Resource, can_manage, not_found, workspace_role};
use crate::identity::audit;
use crate::ids::{DocId, UserId, WorkspaceId};
use crate::product::erase;
use crate::state::AppState;
use crate::store::audit::AuditAction;
use crate::store::catalog::{DocQuery, Document, NewDocument, Role, SortKey, now_ms};

const MAX_TITLE: usize = 256;
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, patch, delete))
        .routes(routes!(restore))
        .routes(routes!(duplicate))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    #[serde(flatten)]
    pub document: Document,
    /// The caller's role on this document.
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentItem {
    #[serde(flatten)]
    pub document: Document,
    /// Search only: relevance, higher is better.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<f64>,
    /// Search only: matching text with the matches between `<mark>` and `</mark>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPage {
    pub documents: Vec<DocumentItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Full-text search over title and content; results ranked by relevance.
    pub q: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    pub sort: Option<SortKey>,
    pub order: Option<Order>,
    pub tag: Option<String>,
    pub workspace_id: Option<String>,
    /// Only documents created by this user.
    pub owner: Option<String>,
    /// List the trash instead.
    pub deleted: Option<bool>,
    /// Only templates (`true`), or only other documents (`false`).
    pub template: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// Required unless `template_id` is given (then the template's title by default).
    pub title: Option<String>,
    /// Initial Markdown (not with `template_id`).
    pub content: Option<String>,
    /// Default: none, or the template's.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Default: the caller's personal workspace.
    pub workspace_id: Option<WorkspaceId>,
    /// A template the caller can read: its title, content and tags are copied.
    pub template_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRequest {
    pub title: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Offer it as a starting point for new documents (`GET /api/v1/documents?template=true`).
    pub is_template: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateRequest {
    pub title: Option<String>,
    /// Default: the source's workspace if the caller may create there, else personal.
    pub workspace_id: Option<WorkspaceId>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Delete for good (workspace admins and the document's author) instead of moving
    /// to the trash.
    pub permanent: Option<bool>,
}

fn bad_cursor() -> ApiError {
    ApiError::new(ErrorCode::InvalidCursor, "`cursor` is not one this server handed out")
}

fn encode_cursor(parts: &[&str]) -> String {
    hex::encode(parts.join("\u{0}"))
}

fn decode_cursor(cursor: &str) -> Result<Vec<String>, ApiError> {
    let bytes = hex::decode(cursor).map_err(|_| bad_cursor())?;
    let s = String::from_utf8(bytes).map_err(|_| bad_cursor())?;
    Ok(s.split('\u{0}').map(str::to_owned).collect())
}

/// Lists the documents the caller can see, or searches them with `q`.
#[utoipa::path(get, path = "/api/v1/documents", tag = "documents", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = DocumentPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListQuery>,
) -> Result<Json<DocumentPage>, ApiError> {
    let user = caller.user()?;
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "`limit` must be 1 to 200"));
    }
    let workspace = p.workspace_id.map(WorkspaceId::new);
    if let Some(ws) = &workspace {
        workspace_role(&app, user, ws, Role::Viewer).await?;
    }
    let sort = p.sort.unwrap_or_default();
    let descending = matches!(p.order.unwrap_or_default(), Order::Desc);
    let mut q = DocQuery {
        viewer: user.clone(),
        workspace,
        tag: p.tag,
        owner: p.owner.map(UserId::new),
        deleted: p.deleted.unwrap_or(false),
        template: p.template,
        sort,
        descending,
        after: None,
        limit,
    };
    if let Some(terms) = p.q.filter(|t| !t.trim().is_empty()) {
        let offset = match p.cursor.as_deref().map(decode_cursor).transpose()? {
            Some(parts) => match parts.as_slice() {
                [kind, n] if kind == "s" => n.parse::<u32>().map_err(|_| bad_cursor())?,
                _ => return Err(bad_cursor()),
            },
            None => 0,
        };
        let hits = app.store.search_documents(&q, &terms, offset).await?;
        let next = (hits.len() as u32 == limit).then(|| encode_cursor(&["s", &(offset + limit).to_string()]));
        let documents = hits
            .into_iter()
            .map(|h| DocumentItem { document: h.document, rank: Some(h.rank), snippet: Some(h.snippet) })
            .collect();
        return Ok(Json(DocumentPage { documents, next_cursor: next }));
    }
    if let Some(cursor) = &p.cursor {
        match decode_cursor(cursor)?.as_slice() {
            [kind, value, id] if kind == "k" => {
                q.after = Some((value.clone(), DocId::parse(id).ok_or_else(bad_cursor)?));
            }
            _ => return Err(bad_cursor()),
        }
    }
    let docs = app.store.list_documents(&q).await?;
    let next = (docs.len() as u32 == limit).then(|| docs.last()).flatten().map(|d| {
        let value = match sort {
            SortKey::Created => d.created_at.to_string(),
            SortKey::Updated => d.updated_at.to_string(),
            SortKey::Title => d.title.clone(),
        };
        encode_cursor(&["k", &value, d.id.as_str()])
    });
    let documents = docs.into_iter().map(|document| DocumentItem { document, rank: None, snippet: None }).collect();
    Ok(Json(DocumentPage { documents, next_cursor: next }))
}

/// The workspace a new document goes to: the one asked for (editor or better there) or
/// the caller's personal one.
async fn target_workspace(app: &AppState, user: &UserId, asked: Option<WorkspaceId>) -> Result<WorkspaceId, ApiError> {
    match asked {
        Some(ws) => {
            workspace_role(app, user, &ws, Role::Editor).await?;
            Ok(ws)
        }
        None => app.store.personal_workspace(user).await?.ok_or_else(|| not_found(Resource::Workspace).into()),
    }
}

async fn create_with_content(
    app: &AppState,
    new: NewDocument,
    content: Option<&str>,
    files: Option<Copies>,
) -> Result<Document, ApiError> {
    if let Some(content) = content
        && content.len() > app.config.api.max_document_size
    {
        return Err(super::content::too_large(app));
    }
    let doc = app.store.create_document(&new).await?;
    if let Err(e) = fill(app, &doc, content, files).await {
        if let Err(failed) = discard(app, &doc.id).await {
            tracing::warn!(doc = %doc.id, error = ?failed, "a document whose creation failed was not removed");
        }
        return Err(e);
    }
    Ok(doc)
}

/// A new document's attachments copied from its source, then its content (relinked to
/// the copies, which are in place before anything links to them).
async fn fill(app: &AppState, doc: &Document, content: Option<&str>, files: Option<Copies>) -> Result<(), ApiError> {
    let content = match files {
        Some(files) => {
            let relinked = content.map(|c| files.relink(c));
            files.write(app).await?;
            relinked.map(Cow::Owned)
        }
        None => content.map(Cow::Borrowed),
    };
    if let Some(content) = content.filter(|c| !c.is_empty()) {
        app.rooms.replace_text(&doc.id, &content, Some(&doc.owner_id)).await?;
    }
    Ok(())
}

/// Removes a document whose creation failed half way, with whatever it holds.
async fn discard(app: &AppState, id: &DocId) -> Result<(), ApiError> {
    app.rooms.evict(id).await;
    if let Some(blobs) = app.store.purge_document(id).await? {
        erase::release_blobs(app, &blobs).await;
    }
    Ok(())
}

/// A new document as its creator sees it (an editor at least: creating needed that).
async fn created(app: &AppState, document: Document, user: &UserId) -> Result<DocumentView, ApiError> {
    let role = app.store.document_access(&document.id, user).await?.and_then(|a| a.role()).unwrap_or(Role::Editor);
    Ok(DocumentView { document, role })
}

/// Creates a document, optionally with Markdown content and tags.
#[utoipa::path(post, path = "/api/v1/documents", tag = "documents", security(("bearer" = [])),
    request_body = CreateRequest,
    responses((status = 201, body = DocumentView), (status = 404, body = ErrorBody),
        (status = 409, description = "too_many_attachments (a template's)", body = ErrorBody),
        (status = 413, description = "document_too_large, attachment_quota_exceeded (a template's attachments)", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    let user = caller.user()?;
    let (mut title, mut tags, mut content, mut template) = (req.title, req.tags, req.content, None);
    if let Some(id) = &req.template_id {
        let id = DocId::parse(id).ok_or_else(|| not_found(Resource::Document))?;
        let (source, _) = caller.document(&app, &id, Role::Viewer).await?;
        if !source.is_template {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "`template_id` names a document that is not a template",
            ));
        }
        if content.is_some() {
            return Err(ApiError::new(ErrorCode::InvalidField, "give `content` or `template_id`, not both"));
        }
        title = title.or(Some(source.title));
        if tags.is_empty() {
            tags = source.tags;
        }
        content = Some(app.rooms.text(&source.id).await?.text);
        template = Some(source.id);
    }
    let title = text_field("title", title.as_deref().unwrap_or(""), MAX_TITLE)?;
    let tags = tags_field(&tags)?;
    let workspace_id = target_workspace(&app, user, req.workspace_id).await?;
    let new = NewDocument { id: DocId::random(), workspace_id, title, owner_id: user.clone(), tags };
    // A template's attachments are copied with it, as a duplicate's are.
    let files = match &template {
        Some(source) => Some(Copies::plan(&app, source, &new.id, &new.workspace_id, user).await?),
        None => None,
    };
    let document = create_with_content(&app, new, content.as_deref(), files).await?;
    Ok((StatusCode::CREATED, Json(created(&app, document, user).await?)))
}

#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = DocumentView), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
) -> Result<Json<DocumentView>, ApiError> {
    let (document, role) = caller.document(&app, &id, Role::Viewer).await?;
    Ok(Json(DocumentView { document, role }))
}

/// Changes the title and/or tags (signed-in editors).
#[utoipa::path(patch, path = "/api/v1/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = PatchRequest,
    responses((status = 200, body = DocumentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn patch(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    ApiJson(req): ApiJson<PatchRequest>,
) -> Result<Json<DocumentView>, ApiError> {
    caller.user()?;
    let (doc, role) = caller.document(&app, &id, Role::Editor).await?;
    let title = req.title.as_deref().map(|t| text_field("title", t, MAX_TITLE)).transpose()?;
    let tags = req.tags.as_deref().map(tags_field).transpose()?;
    let document = app
        .store
        .update_document(&doc.id, title.as_deref(), tags.as_deref(), req.is_template, now_ms())
        .await?
        .ok_or_else(|| not_found(Resource::Document))?;
    // Committed: webhooks hear of it with the content edits (`document.updated`, debounced).
    app.hooks.changes.touch(&doc.id);
    Ok(Json(DocumentView { document, role }))
}

/// Moves a document to the trash (signed-in editors), or with `permanent=true` deletes it for good
/// (workspace admins and the document's author), live or trashed. Open connections close
/// with 4403.
#[utoipa::path(delete, path = "/api/v1/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path), DeleteQuery),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    caller.user()?;
    if q.permanent.unwrap_or(false) {
        let (doc, role) = match caller.role_on(&app, &id, false).await {
            Ok(found) => found,
            Err(AccessError::NotFound(Resource::Document)) => caller.role_on(&app, &id, true).await?,
            Err(e) => return Err(e.into()),
        };
        if !can_manage(&caller, &doc, role) {
            return Err(access::forbidden("the admin role or authorship").into());
        }
        let docs = std::slice::from_ref(&doc.id);
        erase::close_rooms(&app, docs).await;
        let blobs = app.store.purge_document(&doc.id).await?.unwrap_or_default();
        audit::record(&app, audit::document(AuditAction::DocumentDeleted, caller.user()?, &doc)).await;
        erase::deleted(&app, docs, &blobs).await;
    } else {
        let (doc, _) = caller.document(&app, &id, Role::Editor).await?;
        app.store.set_deleted(&doc.id, Some(now_ms())).await?;
        audit::record(&app, audit::document(AuditAction::DocumentTrashed, caller.user()?, &doc)).await;
        access::changed(&app);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Brings a document back from the trash (signed-in editors).
#[utoipa::path(post, path = "/api/v1/documents/{id}/restore", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = DocumentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn restore(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
) -> Result<Json<DocumentView>, ApiError> {
    caller.user()?;
    let (doc, role) = caller.role_on(&app, &id, true).await?;
    access::require(role, Role::Editor)?;
    app.store.set_deleted(&doc.id, None).await?;
    let document = app.store.document(&doc.id).await?.ok_or_else(|| not_found(Resource::Document))?;
    Ok(Json(DocumentView { document, role }))
}

/// Copies a document (title, tags, content, attachments) into a new one.
#[utoipa::path(post, path = "/api/v1/documents/{id}/duplicate", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = DuplicateRequest,
    responses((status = 201, body = DocumentView), (status = 404, body = ErrorBody),
        (status = 409, description = "too_many_attachments", body = ErrorBody),
        (status = 413, description = "attachment_quota_exceeded", body = ErrorBody)))]
async fn duplicate(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    let user = caller.user()?.clone();
    let req: DuplicateRequest = super::extract::optional_json(&body)?;
    let (source, _) = caller.document(&app, &id, Role::Viewer).await?;
    let workspace_id = match req.workspace_id {
        Some(ws) => target_workspace(&app, &user, Some(ws)).await?,
        None => match app.store.member_role(&source.workspace_id, &user).await? {
            Some(r) if r.can_edit() => source.workspace_id.clone(),
            _ => target_workspace(&app, &user, None).await?,
        },
    };
    let title = match req.title {
        Some(t) => text_field("title", &t, MAX_TITLE)?,
        None => format!("{} (copy)", source.title).chars().take(MAX_TITLE).collect(),
    };
    let content = app.rooms.text(&source.id).await?.text;
    let new = NewDocument { id: DocId::random(), workspace_id, title, owner_id: user.clone(), tags: source.tags };
    // The copy's attachments are its own: a link to the source's would break for whoever
    // cannot read the source, and when the source's files are deleted.
    let files = Copies::plan(&app, &source.id, &new.id, &new.workspace_id, &user).await?;
    let document = create_with_content(&app, new, Some(&content), Some(files)).await?;
    Ok((StatusCode::CREATED, Json(created(&app, document, &user).await?)))
}
