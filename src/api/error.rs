//! The one `IntoResponse` for errors: `{"error": {"code", "message"}}` with a stable
//! snake_case code; 5xx causes are logged and answered with an opaque message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::AuthError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal server error")
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let status = match e {
            AuthError::MissingToken | AuthError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            AuthError::NoGrant(_) => StatusCode::FORBIDDEN,
            AuthError::ProviderUnavailable(_) => {
                tracing::warn!(error = %e, "identity provider unavailable");
                let message = "the identity provider is unavailable; retry shortly";
                return Self::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), message);
            }
            AuthError::BadGrant(_) | AuthError::Secret(_) | AuthError::WeakSecret(_) => return Self::internal(e),
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<crate::store::StoreError> for ApiError {
    /// An unreachable database is an outage (503, retry), not a server bug.
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "store unavailable");
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the database is unavailable; retry shortly",
            );
        }
        Self::internal(e)
    }
}

impl From<crate::room::RoomError> for ApiError {
    fn from(e: crate::room::RoomError) -> Self {
        tracing::warn!(error = %e, "room unavailable for a REST call");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "document_unavailable", "the document is unavailable; retry shortly")
    }
}

/// The error body, for the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `document_not_found`.
    pub code: String,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}
