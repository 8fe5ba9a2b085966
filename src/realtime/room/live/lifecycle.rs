//! A room's life: the stored document read in when it opens, rebuilt after yrs panicked
//! on an update, and what happens to its connections and its log when it stops.

use tracing::error;

use super::{Effect, Room, Stop};
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
        Ok(())
    }

    /// The room is open: catch up with peers, fold a long log.
    pub fn opened(&mut self) {
        self.ask_peers(None);
        self.maybe_compact();
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
