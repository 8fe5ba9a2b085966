//! The documents half of the catalogue (metadata, tags, listing and search, the
//! searchable text, shares, links): [`Documents`] for [`SqlStore`], its SQL written once
//! for both backends except the ranked match ([`Dialect::search_query`]).

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, Type};

use super::StoreError;
use super::attachments_sql::AttachmentsOf;
use super::catalog::{DocAccess, DocQuery, Document, Documents, Link, Member, NewDocument, Role, SearchHit, SortKey};
use super::catalog_sql::{DOC_COLUMNS, DocRow, LinkRow, MemberRow, SearchRow, role, with_tags};
use super::dialect::{Dialect, RowsAffected};
use super::error::{NEW_DOCUMENT, NEW_LINK, NEW_SHARE};
use super::sql::SqlStore;
use crate::ids::{DocId, UserId, WorkspaceId};

impl<DB> SqlStore<DB>
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
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn tags_of(&self, ids: &[&str]) -> Result<Vec<(String, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = sqlx::QueryBuilder::<DB>::new("SELECT document_id, tag FROM document_tags WHERE document_id IN (");
        let mut list = qb.separated(", ");
        for id in ids {
            list.push_bind(id.to_string());
        }
        qb.push(") ORDER BY tag");
        Ok(qb.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn documents_with_tags(&self, rows: Vec<DocRow>) -> Result<Vec<Document>, StoreError> {
        let ids: Vec<&str> = rows.iter().map(|r| r.id()).collect();
        let tags = self.tags_of(&ids).await?;
        with_tags(rows, tags)
    }

    /// Visibility and filters of a listing, as `AND …` clauses on `documents d`.
    fn push_filters(qb: &mut sqlx::QueryBuilder<DB>, q: &DocQuery) {
        qb.push(" AND (d.workspace_id IN (SELECT workspace_id FROM workspace_members WHERE user_id = ");
        qb.push_bind(q.viewer.as_str().to_owned());
        qb.push(") OR d.id IN (SELECT document_id FROM document_shares WHERE user_id = ");
        qb.push_bind(q.viewer.as_str().to_owned());
        qb.push("))");
        qb.push(if q.deleted { " AND d.deleted_at IS NOT NULL" } else { " AND d.deleted_at IS NULL" });
        if let Some(ws) = &q.workspace {
            qb.push(" AND d.workspace_id = ");
            qb.push_bind(ws.as_str().to_owned());
        }
        if let Some(template) = q.template {
            qb.push(if template { " AND d.is_template <> 0" } else { " AND d.is_template = 0" });
        }
        if let Some(owner) = &q.owner {
            qb.push(" AND d.owner_id = ");
            qb.push_bind(owner.as_str().to_owned());
        }
        if let Some(tag) = &q.tag {
            qb.push(" AND EXISTS (SELECT 1 FROM document_tags t WHERE t.document_id = d.id AND t.tag = ");
            qb.push_bind(tag.clone());
            qb.push(")");
        }
    }
}

#[async_trait]
impl<DB> Documents for SqlStore<DB>
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
    for<'n> &'n str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn create_document(&self, doc: &NewDocument) -> Result<Document, StoreError> {
        let now = crate::store::catalog::now_ms();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO documents (id, workspace_id, title, owner_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(doc.id.as_str())
        .bind(doc.workspace_id.as_str())
        .bind(&doc.title)
        .bind(doc.owner_id.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| NEW_DOCUMENT.map(e))?;
        for tag in &doc.tags {
            sqlx::query("INSERT INTO document_tags (document_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(doc.id.as_str())
                .bind(tag)
                .execute(&mut *tx)
                .await?;
        }
        let data = serde_json::json!({"document_id": doc.id, "title": doc.title, "owner_id": doc.owner_id});
        Self::enqueue_in(&mut tx, doc.workspace_id.as_str(), "document.created", &data, (now, self.max_pending()))
            .await?;
        tx.commit().await?;
        let mut tags = doc.tags.clone();
        tags.sort();
        tags.dedup();
        Ok(Document {
            id: doc.id.clone(),
            workspace_id: doc.workspace_id.clone(),
            title: doc.title.clone(),
            owner_id: doc.owner_id.clone(),
            tags,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            is_template: false,
        })
    }

    async fn document(&self, id: &DocId) -> Result<Option<Document>, StoreError> {
        let sql = format!("SELECT {DOC_COLUMNS} FROM documents d WHERE d.id = $1");
        let row: Option<DocRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_optional(&self.pool).await?;
        match row {
            Some(row) => Ok(self.documents_with_tags(vec![row]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn workspace_document_ids(&self, ws: &WorkspaceId) -> Result<Vec<DocId>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM documents WHERE workspace_id = $1")
            .bind(ws.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(id,)| DocId::parse(&id).ok_or_else(|| StoreError::Invalid(format!("document id `{id}`"))))
            .collect()
    }

    async fn is_document(&self, id: &DocId) -> Result<bool, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM documents WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn list_documents(&self, q: &DocQuery) -> Result<Vec<Document>, StoreError> {
        let mut qb = sqlx::QueryBuilder::<DB>::new(format!("SELECT {DOC_COLUMNS} FROM documents d WHERE 1 = 1"));
        Self::push_filters(&mut qb, q);
        let col = match q.sort {
            SortKey::Created => "d.created_at",
            SortKey::Updated => "d.updated_at",
            SortKey::Title => "d.title",
        };
        let (cmp, dir) = if q.descending { ("<", "DESC") } else { (">", "ASC") };
        if let Some((value, id)) = &q.after {
            qb.push(format!(" AND ({col}, d.id) {cmp} ("));
            match q.sort {
                SortKey::Title => qb.push_bind(value.clone()),
                _ => qb.push_bind(value.parse::<i64>().unwrap_or(0)),
            };
            qb.push(", ");
            qb.push_bind(id.as_str().to_owned());
            qb.push(")");
        }
        qb.push(format!(" ORDER BY {col} {dir}, d.id {dir} LIMIT "));
        qb.push_bind(i64::from(q.limit));
        let rows: Vec<DocRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        self.documents_with_tags(rows).await
    }

    async fn search_documents(&self, q: &DocQuery, terms: &str, offset: u32) -> Result<Vec<SearchHit>, StoreError> {
        let Some(mut qb) = DB::search_query(terms) else {
            return Ok(Vec::new());
        };
        Self::push_filters(&mut qb, q);
        qb.push(" ORDER BY rank DESC, d.id LIMIT ");
        qb.push_bind(i64::from(q.limit));
        qb.push(" OFFSET ");
        qb.push_bind(i64::from(offset));
        let hits: Vec<SearchRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let ids: Vec<&str> = hits.iter().map(|h| h.doc.id()).collect();
        let tags = self.tags_of(&ids).await?;
        let (rows, extra): (Vec<DocRow>, Vec<(f64, String)>) =
            hits.into_iter().map(|h| (h.doc, (h.rank, h.snippet))).unzip();
        Ok(with_tags(rows, tags)?
            .into_iter()
            .zip(extra)
            .map(|(document, (rank, snippet))| SearchHit {
                document,
                rank,
                snippet: crate::store::search::snippet_html(&snippet),
            })
            .collect())
    }

    async fn update_document(
        &self,
        id: &DocId,
        title: Option<&str>,
        tags: Option<&[String]>,
        is_template: Option<bool>,
        now: i64,
    ) -> Result<Option<Document>, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE documents SET title = COALESCE($2, title), is_template = COALESCE($4, is_template), updated_at = $3
             WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(title)
        .bind(now)
        .bind(is_template.map(i64::from))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        if let Some(tags) = tags {
            sqlx::query("DELETE FROM document_tags WHERE document_id = $1").bind(id.as_str()).execute(&mut *tx).await?;
            for tag in tags {
                sqlx::query("INSERT INTO document_tags (document_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(id.as_str())
                    .bind(tag)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        self.document(id).await
    }

    async fn set_deleted(&self, id: &DocId, deleted_at: Option<i64>) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        // Only a document that was live is announced as deleted (trashing twice is quiet).
        let trashed: Option<(String, String)> = match deleted_at {
            Some(_) => {
                sqlx::query_as("SELECT workspace_id, title FROM documents WHERE id = $1 AND deleted_at IS NULL")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let done = sqlx::query("UPDATE documents SET deleted_at = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(deleted_at)
            .execute(&mut *tx)
            .await?;
        if let (Some((ws, title)), Some(at)) = (trashed, deleted_at) {
            let data = serde_json::json!({"document_id": id, "title": title, "permanent": false});
            Self::enqueue_in(&mut tx, &ws, "document.deleted", &data, (at, self.max_pending())).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_document(&self, id: &DocId) -> Result<Option<Vec<String>>, StoreError> {
        let mut tx = self.write_tx().await?;
        // A document deleted for good straight from the live list is announced here; one
        // already in the trash was announced when it went there.
        let live: Option<(String, String)> =
            sqlx::query_as("SELECT workspace_id, title FROM documents WHERE id = $1 AND deleted_at IS NULL")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((ws, title)) = live {
            let data = serde_json::json!({"document_id": id, "title": title, "permanent": true});
            let at = (crate::store::catalog::now_ms(), self.max_pending());
            Self::enqueue_in(&mut tx, &ws, "document.deleted", &data, at).await?;
        }
        let blobs = Self::delete_attachments_in(&mut tx, AttachmentsOf::Document(id)).await?;
        sqlx::query("DELETE FROM doc_updates WHERE doc_id = $1").bind(id.as_str()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM doc_snapshots WHERE doc_id = $1").bind(id.as_str()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM doc_contributors WHERE doc_id = $1").bind(id.as_str()).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM documents WHERE id = $1").bind(id.as_str()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok((done.rows_affected() == 1).then_some(blobs))
    }

    async fn set_document_text(&self, id: &DocId, text: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE documents SET content_text = $2, updated_at = $3 WHERE id = $1 AND content_text <> $2")
            .bind(id.as_str())
            .bind(text)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn document_access(&self, id: &DocId, user: &UserId) -> Result<Option<DocAccess>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            doc: DocRow,
            ws_role: Option<String>,
            share_role: Option<String>,
        }
        let sql = format!(
            "SELECT {DOC_COLUMNS}, m.role AS ws_role, s.role AS share_role FROM documents d
             LEFT JOIN workspace_members m ON m.workspace_id = d.workspace_id AND m.user_id = $2
             LEFT JOIN document_shares s ON s.document_id = d.id AND s.user_id = $2
             WHERE d.id = $1"
        );
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let workspace_role = row.ws_role.as_deref().map(role).transpose()?;
        let share_role = row.share_role.as_deref().map(role).transpose()?;
        let document = self.documents_with_tags(vec![row.doc]).await?.pop();
        Ok(document.map(|document| DocAccess { document, workspace_role, share_role }))
    }

    async fn shares(&self, doc: &DocId) -> Result<Vec<Member>, StoreError> {
        let rows: Vec<MemberRow> = sqlx::query_as(
            "SELECT u.id, u.email, u.name, u.created_at, s.role FROM document_shares s
             JOIN users u ON u.id = s.user_id WHERE s.document_id = $1 ORDER BY s.created_at, u.id",
        )
        .bind(doc.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(MemberRow::into_member).collect()
    }

    async fn set_share(&self, doc: &DocId, user: &UserId, r: Role, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO document_shares (document_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (document_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(doc.as_str())
        .bind(user.as_str())
        .bind(r.as_str())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| NEW_SHARE.map(e))?;
        Ok(())
    }

    async fn remove_share(&self, doc: &DocId, user: &UserId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM document_shares WHERE document_id = $1 AND user_id = $2")
            .bind(doc.as_str())
            .bind(user.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn share_by_email(&self, doc: &DocId, email: &str, r: Role, now: i64) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let user: Option<(String,)> =
            sqlx::query_as("SELECT id FROM users WHERE email = $1").bind(email).fetch_optional(&mut *tx).await?;
        let (sql, who) = match &user {
            Some((id,)) => (
                "INSERT INTO document_shares (document_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (document_id, user_id) DO UPDATE SET role = excluded.role",
                id.as_str(),
            ),
            None => (
                "INSERT INTO pending_shares (document_id, email, role, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (document_id, email) DO UPDATE SET role = excluded.role",
                email,
            ),
        };
        sqlx::query(sql)
            .bind(doc.as_str())
            .bind(who)
            .bind(r.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| NEW_SHARE.map(e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_share_by_email(&self, doc: &DocId, email: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let shares = sqlx::query(
            "DELETE FROM document_shares
             WHERE document_id = $1 AND user_id IN (SELECT id FROM users WHERE email = $2)",
        )
        .bind(doc.as_str())
        .bind(email)
        .execute(&mut *tx)
        .await?;
        let pending = sqlx::query("DELETE FROM pending_shares WHERE document_id = $1 AND email = $2")
            .bind(doc.as_str())
            .bind(email)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(shares.rows_affected() + pending.rows_affected() > 0)
    }

    async fn create_link(&self, link: &Link) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO public_links (id, token, document_id, role, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&link.id)
            .bind(&link.token)
            .bind(link.document_id.as_str())
            .bind(link.role.as_str())
            .bind(link.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| NEW_LINK.map(e))?;
        Ok(())
    }

    async fn links(&self, doc: &DocId) -> Result<Vec<Link>, StoreError> {
        let rows: Vec<LinkRow> = sqlx::query_as(
            "SELECT id, token, document_id, role, created_at FROM public_links
             WHERE document_id = $1 AND revoked_at IS NULL ORDER BY created_at, id",
        )
        .bind(doc.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(LinkRow::into_link).collect()
    }

    async fn revoke_link(&self, doc: &DocId, id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE public_links SET revoked_at = $3 WHERE document_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(doc.as_str())
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn link_by_token(&self, token: &str) -> Result<Option<Link>, StoreError> {
        let row: Option<LinkRow> = sqlx::query_as(
            "SELECT id, token, document_id, role, created_at FROM public_links
             WHERE token = $1 AND revoked_at IS NULL",
        )
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        row.map(LinkRow::into_link).transpose()
    }
}
