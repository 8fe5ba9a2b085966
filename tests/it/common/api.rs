//! A JSON client for the REST API of a [`TestServer`](super::TestServer), and the two
//! backends every API test runs on.

use reqwest::Method;
use serde_json::{Value, json};

use super::TestServer;

pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

/// A signed-up user.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub token: String,
    pub refresh: String,
}

impl Api {
    pub fn new(server: &TestServer) -> Self {
        Self::at(server.addr)
    }

    /// The API of a server at `addr` (an in-process server or a child process).
    pub fn at(addr: std::net::SocketAddr) -> Self {
        // reqwest is built without a default TLS provider (the server picks ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api { base: format!("http://{addr}"), client: reqwest::Client::new() }
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req
    }

    /// Sends JSON (or nothing) and answers the status and the JSON body (`Null` if none).
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut req = self.request(method, path, token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn signup(&self, email: &str) -> Account {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/auth/signup",
                None,
                Some(json!({"email": email, "password": "correct horse battery", "name": email.split('@').next().unwrap()})),
            )
            .await;
        assert_eq!(status, 201, "signup {email}: {body}");
        Account {
            id: body["user"]["id"].as_str().unwrap().into(),
            email: email.into(),
            token: body["access_token"].as_str().unwrap().into(),
            refresh: body["refresh_token"].as_str().unwrap().into(),
        }
    }

    /// Creates a document and answers its id.
    pub async fn create_doc(&self, token: &str, body: Value) -> String {
        let (status, doc) = self.post("/api/v1/documents", token, body).await;
        assert_eq!(status, 201, "create document: {doc}");
        doc["id"].as_str().unwrap().into()
    }

    pub async fn content(&self, token: &str, doc: &str) -> String {
        let resp =
            self.request(Method::GET, &format!("/api/v1/documents/{doc}/content"), Some(token)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }

    pub async fn put_content(&self, token: &str, doc: &str, text: &str) -> u16 {
        self.request(Method::PUT, &format!("/api/v1/documents/{doc}/content"), Some(token))
            .header("content-type", "text/markdown")
            .body(text.to_owned())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// The boundary of the multipart bodies [`multipart_file`] makes.
pub const BOUNDARY: &str = "tandem-test-boundary-7d3f";

/// A `multipart/form-data` body (boundary [`BOUNDARY`]) with one field, `file`, holding
/// `bytes` under the file name `name` and a claimed type the server must ignore.
pub fn multipart_file(name: &str, bytes: &[u8]) -> Vec<u8> {
    multipart_field("file", name, "text/plain", bytes)
}

/// A `multipart/form-data` body with one file field.
pub fn multipart_field(field: &str, name: &str, claimed_type: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: {claimed_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Which database a test server uses.
#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub async fn server(db: Db) -> TestServer {
    server_with(db, |_| {}).await
}

pub async fn server_with(db: Db, tweak: impl FnOnce(&mut tandem::config::ServeConfig)) -> TestServer {
    let url = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(super::pg::fresh_database().await),
    };
    TestServer::start_in(tempfile::tempdir().unwrap(), url, tweak).await
}

/// Generates a `sqlite` and a `postgres` test from each `async fn name(db: Db)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::common::api::Db::Sqlite).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::common::api::Db::Postgres).await } )* }
    };
}
