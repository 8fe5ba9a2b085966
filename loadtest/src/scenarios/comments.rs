//! `comments`: what listing a document's comment threads costs on a large document that
//! real editing has fragmented, and what listing does to the edit path. A fresh user
//! makes a document of `--doc-bytes` Markdown, edits it `--edits` times at random places
//! through one y-websocket client (each edit acknowledged), starts `--threads` threads on
//! random ranges, then times `GET …/comments` (`--lists` calls in a row). Then a writer
//! edits every 20 ms for `--duration` seconds, timing each edit's echo, first alone and
//! then while another task lists the comments back to back. With `--orphan` the text
//! under half the threads is deleted and listing is timed again (positions on deleted
//! text are resolved one by one: the slow case).

mod writer;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::task::JoinSet;

use self::writer::Writer;
use crate::api::Api;
use crate::clients::{self, Endpoint, Protocol};
use crate::report::{self, Report};
use crate::{Common, scenarios};

/// One edit every this long on the edit path (a fast typist).
const EDIT_PERIOD: Duration = Duration::from_millis(20);
/// Longest an edit may wait for its echo before it counts as unacknowledged.
const ECHO_TIMEOUT: Duration = Duration::from_secs(30);
/// Most listings the background lister makes in one edit run.
const MAX_BACKGROUND_LISTS: usize = 100_000;

#[derive(Args, Debug)]
pub struct CommentsArgs {
    #[command(flatten)]
    pub common: Common,
    /// Size of the document's Markdown, in bytes.
    #[arg(long, default_value_t = 1_000_000)]
    pub doc_bytes: usize,
    /// Random small edits made before any thread is started (fragmenting the text).
    #[arg(long, default_value_t = 5_000)]
    pub edits: usize,
    /// Edits in flight at once while fragmenting.
    #[arg(long, default_value_t = 32)]
    pub edit_window: usize,
    /// Threads started, each on a random range of 5 to 60 characters.
    #[arg(long, default_value_t = 1_000)]
    pub threads: usize,
    /// Thread creations in flight at once.
    #[arg(long, default_value_t = 4)]
    pub post_concurrency: usize,
    /// Listings timed, one after the other.
    #[arg(long, default_value_t = 50)]
    pub lists: usize,
    /// Then delete the text under half the threads and time the listings again.
    #[arg(long)]
    pub orphan: bool,
    /// Seed of the text, the edits and the ranges.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub async fn run(args: CommentsArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    anyhow::ensure!(common.protocol == Protocol::YWebsocket, "comments speaks y-websocket only");
    anyhow::ensure!((1_000..=16_000_000).contains(&args.doc_bytes), "--doc-bytes in 1000..=16000000");
    anyhow::ensure!(args.edits <= 1_000_000, "--edits at most 1000000");
    anyhow::ensure!((1..=5_000).contains(&args.threads), "--threads in 1..=5000 (the server's limit)");
    anyhow::ensure!((1..=10_000).contains(&args.lists), "--lists in 1..=10000");
    anyhow::ensure!((1..=256).contains(&args.edit_window), "--edit-window in 1..=256");
    anyhow::ensure!((1..=64).contains(&args.post_concurrency), "--post-concurrency in 1..=64");
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut r = Report::new("comments", common.json.clone());
    let mut failures = Vec::new();

    let mut api = Api::beside(&common.url)?;
    let run_id = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
    api.signup(&format!("bench-{run_id}@example.com"), "bench-password-0123", "Bench").await?;
    let doc = api.create_document("Comments benchmark", &markdown(args.doc_bytes, &mut rng)).await?;
    let base = common.url.trim_end_matches('/');
    let endpoint = Endpoint {
        url: format!("{base}/{doc}?token={}", api.token()),
        room: doc.clone(),
        token: api.token().to_owned(),
        protocol: Protocol::YWebsocket,
    };
    let writer = Writer::start(clients::connect(&endpoint, true).await?, rng.random());
    r.add("document bytes", args.doc_bytes as u64);

    eprintln!("fragmenting the document with {} edits", args.edits);
    let started = Instant::now();
    let unacked = fragment(&writer, args.edits, args.edit_window).await?;
    r.add("edits made", args.edits as u64);
    r.add("fragmenting s", secs(started.elapsed()));
    if unacked > 0 {
        failures.push(format!("{unacked} fragmenting edits unacknowledged"));
    }

    eprintln!("starting {} threads", args.threads);
    let started = Instant::now();
    let text_len = api.content(&doc).await?.encode_utf16().count();
    start_threads(&api, &doc, text_len, args.threads, args.post_concurrency, &mut rng).await?;
    r.add("threads", args.threads as u64);
    r.add("thread creation s", secs(started.elapsed()));

    eprintln!("listing {} times", args.lists);
    let listed = list_times(&api, &doc, args.lists, args.threads, &mut failures).await?;
    r.add("list response bytes", listed.bytes as u64);
    r.add_latency("list", listed.latencies_us);

    eprintln!("edit path alone, {:.0} s", common.duration().as_secs_f64());
    let (alone, unacked_alone) = edit_path(&writer, common.duration()).await?;
    eprintln!("edit path while listing, {:.0} s", common.duration().as_secs_f64());
    let server_before = common.server_pid.and_then(report::sample);
    let started = Instant::now();
    let (busy, unacked_busy, background) = edit_path_while_listing(&writer, &api, &doc, common.duration()).await?;
    report::add_server(&mut r, server_before, common.server_pid.and_then(report::sample), started.elapsed());
    r.add("edits per run (every 20 ms)", alone.len() as u64);
    r.add_latency("edit echo alone", alone);
    r.add_latency("edit echo while listing", busy);
    r.add("lists during the edit run", background.len() as u64);
    r.add_latency("list while editing", background);
    if unacked_alone + unacked_busy > 0 {
        failures.push(format!("{} edit-path edits unacknowledged", unacked_alone + unacked_busy));
    }

    if args.orphan {
        let deleted = delete_under_half(&writer, &api, &doc).await?;
        eprintln!("deleted {deleted} characters under half the threads; listing {} times", args.lists);
        let listed = list_times(&api, &doc, args.lists, args.threads, &mut failures).await?;
        r.add("characters deleted", deleted);
        r.add("orphaned threads", listed.orphaned as u64);
        r.add("list with orphans response bytes", listed.bytes as u64);
        r.add_latency("list with orphans", listed.latencies_us);
    }
    writer.close().await?;
    if !failures.is_empty() {
        r.failure = Some(failures.join("; "));
    }
    Ok(r)
}

/// Makes `edits` edits, at most `window` waiting for their echo at once; answers how many
/// were never echoed.
async fn fragment(writer: &Writer, edits: usize, window: usize) -> anyhow::Result<usize> {
    let made = Arc::new(AtomicU64::new(0));
    let _progress = scenarios::Progress::start(vec![("acknowledged", made.clone())]);
    let mut in_flight = VecDeque::with_capacity(window);
    let (mut sent, mut unacked) = (0, 0);
    // Each turn sends one edit or settles one: at most 2 × `edits` turns. Echoes come
    // back in the order the edits were sent, so the oldest is the one to wait for.
    loop {
        if sent < edits && in_flight.len() < window {
            in_flight.push_back(writer.edit().await?);
            sent += 1;
            continue;
        }
        let Some(oldest) = in_flight.pop_front() else { break };
        if matches!(tokio::time::timeout(ECHO_TIMEOUT, oldest).await, Ok(Ok(_))) {
            made.fetch_add(1, Ordering::Relaxed);
        } else {
            unacked += 1;
        }
    }
    Ok(unacked)
}

/// Starts `threads` threads on random ranges of a text of `len` UTF-16 code units,
/// `concurrency` creations at a time.
async fn start_threads(
    api: &Api,
    doc: &str,
    len: usize,
    threads: usize,
    concurrency: usize,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    anyhow::ensure!(len > 60, "the text is too short for threads");
    let ranges: Vec<(usize, usize)> = (0..threads)
        .map(|_| {
            let length = rng.random_range(5..=60);
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
struct Listed {
    latencies_us: Vec<u32>,
    /// Size of the last response body.
    bytes: usize,
    /// Threads whose text is gone, in the last response.
    orphaned: usize,
}

/// Lists `times` times in a row; each answer must hold every one of `threads` threads,
/// each with its anchor, else a failure is noted.
async fn list_times(
    api: &Api,
    doc: &str,
    times: usize,
    threads: usize,
    failures: &mut Vec<String>,
) -> anyhow::Result<Listed> {
    let mut listed = Listed { latencies_us: Vec::with_capacity(times), bytes: 0, orphaned: 0 };
    let mut short = 0;
    for _ in 0..times {
        let (took, body) = api.list_comments(doc).await?;
        listed.latencies_us.push(micros(took));
        listed.bytes = body.len();
        let items = anchors(&serde_json::from_slice(&body)?);
        if items.len() != threads {
            short += 1;
        }
        listed.orphaned = items.iter().filter(|a| a.orphaned).count();
    }
    if short > 0 {
        failures.push(format!("{short} of {times} listings did not hold all {threads} anchored threads"));
    }
    Ok(listed)
}

/// A listed thread's anchor.
struct ListedAnchor {
    index: usize,
    length: usize,
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
                index: a["index"].as_u64()? as usize,
                length: a["length"].as_u64()? as usize,
                orphaned: a["orphaned"].as_bool()?,
            })
        })
        .collect()
}

/// One edit every [`EDIT_PERIOD`] for `duration`: the echo times, and how many edits were
/// never echoed.
async fn edit_path(writer: &Writer, duration: Duration) -> anyhow::Result<(Vec<u32>, usize)> {
    let n = (duration.as_millis() / EDIT_PERIOD.as_millis()).max(1) as usize;
    let mut tick = tokio::time::interval(EDIT_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut echoes = Vec::with_capacity(n);
    for _ in 0..n {
        tick.tick().await;
        echoes.push(writer.edit().await?);
    }
    let deadline = tokio::time::Instant::now() + ECHO_TIMEOUT;
    let (mut took, mut unacked) = (Vec::with_capacity(n), 0);
    for echo in echoes {
        match tokio::time::timeout_at(deadline, echo).await {
            Ok(Ok(d)) => took.push(micros(d)),
            _ => unacked += 1,
        }
    }
    Ok((took, unacked))
}

/// [`edit_path`] while another task lists the comments back to back; also answers the
/// times of those listings.
async fn edit_path_while_listing(
    writer: &Writer,
    api: &Api,
    doc: &str,
    duration: Duration,
) -> anyhow::Result<(Vec<u32>, usize, Vec<u32>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let lister = {
        let (api, doc, stop) = (api.clone(), doc.to_owned(), stop.clone());
        let give_up = Instant::now() + duration + ECHO_TIMEOUT * 2;
        tokio::spawn(async move {
            let mut took = Vec::new();
            while !stop.load(Ordering::Relaxed) && took.len() < MAX_BACKGROUND_LISTS && Instant::now() < give_up {
                took.push(micros(api.list_comments(&doc).await?.0));
            }
            anyhow::Ok(took)
        })
    };
    let edits = edit_path(writer, duration).await;
    stop.store(true, Ordering::Relaxed);
    let listed = lister.await??;
    let (took, unacked) = edits?;
    Ok((took, unacked, listed))
}

/// Deletes the text under every other thread (in position order) in one update from the
/// writer; answers how many characters went. (Not through `PUT …/content`: on a 1 MB text
/// its character diff runs out of time and replaces nearly everything, orphaning every
/// thread instead of half.)
async fn delete_under_half(writer: &Writer, api: &Api, doc: &str) -> anyhow::Result<u32> {
    let (_, body) = api.list_comments(doc).await?;
    let mut cuts: Vec<(u32, u32)> = anchors(&serde_json::from_slice(&body)?)
        .into_iter()
        .step_by(2)
        .filter(|a| a.length > 0)
        .map(|a| (a.index as u32, (a.index + a.length) as u32))
        .collect();
    cuts.sort_unstable();
    // Overlapping ranges merge, so every character goes once.
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(cuts.len());
    for (start, end) in cuts {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let deleted = merged.iter().map(|(s, e)| e - s).sum();
    writer.delete(merged).await?;
    Ok(deleted)
}

/// About `bytes` of Markdown-like ASCII: sections of paragraphs, lists and code.
fn markdown(bytes: usize, rng: &mut StdRng) -> String {
    const WORDS: &[&str] = &[
        "the",
        "service",
        "replica",
        "latency",
        "budget",
        "owner",
        "review",
        "draft",
        "migration",
        "index",
        "cache",
        "rollout",
        "quorum",
        "retry",
        "window",
        "shard",
        "and",
        "of",
        "to",
        "is",
        "a",
        "**must**",
        "`config`",
        "we",
    ];
    let mut s = String::with_capacity(bytes + 1024);
    let mut section = 0;
    while s.len() < bytes {
        section += 1;
        s.push_str(&format!("## Section {section}\n\n"));
        for _ in 0..rng.random_range(2..5) {
            for w in 0..rng.random_range(40..120) {
                s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
                s.push(if w % 14 == 13 { '\n' } else { ' ' });
            }
            s.push_str("end.\n\n");
        }
        if section % 3 == 0 {
            for item in 0..rng.random_range(3..7) {
                s.push_str(&format!("- item {item}: {}\n", WORDS[rng.random_range(0..WORDS.len())]));
            }
            s.push('\n');
        }
        if section % 5 == 0 {
            s.push_str("```rust\nfn main() {\n    println!(\"section\");\n}\n```\n\n");
        }
    }
    s.truncate(bytes);
    s
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}
