//! Webhooks against the real server and a receiver on 127.0.0.1, on SQLite and Postgres:
//! every event type arrives signed; failed attempts are retried and logged; a delivery
//! queued while the receiver is down survives a kill -9 of the server and arrives from
//! the next one; repeated failures disable a hook; private targets are refused without
//! `--webhook-allow-private`; only admins and write tokens manage hooks; a receiver that
//! never answers does not hold up other hooks.

use crate::common;

use std::time::Duration;

use common::api::{Account, Api, Db, server_with};
use common::eventually_async;
use common::process::ServerProcess;
use common::receiver::{BlackHole, Receiver};
use reqwest::Method;
use serde_json::{Value, json};
use tandem::config::ServeConfig;

on_both_databases!(
    every_event_type_arrives_signed_with_its_headers,
    failed_attempts_are_retried_and_logged,
    a_hook_is_disabled_after_repeated_failures,
    private_targets_and_bad_hooks_are_refused,
    only_admins_and_write_tokens_manage_hooks,
    a_delivery_queued_while_the_receiver_is_down_arrives_after_a_restart,
    a_private_target_is_refused_at_delivery_once_no_longer_allowed,
    an_edit_still_in_the_debounce_at_a_graceful_shutdown_is_announced,
    a_receiver_that_never_answers_does_not_hold_up_other_hooks,
);

const T: Duration = Duration::from_secs(15);

fn fast(c: &mut ServeConfig) {
    c.webhooks.webhook_allow_private = true;
    c.webhooks.webhook_retry_base = Duration::from_millis(100);
    c.webhooks.webhook_debounce = Duration::from_millis(200);
    c.api.max_requests_per_user_per_minute = 0;
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

async fn team(api: &Api, owner: &Account) -> String {
    let (status, ws) = api.post("/api/v1/workspaces", &owner.token, json!({"name": "Team"})).await;
    assert_eq!(status, 201, "{ws}");
    ws["id"].as_str().unwrap().to_owned()
}

/// Registers a hook; answers its id and secret.
async fn hook(api: &Api, owner: &Account, ws: &str, url: &str, events: &[&str]) -> (String, String) {
    let path = format!("/api/v1/workspaces/{ws}/webhooks");
    let (status, made) = api.post(&path, &owner.token, json!({"url": url, "events": events})).await;
    assert_eq!(status, 201, "{made}");
    (made["id"].as_str().unwrap().to_owned(), made["secret"].as_str().unwrap().to_owned())
}

async fn join(api: &Api, ws: &str, owner: &Account, who: &Account, role: &str) {
    let path = format!("/api/v1/workspaces/{ws}/invitations");
    let (status, inv) = api.post(&path, &owner.token, json!({"email": who.email, "role": role})).await;
    assert_eq!(status, 201, "{inv}");
    let accept = format!("/api/v1/invitations/{}/accept", inv["token"].as_str().unwrap());
    let (status, body) = api.call(Method::POST, &accept, Some(&who.token), None).await;
    assert_eq!(status, 200, "{body}");
}

async fn personal_token(api: &Api, owner: &Account, scope: &str) -> String {
    let (status, made) =
        api.post("/api/v1/users/me/tokens", &owner.token, json!({"name": scope, "scopes": [scope]})).await;
    assert_eq!(status, 201, "{made}");
    made["token"].as_str().unwrap().to_owned()
}

async fn deliveries(api: &Api, owner: &Account, ws: &str, hook: &str) -> Vec<Value> {
    let (status, log) = api.get(&format!("/api/v1/workspaces/{ws}/webhooks/{hook}/deliveries"), &owner.token).await;
    assert_eq!(status, 200, "{log}");
    log.as_array().unwrap().clone()
}

async fn every_event_type_arrives_signed_with_its_headers(db: Db) {
    let server = server_with(db, fast).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let ws = team(&api, &ann).await;
    let rx = Receiver::start(0).await;
    let all = [
        "document.created",
        "document.updated",
        "document.deleted",
        "comment.created",
        "version.created",
        "member.added",
        "member.removed",
    ];
    let (_, secret) = hook(&api, &ann, &ws, &rx.url(), &all).await;

    let doc = api.create_doc(&ann.token, json!({"title": "Plan", "workspace_id": ws})).await;
    let created = rx.wait_for("document.created", T).await;
    assert_eq!(created.json["data"]["document_id"], doc.as_str());
    assert_eq!(api.put_content(&ann.token, &doc, "# Plan\n\nstep one\n").await, 200);
    let updated = rx.wait_for("document.updated", T).await;
    assert_eq!(
        (updated.json["data"]["document_id"].as_str(), updated.json["data"]["title"].as_str()),
        (Some(doc.as_str()), Some("Plan"))
    );
    let (status, thread) =
        api.post(&format!("/api/v1/documents/{doc}/comments"), &ann.token, json!({"body": "why?"})).await;
    assert_eq!(status, 201, "{thread}");
    let comment = rx.wait_for("comment.created", T).await;
    assert_eq!(comment.json["data"]["thread_id"], thread["id"]);
    let (status, version) =
        api.post(&format!("/api/v1/documents/{doc}/versions"), &ann.token, json!({"name": "v1"})).await;
    assert_eq!(status, 201, "{version}");
    assert_eq!(rx.wait_for("version.created", T).await.json["data"]["version_id"], version["id"]);
    join(&api, &ws, &ann, &bob, "editor").await;
    let added = rx.wait_for("member.added", T).await;
    assert_eq!(
        (added.json["data"]["user_id"].as_str(), added.json["data"]["role"].as_str()),
        (Some(bob.id.as_str()), Some("editor"))
    );
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/workspaces/{ws}/members/{}", bob.id), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(rx.wait_for("member.removed", T).await.json["data"]["user_id"], bob.id.as_str());
    let (status, _) = api.call(Method::DELETE, &format!("/api/v1/documents/{doc}"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(rx.wait_for("document.deleted", T).await.json["data"]["document_id"], doc.as_str());

    for r in rx.received() {
        assert!(r.signed_with(&secret), "{} badly signed: {}", r.event, r.signature);
        assert!(!r.signed_with("whsec_another"), "a wrong secret verifies");
        assert_eq!(r.json["type"], r.event.as_str());
        assert_eq!(r.json["id"], r.delivery.as_str());
        assert_eq!(r.json["workspace_id"], ws.as_str());
        assert!(r.json["created_at"].is_i64(), "{}", r.json);
    }
    // A hook hears only its workspace: a document elsewhere reaches nobody. A hook's
    // deliveries go one at a time, oldest first, so once a team document created after
    // it has arrived, the other one would have arrived before.
    api.create_doc(&ann.token, json!({"title": "Personal"})).await;
    let sentinel = api.create_doc(&ann.token, json!({"title": "Sentinel", "workspace_id": ws})).await;
    let arrived = |got: Vec<common::receiver::Received>| got.iter().any(|r| r.json["data"]["document_id"] == sentinel);
    assert!(eventually_async(T, || async { rx.received() }, arrived).await, "the sentinel arrived");
    let created: Vec<_> = rx.received().into_iter().filter(|r| r.event == "document.created").collect();
    let docs: Vec<_> = created.iter().map(|r| r.json["data"]["document_id"].as_str().unwrap_or("")).collect();
    assert_eq!(docs, [doc.as_str(), sentinel.as_str()], "only the team's documents were announced");
    // Deleting the workspace deletes its hooks.
    let (status, _) = api.call(Method::DELETE, &format!("/api/v1/workspaces/{ws}"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let (status, _) = api.get(&format!("/api/v1/workspaces/{ws}/webhooks"), &ann.token).await;
    assert_eq!(status, 404);
}

async fn failed_attempts_are_retried_and_logged(db: Db) {
    let server = server_with(db, fast).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let ws = team(&api, &ann).await;
    let rx = Receiver::start(2).await;
    let (id, secret) = hook(&api, &ann, &ws, &rx.url(), &["document.created"]).await;

    let (status, ping) =
        api.call(Method::POST, &format!("/api/v1/workspaces/{ws}/webhooks/{id}/ping"), Some(&ann.token), None).await;
    assert_eq!(status, 202, "{ping}");
    let got = rx.wait_for("ping", T).await;
    assert!(got.signed_with(&secret));
    assert_eq!(got.delivery, ping["delivery_id"].as_str().unwrap());
    assert_eq!(rx.requests(), 3, "two refusals, then the delivery");
    let delivered = |log: Vec<Value>| log.first().is_some_and(|d| d["state"] == "delivered");
    assert!(eventually_async(T, || deliveries(&api, &ann, &ws, &id), delivered).await);
    let log = deliveries(&api, &ann, &ws, &id).await;
    assert_eq!(log.len(), 1);
    let d = &log[0];
    assert_eq!(
        (d["event"].as_str(), d["attempts"].as_i64(), d["last_status"].as_i64()),
        (Some("ping"), Some(3), Some(204))
    );
    assert!(d["latency_ms"].is_i64() && d["finished_at"].is_i64() && d["last_error"].is_null(), "{d}");

    // The log pages newest first, within bounds.
    api.create_doc(&ann.token, json!({"title": "One", "workspace_id": ws})).await;
    rx.wait_for("document.created", T).await;
    let base = format!("/api/v1/workspaces/{ws}/webhooks/{id}/deliveries");
    let (status, page) = api.get(&format!("{base}?limit=1"), &ann.token).await;
    assert_eq!((status, page[0]["event"].as_str()), (200, Some("document.created")), "{page}");
    let (_, page) = api.get(&format!("{base}?limit=1&offset=1"), &ann.token).await;
    assert_eq!(page[0]["event"], "ping");
    for bad in ["limit=0", "limit=101", "offset=10001", "limit=x"] {
        let (status, body) = api.get(&format!("{base}?{bad}"), &ann.token).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, hooks) = api.get(&format!("/api/v1/workspaces/{ws}/webhooks"), &ann.token).await;
    assert_eq!(status, 200);
    assert_eq!(hooks.as_array().unwrap().len(), 1);
    assert!(hooks[0]["secret"].is_null(), "the secret is shown once: {hooks}");
    assert_eq!(hooks[0]["failures"], 0);
    assert_eq!(hooks[0]["created_by"], ann.id.as_str());
}

async fn a_hook_is_disabled_after_repeated_failures(db: Db) {
    let server = server_with(db, |c| {
        fast(c);
        c.webhooks.webhook_retry_base = Duration::from_millis(50);
        c.webhooks.webhook_retry_window = Duration::from_millis(300);
        c.webhooks.webhook_disable_after = 2;
    })
    .await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let ws = team(&api, &ann).await;
    let rx = Receiver::start(0).await;
    rx.set_down(true);
    let (id, _) = hook(&api, &ann, &ws, &rx.url(), &["document.created"]).await;
    let one = format!("/api/v1/workspaces/{ws}/webhooks/{id}");

    api.create_doc(&ann.token, json!({"title": "One", "workspace_id": ws})).await;
    let failed = |log: Vec<Value>| log.iter().filter(|d| d["state"] == "failed").count() == 1;
    assert!(eventually_async(T, || deliveries(&api, &ann, &ws, &id), failed).await);
    let (_, h) = api.get(&one, &ann.token).await;
    assert_eq!((h["failures"].as_i64(), h["disabled_at"].is_null()), (Some(1), true), "{h}");
    let log = deliveries(&api, &ann, &ws, &id).await;
    assert!(log[0]["attempts"].as_i64().unwrap() >= 2, "retried before giving up: {}", log[0]);
    assert_eq!(log[0]["last_status"], 503);

    api.create_doc(&ann.token, json!({"title": "Two", "workspace_id": ws})).await;
    let disabled = |h: (u16, Value)| h.1["disabled_at"].is_i64();
    assert!(eventually_async(T, || api.get(&one, &ann.token), disabled).await);
    let (_, h) = api.get(&one, &ann.token).await;
    assert_eq!(h["failures"], 2);

    // Disabled: nothing more is queued for it; a ping still reaches it.
    api.create_doc(&ann.token, json!({"title": "Three", "workspace_id": ws})).await;
    assert_eq!(deliveries(&api, &ann, &ws, &id).await.len(), 2);
    rx.set_down(false);
    let (status, _) = api.call(Method::POST, &format!("{one}/ping"), Some(&ann.token), None).await;
    assert_eq!(status, 202);
    rx.wait_for("ping", T).await;
    assert!(rx.received().iter().all(|r| r.event == "ping"));
}

async fn private_targets_and_bad_hooks_are_refused(db: Db) {
    let server = server_with(db, |c| c.api.max_requests_per_user_per_minute = 0).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let ws = team(&api, &ann).await;
    let rx = Receiver::start(0).await;
    let path = format!("/api/v1/workspaces/{ws}/webhooks");
    let ev = json!(["document.created"]);
    let long = format!("https://example.com/{}", "a".repeat(2048));
    for (url, want) in [
        (rx.url(), "webhook_target_refused"),
        ("http://localhost:9/hook".to_owned(), "webhook_target_refused"),
        ("http://[::1]:9/hook".to_owned(), "webhook_target_refused"),
        ("http://[::ffff:127.0.0.1]:9/hook".to_owned(), "webhook_target_refused"),
        ("http://169.254.169.254/latest".to_owned(), "webhook_target_refused"),
        ("http://10.0.0.1/hook".to_owned(), "webhook_target_refused"),
        ("ftp://example.com/hook".to_owned(), "invalid_field"),
        ("http://user:pw@example.com/".to_owned(), "invalid_field"),
        ("not a url".to_owned(), "invalid_field"),
        (long, "invalid_field"),
    ] {
        let (status, body) = api.post(&path, &ann.token, json!({"url": url, "events": ev})).await;
        assert_eq!((status, code(&body)), (422, want), "{url:.60}: {body}");
    }
    for events in [json!([]), json!(["document.exploded"]), json!(vec!["document.created"; 20])] {
        let (status, body) =
            api.post(&path, &ann.token, json!({"url": "https://example.com/", "events": events})).await;
        assert_eq!((status, code(&body)), (422, "invalid_field"), "{events}: {body}");
    }
    let (status, body) =
        api.post(&path, &ann.token, json!({"url": "https://example.com/", "events": ev, "x": 1})).await;
    assert_eq!(status, 422, "{body}");
    let (_, hooks) = api.get(&path, &ann.token).await;
    assert_eq!(hooks, json!([]));
    assert_eq!(rx.requests(), 0);
}

async fn only_admins_and_write_tokens_manage_hooks(db: Db) {
    let server = server_with(db, fast).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let ws = team(&api, &ann).await;
    join(&api, &ws, &ann, &bob, "editor").await;
    let rx = Receiver::start(0).await;
    let path = format!("/api/v1/workspaces/{ws}/webhooks");
    let body = json!({"url": rx.url(), "events": ["document.created"]});
    let (status, answer) = api.post(&path, &bob.token, body.clone()).await;
    assert_eq!((status, code(&answer)), (403, "forbidden"));

    let read = personal_token(&api, &ann, "read").await;
    let write = personal_token(&api, &ann, "write").await;
    let (status, answer) = api.post(&path, &read, body.clone()).await;
    assert_eq!((status, code(&answer)), (403, "read_only_token"));
    let (status, made) = api.post(&path, &write, body.clone()).await;
    assert_eq!(status, 201, "{made}");
    let (status, listed) = api.get(&path, &read).await;
    assert_eq!((status, listed.as_array().map(Vec::len)), (200, Some(1)));
    let one = format!("{path}/{}", made["id"].as_str().unwrap());
    let (status, _) = api.call(Method::DELETE, &one, Some(&read), None).await;
    assert_eq!(status, 403);
    let (status, _) = api.call(Method::DELETE, &one, Some(&write), None).await;
    assert_eq!(status, 204);
    let (status, answer) = api.call(Method::DELETE, &one, Some(&ann.token), None).await;
    assert_eq!((status, code(&answer)), (404, "webhook_not_found"));
    for action in ["webhook.created", "webhook.deleted"] {
        let (status, log) = api.get(&format!("/api/v1/workspaces/{ws}/audit?action={action}"), &ann.token).await;
        assert_eq!(status, 200, "{log}");
        let events = log["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{log}");
        assert_eq!(
            (events[0]["actor_id"].as_str(), events[0]["target_id"].as_str()),
            (Some(ann.id.as_str()), made["id"].as_str()),
            "{log}"
        );
    }

    // A workspace holds a bounded number of hooks.
    for _ in 0..20 {
        hook(&api, &ann, &ws, &rx.url(), &["document.created"]).await;
    }
    let (status, answer) = api.post(&path, &ann.token, body).await;
    assert_eq!((status, code(&answer)), (409, "too_many_webhooks"));
}

async fn a_delivery_queued_while_the_receiver_is_down_arrives_after_a_restart(db: Db) {
    let url = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(common::pg::fresh_database().await),
    };
    let dir = tempfile::tempdir().unwrap();
    // A short timeout keeps the lease short: a kill in the middle of an attempt leaves a
    // lease the next server waits out.
    let env = [
        ("TANDEM_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("TANDEM_WEBHOOK_RETRY_BASE", "300ms"),
        ("TANDEM_WEBHOOK_TIMEOUT", "1s"),
    ];
    let server = ServerProcess::start_with(dir.path(), url.as_deref(), &env);
    let api = Api::at(server.addr);
    let ann = api.signup("ann@example.com").await;
    let ws = team(&api, &ann).await;
    let rx = Receiver::start(0).await;
    rx.set_down(true);
    let (id, secret) = hook(&api, &ann, &ws, &rx.url(), &["document.created"]).await;
    let doc = api.create_doc(&ann.token, json!({"title": "Survivor", "workspace_id": ws})).await;
    let tried =
        |log: Vec<Value>| log.first().is_some_and(|d| d["attempts"].as_i64() >= Some(1) && d["state"] == "pending");
    assert!(eventually_async(T, || deliveries(&api, &ann, &ws, &id), tried).await);
    let queued = deliveries(&api, &ann, &ws, &id).await[0]["id"].as_str().unwrap().to_owned();
    server.kill9();

    rx.set_down(false);
    let server = ServerProcess::start_with(dir.path(), url.as_deref(), &env);
    let got = rx.wait_for("document.created", T).await;
    assert_eq!(
        (got.delivery.as_str(), got.json["data"]["document_id"].as_str()),
        (queued.as_str(), Some(doc.as_str()))
    );
    assert!(got.signed_with(&secret));
    drop(server);
}

/// The target is checked again on every delivery: hooks registered while private targets
/// were allowed (an address, and a name resolving to loopback) are refused once they no
/// longer are, and the receiver hears nothing.
async fn a_private_target_is_refused_at_delivery_once_no_longer_allowed(db: Db) {
    let url = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(common::pg::fresh_database().await),
    };
    let dir = tempfile::tempdir().unwrap();
    let allowed = [("TANDEM_WEBHOOK_ALLOW_PRIVATE", "true")];
    let server = ServerProcess::start_with(dir.path(), url.as_deref(), &allowed);
    let api = Api::at(server.addr);
    let ann = api.signup("ann@example.com").await;
    let ws = team(&api, &ann).await;
    let rx = Receiver::start(0).await;
    let named = format!("http://localhost:{}/hook", rx.addr.port());
    let (by_address, _) = hook(&api, &ann, &ws, &rx.url(), &["document.created"]).await;
    let (by_name, _) = hook(&api, &ann, &ws, &named, &["document.created"]).await;
    server.terminate();

    let refused = [("TANDEM_WEBHOOK_ALLOW_PRIVATE", "false"), ("TANDEM_WEBHOOK_RETRY_BASE", "200ms")];
    let server = ServerProcess::start_with(dir.path(), url.as_deref(), &refused);
    let api = Api::at(server.addr);
    let (status, ann_again) = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "ann@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(status, 200, "{ann_again}");
    let ann = Account { token: ann_again["access_token"].as_str().unwrap().to_owned(), ..ann };
    api.create_doc(&ann.token, json!({"title": "Secret", "workspace_id": ws})).await;
    for hook in [by_address, by_name] {
        let refused = |log: Vec<Value>| {
            log.first().is_some_and(|d| d["last_error"].as_str().is_some_and(|e| e.contains("not public")))
        };
        assert!(eventually_async(T, || deliveries(&api, &ann, &ws, &hook), refused).await, "{hook}");
    }
    assert_eq!(rx.requests(), 0, "a refused target was reached");
    drop(server);
}

/// A graceful shutdown announces edits still waiting out the debounce: the next server
/// sends them. The shutdown does not wait out its timeout for it.
async fn an_edit_still_in_the_debounce_at_a_graceful_shutdown_is_announced(db: Db) {
    let url = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(common::pg::fresh_database().await),
    };
    let dir = tempfile::tempdir().unwrap();
    let env = [("TANDEM_WEBHOOK_ALLOW_PRIVATE", "true"), ("TANDEM_WEBHOOK_DEBOUNCE", "1h")];
    let server = ServerProcess::start_with(dir.path(), url.as_deref(), &env);
    let api = Api::at(server.addr);
    let ann = api.signup("ann@example.com").await;
    let ws = team(&api, &ann).await;
    let rx = Receiver::start(0).await;
    rx.set_down(true);
    let (id, _) = hook(&api, &ann, &ws, &rx.url(), &["document.updated"]).await;
    let doc = api.create_doc(&ann.token, json!({"title": "Draft", "workspace_id": ws})).await;
    assert_eq!(api.put_content(&ann.token, &doc, "last words\n").await, 200);
    assert!(deliveries(&api, &ann, &ws, &id).await.is_empty(), "debounced for an hour");
    let stopping = unix_ms();
    let started = std::time::Instant::now();
    assert!(server.terminate().success());
    assert!(started.elapsed() < Duration::from_secs(10), "shutdown took {:?}", started.elapsed());

    rx.set_down(false);
    let _server = ServerProcess::start_with(dir.path(), url.as_deref(), &env);
    let got = rx.wait_for("document.updated", T).await;
    assert_eq!(got.json["data"]["document_id"], doc.as_str());
    // Queued by the shutdown, not before it: the debounce held the edit until then.
    let queued = got.json["created_at"].as_i64().unwrap();
    assert!(queued >= stopping, "announced at {queued}, before the shutdown began at {stopping}");
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A hook whose receiver accepts and never answers, with a backlog of deliveries, takes
/// one sender: another hook's delivery arrives well within one attempt's timeout.
async fn a_receiver_that_never_answers_does_not_hold_up_other_hooks(db: Db) {
    const TIMEOUT: Duration = Duration::from_secs(5);
    let server = server_with(db, |c| {
        fast(c);
        c.webhooks.webhook_timeout = TIMEOUT;
    })
    .await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let ws = team(&api, &ann).await;
    let hole = BlackHole::start().await;
    let rx = Receiver::start(0).await;
    let (stuck, _) = hook(&api, &ann, &ws, &hole.url, &["document.created"]).await;
    hook(&api, &ann, &ws, &rx.url(), &["comment.created"]).await;
    let mut doc = String::new();
    for i in 0..40 {
        doc = api.create_doc(&ann.token, json!({"title": format!("Doc {i}"), "workspace_id": ws})).await;
    }
    let accepted = || async { hole.accepted() };
    assert!(eventually_async(T, accepted, |n| n >= 1).await, "the stuck hook is being tried");

    let started = std::time::Instant::now();
    let (status, thread) =
        api.post(&format!("/api/v1/documents/{doc}/comments"), &ann.token, json!({"body": "anyone?"})).await;
    assert_eq!(status, 201, "{thread}");
    rx.wait_for("comment.created", T).await;
    let waited = started.elapsed();
    assert!(waited < TIMEOUT / 2, "another hook's delivery waited {waited:?} behind a hanging receiver");
    let held = hole.accepted();
    assert!(held <= 2, "{held} attempts at the hanging receiver at once");
    let log = deliveries(&api, &ann, &ws, &stuck).await;
    assert_eq!(log.iter().filter(|d| d["state"] == "pending").count(), 40);
}
