//! Checks the codec against `vectors.json`, made by the real yjs / y-protocols code.

use super::*;
use serde::Deserialize;
use yrs::{Doc, GetString, ReadTxn, Transact};

#[derive(Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    kind: String,
    hex: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    state_vector: Option<std::collections::HashMap<u64, u32>>,
    #[serde(default)]
    client: Option<u64>,
    #[serde(default)]
    json: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

fn vectors() -> Vec<Vector> {
    let raw = include_str!("../vectors.json");
    serde_json::from_str::<Vectors>(raw).expect("vectors.json").vectors
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn text_after(update: Update) -> String {
    let doc = Doc::new();
    let text = doc.get_or_insert_text("content");
    let mut txn = doc.transact_mut();
    txn.apply_update(update).unwrap();
    text.get_string(&txn)
}

fn error_code(e: &ProtocolError) -> &'static str {
    match e {
        ProtocolError::Empty => "empty",
        ProtocolError::Malformed(_) => "malformed",
        ProtocolError::UnknownSyncType(_) => "unknown_sync_type",
        ProtocolError::InvalidUpdate => "invalid_update",
        ProtocolError::ClientIdTooLarge(_) => "client_id_too_large",
        ProtocolError::InvalidAwarenessState(_) => "invalid_awareness_state",
    }
}

#[test]
fn every_shared_vector_decodes_as_described() {
    let vectors = vectors();
    assert!(vectors.len() >= 10);
    for v in vectors {
        let bytes = unhex(&v.hex);
        let name = &v.name;
        match v.kind.as_str() {
            "sync_step1" => {
                let ClientMessage::SyncStep1(sv) = decode(&bytes).unwrap() else { panic!("{name}: not a sync step 1") };
                let want = v.state_vector.unwrap();
                assert_eq!(sv.len(), want.len(), "{name}");
                for (client, clock) in want {
                    assert_eq!(sv.get(&ClientID::new(client)), clock, "{name}");
                }
                assert_eq!(encode_sync_step1(&sv), bytes, "{name}: re-encoding");
            }
            "sync_step2" | "update" => {
                let update = match decode(&bytes).unwrap() {
                    ClientMessage::SyncStep2(u) | ClientMessage::Update(u) => u,
                    other => panic!("{name}: no update in {other:?}"),
                };
                assert_eq!(&text_after(update), v.text.as_ref().unwrap(), "{name}");
            }
            "awareness" => {
                let ClientMessage::Awareness(a) = decode(&bytes).unwrap() else { panic!("{name}: not awareness") };
                let entry = &a.clients[&ClientID::new(v.client.unwrap())];
                assert_eq!(&*entry.json, v.json.as_deref().unwrap(), "{name}");
                assert_eq!(encode_awareness(&a), bytes, "{name}: re-encoding");
            }
            "query_awareness" => {
                assert!(matches!(decode(&bytes), Ok(ClientMessage::QueryAwareness)));
            }
            "permission_denied" => {
                assert_eq!(encode_permission_denied(v.reason.as_deref().unwrap()), bytes);
            }
            "error" => {
                let err = decode(&bytes).expect_err(name);
                assert_eq!(error_code(&err), v.error.as_deref().unwrap(), "{name}: {err}");
            }
            other => panic!("{name}: unknown vector kind {other}"),
        }
    }
}

#[test]
fn server_frames_match_reference_bytes() {
    assert_eq!(encode_sync_step1(&StateVector::default()), [0, 0, 1, 0]);
    assert_eq!(encode_sync_step2(Update::EMPTY_V1), [0, 1, 2, 0, 0]);
    let doc = Doc::new();
    let sv = doc.transact().state_vector();
    assert_eq!(encode_sync_step1(&sv), [0, 0, 1, 0]);
}

#[test]
fn unknown_top_level_types_are_passed_over() {
    assert!(matches!(decode(&[7, 1, 2]), Ok(ClientMessage::Unknown(7))));
}

#[test]
fn random_bytes_never_panic() {
    // A fixed-seed xorshift keeps the run repeatable; 20k frames of 0..64 bytes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..20_000 {
        let len = (next() % 64) as usize;
        let mut frame: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if let Some(first) = frame.first_mut() {
            *first %= 4; // mostly known types, so the inner decoders are exercised
        }
        let _ = decode(&frame);
    }
}

#[test]
fn awareness_states_must_be_json_objects_or_null() {
    let frame = |json: &str| {
        let mut update = AwarenessUpdate { clients: Default::default() };
        update.clients.insert(ClientID::new(9), AwarenessUpdateEntry { clock: 1, json: json.into() });
        encode_awareness(&update)
    };
    for ok in ["{}", r#"{"user":{"name":"ann"}}"#, "null", " null "] {
        assert!(matches!(decode(&frame(ok)), Ok(ClientMessage::Awareness(_))), "{ok:?}");
    }
    for bad in ["{{{", "", r#""name""#, "[1]", "42", "true", r#"{"a":1} trailing"#] {
        assert_eq!(decode(&frame(bad)).unwrap_err(), ProtocolError::InvalidAwarenessState(9), "{bad:?}");
    }
}

// Found by the fuzz targets in fuzz/ (see RELIABILITY.md); each input is the crash, cut
// down to what matters.

/// `varuint(2^53)`: the smallest client id over 53 bits.
const ID_2_POW_53: [u8; 8] = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10];

fn update_frame(update: &[u8]) -> Vec<u8> {
    encode_update(update)
}

#[test]
fn update_with_a_client_id_over_53_bits_is_refused_in_every_build() {
    // The fuzzer's input: a struct group whose client varint is 64 bits long.
    let found = unhex("0002130101 81feffffffffffffffe30af0813a44008894e4f40e36023e2000".replace(' ', "").as_str());
    assert!(matches!(decode(&found), Err(ProtocolError::ClientIdTooLarge(_))), "{:?}", decode(&found));

    let too_large = Err(ProtocolError::ClientIdTooLarge(1 << 53));
    // A struct group's client: `update_insert_hello` with client 2^53 instead of 42.
    let group = [&[1, 1][..], &ID_2_POW_53, &[0, 4, 1, 7], b"content", &[5], b"hello", &[0]].concat();
    assert_eq!(decode_update(&group).map(|_| ()), too_large);
    // An origin: client 42 inserts after (2^53, 0).
    let origin = [&[1, 1, 42, 1, 0x84][..], &ID_2_POW_53, &[0, 1, b'x', 0]].concat();
    assert_eq!(decode_update(&origin).map(|_| ()), too_large);
    // A parent: an item inside the type created at (2^53, 0).
    let parent = [&[1, 1, 42, 0, 4, 0][..], &ID_2_POW_53, &[0, 1, b'x', 0]].concat();
    assert_eq!(decode_update(&parent).map(|_| ()), too_large);
    // The delete set: no structs, one deleted range of client 2^53.
    let deleted = [&[0, 1][..], &ID_2_POW_53, &[1, 0, 1]].concat();
    assert_eq!(decode_update(&deleted).map(|_| ()), too_large);
    assert!(matches!(decode(&update_frame(&deleted)), Err(ProtocolError::ClientIdTooLarge(_))));

    // The largest id a JavaScript number holds exactly is fine, wherever it is.
    let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f];
    let group = [&[1, 1][..], &max, &[0, 4, 1, 7], b"content", &[5], b"hello", &[0]].concat();
    assert_eq!(text_after(decode_update(&group).unwrap()), "hello");
    let deleted = [&[0, 1][..], &max, &[1, 0, 1]].concat();
    assert!(decode_update(&deleted).is_ok());
}

#[test]
fn awareness_states_accepted_can_always_be_removed() {
    // The fuzzer's input: a state at clock u32::MAX. When its connection left, the room's
    // removal bumped the clock: a panic in debug builds (the room actor died), and in
    // release a wrap to 0 that every client ignored (the cursor stayed).
    let at_max = [1, 5, 0xff, 0xff, 0xff, 0xff, 0x0f, 2, b'{', b'}'];
    assert_eq!(decode_awareness(&at_max).map(|_| ()), Err(ProtocolError::Malformed("awareness clock")));
    assert!(decode(&[&[1, at_max.len() as u8][..], &at_max].concat()).is_err());

    let below = [1, 5, 0xfe, 0xff, 0xff, 0xff, 0x0f, 2, b'{', b'}'];
    let update = decode_awareness(&below).unwrap();
    let mut awareness = yrs::sync::Awareness::new(Doc::with_client_id(1));
    awareness.apply_update(update).unwrap();
    let five = ClientID::new(5);
    awareness.remove_state(five);
    let removal = awareness.update_with_clients([five]).unwrap();
    assert_eq!(removal.clients[&five].clock, u32::MAX, "the removal outranks the state it removes");
    assert_eq!(&*removal.clients[&five].json, "null");
}

#[test]
fn updates_with_json_or_empty_content_are_refused() {
    // The fuzzer's frames: items holding JSON content. yrs 0.28 reads one string more
    // than the count it writes, so the item re-encodes as bytes it cannot decode: kept
    // pending, the next `encode_state_as_update_v1` (the room's answer to any sync step 1)
    // panicked; integrated, the room's logged delta could not be read when it reloaded.
    let found = unhex("0001240101889492ee0b00027b7d04000001000500010200000500010200000c010a019a8992ee");
    assert_eq!(decode(&found).map(|_| ()), Err(ProtocolError::InvalidUpdate));
    let found = unhex(concat!(
        "000213010100ffff0002ff030823010100000000008894e4f40e10448894e4f40e0012",
        "23204e6f7465732066726f6d2061006413004488940e36023e00610a20000a00"
    ));
    assert_eq!(decode(&found).map(|_| ()), Err(ProtocolError::InvalidUpdate));
    // JSON content behind an info byte whose fifth bit is set (yrs reads four bits).
    let found = unhex("0002230101018926920bee2702050300000000000000000100010000022301030189920bee27");
    assert_eq!(decode(&found).map(|_| ()), Err(ProtocolError::InvalidUpdate));
    // What yrs itself writes for JSON content is refused as well.
    let json = [&[1, 1, 42, 0, 2, 1, 7][..], b"content", &[1, 1, b'1', 1, b'2'], &[0]].concat();
    assert_eq!(decode_update(&json).map(|_| ()), Err(ProtocolError::InvalidUpdate));
    // JSON, deleted, Any and string content of length 0 at the root `content`.
    for (info, content) in [(2u8, &[0u8][..]), (8, &[0]), (1, &[0]), (4, &[0])] {
        let update = [&[1, 1, 42, 0, info, 1, 7][..], b"content", content, &[0]].concat();
        assert_eq!(decode_update(&update).map(|_| ()), Err(ProtocolError::InvalidUpdate), "info {info}");
    }
    // An empty string after an origin, or in a map under a key.
    let after = [&[1, 2, 42, 0, 4, 1, 7][..], b"content", &[1, b'x', 0x84, 42, 0, 0, 0]].concat();
    assert_eq!(decode_update(&after).map(|_| ()), Err(ProtocolError::InvalidUpdate));
    let keyed = [&[1, 1, 42, 0, 0x24, 1, 4][..], b"meta", &[1, b'k', 0, 0]].concat();
    assert_eq!(decode_update(&keyed).map(|_| ()), Err(ProtocolError::InvalidUpdate));
    // One element is fine, and so are empty names and keys before a non-empty string.
    let one = [&[1, 1, 42, 0, 8, 1, 7][..], b"content", &[1, 0x7d, 1], &[0]].concat();
    assert!(decode_update(&one).is_ok());
    let empty_names = [&[1, 1, 42, 0, 0x24, 1, 0, 0, 1, b'x'][..], &[0]].concat();
    assert!(matches!(decode_update(&empty_names), Ok(u) if !u.is_empty()));
}

#[test]
fn updates_whose_clocks_pass_i32_max_are_refused_without_a_panic() {
    // yrs adds block lengths to the group's clock unchecked: a panic in debug builds
    // (decode_update caught it) and a wrap in release (the update was applied with clocks
    // starting over at 0). The checked decoder refuses it before yrs adds anything up.
    let u32_max = [0xff, 0xff, 0xff, 0xff, 0x0f];
    let i32_max = [0xff, 0xff, 0xff, 0xff, 0x07];
    // A group starting at u32::MAX, and one at i32::MAX, with a 5-character string.
    let group = [&[1, 1, 42][..], &u32_max, &[4, 1, 7], b"content", &[5], b"hello", &[0]].concat();
    let group_i32 = [&[1, 1, 42][..], &i32_max, &[4, 1, 7], b"content", &[5], b"hello", &[0]].concat();
    // Deleted content of length u32::MAX after one character.
    let deleted = [&[1, 2, 42, 0, 4, 1, 7][..], b"content", &[1, b'x', 1], &u32_max, &[0]].concat();
    // A delete set range that ends past u32::MAX.
    let range = [&[0, 1, 42, 1, 2][..], &u32_max, &[0]].concat();
    for update in [group, group_i32, deleted, range] {
        assert_eq!(update::decode_v1(&update).map(|_| ()), Err(ProtocolError::InvalidUpdate), "{update:02x?}");
        assert_eq!(decode_update(&update).map(|_| ()), Err(ProtocolError::InvalidUpdate), "{update:02x?}");
    }
    // The fuzzer's frame.
    let found = unhex(concat!(
        "00022e01012e8894ffffff000094e4f40e32008894e4f40e0f1d48656c6c6f20f09f918b2077c36c6420e280ff",
        "ffff229420e6bca2e51100000000000000ffffffa0229420e6bca2e5ad972000"
    ));
    assert!(decode(&found).is_err());
    // Clocks up to the limit are fine.
    let high = [0x9b, 0xff, 0xff, 0xff, 0x07]; // i32::MAX - 100
    let group = [&[1, 1, 42][..], &high, &[4, 1, 7], b"content", &[5], b"hello", &[0]].concat();
    assert!(decode_update(&group).is_ok());
}

#[test]
fn an_update_far_past_its_clients_clock_cannot_make_the_room_panic() {
    // What the fuzzer's sequence (room_apply target) comes down to: a client's text at
    // clock 0, then one of its blocks at clock 2^31 + 9. yrs integrates a block that comes
    // after a gap behind a Skip whose length it computes as `i32`, and panics (an overflow,
    // or an unwrap of a missing block), inside the room actor: the room died for everyone.
    let first = [&[1, 1, 42, 0, 4, 1, 7][..], b"content", &[1, b'x', 0]].concat();
    let far = [&[1, 1, 42][..], &[0x89, 0x80, 0x80, 0x80, 0x08], &[0x84, 42, 0, 1, b'y', 0]].concat();
    let doc = Doc::with_options(yrs::Options { offset_kind: yrs::OffsetKind::Utf16, ..yrs::Options::default() });
    let mut txn = doc.transact_mut();
    txn.apply_update(decode_update(&first).unwrap()).unwrap();
    assert_eq!(decode_update(&far).map(|_| ()), Err(ProtocolError::InvalidUpdate));
}

#[test]
fn counts_larger_than_the_update_are_refused_before_yrs_reserves_for_them() {
    // The fuzzer ran at ~150 inputs/s with 540 MB resident: a few bytes declaring hundreds
    // of millions of struct groups made yrs set up a hash table for them.
    let groups = [0xff, 0xff, 0xff, 0x7f, 0]; // 2^28 - 1 struct groups, then nothing
    assert_eq!(decode_update(&groups).map(|_| ()), Err(ProtocolError::InvalidUpdate));
    let structs = [1, 0xff, 0xff, 0xff, 0x7f, 42, 0, 0]; // one group of 2^28 - 1 structs
    assert_eq!(decode_update(&structs).map(|_| ()), Err(ProtocolError::InvalidUpdate));
    // Any content holding a map that declares 2^28 - 1 entries.
    let map = [&[1, 1, 42, 0, 8, 1, 7][..], b"content", &[1, 118, 0xff, 0xff, 0xff, 0x7f], &[0]].concat();
    assert_eq!(decode_update(&map).map(|_| ()), Err(ProtocolError::InvalidUpdate));
    // Real counts are fine: an Any map of one entry, and client id 117 (the byte of the
    // array tag) followed by a clock larger than what is left of the update.
    let map = [&[1, 1, 42, 0, 8, 1, 7][..], b"content", &[1, 118, 1, 1, b'k', 120], &[0]].concat();
    assert!(decode_update(&map).is_ok());
    let client_117 = [&[1, 1, 117, 0xe8, 0x07, 4, 1, 7][..], b"content", &[1, b'x', 0]].concat();
    assert!(matches!(decode_update(&client_117), Ok(u) if !u.is_empty()));
}

/// Three edits by client 7: "ab" and "cd" in `content`, then `meta.k = "v"`.
fn three_edits() -> [Vec<u8>; 3] {
    use yrs::{Map, Text};
    let doc = Doc::with_client_id(7);
    let (text, meta) = (doc.get_or_insert_text("content"), doc.get_or_insert_map("meta"));
    let edit = |f: &dyn Fn(&mut yrs::TransactionMut)| {
        let mut txn = doc.transact_mut();
        f(&mut txn);
        txn.encode_update_v1()
    };
    [
        edit(&|txn| text.insert(txn, 0, "ab")),
        edit(&|txn| text.insert(txn, 2, "cd")),
        edit(&|txn| {
            meta.insert(txn, "k", "v");
        }),
    ]
}

#[test]
fn a_block_after_a_gap_in_its_clients_clocks_is_found() {
    use yrs::{Map, StateVector};
    let [ab, cd, kv] = three_edits();
    let doc = Doc::new();
    let meta = doc.get_or_insert_map("meta");
    doc.transact_mut().apply_update(decode_update(&ab).unwrap()).unwrap();
    let sv = doc.transact().state_vector();
    // What yrs does without the check: the map entry after the gap shows, but the state
    // vector stays at 2 and the transaction's delta is empty (no log row would hold it).
    let probe = Doc::new();
    let probe_meta = probe.get_or_insert_map("meta");
    probe.transact_mut().apply_update(decode_update(&ab).unwrap()).unwrap();
    let delta = {
        let mut txn = probe.transact_mut();
        txn.apply_update(decode_update(&kv).unwrap()).unwrap();
        txn.encode_update_v1()
    };
    assert!(probe_meta.get(&probe.transact(), "k").is_some());
    assert_eq!((delta.as_slice(), probe.transact().state_vector()), (Update::EMPTY_V1, sv.clone()));

    let client = ClientID::new(7);
    assert_eq!(first_gap(&decode_update(&kv).unwrap(), &sv), Some((client, 4)));
    // A gap inside one update (a Skip, as merged updates carry) is found too.
    let merged = yrs::merge_updates_v1([ab.as_slice(), kv.as_slice()]).unwrap();
    assert_eq!(first_gap(&decode_update(&merged).unwrap(), &StateVector::default()), Some((client, 4)));
    // What continues the clocks, resends and what the document already has are not gaps.
    assert_eq!(first_gap(&decode_update(&cd).unwrap(), &sv), None);
    assert_eq!(first_gap(&decode_update(&ab).unwrap(), &sv), None);
    let all = yrs::merge_updates_v1([ab.as_slice(), cd.as_slice(), kv.as_slice()]).unwrap();
    assert_eq!(first_gap(&decode_update(&all).unwrap(), &StateVector::default()), None);
    assert_eq!(first_gap(&decode_update(&all).unwrap(), &sv), None);
    assert!(meta.get(&doc.transact(), "k").is_none());
}
