//! [`Changes`] for [`SqlStore`]: the feed read in one snapshot from three sources (the
//! documents' own change numbers, their content commits, the per-user access records),
//! written once for both backends; where the horizon lies is the [`Dialect`]'s.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, Type};

use super::StoreError;
use super::catalog_sql::{DOC_COLUMNS, DocRow};
use super::changes::{Change, ChangeCursor, ChangeKind, Changes, ChangesPage, ChangesRead};
use super::dialect::Dialect;
use super::sql::SqlStore;
use crate::ids::{DocId, UserId};

/// The documents `$1` can read, as a condition on `documents d`.
const VISIBLE: &str = "(d.workspace_id IN (SELECT workspace_id FROM workspace_members WHERE user_id = $1)
     OR d.id IN (SELECT document_id FROM document_shares WHERE user_id = $1))";

/// The feed's rows `(k, doc_id)` after the cursor (`$2`, `$3`) and below the horizon
/// (`$4`), in order; `$5` is the limit.
fn page_sql(after_doc: bool) -> String {
    let after = if after_doc { "(k > $2 OR (k = $2 AND doc_id > $3))" } else { "k > $2" };
    format!(
        "SELECT k, doc_id FROM (
             SELECT d.change_seq AS k, d.id AS doc_id FROM documents d WHERE {VISIBLE}
             UNION ALL
             SELECT c.seq AS k, c.doc_id AS doc_id FROM doc_content_changes c
                 JOIN documents d ON d.id = c.doc_id WHERE {VISIBLE}
             UNION ALL
             SELECT a.seq AS k, a.document_id AS doc_id FROM doc_access_changes a WHERE a.user_id = $1
         ) x
         WHERE {after} AND k < $4
         ORDER BY k, doc_id LIMIT $5"
    )
}

#[derive(FromRow)]
struct StateRow {
    #[sqlx(flatten)]
    doc: DocRow,
    content_at: Option<i64>,
    visible: i64,
}

fn doc_id(id: &str) -> Result<DocId, StoreError> {
    DocId::parse(id).ok_or_else(|| StoreError::Invalid(format!("document id `{id}`")))
}

#[async_trait]
impl<DB> Changes for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn change_instance(&self) -> Result<String, StoreError> {
        let (instance,): (String,) =
            sqlx::query_as("SELECT instance FROM change_clock WHERE id = 1").fetch_one(&self.pool).await?;
        Ok(instance)
    }

    async fn changes_since(&self, user: &UserId, since: &ChangeCursor, limit: u32) -> Result<ChangesRead, StoreError> {
        let mut tx = self.pool.begin_with(DB::BEGIN_SNAPSHOT).await?;
        // The horizon first: it fixes the snapshot every read below shares.
        let (horizon,): (i64,) = sqlx::query_as(DB::CHANGE_HORIZON).fetch_one(&mut *tx).await?;
        let (pruned_upto,): (i64,) =
            sqlx::query_as("SELECT pruned_upto FROM change_clock WHERE id = 1").fetch_one(&mut *tx).await?;
        if since.seq >= 0 && since.seq < pruned_upto {
            return Ok(ChangesRead::Expired);
        }
        if since.seq >= horizon {
            return Ok(ChangesRead::Ahead);
        }
        let sql = page_sql(since.after.is_some());
        let rows: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user.as_str())
            .bind(since.seq)
            .bind(since.after.as_ref().map_or("", DocId::as_str))
            .bind(horizon)
            .bind(i64::from(limit) + 1)
            .fetch_all(&mut *tx)
            .await?;
        let more = rows.len() > limit as usize;
        let rows = &rows[..rows.len().min(limit as usize)];
        let next = match rows.last() {
            Some((k, id)) if more => ChangeCursor { seq: *k, after: Some(doc_id(id)?) },
            _ => ChangeCursor { seq: since.seq.max(horizon - 1), after: None },
        };
        // Each document once, where it last changed.
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, (_, id)) in rows.iter().enumerate() {
            last.insert(id.as_str(), i);
        }
        let mut order: Vec<(usize, &str)> = last.into_iter().map(|(id, i)| (i, id)).collect();
        order.sort_unstable();
        let ids: Vec<&str> = order.iter().map(|(_, id)| *id).collect();
        let states = self.states(&mut tx, user, &ids).await?;
        tx.commit().await?;
        let mut changes = Vec::with_capacity(ids.len());
        let mut states = states;
        for id in ids {
            let kind = match states.remove(id) {
                Some((document, updated_at, true)) => ChangeKind::Upserted { document, updated_at },
                Some(_) => ChangeKind::Removed,
                None => ChangeKind::Deleted,
            };
            changes.push(Change { document_id: doc_id(id)?, kind });
        }
        Ok(ChangesRead::Page(ChangesPage { changes, next, more }))
    }

    async fn prune_changes(&self, before: i64) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let (upto,): (Option<i64>,) = sqlx::query_as("SELECT MAX(seq) FROM doc_access_changes WHERE at < $1")
            .bind(before)
            .fetch_one(&mut *tx)
            .await?;
        let Some(upto) = upto else { return Ok(0) };
        // Raised first: a cursor below it is refused from the moment its rows are gone.
        sqlx::query("UPDATE change_clock SET pruned_upto = $1 WHERE id = 1 AND pruned_upto < $1")
            .bind(upto)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM doc_access_changes WHERE seq <= $1").bind(upto).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(super::dialect::RowsAffected::rows_affected(&done))
    }
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Decode<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    /// The documents that still exist among `ids`: each with its tags, when it last
    /// changed, and whether `user` can read it.
    async fn states(
        &self,
        tx: &mut DB::Connection,
        user: &UserId,
        ids: &[&str],
    ) -> Result<HashMap<String, (crate::store::catalog::Document, i64, bool)>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut qb = sqlx::QueryBuilder::<DB>::new(format!(
            "SELECT {DOC_COLUMNS}, c.at AS content_at, CAST(CASE WHEN (d.workspace_id IN
                 (SELECT workspace_id FROM workspace_members WHERE user_id = "
        ));
        qb.push_bind(user.as_str().to_owned());
        qb.push(") OR d.id IN (SELECT document_id FROM document_shares WHERE user_id = ");
        qb.push_bind(user.as_str().to_owned());
        qb.push(
            ")) THEN 1 ELSE 0 END AS BIGINT) AS visible
             FROM documents d LEFT JOIN doc_content_changes c ON c.doc_id = d.id WHERE d.id IN (",
        );
        let mut list = qb.separated(", ");
        for id in ids {
            list.push_bind(id.to_string());
        }
        qb.push(")");
        let rows: Vec<StateRow> = qb.build_query_as().fetch_all(&mut *tx).await?;
        let mut tags_qb =
            sqlx::QueryBuilder::<DB>::new("SELECT document_id, tag FROM document_tags WHERE document_id IN (");
        let mut list = tags_qb.separated(", ");
        for id in ids {
            list.push_bind(id.to_string());
        }
        tags_qb.push(") ORDER BY tag");
        let tags: Vec<(String, String)> = tags_qb.build_query_as().fetch_all(&mut *tx).await?;
        let mut tags_of: HashMap<String, Vec<String>> = HashMap::new();
        for (doc, tag) in tags {
            tags_of.entry(doc).or_default().push(tag);
        }
        let mut out = HashMap::with_capacity(rows.len());
        for row in rows {
            let id = row.doc.id().to_owned();
            let document = row.doc.into_document(tags_of.remove(&id).unwrap_or_default())?;
            let updated_at = document.updated_at.max(row.content_at.unwrap_or(0));
            out.insert(id, (document, updated_at, row.visible != 0));
        }
        Ok(out)
    }
}
