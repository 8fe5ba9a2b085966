//! The web app's public files, and the session cookie's need for the app's header.

use crate::common::api::{Api, Db, server};
use reqwest::Method;
use serde_json::{Value, json};

/// The web app's files carry no data: everyone gets the shell and its assets, and the
/// server's own paths keep their JSON 404. The cookie path of refresh and logout only
/// answers requests carrying `X-Tandem-Session: 1`; bodies with a token work as before.
pub(super) async fn the_web_app_is_public_and_the_session_cookie_needs_the_apps_header(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let user = api.signup("web@example.com").await;
    for token in [None, Some(user.token.as_str())] {
        for path in ["/", "/login", "/signup", "/d/some-document", "/d/some-document?link=abc", "/favicon.svg"] {
            let resp = api.request(Method::GET, path, token).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{path}");
        }
        for (method, path) in [
            (Method::GET, "/api/v1/no-such-route"),
            (Method::GET, "/api"),
            (Method::GET, "/ws"),
            (Method::POST, "/"),
            (Method::DELETE, "/d/some-document"),
        ] {
            let (status, body) = api.call(method, path, token, None).await;
            assert_eq!((status, body["error"]["code"].as_str()), (404, Some("route_not_found")), "{path}");
        }
        let (status, body) = api.call(Method::GET, "/assets/missing-0000.js", token, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("asset_not_found")));
    }
    let shell = api.request(Method::GET, "/d/x", None).send().await.unwrap();
    let csp = shell.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(shell.headers()["cache-control"], "no-cache");
    let html = shell.text().await.unwrap();
    let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).unwrap();
    assert!(html.contains(nonce) && !html.contains("__CSP_NONCE__"));
    assert!(!html.contains("<script>"), "no inline script");
    let asset = html.split("src=\"").nth(1).and_then(|s| s.split('"').next()).unwrap().to_owned();
    let resp = api.request(Method::GET, &asset, None).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{asset}");
    assert_eq!(resp.headers()["cache-control"], "public, max-age=31536000, immutable");
    let plain = resp.bytes().await.unwrap();
    let resp = api.request(Method::GET, &asset, None).header("accept-encoding", "br, gzip").send().await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let gzipped = resp.bytes().await.unwrap();
    assert!(
        gzipped.len() < plain.len() / 2 && gzipped.starts_with(&[0x1f, 0x8b]),
        "{} of {}",
        gzipped.len(),
        plain.len()
    );

    // Login from the app: the refresh token only as an HttpOnly cookie.
    let login = |app: bool| {
        let mut req = api.request(Method::POST, "/api/v1/auth/login", None);
        if app {
            req = req.header("x-tandem-session", "1");
        }
        req.json(&json!({"email": "web@example.com", "password": "correct horse battery"})).send()
    };
    let resp = login(true).await.unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = refresh_cookie(&resp).expect("a refresh cookie");
    let body: Value = resp.json().await.unwrap();
    assert!(body["access_token"].is_string() && body.get("refresh_token").is_none(), "{body}");
    // Other clients still get the token in the body (and the cookie too).
    let resp = login(false).await.unwrap();
    assert!(refresh_cookie(&resp).is_some());
    assert!(resp.json::<Value>().await.unwrap()["refresh_token"].is_string());

    let refresh = |cookie: Option<&str>, app: bool, path: &'static str| {
        let mut req = api.request(Method::POST, path, None).header("content-type", "application/json").body("{}");
        if let Some(cookie) = cookie {
            req = req.header("cookie", format!("tandem_refresh={cookie}"));
        }
        if app {
            req = req.header("x-tandem-session", "1");
        }
        req.send()
    };
    const REFRESH: &str = "/api/v1/auth/refresh";
    const LOGOUT: &str = "/api/v1/auth/logout";
    // Without the app's header the cookie is not used (a cross-site form cannot set it).
    for path in [REFRESH, LOGOUT] {
        let resp = refresh(Some(&cookie), false, path).await.unwrap();
        assert_eq!(resp.status(), 403, "{path}");
        assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], "session_header_required");
    }
    let resp = refresh(None, true, REFRESH).await.unwrap();
    assert_eq!(resp.status(), 401);
    // With it: rotated, and the new token set as the cookie.
    let resp = refresh(Some(&cookie), true, REFRESH).await.unwrap();
    assert_eq!(resp.status(), 200);
    let rotated = refresh_cookie(&resp).expect("a rotated cookie");
    assert_ne!(rotated, cookie);
    assert!(resp.json::<Value>().await.unwrap().get("refresh_token").is_none());
    // The old cookie again: reuse, the session is revoked and the cookie cleared.
    let resp = refresh(Some(&cookie), true, REFRESH).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(refresh_cookie(&resp).as_deref(), Some(""));
    let resp = refresh(Some(&rotated), true, REFRESH).await.unwrap();
    assert_eq!(resp.status(), 401);
    // Logout ends a live session and clears the cookie.
    let cookie = refresh_cookie(&login(true).await.unwrap()).unwrap();
    let resp = refresh(Some(&cookie), true, LOGOUT).await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(refresh_cookie(&resp).as_deref(), Some(""));
    assert_eq!(refresh(Some(&cookie), true, REFRESH).await.unwrap().status(), 401);
}

/// The value a response sets the refresh cookie to, checking its attributes.
fn refresh_cookie(resp: &reqwest::Response) -> Option<String> {
    let set = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tandem_refresh="))?
        .to_owned();
    assert!(
        set.contains("; HttpOnly") && set.contains("; SameSite=Strict") && set.contains("; Path=/api/v1/auth"),
        "{set}"
    );
    Some(set.trim_start_matches("tandem_refresh=").split(';').next().unwrap().to_owned())
}
