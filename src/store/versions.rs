//! Version history: what a version keeps (the document's whole Yjs state and its
//! Markdown, deflated) and the [`Versions`] trait both backends implement
//! (`versions_sql.rs`). Contributors are recorded with the edits themselves
//! (`doc_contributors`, written by the log's append) and taken by the next version.

use std::io::{Read, Write};

use async_trait::async_trait;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use sha2::{Digest, Sha256};

use super::StoreError;
use super::comments::DocEvent;
use crate::config::Retention;
use crate::ids::{DocId, UserId, VersionId};

/// Most named and restore versions one document keeps (automatic ones are thinned).
pub const MAX_KEPT_VERSIONS: i64 = 1000;
/// Largest text or state a stored version inflates to (more means a corrupt row).
const MAX_INFLATED: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionKind {
    /// Saved by the room: on an interval while edited, and when it closes after edits.
    Auto,
    /// Saved by someone, with a name.
    Named,
    /// What the document became when an older version was restored.
    Restore,
}

impl VersionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionKind::Auto => "auto",
            VersionKind::Named => "named",
            VersionKind::Restore => "restore",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [VersionKind::Auto, VersionKind::Named, VersionKind::Restore].into_iter().find(|k| k.as_str() == s)
    }
}

/// A version to store, its parts already deflated.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub id: VersionId,
    pub document_id: DocId,
    pub kind: VersionKind,
    pub name: Option<String>,
    pub created_by: Option<UserId>,
    /// Size of the Markdown, in bytes.
    pub bytes: i64,
    pub content_hash: String,
    pub state: Vec<u8>,
    pub content: Vec<u8>,
}

impl NewVersion {
    pub fn new(
        doc: &DocId,
        kind: VersionKind,
        name: Option<String>,
        by: Option<UserId>,
        state: &[u8],
        text: &str,
    ) -> Self {
        NewVersion {
            id: VersionId::random(),
            document_id: doc.clone(),
            kind,
            name,
            created_by: by,
            bytes: text.len() as i64,
            content_hash: hex::encode(Sha256::digest(text.as_bytes())),
            state: deflate(state),
            content: deflate(text.as_bytes()),
        }
    }
}

/// A version without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMeta {
    pub id: VersionId,
    pub document_id: DocId,
    pub kind: VersionKind,
    pub name: Option<String>,
    pub created_at: i64,
    pub created_by: Option<UserId>,
    pub bytes: i64,
    /// Users whose edits landed since the previous version.
    pub contributors: Vec<UserId>,
}

/// A stored version: its description and its deflated parts.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    pub meta: VersionMeta,
    pub state: Vec<u8>,
    pub content: Vec<u8>,
}

impl StoredVersion {
    pub fn text(&self) -> Result<String, StoreError> {
        String::from_utf8(inflate(&self.content)?).map_err(|_| StoreError::Invalid("version text is not UTF-8".into()))
    }

    pub fn state(&self) -> Result<Vec<u8>, StoreError> {
        inflate(&self.state)
    }
}

/// A stored version and the event that announces it.
#[derive(Debug, Clone)]
pub struct Created {
    pub version: VersionMeta,
    pub event: DocEvent,
}

pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut enc = DeflateEncoder::new(Vec::with_capacity(bytes.len() / 3 + 16), Compression::fast());
    enc.write_all(bytes).expect("deflating into memory cannot fail");
    enc.finish().expect("deflating into memory cannot fail")
}

pub fn inflate(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    DeflateDecoder::new(bytes)
        .take(MAX_INFLATED)
        .read_to_end(&mut out)
        .map_err(|e| StoreError::Invalid(format!("version data does not inflate: {e}")))?;
    Ok(out)
}

/// Which automatic versions to delete, oldest first: of `versions` (one document's
/// automatic versions older than the youngest rule's age, by creation time), all but the
/// newest in each period its rule keeps.
pub fn thinned(versions: &[(VersionId, i64)], retention: &Retention, now: i64) -> Vec<VersionId> {
    let mut kept: std::collections::HashSet<(u64, i64)> = std::collections::HashSet::new();
    let mut doomed = Vec::new();
    // Newest first, so the first seen in each period is the one kept.
    let mut sorted: Vec<&(VersionId, i64)> = versions.iter().collect();
    sorted.sort_by_key(|(_, at)| std::cmp::Reverse(*at));
    for (id, at) in sorted {
        let age = std::time::Duration::from_millis(now.saturating_sub(*at).max(0) as u64);
        let Some(period) = retention.period_for(age) else { continue };
        let period_ms = period.as_millis().max(1) as i64;
        if !kept.insert((period.as_millis() as u64, at.div_euclid(period_ms))) {
            doomed.push(id.clone());
        }
    }
    doomed.reverse();
    doomed
}

#[async_trait]
pub trait Versions: Send + Sync + 'static {
    /// Stores a version with the contributors recorded since the last one, and its
    /// `version.created` event, in one transaction. An automatic version whose text equals
    /// the document's last version is not stored (`Ok(None)`); a named or restore version
    /// past [`MAX_KEPT_VERSIONS`] is refused ([`StoreError::Full`]).
    async fn create_version(&self, v: &NewVersion, now: i64) -> Result<Option<Created>, StoreError>;

    /// The document's versions, newest first, at most `limit`, before the cursor (the
    /// creation time and id of the last one seen).
    async fn versions(
        &self,
        doc: &DocId,
        limit: u32,
        before: Option<(i64, VersionId)>,
    ) -> Result<Vec<VersionMeta>, StoreError>;

    /// How many named and restore versions the document keeps.
    async fn kept_versions(&self, doc: &DocId) -> Result<i64, StoreError>;

    /// One version of the document, with its content.
    async fn version(&self, doc: &DocId, id: &VersionId) -> Result<Option<StoredVersion>, StoreError>;

    /// Deletes automatic versions the retention thins out, at most `max` per call;
    /// answers how many went.
    async fn thin_versions(&self, retention: &Retention, now: i64, max: u32) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_and_garbage_is_refused() {
        let text = "# Notes\n".repeat(10_000);
        let packed = deflate(text.as_bytes());
        assert!(packed.len() < text.len() / 10);
        assert_eq!(inflate(&packed).unwrap(), text.as_bytes());
        assert!(inflate(b"not deflate at all \xff\xff").is_err());
    }

    #[test]
    fn thinning_keeps_the_newest_per_period_and_everything_young() {
        let day = 86_400_000i64;
        let now = 200 * day;
        let r = Retention::parse("7d:1d,90d:1w").unwrap();
        let id = |n: i64| VersionId::new(format!("v{n}"));
        // Three a day for 150 days (an hour past midnight: none exactly 7 days old).
        let hour = 3_600_000;
        let versions: Vec<(VersionId, i64)> =
            (0..450).map(|n| (id(n), 50 * day + (n / 3) * day + (n % 3) * 3 * hour + hour)).collect();
        let doomed: std::collections::HashSet<VersionId> = thinned(&versions, &r, now).into_iter().collect();
        let kept: Vec<i64> = versions.iter().filter(|(v, _)| !doomed.contains(v)).map(|(_, at)| *at).collect();
        let young = kept.iter().filter(|at| now - **at < 7 * day).count();
        let daily = kept.iter().filter(|at| (7 * day..90 * day).contains(&(now - **at))).count();
        let weekly = kept.iter().filter(|at| now - **at >= 90 * day).count();
        assert_eq!(young, 3 * 7, "the last 7 days are untouched");
        assert!((82..=84).contains(&daily), "one a day between 7 and 90 days: {daily}");
        assert!((8..=10).contains(&weekly), "one a week past 90 days: {weekly}");
        assert!(thinned(&versions, &Retention::default(), now).is_empty());
    }
}
