//! Prometheus metrics (`/metrics`): the names, the recorder, and small helpers the hot
//! paths call. Names are `tandem_<area>_<thing>_<unit>`; labels come from bounded sets
//! only (message kinds, routes, statuses, reasons), never a document id.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const ROOMS_ACTIVE: &str = "tandem_rooms_active";
pub const CONNECTIONS_ACTIVE: &str = "tandem_connections_active";
/// Tasks keeping an open connection's access in step with roles (one per document a
/// user or link connection has open), by `endpoint`.
pub const ACCESS_WATCHERS_ACTIVE: &str = "tandem_access_watchers_active";
pub const MESSAGES_IN: &str = "tandem_ws_messages_in_total";
pub const BYTES_IN: &str = "tandem_ws_bytes_in_total";
pub const MESSAGES_OUT: &str = "tandem_ws_messages_out_total";
pub const BYTES_OUT: &str = "tandem_ws_bytes_out_total";
pub const UPDATES_APPLIED: &str = "tandem_room_updates_applied_total";
pub const FANOUT_DELIVERIES: &str = "tandem_room_fanout_deliveries_total";
pub const SLOW_DISCONNECTS: &str = "tandem_ws_slow_client_disconnects_total";
pub const REFUSED_FRAMES: &str = "tandem_ws_refused_frames_total";
pub const LIMITED: &str = "tandem_limit_exceeded_total";
pub const PERSIST_BATCH: &str = "tandem_persist_batch_updates";
pub const PERSIST_SECONDS: &str = "tandem_persist_commit_seconds";
pub const PERSIST_FAILURES: &str = "tandem_persist_failures_total";
pub const COMPACTIONS: &str = "tandem_store_compactions_total";
pub const COMPACTED_ROWS: &str = "tandem_store_compacted_log_rows";
pub const BUS_PUBLISHED: &str = "tandem_bus_published_total";
pub const BUS_PUBLISH_FAILURES: &str = "tandem_bus_publish_failures_total";
pub const BUS_RECEIVED: &str = "tandem_bus_received_total";
pub const BUS_RESYNCS: &str = "tandem_bus_resyncs_total";
pub const AUTH_FAILURES: &str = "tandem_auth_failures_total";
pub const HTTP_REQUESTS: &str = "tandem_http_requests_total";

/// The process-wide recorder (installed once, shared by every server in the process).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets(&[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0])
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(PERSIST_BATCH.into()), &pow2(10)))
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(COMPACTED_ROWS.into()), &pow2(16)))
            .expect("static bucket lists are valid")
            .install_recorder()
            .expect("the metrics recorder is installed once");
        let upkeep = handle.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

fn pow2(n: u32) -> Vec<f64> {
    (0..=n).map(|i| f64::from(1u32 << i)).collect()
}

/// The kind of a y-websocket frame, for labels.
pub fn frame_kind(frame: &[u8]) -> &'static str {
    match (frame.first(), frame.get(1)) {
        (Some(0), Some(0)) => "sync_step1",
        (Some(0), Some(1)) => "sync_step2",
        (Some(0), Some(2)) => "update",
        (Some(1), _) => "awareness",
        (Some(2), _) => "auth",
        (Some(3), _) => "query_awareness",
        _ => "other",
    }
}

/// Counts `deliveries` copies of one outgoing frame.
pub fn sent(frame: &[u8], deliveries: u64) {
    if deliveries == 0 {
        return;
    }
    let kind = frame_kind(frame);
    metrics::counter!(MESSAGES_OUT, "kind" => kind).increment(deliveries);
    metrics::counter!(BYTES_OUT, "kind" => kind).increment(deliveries * frame.len() as u64);
}

/// Counts one incoming frame.
pub fn received(frame: &[u8]) {
    let kind = frame_kind(frame);
    metrics::counter!(MESSAGES_IN, "kind" => kind).increment(1);
    metrics::counter!(BYTES_IN, "kind" => kind).increment(frame.len() as u64);
}

/// Middleware: HTTP requests by matched route (not raw path) and status.
pub async fn track_http(req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "route" => route, "status" => status).increment(1);
    response
}

/// `GET /metrics`.
pub async fn render() -> String {
    handle().render()
}
