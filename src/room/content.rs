//! What the REST API asks of a live document: its Markdown (the `Y.Text` named
//! [`CONTENT`]) and its replacement, applied as a minimal character diff so editors in the
//! room see the change live and keep everything they typed outside the changed spans.
//! Also keeps the catalogue's plain-text copy, which search reads, a few seconds behind.

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::ready;
use similar::{Algorithm, DiffOp, TextDiff};
use tokio::sync::oneshot;
use tracing::warn;
use yrs::updates::encoder::Encode;
use yrs::{GetString, ReadTxn, Text, TextRef, Transact, TransactionMut, Update};

use super::actor::{Deferred, RoomActor};
use super::handle::TextState;

/// The root type holding a document's Markdown.
pub const CONTENT: &str = "content";
/// How far behind the document the searchable text may fall.
pub(crate) const TEXT_INDEX_DELAY: Duration = Duration::from_secs(2);
/// Longest a diff may search for a minimal answer before settling for a coarser one.
const DIFF_DEADLINE: Duration = Duration::from_millis(500);

impl RoomActor {
    pub(super) fn encoded_state_vector(&self) -> Vec<u8> {
        self.awareness.doc().transact().state_vector().encode_v1()
    }

    pub(super) fn text_state(&self) -> TextState {
        let doc = self.awareness.doc();
        let text = doc.get_or_insert_text(CONTENT);
        let txn = doc.transact();
        TextState { text: text.get_string(&txn), state_vector: txn.state_vector().encode_v1() }
    }

    /// Answers with the text as it is now, after the commits it may include.
    pub(super) fn read_text(&mut self, reply: oneshot::Sender<TextState>) {
        let state = self.text_state();
        if self.in_flight.is_empty() {
            let _ = reply.send(state);
        } else {
            self.in_flight.push_back(ready(Deferred::Reply { reply, state }).boxed());
        }
    }

    pub(super) async fn replace_text(&mut self, new: &str, reply: oneshot::Sender<TextState>) {
        let delta = {
            let doc = self.awareness.doc();
            let text = doc.get_or_insert_text(CONTENT);
            let mut txn = doc.transact_mut();
            let old = text.get_string(&txn);
            apply_diff(&text, &mut txn, &old, new);
            txn.commit();
            txn.encode_update_v1()
        };
        if delta.as_slice() == Update::EMPTY_V1 {
            self.read_text(reply);
            return;
        }
        self.changed(delta.len());
        self.persist(delta, Some(reply), None).await;
    }

    /// Writes the plain text search reads, once the commits it includes are done (search
    /// never shows text that is not durable), off the actor.
    pub(super) fn index_text(&mut self) {
        self.text_dirty = false;
        let doc = self.awareness.doc();
        let text = doc.get_or_insert_text(CONTENT).get_string(&doc.transact());
        if self.in_flight.is_empty() {
            self.write_index(text);
        } else {
            self.in_flight.push_back(ready(Deferred::Index { text }).boxed());
        }
    }

    pub(super) fn write_index(&self, text: String) {
        let (store, doc) = (self.shared.store.clone(), self.doc_id.clone());
        self.shared.tracker.spawn(async move {
            let now = crate::store::catalog::now_ms();
            if let Err(e) = store.set_document_text(&doc, &text, now).await {
                warn!(%doc, error = %e, "indexing the document text failed");
            }
        });
    }
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
