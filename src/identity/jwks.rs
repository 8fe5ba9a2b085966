//! RS256 tokens of an external identity provider (Auth0, Cognito, Keycloak), verified
//! against the keys its JWKS URL publishes, with issuer and audience checked. Keys are
//! cached; an unknown key id refetches the set (at most every few seconds). When a
//! refetch fails, the last good keys keep serving for a grace period: an outage of the
//! provider is [`AuthError::ProviderUnavailable`], never an invalid token.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;

use crate::config::AuthConfig;
use crate::identity::tokens::AuthError;

/// Least time between two fetches (caused by unknown key ids, or retrying a failed one).
const REFETCH_AFTER: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Clock skew tolerated on `exp`.
const LEEWAY_SECS: u64 = 5;

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

/// Where to fetch keys, what the tokens must say, and how long fetched keys are trusted.
#[derive(Debug, Clone)]
pub struct JwksConfig {
    pub url: String,
    pub issuer: Option<String>,
    /// Required: without it, tokens the provider mints for other apps would be accepted.
    pub audience: String,
    /// A fetched key set is used this long before it is fetched again.
    pub cache_for: Duration,
    /// When refetching fails, the last good keys keep serving this much longer.
    pub grace: Duration,
}

impl JwksConfig {
    /// The identity provider's settings from the auth group, if one is configured.
    /// Refuses a provider without a required audience.
    pub fn from_config(auth: &AuthConfig) -> Result<Option<Self>, String> {
        let Some(url) = &auth.oidc_jwks_url else { return Ok(None) };
        let audience = auth.oidc_audience.clone().ok_or(
            "--oidc-jwks-url needs --oidc-audience (TANDEM_OIDC_AUDIENCE): without it, tokens the identity \
             provider mints for any other application would be accepted here",
        )?;
        Ok(Some(JwksConfig {
            url: url.clone(),
            issuer: auth.oidc_issuer.clone(),
            audience,
            cache_for: auth.oidc_jwks_cache,
            grace: auth.oidc_jwks_grace,
        }))
    }
}

pub struct Jwks {
    cfg: JwksConfig,
    client: reqwest::Client,
    state: RwLock<KeyState>,
}

#[derive(Default)]
struct KeyState {
    /// The last key set fetched successfully, and when.
    good: Option<(Instant, JwkSet)>,
    /// The last fetch attempt, and whether it failed.
    attempt: Option<(Instant, bool)>,
}

impl KeyState {
    /// Whether another fetch may be tried now (attempts are spaced by `min_gap`).
    fn may_fetch(&self, min_gap: Duration) -> bool {
        self.attempt.is_none_or(|(at, _)| at.elapsed() >= min_gap)
    }

    fn last_failed(&self) -> bool {
        self.attempt.is_some_and(|(_, failed)| failed)
    }
}

/// Whether a token is signed with RS256 (an identity provider's) rather than HS256.
pub fn is_rs256(token: &str) -> bool {
    jsonwebtoken::decode_header(token).is_ok_and(|h| h.alg == Algorithm::RS256)
}

impl Jwks {
    pub fn new(cfg: JwksConfig) -> Result<Self, reqwest::Error> {
        // One process-wide TLS provider; a second install attempt is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build()?;
        Ok(Jwks { cfg, client, state: RwLock::new(KeyState::default()) })
    }

    /// Verifies signature, expiry, issuer and audience. Fails with `ProviderUnavailable`
    /// only when the answer depends on keys that cannot be fetched; a token already past
    /// its expiry is invalid whatever the provider's state.
    pub async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let invalid = |e: &dyn std::fmt::Display| AuthError::InvalidToken(e.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(&e))?;
        let kid = header.kid.ok_or_else(|| invalid(&"RS256 token without a key id (kid)"))?;
        let key = match self.key(&kid).await {
            Err(AuthError::ProviderUnavailable(why)) if expired_unverified(token) => {
                tracing::debug!(%why, "expired token refused without the provider's keys");
                return Err(AuthError::InvalidToken("ExpiredSignature".into()));
            }
            other => other?,
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        if let Some(iss) = &self.cfg.issuer {
            validation.set_issuer(&[iss]);
        }
        validation.set_audience(&[&self.cfg.audience]);
        let claims = jsonwebtoken::decode::<ExternalClaims>(token, &key, &validation).map_err(|e| invalid(&e))?.claims;
        Ok(Identity { issuer: claims.iss, subject: claims.sub, email: claims.email, name: claims.name })
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        let to_key = |set: &JwkSet| set.find(kid).map(|jwk| DecodingKey::from_jwk(jwk).map_err(invalid_key));
        {
            let state = self.state.read().await;
            if let Some((at, set)) = &state.good
                && at.elapsed() < self.cfg.cache_for
                && let Some(key) = to_key(set)
            {
                return key;
            }
        }
        let mut state = self.state.write().await;
        let fresh = state.good.as_ref().is_some_and(|(at, _)| at.elapsed() < self.cfg.cache_for);
        let known = state.good.as_ref().is_some_and(|(_, set)| set.find(kid).is_some());
        // Fetch when the keys aged out, or for an unknown key id (it may be a new key).
        // Attempts are spaced, so a flood of made-up key ids or a dead provider is not
        // hammered; failures are retried sooner when the cache is short (tests).
        if (!fresh || !known) && state.may_fetch(REFETCH_AFTER.min(self.cfg.cache_for)) {
            match self.fetch().await {
                Ok(set) => {
                    state.good = Some((Instant::now(), set));
                    state.attempt = Some((Instant::now(), false));
                }
                Err(e) => {
                    tracing::warn!(url = %self.cfg.url, error = %e, "JWKS fetch failed; serving the last good keys");
                    state.attempt = Some((Instant::now(), true));
                }
            }
        }
        let usable = self.cfg.cache_for.saturating_add(self.cfg.grace);
        match &state.good {
            Some((at, set)) if at.elapsed() < usable => match to_key(set) {
                Some(key) => key,
                // The key may be one the provider published while it was unreachable.
                None if state.last_failed() => Err(unavailable()),
                None => Err(AuthError::InvalidToken(format!("unknown signing key `{kid}`"))),
            },
            _ => Err(unavailable()),
        }
    }

    async fn fetch(&self) -> Result<JwkSet, reqwest::Error> {
        let response = self.client.get(&self.cfg.url).send().await?;
        response.error_for_status()?.json::<JwkSet>().await
    }
}

fn unavailable() -> AuthError {
    AuthError::ProviderUnavailable("its signing keys could not be fetched".into())
}

fn invalid_key(e: jsonwebtoken::errors::Error) -> AuthError {
    AuthError::InvalidToken(format!("the provider's key does not decode: {e}"))
}

/// Whether the token's `exp` (read without checking the signature) has passed: such a
/// token is refused whatever the signature says, so no key is needed to refuse it.
fn expired_unverified(token: &str) -> bool {
    #[derive(Deserialize)]
    struct Exp {
        exp: u64,
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    jsonwebtoken::dangerous::insecure_decode_claims::<Exp>(token).is_ok_and(|c| c.exp.saturating_add(LEEWAY_SECS) < now)
}
