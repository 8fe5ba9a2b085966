-- Version history and templates. Times are Unix milliseconds; ids are random hex strings.

-- A version holds what it takes to read it without replaying the log: the document's
-- whole Yjs state and its Markdown, both deflated; `contributors` is a JSON array of the
-- ids of the users whose edits landed since the previous version.
CREATE TABLE doc_versions (
    id           TEXT PRIMARY KEY,
    document_id  TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT,
    created_at   BIGINT NOT NULL,
    created_by   TEXT,
    bytes        BIGINT NOT NULL,
    content_hash TEXT NOT NULL,
    state        BYTEA NOT NULL,
    content      BYTEA NOT NULL,
    contributors TEXT NOT NULL
);
CREATE INDEX doc_versions_document ON doc_versions (document_id, created_at);

-- The users whose edits landed since the document's last version, written in the
-- transaction that appends their edits to the log (so compaction cannot lose them) and
-- taken by the next version. No foreign keys: rows for an application's room (which has
-- no catalogue row) must never make an append fail.
CREATE TABLE doc_contributors (
    doc_id  TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (doc_id, user_id)
);

ALTER TABLE documents ADD COLUMN is_template BIGINT NOT NULL DEFAULT 0;
ALTER TABLE document_events ADD COLUMN version_id TEXT;
