//! `/hocuspocus` held to its limits, with raw Hocuspocus frames over a real socket: every
//! frame counts against the message rate, each open document has one access watcher that
//! stops when it closes, a socket holds a bounded number of documents, and a socket that
//! authenticates nothing is closed.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::api::{Api, Db};
use common::client::insert_update;
use common::process::{ServerProcess, http_get, metric_sample};
use common::{TestServer, eventually_async};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::json;
use tandem_protocol::{self as proto, hocuspocus as hp};
use tokio_tungstenite::tungstenite::Message;

const T: Duration = Duration::from_secs(10);

/// A `@hocuspocus/provider` reduced to its frames.
struct Hp {
    ws: common::client::Ws,
}

/// What the server sent.
#[derive(Debug, PartialEq)]
enum Heard {
    Authenticated(String),
    Denied(String, String),
    /// SyncStatus for a document: whether the update was applied.
    Synced(String, bool),
    Pong,
    /// A stateless message for a document: its payload.
    Stateless(String, String),
    Other,
    Closed(Option<u16>),
}

impl Hp {
    async fn connect(addr: SocketAddr) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/hocuspocus")).await.expect("connect");
        Hp { ws }
    }

    async fn send(&mut self, frame: Vec<u8>) {
        self.ws.send(Message::Binary(frame.into())).await.expect("send");
    }

    /// The next frame; `None` if nothing came within `within`.
    async fn next(&mut self, within: Duration) -> Option<Heard> {
        let msg = match tokio::time::timeout(within, self.ws.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(msg))) => msg,
            Ok(_) => return Some(Heard::Closed(None)),
        };
        Some(match msg {
            Message::Binary(frame) => heard(&frame),
            Message::Close(frame) => Heard::Closed(frame.map(|f| f.code.into())),
            _ => Heard::Other,
        })
    }

    /// Reads until `want` picks something out, or panics after `within`.
    async fn wait_for<R>(&mut self, within: Duration, want: impl Fn(Heard) -> Option<R>) -> R {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                None => panic!("nothing wanted heard within {within:?}"),
                Some(heard) => {
                    if let Heard::Closed(code) = heard {
                        panic!("closed ({code:?}) while waiting");
                    }
                    if let Some(r) = want(heard) {
                        return r;
                    }
                }
            }
        }
    }

    /// Opens `name` with `token`, as a v4 provider does; the server's answer.
    async fn open(&mut self, name: &str, token: &str) -> Result<(), String> {
        self.send(hp::encode_auth_token_v4(name, token, "4.8.0")).await;
        self.wait_for(T, |h| match h {
            Heard::Authenticated(n) if n == name => Some(Ok(())),
            Heard::Denied(n, reason) if n == name => Some(Err(reason)),
            _ => None,
        })
        .await
    }

    /// Sends an update for `name` and waits for its SyncStatus(applied).
    async fn update_acked(&mut self, name: &str, client: u64, text: &str) {
        self.send(hp::for_document(name, &proto::encode_update(&insert_update(client, text)))).await;
        let want = name.to_owned();
        self.wait_for(T, |h| (h == Heard::Synced(want.clone(), true)).then_some(())).await;
    }

    /// Reads until the server closes the socket; its close code.
    async fn wait_close(&mut self, within: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                None => panic!("socket not closed within {within:?}"),
                Some(Heard::Closed(code)) => return code,
                Some(_) => {}
            }
        }
    }

    /// Reads for `within`, panicking if the server closes the socket meanwhile.
    async fn stays_open(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                None => return,
                Some(Heard::Closed(code)) => panic!("closed ({code:?}) but should have stayed open"),
                Some(_) => {}
            }
        }
    }
}

fn heard(frame: &[u8]) -> Heard {
    let (name, kind, message) = match hp::split(frame).expect("server frames split") {
        hp::Frame::Pong => return Heard::Pong,
        hp::Frame::Ping => return Heard::Other,
        hp::Frame::Doc { name, kind, message } => (name, kind, message),
    };
    let text = |bytes: &[u8]| {
        let mut cur = yrs::encoding::read::Cursor::new(bytes);
        yrs::encoding::read::Read::read_string(&mut cur).unwrap().to_owned()
    };
    match (kind, message.get(1)) {
        (hp::MSG_AUTH, Some(2)) => Heard::Authenticated(name),
        (hp::MSG_AUTH, Some(1)) => Heard::Denied(name, text(&message[2..])),
        (hp::MSG_SYNC_STATUS, Some(applied)) => Heard::Synced(name, *applied == 1),
        (hp::MSG_STATELESS, _) => Heard::Stateless(name, text(&message[1..])),
        _ => Heard::Other,
    }
}

/// Sends `frames` on `socket`'s own task, as fast as the server reads them, while this
/// task counts what `counts` picks out of the answers for `window` (or until closed).
async fn flood_and_count(socket: Hp, frames: Vec<Vec<u8>>, window: Duration, counts: fn(&Heard) -> bool) -> usize {
    let (mut tx, mut rx) = socket.ws.split();
    let sender = tokio::spawn(async move {
        for frame in frames {
            if tx.send(Message::Binary(frame.into())).await.is_err() {
                return; // closed by the server
            }
        }
    });
    let deadline = tokio::time::Instant::now() + window;
    let mut n = 0;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, rx.next()).await {
        match msg {
            Message::Binary(frame) if counts(&heard(&frame)) => n += 1,
            Message::Close(_) => break,
            _ => {}
        }
    }
    sender.abort();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_close_and_ping_floods_are_held_to_the_message_rate() {
    const RATE: u32 = 20;
    let server = TestServer::start_with(|c| c.socket.max_messages_per_second = RATE).await;
    let token = server.token(&["hp-flood/*=rw"]);
    // Frames the server may act on in the window: a burst, then the rate (a limiter that
    // refuses closes the socket sooner, one that throttles reads on slowly). Generous, so
    // it holds for either and for a burst of up to two seconds; unlimited, the whole
    // flood is answered within the window.
    let window = Duration::from_secs(2);
    let bound = (RATE as usize) * 5;

    // Each Auth opens the document and the Close after it leaves it again: two frames,
    // one answer. A thousand pairs, as fast as the socket takes them.
    let pairs: Vec<Vec<u8>> = (0..1000)
        .flat_map(|_| [hp::encode_auth_token("hp-flood/doc", &token), hp::encode_close("hp-flood/doc")])
        .collect();
    let answered =
        flood_and_count(Hp::connect(server.addr).await, pairs, window, |h| matches!(h, Heard::Authenticated(_))).await;
    assert!(answered * 2 <= bound, "{answered} Auth frames answered in {window:?} at {RATE} messages/s");

    let pings = vec![vec![hp::PING]; 2000];
    let ponged = flood_and_count(Hp::connect(server.addr).await, pings, window, |h| *h == Heard::Pong).await;
    assert!(ponged <= bound, "{ponged} Pings answered in {window:?} at {RATE} messages/s");

    // Other sockets are served as before.
    let mut calm = Hp::connect(server.addr).await;
    calm.open("hp-flood/doc", &token).await.unwrap();
    calm.update_acked("hp-flood/doc", 11, "still served").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_holds_at_most_the_configured_documents() {
    let server = TestServer::start_with(|c| c.socket.hocuspocus_max_documents = 3).await;
    let token = server.token(&["hp-cap/*=rw"]);
    let mut socket = Hp::connect(server.addr).await;
    for i in 0..3 {
        socket.open(&format!("hp-cap/{i}"), &token).await.unwrap();
    }
    let refused = socket.open("hp-cap/3", &token).await.unwrap_err();
    assert_eq!(refused, "too many documents open on this connection");
    // Asking again for one already open costs nothing: no answer, no refusal. The
    // documents already open keep working.
    socket.send(hp::encode_auth_token("hp-cap/0", &token)).await;
    socket.send(hp::for_document("hp-cap/0", &proto::encode_update(&insert_update(21, "zero")))).await;
    socket
        .wait_for(T, |h| match h {
            Heard::Authenticated(n) | Heard::Denied(n, _) => panic!("{n} answered again"),
            h => (h == Heard::Synced("hp-cap/0".into(), true)).then_some(()),
        })
        .await;
    // Closing one makes room for another.
    socket.send(hp::encode_close("hp-cap/1")).await;
    socket.open("hp-cap/3", &token).await.unwrap();
    socket.update_acked("hp-cap/3", 22, "three").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_authenticates_nothing_in_time_is_closed_with_4408() {
    let server = TestServer::start_with(|c| c.socket.hocuspocus_auth_timeout = Duration::from_secs(3)).await;
    let token = server.token(&["hp-idle/*=rw"]);
    // Silent, and sending only refused tokens: both closed at the deadline.
    let mut silent = Hp::connect(server.addr).await;
    let mut refused = Hp::connect(server.addr).await;
    assert!(refused.open("hp-idle/doc", "not-a-token").await.is_err());
    // Authenticated in time: stays past the deadline, and works.
    let mut good = Hp::connect(server.addr).await;
    good.open("hp-idle/doc", &token).await.unwrap();
    assert_eq!(silent.wait_close(T).await, Some(4408));
    assert_eq!(refused.wait_close(T).await, Some(4408));
    good.stays_open(Duration::from_millis(500)).await;
    good.update_acked("hp-idle/doc", 31, "still here").await;
}

/// The value of `tandem_access_watchers_active` for `endpoint` (0 before any).
async fn watchers_of(addr: SocketAddr, endpoint: &str) -> f64 {
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    metric_sample(&body, &format!(r#"tandem_access_watchers_active{{endpoint="{endpoint}"}}"#)).unwrap_or(0.0)
}

async fn watchers(addr: SocketAddr) -> f64 {
    watchers_of(addr, "hocuspocus").await
}

/// A user's documents opened and closed many times on one socket leave no watcher behind,
/// and losing access to a document no longer open does not close the socket. The server
/// runs as a child process: the gauge is its own.
async fn closed_documents_leave_no_access_watchers(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(common::pg::fresh_database().await),
    };
    let server = ServerProcess::start(dir.path(), url.as_deref());
    let api = Api::at(server.addr);
    let ann = api.signup("ann@example.com").await;
    let closed = api.create_doc(&ann.token, json!({"title": "Closed", "content": "x\n"})).await;
    let kept = api.create_doc(&ann.token, json!({"title": "Kept", "content": "y\n"})).await;

    let mut socket = Hp::connect(server.addr).await;
    for _ in 0..50 {
        socket.open(&closed, &ann.token).await.unwrap();
        socket.send(hp::encode_close(&closed)).await;
    }
    socket.open(&kept, &ann.token).await.unwrap();
    let one_left = eventually_async(T, || watchers(server.addr), |n| n == 1.0).await;
    assert!(one_left, "watchers after 50 open/close cycles and one open: {}", watchers(server.addr).await);

    // A second socket keeps `closed` open: its close says every watcher heard the change.
    let mut canary = Hp::connect(server.addr).await;
    canary.open(&closed, &ann.token).await.unwrap();
    let (status, body) = api.call(Method::DELETE, &format!("/api/v1/documents/{closed}"), Some(&ann.token), None).await;
    assert!((200..300).contains(&status), "delete: {status} {body}");
    assert_eq!(canary.wait_close(T).await, Some(4403));
    socket.stays_open(Duration::from_millis(500)).await;
    socket.update_acked(&kept, 41, "kept open").await;

    socket.send(hp::encode_close(&kept)).await;
    let none_left = eventually_async(T, || watchers(server.addr), |n| n == 0.0).await;
    assert!(none_left, "watchers with every document closed: {}", watchers(server.addr).await);

    // y-websocket connections are watched, and counted, the same way.
    let mut ws = common::Client::connect(&server.ws_url(&kept, &ann.token)).await.unwrap();
    ws.sync().await;
    assert!(eventually_async(T, || watchers_of(server.addr, "ws"), |n| n == 1.0).await);
    drop(ws);
    let ws_left = eventually_async(T, || watchers_of(server.addr, "ws"), |n| n == 0.0).await;
    assert!(ws_left, "/ws watchers after the connection closed: {}", watchers_of(server.addr, "ws").await);
}

/// Comment events reach a provider as stateless messages for the document they concern,
/// once each, in order; a provider of another document hears none.
async fn comment_events_reach_providers_as_stateless_messages(db: Db) {
    let server = common::api::server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Notes", "content": "some text\n"})).await;
    let other = api.create_doc(&ann.token, json!({"title": "Other"})).await;
    let mut socket = Hp::connect(server.addr).await;
    socket.open(&doc, &ann.token).await.unwrap();
    socket.open(&other, &ann.token).await.unwrap();
    let comments = format!("/api/v1/documents/{doc}/comments");
    let (status, thread) =
        api.post(&comments, &ann.token, json!({"body": "hi", "anchor": {"index": 0, "length": 4}})).await;
    assert_eq!(status, 201);
    let id = thread["id"].as_str().unwrap().to_owned();
    api.call(Method::PATCH, &format!("{comments}/{id}"), Some(&ann.token), Some(json!({"resolved": true}))).await;
    let mut heard = Vec::new();
    while heard.len() < 2 {
        let payload = socket
            .wait_for(T, |h| match h {
                Heard::Stateless(name, payload) => Some((name, payload)),
                _ => None,
            })
            .await;
        heard.push(payload);
    }
    for ((name, payload), kind) in heard.iter().zip(["comment.created", "comment.updated"]) {
        assert_eq!(name, &doc, "only the document's own provider hears it");
        let event: serde_json::Value = serde_json::from_str(payload).unwrap();
        assert_eq!((event["type"].as_str(), event["thread_id"].as_str()), (Some(kind), Some(id.as_str())), "{payload}");
    }
    while let Some(h) = socket.next(Duration::from_millis(300)).await {
        assert!(!matches!(h, Heard::Stateless(..) | Heard::Closed(_)), "nothing more: {h:?}");
    }
}

on_both_databases!(closed_documents_leave_no_access_watchers, comment_events_reach_providers_as_stateless_messages);
