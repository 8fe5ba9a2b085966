//! `GET /api/v1/users/me/export`: every live document the caller can read (in the
//! workspaces they are a member of, and shared with them; not the trash) as Markdown
//! files in a zip, each document's comment threads in `comments/<id>.json` beside it,
//! and a `manifest.json` naming each one's title, tags, workspace, place in the archive
//! and times. The archive is streamed: written on a blocking thread one document at a
//! time into a bounded channel the response reads, so memory holds about one document
//! (and a manifest line per document) whatever the account's size. One export per user
//! at a time and [`MAX_RUNNING`] per node (429 `export_running` past either); a client
//! that stops reading for [`SEND_TIMEOUT`] ends its export and frees its slot. The text
//! is read from the store (everything durable), without opening a room per document.
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yrs::updates::decoder::Decode;
use yrs::{GetString, Transact, Update};

use super::error::{ApiError, ErrorBody, ErrorCode};
use crate::identity::access::Caller;
use crate::ids::{DocId, UserId, WorkspaceId};
use crate::realtime::room::CONTENT;
use crate::slots::Slots;
use crate::state::AppState;
use crate::store::catalog::{DocQuery, Document, SortKey, now_ms};
use crate::store::comments::Comment;
use crate::store::{Store, StoreError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}

/// Bytes handed to the response at a time, and chunks waiting for it.
const CHUNK_BYTES: usize = 64 * 1024;
const CHUNKS_QUEUED: usize = 4;
/// Exports running on one node at most (each holds a blocking thread while it writes).
const MAX_RUNNING: usize = 16;
/// Documents listed per store query.
const PAGE: u32 = 200;
/// Longest a chunk waits for the client to take it: past it the export is abandoned.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// The export slots `AppState::exports` holds: [`MAX_RUNNING`] on the node, one per user.
pub fn slots() -> Arc<Slots> {
    Slots::new(MAX_RUNNING, 1)
}

#[derive(Serialize)]
struct Manifest {
    exported_at: i64,
    user: UserId,
    documents: Vec<ManifestDoc>,
}

#[derive(Serialize)]
struct ManifestDoc {
    id: DocId,
    title: String,
    tags: Vec<String>,
    workspace_id: WorkspaceId,
    /// `None` for a document shared from a workspace the user is not a member of.
    workspace_name: Option<String>,
    /// Where its Markdown is in the archive.
    path: String,
    /// Where its comment threads are in the archive (`comments/<id>.json`, a list of
    /// threads); `None` when it has none.
    comments: Option<String>,
    is_template: bool,
    created_at: i64,
    updated_at: i64,
}

#[derive(Serialize)]
struct Thread {
    id: String,
    /// The text the thread was started on, if it was started on a range.
    quote: Option<String>,
    resolved_at: Option<i64>,
    messages: Vec<Message>,
}

#[derive(Serialize)]
struct Message {
    id: String,
    author_id: UserId,
    author_name: String,
    body: String,
    created_at: i64,
    edited_at: Option<i64>,
}

/// Comments grouped into threads, in the order they were started.
fn threads(comments: Vec<Comment>) -> Vec<Thread> {
    let mut out: Vec<Thread> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for c in comments {
        let thread = c.thread_id.to_string();
        let i = *at.entry(thread.clone()).or_insert_with(|| {
            out.push(Thread { id: thread, quote: None, resolved_at: None, messages: Vec::new() });
            out.len() - 1
        });
        if c.is_thread() {
            out[i].quote = c.anchor.as_ref().map(|a| a.quote.clone());
            out[i].resolved_at = c.resolved_at;
        }
        out[i].messages.push(Message {
            id: c.id.to_string(),
            author_id: c.author_id,
            author_name: c.author_name,
            body: c.body,
            created_at: c.created_at,
            edited_at: c.edited_at,
        });
    }
    out
}

/// A file-name-safe slug of a title or workspace name.
fn slug(s: &str) -> String {
    let s: String = s.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let s = s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    let s: String = s.chars().take(60).collect();
    if s.is_empty() { "untitled".into() } else { s }
}

/// The document's Markdown as stored (snapshot then log, one transaction per part).
async fn stored_text(store: &dyn Store, doc: &DocId) -> Result<String, StoreError> {
    let stored = store.load_doc(doc).await?;
    let ydoc = yrs::Doc::new();
    let text = ydoc.get_or_insert_text(CONTENT);
    for part in stored.parts() {
        let update = Update::decode_v1(part).map_err(|_| StoreError::Corrupt(doc.clone()))?;
        ydoc.transact_mut().apply_update(update).map_err(|_| StoreError::Corrupt(doc.clone()))?;
    }
    let txn = ydoc.transact();
    Ok(text.get_string(&txn))
}

/// Every live document `user` can read, oldest first, a page at a time.
async fn documents(store: &dyn Store, user: &UserId) -> Result<Vec<Document>, StoreError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let q = DocQuery {
            viewer: user.clone(),
            workspace: None,
            tag: None,
            owner: None,
            deleted: false,
            template: None,
            sort: SortKey::Created,
            descending: false,
            after: after.take(),
            limit: PAGE,
        };
        let page = store.list_documents(&q).await?;
        let done = page.len() < PAGE as usize;
        after = page.last().map(|d| (d.created_at.to_string(), d.id.clone()));
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

/// Hands the archive's bytes to the response in chunks; blocks while the client is slow
/// (the channel is bounded), fails once it has gone or has taken nothing for `timeout`.
struct ChunkWriter {
    rt: tokio::runtime::Handle,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
    timeout: Duration,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES)));
        let sent = async { tokio::time::timeout(self.timeout, self.tx.send(Ok(chunk))).await };
        match self.rt.block_on(sent) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(std::io::Error::other("the client went away")),
            Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading")),
        }
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Writes the whole archive; runs on a blocking thread, reading the store through `rt`.
fn write_archive(
    rt: tokio::runtime::Handle,
    store: Arc<dyn Store>,
    user: UserId,
    out: ChunkWriter,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let names: HashMap<WorkspaceId, String> =
        rt.block_on(store.workspaces_of(&user))?.into_iter().map(|(w, _)| (w.id, w.name)).collect();
    let docs = rt.block_on(documents(store.as_ref(), &user))?;
    let mut zip = zip::ZipWriter::new_stream(out);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut manifest =
        Manifest { exported_at: now_ms(), user: user.clone(), documents: Vec::with_capacity(docs.len()) };
    for doc in docs {
        let text = rt.block_on(stored_text(store.as_ref(), &doc.id))?;
        let comments = rt.block_on(store.comments(&doc.id, None))?;
        let workspace_name = names.get(&doc.workspace_id).cloned();
        let folder = workspace_name.as_deref().map_or_else(|| "shared".to_owned(), slug);
        let path = format!("{folder}/{}-{}.md", slug(&doc.title), doc.id);
        zip.start_file(path.as_str(), options)?;
        zip.write_all(text.as_bytes())?;
        drop(text);
        let threads = threads(comments);
        let comments = if threads.is_empty() {
            None
        } else {
            let comments = format!("comments/{}.json", doc.id);
            zip.start_file(comments.as_str(), options)?;
            serde_json::to_writer_pretty(&mut zip, &threads)?;
            Some(comments)
        };
        manifest.documents.push(ManifestDoc {
            id: doc.id,
            title: doc.title,
            tags: doc.tags,
            workspace_id: doc.workspace_id,
            workspace_name,
            path,
            comments,
            is_template: doc.is_template,
            created_at: doc.created_at,
            updated_at: doc.updated_at,
        });
    }
    zip.start_file("manifest.json", options)?;
    serde_json::to_writer_pretty(&mut zip, &manifest)?;
    let mut out = zip.finish()?.into_inner();
    out.flush()?;
    Ok(())
}

/// A zip of every document the caller can read, as Markdown, with `manifest.json`.
#[utoipa::path(get, path = "/api/v1/users/me/export", tag = "users", security(("bearer" = [])),
    responses((status = 200, content((String = "application/zip"))), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, description = "export_running", body = ErrorBody)))]
async fn export(State(app): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let user = caller.user()?.clone();
    let slot = app.exports.try_take(Some(&user)).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ExportRunning,
            "an export of this account (or too many others) is running; retry when it ends",
        )
    })?;
    let (tx, mut rx) = mpsc::channel(CHUNKS_QUEUED);
    let (rt, store) = (tokio::runtime::Handle::current(), app.store.clone());
    let out =
        ChunkWriter { rt: rt.clone(), tx: tx.clone(), buf: Vec::with_capacity(CHUNK_BYTES), timeout: SEND_TIMEOUT };
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        if let Err(e) = write_archive(rt, store, user.clone(), out) {
            // The client sees a cut-off archive (its central directory missing): not a
            // zip that opens with documents silently left out.
            tracing::warn!(user = %user, error = %e, "export stopped");
            // Never waits: a client that stopped reading is not waited for again.
            let _ = tx.try_send(Err(std::io::Error::other("export failed")));
        }
    });
    let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let disposition = "attachment; filename=\"tandem-export.zip\"";
    Ok(([(CONTENT_TYPE, "application/zip"), (CONTENT_DISPOSITION, disposition)], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_stops_reading_ends_the_export() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_time().build().unwrap();
        let (tx, rx) = mpsc::channel(1);
        let timeout = Duration::from_millis(50);
        let mut out = ChunkWriter { rt: rt.handle().clone(), tx, buf: Vec::new(), timeout };
        out.write_all(&[0; CHUNK_BYTES]).unwrap();
        let stuck = out.write_all(&[0; CHUNK_BYTES]).unwrap_err();
        assert_eq!(stuck.kind(), std::io::ErrorKind::TimedOut);
        drop(rx);
        let gone = out.write_all(&[0; CHUNK_BYTES]).unwrap_err();
        assert_eq!(gone.kind(), std::io::ErrorKind::Other, "{gone}");
    }
}
