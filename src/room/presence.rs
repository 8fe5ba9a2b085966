//! Presence in a room: awareness states from the room's connections (applied, fanned
//! out, published to peers), and the sweep that removes states not renewed in time (yrs
//! has none; every node sweeps for itself).

use std::time::{SystemTime, UNIX_EPOCH};

use tracing::debug;
use yrs::ClientID;
use yrs::sync::awareness::AwarenessUpdate;
use yrs::updates::encoder::Encode;

use super::actor::RoomActor;
use crate::bus::Payload;
use crate::ids::ConnId;
use tandem_protocol as proto;

impl RoomActor {
    pub(super) fn on_awareness(&mut self, conn: ConnId, update: AwarenessUpdate) {
        let summary = match self.awareness.apply_update_summary(update) {
            Ok(Some(summary)) => summary,
            Ok(None) => return,
            Err(e) => {
                debug!(doc = %self.doc_id, %conn, error = %e, "awareness update refused");
                return;
            }
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.clients.extend(summary.added.iter().chain(&summary.updated).copied());
            for id in &summary.removed {
                c.clients.remove(id);
            }
        }
        self.broadcast_awareness(summary.all_changes(), true);
    }

    /// Removes awareness states not renewed within the timeout (yrs has no sweep).
    pub(super) fn sweep_awareness(&mut self) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let timeout = self.shared.config.awareness_timeout.as_millis() as u64;
        let local = self.awareness.client_id();
        let stale: Vec<ClientID> = self
            .awareness
            .iter()
            .filter(|(id, s)| *id != local && s.data.is_some() && now.saturating_sub(s.last_updated) >= timeout)
            .map(|(id, _)| id)
            .collect();
        if stale.is_empty() {
            return;
        }
        for id in &stale {
            self.awareness.remove_state(*id);
            for c in self.conns.values_mut() {
                c.clients.remove(id);
            }
        }
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
                self.shared.bus.publish(&self.doc_id, payload, None);
            }
            self.broadcast(proto::encode_awareness(&update).into());
        }
    }
}
