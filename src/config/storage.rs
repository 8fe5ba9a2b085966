//! Where documents and accounts are kept: the database and how durably SQLite writes.
//! Both `serve` and `migrate` take this group; the default database lies in the data dir.

use std::path::Path;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct StorageConfig {
    /// Database URL: `sqlite://path` (default: `<data-dir>/tandem.db`) or `postgres://…`.
    #[arg(long, env = "TANDEM_DATABASE_URL")]
    pub database_url: Option<String>,
    /// SQLite durability: `normal` survives a process crash, `full` also power loss.
    #[arg(long, env = "TANDEM_SQLITE_SYNCHRONOUS", default_value = "normal")]
    pub sqlite_synchronous: SqliteSync,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SqliteSync {
    Normal,
    Full,
}

/// The embedded SQLite database's file name in a data dir.
pub const DATABASE_FILE: &str = "tandem.db";

impl StorageConfig {
    /// The database URL in force: the explicit one, or SQLite in `data_dir`.
    pub fn database_url(&self, data_dir: &Path) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", data_dir.join(DATABASE_FILE).display()),
        }
    }
}
