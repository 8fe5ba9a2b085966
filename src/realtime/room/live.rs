//! A live room's decisions, without I/O: the document and its awareness, who is connected
//! and what each may do, the caches, and the durability ordering. Every input (a join, a
//! client message, a commit's outcome, a peer's message, a tick) changes the state and
//! queues [`Effect`]s, which the actor ([`super::actor`]) performs in order.
//!
//! An update is applied and handed to the writer ([`Effect::Persist`]); only once the actor
//! reports its commit ([`Room::committed`]) is it broadcast (to every connection, the sender
//! too), acknowledged and published. Everything else that carries document state waits
//! behind the commits queued before it ([`super::durable`]), so nobody ever receives an
//! update that is not durable.

mod awareness;
mod lifecycle;
mod peers;
#[cfg(test)]
mod tests;
mod text;

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use tandem_protocol::{self as proto, ClientMessage};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, error, warn};
use yrs::sync::Awareness;
use yrs::{ClientID, ReadTxn, StateVector, Transact, Update};

use super::apply::{self, Refusal};
use super::durable::Commits;
use super::handle::DocSnapshot;
use super::handle::{Outbound, RoomError, TextState, close_code};
use super::seats::{RoomConfig, Seats};
use crate::identity::Principal;
use crate::identity::tokens::Access;
use crate::ids::{ConnId, DocId, UserId};
use crate::metrics as m;
use crate::realtime::bus::{NodeId, Payload};
use crate::store::writer::Committed;

/// What the room asks its actor to do, in order.
#[derive(Debug)]
pub(super) enum Effect {
    /// One message for one connection (dropped if it cannot take it).
    Send(ConnId, Outbound),
    /// One frame, encoded once, for every connection.
    Broadcast(Bytes),
    /// Closes a connection.
    Close { conn: ConnId, code: u16, reason: &'static str },
    /// Hands a delta to the group-commit writer; its outcome goes back to
    /// [`Room::committed`] under `seq`, outcomes in the order they were asked for.
    /// `author`: the user who wrote it, if a user did.
    Persist { seq: u64, update: Bytes, author: Option<UserId> },
    /// Stores an automatic version of what is now durable.
    SaveVersion(DocSnapshot),
    /// Publishes on the room's bus channel (to one node, or to all).
    Publish { payload: Payload, target: Option<NodeId> },
    /// Answers a REST caller.
    Reply { reply: oneshot::Sender<TextState>, state: TextState },
    /// Answers a REST caller with something else than the text.
    Answer(Answer),
    /// Writes the plain text search reads.
    Index(String),
    /// Folds the log into a snapshot, off the room; report the end to [`Room::compacted`].
    Compact,
    /// Stops the room.
    Stop(Stop),
}

/// An answer ready to send (a reply channel and its value, sent when performed).
pub(super) struct Answer(Box<dyn FnOnce() + Send>);

impl Answer {
    pub(super) fn new<T: Send + 'static>(reply: oneshot::Sender<T>, value: T) -> Self {
        Answer(Box::new(move || {
            let _ = reply.send(value);
        }))
    }

    pub(super) fn send(self) {
        (self.0)()
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Answer")
    }
}

/// Why a room stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    Idle,
    Shutdown,
    StoreFailed,
    Evicted,
}

/// A local update handed to the writer: what to do once it is committed.
#[derive(Debug)]
struct Pending {
    update: Bytes,
    frame: Bytes,
    /// The REST call that made it, answered once durable with the text as this update
    /// left it (not as it is when the commit lands: later updates may not be durable yet).
    ack: Option<(oneshot::Sender<TextState>, TextState)>,
    /// The connection whose update this is, when it wants an acknowledgement.
    origin: Option<ConnId>,
}

/// One connection, as the room sees it.
#[derive(Debug)]
struct Seat {
    access: Access,
    identity: Principal,
    /// Whether it wants each of its updates acknowledged once durable.
    acks: bool,
    /// Awareness client ids it owns; removed when it leaves.
    clients: HashSet<ClientID>,
    /// The room closed it for what it sent: nothing more it sends is applied.
    refused: bool,
}

/// The state of one live document and the rules it changes by.
pub(super) struct Room {
    doc_id: DocId,
    config: RoomConfig,
    /// Whether other nodes may hold the room too (then it exchanges state vectors).
    distributed: bool,
    awareness: Awareness,
    /// Zero of the awareness clock (the sweep compares against it).
    epoch: Instant,
    seats: HashMap<ConnId, Seat>,
    /// Which connection owns each awareness client id (the inverse of `Seat::clients`).
    owners: HashMap<ClientID, ConnId>,
    /// Client ids whose owner let go of them lately, and who that was, until when: only
    /// the same principal takes them back before then (a provider that reconnects keeps
    /// its id), so nobody can squat on a departed user's id.
    released: HashMap<ClientID, (Principal, Instant)>,
    commits: Commits<Pending, Effect>,
    /// Log rows written since the last compaction (counting those found at load).
    log_rows: u64,
    compacting: bool,
    failed: bool,
    /// yrs panicked on an update: the document may hold what no delta recorded, and is
    /// rebuilt from the store (once the commits in flight land) before anything else
    /// touches it.
    damaged: bool,
    /// A peer's update skipped ahead of us: ask the peers for what we lack.
    behind: bool,
    /// The sync step 2 frame holding the whole document, while it is unchanged.
    full_state: Option<Bytes>,
    /// Whether the catalogue has a row for this document (then its plain text is kept
    /// up to date for search), and whether that text is behind the document.
    catalogued: bool,
    text_dirty: bool,
    /// Bytes of stored state at load plus every delta since: an upper bound of the
    /// document's encoded size (deletions are not subtracted until the next load).
    state_bytes: usize,
    /// Edits made here since this room last saved a version.
    unversioned: bool,
    effects: Vec<Effect>,
}

impl Room {
    pub fn new(doc_id: DocId, config: RoomConfig, distributed: bool) -> Self {
        let epoch = Instant::now();
        let clock = move || Instant::now().saturating_duration_since(epoch).as_millis() as u64;
        Room {
            doc_id,
            config,
            distributed,
            awareness: Awareness::with_clock(apply::room_doc(), clock),
            epoch,
            seats: HashMap::new(),
            owners: HashMap::new(),
            released: HashMap::new(),
            commits: Commits::default(),
            log_rows: 0,
            compacting: false,
            failed: false,
            damaged: false,
            behind: false,
            full_state: None,
            catalogued: false,
            text_dirty: false,
            state_bytes: 0,
            unversioned: false,
            effects: Vec::new(),
        }
    }

    /// The effects queued so far, oldest first.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub fn log_rows(&self) -> u64 {
        self.log_rows
    }

    pub fn is_empty(&self) -> bool {
        self.seats.is_empty()
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Whether the document must be rebuilt ([`Room::reload`]) before its next use.
    pub fn damaged(&self) -> bool {
        self.damaged
    }

    /// Whether the searchable text is behind the document ([`Room::index_text`]).
    pub fn text_dirty(&self) -> bool {
        self.text_dirty
    }

    /// Seats a connection (then sends it our sync step 1 and everyone's presence), or says
    /// which limit refuses it.
    pub fn join(&mut self, conn: ConnId, access: Access, identity: Principal, acks: bool) -> Result<(), RoomError> {
        if let Some(limit) = self.full_for(access, &identity) {
            metrics::counter!(m::LIMITED, "limit" => limit).increment(1);
            return Err(RoomError::Full(self.doc_id.clone()));
        }
        self.seats.insert(conn, Seat { access, identity, acks, clients: HashSet::new(), refused: false });
        let sv = self.awareness.doc().transact().state_vector();
        self.send(conn, proto::encode_sync_step1(&sv));
        if let Ok(update) = self.awareness.update()
            && !update.clients.is_empty()
        {
            self.send(conn, proto::encode_awareness(&update));
        }
        debug!(doc = %self.doc_id, %conn, clients = self.seats.len(), "joined");
        Ok(())
    }

    /// Which limit a new connection would break, if any (the policy is
    /// [`RoomConfig::refuses_seat`]).
    fn full_for(&self, access: Access, identity: &Principal) -> Option<&'static str> {
        let count = |same: &dyn Fn(&Principal) -> bool| self.seats.values().filter(|s| same(&s.identity)).count();
        let seats = match identity {
            Principal::User { id, .. } => {
                Seats::User(count(&|i| matches!(i, Principal::User { id: other, .. } if other == id)))
            }
            Principal::Guest { .. } => Seats::Links(count(&|i| matches!(i, Principal::Guest { .. }))),
            Principal::App { .. } => Seats::Uncounted,
        };
        self.config.refuses_seat(self.seats.len(), access, seats)
    }

    /// A connection left: its presence goes with it.
    pub fn leave(&mut self, conn: ConnId, now: Instant) {
        let Some(gone) = self.seats.get(&conn).map(|s| s.clients.iter().copied().collect::<Vec<ClientID>>()) else {
            return;
        };
        self.release_clients(Some(conn), &gone, true, now);
        self.seats.remove(&conn);
        debug!(doc = %self.doc_id, %conn, clients = self.seats.len(), "left");
        for id in &gone {
            self.awareness.remove_state(*id);
        }
        self.broadcast_awareness(gone, true);
    }

    /// Changes what an open connection may do.
    pub fn set_access(&mut self, conn: ConnId, access: Access) {
        if let Some(s) = self.seats.get_mut(&conn) {
            s.access = access;
        }
    }

    /// A decoded client message, `len` bytes on the wire.
    pub fn message(&mut self, conn: ConnId, msg: ClientMessage, len: usize, now: Instant) {
        // A connection refused meanwhile (bad input) has nothing more applied, queued or
        // not: one bad frame sent on many connections costs one refusal each.
        let Some(seat) = self.seats.get(&conn).filter(|s| !s.refused && !self.failed) else { return };
        let (access, acks) = (seat.access, seat.acks);
        match msg {
            ClientMessage::SyncStep1(sv) => self.answer_sync_step1(conn, &sv),
            ClientMessage::SyncStep2(update) | ClientMessage::Update(update) => {
                if access == Access::Read {
                    if !update.is_empty() {
                        self.send(conn, Outbound::ReadOnly);
                    } else if acks {
                        // A read-only client's empty answer to our sync step 1 completes its sync.
                        self.send(conn, Outbound::Ack);
                    }
                    return;
                }
                if self.state_bytes + len > self.config.max_state_bytes && !update.is_empty() {
                    metrics::counter!(m::LIMITED, "limit" => "document_size").increment(1);
                    warn!(doc = %self.doc_id, %conn, bytes = self.state_bytes, "document size limit reached");
                    self.close(conn, close_code::TOO_BIG, "document size limit reached");
                    return;
                }
                self.apply_update(conn, update, acks);
            }
            ClientMessage::Awareness(update) => self.on_awareness(conn, update, now),
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
        self.after_commits(Effect::Send(conn, frame.into()));
    }

    /// Applies a client's update (an edit, or its answer to our sync step 1; a connection
    /// that asks for acknowledgements gets one for each, once durable). A refused update
    /// closes its sender with 1007.
    fn apply_update(&mut self, conn: ConnId, update: Update, acks: bool) {
        let origin = acks.then_some(conn);
        let (delta, result) = self.integrate(update);
        if let Err(refusal) = &result {
            warn!(doc = %self.doc_id, %conn, %refusal, "client update refused");
            let reason =
                if matches!(refusal, Refusal::Gap(..)) { "update skips ahead" } else { "update failed to apply" };
            self.close(conn, close_code::INVALID_PAYLOAD, reason);
        }
        // Whatever did integrate is persisted, even from a failed update: memory and
        // store never disagree.
        if delta.as_slice() == Update::EMPTY_V1 {
            // Nothing new (a duplicate): acknowledge it all the same, in order.
            if let (Some(conn), Ok(())) = (origin, result) {
                self.after_commits(Effect::Send(conn, Outbound::Ack));
            }
            return;
        }
        let author = self.seats.get(&conn).and_then(|s| match &s.identity {
            Principal::User { id, .. } => Some(UserId::new(id.clone())),
            _ => None,
        });
        self.persist(delta, None, origin, author);
    }

    /// Applies an update to the document; returns what integrated (V1), possibly nothing.
    fn integrate(&mut self, update: Update) -> (Vec<u8>, Result<(), Refusal>) {
        let (delta, result) = apply::integrate(self.awareness.doc(), update);
        if let Err(refusal) = &result {
            if matches!(refusal, Refusal::Panicked) {
                error!(doc = %self.doc_id, "yrs panicked applying an update; rebuilding the document from the store");
                self.damaged = true;
            }
            metrics::counter!(m::UPDATES_REFUSED, "reason" => refusal.reason()).increment(1);
        }
        if delta.as_slice() != Update::EMPTY_V1 {
            self.changed(delta.len());
        }
        (delta, result)
    }

    /// Bookkeeping after a delta of `len` bytes integrated: the cached whole-document
    /// frame is stale, the searchable text is behind, the size bound grows.
    fn changed(&mut self, len: usize) {
        self.full_state = None;
        self.text_dirty = self.catalogued;
        self.state_bytes += len;
    }

    /// Hands an integrated delta to the writer; it is broadcast (and `ack` answered) once
    /// committed.
    fn persist(
        &mut self,
        delta: Vec<u8>,
        ack: Option<(oneshot::Sender<TextState>, TextState)>,
        origin: Option<ConnId>,
        author: Option<UserId>,
    ) {
        m::hot(|h| h.updates_applied.increment(1));
        self.unversioned = true;
        let frame = Bytes::from(proto::encode_update(&delta));
        let update = Bytes::from(delta);
        let seq = self.commits.commit(Pending { update: update.clone(), frame, ack, origin });
        self.effects.push(Effect::Persist { seq, update, author });
    }

    /// Queues `effect` now, or once the commits queued before it have landed.
    fn after_commits(&mut self, effect: Effect) {
        if let Some(effect) = self.commits.hold(effect) {
            self.effects.push(effect);
        }
    }

    /// The outcome of the commit `seq`, reported in the order the commits were asked for.
    pub fn committed(&mut self, seq: u64, committed: Committed) {
        if self.failed {
            return;
        }
        let Some(landed) = self.commits.landed(seq) else {
            error!(doc = %self.doc_id, seq, "commit reported out of order; ignored");
            return;
        };
        if let Err(e) = committed {
            // The Doc now holds an update the store does not: drop the room, let the
            // clients reconnect and resend what they have.
            error!(doc = %self.doc_id, error = %e, "update not durable; resetting room");
            self.fail();
            return;
        }
        let Pending { update, frame, ack, origin } = landed.commit;
        self.effects.push(Effect::Broadcast(frame));
        if let Some(conn) = origin {
            self.send(conn, Outbound::Ack);
        }
        if let Some((reply, state)) = ack {
            self.effects.push(Effect::Reply { reply, state });
        }
        self.effects.push(Effect::Publish { payload: Payload::Update(update), target: None });
        self.log_rows += 1;
        self.maybe_compact();
        self.effects.extend(landed.released);
    }

    /// The store failed the room: nothing more goes out, and the room stops.
    fn fail(&mut self) {
        self.failed = true;
        self.commits.fail();
        self.effects.push(Effect::Stop(Stop::StoreFailed));
    }

    fn maybe_compact(&mut self) {
        if self.log_rows < self.config.compact_after || self.compacting {
            return;
        }
        self.compacting = true;
        self.log_rows = 0;
        self.effects.push(Effect::Compact);
    }

    /// A compaction asked for by [`Effect::Compact`] ended (either way).
    pub fn compacted(&mut self) {
        self.compacting = false;
    }

    fn send(&mut self, conn: ConnId, out: impl Into<Outbound>) {
        self.effects.push(Effect::Send(conn, out.into()));
    }

    fn broadcast(&mut self, frame: Bytes) {
        self.effects.push(Effect::Broadcast(frame));
    }

    /// Closes a connection; unless the close is about its outgoing side, nothing more it
    /// sends is applied.
    fn close(&mut self, conn: ConnId, code: u16, reason: &'static str) {
        if let Some(seat) = self.seats.get_mut(&conn) {
            seat.refused |= !close_code::keeps_input(code);
            self.effects.push(Effect::Close { conn, code, reason });
        }
    }
}
