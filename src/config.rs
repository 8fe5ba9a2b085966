//! Command-line and environment configuration: the one place that reads the environment.
//! `tandem` with no subcommand serves; `tandem token` mints a room token.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Tandem: real-time collaboration rooms for Markdown documents (Yjs over WebSockets).
#[derive(Debug, Parser)]
#[command(name = "tandem", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve(ServeConfig),
    /// Print a signed room token (JWT, HS256) that this server accepts.
    Token(TokenArgs),
    /// Apply the database migrations and exit (the server also applies them at start).
    Migrate(ServeConfig),
}

/// Where state lives and how tokens are signed; shared by `serve` and `token`.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Folder for the embedded SQLite database and the generated token secret; created
    /// readable by this user only (0700), the files in it 0600.
    #[arg(long, env = "TANDEM_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Secret for HS256 tokens; when unset, one is generated once into the data dir.
    #[arg(long, env = "TANDEM_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    #[command(flatten)]
    pub common: Common,
    /// Address to listen on.
    #[arg(long, env = "TANDEM_LISTEN", default_value = "127.0.0.1:4000")]
    pub listen: SocketAddr,
    /// Database URL: `sqlite://path` (default: `<data-dir>/tandem.db`) or `postgres://…`.
    #[arg(long, env = "TANDEM_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Redis URL (`redis://host:port`): rooms span every node sharing it. Unset: one node.
    #[arg(long, env = "TANDEM_REDIS_URL")]
    pub redis_url: Option<String>,
    /// How often a room exchanges state vectors with the other nodes holding it.
    #[arg(long, env = "TANDEM_ANTI_ENTROPY", default_value = "30s", value_parser = humantime::parse_duration)]
    pub anti_entropy: Duration,
    /// Largest WebSocket message accepted, in bytes; larger ones close with 1009.
    #[arg(long, env = "TANDEM_MAX_MESSAGE_SIZE", default_value_t = 16 * 1024 * 1024)]
    pub max_message_size: usize,
    /// New WebSocket connections one IP address may open per minute (0: no limit); more
    /// are refused with HTTP 429 before the upgrade.
    #[arg(long, env = "TANDEM_MAX_CONNECTIONS_PER_IP_PER_MINUTE", default_value_t = 1200)]
    pub max_connections_per_ip_per_minute: u32,
    /// Connections one room accepts; later joins are closed with 1013. The last tenth is
    /// kept for connections that may write: read-only ones (a public view link) cannot
    /// lock editors out.
    #[arg(long, env = "TANDEM_MAX_CONNECTIONS_PER_ROOM", default_value_t = 2000)]
    pub max_connections_per_room: usize,
    /// Connections one signed-in user may hold in one room; more are closed with 1013.
    #[arg(long, env = "TANDEM_MAX_CONNECTIONS_PER_USER_PER_ROOM", default_value_t = 16)]
    pub max_connections_per_user_per_room: usize,
    /// Messages per second one connection may send (bursts of one second allowed); past
    /// that the server reads it more slowly.
    #[arg(long, env = "TANDEM_MAX_MESSAGES_PER_SECOND", default_value_t = 200)]
    pub max_messages_per_second: u32,
    /// Bytes per second one connection may send (a burst of one maximum-size message is
    /// allowed); past that the server reads it more slowly.
    #[arg(long, env = "TANDEM_MAX_BYTES_PER_SECOND", default_value_t = 4 * 1024 * 1024)]
    pub max_bytes_per_second: u64,
    /// Largest awareness state (JSON bytes) one client may announce; larger closes with 1009.
    #[arg(long, env = "TANDEM_MAX_AWARENESS_BYTES", default_value_t = 16 * 1024)]
    pub max_awareness_bytes: usize,
    /// Awareness updates per second one connection may send (bursts of two seconds
    /// allowed); past that the newest state per client is held back until the rate allows.
    #[arg(long, env = "TANDEM_MAX_AWARENESS_PER_SECOND", default_value_t = 30)]
    pub max_awareness_per_second: u32,
    /// Largest a document's Yjs state may grow, in bytes: an update that would take it
    /// past this is refused and its sender closed with 1009.
    #[arg(long, env = "TANDEM_MAX_DOCUMENT_STATE_SIZE", default_value_t = 64 * 1024 * 1024)]
    pub max_document_state_size: usize,
    /// Documents one `/hocuspocus` connection may have open at once; an Auth message for
    /// one more is answered PermissionDenied (the others stay open).
    #[arg(long, env = "TANDEM_HOCUSPOCUS_MAX_DOCUMENTS", default_value_t = 100)]
    pub hocuspocus_max_documents: usize,
    /// How long a `/hocuspocus` connection may stay open without authenticating any
    /// document; then it is closed with 4408.
    #[arg(long, env = "TANDEM_HOCUSPOCUS_AUTH_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub hocuspocus_auth_timeout: Duration,
    /// Frames queued for one connection before it counts as too slow (closed with 1013).
    #[arg(long, env = "TANDEM_SEND_QUEUE", default_value_t = 1024)]
    pub send_queue: usize,
    /// Bytes of frames queued for one connection before it counts as too slow (closed with
    /// 1013); a single larger frame (a whole-document sync) still goes to an empty queue.
    #[arg(long, env = "TANDEM_SEND_QUEUE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub send_queue_bytes: usize,
    /// Bytes of large frames (256 KiB and up, such as whole-document syncs) being written
    /// to all connections at once; more wait their turn, first come first served. Bounds
    /// memory in a join storm and lets the first joiners finish first.
    #[arg(long, env = "TANDEM_LARGE_FRAME_BUDGET", default_value_t = 64 * 1024 * 1024)]
    pub large_frame_budget: usize,
    /// How long an empty room stays in memory before it is flushed and evicted.
    #[arg(long, env = "TANDEM_ROOM_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub room_grace: Duration,
    /// Awareness states not renewed for this long are removed (clients renew every 15 s).
    #[arg(long, env = "TANDEM_AWARENESS_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub awareness_timeout: Duration,
    /// Interval between WebSocket pings; a connection that misses a pong is closed.
    #[arg(long, env = "TANDEM_PING_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub ping_interval: Duration,
    /// Update-log rows after which a live document is compacted into its snapshot.
    #[arg(long, env = "TANDEM_COMPACT_AFTER", default_value_t = 500)]
    pub compact_after: u64,
    /// SQLite durability: `normal` survives a process crash, `full` also power loss.
    #[arg(long, env = "TANDEM_SQLITE_SYNCHRONOUS", default_value = "normal")]
    pub sqlite_synchronous: SqliteSync,
    /// Log format.
    #[arg(long, env = "TANDEM_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// Lifetime of the access tokens signup, login and refresh hand out.
    #[arg(long, env = "TANDEM_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token (each use rotates it).
    #[arg(long, env = "TANDEM_REFRESH_TOKEN_TTL", default_value = "30d", value_parser = humantime::parse_duration)]
    pub refresh_token_ttl: Duration,
    /// Lifetime of a workspace invitation.
    #[arg(long, env = "TANDEM_INVITATION_TTL", default_value = "7d", value_parser = humantime::parse_duration)]
    pub invitation_ttl: Duration,
    /// Login attempts per account per minute, and per IP address ten times that; more are
    /// answered 429 (0: no limit).
    #[arg(long, env = "TANDEM_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    pub login_attempts_per_minute: u32,
    /// REST requests one user (or public link) may make per minute; more are answered 429
    /// (0: no limit).
    #[arg(long, env = "TANDEM_MAX_REQUESTS_PER_USER_PER_MINUTE", default_value_t = 1200)]
    pub max_requests_per_user_per_minute: u32,
    /// Largest document (Markdown bytes) the REST API accepts, and largest request body.
    #[arg(long, env = "TANDEM_MAX_DOCUMENT_SIZE", default_value_t = 16 * 1024 * 1024)]
    pub max_document_size: usize,
    /// Largest Markdown rendered to HTML, in bytes: a larger preview body is refused with
    /// 413 before it is read, a larger document's render or HTML export with 422 (its
    /// Markdown export still works).
    #[arg(long, env = "TANDEM_MAX_RENDER_INPUT", default_value_t = 1024 * 1024)]
    pub max_render_input: usize,
    /// Largest HTML one render may produce, in bytes; a render that would exceed it stops
    /// there and is answered 422.
    #[arg(long, env = "TANDEM_MAX_RENDER_OUTPUT", default_value_t = 4 * 1024 * 1024)]
    pub max_render_output: usize,
    /// Time one render may take, waiting for a turn included (renders use at most half the
    /// cores); past it the request is answered 503 and the render stops.
    #[arg(long, env = "TANDEM_RENDER_TIMEOUT", default_value = "3s", value_parser = humantime::parse_duration)]
    pub render_timeout: Duration,
    /// Memory for rendered documents kept for reuse (by document and ETag), in bytes.
    #[arg(long, env = "TANDEM_RENDER_CACHE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub render_cache_bytes: usize,
    /// How often a connection opened with a user token or public link rechecks its access
    /// anyway (changes are announced to every node over the bus and apply at once; this
    /// bounds what a bus outage could hide).
    #[arg(long, env = "TANDEM_ACCESS_RECHECK", default_value = "10s", value_parser = humantime::parse_duration)]
    pub access_recheck: Duration,
    /// JWKS URL of an external identity provider (Auth0, Cognito, Keycloak): its RS256
    /// tokens are accepted, and their users provisioned on first sight.
    #[arg(long, env = "TANDEM_OIDC_JWKS_URL")]
    pub oidc_jwks_url: Option<String>,
    /// Issuer (`iss`) required of the identity provider's tokens.
    #[arg(long, env = "TANDEM_OIDC_ISSUER", requires = "oidc_jwks_url")]
    pub oidc_issuer: Option<String>,
    /// Audience (`aud`) required of the identity provider's tokens (required with
    /// `--oidc-jwks-url`: without it, tokens minted for any other app would be accepted).
    #[arg(long, env = "TANDEM_OIDC_AUDIENCE", requires = "oidc_jwks_url")]
    pub oidc_audience: Option<String>,
    /// How long the identity provider's fetched keys are used before they are fetched again.
    #[arg(long, env = "TANDEM_OIDC_JWKS_CACHE", default_value = "10m", value_parser = humantime::parse_duration)]
    pub oidc_jwks_cache: Duration,
    /// How much longer the last good keys keep serving while the identity provider cannot
    /// be reached; past it, its users get 503 `identity_provider_unavailable` (open
    /// connections stay open).
    #[arg(long, env = "TANDEM_OIDC_JWKS_GRACE", default_value = "1h", value_parser = humantime::parse_duration)]
    pub oidc_jwks_grace: Duration,
    /// Reverse proxies (comma-separated CIDRs or addresses) whose `X-Forwarded-For` is
    /// believed: per-address limits then apply to the client they name. Empty: the
    /// header is ignored and the TCP peer is the client.
    #[arg(long, env = "TANDEM_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_cidr)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Accounts one address may sign up per hour (each costs a password hash); more are
    /// answered 429 (0: no limit).
    #[arg(long, env = "TANDEM_MAX_SIGNUPS_PER_IP_PER_HOUR", default_value_t = 30)]
    pub max_signups_per_ip_per_hour: u32,
}

/// A CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address (`127.0.0.1`).
fn parse_cidr(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{s}` is not an address or CIDR (e.g. 10.0.0.0/8)"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SqliteSync {
    Normal,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub common: Common,
    /// Subject (user id) of the token.
    #[arg(long)]
    pub sub: String,
    /// Grant `PATTERN=r|rw`; PATTERN is a room name, a prefix ending in `*`, or `*`.
    #[arg(long = "room", required = true)]
    pub rooms: Vec<String>,
    /// Lifetime of the token.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
}

impl ServeConfig {
    /// The database URL in force: the explicit one, or SQLite in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.common.data_dir.join("tandem.db").display()),
        }
    }

    /// The identity provider's settings, if one is configured. Refuses a provider
    /// without a required audience.
    pub fn identity_provider(&self) -> Result<Option<crate::jwks::JwksConfig>, String> {
        let Some(url) = &self.oidc_jwks_url else { return Ok(None) };
        let audience = self.oidc_audience.clone().ok_or(
            "--oidc-jwks-url needs --oidc-audience (TANDEM_OIDC_AUDIENCE): without it, tokens the identity \
             provider mints for any other application would be accepted here",
        )?;
        Ok(Some(crate::jwks::JwksConfig {
            url: url.clone(),
            issuer: self.oidc_issuer.clone(),
            audience,
            cache_for: self.oidc_jwks_cache,
            grace: self.oidc_jwks_grace,
        }))
    }

    /// Defaults as for `tandem serve` with no flags, for a given data dir (tests).
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut cfg = Cli::parse_from(["tandem"]).serve;
        cfg.common.data_dir = data_dir.into();
        cfg
    }
}

/// Creates `dir` and its missing parents readable by this user only (0700 on Unix); a
/// directory that exists is left as it is.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
