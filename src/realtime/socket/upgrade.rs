//! What both protocols do before a socket is theirs: the per-address allowance of new
//! connections, and the socket's settings.

use axum::extract::WebSocketUpgrade;

use crate::product::api::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Read buffer per connection: small, so idle connections stay cheap.
const READ_BUFFER: usize = 1024;

/// Counts a new connection from `client` against its per-minute allowance.
pub(super) fn allow_connection(app: &AppState, client: std::net::IpAddr) -> Result<(), ApiError> {
    if app.connects_per_ip.allow(crate::rate::Key::addr(client)) {
        return Ok(());
    }
    metrics::counter!(crate::metrics::LIMITED, "limit" => "connections_per_ip").increment(1);
    Err(ApiError::new(ErrorCode::RateLimited, "too many new connections from this address; retry in a minute"))
}

/// The socket settings both protocols use.
pub(super) fn configure(ws: WebSocketUpgrade, max_message_size: usize) -> WebSocketUpgrade {
    ws.max_message_size(max_message_size).max_frame_size(max_message_size).read_buffer_size(READ_BUFFER)
}
