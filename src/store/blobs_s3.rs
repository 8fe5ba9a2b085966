//! [`S3Blobs`]: attachments' bytes in an S3-compatible bucket (AWS S3, MinIO, Garage,
//! R2…), one object per distinct content named by its SHA-256. Uploads are staged in a
//! local temporary folder while they arrive and are hashed, then sent from that file in
//! parts of [`PART_BYTES`] (a small file in one put, a larger one as a multipart upload),
//! hashed again as they are read: bytes that do not match the staged hash are never
//! completed into an object. A put (or a completed multipart upload) is atomic, so a
//! reader never sees half an object, and putting the same bytes again changes nothing. The blob locks
//! are this process's: several nodes sharing one bucket can, in a narrow race, remove an
//! object that another node's upload of the same bytes has just put (its download then
//! answers 500 until the bytes are uploaded again).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::OwnedMutexGuard;

use super::blobs::{BlobError, BlobReader, Blobs, Staged, Stripes, check_name, stage_in};

/// Bytes read from a staged file and sent at a time: S3's smallest multipart part, so a
/// commit holds at most this much in memory whatever the attachment size limit.
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts of one upload in flight at once.
const PARTS_IN_FLIGHT: usize = 2;

/// Where the bucket is and how to sign for it.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// `None`: AWS itself (by region). An `http://` endpoint is allowed (a local server).
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl S3Settings {
    /// The bucket's settings, when one is configured.
    pub fn from_config(c: &crate::config::AttachmentsConfig) -> Option<Self> {
        Some(S3Settings {
            bucket: c.s3_bucket.clone()?,
            endpoint: c.s3_endpoint.clone(),
            region: c.s3_region.clone(),
            access_key_id: c.s3_access_key_id.clone(),
            secret_access_key: c.s3_secret_access_key.clone(),
        })
    }
}

pub struct S3Blobs {
    store: Arc<dyn ObjectStore>,
    staging: PathBuf,
    stripes: Stripes,
}

impl S3Blobs {
    /// A client for the bucket (nothing is requested yet), staging uploads in `staging`.
    pub fn open(s: &S3Settings, staging: &Path) -> Result<Self, BlobError> {
        crate::config::create_private_dir(staging)?;
        let mut builder = AmazonS3Builder::new().with_bucket_name(&s.bucket).with_region(&s.region);
        if let Some(endpoint) = &s.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if let (Some(id), Some(secret)) = (&s.access_key_id, &s.secret_access_key) {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret);
        }
        Ok(S3Blobs { store: Arc::new(builder.build()?), staging: staging.to_owned(), stripes: Stripes::new() })
    }

    fn key(sha256: &str) -> Result<ObjectPath, BlobError> {
        check_name(sha256)?;
        Ok(ObjectPath::from(sha256))
    }
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn stage(&self) -> Result<Staged, BlobError> {
        stage_in(&self.staging).await
    }

    async fn commit(&self, mut staged: Staged, sha256: &str) -> Result<(), BlobError> {
        let key = Self::key(sha256)?;
        // Every byte written through the staging handle is in the file before it is read
        // back through another handle.
        staged.file.flush().await?;
        staged.file.sync_all().await?;
        let mut file = tokio::fs::File::open(staged.path()).await?;
        let mut hasher = Sha256::new();
        let first = read_part(&mut file, &mut hasher).await?;
        if first.len() < PART_BYTES {
            check_sent(hasher, sha256)?;
            self.store.put(&key, PutPayload::from(first)).await?;
        } else {
            let mut upload = WriteMultipart::new_with_chunk_size(self.store.put_multipart(&key).await?, PART_BYTES);
            let mut part = first;
            let sent = loop {
                if part.is_empty() {
                    break check_sent(hasher, sha256);
                }
                upload.write(&part);
                if let Err(e) = upload.wait_for_capacity(PARTS_IN_FLIGHT).await {
                    break Err(e.into());
                }
                part = match read_part(&mut file, &mut hasher).await {
                    Ok(part) => part,
                    Err(e) => break Err(e),
                };
            };
            match sent {
                Ok(()) => drop(upload.finish().await?),
                Err(e) => {
                    // Best effort: an upload never completed is no object, only parts the
                    // bucket's lifecycle rules clean up.
                    let _ = upload.abort().await;
                    return Err(e);
                }
            }
        }
        staged.discard();
        Ok(())
    }

    async fn open(&self, sha256: &str) -> Result<Option<BlobReader>, BlobError> {
        match self.store.get(&Self::key(sha256)?).await {
            Ok(got) => {
                let stream = got.into_stream().map_err(std::io::Error::other);
                Ok(Some(Box::pin(tokio_util::io::StreamReader::new(stream))))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn remove(&self, sha256: &str) -> Result<(), BlobError> {
        match self.store.delete(&Self::key(sha256)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn lock(&self, sha256: &str) -> OwnedMutexGuard<()> {
        self.stripes.lock(sha256).await
    }

    async fn lock_all(&self, sha256s: &[&str]) -> Vec<OwnedMutexGuard<()>> {
        self.stripes.lock_all(sha256s).await
    }
}

/// Up to [`PART_BYTES`] of the file's next bytes (fewer only at its end), hashed.
async fn read_part(file: &mut tokio::fs::File, hasher: &mut Sha256) -> Result<Vec<u8>, BlobError> {
    let mut part = Vec::new();
    (&mut *file).take(PART_BYTES as u64).read_to_end(&mut part).await?;
    hasher.update(&part);
    Ok(part)
}

/// The bytes read back are the bytes that were hashed as they arrived.
fn check_sent(hasher: Sha256, sha256: &str) -> Result<(), BlobError> {
    let sent = hex::encode(hasher.finalize());
    if sent == sha256 {
        Ok(())
    } else {
        Err(BlobError::Io(std::io::Error::other(format!("staged bytes hash to {sent}, not {sha256}"))))
    }
}
