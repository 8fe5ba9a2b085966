//! `/hocuspocus`: the Hocuspocus protocol, so an unmodified `@hocuspocus/provider` works.
//! One socket carries many documents; each is joined to its room as a connection of its
//! own once its Auth message's token is accepted (the same tokens as `/ws`: room tokens,
//! user tokens, identity-provider tokens). The room's y-websocket frames are prefixed
//! with the document name on the way out; a client's update is acknowledged with
//! SyncStatus once durable (a refused one, read-only, with SyncStatus false). Anything the
//! room closes, closes the socket: the provider reconnects every document on it.

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
use tandem_protocol::hocuspocus::{self as hp, Frame};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::access::{authorize_socket, watch_socket};
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::auth::Access;
use crate::ids::{ConnId, DocId};
use crate::limits::ConnLimits;
use crate::room::{ConnControl, ConnSink, RoomError, RoomHandle, SYNC_ACK, close_code};
use crate::ws;

/// How often the server sends the protocol's own Ping (the provider reconnects after 30 s
/// without a message; WebSocket control frames don't count for it).
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

/// One document open on the socket.
struct Joined {
    room: RoomHandle,
    conn: ConnId,
    forwarder: JoinHandle<()>,
}

struct Socket {
    app: AppState,
    out: mpsc::Sender<Bytes>,
    control: Arc<ConnControl>,
    docs: HashMap<String, Joined>,
    limits: ConnLimits,
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
    ));
    let pinger = tokio::spawn(app_pings(out.clone(), control.clone()));
    let limits = ConnLimits::new(&app.config);
    let mut socket = Socket { app, out, control: control.clone(), docs: HashMap::new(), limits };
    socket.read_loop(&mut rx, &alive).await;
    for (_, joined) in socket.docs.drain() {
        joined.room.leave(joined.conn).await;
        joined.forwarder.abort();
    }
    pinger.abort();
    control.close(close_code::NORMAL, "");
    let _ = tokio::join!(writer, ws::drain_until_close(&mut rx));
    gauge.decrement(1.0);
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

impl Socket {
    async fn read_loop(&mut self, rx: &mut SplitStream<WebSocket>, alive: &AtomicBool) {
        loop {
            let next = tokio::select! {
                next = rx.next() => next,
                _ = self.control.closed() => return,
            };
            let frame = match next {
                Some(Ok(Message::Binary(frame))) => frame,
                Some(Ok(Message::Text(_))) => {
                    metrics::counter!(crate::metrics::REFUSED_FRAMES, "reason" => "text").increment(1);
                    return self.control.close(close_code::UNSUPPORTED_DATA, "binary frames only");
                }
                Some(Ok(Message::Close(_))) | None => return,
                Some(Ok(_)) => {
                    alive.store(true, Ordering::Relaxed);
                    continue;
                }
                Some(Err(e)) => {
                    if ws::is_too_big(&e) {
                        metrics::counter!(crate::metrics::REFUSED_FRAMES, "reason" => "too_big").increment(1);
                        self.control.close(close_code::TOO_BIG, "message too big");
                    }
                    return;
                }
            };
            alive.store(true, Ordering::Relaxed);
            if let Err(reason) = self.on_frame(&frame).await {
                metrics::counter!(crate::metrics::REFUSED_FRAMES, "reason" => "malformed").increment(1);
                warn!(error = reason, "malformed hocuspocus frame");
                return self.control.close(close_code::INVALID_PAYLOAD, "malformed message");
            }
            if self.control.is_closed() {
                return;
            }
        }
    }

    async fn on_frame(&mut self, frame: &[u8]) -> Result<(), &'static str> {
        let (name, kind, message) = match hp::split(frame).map_err(|_| "frame")? {
            Frame::Ping => {
                let _ = self.out.try_send(Bytes::from_static(&[hp::PONG]));
                return Ok(());
            }
            Frame::Pong => return Ok(()),
            Frame::Doc { name, kind, message } => (name, kind, message),
        };
        match kind {
            hp::MSG_AUTH => {
                if let Some(token) = hp::auth_token(message).map_err(|_| "auth")? {
                    self.authenticate(name, &token).await;
                }
            }
            hp::MSG_SYNC | hp::MSG_AWARENESS | hp::MSG_QUERY_AWARENESS => {
                // Frames for a document not (yet, or ever) authenticated are dropped.
                let Some(joined) = self.docs.get(&name) else { return Ok(()) };
                let msg = ws::decode_counted(message).map_err(|_| "message")?;
                if let Err(v) = self.limits.check(frame.len(), &msg) {
                    metrics::counter!(crate::metrics::LIMITED, "limit" => v.limit).increment(1);
                    self.control.close(v.code, v.reason);
                    return Ok(());
                }
                if !joined.room.message(joined.conn, msg, frame.len()).await {
                    self.control.close(close_code::SERVICE_RESTART, "room closed");
                }
            }
            hp::MSG_CLOSE => {
                if let Some(joined) = self.docs.remove(&name) {
                    joined.room.leave(joined.conn).await;
                    joined.forwarder.abort();
                }
            }
            // Stateless messages and anything newer: nothing to do.
            _ => debug!(kind, "hocuspocus message ignored"),
        }
        Ok(())
    }

    /// Checks a document's token and joins its room; answers Authenticated (with the
    /// scope) or PermissionDenied.
    async fn authenticate(&mut self, name: String, token: &str) {
        if self.docs.contains_key(&name) {
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
        let _ = self.out.try_send(hp::encode_authenticated(&name, read_only).into());
        let (frames, room_frames) = mpsc::channel(self.app.config.send_queue);
        let conn = ConnId::next();
        let sink = ConnSink { frames, control: self.control.clone(), acks: true };
        let room = match self.app.rooms.join(&doc, conn, sink, grant.access).await {
            Ok(room) => room,
            Err(e) => {
                warn!(%doc, error = %e, "join refused");
                return match e {
                    RoomError::Full(_) => self.control.close(close_code::TRY_AGAIN_LATER, "room is full"),
                    _ => self.control.close(close_code::INTERNAL_ERROR, "document unavailable"),
                };
            }
        };
        let forwarder = tokio::spawn(forward(name.clone(), room_frames, self.out.clone(), self.control.clone()));
        if let Some(recheck) = grant.recheck {
            let watch =
                watch_socket(self.app.clone(), recheck, doc, room.clone(), conn, self.control.clone(), grant.access);
            tokio::spawn(watch);
        }
        self.docs.insert(name, Joined { room, conn, forwarder });
    }
}

/// Moves one document's frames from its room to the socket, in the Hocuspocus framing.
async fn forward(name: String, mut frames: mpsc::Receiver<Bytes>, out: mpsc::Sender<Bytes>, control: Arc<ConnControl>) {
    while let Some(frame) = frames.recv().await {
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
