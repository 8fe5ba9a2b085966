//! [`S3Blobs`]: attachments' bytes in an S3-compatible bucket (AWS S3, MinIO, Garage,
//! R2…), one object per distinct content named by its SHA-256. Uploads are staged in a
//! local temporary folder while they arrive and are hashed, then put in one request (a
//! staged file is at most the attachment size limit); a put is atomic, so a reader never
//! sees half an object, and putting the same bytes again changes nothing. The blob locks
//! are this process's: several nodes sharing one bucket can, in a narrow race, remove an
//! object that another node's upload of the same bytes has just put (its download then
//! answers 500 until the bytes are uploaded again).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::sync::OwnedMutexGuard;

use super::blobs::{BlobError, BlobReader, Blobs, Staged, Stripes, check_name, stage_in};

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

    async fn commit(&self, staged: Staged, sha256: &str) -> Result<(), BlobError> {
        let key = Self::key(sha256)?;
        let bytes = tokio::fs::read(staged.path()).await?;
        self.store.put(&key, PutPayload::from(bytes)).await?;
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
}
