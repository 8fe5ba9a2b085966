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
//! number of documents (each with its access watcher, which stops when that document
//! closes; the socket's one writer reads every document's room queue, see `outbox`), and
//! must authenticate one within a deadline.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use tandem_protocol::ClientMessage;
use tandem_protocol::hocuspocus::{self as hp, Frame};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::{debug, warn};

use super::WebSocket;
use super::outbox::{Out, Outbox};
use super::read::{FrameReader, Next};
use super::upgrade::{NotAnUpgrade, Upgrade};
use super::watch::{counted_watcher, watch_socket};
use super::write::{drain_until_close, write_loop};
use crate::events::{EventView, Listener};
use crate::identity::Principal;
use crate::identity::access::authorize_socket;
use crate::identity::tokens::Access;
use crate::ids::{ConnId, DocId};
use crate::metrics::GaugeGuard;
use crate::product::api::error::ApiError;
use crate::realtime::limits::{ConnLimits, PresenceLimits};
use crate::realtime::room::{ConnControl, ConnSink, RoomError, RoomHandle, close_code};
use crate::state::AppState;
use yrs::sync::awareness::AwarenessUpdate;

/// How often the server sends the protocol's own Ping to a v4 provider (it reconnects
/// after 30 s without a message; WebSocket control frames don't count for it). Earlier
/// providers get none: they hear awareness renewals every 15 s.
const APP_PING_EVERY: Duration = Duration::from_secs(10);

pub async fn upgrade(
    State(app): State<AppState>,
    crate::rate::ClientIp(client): crate::rate::ClientIp,
    socket: Result<Upgrade, NotAnUpgrade>,
) -> Result<Response, ApiError> {
    super::upgrade::allow_connection(&app, client)?;
    let socket = socket.map_err(ApiError::from)?;
    let max = app.config.socket.max_message_size;
    Ok(socket.accept(max, move |socket| serve(app, socket)))
}

/// One document open on the socket. Dropping it stops its access watcher and events.
struct Joined {
    room: RoomHandle,
    conn: ConnId,
    identity: Principal,
    presence: PresenceLimits,
    /// Only for user and link tokens, whose access can change while the document is open.
    _watcher: Option<AbortOnDropHandle<()>>,
    /// The document's stored events as stateless messages (catalogued documents only).
    _events: Option<AbortOnDropHandle<()>>,
}

impl Joined {
    async fn leave(self) {
        self.room.leave(self.conn).await;
    }
}

struct Socket {
    app: AppState,
    out: mpsc::Sender<Out>,
    control: Arc<ConnControl>,
    docs: HashMap<String, Joined>,
    /// Cancelled by the first document authenticated: the socket may then stay.
    authenticated: CancellationToken,
    /// The Ping task, started once the client announces v4.
    pinger: Option<AbortOnDropHandle<()>>,
}

async fn serve(app: AppState, socket: WebSocket) {
    let _counted = GaugeGuard::hold(metrics::gauge!(crate::metrics::CONNECTIONS_ACTIVE));
    let (out, queue) = mpsc::channel::<Out>(app.config.socket.send_queue);
    let control = Arc::new(ConnControl::default());
    let alive = Arc::new(AtomicBool::new(true));
    let (tx, mut rx) = socket.split();
    let writer = write_loop(
        tx,
        Outbox::new(queue),
        control.clone(),
        app.config.socket.ping_interval,
        alive.clone(),
        app.large_frames.clone(),
    );
    let writer = tokio::spawn(writer);
    let authenticated = CancellationToken::new();
    tokio::spawn(auth_deadline(control.clone(), authenticated.clone(), app.config.socket.hocuspocus_auth_timeout));
    let frames = FrameReader::new(&mut rx, &control, &alive, ConnLimits::new(&app.config.socket));
    let mut socket = Socket { app, out, control: control.clone(), docs: HashMap::new(), authenticated, pinger: None };
    socket.read_loop(frames).await;
    for (_, joined) in socket.docs.drain() {
        joined.leave().await;
    }
    drop(socket);
    control.close(close_code::NORMAL, "");
    let _ = tokio::join!(writer, drain_until_close(&mut rx));
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

async fn app_pings(out: mpsc::Sender<Out>, control: Arc<ConnControl>) {
    let mut tick = tokio::time::interval(APP_PING_EVERY);
    tick.reset();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = control.closed() => return,
        }
        if out.try_send(Out::Frame(Bytes::from_static(&[hp::PING]))).is_err() {
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
                Incoming::Room { name, msg: super::inbound::decode_counted(message).map_err(|_| "message")? }
            }
            hp::MSG_AUTH => Incoming::Auth { name, auth: hp::auth_token(message).map_err(|_| "auth")? },
            hp::MSG_CLOSE => Incoming::Close { name },
            kind => Incoming::Ignored { kind },
        })
    }
}

impl Socket {
    /// Reads until the client closes or is refused (the close policy and the limits are
    /// the shared reader's, as on `/ws`); every frame, the protocol's own Auth, Close and
    /// Ping included, is accounted there before it is parsed.
    async fn read_loop(&mut self, mut frames: FrameReader<'_>) {
        loop {
            let frame = match frames.next(next_released(&mut self.docs)).await {
                None => return,
                Some(Next::Other((name, update))) => {
                    if let Some(joined) = self.docs.get(&name) {
                        let msg = super::inbound::stamped(update, &joined.identity);
                        if !joined.room.message(joined.conn, msg, 0).await {
                            self.control.close(close_code::SERVICE_RESTART, "room closed");
                        }
                    }
                    continue;
                }
                Some(Next::Frame(frame)) => frame,
            };
            let incoming = match Incoming::parse(&frame) {
                Ok(incoming) => incoming,
                Err(reason) => return super::inbound::refuse_malformed(&self.control, &reason),
            };
            self.on_frame(incoming, frame.len()).await;
            if self.control.is_refused() {
                return;
            }
        }
    }

    async fn on_frame(&mut self, incoming: Incoming, len: usize) {
        match incoming {
            Incoming::Ping => {
                let _ = self.out.try_send(Out::Frame(Bytes::from_static(&[hp::PONG])));
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
                let Some(msg) =
                    super::inbound::through_presence(&mut joined.presence, &joined.identity, &self.control, msg)
                else {
                    return;
                };
                if !joined.room.message(joined.conn, msg, len).await {
                    self.control.close(close_code::SERVICE_RESTART, "room closed");
                }
            }
            Incoming::Close { name } => {
                if let Some(joined) = self.docs.remove(&name) {
                    self.answer(Out::Close(name));
                    joined.leave().await;
                }
            }
            Incoming::Ignored { kind } => debug!(kind, "hocuspocus message ignored"),
        }
    }

    /// Checks a document's token and joins its room; answers Authenticated (with the
    /// scope) or PermissionDenied. A document already open costs nothing.
    ///
    /// A socket whose queue cannot take an answer is closed as too slow: the provider
    /// would otherwise wait for it forever.
    fn answer(&self, frame: Out) {
        if self.out.try_send(frame).is_err() {
            metrics::counter!(crate::metrics::SLOW_DISCONNECTS).increment(1);
            self.control.close(close_code::TRY_AGAIN_LATER, "client too slow");
        }
    }

    async fn authenticate(&mut self, name: String, token: &str) {
        if self.docs.contains_key(&name) {
            return;
        }
        if self.docs.len() >= self.app.config.socket.hocuspocus_max_documents {
            metrics::counter!(crate::metrics::LIMITED, "limit" => "hocuspocus_documents").increment(1);
            self.answer(hp::encode_permission_denied(&name, TOO_MANY_DOCUMENTS).into());
            return;
        }
        let Some(doc) = DocId::parse(&name) else {
            self.answer(hp::encode_permission_denied(&name, "invalid document name").into());
            return;
        };
        let grant = match authorize_socket(&self.app, &doc, Some(token), None).await {
            Ok(grant) => grant,
            Err(e) => {
                let e = ApiError::from(e);
                metrics::counter!(crate::metrics::AUTH_FAILURES, "reason" => e.code.as_str()).increment(1);
                self.answer(hp::encode_permission_denied(&name, &e.message).into());
                return;
            }
        };
        let read_only = grant.access == Access::Read;
        let (frames, room_frames) = mpsc::channel(self.app.config.socket.send_queue);
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
                self.answer(hp::encode_permission_denied(&name, reason).into());
                return;
            }
        };
        // Room tokens open app rooms, which have no catalogue events. Listening starts
        // before the client hears it is in: it misses nothing stored after that.
        let listener = if grant.recheck.is_some() {
            match self.app.feeds.listen(&doc, None).await {
                Ok(listener) => Some(listener),
                Err(e) => {
                    warn!(%doc, error = %e, "no events for this connection: the store did not answer");
                    None
                }
            }
        } else {
            None
        };
        // Sent before the room's first frames: the writer reads the room's queue from here on.
        self.answer(hp::encode_authenticated(&name, read_only).into());
        self.answer(Out::Open { name: name.clone(), room: room_frames });
        self.authenticated.cancel();
        let watcher = grant.recheck.map(|recheck| {
            let watch = watch_socket(
                self.app.clone(),
                recheck,
                doc.clone(),
                room.clone(),
                conn,
                self.control.clone(),
                grant.access,
            );
            AbortOnDropHandle::new(tokio::spawn(counted_watcher(watch, "hocuspocus")))
        });
        let events = listener.map(|listener| {
            let task = stateless_events(name.clone(), listener, self.out.clone(), self.control.clone());
            AbortOnDropHandle::new(tokio::spawn(task))
        });
        let presence = PresenceLimits::new(&self.app.config.socket);
        let joined = Joined { room, conn, identity, presence, _watcher: watcher, _events: events };
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

/// Sends the document's stored events (comments, versions) as stateless messages, each the JSON
/// the events stream sends as `data` (the provider's `onStateless` gets it as `payload`).
async fn stateless_events(name: String, mut listener: Listener, out: mpsc::Sender<Out>, control: Arc<ConnControl>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let events = match listener.next().await {
            Ok(events) => events,
            Err(e) => {
                // Said once per outage; retried less and less often.
                if backoff == Duration::from_secs(1) {
                    warn!(document = %name, error = %e, "events unreadable; retrying");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        backoff = Duration::from_secs(1);
        for event in &events {
            let payload = serde_json::to_string(&EventView::from(event)).unwrap_or_default();
            if out.try_send(hp::encode_stateless(&name, &payload).into()).is_err() {
                metrics::counter!(crate::metrics::SLOW_DISCONNECTS).increment(1);
                control.close(close_code::TRY_AGAIN_LATER, "client too slow");
                return;
            }
        }
    }
}
