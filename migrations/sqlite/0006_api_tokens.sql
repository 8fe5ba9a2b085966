-- Personal API tokens: long-lived bearer tokens a user makes for scripts and tools. Only
-- the SHA-256 of the secret is kept; `prefix` is its first characters, shown in listings
-- so the owner can tell tokens apart. `scope` is `read` or `write`. Times are Unix
-- milliseconds; `expires_at` NULL never expires. Revoking deletes the row.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    scope        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);
