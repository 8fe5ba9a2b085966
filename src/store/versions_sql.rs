//! [`Versions`] for [`SqlStore`]: versions, their contributors and their events, written
//! once for both backends.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, Type};

use super::StoreError;
use super::comments::EventKind;
use super::dialect::Dialect;
use super::sql::SqlStore;
use super::versions::{
    Created, MAX_KEPT_VERSIONS, NewVersion, StoredVersion, VersionKind, VersionMeta, Versions, thinned,
};
use crate::config::Retention;
use crate::ids::{DocId, UserId, VersionId};

const META: &str = "id, document_id, kind, name, created_at, created_by, bytes, contributors";

#[derive(FromRow)]
struct MetaRow {
    id: String,
    document_id: String,
    kind: String,
    name: Option<String>,
    created_at: i64,
    created_by: Option<String>,
    bytes: i64,
    contributors: String,
}

impl TryFrom<MetaRow> for VersionMeta {
    type Error = StoreError;

    fn try_from(r: MetaRow) -> Result<Self, StoreError> {
        let invalid = |what: &str| StoreError::Invalid(format!("version {}: {what}", r.id));
        let contributors: Vec<String> = serde_json::from_str(&r.contributors).map_err(|_| invalid("contributors"))?;
        Ok(VersionMeta {
            kind: VersionKind::parse(&r.kind).ok_or_else(|| invalid("kind"))?,
            document_id: DocId::parse(&r.document_id).ok_or_else(|| invalid("document id"))?,
            id: VersionId::new(r.id),
            name: r.name,
            created_at: r.created_at,
            created_by: r.created_by.map(UserId::new),
            bytes: r.bytes,
            contributors: contributors.into_iter().map(UserId::new).collect(),
        })
    }
}

#[derive(FromRow)]
struct FullRow {
    #[sqlx(flatten)]
    meta: MetaRow,
    state: Vec<u8>,
    content: Vec<u8>,
}

#[async_trait]
impl<DB> Versions for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> f64: Decode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<Vec<u8>>: Encode<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn create_version(&self, v: &NewVersion, now: i64) -> Result<Option<Created>, StoreError> {
        let mut tx = self.write_tx().await?;
        // The document's row first: versions of one document are written one at a time.
        let found = sqlx::query("UPDATE documents SET event_seq = event_seq WHERE id = $1")
            .bind(v.document_id.as_str())
            .execute(&mut *tx)
            .await?;
        if super::dialect::RowsAffected::rows_affected(&found) == 0 {
            return Err(StoreError::Invalid(format!("no document {}", v.document_id)));
        }
        if v.kind != VersionKind::Auto {
            let (kept,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM doc_versions WHERE document_id = $1 AND kind <> 'auto'")
                    .bind(v.document_id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
            if kept >= MAX_KEPT_VERSIONS {
                return Err(StoreError::Full(format!("a document keeps at most {MAX_KEPT_VERSIONS} named versions")));
            }
        }
        if v.kind == VersionKind::Auto {
            let last: Option<(String,)> = sqlx::query_as(
                "SELECT content_hash FROM doc_versions WHERE document_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
            )
            .bind(v.document_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if last.is_some_and(|(hash,)| hash == v.content_hash) {
                return Ok(None);
            }
        }
        let taken: Vec<(String,)> = sqlx::query_as("DELETE FROM doc_contributors WHERE doc_id = $1 RETURNING user_id")
            .bind(v.document_id.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let mut contributors: Vec<String> = taken.into_iter().map(|(u,)| u).collect();
        contributors.sort();
        let listed = serde_json::to_string(&contributors).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO doc_versions (id, document_id, kind, name, created_at, created_by, bytes, content_hash,
                 state, content, contributors)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(v.id.as_str())
        .bind(v.document_id.as_str())
        .bind(v.kind.as_str())
        .bind(v.name.as_deref())
        .bind(now)
        .bind(v.created_by.as_ref().map(UserId::as_str))
        .bind(v.bytes)
        .bind(v.content_hash.as_str())
        .bind(v.state.clone())
        .bind(v.content.clone())
        .bind(listed)
        .execute(&mut *tx)
        .await?;
        let subject = (None, None, Some(v.id.clone()));
        let at = (now, self.max_pending());
        let event = Self::next_event(&mut tx, &v.document_id, EventKind::VersionCreated, subject, at).await?;
        tx.commit().await?;
        let version = VersionMeta {
            id: v.id.clone(),
            document_id: v.document_id.clone(),
            kind: v.kind,
            name: v.name.clone(),
            created_at: now,
            created_by: v.created_by.clone(),
            bytes: v.bytes,
            contributors: contributors.into_iter().map(UserId::new).collect(),
        };
        Ok(Some(Created { version, event }))
    }

    async fn versions(
        &self,
        doc: &DocId,
        limit: u32,
        before: Option<(i64, VersionId)>,
    ) -> Result<Vec<VersionMeta>, StoreError> {
        let mut qb = sqlx::QueryBuilder::<DB>::new(format!("SELECT {META} FROM doc_versions WHERE document_id = "));
        qb.push_bind(doc.as_str().to_owned());
        if let Some((at, id)) = before {
            qb.push(" AND (created_at < ");
            qb.push_bind(at);
            qb.push(" OR (created_at = ");
            qb.push_bind(at);
            qb.push(" AND id < ");
            qb.push_bind(id.as_str().to_owned());
            qb.push("))");
        }
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ");
        qb.push_bind(i64::from(limit));
        let rows: Vec<MetaRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(VersionMeta::try_from).collect()
    }

    async fn kept_versions(&self, doc: &DocId) -> Result<i64, StoreError> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM doc_versions WHERE document_id = $1 AND kind <> 'auto'")
                .bind(doc.as_str())
                .fetch_one(&self.pool)
                .await?;
        Ok(n)
    }

    async fn version(&self, doc: &DocId, id: &VersionId) -> Result<Option<StoredVersion>, StoreError> {
        let sql = format!("SELECT {META}, state, content FROM doc_versions WHERE document_id = $1 AND id = $2");
        let row: Option<FullRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(doc.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(StoredVersion { meta: r.meta.try_into()?, state: r.state, content: r.content })).transpose()
    }

    async fn thin_versions(&self, retention: &Retention, now: i64, max: u32) -> Result<u64, StoreError> {
        let Some(min_age) = retention.min_age() else { return Ok(0) };
        let cutoff = now - min_age.as_millis() as i64;
        // The documents with automatic versions old enough to thin, a page at a time.
        let mut after = String::new();
        let mut deleted = 0u64;
        loop {
            let docs: Vec<(String,)> = sqlx::query_as(
                "SELECT DISTINCT document_id FROM doc_versions
                 WHERE kind = 'auto' AND created_at <= $1 AND document_id > $2 ORDER BY document_id LIMIT 500",
            )
            .bind(cutoff)
            .bind(after.as_str())
            .fetch_all(&self.pool)
            .await?;
            let Some((last,)) = docs.last() else { return Ok(deleted) };
            after = last.clone();
            for (doc,) in docs {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT id, created_at FROM doc_versions WHERE document_id = $1 AND kind = 'auto' AND created_at <= $2",
                )
                .bind(doc.as_str())
                .bind(cutoff)
                .fetch_all(&self.pool)
                .await?;
                let rows: Vec<(VersionId, i64)> = rows.into_iter().map(|(id, at)| (VersionId::new(id), at)).collect();
                let doomed = thinned(&rows, retention, now);
                let doomed = &doomed[..doomed.len().min((u64::from(max) - deleted) as usize)];
                if doomed.is_empty() {
                    continue;
                }
                // One transaction per document.
                let mut tx = self.write_tx().await?;
                for id in doomed {
                    sqlx::query("DELETE FROM doc_versions WHERE id = $1").bind(id.as_str()).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                deleted += doomed.len() as u64;
                if deleted >= u64::from(max) {
                    return Ok(deleted);
                }
            }
        }
    }
}
