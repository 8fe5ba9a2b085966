//! Command-line and environment configuration: the one place that reads the environment.
//! `tandem` with no subcommand serves; `tandem token` mints a room token; `tandem migrate`
//! applies the migrations; `tandem admin` grants or revokes the instance admin role. Serve settings come in groups (one file each under `config/`),
//! and each part of the server takes the group it needs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

mod api;
mod attachments;
mod auth;
#[cfg(test)]
mod readme;
mod room;
mod server;
mod socket;
mod storage;
mod webhooks;

pub use api::ApiConfig;
pub use attachments::AttachmentsConfig;
pub use auth::AuthConfig;
pub use room::{Retention, RoomConfig};
pub use server::{LogFormat, ServerConfig};
pub use socket::SocketConfig;
pub use storage::{DATABASE_FILE, SqliteSync, StorageConfig};
pub use webhooks::WebhookConfig;

/// Tandem: real-time collaboration rooms for Markdown documents (Yjs over WebSockets).
#[derive(Debug, Parser)]
#[command(name = "tandem", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeConfig,
}

// Parsed once at start: the size of the serve variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve(ServeConfig),
    /// Print a signed room token (JWT, HS256) that this server accepts.
    Token(TokenArgs),
    /// Apply the database migrations and exit (the server also applies them at start).
    Migrate(MigrateArgs),
    /// Grant or revoke the instance admin role (the first account gets it at signup).
    Admin(AdminArgs),
    /// Copy the embedded SQLite database, the token secret and the attachments into a new
    /// folder, consistently, while the server runs; serve that folder (`--data-dir`) to
    /// restore. For Postgres, use `pg_dump`.
    Backup(BackupArgs),
}

/// Where this node keeps its files; every subcommand takes it.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Folder for the embedded SQLite database and the generated token secret; created
    /// readable by this user only (0700), the files in it 0600.
    #[arg(long, env = "TANDEM_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

/// How this server's own tokens are signed: `serve` verifies with it, `token` signs.
#[derive(Debug, Clone, Args)]
pub struct Signing {
    /// Secret for HS256 tokens; when unset, one is generated once into the data dir.
    #[arg(long, env = "TANDEM_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
}

/// Everything `tandem serve` reads, group by group.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub signing: Signing,
    #[command(flatten, next_help_heading = "Server")]
    pub server: ServerConfig,
    #[command(flatten, next_help_heading = "Storage")]
    pub storage: StorageConfig,
    #[command(flatten, next_help_heading = "Connections")]
    pub socket: SocketConfig,
    #[command(flatten, next_help_heading = "Rooms")]
    pub room: RoomConfig,
    #[command(flatten, next_help_heading = "Accounts and access")]
    pub auth: AuthConfig,
    #[command(flatten, next_help_heading = "REST API and rendering")]
    pub api: ApiConfig,
    #[command(flatten, next_help_heading = "Webhooks")]
    pub webhooks: WebhookConfig,
    #[command(flatten, next_help_heading = "Attachments")]
    pub attachments: AttachmentsConfig,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub signing: Signing,
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

/// Only the database: a migration reads no serve setting it would ignore.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub storage: StorageConfig,
}

/// `tandem admin grant|revoke EMAIL`, on the database `serve` uses.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub storage: StorageConfig,
    #[command(subcommand)]
    pub action: AdminAction,
}

/// `tandem backup --to DIR`: what `serve` stores, read where `serve` keeps it.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub storage: StorageConfig,
    #[command(flatten)]
    pub attachments: AttachmentsConfig,
    /// The folder to write, which must not exist or be empty; a data dir once written.
    #[arg(long)]
    pub to: PathBuf,
}

impl BackupArgs {
    /// The database URL in force: the explicit one, or SQLite in the data dir.
    pub fn database_url(&self) -> String {
        self.storage.database_url(&self.common.data_dir)
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminAction {
    /// Make the account with this email an instance admin.
    Grant { email: String },
    /// Take the instance admin role from the account with this email (never the last
    /// enabled admin's).
    Revoke { email: String },
}

impl AdminArgs {
    /// The database URL in force: the explicit one, or SQLite in the data dir.
    pub fn database_url(&self) -> String {
        self.storage.database_url(&self.common.data_dir)
    }
}

impl MigrateArgs {
    /// The database URL in force: the explicit one, or SQLite in the data dir.
    pub fn database_url(&self) -> String {
        self.storage.database_url(&self.common.data_dir)
    }
}

impl ServeConfig {
    /// The database URL in force: the explicit one, or SQLite in the data dir.
    pub fn database_url(&self) -> String {
        self.storage.database_url(&self.common.data_dir)
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
