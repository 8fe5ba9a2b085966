//! Who a connection authenticated as: a user, someone holding a public link, or an
//! application's room token. Access decides it; the room stamps it into presence and
//! counts seats by it (`realtime::room::presence` holds those rules).

/// Who a connection authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in user: states carry `"tandem": {"user": id, "name": name}`.
    User { id: String, name: String },
    /// Someone holding a public link (its id, never shown to others): states carry
    /// `"tandem": {"guest": true}`.
    Guest { link: String },
    /// A room token's holder, an application that names its own users: no stamp. Holders
    /// of tokens with the same subject are one principal.
    App { subject: String },
}
