//! What a Hocuspocus socket's one writer reads: the socket's own frames (answers, pongs,
//! pings, stateless messages) and, for each open document, the queue its room fills, read
//! as one queue. A room message so reaches the socket with no task of its own per
//! document, and goes out behind its document's name with its bytes never copied whole
//! (the room's frame stays the buffer it shares with every receiver).

use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::FutureExt;
use tandem_protocol::hocuspocus as hp;
use tokio::sync::mpsc;

use super::write::{Outgoing, Queue, Wire};
use crate::realtime::room::{ConnControl, Outbound};

/// What the socket itself queues, in the order it is to take effect.
pub(super) enum Out {
    /// A frame of the protocol's own, in its wire form.
    Frame(Bytes),
    /// From here on, the document's room messages: queued after its Authenticated answer,
    /// so none reaches the client before it.
    Open { name: String, room: mpsc::Receiver<Outbound> },
    /// The client closed the document: what its room still queued is dropped.
    Close(String),
}

impl From<Vec<u8>> for Out {
    fn from(frame: Vec<u8>) -> Self {
        Out::Frame(frame.into())
    }
}

/// The receiving end of a Hocuspocus socket's outgoing queues.
pub(super) struct Outbox {
    own: mpsc::Receiver<Out>,
    docs: Vec<OpenDoc>,
    /// The document read first next time, so one busy document cannot starve the others.
    turn: usize,
}

struct OpenDoc {
    name: Arc<str>,
    /// `varString(name)`: what goes before each of its room's messages.
    prefix: Bytes,
    room: mpsc::Receiver<Outbound>,
    /// The room let the connection go (nothing more will come).
    done: bool,
}

/// One item for the writer.
pub(super) enum Next {
    Own(Bytes),
    Room { name: Arc<str>, prefix: Bytes, out: Outbound },
}

impl Outbox {
    pub(super) fn new(own: mpsc::Receiver<Out>) -> Self {
        Outbox { own, docs: Vec::new(), turn: 0 }
    }

    /// The socket's own frames first, then the documents' in turn; `None` once the socket
    /// queues nothing more (it is closing).
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Next>> {
        loop {
            match self.own.poll_recv(cx) {
                Poll::Ready(Some(Out::Frame(frame))) => return Poll::Ready(Some(Next::Own(frame))),
                Poll::Ready(Some(Out::Open { name, room })) => {
                    let prefix = hp::for_document(&name, &[]).into();
                    self.docs.push(OpenDoc { name: name.into(), prefix, room, done: false });
                }
                Poll::Ready(Some(Out::Close(name))) => self.docs.retain(|d| *d.name != *name),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => break,
            }
        }
        let n = self.docs.len();
        let mut next = None;
        for i in 0..n {
            let k = (self.turn + i) % n;
            let doc = &mut self.docs[k];
            match doc.room.poll_recv(cx) {
                Poll::Ready(Some(out)) => {
                    next = Some(Next::Room { name: doc.name.clone(), prefix: doc.prefix.clone(), out });
                    self.turn = k + 1;
                    break;
                }
                Poll::Ready(None) => doc.done = true,
                Poll::Pending => {}
            }
        }
        self.docs.retain(|d| !d.done);
        match next {
            Some(next) => Poll::Ready(Some(next)),
            None => Poll::Pending,
        }
    }
}

impl Queue for Outbox {
    type Item = Next;

    fn recv(&mut self) -> impl Future<Output = Option<Next>> + Send {
        poll_fn(|cx| self.poll_next(cx))
    }

    fn try_recv(&mut self) -> Option<Next> {
        poll_fn(|cx| self.poll_next(cx)).now_or_never().flatten()
    }
}

/// A room's message for a document goes behind the document's name (Hocuspocus' sync and
/// awareness types are y-websocket's); acknowledgements become SyncStatus.
impl Outgoing for Next {
    fn into_wire(self, control: &ConnControl) -> Option<Wire> {
        let (name, prefix, out) = match self {
            Next::Own(frame) => return Some(frame.into()),
            Next::Room { name, prefix, out } => (name, prefix, out),
        };
        control.dequeued(out.queued_bytes());
        Some(match out {
            Outbound::Frame(frame) => Wire { head: prefix, body: frame },
            Outbound::Ack => Bytes::from(hp::encode_sync_status(&name, true)).into(),
            Outbound::ReadOnly => Bytes::from(hp::encode_sync_status(&name, false)).into(),
        })
    }
}
