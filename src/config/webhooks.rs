//! How this node delivers webhooks: which targets it may reach, how long it waits, how it
//! retries and when it gives up on a hook. Read by the `webhooks` module and the API that
//! registers hooks.

use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct WebhookConfig {
    /// Let webhooks target private, loopback and link-local addresses (for tests and
    /// closed networks); otherwise such targets are refused when registered and when sent.
    #[arg(long, env = "TANDEM_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,
    /// How long one delivery attempt may take, connecting included.
    #[arg(long, env = "TANDEM_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub webhook_timeout: Duration,
    /// Wait before the first retry of a failed delivery; each retry waits twice the last
    /// (at most 6 hours).
    #[arg(long, env = "TANDEM_WEBHOOK_RETRY_BASE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub webhook_retry_base: Duration,
    /// How long a delivery is retried before it counts as failed.
    #[arg(long, env = "TANDEM_WEBHOOK_RETRY_WINDOW", default_value = "24h", value_parser = humantime::parse_duration)]
    pub webhook_retry_window: Duration,
    /// Failed deliveries in a row (each after all its retries) that disable a hook.
    #[arg(long, env = "TANDEM_WEBHOOK_DISABLE_AFTER", default_value_t = 5)]
    pub webhook_disable_after: u32,
    /// Deliveries one hook may have waiting (its receiver down for long in a busy
    /// workspace), pings included; one more event disables the hook instead of growing
    /// the outbox. Read as each event is queued, so a change applies to existing hooks.
    #[arg(long, env = "TANDEM_WEBHOOK_MAX_PENDING", default_value_t = 10_000)]
    pub webhook_max_pending: u32,
    /// Quiet time after a document's last edit before `document.updated` is sent; sent
    /// anyway once edits have gone on for ten times this long.
    #[arg(long, env = "TANDEM_WEBHOOK_DEBOUNCE", default_value = "2s", value_parser = humantime::parse_duration)]
    pub webhook_debounce: Duration,
}
