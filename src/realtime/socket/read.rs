//! A connection's reader, the part both protocols share: the close policy (what ends the
//! reading, and what is still read after the outgoing side closed), refused frames (text,
//! too big), keep-alive, and the connection's rate limits, taken before any work is done
//! on a frame. Each protocol parses and routes what comes out.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use tokio_tungstenite::tungstenite::{Error, Message};
use tracing::debug;

use super::WebSocket;
use crate::realtime::limits::ConnLimits;
use crate::realtime::room::{ConnControl, close_code};

/// How long a connection whose outgoing side closed is still read, so that a burst its
/// client sent just before closing is applied at the pace the limits allow.
pub(crate) const INPUT_GRACE: Duration = Duration::from_secs(30);
/// Within that, how long such a connection may stay silent before it is let go.
const INPUT_IDLE: Duration = Duration::from_secs(2);

/// What the reader hands over next.
pub(crate) enum Next<T> {
    /// A binary frame, already accounted against the connection's limits.
    Frame(Bytes),
    /// What the caller's other source of work produced first.
    Other(T),
}

/// Reads one connection's frames until the client closes or the connection is refused.
/// When only the outgoing side closes (the client left, or reads too slowly), what the
/// client sent before its own close is still read, for at most [`INPUT_GRACE`] and for as
/// long as it keeps sending.
pub(crate) struct FrameReader<'a> {
    rx: &'a mut SplitStream<WebSocket>,
    control: &'a ConnControl,
    alive: &'a AtomicBool,
    limits: ConnLimits,
    grace: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
}

impl<'a> FrameReader<'a> {
    pub(crate) fn new(
        rx: &'a mut SplitStream<WebSocket>,
        control: &'a ConnControl,
        alive: &'a AtomicBool,
        limits: ConnLimits,
    ) -> Self {
        let grace = Box::pin(async move {
            control.closed().await;
            tokio::time::sleep(INPUT_GRACE).await;
        });
        FrameReader { rx, control, alive, limits, grace }
    }

    /// The next frame, or what `other` resolves to first; `None` once reading is over (a
    /// frame that ends it has closed the connection with its code: 1003 for text, 1009
    /// for too big).
    pub(crate) async fn next<T>(&mut self, other: impl Future<Output = T>) -> Option<Next<T>> {
        let control = self.control;
        tokio::pin!(other);
        loop {
            let next = tokio::select! {
                biased;
                _ = control.refused() => return None,
                _ = &mut self.grace => return None,
                _ = idle_after_close(control) => return None,
                other = &mut other => return Some(Next::Other(other)),
                next = self.rx.next() => next,
            };
            let msg = match next {
                Some(Ok(msg)) => msg,
                Some(Err(e)) => {
                    if matches!(e, Error::Capacity(_)) {
                        metrics::counter!(crate::metrics::REFUSED_FRAMES, "reason" => "too_big").increment(1);
                        control.close(close_code::TOO_BIG, "message too big");
                    }
                    debug!(error = %e, "read failed");
                    return None;
                }
                None => return None,
            };
            self.alive.store(true, Ordering::Relaxed);
            let frame = match msg {
                Message::Binary(frame) => frame,
                Message::Text(_) => {
                    metrics::counter!(crate::metrics::REFUSED_FRAMES, "reason" => "text").increment(1);
                    control.close(close_code::UNSUPPORTED_DATA, "binary frames only");
                    return None;
                }
                Message::Close(_) => return None,
                // Raw frames are never read: tungstenite reassembles fragments.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            // Every frame is accounted before any work on it: over the connection's
            // rates, reading waits (and TCP slows the client down).
            tokio::select! {
                biased;
                _ = control.refused() => return None,
                () = self.limits.admit(frame.len()) => {}
            }
            return Some(Next::Frame(frame));
        }
    }
}

/// Resolves once the connection's outgoing side has closed and its client has then sent
/// nothing for [`INPUT_IDLE`] (made anew for each frame read, so each frame restarts it).
async fn idle_after_close(control: &ConnControl) {
    control.closed().await;
    tokio::time::sleep(INPUT_IDLE).await;
}
