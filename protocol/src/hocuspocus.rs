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

/// A client's Token message: the token and, from v4 on, the provider's version.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenAuth {
    pub token: String,
    /// `varString(version)` after the token (`"4.8.0"`); providers before v4 send none.
    pub version: Option<String>,
}

impl TokenAuth {
    /// Whether the provider announced v4 or later, the first to understand the bare Ping.
    /// Earlier ones read every frame as starting with a document name and throw on it.
    pub fn understands_ping(&self) -> bool {
        let major = self.version.as_deref().and_then(|v| v.split('.').next()).and_then(|m| m.parse::<u32>().ok());
        major.is_some_and(|m| m >= 4)
    }
}

/// The token (and version) of an Auth message (`message` from the type on), if it is a
/// Token message. Bytes after the token that are not a string mean no version.
pub fn auth_token(message: &[u8]) -> Result<Option<TokenAuth>, ProtocolError> {
    let mut cur = Cursor::new(message);
    let malformed = |_| ProtocolError::Malformed("auth message");
    let _kind: u64 = cur.read_var().map_err(malformed)?;
    let sub: u64 = cur.read_var().map_err(malformed)?;
    if sub != AUTH_TOKEN {
        return Ok(None);
    }
    let token = cur.read_string().map_err(malformed)?.to_owned();
    let version = if cur.has_content() { cur.read_string().ok().map(str::to_owned) } else { None };
    Ok(Some(TokenAuth { token, version }))
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

/// What a client before v4 sends to open a document: Auth, Token, `varString(token)`.
pub fn encode_auth_token(name: &str, token: &str) -> Vec<u8> {
    auth(name, AUTH_TOKEN, token)
}

/// What a v4 client sends to open a document: the same, then `varString(version)`.
pub fn encode_auth_token_v4(name: &str, token: &str, version: &str) -> Vec<u8> {
    let mut frame = auth(name, AUTH_TOKEN, token);
    let mut enc = EncoderV1::new();
    enc.write_string(version);
    frame.extend_from_slice(&enc.to_vec());
    frame
}

/// `[name] 07`: the client leaves that document (the socket stays open).
pub fn encode_close(name: &str) -> Vec<u8> {
    for_document(name, &[MSG_CLOSE as u8])
}

/// Authenticated, with the scope: `"read-write"` or `"readonly"`.
pub fn encode_authenticated(name: &str, read_only: bool) -> Vec<u8> {
    auth(name, AUTH_AUTHENTICATED, if read_only { "readonly" } else { "read-write" })
}

pub fn encode_permission_denied(name: &str, reason: &str) -> Vec<u8> {
    auth(name, AUTH_PERMISSION_DENIED, reason)
}

/// Stateless: `[name] 05 varString(payload)`, a message for the application (the
/// provider's `onStateless`), outside the document.
pub fn encode_stateless(name: &str, payload: &str) -> Vec<u8> {
    let mut enc = EncoderV1::new();
    enc.write_string(name);
    enc.write_var(MSG_STATELESS);
    enc.write_string(payload);
    enc.to_vec()
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
        let auth = auth_token(message).unwrap().unwrap();
        assert_eq!((auth.token.as_str(), auth.version), ("jwt.token.here", None));
        assert!(!auth_token(message).unwrap().unwrap().understands_ping());
        assert_eq!(encode_authenticated("d", true), [1, b'd', 2, 2, 8, b'r', b'e', b'a', b'd', b'o', b'n', b'l', b'y']);
        assert_eq!(encode_sync_status("d", true), [1, b'd', 8, 1]);
        assert_eq!(encode_permission_denied("d", "no")[..4], [1, b'd', 2, 1]);
    }

    #[test]
    fn only_providers_announcing_v4_understand_ping() {
        let version_of = |frame: &[u8]| {
            let Frame::Doc { message, .. } = split(frame).unwrap() else { panic!() };
            auth_token(message).unwrap().unwrap()
        };
        // v4: [name] 02 00 varString(token) varString(version).
        let v4 = encode_auth_token_v4("d", "t", "4.8.0");
        assert_eq!(v4, [1, b'd', 2, 0, 1, b't', 5, b'4', b'.', b'8', b'.', b'0']);
        assert_eq!(version_of(&v4), TokenAuth { token: "t".into(), version: Some("4.8.0".into()) });
        assert!(version_of(&v4).understands_ping());
        assert!(version_of(&encode_auth_token_v4("d", "t", "5.0.0-rc.1")).understands_ping());
        for old in ["3.4.4", "2.15.3", "", "four"] {
            assert!(!version_of(&encode_auth_token_v4("d", "t", old)).understands_ping(), "{old:?}");
        }
        // Trailing bytes that are not a string: no version, not malformed.
        let mut truncated = encode_auth_token("d", "t");
        truncated.push(9);
        assert_eq!(version_of(&truncated).version, None);
        assert_eq!(encode_close("d"), [1, b'd', 7]);
    }
}
