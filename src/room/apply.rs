//! Applying updates to the room's document: a client's (made durable, then fanned out),
//! a peer's or the store's (already durable), and the whole stored state when the room
//! opens.
//!
//! Two kinds of update never reach the document whole. One that skips ahead in a client's
//! clocks is refused before yrs sees it ([`proto::first_gap`] says why yrs cannot be
//! trusted with it). And a panic inside yrs (a client that reuses ids it already used can
//! cause one) is caught: the document may now hold part of an update that no delta
//! recorded, so the room stops using it, lets the commits in flight land and rebuilds it
//! from the store. A yrs bug costs the client that hit it its connection (1007), not
//! everyone their room.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use futures_util::StreamExt;
use tandem_protocol as proto;
use tracing::{error, warn};
use yrs::updates::decoder::Decode;
use yrs::{ClientID, Doc, OffsetKind, Options, ReadTxn, Transact, Update};

use super::actor::RoomActor;
use super::handle::{Outbound, close_code};
use crate::ids::ConnId;
use crate::metrics as m;
use crate::store::StoreError;

/// Why an update did not integrate (whole).
#[derive(Debug)]
pub(super) enum Refusal {
    /// It skips ahead in this client's clocks, to this clock.
    Gap(ClientID, u32),
    /// yrs refused it; what integrated of it before that is kept (and logged).
    Invalid(yrs::error::UpdateError),
    /// yrs panicked on it; the document is rebuilt from the store before its next use.
    Panicked,
}

impl Refusal {
    fn reason(&self) -> &'static str {
        match self {
            Refusal::Gap(..) => "gap",
            Refusal::Invalid(_) => "invalid",
            Refusal::Panicked => "panic",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Gap(client, clock) => write!(f, "update skips ahead in client {client}'s clocks (to {clock})"),
            Refusal::Invalid(e) => write!(f, "update failed to apply: {e}"),
            Refusal::Panicked => f.write_str("update could not be applied"),
        }
    }
}

/// A live document as every room holds one: text offsets in UTF-16 code units, as Yjs
/// counts them.
pub(super) fn room_doc() -> Doc {
    Doc::with_options(Options { offset_kind: OffsetKind::Utf16, ..Options::default() })
}

impl RoomActor {
    /// Applies an update; returns what actually integrated (V1), possibly nothing.
    pub(super) fn integrate(&mut self, update: Update) -> (Vec<u8>, Result<(), Refusal>) {
        let doc = self.awareness.doc();
        let applied = catch_unwind(AssertUnwindSafe(|| {
            let mut txn = doc.transact_mut();
            if let Some((client, clock)) = proto::first_gap(&update, &txn.state_vector()) {
                return (Update::EMPTY_V1.to_vec(), Err(Refusal::Gap(client, clock)));
            }
            let result = txn.apply_update(update).map_err(Refusal::Invalid);
            txn.commit();
            (txn.encode_update_v1(), result)
        }));
        let (delta, result) = applied.unwrap_or_else(|_| {
            error!(doc = %self.doc_id, "yrs panicked applying an update; rebuilding the document from the store");
            self.damaged = true;
            (Update::EMPTY_V1.to_vec(), Err(Refusal::Panicked))
        });
        if let Err(refusal) = &result {
            metrics::counter!(m::UPDATES_REFUSED, "reason" => refusal.reason()).increment(1);
        }
        if delta.as_slice() != Update::EMPTY_V1 {
            self.changed(delta.len());
        }
        (delta, result)
    }

    /// Applies a client's update (an edit, or its answer to our sync step 1; a connection
    /// that asks for acknowledgements gets one for each, once durable). A refused update
    /// closes its sender with 1007.
    pub(super) async fn apply_update(&mut self, conn: ConnId, update: Update) {
        let origin = self.conns.get(&conn).is_some_and(|c| c.sink.acks).then_some(conn);
        let (delta, result) = self.integrate(update);
        if let Err(refusal) = &result {
            warn!(doc = %self.doc_id, %conn, %refusal, "client update refused");
            if let Some(c) = self.conns.get(&conn) {
                let reason =
                    if matches!(refusal, Refusal::Gap(..)) { "update skips ahead" } else { "update failed to apply" };
                c.sink.control.close(close_code::INVALID_PAYLOAD, reason);
            }
        }
        // Whatever did integrate is persisted, even from a failed update: memory and
        // store never disagree.
        if delta.as_slice() == Update::EMPTY_V1 {
            // Nothing new (a duplicate): acknowledge it all the same, in order.
            if let (Some(conn), Ok(())) = (origin, result) {
                self.send_after_commits(conn, Outbound::Ack);
            }
            return;
        }
        self.persist(delta, None, origin).await;
    }

    /// Bookkeeping after a delta of `len` bytes integrated: the cached whole-document
    /// frame is stale, the searchable text is behind, the size bound grows.
    pub(super) fn changed(&mut self, len: usize) {
        self.full_state = None;
        self.text_dirty = self.catalogued;
        self.state_bytes += len;
    }

    /// Reads the document from the store into the (empty) live one. A stored update that
    /// does not decode or apply, or on which yrs panics, makes the document corrupt.
    pub(super) async fn load(&mut self) -> Result<(), StoreError> {
        let stored = self.shared.store.load_doc(&self.doc_id).await?;
        let doc = self.awareness.doc();
        // One transaction per part, as `store::merge_state` does (why: there).
        let applied = catch_unwind(AssertUnwindSafe(|| {
            stored
                .parts()
                .all(|part| Update::decode_v1(part).is_ok_and(|update| doc.transact_mut().apply_update(update).is_ok()))
        }));
        if !matches!(applied, Ok(true)) {
            return Err(StoreError::Corrupt(self.doc_id.clone()));
        }
        self.log_rows = stored.updates.len() as u64;
        self.state_bytes = stored.parts().map(<[u8]>::len).sum();
        self.catalogued = self.shared.store.is_document(&self.doc_id).await?;
        Ok(())
    }

    /// Replaces a document yrs panicked on with what the store holds, once every delta
    /// that integrated before the panic has landed there (connections and peers have seen
    /// exactly those). If the store cannot give it back, the room closes.
    pub(super) async fn rebuild(&mut self) {
        while let Some(done) = self.in_flight.next().await {
            self.on_deferred(done);
        }
        metrics::counter!(m::ROOM_RELOADS).increment(1);
        self.damaged = false;
        *self.awareness.doc_mut() = room_doc();
        self.full_state = None;
        match self.load().await {
            Ok(()) => self.text_dirty = self.catalogued,
            Err(e) => {
                error!(doc = %self.doc_id, error = %e, "document could not be rebuilt from the store; closing the room");
                self.store_failed = true;
            }
        }
    }
}
