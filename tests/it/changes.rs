//! The changes feed: documents created, changed through REST and live over a WebSocket,
//! trashed, deleted for good, and lost (a share revoked, removed from a workspace) reach
//! a sync client's feed; pages follow each other without misses or duplicates while
//! documents change concurrently; cursors from elsewhere are refused, and ones past the
//! retention answered 410.

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use common::Client;
use common::api::{Api, Db, server, server_with};
use reqwest::Method;
use serde_json::{Value, json};
use tandem::config::SqliteSync;
use tandem::ids::DocId;
use tandem::store;
use tandem::store::catalog::{NewDocument, NewUser, now_ms};
use tandem::store::changes::{ChangeCursor, ChangeKind, ChangesPage, ChangesRead};

use crate::profiles::join;

on_both_databases!(
    the_feed_reports_every_kind_of_change,
    pages_neither_miss_nor_repeat_while_documents_change,
    foreign_and_expired_cursors_are_refused,
    a_change_committing_late_is_not_skipped,
);

/// One page: its changes, `next` and `more`.
async fn page(api: &Api, token: &str, since: Option<&str>, limit: u32) -> (Vec<Value>, String, bool) {
    let path = match since {
        Some(c) => format!("/api/v1/changes?since={c}&limit={limit}"),
        None => format!("/api/v1/changes?limit={limit}"),
    };
    let (status, body) = api.get(&path, token).await;
    assert_eq!(status, 200, "{body}");
    let changes = body["changes"].as_array().unwrap().clone();
    let ids: HashSet<&str> = changes.iter().map(|c| c["document_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), changes.len(), "a document twice in one page: {body}");
    (changes, body["next"].as_str().unwrap().to_owned(), body["more"].as_bool().unwrap())
}

/// Every change after `since` (at most 50 pages), and the cursor after them.
async fn drain(api: &Api, token: &str, since: Option<&str>) -> (Vec<Value>, String) {
    let mut all = Vec::new();
    let mut cursor = since.map(str::to_owned);
    for _ in 0..50 {
        let (changes, next, more) = page(api, token, cursor.as_deref(), 100).await;
        all.extend(changes);
        cursor = Some(next);
        if !more {
            return (all, cursor.unwrap());
        }
    }
    panic!("the feed did not end within 50 pages");
}

/// The last change reported for `doc`.
fn last<'a>(changes: &'a [Value], doc: &str) -> Option<&'a Value> {
    changes.iter().rev().find(|c| c["document_id"] == doc)
}

async fn the_feed_reports_every_kind_of_change(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let (_, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Team"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    join(&api, &ws, &ann, &bob, "editor").await;
    let (_, cursor) = drain(&api, &bob.token, None).await;

    // Created.
    let doc = api.create_doc(&ann.token, json!({"title": "Plan", "workspace_id": ws, "tags": ["q1"]})).await;
    let (changes, cursor) = drain(&api, &bob.token, Some(&cursor)).await;
    let c = last(&changes, &doc).expect("creation reported");
    assert_eq!(
        (c["kind"].as_str(), c["title"].as_str(), c["workspace_id"].as_str()),
        (Some("upserted"), Some("Plan"), Some(&*ws))
    );
    assert_eq!(c["tags"], json!(["q1"]));
    assert_eq!(c["deleted_at"], Value::Null);

    // Metadata through REST.
    let (status, _) = api
        .call(Method::PATCH, &format!("/api/v1/documents/{doc}"), Some(&ann.token), Some(json!({"title": "Plan B"})))
        .await;
    assert_eq!(status, 200);
    let (changes, cursor) = drain(&api, &bob.token, Some(&cursor)).await;
    assert_eq!(last(&changes, &doc).expect("rename reported")["title"].as_str(), Some("Plan B"));
    let (changes, cursor) = drain(&api, &bob.token, Some(&cursor)).await;
    assert!(changes.is_empty(), "nothing new, nothing reported: {changes:?}");

    // Content, live over a WebSocket: reported once the edit is durable (acknowledged).
    let mut client = Client::connect(&server.ws_url(&doc, &ann.token)).await.unwrap();
    client.sync().await;
    client.append_acked("typed live\n").await;
    let (changes, cursor) = drain(&api, &bob.token, Some(&cursor)).await;
    let c = last(&changes, &doc).expect("a live edit is reported");
    assert_eq!(c["kind"].as_str(), Some("upserted"));
    drop(client);

    // Trashed: still there, with deleted_at.
    let (status, _) = api.call(Method::DELETE, &format!("/api/v1/documents/{doc}"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let (changes, cursor) = drain(&api, &bob.token, Some(&cursor)).await;
    let c = last(&changes, &doc).expect("trash reported");
    assert_eq!(c["kind"].as_str(), Some("upserted"));
    assert!(c["deleted_at"].is_i64(), "{c}");

    // Deleted for good.
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/documents/{doc}?permanent=true"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let (changes, cursor) = drain(&api, &bob.token, Some(&cursor)).await;
    assert_eq!(last(&changes, &doc).expect("deletion reported")["kind"].as_str(), Some("deleted"));

    // Shared, then the share revoked.
    let mine = api.create_doc(&ann.token, json!({"title": "Ann's"})).await;
    let (changes, cursor) = drain(&api, &bob.token, Some(&cursor)).await;
    assert!(last(&changes, &mine).is_none(), "a document bob cannot read is not reported");
    let (status, _) = api
        .post(&format!("/api/v1/documents/{mine}/shares"), &ann.token, json!({"user_id": bob.id, "role": "viewer"}))
        .await;
    assert_eq!(status, 200);
    let (changes, cursor) = drain(&api, &bob.token, Some(&cursor)).await;
    assert_eq!(last(&changes, &mine).expect("a share is reported")["title"].as_str(), Some("Ann's"));
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/documents/{mine}/shares/{}", bob.id), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let (changes, cursor) = drain(&api, &bob.token, Some(&cursor)).await;
    let c = last(&changes, &mine).expect("a revoked share is reported");
    assert_eq!((c["kind"].as_str(), c["title"].clone()), (Some("removed"), Value::Null), "nothing of it is told: {c}");

    // Removed from the workspace: each of its documents is removed.
    let kept = api.create_doc(&ann.token, json!({"title": "Kept", "workspace_id": ws})).await;
    let (_, cursor) = drain(&api, &bob.token, Some(&cursor)).await;
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/workspaces/{ws}/members/{}", bob.id), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let (changes, cursor) = drain(&api, &bob.token, Some(&cursor)).await;
    assert_eq!(last(&changes, &kept).expect("lost access is reported")["kind"].as_str(), Some("removed"));
    // Ann's feed is untouched by bob's removal: the document is hers still.
    let (all, _) = drain(&api, &ann.token, None).await;
    assert_eq!(last(&all, &kept).unwrap()["kind"].as_str(), Some("upserted"));
    // Invited back: the workspace's documents come back.
    join(&api, &ws, &ann, &bob, "viewer").await;
    let (changes, _) = drain(&api, &bob.token, Some(&cursor)).await;
    assert_eq!(last(&changes, &kept).expect("regained access is reported")["kind"].as_str(), Some("upserted"));
}

async fn pages_neither_miss_nor_repeat_while_documents_change(db: Db) {
    let server = server_with(db, |c| c.api.max_requests_per_user_per_minute = 0).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    const DOCS: usize = 30;
    let writer = {
        let (api, token) = (Api::new(&server), ann.token.clone());
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..DOCS {
                ids.push(api.create_doc(&token, json!({"title": format!("doc {i}")})).await);
                if i % 3 == 2 {
                    // Rename an earlier one: it moves to the end of the feed.
                    let (status, _) = api
                        .call(
                            Method::PATCH,
                            &format!("/api/v1/documents/{}", ids[i / 2]),
                            Some(&token),
                            Some(json!({"title": format!("renamed {}", i / 2)})),
                        )
                        .await;
                    assert_eq!(status, 200);
                }
            }
            ids
        })
    };
    // A sync client polling small pages while the writer runs, then once more after.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut finished = false;
    for _ in 0..2000 {
        assert!(tokio::time::Instant::now() < deadline, "the feed did not settle within 60 s");
        let writer_done = writer.is_finished();
        let (changes, next, more) = page(&api, &ann.token, cursor.as_deref(), 4).await;
        for c in changes {
            assert_eq!(c["kind"].as_str(), Some("upserted"));
            seen.insert(c["document_id"].as_str().unwrap().to_owned(), c["title"].as_str().unwrap().to_owned());
        }
        cursor = Some(next);
        if writer_done && !more {
            finished = true;
            break;
        }
    }
    assert!(finished, "the feed never caught up");
    let ids = writer.await.unwrap();
    let (status, listed) = api.get("/api/v1/documents?limit=100", &ann.token).await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed.get("documents").unwrap_or(&listed).as_array().unwrap().clone();
    let now: BTreeMap<String, String> = listed
        .iter()
        .map(|d| (d["id"].as_str().unwrap().to_owned(), d["title"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(now.len(), ids.len());
    assert_eq!(seen, now, "the feed's copy matches the documents: nothing missed, every change the latest");
}

async fn foreign_and_expired_cursors_are_refused(db: Db) {
    let server = server_with(db, |c| c.api.changes_retention = Duration::from_secs(1)).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let (_, cursor) = drain(&api, &bob.token, None).await;

    for bad in ["garbage", "0000000000000000.5", "0000000000000000", &format!("{cursor}.x.y"), &"9".repeat(300)] {
        let (status, body) = api.get(&format!("/api/v1/changes?since={bad}"), &bob.token).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_cursor")), "{bad}: {body}");
    }
    let instance = cursor.split('.').next().unwrap();
    let (status, body) = api.get(&format!("/api/v1/changes?since={instance}.999999999999"), &bob.token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_cursor")),
        "a cursor from the future: {body}"
    );
    for limit in ["0", "501", "x"] {
        let (status, _) = api.get(&format!("/api/v1/changes?limit={limit}"), &bob.token).await;
        assert_eq!(status, 400, "limit={limit}");
    }

    // A share made and revoked: its records outlive the retention only briefly.
    let doc = api.create_doc(&ann.token, json!({"title": "Brief"})).await;
    let (status, _) = api
        .post(&format!("/api/v1/documents/{doc}/shares"), &ann.token, json!({"user_id": bob.id, "role": "viewer"}))
        .await;
    assert_eq!(status, 200);
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/documents/{doc}/shares/{}", bob.id), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let old = format!("/api/v1/changes?since={cursor}");
    let expired = common::eventually_async(
        Duration::from_secs(15),
        || api.get(&old, &bob.token),
        |(status, body)| status == 410 && body["error"]["code"] == "cursor_expired",
    )
    .await;
    assert!(expired, "a cursor older than the retention is answered 410");
    // Listing everything again works, and its cursor is good.
    let (_, fresh) = drain(&api, &bob.token, None).await;
    let (status, _) = api.get(&format!("/api/v1/changes?since={fresh}"), &bob.token).await;
    assert_eq!(status, 200);
}

/// The outbox property, against the store: a change that takes its number first but
/// commits last (a transaction held open) is still read after the cursor handed out
/// while it was in flight. On Postgres the later change commits first and is held back
/// until the earlier one ends; on SQLite the later one waits for the write lock.
async fn a_change_committing_late_is_not_skipped(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.path().join("t.db").display()),
        Db::Postgres => common::pg::fresh_database().await,
    };
    let store = store::open(&url, SqliteSync::Normal).await.unwrap();
    let new_user =
        NewUser { email: Some("ann@example.com".into()), name: "ann".into(), password_hash: None, external: None };
    let ann = store.create_user(new_user).await.unwrap();
    let ws = store.create_workspace("w", &ann.id, false).await.unwrap();
    let mut ids = Vec::new();
    for title in ["first", "second"] {
        let id = DocId::random();
        let doc = NewDocument {
            id: id.clone(),
            workspace_id: ws.id.clone(),
            title: title.into(),
            owner_id: ann.id.clone(),
            tags: vec![],
        };
        store.create_document(&doc).await.unwrap();
        ids.push(id);
    }
    let read = |since: ChangeCursor| {
        let (store, user) = (store.clone(), ann.id.clone());
        async move {
            match store.changes_since(&user, &since, 100).await.unwrap() {
                ChangesRead::Page(page) => page,
                other => panic!("{other:?}"),
            }
        }
    };
    let titles = |page: &ChangesPage| -> Vec<(DocId, String)> {
        page.changes
            .iter()
            .filter_map(|c| match &c.kind {
                ChangeKind::Upserted { document, .. } => Some((c.document_id.clone(), document.title.clone())),
                _ => None,
            })
            .collect()
    };
    let start = read(ChangeCursor::start()).await.next;

    // A transaction renames the first document and stays open.
    let late = match db {
        Db::Sqlite => Late::Sqlite(begin_rename_sqlite(&url, &ids[0]).await),
        Db::Postgres => Late::Postgres(begin_rename_postgres(&url, &ids[0]).await),
    };
    // Meanwhile the second is renamed through the store.
    let early = {
        let (store, id) = (store.clone(), ids[1].clone());
        tokio::spawn(async move { store.update_document(&id, Some("early"), None, None, now_ms()).await.unwrap() })
    };
    if matches!(db, Db::Postgres) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while !early.is_finished() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the second rename commits while the first is open");
    } else {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let during = read(start).await;
    assert!(!titles(&during).iter().any(|(_, t)| t == "late"), "an uncommitted change is not visible");
    late.commit().await;
    early.await.unwrap();

    let after = read(during.next.clone()).await;
    let mut seen = titles(&during);
    seen.extend(titles(&after));
    let last = |id: &DocId| seen.iter().rev().find(|(d, _)| d == id).map(|(_, t)| t.clone());
    assert_eq!(
        last(&ids[0]).as_deref(),
        Some("late"),
        "the change that committed last is read after the cursor: {seen:?}"
    );
    assert_eq!(last(&ids[1]).as_deref(), Some("early"), "{seen:?}");
}

enum Late {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Late {
    async fn commit(self) {
        match self {
            Late::Sqlite(tx) => tx.commit().await.unwrap(),
            Late::Postgres(tx) => tx.commit().await.unwrap(),
        }
    }
}

async fn begin_rename_sqlite(url: &str, id: &DocId) -> sqlx::Transaction<'static, sqlx::Sqlite> {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
    sqlx::query("UPDATE documents SET title = 'late', updated_at = updated_at + 1 WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

async fn begin_rename_postgres(url: &str, id: &DocId) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("UPDATE documents SET title = 'late', updated_at = updated_at + 1 WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}
