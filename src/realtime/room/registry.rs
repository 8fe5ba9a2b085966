//! The registry of live rooms: a map from document id to the handle of its actor. It
//! starts an actor on first use, so concurrent first joins all land in one document.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::actor::{RoomActor, Shared};
use super::anchors::{Anchor, AnchorAt, AnchorError, Resolution};
use super::handle::{COMMAND_CAPACITY, Command, ConnSink, DocSnapshot, RoomError, RoomHandle, TextState};
use super::seats::RoomConfig;
use crate::identity::Principal;
use crate::identity::tokens::Access;
use crate::ids::{ConnId, DocId, UserId};
use crate::realtime::bus::Bus;
use crate::store::Store;
use crate::store::writer::Writer;
use crate::webhooks::UpdateDebounce;

/// Finds or starts the actor of a document. Cheap to clone.
#[derive(Clone)]
pub struct Rooms {
    shared: Arc<Shared>,
}

impl Rooms {
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<Bus>,
        config: RoomConfig,
        changes: Arc<UpdateDebounce>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        let writer = Writer::spawn(store.clone(), &tracker);
        let rooms = DashMap::new();
        Rooms { shared: Arc::new(Shared { store, bus, writer, config, changes, rooms, tracker, shutdown }) }
    }

    /// How many documents are live in memory on this node.
    pub fn live(&self) -> usize {
        self.shared.rooms.len()
    }

    /// Whether the document is in the catalogue, if its room is live here and has loaded:
    /// what the room read then, with no query.
    pub fn catalogued(&self, doc: &DocId) -> Option<bool> {
        self.shared.rooms.get(doc).and_then(|h| h.catalogued.get().copied())
    }

    /// Adds a connection to the document's room, starting the room if needed. Retries
    /// when it meets a room that is shutting down after its grace period.
    pub async fn join(
        &self,
        doc: &DocId,
        conn: ConnId,
        sink: ConnSink,
        access: Access,
        identity: Principal,
    ) -> Result<RoomHandle, RoomError> {
        for _ in 0..3 {
            let handle = self.handle(doc);
            match handle.join(conn, sink.clone(), access, identity.clone()).await {
                Ok(()) => return Ok(handle),
                Err(RoomError::Closing(_)) => {
                    self.shared.rooms.remove_if(doc, |_, h| h.actor_id == handle.actor_id);
                }
                Err(e) => return Err(e),
            }
        }
        Err(RoomError::Closing(doc.clone()))
    }

    /// Asks the document's room (starting it if needed) something it answers on a
    /// oneshot, retrying when the room it met was stopping.
    async fn ask<T>(&self, doc: &DocId, make: impl Fn(oneshot::Sender<T>) -> Command) -> Result<T, RoomError> {
        for _ in 0..3 {
            let handle = self.handle(doc);
            match handle.ask(&make).await {
                Some(answer) => return Ok(answer),
                None => {
                    self.shared.rooms.remove_if(doc, |_, h| h.actor_id == handle.actor_id);
                }
            }
        }
        Err(RoomError::Closing(doc.clone()))
    }

    /// The document's Markdown, read through its room.
    pub async fn text(&self, doc: &DocId) -> Result<TextState, RoomError> {
        self.ask(doc, |reply| Command::Text { reply }).await
    }

    /// The document's encoded state vector: equal vectors mean equal documents.
    pub async fn state_vector(&self, doc: &DocId) -> Result<Vec<u8>, RoomError> {
        self.ask(doc, |reply| Command::StateVector { reply }).await
    }

    /// Replaces the document's Markdown through its room; answers once it is durable.
    pub async fn replace_text(&self, doc: &DocId, text: &str, by: Option<&UserId>) -> Result<TextState, RoomError> {
        self.ask(doc, |reply| Command::Replace { text: text.to_owned(), by: by.cloned(), reply }).await
    }

    /// The document's whole state and Markdown, once durable.
    pub async fn snapshot(&self, doc: &DocId) -> Result<DocSnapshot, RoomError> {
        self.ask(doc, |reply| Command::Snapshot { reply }).await
    }

    /// Makes a comment anchor from the document's text as it is now.
    pub async fn anchor(&self, doc: &DocId, at: AnchorAt) -> Result<Result<Anchor, AnchorError>, RoomError> {
        self.ask(doc, |reply| Command::Anchor { at: at.clone(), reply }).await
    }

    /// Where stored anchors (start, end) of the document are now.
    pub async fn resolve(&self, doc: &DocId, anchors: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Vec<Resolution>, RoomError> {
        self.ask(doc, |reply| Command::Resolve { anchors: anchors.clone(), reply }).await
    }

    /// Closes a live room without writing anything more (its document is being deleted).
    pub async fn evict(&self, doc: &DocId) {
        let handle = self.shared.rooms.get(doc).map(|h| h.clone());
        if let Some(handle) = handle {
            handle.ask(|reply| Command::Evict { reply }).await;
        }
    }

    fn handle(&self, doc: &DocId) -> RoomHandle {
        if let Some(h) = self.shared.rooms.get(doc) {
            return h.clone();
        }
        self.shared
            .rooms
            .entry(doc.clone())
            .or_insert_with(|| {
                static NEXT_ACTOR: AtomicU64 = AtomicU64::new(1);
                let (tx, rx) = mpsc::channel(COMMAND_CAPACITY);
                let handle = RoomHandle {
                    doc: doc.clone(),
                    actor_id: NEXT_ACTOR.fetch_add(1, Ordering::Relaxed),
                    tx,
                    catalogued: Arc::default(),
                };
                let actor =
                    RoomActor::new(doc.clone(), handle.actor_id, self.shared.clone(), handle.catalogued.clone());
                self.shared.tracker.spawn(actor.run(rx));
                handle
            })
            .clone()
    }
}
