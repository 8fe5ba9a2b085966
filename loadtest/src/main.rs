//! `tandem-loadtest`: drives real WebSocket clients speaking the y-websocket or the
//! Hocuspocus protocol (and the REST API where a scenario needs one) against a server and
//! reports what it measured. Every scenario is bounded in time and count and stops by
//! itself; the default target is loopback.

mod api;
mod clients;
mod marks;
mod pg;
mod report;
mod scenarios;
mod server;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "tandem-loadtest", version, about)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Rooms of clients; each room edits at --rate edits/s; measures edit-to-peer latency.
    Fanout(scenarios::fanout::FanoutArgs),
    /// Holds --connections connections across --rooms rooms for the duration.
    Idle(scenarios::idle::IdleArgs),
    /// Every client updates its awareness state at --rate Hz.
    Presence(scenarios::presence::PresenceArgs),
    /// Connections per second, rising, until a target or errors.
    Ramp(scenarios::ramp::RampArgs),
    /// One client at a time opens a large document no room holds (read from the store,
    /// its log never compacted); measures join to synced.
    ColdLoad(scenarios::cold_load::ColdLoadArgs),
    /// Many clients join one room holding a large document at once.
    JoinStorm(scenarios::join_storm::JoinStormArgs),
    /// Clients drop and rejoin in waves.
    ReconnectStorm(scenarios::reconnect_storm::ReconnectStormArgs),
    /// Fault: kill -9 the server under continuous writers, over and over; counts
    /// acknowledged edits lost.
    KillCycles(scenarios::kill_cycles::KillCyclesArgs),
    /// Fault: Postgres (a throwaway cluster of the run's own) stopped and started again
    /// under writers on two nodes; counts acknowledged edits lost, times the recovery.
    PgRestart(scenarios::pg_restart::PgRestartArgs),
    /// Fault: one client sends far more edits than the per-connection limits allow, then
    /// closes; a late joiner must find them all.
    FastWriter(scenarios::fast_writer::FastWriterArgs),
    /// Fault: clients that never read; they must be disconnected, server memory flat.
    SlowReader(scenarios::slow_reader::SlowReaderArgs),
    /// Version history without a server: what one version of a document stores, and how
    /// long diffing two versions takes.
    Versions(scenarios::versions::VersionsArgs),
    /// Listing a large, fragmented document's comment threads over REST, and the edit
    /// echo alone and while they are listed.
    Comments(scenarios::comments::CommentsArgs),
}

/// Flags every scenario shares.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// WebSocket base URL; with y-websocket the room name is appended after a `/`, with
    /// Hocuspocus (e.g. `ws://127.0.0.1:4000/hocuspocus`) it travels in the messages.
    #[arg(long, default_value = "ws://127.0.0.1:4000/ws")]
    pub url: String,
    /// The protocol the clients speak.
    #[arg(long, value_enum, default_value = "y-websocket")]
    pub protocol: clients::Protocol,
    /// A token for every client (needs access to every room used).
    #[arg(long, conflicts_with = "secret")]
    pub token: Option<String>,
    /// The server's HS256 secret: mint a token per client instead.
    #[arg(long)]
    pub secret: Option<String>,
    /// Send no token at all: for servers without authentication, such as the y-websocket
    /// reference server (`@y/websocket-server`) that comparisons run against.
    #[arg(long, conflicts_with_all = ["token", "secret"])]
    pub no_auth: bool,
    /// How long the measured phase lasts, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Prefix of the room names used (a run id keeps runs apart).
    #[arg(long, default_value = "load")]
    pub room_prefix: String,
    /// Write the report as JSON here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The server's pid (same machine): report its CPU time and RSS.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Most connections opened at once while setting up.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// Connect from this many local addresses, 127.0.0.1 to 127.0.0.N, round robin: one
    /// address has ~28,000 ephemeral ports, so 100,000 connections need four or more.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=250))]
    pub source_addrs: u8,
}

impl Common {
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.clamp(0.1, 3600.0))
    }

    /// Where and how one client of one room connects.
    pub fn room_url(&self, room: &str, client: usize) -> anyhow::Result<clients::Endpoint> {
        let token = match (&self.token, &self.secret) {
            (Some(t), _) => t.clone(),
            (None, Some(secret)) => {
                let keys = tandem::identity::tokens::Keys::from_secret(secret.as_bytes());
                let grant = tandem::identity::tokens::Grant::parse(&format!("{}*=rw", self.room_prefix))?;
                keys.mint(&format!("load-{client}"), &[grant], Duration::from_secs(3600))
            }
            (None, None) if self.no_auth => String::new(),
            (None, None) => anyhow::bail!("give --token, --secret or --no-auth"),
        };
        let base = self.url.trim_end_matches('/');
        ensure_loopback(base)?;
        let url = match self.protocol {
            clients::Protocol::YWebsocket if token.is_empty() => format!("{base}/{room}"),
            clients::Protocol::YWebsocket => format!("{base}/{room}?token={token}"),
            clients::Protocol::Hocuspocus => base.to_owned(),
        };
        let source = (self.source_addrs > 1)
            .then(|| std::net::IpAddr::from([127, 0, 0, 1 + (client % usize::from(self.source_addrs)) as u8]));
        Ok(clients::Endpoint { url, room: room.to_owned(), token, protocol: self.protocol, source })
    }
}

/// Load goes to this machine only, unless the operator says otherwise explicitly.
fn ensure_loopback(url: &str) -> anyhow::Result<()> {
    let host = url.split("://").nth(1).and_then(|r| r.split(['/', '?']).next()).unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    let ok = host == "localhost" || host == "[::1]" || host.starts_with("127.");
    if !ok && std::env::var_os("TANDEM_LOADTEST_ALLOW_REMOTE").is_none() {
        anyhow::bail!("{url} is not a loopback address; set TANDEM_LOADTEST_ALLOW_REMOTE=1 to load it anyway");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let report = match cli.scenario {
        Scenario::Fanout(args) => scenarios::fanout::run(args).await?,
        Scenario::Idle(args) => scenarios::idle::run(args).await?,
        Scenario::Presence(args) => scenarios::presence::run(args).await?,
        Scenario::Ramp(args) => scenarios::ramp::run(args).await?,
        Scenario::ColdLoad(args) => scenarios::cold_load::run(args).await?,
        Scenario::JoinStorm(args) => scenarios::join_storm::run(args).await?,
        Scenario::ReconnectStorm(args) => scenarios::reconnect_storm::run(args).await?,
        Scenario::KillCycles(args) => scenarios::kill_cycles::run(args).await?,
        Scenario::PgRestart(args) => scenarios::pg_restart::run(args).await?,
        Scenario::FastWriter(args) => scenarios::fast_writer::run(args).await?,
        Scenario::SlowReader(args) => scenarios::slow_reader::run(args).await?,
        Scenario::Versions(args) => scenarios::versions::run(args).await?,
        Scenario::Comments(args) => scenarios::comments::run(args).await?,
    };
    report.print();
    if let Some(path) = &report.json_path {
        std::fs::write(path, serde_json::to_string_pretty(&report.json())?)?;
    }
    if let Some(failure) = report.failure {
        anyhow::bail!("{failure}");
    }
    Ok(())
}
