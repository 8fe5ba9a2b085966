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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
        cmd.arg("serve")
            .env("TANDEM_LISTEN", "127.0.0.1:0")
            .env("TANDEM_DATA_DIR", data_dir)
            .env("TANDEM_JWT_SECRET", super::SECRET)
            .env("TANDEM_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = database_url {
            cmd.env("TANDEM_DATABASE_URL", url);
        }
        let mut child = cmd.spawn().expect("spawn tandem");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && line.contains("\"listening\"") {
                    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                    let addr: SocketAddr = v["fields"]["addr"].as_str().unwrap().parse().unwrap();
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server printed its address");
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
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
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
