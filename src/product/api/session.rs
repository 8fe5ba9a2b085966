//! The browser session: the refresh token in an HttpOnly, SameSite=Strict cookie scoped to
//! `/api/v1/auth`, so page scripts never read it, and a script-readable marker cookie
//! (no secret in it) that only tells the app a session may exist, so a signed-out visit
//! never asks the server (and never logs a failed request). The cookie path of refresh
//! and logout requires the `X-Tandem-Session: 1` header: a cross-site form cannot send
//! it, which backs up SameSite=Strict against request forgery.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::AppendHeaders;

use super::error::{ApiError, ErrorCode};

/// The refresh token's cookie.
pub const REFRESH_COOKIE: &str = "tandem_refresh";
/// Script-readable: "a session may exist". Carries nothing secret.
pub const MARKER_COOKIE: &str = "tandem_session";
/// The header that marks a request as coming from the web app's own scripts.
pub const SESSION_HEADER: &str = "x-tandem-session";
const REFRESH_PATH: &str = "/api/v1/auth";

/// Whether the request came from the web app (which keeps the refresh token in the cookie).
pub fn from_app(headers: &HeaderMap) -> bool {
    headers.get(SESSION_HEADER).is_some_and(|v| v.as_bytes() == b"1")
}

/// The refresh token from the cookie, if there is one.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// The refresh token of a cookie-path request, refusing one without the app's header.
pub fn cookie_refresh_token(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(token) = cookie_token(headers) else { return Ok(None) };
    if !from_app(headers) {
        return Err(ApiError::new(
            ErrorCode::SessionHeaderRequired,
            "requests using the session cookie must send `X-Tandem-Session: 1`",
        ));
    }
    Ok(Some(token))
}

/// Behind a TLS-terminating proxy the cookie is `Secure`. A forged header only spoils
/// the sender's own cookie, so it needs no trust check.
fn secure(headers: &HeaderMap) -> &'static str {
    let https = headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    if https { "; Secure" } else { "" }
}

/// Two `Set-Cookie` headers (appended: a plain header array would keep only the last).
pub type Cookies = AppendHeaders<[(HeaderName, HeaderValue); 2]>;

/// Cookies that start (or continue) a session holding `refresh_token` for `max_age` seconds.
pub fn set(headers: &HeaderMap, refresh_token: &str, max_age: u64) -> Cookies {
    let secure = secure(headers);
    let refresh = format!(
        "{REFRESH_COOKIE}={refresh_token}; Path={REFRESH_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    let marker = format!("{MARKER_COOKIE}=1; Path=/; Max-Age={max_age}; SameSite=Strict{secure}");
    AppendHeaders([(SET_COOKIE, header(refresh)), (SET_COOKIE, header(marker))])
}

/// Cookies that end the session in the browser.
pub fn clear(headers: &HeaderMap) -> Cookies {
    let secure = secure(headers);
    let refresh = format!("{REFRESH_COOKIE}=; Path={REFRESH_PATH}; Max-Age=0; HttpOnly; SameSite=Strict{secure}");
    let marker = format!("{MARKER_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict{secure}");
    AppendHeaders([(SET_COOKIE, header(refresh)), (SET_COOKIE, header(marker))])
}

fn header(value: String) -> HeaderValue {
    // Built from hex tokens and fixed text only.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_cookie_is_found_among_others_and_needs_the_header() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("a=1; tandem_refresh=abc; tandem_session=1"));
        assert_eq!(cookie_token(&h).as_deref(), Some("abc"));
        assert_eq!(cookie_refresh_token(&h).unwrap_err().code, "session_header_required");
        h.insert(SESSION_HEADER, HeaderValue::from_static("1"));
        assert_eq!(cookie_refresh_token(&h).unwrap().as_deref(), Some("abc"));
        assert_eq!(cookie_refresh_token(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_scoped_and_secure_behind_https() {
        let mut h = HeaderMap::new();
        let AppendHeaders([(_, refresh), (_, marker)]) = set(&h, "abc", 60);
        let refresh = refresh.to_str().unwrap();
        assert!(refresh.contains("HttpOnly") && refresh.contains("SameSite=Strict"));
        assert!(refresh.contains("Path=/api/v1/auth") && !refresh.contains("Secure"));
        assert!(!marker.to_str().unwrap().contains("abc"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(set(&h, "abc", 60).0[0].1.to_str().unwrap().ends_with("; Secure"));
    }
}
