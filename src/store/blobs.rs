//! The bytes of attachments, outside the database: the [`Blobs`] trait, its
//! local-filesystem implementation, [`LocalBlobs`], and an S3-compatible bucket
//! (`blobs_s3.rs`). A blob is named by the SHA-256 of its
//! bytes, so the same file uploaded twice is kept once; the attachment rows
//! (`attachments.rs`) say which blobs are in use.
//!
//! Writes are staged: the bytes go to a temporary file while they arrive and are hashed,
//! then the file is renamed under its hash (atomic, so a reader never sees half a blob,
//! and renaming over the same bytes changes nothing). Whoever adds a row for a blob, or
//! removes a blob no row uses, holds the blob's [`Blobs::lock`] across the database check
//! and the file operation: a blob is never removed under an upload that just used it.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::AsyncRead;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Locks blobs are spread over: uploads of different bytes rarely wait on each other, and
/// the table stays the same size whatever clients send.
const LOCK_STRIPES: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a blob name: {0:?}")]
    BadName(String),
    #[error("object store: {0}")]
    Remote(#[from] object_store::Error),
}

/// A blob's bytes, as read from the store.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// Bytes being written before their hash is known. Dropped without [`Blobs::commit`],
/// its file is removed.
pub struct Staged {
    path: PathBuf,
    pub file: tokio::fs::File,
    committed: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: a leftover is only a stray temporary file.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[async_trait]
pub trait Blobs: Send + Sync + 'static {
    /// A new temporary file to write a blob's bytes into.
    async fn stage(&self) -> Result<Staged, BlobError>;

    /// Keeps the staged bytes as the blob `sha256`, durably (on disk before this returns).
    /// The same bytes may already be there: then nothing changes.
    async fn commit(&self, staged: Staged, sha256: &str) -> Result<(), BlobError>;

    /// The blob's bytes; `None` if there is no such blob.
    async fn open(&self, sha256: &str) -> Result<Option<BlobReader>, BlobError>;

    /// Removes the blob (no error if it is already gone).
    async fn remove(&self, sha256: &str) -> Result<(), BlobError>;

    /// Serialises adding a row for `sha256` with removing it; see the module docs.
    async fn lock(&self, sha256: &str) -> OwnedMutexGuard<()>;

    /// [`Blobs::lock`] for several blobs at once, taken in one order (whoever holds one
    /// lock never waits for a second, so this cannot deadlock with them).
    async fn lock_all(&self, sha256s: &[&str]) -> Vec<OwnedMutexGuard<()>>;
}

/// The blob locks, spread over [`LOCK_STRIPES`] mutexes by the blob's name.
pub(super) struct Stripes(Vec<Arc<Mutex<()>>>);

impl Stripes {
    pub(super) fn new() -> Self {
        Stripes((0..LOCK_STRIPES).map(|_| Arc::default()).collect())
    }

    pub(super) async fn lock(&self, sha256: &str) -> OwnedMutexGuard<()> {
        self.0[stripe(sha256)].clone().lock_owned().await
    }

    /// The stripes of all of `sha256s`, each once, in ascending order.
    pub(super) async fn lock_all(&self, sha256s: &[&str]) -> Vec<OwnedMutexGuard<()>> {
        let mut stripes: Vec<usize> = sha256s.iter().map(|s| stripe(s)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut held = Vec::with_capacity(stripes.len());
        for s in stripes {
            held.push(self.0[s].clone().lock_owned().await);
        }
        held
    }
}

fn stripe(sha256: &str) -> usize {
    sha256.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize)) % LOCK_STRIPES
}

/// A new temporary file in `dir`.
pub(super) async fn stage_in(dir: &Path) -> Result<Staged, BlobError> {
    let path = dir.join(format!("{}.part", crate::ids::random_hex(16)));
    let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await?;
    Ok(Staged { path, file, committed: false })
}

impl Staged {
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Done with: its file is removed when it drops (its bytes are kept elsewhere).
    pub(super) fn discard(self) {}
}

/// Whether `sha256` can name a blob: 64 lowercase hex digits, nothing else.
pub(super) fn check_name(sha256: &str) -> Result<(), BlobError> {
    let valid = sha256.len() == 64 && sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if valid { Ok(()) } else { Err(BlobError::BadName(sha256.chars().take(80).collect())) }
}

/// Blobs as files under one folder: `<dir>/<first two hex>/<sha256>`, temporary files in
/// `<dir>/tmp` (the same file system, so the rename is atomic).
pub struct LocalBlobs {
    dir: PathBuf,
    stripes: Stripes,
}

impl LocalBlobs {
    /// Opens (creating, readable by this user only) the folder.
    pub fn open(dir: &Path) -> Result<Self, BlobError> {
        crate::config::create_private_dir(&dir.join("tmp"))?;
        Ok(LocalBlobs { dir: dir.to_owned(), stripes: Stripes::new() })
    }

    /// Where a blob lives; only 64 lowercase hex digits name one.
    fn path_of(&self, sha256: &str) -> Result<PathBuf, BlobError> {
        check_name(sha256)?;
        Ok(self.dir.join(&sha256[..2]).join(sha256))
    }
}

#[async_trait]
impl Blobs for LocalBlobs {
    async fn stage(&self) -> Result<Staged, BlobError> {
        stage_in(&self.dir.join("tmp")).await
    }

    async fn commit(&self, mut staged: Staged, sha256: &str) -> Result<(), BlobError> {
        let target = self.path_of(sha256)?;
        if let Some(parent) = target.parent() {
            crate::config::create_private_dir(parent)?;
        }
        staged.file.sync_all().await?;
        tokio::fs::rename(&staged.path, &target).await?;
        staged.committed = true;
        // The rename itself made durable before the row that names the blob is written.
        if let Some(parent) = target.parent() {
            tokio::fs::File::open(parent).await?.sync_all().await?;
        }
        Ok(())
    }

    async fn open(&self, sha256: &str) -> Result<Option<BlobReader>, BlobError> {
        match tokio::fs::File::open(self.path_of(sha256)?).await {
            Ok(file) => Ok(Some(Box::pin(file))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn remove(&self, sha256: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path_of(sha256)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn lock(&self, sha256: &str) -> OwnedMutexGuard<()> {
        self.stripes.lock(sha256).await
    }

    async fn lock_all(&self, sha256s: &[&str]) -> Vec<OwnedMutexGuard<()>> {
        self.stripes.lock_all(sha256s).await
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const HASH: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[tokio::test]
    async fn staged_bytes_are_kept_under_their_hash_and_removed_once() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = LocalBlobs::open(dir.path()).unwrap();
        for _ in 0..2 {
            let mut staged = blobs.stage().await.unwrap();
            staged.file.write_all(b"hello").await.unwrap();
            blobs.commit(staged, HASH).await.unwrap();
        }
        let mut read = String::new();
        blobs.open(HASH).await.unwrap().unwrap().read_to_string(&mut read).await.unwrap();
        assert_eq!(read, "hello");
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "no temporary file left");
        blobs.remove(HASH).await.unwrap();
        blobs.remove(HASH).await.unwrap();
        assert!(blobs.open(HASH).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_dropped_stage_leaves_nothing_and_names_must_be_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = LocalBlobs::open(dir.path()).unwrap();
        drop(blobs.stage().await.unwrap());
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(matches!(blobs.open("../../etc/passwd").await, Err(BlobError::BadName(_))));
        assert!(matches!(blobs.remove(&HASH.to_uppercase()).await, Err(BlobError::BadName(_))));
    }
}
