//! `tandem backup`: a consistent copy of a node's embedded SQLite database, its token
//! secret and its attachments, taken while the server runs, into a folder that is a data
//! dir of its own (serve it with `--data-dir` to restore).
//!
//! The database is copied with `VACUUM INTO`, one read transaction: a snapshot as of one
//! commit, whatever is written meanwhile. The attachments copied are those that snapshot
//! lists, read from the live attachments folder (blobs never change once written, so the
//! copy is exact); a blob removed between the snapshot and its copy (its last attachment
//! deleted meanwhile) is left out, and its rows deleted from the copy, as they were from
//! the live node. A bucket's attachments stay in the bucket.
//!
//! Everything is written into a sibling folder first and renamed into place at the end:
//! a backup that fails half way leaves no folder that looks whole.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::config::{BackupArgs, DATABASE_FILE, create_private_dir};
use crate::identity::tokens::SECRET_FILE;
use crate::store::blobs::{BlobError, Blobs, LocalBlobs};

/// What a backup wrote.
#[derive(Debug)]
pub struct Backup {
    pub to: PathBuf,
    /// The database file in it, and its size.
    pub database: PathBuf,
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
    Postgres,
    #[error("not a database URL tandem serves: {0}")]
    UnsupportedUrl(String),
    #[error("no database at {0}")]
    NoDatabase(PathBuf),
    #[error("{0} exists and is not an empty folder: back up into a new one")]
    NotEmpty(PathBuf),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Writes the backup `args` describe.
pub async fn run(args: &BackupArgs) -> Result<Backup, BackupError> {
    let url = args.database_url();
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Err(BackupError::Postgres);
    }
    if !url.starts_with("sqlite:") {
        return Err(BackupError::UnsupportedUrl(url));
    }
    let live = SqliteConnectOptions::from_str(&url)?.read_only(true);
    if !live.get_filename().is_file() {
        return Err(BackupError::NoDatabase(live.get_filename().to_owned()));
    }
    let to = args.to.clone();
    if to.exists() && (!to.is_dir() || std::fs::read_dir(&to)?.next().is_some()) {
        return Err(BackupError::NotEmpty(to));
    }
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = to.with_file_name(format!(".{name}.partial-{}", crate::ids::random_hex(4)));
    create_private_dir(&partial)?;
    match write(args, live, &partial).await {
        Ok(mut backup) => {
            // Over the empty folder, if there was one: rename replaces an empty directory.
            if let Err(e) = std::fs::rename(&partial, &to) {
                let _ = std::fs::remove_dir_all(&partial);
                return Err(e.into());
            }
            backup.database = to.join(DATABASE_FILE);
            backup.to = to;
            Ok(backup)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            Err(e)
        }
    }
}

async fn write(args: &BackupArgs, live: SqliteConnectOptions, to: &Path) -> Result<Backup, BackupError> {
    let database = to.join(DATABASE_FILE);
    let mut source = live.connect().await?;
    sqlx::query("VACUUM INTO ?").bind(database.to_string_lossy().as_ref()).execute(&mut source).await?;
    source.close().await?;
    private(&database)?;

    let secret = args.common.data_dir.join(SECRET_FILE);
    let secret_copied = secret.is_file();
    if secret_copied {
        std::fs::copy(&secret, to.join(SECRET_FILE))?;
        private(&to.join(SECRET_FILE))?;
    }

    let mut snapshot = SqliteConnectOptions::new().filename(&database).connect().await?;
    let listed: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT sha256 FROM attachments").fetch_all(&mut snapshot).await?;
    let blobs_in_bucket = args.attachments.s3_bucket.is_some();
    let blobs_copied = if blobs_in_bucket || listed.is_empty() {
        0
    } else {
        let missing =
            copy_blobs(&args.attachments.dir(&args.common.data_dir), &to.join("attachments"), &listed).await?;
        // Deleted on the live node after the snapshot: in the copy they are deleted too,
        // rather than rows whose files are not there.
        for sha256 in &missing {
            sqlx::query("DELETE FROM attachments WHERE sha256 = $1").bind(sha256).execute(&mut snapshot).await?;
        }
        listed.len() - missing.len()
    };
    snapshot.close().await?;
    Ok(Backup {
        database_bytes: std::fs::metadata(&database)?.len(),
        to: to.to_owned(),
        database,
        secret_copied,
        blobs_listed: listed.len(),
        blobs_copied,
        blobs_in_bucket,
    })
}

/// Copies the blobs named in `listed` from the folder `from` into `to`; answers those
/// that were no longer there.
async fn copy_blobs(from: &Path, to: &Path, listed: &[(String,)]) -> Result<Vec<String>, BackupError> {
    let (from, to) = (LocalBlobs::open(from)?, LocalBlobs::open(to)?);
    let mut missing = Vec::new();
    for (sha256,) in listed {
        let Some(mut reader) = from.open(sha256).await? else {
            missing.push(sha256.clone());
            continue;
        };
        let mut staged = to.stage().await?;
        tokio::io::copy(&mut reader, &mut staged.file).await?;
        to.commit(staged, sha256).await?;
    }
    Ok(missing)
}

/// Readable by this user only, as the data dir's own files are.
fn private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
