//! Newtype ids, so a document id is never confused with any other string or number.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest document (room) name accepted, in bytes.
pub const MAX_DOC_ID_LEN: usize = 256;

/// A document id: the room name a client joins (`/ws/{doc id}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema)]
#[schema(value_type = String)]
pub struct DocId(Arc<str>);

impl DocId {
    /// Accepts any non-empty string of at most [`MAX_DOC_ID_LEN`] bytes.
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty() && s.len() <= MAX_DOC_ID_LEN).then(|| DocId(s.into()))
    }

    /// A new random id, for documents created through the API.
    pub fn random() -> Self {
        DocId(random_hex(10).into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One WebSocket connection, unique within this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

impl ConnId {
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ConnId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// `bytes` random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    hex::encode(buf)
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String)]
        pub struct $name(String);

        impl $name {
            pub fn random() -> Self {
                $name(random_hex(10))
            }

            pub fn new(s: impl Into<String>) -> Self {
                $name(s.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A user account.
    UserId
);
string_id!(
    /// A workspace: documents and the members who share them.
    WorkspaceId
);
string_id!(
    /// A public link to one document (not its token: the id names it in the API).
    LinkId
);
string_id!(
    /// A pending invitation to a workspace (not its token).
    InvitationId
);
string_id!(
    /// A login session: one refresh token family's current member.
    SessionId
);
string_id!(
    /// A comment: a thread's first message (the thread has its id) or a reply.
    CommentId
);
string_id!(
    /// A notification for one user.
    NotificationId
);
string_id!(
    /// A saved version of a document.
    VersionId
);
string_id!(
    /// A personal API token (not its secret: the id names it in the API).
    ApiTokenId
);
string_id!(
    /// A workspace's webhook: a target URL and the event types sent to it.
    WebhookId
);
string_id!(
    /// One event's delivery to one webhook (the `X-Tandem-Delivery` header).
    DeliveryId
);
string_id!(
    /// A file attached to a document (an uploaded image or file).
    AttachmentId
);
