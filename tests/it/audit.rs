//! The audit log against the real server, on SQLite and Postgres: every audited action
//! leaves one row with its actor, target, workspace and client address (behind a trusted
//! proxy, the forwarded one); instance admins read them all, a workspace's admins its
//! own, filtered and paged; failed logins are as bounded as the login limits; old events
//! are pruned.

use crate::common;

use common::api::{Api, Db, server_with};
use reqwest::Method;
use serde_json::{Value, json};
use tandem::store::audit::{AuditAction, AuditEntry};

on_both_databases!(
    every_audited_action_is_recorded_with_actor_target_and_address,
    a_workspace_audit_is_its_admins_and_filters_and_pages,
    failed_logins_are_recorded_only_as_far_as_the_login_limits_allow,
    events_past_the_retention_are_pruned,
);

const AUDIT: &str = "/api/v1/admin/audit";
/// A client address the trusted proxy (the test itself, on loopback) forwards.
const CLIENT: &str = "198.51.100.7";

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn events(page: &Value) -> &Vec<Value> {
    page["events"].as_array().unwrap()
}

/// The newest event with `action`.
fn find<'a>(page: &'a Value, action: &str) -> &'a Value {
    events(page).iter().find(|e| e["action"] == action).unwrap_or_else(|| panic!("no {action} in {page:#}"))
}

async fn every_audited_action_is_recorded_with_actor_target_and_address(db: Db) {
    let server = server_with(db, |c| c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let api = Api::new(&server);
    let root = api.signup("root@example.com").await;
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let call = |method: Method, path: String, token: Option<String>, body: Option<Value>| {
        let mut req = api.request(method, &path, token.as_deref()).header("x-forwarded-for", CLIENT);
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let t = |a: &common::api::Account| Some(a.token.clone());

    // Logins: one good, one wrong password, one unknown email.
    let good = json!({"email": "ann@example.com", "password": "correct horse battery"});
    assert_eq!(call(Method::POST, "/api/v1/auth/login".into(), None, Some(good)).await.0, 200);
    let wrong = json!({"email": "ann@example.com", "password": "wrong password"});
    assert_eq!(call(Method::POST, "/api/v1/auth/login".into(), None, Some(wrong)).await.0, 401);
    let unknown = json!({"email": "ghost@example.com", "password": "wrong password"});
    assert_eq!(call(Method::POST, "/api/v1/auth/login".into(), None, Some(unknown)).await.0, 401);
    // A refresh token used twice.
    let refresh = json!({"refresh_token": bob.refresh});
    assert_eq!(call(Method::POST, "/api/v1/auth/refresh".into(), None, Some(refresh.clone())).await.0, 200);
    assert_eq!(call(Method::POST, "/api/v1/auth/refresh".into(), None, Some(refresh)).await.0, 401);

    // A workspace: Bob invited and accepting, his role changed, then removed.
    let (_, ws) = call(Method::POST, "/api/v1/workspaces".into(), t(&ann), Some(json!({"name": "Team"}))).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    let invite = json!({"email": "bob@example.com", "role": "viewer"});
    let (_, inv) = call(Method::POST, format!("/api/v1/workspaces/{ws}/invitations"), t(&ann), Some(invite)).await;
    let accept = format!("/api/v1/invitations/{}/accept", inv["token"].as_str().unwrap());
    assert_eq!(call(Method::POST, accept, t(&bob), None).await.0, 200);
    let member = format!("/api/v1/workspaces/{ws}/members/{}", bob.id);
    assert_eq!(call(Method::PATCH, member.clone(), t(&ann), Some(json!({"role": "editor"}))).await.0, 200);

    // A document: shared and unshared, a link made and revoked, trashed, deleted.
    let doc = api.create_doc(&ann.token, json!({"title": "Plans", "workspace_id": ws})).await;
    let shares = format!("/api/v1/documents/{doc}/shares");
    let share = json!({"user_id": root.id, "role": "viewer"});
    assert_eq!(call(Method::POST, shares.clone(), t(&ann), Some(share)).await.0, 200);
    assert_eq!(call(Method::DELETE, format!("{shares}/{}", root.id), t(&ann), None).await.0, 204);
    let links = format!("/api/v1/documents/{doc}/links");
    let (_, link) = call(Method::POST, links.clone(), t(&ann), Some(json!({"role": "viewer"}))).await;
    let link_id = link["id"].as_str().unwrap().to_owned();
    assert_eq!(call(Method::DELETE, format!("{links}/{link_id}"), t(&ann), None).await.0, 204);
    assert_eq!(call(Method::DELETE, member, t(&ann), None).await.0, 204);
    assert_eq!(call(Method::DELETE, format!("/api/v1/documents/{doc}"), t(&ann), None).await.0, 204);
    let purge = format!("/api/v1/documents/{doc}?permanent=true");
    assert_eq!(call(Method::DELETE, purge, t(&ann), None).await.0, 204);

    // A personal token made and revoked; Bob disabled and enabled.
    let token = json!({"name": "ci", "scopes": ["read"]});
    let (_, made) = call(Method::POST, "/api/v1/users/me/tokens".into(), t(&ann), Some(token)).await;
    let token_id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(call(Method::DELETE, format!("/api/v1/users/me/tokens/{token_id}"), t(&ann), None).await.0, 204);
    for what in ["disable", "enable"] {
        assert_eq!(call(Method::POST, format!("/api/v1/admin/users/{}/{what}", bob.id), t(&root), None).await.0, 204);
    }

    let (status, page) = api.get(&format!("{AUDIT}?limit=100"), &root.token).await;
    assert_eq!(status, 200, "{page}");
    // (action, actor, target kind, target id, workspace)
    let doc_event = |action| (action, Some(&ann.id), "document", doc.clone(), Some(&ws));
    let want = [
        ("auth.login", Some(&ann.id), "user", ann.id.clone(), None),
        ("auth.refresh_reuse", Some(&bob.id), "", String::new(), None),
        ("member.added", Some(&bob.id), "user", bob.id.clone(), Some(&ws)),
        ("member.role_changed", Some(&ann.id), "user", bob.id.clone(), Some(&ws)),
        ("member.removed", Some(&ann.id), "user", bob.id.clone(), Some(&ws)),
        doc_event("share.created"),
        doc_event("share.revoked"),
        doc_event("link.created"),
        doc_event("link.revoked"),
        doc_event("document.trashed"),
        doc_event("document.deleted"),
        ("token.created", Some(&ann.id), "token", token_id.clone(), None),
        ("token.revoked", Some(&ann.id), "token", token_id.clone(), None),
        ("admin.user_disabled", Some(&root.id), "user", bob.id.clone(), None),
        ("admin.user_enabled", Some(&root.id), "user", bob.id.clone(), None),
    ];
    for (action, actor, kind, target, ws) in want {
        let e = find(&page, action);
        assert_eq!(e["actor_id"].as_str(), actor.map(String::as_str), "{e}");
        assert_eq!(e["target_kind"].as_str().unwrap_or(""), kind, "{e}");
        assert_eq!(e["target_id"].as_str().unwrap_or(""), target, "{e}");
        assert_eq!(e["workspace_id"].as_str(), ws.map(String::as_str), "{e}");
        assert_eq!(e["address"], CLIENT, "{e}");
        assert!(e["at"].as_i64().unwrap() > 0 && e["id"].is_i64(), "{e}");
    }
    assert_eq!(find(&page, "member.role_changed")["detail"], json!({"from": "viewer", "to": "editor"}));
    assert_eq!(find(&page, "share.created")["detail"], json!({"user": root.id, "role": "viewer"}));
    assert_eq!(find(&page, "link.created")["detail"], json!({"link": link_id, "role": "viewer"}));
    // Failed logins: the known account named, the unknown email kept in the detail only.
    let failed: Vec<&Value> = events(&page).iter().filter(|e| e["action"] == "auth.login_failed").collect();
    assert_eq!(failed.len(), 2, "{page:#}");
    assert!(failed[0]["actor_id"].is_null(), "{}", failed[0]);
    assert_eq!(failed[0]["detail"], json!({"email": "ghost@example.com", "reason": "invalid_credentials"}));
    assert_eq!(failed[1]["actor_id"], ann.id.as_str());
    // Each row names its actor as they are called now.
    assert_eq!((failed[0]["actor_name"].as_str(), failed[1]["actor_name"].as_str()), (None, Some("ann")));
    // Signups are not logins: one auth.login only.
    assert_eq!(events(&page).iter().filter(|e| e["action"] == "auth.login").count(), 1);
}

async fn a_workspace_audit_is_its_admins_and_filters_and_pages(db: Db) {
    let server = server_with(db, |_| {}).await;
    let api = Api::new(&server);
    let _root = api.signup("root@example.com").await;
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let (_, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Team"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    let (_, inv) = api
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            &ann.token,
            json!({"email": bob.email, "role": "viewer"}),
        )
        .await;
    let accept = format!("/api/v1/invitations/{}/accept", inv["token"].as_str().unwrap());
    assert_eq!(api.call(Method::POST, &accept, Some(&bob.token), None).await.0, 200);
    let mut docs = Vec::new();
    for i in 0..5 {
        let doc = api.create_doc(&ann.token, json!({"title": format!("d{i}"), "workspace_id": ws})).await;
        assert_eq!(
            api.post(&format!("/api/v1/documents/{doc}/links"), &ann.token, json!({"role": "viewer"})).await.0,
            201
        );
        docs.push(doc);
    }
    // Elsewhere: Bob's own document in his personal workspace is not this workspace's.
    let own = api.create_doc(&bob.token, json!({"title": "mine"})).await;
    assert_eq!(api.post(&format!("/api/v1/documents/{own}/links"), &bob.token, json!({"role": "viewer"})).await.0, 201);

    let path = format!("/api/v1/workspaces/{ws}/audit");
    let (status, all) = api.get(&path, &ann.token).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(events(&all).len(), 6, "five links and Bob joining: {all:#}");
    assert!(events(&all).iter().all(|e| e["workspace_id"] == ws.as_str()));
    assert!(!all.to_string().contains(&own));
    // What happened there, not where from: the addresses are the instance admins' only.
    assert!(events(&all).iter().all(|e| e["address"].is_null()), "{all:#}");
    // Newest first.
    let ids: Vec<i64> = events(&all).iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");

    // Bob, a viewer, may not read it; a stranger is told it does not exist.
    let (status, body) = api.get(&path, &bob.token).await;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let stranger = api.signup("stranger@example.com").await;
    assert_eq!(api.get(&path, &stranger.token).await.0, 404);

    // Filters: by action, by actor, by time; pages of two.
    let (_, links) = api.get(&format!("{path}?action=link.created"), &ann.token).await;
    assert_eq!(events(&links).len(), 5);
    let (_, by_bob) = api.get(&format!("{path}?actor={}", bob.id), &ann.token).await;
    assert_eq!(events(&by_bob).len(), 1);
    assert_eq!(by_bob["events"][0]["action"], "member.added");
    let newest = events(&all)[0]["at"].as_i64().unwrap();
    let (_, later) = api.get(&format!("{path}?since={}", newest + 1), &ann.token).await;
    assert_eq!(events(&later).len(), 0);
    let (_, earlier) = api.get(&format!("{path}?until={}", newest + 1), &ann.token).await;
    assert_eq!(events(&earlier).len(), 6);
    let mut seen = Vec::new();
    let mut next = format!("{path}?limit=2");
    for _ in 0..10 {
        let (status, page) = api.get(&next, &ann.token).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(events(&page).iter().map(|e| e["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => next = format!("{path}?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    for (query, want) in
        [("action=auth.nope", "invalid_query"), ("limit=500", "invalid_query"), ("cursor=x", "invalid_cursor")]
    {
        let (status, body) = api.get(&format!("{path}?{query}"), &ann.token).await;
        assert_eq!((status, code(&body)), (400, want), "{query}");
    }
}

async fn failed_logins_are_recorded_only_as_far_as_the_login_limits_allow(db: Db) {
    let server = server_with(db, |c| c.auth.login_attempts_per_minute = 3).await;
    let api = Api::new(&server);
    let root = api.signup("root@example.com").await;
    let mut statuses = Vec::new();
    for i in 0..20 {
        // A long email each time: the detail stays bounded all the same.
        let email = format!("{}{i}@example.com", "x".repeat(200));
        let body = json!({"email": email, "password": "wrong password"});
        statuses.push(api.call(Method::POST, "/api/v1/auth/login", None, Some(body)).await.0);
    }
    // Ten times the per-account limit per address: 30 attempts pass, so all 20 here.
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    for _ in 0..15 {
        let body = json!({"email": "root@example.com", "password": "wrong password"});
        statuses.push(api.call(Method::POST, "/api/v1/auth/login", None, Some(body)).await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 12, "{statuses:?}");
    let (_, page) = api.get(&format!("{AUDIT}?action=auth.login_failed&limit=100"), &root.token).await;
    // Each refused attempt past the limits left no row.
    assert_eq!(events(&page).len(), 23, "{page:#}");
    assert!(events(&page).iter().all(|e| e["detail"].to_string().len() < 400));
}

async fn events_past_the_retention_are_pruned(db: Db) {
    let server = server_with(db, |c| c.auth.audit_retention_days = 30).await;
    let api = Api::new(&server);
    let root = api.signup("root@example.com").await;
    let url = server
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", server.dir.path().join("tandem.db").display()));
    let store = tandem::store::open(&url, tandem::config::SqliteSync::Normal).await.unwrap();
    let day = 24 * 3600 * 1000;
    let now = tandem::store::catalog::now_ms();
    for age_days in [31, 45, 29] {
        let old = AuditEntry {
            at: now - age_days * day,
            ..AuditEntry::new(AuditAction::Login).detail(json!({"age": age_days}))
        };
        store.record_audit(&old).await.unwrap();
    }
    let (_, before) = api.get(AUDIT, &root.token).await;
    assert_eq!(events(&before).len(), 4, "three old events and the first account's grant");
    assert_eq!(tandem::maintenance::prune_audit(store.as_ref(), 30).await.unwrap(), 2);
    let (_, after) = api.get(AUDIT, &root.token).await;
    let left: Vec<Value> = events(&after).iter().map(|e| e["detail"].clone()).collect();
    assert_eq!(left, [json!({"age": 29}), json!({"reason": "first account"})]);
    assert_eq!(tandem::maintenance::prune_audit(store.as_ref(), 30).await.unwrap(), 0);
}
