//! The two WebSocket protocols rooms speak: y-websocket on `/ws/{doc id}` ([`ws`]) and
//! Hocuspocus on `/hocuspocus` ([`hocuspocus`]). What they share is here: the upgrade's
//! socket settings and per-address allowance, the writer ([`write`]), the reader's close
//! policy and limits ([`read`]), and what both do with a room message on its way in
//! (presence limits and stamping, refusals and their close codes).

pub mod hocuspocus;
pub(crate) mod read;
pub(crate) mod write;
pub mod ws;

use axum::extract::WebSocketUpgrade;
use tandem_protocol::{self as proto, ClientMessage};
use tracing::warn;
use yrs::sync::awareness::AwarenessUpdate;

pub use write::FrameBudget;

use crate::product::api::error::{ApiError, ErrorCode};
use crate::realtime::limits::{PresenceLimits, Violation};
use crate::realtime::room::{ConnControl, Identity, close_code, stamp};
use crate::state::AppState;

/// Read buffer per connection: small, so idle connections stay cheap.
const READ_BUFFER: usize = 1024;

/// Counts a new connection from `client` against its per-minute allowance.
pub(crate) fn allow_connection(app: &AppState, client: std::net::IpAddr) -> Result<(), ApiError> {
    if app.connects_per_ip.allow(crate::rate::Key::addr(client)) {
        return Ok(());
    }
    metrics::counter!(crate::metrics::LIMITED, "limit" => "connections_per_ip").increment(1);
    Err(ApiError::new(ErrorCode::RateLimited, "too many new connections from this address; retry in a minute"))
}

/// The socket settings both protocols use.
pub(crate) fn configure(ws: WebSocketUpgrade, max_message_size: usize) -> WebSocketUpgrade {
    ws.max_message_size(max_message_size).max_frame_size(max_message_size).read_buffer_size(READ_BUFFER)
}

/// Counts an open connection (either protocol) in the connections gauge while it lives.
pub(crate) struct Counted(metrics::Gauge);

impl Counted {
    pub(crate) fn connection() -> Self {
        let gauge = metrics::gauge!(crate::metrics::CONNECTIONS_ACTIVE);
        gauge.increment(1.0);
        Counted(gauge)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Decodes a y-websocket message (either protocol carries them), counted as received.
pub(crate) fn decode_counted(frame: &[u8]) -> Result<ClientMessage, proto::ProtocolError> {
    crate::metrics::received(frame);
    proto::decode(frame)
}

/// Passes a message through a room connection's presence limits, stamping awareness with
/// who sent it: `None` if it is held back (or refused, and the connection closed).
pub(crate) fn through_presence(
    presence: &mut PresenceLimits,
    identity: &Identity,
    control: &ConnControl,
    msg: ClientMessage,
) -> Option<ClientMessage> {
    match presence.offer(msg) {
        Ok(Some(ClientMessage::Awareness(update))) => Some(stamped(update, identity)),
        Ok(msg) => msg,
        Err(v) => {
            refuse_over_limit(control, &v);
            None
        }
    }
}

/// An awareness message carrying who set its states.
pub(crate) fn stamped(mut update: AwarenessUpdate, identity: &Identity) -> ClientMessage {
    stamp(&mut update, identity);
    ClientMessage::Awareness(update)
}

/// Closes a connection whose frame did not decode or parse (1007).
pub(crate) fn refuse_malformed(control: &ConnControl, error: &dyn std::fmt::Display) {
    metrics::counter!(crate::metrics::REFUSED_FRAMES, "reason" => "malformed").increment(1);
    warn!(%error, "malformed frame");
    control.close(close_code::INVALID_PAYLOAD, "malformed message");
}

/// Closes a connection for what throttling cannot contain.
fn refuse_over_limit(control: &ConnControl, v: &Violation) {
    metrics::counter!(crate::metrics::LIMITED, "limit" => v.limit).increment(1);
    warn!(limit = v.limit, "limit exceeded; closing");
    control.close(v.code, v.reason);
}
