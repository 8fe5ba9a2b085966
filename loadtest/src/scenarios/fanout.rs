//! `fanout`: rooms × clients, each room editing at `--rate` edits/s (round robin over its
//! first `--writers` clients, all of them by default; the rest only observe). Latency is the time from an edit being sent to its arrival at each other
//! client of the room (one process, one clock). Most clients are light receivers; the
//! first `--full` of each room apply every update and must converge. With `--second-url`
//! every room spans two servers and deliveries are split into same-node and cross-node.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use dashmap::DashMap;
use tokio::sync::mpsc;

use crate::clients::{self, Cmd};
use crate::report::{self, Report};
use crate::{Common, scenarios};

#[derive(Args, Debug)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub common: Common,
    /// Number of rooms.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Clients per room.
    #[arg(long, default_value_t = 5)]
    pub clients: usize,
    /// Edits per second per room.
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    /// Bytes inserted per edit.
    #[arg(long, default_value_t = 16)]
    pub size: usize,
    /// Clients per room that apply every update (the rest only count and timestamp).
    #[arg(long, default_value_t = 3)]
    pub full: usize,
    /// Clients per room that edit, taking turns (0: all of them); the others only observe.
    #[arg(long, default_value_t = 0)]
    pub writers: usize,
    /// Seconds to keep receiving after the last edit.
    #[arg(long, default_value_t = 2.0)]
    pub drain: f64,
    /// A second server (WebSocket base URL, as --url), clustered with the first: the odd
    /// clients of every room connect here, writers included, and latency is reported for
    /// same-node and cross-node deliveries apart. Naming the --url server again puts both
    /// halves on one server: the same split, no second node (a baseline).
    #[arg(long)]
    pub second_url: Option<String>,
    /// The second server's pid: CPU time per node and in total.
    #[arg(long, requires = "second_url")]
    pub second_server_pid: Option<u32>,
}

/// What the receivers of a run saw, added up.
#[derive(Default)]
struct Tally {
    same_node_us: Vec<u32>,
    cross_node_us: Vec<u32>,
    /// Deliveries to each node's clients.
    by_node: [u64; 2],
    frames: u64,
    disconnects: u64,
    converged: usize,
}

pub async fn run(args: FanoutArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    anyhow::ensure!(args.clients >= 2, "--clients must be at least 2");
    anyhow::ensure!(args.rate > 0.0 && args.rate <= 10_000.0, "--rate must be in (0, 10000]");
    anyhow::ensure!(args.rooms * args.clients <= 100_000, "at most 100000 clients");
    anyhow::ensure!(args.writers <= args.clients, "--writers must be at most --clients");
    let writers = if args.writers == 0 { args.clients } else { args.writers };
    let second = args.second_url.as_ref().map(|url| Common { url: url.clone(), ..common.clone() });
    let nodes: Vec<&Common> = std::iter::once(common).chain(second.as_ref()).collect();
    let (rooms, handshakes) = scenarios::open_rooms_on(&nodes, args.rooms, args.clients, |i| i < args.full).await?;
    let duration = common.duration();
    let drain = Duration::from_secs_f64(args.drain.clamp(0.0, 60.0));
    let started = Instant::now();
    let stop_at = started + duration + drain;
    // One sample per server, in node order; the second pid only if it is another process.
    let pids = [common.server_pid, args.second_server_pid.filter(|p| Some(*p) != common.server_pid)];
    let sample_all = move || pids.map(|p| p.and_then(report::sample));
    let server_before = sample_all();
    // The server's CPU time is read again just before the clients close: the measured
    // phase is the edits and their fan-out, not 500 closing handshakes.
    let sampled_at = stop_at.checked_sub(Duration::from_millis(100)).unwrap_or(stop_at).max(started);
    let server_sample = tokio::spawn({
        async move {
            tokio::time::sleep_until(tokio::time::Instant::from_std(sampled_at)).await;
            (sample_all(), started.elapsed())
        }
    });
    let sent: clients::SentAt = Arc::new(DashMap::new());
    let edits = Arc::new(AtomicU64::new(0));
    let edits_per_room = (duration.as_secs_f64() * args.rate).floor() as u64;

    let mut receivers = Vec::new();
    let mut editors = Vec::new();
    let room_count = rooms.len();
    for (r, room) in rooms.into_iter().enumerate() {
        let mut cmds = Vec::new();
        let mut handles = Vec::new();
        for (c, full) in room {
            let (tx, rx) = mpsc::channel(64);
            cmds.push(tx);
            let node = usize::from(c.node);
            handles.push((full, node, tokio::spawn(clients::run(c, full, sent.clone(), rx, stop_at))));
        }
        receivers.push(handles);
        let (edits, size, period) = (edits.clone(), args.size, Duration::from_secs_f64(1.0 / args.rate));
        // Rooms start at evenly spread phases, so N rooms at 1 edit/s are not N edits
        // in the same instant every second.
        let phase = period.mul_f64(r as f64 / room_count as f64);
        editors.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + phase, period);
            for k in 0..edits_per_room {
                tick.tick().await;
                if cmds[k as usize % writers].send(Cmd::Edit(size)).await.is_ok() {
                    edits.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let progress = scenarios::Progress::start(vec![("edits", edits.clone())]);
    for e in editors {
        e.await?;
    }

    let mut t = Tally::default();
    let total_edits = edits.load(Ordering::Relaxed);
    for handles in receivers {
        let mut texts = Vec::new();
        for (full, node, h) in handles {
            let seen = h.await?;
            t.frames += seen.frames;
            t.disconnects += u64::from(seen.closed_early);
            t.by_node[node] += (seen.latencies_us.len() + seen.cross_node_us.len()) as u64;
            t.same_node_us.extend(seen.latencies_us);
            t.cross_node_us.extend(seen.cross_node_us);
            if full {
                texts.push(seen.text.unwrap_or_default());
            }
        }
        let want = edits_per_room as usize * args.size.max(1);
        if texts.iter().all(|text| text.len() == want) {
            t.converged += 1;
        }
    }
    drop(progress);
    let (server_after, measured) = server_sample.await?;
    let expected = total_edits * (args.clients as u64 - 1);
    let deliveries = t.by_node.iter().sum::<u64>();

    let mut r = Report::new("fanout", common.json.clone());
    r.add("rooms × clients", format!("{} × {}", args.rooms, args.clients));
    r.add("writers per room", writers as u64);
    r.add("rate (edits/s per room)", args.rate);
    r.add("connections", (args.rooms * args.clients) as u64);
    r.add_latency("handshake", handshakes);
    r.add("edits", total_edits);
    r.add("deliveries", deliveries);
    r.add("expected deliveries", expected);
    r.add("delivery %", ((deliveries as f64 / expected.max(1) as f64) * 10_000.0).round() / 100.0);
    r.add_latency("fan-out", [&t.same_node_us[..], &t.cross_node_us[..]].concat());
    if second.is_some() {
        let one_server = args.second_url.as_deref() == Some(common.url.as_str());
        add_split(&mut r, one_server, t.same_node_us, t.cross_node_us);
        add_hops(&mut r, &sent);
    }
    r.add("frames received", t.frames);
    r.add("errors / disconnects", t.disconnects);
    r.add("converged rooms", format!("{}/{}", t.converged, args.rooms));
    if pids[1].is_some() {
        let nodes = [0, 1].map(|i| report::NodeUse {
            before: server_before[i],
            after: server_after[i],
            deliveries: t.by_node[i],
        });
        report::add_nodes(&mut r, &nodes, measured);
    } else {
        report::add_server(&mut r, server_before[0], server_after[0], measured, Some(deliveries));
    }
    Ok(r)
}

/// Same-node and cross-node deliveries apart, and how much later the cross-node p99 is.
fn add_split(r: &mut Report, one_server: bool, mut same: Vec<u32>, mut cross: Vec<u32>) {
    same.sort_unstable();
    cross.sort_unstable();
    let extra = report::percentile_ms(&cross, 0.99)
        .zip(report::percentile_ms(&same, 0.99))
        .map(|(c, s)| ((c - s) * 1000.0).round() / 1000.0);
    r.add("servers", if one_server { "1 (both halves on it)" } else { "2" });
    r.add("same-node deliveries", same.len() as u64);
    r.add("cross-node deliveries", cross.len() as u64);
    r.add_latency("fan-out same-node", same);
    r.add_latency("fan-out cross-node", cross);
    r.add("cross-node extra p99 ms", extra);
}

/// Per edit, its first arrival on another node minus its first arrival on the writer's
/// node: the cross-node hop alone, without the commit and the scheduling both paths share
/// (which make most of either p99 on a busy machine). Can be negative.
fn add_hops(r: &mut Report, sent: &clients::SentAt) {
    let mut hops: Vec<i64> = sent
        .iter()
        .filter_map(|e| {
            let [same, cross] = e.first_us.each_ref().map(|a| a.load(Ordering::Relaxed));
            (same != u32::MAX && cross != u32::MAX).then(|| i64::from(cross) - i64::from(same))
        })
        .collect();
    hops.sort_unstable();
    r.add("edits reaching both nodes", hops.len() as u64);
    for (name, p) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)] {
        let i = ((hops.len() as f64 * p).ceil() as usize).clamp(1, hops.len().max(1)) - 1;
        r.add(&format!("cross-node hop {name} ms"), hops.get(i).map(|us| *us as f64 / 1000.0));
    }
}
