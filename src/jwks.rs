//! RS256 tokens of an external identity provider (Auth0, Cognito, Keycloak), verified
//! against the keys its JWKS URL publishes, with issuer and audience checked. Keys are
//! cached; an unknown key id refetches the set (at most every few seconds).

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;

use crate::auth::AuthError;

/// How long a fetched key set is trusted before it is fetched again.
const CACHE_FOR: Duration = Duration::from_secs(600);
/// Least time between two fetches caused by unknown key ids.
const REFETCH_AFTER: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Who an external token says the caller is.
#[derive(Debug, Clone)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ExternalClaims {
    iss: String,
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

pub struct Jwks {
    url: String,
    issuer: Option<String>,
    audience: Option<String>,
    client: reqwest::Client,
    cache: RwLock<Option<(Instant, JwkSet)>>,
}

/// Whether a token is signed with RS256 (an identity provider's) rather than HS256.
pub fn is_rs256(token: &str) -> bool {
    jsonwebtoken::decode_header(token).is_ok_and(|h| h.alg == Algorithm::RS256)
}

impl Jwks {
    pub fn new(url: String, issuer: Option<String>, audience: Option<String>) -> Result<Self, reqwest::Error> {
        // One process-wide TLS provider; a second install attempt is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build()?;
        Ok(Jwks { url, issuer, audience, client, cache: RwLock::new(None) })
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let invalid = |e: &dyn std::fmt::Display| AuthError::InvalidToken(e.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(&e))?;
        let kid = header.kid.ok_or_else(|| invalid(&"RS256 token without a key id (kid)"))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
        }
        match &self.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let claims = jsonwebtoken::decode::<ExternalClaims>(token, &key, &validation).map_err(|e| invalid(&e))?.claims;
        Ok(Identity { issuer: claims.iss, subject: claims.sub, email: claims.email, name: claims.name })
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        {
            let cache = self.cache.read().await;
            if let Some((at, set)) = cache.as_ref()
                && let Some(jwk) = set.find(kid)
                && at.elapsed() < CACHE_FOR
            {
                return DecodingKey::from_jwk(jwk).map_err(|e| AuthError::InvalidToken(e.to_string()));
            }
        }
        let mut cache = self.cache.write().await;
        let stale = cache.as_ref().is_none_or(|(at, set)| at.elapsed() >= REFETCH_AFTER || set.find(kid).is_some());
        if stale {
            let set = self.fetch().await?;
            *cache = Some((Instant::now(), set));
        }
        let jwk = cache
            .as_ref()
            .and_then(|(_, set)| set.find(kid))
            .ok_or_else(|| AuthError::InvalidToken(format!("unknown signing key `{kid}`")))?;
        DecodingKey::from_jwk(jwk).map_err(|e| AuthError::InvalidToken(e.to_string()))
    }

    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        let unavailable = |e: reqwest::Error| {
            tracing::warn!(url = %self.url, error = %e, "JWKS fetch failed");
            AuthError::InvalidToken("the identity provider's keys are unavailable".into())
        };
        let response = self.client.get(&self.url).send().await.map_err(unavailable)?;
        response.error_for_status().map_err(unavailable)?.json::<JwkSet>().await.map_err(unavailable)
    }
}
