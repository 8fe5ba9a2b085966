//! Presence as others see it: only valid states are relayed, a client id belongs to the
//! connection that introduced it, and a user's or link holder's state says who set it.

use crate::common;

use std::time::Duration;

use common::api::{Api, Db, server};
use common::client::Event;
use common::{Client, TestServer};
use serde_json::{Value, json};
use tandem::identity::tokens::Grant;
use yrs::ClientID;
use yrs::sync::awareness::AwarenessUpdate;

const T: Duration = Duration::from_secs(10);

fn state(u: &AwarenessUpdate, client: u64) -> Option<Value> {
    u.clients.get(&ClientID::new(client)).map(|e| serde_json::from_str(&e.json).unwrap())
}

/// Reads `client`'s awareness frames until one holds `marker`'s state, failing if any
/// frame before it changed `guarded`.
async fn until_marker_untouched(client: &mut Client, marker: u64, guarded: u64) {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.next_event(left).await {
            Some(Event::Awareness(u)) => {
                assert!(state(&u, guarded).is_none(), "client {guarded}'s state was changed: {u:?}");
                if state(&u, marker).is_some() {
                    return;
                }
            }
            Some(Event::Closed(code)) => panic!("closed ({code:?})"),
            None => panic!("marker {marker} never arrived"),
            Some(_) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awareness_that_is_not_a_json_object_closes_its_sender_with_1007_and_reaches_nobody() {
    let server = TestServer::start().await;
    let mut peer = server.client("bad-presence").await;
    for bad in ["{{{", r#""a string""#, "[1]", "42", ""] {
        let mut sender = server.client("bad-presence").await;
        sender.set_awareness(500, 1, bad).await;
        assert_eq!(sender.wait_close(T).await, Some(1007), "state {bad:?}");
    }
    let mut good = server.client("bad-presence").await;
    good.set_awareness(501, 1, r#"{"name":"ok"}"#).await;
    until_marker_untouched(&mut peer, 501, 500).await;
    // The room goes on: edits still flow between the two.
    good.append_acked("after").await;
    peer.wait_text(T, |t| t == "after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cannot_set_or_remove_a_client_id_another_one_introduced() {
    let server = TestServer::start().await;
    let url = |subject: &str| {
        let token = server.keys.mint(subject, &[Grant::parse("*=rw").unwrap()], Duration::from_secs(600));
        server.ws_url("spoof", &token)
    };
    let mut alice = Client::connect(&url("alice")).await.unwrap();
    alice.sync().await;
    let mut watcher = server.client("spoof").await;
    alice.set_awareness(100, 1, r#"{"name":"alice"}"#).await;
    watcher.wait_awareness(T, |u| state(u, 100).is_some_and(|s| s["name"] == "alice")).await;

    let mut mallory = Client::connect(&url("mallory")).await.unwrap();
    mallory.sync().await;
    mallory.set_awareness(100, 5, r#"{"name":"mallory"}"#).await;
    mallory.set_awareness(100, 6, "null").await;
    mallory.set_awareness(200, 1, r#"{"name":"mallory"}"#).await;
    until_marker_untouched(&mut watcher, 200, 100).await;

    // Someone joining now sees alice's state as she set it.
    let mut late = Client::connect(&url("late")).await.unwrap();
    late.wait_awareness(T, |u| state(u, 100).is_some_and(|s| s["name"] == "alice")).await;

    // Alice herself still owns it.
    alice.set_awareness(100, 2, r#"{"name":"alice, moved"}"#).await;
    watcher.wait_awareness(T, |u| state(u, 100).is_some_and(|s| s["name"] == "alice, moved")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departed_clients_id_waits_an_awareness_timeout_for_its_owner_to_come_back() {
    const TIMEOUT: Duration = Duration::from_secs(10);
    let server = TestServer::start_with(|c| c.room.awareness_timeout = TIMEOUT).await;
    let url = |subject: &str| {
        let token = server.keys.mint(subject, &[Grant::parse("*=rw").unwrap()], Duration::from_secs(600));
        server.ws_url("squat", &token)
    };
    let mut watcher = server.client("squat").await;
    let mut alice = Client::connect(&url("alice")).await.unwrap();
    alice.sync().await;
    alice.set_awareness(100, 1, r#"{"name":"alice"}"#).await;
    watcher.wait_awareness(T, |u| state(u, 100).is_some_and(|s| s["name"] == "alice")).await;
    drop(alice);
    watcher.wait_awareness(T, |u| u.clients.get(&ClientID::new(100)).is_some_and(|e| &*e.json == "null")).await;
    let left = tokio::time::Instant::now();

    // Someone else cannot take her id while her provider may still come back...
    let mut mallory = Client::connect(&url("mallory")).await.unwrap();
    mallory.sync().await;
    mallory.set_awareness(100, 9, r#"{"name":"mallory"}"#).await;
    mallory.set_awareness(200, 1, r#"{"name":"mallory"}"#).await;
    until_marker_untouched(&mut watcher, 200, 100).await;
    // ...and she gets it back when it does.
    let mut back = Client::connect(&url("alice")).await.unwrap();
    back.sync().await;
    back.set_awareness(100, 10, r#"{"name":"alice, back"}"#).await;
    watcher.wait_awareness(T, |u| state(u, 100).is_some_and(|s| s["name"] == "alice, back")).await;

    // Once she is gone for longer than the awareness timeout, the id is free again.
    drop(back);
    watcher.wait_awareness(T, |u| u.clients.get(&ClientID::new(100)).is_some_and(|e| &*e.json == "null")).await;
    assert!(left.elapsed() < TIMEOUT, "the machine was too slow for this test's timing");
    tokio::time::sleep(TIMEOUT + Duration::from_millis(200)).await;
    mallory.set_awareness(100, 20, r#"{"name":"mallory"}"#).await;
    watcher.wait_awareness(T, |u| state(u, 100).is_some_and(|s| s["name"] == "mallory")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_reconnecting_with_the_same_client_id_keeps_its_presence() {
    // The same principal may take over its own client id from a connection the server has
    // not yet seen go (a provider that reconnects after a network drop).
    let server = TestServer::start().await;
    let mut watcher = server.client("reconnect").await;
    let mut first = server.client("reconnect").await;
    first.set_awareness(300, 1, r#"{"n":1}"#).await;
    watcher.wait_awareness(T, |u| state(u, 300).is_some_and(|s| s["n"] == 1)).await;
    let mut second = server.client("reconnect").await;
    second.set_awareness(300, 2, r#"{"n":2}"#).await;
    watcher.wait_awareness(T, |u| state(u, 300).is_some_and(|s| s["n"] == 2)).await;
    // The old connection leaving does not remove what the new one now owns.
    drop(first);
    second.set_awareness(301, 1, "{}").await;
    until_marker_untouched(&mut watcher, 301, 300).await;
}

async fn presence_says_which_user_or_guest_set_it(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "presence"})).await;
    let (status, _) = api
        .post(&format!("/api/v1/documents/{doc}/shares"), &ann.token, json!({"user_id": bob.id, "role": "editor"}))
        .await;
    assert_eq!(status, 200);
    let (status, link) =
        api.post(&format!("/api/v1/documents/{doc}/links"), &ann.token, json!({"role": "viewer"})).await;
    assert_eq!(status, 201);

    let mut a = Client::connect(&server.ws_url(&doc, &ann.token)).await.unwrap();
    a.sync().await;
    let mut b = Client::connect(&server.ws_url(&doc, &bob.token)).await.unwrap();
    b.sync().await;
    // Bob claims to be Ann, in the app's own field and in the reserved one.
    let forged = json!({"user": {"name": "Ann"}, "tandem": {"user": ann.id, "name": "ann"}});
    b.set_awareness(400, 1, &forged.to_string()).await;
    let seen = a.wait_awareness(T, |u| state(u, 400).is_some()).await;
    let seen = state(&seen, 400).unwrap();
    assert_eq!(seen["tandem"], json!({"user": bob.id, "name": "bob"}));
    assert_eq!(seen["user"]["name"], "Ann", "the app's own fields are the client's");

    let token = link["token"].as_str().unwrap();
    let mut guest = Client::connect(&format!("ws://{}/ws/{doc}?link={token}", server.addr)).await.unwrap();
    guest.sync().await;
    guest.set_awareness(401, 1, r#"{"tandem":{"user":"someone"}}"#).await;
    let seen = a.wait_awareness(T, |u| state(u, 401).is_some()).await;
    assert_eq!(state(&seen, 401).unwrap()["tandem"], json!({"guest": true}));
    // A view link holder cannot remove Ann's cursor either.
    a.set_awareness(402, 1, "{}").await;
    b.wait_awareness(T, |u| state(u, 402).is_some()).await;
    guest.set_awareness(402, 7, "null").await;
    guest.set_awareness(403, 1, "{}").await;
    until_marker_untouched(&mut b, 403, 402).await;
}

on_both_databases!(presence_says_which_user_or_guest_set_it);
