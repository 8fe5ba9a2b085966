//! The store contract, run against SQLite and Postgres alike.

use crate::common;

use std::sync::Arc;

use bytes::Bytes;
use common::client::{insert_update, text_of};
use tandem::config::{Retention, SqliteSync};
use tandem::ids::{ApiTokenId, AttachmentId, DocId, UserId, WorkspaceId};
use tandem::store::api_tokens::{ApiToken, TokenScope};
use tandem::store::attachments::{Attachment, Quotas};
use tandem::store::catalog::{Link, NewDocument, NewUser, Role, now_ms};
use tandem::store::versions::{NewVersion, VersionKind};
use tandem::store::{self, Conflict, Store, StoreError};
use yrs::{Doc, GetString, Text, Transact};

pub(crate) struct Backend {
    pub(crate) store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

pub(crate) async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    Backend { store: store::open(&url, SqliteSync::Normal).await.unwrap(), _dir: Some(dir) }
}

pub(crate) async fn postgres() -> Backend {
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
    versions_take_the_contributors_the_log_recorded_and_skip_identical_auto_ones,
    retention_thins_old_automatic_versions_and_keeps_the_rest,
    api_tokens_stay_within_their_bound_even_made_at_once_and_record_uses_sparingly,
    a_deleted_workspace_leaves_no_contributors_and_answers_its_blobs,
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

/// A user and a document of theirs, for the version contracts.
async fn owned_doc(store: &dyn Store, id: &str) -> (UserId, DocId) {
    let user =
        NewUser { email: Some(format!("{id}@example.com")), name: id.into(), password_hash: None, external: None };
    let user = store.create_user(user).await.unwrap();
    let ws = store.create_workspace("w", &user.id, false).await.unwrap();
    let new =
        NewDocument { id: doc(id), workspace_id: ws.id, title: "t".into(), owner_id: user.id.clone(), tags: vec![] };
    store.create_document(&new).await.unwrap();
    (user.id, doc(id))
}

fn version(doc: &DocId, kind: VersionKind, text: &str) -> NewVersion {
    NewVersion::new(doc, kind, None, None, b"state", text)
}

async fn versions_take_the_contributors_the_log_recorded_and_skip_identical_auto_ones(store: Arc<dyn Store>) {
    let (ann, d) = owned_doc(store.as_ref(), "history").await;
    let bob = UserId::new("bob-id");
    let edit = Bytes::from(insert_update(1, "x"));
    store.append_updates_by(&[(d.clone(), edit.clone())], &[(d.clone(), ann.clone())]).await.unwrap();
    store
        .append_updates_by(&[(d.clone(), edit.clone())], &[(d.clone(), bob.clone()), (d.clone(), ann.clone())])
        .await
        .unwrap();
    // Compaction folds the log; the contributors stay.
    store.compact(&d).await.unwrap();
    let first = store.create_version(&version(&d, VersionKind::Auto, "one"), 1_000).await.unwrap().unwrap();
    let mut both = vec![ann.clone(), bob.clone()];
    both.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(first.version.contributors, both, "each once, by id");
    assert_eq!(first.event.version_id.as_ref(), Some(&first.version.id));
    // Taken: the next version names only who wrote since.
    store.append_updates_by(&[(d.clone(), edit)], &[(d.clone(), bob.clone())]).await.unwrap();
    assert!(store.create_version(&version(&d, VersionKind::Auto, "one"), 2_000).await.unwrap().is_none(), "identical");
    let second = store.create_version(&version(&d, VersionKind::Named, "one"), 3_000).await.unwrap().unwrap();
    assert_eq!(second.version.contributors, [bob]);
    let listed = store.versions(&d, 10, None).await.unwrap();
    assert_eq!(listed.iter().map(|v| v.created_at).collect::<Vec<_>>(), [3_000, 1_000]);
    let page = store.versions(&d, 10, Some((3_000, second.version.id.clone()))).await.unwrap();
    assert_eq!(page.len(), 1);
    let stored = store.version(&d, &first.version.id).await.unwrap().unwrap();
    assert_eq!((stored.text().unwrap(), stored.state().unwrap()), ("one".to_owned(), b"state".to_vec()));
    assert!(store.version(&doc("other"), &first.version.id).await.unwrap().is_none());
    // A permanently deleted document takes its versions with it.
    assert!(store.purge_document(&d).await.unwrap().is_some());
    assert!(store.versions(&d, 10, None).await.unwrap().is_empty());
}

async fn retention_thins_old_automatic_versions_and_keeps_the_rest(store: Arc<dyn Store>) {
    let (_, d) = owned_doc(store.as_ref(), "thinned").await;
    let (day, hour) = (86_400_000i64, 3_600_000i64);
    let now = 100 * day;
    // Four automatic versions a day for 20 days, a named one among the oldest.
    for n in 0..80i64 {
        let at = 80 * day + (n / 4) * day + (n % 4) * hour + hour;
        store.create_version(&version(&d, VersionKind::Auto, &format!("v{n}")), at).await.unwrap().unwrap();
    }
    store.create_version(&version(&d, VersionKind::Named, "named"), 80 * day + 5 * hour).await.unwrap().unwrap();
    let retention = Retention::parse("7d:1d").unwrap();
    let deleted = store.thin_versions(&retention, now, 10_000).await.unwrap();
    let left = store.versions(&d, 200, None).await.unwrap();
    let old = |v: &&tandem::store::versions::VersionMeta| now - v.created_at >= 7 * day;
    let old_auto = left.iter().filter(old).filter(|v| v.kind == VersionKind::Auto).count();
    assert_eq!(deleted, 13 * 3, "13 days past 7 days old, 3 of 4 each");
    assert_eq!(old_auto, 13, "one a day");
    assert_eq!(left.iter().filter(|v| now - v.created_at < 7 * day).count(), 28, "the last 7 days untouched");
    assert!(left.iter().any(|v| v.kind == VersionKind::Named), "named versions stay");
    assert_eq!(store.thin_versions(&retention, now, 10_000).await.unwrap(), 0, "nothing more");
}

async fn api_tokens_stay_within_their_bound_even_made_at_once_and_record_uses_sparingly(s: Arc<dyn Store>) {
    let new =
        |email: &str| NewUser { email: Some(email.into()), name: "x".into(), password_hash: None, external: None };
    let (ann, bob) =
        (s.create_user(new("ann@example.com")).await.unwrap(), s.create_user(new("bob@example.com")).await.unwrap());
    let now = now_ms();
    let token = |i: usize, expires_at: Option<i64>| ApiToken {
        id: ApiTokenId::random(),
        user_id: ann.id.clone(),
        name: format!("t{i}"),
        prefix: format!("tandem_{i}"),
        scope: TokenScope::Read,
        created_at: now,
        last_used_at: None,
        expires_at,
    };
    // An expired token, cleared away by the next creation, then 20 made at once: 5 fit.
    assert!(s.create_api_token(&token(0, Some(now - 1)), "h0", 5).await.unwrap());
    let made = futures_util::future::join_all((1..=20).map(|i| {
        let (s, t) = (s.clone(), token(i, None));
        async move { s.create_api_token(&t, &format!("h{i}"), 5).await.unwrap() }
    }))
    .await;
    assert_eq!(made.iter().filter(|m| **m).count(), 5);
    let held = s.api_tokens_of(&ann.id).await.unwrap();
    assert_eq!(held.len(), 5);
    assert!(s.api_token_by_hash("h0").await.unwrap().is_none());

    let first = &held[0];
    assert!(s.touch_api_token(&first.id, now, now - 60_000).await.unwrap());
    assert!(!s.touch_api_token(&first.id, now + 1_000, now + 1_000 - 60_000).await.unwrap());
    assert!(s.touch_api_token(&first.id, now + 61_000, now + 1_000).await.unwrap());
    let stored = s.api_tokens_of(&ann.id).await.unwrap().into_iter().find(|t| t.id == first.id).unwrap();
    assert_eq!(stored.last_used_at, Some(now + 61_000));

    assert!(!s.delete_api_token(&bob.id, &first.id).await.unwrap());
    assert!(s.delete_api_token(&ann.id, &first.id).await.unwrap());
    assert_eq!(s.api_tokens_of(&ann.id).await.unwrap().len(), 4);
}

async fn a_deleted_workspace_leaves_no_contributors_and_answers_its_blobs(store: Arc<dyn Store>) {
    let user = NewUser { email: Some("w@example.com".into()), name: "w".into(), password_hash: None, external: None };
    let user = store.create_user(user).await.unwrap();
    let ws = store.create_workspace("doomed", &user.id, false).await.unwrap();
    let d = doc("in-doomed");
    let new = NewDocument {
        id: d.clone(),
        workspace_id: ws.id.clone(),
        title: "t".into(),
        owner_id: user.id.clone(),
        tags: vec![],
    };
    store.create_document(&new).await.unwrap();
    let edit = Bytes::from(insert_update(1, "x"));
    store.append_updates_by(&[(d.clone(), edit)], &[(d.clone(), UserId::new("bob-id"))]).await.unwrap();
    let quotas = Quotas { workspace: i64::MAX, user: i64::MAX };
    let (a, b) = ("a".repeat(64), "b".repeat(64));
    for sha256 in [&a, &b, &a] {
        let row = Attachment {
            id: AttachmentId::random(),
            document_id: d.clone(),
            workspace_id: ws.id.clone(),
            name: "f".into(),
            content_type: "application/octet-stream".into(),
            size: 1,
            sha256: sha256.clone(),
            created_by: Some(user.id.clone()),
            created_at: now_ms(),
        };
        store.create_attachments(std::slice::from_ref(&row), quotas).await.unwrap().unwrap();
    }
    assert_eq!(store.delete_workspace(&ws.id).await.unwrap(), Some(vec![a.clone(), b]), "each blob once");
    assert_eq!(store.delete_workspace(&ws.id).await.unwrap(), None);
    assert!(!store.blob_in_use(&a).await.unwrap());
    // The same document id again, elsewhere: nothing of the deleted one's contributors.
    let other = store.create_workspace("other", &user.id, false).await.unwrap();
    store.create_document(&NewDocument { workspace_id: other.id, ..new }).await.unwrap();
    let made = store.create_version(&version(&d, VersionKind::Named, "fresh"), 1_000).await.unwrap().unwrap();
    assert_eq!(made.version.contributors, Vec::<UserId>::new());
}

/// An append that fails part-way (here its second statement, the contributors' insert,
/// refused by a trigger) stores nothing of its batch, and the next append lands: the
/// writer's kept connection is not left inside the failed transaction.
/// (The trigger is installed before this runs.)
async fn a_failed_append_stores_nothing_and_the_next_one_lands(store: Arc<dyn Store>) {
    let d = doc("refusing");
    let (ok, refused) = (UserId::new("ann"), UserId::new("refused"));
    store.append_updates_by(&[(d.clone(), Bytes::from(insert_update(1, "a")))], &[]).await.unwrap();
    let failed =
        store.append_updates_by(&[(d.clone(), Bytes::from(insert_update(2, "b")))], &[(d.clone(), refused)]).await;
    assert!(failed.is_err(), "the trigger refuses the contributor");
    assert_eq!(store.log_len(&d).await.unwrap(), 1, "nothing of the failed batch stays");
    for i in 3..6u64 {
        let update = Bytes::from(insert_update(i, "c"));
        store.append_updates_by(&[(d.clone(), update)], &[(d.clone(), ok.clone())]).await.unwrap();
    }
    assert_eq!(store.log_len(&d).await.unwrap(), 4);
    store.compact(&d).await.unwrap();
    assert_eq!(store.log_len(&d).await.unwrap(), 0, "the write lock is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_append_stores_nothing_and_the_next_one_lands_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = store::open(&url, SqliteSync::Normal).await.unwrap();
    let mut raw = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TRIGGER refuse_author BEFORE INSERT ON doc_contributors WHEN NEW.user_id = 'refused'
         BEGIN SELECT RAISE(ABORT, 'refused'); END",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    a_failed_append_stores_nothing_and_the_next_one_lands(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_append_stores_nothing_and_the_next_one_lands_postgres() {
    let url = common::pg::fresh_database().await;
    let store = store::open(&url, SqliteSync::Normal).await.unwrap();
    let mut raw = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_author() RETURNS trigger LANGUAGE plpgsql AS
         $$ BEGIN IF NEW.user_id = 'refused' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse_author BEFORE INSERT ON doc_contributors
         FOR EACH ROW EXECUTE FUNCTION refuse_author()",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    a_failed_append_stores_nothing_and_the_next_one_lands(store).await;
}
