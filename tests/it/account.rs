//! The account's own data: an export (a zip of Markdown files and a manifest, parsed
//! here) and deletion (confirmed by password, refused for a workspace's last owner, then
//! closing the account's sockets and leaving shared workspaces to their other owners).

use crate::common;

use std::io::Read;
use std::time::Duration;

use common::Client;
use common::api::{Api, BOUNDARY, Db, multipart_file, server};
use reqwest::Method;
use serde_json::{Value, json};

use crate::profiles::join;

on_both_databases!(
    an_export_holds_every_readable_document_and_a_manifest,
    one_export_runs_at_a_time_per_user,
    deleting_an_account_takes_its_password_and_spares_shared_workspaces,
);

const PASSWORD: &str = "correct horse battery";

async fn export(api: &Api, token: &str) -> zip::ZipArchive<std::io::Cursor<Vec<u8>>> {
    let resp = api.request(Method::GET, "/api/v1/users/me/export", Some(token)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/zip");
    let bytes = resp.bytes().await.unwrap().to_vec();
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a whole zip")
}

fn entry(zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> String {
    let mut text = String::new();
    zip.by_name(name).unwrap_or_else(|e| panic!("{name}: {e}")).read_to_string(&mut text).unwrap();
    text
}

async fn an_export_holds_every_readable_document_and_a_manifest(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let (_, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Team Notes"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    let mine =
        api.create_doc(&ann.token, json!({"title": "Plan", "content": "# Plan\n\nShip it.\n", "tags": ["q1"]})).await;
    let team =
        api.create_doc(&ann.token, json!({"title": "Team doc", "content": "team text\n", "workspace_id": ws})).await;
    let theirs = api.create_doc(&bob.token, json!({"title": "Bob's", "content": "from bob\n"})).await;
    let (status, _) = api
        .post(&format!("/api/v1/documents/{theirs}/shares"), &bob.token, json!({"user_id": ann.id, "role": "viewer"}))
        .await;
    assert_eq!(status, 200);
    let unseen = api.create_doc(&bob.token, json!({"title": "Private", "content": "bob only\n"})).await;
    let (status, thread) =
        api.post(&format!("/api/v1/documents/{mine}/comments"), &ann.token, json!({"body": "really?"})).await;
    assert_eq!(status, 201, "{thread}");
    let thread_id = thread["id"].as_str().unwrap().to_owned();
    let (status, _) = api
        .post(&format!("/api/v1/documents/{mine}/comments/{thread_id}/replies"), &ann.token, json!({"body": "yes"}))
        .await;
    assert_eq!(status, 201);
    // A live edit, durable before the export starts.
    let mut client = Client::connect(&server.ws_url(&team, &ann.token)).await.unwrap();
    client.sync().await;
    client.append_acked("typed live\n").await;

    let mut zip = export(&api, &ann.token).await;
    let manifest: Value = serde_json::from_str(&entry(&mut zip, "manifest.json")).unwrap();
    assert_eq!(manifest["user"].as_str(), Some(&*ann.id));
    let docs = manifest["documents"].as_array().unwrap();
    let ids: Vec<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(docs.len(), 3, "{ids:?}");
    assert!(!ids.contains(&&*unseen), "a document ann cannot read is not exported");
    let find = |id: &str| docs.iter().find(|d| d["id"] == id).unwrap_or_else(|| panic!("{id} in the manifest"));
    let plan = find(&mine);
    assert_eq!((plan["title"].as_str(), plan["tags"].clone()), (Some("Plan"), json!(["q1"])));
    assert_eq!(entry(&mut zip, plan["path"].as_str().unwrap()), "# Plan\n\nShip it.\n");
    // Threads are an entry of their own per document; the manifest only says where.
    assert!(plan.get("threads").is_none(), "{plan}");
    let comments = plan["comments"].as_str().unwrap().to_owned();
    assert_eq!(comments, format!("comments/{mine}.json"));
    let threads: Value = serde_json::from_str(&entry(&mut zip, &comments)).unwrap();
    let threads = threads.as_array().unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0]["id"].as_str(), Some(&*thread_id));
    let bodies: Vec<&str> =
        threads[0]["messages"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["really?", "yes"]);
    let team_doc = find(&team);
    assert_eq!(
        (team_doc["workspace_id"].as_str(), team_doc["workspace_name"].as_str()),
        (Some(&*ws), Some("Team Notes"))
    );
    assert!(team_doc["path"].as_str().unwrap().starts_with("team-notes/"));
    assert_eq!(entry(&mut zip, team_doc["path"].as_str().unwrap()), "team text\ntyped live\n");
    let shared = find(&theirs);
    assert_eq!(shared["workspace_name"], Value::Null);
    assert_eq!(entry(&mut zip, shared["path"].as_str().unwrap()), "from bob\n");
    assert_eq!(shared["comments"], Value::Null, "no threads, no entry");
    assert_eq!(zip.len(), 5, "three documents, one's threads and the manifest");
}

async fn one_export_runs_at_a_time_per_user(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    // Text that does not compress, more than the response buffers hold, so the first
    // export waits for its reader.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: String = (0..3 * 1024 * 1024 / 16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{x:016x}")
        })
        .collect();
    let doc = api.create_doc(&ann.token, json!({"title": "Big"})).await;
    assert_eq!(api.put_content(&ann.token, &doc, &noise).await, 200);

    let first = api.request(Method::GET, "/api/v1/users/me/export", Some(&ann.token)).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let (status, body) = api.get("/api/v1/users/me/export", &ann.token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("export_running")));
    // Another user's export is not held up.
    let (status, _) = api.get("/api/v1/users/me/export", &bob.token).await;
    assert_eq!(status, 200);
    let bytes = first.bytes().await.unwrap().to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let manifest: Value = serde_json::from_str(&entry(&mut zip, "manifest.json")).unwrap();
    assert_eq!(entry(&mut zip, manifest["documents"][0]["path"].as_str().unwrap()).len(), noise.len());
    // Once it has ended, the next one may start.
    let again = common::eventually_async(
        Duration::from_secs(10),
        || api.get("/api/v1/users/me/export", &ann.token),
        |(status, _)| status == 200,
    )
    .await;
    assert!(again, "the slot is given back when the export ends");
}

async fn delete_me(api: &Api, token: &str, body: Value) -> (u16, Value) {
    api.call(Method::DELETE, "/api/v1/users/me", Some(token), Some(body)).await
}

async fn deleting_an_account_takes_its_password_and_spares_shared_workspaces(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    // The first account administers the instance, and is the only one that does.
    let root = api.signup("root@example.com").await;
    let (status, body) = delete_me(&api, &root.token, json!({"password": PASSWORD})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("last_admin")), "{body}");
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let (_, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Team"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    join(&api, &ws, &ann, &bob, "editor").await;
    let team = api.create_doc(&ann.token, json!({"title": "Team doc", "content": "kept\n", "workspace_id": ws})).await;
    let personal = api.create_doc(&ann.token, json!({"title": "Ann's", "content": "gone\n"})).await;
    let (status, _) = api
        .post(&format!("/api/v1/documents/{personal}/shares"), &ann.token, json!({"user_id": bob.id, "role": "viewer"}))
        .await;
    assert_eq!(status, 200);
    let (status, thread) =
        api.post(&format!("/api/v1/documents/{team}/comments"), &ann.token, json!({"body": "mine"})).await;
    assert_eq!(status, 201, "{thread}");
    let (status, _) =
        api.post(&format!("/api/v1/documents/{team}/comments"), &bob.token, json!({"body": "bob's"})).await;
    assert_eq!(status, 201);
    let uploaded = api
        .request(Method::POST, &format!("/api/v1/documents/{team}/attachments"), Some(&ann.token))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(multipart_file("notes.txt", b"ann's notes"))
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    let (_, feed) = api.get("/api/v1/changes", &bob.token).await;
    let cursor = feed["next"].as_str().unwrap().to_owned();

    // Confirmation.
    let (status, body) = delete_me(&api, &ann.token, json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_field")), "{body}");
    let (status, body) = delete_me(&api, &ann.token, json!({"password": "not it"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("wrong_password")), "{body}");
    let (status, body) = api.call(Method::DELETE, "/api/v1/users/me", None, Some(json!({"password": PASSWORD}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("missing_token")));
    // The only owner of a workspace bob is in.
    let (status, body) = delete_me(&api, &ann.token, json!({"password": PASSWORD})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("last_owner")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains(&ws), "{body}");
    let (status, _) = api.get("/api/v1/users/me", &ann.token).await;
    assert_eq!(status, 200, "a refused deletion changes nothing");

    let (status, _) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/workspaces/{ws}/members/{}", bob.id),
            Some(&ann.token),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(status, 200);
    let mut socket = Client::connect(&server.ws_url(&team, &ann.token)).await.unwrap();
    socket.sync().await;
    let (status, body) = delete_me(&api, &ann.token, json!({"password": PASSWORD})).await;
    assert_eq!(status, 204, "{body}");

    // Its open socket closes at once, as for a revoked token; it cannot sign in again.
    assert_eq!(socket.wait_close(Duration::from_secs(5)).await, Some(4401));
    let (status, body) = api
        .call(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": "ann@example.com", "password": PASSWORD})))
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_credentials")));
    let (status, _) =
        api.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": ann.refresh}))).await;
    assert_eq!(status, 401);
    let (status, _) = api.get(&format!("/api/v1/users/{}", ann.id), &bob.token).await;
    assert_eq!(status, 404);
    // Recorded, and her id is kept nowhere but there: her attachment stays, unattributed.
    let (status, audit) = api.get("/api/v1/admin/audit?action=account.deleted", &root.token).await;
    assert_eq!(status, 200, "{audit}");
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{audit}");
    assert_eq!((events[0]["actor_id"].as_str(), events[0]["target_id"].as_str()), (Some(&*ann.id), Some(&*ann.id)));
    let (status, files) = api.get(&format!("/api/v1/documents/{team}/attachments"), &bob.token).await;
    assert_eq!(status, 200, "{files}");
    assert_eq!(files["items"][0]["name"].as_str(), Some("notes.txt"), "{files}");
    assert_eq!(files["items"][0]["created_by"], Value::Null, "{files}");

    // The shared workspace is bob's, with its document (now his) and his thread only.
    let (status, members) = api.get(&format!("/api/v1/workspaces/{ws}/members"), &bob.token).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = members.as_array().unwrap().iter().map(|m| m["user"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [&*bob.id]);
    let (status, doc) = api.get(&format!("/api/v1/documents/{team}"), &bob.token).await;
    assert_eq!(status, 200);
    assert_eq!(doc["owner_id"].as_str(), Some(&*bob.id));
    assert_eq!(api.content(&bob.token, &team).await, "kept\n");
    let (_, comments) = api.get(&format!("/api/v1/documents/{team}/comments"), &bob.token).await;
    let bodies: Vec<String> = comments.to_string().matches("bob's").map(str::to_owned).collect();
    assert!(!comments.to_string().contains("\"mine\""), "ann's thread went with her: {comments}");
    assert_eq!(bodies.len(), 1, "{comments}");
    // Her personal document went with her account; bob's feed says so.
    let (status, _) = api.get(&format!("/api/v1/documents/{personal}"), &bob.token).await;
    assert_eq!(status, 404);
    let (status, feed) = api.get(&format!("/api/v1/changes?since={cursor}"), &bob.token).await;
    assert_eq!(status, 200, "{feed}");
    let gone = feed["changes"].as_array().unwrap().iter().find(|c| c["document_id"] == personal.as_str());
    assert_eq!(gone.expect("the deletion is in the feed")["kind"].as_str(), Some("deleted"));
    // The email can make a new account.
    let again = api.signup("ann@example.com").await;
    assert_ne!(again.id, ann.id);
}
