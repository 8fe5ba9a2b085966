//! Abuse limits: each closes only the offending connection, with its own close code.

mod common;

use std::time::Duration;

use common::client::insert_update_in;
use common::{Client, TestServer};
use tandem_protocol as proto;
use tokio_tungstenite::tungstenite::Message;

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_messages_closes_the_flooder_with_1008() {
    let server = TestServer::start_with(|c| c.max_messages_per_second = 20).await;
    let mut calm = server.client("flood").await;
    let mut flooder = server.client("flood").await;
    for _ in 0..100 {
        // Query awareness: cheap to send, still a message. Stop if the server has closed.
        if futures_util::SinkExt::send(&mut flooder.ws, Message::Binary(vec![3].into())).await.is_err() {
            break;
        }
    }
    assert_eq!(flooder.wait_close(T).await, Some(1008));
    calm.append_acked("still served").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_bytes_per_second_closes_with_1008() {
    let server = TestServer::start_with(|c| {
        c.max_message_size = 64 * 1024;
        c.max_bytes_per_second = 16 * 1024;
    })
    .await;
    let mut heavy = server.client("bytes").await;
    let chunk = "b".repeat(60 * 1024);
    // The first 60 KiB fits the burst (one maximum-size message); the second does not.
    for i in 0..2u64 {
        let frame = proto::encode_update(&insert_update_in(500 + i, &format!("t{i}"), &chunk));
        if futures_util::SinkExt::send(&mut heavy.ws, Message::Binary(frame.into())).await.is_err() {
            break; // already closed by the server
        }
    }
    assert_eq!(heavy.wait_close(T).await, Some(1008));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_new_connections_from_one_address_get_429() {
    let server = TestServer::start_with(|c| c.max_connections_per_ip_per_minute = 3).await;
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
    let server = TestServer::start_with(|c| c.max_connections_per_room = 2).await;
    let _a = server.client("small").await;
    let _b = server.client("small").await;
    let mut c = Client::connect(&server.ws_url("small", &server.token(&["*=rw"]))).await.unwrap();
    assert_eq!(c.wait_close(T).await, Some(1013));
    // Other rooms are not affected.
    server.client("other").await.append_acked("ok").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_awareness_states_close_with_1009() {
    let server = TestServer::start_with(|c| c.max_awareness_bytes = 100).await;
    let mut peer = server.client("aw").await;
    let mut big = server.client("aw").await;
    big.set_awareness(77, 1, &format!(r#"{{"name":"{}"}}"#, "x".repeat(200))).await;
    assert_eq!(big.wait_close(T).await, Some(1009));
    peer.set_awareness(78, 1, r#"{"name":"fine"}"#).await;
    peer.wait_awareness(T, |u| u.clients.keys().any(|c| c.get() == 78)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_past_the_document_size_limit_closes_its_sender_with_1009() {
    let server = TestServer::start_with(|c| c.max_document_state_size = 8 * 1024).await;
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
async fn awareness_faster_than_its_rate_closes_with_1008() {
    let server = TestServer::start_with(|c| c.max_awareness_per_second = 5).await;
    let mut calm = server.client("presence-rate").await;
    let mut chatty = server.client("presence-rate").await;
    for clock in 1..=40u32 {
        let frame = proto::encode_awareness(&awareness(chatty.doc.client_id().get(), clock));
        if futures_util::SinkExt::send(&mut chatty.ws, Message::Binary(frame.into())).await.is_err() {
            break;
        }
    }
    assert_eq!(chatty.wait_close(T).await, Some(1008));
    calm.append_acked("still served").await;
}

fn awareness(client: u64, clock: u32) -> yrs::sync::awareness::AwarenessUpdate {
    let mut u = yrs::sync::awareness::AwarenessUpdate { clients: Default::default() };
    u.clients.insert(
        yrs::ClientID::new(client),
        yrs::sync::awareness::AwarenessUpdateEntry { clock, json: r#"{"cursor":1}"#.into() },
    );
    u
}
