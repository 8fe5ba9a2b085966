//! `/api/v1/workspaces/{id}/webhooks`: a workspace's webhooks, managed by its admins and
//! owners. Registered with a URL and the event types to send (the signing secret is
//! answered once), listed, deleted, pinged, and each with the log of its deliveries.
//! Sending is the `webhooks` module's; see it for the envelope, signature and retries.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::identity::access::{Caller, Resource, not_found, workspace_role};
use crate::identity::audit;
use crate::ids::{DeliveryId, UserId, WebhookId, WorkspaceId, random_hex};
use crate::state::AppState;
use crate::store::audit::{AuditAction, AuditEntry};
use crate::store::catalog::{Role, now_ms};
use crate::store::webhooks::{Delivery, EVENT_TYPES, Ping, Webhook};
use crate::webhooks::target::{self, TargetError};

/// Most webhooks one workspace may hold.
pub const MAX_HOOKS_PER_WORKSPACE: i64 = 20;
/// Most entries of a delivery log page, and the default.
const MAX_PAGE: u32 = 100;
const DEFAULT_PAGE: u32 = 50;
/// Furthest a delivery log may be paged into (the log keeps 200 finished deliveries).
const MAX_OFFSET: u32 = 10_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, delete))
        .routes(routes!(deliveries))
        .routes(routes!(ping))
}

/// A new webhook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where deliveries are POSTed: http or https, at most 2048 bytes, a public address.
    pub url: String,
    /// Event types to send: `document.created`, `document.updated`, `document.deleted`,
    /// `comment.created`, `version.created`, `member.added`, `member.removed`.
    pub events: Vec<String>,
}

/// A webhook just made, with its signing secret: shown this once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub hook: Webhook,
    /// The HMAC-SHA256 key of `X-Tandem-Signature`.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PingView {
    /// The ping's delivery (its `X-Tandem-Delivery`), to find in the log: the one still
    /// waiting when there is one (a hook has at most one ping waiting).
    #[schema(value_type = String)]
    pub delivery_id: DeliveryId,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// 1 to 100 (default 50).
    pub limit: Option<u32>,
    /// Deliveries to skip, newest first (default 0).
    pub offset: Option<u32>,
}

/// The caller, when an admin or owner of the workspace.
async fn admin<'c>(app: &AppState, caller: &'c Caller, ws: &WorkspaceId) -> Result<&'c UserId, ApiError> {
    let user = caller.user()?;
    workspace_role(app, user, ws, Role::Admin).await?;
    Ok(user)
}

/// The workspace's hook, for its admins.
async fn hook_of(app: &AppState, caller: &Caller, ws: &WorkspaceId, id: &WebhookId) -> Result<Webhook, ApiError> {
    admin(app, caller, ws).await?;
    Ok(app.store.webhook(ws, id).await?.ok_or_else(|| not_found(Resource::Webhook))?)
}

/// The event types asked for, checked and without repeats.
fn events_field(events: &[String]) -> Result<Vec<String>, ApiError> {
    let invalid = |m: String| ApiError::new(ErrorCode::InvalidField, m);
    if events.is_empty() || events.len() > EVENT_TYPES.len() * 2 {
        return Err(invalid(format!("`events` must list 1 to {} event types", EVENT_TYPES.len())));
    }
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for e in events {
        if !EVENT_TYPES.contains(&e.as_str()) {
            let known = EVENT_TYPES.join(", ");
            return Err(invalid(format!("`events`: {:.64} is not an event type ({known})", e)));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

fn target_error(e: TargetError) -> ApiError {
    match e {
        TargetError::Invalid(_) => ApiError::new(ErrorCode::InvalidField, e.to_string()),
        TargetError::Private | TargetError::Unresolved(_) => {
            ApiError::new(ErrorCode::WebhookTargetRefused, e.to_string())
        }
    }
}

/// The workspace's webhooks, oldest first (admins and owners).
#[utoipa::path(get, path = "/api/v1/workspaces/{id}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = [Webhook]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    admin(&app, &caller, &id).await?;
    Ok(Json(app.store.webhooks_of(&id).await?))
}

/// Registers a webhook (admins and owners); the answer holds its signing secret, shown
/// only this once.
#[utoipa::path(post, path = "/api/v1/workspaces/{id}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = CreateWebhook,
    responses((status = 201, body = CreatedWebhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "too_many_webhooks", body = ErrorBody),
        (status = 422, description = "invalid_field, webhook_target_refused", body = ErrorBody)))]
async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    let user = admin(&app, &caller, &id).await?;
    let events = events_field(&body.events)?;
    let url = target::parse(body.url.trim()).map_err(target_error)?;
    target::check(&url, app.config.webhooks.webhook_allow_private).await.map_err(target_error)?;
    let hook = Webhook {
        id: WebhookId::random(),
        workspace_id: id.clone(),
        url: url.to_string(),
        events,
        created_by: Some(user.clone()),
        created_at: now_ms(),
        failures: 0,
        disabled_at: None,
    };
    let secret = format!("whsec_{}", random_hex(32));
    if !app.store.create_webhook(&hook, &secret, MAX_HOOKS_PER_WORKSPACE).await? {
        let message = format!("a workspace holds at most {MAX_HOOKS_PER_WORKSPACE} webhooks; delete one first");
        return Err(ApiError::new(ErrorCode::TooManyWebhooks, message));
    }
    tracing::info!(workspace = %id, hook = %hook.id, "webhook registered");
    let made = AuditEntry::new(AuditAction::WebhookCreated).actor(user).target("webhook", &hook.id).workspace(&id);
    audit::record(&app, made.detail(serde_json::json!({"url": hook.url, "events": hook.events}))).await;
    Ok((StatusCode::CREATED, Json(CreatedWebhook { hook, secret })))
}

/// One webhook (admins and owners).
#[utoipa::path(get, path = "/api/v1/workspaces/{id}/webhooks/{hook}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path), ("hook" = String, Path)),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_one(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, hook)): ApiPath<(WorkspaceId, WebhookId)>,
) -> Result<Json<Webhook>, ApiError> {
    Ok(Json(hook_of(&app, &caller, &id, &hook).await?))
}

/// Deletes a webhook with its deliveries, sent or waiting (admins and owners).
#[utoipa::path(delete, path = "/api/v1/workspaces/{id}/webhooks/{hook}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path), ("hook" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, hook)): ApiPath<(WorkspaceId, WebhookId)>,
) -> Result<StatusCode, ApiError> {
    let user = admin(&app, &caller, &id).await?;
    if !app.store.delete_webhook(&id, &hook).await? {
        return Err(not_found(Resource::Webhook).into());
    }
    tracing::info!(workspace = %id, %hook, "webhook deleted");
    audit::record(
        &app,
        AuditEntry::new(AuditAction::WebhookDeleted).actor(user).target("webhook", &hook).workspace(&id),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's deliveries, newest first: waiting, delivered and failed, with the last
/// attempt's status, error and latency (admins and owners).
#[utoipa::path(get, path = "/api/v1/workspaces/{id}/webhooks/{hook}/deliveries", tag = "webhooks",
    security(("bearer" = [])), params(("id" = String, Path), ("hook" = String, Path), DeliveryQuery),
    responses((status = 200, body = [Delivery]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn deliveries(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, hook)): ApiPath<(WorkspaceId, WebhookId)>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    let offset = q.offset.unwrap_or(0);
    if !(1..=MAX_PAGE).contains(&limit) || offset > MAX_OFFSET {
        let message = format!("`limit` must be 1 to {MAX_PAGE} and `offset` at most {MAX_OFFSET}");
        return Err(ApiError::new(ErrorCode::InvalidQuery, message));
    }
    let hook = hook_of(&app, &caller, &id, &hook).await?;
    Ok(Json(app.store.deliveries(&hook.id, i64::from(limit), i64::from(offset)).await?))
}

/// Sends the webhook a `ping` event now (admins and owners), even when it is disabled, so
/// a fixed receiver can be checked; the delivery shows in the log. While a ping is still
/// waiting, no other is queued: that one is answered.
#[utoipa::path(post, path = "/api/v1/workspaces/{id}/webhooks/{hook}/ping", tag = "webhooks",
    security(("bearer" = [])), params(("id" = String, Path), ("hook" = String, Path)),
    responses((status = 202, body = PingView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn ping(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, hook)): ApiPath<(WorkspaceId, WebhookId)>,
) -> Result<(StatusCode, Json<PingView>), ApiError> {
    let hook = hook_of(&app, &caller, &id, &hook).await?;
    let delivery_id = match app.store.enqueue_ping(&hook, now_ms()).await? {
        Ping::Queued(id) => {
            app.hooks.wake();
            id
        }
        Ping::Waiting(id) => id,
    };
    Ok((StatusCode::ACCEPTED, Json(PingView { delivery_id })))
}
