//! What the REST API asks of a live document: its Markdown (the `Y.Text` named
//! [`CONTENT`]) and its replacement, applied as a minimal character diff so editors in the
//! room see the change live and keep everything they typed outside the changed spans.
//! Plain functions of a document, without I/O: the room ([`super::live`]) decides when
//! they run, and keeps the catalogue's plain-text copy, which search reads, a few seconds
//! behind.

use std::time::Duration;

use similar::{Algorithm, DiffOp, TextDiff};
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, TextRef, Transact, TransactionMut};

use super::handle::{DocSnapshot, TextState};

/// The root type holding a document's Markdown.
pub const CONTENT: &str = "content";
/// How far behind the document the searchable text may fall.
pub(crate) const TEXT_INDEX_DELAY: Duration = Duration::from_secs(2);
/// Longest a diff may search for a minimal answer before settling for a coarser one.
const DIFF_DEADLINE: Duration = Duration::from_millis(500);

/// The encoded state vector: equal vectors mean equal documents.
pub(super) fn state_vector(doc: &Doc) -> Vec<u8> {
    doc.transact().state_vector().encode_v1()
}

/// The text and the state it was read at.
pub(super) fn text_state(doc: &Doc) -> TextState {
    let text = doc.get_or_insert_text(CONTENT);
    let txn = doc.transact();
    TextState { text: text.get_string(&txn), state_vector: txn.state_vector().encode_v1() }
}

/// The document's whole state and text, read in one transaction.
pub(super) fn snapshot(doc: &Doc) -> DocSnapshot {
    let text = doc.get_or_insert_text(CONTENT);
    let txn = doc.transact();
    DocSnapshot { text: text.get_string(&txn), state: txn.encode_state_as_update_v1(&StateVector::default()) }
}

/// The plain text, for search.
pub(super) fn plain_text(doc: &Doc) -> String {
    doc.get_or_insert_text(CONTENT).get_string(&doc.transact())
}

/// Turns the text into `new` by a minimal diff; returns the delta (V1), possibly empty.
pub(super) fn replace(doc: &Doc, new: &str) -> Vec<u8> {
    let text = doc.get_or_insert_text(CONTENT);
    let mut txn = doc.transact_mut();
    let old = text.get_string(&txn);
    apply_diff(&text, &mut txn, &old, new);
    txn.commit();
    txn.encode_update_v1()
}

/// Turns `old` (the current content of `text`) into `new` with the fewest changes found
/// within the deadline. Positions are UTF-16 code units, the Doc's offset kind.
fn apply_diff(text: &TextRef, txn: &mut TransactionMut, old: &str, new: &str) {
    let old_chars: Vec<char> = old.chars().collect();
    let new_chars: Vec<char> = new.chars().collect();
    let diff = TextDiff::configure().algorithm(Algorithm::Myers).timeout(DIFF_DEADLINE).diff_chars(old, new);
    let utf16 = |cs: &[char]| cs.iter().map(|c| c.len_utf16() as u32).sum::<u32>();
    let mut pos = 0u32;
    for op in diff.ops() {
        match *op {
            DiffOp::Equal { old_index, len, .. } => pos += utf16(&old_chars[old_index..old_index + len]),
            DiffOp::Delete { old_index, old_len, .. } => {
                text.remove_range(txn, pos, utf16(&old_chars[old_index..old_index + old_len]));
            }
            DiffOp::Insert { new_index, new_len, .. } => {
                let chunk: String = new_chars[new_index..new_index + new_len].iter().collect();
                text.insert(txn, pos, &chunk);
                pos += utf16(&new_chars[new_index..new_index + new_len]);
            }
            DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                text.remove_range(txn, pos, utf16(&old_chars[old_index..old_index + old_len]));
                let chunk: String = new_chars[new_index..new_index + new_len].iter().collect();
                text.insert(txn, pos, &chunk);
                pos += utf16(&new_chars[new_index..new_index + new_len]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use yrs::{Doc, OffsetKind, Options};

    use super::*;

    fn replace(doc: &Doc, new: &str) -> String {
        let text = doc.get_or_insert_text(CONTENT);
        let mut txn = doc.transact_mut();
        let old = text.get_string(&txn);
        apply_diff(&text, &mut txn, &old, new);
        text.get_string(&txn)
    }

    #[test]
    fn diff_reaches_the_new_text_including_astral_characters() {
        let doc = Doc::with_options(Options { offset_kind: OffsetKind::Utf16, ..Options::default() });
        for step in ["", "hello", "héllo wörld", "🎉 héllo 🎉 wörld", "wörld 🎉", "# Title\n\n- [ ] 🎉\n", ""]
        {
            assert_eq!(replace(&doc, step), step);
        }
    }

    #[test]
    fn concurrent_edit_outside_the_changed_span_survives() {
        let opts = || Options { offset_kind: OffsetKind::Utf16, ..Options::default() };
        let server = Doc::with_options(opts());
        replace(&server, "alpha\nbeta\ngamma\n");
        let editor = Doc::with_options(opts());
        let sync = |from: &Doc, to: &Doc| {
            let update = from.transact().encode_state_as_update_v1(&to.transact().state_vector());
            to.transact_mut().apply_update(yrs::Update::decode_v1(&update).unwrap()).unwrap();
        };
        use yrs::updates::decoder::Decode;
        sync(&server, &editor);
        // The editor appends at the end while the API rewrites the first line.
        let etext = editor.get_or_insert_text(CONTENT);
        etext.insert(&mut editor.transact_mut(), 17, "delta\n");
        replace(&server, "ALPHA\nbeta\ngamma\n");
        sync(&editor, &server);
        sync(&server, &editor);
        let expect = "ALPHA\nbeta\ngamma\ndelta\n";
        assert_eq!(server.get_or_insert_text(CONTENT).get_string(&server.transact()), expect);
        assert_eq!(etext.get_string(&editor.transact()), expect);
    }
}
