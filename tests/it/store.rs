//! The store contract, run against SQLite and Postgres alike.

use crate::common;

use std::sync::Arc;

use bytes::Bytes;
use common::client::{insert_update, text_of};
use tandem::config::SqliteSync;
use tandem::ids::{DocId, UserId, WorkspaceId};
use tandem::store::catalog::{Link, NewDocument, NewUser, Role, now_ms};
use tandem::store::{self, Conflict, Store, StoreError};
use yrs::{Doc, GetString, Text, Transact};

struct Backend {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    Backend { store: store::open(&url, SqliteSync::Normal).await.unwrap(), _dir: Some(dir) }
}

async fn postgres() -> Backend {
    let url = common::pg::fresh_database().await;
    Backend { store: store::open(&url, SqliteSync::Normal).await.unwrap(), _dir: None }
}

/// Generates `<name>_sqlite` and `<name>_postgres` from one async test body.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::sqlite().await.store).await } )* }
        mod postgres_backend { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::postgres().await.store).await } )* }
    };
}

contract!(
    unknown_documents_load_empty,
    appended_updates_load_in_order_per_document,
    compaction_folds_the_log_into_an_equal_snapshot,
    compaction_keeps_updates_waiting_on_missing_dependencies,
    compaction_racing_appends_loses_nothing,
    corrupt_rows_fail_compaction_and_stay_in_the_log,
    taken_keys_and_missing_parents_are_typed_conflicts,
);

fn doc(s: &str) -> DocId {
    DocId::parse(s).unwrap()
}

fn text_of_parts(parts: &store::StoredDoc) -> String {
    let d = Doc::new();
    let text = d.get_or_insert_text("content");
    let mut txn = d.transact_mut();
    for p in parts.parts() {
        use yrs::updates::decoder::Decode;
        txn.apply_update(yrs::Update::decode_v1(p).unwrap()).unwrap();
    }
    text.get_string(&txn)
}

async fn unknown_documents_load_empty(store: Arc<dyn Store>) {
    let loaded = store.load_doc(&doc("nobody")).await.unwrap();
    assert!(loaded.snapshot.is_none() && loaded.updates.is_empty());
    assert_eq!(store.log_len(&doc("nobody")).await.unwrap(), 0);
    store.ping().await.unwrap();
}

async fn appended_updates_load_in_order_per_document(store: Arc<dyn Store>) {
    let (a, b) = (doc("a"), doc("b"));
    let batch: Vec<(DocId, Bytes)> = (0..10u64)
        .map(|i| {
            let d = if i % 2 == 0 { a.clone() } else { b.clone() };
            (d, Bytes::from(insert_update(100 + i, &i.to_string())))
        })
        .collect();
    store.append_updates(&batch).await.unwrap();
    let loaded = store.load_doc(&a).await.unwrap();
    let texts: Vec<String> = loaded.updates.iter().map(|u| text_of(u)).collect();
    assert_eq!(texts, ["0", "2", "4", "6", "8"]);
    assert_eq!(store.log_len(&b).await.unwrap(), 5);
}

/// A chain of edits by one client in `content`: each update depends on the one before.
fn chain(n: usize) -> Vec<Vec<u8>> {
    let d = Doc::with_client_id(4242);
    let text = d.get_or_insert_text("content");
    (0..n)
        .map(|i| {
            let mut txn = d.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, len, &format!("[{i}]"));
            if i % 3 == 2 {
                text.remove_range(&mut txn, 0, 1);
            }
            txn.encode_update_v1()
        })
        .collect()
}

async fn compaction_folds_the_log_into_an_equal_snapshot(store: Arc<dyn Store>) {
    let id = doc("compact");
    let updates = chain(30);
    for u in &updates[..20] {
        store.append_updates(&[(id.clone(), Bytes::from(u.clone()))]).await.unwrap();
    }
    let before = text_of_parts(&store.load_doc(&id).await.unwrap());
    let c = store.compact(&id).await.unwrap();
    assert_eq!(c.rows, 20);
    assert_eq!(store.log_len(&id).await.unwrap(), 0);
    let after = store.load_doc(&id).await.unwrap();
    assert!(after.snapshot.is_some() && after.updates.is_empty());
    assert_eq!(text_of_parts(&after), before);
    // More rows after a snapshot, then a second compaction.
    for u in &updates[20..] {
        store.append_updates(&[(id.clone(), Bytes::from(u.clone()))]).await.unwrap();
    }
    assert_eq!(store.compact(&id).await.unwrap().rows, 10);
    let all = store.load_doc(&id).await.unwrap();
    let d = Doc::new();
    let text = d.get_or_insert_text("content");
    for u in &updates {
        use yrs::updates::decoder::Decode;
        d.transact_mut().apply_update(yrs::Update::decode_v1(u).unwrap()).unwrap();
    }
    assert_eq!(text_of_parts(&all), text.get_string(&d.transact()));
    // Compacting an empty log is a no-op.
    assert_eq!(store.compact(&id).await.unwrap().rows, 0);
}

async fn compaction_keeps_updates_waiting_on_missing_dependencies(store: Arc<dyn Store>) {
    let id = doc("pending");
    let updates = chain(2);
    store.append_updates(&[(id.clone(), Bytes::from(updates[1].clone()))]).await.unwrap();
    store.compact(&id).await.unwrap();
    store.append_updates(&[(id.clone(), Bytes::from(updates[0].clone()))]).await.unwrap();
    store.compact(&id).await.unwrap();
    assert_eq!(text_of_parts(&store.load_doc(&id).await.unwrap()), "[0][1]");
}

async fn compaction_racing_appends_loses_nothing(store: Arc<dyn Store>) {
    let id = doc("race");
    const N: u64 = 200;
    let appender = {
        let (store, id) = (store.clone(), id.clone());
        tokio::spawn(async move {
            for i in 0..N {
                let u = insert_update(1_000 + i, "x");
                store.append_updates(&[(id.clone(), Bytes::from(u))]).await.unwrap();
            }
        })
    };
    let compactor = {
        let (store, id) = (store.clone(), id.clone());
        tokio::spawn(async move {
            for _ in 0..40 {
                store.compact(&id).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    appender.await.unwrap();
    compactor.await.unwrap();
    assert_eq!(text_of_parts(&store.load_doc(&id).await.unwrap()).len(), N as usize);
}

async fn corrupt_rows_fail_compaction_and_stay_in_the_log(store: Arc<dyn Store>) {
    let id = doc("corrupt");
    store.append_updates(&[(id.clone(), Bytes::from(insert_update(1, "ok")))]).await.unwrap();
    store.append_updates(&[(id.clone(), Bytes::from_static(b"\xff\xff\xff"))]).await.unwrap();
    assert!(matches!(store.compact(&id).await, Err(StoreError::Corrupt(_))));
    assert_eq!(store.log_len(&id).await.unwrap(), 2);
}

fn conflict<T>(r: Result<T, StoreError>) -> Option<Conflict> {
    r.err().and_then(|e| e.conflict())
}

async fn taken_keys_and_missing_parents_are_typed_conflicts(store: Arc<dyn Store>) {
    let user = |email: Option<&str>, external: Option<(&str, &str)>| NewUser {
        email: email.map(Into::into),
        name: "n".into(),
        password_hash: None,
        external: external.map(|(i, s)| (i.into(), s.into())),
    };
    let ada = store.create_user(user(Some("ada@example.com"), None)).await.unwrap();
    let taken = store.create_user(user(Some("ada@example.com"), None)).await;
    assert_eq!(conflict(taken), Some(Conflict::EmailTaken));
    store.create_user(user(None, Some(("https://idp", "42")))).await.unwrap();
    let taken = store.create_user(user(None, Some(("https://idp", "42")))).await;
    assert_eq!(conflict(taken), Some(Conflict::IdentityTaken));

    let ws = store.create_workspace("w", &ada.id, false).await.unwrap();
    let new = |workspace_id: WorkspaceId| NewDocument {
        id: doc("typed"),
        workspace_id,
        title: "t".into(),
        owner_id: ada.id.clone(),
        tags: vec![],
    };
    store.create_document(&new(ws.id.clone())).await.unwrap();
    assert_eq!(conflict(store.create_document(&new(ws.id.clone())).await), Some(Conflict::DocumentIdTaken));
    let orphan = NewDocument { id: doc("orphan"), ..new(WorkspaceId::new("gone")) };
    assert_eq!(conflict(store.create_document(&orphan).await), Some(Conflict::DocumentParentGone));

    let nobody = UserId::new("nobody");
    let share = store.set_share(&doc("typed"), &nobody, Role::Viewer, now_ms()).await;
    assert_eq!(conflict(share), Some(Conflict::ShareTargetGone));
    let share = store.share_by_email(&doc("gone"), "x@example.com", Role::Viewer, now_ms()).await;
    assert_eq!(conflict(share), Some(Conflict::ShareTargetGone));
    let link = Link { id: "l".into(), token: "t".into(), document_id: doc("gone"), role: Role::Viewer, created_at: 0 };
    assert_eq!(conflict(store.create_link(&link).await), Some(Conflict::LinkDocumentGone));
}
