//! `reconnect-storm`: `--clients` clients in `--rooms` rooms; every `--every` seconds a
//! wave of `--wave` % of them drops its connection and reconnects at once. Reports the
//! reconnect times (connect to synced) and failures.

use std::time::{Duration, Instant};

use clap::Args;

use crate::clients;
use crate::report::{self, Report};
use crate::{Common, scenarios};

#[derive(Args, Debug)]
pub struct ReconnectStormArgs {
    #[command(flatten)]
    pub common: Common,
    /// Clients in total.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Rooms they are spread over.
    #[arg(long, default_value_t = 100)]
    pub rooms: usize,
    /// Percentage of clients in each wave.
    #[arg(long, default_value_t = 50)]
    pub wave: usize,
    /// Seconds between waves.
    #[arg(long, default_value_t = 2.0)]
    pub every: f64,
    /// Seconds between samples of the server's RSS (with `--server-pid`).
    #[arg(long, default_value_t = 10.0)]
    pub sample_every: f64,
}

pub async fn run(args: ReconnectStormArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    anyhow::ensure!(
        args.rooms >= 1 && args.clients >= args.rooms && args.clients <= 100_000,
        "1..100000 clients, one room at least"
    );
    let per_room = args.clients / args.rooms;
    let (rooms, _) = scenarios::open_rooms(common, args.rooms, per_room, |_| false).await?;
    let mut conns: Vec<(clients::Endpoint, clients::Connected)> = Vec::new();
    for (r, room) in rooms.into_iter().enumerate() {
        for (i, (c, _)) in room.into_iter().enumerate() {
            conns.push((common.room_url(&format!("{}-{r}", common.room_prefix), r * per_room + i)?, c));
        }
    }
    let before = common.server_pid.and_then(report::sample);
    let started = Instant::now();
    let deadline = started + common.duration();
    let wave_size = (conns.len() * args.wave.min(100) / 100).max(1);
    let (mut times, mut errors, mut waves, mut offset) = (Vec::new(), 0u64, 0u64, 0usize);
    let sample_every = Duration::from_secs_f64(args.sample_every.clamp(0.1, 3600.0));
    let mut rss: Vec<f64> = before.iter().map(|s| (s.rss_kib as f64 / 102.4).round() / 10.0).collect();
    let mut next_sample = started + sample_every;
    while Instant::now() < deadline {
        if Instant::now() >= next_sample {
            next_sample += sample_every;
            if let Some(s) = common.server_pid.and_then(report::sample) {
                rss.push((s.rss_kib as f64 / 102.4).round() / 10.0);
            }
        }
        let picked: Vec<usize> = (0..wave_size).map(|k| (offset + k) % conns.len()).collect();
        offset += wave_size;
        let mut tasks = Vec::new();
        for &i in &picked {
            let url = conns[i].0.clone();
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                clients::connect(&url, false).await.map(|c| (t.elapsed(), c))
            }));
        }
        for (&i, t) in picked.iter().zip(tasks) {
            match t.await? {
                // The old connection is dropped when replaced: the server sees it go.
                Ok((took, c)) => {
                    times.push(took.as_micros() as u32);
                    conns[i].1 = c;
                }
                Err(_) => errors += 1,
            }
        }
        waves += 1;
        eprint!("\r  wave {waves}: {} reconnects, {errors} errors", times.len());
        tokio::time::sleep(Duration::from_secs_f64(args.every.clamp(0.1, 60.0))).await;
    }
    eprintln!();
    let elapsed = started.elapsed();
    let after = common.server_pid.and_then(report::sample);
    let mut r = Report::new("reconnect-storm", common.json.clone());
    r.add("clients", conns.len() as u64);
    r.add("waves", waves);
    r.add("reconnects", times.len() as u64);
    r.add("errors", errors);
    r.add_latency("reconnect to synced", times);
    report::add_server(&mut r, before, after, elapsed, None);
    if let Some(a) = after {
        rss.push((a.rss_kib as f64 / 102.4).round() / 10.0);
    }
    if !rss.is_empty() {
        r.add(&format!("server rss MiB every {:?}", sample_every), format!("{rss:?}"));
    }
    Ok(r)
}
