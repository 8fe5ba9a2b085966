-- Profiles (an avatar beside the name) and the changes feed a sync client reads.

ALTER TABLE users ADD COLUMN avatar_url TEXT;

-- The feed's clock. On SQLite every write transaction holds the one write lock, so a
-- counter bumped inside it is handed out in commit order: a reader that has seen value
-- n has seen every change numbered n or less. `instance` tells this database's cursors
-- from another's; `pruned_upto` is the highest number whose access rows were dropped by
-- retention (a cursor below it may have missed a deletion: 410 cursor_expired).
CREATE TABLE change_clock (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    instance    TEXT NOT NULL,
    value       BIGINT NOT NULL,
    pruned_upto BIGINT NOT NULL DEFAULT 0
);
INSERT INTO change_clock (id, instance, value) VALUES (1, lower(hex(randomblob(8))), 0);

-- The number of the document row's last change (metadata, trash, owner).
ALTER TABLE documents ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX documents_change ON documents (change_seq);

-- The number of each document's last content commit: written once per group commit per
-- document, in the transaction that appends its updates. No foreign key: an append must
-- never fail (rooms of room tokens have no catalogue row); rows go with their document.
CREATE TABLE doc_content_changes (
    doc_id TEXT PRIMARY KEY,
    seq    BIGINT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX doc_content_changes_seq ON doc_content_changes (seq);

-- Per user: documents they gained access to (`granted`), lost access to (`revoked`)
-- and that were deleted for good while they could see them (`deleted`). Kept for the
-- retention period (--changes-retention); written by the triggers below, so every path
-- that changes membership, shares or documents records them in its own transaction.
CREATE TABLE doc_access_changes (
    user_id     TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    document_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX doc_access_changes_user ON doc_access_changes (user_id, seq, document_id);
CREATE INDEX doc_access_changes_seq ON doc_access_changes (seq);

CREATE TRIGGER documents_changed_insert AFTER INSERT ON documents BEGIN
    UPDATE change_clock SET value = value + 1 WHERE id = 1;
    UPDATE documents SET change_seq = (SELECT value FROM change_clock WHERE id = 1) WHERE id = NEW.id;
END;

CREATE TRIGGER documents_changed_update
AFTER UPDATE OF title, owner_id, workspace_id, updated_at, deleted_at, is_template ON documents BEGIN
    UPDATE change_clock SET value = value + 1 WHERE id = 1;
    UPDATE documents SET change_seq = (SELECT value FROM change_clock WHERE id = 1) WHERE id = NEW.id;
END;

-- Before the delete: the shares (cascaded away with the row) still name who could see it.
CREATE TRIGGER documents_changed_delete BEFORE DELETE ON documents BEGIN
    UPDATE change_clock SET value = value + 1 WHERE id = 1;
    INSERT INTO doc_access_changes (user_id, seq, document_id, kind, at)
    SELECT who.user_id, (SELECT value FROM change_clock WHERE id = 1), OLD.id, 'deleted',
           CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
    FROM (SELECT user_id FROM workspace_members WHERE workspace_id = OLD.workspace_id
          UNION SELECT user_id FROM document_shares WHERE document_id = OLD.id) who;
    DELETE FROM doc_content_changes WHERE doc_id = OLD.id;
END;

CREATE TRIGGER workspace_members_changed_insert AFTER INSERT ON workspace_members BEGIN
    UPDATE change_clock SET value = value + 1 WHERE id = 1;
    INSERT INTO doc_access_changes (user_id, seq, document_id, kind, at)
    SELECT NEW.user_id, (SELECT value FROM change_clock WHERE id = 1), d.id, 'granted',
           CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
    FROM documents d WHERE d.workspace_id = NEW.workspace_id;
END;

CREATE TRIGGER workspace_members_changed_delete AFTER DELETE ON workspace_members BEGIN
    UPDATE change_clock SET value = value + 1 WHERE id = 1;
    INSERT INTO doc_access_changes (user_id, seq, document_id, kind, at)
    SELECT OLD.user_id, (SELECT value FROM change_clock WHERE id = 1), d.id, 'revoked',
           CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
    FROM documents d WHERE d.workspace_id = OLD.workspace_id;
END;

CREATE TRIGGER document_shares_changed_insert AFTER INSERT ON document_shares BEGIN
    UPDATE change_clock SET value = value + 1 WHERE id = 1;
    INSERT INTO doc_access_changes (user_id, seq, document_id, kind, at)
    VALUES (NEW.user_id, (SELECT value FROM change_clock WHERE id = 1), NEW.document_id, 'granted',
            CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

CREATE TRIGGER document_shares_changed_delete AFTER DELETE ON document_shares BEGIN
    UPDATE change_clock SET value = value + 1 WHERE id = 1;
    INSERT INTO doc_access_changes (user_id, seq, document_id, kind, at)
    VALUES (OLD.user_id, (SELECT value FROM change_clock WHERE id = 1), OLD.document_id, 'revoked',
            CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
