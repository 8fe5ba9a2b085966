//! Waiting for a client's document to hold a set of `;`-separated markers, with deadlines
//! that hold on a busy machine: the wait goes on while markers keep arriving and gives up
//! only when nothing new came for a while (or a hard cap passes). When it gives up, the
//! failure reads the database, so it says whether data is missing there or whether the
//! nodes were only slow (or stuck) bringing stored data to the client.

use std::collections::BTreeSet;
use std::time::Duration;

use tandem::ids::DocId;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Transact, Update};

use super::Client;
use super::client::Event;

/// How long a wait goes on without any new marker arriving.
pub const STALL: Duration = Duration::from_secs(20);
/// The longest any wait goes on, progress or not.
pub const CAP: Duration = Duration::from_secs(120);

/// The markers (`tag.n`) of a text made of `tag.n;` pieces.
pub fn markers(text: &str) -> BTreeSet<String> {
    text.split(';').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The text `content` of what the database holds for `doc` (snapshot and log).
pub async fn stored_text(database_url: &str, doc: &str) -> String {
    let store = tandem::store::open(database_url, tandem::config::SqliteSync::Normal).await.expect("open the store");
    let stored = store.load_doc(&DocId::parse(doc).unwrap()).await.expect("read the document");
    let ydoc = Doc::new();
    let text = ydoc.get_or_insert_text("content");
    let mut txn = ydoc.transact_mut();
    for part in stored.parts() {
        txn.apply_update(Update::decode_v1(part).expect("stored update decodes")).expect("apply");
    }
    text.get_string(&txn)
}

/// Where a document's durable state is, for telling lost data from slow convergence.
pub struct Stored<'a> {
    pub database_url: &'a str,
    pub doc: &'a str,
}

/// Reads `client`'s frames until its markers satisfy `done`, giving up after [`STALL`]
/// without progress or [`CAP`] in all. `want` is what `done` waits for; on failure the
/// message lists what the client lacks and whether the database holds it.
pub async fn wait_markers(
    client: &mut Client,
    who: &str,
    want: &BTreeSet<String>,
    done: impl Fn(&BTreeSet<String>) -> bool,
    stored: &Stored<'_>,
) {
    let started = tokio::time::Instant::now();
    let mut last_progress = started;
    let mut have = markers(&client.text());
    while !done(&have) {
        let now = tokio::time::Instant::now();
        let stall_at = last_progress + STALL;
        let cap_at = started + CAP;
        if now >= stall_at || now >= cap_at {
            let why = if now >= cap_at { format!("{CAP:?} in all") } else { format!("nothing new for {STALL:?}") };
            panic!("{}", diagnose(who, want, &have, stored, &why, started.elapsed()).await);
        }
        let left = stall_at.min(cap_at) - now;
        match client.next_event(left.min(Duration::from_secs(1))).await {
            Some(Event::Closed(code)) => {
                let why = format!("connection closed ({code:?})");
                panic!("{}", diagnose(who, want, &have, stored, &why, started.elapsed()).await);
            }
            _ => {
                let now_have = markers(&client.text());
                if now_have.len() > have.len() {
                    last_progress = tokio::time::Instant::now();
                }
                have = now_have;
            }
        }
    }
}

async fn diagnose(
    who: &str,
    want: &BTreeSet<String>,
    have: &BTreeSet<String>,
    stored: &Stored<'_>,
    why: &str,
    after: Duration,
) -> String {
    let in_db = markers(&stored_text(stored.database_url, stored.doc).await);
    let lacking: Vec<&String> = want.difference(have).collect();
    let not_stored: Vec<&&String> = lacking.iter().filter(|m| !in_db.contains(**m)).collect();
    let verdict = if not_stored.is_empty() {
        "the database holds all of them: data is safe, convergence was slow or stuck".to_owned()
    } else {
        format!(
            "the database lacks {} of them (e.g. {:?}): data is missing",
            not_stored.len(),
            &not_stored[..not_stored.len().min(5)]
        )
    };
    format!(
        "{who} gave up after {after:?} ({why}): it holds {} markers, wants {}, lacks {} (e.g. {:?}); the database holds {}; {verdict}",
        have.len(),
        want.len(),
        lacking.len(),
        &lacking[..lacking.len().min(5)],
        in_db.len(),
    )
}
