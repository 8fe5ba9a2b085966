//! Profiles: a user reads and changes their name and avatar (validated), and sees the
//! profiles of the people they share a workspace or a document with, and no one else's.

use crate::common;

use common::api::{Account, Api, Db, server};
use reqwest::Method;
use serde_json::{Value, json};

on_both_databases!(a_profile_is_read_and_changed_within_its_limits, users_see_only_the_people_they_work_with);

pub async fn join(api: &Api, ws: &str, owner: &Account, who: &Account, role: &str) {
    let (status, inv) = api
        .post(&format!("/api/v1/workspaces/{ws}/invitations"), &owner.token, json!({"email": who.email, "role": role}))
        .await;
    assert_eq!(status, 201, "{inv}");
    let accept = format!("/api/v1/invitations/{}/accept", inv["token"].as_str().unwrap());
    let (status, body) = api.call(Method::POST, &accept, Some(&who.token), None).await;
    assert_eq!(status, 200, "{body}");
}

async fn patch(api: &Api, token: &str, body: Value) -> (u16, Value) {
    api.call(Method::PATCH, "/api/v1/users/me", Some(token), Some(body)).await
}

async fn a_profile_is_read_and_changed_within_its_limits(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let ann = api.signup("ann@example.com").await;

    let (status, me) = api.get("/api/v1/users/me", &ann.token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["id"].as_str(), me["email"].as_str(), me["name"].as_str()),
        (Some(&*ann.id), Some("ann@example.com"), Some("ann"))
    );
    assert_eq!((me["avatar_url"].clone(), me["has_password"].as_bool()), (Value::Null, Some(true)));
    // The first account administers the instance; the next does not.
    assert_eq!(me["is_admin"].as_bool(), Some(true));
    let bob = api.signup("bob@example.com").await;
    assert_eq!(api.get("/api/v1/users/me", &bob.token).await.1["is_admin"].as_bool(), Some(false));

    let (status, me) =
        patch(&api, &ann.token, json!({"name": "  Ann Lee ", "avatar_url": "https://cdn.example.com/ann.png"})).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["name"].as_str(), me["avatar_url"].as_str()),
        (Some("Ann Lee"), Some("https://cdn.example.com/ann.png"))
    );
    // What is left out stays; null clears the avatar.
    let (_, me) = patch(&api, &ann.token, json!({"avatar_url": null})).await;
    assert_eq!((me["name"].as_str(), me["avatar_url"].clone()), (Some("Ann Lee"), Value::Null));
    let (_, me) = api.get("/api/v1/users/me", &ann.token).await;
    assert_eq!(me["name"].as_str(), Some("Ann Lee"));

    let long_url = format!("https://example.com/{}", "a".repeat(3000));
    for bad in [
        json!({"avatar_url": "javascript:alert(1)"}),
        json!({"avatar_url": "data:image/png;base64,AAAA"}),
        json!({"avatar_url": "https://user:secret@example.com/a.png"}),
        json!({"avatar_url": long_url}),
        json!({"avatar_url": ""}),
        json!({"name": ""}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "bell\u{7}"}),
    ] {
        let (status, body) = patch(&api, &ann.token, bad.clone()).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_field")), "{bad}");
    }
    let (status, _) = patch(&api, &ann.token, json!({"email": "other@example.com"})).await;
    assert_eq!(status, 422, "unknown fields are refused");
    let (_, me) = api.get("/api/v1/users/me", &ann.token).await;
    assert_eq!(
        (me["name"].as_str(), me["avatar_url"].clone()),
        (Some("Ann Lee"), Value::Null),
        "refused patches change nothing"
    );

    let (status, body) = api.call(Method::GET, "/api/v1/users/me", None, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("missing_token")));
}

async fn users_see_only_the_people_they_work_with(db: Db) {
    let server = server(db).await;
    let api = Api::new(&server);
    let [ann, bob, cid, dan] = [
        api.signup("ann@example.com").await,
        api.signup("bob@example.com").await,
        api.signup("cid@example.com").await,
        api.signup("dan@example.com").await,
    ];
    let (_, ws) = api.post("/api/v1/workspaces", &ann.token, json!({"name": "Team"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    join(&api, &ws, &ann, &bob, "viewer").await;
    let doc = api.create_doc(&ann.token, json!({"title": "Shared", "workspace_id": ws})).await;
    let (status, _) = api
        .post(&format!("/api/v1/documents/{doc}/shares"), &ann.token, json!({"user_id": cid.id, "role": "viewer"}))
        .await;
    assert_eq!(status, 200);
    let (_, _) = patch(&api, &ann.token, json!({"avatar_url": "https://example.com/ann.png"})).await;

    let see = |viewer: &Account, user: &Account| {
        let (api, token, path) = (&api, viewer.token.clone(), format!("/api/v1/users/{}", user.id));
        async move { api.get(&path, &token).await }
    };
    // Same workspace, both ways; a share and the workspace the document is in; oneself.
    for (viewer, user) in
        [(&bob, &ann), (&ann, &bob), (&cid, &ann), (&cid, &bob), (&ann, &cid), (&bob, &cid), (&dan, &dan)]
    {
        let (status, body) = see(viewer, user).await;
        assert_eq!(status, 200, "{} sees {}: {body}", viewer.email, user.email);
        assert_eq!(body["id"].as_str(), Some(&*user.id));
        assert!(body.get("email").is_none(), "no email in another's profile: {body}");
    }
    let (_, body) = see(&bob, &ann).await;
    assert_eq!(
        (body["name"].as_str(), body["avatar_url"].as_str()),
        (Some("ann"), Some("https://example.com/ann.png"))
    );
    // A stranger learns nothing, not even that the user exists.
    for (viewer, user) in [(&dan, &ann), (&ann, &dan), (&dan, &cid)] {
        let (status, body) = see(viewer, user).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("user_not_found")),
            "{} sees {}",
            viewer.email,
            user.email
        );
    }
    let (status, _) = api.get("/api/v1/users/no-such-user", &ann.token).await;
    assert_eq!(status, 404);
    // A member removed from the workspace, and a share revoked: strangers again.
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/workspaces/{ws}/members/{}", bob.id), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    let (status, _) =
        api.call(Method::DELETE, &format!("/api/v1/documents/{doc}/shares/{}", cid.id), Some(&ann.token), None).await;
    assert_eq!(status, 204);
    for (viewer, user) in [(&bob, &ann), (&cid, &ann), (&ann, &cid)] {
        let (status, _) = see(viewer, user).await;
        assert_eq!(status, 404, "{} sees {} after losing access", viewer.email, user.email);
    }
}
