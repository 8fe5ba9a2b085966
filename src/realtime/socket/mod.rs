//! The two WebSocket protocols rooms speak: y-websocket on `/ws/{doc id}` ([`ws`]) and
//! Hocuspocus on `/hocuspocus` ([`hocuspocus`]). What they share: the upgrade's allowance,
//! handshake and settings (`upgrade`), the reader's close policy and limits (`read`), what
//! happens to a room message on its way in (`inbound`), the writer (`write`), and the
//! watcher that keeps an open connection's access in step (`watch`).

pub mod hocuspocus;
mod inbound;
mod outbox;
pub(crate) mod read;
mod upgrade;
mod watch;
pub(crate) mod write;
pub mod ws;

pub use write::FrameBudget;

/// An accepted WebSocket connection: tungstenite's own socket over the upgraded HTTP
/// connection, so the writer can send raw frames (see `upgrade`).
pub(crate) type WebSocket = tokio_tungstenite::WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;
