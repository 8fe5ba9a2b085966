//! What every request handler and socket can reach: the one [`AppState`], built by
//! `app::run` and handed to the router. A module of its own, so the parts that use it
//! import this, not the module that builds the application.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::config::ServeConfig;
use crate::events::Feeds;
use crate::identity::jwks::Jwks;
use crate::identity::tokens::Keys;
use crate::product::render::Renderer;
use crate::rate::{KeyedLimiter, TrustedProxies};
use crate::realtime::bus::Bus;
use crate::realtime::room::Rooms;
use crate::realtime::socket::FrameBudget;
use crate::slots::Slots;
use crate::store::Store;
use crate::store::blobs::Blobs;
use crate::webhooks::Hooks;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ServeConfig>,
    pub keys: Keys,
    pub store: Arc<dyn Store>,
    /// Attachments' bytes (the rows are in `store`).
    pub blobs: Arc<dyn Blobs>,
    pub bus: Arc<Bus>,
    pub rooms: Rooms,
    /// Documents' stored events, as the open event streams hear them.
    pub feeds: Arc<Feeds>,
    /// Webhooks: the debounce of document changes and the dispatcher's wake-up.
    pub hooks: Hooks,
    pub connects_per_ip: Arc<KeyedLimiter>,
    pub login_per_account: Arc<KeyedLimiter>,
    pub login_per_ip: Arc<KeyedLimiter>,
    pub signups_per_ip: Arc<KeyedLimiter>,
    pub requests_per_user: Arc<KeyedLimiter>,
    pub jwks: Option<Arc<Jwks>>,
    /// Renders Markdown within its limits, off the async runtime; holds the render cache.
    pub renderer: Arc<Renderer>,
    /// KiB of large frames that may be in the writers at once (see `socket::write`).
    pub large_frames: Arc<FrameBudget>,
    /// When this node started serving (system info's uptime).
    pub started_at: std::time::Instant,
    /// Account exports being written on this node (one per user).
    pub exports: Arc<Slots>,
    /// Attachment uploads being received on this node.
    pub uploads: Arc<Slots>,
    /// Cancelled when the server shuts down: long-lived responses (event streams) end.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl FromRef<AppState> for TrustedProxies {
    fn from_ref(app: &AppState) -> Self {
        TrustedProxies(app.config.server.trusted_proxies.clone())
    }
}
