//! Live rooms: one actor per open document (`actor`, the I/O loop) owns its `live`
//! room (the `yrs` Doc and Awareness and every decision about them, without I/O);
//! everything else talks to it through a [`RoomHandle`]; [`Rooms`] finds or starts the
//! actor for a document.

mod actor;
pub mod anchors;
mod apply;
mod content;
mod durable;
mod handle;
mod live;
mod presence;
mod registry;
mod seats;

pub use anchors::AnchorAt;
pub use content::CONTENT;
pub use handle::{ConnControl, ConnSink, Outbound, RoomError, RoomHandle, TextState, close_code};
pub use presence::{MAX_CLIENTS_PER_CONN, STAMP_FIELD, stamp};
pub use registry::Rooms;
pub use seats::RoomConfig;
