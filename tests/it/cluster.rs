//! Rooms spanning two real server processes that share one Postgres and one Redis, and
//! what happens when a node or Redis dies.

use crate::common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::client::Event;
use common::converge::{CAP, Stored, markers, wait_markers};
use common::process::{RedisProcess, ServerProcess};
use common::{Client, SECRET};
use tandem::identity::tokens::Keys;
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

/// Most edits one writer makes.
const MAX_EDITS: usize = 20_000;

/// A writer that appends `tag.i;` until told to stop, draining what arrives; on a closed
/// connection it moves to `fallback` (as a provider would reconnect elsewhere) and pushes
/// what it holds there. Once stopped it waits until the server acknowledged every edit it
/// made, so everything in the document it hands back is committed: an edit still in
/// flight when a socket is dropped is not covered by the durability contract.
fn writer(mut c: Client, tag: &'static str, stop: Arc<AtomicBool>, fallback: Option<String>) -> JoinHandle<Client> {
    tokio::spawn(async move {
        let mut i = 0;
        loop {
            let stopping = stop.load(Ordering::Relaxed) || i == MAX_EDITS;
            let mut closed = false;
            if !stopping {
                closed = c.try_append(&format!("{tag}.{i};")).await.is_err();
                i += 1;
            }
            let settling = tokio::time::Instant::now();
            while !closed {
                if stopping && c.acked >= c.own_clock() {
                    return c;
                }
                let wait = if stopping { Duration::from_secs(1) } else { Duration::from_millis(2) };
                match c.next_event(wait).await {
                    Some(Event::Closed(_)) => closed = true,
                    Some(_) => {}
                    None if stopping => assert!(
                        settling.elapsed() < CAP,
                        "{tag}: edits up to clock {} not acknowledged within {CAP:?} (acknowledged up to {})",
                        c.own_clock(),
                        c.acked
                    ),
                    None => break,
                }
            }
            if !closed {
                continue;
            }
            let Some(url) = fallback.clone() else {
                panic!("{tag}: connection closed and no node to fall back to");
            };
            let doc = std::mem::take(&mut c.doc);
            c = Client::connect(&url).await.unwrap();
            c.doc = doc; // keeps what it wrote and pushes it to the new node
            c.flush().await;
        }
    })
}

/// Reads until stopped or closed, counting the markers it holds; returns the client.
fn observer(mut c: Client, stop: Arc<AtomicBool>) -> (JoinHandle<Client>, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    let task = tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let event = c.next_event(Duration::from_millis(50)).await;
            count.store(markers(&c.text()).len(), Ordering::Relaxed);
            if let Some(Event::Closed(_)) = event {
                break;
            }
        }
        c
    });
    (task, seen)
}

/// Waits until each counter has reached its target, or fails after [`CAP`].
async fn wait_counts(what: &str, targets: &[(&AtomicUsize, usize)]) {
    let reached = common::eventually_async(
        CAP,
        || async { targets.iter().all(|(n, at_least)| n.load(Ordering::Relaxed) >= *at_least) },
        |done| done,
    )
    .await;
    let now: Vec<usize> = targets.iter().map(|(n, _)| n.load(Ordering::Relaxed)).collect();
    let want: Vec<usize> = targets.iter().map(|(_, t)| *t).collect();
    assert!(reached, "{what}: counts {now:?} did not reach {want:?} within {CAP:?}");
}

/// Edits each observer must see before the test moves on to its next step.
const STEP: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_loses_nothing_any_client_received() {
    let mut cluster = Cluster::new().await;
    let (a, b) = (cluster.node(), cluster.node());
    let url_b = b.ws_url("busy", &cluster.token);
    let stop = Arc::new(AtomicBool::new(false));
    let (watch_a, seen_a) = observer(cluster.client(&a, "busy").await, stop.clone());
    let (watch_b, seen_b) = observer(cluster.client(&b, "busy").await, stop.clone());
    let writers = vec![
        writer(cluster.client(&a, "busy").await, "a1", stop.clone(), Some(url_b.clone())),
        writer(cluster.client(&a, "busy").await, "a2", stop.clone(), Some(url_b.clone())),
        writer(cluster.client(&b, "busy").await, "b1", stop.clone(), None),
    ];
    wait_counts("edits seen on both nodes before the kill", &[(&seen_a, STEP), (&seen_b, STEP)]).await;
    a.kill9();
    let seen_on_a = markers(&watch_a.await.unwrap().text());
    // The writers of A move to B and go on there.
    let after_kill = seen_b.load(Ordering::Relaxed);
    wait_counts("edits seen on B after the kill", &[(&seen_b, after_kill + STEP)]).await;
    stop.store(true, Ordering::Relaxed);
    let mut written = BTreeSet::new();
    for w in writers {
        written.extend(markers(&w.await.unwrap().text()));
    }
    let seen_on_b = markers(&watch_b.await.unwrap().text());

    // Everything any client saw, and everything the writers (now all on B) hold.
    let received: BTreeSet<_> = seen_on_a.union(&seen_on_b).cloned().collect();
    let want: BTreeSet<_> = received.union(&written).cloned().collect();
    let db = cluster.db.clone();
    let stored = Stored { database_url: &db, doc: "busy" };
    let mut fresh = cluster.client(&b, "busy").await;
    wait_markers(&mut fresh, "a new client on B", &want, |m| m.is_superset(&want), &stored).await;
    eprintln!(
        "kill -9 node A: written and acknowledged {}, received by observers {} (A {} / B {}), on B afterwards {}, lost 0",
        written.len(),
        received.len(),
        seen_on_a.len(),
        seen_on_b.len(),
        markers(&fresh.text()).len(),
    );

    // And it is durable: a node started afresh reads it all from Postgres.
    b.kill9();
    let c = cluster.node();
    let mut reread = cluster.client(&c, "busy").await;
    wait_markers(&mut reread, "a new client on a new node", &want, |m| m.is_superset(&want), &stored).await;
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
    let stop_watching = Arc::new(AtomicBool::new(false));
    let (watch_a, seen_a) = observer(cluster.client(&a, "flaky").await, stop_watching.clone());
    let (watch_b, seen_b) = observer(cluster.client(&b, "flaky").await, stop_watching.clone());
    let step = |n: &AtomicUsize| n.load(Ordering::Relaxed) + STEP;
    wait_counts("edits seen before Redis stops", &[(&seen_a, STEP), (&seen_b, STEP)]).await;
    cluster.redis.kill();
    // Each node goes on with its own writer's edits alone.
    wait_counts("edits seen while Redis is down", &[(&seen_a, step(&seen_a)), (&seen_b, step(&seen_b))]).await;
    cluster.redis.restart();
    let restarted = std::time::Instant::now();
    wait_counts("edits seen after Redis is back", &[(&seen_a, step(&seen_a)), (&seen_b, step(&seen_b))]).await;
    stop.store(true, Ordering::Relaxed);
    let mut written = BTreeSet::new();
    for w in writers {
        written.extend(markers(&w.await.unwrap().text()));
    }
    let stopped = std::time::Instant::now();
    stop_watching.store(true, Ordering::Relaxed);
    let (mut on_a, mut on_b) = (watch_a.await.unwrap(), watch_b.await.unwrap());
    // No client reconnects or resends: the nodes must catch up between themselves.
    let stored = Stored { database_url: &cluster.db, doc: "flaky" };
    wait_markers(&mut on_a, "the client on node A", &written, |m| *m == written, &stored).await;
    wait_markers(&mut on_b, "the client on node B", &written, |m| *m == written, &stored).await;
    eprintln!(
        "redis restart: {} edits written, both nodes converged {:?} after redis came back, {:?} after the last edit",
        written.len(),
        restarted.elapsed(),
        stopped.elapsed()
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

/// Comments on two nodes: a thread started on one reaches the other's event stream (SSE)
/// and its Hocuspocus providers (stateless), and its anchor, moved by edits made on the
/// other node, resolves the same from either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_events_and_anchors_span_nodes() {
    use futures_util::{SinkExt, StreamExt};
    use serde_json::json;
    use tandem_protocol::hocuspocus as hp;

    let mut cluster = Cluster::new().await;
    let (a, b) = (cluster.node(), cluster.node());
    let (api_a, api_b) = (common::api::Api::at(a.addr), common::api::Api::at(b.addr));
    let ann = api_a.signup("ann@example.com").await;
    let doc = api_a.create_doc(&ann.token, json!({"title": "Notes", "content": "alpha beta gamma"})).await;

    let mut stream = common::sse::Sse::open(&api_b.base, &doc, &ann.token, None).await;
    let (mut provider, _) = tokio_tungstenite::connect_async(format!("ws://{}/hocuspocus", b.addr)).await.unwrap();
    provider.send(hp::encode_auth_token_v4(&doc, &ann.token, "4.8.0").into()).await.unwrap();

    let comments = format!("/api/v1/documents/{doc}/comments");
    let (status, thread) =
        api_a.post(&comments, &ann.token, json!({"body": "b?", "anchor": {"index": 6, "length": 4}})).await;
    assert_eq!(status, 201, "{thread}");
    let id = thread["id"].as_str().unwrap().to_owned();
    let event = stream.wait_for(T, "comment.created").await;
    assert_eq!(event.data["thread_id"].as_str(), Some(id.as_str()));
    let stateless = tokio::time::timeout(T, async {
        while let Some(Ok(msg)) = provider.next().await {
            if let Ok(hp::Frame::Doc { kind: hp::MSG_STATELESS, message, .. }) = hp::split(&msg.into_data()) {
                let mut cur = yrs::encoding::read::Cursor::new(&message[1..]);
                return yrs::encoding::read::Read::read_string(&mut cur).unwrap().to_owned();
            }
        }
        panic!("provider closed");
    })
    .await
    .expect("a stateless message on the other node");
    assert!(stateless.contains(&id), "{stateless}");

    // Edited on node B, listed from both nodes.
    let mut editor = Client::connect(&b.ws_url(&doc, &ann.token)).await.unwrap();
    editor.sync().await;
    editor.edit(|text, txn| yrs::Text::insert(text, txn, 6, "very ")).await;
    editor.wait_acked(T).await;
    for api in [&api_b, &api_a] {
        // Node A hears node B's edit over the bus a moment after B made it durable.
        let range = || async {
            let (_, listed) = api.get(&comments, &ann.token).await;
            let anchor = &listed["items"][0]["anchor"];
            (anchor["index"].as_u64(), anchor["length"].as_u64())
        };
        let moved = common::eventually_async(T, range, |r| r == (Some(11), Some(4))).await;
        assert!(moved, "{} ({:?})", api.base, range().await);
    }
}
