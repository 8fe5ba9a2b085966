//! One y-websocket client editing as a person does: a word typed at a random place,
//! sometimes over a few characters it replaces. Each edit is answered with the time from
//! its send to its echo (the server sends a client's own update back once it is durable,
//! which is when the client may count it as saved). The client reads its socket all the
//! time, so pings are answered while the scenario does other things. It also deletes
//! exact ranges on request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tandem_protocol::{self as proto, ClientMessage};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use yrs::{Doc, ReadTxn, Text, TextRef, Transact};

use crate::clients::{self, Connected};

/// Edits asked for and not yet sent.
const COMMAND_QUEUE: usize = 256;
/// What a word typed is made of (all ASCII: byte, UTF-16 and yrs offsets agree).
const WORDS: &[&str] = &[
    "the ",
    "draft ",
    "review ",
    "owner ",
    "latency ",
    "rollout ",
    "and ",
    "cache ",
    "quorum ",
    "notes ",
    "plan ",
    "**bold** ",
    "`code` ",
    "- item\n",
    "it ",
    "a ",
    "TODO ",
    "see [link](#) ",
];

/// Asks the writer's task for edits; the task owns the socket and the document.
pub struct Writer {
    asks: mpsc::Sender<Ask>,
    task: JoinHandle<anyhow::Result<()>>,
}

enum Ask {
    /// A random edit; the answer is the time until its echo.
    Edit(oneshot::Sender<Duration>),
    /// Delete these ranges (UTF-16 offsets, sorted, disjoint) in one update.
    Delete(Vec<(u32, u32)>),
}

impl Writer {
    /// Starts the task for a connected, fully synced client (`connect(…, true)`).
    pub fn start(c: Connected, seed: u64) -> Self {
        let (asks, rx) = mpsc::channel(COMMAND_QUEUE);
        Writer { asks, task: tokio::spawn(run(c, StdRng::seed_from_u64(seed), rx)) }
    }

    /// Makes one random edit; the receiver gets the time until the server echoed it.
    pub async fn edit(&self) -> anyhow::Result<oneshot::Receiver<Duration>> {
        let (tx, rx) = oneshot::channel();
        self.ask(Ask::Edit(tx)).await?;
        Ok(rx)
    }

    /// Deletes `[start, end)` ranges of the text (sorted, disjoint) in one update, and
    /// waits until it is durable: an edit sent after it is echoed after it.
    pub async fn delete(&self, ranges: Vec<(u32, u32)>) -> anyhow::Result<()> {
        self.ask(Ask::Delete(ranges)).await?;
        tokio::time::timeout(Duration::from_secs(60), self.edit().await?).await??;
        Ok(())
    }

    async fn ask(&self, ask: Ask) -> anyhow::Result<()> {
        self.asks.send(ask).await.map_err(|_| anyhow::anyhow!("the writer stopped"))
    }

    /// Closes the socket; an error if the task failed before (socket closed by the server).
    pub async fn close(self) -> anyhow::Result<()> {
        drop(self.asks);
        self.task.await?
    }
}

async fn run(mut c: Connected, mut rng: StdRng, mut asks: mpsc::Receiver<Ask>) -> anyhow::Result<()> {
    let me = c.doc.client_id().get();
    let text = c.doc.get_or_insert_text("content");
    let mut waiting: HashMap<(u64, u32), (Instant, oneshot::Sender<Duration>)> = HashMap::new();
    loop {
        tokio::select! {
            asked = asks.recv() => {
                let update = match asked {
                    Some(Ask::Edit(reply)) => {
                        let (update, key) = edit(&c.doc, &text, &mut rng);
                        waiting.insert(key, (Instant::now(), reply));
                        update
                    }
                    Some(Ask::Delete(ranges)) => {
                        let mut txn = c.doc.transact_mut();
                        for &(start, end) in ranges.iter().rev() {
                            text.remove_range(&mut txn, start, end - start);
                        }
                        txn.encode_update_v1()
                    }
                    None => break,
                };
                c.send(&proto::encode_update(&update)).await?;
            }
            msg = c.ws.next() => {
                let frame = match msg {
                    Some(Ok(Message::Binary(frame))) => frame,
                    Some(Ok(Message::Close(close))) => anyhow::bail!("the server closed the writer: {close:?}"),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e.into()),
                    None => anyhow::bail!("the writer's socket ended"),
                };
                if let Some(key) = clients::edit_key(&frame).filter(|k| k.0 == me) {
                    if let Some((sent, reply)) = waiting.remove(&key) {
                        let _ = reply.send(sent.elapsed());
                    }
                    continue;
                }
                // Others' changes (a REST write): applied, so later edits land in the text as it is.
                if let Ok(ClientMessage::Update(u) | ClientMessage::SyncStep2(u)) = proto::decode(&frame) {
                    c.doc.transact_mut().apply_update(u)?;
                }
            }
        }
    }
    let _ = c.ws.close(None).await;
    Ok(())
}

/// One edit: a word inserted at a random place, half the time over up to six characters
/// it replaces. Every edit inserts, so its update starts with a block of this client's at
/// the clock before it: the key its echo is recognised by.
fn edit(doc: &Doc, text: &TextRef, rng: &mut StdRng) -> (Vec<u8>, (u64, u32)) {
    let mut txn = doc.transact_mut();
    let clock = txn.state_vector().get(&doc.client_id());
    let len = text.len(&txn);
    let at = rng.random_range(0..=len);
    let cut = if rng.random_bool(0.5) { rng.random_range(0..=(len - at).min(6)) } else { 0 };
    if cut > 0 {
        text.remove_range(&mut txn, at, cut);
    }
    text.insert(&mut txn, at, WORDS[rng.random_range(0..WORDS.len())]);
    (txn.encode_update_v1(), (doc.client_id().get(), clock))
}
