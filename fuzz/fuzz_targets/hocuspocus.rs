//! One Hocuspocus frame from a client, decoded as `/hocuspocus` decodes it
//! (src/realtime/socket/hocuspocus.rs): split into document name, type and message; the token
//! of an Auth message; a y-websocket message for Sync, Awareness and QueryAwareness.
//! Beyond "never panics": a document name and message re-framed the way the server frames
//! its replies split back into the same parts, and so does a token re-encoded as an Auth
//! frame (the client's varints need not be minimal, so bytes are not compared).
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use tandem_protocol::hocuspocus::{self as hp, Frame};
use tandem_protocol::{self as proto};

fuzz_target!(init: common::init(), |frame: &[u8]| {
    let Ok(split) = hp::split(frame) else { return };
    let (name, kind, message) = match split {
        Frame::Ping => return assert_eq!(frame, [hp::PING]),
        Frame::Pong => return assert_eq!(frame, [hp::PONG]),
        Frame::Doc { name, kind, message } => (name, kind, message),
    };
    let reframed = hp::for_document(&name, message);
    assert_eq!(hp::split(&reframed), Ok(Frame::Doc { name: name.clone(), kind, message }));
    match kind {
        hp::MSG_AUTH => {
            if let Ok(Some(parsed)) = hp::auth_token(message) {
                let auth = match &parsed.version {
                    Some(version) => hp::encode_auth_token_v4(&name, &parsed.token, version),
                    None => hp::encode_auth_token(&name, &parsed.token),
                };
                let Ok(Frame::Doc { name: back, kind: hp::MSG_AUTH, message }) = hp::split(&auth) else {
                    panic!("re-encoded Auth frame does not split: {auth:02x?}")
                };
                assert_eq!((back, hp::auth_token(message)), (name, Ok(Some(parsed))));
            }
        }
        hp::MSG_SYNC | hp::MSG_AWARENESS | hp::MSG_QUERY_AWARENESS => {
            let _ = common::decoding(|| proto::decode(message));
        }
        _ => {}
    }
});
