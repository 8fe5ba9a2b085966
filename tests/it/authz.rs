//! The authorization matrix: every role (owner, admin, editor, commenter, viewer), a user
//! the document is shared with, a public view link, a stranger, the instance admin (a
//! member of nothing here) and an anonymous caller,
//! an edit link, against every REST endpoint and the WebSocket, on SQLite and Postgres. Each cell states
//! its exact answer: the success status, 401 without credentials, 404 where the caller
//! cannot see the resource, 403 where it can but its role is too weak. Then access
//! changes reaching open connections.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Client;
use common::api::{Account, Api, Db, server, server_with};
use common::client::Event;
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

on_both_databases!(
    every_role_against_every_endpoint,
    access_changes_reach_open_connections,
    room_tokens_never_open_catalogued_documents,
    the_web_app_is_public_and_the_session_cookie_needs_the_apps_header,
    personal_tokens_and_removed_members_against_the_admin_and_audit_routes,
    account_routes_for_personal_tokens_and_removed_members,
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Owner,
    Admin,
    Editor,
    Commenter,
    Viewer,
    /// Not a member; the document is shared with them as editor.
    Sharee,
    /// Anonymous, holding a public view link to the document.
    Link,
    /// Anonymous, holding a public edit link: content only, never metadata.
    EditLink,
    Stranger,
    /// The first account: administers the instance, is no member of the workspace.
    InstanceAdmin,
    Anonymous,
}

const EVERYONE: [Who; 11] = [
    Who::Owner,
    Who::Admin,
    Who::Editor,
    Who::Commenter,
    Who::Viewer,
    Who::Sharee,
    Who::Link,
    Who::EditLink,
    Who::Stranger,
    Who::InstanceAdmin,
    Who::Anonymous,
];
const MEMBERS: &[Who] = &[Who::Owner, Who::Admin, Who::Editor, Who::Commenter, Who::Viewer];
const DOC_READERS: &[Who] =
    &[Who::Owner, Who::Admin, Who::Editor, Who::Commenter, Who::Viewer, Who::Sharee, Who::Link, Who::EditLink];
/// Who may change the content.
const CONTENT_WRITERS: &[Who] = &[Who::Owner, Who::Admin, Who::Editor, Who::Sharee, Who::EditLink];
/// Who may change the document itself (title, tags, trash): signed-in editors.
const DOC_WRITERS: &[Who] = &[Who::Owner, Who::Admin, Who::Editor, Who::Sharee];
const MANAGERS: &[Who] = &[Who::Owner, Who::Admin];
/// Who may write comments: signed-in commenters and above (links only read them).
const COMMENTERS: &[Who] = &[Who::Owner, Who::Admin, Who::Editor, Who::Commenter, Who::Sharee];
const USERS: &[Who] =
    &[Who::Owner, Who::Admin, Who::Editor, Who::Commenter, Who::Viewer, Who::Sharee, Who::Stranger, Who::InstanceAdmin];
/// Who administers the instance.
const INSTANCE_ADMINS: &[Who] = &[Who::InstanceAdmin];

/// What a case acts on, which decides what a caller without access is told.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    Workspace,
    Document,
    /// Any signed-in user.
    User,
    /// The owner's own personal token: another user is told it does not exist.
    OwnToken,
    /// The instance: its admins only; everyone else is refused (403), never misled.
    Instance,
    /// Another user's profile: someone who shares nothing with them is told they do
    /// not exist.
    Person,
}

struct World {
    api: Api,
    accounts: BTreeMap<Who, Account>,
    owner: Account,
    ws: String,
    /// Member whose role the member-management cases change.
    target: Account,
}

/// A document made for one cell, with a view link and an edit link to it, and a pending
/// invitation to the workspace.
struct Fresh {
    doc: String,
    link: String,
    link_id: String,
    edit_link: String,
    invitation_id: String,
    /// A comment thread the owner started on the document.
    thread_id: String,
    /// A version the owner saved.
    version_id: String,
    /// One of the owner's personal tokens, made for the cells that need one.
    token_id: String,
    /// A webhook of the workspace, made for the cells that need one.
    hook_id: String,
    /// A file the owner attached, for the cells that need one.
    attachment_id: String,
}

impl World {
    async fn fresh_doc(&self) -> Fresh {
        let doc = self
            .api
            .create_doc(&self.owner.token, json!({"title": "Doc", "content": "text\n", "workspace_id": self.ws}))
            .await;
        let sharee = &self.accounts[&Who::Sharee];
        let (status, _) = self
            .api
            .post(
                &format!("/api/v1/documents/{doc}/shares"),
                &self.owner.token,
                json!({"user_id": sharee.id, "role": "editor"}),
            )
            .await;
        assert_eq!(status, 200);
        let (status, link) = self
            .api
            .post(&format!("/api/v1/documents/{doc}/links"), &self.owner.token, json!({"role": "viewer"}))
            .await;
        assert_eq!(status, 201);
        let (status, edit_link) = self
            .api
            .post(&format!("/api/v1/documents/{doc}/links"), &self.owner.token, json!({"role": "editor"}))
            .await;
        assert_eq!(status, 201);
        let (status, inv) = self
            .api
            .post(
                &format!("/api/v1/workspaces/{}/invitations", self.ws),
                &self.owner.token,
                json!({"email": "invited@example.com", "role": "viewer"}),
            )
            .await;
        assert_eq!(status, 201, "{inv}");
        let (status, thread) = self
            .api
            .post(&format!("/api/v1/documents/{doc}/comments"), &self.owner.token, json!({"body": "a thread"}))
            .await;
        assert_eq!(status, 201, "{thread}");
        let (status, version) =
            self.api.post(&format!("/api/v1/documents/{doc}/versions"), &self.owner.token, json!({"name": "v1"})).await;
        assert_eq!(status, 201, "{version}");
        Fresh {
            version_id: version["id"].as_str().unwrap().to_owned(),
            thread_id: thread["id"].as_str().unwrap().to_owned(),
            doc,
            link: link["token"].as_str().unwrap().to_owned(),
            link_id: link["id"].as_str().unwrap().to_owned(),
            edit_link: edit_link["token"].as_str().unwrap().to_owned(),
            invitation_id: inv["id"].as_str().unwrap().to_owned(),
            token_id: String::new(),
            hook_id: String::new(),
            attachment_id: String::new(),
        }
    }

    async fn owner_attachment_id(&self, doc: &str) -> String {
        let resp = self
            .api
            .request(Method::POST, &format!("/api/v1/documents/{doc}/attachments"), Some(&self.owner.token))
            .header("content-type", format!("multipart/form-data; boundary={}", common::api::BOUNDARY))
            .body(common::api::multipart_file("a.txt", b"attached"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    async fn owner_token_id(&self) -> String {
        let body = json!({"name": "cell", "scopes": ["read"]});
        let (status, made) = self.api.post("/api/v1/users/me/tokens", &self.owner.token, body).await;
        assert_eq!(status, 201, "{made}");
        made["id"].as_str().unwrap().to_owned()
    }

    /// A webhook of the workspace (to a loopback port nothing listens on).
    async fn hook_id(&self) -> String {
        let body = json!({"url": "http://127.0.0.1:9/hook", "events": ["document.created"]});
        let (status, made) =
            self.api.post(&format!("/api/v1/workspaces/{}/webhooks", self.ws), &self.owner.token, body).await;
        assert_eq!(status, 201, "{made}");
        made["id"].as_str().unwrap().to_owned()
    }

    /// Deletes every webhook of the workspace, so cells never meet its bound.
    async fn clear_hooks(&self) {
        let path = format!("/api/v1/workspaces/{}/webhooks", self.ws);
        let (status, hooks) = self.api.get(&path, &self.owner.token).await;
        assert_eq!(status, 200, "{hooks}");
        for hook in hooks.as_array().unwrap() {
            let one = format!("{path}/{}", hook["id"].as_str().unwrap());
            let (status, _) = self.api.call(Method::DELETE, &one, Some(&self.owner.token), None).await;
            assert_eq!(status, 204);
        }
    }

    async fn request(&self, who: Who, fresh: &Fresh, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.api.request(method, path, None);
        match who {
            Who::Anonymous => {}
            Who::Link => req = req.header("tandem-link", &fresh.link),
            Who::EditLink => req = req.header("tandem-link", &fresh.edit_link),
            _ => req = req.bearer_auth(&self.accounts[&who].token),
        }
        match body {
            // A file upload: `{"$file": "<its text>"}` is sent as a multipart form.
            Some(Value::Object(o)) if o.contains_key("$file") => {
                let text = o["$file"].as_str().unwrap_or_default();
                req = req
                    .header("content-type", format!("multipart/form-data; boundary={}", common::api::BOUNDARY))
                    .body(common::api::multipart_file("cell.txt", text.as_bytes()));
            }
            Some(body) => req = req.json(&body),
            None => {}
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let stream = resp.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if stream {
            // An event stream does not end: its status is the answer.
            return (status, Value::Null);
        }
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

async fn join(api: &Api, ws: &str, owner: &Account, who: &Account, role: &str) {
    let (status, inv) = api
        .post(&format!("/api/v1/workspaces/{ws}/invitations"), &owner.token, json!({"email": who.email, "role": role}))
        .await;
    assert_eq!(status, 201, "{inv}");
    let (status, body) = api
        .call(
            Method::POST,
            &format!("/api/v1/invitations/{}/accept", inv["token"].as_str().unwrap()),
            Some(&who.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn world(server: &common::TestServer) -> World {
    let api = Api::new(server);
    let mut accounts = BTreeMap::new();
    for (who, email) in [
        // First: the first account is the instance admin.
        (Who::InstanceAdmin, "root@example.com"),
        (Who::Owner, "owner@example.com"),
        (Who::Admin, "admin@example.com"),
        (Who::Editor, "editor@example.com"),
        (Who::Commenter, "commenter@example.com"),
        (Who::Viewer, "viewer@example.com"),
        (Who::Sharee, "sharee@example.com"),
        (Who::Stranger, "stranger@example.com"),
    ] {
        accounts.insert(who, api.signup(email).await);
    }
    let owner = accounts[&Who::Owner].clone();
    let (_, ws) = api.post("/api/v1/workspaces", &owner.token, json!({"name": "Team"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    for (who, role) in
        [(Who::Admin, "admin"), (Who::Editor, "editor"), (Who::Commenter, "commenter"), (Who::Viewer, "viewer")]
    {
        join(&api, &ws, &owner, &accounts[&who], role).await;
    }
    let target = api.signup("target@example.com").await;
    join(&api, &ws, &owner, &target, "viewer").await;
    World { api, accounts, owner, ws, target }
}

/// The answer a denied caller gets.
fn denied(who: Who, scope: Scope) -> u16 {
    match (who, scope) {
        (Who::Anonymous, _) => 401,
        // A link holder can see its document, and is not a user elsewhere.
        (Who::Link | Who::EditLink, _) => 403,
        (_, Scope::Instance) => 403,
        (_, Scope::OwnToken) => 404,
        (Who::Stranger | Who::InstanceAdmin, Scope::User) => 403,
        (Who::Stranger | Who::InstanceAdmin, _) => 404,
        (Who::Sharee, Scope::Workspace) => 404,
        _ => 403,
    }
}

struct Case {
    name: &'static str,
    scope: Scope,
    allowed: &'static [Who],
    ok: u16,
    method: Method,
    /// `{ws}`, `{doc}`, `{target}` and `{link_id}` are filled in per cell.
    path: &'static str,
    body: Option<Value>,
    /// Puts shared state back after a cell that changed it.
    reset: Option<&'static str>,
    /// The owner moves the cell's document to the trash first.
    trashed: bool,
}

fn cases() -> Vec<Case> {
    let case = |name, scope, allowed, ok, method, path, body: Option<Value>| Case {
        name,
        scope,
        allowed,
        ok,
        method,
        path,
        body,
        reset: None,
        trashed: false,
    };
    vec![
        // First: the "share" cell below shares a document of the workspace with the
        // stranger, who from then on meets its members.
        case(
            "a member's profile",
            Scope::Person,
            &[Who::Owner, Who::Admin, Who::Editor, Who::Commenter, Who::Viewer, Who::Sharee],
            200,
            Method::GET,
            "/api/v1/users/{target}",
            None,
        ),
        case("get workspace", Scope::Workspace, MEMBERS, 200, Method::GET, "/api/v1/workspaces/{ws}", None),
        case("list members", Scope::Workspace, MEMBERS, 200, Method::GET, "/api/v1/workspaces/{ws}/members", None),
        case(
            "rename workspace",
            Scope::Workspace,
            MANAGERS,
            200,
            Method::PATCH,
            "/api/v1/workspaces/{ws}",
            Some(json!({"name": "Team"})),
        ),
        case(
            "invite",
            Scope::Workspace,
            MANAGERS,
            201,
            Method::POST,
            "/api/v1/workspaces/{ws}/invitations",
            Some(json!({"email": "new@example.com", "role": "viewer"})),
        ),
        Case {
            reset: Some("role"),
            ..case(
                "change a role",
                Scope::Workspace,
                MANAGERS,
                200,
                Method::PATCH,
                "/api/v1/workspaces/{ws}/members/{target}",
                Some(json!({"role": "editor"})),
            )
        },
        Case {
            reset: Some("member"),
            ..case(
                "remove a member",
                Scope::Workspace,
                MANAGERS,
                204,
                Method::DELETE,
                "/api/v1/workspaces/{ws}/members/{target}",
                None,
            )
        },
        case(
            "list invitations",
            Scope::Workspace,
            MANAGERS,
            200,
            Method::GET,
            "/api/v1/workspaces/{ws}/invitations",
            None,
        ),
        case(
            "revoke an invitation",
            Scope::Workspace,
            MANAGERS,
            204,
            Method::DELETE,
            "/api/v1/workspaces/{ws}/invitations/{invitation_id}",
            None,
        ),
        case(
            "create a document there",
            Scope::Workspace,
            &[Who::Owner, Who::Admin, Who::Editor],
            201,
            Method::POST,
            "/api/v1/documents",
            Some(json!({"title": "new", "workspace_id": "{ws}"})),
        ),
        case(
            "list its documents",
            Scope::Workspace,
            MEMBERS,
            200,
            Method::GET,
            "/api/v1/documents?workspace_id={ws}",
            None,
        ),
        case("get document", Scope::Document, DOC_READERS, 200, Method::GET, "/api/v1/documents/{doc}", None),
        case("get content", Scope::Document, DOC_READERS, 200, Method::GET, "/api/v1/documents/{doc}/content", None),
        case("render", Scope::Document, DOC_READERS, 200, Method::GET, "/api/v1/documents/{doc}/render", None),
        case(
            "export",
            Scope::Document,
            DOC_READERS,
            200,
            Method::GET,
            "/api/v1/documents/{doc}/export?format=md",
            None,
        ),
        case(
            "patch document",
            Scope::Document,
            DOC_WRITERS,
            200,
            Method::PATCH,
            "/api/v1/documents/{doc}",
            Some(json!({"title": "renamed"})),
        ),
        case(
            "put content",
            Scope::Document,
            CONTENT_WRITERS,
            200,
            Method::PUT,
            "/api/v1/documents/{doc}/content",
            Some(json!({"content": "new text\n"})),
        ),
        case(
            "duplicate",
            Scope::Document,
            &[Who::Owner, Who::Admin, Who::Editor, Who::Commenter, Who::Viewer, Who::Sharee],
            201,
            Method::POST,
            "/api/v1/documents/{doc}/duplicate",
            None,
        ),
        case("move to trash", Scope::Document, DOC_WRITERS, 204, Method::DELETE, "/api/v1/documents/{doc}", None),
        Case {
            trashed: true,
            ..case(
                "restore from the trash",
                Scope::Document,
                DOC_WRITERS,
                200,
                Method::POST,
                "/api/v1/documents/{doc}/restore",
                None,
            )
        },
        case(
            "delete for good",
            Scope::Document,
            MANAGERS,
            204,
            Method::DELETE,
            "/api/v1/documents/{doc}?permanent=true",
            None,
        ),
        case("list shares", Scope::Document, MANAGERS, 200, Method::GET, "/api/v1/documents/{doc}/shares", None),
        case(
            "share",
            Scope::Document,
            MANAGERS,
            200,
            Method::POST,
            "/api/v1/documents/{doc}/shares",
            Some(json!({"email": "stranger@example.com", "role": "viewer"})),
        ),
        case(
            "unshare",
            Scope::Document,
            MANAGERS,
            204,
            Method::DELETE,
            "/api/v1/documents/{doc}/shares/{sharee}",
            None,
        ),
        case(
            "revoke link",
            Scope::Document,
            MANAGERS,
            204,
            Method::DELETE,
            "/api/v1/documents/{doc}/links/{link_id}",
            None,
        ),
        case("list links", Scope::Document, MANAGERS, 200, Method::GET, "/api/v1/documents/{doc}/links", None),
        case(
            "create link",
            Scope::Document,
            MANAGERS,
            201,
            Method::POST,
            "/api/v1/documents/{doc}/links",
            Some(json!({"role": "viewer"})),
        ),
        case(
            "preview render",
            Scope::User,
            USERS,
            200,
            Method::POST,
            "/api/v1/render",
            Some(json!({"content": "# x"})),
        ),
        case("settings", Scope::User, USERS, 200, Method::GET, "/api/v1/users/me/settings", None),
        case("list comments", Scope::Document, DOC_READERS, 200, Method::GET, "/api/v1/documents/{doc}/comments", None),
        case(
            "start a thread",
            Scope::Document,
            COMMENTERS,
            201,
            Method::POST,
            "/api/v1/documents/{doc}/comments",
            Some(json!({"body": "x", "anchor": {"index": 0, "length": 4}})),
        ),
        case(
            "reply",
            Scope::Document,
            COMMENTERS,
            201,
            Method::POST,
            "/api/v1/documents/{doc}/comments/{thread}/replies",
            Some(json!({"body": "y"})),
        ),
        case(
            "resolve a thread",
            Scope::Document,
            COMMENTERS,
            200,
            Method::PATCH,
            "/api/v1/documents/{doc}/comments/{thread}",
            Some(json!({"resolved": true})),
        ),
        case(
            "edit another's message",
            Scope::Document,
            &[Who::Owner],
            200,
            Method::PATCH,
            "/api/v1/documents/{doc}/comments/{thread}",
            Some(json!({"body": "edited"})),
        ),
        case(
            "delete another's message",
            Scope::Document,
            MANAGERS,
            204,
            Method::DELETE,
            "/api/v1/documents/{doc}/comments/{thread}",
            None,
        ),
        case(
            "who can be mentioned",
            Scope::Document,
            COMMENTERS,
            200,
            Method::GET,
            "/api/v1/documents/{doc}/mentionable",
            None,
        ),
        case("event stream", Scope::Document, DOC_READERS, 200, Method::GET, "/api/v1/documents/{doc}/events", None),
        case("notifications", Scope::User, USERS, 200, Method::GET, "/api/v1/users/me/notifications", None),
        case("list versions", Scope::Document, DOC_READERS, 200, Method::GET, "/api/v1/documents/{doc}/versions", None),
        case(
            "read a version",
            Scope::Document,
            DOC_READERS,
            200,
            Method::GET,
            "/api/v1/documents/{doc}/versions/{version}",
            None,
        ),
        case(
            "render a version",
            Scope::Document,
            DOC_READERS,
            200,
            Method::GET,
            "/api/v1/documents/{doc}/versions/{version}/render",
            None,
        ),
        case(
            "diff a version",
            Scope::Document,
            DOC_READERS,
            200,
            Method::GET,
            "/api/v1/documents/{doc}/versions/{version}/diff?against=current",
            None,
        ),
        case(
            "save a named version",
            Scope::Document,
            DOC_WRITERS,
            201,
            Method::POST,
            "/api/v1/documents/{doc}/versions",
            Some(json!({"name": "mine"})),
        ),
        case(
            "restore a version",
            Scope::Document,
            DOC_WRITERS,
            200,
            Method::POST,
            "/api/v1/documents/{doc}/versions/{version}/restore",
            None,
        ),
        case(
            "make it a template",
            Scope::Document,
            DOC_WRITERS,
            200,
            Method::PATCH,
            "/api/v1/documents/{doc}",
            Some(json!({"is_template": true})),
        ),
        case(
            "list attachments",
            Scope::Document,
            DOC_READERS,
            200,
            Method::GET,
            "/api/v1/documents/{doc}/attachments",
            None,
        ),
        case(
            "attach a file",
            Scope::Document,
            CONTENT_WRITERS,
            201,
            Method::POST,
            "/api/v1/documents/{doc}/attachments",
            Some(json!({"$file": "some bytes"})),
        ),
        case(
            "download an attachment",
            Scope::Document,
            DOC_READERS,
            200,
            Method::GET,
            "/api/v1/documents/{doc}/attachments/{attachment}",
            None,
        ),
        case(
            "delete an attachment",
            Scope::Document,
            CONTENT_WRITERS,
            204,
            Method::DELETE,
            "/api/v1/documents/{doc}/attachments/{attachment}",
            None,
        ),
        case(
            "mark notifications read",
            Scope::User,
            USERS,
            204,
            Method::POST,
            "/api/v1/users/me/notifications/read",
            Some(json!({"all": true})),
        ),
        case("list personal tokens", Scope::User, USERS, 200, Method::GET, "/api/v1/users/me/tokens", None),
        case(
            "make a personal token",
            Scope::User,
            USERS,
            201,
            Method::POST,
            "/api/v1/users/me/tokens",
            Some(json!({"name": "mine", "scopes": ["write"]})),
        ),
        case("my profile", Scope::User, USERS, 200, Method::GET, "/api/v1/users/me", None),
        case(
            "change my profile",
            Scope::User,
            USERS,
            200,
            Method::PATCH,
            "/api/v1/users/me",
            Some(json!({"avatar_url": "https://example.com/me.png"})),
        ),
        case("changes feed", Scope::User, USERS, 200, Method::GET, "/api/v1/changes", None),
        case("export my documents", Scope::User, USERS, 200, Method::GET, "/api/v1/users/me/export", None),
        // Every cell is refused (a wrong password): the deletion itself is in account.rs.
        case(
            "delete my account",
            Scope::User,
            &[],
            204,
            Method::DELETE,
            "/api/v1/users/me",
            Some(json!({"password": "not the password"})),
        ),
        case(
            "revoke a personal token",
            Scope::OwnToken,
            &[Who::Owner],
            204,
            Method::DELETE,
            "/api/v1/users/me/tokens/{token_id}",
            None,
        ),
        case("list users", Scope::Instance, INSTANCE_ADMINS, 200, Method::GET, "/api/v1/admin/users?q=t", None),
        case("system info", Scope::Instance, INSTANCE_ADMINS, 200, Method::GET, "/api/v1/system/info", None),
        case("instance audit", Scope::Instance, INSTANCE_ADMINS, 200, Method::GET, "/api/v1/admin/audit", None),
        Case {
            reset: Some("enable"),
            ..case(
                "disable a user",
                Scope::Instance,
                INSTANCE_ADMINS,
                204,
                Method::POST,
                "/api/v1/admin/users/{target}/disable",
                None,
            )
        },
        case(
            "enable a user",
            Scope::Instance,
            INSTANCE_ADMINS,
            204,
            Method::POST,
            "/api/v1/admin/users/{target}/enable",
            None,
        ),
        case("workspace audit", Scope::Workspace, MANAGERS, 200, Method::GET, "/api/v1/workspaces/{ws}/audit", None),
        case("list webhooks", Scope::Workspace, MANAGERS, 200, Method::GET, "/api/v1/workspaces/{ws}/webhooks", None),
        case(
            "make a webhook",
            Scope::Workspace,
            MANAGERS,
            201,
            Method::POST,
            "/api/v1/workspaces/{ws}/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["document.created"]})),
        ),
        case(
            "get a webhook",
            Scope::Workspace,
            MANAGERS,
            200,
            Method::GET,
            "/api/v1/workspaces/{ws}/webhooks/{hook}",
            None,
        ),
        case(
            "webhook deliveries",
            Scope::Workspace,
            MANAGERS,
            200,
            Method::GET,
            "/api/v1/workspaces/{ws}/webhooks/{hook}/deliveries",
            None,
        ),
        case(
            "ping a webhook",
            Scope::Workspace,
            MANAGERS,
            202,
            Method::POST,
            "/api/v1/workspaces/{ws}/webhooks/{hook}/ping",
            None,
        ),
        case(
            "delete a webhook",
            Scope::Workspace,
            MANAGERS,
            204,
            Method::DELETE,
            "/api/v1/workspaces/{ws}/webhooks/{hook}",
            None,
        ),
    ]
}

fn fill(s: &str, w: &World, f: &Fresh) -> String {
    s.replace("{ws}", &w.ws)
        .replace("{doc}", &f.doc)
        .replace("{target}", &w.target.id)
        .replace("{sharee}", &w.accounts[&Who::Sharee].id)
        .replace("{link_id}", &f.link_id)
        .replace("{invitation_id}", &f.invitation_id)
        .replace("{thread}", &f.thread_id)
        .replace("{version}", &f.version_id)
        .replace("{token_id}", &f.token_id)
        .replace("{hook}", &f.hook_id)
        .replace("{attachment}", &f.attachment_id)
}

async fn every_role_against_every_endpoint(db: Db) {
    // The owner sets up every cell: far more requests than a person makes in a minute.
    // Webhook cells register a loopback target.
    let server = server_with(db, |c| {
        c.api.max_requests_per_user_per_minute = 0;
        c.webhooks.webhook_allow_private = true;
    })
    .await;
    let w = world(&server).await;
    let mut failures = Vec::new();
    let mut cells = 0;
    for case in cases() {
        for who in EVERYONE {
            let mut fresh = w.fresh_doc().await;
            if case.path.contains("{token_id}") {
                fresh.token_id = w.owner_token_id().await;
            }
            if case.path.contains("{hook}") {
                fresh.hook_id = w.hook_id().await;
            }
            if case.path.contains("{attachment}") {
                fresh.attachment_id = w.owner_attachment_id(&fresh.doc).await;
            }
            if case.trashed {
                let (s, _) = w
                    .api
                    .call(Method::DELETE, &format!("/api/v1/documents/{}", fresh.doc), Some(&w.owner.token), None)
                    .await;
                assert_eq!(s, 204);
            }
            let path = fill(case.path, &w, &fresh);
            let body = case.body.as_ref().map(|b| serde_json::from_str(&fill(&b.to_string(), &w, &fresh)).unwrap());
            let (status, answer) = w.request(who, &fresh, case.method.clone(), &path, body).await;
            let want = if case.allowed.contains(&who) { case.ok } else { denied(who, case.scope) };
            cells += 1;
            if status != want {
                failures.push(format!("{:<24} {who:?}: got {status}, want {want} ({answer})", case.name));
            }
            match case.reset {
                Some("role") => {
                    let p = format!("/api/v1/workspaces/{}/members/{}", w.ws, w.target.id);
                    let (s, _) =
                        w.api.call(Method::PATCH, &p, Some(&w.owner.token), Some(json!({"role": "viewer"}))).await;
                    assert_eq!(s, 200);
                }
                Some("member") if status == 204 => join(&w.api, &w.ws, &w.owner, &w.target, "viewer").await,
                Some("enable") => {
                    let p = format!("/api/v1/admin/users/{}/enable", w.target.id);
                    let root = &w.accounts[&Who::InstanceAdmin].token;
                    assert_eq!(w.api.call(Method::POST, &p, Some(root), None).await.0, 204);
                }
                _ => {}
            }
            if case.path.contains("/webhooks") {
                w.clear_hooks().await;
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cells} cells wrong:\n{}", failures.len(), failures.join("\n"));

    // The WebSocket: readers join, only writers' updates are applied.
    let fresh = w.fresh_doc().await;
    for who in EVERYONE {
        let url = match who {
            Who::Anonymous => format!("ws://{}/ws/{}", server.addr, fresh.doc),
            Who::Link => format!("ws://{}/ws/{}?link={}", server.addr, fresh.doc, fresh.link),
            Who::EditLink => format!("ws://{}/ws/{}?link={}", server.addr, fresh.doc, fresh.edit_link),
            _ => server.ws_url(&fresh.doc, &w.accounts[&who].token),
        };
        let refused = |r: Result<Client, tungstenite::Error>| match r {
            Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
            Err(e) => panic!("{who:?}: {e}"),
            Ok(_) => 101,
        };
        match who {
            Who::Stranger | Who::InstanceAdmin => assert_eq!(refused(Client::connect(&url).await), 404, "{who:?}"),
            Who::Anonymous => assert_eq!(refused(Client::connect(&url).await), 401, "{who:?}"),
            _ => {
                let mut c = Client::connect(&url).await.unwrap_or_else(|e| panic!("{who:?}: {e}"));
                c.sync().await;
                assert!(c.text().starts_with("text\n"), "{who:?} read {}", c.summary());
                if CONTENT_WRITERS.contains(&who) {
                    c.append_acked(&format!("{who:?}\n")).await;
                } else {
                    expect_denied(&mut c, who).await;
                }
            }
        }
    }
    let text = w.api.content(&w.owner.token, &fresh.doc).await;
    assert_eq!(text, "text\nOwner\nAdmin\nEditor\nSharee\nEditLink\n");
    println!("authorization matrix ({db:?}): {cells} REST cells + {} WebSocket cells passed", EVERYONE.len());
}

async fn expect_denied(c: &mut Client, who: Who) {
    c.append("not allowed\n").await;
    loop {
        match c.next_event(Duration::from_secs(5)).await {
            Some(Event::PermissionDenied(_)) => return,
            Some(Event::Update(_)) => panic!("{who:?}: a read-only update was applied"),
            Some(Event::Closed(code)) => panic!("{who:?}: closed ({code:?})"),
            None => panic!("{who:?}: no permission-denied answer"),
            Some(_) => {}
        }
    }
}

enum Verdict {
    Applied,
    Denied,
}

async fn next_verdict(c: &mut Client) -> Verdict {
    loop {
        match c.next_event(Duration::from_secs(5)).await {
            Some(Event::PermissionDenied(_)) => return Verdict::Denied,
            Some(Event::Update(_)) => return Verdict::Applied,
            Some(Event::Closed(code)) => panic!("closed ({code:?})"),
            None => panic!("no answer to an update"),
            Some(_) => {}
        }
    }
}

async fn access_changes_reach_open_connections(db: Db) {
    let server = server(db).await;
    let w = world(&server).await;
    let fresh = w.fresh_doc().await;
    let editor = &w.accounts[&Who::Editor];
    let mut c = Client::connect(&server.ws_url(&fresh.doc, &editor.token)).await.unwrap();
    c.sync().await;
    c.append_acked("mine\n").await;

    // Downgraded to viewer while connected: the connection turns read-only.
    let member = format!("/api/v1/workspaces/{}/members/{}", w.ws, editor.id);
    let (s, _) = w.api.call(Method::PATCH, &member, Some(&w.owner.token), Some(json!({"role": "viewer"}))).await;
    assert_eq!(s, 200);
    // The change is rechecked as soon as it is made; an update racing it may still land.
    let mut denied_after = None;
    for attempt in 0..50 {
        c.append("typed while downgraded\n").await;
        match next_verdict(&mut c).await {
            Verdict::Denied => {
                denied_after = Some(attempt);
                break;
            }
            Verdict::Applied => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(denied_after.is_some(), "still writable 5 s after the downgrade");
    // Removed from the workspace: closed with 4403.
    let (s, _) = w.api.call(Method::DELETE, &member, Some(&w.owner.token), None).await;
    assert_eq!(s, 204);
    assert_eq!(c.wait_close(Duration::from_secs(5)).await, Some(4403));

    // A revoked link closes the connections opened with it.
    let mut by_link =
        Client::connect(&format!("ws://{}/ws/{}?link={}", server.addr, fresh.doc, fresh.link)).await.unwrap();
    by_link.sync().await;
    let (_, links) = w.api.get(&format!("/api/v1/documents/{}/links", fresh.doc), &w.owner.token).await;
    let link_id = links[0]["id"].as_str().unwrap();
    let (s, _) = w
        .api
        .call(Method::DELETE, &format!("/api/v1/documents/{}/links/{link_id}", fresh.doc), Some(&w.owner.token), None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(by_link.wait_close(Duration::from_secs(5)).await, Some(4403));

    // Moving the document to the trash closes everyone's connection to it.
    let mut sharee = Client::connect(&server.ws_url(&fresh.doc, &w.accounts[&Who::Sharee].token)).await.unwrap();
    sharee.sync().await;
    assert!(sharee.text().contains("mine"));
    let (s, _) =
        w.api.call(Method::DELETE, &format!("/api/v1/documents/{}", fresh.doc), Some(&w.owner.token), None).await;
    assert_eq!(s, 204);
    assert_eq!(sharee.wait_close(Duration::from_secs(5)).await, Some(4403));
    let refused = Client::connect(&server.ws_url(&fresh.doc, &w.accounts[&Who::Sharee].token)).await;
    assert!(matches!(refused, Err(tungstenite::Error::Http(r)) if r.status() == 404));

    // A deleted document's content survives in the trash and comes back with it.
    let (s, _) =
        w.api.call(Method::POST, &format!("/api/v1/documents/{}/restore", fresh.doc), Some(&w.owner.token), None).await;
    assert_eq!(s, 200);
    let text = w.api.content(&w.owner.token, &fresh.doc).await;
    assert!(text.starts_with("text\nmine\n"), "{text}");
    // Exactly the updates that raced the downgrade were kept; the refused one was not.
    assert_eq!(text.matches("typed while downgraded").count(), denied_after.unwrap(), "{text}");
}

/// Room tokens are for app rooms: whatever their grants, they never open a catalogued
/// document (live or in the trash), on `/ws` or `/hocuspocus`, while app rooms still open.
async fn room_tokens_never_open_catalogued_documents(db: Db) {
    let server = server(db).await;
    let w = world(&server).await;
    let live = w.fresh_doc().await.doc;
    let trashed = w.fresh_doc().await.doc;
    let (s, _) = w.api.call(Method::DELETE, &format!("/api/v1/documents/{trashed}"), Some(&w.owner.token), None).await;
    assert_eq!(s, 204);
    // The live document's room is open (and loaded) throughout: a live room answers
    // whether it is catalogued from what it read, so that answer is tested too.
    let mut owner = Client::connect(&server.ws_url(&live, &w.owner.token)).await.unwrap();
    owner.sync().await;
    for doc in [&live, &trashed] {
        let prefix = format!("{}*=rw", &doc[..1]);
        for grant in ["*=r", "*=rw", prefix.as_str(), &format!("{doc}=rw")] {
            let token = server.token(&[grant]);
            match Client::connect(&server.ws_url(doc, &token)).await {
                Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 404, "{grant}"),
                Err(e) => panic!("{grant}: {e}"),
                Ok(_) => panic!("a room token `{grant}` opened a catalogued document"),
            }
            let (mut hp, _) =
                tokio_tungstenite::connect_async(format!("ws://{}/hocuspocus", server.addr)).await.unwrap();
            hp.send(tungstenite::Message::Binary(tandem_protocol::hocuspocus::encode_auth_token(doc, &token).into()))
                .await
                .unwrap();
            let denied = tandem_protocol::hocuspocus::encode_permission_denied(doc, "");
            let reply = tokio::time::timeout(Duration::from_secs(5), hp.next()).await.expect("an answer");
            match reply {
                Some(Ok(tungstenite::Message::Binary(b))) => {
                    assert!(b.starts_with(&denied[..denied.len() - 1]), "{grant} on /hocuspocus: {b:?}")
                }
                other => panic!("{grant} on /hocuspocus: {other:?}"),
            }
        }
    }
    // The document's own users still open it; app rooms still open with room tokens,
    // whether their room is live already or not.
    let mut c = Client::connect(&server.ws_url(&live, &w.owner.token)).await.unwrap();
    c.sync().await;
    assert!(c.text().starts_with("text\n"));
    drop(owner);
    let mut app_room = server.client("app-room").await;
    app_room.append_acked("fine\n").await;
    let mut again = server.client("app-room").await;
    again.sync().await;
    assert_eq!(again.text(), "fine\n");
}

/// The web app's files carry no data: everyone gets the shell and its assets, and the
/// server's own paths keep their JSON 404. The cookie path of refresh and logout only
/// answers requests carrying `X-Tandem-Session: 1`; bodies with a token work as before.
async fn the_web_app_is_public_and_the_session_cookie_needs_the_apps_header(db: Db) {
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

/// The new routes with callers the matrix above has no row for: the instance admin's own
/// personal tokens (read and write: admin routes take a session), a workspace owner's
/// read token (reads the workspace's audit), a disabled admin and a removed member.
async fn personal_tokens_and_removed_members_against_the_admin_and_audit_routes(db: Db) {
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
async fn account_routes_for_personal_tokens_and_removed_members(db: Db) {
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
