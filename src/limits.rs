//! Per-connection limits the reader enforces on what a client sends: messages and bytes
//! per second (token buckets) and the size of awareness states. A violation closes only
//! that connection, with a close code and reason, and is counted.

use std::time::Instant;

use tandem_protocol::ClientMessage;

use crate::config::ServeConfig;
use crate::room::close_code;

/// A token bucket: `rate` tokens a second, holding at most `capacity`.
#[derive(Debug)]
struct Bucket {
    capacity: f64,
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64, capacity: f64) -> Self {
        Bucket { capacity, tokens: capacity, rate, last: Instant::now() }
    }

    fn take(&mut self, n: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

/// Why a connection is being closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    pub code: u16,
    pub reason: &'static str,
    /// Label for the `tandem_limit_exceeded_total` metric.
    pub limit: &'static str,
}

#[derive(Debug)]
pub struct ConnLimits {
    messages: Bucket,
    bytes: Bucket,
    max_awareness_bytes: usize,
    awareness: Bucket,
}

impl ConnLimits {
    pub fn new(cfg: &ServeConfig) -> Self {
        let msgs = f64::from(cfg.max_messages_per_second.max(1));
        let bytes = cfg.max_bytes_per_second.max(1) as f64;
        ConnLimits {
            messages: Bucket::new(msgs, msgs),
            // One maximum-size message (an initial sync of a large document) must fit.
            bytes: Bucket::new(bytes, bytes.max(cfg.max_message_size as f64)),
            max_awareness_bytes: cfg.max_awareness_bytes,
            awareness: {
                let rate = f64::from(cfg.max_awareness_per_second.max(1));
                Bucket::new(rate, rate * 2.0)
            },
        }
    }

    /// Accounts one incoming frame of `len` bytes carrying `msg`.
    pub fn check(&mut self, len: usize, msg: &ClientMessage) -> Result<(), Violation> {
        let now = Instant::now();
        if !self.messages.take(1.0, now) {
            return Err(Violation {
                code: close_code::POLICY_VIOLATION,
                reason: "message rate limit exceeded",
                limit: "messages_per_second",
            });
        }
        if !self.bytes.take(len as f64, now) {
            return Err(Violation {
                code: close_code::POLICY_VIOLATION,
                reason: "byte rate limit exceeded",
                limit: "bytes_per_second",
            });
        }
        if let ClientMessage::Awareness(update) = msg {
            if update.clients.values().any(|e| e.json.len() > self.max_awareness_bytes) {
                return Err(Violation {
                    code: close_code::TOO_BIG,
                    reason: "awareness state too large",
                    limit: "awareness_bytes",
                });
            }
            if !self.awareness.take(1.0, now) {
                return Err(Violation {
                    code: close_code::POLICY_VIOLATION,
                    reason: "awareness rate limit exceeded",
                    limit: "awareness_per_second",
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn buckets_allow_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10.0, 10.0);
        assert!((0..10).all(|_| b.take(1.0, t0)));
        assert!(!b.take(1.0, t0));
        assert!(b.take(1.0, t0 + Duration::from_millis(100)));
        assert!(!b.take(1.0, t0 + Duration::from_millis(100)));
        assert!(b.take(5.0, t0 + Duration::from_secs(10)));
    }

    #[test]
    fn awareness_states_over_the_limit_are_refused() {
        let mut cfg = ServeConfig::with_data_dir("/nonexistent");
        cfg.max_awareness_bytes = 8;
        let mut limits = ConnLimits::new(&cfg);
        let frame = |json: &str| {
            let mut u = yrs::sync::awareness::AwarenessUpdate { clients: Default::default() };
            u.clients.insert(
                yrs::ClientID::new(1),
                yrs::sync::awareness::AwarenessUpdateEntry { clock: 1, json: json.into() },
            );
            ClientMessage::Awareness(u)
        };
        assert_eq!(limits.check(10, &frame("{}")), Ok(()));
        assert_eq!(limits.check(10, &frame(r#"{"name":"long"}"#)).unwrap_err().limit, "awareness_bytes");
    }

    #[test]
    fn awareness_faster_than_the_rate_is_refused_after_a_burst() {
        let mut cfg = ServeConfig::with_data_dir("/nonexistent");
        cfg.max_awareness_per_second = 5;
        let mut limits = ConnLimits::new(&cfg);
        let msg = ClientMessage::Awareness(yrs::sync::awareness::AwarenessUpdate { clients: Default::default() });
        // Two seconds' worth pass at once, the next is refused; updates are unaffected.
        assert!((0..10).all(|_| limits.check(10, &msg).is_ok()));
        assert_eq!(limits.check(10, &msg).unwrap_err().limit, "awareness_per_second");
        assert!(limits.check(10, &ClientMessage::QueryAwareness).is_ok());
    }
}
