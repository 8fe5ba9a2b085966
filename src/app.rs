//! Builds the application from its config and runs it on a bound listener until the
//! shutdown future resolves. Tests call [`run`] on `127.0.0.1:0`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::{ApiConfig, ServeConfig};
use crate::events::Feeds;
use crate::identity::jwks::{Jwks, JwksConfig};
use crate::identity::tokens::Keys;
use crate::product::render::{self, Renderer};
use crate::rate::KeyedLimiter;
use crate::realtime::bus::local::Local;
use crate::realtime::bus::redis::RedisTransport;
use crate::realtime::bus::{Bus, NodeId};
use crate::realtime::room::Rooms;
use crate::realtime::socket;
use crate::state::AppState;
use crate::store;
use crate::webhooks::Hooks;
use crate::{maintenance, metrics, product::api};

/// How long shutdown waits for rooms to flush before giving up.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/ws/{*room}", get(socket::ws::upgrade))
        .route("/hocuspocus", get(socket::hocuspocus::upgrade))
        .route("/metrics", get(metrics::render))
        .merge(api::health::router())
        .merge(api::router(state.config.api.max_document_size, state.config.attachments.attachment_max_bytes))
        .fallback(crate::product::web::fallback)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::identity::audit::with_address))
        .layer(axum::middleware::from_fn(metrics::track_http))
        .with_state(state)
}

/// Attachments' bytes: in the bucket when one is configured, else in the attachments folder.
fn blobs(config: &ServeConfig) -> Result<Arc<dyn store::blobs::Blobs>, store::blobs::BlobError> {
    let dir = config.attachments.dir(&config.common.data_dir);
    Ok(match store::blobs_s3::S3Settings::from_config(&config.attachments) {
        Some(s3) => Arc::new(store::blobs_s3::S3Blobs::open(&s3, &dir.join("tmp"))?),
        None => Arc::new(store::blobs::LocalBlobs::open(&dir)?),
    })
}

/// Renders take at most half the cores (at least one), whatever the rooms are doing.
fn renderer(config: &ApiConfig) -> Renderer {
    let limits = render::Limits { max_input: config.max_render_input, max_output: config.max_render_output };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Renderer::new(limits, config.render_timeout, config.render_cache_bytes, cores / 2)
}

/// Serves until `shutdown` resolves, then stops accepting, flushes every room, closes
/// every socket with 1012 and returns.
pub async fn run(
    config: ServeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    metrics::handle();
    let keys = Keys::load(config.signing.jwt_secret.as_deref(), &config.common.data_dir)?;
    let identity_provider = JwksConfig::from_config(&config.auth).map_err(anyhow::Error::msg)?;
    let store = store::open(&config.database_url(), config.storage.sqlite_synchronous).await?;
    let root = CancellationToken::new();
    let tracker = TaskTracker::new();
    let node = NodeId::random();
    let bus = match &config.server.redis_url {
        Some(url) => {
            let (transport, incoming) = RedisTransport::connect(url).await?;
            Bus::start(node, Arc::new(transport), incoming)
        }
        None => Bus::start(node, Arc::new(Local), tokio::sync::mpsc::channel(1).1),
    };
    bus.listen_for_notices().await?;
    info!(%node, distributed = bus.distributed(), "bus ready");
    let hooks = Hooks::start(store.clone(), &config.webhooks, &tracker, root.child_token())?;
    let rooms = Rooms::new(
        store.clone(),
        bus.clone(),
        config.room.clone(),
        hooks.changes.clone(),
        tracker.clone(),
        root.child_token(),
    );
    let connects_per_ip = Arc::new(KeyedLimiter::per_minute(config.socket.max_connections_per_ip_per_minute));
    let jwks = match identity_provider {
        Some(cfg) => Some(Arc::new(Jwks::new(cfg)?)),
        None => None,
    };
    let feeds = Feeds::start(store.clone(), &bus);
    let blobs = blobs(&config)?;
    let state = AppState {
        keys,
        store,
        blobs,
        bus,
        feeds,
        hooks,
        rooms,
        connects_per_ip,
        login_per_account: Arc::new(KeyedLimiter::per_minute(config.auth.login_attempts_per_minute)),
        login_per_ip: Arc::new(KeyedLimiter::per_minute(config.auth.login_attempts_per_minute.saturating_mul(10))),
        signups_per_ip: Arc::new(KeyedLimiter::per_hour(config.auth.max_signups_per_ip_per_hour)),
        requests_per_user: Arc::new(KeyedLimiter::per_minute(config.api.max_requests_per_user_per_minute)),
        jwks,
        renderer: Arc::new(renderer(&config.api)),
        large_frames: Arc::new(socket::FrameBudget::new(config.socket.large_frame_budget)),
        exports: api::export::slots(),
        uploads: api::attachments::slots(),
        shutdown: root.child_token(),
        started_at: std::time::Instant::now(),
        config: Arc::new(config),
    };
    let config = &state.config;
    let (audit_days, changes) = (config.auth.audit_retention_days, config.api.changes_retention);
    maintenance::start(&tracker, &root, &state.store, &config.room.version_retention, audit_days, changes);
    let app = router(state.clone());
    info!(addr = %listener.local_addr()?, "listening");
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            warn!(error = %e, "TCP_NODELAY failed");
        }
    });
    let stop = root.clone();
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        info!("shutting down: flushing rooms");
        stop.cancel();
    });
    server.await?;
    // WebSocket tasks outlive axum's graceful shutdown; rooms close them with 1012.
    drop(state);
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_TIMEOUT, tracker.wait()).await.is_err() {
        warn!("shutdown timed out with rooms still flushing");
    }
    info!("stopped");
    Ok(())
}
