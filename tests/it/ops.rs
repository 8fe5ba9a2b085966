//! What operators see: health, readiness and Prometheus metrics from a live server, and
//! the permissions of what it writes to disk.

use crate::common;

use common::api::{Api, Db};
use common::process::{ServerProcess, http_get, metric_sample};
use common::{Client, TestServer};

on_both_databases!(the_data_dir_database_files_and_generated_secret_are_private);

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
        let v = metric_sample(&m, series).unwrap_or_else(|| panic!("no {series} in:\n{m}"));
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

/// Each way a request on a WebSocket path can fail to be a handshake gets its status and
/// the JSON error, before anything is upgraded; a well-formed one is answered 101.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_handshakes_are_checked_as_rfc_6455_says() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await;
    let token = server.token(&["*=rw"]);
    let good = "dGhlIHNhbXBsZSBub25jZQ==";
    let cases = [
        ("POST", "Upgrade", "websocket", "13", Some(good), 405),
        ("GET", "keep-alive", "websocket", "13", Some(good), 400),
        ("GET", "Upgrade", "h2c", "13", Some(good), 400),
        ("GET", "Upgrade", "websocket", "13", None, 400),
        ("GET", "Upgrade", "websocket", "8", Some(good), 400),
        ("GET", "Upgrade", "websocket", "13", Some("not-a-key"), 400),
        ("GET", "Upgrade", "websocket", "13", Some("AAAA"), 400),
        ("GET", "keep-alive, Upgrade", "websocket", "13", Some(good), 101),
    ];
    for (method, connection, upgrade, version, key, want) in cases {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let key = key.map(|k| format!("Sec-WebSocket-Key: {k}\r\n")).unwrap_or_default();
        let request = format!(
            "{method} /ws/notes/hs?token={token} HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}\r\n\
             Upgrade: {upgrade}\r\nSec-WebSocket-Version: {version}\r\n{key}Content-Length: 0\r\n\r\n"
        );
        s.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0; 4096];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let status: u16 = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("a status line");
        assert_eq!(status, want, "{method} {connection} {upgrade} {version} {key}: {text}");
        if want == 405 {
            // The router answers a method the route does not take, before the handshake.
            assert!(text.to_lowercase().contains("allow: get"), "{text}");
        } else if want != 101 {
            let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(v["error"]["code"], "websocket_upgrade_required", "{text}");
        } else {
            assert!(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "the accept key of RFC 6455's example: {text}");
        }
    }
}

/// Every metric name in src/metrics.rs (each `"tandem_…"` string literal in it).
fn metric_names() -> Vec<&'static str> {
    let source = include_str!("../../src/metrics.rs");
    let names: Vec<&str> = source
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("tandem_") && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .collect();
    assert!(names.len() >= 20, "found only {names:?}");
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_servers_first_scrape_describes_every_metric() {
    // A process of its own: the recorder is process-wide, so only a new process is fresh.
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), None);
    let (status, m) = http_get(server.addr, "/metrics").await;
    assert_eq!(status, 200);
    for name in metric_names() {
        let help = m.lines().find(|l| l.starts_with(&format!("# HELP {name} ")));
        assert!(help.is_some_and(|l| l.len() > format!("# HELP {name} ").len() + 10), "no help for {name} in:\n{m}");
        let kind = m.lines().find_map(|l| l.strip_prefix(&format!("# TYPE {name} ")));
        assert!(matches!(kind, Some("counter" | "gauge" | "histogram")), "no type for {name} in:\n{m}");
    }
    // Counters and gauges start at zero, labelled ones with each of their known values.
    for series in [
        "tandem_room_updates_applied_total",
        "tandem_rooms_active",
        "tandem_connections_active",
        "tandem_persist_commit_seconds_count",
        r#"tandem_ws_messages_in_total{kind="update"}"#,
        r#"tandem_ws_refused_frames_total{reason="malformed"}"#,
        r#"tandem_limit_exceeded_total{limit="messages_per_second"}"#,
        r#"tandem_auth_failures_total{reason="invalid_token"}"#,
        r#"tandem_store_compactions_total{result="failed"}"#,
    ] {
        assert_eq!(metric_sample(&m, series), Some(0.0), "{series} in:\n{m}");
    }
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Starts a server that keeps its state in `data` (missing at first) and generates its
/// token secret there; waits until it is ready and has written an account.
async fn start_private(db: Db, data: std::path::PathBuf, url: Option<String>) -> TestServer {
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), url, |c| {
        c.common.data_dir = data;
        c.signing.jwt_secret = None;
    })
    .await;
    let ready = common::eventually_async(
        std::time::Duration::from_secs(20),
        || http_get(server.addr, "/readyz"),
        |(status, _)| status == 200,
    )
    .await;
    assert!(ready, "server on {db:?} never became ready");
    server
}

async fn the_data_dir_database_files_and_generated_secret_are_private(db: Db) {
    let url = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(common::pg::fresh_database().await),
    };
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("state").join("data");
    let server = start_private(db, data.clone(), url.clone()).await;
    Api::new(&server).signup("ann@example.com").await;
    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&data.join("jwt_secret")), 0o600, "token secret");
    if url.is_some() {
        server.stop().await;
        return;
    }
    for file in ["tandem.db", "tandem.db-wal", "tandem.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    // Files an older version left readable to everyone are made private at the next start.
    server.stop().await;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(data.join("tandem.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = start_private(db, data.clone(), None).await;
    for file in ["tandem.db", "tandem.db-wal", "tandem.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file} after a restart");
    }
    server.stop().await;
}
