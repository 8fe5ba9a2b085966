//! The room actor: the one owner of a live document's `yrs` Doc and Awareness.
//!
//! An update is applied, handed to the group-commit writer, and only once committed is it
//! broadcast (to every connection, the sender too). Replies that carry document state are
//! queued behind commits still in flight, so nobody ever receives an update that is not
//! durable. Frames are encoded once and pushed to each connection's bounded queue; a full
//! queue means the client is too slow and it is closed, never awaited.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt, ready};
use futures_util::stream::{FuturesOrdered, StreamExt};
use tandem_protocol::{self as proto, ClientMessage};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until};
use tracing::{debug, error, info, warn};
use yrs::sync::Awareness;
use yrs::{ClientID, ReadTxn, StateVector, Transact};

use super::handle::{Command, ConnSink, Outbound, RoomError, TextState, close_code};
use super::presence::Identity;
use super::registry::{Seats, Shared};
use crate::auth::Access;
use crate::bus::{NodeId, Payload, Subscription};
use crate::ids::{ConnId, DocId};
use crate::metrics as m;
use crate::store::StoreError;
use crate::store::writer::Committed;

pub(super) struct Conn {
    pub(super) sink: ConnSink,
    access: Access,
    pub(super) identity: Identity,
    /// Awareness client ids this connection owns; removed when it leaves.
    pub(super) clients: HashSet<ClientID>,
    /// Whether frames can still reach it. A connection whose outgoing side is gone (it
    /// closed, or read too slowly) stays in the room until its reader has handed over
    /// everything the client sent: that is still applied and made durable.
    writable: bool,
}

/// Work that must wait for the commits queued before it.
pub(super) enum Deferred {
    /// A local update: once committed, fan out and publish to peers (and answer the
    /// REST call that made it, if one did).
    Broadcast {
        update: Bytes,
        frame: Bytes,
        committed: Committed,
        ack: Option<tokio::sync::oneshot::Sender<TextState>>,
        /// The connection whose update this is, when it wants an acknowledgement.
        origin: Option<ConnId>,
    },
    /// A read of the text, answered once what it saw is durable.
    Reply {
        reply: tokio::sync::oneshot::Sender<TextState>,
        state: TextState,
    },
    /// Text for the search index, written once what it holds is durable.
    Index {
        text: String,
    },
    Send {
        conn: ConnId,
        frame: Outbound,
    },
    /// A sync reply to a peer, which must not carry uncommitted updates either.
    Publish {
        payload: Payload,
        target: NodeId,
    },
}

/// Why the actor stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Idle,
    Shutdown,
    StoreFailed,
    Evicted,
}

pub(crate) struct RoomActor {
    pub(super) doc_id: DocId,
    pub(super) actor_id: u64,
    pub(super) shared: Arc<Shared>,
    pub(super) awareness: Awareness,
    pub(super) conns: HashMap<ConnId, Conn>,
    /// Which connection owns each awareness client id (the inverse of `Conn::clients`).
    pub(super) owners: HashMap<ClientID, ConnId>,
    /// Client ids whose owner let go of them lately, and who that was, until when: only
    /// the same principal takes them back before then (a provider that reconnects keeps
    /// its id), so nobody can squat on a departed user's id.
    pub(super) released: HashMap<ClientID, (Identity, Instant)>,
    pub(super) in_flight: FuturesOrdered<BoxFuture<'static, Deferred>>,
    /// Log rows written since the last compaction (counting those found at load).
    pub(super) log_rows: u64,
    compacting: Arc<AtomicBool>,
    pub(super) store_failed: bool,
    /// yrs panicked on an update: the document may hold what no delta recorded, and is
    /// rebuilt from the store before anything else touches it.
    pub(super) damaged: bool,
    /// A peer's update skipped ahead of us: ask the peers for what we lack.
    pub(super) behind: bool,
    /// The sync step 2 frame holding the whole document, while it is unchanged.
    pub(super) full_state: Option<Bytes>,
    /// Whether the catalogue has a row for this document (then its plain text is kept
    /// up to date for search), and whether that text is behind the document.
    pub(super) catalogued: bool,
    /// Bytes of stored state at load plus every delta since: an upper bound of the
    /// document's encoded size (deletions are not subtracted until the next load).
    pub(super) state_bytes: usize,
    pub(super) text_dirty: bool,
    evicted: Option<tokio::sync::oneshot::Sender<()>>,
}

impl RoomActor {
    pub fn new(doc_id: DocId, actor_id: u64, shared: Arc<Shared>) -> Self {
        RoomActor {
            doc_id,
            actor_id,
            shared,
            awareness: Awareness::new(super::apply::room_doc()),
            conns: HashMap::new(),
            owners: HashMap::new(),
            released: HashMap::new(),
            in_flight: FuturesOrdered::new(),
            log_rows: 0,
            compacting: Arc::new(AtomicBool::new(false)),
            store_failed: false,
            damaged: false,
            behind: false,
            full_state: None,
            catalogued: false,
            state_bytes: 0,
            text_dirty: false,
            evicted: None,
        }
    }

    pub async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        // Subscribe first, then load: nothing published in between is missed.
        let opened: Result<_, String> = match self.shared.bus.subscribe(&self.doc_id, self.actor_id).await {
            Ok(sub) => self.load().await.map(|()| sub).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let mut sub = match opened {
            Ok(sub) => sub,
            Err(e) => {
                self.shared.bus.unsubscribe(&self.doc_id, self.actor_id).await;
                self.refuse(rx, &e).await;
                return;
            }
        };
        info!(doc = %self.doc_id, log_rows = self.log_rows, "room opened");
        let active = metrics::gauge!(m::ROOMS_ACTIVE);
        active.increment(1.0);
        self.ask_peers(None);
        self.maybe_compact();
        let stop = self.serve(&mut rx, &mut sub).await;
        self.shared.bus.unsubscribe(&self.doc_id, self.actor_id).await;
        self.close(rx, stop).await;
        active.decrement(1.0);
    }

    /// The document could not be opened: answer every queued join with an error.
    async fn refuse(self, mut rx: mpsc::Receiver<Command>, error: &str) {
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
        let mut idle_since: Option<Instant> = Some(Instant::now());
        loop {
            let idle_deadline = idle_since.map(|t| t + cfg.grace);
            tokio::select! {
                biased;
                Some(done) = self.in_flight.next(), if !self.in_flight.is_empty() => self.on_deferred(done),
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd).await,
                    None => return Stop::Idle,
                },
                Some(event) = sub.rx.recv() => self.on_bus(event),
                _ = sweep.tick() => self.sweep_awareness(),
                _ = anti_entropy.tick() => self.ask_peers(None),
                _ = index_text.tick(), if self.text_dirty => self.index_text(),
                _ = sleep_until(idle_deadline.unwrap_or_else(Instant::now)), if idle_deadline.is_some() => {
                    return Stop::Idle;
                }
                _ = shutdown.cancelled() => return Stop::Shutdown,
            }
            if sub.resync.swap(false, std::sync::atomic::Ordering::AcqRel) {
                self.resync().await;
            }
            // After anything that applied updates: nothing touches a document yrs
            // panicked on before it is rebuilt.
            if self.damaged {
                self.rebuild().await;
            }
            if std::mem::take(&mut self.behind) {
                self.ask_peers(None);
            }
            if self.store_failed {
                return Stop::StoreFailed;
            }
            if self.evicted.is_some() {
                return Stop::Evicted;
            }
            match (self.conns.is_empty(), idle_since) {
                (true, None) => idle_since = Some(Instant::now()),
                (false, Some(_)) => idle_since = None,
                _ => {}
            }
        }
    }

    /// Leaves the registry, finishes what is queued and in flight, closes every connection
    /// and (unless the store failed) folds the log into a snapshot.
    async fn close(mut self, mut rx: mpsc::Receiver<Command>, stop: Stop) {
        self.unregister();
        rx.close();
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Command::Join { reply, .. } => {
                    let _ = reply.send(Err(RoomError::Closing(self.doc_id.clone())));
                }
                other if !self.store_failed => self.on_command(other).await,
                _ => {}
            }
        }
        while !self.store_failed
            && let Some(done) = self.in_flight.next().await
        {
            self.on_deferred(done);
        }
        let (code, reason) = match (stop, self.store_failed) {
            (Stop::Evicted, _) => (close_code::FORBIDDEN, "document deleted"),
            (_, true) | (Stop::StoreFailed, _) => (close_code::INTERNAL_ERROR, "storage failure"),
            (Stop::Shutdown, _) => (close_code::SERVICE_RESTART, "server restarting"),
            (Stop::Idle, _) => (close_code::SERVICE_RESTART, "room closed"),
        };
        for conn in self.conns.values() {
            conn.sink.control.close(code, reason);
        }
        if let Some(evicted) = self.evicted.take() {
            info!(doc = %self.doc_id, "room evicted");
            let _ = evicted.send(());
            return;
        }
        if self.text_dirty && !self.store_failed {
            self.index_text();
        }
        if !self.store_failed && self.log_rows > 0 {
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

    async fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Join { access, identity, reply, .. } if let Some(limit) = self.full_for(access, &identity) => {
                metrics::counter!(m::LIMITED, "limit" => limit).increment(1);
                let _ = reply.send(Err(RoomError::Full(self.doc_id.clone())));
            }
            Command::Join { conn, sink, access, identity, reply } => {
                self.conns.insert(conn, Conn { sink, access, identity, clients: HashSet::new(), writable: true });
                let sv = self.awareness.doc().transact().state_vector();
                self.send(conn, proto::encode_sync_step1(&sv));
                if let Ok(update) = self.awareness.update()
                    && !update.clients.is_empty()
                {
                    self.send(conn, proto::encode_awareness(&update));
                }
                let _ = reply.send(Ok(()));
                debug!(doc = %self.doc_id, %conn, clients = self.conns.len(), "joined");
            }
            Command::Message { conn, msg, len } => self.on_message(conn, msg, len).await,
            Command::Leave { conn } => self.remove_conn(conn),
            Command::SetAccess { conn, access } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.access = access;
                }
            }
            Command::Text { reply } => self.read_text(reply),
            Command::StateVector { reply } => {
                let _ = reply.send(self.encoded_state_vector());
            }
            Command::Replace { text, reply } => self.replace_text(&text, reply).await,
            Command::Evict { reply } => self.evicted = Some(reply),
        }
    }

    /// Which limit a new connection would break, if any (the policy is
    /// [`super::registry::RoomConfig::refuses_seat`]).
    fn full_for(&self, access: Access, identity: &Identity) -> Option<&'static str> {
        let count = |same: &dyn Fn(&Identity) -> bool| self.conns.values().filter(|c| same(&c.identity)).count();
        let seats = match identity {
            Identity::User { id, .. } => {
                Seats::User(count(&|i| matches!(i, Identity::User { id: other, .. } if other == id)))
            }
            Identity::Guest { .. } => Seats::Links(count(&|i| matches!(i, Identity::Guest { .. }))),
            Identity::App { .. } => Seats::Uncounted,
        };
        self.shared.config.refuses_seat(self.conns.len(), access, seats)
    }

    async fn on_message(&mut self, conn: ConnId, msg: ClientMessage, len: usize) {
        // A connection refused meanwhile (bad input, lost access) has nothing more applied,
        // queued or not: one bad frame sent on many connections costs one refusal each.
        let Some(access) = self.conns.get(&conn).filter(|c| !c.sink.control.is_refused()).map(|c| c.access) else {
            return;
        };
        match msg {
            ClientMessage::SyncStep1(sv) => self.answer_sync_step1(conn, &sv),
            ClientMessage::SyncStep2(update) | ClientMessage::Update(update) => {
                if access == Access::Read {
                    if !update.is_empty() {
                        self.send(conn, Outbound::ReadOnly);
                    } else if self.conns.get(&conn).is_some_and(|c| c.sink.acks) {
                        // A read-only client's empty answer to our sync step 1 completes its sync.
                        self.send(conn, Outbound::Ack);
                    }
                    return;
                }
                if self.state_bytes + len > self.shared.config.max_state_bytes && !update.is_empty() {
                    metrics::counter!(m::LIMITED, "limit" => "document_size").increment(1);
                    warn!(doc = %self.doc_id, %conn, bytes = self.state_bytes, "document size limit reached");
                    if let Some(c) = self.conns.get(&conn) {
                        c.sink.control.close(close_code::TOO_BIG, "document size limit reached");
                    }
                    return;
                }
                self.apply_update(conn, update).await;
            }
            ClientMessage::Awareness(update) => self.on_awareness(conn, update),
            ClientMessage::QueryAwareness => {
                if let Ok(update) = self.awareness.update() {
                    self.send(conn, proto::encode_awareness(&update));
                }
            }
            ClientMessage::Auth | ClientMessage::Unknown(_) => {}
        }
    }

    fn answer_sync_step1(&mut self, conn: ConnId, sv: &StateVector) {
        let frame = if sv.is_empty() {
            // A client with nothing gets the whole document: encode it once for every
            // such joiner until the document changes (a join storm shares one buffer).
            // Never with yrs' pending structs (what waits on missing content): those are
            // not the document, and under a reused id they may differ from what it holds.
            let doc = self.awareness.doc();
            self.full_state
                .get_or_insert_with(|| {
                    let full = doc.transact().encode_diff_v1(&StateVector::default());
                    Bytes::from(proto::encode_sync_step2(&full))
                })
                .clone()
        } else {
            let diff = self.awareness.doc().transact().encode_diff_v1(sv);
            Bytes::from(proto::encode_sync_step2(&diff))
        };
        // The diff may hold updates not yet committed: send it after they are.
        self.send_after_commits(conn, frame.into());
    }

    /// Sends once the commits queued before it are done.
    pub(super) fn send_after_commits(&mut self, conn: ConnId, frame: Outbound) {
        if self.in_flight.is_empty() {
            self.send(conn, frame);
        } else {
            self.in_flight.push_back(ready(Deferred::Send { conn, frame }).boxed());
        }
    }

    /// Hands an integrated delta to the group-commit writer; it is broadcast (and `ack`
    /// answered) once committed.
    pub(super) async fn persist(
        &mut self,
        delta: Vec<u8>,
        ack: Option<tokio::sync::oneshot::Sender<TextState>>,
        origin: Option<ConnId>,
    ) {
        metrics::counter!(m::UPDATES_APPLIED).increment(1);
        let frame = Bytes::from(proto::encode_update(&delta));
        let update = Bytes::from(delta);
        let committed = self.shared.writer.append(self.doc_id.clone(), update.clone()).await;
        self.in_flight.push_back(
            async move {
                let committed = committed.await.unwrap_or_else(|_| Err(Arc::new(StoreError::WriterGone)));
                Deferred::Broadcast { update, frame, committed, ack, origin }
            }
            .boxed(),
        );
    }

    pub(super) fn on_deferred(&mut self, done: Deferred) {
        match done {
            Deferred::Broadcast { update, frame, committed: Ok(()), ack, origin } => {
                self.broadcast(frame);
                if let Some(conn) = origin {
                    self.send(conn, Outbound::Ack);
                }
                if let Some(ack) = ack {
                    let _ = ack.send(self.text_state());
                }
                self.shared.bus.publish(&self.doc_id, Payload::Update(update), None);
                self.log_rows += 1;
                self.maybe_compact();
            }
            Deferred::Broadcast { committed: Err(e), .. } => {
                // The Doc now holds an update the store does not: drop the room, let the
                // clients reconnect and resend what they have.
                error!(doc = %self.doc_id, error = %e, "update not durable; resetting room");
                self.store_failed = true;
            }
            Deferred::Send { conn, frame } => self.send(conn, frame),
            Deferred::Reply { reply, state } => {
                let _ = reply.send(state);
            }
            Deferred::Index { text } => self.write_index(text),
            Deferred::Publish { payload, target } => self.shared.bus.publish(&self.doc_id, payload, Some(target)),
        }
    }

    fn remove_conn(&mut self, conn: ConnId) {
        let Some(gone) = self.conns.get(&conn).map(|c| c.clients.iter().copied().collect::<Vec<ClientID>>()) else {
            return;
        };
        self.release_clients(Some(conn), &gone, true);
        self.conns.remove(&conn);
        debug!(doc = %self.doc_id, %conn, clients = self.conns.len(), "left");
        for id in &gone {
            self.awareness.remove_state(*id);
        }
        self.broadcast_awareness(gone, true);
    }

    /// Pushes one encoded frame to every connection; the slow ones are closed.
    pub(super) fn broadcast(&mut self, frame: Bytes) {
        let mut delivered = 0;
        let max_queued = self.shared.config.max_queued_bytes;
        for c in self.conns.values_mut().filter(|c| c.writable) {
            c.writable = c.sink.push(Outbound::Frame(frame.clone()), max_queued);
            delivered += u64::from(c.writable);
        }
        m::sent(&frame, delivered);
        metrics::counter!(m::FANOUT_DELIVERIES).increment(delivered);
    }

    fn send(&mut self, conn: ConnId, frame: impl Into<Outbound>) {
        let Some(c) = self.conns.get_mut(&conn).filter(|c| c.writable) else { return };
        let frame = frame.into();
        if let Outbound::Frame(bytes) = &frame {
            m::sent(bytes, 1);
        }
        c.writable = c.sink.push(frame, self.shared.config.max_queued_bytes);
    }

    fn maybe_compact(&mut self) {
        if self.log_rows < self.shared.config.compact_after || self.compacting.swap(true, Ordering::AcqRel) {
            return;
        }
        self.log_rows = 0;
        let (store, doc, flag) = (self.shared.store.clone(), self.doc_id.clone(), self.compacting.clone());
        self.shared.tracker.spawn(async move {
            match crate::store::compact_counted(store.as_ref(), &doc).await {
                Ok(c) => debug!(%doc, rows = c.rows, bytes = c.snapshot_bytes, "compacted"),
                Err(e) => warn!(%doc, error = %e, "compaction failed; log kept"),
            }
            flag.store(false, Ordering::Release);
        });
    }
}
