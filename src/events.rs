//! Each document's stored events (comments created, edited, resolved, deleted; versions
//! saved) as open clients hear them: Server-Sent Events streams and Hocuspocus
//! connections. The store writes an event in the transaction of the change it announces;
//! once that commits, whoever made the change (an API handler, or a room saving a version)
//! tells the bus ([`Bus::events_stored`]), which tells every node. A node keeps one notice channel per
//! document someone listens to, and each listener reads what it has not sent yet from the
//! store: events are never shown before they are durable, a notice lost on the way is
//! made up by the next one (or by the catch-up every bus gap triggers), and a client that
//! reconnects with the last number it saw gets what it missed.

use std::sync::Arc;

use dashmap::DashMap;
use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;

use crate::ids::{CommentId, DocId, VersionId};
use crate::realtime::bus::{Bus, EventNotice};
use crate::store::comments::{DocEvent, EVENTS_KEPT};
use crate::store::{Store, StoreError};

/// Notices queued for one document's listeners before they count as lagged (and catch
/// up from the store anyway).
const FEED_QUEUE: usize = 64;
/// Events read from the store at a time.
const PAGE: u32 = 256;
/// Streams one caller (a user, a link, an address) may hold open at once.
pub const MAX_STREAMS_PER_CALLER: usize = 16;

/// One stored event as clients receive it (the `data` of a Server-Sent Event, and the
/// payload of a Hocuspocus stateless message).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    /// `comment.created`, `comment.updated`, `comment.deleted` or `version.created`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The event's number in the document's stream (the SSE id).
    pub id: u64,
    pub document_id: DocId,
    pub thread_id: Option<CommentId>,
    pub comment_id: Option<CommentId>,
    pub version_id: Option<VersionId>,
    pub at: i64,
}

impl From<&DocEvent> for EventView {
    fn from(e: &DocEvent) -> Self {
        EventView {
            kind: e.kind.as_str(),
            id: e.seq,
            document_id: e.document_id.clone(),
            thread_id: e.thread_id.clone(),
            comment_id: e.comment_id.clone(),
            version_id: e.version_id.clone(),
            at: e.created_at,
        }
    }
}

/// The documents listened to on this node, and how many streams each caller holds.
pub struct Feeds {
    store: Arc<dyn Store>,
    /// Per document listened to: a wake-up when it may have new events.
    docs: DashMap<DocId, broadcast::Sender<()>>,
    /// Open streams per caller.
    open: DashMap<String, usize>,
}

impl Feeds {
    /// Starts dispatching the bus's notices to the documents listened to here.
    pub fn start(store: Arc<dyn Store>, bus: &Bus) -> Arc<Feeds> {
        let feeds = Arc::new(Feeds { store, docs: DashMap::new(), open: DashMap::new() });
        tokio::spawn(dispatch(Arc::downgrade(&feeds), bus.event_notices()));
        feeds
    }

    /// Listens to a document's events after `after` (`None`: from now on).
    pub async fn listen(self: &Arc<Self>, doc: &DocId, after: Option<u64>) -> Result<Listener, StoreError> {
        let wake = self.docs.entry(doc.clone()).or_insert_with(|| broadcast::Sender::new(FEED_QUEUE)).subscribe();
        // Made before the store is asked, so its drop cleans up on every way out.
        let mut listener = Listener { feeds: self.clone(), doc: doc.clone(), wake: Some(wake), sent: 0, missed: false };
        let (last, oldest) = self.store.event_bounds(doc).await?;
        (listener.sent, listener.missed) = match after {
            None => (last, false),
            // Asked from past the end (another database, say): from now on.
            Some(n) if n > last => (last, true),
            // Some of what was asked for is gone.
            Some(n) => (n, n + 1 < oldest),
        };
        Ok(listener)
    }

    /// Holds one of a caller's open streams; `None` past [`MAX_STREAMS_PER_CALLER`].
    pub fn hold(self: &Arc<Self>, caller: String) -> Option<StreamSlot> {
        let mut n = self.open.entry(caller.clone()).or_insert(0);
        if *n >= MAX_STREAMS_PER_CALLER {
            return None;
        }
        *n += 1;
        Some(StreamSlot { feeds: self.clone(), caller })
    }
}

async fn dispatch(feeds: std::sync::Weak<Feeds>, mut notices: broadcast::Receiver<EventNotice>) {
    loop {
        let notice = notices.recv().await;
        let Some(feeds) = feeds.upgrade() else { return };
        match notice {
            Ok(EventNotice::Stored { doc, .. }) => {
                if let Some(wake) = feeds.docs.get(&doc) {
                    let _ = wake.send(());
                }
            }
            Ok(EventNotice::Gap) | Err(broadcast::error::RecvError::Lagged(_)) => {
                for wake in feeds.docs.iter() {
                    let _ = wake.send(());
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// One open stream of a caller; dropping it frees the slot.
pub struct StreamSlot {
    feeds: Arc<Feeds>,
    caller: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Some(mut n) = self.feeds.open.get_mut(&self.caller) {
            *n = n.saturating_sub(1);
        }
        self.feeds.open.remove_if(&self.caller, |_, n| *n == 0);
    }
}

/// One listener of a document's events.
pub struct Listener {
    feeds: Arc<Feeds>,
    doc: DocId,
    wake: Option<broadcast::Receiver<()>>,
    /// The last event number handed out.
    sent: u64,
    /// Events asked for were no longer kept (more than [`EVENTS_KEPT`] ago).
    missed: bool,
}

impl Listener {
    /// Whether events asked for were already dropped: the client must reload what it
    /// shows instead of applying events.
    pub fn take_missed(&mut self) -> bool {
        std::mem::take(&mut self.missed)
    }

    /// The events stored since the last call, waiting for some if there are none.
    pub async fn next(&mut self) -> Result<Vec<DocEvent>, StoreError> {
        loop {
            let events = self.feeds.store.events_after(&self.doc, self.sent, PAGE).await?;
            if let Some(last) = events.last() {
                self.sent = last.seq;
                return Ok(events);
            }
            let Some(wake) = self.wake.as_mut() else { return std::future::pending().await };
            match wake.recv().await {
                Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        drop(self.wake.take());
        self.feeds.docs.remove_if(&self.doc, |_, wake| wake.receiver_count() == 0);
    }
}

// A page of events never spans more than the store keeps.
const _: () = assert!(EVENTS_KEPT > PAGE as i64);
