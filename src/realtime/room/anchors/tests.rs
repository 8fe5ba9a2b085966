use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Assoc, Doc, GetString, ID, IndexScope, Options, StickyIndex, Text, Transact, Update};

use super::*;

/// The room's text, named here: importing it from the content module would make an import
/// cycle (content → handle → anchors → these tests).
const CONTENT: &str = "content";

fn at(doc: &Doc, index: u32, length: u32) -> Result<Anchor, AnchorError> {
    super::at(doc, &doc.get_or_insert_text(CONTENT), index, length)
}

fn encoded(doc: &Doc, start: &[u8], end: &[u8]) -> Result<Anchor, AnchorError> {
    super::encoded(doc, &doc.get_or_insert_text(CONTENT), start, end)
}

fn resolve_all(doc: &Doc, anchors: &[(&[u8], &[u8])]) -> Vec<Resolved> {
    super::resolve_all(doc, &doc.get_or_insert_text(CONTENT), anchors).into_iter().map(|r| r.at).collect()
}

fn doc(text: &str) -> Doc {
    let doc = Doc::with_options(Options { offset_kind: yrs::OffsetKind::Utf16, ..Options::default() });
    doc.get_or_insert_text(CONTENT).insert(&mut doc.transact_mut(), 0, text);
    doc
}

fn edit(doc: &Doc, f: impl FnOnce(&TextRef, &mut TransactionMut)) {
    let text = doc.get_or_insert_text(CONTENT);
    f(&text, &mut doc.transact_mut());
}

fn resolved(doc: &Doc, a: &Anchor) -> Resolved {
    resolve_all(doc, &[(&a.start, &a.end)])[0]
}

fn range_text(doc: &Doc, r: Resolved) -> String {
    let text = doc.get_or_insert_text(CONTENT).get_string(&doc.transact());
    let units: Vec<u16> = text.encode_utf16().collect();
    String::from_utf16(&units[r.index as usize..(r.index + r.length) as usize]).unwrap()
}

#[test]
fn a_range_follows_text_typed_before_inside_and_beside_it() {
    let d = doc("hello brave new world");
    let a = at(&d, 6, 9).unwrap();
    assert_eq!(a.quote, "brave new");
    edit(&d, |t, txn| t.insert(txn, 0, ">> "));
    assert_eq!(range_text(&d, resolved(&d, &a)), "brave new");
    edit(&d, |t, txn| t.insert(txn, 15, "and bold "));
    assert_eq!(range_text(&d, resolved(&d, &a)), "brave and bold new");
    // Typed right before the first character or right after the last: outside.
    let r = resolved(&d, &a);
    edit(&d, |t, txn| t.insert(txn, r.index + r.length, "!"));
    edit(&d, |t, txn| t.insert(txn, r.index, "("));
    assert_eq!(range_text(&d, resolved(&d, &a)), "brave and bold new");
    assert!(!resolved(&d, &a).orphaned);
}

#[test]
fn deleting_part_of_a_range_shrinks_it_and_deleting_all_of_it_orphans_it() {
    let d = doc("one two three four");
    let a = at(&d, 4, 9).unwrap();
    assert_eq!(a.quote, "two three");
    edit(&d, |t, txn| t.remove_range(txn, 4, 4));
    assert_eq!(range_text(&d, resolved(&d, &a)), "three");
    edit(&d, |t, txn| t.remove_range(txn, 2, 9));
    let r = resolved(&d, &a);
    assert!(r.orphaned, "{r:?}");
    assert_eq!(r.length, 0);
    assert_eq!(r.index, 2);
    // Text typed where the range was does not bring it back.
    edit(&d, |t, txn| t.insert(txn, 2, "XYZ"));
    assert!(resolved(&d, &a).orphaned);
}

#[test]
fn ranges_at_the_edges_and_empty_text() {
    let d = doc("abc");
    let whole = at(&d, 0, 3).unwrap();
    edit(&d, |t, txn| t.insert(txn, 3, "def"));
    edit(&d, |t, txn| t.insert(txn, 0, "_"));
    assert_eq!(range_text(&d, resolved(&d, &whole)), "abc");
    let end = at(&d, 7, 0).unwrap();
    assert_eq!(resolved(&d, &end).index, 7);
    assert_eq!(at(&d, 5, 3), Err(AnchorError::PastEnd { end: 8, len: 7 }));
    assert!(matches!(at(&d, u32::MAX, u32::MAX), Err(AnchorError::PastEnd { .. })));
    let empty = doc("");
    let a = at(&empty, 0, 0).unwrap();
    assert_eq!(resolved(&empty, &a).index, 0);
}

#[test]
fn ranges_count_utf16_code_units() {
    let d = doc("a😀b é c");
    let a = at(&d, 1, 3).unwrap();
    assert_eq!(a.quote, "😀b");
    edit(&d, |t, txn| t.insert(txn, 0, "😀"));
    let r = resolved(&d, &a);
    assert_eq!((r.index, r.length), (3, 3));
    assert_eq!(range_text(&d, r), "😀b");
}

#[test]
fn ranges_move_with_a_concurrent_edit_merged_from_another_replica() {
    let d = doc("the quick brown fox");
    let a = at(&d, 4, 11).unwrap();
    let other = Doc::with_options(Options { offset_kind: yrs::OffsetKind::Utf16, ..Options::default() });
    let state = d.transact().encode_state_as_update_v1(&Default::default());
    other.transact_mut().apply_update(Update::decode_v1(&state).unwrap()).unwrap();
    let before = other.transact().state_vector();
    edit(&other, |t, txn| t.insert(txn, 10, "red "));
    edit(&other, |t, txn| t.insert(txn, 0, "and "));
    let delta = other.transact().encode_state_as_update_v1(&before);
    d.transact_mut().apply_update(Update::decode_v1(&delta).unwrap()).unwrap();
    assert_eq!(range_text(&d, resolved(&d, &a)), "quick red brown");
}

#[test]
fn one_pass_agrees_with_resolving_each_position_alone() {
    // Many small edits by several clients, deletions included: the item list the pass
    // builds must give what yrs' own walk gives, for positions on live and deleted items.
    let d = doc("");
    let mut seed = 7u64;
    let mut next = |n: u32| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) % u64::from(n.max(1))) as u32
    };
    let mut anchors = Vec::new();
    for round in 0..400 {
        let len = d.get_or_insert_text(CONTENT).len(&d.transact());
        match next(5) {
            0..=2 => {
                let at_ = next(len + 1);
                edit(&d, |t, txn| t.insert(txn, at_, if round % 7 == 0 { "é😀x" } else { "ab" }));
            }
            3 if len > 2 => {
                let from = next(len - 1);
                let n = 1 + next((len - from).min(4));
                edit(&d, |t, txn| t.remove_range(txn, from, n));
            }
            _ if len > 0 => {
                let from = next(len);
                let n = next(len - from + 1);
                anchors.push(at(&d, from, n).unwrap());
            }
            _ => {}
        }
    }
    assert!(anchors.len() > 50);
    let pairs: Vec<(&[u8], &[u8])> = anchors.iter().map(|a| (a.start.as_slice(), a.end.as_slice())).collect();
    let all = resolve_all(&d, &pairs);
    let txn = d.transact();
    for (a, r) in anchors.iter().zip(&all) {
        let from = StickyIndex::decode_v1(&a.start).unwrap().get_offset(&txn).unwrap().index;
        let to = StickyIndex::decode_v1(&a.end).unwrap().get_offset(&txn).unwrap().index;
        assert_eq!((r.index, r.index + r.length), if to > from { (from, to) } else { (from, from) }, "{a:?}");
    }
}

#[test]
fn encoded_positions_are_checked_before_yrs_reads_them() {
    let d = doc("some text");
    let a = at(&d, 5, 4).unwrap();
    assert_eq!(encoded(&d, &a.start, &a.end).unwrap().quote, "text");
    // A client id past 53 bits (yrs asserts on it), a foreign root, a nested type,
    // garbage, too long, empty.
    let huge = StickyIndex::new(IndexScope::Relative(ID::new(ClientID::new(1), 0)), Assoc::After).encode_v1();
    let mut past = vec![0u8];
    past.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    past.extend_from_slice(&huge[2..]);
    let root = StickyIndex::new(IndexScope::Root("other".into()), Assoc::After).encode_v1();
    let nested = StickyIndex::new(IndexScope::Nested(ID::new(ClientID::new(1), 0)), Assoc::After).encode_v1();
    for bad in [past, nested, vec![0x09, 0x01], vec![0u8; 100], vec![]] {
        assert_eq!(decode(&bad).err(), Some(AnchorError::Malformed), "{bad:?}");
        assert!(encoded(&d, &bad, &a.end).is_err());
        assert!(resolve_all(&d, &[(&bad, &a.end)])[0].orphaned);
    }
    // Another root type: unknown while it does not exist, not this text once it does.
    assert_eq!(encoded(&d, &root, &a.end), Err(AnchorError::Unknown));
    d.get_or_insert_text("other");
    assert_eq!(encoded(&d, &root, &a.end), Err(AnchorError::Malformed));
    assert!(resolve_all(&d, &[(&root, &a.end)])[0].orphaned);
    // A well-formed position into text the document does not hold.
    let unknown = StickyIndex::new(IndexScope::Relative(ID::new(ClientID::new(424242), 9)), Assoc::After).encode_v1();
    assert_eq!(encoded(&d, &unknown, &a.end), Err(AnchorError::Unknown));
    let whole = StickyIndex::new(IndexScope::Root(CONTENT.into()), Assoc::Before).encode_v1();
    assert!(encoded(&d, &whole, &a.end).is_ok());
}

#[test]
fn positions_on_deleted_text_come_back_moved_to_text_still_there() {
    let d = doc("keep this remove that keep");
    let a = at(&d, 10, 11).unwrap();
    let b = at(&d, 0, 4).unwrap();
    let listed = |d: &Doc, a: &Anchor| super::resolve_all(d, &d.get_or_insert_text(CONTENT), &[(&a.start, &a.end)]);
    assert_eq!(listed(&d, &a)[0].moved, None, "nothing deleted: stored as they are");
    // The range's first word goes: its start is walked to once, and moved.
    edit(&d, |t, txn| t.remove_range(txn, 10, 7));
    let r = listed(&d, &a).remove(0);
    let (start, end) = r.moved.clone().expect("moved");
    let moved = Anchor { start, end, quote: a.quote.clone(), index: 0, length: 0 };
    assert_eq!(
        listed(&d, &moved)[0],
        Resolution { at: r.at, moved: None },
        "the moved positions are found in one pass"
    );
    assert_eq!(range_text(&d, r.at), "that");
    // They follow edits as the originals would.
    edit(&d, |t, txn| t.insert(txn, 0, ">> "));
    edit(&d, |t, txn| t.insert(txn, 15, "and "));
    assert_eq!(range_text(&d, resolved(&d, &moved)), "thand at");
    // All of it gone: orphaned, and stays so where text is typed again.
    edit(&d, |t, txn| t.remove_range(txn, 13, 8));
    let r = listed(&d, &moved).remove(0);
    assert!(r.at.orphaned);
    let (start, end) = r.moved.expect("moved");
    let gone = Anchor { start, end, quote: a.quote.clone(), index: 0, length: 0 };
    edit(&d, |t, txn| t.insert(txn, r.at.index, "new words"));
    assert!(resolved(&d, &gone).orphaned);
    assert_eq!(listed(&d, &b)[0].moved, None);
}
