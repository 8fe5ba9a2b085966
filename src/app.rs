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

use crate::config::{ApiConfig, Retention, ServeConfig};
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
use crate::{metrics, product::api};

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

/// Renders take at most half the cores (at least one), whatever the rooms are doing.
/// Attachments' bytes: in the bucket when one is configured, else in the attachments folder.
fn blobs(config: &ServeConfig) -> Result<Arc<dyn store::blobs::Blobs>, store::blobs::BlobError> {
    let dir = config.attachments.dir(&config.common.data_dir);
    Ok(match store::blobs_s3::S3Settings::from_config(&config.attachments) {
        Some(s3) => Arc::new(store::blobs_s3::S3Blobs::open(&s3, &dir.join("tmp"))?),
        None => Arc::new(store::blobs::LocalBlobs::open(&dir)?),
    })
}

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
    tokio::spawn(thin_versions(state.store.clone(), state.config.room.version_retention.clone(), root.child_token()));
    tokio::spawn(prune_audit(state.store.clone(), state.config.auth.audit_retention_days, root.child_token()));
    let retention = state.config.api.changes_retention;
    tokio::spawn(api::changes::prune(state.store.clone(), retention, root.child_token()));
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

/// How often old automatic versions are thinned, and most deleted per run.
const THIN_EVERY: Duration = Duration::from_secs(3600);
const THIN_MAX: u32 = 10_000;

/// Thins old automatic versions by the retention rules: a minute after start, then hourly.
async fn thin_versions(store: Arc<dyn store::Store>, retention: Retention, stop: CancellationToken) {
    if retention.min_age().is_none() {
        return;
    }
    let mut next = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.cancelled() => return,
        }
        match store.thin_versions(&retention, store::catalog::now_ms(), THIN_MAX).await {
            Ok(0) => {}
            Ok(n) => info!(versions = n, "thinned old automatic versions"),
            Err(e) => warn!(error = %e, "thinning versions failed; retrying next hour"),
        }
        next += THIN_EVERY;
    }
}

/// Most audit events deleted per batch; batches repeat until none is left.
const PRUNE_BATCH: u32 = 10_000;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// Prunes audit events older than the retention, as versions are thinned: a minute after
/// start, then hourly (0 days: kept forever).
async fn prune_audit(store: Arc<dyn store::Store>, days: u32, stop: CancellationToken) {
    if days == 0 {
        return;
    }
    let mut next = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.cancelled() => return,
        }
        match prune_audit_now(store.as_ref(), days).await {
            Ok(0) => {}
            Ok(n) => info!(events = n, "pruned old audit events"),
            Err(e) => warn!(error = %e, "pruning audit events failed; retrying next hour"),
        }
        next += THIN_EVERY;
    }
}

/// Deletes every audit event older than `days`, batch by batch (at most 100 batches a run).
pub async fn prune_audit_now(store: &dyn store::Store, days: u32) -> Result<u64, store::StoreError> {
    let before = store::catalog::now_ms() - i64::from(days) * DAY_MS;
    let mut total = 0;
    for _ in 0..100 {
        let n = store.prune_audit(before, PRUNE_BATCH).await?;
        total += n;
        if n < u64::from(PRUNE_BATCH) {
            break;
        }
    }
    Ok(total)
}
