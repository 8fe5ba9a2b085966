//! The REST API end to end over real HTTP, each case on SQLite and on Postgres: accounts
//! and token rotation, settings, workspaces and invitations, documents (CRUD, pagination,
//! filters, trash, duplicate), content through the live room, search, rendering and
//! export, bad input, and the OpenAPI document against what is served.

use crate::common;

use std::time::Duration;

use common::Client;
use common::api::{Api, Db, server, server_with};
use reqwest::Method;
use serde_json::{Value, json};

on_both_databases!(
    accounts_sign_up_log_in_rotate_refresh_tokens_and_log_out,
    a_reused_refresh_token_revokes_its_whole_family,
    login_is_throttled_per_account,
    settings_start_at_defaults_and_patch_with_validation,
    workspaces_invitations_roles_and_the_last_owner,
    documents_paginate_filter_sort_and_move_through_the_trash,
    put_content_reaches_connected_editors_and_keeps_their_edits,
    search_finds_edited_content_ranked_with_snippets,
    render_uses_etags_and_exports_download,
    hostile_renders_stay_within_their_caps,
    renders_out_of_time_are_answered_503,
    bad_input_gets_specific_errors_and_writes_nothing,
    openapi_describes_every_served_route,
    rest_requests_per_user_are_limited,
    search_snippets_escape_document_text,
    admins_list_and_revoke_invitations_and_a_removed_admins_invitations_die_with_them,
    sharing_by_email_answers_alike_and_waits_for_the_account,
    owners_removing_each_other_at_once_leave_exactly_one_owner,
    deleting_a_workspace_evicts_its_live_rooms,
);

async fn rest_requests_per_user_are_limited(db: Db) {
    let server = server_with(db, |c| c.api.max_requests_per_user_per_minute = 5).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(api.get("/api/v1/auth/me", &ann.token).await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429]);
    let (status, body) = api.get("/api/v1/documents", &ann.token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")));
    // Each user has an allowance of their own.
    assert_eq!(api.get("/api/v1/auth/me", &bob.token).await.0, 200);
}

async fn accounts_sign_up_log_in_rotate_refresh_tokens_and_log_out(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let (status, me) = api.get("/api/v1/auth/me", &ann.token).await;
    assert_eq!((status, me["email"].as_str()), (200, Some("ann@example.com")));
    // Signup made a personal workspace.
    let (_, spaces) = api.get("/api/v1/workspaces", &ann.token).await;
    assert_eq!(spaces.as_array().unwrap().len(), 1, "{spaces}");
    assert_eq!((spaces[0]["personal"].as_bool(), spaces[0]["role"].as_str()), (Some(true), Some("owner")));

    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({"email": "ANN@example.com", "password": "another password", "name": "A"})),
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("email_taken")));

    let login = |password: &'static str| {
        api.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "ann@example.com", "password": password})),
        )
    };
    let (status, body) = login("wrong password").await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_credentials")));
    let (status, body) = login("correct horse battery").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["expires_in"].as_u64().unwrap() > 0);

    let (status, rotated) =
        api.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": ann.refresh}))).await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["refresh_token"], json!(ann.refresh));
    let (status, _) = api.get("/api/v1/auth/me", rotated["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);

    let next = rotated["refresh_token"].as_str().unwrap();
    let (status, _) = api.call(Method::POST, "/api/v1/auth/logout", None, Some(json!({"refresh_token": next}))).await;
    assert_eq!(status, 204);
    let (status, body) =
        api.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": next}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_refresh_token")));

    let (status, body) = api.call(Method::GET, "/api/v1/auth/me", None, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("missing_token")));
    let (status, body) = api.get("/api/v1/auth/me", "not.a.token").await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_token")));
    // A room token is not a user.
    let (status, _) = api.get("/api/v1/auth/me", &server.token(&["*=rw"])).await;
    assert_eq!(status, 401);
}

async fn a_reused_refresh_token_revokes_its_whole_family(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let bob = api.signup("bob@example.com").await;
    let refresh = |t: String| api.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": t})));
    let (status, first) = refresh(bob.refresh.clone()).await;
    assert_eq!(status, 200);
    // The stolen (already used) token comes back: reuse.
    let (status, body) = refresh(bob.refresh.clone()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("refresh_token_reused")));
    // ...and the legitimate successor is revoked with it.
    let (status, body) = refresh(first["refresh_token"].as_str().unwrap().into()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_refresh_token")));
    // A fresh login starts a new family that works.
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "bob@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = refresh(body["refresh_token"].as_str().unwrap().into()).await;
    assert_eq!(status, 200);
}

async fn login_is_throttled_per_account(db: Db) {
    let server = server_with(db, |c| c.auth.login_attempts_per_minute = 5).await;
    let api = Api::new(&server);
    api.signup("cat@example.com").await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let (status, _) = api
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "cat@example.com", "password": "guess guess"})),
            )
            .await;
        statuses.push(status);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429]);
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "cat@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("too_many_attempts")));
    // Another account is not affected.
    api.signup("dog@example.com").await;
    let (status, _) = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "dog@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(status, 200);
}

async fn settings_start_at_defaults_and_patch_with_validation(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let (status, s) = api.get("/api/v1/users/me/settings", &ann.token).await;
    assert_eq!((status, s["theme"].as_str(), s["editor"]["font_size"].as_u64()), (200, Some("system"), Some(14)));
    let patch = json!({"theme": "dark", "editor": {"keymap": "vim"}, "render": {"sync_scroll": false}});
    let (status, s) = api.call(Method::PATCH, "/api/v1/users/me/settings", Some(&ann.token), Some(patch)).await;
    assert_eq!(status, 200, "{s}");
    let (_, s) = api.get("/api/v1/users/me/settings", &ann.token).await;
    assert_eq!(s["theme"], "dark");
    assert_eq!(s["editor"]["keymap"], "vim");
    assert_eq!(s["editor"]["font_size"], 14);
    assert_eq!(s["render"]["sync_scroll"], false);
    for (bad, code) in [
        (json!({"editor": {"font_size": 200}}), "invalid_field"),
        (json!({"theme": "neon"}), "invalid_body"),
        (json!({"colour": "red"}), "invalid_body"),
        (json!({"language": "<script>"}), "invalid_field"),
    ] {
        let (status, body) =
            api.call(Method::PATCH, "/api/v1/users/me/settings", Some(&ann.token), Some(bad.clone())).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some(code)), "{bad}");
    }
    let (_, s) = api.get("/api/v1/users/me/settings", &ann.token).await;
    assert_eq!(s["theme"], "dark", "a refused patch changed nothing");
}

async fn workspaces_invitations_roles_and_the_last_owner(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let eve = api.signup("eve@example.com").await;
    let (status, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Team"})).await;
    assert_eq!(status, 201);
    let ws = ws["id"].as_str().unwrap().to_owned();

    let (status, inv) = api
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            &ann.token,
            json!({"email": "Bob@example.com", "role": "editor"}),
        )
        .await;
    assert_eq!(status, 201, "{inv}");
    let accept = format!("/api/v1/invitations/{}/accept", inv["token"].as_str().unwrap());
    let (status, body) = api.call(Method::POST, &accept, Some(&eve.token), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("invitation_for_another_email")));
    let (status, body) = api.call(Method::POST, &accept, Some(&bob.token), None).await;
    assert_eq!((status, body["role"].as_str()), (200, Some("editor")), "{body}");
    let (status, body) = api.call(Method::POST, &accept, Some(&bob.token), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("invitation_used")));
    let (status, body) = api.call(Method::POST, "/api/v1/invitations/nope/accept", Some(&bob.token), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("invitation_not_found")));

    let (_, members) = api.get(&format!("/api/v1/workspaces/{ws}/members"), &bob.token).await;
    assert_eq!(members.as_array().unwrap().len(), 2);
    // Strangers do not learn the workspace exists.
    let (status, body) = api.get(&format!("/api/v1/workspaces/{ws}"), &eve.token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("workspace_not_found")));
    // Editors can't manage members; admins can't make owners.
    let member = |u: &str| format!("/api/v1/workspaces/{ws}/members/{u}");
    let (status, _) = api.call(Method::PATCH, &member(&bob.id), Some(&bob.token), Some(json!({"role": "admin"}))).await;
    assert_eq!(status, 403);
    let (status, _) = api.call(Method::PATCH, &member(&bob.id), Some(&ann.token), Some(json!({"role": "admin"}))).await;
    assert_eq!(status, 200);
    let (status, _) = api.call(Method::PATCH, &member(&bob.id), Some(&bob.token), Some(json!({"role": "owner"}))).await;
    assert_eq!(status, 403);
    let (status, body) =
        api.call(Method::PATCH, &member(&ann.id), Some(&ann.token), Some(json!({"role": "editor"}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("last_owner")));
    let (status, body) = api.call(Method::DELETE, &member(&ann.id), Some(&ann.token), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("last_owner")));
    // Anyone may leave.
    let (status, _) = api.call(Method::DELETE, &member(&bob.id), Some(&bob.token), None).await;
    assert_eq!(status, 204);
    let (status, _) = api.get(&format!("/api/v1/workspaces/{ws}"), &bob.token).await;
    assert_eq!(status, 404);
    // Renaming and deleting.
    let (status, body) = api
        .call(Method::PATCH, &format!("/api/v1/workspaces/{ws}"), Some(&ann.token), Some(json!({"name": "Renamed"})))
        .await;
    assert_eq!((status, body["name"].as_str()), (200, Some("Renamed")));
    let (_, spaces) = api.get("/api/v1/workspaces", &ann.token).await;
    let personal =
        spaces.as_array().unwrap().iter().find(|w| w["personal"] == true).unwrap()["id"].as_str().unwrap().to_owned();
    let (status, body) =
        api.call(Method::DELETE, &format!("/api/v1/workspaces/{personal}"), Some(&ann.token), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("personal_workspace")));
    let (status, _) = api.call(Method::DELETE, &format!("/api/v1/workspaces/{ws}"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
}

async fn documents_paginate_filter_sort_and_move_through_the_trash(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let mut ids = Vec::new();
    for (i, title) in ["delta", "alpha", "echo", "charlie", "bravo"].iter().enumerate() {
        let tags = if i % 2 == 0 { json!(["even", "all"]) } else { json!(["all"]) };
        ids.push(
            api.create_doc(&ann.token, json!({"title": title, "tags": tags, "content": format!("# {title}\n")})).await,
        );
    }
    // Keyset pages of two cover all five exactly once, newest first.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/documents?limit=2&cursor={c}"),
            None => "/api/v1/documents?limit=2&sort=created".into(),
        };
        let path = if cursor.is_some() { format!("{path}&sort=created") } else { path };
        let (status, page) = api.get(&path, &ann.token).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["documents"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let titles = |v: &Value| -> Vec<String> {
        v["documents"].as_array().unwrap().iter().map(|d| d["title"].as_str().unwrap().to_owned()).collect()
    };
    let (_, page) = api.get("/api/v1/documents?sort=title&order=asc", &ann.token).await;
    assert_eq!(titles(&page), ["alpha", "bravo", "charlie", "delta", "echo"]);
    let (_, page) = api.get("/api/v1/documents?tag=even&sort=title&order=asc", &ann.token).await;
    assert_eq!(titles(&page), ["bravo", "delta", "echo"]);
    let (_, page) = api.get(&format!("/api/v1/documents?owner={}&limit=200", ann.id), &ann.token).await;
    assert_eq!(page["documents"].as_array().unwrap().len(), 5);

    // Patch title and tags.
    let doc = &ids[0];
    let (status, body) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/documents/{doc}"),
            Some(&ann.token),
            Some(json!({"title": "Delta!", "tags": ["x", "x", "y"]})),
        )
        .await;
    assert_eq!((status, body["title"].as_str()), (200, Some("Delta!")));
    assert_eq!(body["tags"], json!(["x", "y"]));

    // Trash and restore.
    let (status, _) = api.call(Method::DELETE, &format!("/api/v1/documents/{doc}"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let (status, body) = api.get(&format!("/api/v1/documents/{doc}"), &ann.token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("document_not_found")));
    let (_, trash) = api.get("/api/v1/documents?deleted=true", &ann.token).await;
    assert_eq!(titles(&trash), ["Delta!"]);
    let (status, _) = api.call(Method::POST, &format!("/api/v1/documents/{doc}/restore"), Some(&ann.token), None).await;
    assert_eq!(status, 200);
    assert_eq!(api.content(&ann.token, doc).await, "# delta\n");

    // Duplicate copies title, tags and content.
    let (status, copy) =
        api.call(Method::POST, &format!("/api/v1/documents/{doc}/duplicate"), Some(&ann.token), None).await;
    assert_eq!(status, 201, "{copy}");
    assert_eq!((copy["title"].as_str(), &copy["tags"]), (Some("Delta! (copy)"), &json!(["x", "y"])));
    let copy_id = copy["id"].as_str().unwrap();
    assert_ne!(copy_id, doc);
    assert_eq!(api.content(&ann.token, copy_id).await, "# delta\n");

    // Permanent deletion removes the document and its content for good.
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/documents/{doc}?permanent=true"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let (status, _) = api.call(Method::POST, &format!("/api/v1/documents/{doc}/restore"), Some(&ann.token), None).await;
    assert_eq!(status, 404);
    let (status, _) = api.get(&format!("/api/v1/documents/{doc}/content"), &ann.token).await;
    assert_eq!(status, 404);
    assert_eq!(api.content(&ann.token, copy_id).await, "# delta\n", "the copy is independent");
}

async fn put_content_reaches_connected_editors_and_keeps_their_edits(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Live", "content": "alpha\nbeta\n"})).await;
    let mut editor = Client::connect(&server.ws_url(&doc, &ann.token)).await.unwrap();
    editor.sync().await;
    assert_eq!(editor.text(), "alpha\nbeta\n");

    assert_eq!(api.put_content(&ann.token, &doc, "ALPHA\nbeta\n").await, 200);
    editor.wait_text(Duration::from_secs(5), |t| t == "ALPHA\nbeta\n").await;

    // The editor types at the end; a REST write based on an older read changes only the
    // first line, and the editor's words survive.
    editor.append_acked("gamma\n").await;
    assert_eq!(api.put_content(&ann.token, &doc, "Alpha\nbeta\ngamma\n").await, 200);
    editor.wait_text(Duration::from_secs(5), |t| t == "Alpha\nbeta\ngamma\n").await;
    assert_eq!(api.content(&ann.token, &doc).await, "Alpha\nbeta\ngamma\n");

    let (status, body) = api
        .request(Method::GET, &format!("/api/v1/documents/{doc}/content"), Some(&ann.token))
        .header("accept", "application/json")
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 200);
    let body: Value = body.json().await.unwrap();
    assert_eq!(body["content"], "Alpha\nbeta\ngamma\n");
    assert!(body["etag"].as_str().unwrap().len() > 8);
    let (status, _) = api
        .call(
            Method::PUT,
            &format!("/api/v1/documents/{doc}/content"),
            Some(&ann.token),
            Some(json!({"content": "json body\n"})),
        )
        .await;
    assert_eq!(status, 200);
    editor.wait_text(Duration::from_secs(5), |t| t == "json body\n").await;
}

async fn search_finds_edited_content_ranked_with_snippets(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let in_body = api.create_doc(&ann.token, json!({"title": "Notes", "content": "nothing yet\n"})).await;
    let in_title = api.create_doc(&ann.token, json!({"title": "Zeppelin flight plan", "content": "plan\n"})).await;
    api.create_doc(&bob.token, json!({"title": "Bob's zeppelin", "content": "zeppelin zeppelin\n"})).await;

    // An edit in the room is searchable within seconds.
    let mut editor = Client::connect(&server.ws_url(&in_body, &ann.token)).await.unwrap();
    editor.sync().await;
    editor.append_acked("we saw a zeppelin over the harbour\n").await;
    let found = common::eventually_async(
        Duration::from_secs(10),
        || api.get("/api/v1/documents?q=zeppelin", &ann.token),
        |(_, page)| page["documents"].as_array().is_some_and(|d| d.len() == 2),
    )
    .await;
    assert!(found, "the edit was not indexed within 10 s");
    let (_, page) = api.get("/api/v1/documents?q=zeppelin", &ann.token).await;
    let hits = page["documents"].as_array().unwrap();
    assert_eq!(hits[0]["id"].as_str(), Some(in_title.as_str()), "a title match ranks first: {page}");
    assert_eq!(hits[1]["id"].as_str(), Some(in_body.as_str()));
    assert!(hits[1]["snippet"].as_str().unwrap().contains("<mark>zeppelin</mark>"), "{page}");
    assert!(hits[0]["rank"].as_f64().unwrap() >= hits[1]["rank"].as_f64().unwrap());
    // Prefixes match; operator syntax is just text; others' documents stay invisible.
    let (_, page) = api.get("/api/v1/documents?q=harb", &ann.token).await;
    assert_eq!(page["documents"].as_array().unwrap().len(), 1);
    let (status, page) = api.get("/api/v1/documents?q=%22zeppelin%20OR%20(", &ann.token).await;
    assert_eq!(status, 200, "{page}");
    let (_, page) = api.get("/api/v1/documents?q=zeppelin", &bob.token).await;
    assert_eq!(page["documents"].as_array().unwrap().len(), 1);
}

async fn render_uses_etags_and_exports_download(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let md = "# Report\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n\n```rust\nfn main() {}\n```\n\n<script>alert(1)</script>\n";
    let doc = api.create_doc(&ann.token, json!({"title": "Q3 Report: final", "content": md})).await;
    let path = format!("/api/v1/documents/{doc}/render");
    let resp = api.request(Method::GET, &path, Some(&ann.token)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let html = resp.text().await.unwrap();
    assert!(html.contains("<table>") && html.contains("checkbox") && html.contains("<span class="), "{html}");
    assert!(!html.contains("<script"), "{html}");

    let resp = api.request(Method::GET, &path, Some(&ann.token)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(resp.status(), 304);
    assert_eq!(api.put_content(&ann.token, &doc, "# Changed\n").await, 200);
    let resp = api.request(Method::GET, &path, Some(&ann.token)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_ne!(resp.headers()["etag"].to_str().unwrap(), etag);
    let html = resp.text().await.unwrap();
    assert!(html.contains("<h1 id=\"user-content-changed\">Changed<"), "{html}");

    let resp = api
        .request(Method::GET, &format!("/api/v1/documents/{doc}/export?format=md"), Some(&ann.token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-disposition"], "attachment; filename=\"q3-report-final.md\"");
    assert_eq!(resp.text().await.unwrap(), "# Changed\n");
    let resp = api
        .request(Method::GET, &format!("/api/v1/documents/{doc}/export?format=html"), Some(&ann.token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-disposition"], "attachment; filename=\"q3-report-final.html\"");
    let page = resp.text().await.unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>")
            && page.contains("<style>")
            && page.contains("<title>Q3 Report: final</title>")
    );
    let (status, body) = api.get(&format!("/api/v1/documents/{doc}/export?format=pdf"), &ann.token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_query")));

    // Previews of hostile input: nested, unclosed and scripted Markdown.
    let mut hostile = String::new();
    while hostile.len() < 256 * 1024 {
        hostile.push_str("[a](javascript:x) <img src=x onerror=alert(1)> **_[`<script>` ![x](");
        hostile.push_str(&"[".repeat(50));
        hostile.push_str("\n> > > - - 1. <svg onload=alert(1)>\n");
    }
    let resp = api
        .request(Method::POST, "/api/v1/render", Some(&ann.token))
        .header("content-type", "text/markdown")
        .body(hostile)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap().to_lowercase();
    for bad in ["<script", "javascript:", "onerror", "onload", "<svg"] {
        assert!(!html.contains(bad), "{bad} survived rendering");
    }
}

/// A fenced block of `bytes` of Rust: highlighting it whole would multiply it ~25 times.
fn code_block(bytes: usize) -> String {
    let line = "fn f(x: &str) -> Result<Vec<u8>, String> { let y = x.len() * 2; Ok(vec![y as u8]) } // \"s\"\n";
    format!("```rust\n{}```\n", line.repeat(bytes / line.len()))
}

/// POSTs `markdown` to the preview endpoint: status, body, seconds taken.
async fn preview(api: &Api, token: &str, markdown: String) -> (u16, String, f64) {
    let started = std::time::Instant::now();
    let resp = api
        .request(Method::POST, "/api/v1/render", Some(token))
        .header("content-type", "text/markdown")
        .body(markdown)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap(), started.elapsed().as_secs_f64())
}

fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["error"]["code"].as_str().unwrap_or_default().to_owned()
}

async fn hostile_renders_stay_within_their_caps(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let limit = tandem::config::ServeConfig::with_data_dir("unused").api.max_render_input;
    let output_limit = tandem::config::ServeConfig::with_data_dir("unused").api.max_render_output;

    // Just under the input limit, one code block: plain escaped text, quickly, not 25x.
    let block = code_block(limit - 1024);
    let (status, html, secs) = preview(&api, &ann.token, block.clone()).await;
    assert_eq!(status, 200, "{}", &html[..html.len().min(300)]);
    assert!(!html.contains("<span"), "a block this large is not highlighted");
    assert!(html.len() < 2 * block.len(), "{} bytes of HTML for {} of Markdown", html.len(), block.len());
    assert!(secs < 10.0, "took {secs:.1} s");

    // The same as a document: rendered once within the caps, then served from the cache.
    let doc = api.create_doc(&ann.token, json!({"title": "Code", "content": block})).await;
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let (status, body) = api.get(&format!("/api/v1/documents/{doc}/render"), &ann.token).await;
        assert_eq!(status, 200, "{body}");
        assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    }

    // Over the input limit: the preview body is refused before it is read; a document that
    // large is not rendered (422) but still exports as Markdown.
    let (status, body, _) = preview(&api, &ann.token, "a".repeat(limit + 128 * 1024)).await;
    assert_eq!((status, error_code(&body).as_str()), (413, "render_input_too_large"));
    let big = api.create_doc(&ann.token, json!({"title": "Big", "content": code_block(limit + 4096)})).await;
    for path in [format!("/api/v1/documents/{big}/render"), format!("/api/v1/documents/{big}/export?format=html")] {
        let (status, body) = api.get(&path, &ann.token).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("render_too_large")), "{path}: {body}");
    }
    let resp = api
        .request(Method::GET, &format!("/api/v1/documents/{big}/export?format=md"), Some(&ann.token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Small input, huge output: each one-cell row of a 100-column table becomes 100 cells.
    let table = format!("|{}\n|{}\n{}", "a|".repeat(100), "-|".repeat(100), "|a\n".repeat(output_limit / 900));
    assert!(table.len() < limit / 2);
    let (status, body, secs) = preview(&api, &ann.token, table).await;
    assert_eq!((status, error_code(&body).as_str()), (422, "render_too_large"));
    assert!(secs < 10.0, "took {secs:.1} s");
    // Many such tables, each short of comrak's cap per table: the syntax tree is bounded.
    let table = format!("|{}\n|{}\n{}\n", "a|".repeat(100), "-|".repeat(100), "|a\n".repeat(4000));
    let (status, body, secs) = preview(&api, &ann.token, table.repeat(60)).await;
    assert_eq!((status, error_code(&body).as_str()), (422, "render_too_large"));
    assert!(secs < 10.0, "took {secs:.1} s");
}

async fn renders_out_of_time_are_answered_503(db: Db) {
    let server = server_with(db, |c| c.api.render_timeout = Duration::from_millis(1)).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let markdown = "# Title\n\nSome *text* with [links](https://example.com).\n\n".repeat(5_000);
    let (status, body, _) = preview(&api, &ann.token, markdown.clone()).await;
    assert_eq!((status, error_code(&body).as_str()), (503, "render_timed_out"));
    let doc = api.create_doc(&ann.token, json!({"title": "Slow", "content": markdown})).await;
    let (status, body) = api.get(&format!("/api/v1/documents/{doc}/render"), &ann.token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("render_timed_out")));
}

async fn bad_input_gets_specific_errors_and_writes_nothing(db: Db) {
    let server = server_with(db, |c| c.api.max_document_size = 1024).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let raw = |body: &'static str, kind: &'static str| {
        api.request(Method::POST, "/api/v1/documents", Some(&ann.token)).header("content-type", kind).body(body).send()
    };
    let code = |resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        (status, body["error"]["code"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(code(raw("{\"title\":", "application/json").await.unwrap()).await, (400, "malformed_json".into()));
    assert_eq!(code(raw("{\"title\": 5}", "application/json").await.unwrap()).await, (422, "invalid_body".into()));
    assert_eq!(
        code(raw("{\"title\": \"x\", \"extra\": 1}", "application/json").await.unwrap()).await,
        (422, "invalid_body".into())
    );
    assert_eq!(
        code(raw("title=x", "application/x-www-form-urlencoded").await.unwrap()).await,
        (415, "unsupported_media_type".into())
    );
    for (body, want) in [
        (json!({"title": ""}), "invalid_field"),
        (json!({"title": "x".repeat(300)}), "invalid_field"),
        (json!({"title": "ok", "tags": (0..40).map(|i| format!("t{i}")).collect::<Vec<_>>()}), "invalid_field"),
        (json!({"title": "ok", "tags": ["x".repeat(65)]}), "invalid_field"),
    ] {
        let (status, b) = api.post("/api/v1/documents", &ann.token, body).await;
        assert_eq!((status, b["error"]["code"].as_str()), (422, Some(want)));
    }
    let (status, b) =
        api.post("/api/v1/documents", &ann.token, json!({"title": "big", "content": "x".repeat(2000)})).await;
    assert_eq!((status, b["error"]["code"].as_str()), (413, Some("document_too_large")));
    let (status, b) =
        api.post("/api/v1/documents", &ann.token, json!({"title": "elsewhere", "workspace_id": "nope"})).await;
    assert_eq!((status, b["error"]["code"].as_str()), (404, Some("workspace_not_found")));
    // None of the refused creations left a document behind.
    let (_, page) = api.get("/api/v1/documents", &ann.token).await;
    assert_eq!(page["documents"].as_array().unwrap().len(), 0, "{page}");

    let doc = api.create_doc(&ann.token, json!({"title": "ok", "content": "keep me\n"})).await;
    let (status, b) = api.get("/api/v1/documents/unknown-id", &ann.token).await;
    assert_eq!((status, b["error"]["code"].as_str()), (404, Some("document_not_found")));
    let (status, b) = api.get("/api/v1/documents?cursor=zz", &ann.token).await;
    assert_eq!((status, b["error"]["code"].as_str()), (400, Some("invalid_cursor")));
    let (status, b) = api.get("/api/v1/documents?limit=0", &ann.token).await;
    assert_eq!((status, b["error"]["code"].as_str()), (400, Some("invalid_query")));
    let (status, b) = api.get("/api/v1/documents?limit=abc", &ann.token).await;
    assert_eq!((status, b["error"]["code"].as_str()), (400, Some("invalid_query")));
    let resp = api
        .request(Method::PUT, &format!("/api/v1/documents/{doc}/content"), Some(&ann.token))
        .header("content-type", "text/markdown")
        .body("y".repeat(2000))
        .send()
        .await
        .unwrap();
    assert_eq!(code(resp).await, (413, "document_too_large".into()));
    let resp = api
        .request(Method::PUT, &format!("/api/v1/documents/{doc}/content"), Some(&ann.token))
        .header("content-type", "image/png")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(code(resp).await, (415, "unsupported_media_type".into()));
    assert_eq!(api.content(&ann.token, &doc).await, "keep me\n", "refused writes changed nothing");
    let (status, b) = api.get("/api/v1/nothing-here", &ann.token).await;
    assert_eq!((status, b["error"]["code"].as_str()), (404, Some("route_not_found")));
}

async fn openapi_describes_every_served_route(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let (status, doc) = api.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{}", paths.len());
    let mut checked = 0;
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let concrete = path.replace(['{', '}'], "");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = api.request(m, &concrete, Some(&ann.token)).send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert_ne!(status, 405, "{method} {path} is documented but not served");
            assert_ne!(body["error"]["code"], "route_not_found", "{method} {path} is documented but not served");
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked}");
    // And something served but undocumented would be the reverse mistake: the documents
    // route answers, and is documented.
    assert!(paths.contains_key("/api/v1/documents/{id}/content"));
}

async fn search_snippets_escape_document_text(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let content = "before <img src=x onerror=alert(1)> zeppelin & \"co\"\n";
    api.create_doc(&ann.token, json!({"title": "Notes", "content": content})).await;
    let indexed = common::eventually_async(
        Duration::from_secs(10),
        || api.get("/api/v1/documents?q=zeppelin", &ann.token),
        |(_, page)| page["documents"].as_array().is_some_and(|d| d.len() == 1),
    )
    .await;
    assert!(indexed, "the document was not indexed within 10 s");
    let (_, page) = api.get("/api/v1/documents?q=zeppelin", &ann.token).await;
    let snippet = page["documents"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("&lt;img src=x onerror=alert(1)&gt;"), "{snippet}");
    assert!(snippet.contains("<mark>zeppelin</mark>"), "{snippet}");
    assert!(snippet.contains("&amp; &quot;co&quot;"), "{snippet}");
    assert!(!snippet.replace("<mark>", "").replace("</mark>", "").contains('<'), "{snippet}");
}

async fn admins_list_and_revoke_invitations_and_a_removed_admins_invitations_die_with_them(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let (_, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Team"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    let invitations = format!("/api/v1/workspaces/{ws}/invitations");
    let member = |u: &str| format!("/api/v1/workspaces/{ws}/members/{u}");
    let invite = |token: String, email: &'static str, role: &'static str| {
        let (api, path) = (&api, invitations.clone());
        async move {
            let (status, inv) = api.post(&path, &token, json!({"email": email, "role": role})).await;
            assert_eq!(status, 201, "{inv}");
            (inv["id"].as_str().unwrap().to_owned(), inv["token"].as_str().unwrap().to_owned())
        }
    };
    let accept = |token: String, inv_token: String| {
        let api = &api;
        async move { api.call(Method::POST, &format!("/api/v1/invitations/{inv_token}/accept"), Some(&token), None).await }
    };
    let bob = api.signup("bob@example.com").await;
    let erin = api.signup("erin@example.com").await;
    let (_, t) = invite(ann.token.clone(), "bob@example.com", "admin").await;
    assert_eq!(accept(bob.token.clone(), t).await.0, 200);
    let (_, t) = invite(ann.token.clone(), "erin@example.com", "editor").await;
    assert_eq!(accept(erin.token.clone(), t).await.0, 200);

    // An admin's invitations are listed, without their tokens; an editor may not look.
    let (_, carol_token) = invite(bob.token.clone(), "carol@example.com", "editor").await;
    let (dave_id, dave_token) = invite(bob.token.clone(), "dave@example.com", "viewer").await;
    let (status, list) = api.get(&invitations, &ann.token).await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list.iter().all(|i| i["invited_by"] == bob.id.as_str() && i.get("token").is_none()), "{list:?}");
    let (status, body) = api.get(&invitations, &erin.token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));

    // A revoked invitation can no longer be accepted.
    let revoke = format!("{invitations}/{dave_id}");
    let (status, _) = api.call(Method::DELETE, &revoke, Some(&erin.token), None).await;
    assert_eq!(status, 403);
    let (status, _) = api.call(Method::DELETE, &revoke, Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let (status, body) = api.call(Method::DELETE, &revoke, Some(&ann.token), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("invitation_not_found")));
    let dave = api.signup("dave@example.com").await;
    let (status, body) = accept(dave.token.clone(), dave_token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("invitation_not_found")));

    // Removing the admin revokes what they sent: no way back through carol's invitation.
    let (status, _) = api.call(Method::DELETE, &member(&bob.id), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let carol = api.signup("carol@example.com").await;
    let (status, body) = accept(carol.token.clone(), carol_token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("invitation_not_found")));
    let (_, list) = api.get(&invitations, &ann.token).await;
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");

    // So does a demotion below admin, and leaving.
    let patch = |who: String, role: &'static str| {
        let (api, path, token) = (&api, member(&who), ann.token.clone());
        async move { api.call(Method::PATCH, &path, Some(&token), Some(json!({"role": role}))).await }
    };
    assert_eq!(patch(erin.id.clone(), "admin").await.0, 200);
    let (_, frank_token) = invite(erin.token.clone(), "frank@example.com", "editor").await;
    assert_eq!(patch(erin.id.clone(), "editor").await.0, 200);
    let frank = api.signup("frank@example.com").await;
    assert_eq!(accept(frank.token.clone(), frank_token).await.0, 404);
    assert_eq!(patch(erin.id.clone(), "admin").await.0, 200);
    let (_, gina_token) = invite(erin.token.clone(), "gina@example.com", "editor").await;
    let (_, kept_token) = invite(ann.token.clone(), "gina@example.com", "viewer").await;
    let (status, _) = api.call(Method::DELETE, &member(&erin.id), Some(&erin.token), None).await;
    assert_eq!(status, 204);
    let gina = api.signup("gina@example.com").await;
    assert_eq!(accept(gina.token.clone(), gina_token).await.0, 404);
    // Other members' invitations are untouched.
    let (status, body) = accept(gina.token.clone(), kept_token).await;
    assert_eq!((status, body["role"].as_str()), (200, Some("viewer")), "{body}");
}

async fn sharing_by_email_answers_alike_and_waits_for_the_account(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Plan", "content": "plan\n"})).await;
    let shares = format!("/api/v1/documents/{doc}/shares");
    let doc_path = format!("/api/v1/documents/{doc}");

    // An address with an account and one without get the same answer, naming nobody.
    let with = api.post(&shares, &ann.token, json!({"email": "Bob@example.com", "role": "viewer"})).await;
    let without = api.post(&shares, &ann.token, json!({"email": "newcomer@example.com", "role": "viewer"})).await;
    assert_eq!(with, (200, json!({"email": "bob@example.com", "role": "viewer"})));
    assert_eq!(without, (200, json!({"email": "newcomer@example.com", "role": "viewer"})));
    let (status, body) = api.get(&doc_path, &bob.token).await;
    assert_eq!((status, body["role"].as_str()), (200, Some("viewer")), "{body}");

    // The pending share becomes a share when the account is made.
    let newcomer = api.signup("newcomer@example.com").await;
    let (status, body) = api.get(&doc_path, &newcomer.token).await;
    assert_eq!((status, body["role"].as_str()), (200, Some("viewer")), "{body}");
    let (_, list) = api.get(&shares, &ann.token).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

    // A pending share can be withdrawn by its email before anyone signs up.
    let (status, _) = api.post(&shares, &ann.token, json!({"email": "later@example.com", "role": "editor"})).await;
    assert_eq!(status, 200);
    let (status, _) = api.call(Method::DELETE, &format!("{shares}/later@example.com"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let later = api.signup("later@example.com").await;
    let (status, _) = api.get(&doc_path, &later.token).await;
    assert_eq!(status, 404);
}

async fn owners_removing_each_other_at_once_leave_exactly_one_owner(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let bob = api.signup("bob@example.com").await;
    for round in 0..12 {
        let (_, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Team"})).await;
        let ws = ws["id"].as_str().unwrap().to_owned();
        let (_, inv) = api
            .post(
                &format!("/api/v1/workspaces/{ws}/invitations"),
                &ann.token,
                json!({"email": bob.email, "role": "owner"}),
            )
            .await;
        let accept = format!("/api/v1/invitations/{}/accept", inv["token"].as_str().unwrap());
        assert_eq!(api.call(Method::POST, &accept, Some(&bob.token), None).await.0, 200);
        let member = |u: &str| format!("/api/v1/workspaces/{ws}/members/{u}");
        // Even rounds: each removes the other; odd rounds: each demotes the other.
        let (method, body) =
            if round % 2 == 0 { (Method::DELETE, None) } else { (Method::PATCH, Some(json!({"role": "editor"}))) };
        let (ann_removes_bob, bob_removes_ann) = (member(&bob.id), member(&ann.id));
        let (by_ann, by_bob) = tokio::join!(
            api.call(method.clone(), &ann_removes_bob, Some(&ann.token), body.clone()),
            api.call(method.clone(), &bob_removes_ann, Some(&bob.token), body.clone()),
        );
        let succeeded = [&by_ann, &by_bob].iter().filter(|(s, _)| (200..300).contains(s)).count();
        assert_eq!(succeeded, 1, "round {round}: {by_ann:?} {by_bob:?}");
        let members_path = format!("/api/v1/workspaces/{ws}/members");
        let (status, mut members) = api.get(&members_path, &ann.token).await;
        if status == 404 {
            members = api.get(&members_path, &bob.token).await.1;
        }
        let owners = members.as_array().unwrap().iter().filter(|m| m["role"] == "owner").count();
        assert_eq!(owners, 1, "round {round}: {members}");
    }
}

async fn deleting_a_workspace_evicts_its_live_rooms(db: Db) {
    // A long grace period: a room left running would still hold the document.
    let server = server_with(db, |c| c.room.grace = Duration::from_secs(120)).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;
    let (_, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Team"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    let doc = api.create_doc(&ann.token, json!({"title": "Secret", "content": "secret\n", "workspace_id": ws})).await;
    let mut editor = Client::connect(&server.ws_url(&doc, &ann.token)).await.unwrap();
    editor.sync().await;
    editor.append_acked("more\n").await;

    let (status, _) = api.call(Method::DELETE, &format!("/api/v1/workspaces/{ws}"), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(editor.wait_close(Duration::from_secs(5)).await, Some(4403));
    // The room is gone with the workspace: the id, now no catalogued document, opens
    // as an empty app room, and nothing of the document was written back.
    let after = server.client(&doc).await;
    assert_eq!(after.text(), "", "the deleted document's room was still live");
    drop(after);
    let url = server
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", server.dir.path().join("tandem.db").display()));
    let store = tandem::store::open(&url, tandem::config::SqliteSync::Normal).await.unwrap();
    let stored = store.load_doc(&tandem::ids::DocId::parse(&doc).unwrap()).await.unwrap();
    assert!(
        stored.snapshot.is_none() && stored.updates.is_empty(),
        "{} rows stored after the delete",
        stored.updates.len()
    );
}
