//! Tokens of an external identity provider: RS256, verified against the provider's JWKS
//! (served here by a stand-in on loopback with a fixed test key), issuer and audience
//! checked, users provisioned on first sight — on both databases.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use common::Client;
use common::api::{Api, Db, server_with};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

on_both_databases!(identity_provider_tokens_are_verified_and_users_provisioned);

const ISSUER: &str = "https://idp.test/";
const AUDIENCE: &str = "tandem-api";

/// Serves the test JWKS on loopback; counts fetches.
async fn identity_provider() -> (String, Arc<AtomicUsize>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let jwks = include_str!("fixtures/idp_jwks.json");
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { ([("content-type", "application/json")], jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, fetches)
}

fn sign(kid: &str, iss: &str, aud: &str, sub: &str) -> String {
    let key = EncodingKey::from_rsa_der(include_bytes!("fixtures/idp_rsa.der"));
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({"iss": iss, "aud": aud, "sub": sub, "iat": now, "exp": now + 600,
        "email": "ext@example.com", "name": "Ext User"});
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn identity_provider_tokens_are_verified_and_users_provisioned(db: Db) {
    let (jwks_url, fetches) = identity_provider().await;
    let server = server_with(db, |c| {
        c.oidc_jwks_url = Some(jwks_url);
        c.oidc_issuer = Some(ISSUER.into());
        c.oidc_audience = Some(AUDIENCE.into());
    })
    .await;
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
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "keys are cached");

    // The same token opens the user's documents over the WebSocket.
    let doc = api.create_doc(&token, json!({"title": "ext", "content": "from the idp\n"})).await;
    let mut c = Client::connect(&server.ws_url(&doc, &token)).await.unwrap();
    c.sync().await;
    assert_eq!(c.text(), "from the idp\n");

    for (bad, why) in [
        (sign("test-key-1", ISSUER, "someone-else", "auth0|42"), "audience"),
        (sign("test-key-1", "https://evil.test/", AUDIENCE, "auth0|42"), "issuer"),
        (sign("other-key", ISSUER, AUDIENCE, "auth0|42"), "key id"),
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
