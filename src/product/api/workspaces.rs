//! `/api/v1/workspaces`: workspaces, their members and roles, and invitations by email
//! (a single-use token that expires, listed and revocable by admins). Admins manage
//! members; only owners make or unmake owners, and a workspace always keeps one. A member
//! who loses the right to invite loses their pending invitations with it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiJson, ApiPath, email_field, text_field};
use crate::identity::access::{self, Caller, Resource, not_found, workspace_role};
use crate::identity::accounts::token_hash;
use crate::identity::audit;
use crate::ids::{InvitationId, UserId, WorkspaceId, random_hex};
use crate::product::erase;
use crate::state::AppState;
use crate::store::audit::{AuditAction, AuditEntry};
use crate::store::catalog::{
    Invitation, Member, MemberChange, MemberRefusal, PendingInvitation, Role, Workspace, now_ms,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, rename, delete))
        .routes(routes!(members))
        .routes(routes!(change_role, remove_member))
        .routes(routes!(list_invitations, invite))
        .routes(routes!(revoke_invitation))
        .routes(routes!(accept))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceView {
    #[serde(flatten)]
    pub workspace: Workspace,
    /// The caller's role.
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceRequest {
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub workspace_id: WorkspaceId,
    pub email: String,
    pub role: Role,
    pub expires_at: i64,
    /// Single-use; `POST /api/v1/invitations/{token}/accept` with the invited account.
    pub token: String,
}

/// The caller's workspaces and role in each.
#[utoipa::path(get, path = "/api/v1/workspaces", tag = "workspaces", security(("bearer" = [])),
    responses((status = 200, body = Vec<WorkspaceView>), (status = 401, body = ErrorBody)))]
async fn list(State(app): State<AppState>, caller: Caller) -> Result<Json<Vec<WorkspaceView>>, ApiError> {
    let all = app.store.workspaces_of(caller.user()?).await?;
    Ok(Json(all.into_iter().map(|(workspace, role)| WorkspaceView { workspace, role }).collect()))
}

/// Creates a workspace owned by the caller.
#[utoipa::path(post, path = "/api/v1/workspaces", tag = "workspaces", security(("bearer" = [])),
    request_body = WorkspaceRequest, responses((status = 201, body = WorkspaceView), (status = 422, body = ErrorBody)))]
async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<WorkspaceRequest>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    let name = text_field("name", &req.name, 100)?;
    let workspace = app.store.create_workspace(&name, caller.user()?, false).await?;
    Ok((StatusCode::CREATED, Json(WorkspaceView { workspace, role: Role::Owner })))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{id}", tag = "workspaces", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = WorkspaceView), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let role = workspace_role(&app, caller.user()?, &id, Role::Viewer).await?;
    let workspace = app.store.workspace(&id).await?.ok_or_else(|| not_found(Resource::Workspace))?;
    Ok(Json(WorkspaceView { workspace, role }))
}

/// Renames a workspace (admins and owners).
#[utoipa::path(patch, path = "/api/v1/workspaces/{id}", tag = "workspaces", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = WorkspaceRequest,
    responses((status = 200, body = WorkspaceView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rename(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
    ApiJson(req): ApiJson<WorkspaceRequest>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let role = workspace_role(&app, caller.user()?, &id, Role::Admin).await?;
    let name = text_field("name", &req.name, 100)?;
    app.store.rename_workspace(&id, &name).await?;
    let workspace = app.store.workspace(&id).await?.ok_or_else(|| not_found(Resource::Workspace))?;
    Ok(Json(WorkspaceView { workspace, role }))
}

/// Deletes a workspace with all its documents (owners; never a personal workspace).
#[utoipa::path(delete, path = "/api/v1/workspaces/{id}", tag = "workspaces", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, description = "personal_workspace", body = ErrorBody)))]
async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
) -> Result<StatusCode, ApiError> {
    workspace_role(&app, caller.user()?, &id, Role::Owner).await?;
    let ws = app.store.workspace(&id).await?.ok_or_else(|| not_found(Resource::Workspace))?;
    if ws.personal {
        return Err(ApiError::new(ErrorCode::PersonalWorkspace, "a personal workspace cannot be deleted"));
    }
    // Like a permanent document deletion, for every document.
    let docs = app.store.workspace_document_ids(&id).await?;
    erase::close_rooms(&app, &docs).await;
    let blobs = app.store.delete_workspace(&id).await?.unwrap_or_default();
    erase::deleted(&app, &docs, &blobs).await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/workspaces/{id}/members", tag = "workspaces", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<Member>), (status = 404, body = ErrorBody)))]
async fn members(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
) -> Result<Json<Vec<Member>>, ApiError> {
    workspace_role(&app, caller.user()?, &id, Role::Viewer).await?;
    Ok(Json(app.store.members(&id).await?))
}

/// Makes a member change, checked and applied in one store transaction.
async fn change_member(app: &AppState, ws: &WorkspaceId, change: MemberChange) -> Result<(), ApiError> {
    match app.store.change_member(ws, &change).await? {
        Ok(from) => {
            access::changed(app);
            audit::record(app, audit::member_change(ws, &change, from)).await;
            if change.to.is_none() {
                let data = serde_json::json!({"user_id": change.target, "role": from});
                app.hooks.announce(ws, "member.removed", &data).await;
            }
            Ok(())
        }
        Err(MemberRefusal::ActorNotMember) => Err(not_found(Resource::Workspace).into()),
        Err(MemberRefusal::TargetNotMember) => Err(not_found(Resource::User).into()),
        Err(MemberRefusal::NeedsAdmin) => Err(access::forbidden("the admin role or higher").into()),
        Err(MemberRefusal::NeedsOwner) => Err(access::forbidden("the owner role to make or unmake owners").into()),
        Err(MemberRefusal::LastOwner) => {
            Err(ApiError::new(ErrorCode::LastOwner, "a workspace must keep at least one owner"))
        }
    }
}

/// Changes a member's role. Takes effect on their open connections at once; one demoted
/// below admin loses their pending invitations (below owner: their owner invitations).
#[utoipa::path(patch, path = "/api/v1/workspaces/{id}/members/{user_id}", tag = "workspaces",
    security(("bearer" = [])), params(("id" = String, Path), ("user_id" = String, Path)), request_body = RoleRequest,
    responses((status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "last_owner", body = ErrorBody)))]
async fn change_role(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, target)): ApiPath<(WorkspaceId, UserId)>,
    ApiJson(req): ApiJson<RoleRequest>,
) -> Result<Json<Member>, ApiError> {
    let change = MemberChange { actor: caller.user()?.clone(), target: target.clone(), to: Some(req.role) };
    change_member(&app, &id, change).await?;
    let user = app.store.user(&target).await?.ok_or_else(|| not_found(Resource::User))?;
    Ok(Json(Member { user, role: req.role }))
}

/// Removes a member (admins; anyone may leave). Their open connections close with 4403
/// and their pending invitations are revoked.
#[utoipa::path(delete, path = "/api/v1/workspaces/{id}/members/{user_id}", tag = "workspaces",
    security(("bearer" = [])), params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "last_owner", body = ErrorBody)))]
async fn remove_member(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, target)): ApiPath<(WorkspaceId, UserId)>,
) -> Result<StatusCode, ApiError> {
    // Leaving needs no rights over others, but the last owner may not leave.
    change_member(&app, &id, MemberChange { actor: caller.user()?.clone(), target, to: None }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Invites an email address with a role (admins; owners alone invite owners). The answer
/// holds the single-use token to send to the invitee.
#[utoipa::path(post, path = "/api/v1/workspaces/{id}/invitations", tag = "workspaces", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = InviteRequest,
    responses((status = 201, body = InvitationView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn invite(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
    ApiJson(req): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<InvitationView>), ApiError> {
    let me = caller.user()?;
    let actor_role = workspace_role(&app, me, &id, Role::Admin).await?;
    if req.role == Role::Owner && actor_role != Role::Owner {
        return Err(access::forbidden("the owner role to invite owners").into());
    }
    let email = email_field(&req.email)?;
    let token = random_hex(24);
    let inv = Invitation {
        id: random_hex(10),
        workspace_id: id.clone(),
        email: email.clone(),
        role: req.role,
        expires_at: now_ms() + app.config.auth.invitation_ttl.as_millis() as i64,
        accepted_at: None,
    };
    if !app.store.create_invitation(&inv, &token_hash(&token), me).await? {
        // Lost the role since it was checked above.
        return Err(access::forbidden("the admin role or higher").into());
    }
    let view =
        InvitationView { id: inv.id, workspace_id: id, email, role: inv.role, expires_at: inv.expires_at, token };
    Ok((StatusCode::CREATED, Json(view)))
}

/// The workspace's pending invitations (admins and owners); tokens are never shown again.
#[utoipa::path(get, path = "/api/v1/workspaces/{id}/invitations", tag = "workspaces", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<PendingInvitation>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_invitations(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<WorkspaceId>,
) -> Result<Json<Vec<PendingInvitation>>, ApiError> {
    workspace_role(&app, caller.user()?, &id, Role::Admin).await?;
    Ok(Json(app.store.pending_invitations(&id, now_ms()).await?))
}

/// Revokes a pending invitation: its token no longer works (admins; owners alone revoke
/// an invitation to become an owner).
#[utoipa::path(delete, path = "/api/v1/workspaces/{id}/invitations/{invitation_id}", tag = "workspaces",
    security(("bearer" = [])), params(("id" = String, Path), ("invitation_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_invitation(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, invitation_id)): ApiPath<(WorkspaceId, InvitationId)>,
) -> Result<StatusCode, ApiError> {
    let actor_role = workspace_role(&app, caller.user()?, &id, Role::Admin).await?;
    let no_such = || ApiError::new(ErrorCode::InvitationNotFound, "no such invitation");
    let pending = app.store.pending_invitations(&id, now_ms()).await?;
    let inv = pending.iter().find(|i| i.id == invitation_id.as_str()).ok_or_else(no_such)?;
    if inv.role == Role::Owner && actor_role != Role::Owner {
        return Err(access::forbidden("the owner role to revoke an owner invitation").into());
    }
    if !app.store.revoke_invitation(&id, invitation_id.as_str()).await? {
        return Err(no_such());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Accepts an invitation with the account of the invited email.
#[utoipa::path(post, path = "/api/v1/invitations/{token}/accept", tag = "workspaces", security(("bearer" = [])),
    params(("token" = String, Path)),
    responses((status = 200, body = WorkspaceView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "invitation_used", body = ErrorBody),
        (status = 410, description = "invitation_expired", body = ErrorBody)))]
async fn accept(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(token): ApiPath<String>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let me = caller.user()?;
    let inv = app
        .store
        .invitation_by_hash(&token_hash(&token))
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::InvitationNotFound, "no such invitation"))?;
    let user = app.store.user(me).await?.ok_or_else(|| not_found(Resource::User))?;
    if user.email.as_deref() != Some(inv.email.as_str()) {
        return Err(ApiError::new(
            ErrorCode::InvitationForAnotherEmail,
            "this invitation is for another email address",
        ));
    }
    let now = now_ms();
    if inv.accepted_at.is_some() {
        return Err(ApiError::new(ErrorCode::InvitationUsed, "this invitation was already accepted"));
    }
    if inv.expires_at <= now {
        return Err(ApiError::new(ErrorCode::InvitationExpired, "this invitation has expired"));
    }
    if !app.store.accept_invitation(&inv, me, now).await? {
        return Err(ApiError::new(ErrorCode::InvitationUsed, "this invitation was already accepted"));
    }
    access::changed(&app);
    let added = AuditEntry::new(AuditAction::MemberAdded).actor(me).target("user", me).workspace(&inv.workspace_id);
    audit::record(&app, added.detail(serde_json::json!({"role": inv.role.as_str(), "invitation": inv.id}))).await;
    let workspace = app.store.workspace(&inv.workspace_id).await?.ok_or_else(|| not_found(Resource::Workspace))?;
    let role = app.store.member_role(&inv.workspace_id, me).await?.unwrap_or(inv.role);
    app.hooks.announce(&inv.workspace_id, "member.added", &serde_json::json!({"user_id": me, "role": role})).await;
    Ok(Json(WorkspaceView { workspace, role }))
}
