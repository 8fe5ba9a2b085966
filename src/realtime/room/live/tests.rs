//! The room's transitions, with no store, bus or socket: inputs in, effects out, time
//! injected.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tandem_protocol::ClientMessage;
use tokio::sync::oneshot;
use tokio::time::Instant;
use yrs::sync::awareness::{AwarenessUpdate, AwarenessUpdateEntry};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, ReadTxn, StateVector, Text, Transact, Update};

use super::{Effect, Room, Stop};
use crate::identity::Principal;
use crate::identity::tokens::Access;
use crate::ids::{ConnId, DocId};
use crate::realtime::bus::{BusMessage, NodeId, Payload};
use crate::realtime::room::RoomConfig;
use crate::realtime::room::content::CONTENT;
use crate::realtime::room::handle::{Outbound, TextState, close_code};
use crate::store::{StoreError, StoredDoc};

pub(super) fn config() -> RoomConfig {
    RoomConfig {
        grace: Duration::from_secs(1),
        awareness_timeout: Duration::from_secs(30),
        compact_after: 1000,
        anti_entropy: Duration::from_secs(10),
        max_connections: 10,
        max_connections_per_user: 5,
        max_queued_bytes: 1 << 20,
        max_state_bytes: 1 << 20,
        version_interval: Duration::from_secs(600),
        version_retention: Default::default(),
    }
}

fn user(id: &str) -> Principal {
    Principal::User { id: id.into(), name: id.into() }
}

/// A room and readable names for its connections.
struct Fixture {
    room: Room,
    names: HashMap<ConnId, &'static str>,
}

impl Fixture {
    fn new(config: RoomConfig) -> Self {
        Self::on_nodes(config, false)
    }

    /// A room that other nodes may hold too.
    fn on_nodes(config: RoomConfig, distributed: bool) -> Self {
        let mut room = Room::new(DocId::parse("doc").unwrap(), config, distributed);
        room.load(&StoredDoc::default(), true).unwrap();
        room.opened();
        room.take_effects();
        Fixture { room, names: HashMap::new() }
    }

    fn join(&mut self, name: &'static str, access: Access, identity: Principal, acks: bool) -> ConnId {
        let conn = ConnId::next();
        self.room.join(conn, access, identity, acks).unwrap();
        self.names.insert(conn, name);
        self.take();
        conn
    }

    fn send(&mut self, conn: ConnId, msg: ClientMessage) {
        self.room.message(conn, msg, 16, Instant::now());
    }

    /// The effects queued since the last call, described.
    fn take(&mut self) -> Vec<String> {
        self.room.take_effects().iter().map(|e| self.describe(e)).collect()
    }

    /// The effects queued since the last call, with the sequence number of each persist.
    fn take_persists(&mut self) -> (Vec<String>, Vec<u64>) {
        let effects = self.room.take_effects();
        let seqs = effects.iter().filter_map(|e| if let Effect::Persist { seq, .. } = e { Some(*seq) } else { None });
        (effects.iter().map(|e| self.describe(e)).collect(), seqs.collect())
    }

    fn describe(&self, effect: &Effect) -> String {
        let frame = |bytes: &[u8]| match bytes {
            [0, 0, ..] => "step1",
            [0, 1, ..] => "step2",
            [0, 2, ..] => "update",
            [1, ..] => "awareness",
            _ => "frame",
        };
        let name = |conn: &ConnId| self.names.get(conn).copied().unwrap_or("?");
        match effect {
            Effect::Send(conn, Outbound::Frame(bytes)) => format!("{} <- {}", name(conn), frame(bytes)),
            Effect::Send(conn, Outbound::Ack) => format!("{} <- ack", name(conn)),
            Effect::Send(conn, Outbound::ReadOnly) => format!("{} <- read-only", name(conn)),
            Effect::Broadcast(bytes) => format!("all <- {}", frame(bytes)),
            Effect::Close { conn, code, .. } => format!("close {} {code}", name(conn)),
            Effect::Persist { .. } => "persist".into(),
            Effect::Publish { payload, target } => {
                let to = if target.is_some() { " to one" } else { "" };
                let what = format!("{payload:?}");
                format!("publish {}{to}", what.split('(').next().unwrap_or(&what).to_lowercase())
            }
            Effect::Reply { .. } => "reply".into(),
            Effect::Answer(_) => "answer".into(),
            Effect::SaveVersion(v) => format!("version {:?}", v.text),
            Effect::Index(text) => format!("index {text:?}"),
            Effect::Compact => "compact".into(),
            Effect::Stop(stop) => format!("stop {stop:?}"),
        }
    }
}

/// An edit from a client of its own (`client` id), inserting `text` at the start.
pub(super) fn edit(client: u64, text: &str) -> Vec<u8> {
    let doc = Doc::with_client_id(client);
    doc.get_or_insert_text(CONTENT).insert(&mut doc.transact_mut(), 0, text);
    doc.transact().encode_state_as_update_v1(&StateVector::default())
}

/// The second of two edits by one client, alone: it skips ahead in that client's clocks.
pub(super) fn second_edit_only() -> Vec<u8> {
    let client = Doc::with_client_id(9);
    let text = client.get_or_insert_text(CONTENT);
    text.insert(&mut client.transact_mut(), 0, "first");
    let before = client.transact().state_vector();
    text.insert(&mut client.transact_mut(), 5, " second");
    client.transact().encode_state_as_update_v1(&before)
}

fn from_peer(payload: Payload) -> BusMessage {
    BusMessage { origin: NodeId::random(), target: None, payload }
}

fn update(bytes: &[u8]) -> ClientMessage {
    ClientMessage::Update(Update::decode_v1(bytes).unwrap())
}

fn awareness(client: u64, clock: u32, json: &str) -> ClientMessage {
    let mut u = AwarenessUpdate { clients: Default::default() };
    u.clients.insert(ClientID::new(client), AwarenessUpdateEntry { clock, json: json.into() });
    ClientMessage::Awareness(u)
}

fn committed() -> Result<(), Arc<StoreError>> {
    Ok(())
}

#[test]
fn an_update_is_broadcast_acknowledged_and_published_only_once_committed() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), true);
    f.join("B", Access::ReadWrite, user("b"), false);
    f.send(a, update(&edit(1, "hi")));
    let (effects, seqs) = f.take_persists();
    assert_eq!(effects, ["persist"]);
    f.room.committed(seqs[0], committed());
    assert_eq!(f.take(), ["all <- update", "A <- ack", "publish update"]);
}

#[test]
fn a_sync_step_1_answered_while_commits_are_in_flight_waits_for_them() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    let b = f.join("B", Access::ReadWrite, user("b"), false);
    f.send(a, update(&edit(1, "one")));
    f.send(a, update(&edit(2, "two")));
    let (_, seqs) = f.take_persists();
    f.send(b, ClientMessage::SyncStep1(StateVector::default()));
    assert!(f.take().is_empty(), "the answer holds updates not yet durable");
    f.room.committed(seqs[0], committed());
    assert_eq!(f.take(), ["all <- update", "publish update"]);
    f.room.committed(seqs[1], committed());
    assert_eq!(f.take(), ["all <- update", "publish update", "B <- step2"]);
    // With nothing in flight, the answer goes at once.
    f.send(b, ClientMessage::SyncStep1(StateVector::default()));
    assert_eq!(f.take(), ["B <- step2"]);
}

#[test]
fn a_rest_read_and_a_replacement_are_answered_once_durable() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    f.send(a, update(&edit(1, "draft")));
    let (_, seqs) = f.take_persists();
    let (read, mut read_rx) = oneshot::channel();
    f.room.text(read);
    let (replaced, _) = oneshot::channel::<TextState>();
    f.room.replace("final", None, replaced);
    let (effects, more) = f.take_persists();
    assert_eq!(effects, ["persist"]);
    f.room.committed(seqs[0], committed());
    let answered = f.room.take_effects();
    assert_eq!(answered.len(), 3, "the commit's own effects, then the held read");
    let Some(Effect::Reply { reply, state }) = answered.into_iter().next_back() else { panic!("no reply") };
    assert_eq!(state.text, "draft", "the read saw the text as it was when asked");
    reply.send(state).unwrap();
    assert_eq!(read_rx.try_recv().unwrap().text, "draft");
    f.room.committed(more[0], committed());
    assert_eq!(f.take(), ["all <- update", "reply", "publish update"]);
}

#[test]
fn a_failed_commit_stops_the_room_and_releases_nothing_behind_it() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), true);
    f.send(a, update(&edit(1, "lost")));
    let (_, seqs) = f.take_persists();
    f.send(a, ClientMessage::SyncStep1(StateVector::default()));
    f.room.committed(seqs[0], Err(Arc::new(StoreError::WriterGone)));
    assert_eq!(f.take(), ["stop StoreFailed"]);
    assert!(f.room.failed());
    f.send(a, update(&edit(2, "more")));
    assert!(f.take().is_empty(), "a failed room applies nothing more");
    assert!(!f.room.finish(Stop::StoreFailed), "nothing is compacted");
    assert_eq!(f.take(), [format!("close A {}", close_code::INTERNAL_ERROR)]);
}

#[test]
fn an_update_that_skips_ahead_closes_its_sender_with_1007_and_nothing_is_persisted() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), true);
    f.send(a, update(&second_edit_only()));
    assert_eq!(f.take(), [format!("close A {}", close_code::INVALID_PAYLOAD)]);
    // Refused: what it sends next is not applied either.
    f.send(a, update(&edit(10, "valid")));
    assert!(f.take().is_empty());
    assert_eq!(f.room.state_vector(), Fixture::new(config()).room.state_vector(), "the document is unchanged");
}

#[test]
fn read_only_connections_get_a_refusal_and_change_nothing() {
    let mut f = Fixture::new(config());
    let r = f.join("R", Access::Read, user("r"), true);
    f.send(r, update(&edit(1, "nope")));
    assert_eq!(f.take(), ["R <- read-only"]);
    // Its empty answer to our sync step 1 completes its sync.
    f.send(r, ClientMessage::SyncStep2(Update::decode_v1(Update::EMPTY_V1).unwrap()));
    assert_eq!(f.take(), ["R <- ack"]);
    f.room.set_access(r, Access::ReadWrite);
    f.send(r, update(&edit(1, "now")));
    assert_eq!(f.take(), ["persist"]);
}

#[test]
fn the_document_size_limit_closes_the_sender_with_1009() {
    let mut f = Fixture::new(RoomConfig { max_state_bytes: 64, ..config() });
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    f.room.message(a, update(&edit(1, "small")), 60, Instant::now());
    assert_eq!(f.take(), ["persist"]);
    f.room.message(a, update(&edit(2, "too much")), 60, Instant::now());
    assert_eq!(f.take(), [format!("close A {}", close_code::TOO_BIG)]);
}

#[test]
fn the_sweep_removes_presence_not_renewed_in_time_and_keeps_the_id_for_its_owner() {
    let mut f = Fixture::new(config());
    let start = Instant::now();
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    let b = f.join("B", Access::ReadWrite, user("b"), false);
    f.send(a, awareness(7, 1, r#"{"cursor":1}"#));
    assert_eq!(f.take(), ["publish awareness", "all <- awareness"]);
    // Someone else cannot take over a live id.
    f.send(b, awareness(7, 2, r#"{"cursor":2}"#));
    assert!(f.take().is_empty());
    f.room.sweep(start + Duration::from_secs(10));
    assert!(f.take().is_empty(), "renewed recently enough");
    let later = start + Duration::from_secs(31);
    f.room.sweep(later);
    assert_eq!(f.take(), ["all <- awareness"], "removed here, not published: every node sweeps");
    // For a timeout after, the id is kept for the principal that held it.
    f.room.message(b, awareness(7, 3, r#"{"cursor":3}"#), 16, later);
    assert!(f.take().is_empty());
    f.room.message(b, awareness(7, 3, r#"{"cursor":3}"#), 16, later + Duration::from_secs(31));
    assert_eq!(f.take(), ["publish awareness", "all <- awareness"]);
}

#[test]
fn leaving_removes_the_connections_presence_for_everyone() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    f.join("B", Access::ReadWrite, user("b"), false);
    f.send(a, awareness(7, 1, r#"{"cursor":1}"#));
    f.take();
    f.room.leave(a, Instant::now());
    assert_eq!(f.take(), ["publish awareness", "all <- awareness"]);
    assert!(!f.room.is_empty());
}

#[test]
fn a_full_room_refuses_a_join() {
    let mut f = Fixture::new(RoomConfig { max_connections: 2, ..config() });
    f.join("A", Access::ReadWrite, user("a"), false);
    f.join("B", Access::ReadWrite, user("b"), false);
    assert!(f.room.join(ConnId::next(), Access::ReadWrite, user("c"), false).is_err());
    assert!(f.take().is_empty());
}

#[test]
fn eviction_closes_everyone_with_4403_and_writes_nothing_more() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    f.join("B", Access::ReadWrite, user("b"), false);
    f.send(a, update(&edit(1, "gone soon")));
    let (_, seqs) = f.take_persists();
    f.room.committed(seqs[0], committed());
    f.take();
    assert!(!f.room.finish(Stop::Evicted), "no compaction");
    let mut closes = f.take();
    closes.sort();
    assert_eq!(closes, [format!("close A {}", close_code::FORBIDDEN), format!("close B {}", close_code::FORBIDDEN)]);
}

#[test]
fn closing_idle_indexes_the_text_saves_a_version_and_folds_the_log() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    f.send(a, update(&edit(1, "kept")));
    let (_, seqs) = f.take_persists();
    f.room.committed(seqs[0], committed());
    f.take();
    assert!(f.room.text_dirty());
    assert!(f.room.finish(Stop::Idle));
    let closed = format!("close A {}", close_code::SERVICE_RESTART);
    assert_eq!(f.take(), [closed, "index \"kept\"".into(), "version \"kept\"".into()]);
}

#[test]
fn a_long_log_is_compacted_once_at_a_time() {
    let mut f = Fixture::new(RoomConfig { compact_after: 2, ..config() });
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    let mut compactions = 0;
    for (i, text) in ["a", "b", "c", "d"].into_iter().enumerate() {
        f.send(a, update(&edit(i as u64 + 1, text)));
        let (_, seqs) = f.take_persists();
        f.room.committed(seqs[0], committed());
        compactions += f.take().iter().filter(|e| *e == "compact").count();
    }
    assert_eq!(compactions, 1, "the second waits until the first ends");
    f.room.compacted();
    f.send(a, update(&edit(9, "e")));
    let (_, seqs) = f.take_persists();
    f.room.committed(seqs[0], committed());
    assert!(f.take().contains(&"compact".to_owned()));
}

#[test]
fn a_replacement_reaches_the_text() {
    let mut f = Fixture::new(config());
    let (reply, mut rx) = oneshot::channel();
    f.room.replace("# Title", None, reply);
    let (_, seqs) = f.take_persists();
    f.room.committed(seqs[0], committed());
    for effect in f.room.take_effects() {
        if let Effect::Reply { reply, state } = effect {
            reply.send(state).unwrap();
        }
    }
    assert_eq!(rx.try_recv().unwrap().text, "# Title");
}

#[test]
fn a_replacement_is_answered_with_the_text_it_made_not_with_edits_still_in_flight() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    let (reply, _) = oneshot::channel();
    f.room.replace("final", None, reply);
    let (_, replaced) = f.take_persists();
    // An edit applied after the replacement, not yet durable when the replacement lands.
    f.send(a, update(&edit(1, "later ")));
    let (_, later) = f.take_persists();
    f.room.committed(replaced[0], committed());
    let states: Vec<String> = f
        .room
        .take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Reply { state, .. } => Some(state.text),
            _ => None,
        })
        .collect();
    assert_eq!(states, ["final"]);
    f.room.committed(later[0], committed());
}

#[test]
fn after_a_failed_commit_a_rest_read_is_never_answered() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    f.send(a, update(&edit(1, "not durable")));
    let (_, seqs) = f.take_persists();
    f.room.committed(seqs[0], Err(Arc::new(StoreError::WriterGone)));
    assert_eq!(f.take(), ["stop StoreFailed"]);
    // Nothing is in flight any more, but the document holds what the store does not.
    let (read, _) = oneshot::channel();
    f.room.text(read);
    f.room.index_text();
    assert_eq!(f.take(), Vec::<String>::new());
}

#[test]
fn a_duplicate_update_is_acknowledged_in_order_without_a_commit_of_its_own() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), true);
    let edit = edit(1, "twice");
    f.send(a, update(&edit));
    f.send(a, update(&edit));
    let (effects, seqs) = f.take_persists();
    assert_eq!(effects, ["persist"]);
    f.room.committed(seqs[0], committed());
    assert_eq!(f.take(), ["all <- update", "A <- ack", "publish update", "A <- ack"]);
}

#[test]
fn a_peers_update_is_fanned_out_and_not_stored_again() {
    let mut f = Fixture::on_nodes(config(), true);
    f.join("A", Access::ReadWrite, user("a"), true);
    f.room.peer(from_peer(Payload::Update(edit(1, "elsewhere").into())));
    assert_eq!(f.take(), ["all <- update"]);
}

#[test]
fn a_peers_update_that_skips_ahead_makes_the_room_ask_its_peers() {
    let mut f = Fixture::on_nodes(config(), true);
    f.room.peer(from_peer(Payload::Update(second_edit_only().into())));
    assert_eq!(f.take(), ["publish syncrequest"]);
}

#[test]
fn a_peers_sync_request_is_answered_after_the_commits_in_flight() {
    let mut f = Fixture::on_nodes(config(), true);
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    f.send(a, update(&edit(1, "local")));
    let (_, seqs) = f.take_persists();
    let empty = StateVector::default().encode_v1();
    f.room.peer(from_peer(Payload::SyncRequest(empty.into())));
    assert!(f.take().is_empty(), "the reply holds an update not yet durable");
    f.room.committed(seqs[0], committed());
    assert_eq!(f.take(), ["all <- update", "publish update", "publish syncreply to one"]);
}

#[test]
fn a_single_node_room_asks_no_peers() {
    let mut f = Fixture::new(config());
    f.room.ask_peers(None);
    f.room.peer(from_peer(Payload::Update(second_edit_only().into())));
    assert!(f.take().is_empty());
}

#[test]
fn a_stored_document_that_does_not_apply_is_refused_not_served_empty() {
    let mut room = Room::new(DocId::parse("doc").unwrap(), config(), false);
    let stored = StoredDoc { snapshot: None, updates: vec![vec![0xff, 0x01, 0x02]] };
    assert!(matches!(room.load(&stored, false), Err(StoreError::Corrupt(_))));
}

#[test]
fn a_rebuild_replaces_the_document_with_the_stored_one_or_stops_the_room() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    f.send(a, update(&edit(1, "live only")));
    // The actor lets the commits in flight land before it reads the store back.
    let (_, seqs) = f.take_persists();
    f.room.committed(seqs[0], committed());
    f.take();
    let stored = StoredDoc { snapshot: None, updates: vec![edit(2, "stored")] };
    f.room.reload(Ok((stored, true)));
    assert!(f.take().is_empty());
    assert!(f.room.text_dirty(), "the search text follows the rebuilt document");
    let (reply, mut rx) = oneshot::channel();
    f.room.text(reply);
    for effect in f.room.take_effects() {
        if let Effect::Reply { reply, state } = effect {
            reply.send(state).unwrap();
        }
    }
    assert_eq!(rx.try_recv().unwrap().text, "stored");
    f.room.reload(Err(StoreError::WriterGone));
    assert_eq!(f.take(), ["stop StoreFailed"]);
}

mod rest;
