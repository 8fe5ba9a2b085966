//! A connection's writer, the same for both protocols: it drains the connection's bounded
//! queue, batching queued frames into one flush, sends large messages in pieces (WebSocket
//! fragments) one connection at a time under a budget all writers share, pings, and sends
//! the close frame its [`ConnControl`] says.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Semaphore, SemaphorePermit, mpsc};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{self, Message};

use super::WebSocket;
use crate::realtime::room::{ConnControl, close_code};

/// Most queued frames written before one flush.
const MAX_FRAMES_PER_FLUSH: usize = 64;
/// The largest WebSocket frame the writer sends: a longer message goes out as fragments
/// of this size, each a slice of the message's own buffer (tungstenite copies every frame
/// into the connection's write buffer, which keeps its largest size while the connection
/// lives: whole 20 MB frames left 20 MB behind per connection).
pub(super) const PIECE: usize = 64 * 1024;
/// Messages at least this large are written under the large-frame budget.
const LARGE_FRAME: usize = 256 * 1024;
/// How long a close frame may take to go out before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// One message as it goes on the wire: `head` (a protocol's prefix, often empty) and then
/// `body` (often a buffer shared among receivers), sent as one WebSocket message without
/// copying the body whole.
pub(crate) struct Wire {
    pub(crate) head: Bytes,
    pub(crate) body: Bytes,
}

impl Wire {
    fn len(&self) -> usize {
        self.head.len() + self.body.len()
    }
}

/// A message already in its wire form.
impl From<Bytes> for Wire {
    fn from(body: Bytes) -> Self {
        Wire { head: Bytes::new(), body }
    }
}

/// What a connection's writer takes off its queue: each protocol says how it goes on the
/// wire (and settles the queue's byte count for what the room queued).
pub(crate) trait Outgoing: Send + 'static {
    /// The message to write, if this is one to write at all.
    fn into_wire(self, control: &ConnControl) -> Option<Wire>;
}

/// Where a connection's writer takes what it sends from: one bounded queue, or (on a
/// socket carrying several documents) several read as one.
pub(crate) trait Queue: Send + 'static {
    type Item: Outgoing;
    /// The next item; `None` once nothing more can come.
    fn recv(&mut self) -> impl Future<Output = Option<Self::Item>> + Send;
    /// An item already waiting, if any.
    fn try_recv(&mut self) -> Option<Self::Item>;
}

impl<T: Outgoing> Queue for mpsc::Receiver<T> {
    type Item = T;

    fn recv(&mut self) -> impl Future<Output = Option<T>> + Send {
        mpsc::Receiver::recv(self)
    }

    fn try_recv(&mut self) -> Option<T> {
        mpsc::Receiver::try_recv(self).ok()
    }
}

/// The bytes of large messages all writers may be sending at once, in KiB, handed out
/// first come first served for the whole message, so the first joiners of a large
/// document are served first rather than every joiner sharing the bandwidth until all
/// finish together. A message larger than the whole budget waits for all of it.
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

/// Runs until the connection closes; then sends the close frame (code and reason from
/// `control`). Anything heard from the client since the last ping (`alive`) counts as a
/// pong; a ping unanswered for a whole interval closes with 4408.
pub(crate) async fn write_loop<Q: Queue>(
    mut tx: SplitSink<WebSocket, Message>,
    mut queue: Q,
    control: Arc<ConnControl>,
    ping_interval: Duration,
    alive: Arc<AtomicBool>,
    large_frames: Arc<FrameBudget>,
) {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
    loop {
        tokio::select! {
            biased;
            _ = control.closed() => break,
            item = queue.recv() => {
                let Some(item) = item else { break };
                let Some(wire) = item.into_wire(&control) else { continue };
                let sent = tokio::select! {
                    r = write_batch(&mut tx, &mut queue, wire, &large_frames, &control, ping_interval) => r.is_ok(),
                    _ = control.closed() => return, // stuck writing to a slow peer: just drop it
                };
                if !sent {
                    control.close(close_code::NORMAL, "");
                    return;
                }
            }
            _ = ping.tick() => {
                if !alive.swap(false, Ordering::Relaxed) {
                    control.close(close_code::TIMEOUT, "ping timeout");
                    break;
                }
                if step(ping_interval, tx.send(Message::Ping(Bytes::new()))).await.is_err() {
                    return;
                }
            }
        }
    }
    let (code, reason) = control.close_frame();
    let close = Message::Close(Some(CloseFrame { code: code.into(), reason: reason.into() }));
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, tx.send(close)).await;
}

/// Writes `first` and whatever else is queued (up to a bound), then flushes once. A message
/// longer than a [`PIECE`] is sent in pieces; a large one first waits for its turn under
/// `large_frames` (queued small frames are flushed before that wait) and holds its share
/// until it is flushed.
async fn write_batch<Q: Queue>(
    tx: &mut SplitSink<WebSocket, Message>,
    queue: &mut Q,
    first: Wire,
    large_frames: &FrameBudget,
    control: &ConnControl,
    stall: Duration,
) -> Result<(), tungstenite::Error> {
    let mut next = Some(first);
    let mut fed = 0;
    while let Some(wire) = next.take() {
        if wire.len() >= LARGE_FRAME {
            if fed > 0 {
                step(stall, tx.flush()).await?;
            }
            let _permit = large_frames.acquire(wire.len()).await;
            feed_in_pieces(tx, wire, stall).await?;
            step(stall, tx.flush()).await?;
            fed = 0;
        } else {
            feed_in_pieces(tx, wire, stall).await?;
            fed += 1;
        }
        while fed < MAX_FRAMES_PER_FLUSH && next.is_none() {
            let Some(item) = queue.try_recv() else { break };
            next = item.into_wire(control);
        }
    }
    if fed > 0 {
        step(stall, tx.flush()).await?;
    }
    Ok(())
}

/// Feeds one binary message: one frame if it fits a [`PIECE`], else a first frame and
/// continuation frames, the last one final, each a slice of the body (the head is copied
/// into the first, with the body's start). Every client reassembles them (browsers, Node's
/// `ws`, tungstenite); only this task writes data frames, so nothing comes between them
/// but control frames, which the protocol allows.
async fn feed_in_pieces(
    tx: &mut SplitSink<WebSocket, Message>,
    wire: Wire,
    stall: Duration,
) -> Result<(), tungstenite::Error> {
    let Wire { head, mut body } = wire;
    if head.is_empty() && body.len() <= PIECE {
        return step(stall, tx.feed(Message::Binary(body))).await;
    }
    let first = if head.is_empty() {
        body.split_to(PIECE.min(body.len()))
    } else {
        let start = body.split_to(PIECE.saturating_sub(head.len()).min(body.len()));
        let mut first = BytesMut::with_capacity(head.len() + start.len());
        first.extend_from_slice(&head);
        first.extend_from_slice(&start);
        first.freeze()
    };
    if body.is_empty() {
        return step(stall, tx.feed(Message::Binary(first))).await;
    }
    step(stall, tx.feed(Message::Frame(Frame::message(first, OpCode::Data(Data::Binary), false)))).await?;
    while !body.is_empty() {
        let piece = body.split_to(PIECE.min(body.len()));
        let last = body.is_empty();
        step(stall, tx.feed(Message::Frame(Frame::message(piece, OpCode::Data(Data::Continue), last)))).await?;
    }
    Ok(())
}

/// One step of writing (a frame fed, a flush), bounded: a peer that takes no bytes for
/// `stall` (a ping interval) has stopped reading. Without the bound, a writer stuck on such
/// a peer would keep its share of the large-message budget, and every later joiner of a
/// large document on this node would wait behind it.
async fn step(
    stall: Duration,
    write: impl Future<Output = Result<(), tungstenite::Error>>,
) -> Result<(), tungstenite::Error> {
    tokio::time::timeout(stall, write).await.unwrap_or_else(|_| {
        metrics::counter!(crate::metrics::LIMITED, "limit" => "stalled_writes").increment(1);
        Err(tungstenite::Error::Io(std::io::ErrorKind::TimedOut.into()))
    })
}

/// Keeps reading (and discarding) until the client answers our close frame, for a
/// moment: closing a socket with unread data resets it, and the client would never see
/// the close code.
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
