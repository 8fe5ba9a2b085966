//! The room actor: the task that owns a live document's [`Room`] and performs what it
//! decides. It waits on commands, the bus, timers, the writer's commits and shutdown,
//! hands each input to the room and then performs the room's effects in order: frames
//! pushed to each connection's bounded queue (a full queue means the client is too slow
//! and it is closed, never awaited), deltas to the group-commit writer (whose outcomes go
//! back to the room in order), messages to the bus, text to the search index.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use futures_util::future::{BoxFuture, FutureExt, OptionFuture};
use futures_util::stream::{FuturesOrdered, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use super::handle::{Command, ConnSink, DocSnapshot, Outbound, RoomError, RoomHandle};
use super::live::{Effect, Room, Stop};
use super::seats::RoomConfig;
use crate::ids::{ConnId, DocId};
use crate::metrics as m;
use crate::realtime::bus::{Bus, BusEvent, Subscription};
use crate::store::versions::{NewVersion, VersionKind};
use crate::store::writer::{Committed, Writer};
use crate::store::{Store, StoreError, StoredDoc};
use crate::webhooks::UpdateDebounce;

/// What every room actor shares.
pub(crate) struct Shared {
    pub store: Arc<dyn Store>,
    pub bus: Arc<Bus>,
    pub writer: Writer,
    pub config: RoomConfig,
    /// Documents changed since webhooks last heard (`document.updated`, debounced).
    pub changes: Arc<UpdateDebounce>,
    pub rooms: DashMap<DocId, RoomHandle>,
    pub tracker: TaskTracker,
    pub shutdown: CancellationToken,
}

/// Where the actor writes one connection.
struct Sink {
    sink: ConnSink,
    /// Whether frames can still reach it. A connection whose outgoing side is gone (it
    /// closed, or read too slowly) stays in the room until its reader has handed over
    /// everything the client sent: that is still applied and made durable.
    writable: bool,
}

pub(crate) struct RoomActor {
    doc_id: DocId,
    actor_id: u64,
    shared: Arc<Shared>,
    room: Room,
    sinks: HashMap<ConnId, Sink>,
    /// The writer's outcomes, in the order the room asked for the commits.
    commits: FuturesOrdered<BoxFuture<'static, (u64, Committed)>>,
    compaction: Option<JoinHandle<()>>,
    stop: Option<Stop>,
    evicted: Option<oneshot::Sender<()>>,
    /// Where the room publishes whether its document is catalogued, once loaded.
    catalogued: Arc<OnceLock<bool>>,
}

impl RoomActor {
    pub fn new(doc_id: DocId, actor_id: u64, shared: Arc<Shared>, catalogued: Arc<OnceLock<bool>>) -> Self {
        let room = Room::new(doc_id.clone(), shared.config.clone(), shared.bus.distributed());
        RoomActor {
            doc_id,
            actor_id,
            shared,
            room,
            sinks: HashMap::new(),
            commits: FuturesOrdered::new(),
            compaction: None,
            stop: None,
            evicted: None,
            catalogued,
        }
    }

    /// Opens the room, serves it until it stops, and closes it. What runs once (opening,
    /// closing) is boxed, so the task a room holds while it lives is only as large as
    /// serving needs: rooms are many.
    #[expect(clippy::manual_async_fn, reason = "an async fn stores its argument twice: 768 more bytes per room")]
    pub fn run(mut self, mut rx: mpsc::Receiver<Command>) -> impl Future<Output = ()> + Send {
        async move {
            let mut sub = match Box::pin(self.open()).await {
                Ok(sub) => sub,
                Err(e) => return Box::pin(self.refuse(rx, &e)).await,
            };
            let active = metrics::gauge!(m::ROOMS_ACTIVE);
            active.increment(1.0);
            let stop = self.serve(&mut rx, &mut sub).await;
            drop(sub); // Nothing reads it any more; `close` unsubscribes.
            Box::pin(self.close(rx, stop)).await;
            active.decrement(1.0);
        }
    }

    /// Subscribes to the bus, then loads the document (nothing published in between is
    /// missed), timing the read and the apply.
    async fn open(&mut self) -> Result<Subscription, String> {
        let sub = self.shared.bus.subscribe(&self.doc_id, self.actor_id).await.map_err(|e| e.to_string())?;
        let started = Instant::now();
        let (stored, catalogued) = self.load().await.map_err(|e| e.to_string())?;
        let read = started.elapsed();
        self.room.load(&stored, catalogued).map_err(|e| e.to_string())?;
        let apply = started.elapsed() - read;
        let _ = self.catalogued.set(catalogued);
        metrics::histogram!(m::ROOM_LOAD_SECONDS, "stage" => "read").record(read.as_secs_f64());
        metrics::histogram!(m::ROOM_LOAD_SECONDS, "stage" => "apply").record(apply.as_secs_f64());
        debug!(doc = %self.doc_id, read_ms = read.as_millis() as u64, apply_ms = apply.as_millis() as u64, "document read");
        info!(doc = %self.doc_id, log_rows = self.room.log_rows(), "room opened");
        self.room.opened();
        self.perform().await;
        Ok(sub)
    }

    /// The stored document and whether the catalogue has a row for it.
    fn load(&self) -> impl Future<Output = Result<(StoredDoc, bool), StoreError>> + Send + use<> {
        let (store, doc) = (self.shared.store.clone(), self.doc_id.clone());
        async move {
            let stored = store.load_doc(&doc).await?;
            let catalogued = store.is_document(&doc).await?;
            Ok((stored, catalogued))
        }
    }

    /// The document could not be opened: answer every queued join with an error.
    async fn refuse(self, mut rx: mpsc::Receiver<Command>, error: &str) {
        self.shared.bus.unsubscribe(&self.doc_id, self.actor_id).await;
        error!(doc = %self.doc_id, %error, "room failed to load; refusing joins");
        self.unregister();
        rx.close();
        while let Some(cmd) = rx.recv().await {
            if let Command::Join { reply, .. } = cmd {
                let _ = reply.send(Err(RoomError::LoadFailed(self.doc_id.clone())));
            }
        }
    }

    async fn serve(&mut self, rx: &mut mpsc::Receiver<Command>, sub: &mut Subscription) -> Stop {
        let cfg = self.shared.config.clone();
        let shutdown = self.shared.shutdown.clone();
        let sweep_every = (cfg.awareness_timeout / 6).max(Duration::from_millis(100));
        let mut sweep = interval(sweep_every);
        sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut anti_entropy = interval(cfg.anti_entropy);
        anti_entropy.set_missed_tick_behavior(MissedTickBehavior::Delay);
        anti_entropy.reset();
        let mut index_text = interval(super::content::TEXT_INDEX_DELAY);
        index_text.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut version = interval(cfg.version_interval.max(Duration::from_secs(1)));
        version.set_missed_tick_behavior(MissedTickBehavior::Delay);
        version.reset();
        let mut idle_since: Option<Instant> = Some(Instant::now());
        loop {
            let idle_deadline = idle_since.map(|t| t + cfg.grace);
            tokio::select! {
                biased;
                Some((seq, committed)) = self.commits.next(), if !self.commits.is_empty() => {
                    self.room.committed(seq, committed);
                }
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd).await,
                    None => return Stop::Idle,
                },
                // A resync event comes with a flag, checked below.
                Some(event) = sub.recv() => if let BusEvent::Message(msg) = event {
                    self.room.peer(msg);
                },
                Some(_) = OptionFuture::from(self.compaction.as_mut()), if self.compaction.is_some() => {
                    self.compaction = None;
                    self.room.compacted();
                }
                _ = sweep.tick() => self.room.sweep(Instant::now()),
                _ = anti_entropy.tick() => self.room.ask_peers(None),
                _ = index_text.tick(), if self.room.text_dirty() => self.room.index_text(),
                _ = version.tick() => self.room.save_version(),
                _ = sleep_until(idle_deadline.unwrap_or_else(Instant::now)), if idle_deadline.is_some() => {
                    return Stop::Idle;
                }
                _ = shutdown.cancelled() => return Stop::Shutdown,
            }
            self.perform().await;
            if sub.resync.swap(false, std::sync::atomic::Ordering::AcqRel) {
                let stored = self.shared.store.load_doc(&self.doc_id).await;
                self.room.resync(stored);
                self.perform().await;
            }
            // After anything that applied updates: nothing touches a document yrs
            // panicked on before it is rebuilt.
            if self.room.damaged() {
                self.rebuild().await;
            }
            if let Some(stop) = self.stop.take() {
                return stop;
            }
            if self.evicted.is_some() {
                return Stop::Evicted;
            }
            match (self.room.is_empty(), idle_since) {
                (true, None) => idle_since = Some(Instant::now()),
                (false, Some(_)) => idle_since = None,
                _ => {}
            }
        }
    }

    /// Rebuilds a damaged document from the store, once every commit in flight landed.
    async fn rebuild(&mut self) {
        self.drain_commits().await;
        if self.room.failed() {
            return;
        }
        let loaded = self.load().await;
        self.room.reload(loaded);
        self.perform().await;
    }

    /// Waits for every commit in flight, reporting each to the room (unless it failed).
    async fn drain_commits(&mut self) {
        while !self.room.failed()
            && let Some((seq, committed)) = self.commits.next().await
        {
            self.room.committed(seq, committed);
            self.perform().await;
        }
    }

    /// Leaves the registry, finishes what is queued and in flight, closes every connection
    /// and (unless the store failed) folds the log into a snapshot.
    async fn close(mut self, mut rx: mpsc::Receiver<Command>, stop: Stop) {
        self.shared.bus.unsubscribe(&self.doc_id, self.actor_id).await;
        self.unregister();
        rx.close();
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Command::Join { reply, .. } => {
                    let _ = reply.send(Err(RoomError::Closing(self.doc_id.clone())));
                }
                other if !self.room.failed() => {
                    self.on_command(other).await;
                    self.perform().await;
                }
                _ => {}
            }
        }
        self.drain_commits().await;
        let compact = self.room.finish(stop);
        self.perform().await;
        if let Some(evicted) = self.evicted.take() {
            info!(doc = %self.doc_id, "room evicted");
            let _ = evicted.send(());
            return;
        }
        if compact {
            match crate::store::compact_counted(self.shared.store.as_ref(), &self.doc_id).await {
                Ok(c) => {
                    debug!(doc = %self.doc_id, rows = c.rows, bytes = c.snapshot_bytes, "compacted on close")
                }
                Err(e) => {
                    warn!(doc = %self.doc_id, error = %e, "compaction on close failed; log kept")
                }
            }
        }
        info!(doc = %self.doc_id, ?stop, "room closed");
    }

    fn unregister(&self) {
        self.shared.rooms.remove_if(&self.doc_id, |_, h| h.actor_id == self.actor_id);
    }

    /// Hands a command to the room; its effects are performed after.
    async fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Join { conn, sink, access, identity, reply } => {
                let joined = self.room.join(conn, access, identity, sink.acks);
                if joined.is_ok() {
                    self.sinks.insert(conn, Sink { sink, writable: true });
                }
                // Answered once what the join sends is queued.
                self.perform().await;
                let _ = reply.send(joined);
            }
            Command::Message { conn, msg, len } => {
                // Closed elsewhere for a reason that refuses its input (lost access, say):
                // nothing more is applied.
                if self.sinks.get(&conn).is_some_and(|s| s.sink.control.is_refused()) {
                    return;
                }
                self.room.message(conn, msg, len, Instant::now());
            }
            Command::Leave { conn } => {
                self.sinks.remove(&conn);
                self.room.leave(conn, Instant::now());
            }
            Command::SetAccess { conn, access } => self.room.set_access(conn, access),
            Command::Text { reply } => self.room.text(reply),
            Command::Anchor { at, reply } => self.room.anchor(at, reply),
            Command::Resolve { anchors, reply } => self.room.resolve(&anchors, reply),
            Command::StateVector { reply } => {
                let _ = reply.send(self.room.state_vector());
            }
            Command::Replace { text, by, reply } => self.room.replace(&text, by, reply),
            Command::Snapshot { reply } => self.room.snapshot(reply),
            Command::Evict { reply } => self.evicted = Some(reply),
        }
    }

    /// Performs the room's effects, in order.
    async fn perform(&mut self) {
        for effect in self.room.take_effects() {
            match effect {
                Effect::Send(conn, out) => self.send(conn, out),
                Effect::Broadcast(frame) => self.broadcast(frame),
                Effect::Close { conn, code, reason } => {
                    if let Some(s) = self.sinks.get(&conn) {
                        s.sink.control.close(code, reason);
                    }
                }
                Effect::Persist { seq, update, author } => {
                    let committed = self.shared.writer.append(self.doc_id.clone(), update, author).await;
                    let (changes, doc) = (self.shared.changes.clone(), self.doc_id.clone());
                    self.commits.push_back(
                        async move {
                            let committed = committed.await.unwrap_or_else(|_| Err(Arc::new(StoreError::WriterGone)));
                            if committed.is_ok() {
                                changes.touch(&doc);
                            }
                            (seq, committed)
                        }
                        .boxed(),
                    );
                }
                Effect::Publish { payload, target } => self.shared.bus.publish(&self.doc_id, payload, target),
                Effect::Reply { reply, state } => {
                    let _ = reply.send(state);
                }
                Effect::Answer(answer) => answer.send(),
                Effect::Index(text) => self.write_index(text),
                Effect::SaveVersion(snapshot) => self.save_version(snapshot),
                Effect::Compact => self.compact(),
                Effect::Stop(stop) => {
                    self.stop.get_or_insert(stop);
                }
            }
        }
    }

    fn send(&mut self, conn: ConnId, out: Outbound) {
        let Some(s) = self.sinks.get_mut(&conn).filter(|s| s.writable) else { return };
        if let Outbound::Frame(bytes) = &out {
            m::sent(bytes, 1);
        }
        s.writable = s.sink.push(out, self.shared.config.max_queued_bytes);
    }

    /// Pushes one encoded frame to every connection; the slow ones are closed.
    fn broadcast(&mut self, frame: Bytes) {
        let mut delivered = 0;
        let max_queued = self.shared.config.max_queued_bytes;
        for s in self.sinks.values_mut().filter(|s| s.writable) {
            s.writable = s.sink.push(Outbound::Frame(frame.clone()), max_queued);
            delivered += u64::from(s.writable);
        }
        m::sent(&frame, delivered);
        m::hot(|h| h.fanout_deliveries.increment(delivered));
    }

    /// Writes the plain text search reads, off the actor.
    fn write_index(&self, text: String) {
        let (store, doc) = (self.shared.store.clone(), self.doc_id.clone());
        self.shared.tracker.spawn(async move {
            let now = crate::store::catalog::now_ms();
            if let Err(e) = store.set_document_text(&doc, &text, now).await {
                warn!(%doc, error = %e, "indexing the document text failed");
            }
        });
    }

    /// Stores an automatic version (unless it equals the last one) and announces it.
    fn save_version(&self, snapshot: DocSnapshot) {
        let (store, bus, doc) = (self.shared.store.clone(), self.shared.bus.clone(), self.doc_id.clone());
        self.shared.tracker.spawn(async move {
            let new = NewVersion::new(&doc, VersionKind::Auto, None, None, &snapshot.state, &snapshot.text);
            match store.create_version(&new, crate::store::catalog::now_ms()).await {
                Ok(Some(created)) => bus.events_stored(&doc, created.event.seq),
                Ok(None) => debug!(%doc, "no new version: the text is as the last version left it"),
                Err(e) => warn!(%doc, error = %e, "saving a version failed"),
            }
        });
    }

    fn compact(&mut self) {
        let (store, doc) = (self.shared.store.clone(), self.doc_id.clone());
        self.compaction = Some(self.shared.tracker.spawn(async move {
            match crate::store::compact_counted(store.as_ref(), &doc).await {
                Ok(c) => debug!(%doc, rows = c.rows, bytes = c.snapshot_bytes, "compacted"),
                Err(e) => warn!(%doc, error = %e, "compaction failed; log kept"),
            }
        }));
    }
}
