//! Load clients: connect, sync, then either receive (light: count and timestamp frames
//! without applying them; full: apply every update) or edit on command. They speak
//! y-websocket (one room per socket) or Hocuspocus (the room's name in front of every
//! message, the token in an Auth message, Pings answered).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use futures_util::{SinkExt, StreamExt};
use tandem_protocol::hocuspocus as hp;
use tandem_protocol::{self as proto, ClientMessage};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use yrs::{Doc, ReadTxn, Text, Transact};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Bytes a client reads from its socket at most at once.
const READ_BUFFER: usize = 16 * 1024;

/// Every edit sent, by client id and starting clock.
pub type SentAt = Arc<DashMap<(u64, u32), Sent>>;

/// One edit: when it was sent, through which node (`Connected::node`), and when it first
/// reached a client on that node and on another one.
pub struct Sent {
    pub at: Instant,
    pub node: u8,
    /// Microseconds from sending to the first arrival at a client on the writer's node
    /// (`[0]`) and on another node (`[1]`); `u32::MAX` until one arrives.
    pub first_us: [AtomicU32; 2],
}

impl Sent {
    fn now(node: u8) -> Self {
        Sent { at: Instant::now(), node, first_us: [AtomicU32::new(u32::MAX), AtomicU32::new(u32::MAX)] }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    YWebsocket,
    Hocuspocus,
}

/// Where and how one client connects.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub room: String,
    pub token: String,
    pub protocol: Protocol,
    /// The local address to connect from (None: the system's choice). Each local
    /// address has its own ephemeral ports, so spreading clients over 127.0.0.x opens
    /// more connections to one server than one address's ~28,000 ports allow.
    pub source: Option<std::net::IpAddr>,
}

/// A connected, synced client and how long the handshake and sync took.
pub struct Connected {
    pub ws: Ws,
    pub doc: Doc,
    pub handshake: Duration,
    /// Size of the sync step 2 message that completed the sync, in bytes.
    pub synced_bytes: usize,
    /// Which of the scenario's servers this client is connected to (0 with one server):
    /// a delivery is cross-node when the writer's node differs from the receiver's.
    pub node: u8,
    /// The document name in front of every message (Hocuspocus), if any.
    name: Option<String>,
}

/// What one received frame holds for the client.
pub enum Received<'a> {
    /// A y-websocket message (with Hocuspocus, what follows the document name).
    Message(&'a [u8]),
    /// Hocuspocus' Ping: answer it.
    Ping,
    /// Protocol bookkeeping (acknowledgements, auth answers).
    Other,
}

impl Connected {
    /// Sends one y-websocket message, framed for the protocol in use.
    pub async fn send(&mut self, message: &[u8]) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let frame = match &self.name {
            Some(name) => hp::for_document(name, message),
            None => message.to_vec(),
        };
        self.ws.send(Message::Binary(frame.into())).await
    }

    pub fn unwrap<'a>(&self, frame: &'a [u8]) -> Received<'a> {
        if self.name.is_none() {
            return Received::Message(frame);
        }
        match hp::split(frame) {
            Ok(hp::Frame::Ping) => Received::Ping,
            Ok(hp::Frame::Doc {
                kind: hp::MSG_SYNC | hp::MSG_AWARENESS | hp::MSG_QUERY_AWARENESS, message, ..
            }) => Received::Message(message),
            _ => Received::Other,
        }
    }

    /// Answers a Hocuspocus Ping.
    pub async fn pong(&mut self) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.ws.send(Message::Binary(vec![hp::PONG].into())).await
    }
}

/// Connects and completes the sync (both directions).
pub async fn connect(endpoint: &Endpoint, full: bool) -> anyhow::Result<Connected> {
    let started = Instant::now();
    // TCP_NODELAY: without it Nagle and delayed ACKs add 40 ms stalls to small frames.
    // Whole documents arrive as one sync step 2 message: allow large ones. tungstenite
    // zero-fills its read buffer up to this size before every read: its default (128 KiB)
    // cost each light client ~5 µs per small frame, most of what 1,500 of them spent.
    let config = WebSocketConfig::default()
        .max_message_size(Some(1 << 30))
        .max_frame_size(Some(1 << 30))
        .read_buffer_size(READ_BUFFER);
    let ws = match endpoint.source {
        None => tokio_tungstenite::connect_async_with_config(&endpoint.url, Some(config), true).await?.0,
        Some(source) => {
            let host = endpoint.url.split("://").nth(1).and_then(|r| r.split(['/', '?']).next()).unwrap_or("");
            // The source is an IPv4 loopback address: connect to the server's IPv4 one.
            let server = tokio::net::lookup_host(host)
                .await?
                .find(std::net::SocketAddr::is_ipv4)
                .ok_or_else(|| anyhow::anyhow!("{host} has no IPv4 address"))?;
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(std::net::SocketAddr::new(source, 0))?;
            let stream = socket.connect(server).await?;
            stream.set_nodelay(true)?;
            let stream = MaybeTlsStream::Plain(stream);
            tokio_tungstenite::client_async_with_config(&endpoint.url, stream, Some(config)).await?.0
        }
    };
    let handshake = started.elapsed();
    let name = (endpoint.protocol == Protocol::Hocuspocus).then(|| endpoint.room.clone());
    let mut c = Connected { ws, doc: Doc::new(), handshake, synced_bytes: 0, node: 0, name };
    if let Some(name) = &c.name {
        let auth = hp::encode_auth_token(name, &endpoint.token);
        c.ws.send(Message::Binary(auth.into())).await?;
    }
    let sv = c.doc.transact().state_vector();
    c.send(&proto::encode_sync_step1(&sv)).await?;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), c.ws.next())
            .await
            .map_err(|_| anyhow::anyhow!("no sync within 30 s"))?
            .ok_or_else(|| anyhow::anyhow!("closed during sync"))??;
        if let Message::Close(Some(close)) = &msg {
            anyhow::bail!("closed during sync: {} {}", close.code, close.reason);
        }
        let Message::Binary(frame) = msg else { continue };
        let message = match c.unwrap(&frame) {
            Received::Message(m) => m,
            Received::Ping => {
                c.pong().await?;
                continue;
            }
            Received::Other => continue,
        };
        // A client that keeps no document only needs to know its sync step 2 arrived
        // whole: decoding every joiner's copy of a large document on the load generator's
        // one core is not the server's work, and would be most of what a join storm measures.
        if !full && is_whole_sync_step2(message) {
            c.synced_bytes = message.len();
            return Ok(c);
        }
        match proto::decode(message)? {
            ClientMessage::SyncStep1(sv) => {
                let diff = c.doc.transact().encode_state_as_update_v1(&sv);
                c.send(&proto::encode_sync_step2(&diff)).await?;
            }
            ClientMessage::SyncStep2(update) => {
                c.synced_bytes = message.len();
                if full {
                    c.doc.transact_mut().apply_update(update)?;
                }
                return Ok(c);
            }
            _ => {}
        }
    }
}

/// Whether `frame` is a sync step 2 (`00 01 varBuf(update)`) whose length prefix covers
/// exactly the rest of the frame; the update itself is not decoded.
fn is_whole_sync_step2(frame: &[u8]) -> bool {
    let Some(rest) = frame.strip_prefix(&[0, 1]) else { return false };
    let (mut len, mut shift, mut pos) = (0u64, 0, 0);
    loop {
        let Some(&b) = rest.get(pos) else { return false };
        pos += 1;
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return false;
        }
    }
    (rest.len() - pos) as u64 == len
}

/// The client id and starting clock of the first block of a V1 update frame
/// (`00 02 len | nClients | nStructs client clock …`), read without decoding the rest.
pub fn edit_key(frame: &[u8]) -> Option<(u64, u32)> {
    if frame.first() != Some(&0) || frame.get(1) != Some(&2) {
        return None;
    }
    let mut pos = 2;
    let mut next = || -> Option<u64> {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let b = *frame.get(pos)?;
            pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
    };
    let _len = next()?;
    let _clients = next()?;
    let _structs = next()?;
    let client = next()?;
    let clock = next()? as u32;
    Some((client, clock))
}

/// What one receiving client saw.
#[derive(Default)]
pub struct Seen {
    /// Edit-to-arrival latencies of other clients' edits written through this client's
    /// node, in microseconds.
    pub latencies_us: Vec<u32>,
    /// The same for edits written through another node (empty with one server).
    pub cross_node_us: Vec<u32>,
    pub frames: u64,
    pub closed_early: bool,
    /// Text of a full client's document at the end (for convergence checks).
    pub text: Option<String>,
}

/// Commands for a client during the measured phase.
pub enum Cmd {
    /// Insert `size` bytes at the end of `content` and send the update.
    Edit(usize),
    /// Send an awareness state with this clock.
    Awareness(u32),
}

/// Runs a client until `stop_at`: obeys commands, records arrivals of others' edits.
pub async fn run(mut c: Connected, full: bool, sent: SentAt, mut cmds: mpsc::Receiver<Cmd>, stop_at: Instant) -> Seen {
    let me = c.doc.client_id().get();
    let text = c.doc.get_or_insert_text("content");
    let mut seen = Seen::default();
    let deadline = tokio::time::Instant::from_std(stop_at);
    // Once the scenario drops its sender, `recv` answers `None` at once, every time: stop
    // asking, or the client spins until the deadline.
    let mut commanded = true;
    // One timer for the whole run (a new one per message costs a timer-wheel entry each).
    let stop = tokio::time::sleep_until(deadline);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            cmd = cmds.recv(), if commanded => match cmd {
                Some(Cmd::Edit(size)) => {
                    let (update, key) = {
                        let mut txn = c.doc.transact_mut();
                        let clock = txn.state_vector().get(&c.doc.client_id());
                        let len = text.len(&txn);
                        text.insert(&mut txn, len, &"x".repeat(size.max(1)));
                        (txn.encode_update_v1(), (me, clock))
                    };
                    sent.insert(key, Sent::now(c.node));
                    if c.send(&proto::encode_update(&update)).await.is_err() {
                        seen.closed_early = true;
                        break;
                    }
                }
                Some(Cmd::Awareness(clock)) => {
                    let json = format!(r#"{{"user":{{"name":"load-{me}"}},"cursor":{clock}}}"#);
                    let frame = awareness_frame(me, clock, &json);
                    if c.send(&frame).await.is_err() {
                        seen.closed_early = true;
                        break;
                    }
                }
                None => commanded = false,
            },
            msg = c.ws.next() => match msg {
                Some(Ok(Message::Binary(frame))) => {
                    let message = match c.unwrap(&frame) {
                        Received::Message(m) => m,
                        Received::Ping => {
                            let _ = c.pong().await;
                            continue;
                        }
                        Received::Other => continue,
                    };
                    seen.frames += 1;
                    on_frame(&mut c.doc, full, message, (me, c.node), &sent, &mut seen);
                }
                Some(Ok(_)) => {}
                _ => {
                    seen.closed_early = true;
                    break;
                }
            },
        }
    }
    if full {
        seen.text = Some(yrs::GetString::get_string(&text, &c.doc.transact()));
    }
    let _ = c.ws.close(None).await;
    seen
}

/// `me`: this client's id and node.
fn on_frame(doc: &mut Doc, full: bool, frame: &[u8], me: (u64, u8), sent: &SentAt, seen: &mut Seen) {
    if let Some(key) = edit_key(frame)
        && key.0 != me.0
        && let Some(edit) = sent.get(&key)
    {
        let us = edit.at.elapsed().as_micros().min(u32::MAX as u128 - 1) as u32;
        let cross = edit.node != me.1;
        edit.first_us[usize::from(cross)].fetch_min(us, Ordering::Relaxed);
        if cross { seen.cross_node_us.push(us) } else { seen.latencies_us.push(us) }
    }
    if full && let Ok(ClientMessage::Update(u) | ClientMessage::SyncStep2(u)) = proto::decode(frame) {
        let _ = doc.transact_mut().apply_update(u);
    }
}

fn awareness_frame(client: u64, clock: u32, json: &str) -> Bytes {
    use yrs::sync::awareness::{AwarenessUpdate, AwarenessUpdateEntry};
    let mut update = AwarenessUpdate { clients: Default::default() };
    update.clients.insert(yrs::ClientID::new(client), AwarenessUpdateEntry { clock, json: json.into() });
    proto::encode_awareness(&update).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_key_reads_the_first_block() {
        let doc = Doc::with_client_id(123_456_789);
        let text = doc.get_or_insert_text("content");
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, 0, "hello");
        let first = proto::encode_update(&txn.encode_update_v1());
        drop(txn);
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, 5, "!");
        let second = proto::encode_update(&txn.encode_update_v1());
        assert_eq!(edit_key(&first), Some((123_456_789, 0)));
        assert_eq!(edit_key(&second), Some((123_456_789, 5)));
        assert_eq!(edit_key(&[1, 2, 3]), None);
        assert_eq!(edit_key(&[0, 2, 0xff]), None);
    }
}
