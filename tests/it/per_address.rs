//! Limits keyed on what a client sends: per-address limits (new connections, logins,
//! signups) see the client behind a trusted proxy and only there; login fields are
//! bounded before any work is done.

use crate::common;

use std::time::Duration;

use common::TestServer;
use common::api::{Api, Db, server_with};
use reqwest::Method;
use serde_json::json;

on_both_databases!(
    signups_are_limited_per_address,
    logins_are_limited_per_forwarded_client,
    login_fields_are_bounded_before_any_work
);

/// Status of a plain GET of a WebSocket route (the per-address limit comes before the
/// upgrade and before authorisation) claiming to come from `forwarded_for`.
async fn connect_status(server: &TestServer, forwarded_for: &str) -> u16 {
    let url = format!("http://{}/ws/some-room", server.addr);
    let api = Api::new(server);
    let resp = api.client.get(url).header("x-forwarded-for", forwarded_for).send().await.unwrap();
    resp.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let behind_proxy = TestServer::start_with(|c| {
        c.socket.max_connections_per_ip_per_minute = 2;
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let mut statuses = Vec::new();
    for client in ["198.51.100.1", "198.51.100.1", "198.51.100.1", "198.51.100.2", "6.6.6.6, 198.51.100.2"] {
        statuses.push(connect_status(&behind_proxy, client).await);
    }
    // Each forwarded client has its own allowance (a spoofed entry left of the proxy's
    // own counts for nothing); past it, 429 before the upgrade.
    assert_eq!(statuses, [401, 401, 429, 401, 401]);

    let direct = TestServer::start_with(|c| c.socket.max_connections_per_ip_per_minute = 2).await;
    let mut statuses = Vec::new();
    for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        statuses.push(connect_status(&direct, client).await);
    }
    assert_eq!(statuses, [401, 401, 429], "with no trusted proxy the header is ignored");
}

fn proxied(api: &Api, method: Method, path: &str, client: &str) -> reqwest::RequestBuilder {
    api.request(method, path, None).header("x-forwarded-for", client)
}

async fn status_of(req: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

async fn signups_are_limited_per_address(db: Db) {
    let server = server_with(db, |c| {
        c.auth.max_signups_per_ip_per_hour = 2;
        c.server.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let api = Api::new(&server);
    let signup = |client: &'static str, email: &'static str| {
        let body = json!({"email": email, "password": "correct horse battery", "name": "N"});
        status_of(proxied(&api, Method::POST, "/api/v1/auth/signup", client).json(&body))
    };
    assert_eq!(signup("198.51.100.1", "a@example.com").await.0, 201);
    assert_eq!(signup("198.51.100.1", "b@example.com").await.0, 201);
    let (status, body) = signup("198.51.100.1", "c@example.com").await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")), "{body}");
    assert_eq!(signup("198.51.100.2", "c@example.com").await.0, 201, "another address has its own allowance");
    // Refused signups created nothing.
    let (status, _) = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "c@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(status, 200);
}

async fn logins_are_limited_per_forwarded_client(db: Db) {
    // One attempt per account per minute, ten per address.
    let server = server_with(db, |c| {
        c.auth.login_attempts_per_minute = 1;
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let api = Api::new(&server);
    let login = |client: &'static str, i: usize| {
        let body = json!({"email": format!("nobody{i}@example.com"), "password": "guess guess"});
        status_of(proxied(&api, Method::POST, "/api/v1/auth/login", client).json(&body))
    };
    let mut statuses = Vec::new();
    for i in 0..11 {
        statuses.push(login("198.51.100.1", i).await.0);
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429, "the eleventh attempt from one address");
    // Another client behind the same proxy is not locked out by the first one's junk.
    assert_eq!(login("198.51.100.2", 100).await.0, 401);
}

async fn login_fields_are_bounded_before_any_work(db: Db) {
    let server = server_with(db, |c| c.auth.login_attempts_per_minute = 1000).await;
    let api = Api::new(&server);
    api.signup("ann@example.com").await;
    let login = |email: String, password: String| {
        api.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": email, "password": password})))
    };
    // A body past the auth routes' small limit is refused before it is parsed.
    let (status, body) = login("a".repeat(64 << 10), "guess guess".into()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")));
    // 8 MiB emails: refused with 413, or the server stops reading (the sender sees its
    // connection closed) at once; a server still reading or working on it when the
    // timeout strikes fails.
    for _ in 0..3 {
        let body = json!({"email": "a".repeat(8 << 20), "password": "guess guess"});
        let request = api.request(Method::POST, "/api/v1/auth/login", None).timeout(Duration::from_secs(20));
        match request.json(&body).send().await {
            Ok(resp) => assert_eq!(resp.status(), 413),
            Err(e) => assert!(!e.is_timeout(), "{e}"),
        }
    }
    let (status, body) = login(format!("{}@example.com", "a".repeat(300)), "guess guess".into()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_field")));
    let (status, body) = login("ann@example.com".into(), "p".repeat(2000)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_field")));
    let (status, body) =
        api.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": "r".repeat(4000)}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_refresh_token")));
    // Many distinct well-formed emails are answered (and throttled) like any other.
    for i in 0..20 {
        let (status, _) = login(format!("{i}-{}@example.com", "x".repeat(200)), "guess guess".into()).await;
        assert_eq!(status, 401);
    }
    // The real account still logs in.
    let (status, _) = login("ANN@example.com ".into(), "correct horse battery".into()).await;
    assert_eq!(status, 200);
}

#[test]
fn a_bare_address_is_a_trusted_proxy_too() {
    use clap::Parser;
    let cli =
        tandem::config::Cli::try_parse_from(["tandem", "--trusted-proxies", "10.0.0.0/8, 127.0.0.1,::1"]).unwrap();
    let nets: Vec<String> = cli.serve.server.trusted_proxies.iter().map(ToString::to_string).collect();
    assert_eq!(nets, ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]);
    assert!(tandem::config::Cli::try_parse_from(["tandem", "--trusted-proxies", "nginx"]).is_err());
}
