//! Who is calling, and what they may do: the one place REST and the WebSocket resolve a
//! token or public link to a caller, and a caller plus a document or workspace to a role.
//! A caller with no access to something is told it does not exist (`NotFound`); one with
//! too weak a role is told so (`Forbidden`); no credentials at all is `MissingToken`.
//! The API layer decides how each [`AccessError`] is answered.

use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::identity::Principal;
use crate::identity::accounts::AccountError;
use crate::identity::personal;
use crate::identity::tokens::{Access, AuthError, TokenKind};
use crate::ids::{DocId, UserId, WorkspaceId};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::api_tokens::{ApiToken, TokenScope};
use crate::store::catalog::{Document, Link, Role};

/// Header that carries a public link's token (the `link` query parameter also does).
pub const LINK_HEADER: &str = "tandem-link";

/// Why a caller gets no answer: refused (no or bad credentials, no such thing, too weak
/// a role, too many requests), or the answer cannot be had now (see [`Self::is_refusal`]).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("expected `Authorization: Bearer <token>`")]
    MalformedAuthorization,
    #[error("this link does not exist or was revoked")]
    InvalidLink,
    #[error("too many requests for this user; retry in a minute")]
    RateLimited,
    /// It does not exist, or the caller may not know that it does.
    #[error("no such {0}")]
    NotFound(Resource),
    /// The caller's role is too weak; says what it needs.
    #[error("this needs {0}")]
    Forbidden(String),
    #[error("a public link gives access to its document only")]
    LinkOnly,
    /// A `read` personal token asked to change something.
    #[error("this personal token has the `read` scope: it can only GET")]
    ReadOnlyToken,
    /// Only a signed-in session (not a personal token) may do this.
    #[error("personal tokens are managed from a signed-in session, not with a personal token")]
    SessionRequired,
    /// Provisioning an identity provider's user failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccessError {
    /// Whether the caller is refused, as opposed to the answer not being known (the
    /// store or the identity provider unavailable, or a fault of this server).
    pub fn is_refusal(&self) -> bool {
        match self {
            AccessError::Auth(e) => {
                matches!(e, AuthError::MissingToken | AuthError::InvalidToken(_) | AuthError::NoGrant(_))
            }
            AccessError::MalformedAuthorization
            | AccessError::InvalidLink
            | AccessError::RateLimited
            | AccessError::NotFound(_)
            | AccessError::Forbidden(_)
            | AccessError::LinkOnly
            | AccessError::ReadOnlyToken
            | AccessError::SessionRequired => true,
            AccessError::Account(e) => e.is_refusal(),
            AccessError::Store(_) => false,
        }
    }
}

/// What a caller was told does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Document,
    Workspace,
    User,
    Share,
    Link,
    Token,
    Webhook,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::Document => "document",
            Resource::Workspace => "workspace",
            Resource::User => "user",
            Resource::Share => "share",
            Resource::Link => "link",
            Resource::Token => "personal token",
            Resource::Webhook => "webhook",
        })
    }
}

#[derive(Debug, Clone)]
pub enum Caller {
    User(UserId),
    /// A user through one of their personal tokens: as the user, within its scope.
    Token(ApiToken),
    /// Someone holding a public link: access to that one document only.
    Link(Link),
    Anonymous,
}

impl Caller {
    /// Who a REST request comes from: a bearer token (a user's, or a personal token), a
    /// public link (header or `link` query parameter) or no one; callers with credentials
    /// are counted against their per-user request allowance. A `read` personal token may
    /// only `GET` (and `HEAD`).
    pub async fn of_request(parts: &Parts, app: &AppState) -> Result<Self, AccessError> {
        let caller = if let Some(value) = parts.headers.get(AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(AccessError::MalformedAuthorization)?;
            caller_of_bearer(app, token.trim()).await?
        } else if let Some(token) = link_token(parts) {
            Caller::Link(link_of_token(app, &token).await?)
        } else {
            Caller::Anonymous
        };
        let key = match &caller {
            Caller::User(u) | Caller::Token(ApiToken { user_id: u, .. }) => format!("u:{u}"),
            Caller::Link(l) => format!("l:{}", l.id),
            Caller::Anonymous => return Ok(caller),
        };
        if !app.requests_per_user.allow(crate::rate::Key::text(&key)) {
            metrics::counter!(crate::metrics::LIMITED, "limit" => "requests_per_user").increment(1);
            return Err(AccessError::RateLimited);
        }
        if caller.scope() == Some(TokenScope::Read) && !matches!(parts.method, Method::GET | Method::HEAD) {
            return Err(AccessError::ReadOnlyToken);
        }
        Ok(caller)
    }
}

fn link_token(parts: &Parts) -> Option<String> {
    if let Some(v) = parts.headers.get(LINK_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(v.to_owned());
    }
    #[derive(serde::Deserialize)]
    struct LinkParam {
        link: Option<String>,
    }
    axum::extract::Query::<LinkParam>::try_from_uri(&parts.uri).ok()?.0.link
}

/// Who a user's bearer token says the caller is, checked without touching the store.
pub enum Bearer {
    /// One of this server's users.
    Local(UserId),
    /// A user of the identity provider (mapped to a local user by the store).
    External(crate::identity::jwks::Identity),
}

/// Verifies a user's bearer token: one of this server's user tokens, or (when an identity
/// provider is configured) one of its RS256 tokens. `ProviderUnavailable` means the
/// answer is not known yet, not that the token is bad.
pub async fn verify_bearer(app: &AppState, token: &str) -> Result<Bearer, AuthError> {
    if let Some(jwks) = &app.jwks
        && crate::identity::jwks::is_rs256(token)
    {
        return jwks.verify(token).await.map(Bearer::External);
    }
    let claims = app.keys.verify(token)?;
    if claims.kind != TokenKind::User {
        return Err(AuthError::InvalidToken("a room token opens rooms only; use a user access token".into()));
    }
    Ok(Bearer::Local(UserId::new(claims.sub)))
}

/// The user a bearer token stands for, provisioning an identity provider's user on
/// first sight; a disabled user's tokens are refused.
pub async fn user_of_token(app: &AppState, token: &str) -> Result<UserId, AccessError> {
    let user = match verify_bearer(app, token).await? {
        Bearer::Local(user) => user,
        Bearer::External(identity) => crate::identity::accounts::provision_external(app, identity).await?,
    };
    in_good_standing(app, &user).await?;
    Ok(user)
}

/// Refuses the tokens of a disabled account and of a deleted one (a token outlives its
/// account until it expires): one primary-key read, so either applies at once everywhere.
async fn in_good_standing(app: &AppState, user: &UserId) -> Result<(), AccessError> {
    match app.store.standing(user).await? {
        None => Err(AccessError::Auth(AuthError::InvalidToken("the account was deleted".into()))),
        Some(standing) if standing.disabled_at.is_some() => Err(AccountError::AccountDisabled.into()),
        Some(_) => Ok(()),
    }
}

/// The caller a bearer token stands for: a personal token (live; its use recorded) or
/// a user's access token.
async fn caller_of_bearer(app: &AppState, token: &str) -> Result<Caller, AccessError> {
    if personal::is_personal(token) {
        let found = personal_token(app, token).await?;
        personal::touch(app, &found).await;
        return Ok(Caller::Token(found));
    }
    Ok(Caller::User(user_of_token(app, token).await?))
}

/// The live personal token a secret stands for: unknown, revoked and expired ones are
/// refused as invalid tokens.
async fn personal_token(app: &AppState, secret: &str) -> Result<ApiToken, AccessError> {
    let invalid = |why: &str| AccessError::Auth(AuthError::InvalidToken(why.into()));
    let token = personal::find(app, secret).await?.ok_or_else(|| invalid("unknown or revoked personal token"))?;
    if token.expired(crate::store::catalog::now_ms()) {
        return Err(invalid("personal token expired"));
    }
    in_good_standing(app, &token.user_id).await?;
    Ok(token)
}

/// Checks again that a connection's bearer token is still good (not expired, not
/// revoked, its user neither disabled nor deleted), without recording a use.
pub async fn recheck_token(app: &AppState, token: &str) -> Result<(), AccessError> {
    if personal::is_personal(token) {
        personal_token(app, token).await.map(drop)
    } else {
        user_of_token(app, token).await.map(drop)
    }
}

pub async fn link_of_token(app: &AppState, token: &str) -> Result<Link, AccessError> {
    app.store.link_by_token(token).await?.ok_or(AccessError::InvalidLink)
}

pub fn not_found(what: Resource) -> AccessError {
    AccessError::NotFound(what)
}

/// Refuses a caller whose role is too weak; `need` says what it takes.
pub fn forbidden(need: &str) -> AccessError {
    AccessError::Forbidden(need.to_owned())
}

impl Caller {
    /// The calling user; anonymous callers and public links are refused.
    pub fn user(&self) -> Result<&UserId, AccessError> {
        match self {
            Caller::User(u) | Caller::Token(ApiToken { user_id: u, .. }) => Ok(u),
            Caller::Link(_) => Err(AccessError::LinkOnly),
            Caller::Anonymous => Err(AuthError::MissingToken.into()),
        }
    }

    /// The calling user, signed in with a session: personal tokens are refused too.
    pub fn session_user(&self) -> Result<&UserId, AccessError> {
        match self {
            Caller::Token(_) => Err(AccessError::SessionRequired),
            other => other.user(),
        }
    }

    /// The calling instance admin, signed in with a session (a leaked personal token
    /// never administers the instance); anyone else is refused.
    pub async fn instance_admin(&self, app: &AppState) -> Result<&UserId, AccessError> {
        let user = self.session_user()?;
        match app.store.standing(user).await? {
            Some(standing) if standing.admin => Ok(user),
            _ => Err(forbidden("the instance admin role")),
        }
    }

    /// A personal token's scope; `None` for every other caller.
    pub fn scope(&self) -> Option<TokenScope> {
        match self {
            Caller::Token(token) => Some(token.scope),
            _ => None,
        }
    }

    /// What a role lets this caller do in a room: a `read` personal token only reads.
    pub fn access_of(&self, role: Role) -> Access {
        match self.scope() {
            Some(TokenScope::Read) => Access::Read,
            _ => access_of(role),
        }
    }

    /// The caller's role on a document; `trash` selects deleted documents instead of
    /// live ones. Fails as for any other missing document (`NotFound`, or no credentials).
    pub async fn role_on(&self, app: &AppState, id: &DocId, trash: bool) -> Result<(Document, Role), AccessError> {
        let (document, role) = match self {
            Caller::Anonymous => return Err(AuthError::MissingToken.into()),
            Caller::Link(link) if link.document_id == *id => {
                let document = app.store.document(id).await?.ok_or_else(|| not_found(Resource::Document))?;
                (document, Some(link.role))
            }
            Caller::Link(_) => return Err(not_found(Resource::Document)),
            Caller::User(user) | Caller::Token(ApiToken { user_id: user, .. }) => {
                let access = app.store.document_access(id, user).await?.ok_or_else(|| not_found(Resource::Document))?;
                let role = access.role();
                (access.document, role)
            }
        };
        match role {
            Some(role) if document.deleted_at.is_some() == trash => Ok((document, role)),
            _ => Err(not_found(Resource::Document)),
        }
    }

    /// [`Self::role_on`], requiring at least `need`.
    pub async fn document(&self, app: &AppState, id: &DocId, need: Role) -> Result<(Document, Role), AccessError> {
        let (doc, role) = self.role_on(app, id, false).await?;
        require(role, need)?;
        Ok((doc, role))
    }
}

pub fn require(role: Role, need: Role) -> Result<(), AccessError> {
    if role >= need { Ok(()) } else { Err(forbidden(&format!("the {} role or higher", need.as_str()))) }
}

/// A user's role in a workspace, at least `need`; `NotFound` when not a member.
pub async fn workspace_role(app: &AppState, user: &UserId, ws: &WorkspaceId, need: Role) -> Result<Role, AccessError> {
    let role = app.store.member_role(ws, user).await?.ok_or_else(|| not_found(Resource::Workspace))?;
    require(role, need)?;
    Ok(role)
}

/// Whether the caller may manage a document's shares, links and permanent deletion:
/// workspace admins and owners, and the document's own author while an editor.
pub fn can_manage(caller: &Caller, doc: &Document, role: Role) -> bool {
    role >= Role::Admin || (role >= Role::Editor && caller.user().is_ok_and(|u| *u == doc.owner_id))
}

/// Tells open connections, on every node, that some access changed, so they recheck
/// theirs now.
pub fn changed(app: &AppState) {
    app.bus.access_changed();
}

/// How a WebSocket connection was let in: by a room token's grants (fixed for its life),
/// or as a user (or their personal token) or public link, whose access is rechecked
/// while it stays open.
pub struct SocketGrant {
    pub access: Access,
    /// Who the connection is, stamped into the presence it sets.
    pub identity: Principal,
    pub recheck: Option<Recheck>,
}

pub struct Recheck {
    pub(crate) caller: Caller,
    /// The bearer token, re-verified on each recheck (it may expire, or be revoked).
    pub(crate) token: Option<String>,
    /// Access changes, watched from before access was checked: none after it is missed.
    pub(crate) epoch: tokio::sync::watch::Receiver<u64>,
}

/// What a role lets a connection do.
pub(crate) fn access_of(role: Role) -> Access {
    if role.can_edit() { Access::ReadWrite } else { Access::Read }
}

/// Authorises `/ws/{doc}`: `?token=` (a room token, a user token, a personal token or
/// an identity provider's token) or `?link=` (a public link).
pub async fn authorize_socket(
    app: &AppState,
    doc: &DocId,
    token: Option<&str>,
    link: Option<&str>,
) -> Result<SocketGrant, AccessError> {
    let epoch = app.bus.access_epoch();
    let (caller, token) = match (token, link) {
        (_, Some(link)) => (Caller::Link(link_of_token(app, link).await?), None),
        (Some(token), None) if personal::is_personal(token) => {
            (caller_of_bearer(app, token).await?, Some(token.to_owned()))
        }
        (Some(token), None) => {
            let external = app.jwks.is_some() && crate::identity::jwks::is_rs256(token);
            if !external {
                let claims = app.keys.verify(token)?;
                if claims.kind == TokenKind::Room {
                    // Room tokens open app rooms only: a catalogued document (live or
                    // trashed) is opened by its users and links, never by a room grant.
                    // A live room already read it: no query per connection.
                    let catalogued = match app.rooms.catalogued(doc) {
                        Some(known) => known,
                        None => app.store.is_document(doc).await?,
                    };
                    if catalogued {
                        return Err(not_found(Resource::Document));
                    }
                    let access = claims.access(doc.as_str())?;
                    let identity = Principal::App { subject: claims.sub };
                    return Ok(SocketGrant { access, identity, recheck: None });
                }
            }
            (Caller::User(user_of_token(app, token).await?), Some(token.to_owned()))
        }
        (None, None) => return Err(AuthError::MissingToken.into()),
    };
    let (_, role) = caller.role_on(app, doc, false).await?;
    let identity = match &caller {
        Caller::User(id) | Caller::Token(ApiToken { user_id: id, .. }) => {
            let name = app.store.user(id).await?.map(|u| u.name).unwrap_or_default();
            Principal::User { id: id.to_string(), name }
        }
        Caller::Link(link) => Principal::Guest { link: link.id.clone() },
        Caller::Anonymous => Principal::Guest { link: String::new() },
    };
    Ok(SocketGrant { access: caller.access_of(role), identity, recheck: Some(Recheck { caller, token, epoch }) })
}
