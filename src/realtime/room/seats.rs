//! Who may take one more seat in a room: the room's size, a user's share of it and the
//! public links' share, decided from the room group of the serve config.

use crate::identity::tokens::Access;

/// Tunables every room shares: the room group of the serve config, as parsed.
pub use crate::config::RoomConfig;

impl RoomConfig {
    /// Which limit one more connection would break, if any: the room's size (its last
    /// tenth kept for connections that may write, so readers cannot lock editors out), or
    /// the user's own share of it (`Seats::User`: a signed-in user's connections already
    /// in), or the share of public links (`Seats::Links`: all of a document's links together
    /// take at most half the room, so links passed around cannot lock its members out). Room
    /// tokens have no share of their own: the application that signs them decides who gets
    /// one (and may give all its users one subject).
    pub(super) fn refuses_seat(&self, in_room: usize, access: Access, same: Seats) -> Option<&'static str> {
        if in_room >= self.max_connections {
            return Some("room_connections");
        }
        if access == Access::Read && in_room >= self.max_connections - self.max_connections / 10 {
            return Some("room_connections_read_only");
        }
        match same {
            Seats::User(n) if n >= self.max_connections_per_user => Some("user_connections"),
            Seats::Links(n) if n >= (self.max_connections / 2).max(1) => Some("link_connections"),
            _ => None,
        }
    }
}

/// The seats a new connection's principal already holds in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seats {
    /// A signed-in user's connections.
    User(usize),
    /// Connections through public links (any of the document's).
    Links(usize),
    /// A room token's holder: not counted.
    Uncounted,
}
