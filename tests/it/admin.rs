//! Instance administration against the real server, on SQLite and Postgres: the first
//! account is the instance admin (of two racing first signups, exactly one), `tandem
//! admin grant|revoke` (the real binary) changes who else is; admins list and search
//! users, see system info, and disable a user, which refuses their login, refresh, access
//! and personal tokens at once and closes their open connections (4401, on `/ws` and
//! `/hocuspocus`), on every node.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::TestServer;
use common::api::{Account, Api, Db, server};
use common::client::Client;
use common::sse::Sse;
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tandem_protocol::hocuspocus as hp;
use tokio_tungstenite::tungstenite::Message;

on_both_databases!(
    the_first_account_is_the_instance_admin_and_the_cli_grants_and_revokes,
    of_concurrent_first_signups_exactly_one_is_admin,
    admins_list_and_search_users_a_bounded_page_at_a_time,
    disabling_a_user_refuses_every_credential_and_closes_their_connections_at_once,
    system_info_tells_version_uptime_rooms_connections_and_sizes,
);

const T: Duration = Duration::from_secs(10);
const INFO: &str = "/api/v1/system/info";

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// Runs `tandem admin ARGS` (the real binary) on the test server's database.
fn cli(server: &TestServer, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
    cmd.arg("admin").args(args).env("TANDEM_DATA_DIR", server.dir.path()).env_remove("TANDEM_DATABASE_URL");
    if let Some(url) = &server.database_url {
        cmd.env("TANDEM_DATABASE_URL", url);
    }
    let out = cmd.output().expect("run tandem admin");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

async fn login(api: &Api, email: &str) -> (u16, Value) {
    let body = json!({"email": email, "password": "correct horse battery"});
    api.call(Method::POST, "/api/v1/auth/login", None, Some(body)).await
}

async fn the_first_account_is_the_instance_admin_and_the_cli_grants_and_revokes(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    assert_eq!(api.get(INFO, &ann.token).await.0, 200);
    let (status, body) = api.get(INFO, &bob.token).await;
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");

    let (ok, out) = cli(&server, &["grant", " Bob@Example.com "]);
    assert!(ok, "{out}");
    assert!(out.contains(&bob.id), "{out}");
    // Bob's access token, issued before, carries the role at once: it is looked up per request.
    assert_eq!(api.get(INFO, &bob.token).await.0, 200);
    let (ok, out) = cli(&server, &["grant", "nobody@example.com"]);
    assert!(!ok && out.contains("no account"), "{out}");

    let (ok, out) = cli(&server, &["revoke", "ann@example.com"]);
    assert!(ok, "{out}");
    assert_eq!(api.get(INFO, &ann.token).await.0, 403);
    let (ok, out) = cli(&server, &["revoke", "bob@example.com"]);
    assert!(!ok && out.contains("last enabled admin"), "{out}");
    assert_eq!(api.get(INFO, &bob.token).await.0, 200, "the refused revoke changed nothing");

    let (status, page) = api.get("/api/v1/admin/users", &bob.token).await;
    assert_eq!(status, 200, "{page}");
    let admin_of =
        |id: &str| page["users"].as_array().unwrap().iter().find(|u| u["id"] == id).unwrap()["is_admin"].clone();
    assert_eq!((admin_of(&ann.id), admin_of(&bob.id)), (json!(false), json!(true)));

    // Each change is in the audit log: the first account's at signup, the rest by the CLI.
    let (_, audit) = api.get("/api/v1/admin/audit?limit=100", &bob.token).await;
    let changes: Vec<(String, String, Value)> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("admin."))
        .map(|e| (e["action"].as_str().unwrap().into(), e["target_id"].as_str().unwrap().into(), e["detail"].clone()))
        .collect();
    assert_eq!(
        changes,
        vec![
            ("admin.revoked".into(), ann.id.clone(), json!({"via": "cli"})),
            ("admin.granted".into(), bob.id.clone(), json!({"via": "cli"})),
            ("admin.granted".into(), ann.id.clone(), json!({"reason": "first account"})),
        ]
    );
}

async fn of_concurrent_first_signups_exactly_one_is_admin(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let emails: Vec<String> = (0..6).map(|i| format!("racer{i}@example.com")).collect();
    let accounts: Vec<Account> = join_all(emails.iter().map(|e| api.signup(e))).await;
    let mut admins = 0;
    for a in &accounts {
        match api.get(INFO, &a.token).await.0 {
            200 => admins += 1,
            403 => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(admins, 1, "exactly one of the concurrent first accounts administers");
}

async fn admins_list_and_search_users_a_bounded_page_at_a_time(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let root = api.signup("root@example.com").await;
    for email in ["ann@example.com", "anna@example.com", "bob@example.com", "carl_x@example.com"] {
        api.signup(email).await;
    }
    let emails = |page: &Value| -> Vec<String> {
        page["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_owned()).collect()
    };
    let (status, all) = api.get("/api/v1/admin/users", &root.token).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(emails(&all).len(), 5);
    assert!(all["next_cursor"].is_null());
    let first = &all["users"][0];
    assert_eq!((first["email"].as_str(), first["is_admin"].as_bool()), (Some("root@example.com"), Some(true)));
    assert!(first["disabled_at"].is_null() && first.get("password_hash").is_none(), "{first}");

    // By email or name prefix, case-insensitive; wildcards are plain characters.
    let (_, found) = api.get("/api/v1/admin/users?q=AN", &root.token).await;
    assert_eq!(emails(&found), ["ann@example.com", "anna@example.com"]);
    let (_, found) = api.get("/api/v1/admin/users?q=carl_", &root.token).await;
    assert_eq!(emails(&found), ["carl_x@example.com"]);
    let (_, found) = api.get("/api/v1/admin/users?q=%25", &root.token).await;
    assert_eq!(emails(&found), Vec::<String>::new());

    // Page by page, every user once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/admin/users?limit=2".to_owned();
    for _ in 0..5 {
        let (status, page) = api.get(&path, &root.token).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(emails(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/admin/users?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, emails(&all));

    for (query, want) in [
        ("limit=0", "invalid_query"),
        ("limit=101", "invalid_query"),
        ("cursor=nonsense", "invalid_cursor"),
        (&format!("q={}", "a".repeat(101)) as &str, "invalid_query"),
    ] {
        let (status, body) = api.get(&format!("/api/v1/admin/users?{query}"), &root.token).await;
        assert_eq!((status, code(&body)), (400, want), "{query}");
    }
}

async fn disabling_a_user_refuses_every_credential_and_closes_their_connections_at_once(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let root = api.signup("root@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let doc = api.create_doc(&bob.token, json!({"title": "Notes", "content": "one\n"})).await;
    let (status, made) =
        api.post("/api/v1/users/me/tokens", &bob.token, json!({"name": "ci", "scopes": ["write"]})).await;
    assert_eq!(status, 201, "{made}");
    let secret = made["token"].as_str().unwrap().to_owned();
    let mut by_jwt = Client::connect(&server.ws_url(&doc, &bob.token)).await.unwrap();
    by_jwt.sync().await;
    let mut by_token = Client::connect(&server.ws_url(&doc, &secret)).await.unwrap();
    by_token.sync().await;
    let mut events = Sse::open(&api.base, &doc, &bob.token, None).await;
    let mut hocuspocus = hocuspocus_authenticated(&server, &doc, &bob.token).await;

    let (status, body) =
        api.call(Method::POST, &format!("/api/v1/admin/users/{}/disable", bob.id), Some(&root.token), None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(by_jwt.wait_close(T).await, Some(4401));
    assert_eq!(by_token.wait_close(T).await, Some(4401));
    assert_eq!(closed(&mut hocuspocus).await, Some(4401));
    events.wait_for(T, "access.revoked").await;
    for token in [&bob.token, &secret] {
        let (status, body) = api.get(&format!("/api/v1/documents/{doc}"), token).await;
        assert_eq!((status, code(&body)), (401, "account_disabled"), "{body}");
    }
    match Client::connect(&server.ws_url(&doc, &bob.token)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("a disabled user connected: {:?}", other.err()),
    }
    let (status, body) = login(&api, "bob@example.com").await;
    assert_eq!((status, code(&body)), (401, "account_disabled"), "{body}");
    let refresh = json!({"refresh_token": bob.refresh});
    let (status, body) = api.call(Method::POST, "/api/v1/auth/refresh", None, Some(refresh.clone())).await;
    assert_eq!((status, code(&body)), (401, "invalid_refresh_token"), "sessions were revoked: {body}");
    // A wrong password gets the usual answer: only who knows it learns the account is disabled.
    let wrong = json!({"email": "bob@example.com", "password": "not the password"});
    let (status, body) = api.call(Method::POST, "/api/v1/auth/login", None, Some(wrong)).await;
    assert_eq!((status, code(&body)), (401, "invalid_credentials"));

    // Refused: disabling oneself, and a user that does not exist; repeating is harmless.
    let path = |id: &str, what: &str| format!("/api/v1/admin/users/{id}/{what}");
    let (status, body) = api.call(Method::POST, &path(&root.id, "disable"), Some(&root.token), None).await;
    assert_eq!((status, code(&body)), (409, "cannot_disable_self"));
    let (status, body) = api.call(Method::POST, &path("nope", "disable"), Some(&root.token), None).await;
    assert_eq!((status, code(&body)), (404, "user_not_found"));
    assert_eq!(api.call(Method::POST, &path(&bob.id, "disable"), Some(&root.token), None).await.0, 204);
    let (_, page) = api.get("/api/v1/admin/users?q=bob", &root.token).await;
    assert!(page["users"][0]["disabled_at"].is_i64(), "{page}");

    // Enabled again: Bob signs in; the sessions revoked stay revoked.
    assert_eq!(api.call(Method::POST, &path(&bob.id, "enable"), Some(&root.token), None).await.0, 204);
    let (status, body) = login(&api, "bob@example.com").await;
    assert_eq!(status, 200, "{body}");
    let fresh = body["access_token"].as_str().unwrap();
    assert_eq!(api.content(fresh, &doc).await, "one\n");
    assert_eq!(api.content(&secret, &doc).await, "one\n", "his personal token works again");
    let (status, _) = api.call(Method::POST, "/api/v1/auth/refresh", None, Some(refresh)).await;
    assert_eq!(status, 401);
}

/// `doc` opened on `/hocuspocus` with `token`, authenticated read-write.
async fn hocuspocus_authenticated(server: &TestServer, doc: &str, token: &str) -> common::client::Ws {
    let url = format!("ws://{}/hocuspocus", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::Binary(hp::encode_auth_token(doc, token).into())).await.unwrap();
    match tokio::time::timeout(T, ws.next()).await.expect("an answer") {
        Some(Ok(Message::Binary(b))) => assert_eq!(b.to_vec(), hp::encode_authenticated(doc, false)),
        other => panic!("not authenticated: {other:?}"),
    }
    ws
}

/// Reads a socket until the server closes it; the close code.
async fn closed(ws: &mut common::client::Ws) -> Option<u16> {
    for _ in 0..1000 {
        match tokio::time::timeout(T, ws.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
            Some(Ok(_)) => {}
            _ => return None,
        }
    }
    None
}

async fn system_info_tells_version_uptime_rooms_connections_and_sizes(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let root = api.signup("root@example.com").await;
    let doc = api.create_doc(&root.token, json!({"title": "Notes", "content": "one\n"})).await;
    let mut c = Client::connect(&server.ws_url(&doc, &root.token)).await.unwrap();
    c.sync().await;
    let (status, info) = api.get(INFO, &root.token).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert!(info["uptime_seconds"].is_u64());
    assert!(info["node"]["rooms"].as_u64().unwrap() >= 1, "{info}");
    assert!(info["node"]["connections"].as_u64().unwrap() >= 1, "{info}");
    let storage = &info["storage"];
    assert_eq!(
        (
            &storage["users"],
            &storage["admins"],
            &storage["disabled_users"],
            &storage["workspaces"],
            &storage["documents"]
        ),
        (&json!(1), &json!(1), &json!(0), &json!(1), &json!(1)),
        "{info}"
    );
    assert!(storage["database_bytes"].as_i64().unwrap() > 0, "{info}");
    assert_eq!(info["audit_retention_days"], 180);
}

/// Two real nodes sharing Postgres and Redis, with periodic rechecks off: disabling a user
/// on one node closes their connection on the other through the bus alone, and the other
/// refuses their token on REST at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_on_one_node_closes_the_users_connections_on_the_other() {
    use common::process::{RedisProcess, ServerProcess};
    let db = common::pg::fresh_database().await;
    let redis = RedisProcess::start();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let env = [("TANDEM_REDIS_URL", redis.url()), ("TANDEM_ACCESS_RECHECK", "1h".to_owned())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = ServerProcess::start_with(dir_a.path(), Some(&db), &env);
    let b = ServerProcess::start_with(dir_b.path(), Some(&db), &env);
    let (api_a, api_b) = (Api::at(a.addr), Api::at(b.addr));
    let root = api_a.signup("root@example.com").await;
    let bob = api_b.signup("bob@example.com").await;
    let doc = api_b.create_doc(&bob.token, json!({"title": "Notes", "content": "one\n"})).await;
    let mut c = Client::connect(&b.ws_url(&doc, &bob.token)).await.unwrap();
    c.sync().await;

    let disable = format!("/api/v1/admin/users/{}/disable", bob.id);
    assert_eq!(api_a.call(Method::POST, &disable, Some(&root.token), None).await.0, 204);
    assert_eq!(c.wait_close(T).await, Some(4401));
    let (status, body) = api_b.get(&format!("/api/v1/documents/{doc}"), &bob.token).await;
    assert_eq!((status, code(&body)), (401, "account_disabled"));
}
