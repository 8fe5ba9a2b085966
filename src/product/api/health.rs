//! `/healthz` (the process answers) and `/readyz` (the store answers too: the node can
//! make edits durable). The bus is not part of readiness: every node shares one Redis, so
//! a Redis outage would take every node out at once, while each node goes on serving its
//! rooms alone and catches up with the others when Redis is back (anti-entropy);
//! `tandem_bus_publish_failures_total` shows the outage.

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::error::{ApiError, ErrorCode};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(|| async { "ok" })).route("/readyz", get(ready))
}

async fn ready(State(app): State<AppState>) -> Result<&'static str, ApiError> {
    app.store.ping().await.map_err(|e| ApiError::new(ErrorCode::StoreUnavailable, e.to_string()))?;
    Ok("ready")
}
