//! Files attached to documents, as catalogued: the [`Attachment`] row and the
//! [`Attachments`] trait both backends implement (`attachments_sql.rs`). The bytes are not
//! here: they live in a [`super::blobs::Blobs`] store under their SHA-256, shared by every
//! row with the same bytes.

use async_trait::async_trait;

use super::StoreError;
use crate::ids::{AttachmentId, DocId, UserId, WorkspaceId};

/// One attached file, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub document_id: DocId,
    pub workspace_id: WorkspaceId,
    /// The name the uploader gave (shown, and offered as the download's name).
    pub name: String,
    /// Sniffed from the bytes when stored.
    pub content_type: String,
    pub size: i64,
    /// Lowercase hex SHA-256 of the bytes: the blob's key.
    pub sha256: String,
    pub created_by: Option<UserId>,
    pub created_at: i64,
}

/// Why an attachment was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The workspace's attachments would pass its quota.
    OverQuota,
    /// The attachments of every workspace the workspace's creator made would pass the
    /// per-user quota.
    OverUserQuota,
}

/// Bytes of attachments that may be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// In one workspace.
    pub workspace: i64,
    /// In all the workspaces one user created, together.
    pub user: i64,
}

#[async_trait]
pub trait Attachments: Send + Sync + 'static {
    /// Stores the rows, all of one workspace, in one transaction, unless the workspace's
    /// attachments (these included) would pass the workspace quota, or those of all the
    /// workspaces its creator made would pass the user quota; the sums are taken once,
    /// under the creator's and the workspace's locks, so concurrent uploads cannot pass
    /// them together.
    async fn create_attachments(&self, rows: &[Attachment], quotas: Quotas) -> Result<Result<(), Refused>, StoreError>;

    /// A document's attachments, oldest first, at most `limit`.
    async fn attachments_of(&self, doc: &DocId, limit: u32) -> Result<Vec<Attachment>, StoreError>;

    /// One attachment of the document.
    async fn attachment(&self, doc: &DocId, id: &AttachmentId) -> Result<Option<Attachment>, StoreError>;

    /// Deletes one attachment of the document; answers the row deleted.
    async fn delete_attachment(&self, doc: &DocId, id: &AttachmentId) -> Result<Option<Attachment>, StoreError>;

    /// Whether any attachment row still uses the blob.
    async fn blob_in_use(&self, sha256: &str) -> Result<bool, StoreError>;

    /// Bytes of attachments the workspace holds (each row counted, shared blobs too).
    async fn workspace_attachment_bytes(&self, ws: &WorkspaceId) -> Result<i64, StoreError>;

    /// Bytes of attachments all the workspaces made by the creator of `ws` hold (0 when
    /// its creator is gone), as the user quota counts them.
    async fn creator_attachment_bytes(&self, ws: &WorkspaceId) -> Result<i64, StoreError>;
}
