//! Marked edits for fault runs: writers append `tag.n;` pieces and keep the set the server
//! acknowledged (echoed back once committed); readers collect the markers a document
//! holds, from a late joiner or straight from the database.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tandem_protocol::{self as proto, ClientMessage};
use tokio_tungstenite::tungstenite::Message;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, Text, Transact, Update};

use crate::clients::{self, Endpoint, Received};

/// The markers of a text made of `tag.n;` pieces.
pub fn markers(text: &str) -> BTreeSet<String> {
    text.split(';').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// What a joiner finds in the room now (connect, sync, read the text).
pub async fn joiner_markers(endpoint: &Endpoint) -> anyhow::Result<BTreeSet<String>> {
    let c = clients::connect(endpoint, true).await?;
    let text = c.doc.get_or_insert_text("content").get_string(&c.doc.transact());
    Ok(markers(&text))
}

/// What the database holds for `doc` (snapshot and log), read without any server.
pub async fn stored_markers(database_url: &str, doc: &str) -> anyhow::Result<BTreeSet<String>> {
    let store = tandem::store::open(database_url, tandem::config::SqliteSync::Normal).await?;
    let id = tandem::ids::DocId::parse(doc).ok_or_else(|| anyhow::anyhow!("bad document id"))?;
    let stored = store.load_doc(&id).await?;
    let ydoc = Doc::new();
    let text = ydoc.get_or_insert_text("content");
    // One transaction per part: yrs is quadratic in what one transaction integrates.
    for part in stored.parts() {
        ydoc.transact_mut().apply_update(Update::decode_v1(part)?)?;
    }
    Ok(markers(&text.get_string(&ydoc.transact())))
}

/// One writer across connections. Each connection starts from a fresh document and
/// client id, so nothing held from before a failure is pushed again: what the server
/// acknowledged must be there on its own.
pub struct Writer {
    tag: String,
    next: u64,
    pub acked: BTreeSet<String>,
    pub sent: u64,
    /// Every acknowledgement as it arrives (when, marker), shared with the scenario.
    log: Option<AckLog>,
}

/// Acknowledged markers with the time their acknowledgement arrived, oldest first.
pub type AckLog = Arc<Mutex<Vec<(Instant, String)>>>;

impl Writer {
    pub fn new(tag: impl Into<String>) -> Self {
        Writer { tag: tag.into(), next: 0, acked: BTreeSet::new(), sent: 0, log: None }
    }

    /// Also appends every acknowledgement to `log` as it arrives.
    pub fn with_log(mut self, log: AckLog) -> Self {
        self.log = Some(log);
        self
    }

    /// Writes on one connection as fast as acknowledgements allow (at most `window`
    /// edits unacknowledged) until `stop` is raised or the connection fails. Counts every
    /// acknowledged edit in `acked_total`.
    pub async fn session(
        &mut self,
        endpoint: &Endpoint,
        stop: &AtomicBool,
        window: usize,
        acked_total: &AtomicU64,
    ) -> anyhow::Result<()> {
        let mut c = clients::connect(endpoint, false).await?;
        let me = c.doc.client_id();
        let text = c.doc.get_or_insert_text("content");
        // (clock after the edit, marker), oldest first.
        let mut pending: VecDeque<(u32, String)> = VecDeque::new();
        while !stop.load(Ordering::Relaxed) {
            if pending.len() < window {
                let marker = format!("{}.{}", self.tag, self.next);
                self.next += 1;
                let (update, end) = {
                    let mut txn = c.doc.transact_mut();
                    let len = text.len(&txn);
                    text.insert(&mut txn, len, &format!("{marker};"));
                    let update = txn.encode_update_v1();
                    drop(txn);
                    (update, c.doc.transact().state_vector().get(&me))
                };
                c.send(&proto::encode_update(&update)).await?;
                self.sent += 1;
                pending.push_back((end, marker));
            }
            let wait = if pending.len() < window { Duration::from_millis(1) } else { Duration::from_millis(50) };
            let msg = match tokio::time::timeout(wait, c.ws.next()).await {
                Err(_) => continue,
                Ok(Some(Ok(msg))) => msg,
                Ok(Some(Err(e))) => anyhow::bail!("connection failed: {e}"),
                Ok(None) => anyhow::bail!("connection closed"),
            };
            let Message::Binary(frame) = msg else {
                if let Message::Close(frame) = msg {
                    let code = frame.map(|f| u16::from(f.code).to_string());
                    anyhow::bail!("connection closed by the server ({})", code.as_deref().unwrap_or("no code"));
                }
                continue;
            };
            let Received::Message(m) = c.unwrap(&frame) else { continue };
            if let Ok(ClientMessage::Update(u)) = proto::decode(m) {
                let ids = u.insertions(true);
                if let Some((_, ranges)) = ids.iter().find(|(id, _)| **id == me) {
                    let upto = ranges.iter().map(|r| r.end).max().unwrap_or(0);
                    while pending.front().is_some_and(|(end, _)| *end <= upto) {
                        let (_, marker) = pending.pop_front().unwrap();
                        if let Some(log) = &self.log {
                            log.lock().unwrap().push((Instant::now(), marker.clone()));
                        }
                        self.acked.insert(marker);
                        acked_total.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        Ok(())
    }
}
