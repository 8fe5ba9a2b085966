//! Newtype ids, so a document id is never confused with any other string or number.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest document (room) name accepted, in bytes.
pub const MAX_DOC_ID_LEN: usize = 256;

/// A document id: the room name a client joins (`/ws/{doc id}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId(Arc<str>);

impl DocId {
    /// Accepts any non-empty string of at most [`MAX_DOC_ID_LEN`] bytes.
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty() && s.len() <= MAX_DOC_ID_LEN).then(|| DocId(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One WebSocket connection, unique within this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

impl ConnId {
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ConnId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}
