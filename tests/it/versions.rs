//! Version history and templates over real HTTP and real sockets, each case on SQLite
//! and on Postgres: automatic versions on an interval and when a room closes, with the
//! users who contributed; named versions, their content, rendering and diffs; restore as a
//! forward edit while an editor types; version events; templates.

use crate::common;

use std::time::Duration;

use common::api::{Account, Api, Db, server, server_with};
use common::client::Client;
use common::sse::Sse;
use common::{TestServer, eventually_async};
use reqwest::Method;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(15);

on_both_databases!(
    automatic_versions_come_on_an_interval_naming_who_edited,
    a_version_is_saved_when_a_room_closes_after_edits,
    named_versions_read_render_and_diff_against_each_other_and_the_current_text,
    restore_is_a_forward_edit_that_keeps_what_an_editor_types_meanwhile,
    documents_start_from_templates,
);

async fn versions(api: &Api, who: &Account, doc: &str) -> Vec<Value> {
    let (status, body) = api.get(&format!("/api/v1/documents/{doc}/versions"), &who.token).await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn editor(server: &TestServer, doc: &str, who: &Account) -> Client {
    let mut c = Client::connect(&server.ws_url(doc, &who.token)).await.unwrap();
    c.sync().await;
    c
}

/// ann owns a document shared with bob as editor.
async fn shared_doc(api: &Api, text: &str) -> (Account, Account, String) {
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Notes", "content": text})).await;
    let (status, _) = api
        .post(&format!("/api/v1/documents/{doc}/shares"), &ann.token, json!({"email": bob.email, "role": "editor"}))
        .await;
    assert_eq!(status, 200);
    (ann, bob, doc)
}

async fn automatic_versions_come_on_an_interval_naming_who_edited(db: Db) {
    let server = server_with(db, |c| {
        c.room.version_interval = Duration::from_secs(1);
        c.room.grace = Duration::from_millis(300);
    })
    .await;
    let api = Api::new(&server);
    let (ann, bob, doc) = shared_doc(&api, "start\n").await;
    let mut a = editor(&server, &doc, &ann).await;
    let mut b = editor(&server, &doc, &bob).await;
    // Kept open: the room stays, and only the interval saves versions.
    a.append_acked("ann was here\n").await;
    b.append_acked("bob too\n").await;
    let named = |v: &Value| {
        let mut names: Vec<String> =
            v["contributors"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect();
        names.sort();
        names
    };
    // The interval may fall between the two edits: the automatic versions name both users
    // between them, and the newest holds both edits.
    let everyone = |vs: &Vec<Value>| {
        let mut all: Vec<String> = vs.iter().filter(|v| v["kind"] == "auto").flat_map(named).collect();
        all.sort();
        all.dedup();
        all
    };
    let with_both = eventually_async(
        T,
        || versions(&api, &ann, &doc),
        |vs| everyone(&vs) == ["ann", "bob"] && vs[0]["bytes"].as_u64() == Some(27),
    )
    .await;
    let listed = versions(&api, &ann, &doc).await;
    assert!(with_both, "automatic versions naming both, the newest with both edits: {listed:?}");
    // Nothing new: three more intervals save nothing identical.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let count = versions(&api, &ann, &doc).await.len();
    assert_eq!(count, listed.len(), "no identical consecutive versions");
}

async fn a_version_is_saved_when_a_room_closes_after_edits(db: Db) {
    // An interval far away: only a close can save it. A grace long enough that the room
    // opened by creating the document stays open until the editor joins.
    let server = server_with(db, |c| {
        c.room.version_interval = Duration::from_secs(3600);
        c.room.grace = Duration::from_secs(2);
    })
    .await;
    let api = Api::new(&server);
    let (ann, bob, doc) = shared_doc(&api, "start\n").await;
    let mut b = editor(&server, &doc, &bob).await;
    b.append_acked("last words\n").await;
    drop(b);
    let saved =
        eventually_async(T, || versions(&api, &ann, &doc), |vs| vs.first().is_some_and(|v| v["bytes"] == 17)).await;
    let listed = versions(&api, &ann, &doc).await;
    assert!(saved, "a version once the room closed: {listed:?}");
    // ann wrote the first text (creating the document), bob the rest (one version, or two
    // if the room closed once before bob joined on a slow machine).
    let mut names: Vec<&str> = listed
        .iter()
        .flat_map(|v| v["contributors"].as_array().unwrap())
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!((listed[0]["kind"].as_str(), names), (Some("auto"), vec!["ann", "bob"]));
    let (_, v) =
        api.get(&format!("/api/v1/documents/{doc}/versions/{}", listed[0]["id"].as_str().unwrap()), &ann.token).await;
    assert_eq!(v["content"], "start\nlast words\n");
    assert_eq!(listed[0]["bytes"].as_u64(), Some(17));
}

async fn named_versions_read_render_and_diff_against_each_other_and_the_current_text(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let (ann, bob, doc) = shared_doc(&api, "# Plan\n\nstep one\nstep two\nstep three\n").await;
    let mut events = Sse::open(&api.base, &doc, &bob.token, None).await;
    let path = format!("/api/v1/documents/{doc}/versions");
    let (status, first) = api.post(&path, &ann.token, json!({"name": "Before review"})).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!((first["kind"].as_str(), first["name"].as_str()), (Some("named"), Some("Before review")));
    assert_eq!(first["created_by"]["name"], "ann");
    let event = events.wait_for(T, "version.created").await;
    assert_eq!(event.data["version_id"], first["id"]);

    assert_eq!(api.put_content(&bob.token, &doc, "# Plan\n\nstep one\nstep 2\nstep three\nstep four\n").await, 200);
    let (_, second) = api.post(&path, &bob.token, json!({"name": "After review"})).await;
    let (v1, v2) = (first["id"].as_str().unwrap(), second["id"].as_str().unwrap());
    assert_eq!(second["contributors"], json!([{"id": bob.id, "name": "bob"}]));

    let (_, read) = api.get(&format!("{path}/{v1}"), &bob.token).await;
    assert_eq!(read["content"], "# Plan\n\nstep one\nstep two\nstep three\n");
    let resp = api.request(Method::GET, &format!("{path}/{v1}/render"), Some(&bob.token)).send().await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(resp.text().await.unwrap().contains("<h1"));

    let diff = |against: String, json: bool| {
        let mut req = api.request(Method::GET, &format!("{path}/{v1}/diff?against={against}"), Some(&ann.token));
        if json {
            req = req.header("accept", "application/json");
        }
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.text().await.unwrap()
        }
    };
    let unified = diff(v2.to_owned(), false).await;
    let want = format!(
        "--- {v1}\n+++ {v2}\n@@ -1,5 +1,6 @@\n # Plan\n \n step one\n-step two\n+step 2\n step three\n+step four\n"
    );
    assert_eq!(unified, want);
    assert_eq!(diff("current".into(), false).await, want.replace(&format!("+++ {v2}"), "+++ current"));
    let hunks: Value = serde_json::from_str(&diff(v2.to_owned(), true).await).unwrap();
    let changed: Vec<&str> = hunks["hunks"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["words"].as_array().unwrap())
        .filter(|w| w["changed"] == true)
        .map(|w| w["text"].as_str().unwrap())
        .collect();
    assert_eq!(changed, ["two", "2"], "words marked inside the changed line; a new line is inserted whole");
    let last = hunks["hunks"][0]["lines"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["op"].as_str(), last["text"].as_str()), (Some("insert"), Some("step four")));

    let (status, body) = api.get(&format!("{path}/nope"), &ann.token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("version_not_found")));
    let (status, _) = api.get(&format!("{path}/{v1}/diff?against=nope"), &ann.token).await;
    assert_eq!(status, 404);
    let (status, body) = api.post(&path, &ann.token, json!({"name": " "})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_field")));
    let (status, body) = api.get(&format!("{path}?cursor=garbage"), &ann.token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_cursor")));
    let (_, page) = api.get(&format!("{path}?limit=1"), &ann.token).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = api.get(&format!("{path}?limit=1&cursor={cursor}"), &ann.token).await;
    assert_eq!(rest["items"][0]["id"].as_str(), Some(v1));
    assert!(rest["next_cursor"].is_null());
}

async fn restore_is_a_forward_edit_that_keeps_what_an_editor_types_meanwhile(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let (ann, bob, doc) = shared_doc(&api, "alpha\nbeta\ngamma\n").await;
    let path = format!("/api/v1/documents/{doc}/versions");
    let (_, old) = api.post(&path, &ann.token, json!({"name": "three lines"})).await;
    assert_eq!(api.put_content(&ann.token, &doc, "alpha\nBETA!\ngamma\n").await, 200);
    // bob is connected and types at the end while ann restores: his edit is made before
    // the restore reaches him and arrives after it.
    let mut typing = editor(&server, &doc, &bob).await;
    let concurrent = {
        let text = typing.doc.get_or_insert_text("content");
        let mut txn = yrs::Transact::transact_mut(&typing.doc);
        let end = yrs::Text::len(&text, &txn);
        yrs::Text::insert(&text, &mut txn, end, "delta\n");
        txn.encode_update_v1()
    };
    let (status, restored) =
        api.post(&format!("{path}/{}/restore", old["id"].as_str().unwrap()), &ann.token, json!({})).await;
    typing.send_raw(tandem_protocol::encode_update(&concurrent)).await;
    assert_eq!(status, 200, "{restored}");
    assert!(restored["etag"].as_str().is_some());
    assert_eq!(restored["version"]["kind"], "restore");
    typing.wait_text(T, |t| t == "alpha\nbeta\ngamma\ndelta\n").await;
    assert_eq!(api.content(&ann.token, &doc).await, "alpha\nbeta\ngamma\ndelta\n");
    // bob keeps typing into the restored text: nothing was reset under him.
    typing.append_acked("epsilon\n").await;
    assert_eq!(api.content(&ann.token, &doc).await, "alpha\nbeta\ngamma\ndelta\nepsilon\n");
    let kinds: Vec<String> =
        versions(&api, &ann, &doc).await.iter().map(|v| v["kind"].as_str().unwrap().into()).collect();
    assert_eq!(kinds[0], "restore");
}

async fn documents_start_from_templates(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let (ann, bob, _) = shared_doc(&api, "x").await;
    let carol = api.signup("carol@example.com").await;
    let template = api
        .create_doc(&ann.token, json!({"title": "Meeting notes", "content": "## Agenda\n", "tags": ["meeting"]}))
        .await;
    let plain = api.create_doc(&ann.token, json!({"title": "Not a template"})).await;
    let (status, marked) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/documents/{template}"),
            Some(&ann.token),
            Some(json!({"is_template": true})),
        )
        .await;
    assert_eq!((status, marked["is_template"].as_bool()), (200, Some(true)));
    let (_, listed) = api.get("/api/v1/documents?template=true", &ann.token).await;
    let ids: Vec<&str> = listed["documents"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [template.as_str()]);

    let (status, made) = api.post("/api/v1/documents", &ann.token, json!({"template_id": template})).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!((made["title"].as_str(), made["tags"].clone()), (Some("Meeting notes"), json!(["meeting"])));
    assert_eq!(made["is_template"], false);
    assert_eq!(api.content(&ann.token, made["id"].as_str().unwrap()).await, "## Agenda\n");
    let (_, titled) =
        api.post("/api/v1/documents", &ann.token, json!({"template_id": template, "title": "Monday"})).await;
    assert_eq!(titled["title"], "Monday");

    for (who, body, status, code) in [
        (&ann, json!({"template_id": plain}), 422, "invalid_field"),
        (&ann, json!({"template_id": template, "content": "x"}), 422, "invalid_field"),
        (&carol, json!({"template_id": template}), 404, "document_not_found"),
        (&ann, json!({}), 422, "invalid_field"),
    ] {
        let (got, answer) = api.post("/api/v1/documents", &who.token, body.clone()).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{body}");
    }
    // Only those who may edit a document make it a template.
    let (status, _) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/documents/{template}"),
            Some(&bob.token),
            Some(json!({"is_template": false})),
        )
        .await;
    assert_eq!(status, 404, "bob has no access to this one");
}
