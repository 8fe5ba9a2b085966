-- Outgoing webhooks. A workspace's admins register hooks (a target URL, the event types
-- it wants, and the secret deliveries are signed with: kept in clear because the server
-- signs with it). `events` is the comma-wrapped list (`,document.created,comment.created,`)
-- so one LIKE finds the hooks of an event type. `failures` counts consecutive deliveries
-- that exhausted their retries; past the configured limit `disabled_at` is set and no
-- more deliveries are queued or sent. A hook with `max_pending` deliveries waiting (its
-- receiver down for long in a busy workspace) is disabled too, rather than let the
-- outbox grow. Deleting the workspace deletes its hooks, and their deliveries with them.
CREATE TABLE webhooks (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    events       TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_by   TEXT,
    created_at   BIGINT NOT NULL,
    failures     BIGINT NOT NULL DEFAULT 0,
    disabled_at  BIGINT,
    max_pending  BIGINT NOT NULL DEFAULT 10000
);
CREATE INDEX webhooks_workspace ON webhooks (workspace_id);

-- The durable outbox: one row per (event, hook), written in the transaction of the change
-- it announces (or, for debounced content edits, after their commit). `payload` is the
-- exact JSON body sent. `state` is `pending`, `delivered` or `failed`. A node claims a due
-- row by moving `lease_until` past now (only if it had passed), so nodes sharing the
-- database never send one row at once; a node that dies mid-delivery leaves a lease that
-- expires and the row is sent again. Times are Unix milliseconds.
CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,
    hook_id     TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    state       TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_status BIGINT,
    last_error  TEXT,
    latency_ms  BIGINT,
    finished_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (hook_id, state, created_at);
