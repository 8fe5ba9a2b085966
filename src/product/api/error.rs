//! The one `IntoResponse` for errors: `{"error": {"code", "message"}}` with a stable
//! snake_case code; 5xx causes are logged and answered with an opaque message. Every
//! code a client can see is an [`ErrorCode`], which also decides the HTTP status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::identity::access::{AccessError, Resource};
use crate::identity::accounts::AccountError;
use crate::identity::tokens::AuthError;

/// Declares [`ErrorCode`] from one table: variant, wire code, HTTP status.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $status:ident;)*) => {
        /// What went wrong, as clients see it. The wire code is part of the API: once
        /// published it never changes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, for tests and documentation.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The stable snake_case code in the error body (and in metric labels).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status this code is answered with.
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

error_codes! {
    // The request itself.
    MalformedJson = "malformed_json", BAD_REQUEST;
    InvalidBody = "invalid_body", UNPROCESSABLE_ENTITY;
    InvalidField = "invalid_field", UNPROCESSABLE_ENTITY;
    /// A comment's range is past the end of the text, or its positions do not decode or
    /// do not name this document's text.
    InvalidAnchor = "invalid_anchor", UNPROCESSABLE_ENTITY;
    InvalidQuery = "invalid_query", BAD_REQUEST;
    InvalidCursor = "invalid_cursor", BAD_REQUEST;
    InvalidUtf8 = "invalid_utf8", BAD_REQUEST;
    InvalidRoom = "invalid_room", BAD_REQUEST;
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE;
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE;
    DocumentTooLarge = "document_too_large", PAYLOAD_TOO_LARGE;
    RenderInputTooLarge = "render_input_too_large", PAYLOAD_TOO_LARGE;
    /// An uploaded file is larger than one attachment may be.
    AttachmentTooLarge = "attachment_too_large", PAYLOAD_TOO_LARGE;
    /// The workspace's attachments would pass its quota.
    AttachmentQuotaExceeded = "attachment_quota_exceeded", PAYLOAD_TOO_LARGE;
    /// The document renders past the renderer's limits.
    RenderTooLarge = "render_too_large", UNPROCESSABLE_ENTITY;
    /// A WebSocket route called without a valid upgrade (keeps the handshake's own status:
    /// 400, 405 or 426).
    WebsocketUpgradeRequired = "websocket_upgrade_required", UPGRADE_REQUIRED;
    // Who the caller is.
    MissingToken = "missing_token", UNAUTHORIZED;
    InvalidToken = "invalid_token", UNAUTHORIZED;
    InvalidLink = "invalid_link", UNAUTHORIZED;
    InvalidCredentials = "invalid_credentials", UNAUTHORIZED;
    InvalidRefreshToken = "invalid_refresh_token", UNAUTHORIZED;
    RefreshTokenReused = "refresh_token_reused", UNAUTHORIZED;
    /// An instance admin disabled the account: login, refresh and its tokens are refused.
    AccountDisabled = "account_disabled", UNAUTHORIZED;
    // What the caller may do.
    Forbidden = "forbidden", FORBIDDEN;
    SessionHeaderRequired = "session_header_required", FORBIDDEN;
    /// A `read` personal token asked for something other than GET or HEAD.
    ReadOnlyToken = "read_only_token", FORBIDDEN;
    /// Personal tokens are managed from a signed-in session only.
    SessionRequired = "session_required", FORBIDDEN;
    InvitationForAnotherEmail = "invitation_for_another_email", FORBIDDEN;
    /// Deleting the account: the password given is not the account's.
    WrongPassword = "wrong_password", FORBIDDEN;
    /// Deleting an account without a password takes a sign-in from the last few minutes.
    ReauthenticationRequired = "reauthentication_required", FORBIDDEN;
    // What exists.
    /// Something without a code of its own (a share, a link).
    NotFound = "not_found", NOT_FOUND;
    DocumentNotFound = "document_not_found", NOT_FOUND;
    WorkspaceNotFound = "workspace_not_found", NOT_FOUND;
    UserNotFound = "user_not_found", NOT_FOUND;
    InvitationNotFound = "invitation_not_found", NOT_FOUND;
    /// No such comment on that document.
    CommentNotFound = "comment_not_found", NOT_FOUND;
    /// No such version of that document.
    VersionNotFound = "version_not_found", NOT_FOUND;
    /// No such attachment on that document.
    AttachmentNotFound = "attachment_not_found", NOT_FOUND;
    TokenNotFound = "token_not_found", NOT_FOUND;
    WebhookNotFound = "webhook_not_found", NOT_FOUND;
    RouteNotFound = "route_not_found", NOT_FOUND;
    AssetNotFound = "asset_not_found", NOT_FOUND;
    WebAppMissing = "web_app_missing", NOT_FOUND;
    // The state of things.
    EmailTaken = "email_taken", CONFLICT;
    LastOwner = "last_owner", CONFLICT;
    /// The instance would be left without an enabled admin.
    LastAdmin = "last_admin", CONFLICT;
    CannotDisableSelf = "cannot_disable_self", CONFLICT;
    PersonalWorkspace = "personal_workspace", CONFLICT;
    InvitationUsed = "invitation_used", CONFLICT;
    /// The document holds as many comment threads as it may, or the thread as many replies.
    TooManyComments = "too_many_comments", CONFLICT;
    /// The document keeps as many named versions as it may.
    TooManyVersions = "too_many_versions", CONFLICT;
    TooManyTokens = "too_many_tokens", CONFLICT;
    /// The workspace holds as many webhooks as it may.
    TooManyWebhooks = "too_many_webhooks", CONFLICT;
    /// A document with more attachments than one request copies.
    TooManyAttachments = "too_many_attachments", CONFLICT;
    /// A webhook's URL resolves to an address that is not public (allowed only with
    /// `--webhook-allow-private`; which address is not said), or does not resolve.
    WebhookTargetRefused = "webhook_target_refused", UNPROCESSABLE_ENTITY;
    InvitationExpired = "invitation_expired", GONE;
    /// A changes-feed cursor older than the changes kept: list everything again.
    CursorExpired = "cursor_expired", GONE;
    RateLimited = "rate_limited", TOO_MANY_REQUESTS;
    TooManyAttempts = "too_many_attempts", TOO_MANY_REQUESTS;
    /// The caller already holds as many event streams open as it may.
    TooManyStreams = "too_many_streams", TOO_MANY_REQUESTS;
    /// The caller's previous export is still being written.
    ExportRunning = "export_running", TOO_MANY_REQUESTS;
    UploadsRunning = "uploads_running", TOO_MANY_REQUESTS;
    // The server's side: retry later, or a bug.
    Internal = "internal", INTERNAL_SERVER_ERROR;
    StoreUnavailable = "store_unavailable", SERVICE_UNAVAILABLE;
    DocumentUnavailable = "document_unavailable", SERVICE_UNAVAILABLE;
    IdentityProviderUnavailable = "identity_provider_unavailable", SERVICE_UNAVAILABLE;
    RenderTimedOut = "render_timed_out", SERVICE_UNAVAILABLE;
    /// As many diffs as the server runs at once are running; retry shortly.
    DiffBusy = "diff_busy", SERVICE_UNAVAILABLE;
}

/// Compares with a wire code, as tests and clients see it.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the API answers it: a code (which decides the status) and a message.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// `code.status()`, except for an axum rejection that decides its own.
    status: StatusCode,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), status: code.status() }
    }

    /// For rejections whose status the HTTP layer decides (axum's extractors, the
    /// WebSocket handshake); the code stays ours.
    pub(crate) fn rejected(code: ErrorCode, status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), status }
    }

    /// A server bug: the cause is logged, the client gets an opaque message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal, "internal server error")
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let code = match e {
            AuthError::MissingToken => ErrorCode::MissingToken,
            AuthError::InvalidToken(_) => ErrorCode::InvalidToken,
            AuthError::NoGrant(_) => ErrorCode::Forbidden,
            AuthError::ProviderUnavailable(_) => {
                tracing::warn!(error = %e, "identity provider unavailable");
                let message = "the identity provider is unavailable; retry shortly";
                return Self::new(ErrorCode::IdentityProviderUnavailable, message);
            }
            AuthError::BadGrant(_) | AuthError::Secret(_) | AuthError::WeakSecret(_) => return Self::internal(e),
        };
        Self::new(code, e.to_string())
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        let code = match e {
            AccessError::Auth(e) => return e.into(),
            AccessError::Account(e) => return e.into(),
            AccessError::Store(e) => return e.into(),
            AccessError::MalformedAuthorization => ErrorCode::InvalidToken,
            AccessError::InvalidLink => ErrorCode::InvalidLink,
            AccessError::RateLimited => ErrorCode::RateLimited,
            AccessError::NotFound(what) => match what {
                Resource::Document => ErrorCode::DocumentNotFound,
                Resource::Workspace => ErrorCode::WorkspaceNotFound,
                Resource::User => ErrorCode::UserNotFound,
                Resource::Token => ErrorCode::TokenNotFound,
                Resource::Webhook => ErrorCode::WebhookNotFound,
                Resource::Share | Resource::Link => ErrorCode::NotFound,
            },
            AccessError::Forbidden(_) | AccessError::LinkOnly => ErrorCode::Forbidden,
            AccessError::ReadOnlyToken => ErrorCode::ReadOnlyToken,
            AccessError::SessionRequired => ErrorCode::SessionRequired,
        };
        Self::new(code, e.to_string())
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        let code = match e {
            AccountError::UnknownRefreshToken
            | AccountError::SessionRevoked
            | AccountError::RefreshTokenExpired
            | AccountError::AccountGone => ErrorCode::InvalidRefreshToken,
            AccountError::RefreshTokenReused => ErrorCode::RefreshTokenReused,
            AccountError::AccountDisabled => ErrorCode::AccountDisabled,
            AccountError::EmailTaken => ErrorCode::EmailTaken,
            AccountError::Internal(_) => return Self::internal(e),
            AccountError::Store(e) => return e.into(),
        };
        Self::new(code, e.to_string())
    }
}

impl From<crate::store::StoreError> for ApiError {
    /// An unreachable database is an outage (503, retry), not a server bug; a row that
    /// went away meanwhile (deleted by another request) is not found.
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::Conflict;
        if e.is_unavailable() {
            tracing::warn!(error = %e, "store unavailable");
            return Self::new(ErrorCode::StoreUnavailable, "the database is unavailable; retry shortly");
        }
        if let crate::store::StoreError::Full(limit) = &e {
            return Self::new(ErrorCode::TooManyVersions, limit.clone());
        }
        let code = match e.conflict() {
            Some(Conflict::EmailTaken) => ErrorCode::EmailTaken,
            Some(Conflict::DocumentParentGone) => ErrorCode::WorkspaceNotFound,
            Some(Conflict::LinkDocumentGone) => ErrorCode::DocumentNotFound,
            Some(Conflict::ShareTargetGone) => ErrorCode::NotFound,
            // Settled where they happen (a racing sign-in) or a bug (ids are random).
            Some(Conflict::IdentityTaken | Conflict::DocumentIdTaken) | None => return Self::internal(e),
        };
        Self::new(code, e.to_string())
    }
}

/// The blob store failing is this server's fault (a full or unwritable disk): logged, 500.
impl From<crate::store::blobs::BlobError> for ApiError {
    fn from(e: crate::store::blobs::BlobError) -> Self {
        Self::internal(e)
    }
}

impl From<crate::realtime::room::RoomError> for ApiError {
    fn from(e: crate::realtime::room::RoomError) -> Self {
        tracing::warn!(error = %e, "room unavailable for a REST call");
        Self::new(ErrorCode::DocumentUnavailable, "the document is unavailable; retry shortly")
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
        let body = json!({ "error": { "code": self.code.as_str(), "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_errors_by_status() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{s}"
            );
            let status = code.status();
            assert!(status.is_client_error() || status.is_server_error(), "{s}: {status}");
        }
    }

    #[test]
    fn refusals_are_exactly_the_client_errors() {
        let store = || crate::store::StoreError::WriterGone;
        let access = [
            AccessError::Auth(AuthError::MissingToken),
            AccessError::Auth(AuthError::InvalidToken("x".into())),
            AccessError::Auth(AuthError::NoGrant("x".into())),
            AccessError::Auth(AuthError::ProviderUnavailable("x".into())),
            AccessError::Auth(AuthError::BadGrant("x".into())),
            AccessError::MalformedAuthorization,
            AccessError::InvalidLink,
            AccessError::RateLimited,
            AccessError::NotFound(Resource::Document),
            AccessError::Forbidden("x".into()),
            AccessError::LinkOnly,
            AccessError::Store(store()),
            AccessError::Account(AccountError::EmailTaken),
            AccessError::Account(AccountError::Internal("x".into())),
        ];
        for e in access {
            let refusal = e.is_refusal();
            let status = ApiError::from(e).status();
            assert_eq!(refusal, status.is_client_error(), "{status}");
        }
        let accounts = [
            AccountError::UnknownRefreshToken,
            AccountError::SessionRevoked,
            AccountError::RefreshTokenExpired,
            AccountError::AccountGone,
            AccountError::RefreshTokenReused,
            AccountError::AccountDisabled,
            AccountError::EmailTaken,
            AccountError::Internal("x".into()),
            AccountError::Store(store()),
        ];
        for e in accounts {
            let (refusal, ends) = (e.is_refusal(), e.ends_session());
            let status = ApiError::from(e).status();
            assert_eq!(refusal, status.is_client_error(), "{status}");
            assert_eq!(ends, status == StatusCode::UNAUTHORIZED, "{status}");
        }
    }

    #[test]
    fn internal_errors_are_opaque() {
        let e = ApiError::internal("the secret cause");
        assert_eq!((e.status(), e.code.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "internal"));
        assert!(!e.message.contains("secret"));
    }
}
