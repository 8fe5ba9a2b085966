//! The y-websocket wire protocol as Tandem speaks it: decoding of client frames into
//! validated messages, and encoding of the frames the server sends. The server's
//! connection tasks call [`decode`]; the room actor calls the `encode_*` functions once per
//! message and fans the bytes out. `README.md` beside this crate is the spec; the test
//! vectors in `vectors.json` are shared with the JS client tests.
#![forbid(unsafe_code)]

pub mod hocuspocus;
mod update;

use std::panic::{AssertUnwindSafe, catch_unwind};

use yrs::encoding::read::{Cursor, Read};
use yrs::encoding::write::Write;
use yrs::sync::awareness::{AwarenessUpdate, AwarenessUpdateEntry};
use yrs::updates::encoder::{Encode, Encoder, EncoderV1};
use yrs::{ClientID, StateVector, Update};

/// Top-level message type: document sync.
pub const MSG_SYNC: u64 = 0;
/// Top-level message type: awareness (presence).
pub const MSG_AWARENESS: u64 = 1;
/// Top-level message type: auth (permission denied/granted).
pub const MSG_AUTH: u64 = 2;
/// Top-level message type: a request for every awareness state.
pub const MSG_QUERY_AWARENESS: u64 = 3;

const SYNC_STEP_1: u64 = 0;
const SYNC_STEP_2: u64 = 1;
const SYNC_UPDATE: u64 = 2;
const AUTH_PERMISSION_DENIED: u64 = 0;

/// Client ids are 53-bit so JavaScript numbers can hold them; yrs asserts this.
pub const MAX_CLIENT_ID: u64 = (1 << 53) - 1;

/// Why a frame was refused. Every variant is the client's fault, never the server's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("empty frame")]
    Empty,
    #[error("truncated or malformed {0}")]
    Malformed(&'static str),
    #[error("unknown sync message type {0}")]
    UnknownSyncType(u64),
    #[error("update is not a valid Yjs V1 update")]
    InvalidUpdate,
    #[error("client id {0} exceeds 53 bits")]
    ClientIdTooLarge(u64),
    /// Clients parse every state they receive with `JSON.parse` and throw on anything
    /// else, so one bad state relayed would break every provider in the room.
    #[error("awareness state of client {0} is not a JSON object or null")]
    InvalidAwarenessState(u64),
}

/// One decoded client message. Updates are decoded (and so validated) here, off the
/// room actor, which only has to apply them.
#[derive(Debug)]
pub enum ClientMessage {
    /// The client's state vector: answer with what it lacks.
    SyncStep1(StateVector),
    /// What the client has that the server lacked (answer to the server's step 1).
    SyncStep2(Update),
    /// An incremental update.
    Update(Update),
    /// Presence states.
    Awareness(AwarenessUpdate),
    /// Ask for every awareness state.
    QueryAwareness,
    /// An auth message: servers ignore it.
    Auth,
    /// A top-level type this server does not know; ignored for forward compatibility.
    Unknown(u64),
}

/// Decodes one frame (one message per frame; trailing bytes are ignored, as the
/// reference client does).
pub fn decode(frame: &[u8]) -> Result<ClientMessage, ProtocolError> {
    if frame.is_empty() {
        return Err(ProtocolError::Empty);
    }
    let mut cur = Cursor::new(frame);
    let kind: u64 = cur.read_var().map_err(|_| ProtocolError::Malformed("message type"))?;
    match kind {
        MSG_SYNC => decode_sync(&mut cur),
        MSG_AWARENESS => {
            let buf = cur.read_buf().map_err(|_| ProtocolError::Malformed("awareness"))?;
            decode_awareness(buf).map(ClientMessage::Awareness)
        }
        MSG_AUTH => Ok(ClientMessage::Auth),
        MSG_QUERY_AWARENESS => Ok(ClientMessage::QueryAwareness),
        other => Ok(ClientMessage::Unknown(other)),
    }
}

fn decode_sync(cur: &mut Cursor<'_>) -> Result<ClientMessage, ProtocolError> {
    let sub: u64 = cur.read_var().map_err(|_| ProtocolError::Malformed("sync type"))?;
    let buf = cur.read_buf().map_err(|_| ProtocolError::Malformed("sync payload"))?;
    match sub {
        SYNC_STEP_1 => decode_state_vector(buf).map(ClientMessage::SyncStep1),
        SYNC_STEP_2 => decode_update(buf).map(ClientMessage::SyncStep2),
        SYNC_UPDATE => decode_update(buf).map(ClientMessage::Update),
        other => Err(ProtocolError::UnknownSyncType(other)),
    }
}

/// Decodes a state vector, refusing client ids over 53 bits before yrs sees them.
pub fn decode_state_vector(buf: &[u8]) -> Result<StateVector, ProtocolError> {
    let mut cur = Cursor::new(buf);
    let len: u64 = cur.read_var().map_err(|_| ProtocolError::Malformed("state vector"))?;
    let mut sv = StateVector::default();
    for _ in 0..len {
        let client = read_client_id(&mut cur, "state vector")?;
        let clock: u32 = cur.read_var().map_err(|_| ProtocolError::Malformed("state vector"))?;
        sv.set_max(client, clock);
    }
    Ok(sv)
}

/// Decodes a Yjs V1 update. Refuses what does not decode, what decodes to nothing from
/// more than the two bytes of an empty update (V2 bytes read as V1 do that), and client
/// ids over 53 bits (yrs would panic on them in debug builds and truncate them in release).
pub fn decode_update(buf: &[u8]) -> Result<Update, ProtocolError> {
    let decoded = catch_unwind(AssertUnwindSafe(|| update::decode_v1(buf)));
    let update = match decoded {
        Ok(decoded) => decoded?,
        Err(_) => return Err(ProtocolError::InvalidUpdate),
    };
    if update.is_empty() && buf != Update::EMPTY_V1 {
        return Err(ProtocolError::InvalidUpdate);
    }
    Ok(update)
}

/// The first place where `update` does not continue its clients' clocks from `sv`: a
/// client and the clock its blocks skip to. yrs 0.28, unlike Yjs, integrates a block that
/// needs nothing else (a map entry at the root, say) even when it comes after a gap in its
/// client's clocks, without moving the state vector past the gap: the document then shows
/// content that no delta encodes (so no log row, broadcast or reload carries it), and
/// filling the gap later can panic inside yrs. A client on one ordered socket never sends
/// a gap; a room refuses such an update instead of applying it.
pub fn first_gap(update: &Update, sv: &StateVector) -> Option<(ClientID, u32)> {
    update.insertions(true).iter().find_map(|(client, ranges)| {
        let mut spans: Vec<(u32, u32)> = ranges.iter().map(|r| (r.start, r.end)).collect();
        spans.sort_unstable();
        let mut clock = sv.get(client);
        spans.into_iter().find_map(|(start, end)| {
            let gap = (start > clock).then_some((*client, start));
            clock = clock.max(end);
            gap
        })
    })
}

/// Decodes an awareness payload, refusing client ids over 53 bits and states that are
/// not a JSON object or `null` (a removal).
pub fn decode_awareness(buf: &[u8]) -> Result<AwarenessUpdate, ProtocolError> {
    let mut cur = Cursor::new(buf);
    let malformed = |_| ProtocolError::Malformed("awareness");
    let len: u64 = cur.read_var().map_err(malformed)?;
    // Each entry takes at least three bytes: never trust `len` for an allocation.
    if len > buf.len() as u64 / 3 {
        return Err(ProtocolError::Malformed("awareness"));
    }
    let mut update = AwarenessUpdate { clients: Default::default() };
    for _ in 0..len {
        let client = read_client_id(&mut cur, "awareness")?;
        let clock: u32 = cur.read_var().map_err(malformed)?;
        // Removing a state (its connection left, or it timed out) bumps its clock; one at
        // the maximum could never be removed (debug builds panic, release ones wrap).
        if clock == u32::MAX {
            return Err(ProtocolError::Malformed("awareness clock"));
        }
        let json = cur.read_string().map_err(malformed)?;
        if !is_awareness_state(json) {
            return Err(ProtocolError::InvalidAwarenessState(client.get()));
        }
        update.clients.insert(client, AwarenessUpdateEntry { clock, json: json.into() });
    }
    Ok(update)
}

/// Whether `json` is what y-protocols can apply: a JSON object, or `null`.
pub fn is_awareness_state(json: &str) -> bool {
    matches!(
        serde_json::from_str::<serde_json::Value>(json),
        Ok(serde_json::Value::Object(_) | serde_json::Value::Null)
    )
}

fn read_client_id(cur: &mut Cursor<'_>, what: &'static str) -> Result<ClientID, ProtocolError> {
    let raw: u64 = cur.read_var().map_err(|_| ProtocolError::Malformed(what))?;
    if raw > MAX_CLIENT_ID {
        return Err(ProtocolError::ClientIdTooLarge(raw));
    }
    Ok(ClientID::new(raw))
}

fn frame(kind: u64, sub: Option<u64>, payload: &[u8]) -> Vec<u8> {
    let mut enc = EncoderV1::new();
    enc.write_var(kind);
    if let Some(sub) = sub {
        enc.write_var(sub);
    }
    enc.write_buf(payload);
    enc.to_vec()
}

/// `00 00 varBuf(stateVector)`.
pub fn encode_sync_step1(sv: &StateVector) -> Vec<u8> {
    frame(MSG_SYNC, Some(SYNC_STEP_1), &sv.encode_v1())
}

/// `00 01 varBuf(update)`.
pub fn encode_sync_step2(update_v1: &[u8]) -> Vec<u8> {
    frame(MSG_SYNC, Some(SYNC_STEP_2), update_v1)
}

/// `00 02 varBuf(update)`.
pub fn encode_update(update_v1: &[u8]) -> Vec<u8> {
    frame(MSG_SYNC, Some(SYNC_UPDATE), update_v1)
}

/// `01 varBuf(awareness update)`.
pub fn encode_awareness(update: &AwarenessUpdate) -> Vec<u8> {
    frame(MSG_AWARENESS, None, &update.encode_v1())
}

/// `02 00 varString(reason)`: y-protocols' permission denied.
pub fn encode_permission_denied(reason: &str) -> Vec<u8> {
    let mut enc = EncoderV1::new();
    enc.write_var(MSG_AUTH);
    enc.write_var(AUTH_PERMISSION_DENIED);
    enc.write_string(reason);
    enc.to_vec()
}

#[cfg(test)]
mod tests;
