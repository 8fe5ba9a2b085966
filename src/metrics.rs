//! Prometheus metrics (`/metrics`): the names, the recorder, and small helpers the hot
//! paths call. Names are `tandem_<area>_<thing>_<unit>`; labels come from bounded sets
//! only (message kinds, routes, statuses, reasons), never a document id.

use std::fmt::Write;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// A metric this server exports: described (help, unit) and registered at startup so the
/// first scrape shows it.
#[derive(Debug)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: Unit,
    pub help: &'static str,
    /// A label whose values are a small set known up front: one series per value is
    /// registered at startup. Labels with open sets (routes, statuses) appear as used.
    pub label: Option<(&'static str, &'static [&'static str])>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn prometheus(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// The one list: each line makes the name's constant and its entry in [`ALL`].
macro_rules! metrics {
    ($($konst:ident: $kind:ident($name:literal, $unit:ident $(, $label:literal => $values:expr)?) = $help:literal;)*) => {
        $(pub const $konst: &str = $name;)*
        /// Every metric, in the order listed.
        pub const ALL: &[Metric] = &[$(Metric {
            name: $name,
            kind: Kind::$kind,
            unit: Unit::$unit,
            help: $help,
            label: metrics!(@label $($label => $values)?),
        }),*];
    };
    (@label) => { None };
    (@label $label:literal => $values:expr) => { Some(($label, $values)) };
}

/// `kind` label values: what [`frame_kind`] answers.
const FRAME_KINDS: [&str; 7] = ["sync_step1", "sync_step2", "update", "awareness", "auth", "query_awareness", "other"];
const REFUSED_REASONS: &[&str] = &["text", "too_big", "malformed"];
const LIMITS: &[&str] = &[
    "connections_per_ip",
    "room_connections",
    "room_connections_read_only",
    "user_connections",
    "link_connections",
    "document_size",
    "messages_per_second",
    "bytes_per_second",
    "awareness_bytes",
    "awareness_per_second",
    "login_attempts",
    "signups_per_ip",
    "requests_per_user",
    "hocuspocus_documents",
    "hocuspocus_auth_timeout",
];
const AUTH_REASONS: &[&str] = &[
    "missing_token",
    "invalid_token",
    "invalid_link",
    "forbidden",
    "invalid_credentials",
    "account_disabled",
    "document_not_found",
    "identity_provider_unavailable",
    "store_unavailable",
];
const COMPACTION_RESULTS: &[&str] = &["ok", "failed"];
const LOAD_STAGES: &[&str] = &["read", "apply"];
const RENDER_RESULTS: &[&str] = &["ok", "too_large", "timed_out", "failed"];
const UPDATE_REFUSALS: &[&str] = &["gap", "invalid", "panic"];
const WEBHOOK_RESULTS: &[&str] = &["delivered", "retry", "failed"];

metrics! {
    ROOMS_ACTIVE: Gauge("tandem_rooms_active", Count) = "Documents live in memory on this node.";
    CONNECTIONS_ACTIVE: Gauge("tandem_connections_active", Count) = "Open WebSocket connections (y-websocket and Hocuspocus).";
    ACCESS_WATCHERS_ACTIVE: Gauge("tandem_access_watchers_active", Count, "endpoint" => &["ws", "hocuspocus"]) = "Tasks keeping an open document's access in step with roles (one per document a user or link connection has open).";
    MESSAGES_IN: Counter("tandem_ws_messages_in_total", Count, "kind" => &FRAME_KINDS) = "WebSocket messages received, by message kind.";
    BYTES_IN: Counter("tandem_ws_bytes_in_total", Bytes, "kind" => &FRAME_KINDS) = "Bytes of WebSocket messages received, by message kind.";
    MESSAGES_OUT: Counter("tandem_ws_messages_out_total", Count, "kind" => &FRAME_KINDS) = "WebSocket messages sent (one per receiver), by message kind.";
    BYTES_OUT: Counter("tandem_ws_bytes_out_total", Bytes, "kind" => &FRAME_KINDS) = "Bytes of WebSocket messages sent (per receiver), by message kind.";
    UPDATES_APPLIED: Counter("tandem_room_updates_applied_total", Count) = "Document updates applied by the rooms on this node.";
    UPDATES_REFUSED: Counter("tandem_room_updates_refused_total", Count, "reason" => UPDATE_REFUSALS) = "Document updates a room refused (a gap in a client's clocks, yrs refused it, yrs panicked on it), by reason.";
    ROOM_LOAD_SECONDS: Histogram("tandem_room_load_seconds", Seconds, "stage" => LOAD_STAGES) = "Time a room took to open its document, by stage: reading the snapshot and log from the store, applying them.";
    ROOM_RELOADS: Counter("tandem_room_reloads_total", Count) = "Live documents rebuilt from the store after yrs panicked on an update.";
    FANOUT_DELIVERIES: Counter("tandem_room_fanout_deliveries_total", Count) = "Frames queued to connections by room fan-out.";
    SLOW_DISCONNECTS: Counter("tandem_ws_slow_client_disconnects_total", Count) = "Connections closed because their send queue was full.";
    REFUSED_FRAMES: Counter("tandem_ws_refused_frames_total", Count, "reason" => REFUSED_REASONS) = "Incoming WebSocket frames refused, by reason.";
    LIMITED: Counter("tandem_limit_exceeded_total", Count, "limit" => LIMITS) = "Connections, messages and requests that hit a limit, by limit.";
    PERSIST_BATCH: Histogram("tandem_persist_batch_updates", Count) = "Updates written per group-commit transaction.";
    PERSIST_SECONDS: Histogram("tandem_persist_commit_seconds", Seconds) = "Duration of a group-commit transaction.";
    PERSIST_FAILURES: Counter("tandem_persist_failures_total", Count) = "Group-commit transactions that failed.";
    COMPACTIONS: Counter("tandem_store_compactions_total", Count, "result" => COMPACTION_RESULTS) = "Document compactions (update log folded into a snapshot), by result.";
    COMPACTED_ROWS: Histogram("tandem_store_compacted_log_rows", Count) = "Update-log rows folded into a snapshot per compaction.";
    BUS_PUBLISHED: Counter("tandem_bus_published_total", Count) = "Messages published to the other nodes.";
    BUS_PUBLISH_FAILURES: Counter("tandem_bus_publish_failures_total", Count) = "Messages that could not be published to the other nodes.";
    BUS_RECEIVED: Counter("tandem_bus_received_total", Count) = "Messages received from the other nodes.";
    BUS_RESYNCS: Counter("tandem_bus_resyncs_total", Count) = "Room resyncs with the other nodes (after a lagging or lost bus).";
    AUTH_FAILURES: Counter("tandem_auth_failures_total", Count, "reason" => AUTH_REASONS) = "Refused authentications, by reason.";
    HTTP_REQUESTS: Counter("tandem_http_requests_total", Count) = "HTTP requests answered, by matched route and status.";
    RENDERS: Counter("tandem_render_total", Count, "result" => RENDER_RESULTS) = "Markdown renders (cache misses), by result.";
    RENDER_SECONDS: Histogram("tandem_render_seconds", Seconds) = "Duration of a Markdown render, waiting for a turn included.";
    AUDIT_FAILURES: Counter("tandem_audit_write_failures_total", Count) = "Audit events that could not be recorded (the change they tell of was made).";
    RENDER_CACHE_BYTES: Gauge("tandem_render_cache_bytes", Bytes) = "Bytes of rendered HTML kept for reuse.";
    WEBHOOK_ATTEMPTS: Counter("tandem_webhook_attempts_total", Count, "result" => WEBHOOK_RESULTS) = "Webhook delivery attempts, by outcome (delivered, to be retried, failed for good).";
    WEBHOOK_SECONDS: Histogram("tandem_webhook_attempt_seconds", Seconds) = "Duration of a webhook delivery attempt.";
    WEBHOOK_CHANGES_DROPPED: Counter("tandem_webhook_changes_dropped_total", Count) = "Document changes not announced to webhooks because too many documents were waiting.";
}

/// The process-wide recorder (installed once, shared by every server in the process),
/// with every metric of [`ALL`] described and registered.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets(&[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0])
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(PERSIST_BATCH.into()), &pow2(10)))
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(COMPACTED_ROWS.into()), &pow2(16)))
            .expect("static bucket lists are valid")
            .install_recorder()
            .expect("the metrics recorder is installed once");
        ALL.iter().for_each(register);
        let _ = HOT.set(Hot::lookup());
        let upkeep = handle.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

/// Describes `m` and creates its series (counters and gauges unchanged from zero).
fn register(m: &Metric) {
    match m.kind {
        Kind::Counter => metrics::describe_counter!(m.name, m.unit, m.help),
        Kind::Gauge => metrics::describe_gauge!(m.name, m.unit, m.help),
        Kind::Histogram => metrics::describe_histogram!(m.name, m.unit, m.help),
    }
    let label_sets: Vec<Vec<metrics::Label>> = match m.label {
        Some((label, values)) => values.iter().map(|v| vec![metrics::Label::new(label, *v)]).collect(),
        None => vec![Vec::new()],
    };
    for labels in label_sets {
        match m.kind {
            Kind::Counter => metrics::counter!(m.name, labels).increment(0),
            Kind::Gauge => metrics::gauge!(m.name, labels).increment(0.0),
            Kind::Histogram => drop(metrics::histogram!(m.name, labels)),
        }
    }
}

fn pow2(n: u32) -> Vec<f64> {
    (0..=n).map(|i| f64::from(1u32 << i)).collect()
}

/// The kind of a y-websocket frame, for labels.
pub fn frame_kind(frame: &[u8]) -> &'static str {
    FRAME_KINDS[frame_kind_index(frame)]
}

/// Where the frame's kind is in [`FRAME_KINDS`].
fn frame_kind_index(frame: &[u8]) -> usize {
    match (frame.first(), frame.get(1)) {
        (Some(0), Some(0)) => 0,
        (Some(0), Some(1)) => 1,
        (Some(0), Some(2)) => 2,
        (Some(1), _) => 3,
        (Some(2), _) => 4,
        (Some(3), _) => 5,
        _ => 6,
    }
}

/// Handles of the metrics the edit path touches for every message, looked up once the
/// recorder is installed: the macros build a labelled key (allocating its labels) and
/// search the registry on each call, several times per delivered edit.
pub struct Hot {
    messages_in: [Counter; FRAME_KINDS.len()],
    bytes_in: [Counter; FRAME_KINDS.len()],
    messages_out: [Counter; FRAME_KINDS.len()],
    bytes_out: [Counter; FRAME_KINDS.len()],
    pub fanout_deliveries: Counter,
    pub updates_applied: Counter,
    pub persist_batch: Histogram,
    pub persist_seconds: Histogram,
}

static HOT: OnceLock<Hot> = OnceLock::new();

impl Hot {
    fn lookup() -> Self {
        let by_kind = |name: &'static str| FRAME_KINDS.map(|kind| metrics::counter!(name, "kind" => kind));
        Hot {
            messages_in: by_kind(MESSAGES_IN),
            bytes_in: by_kind(BYTES_IN),
            messages_out: by_kind(MESSAGES_OUT),
            bytes_out: by_kind(BYTES_OUT),
            fanout_deliveries: metrics::counter!(FANOUT_DELIVERIES),
            updates_applied: metrics::counter!(UPDATES_APPLIED),
            persist_batch: metrics::histogram!(PERSIST_BATCH),
            persist_seconds: metrics::histogram!(PERSIST_SECONDS),
        }
    }
}

/// The hot path's handles. Before the recorder is installed (a process that never calls
/// [`handle`]) they are looked up on each call, as the macros would, so nothing is
/// counted into handles that lead nowhere.
pub fn hot<T>(f: impl FnOnce(&Hot) -> T) -> T {
    match HOT.get() {
        Some(hot) => f(hot),
        None => f(&Hot::lookup()),
    }
}

/// Counts `deliveries` copies of one outgoing frame.
pub fn sent(frame: &[u8], deliveries: u64) {
    if deliveries == 0 {
        return;
    }
    let kind = frame_kind_index(frame);
    hot(|h| {
        h.messages_out[kind].increment(deliveries);
        h.bytes_out[kind].increment(deliveries * frame.len() as u64);
    });
}

/// Counts one incoming frame.
pub fn received(frame: &[u8]) {
    let kind = frame_kind_index(frame);
    hot(|h| {
        h.messages_in[kind].increment(1);
        h.bytes_in[kind].increment(frame.len() as u64);
    });
}

/// Middleware: HTTP requests by matched route (not raw path) and status.
pub async fn track_http(req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "route" => route, "status" => status).increment(1);
    response
}

/// `GET /metrics`: every metric of [`ALL`], with `# HELP` and `# TYPE` even before its
/// first series exists (those with open label sets, such as HTTP requests by route).
pub async fn render() -> String {
    let mut text = handle().render();
    for m in ALL {
        if !text.contains(&format!("# TYPE {} ", m.name)) {
            let _ = write!(text, "# HELP {} {}\n# TYPE {} {}\n\n", m.name, m.help, m.name, m.kind.prometheus());
        }
    }
    text
}

/// This process's open WebSocket connections (both protocols), as their gauge holds them
/// (read from the rendered metrics: for the admin's system info, not for hot paths).
pub fn connections_active() -> u64 {
    let rendered = handle().render();
    let value = rendered.lines().find_map(|l| l.strip_prefix(CONNECTIONS_ACTIVE)?.strip_prefix(' '));
    value.and_then(|v| v.trim().parse::<f64>().ok()).map_or(0, |v| v.max(0.0) as u64)
}

/// Holds one in a gauge while it lives (an open connection, a running watcher): the
/// gauge goes down again however its holder ends.
pub struct GaugeGuard(metrics::Gauge);

impl GaugeGuard {
    pub fn hold(gauge: metrics::Gauge) -> Self {
        gauge.increment(1.0);
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
