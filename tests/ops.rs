//! What operators see: health, readiness and Prometheus metrics from a live server.

mod common;

use common::process::http_get;
use common::{Client, TestServer};

/// The value of the first sample of `series` (name plus labels, as rendered).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_reflect_activity() {
    let server = TestServer::start().await;
    assert_eq!(http_get(server.addr, "/healthz").await, (200, "ok".into()));
    assert_eq!(http_get(server.addr, "/readyz").await, (200, "ready".into()));

    let mut a = server.client("ops").await;
    let mut b = server.client("ops").await;
    for i in 0..5 {
        a.append_acked(&format!("{i}")).await;
    }
    b.wait_text(std::time::Duration::from_secs(10), |t| t == "01234").await;
    let _ = Client::connect(&format!("ws://{}/ws/ops", server.addr)).await; // no token

    let (status, m) = http_get(server.addr, "/metrics").await;
    assert_eq!(status, 200);
    // The recorder is process-wide (other tests' servers add to it): check lower bounds.
    let at_least = |series: &str, min: f64| {
        let v = sample(&m, series).unwrap_or_else(|| panic!("no {series} in:\n{m}"));
        assert!(v >= min, "{series} = {v}, expected at least {min}");
    };
    at_least("tandem_room_updates_applied_total", 5.0);
    at_least("tandem_room_fanout_deliveries_total", 10.0);
    at_least(r#"tandem_ws_messages_in_total{kind="update"}"#, 5.0);
    at_least(r#"tandem_ws_messages_out_total{kind="update"}"#, 10.0);
    at_least(r#"tandem_ws_messages_out_total{kind="sync_step2"}"#, 2.0);
    at_least("tandem_connections_active", 2.0);
    at_least("tandem_rooms_active", 1.0);
    at_least("tandem_persist_commit_seconds_count", 1.0);
    at_least(r#"tandem_auth_failures_total{reason="missing_token"}"#, 1.0);
    at_least(r#"tandem_http_requests_total{route="/healthz",status="200"}"#, 1.0);
    assert!(!m.contains("doc=") && !m.contains("ops\""), "no document ids in labels");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_get_on_the_websocket_path_gets_a_json_error() {
    let server = TestServer::start().await;
    let token = server.token(&["*=rw"]);
    let (status, body) = http_get(server.addr, &format!("/ws/notes/a?token={token}")).await;
    assert!((400..500).contains(&status), "{status}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["error"]["code"], "websocket_upgrade_required");
    assert!(v["error"]["message"].as_str().unwrap().to_lowercase().contains("upgrade"));
}
