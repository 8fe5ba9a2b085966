//! Where a webhook may point: `http`/`https` URLs of bounded length, without credentials,
//! whose host resolves only to public addresses (unless private targets are allowed).
//! The check runs when a hook is registered and again on every delivery, inside the HTTP
//! client's own name resolution ([`PublicResolver`]), so the address checked is the one
//! connected to: a name that changes to a private address later is refused then.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Longest target URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest a name may take to resolve when a hook is registered.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("`url` {0}")]
    Invalid(&'static str),
    /// Which address is not said: the message reaches the hook's owner, and naming the
    /// private address a name resolved to would map the internal network for them.
    #[error("the target resolves to an address that is not public (private, loopback or otherwise internal)")]
    Private,
    #[error("`url`'s host could not be resolved: {0}")]
    Unresolved(String),
}

/// Parses a target URL, without resolving it.
pub fn parse(url: &str) -> Result<Url, TargetError> {
    if url.len() > MAX_URL_BYTES {
        return Err(TargetError::Invalid("is longer than 2048 bytes"));
    }
    let parsed = Url::parse(url).map_err(|_| TargetError::Invalid("is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::Invalid("must be http or https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetError::Invalid("must not hold credentials"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(TargetError::Invalid("has no host"));
    }
    Ok(parsed)
}

/// The URL's host as an address, when it is one (`[::1]` included).
pub fn literal(url: &Url) -> Option<IpAddr> {
    url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Refuses a URL whose host is, or resolves to, an address that is not public.
pub async fn check(url: &Url, allow_private: bool) -> Result<(), TargetError> {
    if allow_private {
        return Ok(());
    }
    if let Some(ip) = literal(url) {
        return public(ip);
    }
    let host = url.host_str().unwrap_or_default();
    let addrs = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, 0)))
        .await
        .map_err(|_| TargetError::Unresolved("timed out".into()))?
        .map_err(|e| TargetError::Unresolved(e.to_string()))?;
    let mut any = false;
    for addr in addrs {
        public(addr.ip())?;
        any = true;
    }
    if any { Ok(()) } else { Err(TargetError::Unresolved("no addresses".into())) }
}

fn public(ip: IpAddr) -> Result<(), TargetError> {
    if is_public(ip) { Ok(()) } else { Err(TargetError::Private) }
}

/// Whether an address is on the public internet: not private, loopback, link-local,
/// unique-local, unspecified, multicast, broadcast, shared (CGNAT), reserved or for
/// documentation, nor the 6to4 relay anycast (192.88.99.0/24), nor an IPv6 form embedding
/// such an IPv4 address (mapped, translated, compatible, NAT64, 6to4), nor Teredo
/// (2001::/32) or local-use NAT64 (64:ff9b:1::/48), whose embedded address is not checked.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // IPv4-translated (::ffff:0:a.b.c.d, SIIT).
    if seg[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return is_public_v4(embedded(seg[6], seg[7]));
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::a.b.c.d).
    if seg[..6] == [0; 6] || seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return !ip.is_loopback() && !ip.is_unspecified() && is_public_v4(embedded(seg[6], seg[7]));
    }
    // 6to4 (2002:a.b.c.d::/48).
    if seg[0] == 0x2002 {
        return is_public_v4(embedded(seg[1], seg[2]));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1)
        || (seg[0] == 0x2001 && seg[1] == 0)
        || (seg[0] & 0xfe00) == 0xfc00
        || (seg[0] & 0xffc0) == 0xfe80
        || (seg[0] & 0xffc0) == 0xfec0
        || (seg[0] == 0x2001 && seg[1] == 0x0db8))
}

/// Name resolution for deliveries: the system resolver, answering nothing unless every
/// address is public (or private targets are allowed).
pub struct PublicResolver {
    pub allow_private: bool,
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
                return Err(Box::new(TargetError::Private) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_in_every_form_are_not_public() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:7f00:1::",
            "192.88.99.1",
            "64:ff9b:1::a00:1",
            "64:ff9b:1:ffff::808:808",
            "::ffff:0:7f00:1",
            "::ffff:0:a00:1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001::1",
        ] {
            assert!(!is_public(ip(s)), "{s} counted as public");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for s in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "::ffff:0:808:808",
            "64:ff9b::808:808",
            "192.88.98.1",
            "2001:4860::8888",
        ] {
            assert!(is_public(ip(s)), "{s} counted as internal");
        }
    }

    #[test]
    fn urls_are_http_without_credentials_and_bounded() {
        assert!(parse("https://example.com/hook").is_ok());
        assert!(parse("ftp://example.com/").is_err());
        assert!(parse("http://user:pw@example.com/").is_err());
        assert!(parse("not a url").is_err());
        assert!(parse(&format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES))).is_err());
        assert_eq!(literal(&parse("http://[::1]:8080/").unwrap()), Some(ip("::1")));
    }

    #[tokio::test]
    async fn loopback_targets_are_refused_unless_allowed() {
        let url = parse("http://127.0.0.1:9/").unwrap();
        let refused = check(&url, false).await;
        assert!(matches!(refused, Err(TargetError::Private)));
        assert!(!refused.unwrap_err().to_string().contains("127.0.0.1"), "the address is not named");
        assert!(check(&url, true).await.is_ok());
        let named = parse("http://localhost:9/").unwrap();
        assert!(check(&named, false).await.is_err());
    }
}
