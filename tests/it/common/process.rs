//! The real `tandem` binary as a child process, for tests that kill it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `tandem serve` on a free loopback port and waits for its listening line.
    pub fn start(data_dir: &Path, database_url: Option<&str>) -> Self {
        Self::start_with(data_dir, database_url, &[])
    }

    /// As [`ServerProcess::start`], with extra environment.
    pub fn start_with(data_dir: &Path, database_url: Option<&str>, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
        cmd.arg("serve")
            .env("TANDEM_LISTEN", "127.0.0.1:0")
            .env("TANDEM_DATA_DIR", data_dir)
            .env("TANDEM_JWT_SECRET", super::SECRET)
            .env("TANDEM_LOG_FORMAT", "json")
            // These tests load the server on purpose: no per-connection message limit.
            .env("TANDEM_MAX_MESSAGES_PER_SECOND", "1000000")
            .env("TANDEM_MAX_CONNECTIONS_PER_IP_PER_MINUTE", "0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = database_url {
            cmd.env("TANDEM_DATABASE_URL", url);
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("spawn tandem");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Warnings and errors go to the test's output, shown when it fails.
                if line.contains("\"target\":\"tandem")
                    && (line.contains("\"level\":\"WARN\"") || line.contains("\"level\":\"ERROR\""))
                {
                    eprintln!("server: {line}");
                }
                if !sent && line.contains("\"listening\"") {
                    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                    let addr: SocketAddr = v["fields"]["addr"].as_str().unwrap().parse().unwrap();
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).expect("server printed its address");
        ServerProcess { child, addr }
    }

    pub fn ws_url(&self, room: &str, token: &str) -> String {
        format!("ws://{}/ws/{room}?token={token}", self.addr)
    }

    /// SIGKILL: no flush, no goodbye.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().unwrap();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server did not exit within 30 s of SIGTERM");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A redis-server of the test's own on a spare loopback port.
pub struct RedisProcess {
    child: Option<Child>,
    pub port: u16,
}

impl RedisProcess {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut r = RedisProcess { child: None, port };
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (install Debian's redis-server package)");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `GET path` over plain HTTP/1.0; returns the status code.
pub async fn http_status(addr: SocketAddr, path: &str) -> u16 {
    http_get(addr, path).await.0
}

/// `GET path` over plain HTTP/1.0; returns the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("an HTTP status line");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// The value of the first sample of `series` (name plus labels, as Prometheus renders
/// them) in a `/metrics` body.
pub fn metric_sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}
