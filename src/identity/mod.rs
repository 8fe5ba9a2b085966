//! Identity and access, which both halves ask: signed tokens and the keys that check them
//! ([`tokens`]), accounts and sessions ([`accounts`]), an identity provider's keys
//! ([`jwks`]), personal API tokens ([`personal`]), the audit log's recording ([`audit`]), and who may do what with a document or workspace ([`access`]).

pub mod access;
pub mod accounts;
pub mod audit;
pub mod jwks;
pub mod personal;
pub mod principal;
pub mod tokens;

pub use principal::Principal;
