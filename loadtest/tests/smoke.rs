//! The harness against a real server on 127.0.0.1:0: short runs whose reports must show
//! every delivery made and every room converged.

use std::process::Command;

use serde_json::Value;

async fn start_server() -> (std::net::SocketAddr, tempfile::TempDir, tokio::sync::oneshot::Sender<()>) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tandem::config::ServeConfig::with_data_dir(dir.path());
    cfg.signing.jwt_secret = Some("l0ad-t3st-7e9a1c3e5b7d9f0a2c4e6b8d".into());
    // All load comes from 127.0.0.1: lift the per-address connection rate limit.
    cfg.socket.max_connections_per_ip_per_minute = 0;
    // One user makes every request of the comments scenario.
    cfg.api.max_requests_per_user_per_minute = 0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(tandem::app::run(cfg, listener, async move {
        let _ = stopped.await;
    }));
    (addr, dir, stop)
}

fn run(args: &[&str]) -> Value {
    let out = tempfile::NamedTempFile::new().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_tandem-loadtest"))
        .args(args)
        .args(["--json", out.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    serde_json::from_str(&std::fs::read_to_string(out.path()).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_reports_every_delivery_and_convergence() {
    let (addr, _dir, _stop) = start_server().await;
    let url = format!("ws://{addr}/ws");
    let pid = std::process::id().to_string();
    let report = tokio::task::spawn_blocking(move || {
        run(&[
            "fanout",
            "--url",
            &url,
            "--secret",
            "l0ad-t3st-7e9a1c3e5b7d9f0a2c4e6b8d",
            "--rooms",
            "2",
            "--clients",
            "4",
            "--rate",
            "20",
            "--duration",
            "1",
            "--drain",
            "1",
            "--server-pid",
            &pid,
        ])
    })
    .await
    .unwrap();
    assert_eq!(report["edits"], 40, "{report}");
    assert_eq!(report["deliveries"], 120, "{report}");
    assert_eq!(report["delivery %"], 100.0);
    assert_eq!(report["converged rooms"], "2/2");
    assert!(report["fan-out p99 ms"].as_f64().unwrap() > 0.0);
    assert!(report["server rss MiB"].as_f64().unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_over_the_hocuspocus_protocol_delivers_and_converges() {
    let (addr, _dir, _stop) = start_server().await;
    let url = format!("ws://{addr}/hocuspocus");
    let report = tokio::task::spawn_blocking(move || {
        run(&[
            "fanout",
            "--protocol",
            "hocuspocus",
            "--url",
            &url,
            "--secret",
            "l0ad-t3st-7e9a1c3e5b7d9f0a2c4e6b8d",
            "--rooms",
            "2",
            "--clients",
            "3",
            "--rate",
            "10",
            "--duration",
            "1",
            "--drain",
            "1",
        ])
    })
    .await
    .unwrap();
    assert_eq!(report["edits"], 20, "{report}");
    assert_eq!(report["deliveries"], 40, "{report}");
    assert_eq!(report["converged rooms"], "2/2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_presence_run_to_completion() {
    let (addr, _dir, _stop) = start_server().await;
    let url = format!("ws://{addr}/ws");
    let report = tokio::task::spawn_blocking(move || {
        let idle = run(&[
            "idle",
            "--url",
            &url,
            "--secret",
            "l0ad-t3st-7e9a1c3e5b7d9f0a2c4e6b8d",
            "--connections",
            "40",
            "--rooms",
            "10",
            "--duration",
            "0.5",
        ]);
        let presence = run(&[
            "presence",
            "--url",
            &url,
            "--secret",
            "l0ad-t3st-7e9a1c3e5b7d9f0a2c4e6b8d",
            "--clients",
            "10",
            "--rooms",
            "2",
            "--rate",
            "4",
            "--duration",
            "1",
        ]);
        (idle, presence)
    })
    .await
    .unwrap();
    assert_eq!(report.0["connections held"], 40);
    assert_eq!(report.1["awareness updates sent"], 40);
    // Each update reaches the 5 clients of its room (the sender too).
    assert!(report.1["frames received"].as_u64().unwrap() >= 40 * 5, "{}", report.1);
    assert_eq!(report.1["errors / disconnects"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramp_join_storm_and_reconnect_storm_run_to_completion() {
    let (addr, _dir, _stop) = start_server().await;
    let url = format!("ws://{addr}/ws");
    let (ramp, storm, waves) = tokio::task::spawn_blocking(move || {
        let common = ["--url", &url, "--secret", "l0ad-t3st-7e9a1c3e5b7d9f0a2c4e6b8d"];
        let ramp = run(&[
            &["ramp"][..],
            &common,
            &["--target", "60", "--start", "20", "--step", "20", "--rooms", "3", "--duration", "10"],
        ]
        .concat());
        let storm = run(&[&["join-storm"][..], &common, &["--clients", "10", "--doc-mb", "1"]].concat());
        let waves = run(&[
            &["reconnect-storm"][..],
            &common,
            &["--clients", "20", "--rooms", "4", "--wave", "50", "--every", "0.2", "--duration", "1"],
        ]
        .concat());
        (ramp, storm, waves)
    })
    .await
    .unwrap();
    assert_eq!(ramp["connections open"], 60, "{ramp}");
    assert_eq!(ramp["errors"], 0);
    assert_eq!(storm["clients joined"], 10, "{storm}");
    assert!(storm["join to synced p50 ms"].as_f64().unwrap() > 0.0);
    assert_eq!(waves["errors"], 0, "{waves}");
    assert!(waves["reconnects"].as_u64().unwrap() >= 10, "{waves}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_lists_every_thread_and_orphans_half_of_them() {
    let (addr, _dir, _stop) = start_server().await;
    let url = format!("ws://{addr}/ws");
    let report = tokio::task::spawn_blocking(move || {
        run(&[
            "comments",
            "--url",
            &url,
            "--doc-bytes",
            "20000",
            "--edits",
            "100",
            "--threads",
            "20",
            "--lists",
            "3",
            "--duration",
            "0.5",
            "--orphan",
        ])
    })
    .await
    .unwrap();
    assert_eq!(report["list orphaned threads"], 0, "{report}");
    assert_eq!(report["list with orphans orphaned threads"], 10, "{report}");
    assert_eq!(report["edits per run (every 20 ms)"], 25);
    assert!(report["list p99 ms"].as_f64().unwrap() > 0.0);
    assert!(report["edit echo while listing p99 ms"].as_f64().unwrap() > 0.0);
    assert!(report["lists during the edit run"].as_u64().unwrap() > 0);
}

#[test]
fn refuses_remote_targets() {
    let status = Command::new(env!("CARGO_BIN_EXE_tandem-loadtest"))
        .args(["idle", "--url", "ws://192.0.2.1:4000/ws", "--secret", "x", "--duration", "0.1"])
        .env_remove("TANDEM_LOADTEST_ALLOW_REMOTE")
        .output()
        .unwrap();
    assert!(!status.status.success());
    assert!(String::from_utf8_lossy(&status.stderr).contains("not a loopback address"));
}
