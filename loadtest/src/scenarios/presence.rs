//! `presence`: `--clients` clients in `--rooms` rooms each send an awareness update at
//! `--rate` Hz; reports the server's CPU share and awareness frames delivered.

use std::time::{Duration, Instant};

use clap::Args;
use tokio::sync::mpsc;

use crate::clients::{self, Cmd};
use crate::report::{self, Report};
use crate::{Common, scenarios};

#[derive(Args, Debug)]
pub struct PresenceArgs {
    #[command(flatten)]
    pub common: Common,
    /// Clients in total.
    #[arg(long, default_value_t = 500)]
    pub clients: usize,
    /// Rooms they are spread over.
    #[arg(long, default_value_t = 50)]
    pub rooms: usize,
    /// Awareness updates per second per client.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
}

pub async fn run(args: PresenceArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    anyhow::ensure!(args.rooms >= 1 && args.clients >= args.rooms, "need at least one client per room");
    anyhow::ensure!(args.rate > 0.0 && args.rate <= 100.0, "--rate must be in (0, 100]");
    let per_room = args.clients / args.rooms;
    let (rooms, handshakes) = scenarios::open_rooms(common, args.rooms, per_room, |_| false).await?;
    let duration = common.duration();
    let started = Instant::now();
    let stop_at = started + duration + Duration::from_millis(500);
    let before = common.server_pid.and_then(report::sample);
    let sent = std::sync::Arc::new(dashmap::DashMap::new());
    let mut handles = Vec::new();
    let mut updates = 0u64;
    let sent_now = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let progress = scenarios::Progress::start(vec![("awareness sent", sent_now.clone())]);
    for (i, (c, _)) in rooms.into_iter().flatten().enumerate() {
        let (tx, rx) = mpsc::channel(8);
        handles.push(tokio::spawn(clients::run(c, false, sent.clone(), rx, stop_at)));
        let period = Duration::from_secs_f64(1.0 / args.rate);
        let count = (duration.as_secs_f64() * args.rate).floor() as u32;
        updates += u64::from(count);
        let sent_now = sent_now.clone();
        tokio::spawn(async move {
            // Spread the clients' phases over one period.
            tokio::time::sleep(period.mul_f64((i % 100) as f64 / 100.0)).await;
            let mut tick = tokio::time::interval(period);
            for clock in 1..=count {
                tick.tick().await;
                if tx.send(Cmd::Awareness(clock)).await.is_err() {
                    break;
                }
                sent_now.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    let (mut frames, mut disconnects) = (0u64, 0u64);
    for h in handles {
        let seen = h.await?;
        frames += seen.frames;
        disconnects += u64::from(seen.closed_early);
    }
    drop(progress);
    let after = common.server_pid.and_then(report::sample);
    let mut r = Report::new("presence", common.json.clone());
    r.add("clients", (per_room * args.rooms) as u64);
    r.add("rooms", args.rooms as u64);
    r.add_latency("handshake", handshakes);
    r.add("awareness updates sent", updates);
    r.add("frames received", frames);
    r.add("errors / disconnects", disconnects);
    report::add_server(&mut r, before, after, started.elapsed(), None);
    Ok(r)
}
