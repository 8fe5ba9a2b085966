//! A Server-Sent Events reader over reqwest, for `/api/v1/documents/{id}/events`.

use std::time::Duration;

use serde_json::Value;

/// One event as the server framed it.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
}

pub struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    /// Opens the stream; panics unless it answers 200 `text/event-stream`.
    pub async fn open(base: &str, doc: &str, token: &str, last_event_id: Option<u64>) -> Self {
        match Self::try_open(base, doc, token, last_event_id).await {
            Ok(sse) => sse,
            Err((status, body)) => panic!("events stream refused: {status} {body}"),
        }
    }

    /// Opens the stream with a public link's token.
    pub async fn open_link(base: &str, doc: &str, link: &str) -> Self {
        let req =
            reqwest::Client::new().get(format!("{base}/api/v1/documents/{doc}/events")).header("tandem-link", link);
        Self::start(req).await.unwrap_or_else(|(status, body)| panic!("events stream refused: {status} {body}"))
    }

    /// Opens the stream, or answers the refusal's status and body.
    pub async fn try_open(base: &str, doc: &str, token: &str, last: Option<u64>) -> Result<Self, (u16, String)> {
        let mut req = reqwest::Client::new().get(format!("{base}/api/v1/documents/{doc}/events")).bearer_auth(token);
        if let Some(id) = last {
            req = req.header("last-event-id", id.to_string());
        }
        Self::start(req).await
    }

    async fn start(req: reqwest::RequestBuilder) -> Result<Self, (u16, String)> {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        if status != 200 {
            return Err((status, resp.text().await.unwrap_or_default()));
        }
        let kind = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Ok(Sse { resp, buf: String::new() })
    }

    /// The next event (keep-alive comments skipped); `None` if none came within `within`
    /// or the stream ended.
    pub async fn next(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                if let Some(event) = parse(&frame) {
                    return Some(event);
                }
                continue;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }

    /// Reads until an event of `kind` comes; panics after `within`.
    pub async fn wait_for(&mut self, within: Duration, kind: &str) -> SseEvent {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(e) if e.event == kind => return e,
                Some(_) => {}
                None => panic!("no `{kind}` event within {within:?}"),
            }
        }
    }
}

fn parse(frame: &str) -> Option<SseEvent> {
    let (mut id, mut event, mut data) = (None, String::from("message"), String::new());
    for line in frame.lines() {
        if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if data.is_empty() {
        return None;
    }
    Some(SseEvent { id, event, data: serde_json::from_str(&data).unwrap_or(Value::String(data)) })
}
