//! Files attached to documents: where their bytes are kept and how much may be kept.
//! Read by `app` (to open the blob store) and `api::attachments` (the limits).

use std::path::{Path, PathBuf};

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct AttachmentsConfig {
    /// Folder for attachments' bytes, one file per distinct content under its SHA-256
    /// (default: `<data-dir>/attachments`).
    #[arg(long, env = "TANDEM_ATTACHMENTS_DIR")]
    pub attachments_dir: Option<PathBuf>,
    /// Largest file one upload may attach, in bytes; a larger one is refused with 413.
    #[arg(long, env = "TANDEM_ATTACHMENT_MAX_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub attachment_max_bytes: u64,
    /// Bytes of attachments one workspace may hold (every attachment counted, even when
    /// its bytes are shared); an upload past it is refused with 413.
    #[arg(long, env = "TANDEM_WORKSPACE_QUOTA_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub workspace_quota_bytes: u64,
    /// Bytes of attachments all the workspaces one user created may hold together (an
    /// account cannot pass it by making more workspaces); an upload past it is refused
    /// with 413.
    #[arg(long, env = "TANDEM_USER_QUOTA_BYTES", default_value_t = 5 * 1024 * 1024 * 1024)]
    pub user_quota_bytes: u64,
    /// S3-compatible bucket for attachments' bytes instead of the attachments folder
    /// (which then only stages uploads).
    #[arg(long, env = "TANDEM_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// The bucket's service URL, for S3-compatible servers (unset: AWS by region); an
    /// `http://` URL is allowed.
    #[arg(long, env = "TANDEM_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The bucket's region.
    #[arg(long, env = "TANDEM_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// Access key id for the bucket (with the secret; unset: none are sent).
    #[arg(long, env = "TANDEM_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// Secret access key for the bucket.
    #[arg(long, env = "TANDEM_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
}

impl AttachmentsConfig {
    /// The attachments folder in force: the explicit one, or one in `data_dir`.
    pub fn dir(&self, data_dir: &Path) -> PathBuf {
        self.attachments_dir.clone().unwrap_or_else(|| data_dir.join("attachments"))
    }
}
