//! Runs renders on tokio's blocking pool, a few at a time, each within a time budget, so
//! a large or hostile document neither stalls the async runtime nor piles up threads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::{Limits, RenderCache, RenderError, to_html};
use crate::metrics as m;

/// Renders Markdown within [`Limits`] and a time budget; holds the render cache.
pub struct Renderer {
    limits: Limits,
    timeout: Duration,
    /// One permit per render running; a render holds its permit until its thread is done,
    /// even when the request that asked for it has already been answered.
    turns: Arc<Semaphore>,
    /// Rendered documents by id and ETag.
    pub cache: RenderCache,
}

impl Renderer {
    /// At most `parallel` renders run at once; others wait for a turn within their budget.
    pub fn new(limits: Limits, timeout: Duration, cache_bytes: usize, parallel: usize) -> Self {
        Renderer {
            limits,
            timeout,
            turns: Arc::new(Semaphore::new(parallel.max(1))),
            cache: RenderCache::new(cache_bytes),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sanitised HTML for `markdown`, or why not; answers by the deadline whatever the
    /// render thread is doing (it checks the same deadline and stops on its own).
    pub async fn render(&self, markdown: String) -> Result<String, RenderError> {
        let started = Instant::now();
        let result = self.run(markdown, started + self.timeout).await;
        let label = match &result {
            Ok(_) => "ok",
            Err(
                RenderError::InputTooLarge { .. }
                | RenderError::OutputTooLarge { .. }
                | RenderError::TooManyNodes { .. },
            ) => "too_large",
            Err(RenderError::TimedOut) => "timed_out",
            Err(RenderError::Failed(_)) => "failed",
        };
        metrics::counter!(m::RENDERS, "result" => label).increment(1);
        metrics::histogram!(m::RENDER_SECONDS).record(started.elapsed().as_secs_f64());
        result
    }

    async fn run(&self, markdown: String, deadline: Instant) -> Result<String, RenderError> {
        if markdown.len() > self.limits.max_input {
            return Err(RenderError::InputTooLarge { size: markdown.len(), limit: self.limits.max_input });
        }
        let until = tokio::time::Instant::from_std(deadline);
        let turn = tokio::time::timeout_at(until, self.turns.clone().acquire_owned())
            .await
            .map_err(|_| RenderError::TimedOut)?
            .map_err(|e| RenderError::Failed(e.to_string()))?;
        let limits = self.limits;
        let task = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            to_html(&markdown, &limits, deadline)
        });
        match tokio::time::timeout_at(until, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(RenderError::Failed(join.to_string())),
            Err(_) => Err(RenderError::TimedOut),
        }
    }
}
