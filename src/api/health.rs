//! `/healthz` (the process answers) and `/readyz` (the store and the bus answer too).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use super::error::ApiError;
use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(|| async { "ok" })).route("/readyz", get(ready))
}

async fn ready(State(app): State<AppState>) -> Result<&'static str, ApiError> {
    app.store
        .ping()
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string()))?;
    Ok("ready")
}
