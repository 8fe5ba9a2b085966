//! `/api/v1/users/me` and `/api/v1/users/{id}`: a user's profile (name and avatar), as
//! they see it and change it, and as the people they work with see it. Someone who
//! shares no workspace and no document with a user is told that user does not exist.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::extract::{ApiJson, ApiPath, text_field};
use crate::identity::access::{Caller, Resource, not_found};
use crate::ids::UserId;
use crate::state::AppState;
use crate::store::profiles::Profile;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me, patch_me)).routes(routes!(get_user))
}

/// Longest display name, in characters (as at signup).
pub const MAX_NAME_CHARS: usize = 100;
/// Longest avatar URL, in bytes.
pub const MAX_AVATAR_URL_BYTES: usize = 2048;

/// Another user as the people they work with see them: never their email.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicProfile {
    #[schema(value_type = String)]
    pub id: UserId,
    pub name: String,
    pub avatar_url: Option<String>,
}

/// Any of the two; what is absent stays as it is.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// 1 to 100 characters.
    pub name: Option<String>,
    /// An `https://` (or `http://`) URL of at most 2048 bytes; `null` removes the avatar.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
}

/// Tells a field set to `null` (`Some(None)`) from one left out (`None`, the default).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// An avatar URL as stored: an absolute `http(s)` URL with a host, no credentials, no
/// whitespace or control characters, bounded; anything else (`javascript:`, `data:`)
/// is refused, since clients put it in an `<img src>`.
pub fn avatar_url(raw: &str) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidField,
            format!("`avatar_url` must be an http or https URL of at most {MAX_AVATAR_URL_BYTES} bytes"),
        )
    };
    if raw.is_empty() || raw.len() > MAX_AVATAR_URL_BYTES || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let url = reqwest::Url::parse(raw).map_err(|_| invalid())?;
    let web = matches!(url.scheme(), "https" | "http");
    if !web || url.host_str().is_none_or(str::is_empty) || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid());
    }
    Ok(url.to_string())
}

/// The caller's profile.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_me(State(app): State<AppState>, caller: Caller) -> Result<Json<Profile>, ApiError> {
    let user = caller.user()?;
    Ok(Json(app.store.profile(user).await?.ok_or_else(|| not_found(Resource::User))?))
}

/// Changes the caller's name and/or avatar; answers the whole profile.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    request_body = ProfilePatch,
    responses((status = 200, body = Profile), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn patch_me(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> Result<Json<Profile>, ApiError> {
    let user = caller.user()?;
    let name = patch.name.as_deref().map(|n| text_field("name", n, MAX_NAME_CHARS)).transpose()?;
    let avatar = match &patch.avatar_url {
        None => None,
        Some(None) => Some(None),
        Some(Some(url)) => Some(Some(avatar_url(url)?)),
    };
    let profile = app
        .store
        .set_profile(user, name.as_deref(), avatar.as_ref().map(Option::as_deref))
        .await?
        .ok_or_else(|| not_found(Resource::User))?;
    Ok(Json(profile))
}

/// Another user's name and avatar, for someone who shares a workspace or a document with
/// them; to anyone else the user does not exist (404, never 403).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PublicProfile), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<Json<PublicProfile>, ApiError> {
    let viewer = caller.user()?;
    if !app.store.can_see_user(viewer, &id).await? {
        return Err(not_found(Resource::User).into());
    }
    let p = app.store.profile(&id).await?.ok_or_else(|| not_found(Resource::User))?;
    Ok(Json(PublicProfile { id: p.id, name: p.name, avatar_url: p.avatar_url }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatar_urls_are_web_urls_only() {
        assert_eq!(avatar_url("https://example.com/a.png").unwrap(), "https://example.com/a.png");
        assert!(avatar_url("http://cdn.example.com/x?y=1").is_ok());
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:image/png;base64,AAAA",
            "ftp://example.com/a.png",
            "https://user:pw@example.com/a.png",
            "https://exa mple.com/",
            "/relative.png",
            "",
            "https://example.com/\u{7}",
        ] {
            assert!(avatar_url(bad).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_AVATAR_URL_BYTES));
        assert!(avatar_url(&long).is_err());
    }
}
