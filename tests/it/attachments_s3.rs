//! Attachments in an S3-compatible bucket, on SQLite and Postgres: the same API over a
//! real S3 server on loopback (`s3s-fs`, a file-backed S3 implementation; its binary
//! comes from `TANDEM_TEST_S3S_FS` or `PATH`, and scripts/test.sh installs it). Uploads,
//! downloads, one object for the same bytes, and the object removed with its last
//! attachment; nothing is kept in the local attachments folder; a file larger than one
//! part (5 MiB) is sent as a multipart upload and reads back byte for byte.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::api::{BOUNDARY, Db, multipart_file, server_with};
use reqwest::Method;
use serde_json::{Value, json};

on_both_databases!(attachments_live_in_the_bucket_when_one_is_configured, a_file_of_several_parts_is_stored_whole,);

const BUCKET: &str = "tandem-attachments";
const ACCESS_KEY: &str = "tandem-test-access";
const SECRET_KEY: &str = "tandem-test-secret-0123456789";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// A running `s3s-fs` on a loopback port, with one bucket; killed when dropped.
struct S3Server {
    child: Child,
    root: tempfile::TempDir,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s3s_fs() -> PathBuf {
    if let Some(bin) = std::env::var_os("TANDEM_TEST_S3S_FS") {
        return bin.into();
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("s3s-fs"))
        .find(|bin| bin.is_file());
    on_path.expect("s3s-fs not found: set TANDEM_TEST_S3S_FS or run scripts/test.sh, which installs it")
}

impl S3Server {
    async fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        // A free port: s3s-fs takes a number, not 0.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(s3s_fs())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        let server = S3Server { child, root, endpoint: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "s3s-fs did not listen within 10 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// The objects the bucket holds (s3s-fs keeps each as a file named by its key).
    fn objects(&self) -> Vec<String> {
        let dir = self.root.path().join(BUCKET);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect();
        names.sort();
        names
    }
}

/// Files in the local attachments folder, temporary ones included.
fn local_files(data_dir: &Path) -> usize {
    walk(&data_dir.join("attachments"))
}

fn walk(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum()
}

async fn attachments_live_in_the_bucket_when_one_is_configured(db: Db) {
    let s3 = S3Server::start().await;
    let endpoint = s3.endpoint.clone();
    let server = server_with(db, move |c| {
        c.attachments.s3_bucket = Some(BUCKET.into());
        c.attachments.s3_endpoint = Some(endpoint);
        c.attachments.s3_access_key_id = Some(ACCESS_KEY.into());
        c.attachments.s3_secret_access_key = Some(SECRET_KEY.into());
        c.attachments.attachment_max_bytes = 64 * 1024;
    })
    .await;
    let api = common::api::Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let one = api.create_doc(&ann.token, json!({"title": "One"})).await;
    let two = api.create_doc(&ann.token, json!({"title": "Two"})).await;
    let upload = |doc: String, name: &'static str, bytes: Vec<u8>| {
        let req = api
            .request(Method::POST, &format!("/api/v1/documents/{doc}/attachments"), Some(&ann.token))
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(multipart_file(name, &bytes));
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, a) = upload(one.clone(), "a.png", PNG.to_vec()).await;
    assert_eq!(status, 201, "{a}");
    let (status, b) = upload(two.clone(), "b.png", PNG.to_vec()).await;
    assert_eq!(status, 201, "{b}");
    let (status, other) = upload(two.clone(), "c.bin", b"other bytes".to_vec()).await;
    assert_eq!(status, 201, "{other}");
    assert_eq!(s3.objects().len(), 2, "one object per distinct content");
    assert_eq!(local_files(server.dir.path()), 0, "nothing kept (or left staged) locally");

    let resp = api.request(Method::GET, b["url"].as_str().unwrap(), Some(&ann.token)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.bytes().await.unwrap(), PNG);

    let (status, body) = upload(one.clone(), "big.bin", vec![1u8; 64 * 1024 + 1]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("attachment_too_large")));

    // The shared object stays while one attachment uses it, and goes with the last.
    let (status, _) = api.call(Method::DELETE, a["url"].as_str().unwrap(), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(s3.objects().len(), 2);
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/documents/{two}?permanent=true"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(s3.objects(), Vec::<String>::new(), "the document's objects went with it");
    assert_eq!(local_files(server.dir.path()), 0);
}

async fn a_file_of_several_parts_is_stored_whole(db: Db) {
    let s3 = S3Server::start().await;
    let endpoint = s3.endpoint.clone();
    let server = server_with(db, move |c| {
        c.attachments.s3_bucket = Some(BUCKET.into());
        c.attachments.s3_endpoint = Some(endpoint);
        c.attachments.s3_access_key_id = Some(ACCESS_KEY.into());
        c.attachments.s3_secret_access_key = Some(SECRET_KEY.into());
        c.attachments.attachment_max_bytes = 12 * 1024 * 1024;
    })
    .await;
    let api = common::api::Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Big"})).await;
    // Two whole parts and a short last one, each byte depending on its place.
    let bytes: Vec<u8> = (0..11 * 1024 * 1024 + 123u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let resp = api
        .request(Method::POST, &format!("/api/v1/documents/{doc}/attachments"), Some(&ann.token))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(multipart_file("big.bin", &bytes))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let made: Value = resp.json().await.unwrap();
    assert_eq!(s3.objects().len(), 1);
    assert_eq!(local_files(server.dir.path()), 0, "nothing left staged");
    let resp = api.request(Method::GET, made["url"].as_str().unwrap(), Some(&ann.token)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let got = resp.bytes().await.unwrap();
    assert_eq!(got.len(), bytes.len());
    assert!(got == bytes, "the object holds the bytes uploaded, in order");
}
