//! The product around the rooms: the REST API ([`api`], one file per resource), what an
//! attached file is served as ([`attachments`]), Markdown
//! rendering ([`render`]), differences between versions ([`diff`]) and the web app the
//! server hands to browsers ([`web`]).

pub mod api;
pub mod attachments;
pub mod diff;
pub mod render;
pub mod web;
