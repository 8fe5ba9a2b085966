//! Personal API tokens against the real server, on SQLite and Postgres: made, listed and
//! revoked by signed-in users only; the secret works on REST, `/ws` and `/hocuspocus`;
//! the `read` scope only reads; revocation and expiry reach open connections (4401),
//! event streams (`access.revoked`) and later requests (401); a user holds a bounded
//! number of them.

use crate::common;

use std::time::Duration;

use common::api::{Account, Api, Db, server, server_with};
use common::client::{Client, Event};
use common::sse::Sse;
use common::{TestServer, eventually_async};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tandem_protocol::hocuspocus as hp;
use tokio_tungstenite::tungstenite::{self, Message};

on_both_databases!(
    tokens_are_made_listed_and_revoked_by_their_owner_only,
    a_write_token_acts_as_its_user_on_rest_and_both_sockets,
    a_read_token_only_reads,
    revoking_a_token_closes_its_sockets_and_streams_and_refuses_its_requests,
    an_expired_token_is_refused_and_its_sockets_closed,
    a_user_holds_at_most_fifty_live_tokens,
);

const TOKENS: &str = "/api/v1/users/me/tokens";
const T: Duration = Duration::from_secs(10);

async fn make(api: &Api, owner: &Account, body: Value) -> (String, String) {
    let (status, made) = api.post(TOKENS, &owner.token, body).await;
    assert_eq!(status, 201, "{made}");
    (made["id"].as_str().unwrap().to_owned(), made["token"].as_str().unwrap().to_owned())
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

async fn tokens_are_made_listed_and_revoked_by_their_owner_only(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;

    let (status, made) = api.post(TOKENS, &ann.token, json!({"name": " ci ", "scopes": ["write"]})).await;
    assert_eq!(status, 201, "{made}");
    let secret = made["token"].as_str().unwrap();
    assert!(secret.starts_with("tandem_") && secret.len() == 7 + 64, "{secret}");
    assert_eq!(made["prefix"], secret[..15]);
    assert_eq!((made["name"].as_str(), made["scopes"].clone()), (Some("ci"), json!(["read", "write"])));
    assert!(made["expires_at"].is_null() && made["created_at"].is_i64());
    let id = made["id"].as_str().unwrap();

    let (status, list) = api.get(TOKENS, &ann.token).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert!(list[0].get("token").is_none() && !list.to_string().contains(&secret[15..]), "{list}");
    assert!(list[0]["last_used_at"].is_null());

    // Used: as Ann; the use is recorded.
    let (status, me) = api.get("/api/v1/auth/me", secret).await;
    assert_eq!((status, me["id"].as_str()), (200, Some(ann.id.as_str())), "{me}");
    let (_, list) = api.get(TOKENS, &ann.token).await;
    assert!(list[0]["last_used_at"].is_i64(), "{list}");

    // A personal token does not manage tokens; nor do links or strangers to it.
    for (method, path) in [(Method::GET, TOKENS.to_owned()), (Method::DELETE, format!("{TOKENS}/{id}"))] {
        let (status, body) = api.call(method, &path, Some(secret), None).await;
        assert_eq!((status, code(&body)), (403, "session_required"), "{path}");
    }
    let (status, body) = api.post(TOKENS, secret, json!({"name": "more", "scopes": ["read"]})).await;
    assert_eq!((status, code(&body)), (403, "session_required"));
    let (status, body) = api.call(Method::DELETE, &format!("{TOKENS}/{id}"), Some(&bob.token), None).await;
    assert_eq!((status, code(&body)), (404, "token_not_found"));
    let (_, bobs) = api.get(TOKENS, &bob.token).await;
    assert_eq!(bobs, json!([]));
    assert_eq!(api.call(Method::GET, TOKENS, None, None).await.0, 401);

    // Bad requests.
    for bad in [
        json!({"name": "", "scopes": ["read"]}),
        json!({"name": "x".repeat(101), "scopes": ["read"]}),
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["read"], "expires_in": 0}),
        json!({"name": "x", "scopes": ["read"], "expires_in": 366 * 24 * 3600}),
    ] {
        let (status, body) = api.post(TOKENS, &ann.token, bad.clone()).await;
        assert_eq!((status, code(&body)), (422, "invalid_field"), "{bad}");
    }
    let (status, body) = api.post(TOKENS, &ann.token, json!({"name": "x", "scopes": ["admin"]})).await;
    assert_eq!((status, code(&body)), (422, "invalid_body"));

    // Revoked: gone from the list, refused from then on.
    assert_eq!(api.call(Method::DELETE, &format!("{TOKENS}/{id}"), Some(&ann.token), None).await.0, 204);
    assert_eq!(api.call(Method::DELETE, &format!("{TOKENS}/{id}"), Some(&ann.token), None).await.0, 404);
    let (status, body) = api.get("/api/v1/auth/me", secret).await;
    assert_eq!((status, code(&body)), (401, "invalid_token"));
    assert_eq!(api.get(TOKENS, &ann.token).await.1, json!([]));
}

/// Opens `doc` on `/hocuspocus` with `token`; the server's first answer.
async fn hocuspocus(server: &TestServer, doc: &str, token: &str) -> (common::client::Ws, Vec<u8>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/hocuspocus", server.addr)).await.unwrap();
    ws.send(Message::Binary(hp::encode_auth_token(doc, token).into())).await.unwrap();
    match tokio::time::timeout(T, ws.next()).await.expect("an answer") {
        Some(Ok(Message::Binary(b))) => (ws, b.to_vec()),
        other => panic!("no answer: {other:?}"),
    }
}

/// Reads a Hocuspocus socket until the server closes it; the close code.
async fn hocuspocus_closed(ws: &mut common::client::Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(T, ws.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
            Some(Ok(_)) => {}
            _ => return None,
        }
    }
}

async fn a_write_token_acts_as_its_user_on_rest_and_both_sockets(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let (_, secret) = make(&api, &ann, json!({"name": "sync", "scopes": ["write"]})).await;
    let doc = api.create_doc(&secret, json!({"title": "Notes", "content": "one\n"})).await;
    assert_eq!(api.put_content(&secret, &doc, "one\ntwo\n").await, 200);
    assert_eq!(api.content(&ann.token, &doc).await, "one\ntwo\n");

    let mut c = Client::connect(&server.ws_url(&doc, &secret)).await.unwrap();
    c.sync().await;
    c.append_acked("three\n").await;
    let (_, answer) = hocuspocus(&server, &doc, &secret).await;
    assert_eq!(answer, hp::encode_authenticated(&doc, false));
    assert_eq!(api.content(&secret, &doc).await, "one\ntwo\nthree\n");
}

async fn a_read_token_only_reads(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Notes", "content": "one\n"})).await;
    let (_, secret) = make(&api, &ann, json!({"name": "reader", "scopes": ["read"]})).await;

    assert_eq!(api.content(&secret, &doc).await, "one\n");
    let head = api.request(Method::HEAD, &format!("/api/v1/documents/{doc}"), Some(&secret)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(api.put_content(&secret, &doc, "changed\n").await, 403);
    for (method, path, body) in [
        (Method::POST, "/api/v1/documents".to_owned(), json!({"title": "x"})),
        (Method::PATCH, format!("/api/v1/documents/{doc}"), json!({"title": "x"})),
        (Method::DELETE, format!("/api/v1/documents/{doc}"), Value::Null),
        (Method::PATCH, "/api/v1/users/me/settings".to_owned(), json!({"theme": "dark"})),
    ] {
        let (status, answer) = api.call(method, &path, Some(&secret), Some(body)).await;
        assert_eq!((status, code(&answer)), (403, "read_only_token"), "{path}");
    }

    // Sockets open read-only: updates are refused, never applied.
    let mut c = Client::connect(&server.ws_url(&doc, &secret)).await.unwrap();
    c.sync().await;
    assert_eq!(c.text(), "one\n");
    c.append("not allowed\n").await;
    loop {
        match c.next_event(T).await {
            Some(Event::PermissionDenied(_)) => break,
            Some(Event::Update(_)) => panic!("a read token's update was applied"),
            Some(Event::Closed(code)) => panic!("closed ({code:?})"),
            None => panic!("no permission-denied answer"),
            Some(_) => {}
        }
    }
    let (_, answer) = hocuspocus(&server, &doc, &secret).await;
    assert_eq!(answer, hp::encode_authenticated(&doc, true));
    assert_eq!(api.content(&ann.token, &doc).await, "one\n");
}

async fn revoking_a_token_closes_its_sockets_and_streams_and_refuses_its_requests(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Notes", "content": "one\n"})).await;
    let (id, secret) = make(&api, &ann, json!({"name": "bot", "scopes": ["write"]})).await;
    let (_, other) = make(&api, &ann, json!({"name": "other", "scopes": ["write"]})).await;

    let mut c = Client::connect(&server.ws_url(&doc, &secret)).await.unwrap();
    c.sync().await;
    let mut kept = Client::connect(&server.ws_url(&doc, &other)).await.unwrap();
    kept.sync().await;
    let (mut hp_ws, answer) = hocuspocus(&server, &doc, &secret).await;
    assert_eq!(answer, hp::encode_authenticated(&doc, false));
    let mut events = Sse::open(&api.base, &doc, &secret, None).await;

    assert_eq!(api.call(Method::DELETE, &format!("{TOKENS}/{id}"), Some(&ann.token), None).await.0, 204);
    assert_eq!(c.wait_close(T).await, Some(4401));
    assert_eq!(hocuspocus_closed(&mut hp_ws).await, Some(4401));
    events.wait_for(T, "access.revoked").await;
    assert!(events.next(T).await.is_none(), "the event stream ends");
    let (status, body) = api.get(&format!("/api/v1/documents/{doc}"), &secret).await;
    assert_eq!((status, code(&body)), (401, "invalid_token"));
    match Client::connect(&server.ws_url(&doc, &secret)).await {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("a revoked token connected: {:?}", other.err()),
    }
    // Ann's other token is untouched.
    kept.append_acked("still here\n").await;
}

async fn an_expired_token_is_refused_and_its_sockets_closed(db: Db) {
    let server = server_with(db, |c| c.auth.access_recheck = Duration::from_millis(200)).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Notes", "content": "one\n"})).await;
    // Long enough to connect on a busy machine, short enough to wait for.
    let (_, secret) = make(&api, &ann, json!({"name": "brief", "scopes": ["write"], "expires_in": 5})).await;
    let (_, list) = api.get(TOKENS, &ann.token).await;
    let (created, expires) = (list[0]["created_at"].as_i64().unwrap(), list[0]["expires_at"].as_i64().unwrap());
    assert_eq!(expires - created, 5000);

    let mut c = Client::connect(&server.ws_url(&doc, &secret)).await.unwrap();
    c.sync().await;
    assert_eq!(c.wait_close(Duration::from_secs(15)).await, Some(4401));
    let expired =
        eventually_async(T, || api.get("/api/v1/auth/me", &secret), |(s, b)| s == 401 && code(&b) == "invalid_token");
    assert!(expired.await);
}

async fn a_user_holds_at_most_fifty_live_tokens(db: Db) {
    let server = server_with(db, |c| c.api.max_requests_per_user_per_minute = 0).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let mut ids = Vec::new();
    for i in 1..50 {
        ids.push(make(&api, &ann, json!({"name": format!("t{i}"), "scopes": ["read"]})).await.0);
    }
    // The fiftieth expires soon: made last, so it is still live for the next call.
    let (_, _) = make(&api, &ann, json!({"name": "short", "scopes": ["read"], "expires_in": 3})).await;
    let full = json!({"name": "one more", "scopes": ["read"]});
    let (status, body) = api.post(TOKENS, &ann.token, full.clone()).await;
    assert_eq!((status, code(&body)), (409, "too_many_tokens"));
    // An expired token does not count (and is cleared away); a revoked one neither.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    make(&api, &ann, full.clone()).await;
    assert_eq!(api.post(TOKENS, &ann.token, full.clone()).await.0, 409);
    assert_eq!(api.call(Method::DELETE, &format!("{TOKENS}/{}", ids[0]), Some(&ann.token), None).await.0, 204);
    make(&api, &ann, full).await;
    assert_eq!(api.get(TOKENS, &ann.token).await.1.as_array().unwrap().len(), 50);
}
