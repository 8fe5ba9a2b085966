-- The durable state of every document: one snapshot plus the update log written after it.
CREATE TABLE doc_snapshots (
    doc_id     TEXT PRIMARY KEY,
    data       BYTEA NOT NULL,
    upto_seq   BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE doc_updates (
    seq        BIGSERIAL PRIMARY KEY,
    doc_id     TEXT NOT NULL,
    data       BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX doc_updates_doc_seq ON doc_updates (doc_id, seq);
