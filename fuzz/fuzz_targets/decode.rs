//! One y-websocket frame from a client, through `tandem_protocol::decode` as the `/ws`
//! reader calls it. Beyond "never panics": whatever decodes re-encodes the way the room
//! re-encodes it (state vectors for sync step 1, awareness for the fan-out) and decodes
//! back to the same message, and an accepted update encodes to bytes that decode again.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use tandem_protocol::{self as proto, ClientMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{StateVector, Update};

fuzz_target!(init: common::init(), |frame: &[u8]| {
    let Ok(msg) = common::decoding(|| proto::decode(frame)) else { return };
    match msg {
        ClientMessage::SyncStep1(sv) => {
            let again = proto::encode_sync_step1(&sv);
            let Ok(ClientMessage::SyncStep1(back)) = proto::decode(&again) else {
                panic!("re-encoded state vector does not decode: {again:02x?}")
            };
            assert_eq!(back, sv);
            assert_eq!(StateVector::decode_v1(&sv.encode_v1()).ok(), Some(sv));
        }
        ClientMessage::SyncStep2(update) | ClientMessage::Update(update) => {
            let bytes = update.encode_v1();
            Update::decode_v1(&bytes).expect("a decoded update re-encodes to valid V1");
        }
        ClientMessage::Awareness(update) => {
            let again = proto::encode_awareness(&update);
            let Ok(ClientMessage::Awareness(back)) = proto::decode(&again) else {
                panic!("re-encoded awareness does not decode: {again:02x?}")
            };
            assert_eq!(back.clients.len(), update.clients.len());
            for (client, entry) in &update.clients {
                let other = &back.clients[client];
                assert_eq!((other.clock, &other.json), (entry.clock, &entry.json));
            }
        }
        ClientMessage::QueryAwareness | ClientMessage::Auth | ClientMessage::Unknown(_) => {}
    }
});
