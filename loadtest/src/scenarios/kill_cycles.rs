//! `kill-cycles`: starts the real server binary, lets `--writers` writers edit one room as
//! fast as acknowledgements come back, kills the server with SIGKILL after `--run-ms`, and
//! starts it again, `--cycles` times. After each restart a late joiner must hold every
//! edit acknowledged before any kill (acknowledged = echoed back, which the server does
//! only after commit); at the end the database is read directly as well.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use clap::Args;

use crate::marks::{self, Writer};
use crate::report::Report;
use crate::server::{self, Node, NodeConfig};

#[derive(Args, Debug)]
pub struct KillCyclesArgs {
    /// The `tandem` binary to run and kill.
    #[arg(long)]
    pub server_bin: PathBuf,
    /// `postgres://…` to run on Postgres; SQLite in a scratch directory when unset.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Kill/restart cycles.
    #[arg(long, default_value_t = 100)]
    pub cycles: usize,
    /// Writers editing during each cycle.
    #[arg(long, default_value_t = 4)]
    pub writers: usize,
    /// How long the writers edit before the kill, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub run_ms: u64,
    /// Write the report as JSON here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

const ROOM: &str = "kill-cycles";
const SECRET: &str = "kill-cycles-secret-of-at-least-32-bytes";
/// Edits a writer may have in flight before it waits for acknowledgements.
const WINDOW: usize = 16;

pub async fn run(args: KillCyclesArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.cycles >= 1 && args.cycles <= 10_000, "--cycles in 1..=10000");
    anyhow::ensure!(args.writers >= 1 && args.writers <= 64, "--writers in 1..=64");
    let dir = server::scratch_dir("kill-cycles")?;
    let cfg = NodeConfig {
        bin: args.server_bin.clone(),
        data_dir: dir.clone(),
        database_url: args.database_url.clone(),
        redis_url: None,
        secret: SECRET.into(),
        // Writers go as fast as they can: no per-connection message limit in the way.
        env: vec![("TANDEM_MAX_MESSAGES_PER_SECOND".into(), "1000000".into())],
    };
    let database_url =
        args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("tandem.db").display()));
    let started = Instant::now();
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let (mut sent, mut worst_lost, mut lost_cycles) = (0u64, 0usize, 0usize);
    let mut restart_ms = Vec::new();
    for cycle in 0..args.cycles {
        let t = Instant::now();
        let node = Node::start(&cfg)?;
        restart_ms.push(t.elapsed().as_micros() as u32);
        let endpoint = server::endpoint(&node.ws_base(), ROOM, SECRET);
        // Before anyone writes again: everything acknowledged so far must be there.
        let held = marks::joiner_markers(&endpoint).await?;
        let lost = acked.difference(&held).count();
        if lost > 0 {
            lost_cycles += 1;
            worst_lost = worst_lost.max(lost);
            eprintln!("cycle {cycle}: {lost} acknowledged edits missing, e.g. {:?}", acked.difference(&held).next());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let total = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for w in 0..args.writers {
            let (endpoint, stop, total) = (endpoint.clone(), stop.clone(), total.clone());
            tasks.push(tokio::spawn(async move {
                let mut writer = Writer::new(format!("c{cycle}w{w}"));
                let _ = writer.session(&endpoint, &stop, WINDOW, &total).await;
                writer
            }));
        }
        tokio::time::sleep(Duration::from_millis(args.run_ms)).await;
        node.kill9();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in tasks {
            let w = t.await?;
            sent += w.sent;
            acked.extend(w.acked);
        }
        eprint!(
            "\r  cycle {:>4}/{}: acknowledged {:>7}, lost so far {}",
            cycle + 1,
            args.cycles,
            acked.len(),
            worst_lost
        );
    }
    eprintln!();
    // The last cycle's acknowledgements: a final start and read, and the database itself.
    let node = Node::start(&cfg)?;
    let held = marks::joiner_markers(&server::endpoint(&node.ws_base(), ROOM, SECRET)).await?;
    let lost_joiner = acked.difference(&held).count();
    node.kill9();
    let stored = marks::stored_markers(&database_url, ROOM).await?;
    let lost_db = acked.difference(&stored).count();
    if lost_joiner > 0 {
        lost_cycles += 1;
    }

    let mut r = Report::new("kill-cycles", args.json.clone());
    r.add("database", if args.database_url.is_some() { "postgres" } else { "sqlite" });
    r.add("cycles", args.cycles as u64);
    r.add("writers", args.writers as u64);
    r.add("run per cycle ms", args.run_ms);
    r.add("edits sent", sent);
    r.add("edits acknowledged", acked.len() as u64);
    r.add("acknowledged, held by the late joiner at the end", held.intersection(&acked).count() as u64);
    r.add("acknowledged, held by the database at the end", stored.intersection(&acked).count() as u64);
    r.add("acknowledged then lost (late joiner, any cycle)", worst_lost.max(lost_joiner) as u64);
    r.add("acknowledged then lost (database)", lost_db as u64);
    r.add("cycles with a loss", lost_cycles as u64);
    r.add_latency("restart to listening", restart_ms);
    r.add("wall s", (started.elapsed().as_secs_f64() * 10.0).round() / 10.0);
    if lost_db == 0 && lost_cycles == 0 {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        r.failure = Some(format!("acknowledged edits lost; the data is kept in {}", dir.display()));
    }
    Ok(r)
}
