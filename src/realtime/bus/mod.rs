//! The bus that lets one room span several nodes. Each node holding a room subscribes to
//! the room's channel; frames carry the origin node id so a node ignores its own.
//!
//! [`Bus`] holds what is the same for every transport: the per-room subscriptions, the
//! encoding, a publisher task fed by a bounded queue (the room actor never awaits the
//! network), and the resync flags raised when anything may have been missed (a full queue,
//! a failed publish, a reconnect). A [`Transport`] moves bytes: Redis pub/sub
//! ([`redis`]) or nothing at all for a single node ([`local`]).

pub mod local;
pub mod redis;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::ids::DocId;

/// Bus events queued for one room before it counts as lagged (and resyncs).
const ROOM_QUEUE: usize = 1024;
/// Outgoing frames queued before publishing counts as failed (and rooms resync).
const PUBLISH_QUEUE: usize = 8192;
/// Most frames published in one pipeline.
const PUBLISH_BATCH: usize = 256;
/// Frame format version.
const VERSION: u8 = 1;
/// The channel on which nodes announce that some access changed (a role, a share, a
/// link, a document's existence), so every node's open connections recheck theirs.
const ACCESS_CHANNEL: &str = "tandem:access";
/// The channel on which nodes announce that a document stored new events (comments…),
/// so every node's event streams for it read them.
const EVENTS_CHANNEL: &str = "tandem:events";
/// Event notices queued for the local streams before they count as lagged (and catch up
/// from the store).
const NOTICE_QUEUE: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis: {0}")]
    Redis(#[from] fred::error::Error),
}

/// Identifies a node on the bus: random per process start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId([u8; 16]);

impl NodeId {
    pub fn random() -> Self {
        NodeId(rand::random())
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(&self.0[..4]))
    }
}

/// What travels between nodes for one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// An update its origin has already made durable: apply and fan out, don't store.
    Update(Bytes),
    /// Awareness states (a y-protocols awareness update).
    Awareness(Bytes),
    /// "This is my state vector": peers answer with what it lacks.
    SyncRequest(Bytes),
    /// The answer to a sync request: an update, for `target` only.
    SyncReply(Bytes),
}

/// What travels on the node-wide channels, outside any room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Some access changed (on the access channel): recheck open connections.
    AccessChanged,
    /// The document's stored events now reach `seq` (on the events channel).
    Events { doc: DocId, seq: u64 },
}

impl Notice {
    /// `[version][origin ×16][kind][seq ×8, doc id]?`
    fn encode(&self, origin: NodeId) -> Bytes {
        let mut out = BytesMut::with_capacity(64);
        out.extend_from_slice(&[VERSION]);
        out.extend_from_slice(&origin.0);
        match self {
            Notice::AccessChanged => out.extend_from_slice(&[5]),
            Notice::Events { doc, seq } => {
                out.extend_from_slice(&[6]);
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(doc.as_str().as_bytes());
            }
        }
        out.freeze()
    }

    fn decode(b: &[u8]) -> Option<(NodeId, Self)> {
        if b.len() < 18 || b[0] != VERSION {
            return None;
        }
        let origin = NodeId(b[1..17].try_into().ok()?);
        let notice = match (b[17], &b[18..]) {
            (5, []) => Notice::AccessChanged,
            (6, rest) if rest.len() > 8 => Notice::Events {
                seq: u64::from_be_bytes(rest[..8].try_into().ok()?),
                doc: DocId::parse(std::str::from_utf8(&rest[8..]).ok()?)?,
            },
            _ => return None,
        };
        Some((origin, notice))
    }
}

/// What the local event streams hear from the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventNotice {
    /// The document's stored events now reach `seq`.
    Stored { doc: DocId, seq: u64 },
    /// Notices may have been missed: every stream catches up from the store.
    Gap,
}

/// One frame on a room's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    pub origin: NodeId,
    /// Only this node should act on it (sync replies and targeted requests).
    pub target: Option<NodeId>,
    pub payload: Payload,
}

impl BusMessage {
    /// `[version][origin ×16][kind][has target][target ×16]?[payload…]`
    pub fn encode(&self) -> Bytes {
        let (kind, body) = match &self.payload {
            Payload::Update(b) => (1u8, b),
            Payload::Awareness(b) => (2, b),
            Payload::SyncRequest(b) => (3, b),
            Payload::SyncReply(b) => (4, b),
        };
        let mut out = BytesMut::with_capacity(36 + body.len());
        out.extend_from_slice(&[VERSION]);
        out.extend_from_slice(&self.origin.0);
        out.extend_from_slice(&[kind]);
        match self.target {
            Some(t) => {
                out.extend_from_slice(&[1]);
                out.extend_from_slice(&t.0);
            }
            None => out.extend_from_slice(&[0]),
        }
        out.extend_from_slice(body);
        out.freeze()
    }

    pub fn decode(mut b: Bytes) -> Option<Self> {
        let id = |b: &[u8]| -> Option<NodeId> { Some(NodeId(b.get(..16)?.try_into().ok()?)) };
        if b.len() < 19 || b[0] != VERSION {
            return None;
        }
        let origin = id(&b[1..])?;
        let kind = b[17];
        let (target, skip) = match b[18] {
            0 => (None, 19),
            1 => (Some(id(b.get(19..)?)?), 35),
            _ => return None,
        };
        if b.len() < skip {
            return None;
        }
        let body = b.split_off(skip);
        let payload = match kind {
            1 => Payload::Update(body),
            2 => Payload::Awareness(body),
            3 => Payload::SyncRequest(body),
            4 => Payload::SyncReply(body),
            _ => return None,
        };
        Some(BusMessage { origin, target, payload })
    }
}

/// What a room receives from the bus.
#[derive(Debug)]
pub enum BusEvent {
    Message(BusMessage),
    /// Something may have been missed: reload from the store and ask peers.
    Resync,
}

/// What a transport hands the bus.
#[derive(Debug)]
pub enum Incoming {
    Frame {
        channel: String,
        frame: Bytes,
    },
    /// The connection came back, or frames were dropped: anything may have been missed.
    Gap,
}

/// Moves frames between nodes; what it receives comes as [`Incoming`] on a channel.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Whether other nodes can be there at all (false: a single in-process node).
    fn distributed(&self) -> bool;
    async fn subscribe(&self, channel: &str) -> Result<(), BusError>;
    async fn unsubscribe(&self, channel: &str) -> Result<(), BusError>;
    async fn publish(&self, frames: Vec<(String, Bytes)>) -> Result<(), BusError>;
}

struct Sub {
    actor_id: u64,
    tx: mpsc::Sender<BusEvent>,
    resync: Arc<AtomicBool>,
}

/// A room's end of the bus.
pub struct Subscription {
    /// None on a single node: nothing ever arrives, so a room holds no queue for it.
    rx: Option<mpsc::Receiver<BusEvent>>,
    /// Raised when events for this room were dropped; the room resyncs and lowers it.
    pub resync: Arc<AtomicBool>,
}

impl Subscription {
    /// The next event from other nodes; never resolves on a single node.
    pub async fn recv(&mut self) -> Option<BusEvent> {
        match &mut self.rx {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }
}

pub struct Bus {
    node: NodeId,
    subs: DashMap<DocId, Sub>,
    transport: Arc<dyn Transport>,
    /// Frames to publish: the channel, and the room to resync if publishing fails.
    outgoing: mpsc::Sender<(String, Option<DocId>, Bytes)>,
    /// Bumped when access changed on any node (or may have, after a gap).
    access: tokio::sync::watch::Sender<u64>,
    /// Documents' new stored events, from any node.
    events: tokio::sync::broadcast::Sender<EventNotice>,
}

impl Bus {
    /// Starts the bus over a connected transport and the frames it receives.
    pub fn start(node: NodeId, transport: Arc<dyn Transport>, incoming: mpsc::Receiver<Incoming>) -> Arc<Bus> {
        let (outgoing, rx) = mpsc::channel(PUBLISH_QUEUE);
        let access = tokio::sync::watch::Sender::new(0);
        let events = tokio::sync::broadcast::Sender::new(NOTICE_QUEUE);
        let bus = Arc::new(Bus { node, subs: DashMap::new(), transport, outgoing, access, events });
        tokio::spawn(publisher(Arc::downgrade(&bus), rx));
        tokio::spawn(dispatcher(Arc::downgrade(&bus), incoming));
        bus
    }

    pub fn distributed(&self) -> bool {
        self.transport.distributed()
    }

    fn channel(doc: &DocId) -> String {
        format!("tandem:doc:{doc}")
    }

    /// Listens for other nodes' access changes and stored events (call once at start).
    pub async fn listen_for_notices(&self) -> Result<(), BusError> {
        if self.transport.distributed() {
            self.transport.subscribe(ACCESS_CHANNEL).await?;
            self.transport.subscribe(EVENTS_CHANNEL).await?;
        }
        Ok(())
    }

    /// Queues a node-wide notice; never waits.
    fn announce(&self, channel: &str, notice: &Notice) -> bool {
        !self.transport.distributed()
            || self.outgoing.try_send((channel.to_owned(), None, notice.encode(self.node))).is_ok()
    }

    /// Announces that a document's stored events now reach `seq` (call once they are
    /// committed): this node's streams read them at once, and so do every other node's.
    pub fn events_stored(&self, doc: &DocId, seq: u64) {
        let _ = self.events.send(EventNotice::Stored { doc: doc.clone(), seq });
        if !self.announce(EVENTS_CHANNEL, &Notice::Events { doc: doc.clone(), seq }) {
            warn!(%doc, "publish queue full: other nodes' streams see this event with the next one");
        }
    }

    /// Hears every document's new stored events (and gaps, after which to catch up).
    pub fn event_notices(&self) -> tokio::sync::broadcast::Receiver<EventNotice> {
        self.events.subscribe()
    }

    /// Announces that some access changed: this node's connections recheck at once, and
    /// so do every other node's.
    pub fn access_changed(&self) {
        self.access.send_modify(|n| *n += 1);
        if !self.announce(ACCESS_CHANNEL, &Notice::AccessChanged) {
            warn!("publish queue full: other nodes see this access change at their next periodic recheck");
        }
    }

    /// Changes whenever access may have changed anywhere.
    pub fn access_epoch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.access.subscribe()
    }

    /// Subscribes a room; returns once the transport confirmed, so nothing published
    /// after this returns is missed.
    pub async fn subscribe(&self, doc: &DocId, actor_id: u64) -> Result<Subscription, BusError> {
        let resync = Arc::new(AtomicBool::new(false));
        if !self.transport.distributed() {
            return Ok(Subscription { rx: None, resync });
        }
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        self.subs.insert(doc.clone(), Sub { actor_id, tx, resync: resync.clone() });
        if let Err(e) = self.transport.subscribe(&Self::channel(doc)).await {
            self.subs.remove_if(doc, |_, s| s.actor_id == actor_id);
            return Err(e);
        }
        Ok(Subscription { rx: Some(rx), resync })
    }

    pub async fn unsubscribe(&self, doc: &DocId, actor_id: u64) {
        if self.subs.remove_if(doc, |_, s| s.actor_id == actor_id).is_some()
            && let Err(e) = self.transport.unsubscribe(&Self::channel(doc)).await
        {
            debug!(%doc, error = %e, "unsubscribe failed");
        }
    }

    /// Queues a frame for the room's channel; never waits. A full queue marks the room
    /// for resync instead.
    pub fn publish(&self, doc: &DocId, payload: Payload, target: Option<NodeId>) {
        if !self.transport.distributed() {
            return;
        }
        let frame = BusMessage { origin: self.node, target, payload }.encode();
        if self.outgoing.try_send((Self::channel(doc), Some(doc.clone()), frame)).is_err() {
            self.flag_resync(doc);
        }
    }

    /// Hands an incoming frame to its room: drops our own frames and those for others.
    fn dispatch(&self, channel: &str, frame: Bytes) {
        if channel == ACCESS_CHANNEL || channel == EVENTS_CHANNEL {
            match Notice::decode(&frame) {
                Some((origin, _)) if origin == self.node => {}
                Some((_, Notice::AccessChanged)) => self.access.send_modify(|n| *n += 1),
                Some((_, Notice::Events { doc, seq })) => {
                    let _ = self.events.send(EventNotice::Stored { doc, seq });
                }
                None => warn!(channel, "undecodable notice"),
            }
            return;
        }
        let Some(doc) = channel.strip_prefix("tandem:doc:").and_then(DocId::parse) else {
            return;
        };
        let Some(msg) = BusMessage::decode(frame) else {
            warn!(%doc, "undecodable bus frame");
            return;
        };
        if msg.origin == self.node || msg.target.is_some_and(|t| t != self.node) {
            return;
        }
        metrics::counter!(crate::metrics::BUS_RECEIVED).increment(1);
        if let Some(sub) = self.subs.get(&doc)
            && sub.tx.try_send(BusEvent::Message(msg)).is_err()
        {
            sub.resync.store(true, Ordering::Release);
        }
    }

    fn flag_resync(&self, doc: &DocId) {
        if let Some(sub) = self.subs.get(doc) {
            metrics::counter!(crate::metrics::BUS_RESYNCS).increment(1);
            sub.resync.store(true, Ordering::Release);
            let _ = sub.tx.try_send(BusEvent::Resync);
        }
    }

    /// After a reconnect or a lagged receiver: every open room resyncs.
    pub fn resync_all(&self) {
        // Access changes and stored events may have been missed too.
        self.access.send_modify(|n| *n += 1);
        let _ = self.events.send(EventNotice::Gap);
        metrics::counter!(crate::metrics::BUS_RESYNCS).increment(self.subs.len() as u64);
        for sub in self.subs.iter() {
            sub.resync.store(true, Ordering::Release);
            let _ = sub.tx.try_send(BusEvent::Resync);
        }
    }
}

async fn dispatcher(bus: Weak<Bus>, mut incoming: mpsc::Receiver<Incoming>) {
    while let Some(event) = incoming.recv().await {
        let Some(bus) = bus.upgrade() else { return };
        match event {
            Incoming::Frame { channel, frame } => bus.dispatch(&channel, frame),
            Incoming::Gap => {
                warn!("bus gap (reconnect or lag): resyncing every room");
                bus.resync_all();
            }
        }
    }
}

async fn publisher(bus: Weak<Bus>, mut rx: mpsc::Receiver<(String, Option<DocId>, Bytes)>) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while rx.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let Some(bus) = bus.upgrade() else { return };
        let count = batch.len() as u64;
        let docs: Vec<DocId> = batch.iter().filter_map(|(_, d, _)| d.clone()).collect();
        let frames = batch.drain(..).map(|(channel, _, f)| (channel, f)).collect();
        if let Err(e) = bus.transport.publish(frames).await {
            metrics::counter!(crate::metrics::BUS_PUBLISH_FAILURES).increment(count);
            warn!(error = %e, frames = count, "publish failed; rooms will resync");
            for doc in &docs {
                bus.flag_resync(doc);
            }
        } else {
            metrics::counter!(crate::metrics::BUS_PUBLISHED).increment(count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_garbage_is_refused() {
        let a = NodeId::random();
        let b = NodeId::random();
        for msg in [
            BusMessage { origin: a, target: None, payload: Payload::Update(Bytes::from_static(b"\x00\x00")) },
            BusMessage { origin: a, target: Some(b), payload: Payload::SyncReply(Bytes::new()) },
            BusMessage { origin: b, target: None, payload: Payload::Awareness(Bytes::from_static(b"xyz")) },
            BusMessage { origin: b, target: Some(a), payload: Payload::SyncRequest(Bytes::from_static(b"\x00")) },
        ] {
            assert_eq!(BusMessage::decode(msg.encode()), Some(msg));
        }
        let doc = DocId::parse("notes").unwrap();
        for notice in [Notice::AccessChanged, Notice::Events { doc, seq: u64::MAX - 1 }] {
            assert_eq!(Notice::decode(&notice.encode(a)), Some((a, notice)));
        }
        for bad in
            [&b"\x01aaaaaaaaaaaaaaaa\x05x"[..], b"\x01aaaaaaaaaaaaaaaa\x06\0\0\0\0\0\0\0\x01", b"\x01aaaaaaaaaaaaaaaa"]
        {
            assert_eq!(Notice::decode(bad), None, "{bad:?}");
        }
        for bad in [
            &b""[..],
            b"\x01",
            b"\x02aaaaaaaaaaaaaaaa\x01\x00",
            b"\x01aaaaaaaaaaaaaaaa\x09\x00",
            b"\x01aaaaaaaaaaaaaaaa\x01\x01abc",
        ] {
            assert_eq!(BusMessage::decode(Bytes::copy_from_slice(bad)), None, "{bad:?}");
        }
    }
}
