//! The product around the rooms: the REST API ([`api`], one file per resource), what an
//! attached file is served as ([`attachments`]), deleting documents for good ([`erase`]), Markdown
//! rendering ([`render`]), differences between versions ([`diff`]) and the web app the
//! server hands to browsers ([`web`]).

pub mod api;
pub mod attachments;
pub mod diff;
pub mod erase;
pub mod render;
pub mod web;
