//! Live rooms over real WebSockets against the real server on 127.0.0.1:0.

use crate::common;

use std::time::Duration;

use common::client::{Event, insert_update, insert_update_in, text_of};
use common::{Client, TestServer};
use tandem_protocol as proto;
use tokio_tungstenite::tungstenite;
use yrs::Transact;
use yrs::updates::decoder::Decode;

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_converge_after_concurrent_edits() {
    let server = TestServer::start().await;
    let mut a = server.client("notes/converge").await;
    let mut b = server.client("notes/converge").await;
    a.append("from a;").await;
    b.append("from b;").await;
    a.wait_text(T, |t| t.contains("from a;") && t.contains("from b;")).await;
    b.wait_text(T, |t| t.contains("from a;") && t.contains("from b;")).await;
    assert_eq!(a.text(), b.text());
    assert_eq!(a.text().len(), "from a;from b;".len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_are_echoed_to_their_sender() {
    let server = TestServer::start().await;
    let mut a = server.client("echo").await;
    a.send_raw(proto::encode_update(&insert_update(77, "mine"))).await;
    // Our own doc does not hold it: only the echo can make it appear.
    a.wait_text(T, |t| t == "mine").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_joiner_gets_full_state_after_room_was_evicted() {
    let server = TestServer::start_with(|c| c.room.grace = Duration::from_millis(100)).await;
    {
        let mut a = server.client("late").await;
        for i in 0..19 {
            a.append(&format!("{i},")).await;
        }
        // The echo of the last edit means all of them are committed (one connection,
        // in order); dropping the socket before that may lose unacknowledged edits.
        a.append_acked("19,").await;
    }
    // Everyone left: the room is flushed, compacted into a snapshot and evicted.
    wait_for_snapshot(&server, "late").await;
    let late = server.client("late").await;
    assert_eq!(late.text(), (0..20).map(|i| format!("{i},")).collect::<String>());
}

async fn stored(server: &TestServer, room: &str) -> tandem::store::StoredDoc {
    let url = format!("sqlite://{}", server.dir.path().join("tandem.db").display());
    let store = tandem::store::open(&url, tandem::config::SqliteSync::Normal).await.unwrap();
    store.load_doc(&tandem::ids::DocId::parse(room).unwrap()).await.unwrap()
}

/// Waits until a snapshot exists and, with `folded`, until the log is empty too (what
/// closing a room leaves behind).
async fn wait_for_snapshot_with(server: &TestServer, room: &str, folded: bool) -> tandem::store::StoredDoc {
    for _ in 0..200 {
        let doc = stored(server, room).await;
        if doc.snapshot.is_some() && (!folded || doc.updates.is_empty()) {
            return doc;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("room {room}: no snapshot (folded: {folded}) within 10 s");
}

/// Waits until the room has closed: closing folds the whole log into the snapshot.
async fn wait_for_snapshot(server: &TestServer, room: &str) -> tandem::store::StoredDoc {
    wait_for_snapshot_with(server, room, true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_survives_a_graceful_restart() {
    let server = TestServer::start().await;
    let mut a = server.client("restart").await;
    a.append_acked("persisted").await;
    let (dir, db) = server.stop().await;
    // The client sees the server go with 1012 (service restart).
    assert_eq!(a.wait_close(T).await, Some(1012));
    let server = TestServer::start_in(dir, db, |_| {}).await;
    let b = server.client("restart").await;
    assert_eq!(b.text(), "persisted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_client_receives_everything_but_cannot_write() {
    let server = TestServer::start().await;
    let mut writer = server.client("public/doc").await;
    writer.append_acked("hello").await;

    let url = server.ws_url("public/doc", &server.token(&["public/*=r"]));
    let mut reader = Client::connect(&url).await.unwrap();
    reader.sync().await;
    assert_eq!(reader.text(), "hello");

    reader.send_raw(proto::encode_update(&insert_update(5, "evil"))).await;
    loop {
        match reader.next_event(T).await.expect("an answer") {
            Event::PermissionDenied(reason) => {
                assert!(reason.contains("read-only"), "{reason}");
                break;
            }
            Event::Closed(c) => panic!("closed {c:?}"),
            _ => {}
        }
    }
    writer.append(" world").await;
    reader.wait_text(T, |t| t == "hello world").await;
    writer.wait_text(T, |t| t == "hello world").await;
    assert!(!writer.text().contains("evil"));
}

fn http_status(err: tungstenite::Error) -> u16 {
    match err {
        tungstenite::Error::Http(resp) => resp.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_before_the_upgrade() {
    let server = TestServer::start().await;
    let base = format!("ws://{}/ws/notes/a", server.addr);
    let no_token = Client::connect(&base).await.err().unwrap();
    assert_eq!(http_status(no_token), 401);
    let garbage = Client::connect(&format!("{base}?token=garbage")).await.err().unwrap();
    assert_eq!(http_status(garbage), 401);
    let other_secret = tandem::identity::tokens::Keys::from_secret(b"someone else");
    let forged = common::token(&other_secret, &["*=rw"]);
    let forged = Client::connect(&format!("{base}?token={forged}")).await.err().unwrap();
    assert_eq!(http_status(forged), 401);
    let wrong_room = server.token(&["other/*=rw"]);
    let wrong_room = Client::connect(&format!("{base}?token={wrong_room}")).await.err().unwrap();
    assert_eq!(http_status(wrong_room), 403);
    let too_long = "x".repeat(300);
    let ok = server.token(&["*=rw"]);
    let long = Client::connect(&server.ws_url(&too_long, &ok)).await.err().unwrap();
    assert_eq!(http_status(long), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_frames_close_only_their_sender() {
    let server = TestServer::start().await;
    let mut good = server.client("garbage").await;
    let cases: Vec<(&str, tungstenite::Message, u16)> = vec![
        ("truncated varint", tungstenite::Message::Binary(vec![0, 2, 0xff].into()), 1007),
        ("random bytes", tungstenite::Message::Binary(vec![0, 2, 4, 0xde, 0xad, 0xbe, 0xef].into()), 1007),
        ("empty frame", tungstenite::Message::Binary(Vec::new().into()), 1007),
        ("unknown sync type", tungstenite::Message::Binary(vec![0, 9, 1, 0].into()), 1007),
        ("text frame", tungstenite::Message::Text("hello".into()), 1003),
        ("v2 update", tungstenite::Message::Binary(v2_update_frame().into()), 1007),
    ];
    for (name, frame, code) in cases {
        let mut bad = server.client("garbage").await;
        futures_util::SinkExt::send(&mut bad.ws, frame).await.unwrap();
        assert_eq!(bad.wait_close(T).await, Some(code), "{name}");
        good.append_acked("x").await;
    }
    let late = server.client("garbage").await;
    assert_eq!(late.text(), "xxxxxx");
}

fn v2_update_frame() -> Vec<u8> {
    let doc = yrs::Doc::with_client_id(9);
    let text = doc.get_or_insert_text("content");
    let mut txn = doc.transact_mut();
    yrs::Text::insert(&text, &mut txn, 0, "v2");
    proto::encode_update(&txn.encode_update_v2())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_message_types_are_ignored() {
    let server = TestServer::start().await;
    let mut a = server.client("unknown").await;
    a.send_raw(vec![42, 1, 0]).await;
    a.append("still here").await;
    a.wait_text(T, |t| t == "still here").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_close_with_1009() {
    let server = TestServer::start_with(|c| c.socket.max_message_size = 64 * 1024).await;
    let mut good = server.client("big").await;
    let mut bad = server.client("big").await;
    let big = insert_update(3, &"y".repeat(100 * 1024));
    bad.send_raw(proto::encode_update(&big)).await;
    assert_eq!(bad.wait_close(T).await, Some(1009));
    good.append("fine").await;
    good.wait_text(T, |t| t == "fine").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_waiting_on_missing_dependencies_do_not_corrupt_the_room() {
    let server = TestServer::start().await;
    // Client 1234 writes "ab"; client 5678, having seen it, writes "cd" after it. Its
    // update depends on one the room does not have yet (its own clocks have no gap).
    let doc = yrs::Doc::with_client_id(1234);
    let text = doc.get_or_insert_text("content");
    let first = {
        let mut txn = doc.transact_mut();
        yrs::Text::insert(&text, &mut txn, 0, "ab");
        txn.encode_update_v1()
    };
    let other = yrs::Doc::with_client_id(5678);
    let other_text = other.get_or_insert_text("content");
    other.transact_mut().apply_update(yrs::Update::decode_v1(&first).unwrap()).unwrap();
    let second = {
        let mut txn = other.transact_mut();
        yrs::Text::insert(&other_text, &mut txn, 2, "cd");
        txn.encode_update_v1()
    };
    let mut a = server.client("pending").await;
    a.send_raw(proto::encode_update(&second)).await;
    a.append_acked("!").await;
    // A late joiner sees a consistent document without the dangling update.
    let late = server.client("pending").await;
    assert_eq!(late.text(), "!");
    // Once the missing update arrives, both integrate.
    a.send_raw(proto::encode_update(&first)).await;
    a.wait_text(T, |t| t.contains("abcd")).await;
    let late = server.client("pending").await;
    assert!(late.text().contains("abcd"), "{}", late.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_joins_share_one_document() {
    let server = TestServer::start().await;
    let url = server.ws_url("storm", &server.token(&["*=rw"]));
    let mut joins = Vec::new();
    for i in 0..20u64 {
        let url = url.clone();
        joins.push(tokio::spawn(async move {
            let mut c = Client::connect(&url).await.unwrap();
            c.sync().await;
            c.send_raw(proto::encode_update(&insert_update(1000 + i, "z"))).await;
            c
        }));
    }
    let mut clients = Vec::new();
    for j in joins {
        clients.push(j.await.unwrap());
    }
    for c in &mut clients {
        c.wait_text(T, |t| t.len() == 20).await;
    }
    let late = server.client("storm").await;
    assert_eq!(late.text(), "z".repeat(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awareness_reaches_peers_and_is_removed_when_a_client_leaves() {
    let server = TestServer::start().await;
    let mut a = server.client("presence").await;
    let mut b = server.client("presence").await;
    a.set_awareness(501, 1, r#"{"user":"ada"}"#).await;
    let seen = b.wait_awareness(T, |u| u.clients.keys().any(|c| c.get() == 501)).await;
    assert_eq!(&*seen.clients.values().next().unwrap().json, r#"{"user":"ada"}"#);
    // The sender hears its own state back (renewals keep its provider's timer happy).
    a.wait_awareness(T, |u| u.clients.keys().any(|c| c.get() == 501)).await;
    // A late joiner gets every present state on connect.
    let mut c = Client::connect(&server.ws_url("presence", &server.token(&["*=rw"]))).await.unwrap();
    c.wait_awareness(T, |u| u.clients.keys().any(|c| c.get() == 501)).await;
    drop(a);
    b.wait_awareness(T, |u| u.clients.iter().any(|(c, e)| c.get() == 501 && &*e.json == "null")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_awareness_states_are_swept() {
    let server = TestServer::start_with(|c| c.room.awareness_timeout = Duration::from_millis(600)).await;
    let mut a = server.client("sweep").await;
    let mut b = server.client("sweep").await;
    a.set_awareness(601, 1, r#"{"user":"quiet"}"#).await;
    b.wait_awareness(T, |u| u.clients.keys().any(|c| c.get() == 601)).await;
    // `a` stays connected but never renews.
    let started = std::time::Instant::now();
    b.wait_awareness(T, |u| u.clients.iter().any(|(c, e)| c.get() == 601 && &*e.json == "null")).await;
    assert!(started.elapsed() >= Duration::from_millis(400), "removed too early");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_awareness_answers_every_state() {
    let server = TestServer::start().await;
    let mut a = server.client("query").await;
    a.set_awareness(701, 1, r#"{"n":1}"#).await;
    a.wait_awareness(T, |u| u.clients.keys().any(|c| c.get() == 701)).await;
    a.send_raw(vec![3]).await;
    a.wait_awareness(T, |u| u.clients.keys().any(|c| c.get() == 701)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_miss_pongs_are_closed() {
    let server = TestServer::start_with(|c| c.socket.ping_interval = Duration::from_millis(200)).await;
    let mut quiet = server.client("ping").await;
    // tungstenite answers pings only while it reads: stop reading for a while.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(quiet.wait_close(T).await, Some(4408));
    // A client that keeps reading stays.
    let mut live = server.client("ping").await;
    for _ in 0..8 {
        let _ = live.next_event(Duration::from_millis(100)).await;
    }
    live.append("alive").await;
    live.wait_text(T, |t| t == "alive").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_disconnected_with_1013() {
    let server = TestServer::start_with(|c| c.socket.send_queue = 16).await;
    let url = server.ws_url("slow", &server.token(&["*=rw"]));
    let mut slow = Client::connect_small_buffer(&url).await.unwrap();
    slow.sync().await;
    let mut fast = server.client("slow").await;
    let mut writer = server.client("slow").await;
    // 120 × 64 KiB overflows the server's socket buffer for a client that stops reading,
    // and then its queue; the fast reader and the writer (draining its echoes) keep up.
    const N: usize = 120;
    let chunk = "q".repeat(64 * 1024);
    let fast = tokio::spawn(async move {
        let mut got = 0;
        while got < N {
            match fast.next_event(T).await {
                Some(Event::Update(_)) => got += 1,
                Some(Event::Closed(code)) => panic!("fast client closed ({code:?}) after {got}"),
                None => panic!("fast client starved after {got}"),
                Some(_) => {}
            }
        }
    });
    for i in 0..N {
        let root = format!("t{i}");
        writer.send_raw(proto::encode_update(&insert_update_in(10_000 + i as u64, &root, &chunk))).await;
        while writer.next_event(Duration::ZERO).await.is_some() {}
    }
    fast.await.unwrap();
    let mut received = 0;
    let closed = loop {
        match slow.next_event(T).await {
            Some(Event::Update(_)) => received += 1,
            Some(Event::Closed(code)) => break code,
            Some(_) => {}
            None => panic!("slow client neither closed nor fed after {received} updates"),
        }
    };
    assert!(received < N, "the slow client got everything; nothing was dropped");
    // The close frame may not get through a full socket; the close itself must.
    assert!(matches!(closed, Some(1013) | None), "{closed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_documents_are_compacted_and_reload_whole() {
    let server = TestServer::start_with(|c| {
        c.room.compact_after = 10;
        c.room.grace = Duration::from_millis(50);
    })
    .await;
    let mut a = server.client("compact").await;
    for i in 0..54 {
        a.append(&format!("<{i}>")).await;
    }
    a.append_acked("<54>").await;
    let expected = a.text();
    // Compaction runs while the room is live (every 10 rows, in the background): a
    // snapshot appears and the log holds fewer rows than were written.
    let live = wait_for_snapshot_with(&server, "compact", false).await;
    assert!(live.updates.len() < 55, "nothing folded: {} rows", live.updates.len());
    drop(a);
    let closed = wait_for_snapshot(&server, "compact").await;
    assert_eq!(text_of(closed.snapshot.as_deref().unwrap()), expected);
    let b = server.client("compact").await;
    assert_eq!(b.text(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_that_fails_to_load_is_refused_not_served_empty() {
    let server = TestServer::start().await;
    {
        let mut a = server.client("broken").await;
        a.append_acked("precious").await;
    }
    // A row that does not decode lands in the log (disk corruption, a bad migration…).
    let url = format!("sqlite://{}", server.dir.path().join("tandem.db").display());
    let store = tandem::store::open(&url, tandem::config::SqliteSync::Normal).await.unwrap();
    let id = tandem::ids::DocId::parse("broken2").unwrap();
    store.append_updates(&[(id, bytes::Bytes::from_static(b"\xff\xfe"))]).await.unwrap();
    let mut c = Client::connect(&server.ws_url("broken2", &server.token(&["*=rw"]))).await.unwrap();
    assert_eq!(c.wait_close(T).await, Some(1011));
    // Other rooms are unaffected.
    let b = server.client("broken").await;
    assert_eq!(b.text(), "precious");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joiners_of_a_large_document_all_sync_under_a_small_frame_budget() {
    // The budget is smaller than one sync frame: each joiner waits its turn for all of it.
    let server = TestServer::start_with(|c| c.socket.large_frame_budget = 256 * 1024).await;
    let mut writer = server.client("big").await;
    writer.append_acked(&"w".repeat(1 << 20)).await;
    let joins = (0..6).map(|_| {
        let url = server.ws_url("big", &server.token(&["*=r"]));
        tokio::spawn(async move {
            let mut c = Client::connect(&url).await.unwrap();
            c.sync().await;
            c.text().len()
        })
    });
    for j in joins.collect::<Vec<_>>() {
        assert_eq!(j.await.unwrap(), 1 << 20);
    }
    // Small frames are not held up by the budget.
    writer.append_acked("small").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_that_stops_reading_a_large_document_does_not_hold_up_the_next() {
    // A budget of one large message at a time, and a short ping interval: a write that
    // makes no progress for that long means the peer stopped reading.
    let server = TestServer::start_with(|c| {
        c.socket.large_frame_budget = 256 * 1024;
        c.socket.ping_interval = Duration::from_millis(500);
    })
    .await;
    let mut writer = server.client("big").await;
    writer.append_acked(&"w".repeat(6 << 20)).await;
    // Asks for the whole document (more than the kernel buffers hold with a 4 KiB receive
    // buffer), then never reads: its writer takes the budget first and stalls.
    let url = server.ws_url("big", &server.token(&["*=r"]));
    let mut stuck = Client::connect_small_buffer(&url).await.unwrap();
    stuck.send_raw(tandem_protocol::encode_sync_step1(&yrs::StateVector::default())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let next = tokio::time::timeout(Duration::from_secs(30), async {
        let mut c = Client::connect(&url).await.unwrap();
        c.sync().await;
        c.text().len()
    })
    .await
    .expect("the next joiner is not held behind a peer that stopped reading");
    assert_eq!(next, 6 << 20);
    drop(stuck);
}
