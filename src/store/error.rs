//! The store's errors: [`StoreError`], and the typed [`Conflict`]s a write can run into
//! (a unique or foreign-key constraint), so callers match a variant, not a message.

use crate::ids::DocId;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored state of document `{0}` does not decode")]
    Corrupt(DocId),
    #[error("the group-commit writer has stopped")]
    WriterGone,
    #[error("unsupported database URL `{0}`: expected sqlite:// or postgres://")]
    UnsupportedUrl(String),
    /// The write broke a constraint the catalogue names (a key taken, a row gone).
    #[error(transparent)]
    Conflict(#[from] Conflict),
    #[error("stored value is invalid: {0}")]
    Invalid(String),
    /// A limit on what one document keeps was reached.
    #[error("{0}")]
    Full(String),
}

/// A catalogue write refused by a unique or foreign-key constraint. Each variant names
/// the one constraint that can refuse it, on both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// `create_user`: another account has this email.
    #[error("an account with this email exists already")]
    EmailTaken,
    /// `create_user`: another account has this external identity (issuer, subject).
    #[error("an account with this external identity exists already")]
    IdentityTaken,
    /// `create_document`: a document with this id exists already.
    #[error("a document with this id exists already")]
    DocumentIdTaken,
    /// `create_document`: the workspace or the owner is gone (deleted meanwhile).
    #[error("the workspace or owner of the new document does not exist")]
    DocumentParentGone,
    /// `set_share`, `share_by_email`: the document or the user is gone.
    #[error("the document or user of the share does not exist")]
    ShareTargetGone,
    /// `create_link`: the document is gone.
    #[error("the document of the link does not exist")]
    LinkDocumentGone,
}

impl StoreError {
    /// Whether the database could not be reached or is refusing work for now (a retry
    /// may succeed), as opposed to a bug or bad data.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|code| match code.parse::<u32>() {
                    // SQLite's (extended) result codes: busy, locked, I/O error, cannot open.
                    Ok(n) if code.len() < 5 => matches!(n & 0xff, 5 | 6 | 10 | 14),
                    // Postgres SQLSTATEs: connection exceptions, shutting down or not yet
                    // accepting connections, too many connections, database missing
                    // (renamed, being restored).
                    _ => code.starts_with("08") || code.starts_with("57P") || matches!(&*code, "53300" | "3D000"),
                }),
                _ => false,
            },
            StoreError::WriterGone => true,
            _ => false,
        }
    }

    /// The typed conflict, if this is one.
    pub fn conflict(&self) -> Option<Conflict> {
        match self {
            StoreError::Conflict(c) => Some(*c),
            _ => None,
        }
    }
}

/// What a constraint violation of one statement means; anything else stays a
/// [`StoreError::Database`].
pub(super) struct Violations {
    /// For a unique violation: the conflict, given the constraint's name (Postgres) or
    /// the message naming its columns (SQLite); `None` for a key it does not know.
    pub unique: Option<fn(&str) -> Option<Conflict>>,
    pub foreign_key: Option<Conflict>,
}

impl Violations {
    pub(super) fn map(&self, e: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &e {
            if let Some(unique) = self.unique
                && db.is_unique_violation()
                && let Some(conflict) = unique(db.constraint().unwrap_or(db.message()))
            {
                return conflict.into();
            }
            if let Some(conflict) = self.foreign_key
                && db.is_foreign_key_violation()
            {
                return conflict.into();
            }
        }
        StoreError::Database(e)
    }
}

/// `users`: its email key or its external identity key, by their exact names
/// (migrations/*/0002: Postgres names them `users_<columns>_key`, SQLite's message lists
/// the columns); any other key stays a database error.
pub(super) const USER_KEYS: Violations = Violations {
    unique: Some(|key| match key {
        "users_email_key" | "UNIQUE constraint failed: users.email" => Some(Conflict::EmailTaken),
        "users_issuer_subject_key" | "UNIQUE constraint failed: users.issuer, users.subject" => {
            Some(Conflict::IdentityTaken)
        }
        _ => None,
    }),
    foreign_key: None,
};
pub(super) const NEW_DOCUMENT: Violations =
    Violations { unique: Some(|_| Some(Conflict::DocumentIdTaken)), foreign_key: Some(Conflict::DocumentParentGone) };
pub(super) const NEW_SHARE: Violations = Violations { unique: None, foreign_key: Some(Conflict::ShareTargetGone) };
pub(super) const NEW_LINK: Violations = Violations { unique: None, foreign_key: Some(Conflict::LinkDocumentGone) };
