//! `/ws/{doc id}`: the y-websocket endpoint. Authorises before the upgrade (401/403 as
//! JSON), then runs two tasks per connection: the reader decodes frames (validation happens
//! here, off the room actor) and hands them to the room; the writer drains the connection's
//! bounded frame queue, batching queued frames into one flush, and pings.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tandem_protocol as proto;
use tokio::sync::{Semaphore, SemaphorePermit, mpsc};
use tokio_util::task::AbortOnDropHandle;
use tracing::{debug, warn};

use crate::access::{SocketGrant, authorize_socket, counted_watcher, watch_socket};
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::ids::{ConnId, DocId, MAX_DOC_ID_LEN};
use crate::limits::{ConnLimits, PresenceLimits, Violation};
use crate::rate::ClientIp;
use crate::room::{ConnControl, ConnSink, Identity, RoomError, RoomHandle, close_code, stamp};
use tandem_protocol::ClientMessage;
use yrs::sync::awareness::AwarenessUpdate;

/// Read buffer per connection: small, so idle connections stay cheap.
const READ_BUFFER: usize = 1024;
/// Most queued frames written before one flush.
const MAX_FRAMES_PER_FLUSH: usize = 64;
/// Frames at least this large are written under the large-frame budget.
const LARGE_FRAME: usize = 256 * 1024;
/// How long a close frame may take to go out before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a connection whose outgoing side closed is still read, so that a burst its
/// client sent just before closing is applied at the pace the limits allow.
pub(crate) const INPUT_GRACE: Duration = Duration::from_secs(30);
/// Within that, how long such a connection may stay silent before it is let go.
const INPUT_IDLE: Duration = Duration::from_secs(2);

/// Resolves once the connection's outgoing side has closed and its client has then sent
/// nothing for [`INPUT_IDLE`] (made anew for each frame read, so each frame restarts it).
pub(crate) async fn idle_after_close(control: &ConnControl) {
    control.closed().await;
    tokio::time::sleep(INPUT_IDLE).await;
}

pub async fn upgrade(
    State(app): State<AppState>,
    ClientIp(client): ClientIp,
    Path(room): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    allow_connection(&app, client)?;
    let doc = DocId::parse(&room).ok_or_else(|| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_room", format!("room names are 1 to {MAX_DOC_ID_LEN} bytes"))
    })?;
    let grant =
        authorize_socket(&app, &doc, params.get("token").map(String::as_str), params.get("link").map(String::as_str))
            .await
            .inspect_err(|e| {
                metrics::counter!(crate::metrics::AUTH_FAILURES, "reason" => e.code).increment(1);
            })?;
    let ws = ws.map_err(|e| ApiError::new(e.status(), "websocket_upgrade_required", e.body_text()))?;
    let max = app.config.max_message_size;
    Ok(configure(ws, max).on_upgrade(move |socket| serve(app, socket, doc, grant)))
}

/// Counts a new connection from `client` against its per-minute allowance.
pub(crate) fn allow_connection(app: &AppState, client: std::net::IpAddr) -> Result<(), ApiError> {
    if app.connects_per_ip.allow(crate::rate::Key::addr(client)) {
        return Ok(());
    }
    metrics::counter!(crate::metrics::LIMITED, "limit" => "connections_per_ip").increment(1);
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many new connections from this address; retry in a minute",
    ))
}

/// The socket settings both protocols use.
pub(crate) fn configure(ws: WebSocketUpgrade, max_message_size: usize) -> WebSocketUpgrade {
    ws.max_message_size(max_message_size).max_frame_size(max_message_size).read_buffer_size(READ_BUFFER)
}

async fn serve(app: AppState, socket: WebSocket, doc: DocId, grant: SocketGrant) {
    let gauge = metrics::gauge!(crate::metrics::CONNECTIONS_ACTIVE);
    gauge.increment(1.0);
    serve_connection(app, socket, doc, grant).await;
    gauge.decrement(1.0);
}

async fn serve_connection(app: AppState, socket: WebSocket, doc: DocId, grant: SocketGrant) {
    let SocketGrant { access, identity, recheck } = grant;
    let conn = ConnId::next();
    let (frames, queue) = mpsc::channel(app.config.send_queue);
    let control = Arc::new(ConnControl::default());
    let sink = ConnSink { frames, control: control.clone(), acks: false };
    let (tx, rx) = socket.split();
    let room = match app.rooms.join(&doc, conn, sink, access, identity.clone()).await {
        Ok(room) => room,
        Err(e) => {
            warn!(%doc, %conn, error = %e, "join refused");
            match e {
                RoomError::Full(_) => control.close(close_code::TRY_AGAIN_LATER, "room is full"),
                _ => control.close(close_code::INTERNAL_ERROR, "document unavailable"),
            }
            let mut rx = rx;
            tokio::join!(
                write_loop(
                    tx,
                    queue,
                    control,
                    app.config.ping_interval,
                    Arc::default(),
                    app.large_frames.clone(),
                    Counted::Yes
                ),
                drain_until_close(&mut rx)
            );
            return;
        }
    };
    // Watched while the connection lasts (a connection that simply ends is never
    // refused, so the watcher would not notice it on its own).
    let _watch = recheck.map(|recheck| {
        let watch = watch_socket(app.clone(), recheck, doc.clone(), room.clone(), conn, control.clone(), access);
        AbortOnDropHandle::new(tokio::spawn(counted_watcher(watch, "ws")))
    });
    let alive = Arc::new(AtomicBool::new(true));
    let budget = app.large_frames.clone();
    let interval = app.config.ping_interval;
    let writer = tokio::spawn(write_loop(tx, queue, control.clone(), interval, alive.clone(), budget, Counted::Yes));
    let mut rx = rx;
    let mut reader = Reader {
        room: &room,
        conn,
        identity: &identity,
        control: &control,
        limits: ConnLimits::new(&app.config),
        presence: PresenceLimits::new(&app.config),
    };
    reader.read(&mut rx, &alive).await;
    room.leave(conn).await;
    control.close(close_code::NORMAL, "");
    // Keep reading (and discarding) until the client answers our close frame: closing a
    // socket with unread data resets it, and the client would never see the close code.
    let _ = tokio::join!(writer, drain_until_close(&mut rx));
}

pub(crate) async fn drain_until_close(rx: &mut SplitStream<WebSocket>) {
    let drain = async {
        while let Some(Ok(msg)) = rx.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
}

/// What one y-websocket connection's reader needs: it hands everything the client sends
/// to the room, at the pace the connection's limits allow.
struct Reader<'a> {
    room: &'a RoomHandle,
    conn: ConnId,
    identity: &'a Identity,
    control: &'a ConnControl,
    limits: ConnLimits,
    presence: PresenceLimits,
}

impl Reader<'_> {
    /// Reads until the client closes, or the connection is refused. When only the
    /// outgoing side closes (the client left, or reads too slowly), what the client sent
    /// before its own close is still read and applied, for at most [`INPUT_GRACE`].
    async fn read(&mut self, rx: &mut SplitStream<WebSocket>, alive: &AtomicBool) {
        let control = self.control;
        let grace = async {
            control.closed().await;
            tokio::time::sleep(INPUT_GRACE).await;
        };
        tokio::pin!(grace);
        loop {
            let next = tokio::select! {
                biased;
                _ = control.refused() => return,
                _ = &mut grace => return,
                _ = idle_after_close(control) => return,
                update = self.presence.released() => {
                    if !self.deliver(stamped(update, self.identity), 0).await {
                        return;
                    }
                    continue;
                }
                next = rx.next() => next,
            };
            let msg = match next {
                Some(Ok(msg)) => msg,
                Some(Err(e)) => {
                    if is_too_big(&e) {
                        metrics::counter!(crate::metrics::REFUSED_FRAMES, "reason" => "too_big").increment(1);
                        control.close(close_code::TOO_BIG, "message too big");
                    }
                    debug!(doc = %self.room.doc(), conn = %self.conn, error = %e, "read failed");
                    return;
                }
                None => return,
            };
            alive.store(true, Ordering::Relaxed);
            let frame = match msg {
                Message::Binary(frame) => frame,
                Message::Text(_) => {
                    metrics::counter!(crate::metrics::REFUSED_FRAMES, "reason" => "text").increment(1);
                    control.close(close_code::UNSUPPORTED_DATA, "binary frames only");
                    return;
                }
                Message::Close(_) => return,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            tokio::select! {
                biased;
                _ = control.refused() => return,
                () = self.limits.admit(frame.len()) => {}
            }
            let msg = match decode_counted(&frame) {
                Ok(msg) => msg,
                Err(e) => {
                    refuse_malformed(control, &e);
                    return;
                }
            };
            if !self.pass_on(msg, frame.len()).await {
                return;
            }
        }
    }

    /// Passes one message through the presence limits (stamping awareness with who sent
    /// it) to the room; `false` once the connection is closed.
    async fn pass_on(&mut self, msg: ClientMessage, len: usize) -> bool {
        match through_presence(&mut self.presence, self.identity, self.control, msg) {
            Some(msg) => self.deliver(msg, len).await,
            None => !self.control.is_refused(),
        }
    }

    async fn deliver(&self, msg: ClientMessage, len: usize) -> bool {
        if !self.room.message(self.conn, msg, len).await {
            self.control.close(close_code::SERVICE_RESTART, "room closed");
            return false;
        }
        true
    }
}

/// Passes a message through a room connection's presence limits, stamping awareness with
/// who sent it: `None` if it is held back (or refused, and the connection closed).
pub(crate) fn through_presence(
    presence: &mut PresenceLimits,
    identity: &Identity,
    control: &ConnControl,
    msg: ClientMessage,
) -> Option<ClientMessage> {
    match presence.offer(msg) {
        Ok(Some(ClientMessage::Awareness(update))) => Some(stamped(update, identity)),
        Ok(msg) => msg,
        Err(v) => {
            refuse_over_limit(control, &v);
            None
        }
    }
}

/// An awareness message carrying who set its states.
pub(crate) fn stamped(mut update: AwarenessUpdate, identity: &Identity) -> ClientMessage {
    stamp(&mut update, identity);
    ClientMessage::Awareness(update)
}

/// Closes a connection whose frame did not decode (1007).
pub(crate) fn refuse_malformed(control: &ConnControl, e: &proto::ProtocolError) {
    metrics::counter!(crate::metrics::REFUSED_FRAMES, "reason" => "malformed").increment(1);
    warn!(error = %e, "malformed frame");
    control.close(close_code::INVALID_PAYLOAD, "malformed message");
}

/// Closes a connection for what throttling cannot contain.
pub(crate) fn refuse_over_limit(control: &ConnControl, v: &Violation) {
    metrics::counter!(crate::metrics::LIMITED, "limit" => v.limit).increment(1);
    warn!(limit = v.limit, "limit exceeded; closing");
    control.close(v.code, v.reason);
}

pub(crate) fn decode_counted(frame: &[u8]) -> Result<proto::ClientMessage, proto::ProtocolError> {
    crate::metrics::received(frame);
    proto::decode(frame)
}

pub(crate) fn is_too_big(e: &axum::Error) -> bool {
    use std::error::Error as _;
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<tokio_tungstenite::tungstenite::Error>() {
            return matches!(t, tokio_tungstenite::tungstenite::Error::Capacity(_));
        }
        source = s.source();
    }
    false
}

/// Whether a writer's queue holds room frames counted in its connection's queued bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counted {
    Yes,
    No,
}

pub(crate) async fn write_loop(
    mut tx: SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<bytes::Bytes>,
    control: Arc<ConnControl>,
    ping_interval: Duration,
    alive: Arc<AtomicBool>,
    large_frames: Arc<FrameBudget>,
    counted: Counted,
) {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
    loop {
        tokio::select! {
            biased;
            _ = control.closed() => break,
            frame = queue.recv() => {
                let Some(frame) = frame else { break };
                let taken = |frame: &bytes::Bytes| if counted == Counted::Yes { control.dequeued(frame.len()) };
                taken(&frame);
                let sent = tokio::select! {
                    r = write_batch(&mut tx, &mut queue, frame, &large_frames, taken) => r.is_ok(),
                    _ = control.closed() => return, // stuck writing to a slow peer: just drop it
                };
                if !sent {
                    control.close(close_code::NORMAL, "");
                    return;
                }
            }
            _ = ping.tick() => {
                // Anything heard since the last ping counts as a pong.
                if !alive.swap(false, Ordering::Relaxed) {
                    control.close(close_code::TIMEOUT, "ping timeout");
                    break;
                }
                if tx.send(Message::Ping(bytes::Bytes::new())).await.is_err() {
                    return;
                }
            }
        }
    }
    let (code, reason) = control.close_frame();
    let close = Message::Close(Some(CloseFrame { code, reason: reason.into() }));
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, tx.send(close)).await;
}

/// The bytes of large frames all writers may hold at once, in KiB, handed out first come
/// first served. A frame larger than the whole budget waits for all of it.
pub struct FrameBudget {
    permits: Semaphore,
    total_kib: u32,
}

impl FrameBudget {
    pub fn new(bytes: usize) -> Self {
        let total_kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).clamp(1, Semaphore::MAX_PERMITS as u32);
        FrameBudget { permits: Semaphore::new(total_kib as usize), total_kib }
    }

    async fn acquire(&self, len: usize) -> Option<SemaphorePermit<'_>> {
        let kib = u32::try_from(len / 1024).unwrap_or(u32::MAX).clamp(1, self.total_kib);
        self.permits.acquire_many(kib).await.ok()
    }
}

/// Writes `first` and whatever else is queued (up to a bound), then flushes once. A large
/// frame is written on its own, holding its size in `large_frames` until it is flushed:
/// the socket library copies each frame whole into a per-connection buffer, so without a
/// budget a join storm on a large document holds one copy per joiner at once.
async fn write_batch(
    tx: &mut SplitSink<WebSocket, Message>,
    queue: &mut mpsc::Receiver<bytes::Bytes>,
    first: bytes::Bytes,
    large_frames: &FrameBudget,
    taken: impl Fn(&bytes::Bytes),
) -> Result<(), axum::Error> {
    let mut next = Some(first);
    let mut fed = 0;
    while let Some(frame) = next.take() {
        if frame.len() >= LARGE_FRAME {
            if fed > 0 {
                tx.flush().await?;
            }
            let _permit = large_frames.acquire(frame.len()).await;
            tx.feed(Message::Binary(frame)).await?;
            tx.flush().await?;
            fed = 0;
        } else {
            tx.feed(Message::Binary(frame)).await?;
            fed += 1;
        }
        if fed < MAX_FRAMES_PER_FLUSH {
            next = queue.try_recv().ok();
            next.iter().for_each(&taken);
        }
    }
    if fed > 0 {
        tx.flush().await?;
    }
    Ok(())
}
