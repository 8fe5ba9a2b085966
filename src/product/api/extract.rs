//! Extractors that answer bad input with the API's JSON errors instead of axum's plain
//! text: malformed JSON 400, wrong fields or types 422, wrong content type 415, too
//! large 413, bad query parameters 400; ids in the path parsed as their types; and the
//! caller of every request.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::{ApiError, ErrorCode};
use crate::identity::access::{Caller, Resource, not_found};
use crate::ids::{AttachmentId, CommentId, DocId, InvitationId, LinkId, UserId, VersionId, WebhookId, WorkspaceId};
use crate::state::AppState;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        Ok(Caller::of_request(parts, app).await?)
    }
}

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(req, state).await.map(|Json(v)| ApiJson(v)).map_err(json_error)
    }
}

pub fn json_error(e: JsonRejection) -> ApiError {
    match e {
        JsonRejection::JsonDataError(e) => ApiError::new(ErrorCode::InvalidBody, e.body_text()),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(ErrorCode::MalformedJson, e.body_text()),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON with `Content-Type: application/json`",
        ),
        e if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
        }
        e => ApiError::rejected(ErrorCode::InvalidBody, e.status(), e.body_text()),
    }
}

/// A JSON body that may be left out (empty: the defaults).
pub fn optional_json<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::new(ErrorCode::InvalidBody, e.to_string())
        } else {
            ApiError::new(ErrorCode::MalformedJson, e.to_string())
        }
    })
}

pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::new(ErrorCode::InvalidQuery, e.body_text()))
    }
}

/// Ids from the request path, each parsed as its own type: `ApiPath<DocId>`,
/// `ApiPath<(WorkspaceId, UserId)>`. An id that cannot name anything is answered as the
/// thing not existing (a document id past 256 bytes: 404 `document_not_found`); a path
/// that does not decode (not UTF-8) keeps axum's own 400.
pub struct ApiPath<T>(pub T);

/// One path segment as a typed value.
pub trait PathSegment: Sized {
    fn from_segment(s: String) -> Result<Self, ApiError>;
}

impl PathSegment for DocId {
    fn from_segment(s: String) -> Result<Self, ApiError> {
        DocId::parse(&s).ok_or_else(|| not_found(Resource::Document).into())
    }
}

/// Ids any string can be: one that names nothing is not found by the handler.
macro_rules! any_string_segment {
    ($($ty:ty => $make:expr),* $(,)?) => {
        $(impl PathSegment for $ty {
            fn from_segment(s: String) -> Result<Self, ApiError> {
                Ok($make(s))
            }
        })*
    };
}

any_string_segment!(
    WorkspaceId => WorkspaceId::new,
    UserId => UserId::new,
    LinkId => LinkId::new,
    InvitationId => InvitationId::new,
    CommentId => CommentId::new,
    VersionId => VersionId::new,
    WebhookId => WebhookId::new,
    AttachmentId => AttachmentId::new,
    String => String::from,
);

/// What [`ApiPath`] extracts: one segment, or a pair.
pub trait PathParams: Sized {
    type Raw: DeserializeOwned + Send;
    fn from_raw(raw: Self::Raw) -> Result<Self, ApiError>;
}

macro_rules! one_segment {
    ($($ty:ty),*) => {
        $(impl PathParams for $ty {
            type Raw = String;
            fn from_raw(raw: String) -> Result<Self, ApiError> {
                <$ty>::from_segment(raw)
            }
        })*
    };
}

one_segment!(DocId, WorkspaceId, UserId, String);

impl<A: PathSegment, B: PathSegment> PathParams for (A, B) {
    type Raw = (String, String);

    fn from_raw((a, b): (String, String)) -> Result<Self, ApiError> {
        Ok((A::from_segment(a)?, B::from_segment(b)?))
    }
}

impl<S: Send + Sync, T: PathParams> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Path(raw) = Path::<T::Raw>::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        T::from_raw(raw).map(ApiPath).map_err(IntoResponse::into_response)
    }
}

/// Checks a free-text field: trimmed, non-empty, at most `max` characters.
pub fn text_field(name: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("`{name}` must be 1 to {max} characters, without control characters"),
        ));
    }
    Ok(v.to_owned())
}

/// RFC 5321's limit on an address in a mail path.
const MAX_EMAIL_BYTES: usize = 254;

/// An email as typed at login: bounded, trimmed and lowercased (not otherwise checked, so
/// a login answers the same whether or not such an account could exist).
pub fn login_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim();
    if email.is_empty() || email.len() > MAX_EMAIL_BYTES {
        return Err(ApiError::new(ErrorCode::InvalidField, "`email` must be 1 to 254 bytes"));
    }
    Ok(email.to_lowercase())
}

/// An email address as accounts store it (trimmed, lowercase): the one check for signup,
/// sharing and invitations alike, so an address shared with or invited can be one an
/// account signs up with.
pub fn email_field(email: &str) -> Result<String, ApiError> {
    let email = login_email(email)?;
    let valid = email.len() <= MAX_EMAIL_BYTES
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(ApiError::new(ErrorCode::InvalidField, "`email` is not an email address"));
    }
    Ok(email)
}

/// Checks tags: at most 32, each 1 to 64 characters, deduplicated and sorted.
pub fn tags_field(tags: &[String]) -> Result<Vec<String>, ApiError> {
    if tags.len() > 32 {
        return Err(ApiError::new(ErrorCode::InvalidField, "at most 32 tags"));
    }
    let mut out = tags.iter().map(|t| text_field("tags", t, 64)).collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids_parse_as_their_types_and_an_impossible_document_is_not_found() {
        let (doc, user) = <(DocId, UserId)>::from_raw(("notes".into(), "u1".into())).unwrap();
        assert_eq!((doc.as_str(), user.as_str()), ("notes", "u1"));
        let e = DocId::from_raw("x".repeat(crate::ids::MAX_DOC_ID_LEN + 1)).unwrap_err();
        assert_eq!((e.status(), e.code), (StatusCode::NOT_FOUND, ErrorCode::DocumentNotFound));
    }

    #[test]
    fn emails_are_trimmed_lowercased_and_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(email_field(" Bob@Example.com ").unwrap(), "bob@example.com");
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in ["", "bob", "bob@localhost", "@example.com", "bob smith@example.com", "bob@exa\u{7}mple.com", &long]
        {
            assert_eq!(email_field(bad).unwrap_err().code, ErrorCode::InvalidField, "{bad}");
        }
        assert_eq!(login_email(" Bob@localhost ").unwrap(), "bob@localhost");
        assert!(login_email(&long).is_err());
    }
}
