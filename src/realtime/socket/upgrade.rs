//! What both protocols do before a socket is theirs: the per-address allowance of new
//! connections, the WebSocket handshake and the socket's settings.
//!
//! The handshake is taken here (as axum's `WebSocketUpgrade` does it) rather than through
//! axum, so that the writer holds tungstenite's own socket and can send raw frames: a large
//! message goes out as fragments, each a slice of the one shared buffer (see `write`).

use std::future::Future;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tracing::debug;

use super::WebSocket;
use super::write::PIECE;
use crate::product::api::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Read buffer per connection: small, so idle connections stay cheap.
const READ_BUFFER: usize = 1024;
/// Outgoing frames gathered before they are written to the socket (a flush writes them
/// sooner): one piece of a large message.
const WRITE_BUFFER: usize = PIECE;
/// The most a connection's outgoing buffer may hold. The writer sends no data frame larger
/// than a piece and waits for the buffer to drain whenever the socket is full, so it holds
/// at most the write buffer and one piece; past the bound, writing fails instead of
/// growing the buffer.
const MAX_WRITE_BUFFER: usize = 4 * PIECE;

/// Counts a new connection from `client` against its per-minute allowance.
pub(super) fn allow_connection(app: &AppState, client: std::net::IpAddr) -> Result<(), ApiError> {
    if app.connects_per_ip.allow(crate::rate::Key::addr(client)) {
        return Ok(());
    }
    metrics::counter!(crate::metrics::LIMITED, "limit" => "connections_per_ip").increment(1);
    Err(ApiError::new(ErrorCode::RateLimited, "too many new connections from this address; retry in a minute"))
}

/// A request to open a WebSocket (RFC 6455 over HTTP/1.1), checked but not yet answered.
pub struct Upgrade {
    key: header::HeaderValue,
    on_upgrade: OnUpgrade,
}

/// Why a request on a WebSocket route is not a WebSocket handshake: the status and
/// message axum's own extractor gives for the same request.
#[derive(Debug)]
pub struct NotAnUpgrade {
    status: StatusCode,
    message: &'static str,
}

impl NotAnUpgrade {
    const fn new(status: StatusCode, message: &'static str) -> Self {
        NotAnUpgrade { status, message }
    }
}

impl From<NotAnUpgrade> for ApiError {
    fn from(e: NotAnUpgrade) -> Self {
        ApiError::rejected(ErrorCode::WebsocketUpgradeRequired, e.status, e.message)
    }
}

impl IntoResponse for NotAnUpgrade {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = NotAnUpgrade;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, NotAnUpgrade> {
        if parts.version > Version::HTTP_11 {
            return Err(NOT_UPGRADABLE);
        }
        if parts.method != Method::GET {
            return Err(NotAnUpgrade::new(StatusCode::METHOD_NOT_ALLOWED, "Request method must be `GET`"));
        }
        if !header_contains(&parts.headers, header::CONNECTION, "upgrade") {
            return Err(NotAnUpgrade::new(StatusCode::BAD_REQUEST, "Connection header did not include 'upgrade'"));
        }
        if !header_eq(&parts.headers, header::UPGRADE, "websocket") {
            return Err(NotAnUpgrade::new(StatusCode::BAD_REQUEST, "`Upgrade` header did not include 'websocket'"));
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
            return Err(NotAnUpgrade::new(StatusCode::BAD_REQUEST, "`Sec-WebSocket-Key` header missing"));
        };
        // RFC 6455 4.2.1: the key is 16 bytes in base64.
        let decoded = base64::engine::general_purpose::STANDARD.decode(key.as_bytes());
        if !decoded.is_ok_and(|k| k.len() == 16) {
            return Err(NotAnUpgrade::new(StatusCode::BAD_REQUEST, "`Sec-WebSocket-Key` is not 16 bytes in base64"));
        }
        if !header_eq(&parts.headers, header::SEC_WEBSOCKET_VERSION, "13") {
            let message = "`Sec-WebSocket-Version` header did not include '13'";
            return Err(NotAnUpgrade::new(StatusCode::BAD_REQUEST, message));
        }
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or(NOT_UPGRADABLE)?;
        Ok(Upgrade { key, on_upgrade })
    }
}

const NOT_UPGRADABLE: NotAnUpgrade = NotAnUpgrade::new(
    StatusCode::UPGRADE_REQUIRED,
    "WebSocket request couldn't be upgraded since no upgrade state was present",
);

impl Upgrade {
    /// Answers 101 Switching Protocols; once the connection is handed over, `serve` runs on
    /// it with the settings both protocols use.
    pub(super) fn accept<F, Fut>(self, max_message_size: usize, serve: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Upgrade { key, on_upgrade } = self;
        // Boxed: what `serve` captures would otherwise stay in the connection's task for
        // as long as the connection lives.
        let serve = Box::new(serve);
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(e) => return debug!(error = %e, "upgrade failed"),
            };
            let socket =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config(max_message_size)))
                    .await;
            serve(socket).await;
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, derive_accept_key(key.as_bytes()))
            .body(Body::empty())
            .expect("static headers and a base64 key are valid")
    }
}

/// The socket settings both protocols use.
fn config(max_message_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size))
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
}

fn header_eq(headers: &HeaderMap, key: HeaderName, value: &str) -> bool {
    headers.get(key).is_some_and(|h| h.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

fn header_contains(headers: &HeaderMap, key: HeaderName, value: &str) -> bool {
    headers.get(key).and_then(|h| h.to_str().ok()).is_some_and(|h| h.to_ascii_lowercase().contains(value))
}
