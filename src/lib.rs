//! Tandem: a real-time collaboration server for Markdown documents. Editors join rooms
//! over WebSockets and edit one shared Yjs document; see `DESIGN.md` for the map.
#![forbid(unsafe_code)]

pub mod access;
pub mod accounts;
pub mod api;
pub mod app;
pub mod auth;
pub mod bus;
pub mod config;
pub mod ids;
pub mod jwks;
pub mod limits;
pub mod metrics;
pub mod rate;
pub mod render;
pub mod room;
pub mod socket;
pub mod store;
pub mod web;
