//! The typed handle to a room actor, and what a connection hands the actor so it can be
//! written to (a bounded frame queue) and closed (a control with a close code).

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tandem_protocol::ClientMessage;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::anchors::{Anchor, AnchorAt, AnchorError, Resolution};
use crate::identity::Principal;
use crate::identity::tokens::Access;
use crate::ids::{ConnId, DocId, UserId};

/// Commands queued for one room before senders wait.
pub(crate) const COMMAND_CAPACITY: usize = 1024;

/// WebSocket close codes the server uses.
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const TOO_BIG: u16 = 1009;
    pub const INTERNAL_ERROR: u16 = 1011;
    pub const SERVICE_RESTART: u16 = 1012;
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const TIMEOUT: u16 = 4408;
    /// The caller's token expired or no longer verifies.
    pub const UNAUTHORIZED: u16 = 4401;
    /// The caller lost access to the document (role removed, share or link revoked,
    /// document deleted).
    pub const FORBIDDEN: u16 = 4403;

    /// Whether a connection closed with `code` still has what it already sent applied:
    /// closes about its outgoing side (it went away, or reads too slowly) do; closes that
    /// refuse the client (timeouts included) do not.
    pub const fn keeps_input(code: u16) -> bool {
        matches!(code, NORMAL | TRY_AGAIN_LATER)
    }
}

#[derive(Debug, thiserror::Error, Clone)]
pub enum RoomError {
    #[error("room `{0}` is closing")]
    Closing(DocId),
    #[error("document `{0}` could not be loaded")]
    LoadFailed(DocId),
    #[error("room `{0}` is full")]
    Full(DocId),
}

/// Closes one connection from anywhere: the first close code set wins.
///
/// Closing stops the connection's outgoing side. Whether the server goes on reading what
/// the client already sent depends on why: a close about the outgoing side (the client
/// went away or reads too slowly) keeps applying everything the client sent before its
/// own close; a close that refuses the client (lost access, bad input, the room is gone)
/// stops reading too.
#[derive(Debug, Default)]
pub struct ConnControl {
    token: CancellationToken,
    refused: CancellationToken,
    /// Bytes of room frames queued for the connection and not yet taken by its writer.
    queued: AtomicUsize,
    code: AtomicU16,
    reason: std::sync::OnceLock<&'static str>,
}

impl ConnControl {
    pub fn close(&self, code: u16, reason: &'static str) {
        if self.code.compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            let _ = self.reason.set(reason);
        }
        if !close_code::keeps_input(code) {
            self.refused.cancel();
        }
        self.token.cancel();
    }

    /// Resolves once the connection is closing, for whatever reason.
    pub async fn closed(&self) {
        self.token.cancelled().await
    }

    /// Resolves once the connection is closed for a reason that refuses its input.
    pub async fn refused(&self) {
        self.refused.cancelled().await
    }

    pub fn is_closed(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Counts `len` more bytes queued for the connection, unless `max` bytes or more are
    /// already waiting for it (the connection is then too slow). A frame of any size is let
    /// through to a queue under `max`: a joiner's whole-document sync step 2 (larger than
    /// `max` on a large document) is queued right behind the sync step 1 and awareness
    /// frames its join queued, and must not count as a slow reader. The queue holds at most
    /// `max` bytes plus one frame.
    pub fn enqueue(&self, len: usize, max: usize) -> bool {
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        if before >= max {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Counts `len` bytes taken off the queue (written, or being written).
    pub fn dequeued(&self, len: usize) {
        self.queued.fetch_sub(len, Ordering::AcqRel);
    }

    /// Whether the connection was closed for a reason that refuses its input.
    pub fn is_refused(&self) -> bool {
        self.refused.is_cancelled()
    }

    /// The close code and reason, once closed.
    pub fn close_frame(&self) -> (u16, &'static str) {
        match self.code.load(Ordering::Acquire) {
            0 => (close_code::NORMAL, ""),
            code => (code, self.reason.get().copied().unwrap_or("")),
        }
    }
}

/// What a room sends one connection; each protocol puts it on the wire its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// A y-websocket message (sync, update, awareness), encoded once for every receiver.
    Frame(Bytes),
    /// The connection's update is durable (only to connections that asked for acks).
    Ack,
    /// The connection's update was refused: its access is read-only.
    ReadOnly,
}

impl From<Bytes> for Outbound {
    fn from(frame: Bytes) -> Self {
        Outbound::Frame(frame)
    }
}

impl From<Vec<u8>> for Outbound {
    fn from(frame: Vec<u8>) -> Self {
        Outbound::Frame(frame.into())
    }
}

impl Outbound {
    /// Bytes it holds in a connection's queue.
    pub fn queued_bytes(&self) -> usize {
        match self {
            Outbound::Frame(frame) => frame.len(),
            Outbound::Ack | Outbound::ReadOnly => 0,
        }
    }
}

/// Where a room writes one connection's messages.
#[derive(Debug, Clone)]
pub struct ConnSink {
    pub frames: mpsc::Sender<Outbound>,
    pub control: Arc<ConnControl>,
    /// Whether the connection wants each of its updates acknowledged once durable
    /// ([`Outbound::Ack`]; the Hocuspocus protocol) rather than only echoed.
    pub acks: bool,
}

impl ConnSink {
    /// Queues one frame; `false` if the connection's outgoing side is gone or too slow
    /// (then it is told to close with 1013). What it sends is still applied until it
    /// leaves.
    pub(crate) fn push(&self, frame: Outbound, max_queued: usize) -> bool {
        let len = frame.queued_bytes();
        if !self.control.enqueue(len, max_queued) {
            return self.too_slow();
        }
        match self.frames.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.control.dequeued(len);
                self.too_slow()
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.control.dequeued(len);
                false
            }
        }
    }

    fn too_slow(&self) -> bool {
        metrics::counter!(crate::metrics::SLOW_DISCONNECTS).increment(1);
        self.control.close(close_code::TRY_AGAIN_LATER, "client too slow");
        false
    }
}

/// The document's Markdown and the state it was read at.
#[derive(Debug, Clone)]
pub struct TextState {
    pub text: String,
    /// The encoded state vector: equal vectors mean equal documents.
    pub state_vector: Vec<u8>,
}

/// What a version keeps of a document: its whole state (V1) and its Markdown.
#[derive(Debug, Clone)]
pub struct DocSnapshot {
    pub state: Vec<u8>,
    pub text: String,
}

pub(crate) enum Command {
    Join {
        conn: ConnId,
        sink: ConnSink,
        access: Access,
        identity: Principal,
        reply: oneshot::Sender<Result<(), RoomError>>,
    },
    Message {
        conn: ConnId,
        msg: ClientMessage,
        /// Size of the frame it came in, in bytes.
        len: usize,
    },
    Leave {
        conn: ConnId,
    },
    /// Changes what an open connection may do (a role changed while it was connected).
    SetAccess {
        conn: ConnId,
        access: Access,
    },
    /// Reads the text, once every update applied before it is durable.
    Text {
        reply: oneshot::Sender<TextState>,
    },
    /// Reads the encoded state vector alone (for ETags: cheap for any document size).
    StateVector {
        reply: oneshot::Sender<Vec<u8>>,
    },
    /// The whole state and text, once durable (for a version).
    Snapshot {
        reply: oneshot::Sender<DocSnapshot>,
    },
    /// Replaces the text by a minimal diff; answers once the change is durable.
    Replace {
        text: String,
        /// The user replacing it (a contributor to the next version).
        by: Option<UserId>,
        reply: oneshot::Sender<TextState>,
    },
    /// Makes a comment anchor from the text as it is now, answered once that text is
    /// durable.
    Anchor {
        at: AnchorAt,
        reply: oneshot::Sender<Result<Anchor, AnchorError>>,
    },
    /// Where stored anchors (start, end) are now, once what the answer reflects is durable.
    Resolve {
        anchors: Vec<(Vec<u8>, Vec<u8>)>,
        reply: oneshot::Sender<Vec<Resolution>>,
    },
    /// Closes every connection and stops without writing anything more (the document
    /// is being deleted).
    Evict {
        reply: oneshot::Sender<()>,
    },
}

/// Talks to one room actor. Cloning is cheap.
#[derive(Clone)]
pub struct RoomHandle {
    pub(crate) doc: DocId,
    pub(crate) actor_id: u64,
    pub(crate) tx: mpsc::Sender<Command>,
    /// Whether the document is in the catalogue, as the room read it when it loaded; it
    /// holds while the room lives: documents are made with fresh random ids (never one an
    /// app room has), and a document removed for good evicts its room first.
    pub(crate) catalogued: Arc<OnceLock<bool>>,
}

impl RoomHandle {
    pub(crate) async fn join(
        &self,
        conn: ConnId,
        sink: ConnSink,
        access: Access,
        identity: Principal,
    ) -> Result<(), RoomError> {
        let (reply, rx) = oneshot::channel();
        let closing = || RoomError::Closing(self.doc.clone());
        self.tx.send(Command::Join { conn, sink, access, identity, reply }).await.map_err(|_| closing())?;
        rx.await.map_err(|_| closing())?
    }

    /// Hands a decoded client message to the room; `false` if the room is gone.
    pub async fn message(&self, conn: ConnId, msg: ClientMessage, len: usize) -> bool {
        self.tx.send(Command::Message { conn, msg, len }).await.is_ok()
    }

    pub async fn set_access(&self, conn: ConnId, access: Access) {
        let _ = self.tx.send(Command::SetAccess { conn, access }).await;
    }

    /// Sends a command that answers on a oneshot; `None` if the room stopped first.
    pub(crate) async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.ok()?;
        rx.await.ok()
    }

    pub async fn leave(&self, conn: ConnId) {
        let _ = self.tx.send(Command::Leave { conn }).await;
    }

    pub fn doc(&self) -> &DocId {
        &self.doc
    }
}

#[cfg(test)]
mod tests {
    use super::ConnControl;

    #[test]
    fn a_frame_larger_than_the_queue_limit_goes_behind_small_ones() {
        let control = ConnControl::default();
        assert!(control.enqueue(4, 100), "sync step 1");
        assert!(control.enqueue(1000, 100), "a whole document behind it");
        assert!(!control.enqueue(1, 100), "nothing more while that much waits");
        control.dequeued(1004);
        assert!(control.enqueue(1, 100), "drained: room again");
    }
}
