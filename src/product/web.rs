//! The web editor: the files Vite builds into `web/dist` (embedded in release builds,
//! read from disk in debug builds), served as the router's fallback for every GET that is
//! not the API, a socket or an operations endpoint. Hashed assets are cached forever; the
//! app shell (index.html, the same for every client route) is revalidated and carries a
//! strict Content-Security-Policy with a fresh nonce for CodeMirror's style elements.
//! Scripts and styles go out gzipped when the client takes it (compressed once, kept).

use std::io::Write;
use std::sync::LazyLock;

use axum::body::{Body, Bytes};
use axum::http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, HOST, VARY};
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::product::api;

#[derive(RustEmbed)]
#[folder = "web/dist"]
struct Dist;

/// Paths the server answers itself: never the app shell.
const SERVER_PREFIXES: [&str; 6] = ["/api", "/ws", "/hocuspocus", "/metrics", "/healthz", "/readyz"];
/// Written into index.html where the per-response nonce goes.
const NONCE_PLACEHOLDER: &str = "__CSP_NONCE__";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Gzipped hashed assets, by name (a name is its content, so an entry never goes stale).
static GZIPPED: LazyLock<dashmap::DashMap<String, Bytes>> = LazyLock::new(Default::default);

/// The router's fallback: the web app for GETs outside the server's own paths, the API's
/// JSON 404 for everything else.
pub async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let server_path = SERVER_PREFIXES.iter().any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if server_path || (method != Method::GET && method != Method::HEAD) {
        return api::fallback().await.into_response();
    }
    if let Some(name) = path.strip_prefix("/assets/") {
        let gzip = accepts_gzip(&headers) && (name.ends_with(".js") || name.ends_with(".css"));
        return if gzip { gzipped(&path[1..]).await } else { file(&path[1..], IMMUTABLE) };
    }
    match path {
        "/favicon.svg" | "/favicon.ico" => file("favicon.svg", "public, max-age=86400"),
        "/robots.txt" => file("robots.txt", "public, max-age=86400"),
        _ => shell(&headers),
    }
}

fn file(name: &str, cache: &'static str) -> Response {
    let Some(found) = Dist::get(name) else {
        return api::error::ApiError::new(api::error::ErrorCode::AssetNotFound, "no such file").into_response();
    };
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static(content_type(name))),
        (CACHE_CONTROL, HeaderValue::from_static(cache)),
        (VARY, HeaderValue::from_static("accept-encoding")),
        (axum::http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    (headers, Body::from(found.data)).into_response()
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| coding.split(';').next().is_some_and(|c| c.trim().eq_ignore_ascii_case("gzip")))
}

/// A hashed asset, gzipped (once: the result is kept). Compressing the editor's chunk
/// takes tens of milliseconds, so it runs off the async runtime.
async fn gzipped(name: &str) -> Response {
    let cached = GZIPPED.get(name).map(|body| body.clone());
    let body = match cached {
        Some(body) => body,
        None => {
            let Some(found) = Dist::get(name) else { return file(name, IMMUTABLE) };
            let compress = move || {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                encoder.write_all(&found.data).and_then(|()| encoder.finish())
            };
            let Ok(Ok(body)) = tokio::task::spawn_blocking(compress).await else {
                return file(name, IMMUTABLE);
            };
            let body = Bytes::from(body);
            GZIPPED.insert(name.to_owned(), body.clone());
            body
        }
    };
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static(content_type(name))),
        (CONTENT_ENCODING, HeaderValue::from_static("gzip")),
        (VARY, HeaderValue::from_static("accept-encoding")),
        (CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
        (axum::http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    (headers, body).into_response()
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// index.html with a fresh style nonce, for `/`, `/login`, `/signup`, `/d/{id}` and any
/// other client route (the app shows its own "not found").
fn shell(headers: &HeaderMap) -> Response {
    let Some(index) = Dist::get("index.html") else {
        let message = "the web app is not built: run `npm ci && npm run build` in web/";
        return api::error::ApiError::new(api::error::ErrorCode::WebAppMissing, message).into_response();
    };
    let nonce = crate::ids::random_hex(16);
    let html = String::from_utf8_lossy(&index.data).replace(NONCE_PLACEHOLDER, &nonce);
    let csp = content_security_policy(&nonce, headers.get(HOST).and_then(|h| h.to_str().ok()));
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            axum::http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'none'")),
        ),
        (axum::http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        // View links carry their token in the URL: never send it on to other sites.
        (axum::http::header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (axum::http::header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ];
    (headers, html).into_response()
}

/// No inline script anywhere. Style elements only with the nonce (CodeMirror's style-mod
/// mounts its themes with it); style *attributes* are allowed, because y-codemirror.next
/// colours remote carets with them and they cannot run script or select on content.
/// WebSockets to this same host are named explicitly for browsers whose `'self'` does
/// not cover ws:/wss:.
pub fn content_security_policy(nonce: &str, host: Option<&str>) -> String {
    let sockets = host
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; style-src-attr 'unsafe-inline'; \
         connect-src 'self'{sockets}; img-src 'self' data: blob:; font-src 'self'; object-src 'none'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_this_hosts_sockets_and_ignores_a_strange_host() {
        let csp = content_security_policy("abc", Some("127.0.0.1:4000"));
        assert!(csp.contains("connect-src 'self' ws://127.0.0.1:4000 wss://127.0.0.1:4000;"));
        assert!(csp.contains("script-src 'self';") && csp.contains("'nonce-abc'"));
        let csp = content_security_policy("abc", Some("evil; script-src *"));
        assert!(csp.contains("connect-src 'self';"));
    }
}
