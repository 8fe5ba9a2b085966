//! `join-storm`: one client fills a room with a `--doc-mb` MB document, then `--clients`
//! clients join it at once; reports the time each took to be synced (connect, handshake,
//! sync step 2 received).

use std::time::Instant;

use clap::Args;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use yrs::{Text, Transact};

use crate::Common;
use crate::clients;
use crate::report::{self, Report};

#[derive(Args, Debug)]
pub struct JoinStormArgs {
    #[command(flatten)]
    pub common: Common,
    /// Clients joining at once.
    #[arg(long, default_value_t = 150)]
    pub clients: usize,
    /// Size of the document they join, in MB.
    #[arg(long, default_value_t = 20)]
    pub doc_mb: usize,
}

pub async fn run(args: JoinStormArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    anyhow::ensure!(args.clients <= 10_000 && args.doc_mb <= 512, "at most 10000 clients and 512 MB");
    let room = format!("{}-storm", common.room_prefix);
    // Fill the room in 1 MB updates (each under the default 16 MiB message limit).
    let mut writer = clients::connect(&common.room_url(&room, 0)?, false).await?;
    let text = writer.doc.get_or_insert_text("content");
    let chunk = "m".repeat(1 << 20);
    // Each update waits for its echo (so it is committed) before the next is sent: the
    // server closes a client that lets more than its send queue's bytes of echoes pile up.
    for _ in 0..args.doc_mb {
        let update = {
            let mut txn = writer.doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, len, &chunk);
            txn.encode_update_v1()
        };
        writer.send(&tandem_protocol::encode_update(&update)).await?;
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(120), writer.ws.next())
                .await
                .map_err(|_| anyhow::anyhow!("update not echoed within 120 s"))?
                .ok_or_else(|| anyhow::anyhow!("writer closed"))??;
            if let Message::Binary(frame) = msg
                && let clients::Received::Message(message) = writer.unwrap(&frame)
                && clients::edit_key(message).is_some()
            {
                break;
            }
        }
    }
    // A fresh client that syncs now sees the whole document.
    let probe = clients::connect(&common.room_url(&room, 1)?, true).await?;
    let have = yrs::GetString::get_string(&probe.doc.get_or_insert_text("content"), &probe.doc.transact()).len();
    anyhow::ensure!(have == args.doc_mb << 20, "room holds {have} bytes, expected {}", args.doc_mb << 20);

    let before = common.server_pid.and_then(report::sample);
    let started = Instant::now();
    let mut tasks = Vec::new();
    let joined = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let progress = crate::scenarios::Progress::start(vec![("synced", joined.clone())]);
    for i in 0..args.clients {
        let url = common.room_url(&room, 2 + i)?;
        let joined = joined.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let c = clients::connect(&url, false).await.map(|c| (t.elapsed(), c));
            joined.fetch_add(u64::from(c.is_ok()), std::sync::atomic::Ordering::Relaxed);
            c
        }));
    }
    let (mut synced, mut errors, mut held) = (Vec::new(), 0u64, Vec::new());
    for t in tasks {
        match t.await? {
            Ok((took, c)) => {
                synced.push(took.as_micros() as u32);
                held.push(c);
            }
            Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed();
    drop(progress);
    let after = common.server_pid.and_then(report::sample);
    let mut r = Report::new("join-storm", common.json.clone());
    r.add("document MB", args.doc_mb as u64);
    r.add("clients joined", synced.len() as u64);
    r.add("errors", errors);
    r.add_latency("join to synced", synced);
    r.add("all synced after s", (elapsed.as_secs_f64() * 100.0).round() / 100.0);
    report::add_server(&mut r, before, after, elapsed, None);
    drop(held);
    Ok(r)
}
