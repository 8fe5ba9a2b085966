//! Comments over real HTTP and real sockets, each case on SQLite and on Postgres:
//! threads, replies, edits, resolve and delete with who may do each; anchors that follow
//! concurrent edits from two clients and survive a restart; orphaned ranges; mentions and
//! notifications; and the live events stream (SSE), resumed with `Last-Event-ID`.

use crate::common;

use std::time::Duration;

use common::api::{Account, Api, Db, server};
use common::client::Client;
use common::sse::Sse;
use common::{TestServer, eventually_async};
use reqwest::Method;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(10);

on_both_databases!(
    threads_replies_edits_resolve_and_delete_follow_roles,
    bad_comment_bodies_and_anchors_get_clear_errors,
    anchors_follow_concurrent_edits_from_two_clients_and_survive_a_restart,
    a_deleted_range_leaves_its_thread_orphaned_with_its_quote,
    mentions_and_replies_notify_readers_who_mark_them_read,
    comment_events_stream_live_and_resume_after_a_reconnect,
    a_stream_says_when_the_callers_role_changes_and_ends_when_access_goes,
    a_thread_takes_at_most_500_replies,
    a_revoked_links_stream_ends,
);

/// A document owned by ann, shared with bob as commenter and carol as viewer; dave is a
/// stranger.
struct Team {
    api: Api,
    ann: Account,
    bob: Account,
    carol: Account,
    dave: Account,
    doc: String,
}

async fn team(server: &TestServer, text: &str) -> Team {
    let api = Api::new(server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let carol = api.signup("carol@example.com").await;
    let dave = api.signup("dave@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Notes", "content": text})).await;
    for (who, role) in [(&bob, "commenter"), (&carol, "viewer")] {
        let (status, body) = api
            .post(&format!("/api/v1/documents/{doc}/shares"), &ann.token, json!({"email": who.email, "role": role}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    Team { api, ann, bob, carol, dave, doc }
}

impl Team {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/documents/{}/comments{rest}", self.doc)
    }

    async fn list(&self, who: &Account, query: &str) -> Vec<Value> {
        let (status, body) = self.api.get(&self.path(query), &who.token).await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    async fn start(&self, who: &Account, body: Value) -> (u16, Value) {
        self.api.post(&self.path(""), &who.token, body).await
    }

    async fn call(&self, who: &Account, method: Method, rest: &str, body: Option<Value>) -> (u16, Value) {
        self.api.call(method, &self.path(rest), Some(&who.token), body).await
    }
}

fn code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

async fn threads_replies_edits_resolve_and_delete_follow_roles(db: Db) {
    let server = server(db).await;
    let t = team(&server, "hello brave new world").await;
    let (status, thread) = t
        .start(
            &t.bob,
            json!({"body": "Is *brave* right?", "anchor": {"index": 6, "length": 9}, "mentions": [t.ann.id]}),
        )
        .await;
    assert_eq!(status, 201, "{thread}");
    assert_eq!(thread["body"], "Is *brave* right?");
    assert_eq!(thread["author"], json!({"id": t.bob.id, "name": "bob"}));
    assert_eq!(thread["resolved"], false);
    assert_eq!(thread["replies"], json!([]));
    let anchor = &thread["anchor"];
    assert_eq!((anchor["index"].as_u64(), anchor["length"].as_u64()), (Some(6), Some(9)));
    assert_eq!((anchor["quote"].as_str(), anchor["orphaned"].as_bool()), (Some("brave new"), Some(false)));
    let id = thread["id"].as_str().unwrap().to_owned();

    // A viewer reads but does not write; a stranger sees nothing.
    assert_eq!(t.list(&t.carol, "").await.len(), 1);
    let (status, body) = t.start(&t.carol, json!({"body": "me too"})).await;
    assert_eq!((status, code(&body)), (403, Some("forbidden")));
    let (status, body) = t.call(&t.carol, Method::POST, &format!("/{id}/replies"), Some(json!({"body": "hi"}))).await;
    assert_eq!((status, code(&body)), (403, Some("forbidden")));
    let (status, body) = t.api.get(&t.path(""), &t.dave.token).await;
    assert_eq!((status, code(&body)), (404, Some("document_not_found")));

    // Replies; a whole-document thread lists first.
    let (status, reply) = t.call(&t.ann, Method::POST, &format!("/{id}/replies"), Some(json!({"body": "Yes."}))).await;
    assert_eq!(status, 201, "{reply}");
    let reply_id = reply["id"].as_str().unwrap().to_owned();
    let (status, general) = t.start(&t.bob, json!({"body": "Overall: good"})).await;
    assert_eq!((status, &general["anchor"]), (201, &Value::Null));
    let all = t.list(&t.ann, "").await;
    assert_eq!(
        all.iter().map(|t| t["body"].as_str().unwrap()).collect::<Vec<_>>(),
        ["Overall: good", "Is *brave* right?"]
    );
    assert_eq!(all[1]["replies"][0]["body"], "Yes.");

    // Only the author edits a message.
    let (status, body) = t.call(&t.ann, Method::PATCH, &format!("/{id}"), Some(json!({"body": "changed"}))).await;
    assert_eq!((status, code(&body)), (403, Some("forbidden")));
    let (status, edited) =
        t.call(&t.bob, Method::PATCH, &format!("/{id}"), Some(json!({"body": "Is brave right?"}))).await;
    assert_eq!((status, edited["body"].as_str()), (200, Some("Is brave right?")));
    assert!(edited["edited_at"].as_i64().is_some());
    assert_eq!(edited["replies"][0]["id"].as_str(), Some(reply_id.as_str()));

    // Commenters resolve and reopen; viewers do not; replies do not resolve.
    let (status, _) = t.call(&t.carol, Method::PATCH, &format!("/{id}"), Some(json!({"resolved": true}))).await;
    assert_eq!(status, 403);
    let (status, body) = t.call(&t.bob, Method::PATCH, &format!("/{reply_id}"), Some(json!({"resolved": true}))).await;
    assert_eq!((status, code(&body)), (422, Some("invalid_field")));
    let (status, resolved) = t.call(&t.bob, Method::PATCH, &format!("/{id}"), Some(json!({"resolved": true}))).await;
    assert_eq!((status, resolved["resolved"].as_bool()), (200, Some(true)));
    assert_eq!(t.list(&t.ann, "?resolved=true").await.len(), 1);
    assert_eq!(t.list(&t.ann, "?resolved=false").await[0]["id"], general["id"]);
    let (_, reopened) = t.call(&t.bob, Method::PATCH, &format!("/{id}"), Some(json!({"resolved": false}))).await;
    assert_eq!(reopened["resolved"], false);

    // Delete: your own, or anything as an admin or owner; a thread takes its replies.
    let (status, _) = t.call(&t.bob, Method::DELETE, &format!("/{reply_id}"), None).await;
    assert_eq!(status, 403);
    let (status, _) = t.call(&t.ann, Method::DELETE, &format!("/{id}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(t.list(&t.ann, "").await.len(), 1);
    let (status, body) = t.call(&t.ann, Method::DELETE, &format!("/{reply_id}"), None).await;
    assert_eq!((status, code(&body)), (404, Some("comment_not_found")));

    // Another document's comment id is not found here.
    let other = t.api.create_doc(&t.ann.token, json!({"title": "Other"})).await;
    let gid = general["id"].as_str().unwrap();
    let (status, body) = t
        .api
        .call(
            Method::PATCH,
            &format!("/api/v1/documents/{other}/comments/{gid}"),
            Some(&t.ann.token),
            Some(json!({"resolved": true})),
        )
        .await;
    assert_eq!((status, code(&body)), (404, Some("comment_not_found")));
    let (status, _) = t
        .api
        .post(&format!("/api/v1/documents/{other}/comments/{gid}/replies"), &t.ann.token, json!({"body": "x"}))
        .await;
    assert_eq!(status, 404);
}

async fn bad_comment_bodies_and_anchors_get_clear_errors(db: Db) {
    let server = server(db).await;
    let t = team(&server, "short text").await;
    for (body, status, want) in [
        (json!({"body": "  "}), 422, "invalid_field"),
        (json!({"body": "x".repeat(10_001)}), 422, "invalid_field"),
        (json!({"body": "x", "anchor": {"index": 6, "length": 5}}), 422, "invalid_anchor"),
        (json!({"body": "x", "anchor": {"index": 4294967295u64, "length": 4294967295u64}}), 422, "invalid_anchor"),
        (json!({"body": "x", "anchor": {"start": "not base64!", "end": "AA=="}}), 422, "invalid_anchor"),
        (json!({"body": "x", "anchor": {"start": "CQE=", "end": "CQE="}}), 422, "invalid_anchor"),
        (json!({"body": "x", "anchor": {"start": "A".repeat(400), "end": "AA=="}}), 422, "invalid_anchor"),
        (json!({"body": "x", "mentions": (0..21).map(|i| format!("u{i}")).collect::<Vec<_>>()}), 422, "invalid_field"),
        (json!({"body": "x", "colour": "red"}), 422, "invalid_body"),
        (json!({"text": "x"}), 422, "invalid_body"),
    ] {
        let (got, answer) = t.start(&t.bob, body.clone()).await;
        assert_eq!((got, code(&answer)), (status, Some(want)), "{body}");
    }
    assert!(t.list(&t.ann, "").await.is_empty(), "nothing was written");
    let (_, thread) = t.start(&t.bob, json!({"body": "ok", "anchor": {"index": 0, "length": 10}})).await;
    let id = thread["id"].as_str().unwrap();
    let (status, answer) =
        t.call(&t.bob, Method::PATCH, &format!("/{id}"), Some(json!({"body": "a", "resolved": true}))).await;
    assert_eq!((status, code(&answer)), (422, Some("invalid_body")));
    let (status, answer) = t.call(&t.bob, Method::PATCH, &format!("/{id}"), Some(json!({}))).await;
    assert_eq!((status, code(&answer)), (422, Some("invalid_body")));
}

/// The text of `range` in `text` (ASCII).
fn covered(text: &str, anchor: &Value) -> String {
    let (i, n) = (anchor["index"].as_u64().unwrap() as usize, anchor["length"].as_u64().unwrap() as usize);
    text[i..i + n].to_owned()
}

async fn user_client(server: &TestServer, doc: &str, who: &Account) -> Client {
    let mut c = Client::connect(&server.ws_url(doc, &who.token)).await.unwrap();
    c.sync().await;
    c
}

async fn anchors_follow_concurrent_edits_from_two_clients_and_survive_a_restart(db: Db) {
    let server = server(db).await;
    let t = team(&server, "alpha beta gamma delta").await;
    t.start(&t.bob, json!({"body": "inside", "anchor": {"index": 6, "length": 10}})).await;
    t.start(&t.bob, json!({"body": "start cut", "anchor": {"index": 0, "length": 10}})).await;
    let mut one = user_client(&server, &t.doc, &t.ann).await;
    let mut two = user_client(&server, &t.doc, &t.ann).await;
    // From the second client: typed inside both ranges, the first range's start deleted,
    // and a deletion across the end of the second. From the first, at the same time:
    // text before both.
    two.edit(|text, txn| yrs::Text::insert(text, txn, 8, "XX")).await;
    two.edit(|text, txn| yrs::Text::remove_range(text, txn, 0, 6)).await;
    two.edit(|text, txn| yrs::Text::remove_range(text, txn, 10, 4)).await;
    one.edit(|text, txn| yrs::Text::insert(text, txn, 0, "PRE ")).await;
    let want = "PRE beXXta gamelta";
    one.wait_text(T, |s| s == want).await;
    two.wait_text(T, |s| s == want).await;
    let threads = t.list(&t.carol, "").await;
    let anchor = |b: &str| threads.iter().find(|t| t["body"] == b).unwrap()["anchor"].clone();
    assert_eq!(covered(want, &anchor("inside")), "beXXta gam", "{threads:?}");
    assert_eq!(covered(want, &anchor("start cut")), "beXXta");
    assert_eq!(anchor("inside")["quote"], "beta gamma");
    assert_eq!(anchor("start cut")["orphaned"], false);
    drop((one, two));

    // A restart: the same anchors, from the stored document.
    let (dir, url) = server.stop().await;
    let server = TestServer::start_in(dir, url, |_| {}).await;
    let t = Team { api: Api::new(&server), ..t };
    assert_eq!(t.list(&t.carol, "").await, threads);
}

async fn a_deleted_range_leaves_its_thread_orphaned_with_its_quote(db: Db) {
    let server = server(db).await;
    let t = team(&server, "keep this remove that keep").await;
    let (_, thread) = t.start(&t.bob, json!({"body": "drop it?", "anchor": {"index": 10, "length": 11}})).await;
    assert_eq!(thread["anchor"]["quote"], "remove that");
    assert_eq!(t.api.put_content(&t.ann.token, &t.doc, "keep this keep").await, 200);
    let listed = t.list(&t.bob, "").await;
    let anchor = &listed[0]["anchor"];
    assert_eq!(anchor["orphaned"], true, "{anchor}");
    assert_eq!((anchor["length"].as_u64(), anchor["quote"].as_str()), (Some(0), Some("remove that")));
    // Text typed where it was does not bring it back.
    assert_eq!(t.api.put_content(&t.ann.token, &t.doc, "keep this remove that keep").await, 200);
    assert_eq!(t.list(&t.bob, "").await[0]["anchor"]["orphaned"], true);
}

async fn mentions_and_replies_notify_readers_who_mark_them_read(db: Db) {
    let server = server(db).await;
    let t = team(&server, "text").await;
    let notes = |who: &Account, q: &'static str| {
        let (api, token) = (&t.api, who.token.clone());
        async move {
            let (status, body) = api.get(&format!("/api/v1/users/me/notifications{q}"), &token).await;
            assert_eq!(status, 200, "{body}");
            body["items"].as_array().unwrap().clone()
        }
    };
    // bob mentions carol (a reader) and dave (a stranger: not notified, and not told).
    let (status, thread) =
        t.start(&t.bob, json!({"body": "@carol @dave", "mentions": [t.carol.id, t.dave.id, t.bob.id]})).await;
    assert_eq!(status, 201);
    let id = thread["id"].as_str().unwrap();
    let carols = notes(&t.carol, "").await;
    assert_eq!(carols.len(), 1);
    assert_eq!((carols[0]["kind"].as_str(), carols[0]["read"].as_bool()), (Some("mention"), Some(false)));
    assert_eq!((carols[0]["document_id"].as_str(), carols[0]["comment_id"].as_str()), (Some(t.doc.as_str()), Some(id)));
    // What the notification shows: where, who, and the start of what they wrote.
    let shown = ["document_title", "thread_id", "author_name", "excerpt"].map(|k| carols[0][k].as_str());
    assert_eq!(shown, [Some("Notes"), Some(id), Some("bob"), Some("@carol @dave")]);
    assert!(notes(&t.dave, "").await.is_empty());
    assert!(notes(&t.bob, "").await.is_empty(), "nobody is notified of their own message");

    // ann replies: bob (who wrote in the thread) gets a reply; carol only if mentioned.
    let (status, _) = t.call(&t.ann, Method::POST, &format!("/{id}/replies"), Some(json!({"body": "ok"}))).await;
    assert_eq!(status, 201);
    let bobs = notes(&t.bob, "?unread=true").await;
    assert_eq!(bobs.iter().map(|n| n["kind"].as_str().unwrap()).collect::<Vec<_>>(), ["reply"]);
    assert_eq!(notes(&t.carol, "").await.len(), 1);
    let (_, _) = t
        .call(
            &t.ann,
            Method::POST,
            &format!("/{id}/replies"),
            Some(json!({"body": "@carol", "mentions": [t.carol.id]})),
        )
        .await;
    assert_eq!(notes(&t.carol, "?unread=true").await.len(), 2);

    // Marking read: by id (someone else's ids are ignored), then all.
    let first = notes(&t.carol, "").await[1]["id"].clone();
    let bob_note = bobs[0]["id"].clone();
    let (status, _) =
        t.api.post("/api/v1/users/me/notifications/read", &t.carol.token, json!({"ids": [first, bob_note]})).await;
    assert_eq!(status, 204);
    assert_eq!(notes(&t.carol, "?unread=true").await.len(), 1);
    assert_eq!(notes(&t.bob, "?unread=true").await.len(), 2, "carol cannot mark bob's (two replies by now)");
    let (status, _) = t.api.post("/api/v1/users/me/notifications/read", &t.carol.token, json!({"all": true})).await;
    assert_eq!(status, 204);
    assert!(notes(&t.carol, "?unread=true").await.is_empty());
    let (status, body) = t.api.post("/api/v1/users/me/notifications/read", &t.carol.token, json!({})).await;
    assert_eq!((status, code(&body)), (422, Some("invalid_body")));

    // A reply quotes the reply, in its thread; a long message is quoted by its start.
    let long = "x".repeat(500);
    t.call(&t.ann, Method::POST, &format!("/{id}/replies"), Some(json!({"body": long, "mentions": [t.carol.id]})))
        .await;
    let newest = notes(&t.carol, "").await[0].clone();
    assert_eq!((newest["thread_id"].as_str(), newest["author_name"].as_str()), (Some(id), Some("ann")));
    assert_ne!(newest["comment_id"].as_str(), Some(id));
    assert_eq!(newest["excerpt"].as_str().map(str::len), Some(140));

    // Someone no longer allowed to read the document no longer sees its notifications
    // (its title and its messages), and sees them again if let back in.
    let unshare = format!("/api/v1/documents/{}/shares/{}", t.doc, t.carol.id);
    assert_eq!(t.api.call(Method::DELETE, &unshare, Some(&t.ann.token), None).await.0, 204);
    assert!(notes(&t.carol, "").await.is_empty());
    let share = json!({"email": t.carol.email, "role": "viewer"});
    assert_eq!(t.api.post(&format!("/api/v1/documents/{}/shares", t.doc), &t.ann.token, share).await.0, 200);
    assert_eq!(notes(&t.carol, "").await.len(), 3);

    // Deleting the thread takes its notifications with it.
    t.call(&t.bob, Method::DELETE, &format!("/{id}"), None).await;
    assert!(notes(&t.carol, "").await.is_empty());
}

async fn comment_events_stream_live_and_resume_after_a_reconnect(db: Db) {
    let server = server(db).await;
    let t = team(&server, "some text").await;
    let mut carol = Sse::open(&t.api.base, &t.doc, &t.carol.token, None).await;
    let (_, thread) = t.start(&t.bob, json!({"body": "first", "anchor": {"index": 0, "length": 4}})).await;
    let id = thread["id"].as_str().unwrap();
    let created = carol.wait_for(T, "comment.created").await;
    assert_eq!(created.data["thread_id"].as_str(), Some(id));
    assert_eq!(created.data["document_id"].as_str(), Some(t.doc.as_str()));
    let first = created.id.expect("stored events carry their number");
    assert_eq!(created.data["id"].as_u64(), Some(first));

    t.call(&t.bob, Method::PATCH, &format!("/{id}"), Some(json!({"resolved": true}))).await;
    let updated = carol.wait_for(T, "comment.updated").await;
    assert_eq!(updated.id, Some(first + 1));
    drop(carol);

    // What happened while the stream was closed comes on reconnect, in order.
    t.call(&t.bob, Method::POST, &format!("/{id}/replies"), Some(json!({"body": "r"}))).await;
    t.call(&t.bob, Method::DELETE, &format!("/{id}"), None).await;
    let mut again = Sse::open(&t.api.base, &t.doc, &t.carol.token, Some(first + 1)).await;
    let a = again.next(T).await.unwrap();
    let b = again.next(T).await.unwrap();
    assert_eq!((a.event.as_str(), a.id), ("comment.created", Some(first + 2)));
    assert_eq!((b.event.as_str(), b.id), ("comment.deleted", Some(first + 3)));

    // Streams are per document and need read access; each caller has a few at most.
    let (status, _) = Sse::try_open(&t.api.base, &t.doc, &t.dave.token, None).await.err().unwrap();
    assert_eq!(status, 404);
    // bob has none open yet (carol's closed streams free their slots only once the server
    // notices they are gone).
    let mut open = Vec::new();
    for _ in 0..16 {
        open.push(Sse::open(&t.api.base, &t.doc, &t.bob.token, None).await);
    }
    let (status, body) = Sse::try_open(&t.api.base, &t.doc, &t.bob.token, None).await.err().unwrap();
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("too_many_streams"));
    drop(open);
    let reopened = eventually_async(
        Duration::from_secs(30),
        || async { Sse::try_open(&t.api.base, &t.doc, &t.bob.token, None).await.is_ok() },
        |ok| ok,
    )
    .await;
    assert!(reopened, "slots come back when streams close");
}

async fn a_stream_says_when_the_callers_role_changes_and_ends_when_access_goes(db: Db) {
    let server = server(db).await;
    let t = team(&server, "text").await;
    let mut carol = Sse::open(&t.api.base, &t.doc, &t.carol.token, None).await;
    let share = format!("/api/v1/documents/{}/shares", t.doc);
    t.api.post(&share, &t.ann.token, json!({"email": t.carol.email, "role": "commenter"})).await;
    let changed = carol.wait_for(T, "access.changed").await;
    assert_eq!(changed.data["role"], "commenter");
    let (status, _) = t.api.call(Method::DELETE, &format!("{share}/{}", t.carol.id), Some(&t.ann.token), None).await;
    assert_eq!(status, 204);
    carol.wait_for(T, "access.revoked").await;
    assert!(carol.next(T).await.is_none(), "the stream ends");
}

async fn a_thread_takes_at_most_500_replies(db: Db) {
    let server = server(db).await;
    let t = team(&server, "text").await;
    let (_, thread) = t.start(&t.bob, json!({"body": "many"})).await;
    let replies = format!("/{}/replies", thread["id"].as_str().unwrap());
    for i in 0..500 {
        let (status, body) = t.call(&t.bob, Method::POST, &replies, Some(json!({"body": format!("r{i}")}))).await;
        assert_eq!(status, 201, "reply {i}: {body}");
    }
    let (status, body) = t.call(&t.ann, Method::POST, &replies, Some(json!({"body": "one more"}))).await;
    assert_eq!((status, code(&body)), (409, Some("too_many_comments")));
    assert_eq!(t.list(&t.ann, "").await[0]["replies"].as_array().unwrap().len(), 500);
}

async fn a_revoked_links_stream_ends(db: Db) {
    let server = server(db).await;
    let t = team(&server, "text").await;
    let (status, link) =
        t.api.post(&format!("/api/v1/documents/{}/links", t.doc), &t.ann.token, json!({"role": "viewer"})).await;
    assert_eq!(status, 201);
    let mut guest = Sse::open_link(&t.api.base, &t.doc, link["token"].as_str().unwrap()).await;
    t.start(&t.bob, json!({"body": "seen by the link"})).await;
    guest.wait_for(T, "comment.created").await;
    let revoke = format!("/api/v1/documents/{}/links/{}", t.doc, link["id"].as_str().unwrap());
    assert_eq!(t.api.call(Method::DELETE, &revoke, Some(&t.ann.token), None).await.0, 204);
    guest.wait_for(T, "access.revoked").await;
    assert!(guest.next(T).await.is_none(), "the stream ends");
}

/// SIGTERM with an event stream open: the stream ends and the server exits (an open
/// stream must not hold a graceful shutdown up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_event_stream_does_not_hold_up_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::process::ServerProcess::start(dir.path(), None);
    let api = Api::at(server.addr);
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Notes"})).await;
    let mut stream = Sse::open(&api.base, &doc, &ann.token, None).await;
    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "exited in {:?}", started.elapsed());
    assert!(stream.next(Duration::from_secs(5)).await.is_none(), "the stream ended");
}
