//! Personal tokens and removed members, callers the matrix has no column for, against the
//! admin, audit and account routes.

use super::world::{Who, world};
use crate::common::api::{Account, Db, server};
use reqwest::Method;
use serde_json::{Value, json};

/// The new routes with callers the matrix (matrix.rs) has no row for: the instance admin's own
/// personal tokens (read and write: admin routes take a session), a workspace owner's
/// read token (reads the workspace's audit), a disabled admin and a removed member.
pub(super) async fn personal_tokens_and_removed_members_against_the_admin_and_audit_routes(db: Db) {
    let server = server(db).await;
    let w = world(&server).await;
    let root = &w.accounts[&Who::InstanceAdmin];
    let token = |who: &Account, scope: &'static str| {
        let api = &w.api;
        let token = who.token.clone();
        async move {
            let body = json!({"name": "cell", "scopes": [scope]});
            let (status, made) = api.post("/api/v1/users/me/tokens", &token, body).await;
            assert_eq!(status, 201, "{made}");
            made["token"].as_str().unwrap().to_owned()
        }
    };
    let (root_read, root_write) = (token(root, "read").await, token(root, "write").await);
    let target = &w.target.id;
    let admin_routes = [
        (Method::GET, "/api/v1/admin/users".to_owned()),
        (Method::GET, "/api/v1/system/info".to_owned()),
        (Method::GET, "/api/v1/admin/audit".to_owned()),
        (Method::POST, format!("/api/v1/admin/users/{target}/disable")),
        (Method::POST, format!("/api/v1/admin/users/{target}/enable")),
    ];
    let mut failures = Vec::new();
    for (method, path) in &admin_routes {
        for (name, secret, want) in
            [("read", &root_read, "session_required"), ("write", &root_write, "session_required")]
        {
            let (status, body) = w.api.call(method.clone(), path, Some(secret), None).await;
            let code = body["error"]["code"].as_str().unwrap_or("");
            // A read token is refused anything but GET before its caller is looked at.
            let want = if *method == Method::GET || name == "write" { want } else { "read_only_token" };
            if (status, code) != (403, want) {
                failures.push(format!("{method} {path} with the admin's {name} token: {status} {code}"));
            }
        }
    }
    let audit = format!("/api/v1/workspaces/{}/audit", w.ws);
    let owner_read = token(&w.owner, "read").await;
    let viewer_write = token(&w.accounts[&Who::Viewer], "write").await;
    for (who, secret, want) in [("owner's read token", &owner_read, 200), ("viewer's write token", &viewer_write, 403)]
    {
        let status = w.api.get(&audit, secret).await.0;
        if status != want {
            failures.push(format!("workspace audit with the {who}: {status}, want {want}"));
        }
    }
    // A member removed from the workspace is told it does not exist.
    let (s, _) = w
        .api
        .call(
            Method::DELETE,
            &format!("/api/v1/workspaces/{}/members/{}", w.ws, w.target.id),
            Some(&w.owner.token),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let status = w.api.get(&audit, &w.target.token).await.0;
    if status != 404 {
        failures.push(format!("workspace audit by a removed member: {status}, want 404"));
    }
    // A disabled user is refused before any role is looked at.
    let (s, _) =
        w.api.call(Method::POST, &format!("/api/v1/admin/users/{}/disable", w.owner.id), Some(&root.token), None).await;
    assert_eq!(s, 204);
    let (status, body) = w.api.get("/api/v1/system/info", &w.owner.token).await;
    if (status, body["error"]["code"].as_str()) != (401, Some("account_disabled")) {
        failures.push(format!("system info by a disabled user: {status} {body}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The account routes for the callers the matrix has no column for: the owner's personal
/// tokens of either scope, and a member removed from the workspace.
pub(super) async fn account_routes_for_personal_tokens_and_removed_members(db: Db) {
    let server = server(db).await;
    let w = world(&server).await;
    let mut tokens = Vec::new();
    for scope in ["read", "write"] {
        let body = json!({"name": scope, "scopes": [scope]});
        let (status, made) = w.api.post("/api/v1/users/me/tokens", &w.owner.token, body).await;
        assert_eq!(status, 201, "{made}");
        tokens.push(made["token"].as_str().unwrap().to_owned());
    }
    let target = format!("/api/v1/users/{}", w.target.id);
    let wrong = json!({"password": "not the password"});
    let right = json!({"password": "correct horse battery"});
    /// Method, path, body, the read token's answer, the write token's, the read token's code.
    type Cell<'a> = (Method, &'a str, Option<Value>, u16, u16, Option<&'a str>);
    #[rustfmt::skip]
    let cells: Vec<Cell> = vec![
        (Method::GET, "/api/v1/users/me", None, 200, 200, None),
        (Method::PATCH, "/api/v1/users/me", Some(json!({"name": "Owner"})), 403, 200, Some("read_only_token")),
        (Method::GET, &target, None, 200, 200, None),
        (Method::GET, "/api/v1/changes", None, 200, 200, None),
        (Method::GET, "/api/v1/users/me/export", None, 200, 200, None),
        (Method::DELETE, "/api/v1/users/me", Some(wrong), 403, 403, Some("read_only_token")),
        // Even with the password, deleting the account takes a session.
        (Method::DELETE, "/api/v1/users/me", Some(right), 403, 403, Some("read_only_token")),
    ];
    for (method, path, body, read_wants, write_wants, read_code) in cells {
        for (token, want) in [(&tokens[0], read_wants), (&tokens[1], write_wants)] {
            let (status, answer) = w.api.call(method.clone(), path, Some(token), body.clone()).await;
            assert_eq!(status, want, "{method} {path}: {answer}");
            if token == &tokens[0] && read_code.is_some() {
                assert_eq!(answer["error"]["code"].as_str(), read_code, "{method} {path}");
            }
            if method == Method::DELETE && token == &tokens[1] {
                assert_eq!(answer["error"]["code"].as_str(), Some("session_required"), "{answer}");
            }
        }
    }

    // A member removed from the workspace: a stranger to its people again, still a user.
    let owner = format!("/api/v1/users/{}", w.owner.id);
    let (status, _) = w.api.get(&owner, &w.target.token).await;
    assert_eq!(status, 200);
    let p = format!("/api/v1/workspaces/{}/members/{}", w.ws, w.target.id);
    let (status, _) = w.api.call(Method::DELETE, &p, Some(&w.owner.token), None).await;
    assert_eq!(status, 204);
    let (status, _) = w.api.get(&owner, &w.target.token).await;
    assert_eq!(status, 404);
    for path in ["/api/v1/users/me", "/api/v1/changes", "/api/v1/users/me/export"] {
        let (status, _) = w.api.get(path, &w.target.token).await;
        assert_eq!(status, 200, "{path}");
    }
}
