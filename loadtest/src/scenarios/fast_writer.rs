//! `fast-writer`: one client sends `--edits` one-character inserts as fast as its socket
//! takes them (as importers and scripts do) and then closes, far over the server's
//! per-connection message rate. Limits must slow such a writer, never drop what it sent:
//! a late joiner must find every character.

use std::time::{Duration, Instant};

use clap::Args;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use yrs::{GetString, Text, Transact};

use crate::Common;
use crate::clients;
use crate::report::Report;

#[derive(Args, Debug)]
pub struct FastWriterArgs {
    #[command(flatten)]
    pub common: Common,
    /// One-character edits sent in one go.
    #[arg(long, default_value_t = 1000)]
    pub edits: usize,
    /// How long to wait for the late joiner to find them all, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub settle: f64,
}

pub async fn run(args: FastWriterArgs) -> anyhow::Result<Report> {
    let common = &args.common;
    anyhow::ensure!(args.edits >= 1 && args.edits <= 1_000_000, "--edits in 1..=1000000");
    let room = format!("{}-fast-writer", common.room_prefix);
    let mut c = clients::connect(&common.room_url(&room, 0)?, false).await?;
    let text = c.doc.get_or_insert_text("content");
    let started = Instant::now();
    let mut sent = 0usize;
    for _ in 0..args.edits {
        let update = {
            let mut txn = c.doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, len, "x");
            txn.encode_update_v1()
        };
        if c.send(&tandem_protocol::encode_update(&update)).await.is_err() {
            break;
        }
        sent += 1;
    }
    let send_time = started.elapsed();
    // Close as a provider does when its page goes away; note how the server closed us.
    let _ = c.ws.close(None).await;
    let mut close_code = None;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(5), c.ws.next()).await {
        if let Message::Close(frame) = msg {
            close_code = frame.map(|f| u16::from(f.code));
        }
    }
    let _ = c.ws.flush().await;

    // A late joiner polls until it holds everything or nothing new arrives in time.
    let deadline = Instant::now() + Duration::from_secs_f64(args.settle.clamp(1.0, 600.0));
    let mut held;
    loop {
        let j = clients::connect(&common.room_url(&room, 1)?, true).await?;
        held = j.doc.get_or_insert_text("content").get_string(&j.doc.transact()).len();
        if held >= args.edits || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut r = Report::new("fast-writer", common.json.clone());
    r.add("edits written", args.edits as u64);
    r.add("edits sent before the socket failed", sent as u64);
    r.add("send time ms", (send_time.as_secs_f64() * 1000.0).round());
    r.add("server close code", close_code.map(u64::from));
    r.add("held by a late joiner", held as u64);
    let lost = args.edits.saturating_sub(held);
    r.add("lost", lost as u64);
    if lost > 0 {
        r.failure = Some(format!("{lost} of {} edits lost", args.edits));
    }
    Ok(r)
}
