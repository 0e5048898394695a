//! wa-edge: a WhatsApp Cloud API webhook endpoint and consent gateway for Cloudflare Workers.
//!
//! Everything that decides is plain Rust tested natively; only `shell` (wasm32) touches the
//! Workers runtime. A request flows verify (`webhook::signature`) → parse (`webhook`) → decide
//! (`delivery`, `http`, with the rules of `policy`) → store and send (`store`, `send`) → answer
//! (`http::error`). Dependencies point one way: http → delivery → send → policy → store.

// Tests may index and unwrap: a panic there is a failed assertion, not a crash in production.
#![cfg_attr(test, allow(clippy::indexing_slicing, clippy::unwrap_used))]

pub mod authority;
pub mod config;
pub mod context;
pub mod crypto;
pub mod delivery;
pub mod http;
pub mod ids;
pub mod platform;
pub mod policy;
pub mod send;
pub mod serde_ext;
pub mod store;
pub mod time;
pub mod webhook;

#[cfg(target_arch = "wasm32")]
mod shell;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;
