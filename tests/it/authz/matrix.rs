//! The runner of the authorization matrix: each case of `cases()` against every caller,
//! each cell on a fresh document, then every caller on the WebSocket.

use std::time::Duration;

use super::cases::cases;
use super::world::{CONTENT_WRITERS, EVERYONE, Fresh, Who, World, join, world};
use crate::common::Client;
use crate::common::api::{Db, server_with};
use crate::common::client::Event;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

/// What a case acts on, which decides what a caller without access is told.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scope {
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

pub(super) struct Case {
    pub(super) name: &'static str,
    pub(super) scope: Scope,
    pub(super) allowed: &'static [Who],
    pub(super) ok: u16,
    pub(super) method: Method,
    /// `{ws}`, `{doc}`, `{target}` and `{link_id}` are filled in per cell.
    pub(super) path: &'static str,
    pub(super) body: Option<Value>,
    /// Puts shared state back after a cell that changed it.
    pub(super) reset: Option<&'static str>,
    /// The owner moves the cell's document to the trash first.
    pub(super) trashed: bool,
}

/// One row of the table: a plain case, which resets nothing and needs no trashed document.
pub(super) fn case(
    name: &'static str,
    scope: Scope,
    allowed: &'static [Who],
    ok: u16,
    method: Method,
    path: &'static str,
    body: Option<Value>,
) -> Case {
    Case { name, scope, allowed, ok, method, path, body, reset: None, trashed: false }
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

pub(super) async fn every_role_against_every_endpoint(db: Db) {
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
