//! What every room shares: how long it keeps things, when it compacts and talks to its
//! peers, and what it admits. The room registry holds this group as it is (`room::RoomConfig`).

use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct RoomConfig {
    /// How long an empty room stays in memory before it is flushed and evicted.
    #[arg(long = "room-grace", value_name = "ROOM_GRACE", env = "TANDEM_ROOM_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// Awareness states not renewed for this long are removed (clients renew every 15 s).
    #[arg(long, env = "TANDEM_AWARENESS_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub awareness_timeout: Duration,
    /// Update-log rows after which a live document is compacted into its snapshot.
    #[arg(long, env = "TANDEM_COMPACT_AFTER", default_value_t = 500)]
    pub compact_after: u64,
    /// How often a room exchanges state vectors with the other nodes holding it.
    #[arg(long, env = "TANDEM_ANTI_ENTROPY", default_value = "30s", value_parser = humantime::parse_duration)]
    pub anti_entropy: Duration,
    /// Connections one room accepts; later joins are closed with 1013. The last tenth is
    /// kept for connections that may write: read-only ones (a public view link) cannot
    /// lock editors out.
    #[arg(
        long = "max-connections-per-room",
        value_name = "MAX_CONNECTIONS_PER_ROOM",
        env = "TANDEM_MAX_CONNECTIONS_PER_ROOM",
        default_value_t = 2000
    )]
    pub max_connections: usize,
    /// Connections one signed-in user may hold in one room; more are closed with 1013.
    #[arg(
        long = "max-connections-per-user-per-room",
        value_name = "MAX_CONNECTIONS_PER_USER_PER_ROOM",
        env = "TANDEM_MAX_CONNECTIONS_PER_USER_PER_ROOM",
        default_value_t = 16
    )]
    pub max_connections_per_user: usize,
    /// Bytes of frames queued for one connection before it counts as too slow (closed with
    /// 1013); a single larger frame (a whole-document sync) still goes to an empty queue.
    #[arg(long = "send-queue-bytes", value_name = "SEND_QUEUE_BYTES", env = "TANDEM_SEND_QUEUE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_queued_bytes: usize,
    /// Largest a document's Yjs state may grow, in bytes: an update that would take it
    /// past this is refused and its sender closed with 1009.
    #[arg(long = "max-document-state-size", value_name = "MAX_DOCUMENT_STATE_SIZE", env = "TANDEM_MAX_DOCUMENT_STATE_SIZE", default_value_t = 64 * 1024 * 1024)]
    pub max_state_bytes: usize,
}
