//! Presence in a room: awareness states from the room's connections (owned, applied, fanned
//! out, published to peers), and the sweep that removes states not renewed in time (yrs
//! has none; every node sweeps for itself).
//!
//! A client id belongs to the first connection that announces it until that connection
//! leaves or removes it; who may take one over is [`Principal`]'s rule.

use serde_json::Value;
use tandem_protocol as proto;
use tokio::time::Instant;
use tracing::debug;
use yrs::ClientID;
use yrs::sync::awareness::AwarenessUpdate;
use yrs::updates::encoder::Encode;

use super::Room;
use crate::identity::Principal;
use crate::ids::ConnId;
use crate::realtime::bus::Payload;
use crate::realtime::room::presence::MAX_CLIENTS_PER_CONN;

impl Room {
    pub(super) fn on_awareness(&mut self, conn: ConnId, mut update: AwarenessUpdate, now: Instant) {
        update.clients.retain(|id, _| self.claim(conn, *id, now));
        if update.clients.is_empty() {
            return;
        }
        let summary = match self.awareness.apply_update_summary(update) {
            Ok(Some(summary)) => summary,
            Ok(None) => return,
            Err(e) => {
                debug!(doc = %self.doc_id, %conn, error = %e, "awareness update refused");
                return;
            }
        };
        if let Some(s) = self.seats.get_mut(&conn) {
            for id in &summary.removed {
                s.clients.remove(id);
            }
        }
        // Removed by their owner: nothing to keep for it (it said it is gone).
        self.release_clients(Some(conn), &summary.removed, false, now);
        self.broadcast_awareness(summary.all_changes(), true);
    }

    /// Whether `conn` may set or remove client `id`'s state, taking ownership of it if
    /// nobody holds it: an id belongs to the connection that announced it first, until
    /// that one leaves or removes it. Constant time per entry, whatever the room's size.
    fn claim(&mut self, conn: ConnId, id: ClientID, now: Instant) -> bool {
        if id == self.awareness.client_id() {
            return false;
        }
        let holder = self.owners.get(&id).copied();
        if holder == Some(conn) {
            return true;
        }
        let Some(s) = self.seats.get(&conn) else { return false };
        if s.clients.len() >= MAX_CLIENTS_PER_CONN {
            return false;
        }
        if holder.is_none()
            && let Some((who, until)) = self.released.get(&id)
            && *until > now
            && !who.same_principal(&s.identity)
        {
            debug!(doc = %self.doc_id, %conn, client = id.get(), "awareness for a client id someone else just left");
            return false;
        }
        match holder.and_then(|h| self.seats.get(&h).map(|x| (h, x))) {
            Some((holder, owner)) => {
                if !owner.identity.same_principal(&s.identity) {
                    debug!(doc = %self.doc_id, %conn, client = id.get(), "awareness for a client id another connection owns");
                    return false;
                }
                if let Some(h) = self.seats.get_mut(&holder) {
                    h.clients.remove(&id);
                }
            }
            None => {
                // A live state set through another node (or not yet swept).
                if let Some(state) = self.awareness.state::<Value>(id)
                    && !s.identity.may_take_over(&state)
                {
                    debug!(doc = %self.doc_id, %conn, client = id.get(), "awareness for a client id owned elsewhere");
                    return false;
                }
            }
        }
        if let Some(s) = self.seats.get_mut(&conn) {
            s.clients.insert(id);
        }
        self.owners.insert(id, conn);
        self.released.remove(&id);
        true
    }

    /// Forgets who owned `ids` (removed, timed out, or their connection left; `conn`: only
    /// those it owned), remembering for an awareness timeout which principal it was when
    /// the owner did not remove them itself (`remember`): its provider may come back. Guests
    /// are anonymous (no principal to give the id back to), and the memory is bounded as
    /// the owners are: past that, ids are let go as they were before it existed.
    pub(super) fn release_clients(&mut self, conn: Option<ConnId>, ids: &[ClientID], remember: bool, now: Instant) {
        let until = now + self.config.awareness_timeout;
        let bound = self.config.max_connections * MAX_CLIENTS_PER_CONN;
        for id in ids {
            let Some(owner) = self.owners.get(id).copied().filter(|o| conn.is_none_or(|c| c == *o)) else {
                continue;
            };
            self.owners.remove(id);
            let Some(identity) = self.seats.get(&owner).map(|s| &s.identity).filter(|_| remember) else { continue };
            if matches!(identity, Principal::Guest { .. }) {
                continue;
            }
            if self.released.len() >= bound {
                self.released.retain(|_, (_, until)| *until > now);
            }
            if self.released.len() < bound {
                self.released.insert(*id, (identity.clone(), until));
            }
        }
    }

    /// Removes awareness states not renewed within the timeout (yrs has no sweep); on the
    /// same tick, folds a long log the room opened with once it has settled.
    pub fn sweep(&mut self, now: Instant) {
        self.compact_when_settled(now);
        let now_ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        let timeout = self.config.awareness_timeout.as_millis() as u64;
        let local = self.awareness.client_id();
        let stale: Vec<ClientID> = self
            .awareness
            .iter()
            .filter(|(id, s)| *id != local && s.data.is_some() && now_ms.saturating_sub(s.last_updated) >= timeout)
            .map(|(id, _)| id)
            .collect();
        if stale.is_empty() {
            return;
        }
        for id in &stale {
            self.awareness.remove_state(*id);
            if let Some(s) = self.owners.get(id).and_then(|owner| self.seats.get_mut(owner)) {
                s.clients.remove(id);
            }
        }
        self.release_clients(None, &stale, true, now);
        self.released.retain(|_, (_, until)| *until > now);
        debug!(doc = %self.doc_id, removed = stale.len(), "awareness timed out");
        // Every node sweeps for itself: removals by timeout stay local.
        self.broadcast_awareness(stale, false);
    }

    /// Fans awareness states out locally, and to peers when `publish`.
    pub(super) fn broadcast_awareness(&mut self, clients: Vec<ClientID>, publish: bool) {
        if clients.is_empty() {
            return;
        }
        if let Ok(update) = self.awareness.update_with_clients(clients) {
            if publish {
                let payload = Payload::Awareness(update.encode_v1().into());
                self.effects.push(super::Effect::Publish { payload, target: None });
            }
            self.broadcast(proto::encode_awareness(&update).into());
        }
    }
}
