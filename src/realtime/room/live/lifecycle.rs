//! A room's life: the stored document read in when it opens, rebuilt after yrs panicked
//! on an update, and what happens to its connections and its log when it stops.

use bytes::Bytes;
use tandem_protocol as proto;
use tracing::error;
use yrs::{Doc, ReadTxn, Transact};

use super::{Effect, Room, Stop};

/// How long a room waits after opening before it folds the long log it opened with.
pub(super) const COMPACT_AFTER_OPEN: std::time::Duration = std::time::Duration::from_secs(3);
use crate::metrics as m;
use crate::realtime::room::apply;
use crate::realtime::room::handle::close_code;
use crate::store::{StoreError, StoredDoc};

impl Room {
    /// Reads the stored document into the (empty) live one.
    pub fn load(&mut self, stored: &StoredDoc, catalogued: bool) -> Result<(), StoreError> {
        if !apply::load(self.awareness.doc(), stored) {
            return Err(StoreError::Corrupt(self.doc_id.clone()));
        }
        self.log_rows = stored.updates.len() as u64;
        self.state_bytes = stored.parts().map(<[u8]>::len).sum();
        self.catalogued = catalogued;
        self.full_state = whole_snapshot(stored, self.awareness.doc());
        Ok(())
    }

    /// The room is open: catch up with peers. A long log it opened with is folded a
    /// little later ([`Room::sweep`] after [`COMPACT_AFTER_OPEN`]), or at its next commit:
    /// folding reads and applies the whole document again, and done at once it took the
    /// core from the first joiner's sync.
    pub fn opened(&mut self) {
        self.ask_peers(None);
    }

    /// Folds a log that grew long (or that the room opened with), once the room has been
    /// open for [`COMPACT_AFTER_OPEN`].
    pub(super) fn compact_when_settled(&mut self, now: tokio::time::Instant) {
        if now.saturating_duration_since(self.epoch) >= COMPACT_AFTER_OPEN {
            self.maybe_compact();
        }
    }

    /// Replaces a document yrs panicked on with what the store holds (`loaded`: the stored
    /// document and whether it is catalogued), read once every delta that integrated
    /// before the panic landed there (connections and peers have seen exactly those). If
    /// the store cannot give it back, the room stops.
    pub fn reload(&mut self, loaded: Result<(StoredDoc, bool), StoreError>) {
        metrics::counter!(m::ROOM_RELOADS).increment(1);
        self.damaged = false;
        *self.awareness.doc_mut() = apply::room_doc();
        self.full_state = None;
        match loaded.and_then(|(stored, catalogued)| self.load(&stored, catalogued)) {
            Ok(()) => {
                self.text_dirty = self.catalogued;
                if std::mem::take(&mut self.behind) {
                    self.ask_peers(None);
                }
            }
            Err(e) => {
                error!(doc = %self.doc_id, error = %e, "document could not be rebuilt from the store; closing the room");
                self.fail();
            }
        }
    }

    /// The room stops: every connection is closed with a code that says why. Returns
    /// whether the log should be folded into a snapshot now.
    pub fn finish(&mut self, stop: Stop) -> bool {
        let (code, reason) = match (stop, self.failed) {
            (Stop::Evicted, _) => (close_code::FORBIDDEN, "document deleted"),
            (_, true) | (Stop::StoreFailed, _) => (close_code::INTERNAL_ERROR, "storage failure"),
            (Stop::Shutdown, _) => (close_code::SERVICE_RESTART, "server restarting"),
            (Stop::Idle, _) => (close_code::SERVICE_RESTART, "room closed"),
        };
        let closes = self.seats.keys().map(|&conn| Effect::Close { conn, code, reason });
        self.effects.extend(closes);
        if stop == Stop::Evicted {
            return false;
        }
        if self.text_dirty && !self.failed {
            self.index_text();
        }
        self.save_version();
        !self.failed && self.log_rows > 0
    }
}

/// The sync step 2 frame of a document stored as a snapshot alone: the snapshot is the
/// whole document, so the first joiner of a compacted document gets it without the
/// document being encoded again (a 10 MB document takes 25–35 ms to encode). Not when the
/// document waits on missing content: the snapshot would then carry what the document
/// does not hold. Like the frame a first joiner would otherwise have encoded, the room
/// keeps it until the document changes: a second copy of the document while the room is
/// open and unchanged, even if no joiner ever asks for it whole.
fn whole_snapshot(stored: &StoredDoc, doc: &Doc) -> Option<Bytes> {
    let snapshot = stored.snapshot.as_deref().filter(|_| stored.updates.is_empty())?;
    (!doc.transact().has_missing_updates()).then(|| Bytes::from(proto::encode_sync_step2(snapshot)))
}

#[cfg(test)]
mod tests {
    use tandem_protocol::ClientMessage;
    use tokio::time::Instant;
    use yrs::StateVector;

    use super::super::tests::{config, edit, second_edit_only};
    use super::*;
    use crate::identity::Principal;
    use crate::identity::tokens::Access;
    use crate::ids::{ConnId, DocId};
    use crate::realtime::room::RoomConfig;
    use crate::realtime::room::handle::Outbound;

    /// What a joiner with nothing gets for its sync step 1, from a room opened on `stored`.
    fn first_answer(stored: &StoredDoc) -> Vec<u8> {
        let mut room = Room::new(DocId::parse("doc").unwrap(), config(), false);
        room.load(stored, true).unwrap();
        let conn = ConnId::next();
        room.join(conn, Access::ReadWrite, Principal::App { subject: "a".into() }, false).unwrap();
        room.take_effects();
        room.message(conn, ClientMessage::SyncStep1(StateVector::default()), 16, Instant::now());
        let frames: Vec<Bytes> = room
            .take_effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Send(c, Outbound::Frame(f)) if c == conn => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(frames.len(), 1);
        frames[0].to_vec()
    }

    #[test]
    fn a_long_log_opened_with_is_folded_once_the_room_has_been_open_a_while() {
        let mut room = Room::new(DocId::parse("doc").unwrap(), RoomConfig { compact_after: 2, ..config() }, false);
        let stored = StoredDoc { snapshot: None, updates: vec![edit(3, "a"), edit(4, "b"), edit(5, "c")] };
        room.load(&stored, true).unwrap();
        room.opened();
        room.sweep(Instant::now());
        assert!(!room.take_effects().iter().any(|e| matches!(e, Effect::Compact)), "not while the first joiners sync");
        room.sweep(Instant::now() + COMPACT_AFTER_OPEN);
        assert!(room.take_effects().iter().any(|e| matches!(e, Effect::Compact)));
    }

    #[test]
    fn the_first_joiner_of_a_compacted_document_gets_its_snapshot_as_stored() {
        let snapshot = edit(3, "stored");
        let stored = StoredDoc { snapshot: Some(snapshot.clone()), updates: vec![] };
        // Kept as loaded (an encoding of one edit would give the same bytes, so the answer
        // alone cannot tell whether the snapshot was reused)…
        let mut room = Room::new(DocId::parse("doc").unwrap(), config(), false);
        room.load(&stored, true).unwrap();
        assert_eq!(room.full_state.as_deref(), Some(&proto::encode_sync_step2(&snapshot)[..]));
        // …and sent.
        assert_eq!(first_answer(&stored), proto::encode_sync_step2(&snapshot));
    }

    #[test]
    fn a_snapshot_with_a_log_after_it_or_waiting_on_missing_content_is_encoded_anew() {
        let with_log = StoredDoc { snapshot: Some(edit(3, "stored")), updates: vec![edit(4, "later")] };
        let answer = first_answer(&with_log);
        let (Ok(ClientMessage::SyncStep2(update)), Some(snapshot)) = (proto::decode(&answer), &with_log.snapshot)
        else {
            panic!("not a sync step 2")
        };
        assert_ne!(answer, proto::encode_sync_step2(snapshot));
        assert_eq!(update.state_vector().len(), 2, "the log's client is in the answer too");

        let pending = StoredDoc { snapshot: Some(second_edit_only()), updates: vec![] };
        let answer = first_answer(&pending);
        assert_ne!(answer, proto::encode_sync_step2(pending.snapshot.as_ref().unwrap()));
    }
}
