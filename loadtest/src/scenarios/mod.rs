//! One module per scenario; each is bounded by `--duration` and its counts.

pub mod cold_load;
pub mod comments;
pub mod fanout;
pub mod fast_writer;
pub mod idle;
pub mod join_storm;
pub mod kill_cycles;
pub mod pg_restart;
pub mod presence;
pub mod ramp;
pub mod reconnect_storm;
pub mod slow_reader;
pub mod versions;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::Common;
use crate::clients::{self, Connected};

/// A live progress line on stderr, redrawn every second until dropped.
pub struct Progress(tokio::task::JoinHandle<()>);

impl Progress {
    pub fn start(counters: Vec<(&'static str, Arc<AtomicU64>)>) -> Self {
        let started = Instant::now();
        Progress(tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let mut line = format!("\r  {:>6.1}s", started.elapsed().as_secs_f64());
                for (name, n) in &counters {
                    line.push_str(&format!("  {name} {:>8}", n.load(Ordering::Relaxed)));
                }
                eprint!("{line}");
            }
        }))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.abort();
        eprintln!();
    }
}

/// Opens `per_room` clients in each of `rooms` rooms, at most `--connect-concurrency` at
/// once. Returns them by room, and the handshake times in microseconds.
pub async fn open_rooms(
    common: &Common,
    rooms: usize,
    per_room: usize,
    full: impl Fn(usize) -> bool,
) -> anyhow::Result<(Vec<Vec<(Connected, bool)>>, Vec<u32>)> {
    open_rooms_on(&[common], rooms, per_room, full).await
}

/// `open_rooms` over several servers: client `i` of each room connects to
/// `nodes[i % nodes.len()]` (its `node` is that index), so every room spans them all and
/// clients next to each other in a room are on different servers.
pub async fn open_rooms_on(
    nodes: &[&Common],
    rooms: usize,
    per_room: usize,
    full: impl Fn(usize) -> bool,
) -> anyhow::Result<(Vec<Vec<(Connected, bool)>>, Vec<u32>)> {
    anyhow::ensure!(!nodes.is_empty() && nodes.len() <= usize::from(u8::MAX), "1 to 255 servers");
    let common = nodes[0];
    let permits = Arc::new(Semaphore::new(common.connect_concurrency.max(1)));
    let opened = Arc::new(AtomicU64::new(0));
    let _progress = Progress::start(vec![("connected", opened.clone())]);
    let mut tasks = Vec::new();
    for r in 0..rooms {
        for i in 0..per_room {
            let node = i % nodes.len();
            let url = nodes[node].room_url(&format!("{}-{r}", common.room_prefix), r * per_room + i)?;
            let is_full = full(i);
            let (permits, opened) = (permits.clone(), opened.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                let c = clients::connect(&url, is_full).await.map(|mut c| {
                    c.node = node as u8;
                    c
                });
                opened.fetch_add(1, Ordering::Relaxed);
                (r, c, is_full)
            }));
        }
    }
    let mut by_room: Vec<Vec<(Connected, bool)>> = (0..rooms).map(|_| Vec::new()).collect();
    let mut handshakes = Vec::new();
    for t in tasks {
        let (r, c, is_full) = t.await?;
        let c = c?;
        handshakes.push(c.handshake.as_micros() as u32);
        by_room[r].push((c, is_full));
    }
    Ok((by_room, handshakes))
}
