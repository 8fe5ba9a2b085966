//! Load clients: connect, sync, then either receive (light: count and timestamp frames
//! without applying them; full: apply every update) or edit on command.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use futures_util::{SinkExt, StreamExt};
use tandem_protocol::{self as proto, ClientMessage};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use yrs::{Doc, ReadTxn, Text, Transact};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// When each edit (by client id and starting clock) was sent.
pub type SentAt = Arc<DashMap<(u64, u32), Instant>>;

/// A connected, synced client and how long the handshake and sync took.
pub struct Connected {
    pub ws: Ws,
    pub doc: Doc,
    pub handshake: Duration,
}

/// Connects and completes the y-websocket sync (both directions).
pub async fn connect(url: &str, full: bool) -> anyhow::Result<Connected> {
    let started = Instant::now();
    // TCP_NODELAY: without it Nagle and delayed ACKs add 40 ms stalls to small frames.
    // Whole documents arrive as one sync step 2 frame: allow large ones.
    let config = WebSocketConfig::default().max_message_size(Some(1 << 30)).max_frame_size(Some(1 << 30));
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    let handshake = started.elapsed();
    let doc = Doc::new();
    let sv = doc.transact().state_vector();
    ws.send(Message::Binary(proto::encode_sync_step1(&sv).into())).await?;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .map_err(|_| anyhow::anyhow!("no sync within 30 s"))?
            .ok_or_else(|| anyhow::anyhow!("closed during sync"))??;
        let Message::Binary(frame) = msg else { continue };
        match proto::decode(&frame)? {
            ClientMessage::SyncStep1(sv) => {
                let diff = doc.transact().encode_state_as_update_v1(&sv);
                ws.send(Message::Binary(proto::encode_sync_step2(&diff).into())).await?;
            }
            ClientMessage::SyncStep2(update) => {
                if full {
                    doc.transact_mut().apply_update(update)?;
                }
                return Ok(Connected { ws, doc, handshake });
            }
            _ => {}
        }
    }
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
    /// Edit-to-arrival latencies of other clients' edits, in microseconds.
    pub latencies_us: Vec<u32>,
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
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Edit(size)) => {
                    let (update, key) = {
                        let mut txn = c.doc.transact_mut();
                        let clock = txn.state_vector().get(&c.doc.client_id());
                        let len = text.len(&txn);
                        text.insert(&mut txn, len, &"x".repeat(size.max(1)));
                        (txn.encode_update_v1(), (me, clock))
                    };
                    sent.insert(key, Instant::now());
                    if c.ws.send(Message::Binary(proto::encode_update(&update).into())).await.is_err() {
                        seen.closed_early = true;
                        break;
                    }
                }
                Some(Cmd::Awareness(clock)) => {
                    let json = format!(r#"{{"user":{{"name":"load-{me}"}},"cursor":{clock}}}"#);
                    let frame = awareness_frame(me, clock, &json);
                    if c.ws.send(Message::Binary(frame)).await.is_err() {
                        seen.closed_early = true;
                        break;
                    }
                }
                None => {}
            },
            msg = c.ws.next() => match msg {
                Some(Ok(Message::Binary(frame))) => {
                    seen.frames += 1;
                    on_frame(&mut c, full, &frame, me, &sent, &mut seen);
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

fn on_frame(c: &mut Connected, full: bool, frame: &[u8], me: u64, sent: &SentAt, seen: &mut Seen) {
    if let Some(key) = edit_key(frame)
        && key.0 != me
        && let Some(at) = sent.get(&key)
    {
        seen.latencies_us.push(at.elapsed().as_micros().min(u32::MAX as u128) as u32);
    }
    if full && let Ok(ClientMessage::Update(u) | ClientMessage::SyncStep2(u)) = proto::decode(frame) {
        let _ = c.doc.transact_mut().apply_update(u);
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
