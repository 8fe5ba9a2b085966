//! A duplicate, and a document made from a template, get attachments of their own, each
//! case on SQLite and Postgres: the content links to the copies, whoever can read the
//! copy downloads them (without access to the source), they outlive the source's files,
//! no blob is stored twice, and the target's quota counts them.

use crate::attachments::{PNG, blobs_on_disk, download, upload, uploaded};
use crate::common;

use common::api::{Api, Db, server, server_with};
use reqwest::Method;
use serde_json::{Value, json};

on_both_databases!(
    a_duplicate_links_to_copies_of_the_attachments_that_outlive_the_source,
    a_document_made_from_a_template_gets_its_attachments,
    a_duplicate_over_the_quota_is_refused_and_leaves_nothing_behind,
);

async fn attachments_of(api: &Api, doc: &str, token: &str) -> Vec<Value> {
    let (status, list) = api.get(&format!("/api/v1/documents/{doc}/attachments"), token).await;
    assert_eq!(status, 200, "{list}");
    list["items"].as_array().unwrap().clone()
}

async fn a_duplicate_links_to_copies_of_the_attachments_that_outlive_the_source(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Pictures"})).await;
    let image = uploaded(&api, &doc, &ann, "a.png", PNG).await;
    let file = uploaded(&api, &doc, &ann, "notes.bin", b"some bytes").await;
    let (image_url, file_url) = (image["url"].as_str().unwrap(), file["url"].as_str().unwrap());
    // A link to another document's file stays as it is.
    let elsewhere = "/api/v1/documents/0123456789abcdef0123/attachments/0123456789abcdef0123";
    let text = format!("![a]({image_url})\n[notes](http://127.0.0.1{file_url}) ![x]({elsewhere})\n{image_url}\n");
    assert_eq!(api.put_content(&ann.token, &doc, &text).await, 200);

    // Bob may read the source; his copy goes to his own workspace.
    let (status, _) = api
        .post(&format!("/api/v1/documents/{doc}/shares"), &ann.token, json!({"user_id": bob.id, "role": "viewer"}))
        .await;
    assert_eq!(status, 200);
    let (status, copy) = api.post(&format!("/api/v1/documents/{doc}/duplicate"), &bob.token, json!({})).await;
    assert_eq!(status, 201, "{copy}");
    let copy = copy["id"].as_str().unwrap();

    let files = attachments_of(&api, copy, &bob.token).await;
    assert_eq!(files.len(), 2);
    let by_name = |name: &str| files.iter().find(|f| f["name"] == name).unwrap().clone();
    let (image2, file2) = (by_name("a.png"), by_name("notes.bin"));
    assert_ne!(image2["id"], image["id"]);
    assert_eq!(image2["created_by"].as_str(), Some(bob.id.as_str()));
    let (image2_url, file2_url) = (image2["url"].as_str().unwrap(), file2["url"].as_str().unwrap());
    let want = format!("![a]({image2_url})\n[notes](http://127.0.0.1{file2_url}) ![x]({elsewhere})\n{image2_url}\n");
    assert_eq!(api.content(&bob.token, copy).await, want);
    assert_eq!(blobs_on_disk(server.dir.path()), 2, "the copies share the source's blobs");

    // The source goes for good, and Bob's access with it: his copy's files stay his.
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/documents/{doc}?permanent=true"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let (status, _) = api.get(image_url, &bob.token).await;
    assert_eq!(status, 404);
    assert_eq!(download(&api, image2_url, Some(&bob.token)).await.bytes().await.unwrap(), PNG);
    assert_eq!(download(&api, file2_url, Some(&bob.token)).await.bytes().await.unwrap(), &b"some bytes"[..]);
    assert_eq!(blobs_on_disk(server.dir.path()), 2, "still used by the copies");
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/documents/{copy}?permanent=true"), Some(&bob.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(blobs_on_disk(server.dir.path()), 0, "gone with their last attachment");
}

async fn a_document_made_from_a_template_gets_its_attachments(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let template = api.create_doc(&ann.token, json!({"title": "Report"})).await;
    let logo = uploaded(&api, &template, &ann, "logo.png", PNG).await;
    let logo_url = logo["url"].as_str().unwrap();
    assert_eq!(api.put_content(&ann.token, &template, &format!("![logo]({logo_url})\n")).await, 200);
    let path = format!("/api/v1/documents/{template}");
    let (status, _) = api.call(Method::PATCH, &path, Some(&ann.token), Some(json!({"is_template": true}))).await;
    assert_eq!(status, 200);

    let made = api.create_doc(&ann.token, json!({"template_id": template})).await;
    let files = attachments_of(&api, &made, &ann.token).await;
    assert_eq!(files.len(), 1);
    let url = files[0]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("/api/v1/documents/{made}/attachments/")), "{url}");
    assert_eq!(api.content(&ann.token, &made).await, format!("![logo]({url})\n"));
    assert_eq!(download(&api, url, Some(&ann.token)).await.bytes().await.unwrap(), PNG);
}

async fn a_duplicate_over_the_quota_is_refused_and_leaves_nothing_behind(db: Db) {
    let server = server_with(db, |c| c.attachments.workspace_quota_bytes = 3000).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Big"})).await;
    uploaded(&api, &doc, &ann, "a.bin", &[7u8; 1000]).await;
    uploaded(&api, &doc, &ann, "b.bin", &[8u8; 1000]).await;

    let (status, body) = api.post(&format!("/api/v1/documents/{doc}/duplicate"), &ann.token, json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("attachment_quota_exceeded")), "{body}");
    let (_, list) = api.get("/api/v1/documents", &ann.token).await;
    assert_eq!(list["documents"].as_array().map(Vec::len), Some(1), "no half-made copy: {list}");

    // With one file gone the copy fits, and the copy's bytes count: 2,000 of 3,000 used.
    let first = attachments_of(&api, &doc, &ann.token).await[0]["url"].as_str().unwrap().to_owned();
    let (status, _) = api.call(Method::DELETE, &first, Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let (status, copy) = api.post(&format!("/api/v1/documents/{doc}/duplicate"), &ann.token, json!({})).await;
    assert_eq!(status, 201, "{copy}");
    let (status, body) = upload(&api, &doc, &ann, "c.bin", &[9u8; 1001]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("attachment_quota_exceeded")), "{body}");
}
