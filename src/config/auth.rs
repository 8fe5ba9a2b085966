//! Identity and access: lifetimes of the tokens and invitations this server hands out,
//! limits on logins and signups, the external identity provider, and how often open
//! connections recheck their access, and how long the audit log keeps events. Read by `accounts`, `api/` and `access`.

use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct AuthConfig {
    /// Lifetime of the access tokens signup, login and refresh hand out.
    #[arg(long, env = "TANDEM_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token (each use rotates it).
    #[arg(long, env = "TANDEM_REFRESH_TOKEN_TTL", default_value = "30d", value_parser = humantime::parse_duration)]
    pub refresh_token_ttl: Duration,
    /// Lifetime of a workspace invitation.
    #[arg(long, env = "TANDEM_INVITATION_TTL", default_value = "7d", value_parser = humantime::parse_duration)]
    pub invitation_ttl: Duration,
    /// Login attempts per account per minute, and per IP address ten times that; more are
    /// answered 429 (0: no limit).
    #[arg(long, env = "TANDEM_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    pub login_attempts_per_minute: u32,
    /// Accounts one address may sign up per hour (each costs a password hash); more are
    /// answered 429 (0: no limit).
    #[arg(long, env = "TANDEM_MAX_SIGNUPS_PER_IP_PER_HOUR", default_value_t = 30)]
    pub max_signups_per_ip_per_hour: u32,
    /// How often a connection opened with a user token or public link rechecks its access
    /// anyway (changes are announced to every node over the bus and apply at once; this
    /// bounds what a bus outage could hide).
    #[arg(long, env = "TANDEM_ACCESS_RECHECK", default_value = "10s", value_parser = humantime::parse_duration)]
    pub access_recheck: Duration,
    /// JWKS URL of an external identity provider (Auth0, Cognito, Keycloak): its RS256
    /// tokens are accepted, and their users provisioned on first sight.
    #[arg(long, env = "TANDEM_OIDC_JWKS_URL")]
    pub oidc_jwks_url: Option<String>,
    /// Issuer (`iss`) required of the identity provider's tokens.
    #[arg(long, env = "TANDEM_OIDC_ISSUER", requires = "oidc_jwks_url")]
    pub oidc_issuer: Option<String>,
    /// Audience (`aud`) required of the identity provider's tokens (required with
    /// `--oidc-jwks-url`: without it, tokens minted for any other app would be accepted).
    #[arg(long, env = "TANDEM_OIDC_AUDIENCE", requires = "oidc_jwks_url")]
    pub oidc_audience: Option<String>,
    /// How long the identity provider's fetched keys are used before they are fetched again.
    #[arg(long, env = "TANDEM_OIDC_JWKS_CACHE", default_value = "10m", value_parser = humantime::parse_duration)]
    pub oidc_jwks_cache: Duration,
    /// How much longer the last good keys keep serving while the identity provider cannot
    /// be reached; past it, its users get 503 `identity_provider_unavailable` (open
    /// connections stay open).
    #[arg(long, env = "TANDEM_OIDC_JWKS_GRACE", default_value = "1h", value_parser = humantime::parse_duration)]
    pub oidc_jwks_grace: Duration,
    /// Days audit events are kept; older ones are pruned hourly (0: kept forever).
    #[arg(long, env = "TANDEM_AUDIT_RETENTION_DAYS", default_value_t = 180)]
    pub audit_retention_days: u32,
}
