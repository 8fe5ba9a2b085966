//! Rooms spanning two real server processes that share one Postgres and one Redis, and
//! what happens when a node or Redis dies.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::client::Event;
use common::process::{RedisProcess, ServerProcess};
use common::{Client, SECRET};
use tandem::auth::Keys;
use tempfile::TempDir;
use tokio::task::JoinHandle;

const T: Duration = Duration::from_secs(10);

struct Cluster {
    db: String,
    redis: RedisProcess,
    dirs: Vec<TempDir>,
    token: String,
}

impl Cluster {
    async fn new() -> Self {
        Cluster {
            db: common::pg::fresh_database().await,
            redis: RedisProcess::start(),
            dirs: Vec::new(),
            token: common::token(&Keys::from_secret(SECRET.as_bytes()), &["*=rw"]),
        }
    }

    fn node(&mut self) -> ServerProcess {
        self.node_with(&[])
    }

    fn node_with(&mut self, extra: &[(&str, &str)]) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let redis = self.redis.url();
        let mut env = vec![
            ("TANDEM_REDIS_URL", redis.as_str()),
            ("TANDEM_ANTI_ENTROPY", "2s"),
            ("TANDEM_AWARENESS_TIMEOUT", "3s"),
        ];
        env.extend_from_slice(extra);
        let node = ServerProcess::start_with(dir.path(), Some(&self.db), &env);
        self.dirs.push(dir);
        node
    }

    async fn client(&self, node: &ServerProcess, room: &str) -> Client {
        let mut c = Client::connect(&node.ws_url(room, &self.token)).await.unwrap();
        c.sync().await;
        c
    }
}

fn markers(text: &str) -> BTreeSet<String> {
    text.split(';').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_on_two_nodes_share_edits_and_presence() {
    let mut cluster = Cluster::new().await;
    let (a, b) = (cluster.node(), cluster.node());
    let mut on_a = cluster.client(&a, "shared").await;
    let mut on_b = cluster.client(&b, "shared").await;
    on_a.append("from-a;").await;
    on_b.wait_text(T, |t| t.contains("from-a;")).await;
    on_b.append("from-b;").await;
    on_a.wait_text(T, |t| t.contains("from-b;")).await;
    on_b.wait_text(T, |t| t.contains("from-b;")).await;
    assert_eq!(on_a.text(), on_b.text());

    on_a.set_awareness(9001, 1, r#"{"user":"on-a"}"#).await;
    on_b.wait_awareness(T, |u| u.clients.iter().any(|(c, e)| c.get() == 9001 && e.json.contains("on-a"))).await;
    drop(on_a);
    on_b.wait_awareness(T, |u| u.clients.iter().any(|(c, e)| c.get() == 9001 && &*e.json == "null")).await;

    let late = cluster.client(&b, "shared").await;
    assert_eq!(markers(&late.text()), markers("from-a;from-b;"));
}

/// A writer that appends `tag.i;` until told to stop, draining echoes; on a closed
/// connection it moves to `fallback` (as a provider would reconnect elsewhere).
fn writer(mut c: Client, tag: &'static str, stop: Arc<AtomicBool>, fallback: Option<String>) -> JoinHandle<Client> {
    tokio::spawn(async move {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) && i < 5_000 {
            let mut closed = c.try_append(&format!("{tag}.{i};")).await.is_err();
            i += 1;
            while !closed {
                match c.next_event(Duration::from_millis(2)).await {
                    Some(Event::Closed(_)) => closed = true,
                    Some(_) => {}
                    None => break,
                }
            }
            if closed {
                let Some(url) = fallback.clone() else {
                    return c;
                };
                let doc = std::mem::take(&mut c.doc);
                c = Client::connect(&url).await.unwrap();
                c.doc = doc; // keeps what it wrote: the new node's sync step 1 pulls it
                c.sync().await;
            }
        }
        c
    })
}

/// Reads until stopped; returns the text it had received.
fn observer(mut c: Client, stop: Arc<AtomicBool>) -> JoinHandle<String> {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            if let Some(Event::Closed(_)) = c.next_event(Duration::from_millis(50)).await {
                break;
            }
        }
        c.text()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_loses_nothing_any_client_received() {
    let mut cluster = Cluster::new().await;
    let (a, b) = (cluster.node(), cluster.node());
    let url_b = b.ws_url("busy", &cluster.token);
    let stop = Arc::new(AtomicBool::new(false));
    let watch_a = observer(cluster.client(&a, "busy").await, stop.clone());
    let watch_b = observer(cluster.client(&b, "busy").await, stop.clone());
    let writers = vec![
        writer(cluster.client(&a, "busy").await, "a1", stop.clone(), Some(url_b.clone())),
        writer(cluster.client(&a, "busy").await, "a2", stop.clone(), Some(url_b.clone())),
        writer(cluster.client(&b, "busy").await, "b1", stop.clone(), None),
    ];
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.kill9();
    let seen_on_a = markers(&watch_a.await.unwrap());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    let mut written = BTreeSet::new();
    for w in writers {
        written.extend(markers(&w.await.unwrap().text()));
    }
    let seen_on_b = markers(&watch_b.await.unwrap());

    // Everything any client saw, and everything the writers (now all on B) hold.
    let mut fresh = cluster.client(&b, "busy").await;
    fresh.wait_text(T, |t| markers(t).is_superset(&written)).await;
    let on_b_now = markers(&fresh.text());
    let received: BTreeSet<_> = seen_on_a.union(&seen_on_b).cloned().collect();
    let lost: Vec<_> = received.difference(&on_b_now).collect();
    eprintln!(
        "kill -9 node A: written {}, received by observers {} (A {} / B {}), on B afterwards {}, lost {}",
        written.len(),
        received.len(),
        seen_on_a.len(),
        seen_on_b.len(),
        on_b_now.len(),
        lost.len()
    );
    assert!(seen_on_a.len() >= 50 && seen_on_b.len() >= 50, "too few edits to mean anything");
    assert!(lost.is_empty(), "lost {lost:?}");

    // And it is durable: a node started afresh reads it all from Postgres.
    b.kill9();
    let c = cluster.node();
    let reread = markers(&cluster.client(&c, "busy").await.text());
    assert!(reread.is_superset(&received));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_converge_by_themselves_after_redis_restarts() {
    let mut cluster = Cluster::new().await;
    let (a, b) = (cluster.node(), cluster.node());
    let stop = Arc::new(AtomicBool::new(false));
    let writers = vec![
        writer(cluster.client(&a, "flaky").await, "a", stop.clone(), None),
        writer(cluster.client(&b, "flaky").await, "b", stop.clone(), None),
    ];
    let mut on_a = cluster.client(&a, "flaky").await;
    let mut on_b = cluster.client(&b, "flaky").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.redis.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.redis.restart();
    let restarted = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut written = BTreeSet::new();
    for w in writers {
        written.extend(markers(&w.await.unwrap().text()));
    }
    // No client reconnects or resends: the nodes must catch up between themselves.
    on_a.wait_text(Duration::from_secs(20), |t| markers(t) == written).await;
    on_b.wait_text(Duration::from_secs(20), |t| markers(t) == written).await;
    eprintln!(
        "redis restart: {} edits written, both nodes converged {:?} after redis came back",
        written.len(),
        restarted.elapsed()
    );
    assert_eq!(on_a.text(), on_b.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_change_on_one_node_closes_connections_on_the_other() {
    use serde_json::json;
    let mut cluster = Cluster::new().await;
    // Periodic rechecks are off the table: only the bus can carry the change in time.
    let a = cluster.node_with(&[("TANDEM_ACCESS_RECHECK", "1h")]);
    let b = cluster.node_with(&[("TANDEM_ACCESS_RECHECK", "1h")]);
    let (api_a, api_b) = (common::api::Api::at(a.addr), common::api::Api::at(b.addr));
    let owner = api_a.signup("owner@example.com").await;
    let member = api_b.signup("member@example.com").await;
    let (_, ws) = api_a.post("/api/v1/workspaces", &owner.token, json!({"name": "Team"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    let (_, inv) = api_a
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            &owner.token,
            json!({"email": member.email, "role": "editor"}),
        )
        .await;
    let accept = format!("/api/v1/invitations/{}/accept", inv["token"].as_str().unwrap());
    assert_eq!(api_b.call(reqwest::Method::POST, &accept, Some(&member.token), None).await.0, 200);
    let doc = api_a.create_doc(&owner.token, json!({"title": "shared", "content": "hi\n", "workspace_id": ws})).await;

    let mut c = Client::connect(&b.ws_url(&doc, &member.token)).await.unwrap();
    c.sync().await;
    assert_eq!(c.text(), "hi\n");
    let started = std::time::Instant::now();
    let (status, _) = api_a
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/workspaces/{ws}/members/{}", member.id),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(c.wait_close(Duration::from_secs(5)).await, Some(4403));
    println!("removal on node A closed the connection on node B after {:?}", started.elapsed());
}
