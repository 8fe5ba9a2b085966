//! Postgres going away under a live room: nothing unsaved is acknowledged or broadcast,
//! health says so, the server keeps running and recovers when the database returns.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::process::http_status;
use common::proxy::Proxy;
use common::{Client, TestServer, eventually_async};

const T: Duration = Duration::from_secs(10);

fn upstream_of(url: &str) -> SocketAddr {
    let host_port = url.split('@').nth(1).unwrap().split('/').next().unwrap();
    host_port.parse().expect("test Postgres URL with host:port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_holds_updates_back_and_recovers() {
    let direct = common::pg::fresh_database().await;
    let mut proxy = Proxy::start(upstream_of(&direct)).await;
    let through_proxy = direct.replacen(&upstream_of(&direct).to_string(), &proxy.addr.to_string(), 1);
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), Some(through_proxy), |_| {}).await;
    let url = server.ws_url("outage", &server.token(&["*=rw"]));
    let mut a = server.client("outage").await;
    let mut b = server.client("outage").await;
    a.append_acked("before;").await;
    b.wait_text(T, |t| t == "before;").await;
    assert_eq!(http_status(server.addr, "/readyz").await, 200);

    proxy.cut().await;
    a.append("during;").await;
    // Not durable, so not broadcast: b never sees it while the database is away.
    let started = std::time::Instant::now();
    let mut b_closed = None;
    while started.elapsed() < Duration::from_secs(2) {
        if let Some(common::client::Event::Closed(code)) = b.next_event(Duration::from_millis(100)).await {
            b_closed = Some(code);
            break;
        }
    }
    assert_eq!(b.text(), "before;", "an update that is not durable reached another client");
    assert_eq!(http_status(server.addr, "/readyz").await, 503);
    // The room gives up on the update and closes its clients, who keep their edits.
    assert_eq!(a.wait_close(Duration::from_secs(30)).await, Some(1011));
    if b_closed.is_none() {
        assert_eq!(b.wait_close(T).await, Some(1011));
    }
    // While the database is away nothing is served empty: a join is refused, with 503
    // `store_unavailable` before the upgrade (the token's check reads the catalogue) or
    // with 1011 once the room fails to load.
    match Client::connect(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 503);
            let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned();
            assert!(body.contains("store_unavailable"), "{body}");
        }
        Ok(mut refused) => assert_eq!(refused.wait_close(Duration::from_secs(30)).await, Some(1011)),
        Err(e) => panic!("join during the outage: {e}"),
    }

    proxy.restore().await;
    assert!(eventually_async(Duration::from_secs(30), || http_status(server.addr, "/readyz"), |s| s == 200).await);
    // Providers reconnect with what they hold; the server pulls it in with sync step 1.
    let mut a2 = Client::connect(&url).await.unwrap();
    a2.doc = std::mem::take(&mut a.doc);
    a2.sync().await;
    let mut b2 = server.client("outage").await;
    b2.wait_text(T, |t| t.contains("before;") && t.contains("during;")).await;
    drop((a2, b2));

    let (dir, _) = server.stop().await;
    let server = TestServer::start_in(dir, Some(direct), |_| {}).await;
    let reread = server.client("outage").await;
    assert!(reread.text().contains("during;"), "{}", reread.summary());
}
