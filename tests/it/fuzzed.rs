//! The frame sequences the fuzzer found against a room's apply path
//! (`fuzz/regressions/room_apply/`, RELIABILITY.md), sent over a real socket to a real
//! room. Whatever the room refuses, it must stay one document: a client that was in the
//! room all along, a client joining after and the document reloaded from the store after a
//! restart hold the same text, and no sequence takes the room down for the others.
//!
//! Not here: `fuzz/open/room_apply/join-text-order-differs`, still open (RELIABILITY.md):
//! an item whose left origin lies after its right origin makes the order of concurrent
//! insertions depend on how they arrive, so a late joiner can see the text in another
//! order than the clients who were there.

use crate::common;

use common::client::{Event, WAIT};
use common::process::{http_get, metric_sample};
use common::{Client, TestServer};
use futures_util::SinkExt;
use tandem_protocol::{self as proto, ClientMessage};
use tokio_tungstenite::tungstenite::Message;
use yrs::{ReadTxn, StateVector, Transact};

const ROOM: &str = "fuzzed";

/// The fuzz input format: frames, each a length byte (255: a little-endian u16 length
/// follows) and the frame's bytes.
fn frames(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&first, rest)) = data.split_first() {
        let (len, rest) = match (first, rest) {
            (255, [lo, hi, rest @ ..]) => (usize::from(u16::from_le_bytes([*lo, *hi])), rest),
            (255, _) => (0, &[][..]),
            (n, rest) => (usize::from(n), rest),
        };
        let (frame, rest) = rest.split_at(len.min(rest.len()));
        out.push(frame);
        data = rest;
    }
    out
}

const PANICS: &str = r#"tandem_room_updates_refused_total{reason="panic"}"#;

async fn panics_so_far(server: &TestServer) -> f64 {
    metric_sample(&http_get(server.addr, "/metrics").await.1, PANICS).unwrap_or(0.0)
}

/// What became of a replay.
struct Replayed {
    /// The close codes the sending connections got (each close, a reconnect).
    closed: Vec<u16>,
    /// yrs panics the room caught meanwhile (process-wide: other tests count too).
    panics: f64,
}

/// Sends the input's frames on one connection while an observer sits in the room, then
/// checks that the observer, a late joiner and (after a restart) the store agree.
async fn replay(file: &str) -> Replayed {
    let input = std::fs::read(format!("{}/fuzz/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let server = TestServer::start().await;
    let mut observer = server.client(ROOM).await;
    let panics_before = panics_so_far(&server).await;

    let url = server.ws_url(ROOM, &server.token(&["*=rw"]));
    let mut sender = Client::connect(&url).await.unwrap();
    let mut closed = Vec::new();
    for frame in frames(&input) {
        // Each frame, then a sync step 1: the room answers it after the frame, so the
        // answer (or a close) says what the room made of the frame. A closed sender
        // reconnects and goes on, as a misbehaving client would.
        let asks = if matches!(proto::decode(frame), Ok(ClientMessage::SyncStep1(_))) { 2 } else { 1 };
        let sent = sender.ws.send(Message::Binary(frame.to_vec().into())).await.is_ok()
            && sender.ws.send(Message::Binary(proto::encode_sync_step1(&StateVector::default()).into())).await.is_ok();
        let mut answered = 0;
        while sent && answered < asks {
            match sender.next_event(WAIT).await {
                Some(Event::Closed(code)) => {
                    closed.push(code.unwrap_or(0));
                    break;
                }
                Some(Event::Synced) => answered += 1,
                Some(_) => {}
                None => panic!("{file}: the room neither answered nor closed the sender within {WAIT:?}"),
            }
        }
        if answered < asks {
            sender = Client::connect(&url).await.unwrap();
        }
    }
    drop(sender);
    let panics = panics_so_far(&server).await - panics_before;

    // The room is alive, and the observer and a joiner see one document.
    observer.append_acked("|still here").await;
    let joiner = server.client(ROOM).await;
    let joined = joiner.doc.transact().state_vector();
    let deadline = tokio::time::Instant::now() + WAIT;
    while observer.doc.transact().state_vector() != joined {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match observer.next_event(left).await {
            Some(Event::Closed(code)) => panic!("{file}: observer closed ({code:?})"),
            None => panic!("{file}: the observer never reached the joiner's state {joined:?}"),
            Some(_) => {}
        }
    }
    assert_eq!(observer.text(), joiner.text(), "{file}: the observer and a late joiner disagree");
    assert!(joiner.text().ends_with("|still here"), "{file}: {}", joiner.summary());

    // Reloaded from the store, the document is the same again.
    let text = joiner.text();
    drop((observer, joiner));
    let (dir, database_url) = server.stop().await;
    let server = TestServer::start_in(dir, database_url, |_| {}).await;
    let reloaded = server.client(ROOM).await;
    assert_eq!(reloaded.text(), text, "{file}: the document reloaded from the store differs");
    Replayed { closed, panics }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_past_i32_max_in_its_clients_clocks() {
    replay("regressions/room_apply/clock-past-i32-max").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_in_a_clients_clocks_filled_later() {
    // The update after the gap is refused: its sender is closed with 1007, nothing of it
    // shows, and nothing can fill the gap into a panic.
    let r = replay("regressions/room_apply/gap-skip-fill-panics").await;
    assert!(r.closed.contains(&1007), "{:?}", r.closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_while_a_struct_under_a_reused_id_is_pending() {
    replay("regressions/room_apply/join-gets-pending-struct").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_reused_with_other_content() {
    replay("regressions/room_apply/reused-ids-reload-differs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_reused_then_deleted_make_yrs_panic_and_the_room_rebuilds() {
    let r = replay("regressions/room_apply/apply-delete-underflow").await;
    assert!(r.closed.contains(&1007), "{:?}", r.closed);
    assert!(r.panics >= 1.0, "the sequence no longer makes yrs panic: the rebuild is no longer tested here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_skips_ahead_in_its_clients_clocks_closes_its_sender_and_changes_nothing() {
    use yrs::{Map, Text};
    let server = TestServer::start().await;
    let mut observer = server.client(ROOM).await;
    let author = yrs::Doc::with_client_id(77);
    let (text, meta) = (author.get_or_insert_text("content"), author.get_or_insert_map("meta"));
    let edit = |f: &dyn Fn(&mut yrs::TransactionMut)| {
        let mut txn = author.transact_mut();
        f(&mut txn);
        proto::encode_update(&txn.encode_update_v1())
    };
    let ab = edit(&|txn| text.insert(txn, 0, "ab"));
    let _never_sent = edit(&|txn| text.insert(txn, 2, "cd"));
    let title = edit(&|txn| {
        meta.insert(txn, "title", "after a gap");
    });
    let url = server.ws_url(ROOM, &server.token(&["*=rw"]));
    let mut sender = Client::connect(&url).await.unwrap();
    sender.send_raw(ab).await;
    sender.send_raw(title).await;
    assert_eq!(sender.wait_close(WAIT).await, Some(1007));

    observer.wait_text(WAIT, |t| t == "ab").await;
    let joiner = server.client(ROOM).await;
    assert_eq!(joiner.text(), "ab");
    let meta = joiner.doc.get_or_insert_map("meta");
    assert!(meta.get(&joiner.doc.transact(), "title").is_none(), "the block after the gap was applied");
    // The room goes on: the same client, reconnected with everything it has, is taken.
    let mut again = Client::connect(&url).await.unwrap();
    let all = author.transact().encode_state_as_update_v1(&StateVector::default());
    again.send_raw(proto::encode_sync_step2(&all)).await;
    observer.wait_text(WAIT, |t| t == "abcd").await;
    let observed = observer.doc.get_or_insert_map("meta");
    let deadline = tokio::time::Instant::now() + WAIT;
    while observed.get(&observer.doc.transact(), "title").is_none() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(observer.next_event(left).await.is_some(), "the title never arrived once the gap was filled");
    }
}
