//! Presence in a room: awareness states from the room's connections (owned, applied, fanned
//! out, published to peers), and the sweep that removes states not renewed in time (yrs
//! has none; every node sweeps for itself).
//!
//! What a connection may set is decided here: a client id belongs to the first connection
//! that announces it until that connection leaves or removes it, and the identity the
//! connection authenticated with is stamped into every state it sets ([`stamp`], run by the
//! connection's reader), so nobody can move, remove or rename someone else's cursor.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use serde_json::{Value, json};
use tracing::debug;
use yrs::ClientID;
use yrs::sync::awareness::AwarenessUpdate;
use yrs::updates::encoder::Encode;

use super::actor::RoomActor;
use crate::bus::Payload;
use crate::ids::ConnId;
use tandem_protocol as proto;

/// The reserved field of a presence state that says who set it. The server writes it into
/// every state a user or link connection sets and strips it from any other connection's.
pub const STAMP_FIELD: &str = "tandem";

/// Most awareness client ids one connection may own (a provider uses one per document).
pub const MAX_CLIENTS_PER_CONN: usize = 4;

/// Who a connection authenticated as, for presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A signed-in user: states carry `"tandem": {"user": id, "name": name}`.
    User { id: String, name: String },
    /// Someone holding a public link (its id, never shown to others): states carry
    /// `"tandem": {"guest": true}`.
    Guest { link: String },
    /// A room token's holder, an application that names its own users: no stamp. Holders
    /// of tokens with the same subject are one principal.
    App { subject: String },
}

impl Identity {
    fn stamp(&self) -> Option<Value> {
        match self {
            Identity::User { id, name } => Some(json!({ "user": id, "name": name })),
            Identity::Guest { .. } => Some(json!({ "guest": true })),
            Identity::App { .. } => None,
        }
    }

    /// Whether this connection may take over a client id whose live state is `state`: the
    /// same user (a provider that reconnected before its old connection was noticed gone),
    /// or an application's connection taking an unstamped state. Guests are anonymous:
    /// never.
    fn may_take_over(&self, state: &Value) -> bool {
        let stamp = state.get(STAMP_FIELD);
        match self {
            Identity::User { id, .. } => stamp.and_then(|s| s.get("user")).and_then(Value::as_str) == Some(id),
            Identity::Guest { .. } => false,
            Identity::App { .. } => stamp.is_none(),
        }
    }
}

/// Writes the connection's identity into every state of `update` (replacing whatever the
/// client put in the reserved field, or removing it for applications) and normalises
/// removals to `null`. States must already be validated (objects or `null`).
pub fn stamp(update: &mut AwarenessUpdate, identity: &Identity) {
    let stamp = identity.stamp();
    for entry in update.clients.values_mut() {
        match serde_json::from_str::<Value>(&entry.json) {
            Ok(Value::Object(mut state)) => {
                match &stamp {
                    Some(stamp) => state.insert(STAMP_FIELD.to_owned(), stamp.clone()),
                    None => state.remove(STAMP_FIELD),
                };
                entry.json = Arc::from(Value::Object(state).to_string());
            }
            Ok(Value::Null) => entry.json = Arc::from("null"),
            _ => {}
        }
    }
}

impl RoomActor {
    pub(super) fn on_awareness(&mut self, conn: ConnId, mut update: AwarenessUpdate) {
        update.clients.retain(|id, _| self.claim(conn, *id));
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
        if let Some(c) = self.conns.get_mut(&conn) {
            for id in &summary.removed {
                c.clients.remove(id);
            }
        }
        // Removed by their owner: nothing to keep for it (it said it is gone).
        self.release_clients(Some(conn), &summary.removed, false);
        self.broadcast_awareness(summary.all_changes(), true);
    }

    /// Whether `conn` may set or remove client `id`'s state, taking ownership of it if
    /// nobody holds it: an id belongs to the connection that announced it first, until
    /// that one leaves or removes it. Constant time per entry, whatever the room's size.
    fn claim(&mut self, conn: ConnId, id: ClientID) -> bool {
        if id == self.awareness.client_id() {
            return false;
        }
        let holder = self.owners.get(&id).copied();
        if holder == Some(conn) {
            return true;
        }
        let Some(c) = self.conns.get(&conn) else { return false };
        if c.clients.len() >= MAX_CLIENTS_PER_CONN {
            return false;
        }
        if holder.is_none()
            && let Some((who, until)) = self.released.get(&id)
            && *until > Instant::now()
            && !who.same_principal(&c.identity)
        {
            debug!(doc = %self.doc_id, %conn, client = id.get(), "awareness for a client id someone else just left");
            return false;
        }
        match holder.and_then(|h| self.conns.get(&h).map(|x| (h, x))) {
            Some((holder, owner)) => {
                if !owner.identity.same_principal(&c.identity) {
                    debug!(doc = %self.doc_id, %conn, client = id.get(), "awareness for a client id another connection owns");
                    return false;
                }
                if let Some(h) = self.conns.get_mut(&holder) {
                    h.clients.remove(&id);
                }
            }
            None => {
                // A live state set through another node (or not yet swept).
                if let Some(state) = self.awareness.state::<Value>(id)
                    && !c.identity.may_take_over(&state)
                {
                    debug!(doc = %self.doc_id, %conn, client = id.get(), "awareness for a client id owned elsewhere");
                    return false;
                }
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.clients.insert(id);
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
    pub(super) fn release_clients(&mut self, conn: Option<ConnId>, ids: &[ClientID], remember: bool) {
        let until = Instant::now() + self.shared.config.awareness_timeout;
        let bound = self.shared.config.max_connections * MAX_CLIENTS_PER_CONN;
        for id in ids {
            let Some(owner) = self.owners.get(id).copied().filter(|o| conn.is_none_or(|c| c == *o)) else {
                continue;
            };
            self.owners.remove(id);
            let Some(identity) = self.conns.get(&owner).map(|c| &c.identity).filter(|_| remember) else { continue };
            if matches!(identity, Identity::Guest { .. }) {
                continue;
            }
            if self.released.len() >= bound {
                let now = Instant::now();
                self.released.retain(|_, (_, until)| *until > now);
            }
            if self.released.len() < bound {
                self.released.insert(*id, (identity.clone(), until));
            }
        }
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
            if let Some(c) = self.owners.get(id).and_then(|owner| self.conns.get_mut(owner)) {
                c.clients.remove(id);
            }
        }
        self.release_clients(None, &stale, true);
        let now = Instant::now();
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
                self.shared.bus.publish(&self.doc_id, payload, None);
            }
            self.broadcast(proto::encode_awareness(&update).into());
        }
    }
}

impl Identity {
    /// Whether two connections are the same principal, so that one may take over the
    /// other's client ids.
    fn same_principal(&self, other: &Identity) -> bool {
        match (self, other) {
            (Identity::User { id: a, .. }, Identity::User { id: b, .. }) => a == b,
            (Identity::App { subject: a }, Identity::App { subject: b }) => a == b,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use yrs::sync::awareness::AwarenessUpdateEntry;

    use super::*;

    fn guest() -> Identity {
        Identity::Guest { link: "l1".into() }
    }

    fn app() -> Identity {
        Identity::App { subject: "app".into() }
    }

    fn update(json: &str) -> AwarenessUpdate {
        let mut u = AwarenessUpdate { clients: Default::default() };
        u.clients.insert(ClientID::new(7), AwarenessUpdateEntry { clock: 1, json: json.into() });
        u
    }

    fn state(u: &AwarenessUpdate) -> Value {
        serde_json::from_str(&u.clients[&ClientID::new(7)].json).unwrap()
    }

    #[test]
    fn users_states_carry_who_set_them_whatever_the_client_claimed() {
        let mut u = update(r#"{"user":{"name":"Mallory"},"tandem":{"user":"victim","name":"Victim"}}"#);
        stamp(&mut u, &Identity::User { id: "u1".into(), name: "Ann".into() });
        assert_eq!(state(&u), json!({"user": {"name": "Mallory"}, "tandem": {"user": "u1", "name": "Ann"}}));
    }

    #[test]
    fn guests_are_stamped_and_applications_cannot_forge_a_stamp() {
        let mut u = update(r#"{"tandem":{"user":"victim"}}"#);
        stamp(&mut u, &guest());
        assert_eq!(state(&u), json!({"tandem": {"guest": true}}));
        let mut u = update(r#"{"cursor":1,"tandem":{"user":"victim"}}"#);
        stamp(&mut u, &app());
        assert_eq!(state(&u), json!({"cursor": 1}));
    }

    #[test]
    fn removals_stay_removals() {
        let mut u = update(" null ");
        stamp(&mut u, &Identity::User { id: "u1".into(), name: "Ann".into() });
        assert_eq!(&*u.clients[&ClientID::new(7)].json, "null");
    }

    #[test]
    fn only_the_same_user_takes_over_a_live_state() {
        let ann = Identity::User { id: "u1".into(), name: "Ann".into() };
        let live = json!({"tandem": {"user": "u1", "name": "Ann"}});
        assert!(ann.may_take_over(&live));
        assert!(!Identity::User { id: "u2".into(), name: "Ann".into() }.may_take_over(&live));
        assert!(!guest().may_take_over(&json!({"tandem": {"guest": true}})));
        assert!(!app().may_take_over(&live));
        assert!(app().may_take_over(&json!({"cursor": 1})));
        assert!(app().same_principal(&app()));
        assert!(!app().same_principal(&Identity::App { subject: "other".into() }));
    }
}
