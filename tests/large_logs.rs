//! A document whose log holds hundreds of large updates (an import, or a busy session
//! before compaction ran): folding that log into a snapshot and opening the document's
//! room must cost memory in proportion to the document, not to the square of its rows.
//! (Both once applied every row in one yrs transaction: 500 rows of 16 KiB took 2 GB and
//! 3 s, while SQLite's write lock was held for the whole fold.)
//!
//! One test in this binary on purpose (the others are all in `tests/it`): it reads the
//! process' peak RSS, which other tests running alongside would disturb.

#[path = "it/common/mod.rs"]
#[macro_use]
mod common;

use bytes::Bytes;
use common::TestServer;
use tandem::config::SqliteSync;
use tandem::ids::DocId;
use yrs::{Doc, Text, Transact};

const ROWS: usize = 500;
const ROW_BYTES: usize = 16 * 1024;
/// Most the peak RSS may grow while the ~8 MB document is folded or opened.
const CEILING_KIB: u64 = 256 * 1024;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Peak RSS growth (KiB) over what `work` does: the kernel's high-water mark is reset
/// first (`clear_refs` 5).
async fn peak_growth<F: std::future::Future<Output = ()>>(work: F) -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
    let before = status_kib("VmRSS:");
    work.await;
    status_kib("VmHWM:").saturating_sub(before)
}

/// Appends of `ROW_BYTES` characters each, as a client typing or pasting sends them.
fn large_rows() -> Vec<Bytes> {
    let doc = Doc::new();
    let text = doc.get_or_insert_text("content");
    let chunk = "s".repeat(ROW_BYTES);
    (0..ROWS)
        .map(|_| {
            let mut txn = doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, len, &chunk);
            Bytes::from(txn.encode_update_v1())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folding_and_opening_a_log_of_large_rows_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tandem.db").display());
    let store = tandem::store::open(&url, SqliteSync::Normal).await.unwrap();
    let rows = large_rows();
    let (folded, opened) = (DocId::parse("folded").unwrap(), DocId::parse("opened").unwrap());
    for id in [&folded, &opened] {
        let batch: Vec<(DocId, Bytes)> = rows.iter().map(|r| (id.clone(), r.clone())).collect();
        store.append_updates(&batch).await.unwrap();
    }

    let started = std::time::Instant::now();
    let mut compaction = None;
    let grew = peak_growth(async { compaction = Some(store.compact(&folded).await.unwrap()) }).await;
    assert_eq!(compaction.unwrap().rows, ROWS as u64);
    println!("compaction of {ROWS} rows of {ROW_BYTES} bytes: {:?}, peak RSS +{grew} KiB", started.elapsed());
    assert!(grew < CEILING_KIB, "folding {ROWS} rows of {ROW_BYTES} bytes grew the peak RSS by {grew} KiB");
    drop(store);

    // A room opening the other document applies its whole log (and then compacts it).
    let server = TestServer::start_in(dir, None, |_| {}).await;
    let started = std::time::Instant::now();
    let mut text_len = 0;
    let grew = peak_growth(async { text_len = server.client("opened").await.text().len() }).await;
    println!("opening a room on {ROWS} rows of {ROW_BYTES} bytes: {:?}, peak RSS +{grew} KiB", started.elapsed());
    assert_eq!(text_len, ROWS * ROW_BYTES);
    assert!(grew < CEILING_KIB, "opening a room on {ROWS} rows of {ROW_BYTES} bytes grew the peak RSS by {grew} KiB");
}
