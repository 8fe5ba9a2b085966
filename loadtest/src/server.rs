//! The real `tandem` binary as a child process, for fault runs that kill it: started on a
//! free loopback port, its address read from its first JSON log line.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How to start a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub bin: PathBuf,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub secret: String,
    /// More environment (limits, intervals).
    pub env: Vec<(String, String)>,
}

pub struct Node {
    child: Child,
    pub addr: SocketAddr,
}

impl Node {
    pub fn start(cfg: &NodeConfig) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&cfg.data_dir)?;
        let mut cmd = Command::new(&cfg.bin);
        cmd.arg("serve")
            .env("TANDEM_LISTEN", "127.0.0.1:0")
            .env("TANDEM_DATA_DIR", &cfg.data_dir)
            .env("TANDEM_JWT_SECRET", &cfg.secret)
            .env("TANDEM_LOG_FORMAT", "json")
            .env("TANDEM_MAX_CONNECTIONS_PER_IP_PER_MINUTE", "0")
            .env("RUST_LOG", "warn,tandem::app=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = &cfg.database_url {
            cmd.env("TANDEM_DATABASE_URL", url);
        }
        if let Some(url) = &cfg.redis_url {
            cmd.env("TANDEM_REDIS_URL", url);
        }
        cmd.envs(cfg.env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("\"listening\"")
                    && let Some(tx) = tx.take()
                {
                    let addr = serde_json::from_str::<serde_json::Value>(&line)
                        .ok()
                        .and_then(|v| v["fields"]["addr"].as_str().and_then(|a| a.parse::<SocketAddr>().ok()));
                    let _ = tx.send(addr);
                } else if line.contains("\"ERROR\"") {
                    eprintln!("server: {line}");
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(addr)) => Ok(Node { child, addr }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!("{} did not print its address within 60 s", cfg.bin.display())
            }
        }
    }

    pub fn ws_base(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// SIGKILL: no flush, no goodbye.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh scratch directory under the system temp dir.
pub fn scratch_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("tandem-faults-{name}-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// An endpoint on `base` (`ws://…/ws`) for `room`, with a token minted from `secret`.
pub fn endpoint(base: &str, room: &str, secret: &str) -> crate::clients::Endpoint {
    let keys = tandem::identity::tokens::Keys::from_secret(secret.as_bytes());
    let grant = tandem::identity::tokens::Grant::parse("*=rw").expect("grant");
    let token = keys.mint("faults", &[grant], Duration::from_secs(24 * 3600));
    crate::clients::Endpoint {
        url: format!("{base}/{room}?token={token}"),
        room: room.to_owned(),
        token,
        protocol: crate::clients::Protocol::YWebsocket,
        source: None,
    }
}

/// A redis-server of the run's own on a spare loopback port, nothing saved to disk;
/// killed when dropped.
pub struct Redis {
    child: Child,
    pub port: u16,
}

impl Redis {
    pub fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("redis-server (Debian's redis-server package): {e}"))?;
        let redis = Redis { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(redis);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::bail!("redis-server did not listen on port {port} within 5 s")
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
