//! Applying updates to a room's document, without I/O: one update (a client's, a peer's
//! or the store's), and the whole stored state when the room opens. What the room does
//! with the outcome (persist, fan out, refuse) is [`super::live`]'s.
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

use tandem_protocol as proto;
use yrs::updates::decoder::Decode;
use yrs::{ClientID, Doc, OffsetKind, Options, ReadTxn, Transact, Update};

use crate::store::StoredDoc;

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
    pub(super) fn reason(&self) -> &'static str {
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

/// Applies an update; returns what actually integrated (V1), possibly nothing. `Err`
/// with [`Refusal::Panicked`] means the document may now hold what no delta recorded.
pub(super) fn integrate(doc: &Doc, update: Update) -> (Vec<u8>, Result<(), Refusal>) {
    let applied = catch_unwind(AssertUnwindSafe(|| {
        let mut txn = doc.transact_mut();
        if let Some((client, clock)) = proto::first_gap(&update, &txn.state_vector()) {
            return (Update::EMPTY_V1.to_vec(), Err(Refusal::Gap(client, clock)));
        }
        let result = txn.apply_update(update).map_err(Refusal::Invalid);
        txn.commit();
        (txn.encode_update_v1(), result)
    }));
    applied.unwrap_or_else(|_| (Update::EMPTY_V1.to_vec(), Err(Refusal::Panicked)))
}

/// Reads a stored document into the (empty) live one; `false` if a stored update does not
/// decode or apply, or yrs panics on it: the document is corrupt.
pub(super) fn load(doc: &Doc, stored: &StoredDoc) -> bool {
    // One transaction per part, as `store::merge_state` does (why: there).
    let applied = catch_unwind(AssertUnwindSafe(|| {
        stored
            .parts()
            .all(|part| Update::decode_v1(part).is_ok_and(|update| doc.transact_mut().apply_update(update).is_ok()))
    }));
    matches!(applied, Ok(true))
}
