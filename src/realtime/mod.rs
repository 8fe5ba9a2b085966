//! The real-time path: what an edit goes through between a socket and the other editors.
//! [`socket`] speaks both wire protocols (y-websocket, Hocuspocus) over one reader and
//! writer and applies the per-connection [`limits`]; [`room`] holds one actor per live
//! document, which makes each update durable in the store (`crate::store`) before it fans
//! it out; [`bus`] carries updates and presence between the nodes sharing a room.

pub mod bus;
pub mod limits;
pub mod room;
pub mod socket;
