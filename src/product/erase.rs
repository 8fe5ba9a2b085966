//! Deleting documents for good, the same way wherever it happens (a document's permanent
//! deletion, a workspace's, an account's): live rooms close, the rows go in one store
//! transaction that also answers the attachment blobs whose rows it deleted, those blobs
//! are removed once no row uses them, and every open connection looks at its access
//! again. Called by `api::documents`, `api::workspaces`, `api::account` and
//! `api::attachments`.

use crate::identity::access;
use crate::ids::DocId;
use crate::state::AppState;

/// Closes the documents' live rooms (4403) without writing anything more: before their
/// deletion, and by [`deleted`] again after it (for a room a join opened in between).
pub async fn close_rooms(app: &AppState, docs: &[DocId]) {
    for doc in docs {
        app.rooms.evict(doc).await;
    }
}

/// After the deletion of `docs` committed: their rooms close again, `blobs` (what the
/// deleting transaction answered) are released, and every open connection, on every
/// node, looks at its access again.
pub async fn deleted(app: &AppState, docs: &[DocId], blobs: &[String]) {
    close_rooms(app, docs).await;
    release_blobs(app, blobs).await;
    access::changed(app);
}

/// Removes those of `blobs` no attachment row uses any more: called after the rows'
/// deletion has committed. Each is checked and removed under its lock, so an upload of
/// the same bytes in between keeps its blob. A failure is logged and leaves only an
/// unused file behind.
pub async fn release_blobs(app: &AppState, blobs: &[String]) {
    for sha256 in blobs {
        let _lock = app.blobs.lock(sha256).await;
        let outcome = match app.store.blob_in_use(sha256).await {
            Ok(true) => Ok(()),
            Ok(false) => app.blobs.remove(sha256).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = outcome {
            tracing::warn!(blob = %sha256, %error, "an unused attachment blob was not removed");
        }
    }
}
