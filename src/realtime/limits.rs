//! Per-connection limits on what a client sends: messages and bytes per second, and the
//! rate and size of awareness states. Rates never discard what a client sent: over its
//! budget, the reader stops reading until the budget refills (TCP backpressure slows the
//! client down), and awareness over its rate is held back, newest state per client, until
//! the rate allows. Only what throttling cannot contain (an oversized state) closes the
//! connection, with a close code and reason, and is counted.

use std::num::NonZeroU32;
use std::sync::LazyLock;

use governor::clock::DefaultClock;
use governor::{DefaultDirectRateLimiter, Quota};
use tandem_protocol::ClientMessage;
use yrs::sync::awareness::AwarenessUpdate;

use crate::config::SocketConfig;
use crate::realtime::room::{MAX_CLIENTS_PER_CONN, close_code};

/// Why a connection is being closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    pub code: u16,
    pub reason: &'static str,
    /// Label for the `tandem_limit_exceeded_total` metric.
    pub limit: &'static str,
}

/// One clock for every connection's limiters: making a clock calibrates it (CPUID and a
/// timing loop), which cost a quarter of a handshake's CPU when each limiter made its own.
static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);

fn limiter(per_second: u64, burst: u64) -> DefaultDirectRateLimiter {
    let clamp = |n: u64| NonZeroU32::new(n.clamp(1, u64::from(u32::MAX)) as u32).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::per_second(clamp(per_second)).allow_burst(clamp(burst));
    DefaultDirectRateLimiter::direct_with_clock(quota, CLOCK.clone())
}

/// Message and byte rates of one socket.
pub struct ConnLimits {
    messages: DefaultDirectRateLimiter,
    bytes: DefaultDirectRateLimiter,
    /// Cells of `bytes`: a frame never needs more than one full burst.
    max_burst: u32,
}

impl ConnLimits {
    pub fn new(cfg: &SocketConfig) -> Self {
        let msgs = u64::from(cfg.max_messages_per_second.max(1));
        let bytes = cfg.max_bytes_per_second.max(1);
        // One maximum-size message (an initial sync of a large document) must fit.
        let burst = bytes.max(cfg.max_message_size as u64).min(u64::from(u32::MAX));
        ConnLimits { messages: limiter(msgs, msgs), bytes: limiter(bytes, burst), max_burst: burst as u32 }
    }

    /// Waits until one more frame of `len` bytes fits the message and byte rates. The
    /// caller reads nothing meanwhile, so a sender over its budget is slowed down, never
    /// cut off.
    pub async fn admit(&self, len: usize) {
        if self.messages.check().is_err() {
            metrics::counter!(crate::metrics::LIMITED, "limit" => "messages_per_second").increment(1);
            self.messages.until_ready().await;
        }
        let cells = u32::try_from(len).unwrap_or(u32::MAX).clamp(1, self.max_burst);
        let cells = NonZeroU32::new(cells).unwrap_or(NonZeroU32::MIN);
        if !matches!(self.bytes.check_n(cells), Ok(Ok(()))) {
            metrics::counter!(crate::metrics::LIMITED, "limit" => "bytes_per_second").increment(1);
            let _ = self.bytes.until_n_ready(cells).await;
        }
    }
}

/// The awareness one room connection sends: each state's size, and its rate, over which
/// the newest state per client is held back until the rate allows.
pub struct PresenceLimits {
    rate: DefaultDirectRateLimiter,
    max_state_bytes: usize,
    held: Option<AwarenessUpdate>,
}

impl PresenceLimits {
    pub fn new(cfg: &SocketConfig) -> Self {
        let rate = u64::from(cfg.max_awareness_per_second.max(1));
        PresenceLimits { rate: limiter(rate, rate * 2), max_state_bytes: cfg.max_awareness_bytes, held: None }
    }

    /// Checks a message before it goes to the room: an awareness update to apply now
    /// comes back; one over the rate is held (and `None` comes back); a state larger than
    /// allowed is a violation. Other messages pass unchanged.
    pub fn offer(&mut self, msg: ClientMessage) -> Result<Option<ClientMessage>, Violation> {
        let ClientMessage::Awareness(update) = msg else { return Ok(Some(msg)) };
        if update.clients.values().any(|e| e.json.len() > self.max_state_bytes) {
            return Err(Violation {
                code: close_code::TOO_BIG,
                reason: "awareness state too large",
                limit: "awareness_bytes",
            });
        }
        if self.held.is_none() && self.rate.check().is_ok() {
            return Ok(Some(ClientMessage::Awareness(update)));
        }
        metrics::counter!(crate::metrics::LIMITED, "limit" => "awareness_per_second").increment(1);
        self.hold(update);
        Ok(None)
    }

    /// Keeps the newest state of each client; states of clients past what one connection
    /// may own are dropped (the room would refuse them).
    fn hold(&mut self, update: AwarenessUpdate) {
        let held = self.held.get_or_insert_with(|| AwarenessUpdate { clients: Default::default() });
        for (id, entry) in update.clients {
            match held.clients.get(&id) {
                Some(old) if old.clock > entry.clock => {}
                Some(_) => {
                    held.clients.insert(id, entry);
                }
                None if held.clients.len() < MAX_CLIENTS_PER_CONN => {
                    held.clients.insert(id, entry);
                }
                None => {}
            }
        }
    }

    /// Whether awareness is held back, waiting for the rate.
    pub fn holds(&self) -> bool {
        self.held.is_some()
    }

    /// Resolves with what was held back once the rate allows it (its budget taken: apply
    /// it as it is); never, while nothing is held.
    pub async fn released(&mut self) -> AwarenessUpdate {
        if self.held.is_none() {
            return std::future::pending().await;
        }
        self.rate.until_ready().await;
        self.held.take().unwrap_or_else(|| AwarenessUpdate { clients: Default::default() })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use yrs::ClientID;
    use yrs::sync::awareness::AwarenessUpdateEntry;

    use super::*;

    fn cfg() -> SocketConfig {
        crate::config::ServeConfig::with_data_dir("/nonexistent").socket
    }

    fn awareness(entries: &[(u64, u32, &str)]) -> ClientMessage {
        let mut u = AwarenessUpdate { clients: Default::default() };
        for (id, clock, json) in entries {
            u.clients.insert(ClientID::new(*id), AwarenessUpdateEntry { clock: *clock, json: (*json).into() });
        }
        ClientMessage::Awareness(u)
    }

    #[tokio::test]
    async fn frames_over_the_message_rate_wait_for_the_budget_instead_of_failing() {
        let mut cfg = cfg();
        cfg.max_messages_per_second = 50;
        let limits = ConnLimits::new(&cfg);
        let start = Instant::now();
        for _ in 0..75 {
            limits.admit(10).await;
        }
        // A burst of 50 passes at once; the next 25 take about half a second.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(400), "75 frames at 50/s took {took:?}");
    }

    #[tokio::test]
    async fn a_frame_larger_than_the_byte_rate_still_passes() {
        let mut cfg = cfg();
        cfg.max_bytes_per_second = 1000;
        cfg.max_message_size = 64 * 1024;
        let limits = ConnLimits::new(&cfg);
        tokio::time::timeout(Duration::from_secs(1), limits.admit(64 * 1024)).await.expect("one maximal frame fits");
    }

    #[test]
    fn awareness_states_over_the_size_limit_are_refused() {
        let mut cfg = cfg();
        cfg.max_awareness_bytes = 8;
        let mut limits = PresenceLimits::new(&cfg);
        assert!(limits.offer(awareness(&[(1, 1, "{}")])).unwrap().is_some());
        let too_big = limits.offer(awareness(&[(1, 2, r#"{"name":"long"}"#)])).unwrap_err();
        assert_eq!(too_big.limit, "awareness_bytes");
    }

    #[tokio::test]
    async fn awareness_over_its_rate_is_held_newest_state_per_client_then_released() {
        let mut cfg = cfg();
        cfg.max_awareness_per_second = 5;
        let mut limits = PresenceLimits::new(&cfg);
        // Two seconds' worth pass at once.
        for clock in 1..=10 {
            assert!(limits.offer(awareness(&[(1, clock, "{}")])).unwrap().is_some());
        }
        // Then states supersede each other while held; other messages are unaffected.
        for clock in 11..=30 {
            assert!(limits.offer(awareness(&[(1, clock, r#"{"c":1}"#), (2, 1, "{}")])).unwrap().is_none());
        }
        assert!(limits.offer(awareness(&[(1, 12, "{}")])).unwrap().is_none());
        assert!(limits.offer(ClientMessage::QueryAwareness).unwrap().is_some());
        let u = tokio::time::timeout(Duration::from_secs(2), limits.released()).await.unwrap();
        assert_eq!(u.clients.len(), 2);
        assert_eq!(u.clients[&ClientID::new(1)].clock, 30);
        assert!(
            tokio::time::timeout(Duration::from_millis(300), limits.released()).await.is_err(),
            "nothing more held"
        );
    }

    #[test]
    fn a_connection_cannot_hold_more_clients_than_it_may_own() {
        let mut cfg = cfg();
        cfg.max_awareness_per_second = 1;
        let mut limits = PresenceLimits::new(&cfg);
        for id in 0..100 {
            let _ = limits.offer(awareness(&[(id, 1, "{}")]));
        }
        assert!(limits.held.as_ref().unwrap().clients.len() <= MAX_CLIENTS_PER_CONN);
    }
}
