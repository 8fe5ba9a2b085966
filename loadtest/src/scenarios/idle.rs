//! `idle`: opens `--connections` connections spread over `--rooms` rooms, holds them for
//! the duration, and reports the server's RSS (total and per connection) and the CPU it
//! spent opening them.

use std::time::Instant;

use clap::Args;

use crate::report::{self, Report};
use crate::{Common, scenarios};

#[derive(Args, Debug)]
pub struct IdleArgs {
    #[command(flatten)]
    pub common: Common,
    /// Connections to open and hold.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Rooms they are spread over.
    #[arg(long, default_value_t = 500)]
    pub rooms: usize,
}

pub async fn run(args: IdleArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    anyhow::ensure!(args.rooms >= 1 && args.connections >= args.rooms, "need at least one connection per room");
    anyhow::ensure!(args.connections <= 100_000, "at most 100000 connections");
    let baseline = common.server_pid.and_then(report::sample);
    let started = Instant::now();
    let per_room = args.connections / args.rooms;
    let (rooms, handshakes) = scenarios::open_rooms(common, args.rooms, per_room, |_| false).await?;
    let opened = started.elapsed();
    let open_sample = common.server_pid.and_then(report::sample);
    let held: usize = rooms.iter().map(Vec::len).sum();
    let held_now = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(held as u64));
    let progress = scenarios::Progress::start(vec![("held", held_now)]);
    tokio::time::sleep(common.duration()).await;
    drop(progress);
    let after = common.server_pid.and_then(report::sample);

    let mut r = Report::new("idle", common.json.clone());
    r.add("connections held", held as u64);
    r.add("rooms", args.rooms as u64);
    r.add("open time s", (opened.as_secs_f64() * 100.0).round() / 100.0);
    r.add_latency("handshake", handshakes);
    if let (Some(b), Some(o)) = (&baseline, &open_sample) {
        // Everything the server did to open them: upgrades, authorisation, joins (rooms
        // opened and loaded included), the sync exchange.
        let cpu = o.cpu.saturating_sub(b.cpu);
        r.add("server cpu us per connection opened", (cpu.as_secs_f64() * 1e7 / held.max(1) as f64).round() / 10.0);
    }
    if let (Some(b), Some(a)) = (baseline, after) {
        r.add("server rss before MiB", (b.rss_kib as f64 / 102.4).round() / 10.0);
        r.add("server rss held MiB", (a.rss_kib as f64 / 102.4).round() / 10.0);
        let per = (a.rss_kib.saturating_sub(b.rss_kib) as f64) / held.max(1) as f64;
        r.add("server rss per connection KiB", (per * 10.0).round() / 10.0);
    }
    drop(rooms);
    Ok(r)
}
