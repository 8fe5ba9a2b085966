//! A small client of Tandem's REST API for scenarios that set up their own user,
//! document and comments: JSON in and out, one user's bearer token. It talks to the HTTP
//! side of the server named by `--url`, on loopback only.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use reqwest::Method;
use serde_json::{Value, json};

/// Longest any one request may take; a scenario never waits on a stuck server forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
    token: String,
}

impl Api {
    /// The API of the server a WebSocket URL points at (`ws://host:port/…` →
    /// `http://host:port`).
    pub fn beside(ws_url: &str) -> anyhow::Result<Self> {
        let (scheme, rest) = ws_url.split_once("://").context("--url has no scheme")?;
        let scheme = match scheme {
            "ws" => "http",
            "wss" => "https",
            other => anyhow::bail!("--url must be ws:// or wss://, not {other}://"),
        };
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let base = format!("{scheme}://{host}");
        crate::ensure_loopback(&base)?;
        // reqwest is built without a default TLS provider (as in the server): install ring's
        // before the first client is built, or building it panics.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build()?;
        Ok(Api { base, http, token: String::new() })
    }

    /// The signed-up user's access token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Signs a new user up and acts as them from now on; answers their id.
    pub async fn signup(&mut self, email: &str, password: &str, name: &str) -> anyhow::Result<String> {
        let body = json!({ "email": email, "password": password, "name": name });
        let answer = self.call(Method::POST, "/api/v1/auth/signup", Some(body)).await?;
        self.token = answer["access_token"].as_str().context("signup answered no access_token")?.to_owned();
        Ok(answer["user"]["id"].as_str().context("signup answered no user id")?.to_owned())
    }

    /// Creates a document holding `content`; answers its id.
    pub async fn create_document(&self, title: &str, content: &str) -> anyhow::Result<String> {
        let body = json!({ "title": title, "content": content });
        let answer = self.call(Method::POST, "/api/v1/documents", Some(body)).await?;
        Ok(answer["id"].as_str().context("document created without an id")?.to_owned())
    }

    /// The document's Markdown as it is now.
    pub async fn content(&self, doc: &str) -> anyhow::Result<String> {
        let resp = self.request(Method::GET, &format!("/api/v1/documents/{doc}/content")).send().await?;
        Ok(checked(resp).await?.text().await?)
    }

    /// Starts a thread on `[index, index + length)` of the text (UTF-16 code units).
    pub async fn start_thread(&self, doc: &str, index: usize, length: usize, body: &str) -> anyhow::Result<()> {
        let body = json!({ "body": body, "anchor": { "index": index, "length": length } });
        self.call(Method::POST, &format!("/api/v1/documents/{doc}/comments"), Some(body)).await?;
        Ok(())
    }

    /// Lists the document's threads: how long the answer took (request sent to the last
    /// byte received) and its body, unparsed.
    pub async fn list_comments(&self, doc: &str) -> anyhow::Result<(Duration, Bytes)> {
        let started = Instant::now();
        let resp = self.request(Method::GET, &format!("/api/v1/documents/{doc}/comments")).send().await?;
        let body = checked(resp).await?.bytes().await?;
        Ok((started.elapsed(), body))
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        if self.token.is_empty() { req } else { req.bearer_auth(&self.token) }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut req = self.request(method.clone(), path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = checked(req.send().await.with_context(|| format!("{method} {path}"))?).await?;
        let text = resp.text().await?;
        Ok(if text.is_empty() { Value::Null } else { serde_json::from_str(&text)? })
    }
}

/// The response if it succeeded; otherwise an error with its status and body.
async fn checked(resp: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let (status, url) = (resp.status(), resp.url().path().to_owned());
    let body = resp.text().await.unwrap_or_default();
    anyhow::bail!("{url} answered {status}: {}", body.chars().take(500).collect::<String>())
}
