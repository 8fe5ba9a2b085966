//! Matrix cases: the workspace, its members and invitations, and a member's profile.

use crate::authz::matrix::{Case, Scope, case};
use crate::authz::world::{MANAGERS, MEMBERS, Who};
use reqwest::Method;
use serde_json::json;

pub(super) fn cases() -> Vec<Case> {
    vec![
        // First: the "share" cell (documents.rs) shares a document of the workspace with the
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
    ]
}
