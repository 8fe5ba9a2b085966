//! `comments`: what listing a document's comment threads costs on a large document that
//! real editing has fragmented, and what listing does to the edit path (both run in the
//! document's room actor). A fresh user makes a document of `--doc-bytes` Markdown, edits
//! it `--edits` times at random places through one y-websocket client (each edit
//! acknowledged), starts `--threads` threads on random ranges, then times `GET …/comments`
//! (`--lists` calls in a row). Then the writer edits every 20 ms for `--duration` seconds,
//! timing each edit's echo, first alone and then while another task lists the comments
//! back to back. With `--orphan` the text under half the threads is deleted and both the
//! listing and the edit path under listing are timed again (positions on deleted text
//! are resolved one by one: the slow case).

mod text;
mod threads;
mod writer;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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
    check(&args)?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut b = Bench::open(args, &mut rng).await?;
    b.fragment().await?;
    b.start_threads(&mut rng).await?;
    b.time_listing("list").await?;
    b.time_edit_path().await?;
    if b.args.orphan {
        let deleted = threads::delete_under_half(&b.writer, &b.api, &b.doc).await?;
        eprintln!("deleted {deleted} characters under half the threads");
        b.report.add("characters deleted", deleted);
        b.time_listing("list with orphans").await?;
        b.time_edit_while_listing(" (orphans)").await?;
    }
    b.finish().await
}

fn check(args: &CommentsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.common.protocol == Protocol::YWebsocket, "comments speaks y-websocket only");
    anyhow::ensure!((1_000..=16_000_000).contains(&args.doc_bytes), "--doc-bytes in 1000..=16000000");
    anyhow::ensure!(args.edits <= 1_000_000, "--edits at most 1000000");
    anyhow::ensure!((1..=5_000).contains(&args.threads), "--threads in 1..=5000 (the server's limit)");
    anyhow::ensure!((1..=10_000).contains(&args.lists), "--lists in 1..=10000");
    anyhow::ensure!((1..=256).contains(&args.edit_window), "--edit-window in 1..=256");
    anyhow::ensure!((1..=64).contains(&args.post_concurrency), "--post-concurrency in 1..=64");
    Ok(())
}

/// One run: the user's API client, their document and its writer, what was measured and
/// what did not hold.
struct Bench {
    args: CommentsArgs,
    api: Api,
    doc: String,
    writer: Writer,
    report: Report,
    failures: Vec<String>,
}

impl Bench {
    /// Signs a fresh user up, creates the document and connects the writer.
    async fn open(args: CommentsArgs, rng: &mut StdRng) -> anyhow::Result<Self> {
        let common = &args.common;
        let mut api = Api::beside(&common.url)?;
        let run_id = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
        api.signup(&format!("bench-{run_id}@example.com"), "bench-password-0123", "Bench").await?;
        let doc = api.create_document("Comments benchmark", &text::markdown(args.doc_bytes, rng)).await?;
        let endpoint = Endpoint {
            url: format!("{}/{doc}?token={}", common.url.trim_end_matches('/'), api.token()),
            room: doc.clone(),
            token: api.token().to_owned(),
            protocol: Protocol::YWebsocket,
            source: None,
        };
        let writer = Writer::start(clients::connect(&endpoint, true).await?, rng.random());
        let mut report = Report::new("comments", common.json.clone());
        report.add("document bytes", args.doc_bytes as u64);
        Ok(Bench { args, api, doc, writer, report, failures: Vec::new() })
    }

    async fn fragment(&mut self) -> anyhow::Result<()> {
        eprintln!("fragmenting the document with {} edits", self.args.edits);
        let started = Instant::now();
        let unacked = fragment(&self.writer, self.args.edits, self.args.edit_window).await?;
        self.report.add("edits made", self.args.edits as u64);
        self.report.add("fragmenting s", secs(started.elapsed()));
        if unacked > 0 {
            self.failures.push(format!("{unacked} fragmenting edits unacknowledged"));
        }
        Ok(())
    }

    async fn start_threads(&mut self, rng: &mut StdRng) -> anyhow::Result<()> {
        eprintln!("starting {} threads", self.args.threads);
        let started = Instant::now();
        let len = self.api.content(&self.doc).await?.encode_utf16().count();
        threads::start(&self.api, &self.doc, len, self.args.threads, self.args.post_concurrency, rng).await?;
        self.report.add("threads", self.args.threads as u64);
        self.report.add("thread creation s", secs(started.elapsed()));
        Ok(())
    }

    /// `--lists` listings in a row, reported under `label`.
    async fn time_listing(&mut self, label: &str) -> anyhow::Result<()> {
        eprintln!("{label}: {} listings", self.args.lists);
        let listed = threads::list(&self.api, &self.doc, self.args.lists, self.args.threads).await?;
        self.report.add(&format!("{label} response bytes"), listed.bytes as u64);
        self.report.add(&format!("{label} orphaned threads"), listed.orphaned as u64);
        self.report.add_latency(label, listed.latencies_us);
        if listed.short > 0 {
            let (short, lists, threads) = (listed.short, self.args.lists, self.args.threads);
            self.failures.push(format!("{label}: {short} of {lists} listings lacked some of the {threads} threads"));
        }
        Ok(())
    }

    /// The edit echo alone, then while comments are listed.
    async fn time_edit_path(&mut self) -> anyhow::Result<()> {
        let duration = self.args.common.duration();
        eprintln!("edit path alone, {:.0} s", duration.as_secs_f64());
        let (alone, unacked) = edit_path(&self.writer, duration).await?;
        self.report.add("edits per run (every 20 ms)", alone.len() as u64);
        self.report.add_latency("edit echo alone", alone);
        self.unacked(unacked);
        self.time_edit_while_listing("").await
    }

    async fn time_edit_while_listing(&mut self, suffix: &str) -> anyhow::Result<()> {
        let duration = self.args.common.duration();
        eprintln!("edit path while listing{suffix}, {:.0} s", duration.as_secs_f64());
        let before = self.args.common.server_pid.and_then(report::sample);
        let started = Instant::now();
        let (echoes, unacked, lists) = edit_path_while_listing(&self.writer, &self.api, &self.doc, duration).await?;
        let after = self.args.common.server_pid.and_then(report::sample);
        if let (Some(b), Some(a)) = (before, after) {
            let cpu = a.cpu.saturating_sub(b.cpu).as_secs_f64() / started.elapsed().as_secs_f64();
            self.report.add(&format!("server cpu % while listing{suffix}"), (cpu * 1000.0).round() / 10.0);
        }
        self.report.add_latency(&format!("edit echo while listing{suffix}"), echoes);
        self.report.add(&format!("lists during the edit run{suffix}"), lists.len() as u64);
        self.report.add_latency(&format!("list while editing{suffix}"), lists);
        self.unacked(unacked);
        Ok(())
    }

    fn unacked(&mut self, n: usize) {
        if n > 0 {
            self.failures.push(format!("{n} edit-path edits unacknowledged"));
        }
    }

    async fn finish(mut self) -> anyhow::Result<Report> {
        self.writer.close().await?;
        if let Some(pid) = self.args.common.server_pid
            && let Some(s) = report::sample(pid)
        {
            self.report.add("server rss MiB", (s.rss_kib as f64 / 1024.0 * 10.0).round() / 10.0);
        }
        if !self.failures.is_empty() {
            self.report.failure = Some(self.failures.join("; "));
        }
        Ok(self.report)
    }
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

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}
