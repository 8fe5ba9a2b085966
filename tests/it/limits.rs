//! Abuse limits. Rates slow a sender down and never discard what it sent; what throttling
//! cannot contain (oversized frames and states, a full room or document) closes only the
//! offending connection, with its own close code.

use crate::common;

use std::time::Duration;

use common::{Client, TestServer};
use tandem_protocol as proto;

const T: Duration = Duration::from_secs(10);

/// Sends `n` one-character edits as fast as the socket takes them, one update each (as
/// scripts and importers do), then its Close frame at once, and reads nothing the server
/// sends back: the server's side of it backs up and closes, while the client's bytes are
/// all on their way. The caller drops the client once it has checked the outcome (a
/// socket dropped with unread data is reset, and its own unsent bytes with it).
async fn burst_then_close(url: &str, n: usize) -> Client {
    let mut writer = Client::connect(url).await.unwrap();
    writer.sync().await;
    for i in 0..n {
        writer.append(&char::from(b'a' + (i % 26) as u8).to_string()).await;
    }
    let _ = futures_util::SinkExt::close(&mut writer.ws).await;
    writer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_edits_sent_at_once_then_a_disconnect_all_survive() {
    // The default limits: 1,000 messages are five seconds' worth.
    let server = TestServer::start().await;
    let mut reader = server.client("burst").await;
    let writer = burst_then_close(&server.ws_url("burst", &server.token(&["*=rw"])), 1000).await;
    reader.wait_text(Duration::from_secs(60), |t| t.len() == 1000).await;
    drop(writer);
    // Durable, not only relayed: a late joiner of the reopened room has it all.
    drop(reader);
    let late = server.client("burst").await;
    assert_eq!(late.text().len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_closing_right_after_its_burst_loses_nothing_of_it() {
    let server = TestServer::start_with(|c| c.socket.max_messages_per_second = 5000).await;
    let url = server.ws_url("closing", &server.token(&["*=rw"]));
    let mut reader = server.client("closing").await;
    for round in 1..=5 {
        let writer = burst_then_close(&url, 500).await;
        reader.wait_text(Duration::from_secs(30), |t| t.len() == 500 * round).await;
        drop(writer);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_over_its_message_rate_is_slowed_not_closed() {
    let server = TestServer::start_with(|c| c.socket.max_messages_per_second = 50).await;
    let mut reader = server.client("slowed").await;
    let mut fast = server.client("slowed").await;
    let started = std::time::Instant::now();
    for i in 0..150 {
        fast.append(&(i % 10).to_string()).await;
    }
    reader.wait_text(Duration::from_secs(30), |t| t.len() == 150).await;
    // The last 100 arrived at the pace of the budget, and the sender is still connected.
    assert!(started.elapsed() >= Duration::from_millis(1500), "150 messages at 50/s took {:?}", started.elapsed());
    fast.append_acked("!").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_over_its_byte_rate_is_slowed_not_closed() {
    let server = TestServer::start_with(|c| {
        c.socket.max_message_size = 64 * 1024;
        c.socket.max_bytes_per_second = 16 * 1024;
    })
    .await;
    let mut reader = server.client("bytes").await;
    let mut heavy = server.client("bytes").await;
    let started = std::time::Instant::now();
    // The first two fit the burst (one maximum-size message); the third waits for ~26 KiB
    // of budget.
    for i in 0..3 {
        heavy.append(&char::from(b'a' + i).to_string().repeat(30 * 1024)).await;
    }
    reader.wait_text(Duration::from_secs(30), |t| t.len() == 90 * 1024).await;
    assert!(started.elapsed() >= Duration::from_millis(1200), "took {:?}", started.elapsed());
    heavy.append_acked("still connected").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_new_connections_from_one_address_get_429() {
    let server = TestServer::start_with(|c| c.socket.max_connections_per_ip_per_minute = 3).await;
    let url = server.ws_url("ip", &server.token(&["*=rw"]));
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Client::connect(&url).await.unwrap());
    }
    match Client::connect(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 429);
            let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned();
            assert!(body.contains("rate_limited"), "{body}");
        }
        Err(e) => panic!("expected 429, got {e}"),
        Ok(_) => panic!("a fourth connection within the minute was accepted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_room_refuses_the_next_join_with_1013() {
    let server = TestServer::start_with(|c| c.room.max_connections = 2).await;
    let _a = server.client("small").await;
    let _b = server.client("small").await;
    let mut c = Client::connect(&server.ws_url("small", &server.token(&["*=rw"]))).await.unwrap();
    assert_eq!(c.wait_close(T).await, Some(1013));
    // Other rooms are not affected.
    server.client("other").await.append_acked("ok").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_awareness_states_close_with_1009() {
    let server = TestServer::start_with(|c| c.socket.max_awareness_bytes = 100).await;
    let mut peer = server.client("aw").await;
    let mut big = server.client("aw").await;
    big.set_awareness(77, 1, &format!(r#"{{"name":"{}"}}"#, "x".repeat(200))).await;
    assert_eq!(big.wait_close(T).await, Some(1009));
    peer.set_awareness(78, 1, r#"{"name":"fine"}"#).await;
    peer.wait_awareness(T, |u| u.clients.keys().any(|c| c.get() == 78)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_past_the_document_size_limit_closes_its_sender_with_1009() {
    let server = TestServer::start_with(|c| c.room.max_state_bytes = 8 * 1024).await;
    let mut reader = server.client("size").await;
    let mut writer = server.client("size").await;
    writer.append_acked(&"a".repeat(5000)).await;
    reader.wait_text(T, |t| t.len() == 5000).await;
    writer.append(&"b".repeat(5000)).await;
    assert_eq!(writer.wait_close(T).await, Some(1009));
    // Nothing of the refused update was kept; the room goes on serving small edits.
    let mut late = server.client("size").await;
    assert_eq!(late.text().len(), 5000);
    late.append_acked("c").await;
    reader.wait_text(T, |t| t.len() == 5001).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awareness_faster_than_its_rate_is_held_and_the_newest_state_delivered() {
    let server = TestServer::start_with(|c| c.socket.max_awareness_per_second = 5).await;
    let mut calm = server.client("presence-rate").await;
    let mut chatty = server.client("presence-rate").await;
    let me = chatty.doc.client_id().get();
    for clock in 1..=40u32 {
        chatty.send_raw(proto::encode_awareness(&awareness(me, clock))).await;
    }
    // Not closed: the newest state arrives once the rate allows it.
    calm.wait_awareness(T, |u| u.clients.get(&yrs::ClientID::new(me)).is_some_and(|e| e.clock == 40)).await;
    chatty.append_acked("still connected").await;
}

fn awareness(client: u64, clock: u32) -> yrs::sync::awareness::AwarenessUpdate {
    let mut u = yrs::sync::awareness::AwarenessUpdate { clients: Default::default() };
    u.clients.insert(
        yrs::ClientID::new(client),
        yrs::sync::awareness::AwarenessUpdateEntry { clock, json: r#"{"cursor":1}"#.into() },
    );
    u
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_cannot_lock_members_out_of_a_room_nor_one_user_fill_it() {
    use common::api::{Api, Db, server_with};
    use serde_json::json;

    let server = server_with(Db::Sqlite, |c| {
        c.room.max_connections = 20;
        c.room.max_connections_per_user = 3;
    })
    .await;
    let api = Api::new(&server);
    let owner = api.signup("owner@example.com").await;
    let doc = api.create_doc(&owner.token, json!({"title": "full"})).await;
    let mut links = Vec::new();
    for _ in 0..2 {
        let (status, link) =
            api.post(&format!("/api/v1/documents/{doc}/links"), &owner.token, json!({"role": "viewer"})).await;
        assert_eq!(status, 201);
        links.push(format!("ws://{}/ws/{doc}?link={}", server.addr, link["token"].as_str().unwrap()));
    }
    let mut held = Vec::new();
    // Links passed around take at most half the room, all of them together.
    for i in 0..10 {
        let mut viewer = Client::connect(&links[i % 2]).await.unwrap();
        viewer.sync().await;
        held.push(viewer);
    }
    for link in &links {
        let mut one_more = Client::connect(link).await.unwrap();
        assert_eq!(one_more.wait_close(T).await, Some(1013));
    }
    let mut editor = Client::connect(&server.ws_url(&doc, &owner.token)).await.unwrap();
    editor.sync().await;
    editor.append_acked("still room for the editor").await;

    // One user holds at most three connections in a room; others are not affected.
    let other = api.create_doc(&owner.token, json!({"title": "tabs"})).await;
    for _ in 0..3 {
        let mut tab = Client::connect(&server.ws_url(&other, &owner.token)).await.unwrap();
        tab.sync().await;
        held.push(tab);
    }
    let mut fourth = Client::connect(&server.ws_url(&other, &owner.token)).await.unwrap();
    assert_eq!(fourth.wait_close(T).await, Some(1013));
}
