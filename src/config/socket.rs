//! What one real-time connection (`/ws` or `/hocuspocus`) may send and be sent, and how
//! it is kept alive. Read by `socket/` and `limits`; `app` builds the node-wide parts
//! (connections per address, the large-frame budget).

use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct SocketConfig {
    /// Largest WebSocket message accepted, in bytes; larger ones close with 1009.
    #[arg(long, env = "TANDEM_MAX_MESSAGE_SIZE", default_value_t = 16 * 1024 * 1024)]
    pub max_message_size: usize,
    /// New WebSocket connections one IP address may open per minute (0: no limit); more
    /// are refused with HTTP 429 before the upgrade.
    #[arg(long, env = "TANDEM_MAX_CONNECTIONS_PER_IP_PER_MINUTE", default_value_t = 1200)]
    pub max_connections_per_ip_per_minute: u32,
    /// Messages per second one connection may send (bursts of one second allowed); past
    /// that the server reads it more slowly.
    #[arg(long, env = "TANDEM_MAX_MESSAGES_PER_SECOND", default_value_t = 200)]
    pub max_messages_per_second: u32,
    /// Bytes per second one connection may send (a burst of one maximum-size message is
    /// allowed); past that the server reads it more slowly.
    #[arg(long, env = "TANDEM_MAX_BYTES_PER_SECOND", default_value_t = 4 * 1024 * 1024)]
    pub max_bytes_per_second: u64,
    /// Largest awareness state (JSON bytes) one client may announce; larger closes with 1009.
    #[arg(long, env = "TANDEM_MAX_AWARENESS_BYTES", default_value_t = 16 * 1024)]
    pub max_awareness_bytes: usize,
    /// Awareness updates per second one connection may send (bursts of two seconds
    /// allowed); past that the newest state per client is held back until the rate allows.
    #[arg(long, env = "TANDEM_MAX_AWARENESS_PER_SECOND", default_value_t = 30)]
    pub max_awareness_per_second: u32,
    /// Documents one `/hocuspocus` connection may have open at once; an Auth message for
    /// one more is answered PermissionDenied (the others stay open).
    #[arg(long, env = "TANDEM_HOCUSPOCUS_MAX_DOCUMENTS", default_value_t = 100)]
    pub hocuspocus_max_documents: usize,
    /// How long a `/hocuspocus` connection may stay open without authenticating any
    /// document; then it is closed with 4408.
    #[arg(long, env = "TANDEM_HOCUSPOCUS_AUTH_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub hocuspocus_auth_timeout: Duration,
    /// Frames queued for one connection before it counts as too slow (closed with 1013).
    #[arg(long, env = "TANDEM_SEND_QUEUE", default_value_t = 1024)]
    pub send_queue: usize,
    /// Bytes of large messages (256 KiB and up, such as whole-document syncs) being sent
    /// to all connections at once; more wait their turn, first come first served, so the
    /// first joiners of a large document finish first instead of all sharing the bandwidth
    /// until all finish together. (Memory does not depend on it: large messages go out in
    /// 64 KiB pieces.)
    #[arg(long, env = "TANDEM_LARGE_FRAME_BUDGET", default_value_t = 64 * 1024 * 1024)]
    pub large_frame_budget: usize,
    /// Interval between WebSocket pings; a connection that misses a pong is closed.
    #[arg(long, env = "TANDEM_PING_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub ping_interval: Duration,
}
