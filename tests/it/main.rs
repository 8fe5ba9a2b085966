//! The integration tests: the real server on 127.0.0.1:0 (in-process, or the real binary as
//! a child process), driven over real sockets, on SQLite and on Postgres. One test binary
//! (each module was one before): the server is linked once, and `cargo test --test it
//! MODULE::` runs one part.

#[macro_use]
mod common;

mod account;
mod admin;
mod api;
mod attachments;
mod attachments_copied;
mod attachments_s3;
mod audit;
mod authz;
mod backup;
mod changes;
mod cluster;
mod comments;
mod crash;
mod fragments;
mod fuzzed;
mod hocuspocus;
mod limits;
mod oidc;
mod ops;
mod outage;
mod per_address;
mod presence;
mod profiles;
mod rooms;
mod startup;
mod store;
mod tokens;
mod versions;
mod webhooks;
mod webhooks_store;
