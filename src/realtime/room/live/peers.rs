//! The room's side of the bus: updates and awareness from other nodes holding the same
//! room, the state-vector exchange that fills gaps, and resync after a gap.
//!
//! Whatever arrives from a peer was made durable by that peer (updates are published after
//! commit, sync replies wait behind the peer's in-flight commits), so it is applied and
//! fanned out here without being stored again.

use bytes::Bytes;
use tandem_protocol as proto;
use tracing::{debug, warn};
use yrs::updates::encoder::Encode;
use yrs::{ReadTxn, Transact, Update};

use super::{Effect, Room};
use crate::realtime::bus::{BusMessage, NodeId, Payload};
use crate::realtime::room::apply::Refusal;
use crate::store::{StoreError, StoredDoc};

impl Room {
    /// A message from another node holding the room.
    pub fn peer(&mut self, msg: BusMessage) {
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
        }
        // A damaged document is rebuilt first (and asks then).
        if !self.damaged && std::mem::take(&mut self.behind) {
            self.ask_peers(None);
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
            let payload = Payload::SyncReply(Bytes::from(diff));
            self.after_commits(Effect::Publish { payload, target: Some(peer) });
        }
        if we_lack && broadcast_request {
            self.ask_peers(Some(peer));
        }
        if broadcast_request {
            let ours: Vec<_> = self.seats.values().flat_map(|s| s.clients.iter().copied()).collect();
            if !ours.is_empty()
                && let Ok(update) = self.awareness.update_with_clients(ours)
            {
                let payload = Payload::Awareness(update.encode_v1().into());
                self.effects.push(Effect::Publish { payload, target: Some(peer) });
            }
        }
    }

    /// Publishes our state vector; peers answer with what we lack. Also the periodic
    /// anti-entropy exchange (pub/sub can drop).
    pub fn ask_peers(&mut self, target: Option<NodeId>) {
        if !self.distributed {
            return;
        }
        let sv = self.awareness.doc().transact().state_vector().encode_v1();
        self.effects.push(Effect::Publish { payload: Payload::SyncRequest(sv.into()), target });
    }

    /// After a gap on the bus: catch up from the store (`stored`: every node's commits are
    /// there), then from peers (and let them catch up from us).
    pub fn resync(&mut self, stored: Result<StoredDoc, StoreError>) {
        debug!(doc = %self.doc_id, "resyncing");
        match stored {
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
        self.behind = false;
        self.ask_peers(None);
    }
}
