//! The document's comment threads over REST: started on random ranges, listed (timed,
//! and checked to hold every thread), and the text under half of them deleted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use rand::rngs::StdRng;
use serde_json::Value;
use tokio::task::JoinSet;

use super::micros;
use super::writer::Writer;
use crate::api::Api;
use crate::scenarios;

/// Shortest and longest range a thread is started on, in characters.
const RANGE_LEN: std::ops::RangeInclusive<usize> = 5..=60;

/// Starts `threads` threads on random ranges of a text of `len` UTF-16 code units,
/// `concurrency` creations at a time.
pub async fn start(
    api: &Api,
    doc: &str,
    len: usize,
    threads: usize,
    concurrency: usize,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    anyhow::ensure!(len > *RANGE_LEN.end(), "the text is too short for threads");
    let ranges: Vec<(usize, usize)> = (0..threads)
        .map(|_| {
            let length = rng.random_range(RANGE_LEN);
            (rng.random_range(0..=len - length), length)
        })
        .collect();
    let made = Arc::new(AtomicU64::new(0));
    let _progress = scenarios::Progress::start(vec![("threads", made.clone())]);
    let mut workers = JoinSet::new();
    for w in 0..concurrency {
        let mine: Vec<(usize, (usize, usize))> =
            ranges.iter().copied().enumerate().skip(w).step_by(concurrency).collect();
        let (api, doc, made) = (api.clone(), doc.to_owned(), made.clone());
        workers.spawn(async move {
            for (i, (index, length)) in mine {
                api.start_thread(&doc, index, length, &format!("Thread {i}: does this still hold?")).await?;
                made.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done??;
    }
    Ok(())
}

/// What timed listings saw.
pub struct Listed {
    pub latencies_us: Vec<u32>,
    /// Size of the last response body.
    pub bytes: usize,
    /// Threads whose text is gone, in the last response.
    pub orphaned: usize,
    /// Listings that did not hold every thread, each with its anchor.
    pub short: usize,
}

/// Lists `times` times in a row, each answer checked to hold all `threads` threads.
pub async fn list(api: &Api, doc: &str, times: usize, threads: usize) -> anyhow::Result<Listed> {
    let mut listed = Listed { latencies_us: Vec::with_capacity(times), bytes: 0, orphaned: 0, short: 0 };
    for _ in 0..times {
        let (took, body) = api.list_comments(doc).await?;
        listed.latencies_us.push(micros(took));
        listed.bytes = body.len();
        let items = anchors(&serde_json::from_slice(&body)?);
        listed.short += usize::from(items.len() != threads);
        listed.orphaned = items.iter().filter(|a| a.orphaned).count();
    }
    Ok(listed)
}

/// Deletes the text under every other thread (in position order) in one update from the
/// writer; answers how many characters went. (Not through `PUT …/content`: on a 1 MB text
/// its character diff runs out of time and replaces nearly everything, orphaning every
/// thread instead of half.)
pub async fn delete_under_half(writer: &Writer, api: &Api, doc: &str) -> anyhow::Result<u32> {
    let (_, body) = api.list_comments(doc).await?;
    let cuts = under_every_other(&anchors(&serde_json::from_slice(&body)?));
    let deleted = cuts.iter().map(|(s, e)| e - s).sum();
    writer.delete(cuts).await?;
    Ok(deleted)
}

/// A listed thread's anchor.
#[derive(Debug, Clone, Copy)]
struct ListedAnchor {
    index: u32,
    length: u32,
    orphaned: bool,
}

/// The anchors of a listing's threads, in its order (by position); threads without one
/// are left out.
fn anchors(list: &Value) -> Vec<ListedAnchor> {
    let items = list["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .filter_map(|t| {
            let a = t.get("anchor")?;
            Some(ListedAnchor {
                index: u32::try_from(a["index"].as_u64()?).ok()?,
                length: u32::try_from(a["length"].as_u64()?).ok()?,
                orphaned: a["orphaned"].as_bool()?,
            })
        })
        .collect()
}

/// The `[start, end)` ranges under the first, third, fifth… anchor, sorted, overlapping
/// ones merged so every character is deleted once.
fn under_every_other(anchors: &[ListedAnchor]) -> Vec<(u32, u32)> {
    let mut cuts: Vec<(u32, u32)> =
        anchors.iter().step_by(2).filter(|a| a.length > 0).map(|a| (a.index, a.index + a.length)).collect();
    cuts.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(cuts.len());
    for (start, end) in cuts {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_other_anchor_is_cut_and_overlaps_merge() {
        let list = json!({ "items": [
            { "anchor": { "index": 0, "length": 5, "orphaned": false } },
            { "anchor": { "index": 2, "length": 10, "orphaned": false } },
            { "anchor": { "index": 3, "length": 4, "orphaned": false } },
            { "anchor": null },
            { "anchor": { "index": 20, "length": 5, "orphaned": false } },
            { "anchor": { "index": 30, "length": 0, "orphaned": true } },
            { "anchor": { "index": 40, "length": 2, "orphaned": false } },
        ]});
        let found = anchors(&list);
        assert_eq!(found.len(), 6);
        assert_eq!(found.iter().filter(|a| a.orphaned).count(), 1);
        // The 1st, 3rd and 5th anchors (the empty one is skipped); 0..5 and 3..7 merge.
        assert_eq!(under_every_other(&found), vec![(0, 7)]);
        let spread: Vec<ListedAnchor> =
            (0..4).map(|i| ListedAnchor { index: i * 10, length: 3, orphaned: false }).collect();
        assert_eq!(under_every_other(&spread), vec![(0, 3), (20, 23)]);
    }
}
