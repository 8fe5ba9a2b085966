-- Webhook fixes.
-- * `max_pending` is no longer copied into each hook: the server's current
--   `--webhook-max-pending` applies to every hook as events are queued.
-- * A hook whose receiver gave no answer in time is paused (`paused_until`, Unix ms) for
--   a time that doubles with each such attempt in a row (`timeouts`); any answer resets
--   both. Only pings are sent to a paused hook.
-- * A hook has at most one ping waiting: older duplicates are failed, then a unique index
--   holds the rule.
ALTER TABLE webhooks DROP COLUMN max_pending;
ALTER TABLE webhooks ADD COLUMN timeouts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN paused_until BIGINT NOT NULL DEFAULT 0;
UPDATE webhook_deliveries SET state = 'failed', finished_at = next_at, last_error = 'another ping was waiting'
WHERE event = 'ping' AND state = 'pending' AND id NOT IN (
    SELECT MIN(id) FROM webhook_deliveries WHERE event = 'ping' AND state = 'pending' GROUP BY hook_id);
CREATE UNIQUE INDEX webhook_deliveries_one_ping ON webhook_deliveries (hook_id)
    WHERE state = 'pending' AND event = 'ping';
