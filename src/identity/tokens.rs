//! Room tokens: HS256 JWTs whose `rooms` claim grants read or read-write access to room
//! name patterns. `tandem token` mints them; the WebSocket endpoint verifies them.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "tandem";
pub const SECRET_FILE: &str = "jwt_secret";
/// Shortest explicit HS256 secret accepted: anyone who guesses the secret forges tokens.
pub const MIN_SECRET_BYTES: usize = 32;
/// Words that mark a secret copied from an example rather than generated.
const PLACEHOLDERS: &[&str] =
    &["changeme", "changethis", "replaceme", "yoursecret", "mysecret", "secretkey", "placeholder", "example"];

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no access token: pass it as the `token` query parameter")]
    MissingToken,
    #[error("invalid access token: {0}")]
    InvalidToken(String),
    /// The token may well be valid, but the identity provider's keys cannot be had now.
    #[error("the identity provider is unavailable: {0}")]
    ProviderUnavailable(String),
    #[error("the token grants no access to room `{0}`")]
    NoGrant(String),
    #[error("invalid grant `{0}`: expected PATTERN=r or PATTERN=rw")]
    BadGrant(String),
    #[error("token secret: {0}")]
    Secret(#[from] std::io::Error),
    #[error(
        "--jwt-secret (TANDEM_JWT_SECRET) {0}; use at least {MIN_SECRET_BYTES} random bytes (e.g. `openssl rand -hex 32`), or leave it unset to have one generated into the data dir"
    )]
    WeakSecret(&'static str),
}

/// Access to a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Read,
    ReadWrite,
}

/// One `PATTERN=r|rw` grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pattern: String,
    access: Access,
}

impl Grant {
    pub fn parse(s: &str) -> Result<Self, AuthError> {
        let (pattern, access) = s.rsplit_once('=').ok_or_else(|| AuthError::BadGrant(s.into()))?;
        let access = match access {
            "r" => Access::Read,
            "rw" => Access::ReadWrite,
            _ => return Err(AuthError::BadGrant(s.into())),
        };
        if pattern.is_empty() {
            return Err(AuthError::BadGrant(s.into()));
        }
        Ok(Grant { pattern: pattern.into(), access })
    }

    /// How specifically this grant matches `room`: `None` if not at all; an exact name
    /// beats any prefix, and a longer prefix beats a shorter one.
    fn specificity(&self, room: &str) -> Option<usize> {
        match self.pattern.strip_suffix('*') {
            Some(prefix) if room.starts_with(prefix) => Some(prefix.len()),
            Some(_) => None,
            None if self.pattern == room => Some(usize::MAX),
            None => None,
        }
    }
}

/// What a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// An app-issued room token: its `rooms` grants say what it may open.
    #[default]
    Room,
    /// A user's access token: `sub` is the user id; roles, shares and links decide.
    User,
}

/// The claims of a token this server signs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
    #[serde(default)]
    pub kind: TokenKind,
    /// Grants as `PATTERN=r|rw` strings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<String>,
}

impl Claims {
    /// The access the most specific matching grant gives to `room`.
    pub fn access(&self, room: &str) -> Result<Access, AuthError> {
        let mut best: Option<(usize, Access)> = None;
        for raw in &self.rooms {
            let Ok(grant) = Grant::parse(raw) else {
                continue;
            };
            if let Some(spec) = grant.specificity(room)
                && best.is_none_or(|(s, a)| spec > s || (spec == s && grant.access > a))
            {
                best = Some((spec, grant.access));
            }
        }
        best.map(|(_, a)| a).ok_or_else(|| AuthError::NoGrant(room.into()))
    }
}

/// Signs and verifies tokens with the server's HS256 secret.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Keys {
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        Keys { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    /// The explicit secret, or the one kept in `data_dir` (generated on first use, 0600).
    /// An explicit secret that is short or a known placeholder is refused.
    pub fn load(explicit: Option<&str>, data_dir: &Path) -> Result<Self, AuthError> {
        match explicit {
            Some(secret) => {
                check_secret(secret)?;
                Ok(Self::from_secret(secret.as_bytes()))
            }
            None => Ok(Self::from_secret(&load_or_create_secret(data_dir)?)),
        }
    }

    /// A room token granting `grants`.
    pub fn mint(&self, sub: &str, grants: &[Grant], ttl: Duration) -> String {
        let rooms = grants
            .iter()
            .map(|g| {
                let a = if g.access == Access::Read { "r" } else { "rw" };
                format!("{}={a}", g.pattern)
            })
            .collect();
        self.sign(sub, TokenKind::Room, rooms, ttl)
    }

    /// A user's access token.
    pub fn mint_user(&self, user: &str, ttl: Duration) -> String {
        self.sign(user, TokenKind::User, Vec::new(), ttl)
    }

    fn sign(&self, sub: &str, kind: TokenKind, rooms: Vec<String>, ttl: Duration) -> String {
        let iat = now_secs();
        let claims = Claims { sub: sub.into(), iss: ISSUER.into(), iat, exp: iat + ttl.as_secs().max(1), kind, rooms };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with an in-memory key cannot fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| AuthError::InvalidToken(e.to_string()))
    }
}

/// Refuses a secret that is too short, a known placeholder (`change-me`, `secret`, …,
/// also repeated or padded) or a single repeated character.
pub fn check_secret(secret: &str) -> Result<(), AuthError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(AuthError::WeakSecret("is shorter than 32 bytes"));
    }
    let letters: String = secret.chars().filter(char::is_ascii_alphanumeric).flat_map(char::to_lowercase).collect();
    let only_repeats = |word: &str| letters.split(word).all(str::is_empty);
    let placeholder = letters.is_empty()
        || PLACEHOLDERS.iter().any(|p| letters.contains(p))
        || ["secret", "password", "jwtsecret", "tandem"].into_iter().any(only_repeats)
        || secret.chars().all(|c| secret.starts_with(c));
    if placeholder {
        return Err(AuthError::WeakSecret("is a placeholder, not a secret"));
    }
    Ok(())
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn load_or_create_secret(data_dir: &Path) -> Result<Vec<u8>, AuthError> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    crate::config::create_private_dir(data_dir)?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(&path) {
        Ok(mut f) => {
            f.write_all(secret.as_bytes())?;
            f.sync_all()?;
            Ok(secret.into_bytes())
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(&path)?.trim().as_bytes().to_vec())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(grants: &[&str]) -> Claims {
        Claims {
            sub: "u".into(),
            iss: ISSUER.into(),
            iat: 0,
            exp: u64::MAX,
            kind: TokenKind::Room,
            rooms: grants.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn most_specific_grant_wins() {
        let c = claims(&["notes/*=rw", "notes/secret=r", "*=r"]);
        assert_eq!(c.access("notes/a").unwrap(), Access::ReadWrite);
        assert_eq!(c.access("notes/secret").unwrap(), Access::Read);
        assert_eq!(c.access("other").unwrap(), Access::Read);
        let c = claims(&["public/*=r"]);
        assert!(matches!(c.access("private"), Err(AuthError::NoGrant(_))));
        assert!(matches!(c.access("public"), Err(AuthError::NoGrant(_))));
    }

    #[test]
    fn grants_parse_or_explain() {
        assert!(Grant::parse("a=rw").is_ok());
        assert!(Grant::parse("a=b=r").is_ok());
        for bad in ["a", "a=x", "=r", ""] {
            assert!(matches!(Grant::parse(bad), Err(AuthError::BadGrant(_))), "{bad}");
        }
    }

    #[test]
    fn minted_tokens_verify_and_other_secrets_do_not() {
        let keys = Keys::from_secret(b"one");
        let token = keys.mint("alice", &[Grant::parse("notes/*=rw").unwrap()], Duration::from_secs(60));
        let c = keys.verify(&token).unwrap();
        assert_eq!(c.sub, "alice");
        assert_eq!(c.access("notes/x").unwrap(), Access::ReadWrite);
        assert!(Keys::from_secret(b"two").verify(&token).is_err());
        assert!(keys.verify("not.a.jwt").is_err());
    }

    #[test]
    fn user_tokens_name_a_user_and_grant_no_rooms() {
        let keys = Keys::from_secret(b"one");
        let c = keys.verify(&keys.mint_user("u1", Duration::from_secs(60))).unwrap();
        assert_eq!((c.kind, c.sub.as_str()), (TokenKind::User, "u1"));
        assert!(matches!(c.access("anything"), Err(AuthError::NoGrant(_))));
        let room = keys.verify(&keys.mint("app", &[Grant::parse("*=r").unwrap()], Duration::from_secs(60))).unwrap();
        assert_eq!(room.kind, TokenKind::Room);
    }

    #[test]
    fn short_and_placeholder_secrets_are_refused() {
        let long = "3f9a1c0e7b2d4f6a8c1e3b5d7f9a2c4e";
        assert!(check_secret(long).is_ok());
        for weak in [
            "change-me",
            "test-secret",
            &long[..31],
            "change-me-change-me-change-me-change-me",
            "please-replace-me-with-something-long",
            "secretsecretsecretsecretsecretsecret",
            "SECRET_SECRET_SECRET_SECRET_SECRET",
            "________________________________",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(matches!(check_secret(weak), Err(AuthError::WeakSecret(_))), "{weak}");
        }
        let dir = tempfile::tempdir().unwrap();
        assert!(Keys::load(Some("change-me"), dir.path()).is_err());
        assert!(Keys::load(None, dir.path()).is_ok(), "the generated secret is unaffected");
    }

    #[test]
    fn generated_secret_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_secret(dir.path()).unwrap();
        let b = load_or_create_secret(dir.path()).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
