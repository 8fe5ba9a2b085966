//! Tandem: a real-time collaboration server for Markdown documents. Editors join rooms
//! over WebSockets and edit one shared Yjs document; see `DESIGN.md` for the map.
//!
//! Two halves: [`realtime`] is the path an edit takes (sockets, limits, rooms, the bus
//! between nodes) and [`product`] what is built around the rooms (the REST API, rendering,
//! the web app). Both ask [`identity`] who someone is and what they may do, and both keep
//! what lasts in the [`store`]; [`events`] carries each document's stored events (comments, versions)
//! to the clients that have it open, and [`webhooks`] sends workspace events to the URLs
//! their admins registered. [`state`] is what handlers and sockets share; [`app`]
//! builds it from the [`config`] and serves.
#![forbid(unsafe_code)]

pub mod app;
pub mod backup;
pub mod config;
pub mod events;
pub mod html;
pub mod identity;
pub mod ids;
pub mod maintenance;
pub mod metrics;
pub mod product;
pub mod rate;
pub mod realtime;
pub mod slots;
pub mod state;
pub mod store;
pub mod webhooks;
