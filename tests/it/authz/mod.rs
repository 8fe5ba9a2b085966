//! The authorization matrix: every role (owner, admin, editor, commenter, viewer), a user
//! the document is shared with, a public view link, a stranger, the instance admin (a
//! member of nothing here) and an anonymous caller,
//! an edit link, against every REST endpoint and the WebSocket, on SQLite and Postgres. Each cell states
//! its exact answer: the success status, 401 without credentials, 404 where the caller
//! cannot see the resource, 403 where it can but its role is too weak. Then access
//! changes reaching open connections.

mod cases;
mod live;
mod matrix;
mod personal_tokens;
mod web_app;
mod world;

use live::{access_changes_reach_open_connections, room_tokens_never_open_catalogued_documents};
use matrix::every_role_against_every_endpoint;
use personal_tokens::{
    account_routes_for_personal_tokens_and_removed_members,
    personal_tokens_and_removed_members_against_the_admin_and_audit_routes,
};
use web_app::the_web_app_is_public_and_the_session_cookie_needs_the_apps_header;

on_both_databases!(
    every_role_against_every_endpoint,
    access_changes_reach_open_connections,
    room_tokens_never_open_catalogued_documents,
    the_web_app_is_public_and_the_session_cookie_needs_the_apps_header,
    personal_tokens_and_removed_members_against_the_admin_and_audit_routes,
    account_routes_for_personal_tokens_and_removed_members,
);
