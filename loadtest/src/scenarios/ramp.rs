//! `ramp`: opens connections at a rising rate (`--start` per second, `--step` more each
//! second) until `--target` are open or more than 1 % of attempts fail; reports the
//! handshakes completed in each second and the peak. Connections are held to the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use tokio::sync::Mutex;

use crate::Common;
use crate::clients;
use crate::report::{self, Report};

#[derive(Args, Debug)]
pub struct RampArgs {
    #[command(flatten)]
    pub common: Common,
    /// Connections to reach.
    #[arg(long, default_value_t = 10_000)]
    pub target: usize,
    /// Connection attempts in the first second.
    #[arg(long, default_value_t = 1_000)]
    pub start: usize,
    /// Extra attempts per second, each second.
    #[arg(long, default_value_t = 1_000)]
    pub step: usize,
    /// Rooms the connections are spread over.
    #[arg(long, default_value_t = 100)]
    pub rooms: usize,
}

pub async fn run(args: RampArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    anyhow::ensure!(args.target <= 100_000 && args.rooms >= 1, "at most 100000 connections, at least one room");
    let before = common.server_pid.and_then(report::sample);
    let started = Instant::now();
    let deadline = started + common.duration();
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let held = Arc::new(Mutex::new(Vec::new()));
    let handshakes = Arc::new(Mutex::new(Vec::new()));
    let mut per_second = Vec::new();
    let (mut launched, mut second) = (0usize, 0usize);
    let mut tasks = Vec::new();
    while launched < args.target && Instant::now() < deadline {
        let tick = Instant::now();
        let done_before = ok.load(Ordering::Relaxed);
        let batch = (args.start + second * args.step).min(args.target - launched);
        for i in 0..batch {
            let url =
                common.room_url(&format!("{}-{}", common.room_prefix, (launched + i) % args.rooms), launched + i)?;
            let (ok, failed, held, handshakes) = (ok.clone(), failed.clone(), held.clone(), handshakes.clone());
            // Spread the second's attempts evenly over it.
            let at = tokio::time::Instant::from_std(tick) + Duration::from_secs(1).mul_f64(i as f64 / batch as f64);
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                match clients::connect(&url, false).await {
                    Ok(c) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        handshakes.lock().await.push(c.handshake.as_micros() as u32);
                        held.lock().await.push(c);
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        launched += batch;
        second += 1;
        tokio::time::sleep_until(tokio::time::Instant::from_std(tick + Duration::from_secs(1))).await;
        per_second.push(ok.load(Ordering::Relaxed) - done_before);
        eprint!("\r  second {second:>3}: launched {launched:>6}, open {:>6}", ok.load(Ordering::Relaxed));
        if failed.load(Ordering::Relaxed) * 100 > launched as u64 {
            break;
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    eprintln!();
    let elapsed = started.elapsed();
    let after = common.server_pid.and_then(report::sample);
    let opened = ok.load(Ordering::Relaxed);
    let mut r = Report::new("ramp", common.json.clone());
    r.add("connections attempted", launched as u64);
    r.add("connections open", opened);
    r.add("errors", failed.load(Ordering::Relaxed));
    r.add("handshakes per second (each second)", format!("{per_second:?}"));
    r.add("peak handshakes per second", per_second.iter().copied().max().unwrap_or(0));
    r.add("mean handshakes per second", (opened as f64 / elapsed.as_secs_f64()).round());
    r.add_latency("handshake", std::mem::take(&mut *handshakes.lock().await));
    report::add_server(&mut r, before, after, elapsed, None);
    drop(held);
    Ok(r)
}
