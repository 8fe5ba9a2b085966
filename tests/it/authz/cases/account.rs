//! Matrix cases: personal tokens, the account, the instance's administration, and the
//! workspace's audit and webhooks.

use crate::authz::matrix::{Case, Scope, case};
use crate::authz::world::{INSTANCE_ADMINS, MANAGERS, USERS, Who};
use reqwest::Method;
use serde_json::json;

pub(super) fn cases() -> Vec<Case> {
    vec![
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
