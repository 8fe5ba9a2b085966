//! The dispatcher: claims due deliveries from the store's outbox (a lease, so nodes
//! sharing a database never send one row at once), POSTs each signed body with a bounded
//! timeout, and records the outcome: delivered, retried later with exponential backoff,
//! or failed once the retry window is spent (which may disable the hook). A node stopped
//! mid-delivery leaves a lease that expires; the row is then sent again, so receivers see
//! each delivery at least once and dedupe on `X-Tandem-Delivery`.
//!
//! Fairness: each delivery is sent on its own task, at most [`MAX_IN_FLIGHT`] at once,
//! and the store hands out at most one delivery per hook at a time, so a hook whose
//! receiver hangs holds one sender for one timeout while every other hook goes on. A
//! hook that timed out is paused, for twice as long after each timeout in a row.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::sign::signature;
use super::target;
use crate::config::WebhookConfig;
use crate::metrics as m;
use crate::store::Store;
use crate::store::catalog::now_ms;
use crate::store::webhooks::{Attempt, Claimed};

/// Attempts in flight at once on one node (each hook has at most one of them).
pub const MAX_IN_FLIGHT: usize = 16;
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

/// What one POST came to when no status came back.
struct NoAnswer {
    error: String,
    timed_out: bool,
}

impl Dispatcher {
    /// Claims due deliveries whenever a sender is free and sends each on its own task,
    /// until `stop`. A claim follows a wake-up, a poll, or an attempt finishing.
    pub async fn run(self, stop: CancellationToken) {
        let poll = self.config.webhook_retry_base.clamp(Duration::from_millis(50), Duration::from_secs(1));
        let this = Arc::new(self);
        let mut in_flight: JoinSet<()> = JoinSet::new();
        loop {
            let free = MAX_IN_FLIGHT - in_flight.len();
            if free > 0 {
                for c in this.claim(free).await {
                    let sender = this.clone();
                    in_flight.spawn(async move { sender.deliver(c).await });
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = this.wake.notified() => {}
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = stop.cancelled() => break,
            }
        }
        // Leases held expire and the rows go again later: nothing is lost.
        in_flight.shutdown().await;
    }

    /// Leases up to `free` due deliveries (none when the store fails: the next round
    /// tries again).
    async fn claim(&self, free: usize) -> Vec<Claimed> {
        let now = now_ms();
        let lease = now + self.lease().as_millis() as i64;
        match self.store.claim_deliveries(now, lease, free as i64).await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "claiming webhook deliveries failed; retrying");
                Vec::new()
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
        let (delivered, status, error, timed_out) = match self.send(&c).await {
            Ok(code) if (200..300).contains(&code) => (true, Some(code), None, false),
            Ok(code) => (false, Some(code), Some(format!("the target answered HTTP {code}")), false),
            Err(e) => (false, None, Some(e.error), e.timed_out),
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
            pause_hook_until: timed_out.then(|| self.pause_until(&c, now)),
        };
        if let Err(e) = self.store.finish_delivery(&c, &attempt, now).await {
            // The lease runs out and the delivery goes again.
            warn!(delivery = %c.id, error = %e, "recording a webhook attempt failed");
        }
    }

    /// One POST; the HTTP status, or why there was none.
    async fn send(&self, c: &Claimed) -> Result<u16, NoAnswer> {
        let refused = |e: target::TargetError| NoAnswer { error: e.to_string(), timed_out: false };
        let url = target::parse(&c.url).map_err(refused)?;
        // Names are checked by the client's resolver as it connects; addresses here.
        if !self.config.webhook_allow_private
            && let Some(ip) = target::literal(&url)
            && !target::is_public(ip)
        {
            return Err(refused(target::TargetError::Private));
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
            .map_err(|e| NoAnswer { error: describe(&e), timed_out: e.is_timeout() })?;
        Ok(response.status().as_u16())
    }

    /// Until when a hook whose attempt timed out is paused: the retry base, doubled for
    /// each earlier timeout in a row (at most [`MAX_BACKOFF`]).
    fn pause_until(&self, c: &Claimed, now: i64) -> i64 {
        let doublings = u32::try_from(c.hook_timeouts).unwrap_or(u32::MAX).min(30);
        let wait = self.config.webhook_retry_base.saturating_mul(1 << doublings).min(MAX_BACKOFF);
        now.saturating_add(wait.as_millis() as i64)
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
