//! Matrix cases: documents, their content, trash, shares and links; then the preview
//! renderer and settings.

use crate::authz::matrix::{Case, Scope, case};
use crate::authz::world::{CONTENT_WRITERS, DOC_READERS, DOC_WRITERS, MANAGERS, USERS, Who};
use reqwest::Method;
use serde_json::json;

pub(super) fn cases() -> Vec<Case> {
    vec![
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
    ]
}
