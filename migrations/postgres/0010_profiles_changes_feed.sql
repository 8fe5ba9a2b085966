-- Profiles (an avatar beside the name) and the changes feed a sync client reads.

ALTER TABLE users ADD COLUMN avatar_url TEXT;

-- The feed numbers each change with the id of the transaction that made it
-- (pg_current_xact_id, 64 bits, never wraps). Transactions commit out of id order, so a
-- reader only hands out changes below the oldest transaction still running
-- (pg_snapshot_xmin of its snapshot): everything below it has committed or aborted, and
-- anything that commits later has a larger number. No lock is shared by writers: nodes
-- and the group commit never wait on each other for the feed. `instance` tells this
-- database's cursors from another's; `pruned_upto` is the highest number whose access
-- rows were dropped by retention (a cursor below it: 410 cursor_expired).
CREATE TABLE change_clock (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    instance    TEXT NOT NULL,
    pruned_upto BIGINT NOT NULL DEFAULT 0
);
INSERT INTO change_clock (id, instance) VALUES (1, substr(md5(random()::text || clock_timestamp()::text), 1, 16));

CREATE FUNCTION tandem_change_seq() RETURNS BIGINT LANGUAGE sql VOLATILE
AS $$ SELECT pg_current_xact_id()::text::bigint $$;

CREATE FUNCTION tandem_now_ms() RETURNS BIGINT LANGUAGE sql VOLATILE
AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

-- The number of the document row's last change (metadata, trash, owner).
ALTER TABLE documents ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX documents_change ON documents (change_seq);

-- The number of each document's last content commit: written once per group commit per
-- document, in the statement that appends its updates. No foreign key: an append must
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

CREATE FUNCTION tandem_document_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_seq := tandem_change_seq();
    RETURN NEW;
END $$;

CREATE TRIGGER documents_changed_insert BEFORE INSERT ON documents
FOR EACH ROW EXECUTE FUNCTION tandem_document_changed();
CREATE TRIGGER documents_changed_update
BEFORE UPDATE OF title, owner_id, workspace_id, updated_at, deleted_at, is_template ON documents
FOR EACH ROW EXECUTE FUNCTION tandem_document_changed();

-- Before the delete: the shares (cascaded away with the row) still name who could see it.
CREATE FUNCTION tandem_document_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO doc_access_changes (user_id, seq, document_id, kind, at)
    SELECT who.user_id, tandem_change_seq(), OLD.id, 'deleted', tandem_now_ms()
    FROM (SELECT user_id FROM workspace_members WHERE workspace_id = OLD.workspace_id
          UNION SELECT user_id FROM document_shares WHERE document_id = OLD.id) who;
    DELETE FROM doc_content_changes WHERE doc_id = OLD.id;
    RETURN OLD;
END $$;
CREATE TRIGGER documents_changed_delete BEFORE DELETE ON documents
FOR EACH ROW EXECUTE FUNCTION tandem_document_deleted();

CREATE FUNCTION tandem_member_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO doc_access_changes (user_id, seq, document_id, kind, at)
        SELECT NEW.user_id, tandem_change_seq(), d.id, 'granted', tandem_now_ms()
        FROM documents d WHERE d.workspace_id = NEW.workspace_id;
        RETURN NEW;
    END IF;
    INSERT INTO doc_access_changes (user_id, seq, document_id, kind, at)
    SELECT OLD.user_id, tandem_change_seq(), d.id, 'revoked', tandem_now_ms()
    FROM documents d WHERE d.workspace_id = OLD.workspace_id;
    RETURN OLD;
END $$;
CREATE TRIGGER workspace_members_changed AFTER INSERT OR DELETE ON workspace_members
FOR EACH ROW EXECUTE FUNCTION tandem_member_changed();

CREATE FUNCTION tandem_share_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO doc_access_changes (user_id, seq, document_id, kind, at)
        VALUES (NEW.user_id, tandem_change_seq(), NEW.document_id, 'granted', tandem_now_ms());
        RETURN NEW;
    END IF;
    INSERT INTO doc_access_changes (user_id, seq, document_id, kind, at)
    VALUES (OLD.user_id, tandem_change_seq(), OLD.document_id, 'revoked', tandem_now_ms());
    RETURN OLD;
END $$;
CREATE TRIGGER document_shares_changed AFTER INSERT OR DELETE ON document_shares
FOR EACH ROW EXECUTE FUNCTION tandem_share_changed();
