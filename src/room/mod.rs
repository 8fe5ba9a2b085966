//! Live rooms: one actor per open document owns its `yrs` Doc and Awareness
//! ([`actor`]); everything else talks to it through a [`RoomHandle`]; [`Rooms`] finds or
//! starts the actor for a document.

mod actor;
mod apply;
mod content;
mod handle;
mod peers;
mod presence;
mod registry;

pub use content::CONTENT;
pub use handle::{ConnControl, ConnSink, Outbound, RoomError, RoomHandle, TextState, close_code};
pub use presence::{Identity, MAX_CLIENTS_PER_CONN, STAMP_FIELD, stamp};
pub use registry::{RoomConfig, Rooms};
