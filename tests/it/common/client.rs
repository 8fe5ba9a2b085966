//! A y-websocket client made of tokio-tungstenite and a yrs Doc: it answers the server's
//! sync step 1, applies what it receives, and sends its local edits as updates.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tandem_protocol::{self as proto, ClientMessage};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use yrs::sync::awareness::{AwarenessUpdate, AwarenessUpdateEntry};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, GetString, ID, IdSet, ReadTxn, StateVector, Text, TextRef, Transact, TransactionMut, Update};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What one received frame was.
#[derive(Debug)]
pub enum Event {
    Synced,
    /// An update arrived; the ids of the items it inserted.
    Update(IdSet),
    Awareness(AwarenessUpdate),
    PermissionDenied(String),
    Closed(Option<u16>),
    Other,
}

pub struct Client {
    pub ws: Ws,
    pub doc: Doc,
    pub synced: bool,
    /// Our own edits up to this clock (exclusive) came back from the server: committed.
    pub acked: u32,
}

/// How long a client waits for the server by default: long enough for a busy machine.
pub const WAIT: Duration = Duration::from_secs(30);

impl Client {
    pub async fn connect(url: &str) -> Result<Self, tungstenite::Error> {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
        Ok(Client { ws, doc: Doc::new(), synced: false, acked: 0 })
    }

    /// Connects with a tiny socket receive buffer (no autotuning): a client that stops
    /// reading then backs up into the server quickly.
    pub async fn connect_small_buffer(url: &str) -> Result<Self, tungstenite::Error> {
        let addr = url.trim_start_matches("ws://").split('/').next().unwrap();
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(4096)?;
        let stream = socket.connect(addr.parse().unwrap()).await?;
        let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await?;
        Ok(Client { ws, doc: Doc::new(), synced: false, acked: 0 })
    }

    /// Sends our sync step 1 and reads until the server's step 2 arrived.
    pub async fn sync(&mut self) {
        self.synced = false;
        let sv = self.doc.transact().state_vector();
        self.send_raw(proto::encode_sync_step1(&sv)).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.synced {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                None => panic!("not synced within {WAIT:?}"),
                Some(Event::Closed(code)) => panic!("closed ({code:?}) while syncing"),
                Some(_) => {}
            }
        }
    }

    /// Makes the server commit everything this client holds, as a provider does after a
    /// reconnect: sends the whole local state, then a sync step 1, whose answer the server
    /// queues behind the commits in flight. Once it arrives, every own edit is committed.
    pub async fn flush(&mut self) {
        let all = self.doc.transact().encode_state_as_update_v1(&StateVector::default());
        self.send_raw(proto::encode_sync_step2(&all)).await;
        self.sync().await;
        self.acked = self.own_clock();
    }

    /// The clock our next own edit will have.
    pub fn own_clock(&self) -> u32 {
        self.doc.transact().state_vector().get(&self.doc.client_id())
    }

    /// Reads frames until every own edit came back from the server (is committed).
    pub async fn wait_acked(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.acked < self.own_clock() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                None => panic!(
                    "own edits up to clock {} not acknowledged within {within:?} (acknowledged up to {})",
                    self.own_clock(),
                    self.acked
                ),
                Some(Event::Closed(code)) => panic!("closed ({code:?}) before own edits were acknowledged"),
                Some(_) => {}
            }
        }
    }

    pub async fn send_raw(&mut self, frame: Vec<u8>) {
        self.ws.send(Message::Binary(frame.into())).await.expect("send");
    }

    /// Inserts text at the end of `content` locally and sends the update.
    pub async fn append(&mut self, s: &str) {
        self.try_append(s).await.expect("send");
    }

    /// As [`Client::append`], but a closed connection is an error, not a panic.
    pub async fn try_append(&mut self, s: &str) -> Result<(), tungstenite::Error> {
        self.try_edit(|text, txn| {
            let len = text.len(txn);
            text.insert(txn, len, s);
        })
        .await
    }

    /// Edits `content` locally (indexes in bytes: keep to ASCII) and sends the update.
    pub async fn edit(&mut self, f: impl FnOnce(&TextRef, &mut TransactionMut)) {
        self.try_edit(f).await.expect("send");
    }

    async fn try_edit(&mut self, f: impl FnOnce(&TextRef, &mut TransactionMut)) -> Result<(), tungstenite::Error> {
        let update = {
            let text = self.doc.get_or_insert_text("content");
            let mut txn = self.doc.transact_mut();
            f(&text, &mut txn);
            txn.encode_update_v1()
        };
        self.ws.send(Message::Binary(proto::encode_update(&update).into())).await
    }

    /// Appends and waits for the server's echo: the update is then committed.
    pub async fn append_acked(&mut self, s: &str) {
        self.append(s).await;
        let (me, clock) = {
            let sv = self.doc.transact().state_vector();
            (self.doc.client_id(), sv.get(&self.doc.client_id()))
        };
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                Some(Event::Update(ids)) if ids.contains(&ID::new(me, clock - 1)) => return,
                Some(Event::Closed(code)) => panic!("closed ({code:?}) before the echo"),
                None => panic!("no echo within {WAIT:?}"),
                Some(_) => {}
            }
        }
    }

    pub async fn set_awareness(&mut self, client: u64, clock: u32, json: &str) {
        let mut update = AwarenessUpdate { clients: Default::default() };
        update.clients.insert(ClientID::new(client), AwarenessUpdateEntry { clock, json: json.into() });
        self.send_raw(proto::encode_awareness(&update)).await;
    }

    pub fn text(&self) -> String {
        let text = self.doc.get_or_insert_text("content");
        text.get_string(&self.doc.transact())
    }

    /// The text, cut short for messages.
    pub fn summary(&self) -> String {
        let t = self.text();
        match t.char_indices().nth(80) {
            Some((i, _)) => format!("{:?}… ({} chars)", &t[..i], t.chars().count()),
            None => format!("{t:?}"),
        }
    }

    /// Reads one frame and acts on it as a provider would. `None` on timeout.
    pub async fn next_event(&mut self, within: Duration) -> Option<Event> {
        let msg = match tokio::time::timeout(within, self.ws.next()).await {
            Err(_) => return None,
            Ok(None) => return Some(Event::Closed(None)),
            Ok(Some(Err(_))) => return Some(Event::Closed(None)),
            Ok(Some(Ok(msg))) => msg,
        };
        Some(match msg {
            Message::Binary(frame) => self.on_frame(&frame).await,
            Message::Close(frame) => Event::Closed(frame.map(|f: CloseFrame| f.code.into())),
            _ => Event::Other,
        })
    }

    async fn on_frame(&mut self, frame: &[u8]) -> Event {
        if frame.first() == Some(&2) {
            let reason = String::from_utf8_lossy(&frame[3..]).into_owned();
            return Event::PermissionDenied(reason);
        }
        match proto::decode(frame).expect("server frames decode") {
            ClientMessage::SyncStep1(sv) => {
                let diff = self.doc.transact().encode_state_as_update_v1(&sv);
                self.send_raw(proto::encode_sync_step2(&diff)).await;
                Event::Other
            }
            ClientMessage::SyncStep2(u) => {
                self.apply(u);
                self.synced = true;
                Event::Synced
            }
            ClientMessage::Update(u) => {
                let ids = u.insertions(true);
                self.apply(u);
                let me = self.doc.client_id();
                if let Some((_, ranges)) = ids.iter().find(|(c, _)| **c == me) {
                    let end = ranges.iter().map(|r| r.end).max().unwrap_or(0);
                    self.acked = self.acked.max(end);
                }
                Event::Update(ids)
            }
            ClientMessage::Awareness(a) => Event::Awareness(a),
            _ => Event::Other,
        }
    }

    fn apply(&mut self, update: Update) {
        self.doc.transact_mut().apply_update(update).expect("apply");
    }

    /// Reads frames until `cond` holds on this client's text; panics after `within`.
    pub async fn wait_text(&mut self, within: Duration, cond: impl Fn(&str) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        while !cond(&self.text()) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                None => panic!("text never matched; have {}", self.summary()),
                Some(Event::Closed(code)) => {
                    panic!("closed ({code:?}) with text {}", self.summary())
                }
                Some(_) => {}
            }
        }
    }

    /// Reads frames until the server closes the connection; returns the close code.
    pub async fn wait_close(&mut self, within: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                None => panic!("connection not closed within {within:?}"),
                Some(Event::Closed(code)) => return code,
                Some(_) => {}
            }
        }
    }

    /// Reads frames until an awareness frame satisfying `cond` arrives.
    pub async fn wait_awareness(
        &mut self,
        within: Duration,
        cond: impl Fn(&AwarenessUpdate) -> bool,
    ) -> AwarenessUpdate {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                None => panic!("awareness never matched within {within:?}"),
                Some(Event::Closed(code)) => panic!("closed ({code:?}) waiting for awareness"),
                Some(Event::Awareness(a)) if cond(&a) => return a,
                Some(_) => {}
            }
        }
    }
}

/// An update inserting `s` into the root text `root`, from a fresh client.
pub fn insert_update_in(client: u64, root: &str, s: &str) -> Vec<u8> {
    let doc = Doc::with_client_id(client);
    let text = doc.get_or_insert_text(root);
    let mut txn = doc.transact_mut();
    text.insert(&mut txn, 0, s);
    txn.encode_update_v1()
}

/// An update inserting `s` into `content` of a fresh doc with the given client id.
pub fn insert_update(client: u64, s: &str) -> Vec<u8> {
    let doc = Doc::with_client_id(client);
    let text = doc.get_or_insert_text("content");
    let mut txn = doc.transact_mut();
    text.insert(&mut txn, 0, s);
    txn.encode_update_v1()
}

/// The text `content` of a V1 update applied to a fresh doc.
pub fn text_of(update: &[u8]) -> String {
    let doc = Doc::new();
    let text = doc.get_or_insert_text("content");
    let mut txn = doc.transact_mut();
    txn.apply_update(Update::decode_v1(update).unwrap()).unwrap();
    text.get_string(&txn)
}

pub fn empty_state_vector() -> Vec<u8> {
    StateVector::default().encode_v1()
}
