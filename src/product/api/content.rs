//! A document's content through its room: `GET`/`PUT …/content` (Markdown; a PUT is
//! applied as a minimal diff so connected editors see it live and lose nothing), `…/render`
//! (sanitised HTML with an ETag from the document state), `…/export` (a standalone page
//! or the Markdown file) and `POST /api/v1/render` (previews of any Markdown).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiPath, ApiQuery};
use crate::identity::access::Caller;
use crate::ids::DocId;
use crate::product::render::RenderError;
use crate::realtime::room::TextState;
use crate::state::AppState;
use crate::store::catalog::{Document, Role};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_content, put_content))
        .routes(routes!(render_document))
        .routes(routes!(export))
        .routes(routes!(render_body))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Content {
    /// The document's Markdown.
    pub content: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContentView {
    pub content: String,
    /// Changes whenever the document does.
    pub etag: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContentWritten {
    pub etag: String,
    /// Size of the Markdown now stored, in bytes.
    pub bytes: usize,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Html,
    Md,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    pub format: ExportFormat,
}

pub fn too_large(app: &AppState) -> ApiError {
    ApiError::new(
        ErrorCode::DocumentTooLarge,
        format!("documents are limited to {} bytes", app.config.api.max_document_size),
    )
}

fn etag(state: &TextState) -> String {
    etag_of(&state.state_vector)
}

pub(super) fn etag_of(state_vector: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(state_vector))[..32])
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"))
}

fn header(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The Markdown: `text/markdown`, or JSON when asked with `Accept: application/json`.
#[utoipa::path(get, path = "/api/v1/documents/{id}/content", tag = "content", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, content((String = "text/markdown"), (ContentView = "application/json"))),
        (status = 404, body = ErrorBody)))]
async fn get_content(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, state, tag) = read(&app, &caller, &id).await?;
    if wants_json(&headers) {
        return Ok(([(ETAG, header(&tag))], axum::Json(ContentView { content: state.text, etag: tag })).into_response());
    }
    Ok(([(CONTENT_TYPE, HeaderValue::from_static("text/markdown; charset=utf-8")), (ETAG, header(&tag))], state.text)
        .into_response())
}

/// Replaces the Markdown (`text/markdown` or `{"content": …}`). Applied through the room
/// as a minimal diff: connected editors see it live and keep what they typed elsewhere.
#[utoipa::path(put, path = "/api/v1/documents/{id}/content", tag = "content", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content((String = "text/markdown"), (Content = "application/json"))),
    responses((status = 200, body = ContentWritten), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn put_content(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<ContentWritten>, ApiError> {
    let (doc, _) = caller.document(&app, &id, Role::Editor).await?;
    let text = markdown_body(&app, &headers, &body)?;
    let state = app.rooms.replace_text(&doc.id, &text, caller.user().ok()).await?;
    Ok(axum::Json(ContentWritten { etag: etag(&state), bytes: state.text.len() }))
}

/// Markdown from a `text/markdown` (or `text/plain`) body or a JSON `{"content": …}`,
/// at most the largest document.
fn markdown_body(app: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
    let text = parse_markdown(headers, body)?;
    if text.len() > app.config.api.max_document_size {
        return Err(too_large(app));
    }
    Ok(text)
}

fn parse_markdown(headers: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
    let kind = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if kind.starts_with("application/json") {
        serde_json::from_slice::<Content>(body).map(|c| c.content).map_err(|e| {
            let code = if e.is_data() { ErrorCode::InvalidBody } else { ErrorCode::MalformedJson };
            ApiError::new(code, e.to_string())
        })
    } else if kind.starts_with("text/markdown") || kind.starts_with("text/plain") {
        String::from_utf8(body.to_vec()).map_err(|_| ApiError::new(ErrorCode::InvalidUtf8, "the body is not UTF-8"))
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send `text/markdown` or `application/json` with a `content` field",
        ))
    }
}

/// A document the caller may read, its text and ETag.
async fn read(app: &AppState, caller: &Caller, id: &DocId) -> Result<(Document, TextState, String), ApiError> {
    let (doc, _) = caller.document(app, id, Role::Viewer).await?;
    let state = app.rooms.text(&doc.id).await?;
    let tag = etag(&state);
    Ok((doc, state, tag))
}

/// Rendered HTML for a document at `state` (whose ETag is `tag`), cached by ETag.
async fn rendered(app: &AppState, doc: &Document, state: TextState, tag: &str) -> Result<Bytes, ApiError> {
    let cache = &app.renderer.cache;
    if let Some(hit) = cache.get(doc.id.as_str(), tag) {
        return Ok(hit);
    }
    let html = Bytes::from(app.renderer.render(state.text).await.map_err(render_error)?);
    cache.insert(doc.id.as_str(), tag, html.clone());
    Ok(html)
}

/// A render over its limits is the document's doing (422); out of time is the server's
/// (503, retry later); a failure is logged as internal.
pub(super) fn render_error(e: RenderError) -> ApiError {
    match e {
        RenderError::InputTooLarge { .. } | RenderError::OutputTooLarge { .. } | RenderError::TooManyNodes { .. } => {
            ApiError::new(ErrorCode::RenderTooLarge, format!("{e}: too large to render; export it as Markdown instead"))
        }
        RenderError::TimedOut => ApiError::new(ErrorCode::RenderTimedOut, "rendering took too long; retry later"),
        RenderError::Failed(_) => ApiError::internal(e),
    }
}

/// Sanitised HTML (a fragment). Honours `If-None-Match`: an unchanged document costs a
/// state-vector comparison and answers 304.
#[utoipa::path(get, path = "/api/v1/documents/{id}/render", tag = "content", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, content((String = "text/html"))), (status = 304, description = "unchanged"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn render_document(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (doc, _) = caller.document(&app, &id, Role::Viewer).await?;
    // An unchanged document costs a state-vector read, not a copy of its text.
    if let Some(asked) = headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        let tag = etag_of(&app.rooms.state_vector(&doc.id).await?);
        if asked.split(',').any(|t| t.trim() == tag) {
            return Ok((StatusCode::NOT_MODIFIED, [(ETAG, header(&tag))]).into_response());
        }
    }
    let state = app.rooms.text(&doc.id).await?;
    let tag = etag(&state);
    let html = rendered(&app, &doc, state, &tag).await?;
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (ETAG, header(&tag)),
            (CACHE_CONTROL, HeaderValue::from_static("private, no-cache")),
        ],
        html,
    )
        .into_response())
}

fn file_name(title: &str, ext: &str) -> String {
    let slug: String = title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let slug = if slug.is_empty() { "document".to_owned() } else { slug.chars().take(80).collect() };
    format!("attachment; filename=\"{slug}.{ext}\"")
}

/// Downloads the document as a standalone HTML page (with styles) or its Markdown.
#[utoipa::path(get, path = "/api/v1/documents/{id}/export", tag = "content", security(("bearer" = [])),
    params(("id" = String, Path), ExportQuery),
    responses((status = 200, content((String = "text/html"), (String = "text/markdown"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn export(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let (doc, state, tag) = read(&app, &caller, &id).await?;
    let (kind, ext, body) = match q.format {
        ExportFormat::Md => ("text/markdown; charset=utf-8", "md", state.text),
        ExportFormat::Html => {
            let html = rendered(&app, &doc, state, &tag).await?;
            (
                "text/html; charset=utf-8",
                "html",
                crate::product::render::page(&doc.title, &String::from_utf8_lossy(&html)),
            )
        }
    };
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static(kind)), (CONTENT_DISPOSITION, header(&file_name(&doc.title, ext)))],
        body,
    )
        .into_response())
}

/// Renders Markdown from the body (`text/markdown` or `{"content": …}`), for previews.
/// A body over the render input limit is refused (413) before it is read.
#[utoipa::path(post, path = "/api/v1/render", tag = "content", security(("bearer" = [])),
    request_body(content((String = "text/markdown"), (Content = "application/json"))),
    responses((status = 200, content((String = "text/html"))), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn render_body(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.user()?;
    let max = app.renderer.limits().max_input;
    let too_large =
        || ApiError::new(ErrorCode::RenderInputTooLarge, format!("at most {max} bytes of Markdown are rendered"));
    // JSON framing and escapes get some room; the Markdown itself is checked once parsed.
    let max_body = max.saturating_add(RENDER_BODY_SLACK);
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body as u64) {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(body, max_body).await.map_err(|_| too_large())?;
    let markdown = parse_markdown(&headers, &body)?;
    drop(body);
    if markdown.len() > max {
        return Err(too_large());
    }
    let html = app.renderer.render(markdown).await.map_err(render_error)?;
    Ok(([(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], html).into_response())
}

/// Bytes a preview body may exceed the render input limit by (JSON framing and escapes).
const RENDER_BODY_SLACK: usize = 64 * 1024;
