//! REST API: one module per resource, each with its own `router()`, and the one error type.

pub mod error;
pub mod health;
