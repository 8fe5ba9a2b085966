//! The dispatcher: claims due deliveries from the store's outbox (a lease, so nodes
//! sharing a database never send one row at once), POSTs each signed body with a bounded
//! timeout, and records the outcome: delivered, retried later with exponential backoff,
//! or failed once the retry window is spent (which may disable the hook). A node stopped
//! mid-delivery leaves a lease that expires; the row is then sent again, so receivers see
//! each delivery at least once and dedupe on `X-Tandem-Delivery`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::sign::signature;
use super::target;
use crate::config::WebhookConfig;
use crate::metrics as m;
use crate::store::Store;
use crate::store::catalog::now_ms;
use crate::store::webhooks::{Attempt, Claimed};

/// Deliveries claimed at a time (and sent at once).
const BATCH: i64 = 16;
/// Longest wait between retries, whatever the backoff reached.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// Most characters of an error kept in the delivery log.
const MAX_ERROR_CHARS: usize = 300;

pub struct Dispatcher {
    pub store: Arc<dyn Store>,
    pub config: WebhookConfig,
    pub client: reqwest::Client,
    /// Woken when this node queued something to send now.
    pub wake: Arc<Notify>,
}

impl Dispatcher {
    /// Claims and sends due deliveries until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let poll = self.config.webhook_retry_base.clamp(Duration::from_millis(50), Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = self.wake.notified() => {}
                _ = stop.cancelled() => return,
            }
            tokio::select! {
                _ = self.drain() => {}
                // Leases held expire and the rows go again later: nothing is lost.
                _ = stop.cancelled() => return,
            }
        }
    }

    /// Sends everything due now, a batch at a time.
    async fn drain(&self) {
        // Bounded: a busy outbox yields to the poll between rounds.
        for _ in 0..64 {
            let now = now_ms();
            let lease = now + self.lease().as_millis() as i64;
            let claimed = match self.store.claim_deliveries(now, lease, BATCH).await {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "claiming webhook deliveries failed; retrying");
                    return;
                }
            };
            let n = claimed.len() as i64;
            join_all(claimed.into_iter().map(|c| self.deliver(c))).await;
            if n < BATCH {
                return;
            }
        }
    }

    /// How long a claim holds: longer than an attempt can take (the timeout bounds it,
    /// connecting included) and recording its outcome.
    fn lease(&self) -> Duration {
        self.config.webhook_timeout * 2 + Duration::from_secs(5)
    }

    async fn deliver(&self, c: Claimed) {
        let started = Instant::now();
        let (delivered, status, error) = match self.send(&c).await {
            Ok(code) if (200..300).contains(&code) => (true, Some(code), None),
            Ok(code) => (false, Some(code), Some(format!("the target answered HTTP {code}"))),
            Err(e) => (false, None, Some(e)),
        };
        let latency = started.elapsed();
        metrics::histogram!(m::WEBHOOK_SECONDS).record(latency.as_secs_f64());
        let now = now_ms();
        let retry_at = (!delivered).then(|| self.retry_at(&c, now)).flatten();
        let result = match (delivered, retry_at) {
            (true, _) => "delivered",
            (false, Some(_)) => "retry",
            (false, None) => "failed",
        };
        metrics::counter!(m::WEBHOOK_ATTEMPTS, "result" => result).increment(1);
        debug!(delivery = %c.id, hook = %c.hook_id, attempt = c.attempts, result, ?status, "webhook attempt");
        if result == "failed" {
            info!(delivery = %c.id, hook = %c.hook_id, attempts = c.attempts, "webhook delivery failed for good");
        }
        let attempt = Attempt {
            delivered,
            status: status.map(i64::from),
            error,
            latency_ms: latency.as_millis() as i64,
            retry_at,
            disable_after: i64::from(self.config.webhook_disable_after.max(1)),
        };
        if let Err(e) = self.store.finish_delivery(&c, &attempt, now).await {
            // The lease runs out and the delivery goes again.
            warn!(delivery = %c.id, error = %e, "recording a webhook attempt failed");
        }
    }

    /// One POST; the HTTP status, or why there was none.
    async fn send(&self, c: &Claimed) -> Result<u16, String> {
        let url = target::parse(&c.url).map_err(|e| e.to_string())?;
        // Names are checked by the client's resolver as it connects; addresses here.
        if !self.config.webhook_allow_private
            && let Some(ip) = target::literal(&url)
            && !target::is_public(ip)
        {
            return Err(target::TargetError::Private(ip).to_string());
        }
        let t = now_ms() / 1000;
        let response = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("Tandem-Webhooks/", env!("CARGO_PKG_VERSION")))
            .header("X-Tandem-Event", c.event.as_str())
            .header("X-Tandem-Delivery", c.id.as_str())
            .header("X-Tandem-Signature", signature(&c.secret, t, c.payload.as_bytes()))
            .body(c.payload.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(response.status().as_u16())
    }

    /// When to try again after the attempt `c.attempts` failed; `None` once the next try
    /// would fall past the retry window.
    fn retry_at(&self, c: &Claimed, now: i64) -> Option<i64> {
        let doublings = u32::try_from(c.attempts.saturating_sub(1)).unwrap_or(u32::MAX).min(30);
        let wait = self.config.webhook_retry_base.saturating_mul(1 << doublings).min(MAX_BACKOFF);
        let at = now.saturating_add(wait.as_millis() as i64);
        let window_end = c.created_at.saturating_add(self.config.webhook_retry_window.as_millis() as i64);
        (at <= window_end).then_some(at)
    }
}

/// An error with its causes, bounded (reqwest's own message rarely says which part failed).
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(MAX_ERROR_CHARS).collect()
}
