//! The node itself: where it listens, how it logs, which proxies it believes and which
//! Redis joins it to other nodes. Read by `main` and `app`; `rate` reads the proxies.

use std::net::SocketAddr;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// Address to listen on.
    #[arg(long, env = "TANDEM_LISTEN", default_value = "127.0.0.1:4000")]
    pub listen: SocketAddr,
    /// Log format.
    #[arg(long, env = "TANDEM_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// Reverse proxies (comma-separated CIDRs or addresses) whose `X-Forwarded-For` is
    /// believed: per-address limits then apply to the client they name. Empty: the
    /// header is ignored and the TCP peer is the client.
    #[arg(long, env = "TANDEM_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_cidr)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Redis URL (`redis://host:port`): rooms span every node sharing it. Unset: one node.
    #[arg(long, env = "TANDEM_REDIS_URL")]
    pub redis_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address (`127.0.0.1`).
fn parse_cidr(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{s}` is not an address or CIDR (e.g. 10.0.0.0/8)"))
}
