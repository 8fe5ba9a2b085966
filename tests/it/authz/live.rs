//! Access changes reaching open connections, and room tokens kept out of catalogued
//! documents.

use std::time::Duration;

use super::world::{Who, world};
use crate::common::Client;
use crate::common::api::{Db, server};
use crate::common::client::Event;
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::json;
use tokio_tungstenite::tungstenite;

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

pub(super) async fn access_changes_reach_open_connections(db: Db) {
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
pub(super) async fn room_tokens_never_open_catalogued_documents(db: Db) {
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
