//! REST API under `/api/v1`: one module per resource, each with its own `router()`, the
//! one error type, and the OpenAPI document generated from the same handlers that serve.

pub mod account;
pub mod admin;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod changes;
pub mod comments;
pub mod content;
pub mod documents;
pub mod error;
pub mod events;
pub mod export;
pub mod extract;
pub mod health;
pub mod mentions;
pub mod notifications;
pub mod profiles;
pub mod session;
pub mod shares;
pub mod tokens;
pub mod users;
pub mod versions;
pub mod webhooks;
pub mod workspaces;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tandem", description = "Real-time collaboration server for Markdown documents: the REST API around the rooms."),
    modifiers(&BearerAuth),
    // Schemas only query parameters refer to (the routes register the rest).
    components(schemas(error::ErrorBody, documents::Order, content::ExportFormat, crate::store::catalog::SortKey)),
    tags((name = "auth"), (name = "users"), (name = "workspaces"), (name = "documents"), (name = "content"), (name = "sharing"), (name = "comments"), (name = "notifications"), (name = "events"), (name = "versions"), (name = "admin"), (name = "webhooks"), (name = "changes"), (name = "attachments"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// Every `/api/v1` route, plus `/api/v1/openapi.json` describing exactly those routes.
pub fn router(max_body: usize, max_attachment: u64) -> Router<AppState> {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(users::router())
        .merge(profiles::router())
        .merge(account::router())
        .merge(export::router())
        .merge(changes::router())
        .merge(tokens::router())
        .merge(workspaces::router())
        .merge(documents::router())
        .merge(content::router())
        .merge(shares::router())
        .merge(comments::router())
        .merge(mentions::router())
        .merge(notifications::router())
        .merge(events::router())
        .merge(versions::router())
        .merge(admin::router())
        .merge(audit::router())
        .merge(webhooks::router())
        .merge(attachments::router(max_attachment))
        .split_for_parts();
    let doc = unique_operation_ids(doc);
    let json = doc.to_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    router
        .route("/api/v1/openapi.json", get(move || async move { ([(CONTENT_TYPE, "application/json")], json) }))
        // Bodies up to the largest document (plus JSON framing); the attachment upload
        // sets its own bound, which wins (its layer runs after this one).
        .layer(DefaultBodyLimit::max(max_body + 64 * 1024))
}

/// Prefixes each operation's id (its handler's name, which repeats across resources:
/// `list`, `create`, `delete`) with its tag, so that every operation has a unique id as
/// OpenAPI requires and client generators rely on (`workspaces_list`, `documents_list`).
fn unique_operation_ids(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for op in operations.into_iter().flatten() {
            if let (Some(id), Some(tag)) = (&op.operation_id, op.tags.as_ref().and_then(|t| t.first())) {
                op.operation_id = Some(format!("{tag}_{id}"));
            }
        }
    }
    doc
}

/// Unknown routes answer in the API's error format.
pub async fn fallback() -> error::ApiError {
    error::ApiError::new(error::ErrorCode::RouteNotFound, "no such route")
}
