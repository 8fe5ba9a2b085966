//! `cold-load`: how long a client waits to be synced when it opens a large document no
//! room holds, so the server reads it from its store (the snapshot and every log row
//! after it), applies it and sends it whole.
//!
//! The documents are written straight into the server's database (`--database-url`)
//! through the server's own store code, as the group-commit writer and compaction write
//! them: a snapshot holding most of the text (fragmented by small edits, as typing leaves
//! it) and `--rows` log rows after it, each one small edit at a random place. A server
//! would have compacted such a log long before (every 500 rows, and when the room
//! closes); a log this long is what a node that crashed, or whose compactions failed,
//! leaves. Each timed join opens a document of its own, once the room of the one before
//! has closed (`tandem_rooms_active` is 0 and its log was folded): run the server with a
//! short `TANDEM_ROOM_GRACE` (e.g. 1s). The server's time for reading and applying is
//! read from its `/metrics` (`tandem_room_load_seconds`), when it has them.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use tandem::ids::DocId;
use tandem::store::Store;
use yrs::{Doc, GetString, Options, ReadTxn, StateVector, Text, Transact};

use super::versions::{Rng, paragraph};
use crate::report::{self, Report};
use crate::{Common, clients};

#[derive(Args, Debug)]
pub struct ColdLoadArgs {
    #[command(flatten)]
    pub common: Common,
    /// The server's database (`sqlite:///…/tandem.db` in its data dir, or its Postgres
    /// URL): the documents are written there directly.
    #[arg(long)]
    pub database_url: String,
    /// Size of the document's text, in MB.
    #[arg(long, default_value_t = 10)]
    pub doc_mb: usize,
    /// Log rows after the snapshot.
    #[arg(long, default_value_t = 10_000)]
    pub rows: usize,
    /// Bytes of text each row inserts (every fourth row also deletes a few); the rest of
    /// the text is in the snapshot.
    #[arg(long, default_value_t = 16)]
    pub row_bytes: usize,
    /// Small edits made to the snapshot's text before it is stored (they fragment it).
    #[arg(long, default_value_t = 2_000)]
    pub edits: usize,
    /// Cold loads timed (each of a document of its own).
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Longest wait, in seconds, for the room of one run to close before the next.
    #[arg(long, default_value_t = 120.0)]
    pub close_timeout: f64,
}

/// What is written for each document: the state folded into the snapshot, then the rows.
struct Seed {
    snapshot: Bytes,
    rows: Vec<Bytes>,
    text: String,
}

pub async fn run(args: ColdLoadArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    anyhow::ensure!((1..=256).contains(&args.doc_mb), "--doc-mb in 1..=256");
    anyhow::ensure!(args.rows <= 200_000 && args.edits <= 200_000, "at most 200000 rows and edits");
    anyhow::ensure!((1..=4096).contains(&args.row_bytes), "--row-bytes in 1..=4096");
    anyhow::ensure!((1..=1000).contains(&args.runs), "--runs in 1..=1000");
    let close_timeout = Duration::from_secs_f64(args.close_timeout.clamp(1.0, 3600.0));
    let metrics_url = metrics_url(&common.url)?;
    // reqwest is built without a default TLS provider: install one before the first client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;

    let started = Instant::now();
    let seed = build(&args);
    eprintln!(
        "  built the document in {:.1} s: snapshot {} bytes, {} rows of {} bytes in all",
        started.elapsed().as_secs_f64(),
        seed.snapshot.len(),
        seed.rows.len(),
        seed.rows.iter().map(Bytes::len).sum::<usize>()
    );
    let store = tandem::store::open(&args.database_url, tandem::config::SqliteSync::Normal).await?;
    let docs: Vec<DocId> = (0..args.runs)
        .map(|i| DocId::parse(&format!("{}-cold-{i}", common.room_prefix)).context("room prefix too long"))
        .collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    for doc in &docs {
        write(store.as_ref(), doc, &seed).await?;
    }
    eprintln!("  wrote {} documents in {:.1} s", docs.len(), started.elapsed().as_secs_f64());

    let before = common.server_pid.and_then(report::sample);
    let split_before = load_split(&http, &metrics_url).await;
    let (mut synced_us, mut synced_bytes) = (Vec::new(), 0);
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            wait_closed(store.as_ref(), &http, &metrics_url, &docs[i - 1], close_timeout).await?;
        }
        let endpoint = common.room_url(doc.as_str(), i)?;
        let t = Instant::now();
        let mut c = clients::connect(&endpoint, false).await?;
        let took = t.elapsed();
        synced_us.push(took.as_micros().min(u32::MAX as u128) as u32);
        synced_bytes = c.synced_bytes;
        eprintln!("  run {}: synced in {:.1} ms ({} bytes)", i + 1, took.as_secs_f64() * 1000.0, c.synced_bytes);
        let _ = c.ws.close(None).await;
    }
    let after = common.server_pid.and_then(report::sample);
    let split_after = load_split(&http, &metrics_url).await;
    let elapsed = started.elapsed();

    // What a full client gets from the last document is exactly what was written.
    let last = docs.last().expect("at least one run");
    let probe = clients::connect(&common.room_url(last.as_str(), args.runs)?, true).await?;
    let have = probe.doc.get_or_insert_text("content").get_string(&probe.doc.transact());
    anyhow::ensure!(have == seed.text, "the room holds {} bytes of text, {} were written", have.len(), seed.text.len());

    let mut r = Report::new("cold-load", common.json.clone());
    r.add("database", if args.database_url.starts_with("sqlite:") { "sqlite" } else { "postgres" });
    r.add("text bytes", seed.text.len() as u64);
    r.add("snapshot bytes", seed.snapshot.len() as u64);
    r.add("log rows", seed.rows.len() as u64);
    r.add("log bytes", seed.rows.iter().map(Bytes::len).sum::<usize>() as u64);
    r.add("sync step 2 bytes", synced_bytes as u64);
    r.add("runs", args.runs as u64);
    r.add_latency("join to synced", synced_us);
    if let (Some(b), Some(a)) = (split_before, split_after) {
        let loads = (a.count - b.count).max(1.0);
        r.add("server: loads counted", a.count - b.count);
        r.add("server: store read ms (mean)", round1((a.read - b.read) * 1000.0 / loads));
        r.add("server: apply ms (mean)", round1((a.apply - b.apply) * 1000.0 / loads));
    }
    report::add_server(&mut r, before, after, elapsed, None);
    Ok(r)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The document: paragraphs up to the snapshot's share of the text, fragmented by small
/// edits, then one small edit per row (an insert at a random place; every fourth row
/// also deletes a few characters).
fn build(args: &ColdLoadArgs) -> Seed {
    let mut rng = Rng(7);
    let doc = Doc::with_options(Options { offset_kind: yrs::OffsetKind::Utf16, ..Options::default() });
    let text = doc.get_or_insert_text("content");
    let target = args.doc_mb * 1_000_000;
    let in_snapshot = target.saturating_sub(args.rows * args.row_bytes).max(1);
    let mut body = String::from("# Notes\n\n");
    while body.len() < in_snapshot {
        body.push_str(&paragraph(&mut rng));
    }
    text.insert(&mut doc.transact_mut(), 0, &body);
    for _ in 0..args.edits {
        let mut txn = doc.transact_mut();
        let len = text.len(&txn);
        text.insert(&mut txn, rng.below(len as usize) as u32, "edited ");
    }
    let snapshot = Bytes::from(doc.transact().encode_state_as_update_v1(&StateVector::default()));
    let mut words = String::new();
    while words.len() < args.row_bytes {
        words.push_str(&paragraph(&mut rng));
    }
    let insert = &words[..args.row_bytes];
    let rows = (0..args.rows)
        .map(|k| {
            let mut txn = doc.transact_mut();
            let len = text.len(&txn);
            let at = rng.below(len as usize) as u32;
            if k % 4 == 3 && len > at + 8 {
                text.remove_range(&mut txn, at, 1 + rng.below(6) as u32);
            }
            text.insert(&mut txn, at, insert);
            Bytes::from(txn.encode_update_v1())
        })
        .collect();
    let text = text.get_string(&doc.transact());
    Seed { snapshot, rows, text }
}

/// Writes one document as the server would have: the snapshot (through a compaction of
/// one row), then the log rows in batches as the group-commit writer appends them.
async fn write(store: &dyn Store, doc: &DocId, seed: &Seed) -> anyhow::Result<()> {
    let stored = store.load_doc(doc).await?;
    anyhow::ensure!(
        stored.snapshot.is_none() && stored.updates.is_empty(),
        "document {doc} is already stored: use another --room-prefix"
    );
    store.append_updates(&[(doc.clone(), seed.snapshot.clone())]).await?;
    store.compact(doc).await?;
    for batch in seed.rows.chunks(512) {
        let batch: Vec<(DocId, Bytes)> = batch.iter().map(|r| (doc.clone(), r.clone())).collect();
        store.append_updates(&batch).await?;
    }
    Ok(())
}

/// Waits until no room is live on the server and `doc`'s log was folded (at open, or
/// when its room closed): the next join then opens a room from the store, on a quiet
/// server.
async fn wait_closed(
    store: &dyn Store,
    http: &reqwest::Client,
    metrics_url: &str,
    doc: &DocId,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let rooms = scrape(http, metrics_url).await.ok().and_then(|m| value(&m, "tandem_rooms_active"));
        if rooms == Some(0.0) && store.log_len(doc).await? == 0 {
            // Let the last of the close (its log lines, a WAL checkpoint) pass.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the room of {doc} did not close within {timeout:?} (rooms live: {rooms:?}); is TANDEM_ROOM_GRACE short?"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `ws://host:port/…` → `http://host:port/metrics`.
fn metrics_url(ws_url: &str) -> anyhow::Result<String> {
    let rest = ws_url.strip_prefix("ws://").context("--url must be ws:// for cold-load")?;
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    Ok(format!("http://{host}/metrics"))
}

async fn scrape(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    Ok(http.get(url).send().await?.error_for_status()?.text().await?)
}

/// The value of the series whose name and labels are exactly `series`.
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The server's cumulative time reading and applying stored documents, and how many.
struct Split {
    read: f64,
    apply: f64,
    count: f64,
}

async fn load_split(http: &reqwest::Client, url: &str) -> Option<Split> {
    let m = scrape(http, url).await.ok()?;
    Some(Split {
        read: value(&m, r#"tandem_room_load_seconds_sum{stage="read"}"#)?,
        apply: value(&m, r#"tandem_room_load_seconds_sum{stage="apply"}"#)?,
        count: value(&m, r#"tandem_room_load_seconds_count{stage="read"}"#)?,
    })
}
