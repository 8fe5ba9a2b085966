//! An awareness payload from a client, through `tandem_protocol::decode_awareness` (what
//! the `/ws` and `/hocuspocus` readers run on every type-1 message, validation included),
//! then handled as the room handles it (src/realtime/room/live/awareness.rs, live.rs): applied to the
//! room's `Awareness`, the changed states fanned out, the join snapshot encoded, and at
//! last the connection leaves, which removes every state it introduced and fans the
//! removals out. Beyond "never panics": each fan-out frame decodes to what the room holds.
#![no_main]

#[path = "common.rs"]
#[allow(dead_code)]
mod common;

use libfuzzer_sys::fuzz_target;
use tandem_protocol as proto;
use yrs::encoding::read::{Cursor, Read};
use yrs::sync::Awareness;
use yrs::sync::awareness::AwarenessUpdate;
use yrs::updates::decoder::Decode;
use yrs::{ClientID, Doc, Options};

fuzz_target!(init: common::init(), |payload: &[u8]| {
    let Ok(update) = proto::decode_awareness(payload) else { return };
    // The room's doc has a random client id; a fixed one keeps runs repeatable.
    let doc = Doc::with_options(Options { client_id: ClientID::new(1), ..Options::default() });
    let mut awareness = Awareness::new(doc);
    let Ok(Some(summary)) = awareness.apply_update_summary(update) else { return };
    fan_out(&awareness, summary.all_changes());
    let _ = proto::encode_awareness(&awareness.update().expect("the join snapshot encodes"));

    let introduced: Vec<ClientID> = summary.added.iter().chain(&summary.updated).copied().collect();
    for id in &introduced {
        awareness.remove_state(*id);
    }
    fan_out(&awareness, introduced);
});

/// The room's `broadcast_awareness`: the frame must carry each client's current clock.
fn fan_out(awareness: &Awareness, clients: Vec<ClientID>) {
    if clients.is_empty() {
        return;
    }
    let update = awareness.update_with_clients(clients.clone()).expect("every changed client is known");
    // Read back as clients and peer nodes read it (a removal may carry clock u32::MAX,
    // which `proto::decode` refuses from clients so that their states stay removable).
    let frame = proto::encode_awareness(&update);
    let Some(payload) = frame.strip_prefix(&[proto::MSG_AWARENESS as u8]) else { unreachable!() };
    let mut cursor = Cursor::new(payload);
    let back = cursor.read_buf().ok().and_then(|buf| AwarenessUpdate::decode_v1(buf).ok());
    let Some(back) = back else { panic!("the room's awareness frame does not decode: {frame:02x?}") };
    assert_eq!(back.clients.len(), update.clients.len());
    for client in clients {
        let (clock, _) = awareness.meta(client).expect("a fanned-out client is known");
        assert_eq!(back.clients[&client].clock, clock);
    }
}
