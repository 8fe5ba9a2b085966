//! The REST API's own limits: requests per user, document size, and the Markdown
//! renderer's input, output, time and cache. Read by `api/` and `app` (the renderer).

use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ApiConfig {
    /// REST requests one user (or public link) may make per minute; more are answered 429
    /// (0: no limit).
    #[arg(long, env = "TANDEM_MAX_REQUESTS_PER_USER_PER_MINUTE", default_value_t = 1200)]
    pub max_requests_per_user_per_minute: u32,
    /// Largest document (Markdown bytes) the REST API accepts, and largest request body.
    #[arg(long, env = "TANDEM_MAX_DOCUMENT_SIZE", default_value_t = 16 * 1024 * 1024)]
    pub max_document_size: usize,
    /// Largest Markdown rendered to HTML, in bytes: a larger preview body is refused with
    /// 413 before it is read, a larger document's render or HTML export with 422 (its
    /// Markdown export still works).
    #[arg(long, env = "TANDEM_MAX_RENDER_INPUT", default_value_t = 1024 * 1024)]
    pub max_render_input: usize,
    /// Largest HTML one render may produce, in bytes; a render that would exceed it stops
    /// there and is answered 422.
    #[arg(long, env = "TANDEM_MAX_RENDER_OUTPUT", default_value_t = 4 * 1024 * 1024)]
    pub max_render_output: usize,
    /// Time one render may take, waiting for a turn included (renders use at most half the
    /// cores); past it the request is answered 503 and the render stops.
    #[arg(long, env = "TANDEM_RENDER_TIMEOUT", default_value = "3s", value_parser = humantime::parse_duration)]
    pub render_timeout: Duration,
    /// Memory for rendered documents kept for reuse (by document and ETag), in bytes.
    #[arg(long, env = "TANDEM_RENDER_CACHE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub render_cache_bytes: usize,
    /// How long the changes feed keeps records of deleted documents and lost access; a
    /// client whose cursor is older lists everything again (410 `cursor_expired`).
    #[arg(long, env = "TANDEM_CHANGES_RETENTION", default_value = "90days", value_parser = humantime::parse_duration)]
    pub changes_retention: Duration,
}
