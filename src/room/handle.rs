//! The typed handle to a room actor, and what a connection hands the actor so it can be
//! written to (a bounded frame queue) and closed (a control with a close code).

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use bytes::Bytes;
use tandem_protocol::ClientMessage;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::auth::Access;
use crate::ids::{ConnId, DocId};

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
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const TIMEOUT: u16 = 4408;
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
#[derive(Debug, Default)]
pub struct ConnControl {
    token: CancellationToken,
    code: AtomicU16,
    reason: std::sync::OnceLock<&'static str>,
}

impl ConnControl {
    pub fn close(&self, code: u16, reason: &'static str) {
        if self.code.compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            let _ = self.reason.set(reason);
        }
        self.token.cancel();
    }

    pub async fn closed(&self) {
        self.token.cancelled().await
    }

    pub fn is_closed(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The close code and reason, once closed.
    pub fn close_frame(&self) -> (u16, &'static str) {
        match self.code.load(Ordering::Acquire) {
            0 => (close_code::NORMAL, ""),
            code => (code, self.reason.get().copied().unwrap_or("")),
        }
    }
}

/// Where a room writes one connection's frames.
#[derive(Debug, Clone)]
pub struct ConnSink {
    pub frames: mpsc::Sender<Bytes>,
    pub control: Arc<ConnControl>,
}

pub(crate) enum Command {
    Join { conn: ConnId, sink: ConnSink, access: Access, reply: oneshot::Sender<Result<(), RoomError>> },
    Message { conn: ConnId, msg: ClientMessage },
    Leave { conn: ConnId },
}

/// Talks to one room actor. Cloning is cheap.
#[derive(Clone)]
pub struct RoomHandle {
    pub(crate) doc: DocId,
    pub(crate) actor_id: u64,
    pub(crate) tx: mpsc::Sender<Command>,
}

impl RoomHandle {
    pub(crate) async fn join(&self, conn: ConnId, sink: ConnSink, access: Access) -> Result<(), RoomError> {
        let (reply, rx) = oneshot::channel();
        let closing = || RoomError::Closing(self.doc.clone());
        self.tx.send(Command::Join { conn, sink, access, reply }).await.map_err(|_| closing())?;
        rx.await.map_err(|_| closing())?
    }

    /// Hands a decoded client message to the room; `false` if the room is gone.
    pub async fn message(&self, conn: ConnId, msg: ClientMessage) -> bool {
        self.tx.send(Command::Message { conn, msg }).await.is_ok()
    }

    pub async fn leave(&self, conn: ConnId) {
        let _ = self.tx.send(Command::Leave { conn }).await;
    }

    pub fn doc(&self) -> &DocId {
        &self.doc
    }
}
