//! `/api/v1/documents/{id}/attachments`: files attached to a document. Editors upload
//! (multipart field `file`, streamed to the blob store and hashed as it arrives, stopped
//! at the size limit; at most [`UPLOADS_AT_ONCE`] on a node and [`UPLOADS_PER_USER`] per
//! user at once, else 429 `uploads_running`), list and delete; whoever may read the document (public view links
//! with `?link=` too) downloads at the `url` an upload answers. The served type is the
//! one sniffed from the bytes; only raster images are shown inline, everything else is a
//! download, and every answer carries `nosniff` and a sandboxing CSP.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::ApiPath;
use crate::identity::access::Caller;
use crate::ids::{AttachmentId, DocId, UserId, WorkspaceId};
use crate::product::attachments::{SNIFF_BYTES, clean_name, disposition, inline, relink, sniff};
use crate::product::erase;
use crate::slots::Slots;
use crate::state::AppState;
use crate::store::attachments::{Attachment, Quotas, Refused};
use crate::store::blobs::{BlobError, Staged};
use crate::store::catalog::{Role, now_ms};

/// Room for the multipart framing around the file (boundaries, part headers).
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// Most attachments one listing answers (a document holding more lists its oldest).
const MAX_LISTED: u32 = 1000;
/// Most attachments a duplicate copies (a document holding more cannot be duplicated).
const MAX_COPIED: u32 = 1000;
/// Downloads answer no script and load nothing, even if a browser renders one.
const SANDBOX: &str = "default-src 'none'; sandbox";
/// Uploads received at once on a node, and by one user: each stages up to the size
/// limit on disk before the quotas see it.
const UPLOADS_AT_ONCE: usize = 8;
const UPLOADS_PER_USER: usize = 2;

/// The upload slots `AppState::uploads` holds.
pub fn slots() -> Arc<Slots> {
    Slots::new(UPLOADS_AT_ONCE, UPLOADS_PER_USER)
}

/// The routes; `max_bytes` is the largest file one upload may attach, and bounds the
/// request body of the upload route (the API's default bound is the largest document).
pub fn router(max_bytes: u64) -> OpenApiRouter<AppState> {
    let body_limit = usize::try_from(max_bytes.saturating_add(MULTIPART_OVERHEAD)).unwrap_or(usize::MAX);
    OpenApiRouter::new()
        .routes(routes!(list, upload))
        .layer(DefaultBodyLimit::max(body_limit))
        .routes(routes!(download, delete))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: AttachmentId,
    pub document_id: DocId,
    /// The uploader's file name, cleaned (no path, no control characters).
    pub name: String,
    /// Sniffed from the bytes: what the download is served as.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    pub created_at: i64,
    pub created_by: Option<UserId>,
    /// Where to download it: a path on this server, read with the document's access
    /// (a bearer token, or a public link's `?link=` appended).
    pub url: String,
}

impl From<Attachment> for AttachmentView {
    fn from(a: Attachment) -> Self {
        AttachmentView {
            url: format!("/api/v1/documents/{}/attachments/{}", a.document_id, a.id),
            id: a.id,
            document_id: a.document_id,
            name: a.name,
            content_type: a.content_type,
            size: a.size,
            created_at: a.created_at,
            created_by: a.created_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentList {
    /// Oldest first.
    pub items: Vec<AttachmentView>,
}

/// The upload's form (documentation only: the handler streams it).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::AttachmentNotFound, "no such attachment on this document")
}

fn too_large(app: &AppState) -> ApiError {
    let max = app.config.attachments.attachment_max_bytes;
    ApiError::new(ErrorCode::AttachmentTooLarge, format!("an attachment may be at most {max} bytes"))
}

fn over_quota(app: &AppState, refused: Refused) -> ApiError {
    let limits = &app.config.attachments;
    let message = match refused {
        Refused::OverQuota => format!("the workspace's attachments may total {} bytes", limits.workspace_quota_bytes),
        Refused::OverUserQuota => format!(
            "the attachments of all the workspaces this workspace's creator made may total {} bytes",
            limits.user_quota_bytes
        ),
    };
    ApiError::new(ErrorCode::AttachmentQuotaExceeded, message)
}

fn quotas(app: &AppState) -> Quotas {
    let limits = &app.config.attachments;
    Quotas {
        workspace: i64::try_from(limits.workspace_quota_bytes).unwrap_or(i64::MAX),
        user: i64::try_from(limits.user_quota_bytes).unwrap_or(i64::MAX),
    }
}

/// Refuses `adding` bytes the workspace's quota, or its creator's, cannot hold now (the
/// row's write checks again, exactly and under locks).
async fn room_for(app: &AppState, workspace: &WorkspaceId, adding: i64) -> Result<(), ApiError> {
    let quotas = quotas(app);
    if app.store.workspace_attachment_bytes(workspace).await?.saturating_add(adding) > quotas.workspace {
        return Err(over_quota(app, Refused::OverQuota));
    }
    if app.store.creator_attachment_bytes(workspace).await?.saturating_add(adding) > quotas.user {
        return Err(over_quota(app, Refused::OverUserQuota));
    }
    Ok(())
}

/// A document's attachments copied onto a new document in `workspace`, by `user`: new
/// ids, the same blobs (stored by their hash, so no bytes are copied), counted against
/// the target's quotas. What a duplicate carries over.
pub(super) struct Copies {
    from: DocId,
    to: DocId,
    rows: Vec<(AttachmentId, Attachment)>,
}

impl Copies {
    /// Reads the source's attachments and refuses, before anything is written, a copy
    /// the target's quotas cannot hold.
    pub(super) async fn plan(
        app: &AppState,
        from: &DocId,
        to: &DocId,
        workspace: &WorkspaceId,
        user: &UserId,
    ) -> Result<Self, ApiError> {
        let files = app.store.attachments_of(from, MAX_COPIED + 1).await?;
        if files.len() > MAX_COPIED as usize {
            let message = format!("a document with more than {MAX_COPIED} attachments cannot be copied");
            return Err(ApiError::new(ErrorCode::TooManyAttachments, message));
        }
        let total: i64 = files.iter().map(|a| a.size).sum();
        if total > 0 {
            room_for(app, workspace, total).await?;
        }
        let rows = files
            .into_iter()
            .map(|a| {
                let copy = Attachment {
                    id: AttachmentId::random(),
                    document_id: to.clone(),
                    workspace_id: workspace.clone(),
                    created_by: Some(user.clone()),
                    created_at: now_ms(),
                    ..a.clone()
                };
                (a.id, copy)
            })
            .collect();
        Ok(Copies { from: from.clone(), to: to.clone(), rows })
    }

    /// `content` with every link to one of the source's attachments pointing at its copy.
    pub(super) fn relink(&self, content: &str) -> String {
        let ids: HashMap<&str, &AttachmentId> = self.rows.iter().map(|(old, copy)| (old.as_str(), &copy.id)).collect();
        relink(content, &self.from, &self.to, &ids)
    }

    /// Writes the copies' rows, in one transaction. The blobs are checked under their
    /// locks: one whose source attachment was deleted meanwhile (and its blob with it) is
    /// not copied, as a link to it would already be broken in the source.
    pub(super) async fn write(self, app: &AppState) -> Result<(), ApiError> {
        let sha256s: Vec<&str> = self.rows.iter().map(|(_, copy)| copy.sha256.as_str()).collect();
        let _locks = app.blobs.lock_all(&sha256s).await;
        let mut rows = Vec::with_capacity(self.rows.len());
        for (_, copy) in &self.rows {
            if app.store.blob_in_use(&copy.sha256).await? {
                rows.push(copy.clone());
            }
        }
        match app.store.create_attachments(&rows, quotas(app)).await? {
            Ok(()) => Ok(()),
            Err(refused) => Err(over_quota(app, refused)),
        }
    }
}

fn multipart_error(app: &AppState, e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(app)
    } else {
        ApiError::new(ErrorCode::InvalidBody, e.body_text())
    }
}

/// The document's attachments, oldest first.
#[utoipa::path(get, path = "/api/v1/documents/{id}/attachments", tag = "attachments", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = AttachmentList), (status = 404, body = ErrorBody)))]
async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
) -> Result<axum::Json<AttachmentList>, ApiError> {
    caller.document(&app, &id, Role::Viewer).await?;
    let items = app.store.attachments_of(&id, MAX_LISTED).await?;
    Ok(axum::Json(AttachmentList { items: items.into_iter().map(Into::into).collect() }))
}

/// Attaches a file (multipart field `file`) to the document; editors and above. Its
/// type is sniffed from its bytes; the client's claimed type is ignored.
#[utoipa::path(post, path = "/api/v1/documents/{id}/attachments", tag = "attachments", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = AttachmentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, description = "uploads_running", body = ErrorBody)))]
async fn upload(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, axum::Json<AttachmentView>), ApiError> {
    let (doc, _) = caller.document(&app, &id, Role::Editor).await?;
    let limits = &app.config.attachments;
    // Refused before a byte of the body is read when it says it is too large.
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.attachment_max_bytes.saturating_add(MULTIPART_OVERHEAD)) {
        return Err(too_large(&app));
    }
    let quotas = quotas(&app);
    // Checked again, exactly and under locks, when the row is written; this spares
    // receiving a file that cannot be kept.
    room_for(&app, &doc.workspace_id, 1).await?;
    // Held until the file is stored or dropped: bounds the staged bytes on disk.
    let _slot = app.uploads.try_take(caller.user().ok()).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UploadsRunning,
            "too many uploads are running (yours or this server's); retry when they end",
        )
    })?;
    let mut multipart = multipart.map_err(|e| {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("send the file as multipart/form-data: {}", e.body_text()),
        )
    })?;
    let no_file = || ApiError::new(ErrorCode::InvalidBody, "expected one multipart field named `file`");
    let field = multipart.next_field().await.map_err(|e| multipart_error(&app, e))?.ok_or_else(no_file)?;
    if field.name() != Some("file") {
        return Err(no_file());
    }
    let name = clean_name(field.file_name());
    let (staged, received) = receive(&app, field).await?;
    let attachment = Attachment {
        id: AttachmentId::random(),
        document_id: doc.id.clone(),
        workspace_id: doc.workspace_id.clone(),
        name,
        content_type: sniff(&received.head).to_owned(),
        size: i64::try_from(received.size).unwrap_or(i64::MAX),
        sha256: received.sha256,
        created_by: caller.user().ok().cloned(),
        created_at: now_ms(),
    };
    // The blob is in place before its row is visible; under the blob's lock, so a
    // concurrent release of the same bytes cannot remove it in between.
    let _lock = app.blobs.lock(&attachment.sha256).await;
    app.blobs.commit(staged, &attachment.sha256).await?;
    let stored = app.store.create_attachments(std::slice::from_ref(&attachment), quotas).await;
    if !matches!(stored, Ok(Ok(()))) && !app.store.blob_in_use(&attachment.sha256).await.unwrap_or(true) {
        app.blobs.remove(&attachment.sha256).await?;
    }
    if let Err(refused) = stored? {
        return Err(over_quota(&app, refused));
    }
    Ok((StatusCode::CREATED, axum::Json(attachment.into())))
}

/// What was learnt of a file while it was written to its staged blob.
struct Received {
    size: u64,
    sha256: String,
    /// Its first bytes, to sniff the type from.
    head: Vec<u8>,
}

/// Writes the field's bytes to a new staged blob as they arrive, hashing and counting
/// them; stops with 413 as soon as they pass the size limit (the staged file is removed).
async fn receive(app: &AppState, mut field: Field<'_>) -> Result<(Staged, Received), ApiError> {
    let max = app.config.attachments.attachment_max_bytes;
    let mut staged = app.blobs.stage().await?;
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(app, e))? {
        size = size.saturating_add(chunk.len() as u64);
        if size > max {
            return Err(too_large(app));
        }
        hasher.update(&chunk);
        let room = SNIFF_BYTES.saturating_sub(head.len()).min(chunk.len());
        head.extend_from_slice(&chunk[..room]);
        staged.file.write_all(&chunk).await.map_err(BlobError::from)?;
    }
    Ok((staged, Received { size, sha256: hex::encode(hasher.finalize()), head }))
}

/// The attachment's bytes, for whoever may read the document. Raster images are served
/// inline with their type; anything else as a download.
#[utoipa::path(get, path = "/api/v1/documents/{id}/attachments/{attachment_id}", tag = "attachments",
    security(("bearer" = [])), params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 200, description = "the file's bytes", content_type = "application/octet-stream"),
        (status = 304, description = "not modified (If-None-Match)"), (status = 404, body = ErrorBody)))]
async fn download(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, attachment)): ApiPath<(DocId, AttachmentId)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.document(&app, &id, Role::Viewer).await?;
    let a = app.store.attachment(&id, &attachment).await?.ok_or_else(not_found)?;
    let etag = format!("\"{}\"", a.sha256);
    let shown = inline(&a.content_type);
    let common = [
        (ETAG, etag.clone()),
        // Access can be revoked: a cached copy is revalidated (cheaply, by ETag) each time.
        (CACHE_CONTROL, "private, no-cache".to_owned()),
        (X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (CONTENT_SECURITY_POLICY, SANDBOX.to_owned()),
    ];
    if headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let Some(reader) = app.blobs.open(&a.sha256).await? else {
        return Err(ApiError::internal(format!("attachment {} of {id}: blob {} is missing", a.id, a.sha256)));
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(reader));
    let described = [
        (CONTENT_TYPE, a.content_type.clone()),
        (CONTENT_LENGTH, a.size.to_string()),
        (CONTENT_DISPOSITION, disposition(&a.name, shown)),
    ];
    Ok((common, described, body).into_response())
}

/// Deletes an attachment; editors and above. Its bytes go when no other attachment
/// shares them. Markdown that links to it keeps a broken link.
#[utoipa::path(delete, path = "/api/v1/documents/{id}/attachments/{attachment_id}", tag = "attachments",
    security(("bearer" = [])), params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, attachment)): ApiPath<(DocId, AttachmentId)>,
) -> Result<StatusCode, ApiError> {
    caller.document(&app, &id, Role::Editor).await?;
    let gone = app.store.delete_attachment(&id, &attachment).await?.ok_or_else(not_found)?;
    erase::release_blobs(&app, &[gone.sha256]).await;
    Ok(StatusCode::NO_CONTENT)
}
