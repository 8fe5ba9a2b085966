//! `pg-restart`: two nodes of the real server binary on a throwaway Postgres cluster of the
//! run's own (`initdb` on a spare loopback port, never a shared server) and a private
//! redis-server, `--writers` writers on each node editing one room as fast as
//! acknowledgements come back; Postgres is stopped with `pg_ctl -m immediate` (every
//! server process ends at once, as in a crash), left down `--down-ms`, and started again,
//! `--restarts` times. Writers whose connection is closed reconnect with a fresh document
//! (so only what the server acknowledged counts, nothing is pushed back). Measured: how
//! long until a late joiner on each node holds every edit acknowledged before the
//! restart, and how long until writes are acknowledged again; at the end, late joiners on
//! both nodes and the database itself must hold every acknowledged edit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;

use crate::clients::Endpoint;
use crate::marks::{self, AckLog, Writer};
use crate::pg::PgCluster;
use crate::report::Report;
use crate::server::{self, Node, NodeConfig, Redis};

#[derive(Args, Debug)]
pub struct PgRestartArgs {
    /// The `tandem` binary (both nodes run it).
    #[arg(long)]
    pub server_bin: PathBuf,
    /// Directory with Postgres' `initdb` and `pg_ctl` (default: the newest
    /// /usr/lib/postgresql/*/bin, else `pg_config --bindir`). As root they run as the
    /// `postgres` user.
    #[arg(long)]
    pub pg_bin: Option<PathBuf>,
    /// Times Postgres is stopped and started again under load.
    #[arg(long, default_value_t = 3)]
    pub restarts: usize,
    /// Writers on each of the two nodes.
    #[arg(long, default_value_t = 2)]
    pub writers: usize,
    /// Writing before each restart (after the nodes recovered from the previous one), ms.
    #[arg(long, default_value_t = 3000)]
    pub every_ms: u64,
    /// How long Postgres stays down, ms (0: started again as soon as it stopped, as
    /// `pg_ctl restart` does).
    #[arg(long, default_value_t = 0)]
    pub down_ms: u64,
    /// Writing after the nodes recovered from the last restart, ms.
    #[arg(long, default_value_t = 2000)]
    pub after_ms: u64,
    /// The nodes' anti-entropy interval (`TANDEM_ANTI_ENTROPY`).
    #[arg(long, default_value = "30s")]
    pub anti_entropy: String,
    /// Longest wait for recovery and for convergence, in seconds.
    #[arg(long, default_value_t = 60.0)]
    pub settle: f64,
    /// A Postgres setting for the cluster (`name=value`, repeatable). The check itself
    /// is shown to work with `synchronous_commit=off`, under which Postgres acknowledges
    /// commits it may lose in a crash: the run must then report losses.
    #[arg(long = "pg-setting")]
    pub pg_settings: Vec<String>,
    /// Write the report as JSON here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// What one restart measured; per node: [a, b].
struct Restart {
    /// `pg_ctl stop -m immediate` issued until it returned.
    stop: Duration,
    /// Stop issued until Postgres accepted connections again.
    down: Duration,
    /// Postgres back until a late joiner held every edit acknowledged before the stop.
    joined: [Option<Duration>; 2],
    /// Postgres back until the node's writers got an acknowledgement again.
    resumed: [Option<Duration>; 2],
    /// Longest time without an acknowledgement around the restart.
    gap: [Option<Duration>; 2],
}

const ROOM: &str = "pg-restart";
const SECRET: &str = "pg-restart-secret-of-at-least-32-bytes";
/// Edits a writer may have in flight before it waits for acknowledgements.
const WINDOW: usize = 16;
const NODES: [&str; 2] = ["a", "b"];
/// Most connections one writer opens (a reconnect after each failure, 100 ms apart).
const MAX_SESSIONS: usize = 10_000;

/// What one writer did across its connections.
struct WriterEnd {
    writer: Writer,
    sessions: usize,
    errors: Vec<String>,
}

pub async fn run(args: PgRestartArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.restarts >= 1 && args.restarts <= 1000, "--restarts in 1..=1000");
    anyhow::ensure!(args.writers >= 1 && args.writers <= 32, "--writers in 1..=32");
    anyhow::ensure!(args.down_ms <= 600_000 && args.every_ms <= 3_600_000, "--down-ms at most 600000");
    let settle = Duration::from_secs_f64(args.settle.clamp(1.0, 3600.0));
    let dir = server::scratch_dir("pg-restart")?;
    // As root the cluster runs as `postgres`, which must be able to reach its directory.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let pg_dir = dir.join("pg");
    std::fs::create_dir_all(&pg_dir)?;
    let mut pg = PgCluster::start(args.pg_bin.as_deref(), pg_dir, &args.pg_settings)?;
    let redis = Redis::start()?;
    eprintln!("  Postgres on {} (throwaway), Redis on {}", pg.url(), redis.url());
    let mut nodes = Vec::new();
    for name in NODES {
        let cfg = NodeConfig {
            bin: args.server_bin.clone(),
            data_dir: dir.join(name),
            database_url: Some(pg.url()),
            redis_url: Some(redis.url()),
            secret: SECRET.into(),
            env: vec![
                ("TANDEM_MAX_MESSAGES_PER_SECOND".into(), "1000000".into()),
                ("TANDEM_ANTI_ENTROPY".into(), args.anti_entropy.clone()),
            ],
        };
        nodes.push(Node::start(&cfg)?);
    }
    let endpoints: Vec<Endpoint> = nodes.iter().map(|n| server::endpoint(&n.ws_base(), ROOM, SECRET)).collect();

    let started = Instant::now();
    let log: AckLog = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (n, endpoint) in endpoints.iter().enumerate() {
        for w in 0..args.writers {
            let writer = Writer::new(format!("{}{w}", NODES[n])).with_log(log.clone());
            tasks.push(tokio::spawn(write(writer, endpoint.clone(), stop.clone(), total.clone())));
        }
    }

    let mut per_restart = Vec::new();
    let mut recovered_all = true;
    for i in 0..args.restarts {
        tokio::time::sleep(Duration::from_millis(args.every_ms)).await;
        let before = acked_markers(&log);
        let stopping = Instant::now();
        tokio::task::block_in_place(|| pg.stop_immediate())?;
        let stop_took = stopping.elapsed();
        tokio::time::sleep(Duration::from_millis(args.down_ms)).await;
        tokio::task::block_in_place(|| pg.start_server())?;
        let back = Instant::now();
        let down = back - stopping;
        // Both nodes: a late joiner holds everything acknowledged before the stop, and
        // the node's writers get acknowledgements again.
        let mut joined: [Option<Duration>; 2] = [None, None];
        let mut resumed: [Option<Duration>; 2] = [None, None];
        let mut missing = [0usize; 2];
        while back.elapsed() < settle && (joined.contains(&None) || resumed.contains(&None)) {
            for n in 0..2 {
                if joined[n].is_none() {
                    let joiner = marks::joiner_markers(&endpoints[n]);
                    // A join refused (503, 1011) or slow while the node recovers: try again.
                    if let Ok(Ok(held)) = tokio::time::timeout(Duration::from_secs(10), joiner).await {
                        missing[n] = before.difference(&held).count();
                        if missing[n] == 0 {
                            joined[n] = Some(back.elapsed());
                        }
                    }
                }
                if resumed[n].is_none() {
                    resumed[n] = first_ack_after(&log, NODES[n], back).map(|t| t - back);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let gap = [0, 1].map(|n| ack_gap(&log, NODES[n], stopping, back));
        eprintln!(
            "  restart {}/{}: stop to accepting again {} ms; late joiner holds all {} acknowledged before: a {}, b {}; writes acknowledged again: a {}, b {}",
            i + 1,
            args.restarts,
            down.as_millis(),
            before.len(),
            ms(joined[0]),
            ms(joined[1]),
            ms(resumed[0]),
            ms(resumed[1]),
        );
        if joined.contains(&None) || resumed.contains(&None) {
            recovered_all = false;
            eprintln!(
                "  restart {}: not recovered within {settle:?}; acknowledged before it and missing for a late joiner: a {}, b {}",
                i + 1,
                missing[0],
                missing[1]
            );
            break;
        }
        per_restart.push(Restart { stop: stop_took, down, joined, resumed, gap });
    }
    if recovered_all {
        tokio::time::sleep(Duration::from_millis(args.after_ms)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let stopped = Instant::now();
    let (mut acked, mut sent, mut sessions) = (BTreeSet::new(), 0u64, 0usize);
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
        let end = t.await?;
        acked.extend(end.writer.acked);
        sent += end.writer.sent;
        sessions += end.sessions;
        for e in end.errors {
            *errors.entry(e).or_default() += 1;
        }
    }

    // Every acknowledged edit, on both nodes (a late joiner each) and in the database.
    let mut converged: [Option<Duration>; 2] = [None, None];
    let mut lost = [acked.len(); 2];
    while stopped.elapsed() < settle + Duration::from_secs(10) && converged.contains(&None) {
        for n in 0..2 {
            if converged[n].is_some() {
                continue;
            }
            if let Ok(Ok(held)) =
                tokio::time::timeout(Duration::from_secs(10), marks::joiner_markers(&endpoints[n])).await
            {
                lost[n] = acked.difference(&held).count();
                if lost[n] == 0 {
                    converged[n] = Some(stopped.elapsed());
                }
            }
        }
        if converged.contains(&None) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    drop(nodes);
    let stored = marks::stored_markers(&pg.url(), ROOM).await?;
    let lost_db: Vec<&String> = acked.difference(&stored).collect();

    let mut r = Report::new("pg-restart", args.json.clone());
    r.add("nodes", 2u64);
    r.add("writers per node", args.writers as u64);
    r.add("restarts", per_restart.len() as u64);
    r.add("pg_ctl stop -m immediate took, ms (each)", list(per_restart.iter().map(|p| Some(p.stop))));
    r.add("postgres stop issued to accepting again, ms (each)", list(per_restart.iter().map(|p| Some(p.down))));
    r.add("edits sent", sent);
    r.add("edits acknowledged", acked.len() as u64);
    r.add("writer connections (1 per writer if none closed)", sessions as u64);
    r.add("writer connection errors", format!("{errors:?}"));
    for n in 0..2 {
        let name = NODES[n];
        r.add(
            &format!("node {name}: joiner holds all acked-before, ms after Postgres back (each)"),
            list(per_restart.iter().map(|p| p.joined[n])),
        );
        r.add(
            &format!("node {name}: writes acked again, ms after Postgres back (each)"),
            list(per_restart.iter().map(|p| p.resumed[n])),
        );
        r.add(&format!("node {name}: longest gap between acks, ms (each)"), list(per_restart.iter().map(|p| p.gap[n])));
        r.add(&format!("node {name}: joiner holds every acked edit, ms after writing stopped"), ms(converged[n]));
        r.add(&format!("node {name}: acked then missing for a late joiner at the end"), lost[n] as u64);
    }
    r.add("acked then missing from the database", lost_db.len() as u64);
    r.add("wall s", (started.elapsed().as_secs_f64() * 10.0).round() / 10.0);
    let mut failures = Vec::new();
    if !lost_db.is_empty() {
        failures.push(format!("{} acknowledged edits not in the database (e.g. {:?})", lost_db.len(), lost_db.first()));
    }
    if lost.iter().any(|&l| l > 0) {
        failures.push(format!("late joiners miss acknowledged edits: a {}, b {}", lost[0], lost[1]));
    }
    if !recovered_all {
        failures.push(format!("the nodes did not recover within {settle:?} of a restart"));
    }
    if acked.is_empty() {
        failures.push("no edit was acknowledged".into());
    }
    if failures.is_empty() {
        drop(pg);
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        let data = pg.keep();
        r.failure =
            Some(format!("{}; Postgres data kept in {} (the cluster is stopped)", failures.join("; "), data.display()));
    }
    Ok(r)
}

/// Writes until `stop`, reconnecting (100 ms later, with a fresh document) whenever the
/// connection fails or is closed, as a provider would.
async fn write(mut writer: Writer, endpoint: Endpoint, stop: Arc<AtomicBool>, total: Arc<AtomicU64>) -> WriterEnd {
    let (mut sessions, mut errors) = (0, Vec::new());
    while !stop.load(Ordering::Relaxed) && sessions < MAX_SESSIONS {
        sessions += 1;
        match writer.session(&endpoint, &stop, WINDOW, &total).await {
            Ok(()) => break,
            Err(e) => {
                errors.push(e.to_string().chars().take(100).collect());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    WriterEnd { writer, sessions, errors }
}

fn acked_markers(log: &AckLog) -> BTreeSet<String> {
    log.lock().unwrap().iter().map(|(_, m)| m.clone()).collect()
}

/// When the first acknowledgement of `node`'s writers arrived after `t`.
fn first_ack_after(log: &AckLog, node: &str, t: Instant) -> Option<Instant> {
    log.lock().unwrap().iter().filter(|(at, m)| *at > t && m.starts_with(node)).map(|(at, _)| *at).min()
}

/// The time between the last acknowledgement of `node` before `stopping` and its first
/// one after `back` (writes in between count: a commit can finish while Postgres stops).
fn ack_gap(log: &AckLog, node: &str, stopping: Instant, back: Instant) -> Option<Duration> {
    let log = log.lock().unwrap();
    let mine: Vec<Instant> = log.iter().filter(|(_, m)| m.starts_with(node)).map(|(at, _)| *at).collect();
    let last_before = mine.iter().filter(|at| **at <= stopping).max()?;
    let mut after: Vec<Instant> = mine.iter().copied().filter(|at| at > last_before).collect();
    after.sort();
    // The largest gap from the last ack before the stop through the first after Postgres is back.
    let mut prev = *last_before;
    let mut gap = Duration::ZERO;
    for at in after {
        gap = gap.max(at - prev);
        prev = at;
        if at > back {
            return Some(gap);
        }
    }
    None
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "never".into(), |d| d.as_millis().to_string())
}

fn list(items: impl Iterator<Item = Option<Duration>>) -> String {
    items.map(ms).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gap_spans_the_restart_and_ends_at_the_first_ack_after_it() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let log: AckLog = Arc::new(Mutex::new(vec![
            (at(0), "a0.0".into()),
            (at(10), "b0.0".into()),
            (at(100), "a0.1".into()),
            // Committed while Postgres was stopping.
            (at(150), "a0.2".into()),
            (at(900), "b0.1".into()),
            (at(1000), "a1.0".into()),
            (at(1200), "a1.1".into()),
        ]));
        let (stopping, back) = (at(120), at(700));
        assert_eq!(ack_gap(&log, "a", stopping, back), Some(Duration::from_millis(850)));
        assert_eq!(ack_gap(&log, "b", stopping, back), Some(Duration::from_millis(890)));
        assert_eq!(first_ack_after(&log, "a", back), Some(at(1000)));
        assert_eq!(first_ack_after(&log, "b", at(900)), None);
        assert_eq!(ack_gap(&log, "b", stopping, at(950)), None, "no ack after Postgres came back yet");
    }
}
