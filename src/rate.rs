//! Per-key rate limits on what clients ask for: new connections and signups per address,
//! logins per address and per account, REST requests per user. Keyed GCRA limiters
//! (`governor`) whose keys are fixed-size (an address, or a hash of a normalised string),
//! pruned as they go back to rest and capped in number, so no client input grows memory.
//! Also the client address these limits key on (`X-Forwarded-For` from trusted proxies).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use ipnet::IpNet;
use sha2::{Digest, Sha256};

/// How often keys whose allowance is full again are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// Most keys one limiter tracks. Past it, new events are let through untracked until the
/// next sweep drops the keys at rest: memory stays bounded, and a flood of distinct keys
/// (someone with that many addresses, whom per-address limits could not hold anyway)
/// cannot lock everyone else out.
pub const MAX_KEYS: usize = 100_000;

/// A limiter key: 16 bytes whatever the client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 16]);

impl Key {
    /// An address; IPv6 by its /64 (one host's usual allocation), IPv4-mapped as IPv4.
    pub fn addr(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Key(v4.to_ipv6_mapped().octets()),
            IpAddr::V6(v6) => Key((u128::from(v6) & (u128::MAX << 64)).to_be_bytes()),
        }
    }

    /// A string (an email, a user id), by a hash of its trimmed, lowercased form.
    pub fn text(s: &str) -> Self {
        let digest = Sha256::digest(s.trim().to_lowercase().as_bytes());
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        Key(key)
    }
}

type Inner<C> = RateLimiter<Key, DashMapStateStore<Key>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Events per key, at most `n` in a burst and `n` per period on average.
pub struct KeyedLimiter<C: Clock = DefaultClock> {
    limiter: Option<Inner<C>>,
    clock: C,
    last_sweep: Mutex<C::Instant>,
}

impl KeyedLimiter {
    /// `n` per minute; 0 means no limit.
    pub fn per_minute(n: u32) -> Self {
        Self::with_clock(n, Duration::from_secs(60), DefaultClock::default())
    }

    /// `n` per hour; 0 means no limit.
    pub fn per_hour(n: u32) -> Self {
        Self::with_clock(n, Duration::from_secs(3600), DefaultClock::default())
    }
}

impl<C: Clock + Clone> KeyedLimiter<C> {
    pub fn with_clock(n: u32, period: Duration, clock: C) -> Self {
        let limiter = NonZeroU32::new(n).map(|n| {
            let quota = Quota::with_period(period / n.get()).expect("a nonzero period").allow_burst(n);
            RateLimiter::dashmap_with_clock(quota, clock.clone())
        });
        let last_sweep = Mutex::new(clock.now());
        KeyedLimiter { limiter, clock, last_sweep }
    }

    /// Counts one event for `key`; `false` once it is over its allowance.
    pub fn allow(&self, key: Key) -> bool {
        let Some(limiter) = &self.limiter else { return true };
        self.sweep_if_due(limiter);
        if limiter.len() >= MAX_KEYS {
            return true;
        }
        limiter.check_key(&key).is_ok()
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn sweep_if_due(&self, limiter: &Inner<C>) {
        let due = {
            let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
            let now = self.clock.now();
            let due = Duration::from(now.duration_since(*last)) >= SWEEP_EVERY;
            if due {
                *last = now;
            }
            due
        };
        if due {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// The client's address for per-address limits: the TCP peer, or, when the peer is a
/// trusted proxy, the rightmost `X-Forwarded-For` entry that is not itself a trusted
/// proxy (entries left of it were written by the client and prove nothing).
pub fn client_ip(trusted: &[IpNet], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return client;
    }
    let hops = headers.get_all("x-forwarded-for").iter().collect::<Vec<_>>();
    for hop in hops.iter().rev().flat_map(|v| v.to_str().unwrap_or("").rsplit(',')) {
        // Garbage in the header: the nearest trusted hop is the best we know.
        let Some(ip) = parse_hop(hop) else { return client };
        client = ip;
        if !is_trusted(&client) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`[::1]:80`, `1.2.3.4:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>().or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip())).ok().map(|ip| ip.to_canonical())
}

/// The reverse proxies whose `X-Forwarded-For` is believed (`--trusted-proxies`): what
/// [`ClientIp`] needs of the application's state.
#[derive(Clone)]
pub struct TrustedProxies(pub Vec<IpNet>);

/// The calling client's address (see [`client_ip`]).
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp
where
    TrustedProxies: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        // Without connection info (never when served by `app::run`) all clients are one.
        let peer = peer.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let TrustedProxies(trusted) = TrustedProxies::from_ref(state);
        Ok(ClientIp(client_ip(&trusted, peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_key_gets_its_own_allowance_and_zero_means_unlimited() {
        let limiter = KeyedLimiter::per_minute(2);
        let (a, b) = (Key::addr(ip("127.0.0.1")), Key::addr(ip("::1")));
        assert!(limiter.allow(a) && limiter.allow(a));
        assert!(!limiter.allow(a));
        assert!(limiter.allow(b));
        assert!(KeyedLimiter::per_minute(0).allow(a));
    }

    #[test]
    fn keys_normalise_addresses_and_strings() {
        assert_eq!(Key::addr(ip("::ffff:10.0.0.1")), Key::addr(ip("10.0.0.1")));
        assert_eq!(Key::addr(ip("2001:db8::1")), Key::addr(ip("2001:db8::ffff:1")), "one /64");
        assert_ne!(Key::addr(ip("2001:db8::1")), Key::addr(ip("2001:db8:0:1::1")));
        assert_eq!(Key::text(" Ann@Example.com"), Key::text("ann@example.com"));
        assert_ne!(Key::text("ann@example.com"), Key::text("bob@example.com"));
    }

    #[test]
    fn state_is_swept_once_allowances_refill_and_capped_meanwhile() {
        let clock = FakeRelativeClock::default();
        let limiter = KeyedLimiter::with_clock(5, Duration::from_secs(60), clock.clone());
        for i in 0..(MAX_KEYS + 1000) as u32 {
            limiter.allow(Key::text(&i.to_string()));
        }
        assert_eq!(limiter.len(), MAX_KEYS, "distinct keys are capped");
        assert!(limiter.allow(Key::text("a newcomer")), "past the cap, let through, not remembered");
        assert_eq!(limiter.len(), MAX_KEYS);
        // A minute on, every allowance is full again: the next call sweeps them all.
        clock.advance(Duration::from_secs(61));
        assert!(limiter.allow(Key::text("later")));
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let headers = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("x-forwarded-for", v.parse().unwrap());
            }
            h
        };
        let xff = headers(&["203.0.113.9, 198.51.100.7"]);
        assert_eq!(client_ip(&trusted, ip("192.0.2.1"), &xff), ip("192.0.2.1"), "untrusted peer");
        assert_eq!(client_ip(&[], ip("127.0.0.1"), &xff), ip("127.0.0.1"), "nothing trusted");
        assert_eq!(client_ip(&trusted, ip("127.0.0.1"), &xff), ip("198.51.100.7"), "rightmost");
        let chain = headers(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(client_ip(&trusted, ip("127.0.0.1"), &chain), ip("198.51.100.7"), "trusted hops skipped");
        assert_eq!(client_ip(&trusted, ip("127.0.0.1"), &headers(&["10.0.0.5"])), ip("10.0.0.5"));
        assert_eq!(client_ip(&trusted, ip("127.0.0.1"), &headers(&["junk, 10.0.0.5"])), ip("10.0.0.5"));
        assert_eq!(client_ip(&trusted, ip("127.0.0.1"), &headers(&["[2001:db8::1]:443"])), ip("2001:db8::1"));
        assert_eq!(client_ip(&trusted, ip("::ffff:127.0.0.1"), &xff), ip("198.51.100.7"), "mapped peer");
        assert_eq!(client_ip(&trusted, ip("127.0.0.1"), &HeaderMap::new()), ip("127.0.0.1"));
    }
}
