//! Tokens of an external identity provider: RS256, verified against the provider's JWKS
//! (served here by a stand-in on loopback with a fixed test key), issuer and audience
//! checked, users provisioned on first sight — on both databases. An outage of the
//! provider or of the database is a 503 and never closes open connections; only an
//! invalid or expired token logs a user out.

use crate::common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::api::{Api, Db, server_with};
use common::client::Event;
use common::proxy::Proxy;
use common::{Client, TestServer, eventually_async};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tokio::task::JoinHandle;

on_both_databases!(
    identity_provider_tokens_are_verified_and_users_provisioned,
    an_identity_provider_outage_is_a_503_and_open_connections_stay,
);

const ISSUER: &str = "https://idp.test/";
const AUDIENCE: &str = "tandem-api";
const T: Duration = Duration::from_secs(20);

const UP: u8 = 0;
const FAILING: u8 = 1;

/// A stand-in identity provider on loopback serving the test JWKS: it can answer 500
/// (`FAILING`), or stop listening altogether (`down`) and come back on the same port.
struct Provider {
    addr: SocketAddr,
    url: String,
    mode: Arc<AtomicU8>,
    /// Key set requests answered, successfully or not.
    fetches: Arc<AtomicUsize>,
    task: Option<JoinHandle<()>>,
}

impl Provider {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut p = Provider {
            addr,
            url: format!("http://{addr}/.well-known/jwks.json"),
            mode: Arc::new(AtomicU8::new(UP)),
            fetches: Arc::new(AtomicUsize::new(0)),
            task: None,
        };
        p.serve(listener);
        p
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (mode, counter) = (self.mode.clone(), self.fetches.clone());
        let jwks = include_str!("fixtures/idp_jwks.json");
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let failing = mode.load(Ordering::SeqCst) == FAILING;
                async move {
                    let status = if failing { 500 } else { 200 };
                    (axum::http::StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], jwks)
                }
            }),
        );
        self.task = Some(tokio::spawn(async move { axum::serve(listener, app).await.unwrap() }));
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    /// Stops listening: fetches are refused.
    async fn down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port, answering normally.
    async fn up(&mut self) {
        self.set(UP);
        if self.task.is_none() {
            let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
            self.serve(listener);
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn sign(kid: &str, iss: &str, aud: &str, sub: &str) -> String {
    sign_claims(kid, json!({"iss": iss, "aud": aud, "sub": sub, "exp": now() + 600}))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A token of the stand-in provider with these claims (plus `iat`, email and name).
fn sign_claims(kid: &str, mut claims: serde_json::Value) -> String {
    let key = EncodingKey::from_rsa_der(include_bytes!("fixtures/idp_rsa.der"));
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    claims["iat"] = json!(now());
    claims["email"] = json!("ext@example.com");
    claims["name"] = json!("Ext User");
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn with_provider(url: &str) -> impl FnOnce(&mut tandem::config::ServeConfig) {
    let url = url.to_owned();
    move |c| {
        c.auth.oidc_jwks_url = Some(url);
        c.auth.oidc_issuer = Some(ISSUER.into());
        c.auth.oidc_audience = Some(AUDIENCE.into());
    }
}

async fn identity_provider_tokens_are_verified_and_users_provisioned(db: Db) {
    let provider = Provider::start().await;
    let server = server_with(db, with_provider(&provider.url)).await;
    let api = Api::new(&server);
    let token = sign("test-key-1", ISSUER, AUDIENCE, "auth0|42");
    let (status, me) = api.get("/api/v1/auth/me", &token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "Ext User");
    let (_, again) = api.get("/api/v1/auth/me", &sign("test-key-1", ISSUER, AUDIENCE, "auth0|42")).await;
    assert_eq!(again["id"], me["id"], "the same identity maps to the same user");
    let (_, other) = api.get("/api/v1/auth/me", &sign("test-key-1", ISSUER, AUDIENCE, "auth0|43")).await;
    assert_ne!(other["id"], me["id"]);
    let (_, spaces) = api.get("/api/v1/workspaces", &token).await;
    assert_eq!(spaces[0]["personal"], true, "provisioned users get a personal workspace");
    assert_eq!(provider.fetches(), 1, "keys are cached");

    // The same token opens the user's documents over the WebSocket.
    let doc = api.create_doc(&token, json!({"title": "ext", "content": "from the idp\n"})).await;
    let mut c = Client::connect(&server.ws_url(&doc, &token)).await.unwrap();
    c.sync().await;
    assert_eq!(c.text(), "from the idp\n");

    for (bad, why) in [
        (sign("test-key-1", ISSUER, "someone-else", "auth0|42"), "audience"),
        (sign("test-key-1", "https://evil.test/", AUDIENCE, "auth0|42"), "issuer"),
        (sign("other-key", ISSUER, AUDIENCE, "auth0|42"), "key id"),
        (sign_claims("test-key-1", json!({"iss": ISSUER, "sub": "auth0|42", "exp": now() + 600})), "no audience"),
    ] {
        let (status, body) = api.get("/api/v1/auth/me", &bad).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_token")), "wrong {why}");
    }
    // A forged signature (payload swapped under a valid header and signature) fails too.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = sign("test-key-1", ISSUER, AUDIENCE, "auth0|admin").split('.').nth(1).unwrap().to_owned();
    let (status, _) = api.get("/api/v1/auth/me", &parts.join(".")).await;
    assert_eq!(status, 401);
    // The server's own users keep working beside the provider.
    let local = api.signup("local@example.com").await;
    let (status, _) = api.get("/api/v1/auth/me", &local.token).await;
    assert_eq!(status, 200);
}

/// Keys aged out while the provider fails: REST answers 503 (never 401), open connections
/// stay open through many rechecks and keep editing, an expired token still closes 4401,
/// and everything works again once the provider answers.
async fn an_identity_provider_outage_is_a_503_and_open_connections_stay(db: Db) {
    let mut provider = Provider::start().await;
    let server = server_with(db, |c| {
        with_provider(&provider.url)(c);
        c.auth.oidc_jwks_cache = Duration::from_millis(500);
        c.auth.oidc_jwks_grace = Duration::from_millis(500);
        c.auth.access_recheck = Duration::from_millis(200);
    })
    .await;
    let api = Api::new(&server);
    let token = sign("test-key-1", ISSUER, AUDIENCE, "auth0|7");
    // Expires in 2 s (plus the 5 s of leeway for clock skew).
    let short = sign_claims("test-key-1", json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "auth0|7", "exp": now() + 2}));
    let doc = api.create_doc(&token, json!({"title": "outage", "content": "a"})).await;
    let mut stays = Client::connect(&server.ws_url(&doc, &token)).await.unwrap();
    stays.sync().await;
    let mut expires = Client::connect(&server.ws_url(&doc, &short)).await.unwrap();
    expires.sync().await;

    for outage in ["answers 500", "is unreachable"] {
        if outage == "answers 500" {
            provider.set(FAILING);
        } else {
            provider.down().await;
        }
        let seen = std::sync::Mutex::new(Vec::new());
        let unavailable = eventually_async(
            T,
            || api.get("/api/v1/auth/me", &token),
            |(status, body)| {
                seen.lock().unwrap().push(status);
                status == 503 && body["error"]["code"] == "identity_provider_unavailable"
            },
        )
        .await;
        let seen = seen.into_inner().unwrap();
        assert!(unavailable, "provider {outage}: REST never answered 503; saw {seen:?}");
        assert!(seen.iter().all(|s| *s == 200 || *s == 503), "provider {outage}: {seen:?}");
        // Several rechecks pass (each asks the provider again, spaced by the cache time).
        let (before, deadline) = (provider.fetches(), tokio::time::Instant::now() + T);
        if outage == "answers 500" {
            while provider.fetches() < before + 3 {
                assert!(tokio::time::Instant::now() < deadline, "the server stopped asking the provider");
                expect_open(&mut stays, Duration::from_millis(100)).await;
            }
        } else {
            // Refused connections leave no trace at the provider: watch 15 recheck periods.
            expect_open(&mut stays, Duration::from_secs(3)).await;
        }
        stays.append_acked(outage).await;
    }
    // The short-lived token has expired by now: no keys needed to close it.
    assert_eq!(expires.wait_close(T).await, Some(4401), "an expired token closes 4401 even during the outage");

    provider.up().await;
    let back = eventually_async(T, || api.get("/api/v1/auth/me", &token), |(s, _)| s == 200).await;
    assert!(back, "the provider came back but its tokens are still refused");
    expect_open(&mut stays, Duration::from_millis(600)).await;
    stays.append_acked(";back").await;
    let (status, _) = api.get("/api/v1/auth/me", &short).await;
    assert_eq!(status, 401, "an expired token stays refused");
}

/// Reads for `within`; the connection must not close meanwhile.
async fn expect_open(client: &mut Client, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return;
        }
        if let Some(Event::Closed(code)) = client.next_event(left).await {
            panic!("the connection closed ({code:?}) during an outage");
        }
    }
}

/// A provider configured without an audience would accept tokens it minted for any other
/// application: the server refuses to start.
#[tokio::test]
async fn a_provider_without_an_audience_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::base_config(dir.path());
    cfg.auth.oidc_jwks_url = Some("http://127.0.0.1:9/jwks.json".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let run = tandem::app::run(cfg, listener, std::future::pending());
    let result = tokio::time::timeout(Duration::from_secs(10), run).await.expect("refused at once, not served");
    let error = result.expect_err("started without an audience").to_string();
    assert!(error.contains("--oidc-audience"), "{error}");
}

/// The database blips under users of the identity provider: REST answers 503
/// `store_unavailable`, their open connections stay open through the rechecks (which
/// need no database), and all is well once it is back. Postgres only: it is the store
/// that can go away under a running server (SQLite is a file inside the process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_blip_keeps_identity_provider_users_connected() {
    let provider = Provider::start().await;
    let direct = common::pg::fresh_database().await;
    let upstream: SocketAddr = direct.split('@').nth(1).unwrap().split('/').next().unwrap().parse().unwrap();
    let mut proxy = Proxy::start(upstream).await;
    let through_proxy = direct.replacen(&upstream.to_string(), &proxy.addr.to_string(), 1);
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), Some(through_proxy), |c| {
        with_provider(&provider.url)(c);
        c.auth.access_recheck = Duration::from_millis(200);
    })
    .await;
    let api = Api::new(&server);
    let token = sign("test-key-1", ISSUER, AUDIENCE, "auth0|blip");
    let doc = api.create_doc(&token, json!({"title": "blip", "content": "a"})).await;
    let mut client = Client::connect(&server.ws_url(&doc, &token)).await.unwrap();
    client.sync().await;

    proxy.cut().await;
    let (status, body) = api.get("/api/v1/auth/me", &token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("store_unavailable")), "{body}");
    // Many recheck periods pass (the 503 above took the pool's acquire timeout too).
    expect_open(&mut client, Duration::from_secs(2)).await;

    proxy.restore().await;
    let back = eventually_async(T, || api.get("/api/v1/auth/me", &token), |(s, _)| s == 200).await;
    assert!(back, "the database came back but requests still fail");
    expect_open(&mut client, Duration::from_millis(600)).await;
}
