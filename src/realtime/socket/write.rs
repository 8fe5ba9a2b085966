//! A connection's writer, the same for both protocols: it drains the connection's bounded
//! queue, batching queued frames into one flush, holds large frames under a budget all
//! writers share, pings, and sends the close frame its [`ConnControl`] says.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Semaphore, SemaphorePermit, mpsc};

use crate::realtime::room::{ConnControl, close_code};

/// Most queued frames written before one flush.
const MAX_FRAMES_PER_FLUSH: usize = 64;
/// Frames at least this large are written under the large-frame budget.
const LARGE_FRAME: usize = 256 * 1024;
/// How long a close frame may take to go out before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What a connection's writer takes off its queue: each protocol says how it goes on the
/// wire (and settles the queue's byte count for what the room queued).
pub(crate) trait Outgoing: Send + 'static {
    /// The frame to write, if this is one to write at all.
    fn into_frame(self, control: &ConnControl) -> Option<Bytes>;
}

/// Frames already in their wire form.
impl Outgoing for Bytes {
    fn into_frame(self, _: &ConnControl) -> Option<Bytes> {
        Some(self)
    }
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

/// Runs until the connection closes; then sends the close frame (code and reason from
/// `control`). Anything heard from the client since the last ping (`alive`) counts as a
/// pong; a ping unanswered for a whole interval closes with 4408.
pub(crate) async fn write_loop<T: Outgoing>(
    mut tx: SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<T>,
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
                let Some(frame) = item.into_frame(&control) else { continue };
                let sent = tokio::select! {
                    r = write_batch(&mut tx, &mut queue, frame, &large_frames, &control) => r.is_ok(),
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
                if tx.send(Message::Ping(Bytes::new())).await.is_err() {
                    return;
                }
            }
        }
    }
    let (code, reason) = control.close_frame();
    let close = Message::Close(Some(CloseFrame { code, reason: reason.into() }));
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, tx.send(close)).await;
}

/// Writes `first` and whatever else is queued (up to a bound), then flushes once. A large
/// frame is written on its own, holding its size in `large_frames` until it is flushed:
/// the socket library copies each frame whole into a per-connection buffer, so without a
/// budget a join storm on a large document holds one copy per joiner at once.
async fn write_batch<T: Outgoing>(
    tx: &mut SplitSink<WebSocket, Message>,
    queue: &mut mpsc::Receiver<T>,
    first: Bytes,
    large_frames: &FrameBudget,
    control: &ConnControl,
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
        while fed < MAX_FRAMES_PER_FLUSH && next.is_none() {
            let Ok(item) = queue.try_recv() else { break };
            next = item.into_frame(control);
        }
    }
    if fed > 0 {
        tx.flush().await?;
    }
    Ok(())
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
