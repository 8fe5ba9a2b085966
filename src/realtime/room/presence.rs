//! Who sets presence in a room: the [`Principal`] a connection authenticated as, stamped
//! into every state it sets ([`stamp`], run by the connection's reader), and which
//! principals may take over one another's client ids. With the room's ownership of client ids
//! ([`super::live`]'s awareness part: an id belongs to the first connection that announces
//! it until that connection leaves or removes it), nobody can move, remove or rename
//! someone else's cursor.

use std::sync::Arc;

use serde_json::{Value, json};
use yrs::sync::awareness::AwarenessUpdate;

use crate::identity::Principal;

/// The reserved field of a presence state that says who set it. The server writes it into
/// every state a user or link connection sets and strips it from any other connection's.
pub const STAMP_FIELD: &str = "tandem";

/// Most awareness client ids one connection may own (a provider uses one per document).
pub const MAX_CLIENTS_PER_CONN: usize = 4;

impl Principal {
    fn stamp(&self) -> Option<Value> {
        match self {
            Principal::User { id, name } => Some(json!({ "user": id, "name": name })),
            Principal::Guest { .. } => Some(json!({ "guest": true })),
            Principal::App { .. } => None,
        }
    }

    /// Whether this connection may take over a client id whose live state is `state`: the
    /// same user (a provider that reconnected before its old connection was noticed gone),
    /// or an application's connection taking an unstamped state. Guests are anonymous:
    /// never.
    pub(super) fn may_take_over(&self, state: &Value) -> bool {
        let stamp = state.get(STAMP_FIELD);
        match self {
            Principal::User { id, .. } => stamp.and_then(|s| s.get("user")).and_then(Value::as_str) == Some(id),
            Principal::Guest { .. } => false,
            Principal::App { .. } => stamp.is_none(),
        }
    }
}

/// Writes the connection's identity into every state of `update` (replacing whatever the
/// client put in the reserved field, or removing it for applications) and normalises
/// removals to `null`. States must already be validated (objects or `null`).
pub fn stamp(update: &mut AwarenessUpdate, identity: &Principal) {
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

impl Principal {
    /// Whether two connections are the same principal, so that one may take over the
    /// other's client ids.
    pub(super) fn same_principal(&self, other: &Principal) -> bool {
        match (self, other) {
            (Principal::User { id: a, .. }, Principal::User { id: b, .. }) => a == b,
            (Principal::App { subject: a }, Principal::App { subject: b }) => a == b,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use yrs::ClientID;
    use yrs::sync::awareness::AwarenessUpdateEntry;

    use super::*;

    fn guest() -> Principal {
        Principal::Guest { link: "l1".into() }
    }

    fn app() -> Principal {
        Principal::App { subject: "app".into() }
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
        stamp(&mut u, &Principal::User { id: "u1".into(), name: "Ann".into() });
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
        stamp(&mut u, &Principal::User { id: "u1".into(), name: "Ann".into() });
        assert_eq!(&*u.clients[&ClientID::new(7)].json, "null");
    }

    #[test]
    fn only_the_same_user_takes_over_a_live_state() {
        let ann = Principal::User { id: "u1".into(), name: "Ann".into() };
        let live = json!({"tandem": {"user": "u1", "name": "Ann"}});
        assert!(ann.may_take_over(&live));
        assert!(!Principal::User { id: "u2".into(), name: "Ann".into() }.may_take_over(&live));
        assert!(!guest().may_take_over(&json!({"tandem": {"guest": true}})));
        assert!(!app().may_take_over(&live));
        assert!(app().may_take_over(&json!({"cursor": 1})));
        assert!(app().same_principal(&app()));
        assert!(!app().same_principal(&Principal::App { subject: "other".into() }));
    }
}
