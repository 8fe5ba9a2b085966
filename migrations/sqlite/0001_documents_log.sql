-- The durable state of every document: one snapshot plus the update log written after it.
CREATE TABLE doc_snapshots (
    doc_id     TEXT PRIMARY KEY NOT NULL,
    data       BLOB NOT NULL,
    upto_seq   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL DEFAULT (unixepoch())
);

CREATE TABLE doc_updates (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id     TEXT NOT NULL,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);

CREATE INDEX doc_updates_doc_seq ON doc_updates (doc_id, seq);
