//! `tandem backup` (the real binary) against a server that keeps serving: the folder it
//! writes, served as a data dir, holds the accounts, documents and attachments as of the
//! backup and nothing written after, its token secret and private modes; it refuses a
//! folder in use, and Postgres (`pg_dump` is the tool there).

use crate::attachments::{PNG, download, uploaded};
use crate::common;

use std::process::Output;

use common::api::{Api, Db, server};
use common::{Client, TestServer};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_what_it_held() {
    backup_while_serving().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_is_refused_and_nothing_is_written() {
    let server = server(Db::Postgres).await;
    let to = tempfile::tempdir().unwrap();
    let url = common::pg::fresh_database().await;
    let out = backup(&server, Some(&url), to.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"), "{out:?}");
    assert_eq!(std::fs::read_dir(to.path()).unwrap().count(), 0, "nothing written");
}

/// Test servers sign with a secret of the tests'; this one generates its own, as a node
/// started with no configuration does, so the backup must carry it.
fn own_secret(cfg: &mut tandem::config::ServeConfig) {
    cfg.signing.jwt_secret = None;
}

/// Runs `tandem backup --to to` on `server`'s data dir and database.
fn backup(server: &TestServer, database_url: Option<&str>, to: &std::path::Path) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"));
    cmd.arg("backup").arg("--to").arg(to).env("TANDEM_DATA_DIR", server.dir.path()).env_remove("TANDEM_DATABASE_URL");
    if let Some(url) = database_url {
        cmd.env("TANDEM_DATABASE_URL", url);
    }
    cmd.output().unwrap()
}

async fn backup_while_serving() {
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), None, own_secret).await;
    let api = Api::new(&server);
    let restore = tempfile::tempdir().unwrap();
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Kept"})).await;
    let image = uploaded(&api, &doc, &ann, "a.png", PNG).await;
    let url = image["url"].as_str().unwrap().to_owned();
    let before = format!("# Kept\n\n![a]({url})\n");
    assert_eq!(api.put_content(&ann.token, &doc, &before).await, 200);
    // An editor stays connected and writing while the backup runs.
    let mut editor = Client::connect(&server.ws_url(&doc, &ann.token)).await.unwrap();
    editor.sync().await;
    editor.append_acked("typed before the backup\n").await;

    let out = backup(&server, None, restore.path());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(said.contains("attachments: 1 copied") && said.contains("token secret: copied"), "{said}");
    editor.append_acked("typed after the backup\n").await;
    let later = api.create_doc(&ann.token, json!({"title": "Later"})).await;

    // Into a folder that holds anything, it refuses.
    let again = backup(&server, None, restore.path());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not an empty folder"), "{again:?}");

    #[cfg(unix)]
    for (file, mode) in [("", 0o700), ("tandem.db", 0o600), ("jwt_secret", 0o600)] {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(restore.path().join(file)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{file}");
    }
    let restored = TestServer::start_in(restore, None, own_secret).await;
    let api = Api::new(&restored);
    let body = json!({"email": "ann@example.com", "password": "correct horse battery"});
    let (status, session) = api.call(Method::POST, "/api/v1/auth/login", None, Some(body)).await;
    assert_eq!(status, 200, "{session}");
    let token = session["access_token"].as_str().unwrap();
    // The secret came along: a token the live node signed before the backup still works.
    let (status, _) = api.get(&format!("/api/v1/documents/{doc}"), &ann.token).await;
    assert_eq!(status, 200);
    let text = api.content(token, &doc).await;
    assert!(text.starts_with(&before) && text.contains("typed before the backup"), "{text}");
    assert!(!text.contains("typed after"), "{text}");
    assert_eq!(download(&api, &url, Some(token)).await.bytes().await.unwrap(), PNG);
    let (status, _) = api.get(&format!("/api/v1/documents/{later}"), token).await;
    assert_eq!(status, 404, "a document made after the backup is not in it");
}
