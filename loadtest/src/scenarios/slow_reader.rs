//! `slow-reader`: `--readers` clients join a room and never read (tiny socket buffers),
//! while a writer sends `--size`-byte edits at `--rate` per second. Each reader must be
//! disconnected once its queue is full, and the server's memory must stay flat; the
//! writer and a normal reader must keep working. Needs `--server-pid` for the memory.

use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;
use tokio::net::TcpSocket;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;
use yrs::{Text, Transact};

use crate::Common;
use crate::clients;
use crate::report::{self, Report};

#[derive(Args, Debug)]
pub struct SlowReaderArgs {
    #[command(flatten)]
    pub common: Common,
    /// Clients that never read.
    #[arg(long, default_value_t = 20)]
    pub readers: usize,
    /// Bytes per edit.
    #[arg(long, default_value_t = 16 * 1024)]
    pub size: usize,
    /// Edits per second.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Fail if a sample of the server's RSS goes past this many MiB (needs --server-pid).
    #[arg(long)]
    pub max_rss_mib: Option<f64>,
}

pub async fn run(args: SlowReaderArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    anyhow::ensure!(args.readers <= 10_000 && args.size <= 1 << 20, "at most 10000 readers and 1 MiB edits");
    anyhow::ensure!(args.rate > 0.0 && args.rate <= 10_000.0, "--rate in (0, 10000]");
    let room = format!("{}-slow-reader", common.room_prefix);
    let mut stuck = Vec::new();
    for i in 0..args.readers {
        let ep = common.room_url(&room, 2 + i)?;
        let addr = ep.url.trim_start_matches("ws://").split('/').next().unwrap_or_default().parse()?;
        let socket = TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(4096)?;
        let stream = socket.connect(addr).await?;
        let (ws, _) = tokio_tungstenite::client_async(&ep.url, MaybeTlsStream::Plain(stream)).await?;
        stuck.push(ws);
    }
    let mut writer = clients::connect(&common.room_url(&room, 0)?, false).await?;
    let mut normal = clients::connect(&common.room_url(&room, 1)?, false).await?;
    let text = writer.doc.get_or_insert_text("content");
    let chunk = "s".repeat(args.size.max(1));
    let pid = common.server_pid;
    let mut rss = Vec::new();
    let started = Instant::now();
    let stop_at = started + common.duration();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    let mut next_sample = started;
    let (mut edits, mut normal_frames) = (0u64, 0u64);
    while Instant::now() < stop_at {
        tick.tick().await;
        let update = {
            let mut txn = writer.doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, len, &chunk);
            txn.encode_update_v1()
        };
        writer.send(&tandem_protocol::encode_update(&update)).await?;
        edits += 1;
        // The writer and the normal reader read what comes; the stuck ones never do.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::ZERO, writer.ws.next()).await {}
        while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::ZERO, normal.ws.next()).await {
            normal_frames += 1;
        }
        if Instant::now() >= next_sample {
            next_sample += Duration::from_secs(1);
            if let Some(s) = pid.and_then(report::sample) {
                rss.push((s.rss_kib as f64 / 102.4).round() / 10.0);
            }
        }
    }
    // How the stuck readers ended: each reads what is buffered until the close, if any.
    let ends = stuck.into_iter().map(|mut ws| {
        tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(30), async {
                while let Some(Ok(msg)) = ws.next().await {
                    if let Message::Close(frame) = msg {
                        return frame.map(|f| u16::from(f.code));
                    }
                }
                None
            })
            .await
        })
    });
    let (mut closed_1013, mut open) = (0u64, 0u64);
    for end in futures_util::future::join_all(ends).await {
        match end? {
            Ok(Some(1013)) => closed_1013 += 1,
            Ok(_) => {}
            Err(_) => open += 1,
        }
    }
    let mut r = Report::new("slow-reader", common.json.clone());
    r.add("stuck readers", args.readers as u64);
    r.add("edits sent", edits);
    r.add("edit bytes", args.size as u64);
    r.add("stuck readers closed with 1013", closed_1013);
    r.add("stuck readers still open", open);
    r.add("frames the normal reader got", normal_frames);
    let max = rss.iter().copied().fold(0.0, f64::max);
    if let (Some(first), Some(last)) = (rss.first(), rss.last()) {
        r.add("server rss first / max / last MiB", format!("{first} / {max} / {last}"));
        r.add("server rss samples MiB (1 s)", format!("{rss:?}"));
    }
    let mut failures = Vec::new();
    if open > 0 || normal_frames == 0 {
        failures.push(format!("{open} stuck readers never disconnected; normal reader got {normal_frames} frames"));
    }
    if let Some(limit) = args.max_rss_mib {
        if rss.is_empty() {
            failures.push("--max-rss-mib needs --server-pid (no RSS sample)".into());
        } else if max > limit {
            failures.push(format!("server RSS reached {max} MiB, over --max-rss-mib {limit}"));
        }
    }
    if !failures.is_empty() {
        r.failure = Some(failures.join("; "));
    }
    Ok(r)
}
