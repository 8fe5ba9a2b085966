//! A throwaway Postgres cluster of the run's own (`initdb` in a scratch directory, on a
//! spare loopback port), for fault runs that stop and restart the database. Never the
//! shared server: this one exists only for the run and is removed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A cluster started from `initdb`; stopped (immediate) and deleted on drop.
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
    /// Run the server binaries as the `postgres` user (they refuse to run as root).
    as_postgres: bool,
    /// `-c name=value` settings the server starts with.
    settings: Vec<String>,
    running: bool,
    /// Leave the data directory in place when dropped (evidence of a failed run).
    keep: bool,
}

impl PgCluster {
    /// `initdb` and start. `bin` holds `initdb` and `pg_ctl`; by default the newest
    /// `/usr/lib/postgresql/*/bin` (Debian's layout), else `pg_config --bindir`.
    pub fn start(bin: Option<&Path>, dir: PathBuf, settings: &[String]) -> anyhow::Result<Self> {
        let bin = match bin {
            Some(b) => b.to_owned(),
            None => default_bin()?,
        };
        anyhow::ensure!(bin.join("initdb").exists(), "no initdb in {} (give --pg-bin)", bin.display());
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown").arg("postgres").arg(&dir))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        for s in settings {
            anyhow::ensure!(
                s.split_once('=').is_some_and(|(k, v)| !k.is_empty()
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                    && !v.contains(char::is_whitespace)),
                "a setting is name=value without spaces, not {s:?}"
            );
        }
        let settings = settings.to_vec();
        let mut pg = PgCluster { bin, dir, port, as_postgres, settings, running: false, keep: false };
        let data = pg.data();
        run(pg.cmd("initdb").arg("-D").arg(&data).args(["-U", "postgres", "--auth=trust", "--no-sync"]))?;
        pg.start_server()?;
        Ok(pg)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server when dropped but keeps its data directory, and returns it.
    pub fn keep(&mut self) -> PathBuf {
        self.keep = true;
        self.data()
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn cmd(&self, prog: &str) -> Command {
        let exe = self.bin.join(prog);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    /// `pg_ctl start`, waiting until it accepts connections. Its output goes to a log
    /// file (a pipe would be held open by the server).
    pub fn start_server(&mut self) -> anyhow::Result<()> {
        let mut opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display());
        for s in &self.settings {
            opts.push_str(&format!(" -c {s}"));
        }
        run(self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "60", "-o", &opts, "start"]))?;
        self.running = true;
        Ok(())
    }

    /// `pg_ctl stop -m immediate`: every server process ends at once, without a
    /// checkpoint, as in a crash; the next start recovers from the WAL.
    pub fn stop_immediate(&mut self) -> anyhow::Result<()> {
        run(self.cmd("pg_ctl").arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "-t", "60", "stop"]))?;
        self.running = false;
        Ok(())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self.stop_immediate();
        }
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.stdin(Stdio::null()).output()?;
    anyhow::ensure!(
        out.status.success(),
        "{:?} failed ({}): {}",
        cmd,
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

fn default_bin() -> anyhow::Result<PathBuf> {
    let newest = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|dirs| {
        dirs.filter_map(Result::ok)
            .filter_map(|d| Some((d.file_name().to_str()?.parse::<u32>().ok()?, d.path().join("bin"))))
            .filter(|(_, bin)| bin.join("initdb").exists())
            .max_by_key(|(v, _)| *v)
            .map(|(_, bin)| bin)
    });
    if let Some(bin) = newest {
        return Ok(bin);
    }
    let out = Command::new("pg_config").arg("--bindir").output()?;
    anyhow::ensure!(out.status.success(), "pg_config --bindir failed: give --pg-bin");
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}
