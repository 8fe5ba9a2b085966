//! `tandem backup`: a consistent copy of a node's embedded SQLite database, its token
//! secret and its attachments, taken while the server runs, into a folder that is a data
//! dir of its own (serve it with `--data-dir` to restore).
//!
//! The database is copied with `VACUUM INTO`, one read transaction: a snapshot as of one
//! commit, whatever is written meanwhile. The attachments copied are those that snapshot
//! lists, read from the live attachments folder (blobs never change once written, so the
//! copy is exact); a blob removed between the snapshot and its copy (its last attachment
//! deleted meanwhile) is counted as missing. A bucket's attachments stay in the bucket.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::blobs::{Blobs, LocalBlobs};
use crate::config::{BackupArgs, create_private_dir};
use crate::identity::tokens::SECRET_FILE as SECRET;

/// The database's file name in a data dir.
const DATABASE: &str = "tandem.db";

/// What a backup wrote.
#[derive(Debug)]
pub struct Backup {
    pub to: PathBuf,
    pub database_bytes: u64,
    pub secret_copied: bool,
    /// Distinct blobs the snapshot lists, and how many of them were copied.
    pub blobs_listed: usize,
    pub blobs_copied: usize,
    /// Attachments are in a bucket: not copied.
    pub blobs_in_bucket: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "backup copies the embedded SQLite database; with Postgres use pg_dump (and copy the attachments folder or bucket)"
    )]
    NotSqlite,
    #[error("{0} exists and is not empty: back up into a new folder")]
    NotEmpty(PathBuf),
    #[error("no database at {0}")]
    NoDatabase(PathBuf),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Blob(#[from] super::blobs::BlobError),
}

/// Writes the backup `args` describe.
pub async fn run(args: &BackupArgs) -> Result<Backup, BackupError> {
    let url = args.database_url();
    let Some(path) = url.strip_prefix("sqlite://").map(|p| p.split('?').next().unwrap_or(p)) else {
        return Err(BackupError::NotSqlite);
    };
    let source = PathBuf::from(path);
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source));
    }
    let to = args.to.clone();
    if to.exists() && std::fs::read_dir(&to)?.next().is_some() {
        return Err(BackupError::NotEmpty(to));
    }
    create_private_dir(&to)?;

    let database = to.join(DATABASE);
    let mut live = SqliteConnectOptions::from_str(&url)?.read_only(true).connect().await?;
    sqlx::query("VACUUM INTO ?").bind(database.to_string_lossy().as_ref()).execute(&mut live).await?;
    live.close().await?;
    private(&database)?;

    let secret = args.common.data_dir.join(SECRET);
    let secret_copied = secret.is_file();
    if secret_copied {
        std::fs::copy(&secret, to.join(SECRET))?;
        private(&to.join(SECRET))?;
    }

    let mut snapshot = SqliteConnectOptions::new().filename(&database).read_only(true).connect().await?;
    let listed: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT sha256 FROM attachments").fetch_all(&mut snapshot).await?;
    snapshot.close().await?;
    let blobs_in_bucket = args.attachments.s3_bucket.is_some();
    let blobs_copied = if blobs_in_bucket || listed.is_empty() {
        0
    } else {
        copy_blobs(&args.attachments.dir(&args.common.data_dir), &to.join("attachments"), &listed).await?
    };
    Ok(Backup {
        database_bytes: std::fs::metadata(&database)?.len(),
        to,
        secret_copied,
        blobs_listed: listed.len(),
        blobs_copied,
        blobs_in_bucket,
    })
}

/// Copies the blobs named in `listed` from the folder `from` into `to`; answers how many
/// were there to copy.
async fn copy_blobs(from: &Path, to: &Path, listed: &[(String,)]) -> Result<usize, BackupError> {
    let (from, to) = (LocalBlobs::open(from)?, LocalBlobs::open(to)?);
    let mut copied = 0;
    for (sha256,) in listed {
        let Some(mut reader) = from.open(sha256).await? else { continue };
        let mut staged = to.stage().await?;
        tokio::io::copy(&mut reader, &mut staged.file).await?;
        to.commit(staged, sha256).await?;
        copied += 1;
    }
    Ok(copied)
}

/// Readable by this user only, as the data dir's own files are.
fn private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
