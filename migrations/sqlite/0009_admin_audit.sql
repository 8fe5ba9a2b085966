-- Instance administration and the audit log. `is_admin` (0 or 1) marks instance admins:
-- the first account, and whoever `tandem admin grant` names. `disabled_at` (Unix ms) set
-- means the account may not sign in and none of its tokens work.
ALTER TABLE users ADD COLUMN is_admin BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled_at BIGINT;

-- Security-relevant events, newest found by `id` (ascending in insertion order). No
-- foreign keys: a row outlives the user, workspace or document it names, until the
-- retention (`--audit-retention-days`) prunes it by `at`. `detail` is a small JSON
-- object (at most 1 KiB), `address` the client's address as the rate limits see it.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           BIGINT NOT NULL,
    actor_id     TEXT,
    action       TEXT NOT NULL,
    target_kind  TEXT,
    target_id    TEXT,
    workspace_id TEXT,
    address      TEXT,
    detail       TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
