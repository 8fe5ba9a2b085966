-- Files attached to documents (pasted images, uploaded files). The bytes live outside the
-- database, content-addressed by `sha256` (lowercase hex) in the blob store: rows with the
-- same bytes share one blob, removed when its last row goes. `content_type` is what the
-- server sniffed from the bytes, never what the client claimed; `name` is the client's file
-- name, only ever shown or offered as a download name. `workspace_id` is the document's,
-- kept here so the workspace's quota is one indexed sum. Times are Unix milliseconds.
CREATE TABLE attachments (
    id           TEXT PRIMARY KEY,
    document_id  TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    created_by   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX attachments_document ON attachments (document_id, created_at);
CREATE INDEX attachments_workspace ON attachments (workspace_id);
CREATE INDEX attachments_sha256 ON attachments (sha256);
