//! `/ws/{doc id}`: the y-websocket endpoint. Authorises before the upgrade (401/403 as
//! JSON), then runs two tasks per connection: the reader decodes frames (validation happens
//! here, off the room actor) and hands them to the room; the writer drains the connection's
//! bounded queue (the room's messages, encoded here) and pings.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use tandem_protocol::{self as proto, ClientMessage};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::task::AbortOnDropHandle;
use tracing::warn;

use super::WebSocket;
use super::read::{FrameReader, Next};
use super::upgrade::{NotAnUpgrade, Upgrade};
use super::watch::{counted_watcher, watch_socket};
use super::write::{Outgoing, Wire, drain_until_close, write_loop};
use crate::identity::Principal;
use crate::identity::access::{SocketGrant, authorize_socket};
use crate::ids::{ConnId, DocId, MAX_DOC_ID_LEN};
use crate::metrics::GaugeGuard;
use crate::product::api::error::{ApiError, ErrorCode};
use crate::rate::ClientIp;
use crate::realtime::limits::{ConnLimits, PresenceLimits};
use crate::realtime::room::{ConnControl, ConnSink, Outbound, RoomError, RoomHandle, close_code};
use crate::state::AppState;

pub async fn upgrade(
    State(app): State<AppState>,
    ClientIp(client): ClientIp,
    Path(room): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    ws: Result<Upgrade, NotAnUpgrade>,
) -> Result<Response, ApiError> {
    super::upgrade::allow_connection(&app, client)?;
    let doc = DocId::parse(&room)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidRoom, format!("room names are 1 to {MAX_DOC_ID_LEN} bytes")))?;
    let grant =
        authorize_socket(&app, &doc, params.get("token").map(String::as_str), params.get("link").map(String::as_str))
            .await
            .map_err(ApiError::from)
            .inspect_err(|e| {
                metrics::counter!(crate::metrics::AUTH_FAILURES, "reason" => e.code.as_str()).increment(1);
            })?;
    let ws = ws.map_err(ApiError::from)?;
    let max = app.config.socket.max_message_size;
    Ok(ws.accept(max, move |socket| serve(Box::new(Opening { app, socket, doc, grant }))))
}

/// The room's messages in y-websocket form (a y-websocket connection never asks for
/// acknowledgements: it gets its own updates echoed once durable).
impl Outgoing for Outbound {
    fn into_wire(self, control: &ConnControl) -> Option<Wire> {
        control.dequeued(self.queued_bytes());
        match self {
            Outbound::Frame(frame) => Some(frame.into()),
            Outbound::ReadOnly => Some(Bytes::from(proto::encode_permission_denied("read-only access")).into()),
            Outbound::Ack => None,
        }
    }
}

/// What a connection starts from. It travels boxed, so the task that lives as long as
/// the connection holds only what reading needs (connections are many; the opening runs
/// once).
struct Opening {
    app: AppState,
    socket: WebSocket,
    doc: DocId,
    grant: SocketGrant,
}

/// A joined connection: what its reader keeps while the client is connected.
struct Joined {
    room: RoomHandle,
    conn: ConnId,
    identity: Principal,
    control: Arc<ConnControl>,
    alive: Arc<AtomicBool>,
    rx: SplitStream<WebSocket>,
    writer: JoinHandle<()>,
    /// Watched while the connection lasts (a connection that simply ends is never
    /// refused, so the watcher would not notice it on its own).
    _watch: Option<AbortOnDropHandle<()>>,
}

async fn serve(opening: Box<Opening>) {
    let _counted = GaugeGuard::hold(metrics::gauge!(crate::metrics::CONNECTIONS_ACTIVE));
    let Some((mut joined, limits, presence)) = Box::pin(open(opening)).await else { return };
    let Joined { room, conn, identity, control, alive, rx, .. } = &mut joined;
    let frames = FrameReader::new(rx, control, alive, limits);
    Reader { room, conn: *conn, identity, control, presence }.read(frames).await;
    Box::pin(close(joined)).await;
}

/// Joins the room and starts the writer; `None` when the room refused (the client has
/// been told why).
async fn open(opening: Box<Opening>) -> Option<(Joined, ConnLimits, PresenceLimits)> {
    let Opening { app, socket, doc, grant } = *opening;
    let SocketGrant { access, identity, recheck } = grant;
    let conn = ConnId::next();
    let (frames, queue) = mpsc::channel(app.config.socket.send_queue);
    let control = Arc::new(ConnControl::default());
    let sink = ConnSink { frames, control: control.clone(), acks: false };
    let (tx, mut rx) = socket.split();
    let alive = Arc::new(AtomicBool::new(true));
    let writer = write_loop(
        tx,
        queue,
        control.clone(),
        app.config.socket.ping_interval,
        alive.clone(),
        app.large_frames.clone(),
    );
    let room = match app.rooms.join(&doc, conn, sink, access, identity.clone()).await {
        Ok(room) => room,
        Err(e) => {
            warn!(%doc, %conn, error = %e, "join refused");
            match e {
                RoomError::Full(_) => control.close(close_code::TRY_AGAIN_LATER, "room is full"),
                _ => control.close(close_code::INTERNAL_ERROR, "document unavailable"),
            }
            tokio::join!(writer, drain_until_close(&mut rx));
            return None;
        }
    };
    let _watch = recheck.map(|recheck| {
        let watch = watch_socket(app.clone(), recheck, doc.clone(), room.clone(), conn, control.clone(), access);
        AbortOnDropHandle::new(tokio::spawn(counted_watcher(watch, "ws")))
    });
    let writer = tokio::spawn(writer);
    let joined = Joined { room, conn, identity, control, alive, rx, writer, _watch };
    Some((joined, ConnLimits::new(&app.config.socket), PresenceLimits::new(&app.config.socket)))
}

/// Leaves the room once the client is done (or refused), then closes the socket.
async fn close(joined: Joined) {
    let Joined { room, conn, control, mut rx, writer, .. } = joined;
    room.leave(conn).await;
    control.close(close_code::NORMAL, "");
    let _ = tokio::join!(writer, drain_until_close(&mut rx));
}

/// Hands everything one client sends to its room, awareness at the pace its presence
/// limits allow (held back, then released).
struct Reader<'a> {
    room: &'a RoomHandle,
    conn: ConnId,
    identity: &'a Principal,
    control: &'a ConnControl,
    presence: PresenceLimits,
}

impl Reader<'_> {
    async fn read(&mut self, mut frames: FrameReader<'_>) {
        loop {
            let frame = match frames.next(self.presence.released()).await {
                None => return,
                Some(Next::Other(update)) => {
                    if !self.deliver(super::inbound::stamped(update, self.identity), 0).await {
                        return;
                    }
                    continue;
                }
                Some(Next::Frame(frame)) => frame,
            };
            let msg = match super::inbound::decode_counted(&frame) {
                Ok(msg) => msg,
                Err(e) => return super::inbound::refuse_malformed(self.control, &e),
            };
            let passed = match super::inbound::through_presence(&mut self.presence, self.identity, self.control, msg) {
                Some(msg) => self.deliver(msg, frame.len()).await,
                None => !self.control.is_refused(),
            };
            if !passed {
                return;
            }
        }
    }

    /// `false` once the room is gone (the connection is then closed).
    async fn deliver(&self, msg: ClientMessage, len: usize) -> bool {
        if !self.room.message(self.conn, msg, len).await {
            self.control.close(close_code::SERVICE_RESTART, "room closed");
            return false;
        }
        true
    }
}
