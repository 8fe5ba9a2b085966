//! `GET /api/v1/documents/{id}/events`: a document's events as Server-Sent Events, for
//! any client (y-websocket ones included). Each stored event (`comment.created`,
//! `comment.updated`, `comment.deleted`, `version.created`) comes with its number as the
//! SSE `id`; a client
//! reconnecting with `Last-Event-ID` gets what it missed, or a `reset` event when that is
//! no longer kept. The caller's access is rechecked whenever access changes anywhere and on
//! the `--access-recheck` timer (links and personal tokens looked up again): a changed role
//! sends `access.changed`, lost access `access.revoked` and ends the stream. Streams end
//! when the server shuts down.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::json;
use tokio::sync::mpsc;
use tracing::warn;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::ApiPath;
use crate::events::{EventView, Listener, StreamSlot};
use crate::identity::access::{AccessError, Caller};
use crate::ids::DocId;
use crate::state::AppState;
use crate::store::catalog::Role;

/// How often an idle stream sends a comment line (proxies close silent connections).
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Frames queued for one stream before its pump waits for the client to read.
const STREAM_QUEUE: usize = 16;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// The document's live events (`text/event-stream`); see the module docs for the frames.
#[utoipa::path(get, path = "/api/v1/documents/{id}/events", tag = "events", security(("bearer" = [])),
    params(("id" = String, Path), ("Last-Event-ID" = Option<u64>, Header, description = "the last event id seen")),
    responses((status = 200, content_type = "text/event-stream", body = EventView),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn stream(
    State(app): State<AppState>,
    crate::rate::ClientIp(client): crate::rate::ClientIp,
    caller: Caller,
    ApiPath(id): ApiPath<DocId>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Watched from before access is checked, so no change after the check is missed.
    let epoch = app.bus.access_epoch();
    let (_, role) = caller.document(&app, &id, Role::Viewer).await?;
    let key = match &caller {
        // Everyone holding a public link shares its id: count them by address too, so one
        // holder cannot take every slot of the link.
        Caller::Link(link) => format!("link:{}:{client}", link.id),
        other => format!("user:{}", other.user()?),
    };
    let slot = app
        .feeds
        .hold(key)
        .ok_or_else(|| ApiError::new(ErrorCode::TooManyStreams, "too many event streams open; close one first"))?;
    let after = headers.get("last-event-id").and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    let listener = app.feeds.listen(&id, after).await?;
    let (tx, rx) = mpsc::channel::<Event>(STREAM_QUEUE);
    tokio::spawn(pump(Pump { app, caller, doc: id, role, listener, _slot: slot, tx }, epoch));
    let events = futures_util::stream::unfold(rx, |mut rx| async move { Some((Ok(rx.recv().await?), rx)) });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("ping")))
}

struct Pump {
    app: AppState,
    caller: Caller,
    doc: DocId,
    role: Role,
    listener: Listener,
    _slot: StreamSlot,
    tx: mpsc::Sender<Event>,
}

/// Moves one stream's events until the client leaves or loses access.
async fn pump(mut p: Pump, mut epoch: tokio::sync::watch::Receiver<u64>) {
    if p.listener.take_missed() && !p.send(json!({"type": "reset"})).await {
        return;
    }
    // Rechecked on every access change, and on a timer as sockets are (an expired token,
    // a change announced while the bus was down).
    let mut recheck = tokio::time::interval(p.app.config.auth.access_recheck.max(Duration::from_millis(100)));
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.reset();
    let shutdown = p.app.shutdown.clone();
    loop {
        tokio::select! {
            events = p.listener.next() => match events {
                Ok(events) => {
                    for e in &events {
                        let view = EventView::from(e);
                        let frame = Event::default().id(view.id.to_string()).event(view.kind).json_data(&view);
                        let Ok(frame) = frame else { continue };
                        if p.tx.send(frame).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    warn!(doc = %p.doc, error = %e, "event stream cannot read the store; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            changed = epoch.changed() => {
                if changed.is_err() || !p.recheck().await {
                    return;
                }
            }
            _ = recheck.tick() => {
                if !p.recheck().await {
                    return;
                }
            }
            _ = p.tx.closed() => return,
            // Open streams must not hold a graceful shutdown up: the client reconnects.
            _ = shutdown.cancelled() => return,
        }
    }
}

impl Pump {
    async fn send(&self, data: serde_json::Value) -> bool {
        let kind = data["type"].as_str().unwrap_or("message").to_owned();
        self.tx.send(Event::default().event(kind).data(data.to_string())).await.is_ok()
    }

    /// Access changed somewhere: whether the stream may go on (telling the client its
    /// new role if it changed).
    async fn recheck(&mut self) -> bool {
        // A personal token may have been revoked, or have expired.
        let live = match &self.caller {
            Caller::Token(token) => crate::identity::personal::is_live(&self.app, token).await,
            _ => Ok(true),
        };
        // So may its user have been disabled.
        let disabled = match self.caller.user() {
            Ok(user) => {
                crate::identity::accounts::ensure_enabled(&self.app, user).await.is_err_and(|e| e.ends_session())
            }
            Err(_) => false,
        };
        if disabled || matches!(live, Ok(false)) {
            self.send(json!({"type": "access.revoked"})).await;
            return false;
        }
        // A link is looked up again: it may have been revoked.
        if let Caller::Link(link) = &self.caller {
            match crate::identity::access::link_of_token(&self.app, &link.token).await {
                Ok(fresh) => self.caller = Caller::Link(fresh),
                Err(AccessError::Store(e)) => {
                    warn!(doc = %self.doc, error = %e, "link recheck failed; the stream stays until the next");
                    return true;
                }
                Err(_) => {
                    self.send(json!({"type": "access.revoked"})).await;
                    return false;
                }
            }
        }
        match self.caller.role_on(&self.app, &self.doc, false).await {
            Ok((_, role)) if role == self.role => true,
            Ok((_, role)) => {
                self.role = role;
                self.send(json!({"type": "access.changed", "role": role.as_str()})).await
            }
            Err(AccessError::Store(e)) => {
                warn!(doc = %self.doc, error = %e, "access recheck failed; the stream stays until the next");
                true
            }
            Err(_) => {
                self.send(json!({"type": "access.revoked"})).await;
                false
            }
        }
    }
}
