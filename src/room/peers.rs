//! The room actor's side of the bus: updates and awareness from other nodes holding the
//! same room, the state-vector exchange that fills gaps, and resync after a gap.
//!
//! Whatever arrives from a peer was made durable by that peer (updates are published after
//! commit, sync replies wait behind the peer's in-flight commits), so it is applied and
//! fanned out here without being stored again.

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::ready;
use tandem_protocol as proto;
use tracing::{debug, warn};
use yrs::updates::encoder::Encode;
use yrs::{ReadTxn, Transact, Update};

use super::actor::{Deferred, RoomActor};
use super::apply::Refusal;
use crate::bus::{BusEvent, BusMessage, NodeId, Payload};

impl RoomActor {
    pub(super) fn on_bus(&mut self, event: BusEvent) {
        match event {
            // The flag that came with it makes the serve loop resync.
            BusEvent::Resync => {}
            BusEvent::Message(msg) => self.on_peer(msg),
        }
    }

    fn on_peer(&mut self, msg: BusMessage) {
        match msg.payload {
            Payload::Update(update) | Payload::SyncReply(update) => self.apply_durable(&update),
            Payload::Awareness(bytes) => match proto::decode_awareness(&bytes) {
                Ok(update) => {
                    if let Ok(Some(summary)) = self.awareness.apply_update_summary(update) {
                        self.broadcast_awareness(summary.all_changes(), false);
                    }
                }
                Err(e) => warn!(doc = %self.doc_id, error = %e, "bad awareness from peer"),
            },
            Payload::SyncRequest(sv) => self.answer_peer(msg.origin, msg.target.is_none(), &sv),
            // Only meaningful on the access channel, which the bus handles itself.
            Payload::AccessChanged => {}
        }
    }

    /// Applies an update that is already durable somewhere and fans out what integrated.
    fn apply_durable(&mut self, bytes: &[u8]) {
        let update = match proto::decode_update(bytes) {
            Ok(update) => update,
            Err(e) => {
                warn!(doc = %self.doc_id, error = %e, "bad update from peer or store");
                return;
            }
        };
        let (delta, result) = self.integrate(update);
        match result {
            Ok(()) => {}
            // A message lost on the bus (or one overtaking another): catch up instead.
            Err(Refusal::Gap(..)) => self.behind = true,
            Err(refusal) => warn!(doc = %self.doc_id, %refusal, "durable update refused"),
        }
        if delta.as_slice() != Update::EMPTY_V1 {
            self.broadcast(proto::encode_update(&delta).into());
        }
    }

    /// Sends a peer what its state vector lacks (after our in-flight commits), and asks it
    /// back for what we lack. An untargeted request (a peer opening or resyncing the room)
    /// also gets the presence of our own connections.
    fn answer_peer(&mut self, peer: NodeId, broadcast_request: bool, sv: &[u8]) {
        let theirs = match proto::decode_state_vector(sv) {
            Ok(sv) => sv,
            Err(e) => {
                warn!(doc = %self.doc_id, error = %e, "bad state vector from peer");
                return;
            }
        };
        let (diff, we_lack) = {
            let txn = self.awareness.doc().transact();
            let ours = txn.state_vector();
            let we_lack = theirs.iter().any(|(client, clock)| ours.get(client) < *clock);
            (txn.encode_diff_v1(&theirs), we_lack)
        };
        if diff.as_slice() != Update::EMPTY_V1 {
            let reply = Deferred::Publish { payload: Payload::SyncReply(Bytes::from(diff)), target: peer };
            self.in_flight.push_back(ready(reply).boxed());
        }
        if we_lack && broadcast_request {
            self.ask_peers(Some(peer));
        }
        if broadcast_request {
            let ours: Vec<_> = self.conns.values().flat_map(|c| c.clients.iter().copied()).collect();
            if !ours.is_empty()
                && let Ok(update) = self.awareness.update_with_clients(ours)
            {
                let payload = Payload::Awareness(update.encode_v1().into());
                self.shared.bus.publish(&self.doc_id, payload, Some(peer));
            }
        }
    }

    /// Publishes our state vector; peers answer with what we lack.
    pub(super) fn ask_peers(&mut self, target: Option<NodeId>) {
        if !self.shared.bus.distributed() {
            return;
        }
        let sv = self.awareness.doc().transact().state_vector().encode_v1();
        self.shared.bus.publish(&self.doc_id, Payload::SyncRequest(sv.into()), target);
    }

    /// After a gap on the bus: catch up from the store (every node's commits are there),
    /// then from peers (and let them catch up from us).
    pub(super) async fn resync(&mut self) {
        debug!(doc = %self.doc_id, "resyncing");
        match self.shared.store.load_doc(&self.doc_id).await {
            Ok(stored) => {
                for part in stored.parts() {
                    self.apply_durable(part);
                    if self.damaged {
                        return;
                    }
                }
            }
            Err(e) => {
                warn!(doc = %self.doc_id, error = %e, "resync from store failed; asking peers only")
            }
        }
        self.ask_peers(None);
    }
}
