//! Files attached to documents, over real HTTP, each case on SQLite and Postgres: upload,
//! list, download (types sniffed from the bytes; only raster images inline; `nosniff`
//! and a sandbox everywhere), delete; the size limit (declared and streamed) and the
//! workspace and user quotas; uploads at once per user; one blob on disk for the same bytes, removed with its last user
//! (an attachment, a document deleted for good, a workspace); who may do what.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::api::{Account, Api, BOUNDARY, Db, multipart_field, multipart_file, server, server_with};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_databases!(
    an_attachment_is_uploaded_listed_downloaded_and_deleted,
    types_are_sniffed_and_only_raster_images_are_shown_inline,
    uploads_past_the_size_limit_are_refused_whether_declared_or_streamed,
    the_workspace_quota_counts_every_attachment,
    the_user_quota_counts_every_workspace_its_creator_made,
    uploads_at_once_are_bounded_per_user,
    the_same_bytes_are_stored_once_and_removed_with_their_last_attachment,
    deleting_a_document_workspace_or_account_for_good_removes_its_files,
    readers_download_and_only_writers_upload,
);

pub(crate) const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

fn path(doc: &str) -> String {
    format!("/api/v1/documents/{doc}/attachments")
}

/// Posts a one-field multipart form; answers the status and JSON body.
async fn post_form(api: &Api, doc: &str, token: Option<&str>, link: Option<&str>, form: Vec<u8>) -> (u16, Value) {
    let mut req = api
        .request(Method::POST, &path(doc), token)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(form);
    if let Some(link) = link {
        req = req.header("tandem-link", link);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn upload(api: &Api, doc: &str, who: &Account, name: &str, bytes: &[u8]) -> (u16, Value) {
    post_form(api, doc, Some(&who.token), None, multipart_file(name, bytes)).await
}

pub(crate) async fn uploaded(api: &Api, doc: &str, who: &Account, name: &str, bytes: &[u8]) -> Value {
    let (status, body) = upload(api, doc, who, name, bytes).await;
    assert_eq!(status, 201, "{body}");
    body
}

pub(crate) async fn download(api: &Api, url: &str, token: Option<&str>) -> reqwest::Response {
    api.request(Method::GET, url, token).send().await.unwrap()
}

/// Blob files under the attachments folder (temporary files apart).
pub(crate) fn blobs_on_disk(data_dir: &Path) -> usize {
    let Ok(shards) = std::fs::read_dir(data_dir.join("attachments")) else { return 0 };
    shards
        .flatten()
        .filter(|e| e.file_name() != "tmp")
        .map(|e| std::fs::read_dir(e.path()).map(|d| d.count()).unwrap_or(0))
        .sum()
}

fn temp_files(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join("attachments").join("tmp")).map(|d| d.count()).unwrap_or(0)
}

async fn an_attachment_is_uploaded_listed_downloaded_and_deleted(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Pics"})).await;

    let made = uploaded(&api, &doc, &ann, "../dot.png", PNG).await;
    let url = made["url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/api/v1/documents/{doc}/attachments/{}", made["id"].as_str().unwrap()));
    assert_eq!((made["name"].as_str(), made["content_type"].as_str()), (Some("dot.png"), Some("image/png")));
    assert_eq!((made["size"].as_i64(), made["created_by"].as_str()), (Some(PNG.len() as i64), Some(&*ann.id)));

    let (status, list) = api.get(&path(&doc), &ann.token).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"], json!([made]));

    let resp = download(&api, &url, Some(&ann.token)).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
    assert!(h["content-disposition"].to_str().unwrap().starts_with("inline; "));
    assert_eq!(resp.bytes().await.unwrap(), PNG);
    let etag = h["etag"].to_str().unwrap().to_owned();
    let again = api.request(Method::GET, &url, Some(&ann.token)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(blobs_on_disk(server.dir.path()), 1);

    let (status, _) = api.call(Method::DELETE, &url, Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let (status, body) = api.get(&url, &ann.token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("attachment_not_found")));
    let (status, _) = api.call(Method::DELETE, &url, Some(&ann.token), None).await;
    assert_eq!(status, 404);
    assert_eq!(blobs_on_disk(server.dir.path()), 0, "the blob goes with its only attachment");
    assert_eq!(temp_files(server.dir.path()), 0);

    // An attachment belongs to its document: another document's path does not reach it.
    let made = uploaded(&api, &doc, &ann, "dot.png", PNG).await;
    let other = api.create_doc(&ann.token, json!({"title": "Other"})).await;
    let (status, _) = api.get(&format!("{}/{}", path(&other), made["id"].as_str().unwrap()), &ann.token).await;
    assert_eq!(status, 404);
}

async fn types_are_sniffed_and_only_raster_images_are_shown_inline(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Files"})).await;
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(document.cookie)</script></svg>";
    let html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>";
    let cases: [(&str, &str, &[u8], &str, bool); 5] = [
        ("x.svg", "image/svg+xml", svg, "application/octet-stream", false),
        ("x.html", "text/html", html, "application/octet-stream", false),
        ("a.pdf", "image/png", b"%PDF-1.7\n%binary\n", "application/pdf", false),
        // A PNG claimed to be HTML is still a PNG.
        ("pic.html", "text/html", PNG, "image/png", true),
        ("gif", "application/octet-stream", b"GIF89a\x01\0\x01\0\0\0\0;", "image/gif", true),
    ];
    for (name, claimed, bytes, served, shown) in cases {
        let form = multipart_field("file", name, claimed, bytes);
        let (status, made) = post_form(&api, &doc, Some(&ann.token), None, form).await;
        assert_eq!(status, 201, "{made}");
        assert_eq!(made["content_type"], served, "{name}");
        let resp = download(&api, made["url"].as_str().unwrap(), Some(&ann.token)).await;
        let h = resp.headers();
        assert_eq!(h["content-type"], served, "{name}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{name}");
        assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox", "{name}");
        let disposition = h["content-disposition"].to_str().unwrap();
        let want = if shown { "inline; " } else { "attachment; " };
        assert!(disposition.starts_with(want), "{name}: {disposition}");
        assert!(disposition.contains(&format!("filename*=UTF-8''{name}")), "{name}: {disposition}");
    }
    // Without a `file` field, or not multipart at all.
    let form = multipart_field("picture", "a.png", "image/png", PNG);
    let (status, body) = post_form(&api, &doc, Some(&ann.token), None, form).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_body")), "{body}");
    let (status, body) = api.post(&path(&doc), &ann.token, json!({"file": "x"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")), "{body}");
}

/// Sends a multipart upload of `size` bytes with chunked transfer encoding (no
/// Content-Length: the server must count), answering the response's status.
async fn chunked_upload(addr: std::net::SocketAddr, doc: &str, token: &str, size: usize) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        path(doc)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let form = multipart_file("big.bin", &vec![b'x'; size]);
    // The server may answer and close before everything is sent: write errors are fine.
    for piece in form.chunks(4096) {
        let chunk = [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
        if stream.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer within 10 s");
    let line = String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned();
    line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

async fn uploads_past_the_size_limit_are_refused_whether_declared_or_streamed(db: Db) {
    let server = server_with(db, |c| c.attachments.attachment_max_bytes = 100 * 1024).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Big"})).await;
    uploaded(&api, &doc, &ann, "fits.bin", &vec![7u8; 100 * 1024]).await;
    // One byte over: counted while streamed, refused with the stable code.
    let (status, body) = upload(&api, &doc, &ann, "over.bin", &vec![7u8; 100 * 1024 + 1]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("attachment_too_large")), "{body}");
    // Far over, declared by Content-Length: refused before the body is read.
    let (status, body) = upload(&api, &doc, &ann, "huge.bin", &vec![7u8; 2 * 1024 * 1024]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("attachment_too_large")), "{body}");
    // Far over, streamed without a length.
    assert_eq!(chunked_upload(server.addr, &doc, &ann.token, 3 * 1024 * 1024).await, 413);
    assert_eq!(chunked_upload(server.addr, &doc, &ann.token, 1000).await, 201, "a small chunked upload is fine");
    let (_, list) = api.get(&path(&doc), &ann.token).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(temp_files(server.dir.path()), 0, "refused uploads leave no temporary file");
}

async fn the_workspace_quota_counts_every_attachment(db: Db) {
    let server = server_with(db, |c| c.attachments.workspace_quota_bytes = 3000).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let one = api.create_doc(&ann.token, json!({"title": "One"})).await;
    let two = api.create_doc(&ann.token, json!({"title": "Two"})).await;
    let first = uploaded(&api, &one, &ann, "a.bin", &[1u8; 1500]).await;
    // The same bytes again still count: the quota is what the workspace holds.
    uploaded(&api, &two, &ann, "a.bin", &[1u8; 1500]).await;
    let (status, body) = upload(&api, &two, &ann, "b.bin", b"x").await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("attachment_quota_exceeded")), "{body}");
    // Another workspace has its own quota.
    let (_, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Other"})).await;
    let elsewhere = api.create_doc(&ann.token, json!({"title": "E", "workspace_id": ws["id"]})).await;
    uploaded(&api, &elsewhere, &ann, "b.bin", &[2u8; 2000]).await;
    // Deleting frees the room again.
    let (status, _) = api.call(Method::DELETE, first["url"].as_str().unwrap(), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    uploaded(&api, &two, &ann, "c.bin", &[3u8; 1500]).await;
    let (status, _) = upload(&api, &one, &ann, "d.bin", b"x").await;
    assert_eq!(status, 413);

    // Uploads racing for the last of a quota: exactly as many as fit are kept (two
    // uploaders, each within the uploads one user may run at once).
    let (_, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Race"})).await;
    let raced = api.create_doc(&ann.token, json!({"title": "R", "workspace_id": ws["id"]})).await;
    let bob = api.signup("bob@example.com").await;
    let share = json!({"user_id": bob.id, "role": "editor"});
    assert_eq!(api.post(&format!("/api/v1/documents/{raced}/shares"), &ann.token, share).await.0, 200);
    let racers = (0..4u8).map(|n| {
        let (api, who, raced) = (&api, if n % 2 == 0 { &ann } else { &bob }, &raced);
        async move { upload(api, raced, who, "r.bin", &[n; 1000]).await.0 }
    });
    let mut statuses = futures_util::future::join_all(racers).await;
    statuses.sort();
    assert_eq!(statuses, [201, 201, 201, 413]);
}

async fn the_user_quota_counts_every_workspace_its_creator_made(db: Db) {
    let server = server_with(db, |c| c.attachments.user_quota_bytes = 3000).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let personal = api.create_doc(&ann.token, json!({"title": "Mine"})).await;
    uploaded(&api, &personal, &ann, "a.bin", &[1u8; 2000]).await;
    let (_, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "More"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    let more = api.create_doc(&ann.token, json!({"title": "More", "workspace_id": ws})).await;
    uploaded(&api, &more, &ann, "b.bin", &[2u8; 1000]).await;
    // A new workspace brings no new room: every workspace ann made counts together.
    let (_, other) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Yet more"})).await;
    let extra = api.create_doc(&ann.token, json!({"title": "X", "workspace_id": other["id"]})).await;
    let (status, body) = upload(&api, &extra, &ann, "c.bin", b"x").await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("attachment_quota_exceeded")), "{body}");
    // It is the workspace creator's: bob's uploads into ann's workspace count for ann,
    // and his own workspace has his own quota.
    let share = json!({"user_id": bob.id, "role": "editor"});
    assert_eq!(api.post(&format!("/api/v1/documents/{more}/shares"), &ann.token, share).await.0, 200);
    let (status, _) = upload(&api, &more, &bob, "d.bin", b"y").await;
    assert_eq!(status, 413);
    let his = api.create_doc(&bob.token, json!({"title": "His"})).await;
    uploaded(&api, &his, &bob, "e.bin", &[3u8; 2500]).await;
    // Deleting a workspace gives its bytes back.
    let (status, _) = api.call(Method::DELETE, &format!("/api/v1/workspaces/{ws}"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    uploaded(&api, &extra, &ann, "c.bin", &[4u8; 1000]).await;
    let (status, _) = upload(&api, &extra, &ann, "f.bin", b"z").await;
    assert_eq!(status, 413);
}

/// Starts a chunked upload and sends only the start of its form, holding it open (the
/// server is then receiving it) until the stream is dropped.
async fn held_upload(addr: std::net::SocketAddr, doc: &str, token: &str) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n",
        path(doc)
    );
    let form = multipart_file("held.bin", &[0u8; 4096]);
    let piece = &form[..form.len() / 2];
    let chunk = [head.as_bytes(), format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
    stream.write_all(&chunk).await.unwrap();
    stream
}

async fn uploads_at_once_are_bounded_per_user(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Busy"})).await;
    let share = json!({"user_id": bob.id, "role": "editor"});
    assert_eq!(api.post(&format!("/api/v1/documents/{doc}/shares"), &ann.token, share).await.0, 200);
    let held = [held_upload(server.addr, &doc, &ann.token).await, held_upload(server.addr, &doc, &ann.token).await];
    // Once the server is receiving both (each has staged a file), a third of ann's is
    // refused at once.
    let receiving =
        common::eventually_async(Duration::from_secs(5), || async { temp_files(server.dir.path()) }, |n| n == 2).await;
    assert!(receiving, "both held uploads are being received");
    let (status, refused) = upload(&api, &doc, &ann, "third.bin", b"third").await;
    assert_eq!(status, 429, "{refused}");
    assert_eq!(refused["error"]["code"].as_str(), Some("uploads_running"), "{refused}");
    // Another user's upload is not held up.
    uploaded(&api, &doc, &bob, "bob.bin", b"bob").await;
    // A dropped upload gives its slot back.
    drop(held);
    let accepted = common::eventually_async(
        Duration::from_secs(5),
        || upload(&api, &doc, &ann, "later.bin", b"later"),
        |(status, _)| status == 201,
    )
    .await;
    assert!(accepted, "ann may upload again once her uploads have ended");
    let cleaned =
        common::eventually_async(Duration::from_secs(5), || async { temp_files(server.dir.path()) }, |n| n == 0).await;
    assert!(cleaned, "the cut-off uploads left no temporary file");
}

async fn the_same_bytes_are_stored_once_and_removed_with_their_last_attachment(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let one = api.create_doc(&ann.token, json!({"title": "One"})).await;
    let two = api.create_doc(&ann.token, json!({"title": "Two"})).await;
    let a = uploaded(&api, &one, &ann, "a.png", PNG).await;
    let b = uploaded(&api, &two, &ann, "b.png", PNG).await;
    uploaded(&api, &two, &ann, "other.bin", b"other bytes").await;
    assert_ne!(a["id"], b["id"]);
    assert_eq!(blobs_on_disk(server.dir.path()), 2, "two distinct contents, three attachments");
    let (status, _) = api.call(Method::DELETE, a["url"].as_str().unwrap(), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(blobs_on_disk(server.dir.path()), 2, "still used by the other attachment");
    assert_eq!(download(&api, b["url"].as_str().unwrap(), Some(&ann.token)).await.bytes().await.unwrap(), PNG);
    let (status, _) = api.call(Method::DELETE, b["url"].as_str().unwrap(), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(blobs_on_disk(server.dir.path()), 1);
}

async fn deleting_a_document_workspace_or_account_for_good_removes_its_files(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    // The first account is the instance admin, who may not leave; ann is the second.
    api.signup("root@example.com").await;
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Doomed"})).await;
    let kept = api.create_doc(&ann.token, json!({"title": "Kept"})).await;
    uploaded(&api, &doc, &ann, "a.png", PNG).await;
    uploaded(&api, &doc, &ann, "b.bin", b"only here").await;
    let shared = uploaded(&api, &kept, &ann, "a.png", PNG).await;
    assert_eq!(blobs_on_disk(server.dir.path()), 2);
    // The trash keeps them (the document can come back).
    let (status, _) = api.call(Method::DELETE, &format!("/api/v1/documents/{doc}"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(blobs_on_disk(server.dir.path()), 2);
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/documents/{doc}?permanent=true"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(blobs_on_disk(server.dir.path()), 1, "only the blob another document shares is left");
    assert_eq!(download(&api, shared["url"].as_str().unwrap(), Some(&ann.token)).await.status(), 200);

    let (_, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Temp"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    let inside = api.create_doc(&ann.token, json!({"title": "In", "workspace_id": ws})).await;
    uploaded(&api, &inside, &ann, "c.bin", b"workspace bytes").await;
    assert_eq!(blobs_on_disk(server.dir.path()), 2);
    let (status, _) = api.call(Method::DELETE, &format!("/api/v1/workspaces/{ws}"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(blobs_on_disk(server.dir.path()), 1);

    // Deleting the account deletes the workspace only it was in, and that one's files.
    let body = json!({"password": "correct horse battery"});
    let (status, answer) = api.call(Method::DELETE, "/api/v1/users/me", Some(&ann.token), Some(body)).await;
    assert_eq!(status, 204, "{answer}");
    assert_eq!(blobs_on_disk(server.dir.path()), 0);
}

async fn readers_download_and_only_writers_upload(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Shared"})).await;
    let share = |role: &'static str| json!({"email": bob.email, "role": role});
    let (status, _) = api.post(&format!("/api/v1/documents/{doc}/shares"), &ann.token, share("viewer")).await;
    assert_eq!(status, 200);
    let made = uploaded(&api, &doc, &ann, "a.png", PNG).await;
    let url = made["url"].as_str().unwrap().to_owned();

    // A viewer reads and downloads, but cannot attach or delete.
    assert_eq!(download(&api, &url, Some(&bob.token)).await.status(), 200);
    let (status, body) = upload(&api, &doc, &bob, "b.png", PNG).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));
    let (status, _) = api.call(Method::DELETE, &url, Some(&bob.token), None).await;
    assert_eq!(status, 403);

    // A view link downloads with `?link=` (what an <img> of a link holder uses).
    let (_, link) = api.post(&format!("/api/v1/documents/{doc}/links"), &ann.token, json!({"role": "viewer"})).await;
    let token = link["token"].as_str().unwrap();
    let resp = download(&api, &format!("{url}?link={token}"), None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), PNG);
    let (status, _) = post_form(&api, &doc, None, Some(token), multipart_file("c.png", PNG)).await;
    assert_eq!(status, 403);
    // No credentials, a wrong link, a stranger.
    assert_eq!(download(&api, &url, None).await.status(), 401);
    assert_eq!(download(&api, &format!("{url}?link=nope"), None).await.status(), 401);
    let eve = api.signup("eve@example.com").await;
    assert_eq!(download(&api, &url, Some(&eve.token)).await.status(), 404);
    let (status, _) = upload(&api, &doc, &eve, "e.png", PNG).await;
    assert_eq!(status, 404);

    // Personal tokens: `read` downloads only, `write` attaches.
    let (_, read) = api.post("/api/v1/users/me/tokens", &ann.token, json!({"name": "r", "scopes": ["read"]})).await;
    let read = read["token"].as_str().unwrap();
    assert_eq!(download(&api, &url, Some(read)).await.status(), 200);
    let (status, body) = post_form(&api, &doc, Some(read), None, multipart_file("r.png", PNG)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("read_only_token")));
    let (_, write) = api.post("/api/v1/users/me/tokens", &ann.token, json!({"name": "w", "scopes": ["write"]})).await;
    let (status, _) = post_form(&api, &doc, write["token"].as_str(), None, multipart_file("w.png", PNG)).await;
    assert_eq!(status, 201);

    // Bob as editor attaches; once his share is removed he sees nothing.
    let (status, _) = api.post(&format!("/api/v1/documents/{doc}/shares"), &ann.token, share("editor")).await;
    assert_eq!(status, 200);
    uploaded(&api, &doc, &bob, "bob.png", PNG).await;
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/documents/{doc}/shares/{}", bob.id), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(download(&api, &url, Some(&bob.token)).await.status(), 404);
    let (status, _) = upload(&api, &doc, &bob, "again.png", PNG).await;
    assert_eq!(status, 404);
}
