//! One module per scenario; each is bounded by `--duration` and its counts.

pub mod fanout;
pub mod idle;
pub mod join_storm;
pub mod presence;
pub mod ramp;
pub mod reconnect_storm;

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::Common;
use crate::clients::{self, Connected};

/// Opens `per_room` clients in each of `rooms` rooms, at most `--connect-concurrency` at
/// once. Returns them by room, and the handshake times in microseconds.
pub async fn open_rooms(
    common: &Common,
    rooms: usize,
    per_room: usize,
    full: impl Fn(usize) -> bool,
) -> anyhow::Result<(Vec<Vec<(Connected, bool)>>, Vec<u32>)> {
    let permits = Arc::new(Semaphore::new(common.connect_concurrency.max(1)));
    let mut tasks = Vec::new();
    for r in 0..rooms {
        for i in 0..per_room {
            let url = common.room_url(&format!("{}-{r}", common.room_prefix), r * per_room + i)?;
            let is_full = full(i);
            let permits = permits.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                (r, clients::connect(&url, is_full).await, is_full)
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
