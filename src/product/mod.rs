//! The product around the rooms: the REST API ([`api`], one file per resource), Markdown
//! rendering ([`render`]), differences between versions ([`diff`]) and the web app the
//! server hands to browsers ([`web`]).

pub mod api;
pub mod diff;
pub mod render;
pub mod web;
