//! The callers of the matrix (every role, a sharee, both link kinds, a stranger, the
//! instance admin, nobody) and the world they act in: one workspace with its members, and
//! a fresh document per cell.

use crate::common;

use std::collections::BTreeMap;

use common::api::{Account, Api};
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Who {
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

pub(super) const EVERYONE: [Who; 11] = [
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
pub(super) const MEMBERS: &[Who] = &[Who::Owner, Who::Admin, Who::Editor, Who::Commenter, Who::Viewer];
pub(super) const DOC_READERS: &[Who] =
    &[Who::Owner, Who::Admin, Who::Editor, Who::Commenter, Who::Viewer, Who::Sharee, Who::Link, Who::EditLink];
/// Who may change the content.
pub(super) const CONTENT_WRITERS: &[Who] = &[Who::Owner, Who::Admin, Who::Editor, Who::Sharee, Who::EditLink];
/// Who may change the document itself (title, tags, trash): signed-in editors.
pub(super) const DOC_WRITERS: &[Who] = &[Who::Owner, Who::Admin, Who::Editor, Who::Sharee];
pub(super) const MANAGERS: &[Who] = &[Who::Owner, Who::Admin];
/// Who may write comments: signed-in commenters and above (links only read them).
pub(super) const COMMENTERS: &[Who] = &[Who::Owner, Who::Admin, Who::Editor, Who::Commenter, Who::Sharee];
pub(super) const USERS: &[Who] =
    &[Who::Owner, Who::Admin, Who::Editor, Who::Commenter, Who::Viewer, Who::Sharee, Who::Stranger, Who::InstanceAdmin];
/// Who administers the instance.
pub(super) const INSTANCE_ADMINS: &[Who] = &[Who::InstanceAdmin];

pub(super) struct World {
    pub(super) api: Api,
    pub(super) accounts: BTreeMap<Who, Account>,
    pub(super) owner: Account,
    pub(super) ws: String,
    /// Member whose role the member-management cases change.
    pub(super) target: Account,
}

/// A document made for one cell, with a view link and an edit link to it, and a pending
/// invitation to the workspace.
pub(super) struct Fresh {
    pub(super) doc: String,
    pub(super) link: String,
    pub(super) link_id: String,
    pub(super) edit_link: String,
    pub(super) invitation_id: String,
    /// A comment thread the owner started on the document.
    pub(super) thread_id: String,
    /// A version the owner saved.
    pub(super) version_id: String,
    /// One of the owner's personal tokens, made for the cells that need one.
    pub(super) token_id: String,
    /// A webhook of the workspace, made for the cells that need one.
    pub(super) hook_id: String,
    /// A file the owner attached, for the cells that need one.
    pub(super) attachment_id: String,
}

impl World {
    pub(super) async fn fresh_doc(&self) -> Fresh {
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

    pub(super) async fn owner_attachment_id(&self, doc: &str) -> String {
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

    pub(super) async fn owner_token_id(&self) -> String {
        let body = json!({"name": "cell", "scopes": ["read"]});
        let (status, made) = self.api.post("/api/v1/users/me/tokens", &self.owner.token, body).await;
        assert_eq!(status, 201, "{made}");
        made["id"].as_str().unwrap().to_owned()
    }

    /// A webhook of the workspace (to a loopback port nothing listens on).
    pub(super) async fn hook_id(&self) -> String {
        let body = json!({"url": "http://127.0.0.1:9/hook", "events": ["document.created"]});
        let (status, made) =
            self.api.post(&format!("/api/v1/workspaces/{}/webhooks", self.ws), &self.owner.token, body).await;
        assert_eq!(status, 201, "{made}");
        made["id"].as_str().unwrap().to_owned()
    }

    /// Deletes every webhook of the workspace, so cells never meet its bound.
    pub(super) async fn clear_hooks(&self) {
        let path = format!("/api/v1/workspaces/{}/webhooks", self.ws);
        let (status, hooks) = self.api.get(&path, &self.owner.token).await;
        assert_eq!(status, 200, "{hooks}");
        for hook in hooks.as_array().unwrap() {
            let one = format!("{path}/{}", hook["id"].as_str().unwrap());
            let (status, _) = self.api.call(Method::DELETE, &one, Some(&self.owner.token), None).await;
            assert_eq!(status, 204);
        }
    }

    pub(super) async fn request(
        &self,
        who: Who,
        fresh: &Fresh,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
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

pub(super) async fn join(api: &Api, ws: &str, owner: &Account, who: &Account, role: &str) {
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

pub(super) async fn world(server: &common::TestServer) -> World {
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
