//! `/hocuspocus`: the Hocuspocus protocol, so an unmodified `@hocuspocus/provider` works.
//! One socket carries many documents; each is joined to its room as a connection of its
//! own once its Auth message's token is accepted (the same tokens as `/ws`: room tokens,
//! user tokens, identity-provider tokens). The room's y-websocket frames are prefixed
//! with the document name on the way out; a client's update is acknowledged with
//! SyncStatus once durable (a refused one, read-only, with SyncStatus false). Anything the
//! room closes, closes the socket: the provider reconnects every document on it.
//!
//! Every frame, the protocol's own (Auth, Close, Ping) included, counts against the
//! socket's limits before any work is done on it. A socket holds at most a configured
//! number of documents, each with its own tasks (forwarder, access watcher) that stop
//! when that document closes, and must authenticate one within a deadline.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use tandem_protocol::ClientMessage;
use tandem_protocol::hocuspocus::{self as hp, Frame};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::{debug, warn};

use crate::access::{authorize_socket, counted_watcher, watch_socket};
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::auth::Access;
use crate::ids::{ConnId, DocId};
use crate::limits::{ConnLimits, PresenceLimits};
use crate::room::{ConnControl, ConnSink, Identity, RoomError, RoomHandle, SYNC_ACK, close_code};
use crate::ws;
use yrs::sync::awareness::AwarenessUpdate;

/// How often the server sends the protocol's own Ping to a v4 provider (it reconnects
/// after 30 s without a message; WebSocket control frames don't count for it). Earlier
/// providers get none: they hear awareness renewals every 15 s.
const APP_PING_EVERY: Duration = Duration::from_secs(10);

pub async fn upgrade(
    State(app): State<AppState>,
    crate::rate::ClientIp(client): crate::rate::ClientIp,
    socket: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    ws::allow_connection(&app, client)?;
    let socket = socket.map_err(|e| ApiError::new(e.status(), "websocket_upgrade_required", e.body_text()))?;
    let max = app.config.max_message_size;
    Ok(ws::configure(socket, max).on_upgrade(move |socket| serve(app, socket)))
}

/// One document open on the socket. Dropping it stops its forwarder and access watcher.
struct Joined {
    room: RoomHandle,
    conn: ConnId,
    identity: Identity,
    presence: PresenceLimits,
    _forwarder: AbortOnDropHandle<()>,
    /// Only for user and link tokens, whose access can change while the document is open.
    _watcher: Option<AbortOnDropHandle<()>>,
}

impl Joined {
    async fn leave(self) {
        self.room.leave(self.conn).await;
    }
}

struct Socket {
    app: AppState,
    out: mpsc::Sender<Bytes>,
    control: Arc<ConnControl>,
    docs: HashMap<String, Joined>,
    limits: ConnLimits,
    /// Cancelled by the first document authenticated: the socket may then stay.
    authenticated: CancellationToken,
    /// The Ping task, started once the client announces v4.
    pinger: Option<AbortOnDropHandle<()>>,
}

async fn serve(app: AppState, socket: WebSocket) {
    let gauge = metrics::gauge!(crate::metrics::CONNECTIONS_ACTIVE);
    gauge.increment(1.0);
    let (out, queue) = mpsc::channel(app.config.send_queue);
    let control = Arc::new(ConnControl::default());
    let alive = Arc::new(AtomicBool::new(true));
    let (tx, mut rx) = socket.split();
    let writer = tokio::spawn(ws::write_loop(
        tx,
        queue,
        control.clone(),
        app.config.ping_interval,
        alive.clone(),
        app.large_frames.clone(),
        ws::Counted::No,
    ));
    let authenticated = CancellationToken::new();
    tokio::spawn(auth_deadline(control.clone(), authenticated.clone(), app.config.hocuspocus_auth_timeout));
    let limits = ConnLimits::new(&app.config);
    let mut socket =
        Socket { app, out, control: control.clone(), docs: HashMap::new(), limits, authenticated, pinger: None };
    socket.read_loop(&mut rx, &alive).await;
    for (_, joined) in socket.docs.drain() {
        joined.leave().await;
    }
    drop(socket);
    control.close(close_code::NORMAL, "");
    let _ = tokio::join!(writer, ws::drain_until_close(&mut rx));
    gauge.decrement(1.0);
}

/// Closes the socket with 4408 unless a document is authenticated within `within`.
async fn auth_deadline(control: Arc<ConnControl>, authenticated: CancellationToken, within: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(within) => {
            metrics::counter!(crate::metrics::LIMITED, "limit" => "hocuspocus_auth_timeout").increment(1);
            control.close(close_code::TIMEOUT, "no document authenticated in time");
        }
        _ = authenticated.cancelled() => {}
        _ = control.closed() => {}
    }
}

async fn app_pings(out: mpsc::Sender<Bytes>, control: Arc<ConnControl>) {
    let mut tick = tokio::time::interval(APP_PING_EVERY);
    tick.reset();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = control.closed() => return,
        }
        if out.try_send(Bytes::from_static(&[hp::PING])).is_err() {
            return;
        }
    }
}

/// One client frame, parsed (and so validated) before anything is done with it.
enum Incoming {
    Ping,
    Pong,
    /// Sync, Awareness or QueryAwareness for a document: a y-websocket message.
    Room {
        name: String,
        msg: ClientMessage,
    },
    /// Auth; `None` for subtypes other than Token.
    Auth {
        name: String,
        auth: Option<hp::TokenAuth>,
    },
    Close {
        name: String,
    },
    /// Stateless messages and types this server does not know: nothing to do.
    Ignored {
        kind: u64,
    },
}

impl Incoming {
    fn parse(frame: &[u8]) -> Result<Self, &'static str> {
        let (name, kind, message) = match hp::split(frame).map_err(|_| "frame")? {
            Frame::Ping => return Ok(Incoming::Ping),
            Frame::Pong => return Ok(Incoming::Pong),
            Frame::Doc { name, kind, message } => (name, kind, message),
        };
        Ok(match kind {
            hp::MSG_SYNC | hp::MSG_AWARENESS | hp::MSG_QUERY_AWARENESS => {
                Incoming::Room { name, msg: ws::decode_counted(message).map_err(|_| "message")? }
            }
            hp::MSG_AUTH => Incoming::Auth { name, auth: hp::auth_token(message).map_err(|_| "auth")? },
            hp::MSG_CLOSE => Incoming::Close { name },
            kind => Incoming::Ignored { kind },
        })
    }
}

impl Socket {
    /// Reads until the client closes or is refused; as on `/ws`, when only the outgoing
    /// side closed, what the client already sent is still applied for a while.
    async fn read_loop(&mut self, rx: &mut SplitStream<WebSocket>, alive: &AtomicBool) {
        let control = self.control.clone();
        let grace = async {
            control.closed().await;
            tokio::time::sleep(ws::INPUT_GRACE).await;
        };
        tokio::pin!(grace);
        loop {
            let next = tokio::select! {
                biased;
                _ = control.refused() => return,
                _ = &mut grace => return,
                _ = ws::idle_after_close(&control) => return,
                (name, update) = next_released(&mut self.docs) => {
                    if let Some(joined) = self.docs.get(&name) {
                        let msg = ws::stamped(update, &joined.identity);
                        if !joined.room.message(joined.conn, msg, 0).await {
                            control.close(close_code::SERVICE_RESTART, "room closed");
                        }
                    }
                    continue;
                }
                next = rx.next() => next,
            };
            let frame = match next {
                Some(Ok(Message::Binary(frame))) => frame,
                Some(Ok(Message::Text(_))) => {
                    metrics::counter!(crate::metrics::REFUSED_FRAMES, "reason" => "text").increment(1);
                    return control.close(close_code::UNSUPPORTED_DATA, "binary frames only");
                }
                Some(Ok(Message::Close(_))) | None => return,
                Some(Ok(_)) => {
                    alive.store(true, Ordering::Relaxed);
                    continue;
                }
                Some(Err(e)) => {
                    if ws::is_too_big(&e) {
                        metrics::counter!(crate::metrics::REFUSED_FRAMES, "reason" => "too_big").increment(1);
                        control.close(close_code::TOO_BIG, "message too big");
                    }
                    return;
                }
            };
            alive.store(true, Ordering::Relaxed);
            // The one place every frame is accounted, whatever it is (the protocol's own
            // Auth, Close and Ping included), before any work on it: over the socket's
            // rates, reading waits.
            tokio::select! {
                biased;
                _ = control.refused() => return,
                () = self.limits.admit(frame.len()) => {}
            }
            let incoming = match Incoming::parse(&frame) {
                Ok(incoming) => incoming,
                Err(reason) => {
                    metrics::counter!(crate::metrics::REFUSED_FRAMES, "reason" => "malformed").increment(1);
                    warn!(error = reason, "malformed hocuspocus frame");
                    return control.close(close_code::INVALID_PAYLOAD, "malformed message");
                }
            };
            self.on_frame(incoming, frame.len()).await;
            if control.is_refused() {
                return;
            }
        }
    }

    async fn on_frame(&mut self, incoming: Incoming, len: usize) {
        match incoming {
            Incoming::Ping => {
                let _ = self.out.try_send(Bytes::from_static(&[hp::PONG]));
            }
            Incoming::Pong | Incoming::Auth { auth: None, .. } => {}
            Incoming::Auth { name, auth: Some(auth) } => {
                if auth.understands_ping() && self.pinger.is_none() {
                    let pings = app_pings(self.out.clone(), self.control.clone());
                    self.pinger = Some(AbortOnDropHandle::new(tokio::spawn(pings)));
                }
                self.authenticate(name, &auth.token).await;
            }
            Incoming::Room { name, msg } => {
                // Frames for a document not (yet, or ever) authenticated are dropped.
                let Some(joined) = self.docs.get_mut(&name) else { return };
                let Some(msg) = ws::through_presence(&mut joined.presence, &joined.identity, &self.control, msg) else {
                    return;
                };
                if !joined.room.message(joined.conn, msg, len).await {
                    self.control.close(close_code::SERVICE_RESTART, "room closed");
                }
            }
            Incoming::Close { name } => {
                if let Some(joined) = self.docs.remove(&name) {
                    joined.leave().await;
                }
            }
            Incoming::Ignored { kind } => debug!(kind, "hocuspocus message ignored"),
        }
    }

    /// Checks a document's token and joins its room; answers Authenticated (with the
    /// scope) or PermissionDenied. A document already open costs nothing.
    async fn authenticate(&mut self, name: String, token: &str) {
        if self.docs.contains_key(&name) {
            return;
        }
        if self.docs.len() >= self.app.config.hocuspocus_max_documents {
            metrics::counter!(crate::metrics::LIMITED, "limit" => "hocuspocus_documents").increment(1);
            let _ = self.out.try_send(hp::encode_permission_denied(&name, TOO_MANY_DOCUMENTS).into());
            return;
        }
        let Some(doc) = DocId::parse(&name) else {
            let _ = self.out.try_send(hp::encode_permission_denied(&name, "invalid document name").into());
            return;
        };
        let grant = match authorize_socket(&self.app, &doc, Some(token), None).await {
            Ok(grant) => grant,
            Err(e) => {
                metrics::counter!(crate::metrics::AUTH_FAILURES, "reason" => e.code).increment(1);
                let _ = self.out.try_send(hp::encode_permission_denied(&name, &e.message).into());
                return;
            }
        };
        let read_only = grant.access == Access::Read;
        let (frames, room_frames) = mpsc::channel(self.app.config.send_queue);
        let conn = ConnId::next();
        let sink = ConnSink { frames, control: self.control.clone(), acks: true };
        let identity = grant.identity.clone();
        let room = match self.app.rooms.join(&doc, conn, sink, grant.access, grant.identity).await {
            Ok(room) => room,
            Err(e) => {
                warn!(%doc, error = %e, "join refused");
                // One document refused; the others open on the socket carry on.
                let reason = match e {
                    RoomError::Full(_) => "room is full",
                    _ => "document unavailable",
                };
                let _ = self.out.try_send(hp::encode_permission_denied(&name, reason).into());
                return;
            }
        };
        // Sent before the room's first frames, which the forwarder below starts moving.
        let _ = self.out.try_send(hp::encode_authenticated(&name, read_only).into());
        self.authenticated.cancel();
        let forwarder = tokio::spawn(forward(name.clone(), room_frames, self.out.clone(), self.control.clone()));
        let watcher = grant.recheck.map(|recheck| {
            let watch =
                watch_socket(self.app.clone(), recheck, doc, room.clone(), conn, self.control.clone(), grant.access);
            AbortOnDropHandle::new(tokio::spawn(counted_watcher(watch, "hocuspocus")))
        });
        let presence = PresenceLimits::new(&self.app.config);
        let _forwarder = AbortOnDropHandle::new(forwarder);
        let joined = Joined { room, conn, identity, presence, _forwarder, _watcher: watcher };
        self.docs.insert(name, joined);
    }
}

/// The PermissionDenied reason for a document past `--hocuspocus-max-documents`.
const TOO_MANY_DOCUMENTS: &str = "too many documents open on this connection";

/// The first document whose held-back awareness its rate now allows.
async fn next_released(docs: &mut HashMap<String, Joined>) -> (String, AwarenessUpdate) {
    let waits: Vec<_> = docs
        .iter_mut()
        .filter(|(_, joined)| joined.presence.holds())
        .map(|(name, joined)| Box::pin(async move { (name.clone(), joined.presence.released().await) }))
        .collect();
    if waits.is_empty() {
        return std::future::pending().await;
    }
    futures_util::future::select_all(waits).await.0
}

/// Moves one document's frames from its room to the socket, in the Hocuspocus framing.
async fn forward(name: String, mut frames: mpsc::Receiver<Bytes>, out: mpsc::Sender<Bytes>, control: Arc<ConnControl>) {
    while let Some(frame) = frames.recv().await {
        control.dequeued(frame.len());
        let translated = if frame.as_ref() == SYNC_ACK {
            hp::encode_sync_status(&name, true)
        } else if frame.first() == Some(&(tandem_protocol::MSG_AUTH as u8)) {
            // The room refused a read-only update.
            hp::encode_sync_status(&name, false)
        } else {
            hp::for_document(&name, &frame)
        };
        if out.try_send(translated.into()).is_err() {
            metrics::counter!(crate::metrics::SLOW_DISCONNECTS).increment(1);
            control.close(close_code::TRY_AGAIN_LATER, "client too slow");
            return;
        }
    }
}
