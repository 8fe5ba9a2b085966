//! What both protocols do with a room message on its way in: count and decode it, pass
//! it through the connection's presence limits, stamp presence with who set it, and close
//! the connection for what cannot be let through.

use tandem_protocol::{self as proto, ClientMessage};
use tracing::warn;
use yrs::sync::awareness::AwarenessUpdate;

use crate::identity::Principal;
use crate::realtime::limits::{PresenceLimits, Violation};
use crate::realtime::room::{ConnControl, close_code, stamp};

/// Decodes a y-websocket message (either protocol carries them), counted as received.
pub(super) fn decode_counted(frame: &[u8]) -> Result<ClientMessage, proto::ProtocolError> {
    crate::metrics::received(frame);
    proto::decode(frame)
}

/// Passes a message through a room connection's presence limits, stamping awareness with
/// who sent it: `None` if it is held back (or refused, and the connection closed).
pub(super) fn through_presence(
    presence: &mut PresenceLimits,
    identity: &Principal,
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
pub(super) fn stamped(mut update: AwarenessUpdate, identity: &Principal) -> ClientMessage {
    stamp(&mut update, identity);
    ClientMessage::Awareness(update)
}

/// Closes a connection whose frame did not decode or parse (1007).
pub(super) fn refuse_malformed(control: &ConnControl, error: &dyn std::fmt::Display) {
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
