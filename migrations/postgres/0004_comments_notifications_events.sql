-- Comment threads, their replies, the notifications they send and each document's
-- stream of stored events. Times are Unix milliseconds; ids are random hex strings.

-- A thread is its first message (thread_id = id); replies share its thread_id. The
-- anchor is a pair of encoded Yjs relative positions into the document's content, with
-- the text it quoted when it was made; threads on the whole document have none.
CREATE TABLE comments (
    id           TEXT PRIMARY KEY,
    document_id  TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    thread_id    TEXT NOT NULL,
    author_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body         TEXT NOT NULL,
    anchor_start BYTEA,
    anchor_end   BYTEA,
    quote        TEXT,
    resolved_at  BIGINT,
    resolved_by  TEXT,
    created_at   BIGINT NOT NULL,
    edited_at    BIGINT
);
CREATE INDEX comments_document ON comments (document_id, thread_id, created_at);

CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    comment_id  TEXT NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    read_at     BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_id, created_at);

-- What happened to a document, numbered per document in commit order: the counter lives
-- on the document's row, so the writer that takes the next number holds that row until it
-- commits and readers never see number n+1 before n.
ALTER TABLE documents ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE document_events (
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    thread_id   TEXT,
    comment_id  TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (document_id, seq)
);
