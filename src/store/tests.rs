//! Unit tests of the pure merge used by compaction.

use super::*;
use yrs::{GetString, Text};

fn chain() -> (Vec<u8>, Vec<u8>) {
    let d = Doc::with_client_id(7);
    let text = d.get_or_insert_text("content");
    let mut updates = Vec::new();
    for s in ["ab", "cd"] {
        let mut txn = d.transact_mut();
        let len = text.len(&txn);
        text.insert(&mut txn, len, s);
        updates.push(txn.encode_update_v1());
    }
    (updates.remove(0), updates.remove(0))
}

fn text(update: &[u8]) -> String {
    let d = Doc::new();
    let t = d.get_or_insert_text("content");
    let mut txn = d.transact_mut();
    txn.apply_update(Update::decode_v1(update).unwrap()).unwrap();
    t.get_string(&txn)
}

#[test]
fn merge_of_a_complete_log_is_its_state() {
    let (a, b) = chain();
    let merged = merge_state(&DocId::parse("d").unwrap(), &[&a, &b]).unwrap();
    assert_eq!(text(&merged), "abcd");
}

#[test]
fn merge_keeps_what_waits_on_missing_dependencies() {
    let (a, b) = chain();
    let id = DocId::parse("d").unwrap();
    let only_b = merge_state(&id, &[&b]).unwrap();
    let both = merge_state(&id, &[&only_b, &a]).unwrap();
    assert_eq!(text(&both), "abcd");
}

#[test]
fn merge_refuses_garbage() {
    let id = DocId::parse("d").unwrap();
    assert!(matches!(merge_state(&id, &[b"\xff\xff"]), Err(StoreError::Corrupt(_))));
}
