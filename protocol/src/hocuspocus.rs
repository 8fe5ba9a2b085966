//! The Hocuspocus protocol's framing (v2–v4, as `@hocuspocus/provider` speaks it): every
//! frame is `varString(documentName) varuint(type) payload`, many documents per socket,
//! except v4's bare one-byte Ping (9) and Pong (10). Sync (0), Awareness (1) and
//! QueryAwareness (3) carry exactly a y-websocket message after the name, so the rest of
//! the frame decodes with [`crate::decode`]. Auth (2) has its own subtypes: Token 0,
//! PermissionDenied 1, Authenticated 2.

use yrs::encoding::read::{Cursor, Read};
use yrs::encoding::write::Write;
use yrs::updates::encoder::{Encoder, EncoderV1};

use crate::ProtocolError;

/// Types 0 to 3 are y-websocket's, with the same numbers.
pub use crate::{MSG_AUTH, MSG_AWARENESS, MSG_QUERY_AWARENESS, MSG_SYNC};

pub const MSG_STATELESS: u64 = 5;
pub const MSG_CLOSE: u64 = 7;
pub const MSG_SYNC_STATUS: u64 = 8;
/// v4 liveness: a single byte each, no document name.
pub const PING: u8 = 9;
pub const PONG: u8 = 10;

const AUTH_TOKEN: u64 = 0;
const AUTH_PERMISSION_DENIED: u64 = 1;
const AUTH_AUTHENTICATED: u64 = 2;

/// One client frame, split.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Ping,
    Pong,
    /// For one document: its name, the message type, and the frame from the type on
    /// (for types 0, 1 and 3, a y-websocket message).
    Doc {
        name: String,
        kind: u64,
        message: &'a [u8],
    },
}

pub fn split(frame: &[u8]) -> Result<Frame<'_>, ProtocolError> {
    match frame {
        [PING] => return Ok(Frame::Ping),
        [PONG] => return Ok(Frame::Pong),
        _ => {}
    }
    let mut cur = Cursor::new(frame);
    let name = cur.read_string().map_err(|_| ProtocolError::Malformed("document name"))?.to_owned();
    let message = &frame[cur.next..];
    let mut kind_cur = Cursor::new(message);
    let kind: u64 = kind_cur.read_var().map_err(|_| ProtocolError::Malformed("message type"))?;
    Ok(Frame::Doc { name, kind, message })
}

/// The token of an Auth message (`message` from the type on), if it is a Token message.
pub fn auth_token(message: &[u8]) -> Result<Option<String>, ProtocolError> {
    let mut cur = Cursor::new(message);
    let malformed = |_| ProtocolError::Malformed("auth message");
    let _kind: u64 = cur.read_var().map_err(malformed)?;
    let sub: u64 = cur.read_var().map_err(malformed)?;
    if sub != AUTH_TOKEN {
        return Ok(None);
    }
    Ok(Some(cur.read_string().map_err(malformed)?.to_owned()))
}

/// `varString(name)` followed by `message`.
pub fn for_document(name: &str, message: &[u8]) -> Vec<u8> {
    let mut enc = EncoderV1::new();
    enc.write_string(name);
    let mut out = enc.to_vec();
    out.extend_from_slice(message);
    out
}

fn auth(name: &str, sub: u64, text: &str) -> Vec<u8> {
    let mut enc = EncoderV1::new();
    enc.write_string(name);
    enc.write_var(MSG_AUTH);
    enc.write_var(sub);
    enc.write_string(text);
    enc.to_vec()
}

/// What a client sends to open a document: Auth, Token, `varString(token)`.
pub fn encode_auth_token(name: &str, token: &str) -> Vec<u8> {
    auth(name, AUTH_TOKEN, token)
}

/// Authenticated, with the scope: `"read-write"` or `"readonly"`.
pub fn encode_authenticated(name: &str, read_only: bool) -> Vec<u8> {
    auth(name, AUTH_AUTHENTICATED, if read_only { "readonly" } else { "read-write" })
}

pub fn encode_permission_denied(name: &str, reason: &str) -> Vec<u8> {
    auth(name, AUTH_PERMISSION_DENIED, reason)
}

/// SyncStatus: whether the client's update was applied (lib0 signed varint 1 or 0).
pub fn encode_sync_status(name: &str, applied: bool) -> Vec<u8> {
    for_document(name, &[MSG_SYNC_STATUS as u8, u8::from(applied)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_into_name_type_and_message() {
        assert_eq!(split(&[PING]).unwrap(), Frame::Ping);
        assert_eq!(split(&[PONG]).unwrap(), Frame::Pong);
        let f = for_document("notes/a", &[0, 0, 1, 0]);
        assert_eq!(f[..8], [7, b'n', b'o', b't', b'e', b's', b'/', b'a']);
        match split(&f).unwrap() {
            Frame::Doc { name, kind, message } => {
                assert_eq!((name.as_str(), kind, message), ("notes/a", 0, &[0u8, 0, 1, 0][..]));
                assert!(matches!(crate::decode(message).unwrap(), crate::ClientMessage::SyncStep1(_)));
            }
            other => panic!("{other:?}"),
        }
        assert!(split(&[5, b'a']).is_err(), "name longer than the frame");
        assert!(split(&[1, b'a']).is_err(), "no type");
    }

    #[test]
    fn auth_messages_round_trip() {
        // What the provider sends: name, Auth, Token, varString(token).
        let mut enc = EncoderV1::new();
        enc.write_string("doc");
        enc.write_var(MSG_AUTH);
        enc.write_var(AUTH_TOKEN);
        enc.write_string("jwt.token.here");
        let frame = enc.to_vec();
        assert_eq!(encode_auth_token("doc", "jwt.token.here"), frame);
        let Frame::Doc { kind, message, .. } = split(&frame).unwrap() else { panic!() };
        assert_eq!(kind, MSG_AUTH);
        assert_eq!(auth_token(message).unwrap().as_deref(), Some("jwt.token.here"));
        assert_eq!(encode_authenticated("d", true), [1, b'd', 2, 2, 8, b'r', b'e', b'a', b'd', b'o', b'n', b'l', b'y']);
        assert_eq!(encode_sync_status("d", true), [1, b'd', 8, 1]);
        assert_eq!(encode_permission_denied("d", "no")[..4], [1, b'd', 2, 1]);
    }
}
