//! Comment anchors: ranges of a document's text held as a pair of Yjs relative positions
//! (yrs `StickyIndex`, encoded as Yjs' `encodeRelativePosition` writes them), so a range
//! follows every edit made before or inside it, from any client. The start sticks to the
//! range's first character and the end to its last, so text typed just outside the range
//! stays outside. Plain functions of a document and its text, without I/O; the room runs
//! them on its `content`.
//!
//! Resolving many anchors costs one pass over the text: the visible items are listed
//! once with their UTF-16 offsets and each position is found in that list by its item id.
//! A position whose item was deleted (a shrunk or orphaned range) is walked to as yrs does,
//! and answered with fresh positions on text that is still there, for the caller to store:
//! each deletion costs one walk, not one per listing.

use std::collections::HashMap;

use yrs::encoding::read::{Cursor, Read};
use yrs::types::text::YChange;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{
    Assoc, ClientID, Doc, GetString, ID, IndexScope, IndexedSequence, Out, ReadTxn, Snapshot, StickyIndex, Text,
    TextRef, Transact, TransactionMut,
};

/// Longest encoded position accepted (an item id takes at most 20 bytes).
pub const MAX_ENCODED: usize = 64;
/// Longest quote kept, in characters; a longer range keeps its first ones.
pub const MAX_QUOTE_CHARS: usize = 500;

/// What a comment anchor is made from.
#[derive(Debug, Clone)]
pub enum AnchorAt {
    /// A range of the text, in UTF-16 code units.
    Range { index: u32, length: u32 },
    /// Relative positions a client encoded.
    Encoded { start: Vec<u8>, end: Vec<u8> },
}

/// A range made into a pair of positions, with the text it covers now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub start: Vec<u8>,
    pub end: Vec<u8>,
    pub quote: String,
    /// Where the range is now (UTF-16 code units).
    pub index: u32,
    pub length: u32,
}

/// Where a stored anchor is now, and fresh positions to store in place of its own when
/// one of them named deleted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub at: Resolved,
    /// (start, end), encoded: they resolve to `at` and follow edits from here on.
    pub moved: Option<(Vec<u8>, Vec<u8>)>,
}

/// Where an anchor's range is now, in UTF-16 code units of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub index: u32,
    pub length: u32,
    /// The range is empty now: its text was deleted.
    pub orphaned: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    #[error("the range ends at {end}, past the end of the text ({len} UTF-16 code units)")]
    PastEnd { end: u64, len: u32 },
    #[error("not an encoded relative position into the document's text")]
    Malformed,
    /// A well-formed position into text this document has not received (yet).
    #[error("the position names text this document does not hold")]
    Unknown,
}

/// The range `[index, index + length)` of the text (UTF-16 code units).
pub fn at(doc: &Doc, text: &TextRef, index: u32, length: u32) -> Result<Anchor, AnchorError> {
    let txn = doc.transact();
    let len = text.len(&txn);
    let end = u64::from(index) + u64::from(length);
    if end > u64::from(len) {
        return Err(AnchorError::PastEnd { end, len });
    }
    let end = end as u32;
    let start = text
        .sticky_index(&txn, index, Assoc::After)
        .unwrap_or_else(|| StickyIndex::from_type(&txn, text, Assoc::After));
    let stop = text
        .sticky_index(&txn, end, Assoc::Before)
        .unwrap_or_else(|| StickyIndex::from_type(&txn, text, Assoc::Before));
    Ok(Anchor { start: start.encode_v1(), end: stop.encode_v1(), quote: quote(text, &txn, index, end), index, length })
}

/// Positions a client encoded: checked to name `text`, with the text they cover now.
pub fn encoded(doc: &Doc, text: &TextRef, start: &[u8], end: &[u8]) -> Result<Anchor, AnchorError> {
    let (a, b) = (decode(start)?, decode(end)?);
    let txn = doc.transact();
    let (from, to) = (offset_in(text, &txn, &a)?, offset_in(text, &txn, &b)?);
    drop(txn);
    // Stored as positions the server makes at that range: never on deleted text (which
    // would cost a walk at every listing), equivalent to the client's.
    at(doc, text, from, to.max(from) - from)
}

/// A stored position: at most [`MAX_ENCODED`] bytes, naming an item (with a client id
/// Yjs can hold) or the text itself.
pub fn decode(bytes: &[u8]) -> Result<StickyIndex, AnchorError> {
    if bytes.is_empty() || bytes.len() > MAX_ENCODED {
        return Err(AnchorError::Malformed);
    }
    // yrs asserts (in debug builds) that a client id fits in 53 bits: check it first.
    let mut cursor = Cursor::new(bytes);
    let tag: u32 = cursor.read_var().map_err(|_| AnchorError::Malformed)?;
    if tag != 1 {
        let client: u64 = cursor.read_var().map_err(|_| AnchorError::Malformed)?;
        if client >= 1 << 53 {
            return Err(AnchorError::Malformed);
        }
    }
    let index = StickyIndex::decode_v1(bytes).map_err(|_| AnchorError::Malformed)?;
    match index.scope() {
        IndexScope::Relative(_) => Ok(index),
        // Whether the root is the text is checked against the document.
        IndexScope::Root(_) => Ok(index),
        IndexScope::Nested(_) => Err(AnchorError::Malformed),
    }
}

fn offset_in<T: ReadTxn>(text: &TextRef, txn: &T, index: &StickyIndex) -> Result<u32, AnchorError> {
    let offset = index.get_offset(txn).ok_or(AnchorError::Unknown)?;
    let ours = yrs::branch::BranchPtr::from(AsRef::<yrs::branch::Branch>::as_ref(text));
    if offset.branch != ours {
        return Err(AnchorError::Malformed);
    }
    Ok(offset.index)
}

/// The text in `[from, to)` (UTF-16), cut to [`MAX_QUOTE_CHARS`] characters.
fn quote<T: ReadTxn>(text: &TextRef, txn: &T, from: u32, to: u32) -> String {
    let all = text.get_string(txn);
    let mut units = 0u32;
    all.chars()
        .skip_while(|c| {
            let before = units;
            units += c.len_utf16() as u32;
            before < from
        })
        .scan(from, |pos, c| {
            let here = *pos;
            *pos += c.len_utf16() as u32;
            (here < to).then_some(c)
        })
        .take(MAX_QUOTE_CHARS)
        .collect()
}

/// Where each pair of stored positions is now. Pairs that do not decode resolve as
/// orphaned at 0.
pub fn resolve_all(doc: &Doc, text: &TextRef, anchors: &[(&[u8], &[u8])]) -> Vec<Resolution> {
    if anchors.is_empty() {
        return Vec::new();
    }
    // A write transaction only because yrs lists items with their ids through
    // `diff_range`; the snapshots split nothing (the current state, and the empty one) and
    // nothing is written.
    let mut txn = doc.transact_mut();
    let offsets = Offsets::of(text, &mut txn);
    // The index a stored position stands for, and whether it took a walk.
    let find = |bytes: &[u8]| -> (Option<u32>, bool) {
        let Ok(index) = decode(bytes) else { return (None, false) };
        match offsets.find(&index) {
            Some(at) => (Some(at), false),
            None => (offset_in(text, &txn, &index).ok(), true),
        }
    };
    anchors
        .iter()
        .map(|(start, end)| {
            let ((from, walked_from), (to, walked_to)) = (find(start), find(end));
            let at = match (from, to) {
                (Some(from), Some(to)) if to > from => Resolved { index: from, length: to - from, orphaned: false },
                (Some(from), _) => Resolved { index: from, length: 0, orphaned: true },
                (None, _) => Resolved { index: 0, length: 0, orphaned: true },
            };
            let moved = (from.is_some() && (walked_from || walked_to)).then(|| {
                let start = text.sticky_index(&txn, at.index, Assoc::After);
                let start = start.unwrap_or_else(|| StickyIndex::from_type(&txn, text, Assoc::After));
                let stop = text.sticky_index(&txn, at.index + at.length, Assoc::Before);
                let stop = stop.unwrap_or_else(|| StickyIndex::from_type(&txn, text, Assoc::Before));
                (start.encode_v1(), stop.encode_v1())
            });
            Resolution { at, moved }
        })
        .collect()
}

/// Every visible item of the text: per client, (first clock, length, UTF-16 offset),
/// sorted by clock.
struct Offsets(HashMap<ClientID, Vec<(u32, u32, u32)>>);

impl Offsets {
    fn of(text: &TextRef, txn: &mut TransactionMut) -> Self {
        let now = txn.snapshot();
        let chunks = text.diff_range(txn, Some(&now), Some(&Snapshot::default()), |c: YChange| c.id);
        let mut items: HashMap<ClientID, Vec<(u32, u32, u32)>> = HashMap::new();
        let mut offset = 0u32;
        for chunk in chunks {
            let len = match &chunk.insert {
                Out::Any(yrs::Any::String(s)) => s.encode_utf16().count() as u32,
                _ => 1,
            };
            if let Some(ID { client, clock }) = chunk.ychange {
                items.entry(client).or_default().push((clock, len, offset));
            }
            offset += len;
        }
        for list in items.values_mut() {
            list.sort_unstable_by_key(|(clock, _, _)| *clock);
        }
        Offsets(items)
    }

    /// The index a position stands for, if it names a visible item.
    fn find(&self, index: &StickyIndex) -> Option<u32> {
        let IndexScope::Relative(id) = index.scope() else { return None };
        let list = self.0.get(&id.client)?;
        let i = list.partition_point(|(clock, _, _)| *clock <= id.clock).checked_sub(1)?;
        let (clock, len, offset) = list[i];
        let within = id.clock - clock;
        (within < len).then(|| offset + within + u32::from(index.assoc == Assoc::Before))
    }
}

#[cfg(test)]
mod tests;
