//! wa-edge: a WhatsApp Cloud API webhook endpoint and consent gateway for Cloudflare Workers.
//!
//! Everything that decides is plain Rust tested natively; only `shell` (wasm32) touches the
//! Workers runtime. Verify → parse → decide → act, each with its own error type.

// Tests may index and unwrap: a panic there is a failed assertion, not a crash in production.
#![cfg_attr(test, allow(clippy::indexing_slicing, clippy::unwrap_used))]

pub mod admin;
pub mod app;
pub mod config;
pub mod consent;
pub mod contact_state;
pub mod graph;
pub mod handshake;
pub mod ids;
pub mod ingest;
pub mod keys;
pub mod kv;
pub mod outbox;
pub mod platform;
pub mod records;
pub mod replies;
pub mod retention;
pub mod send_api;
pub mod signature;
pub mod time;
pub mod webhook;
pub mod window;

#[cfg(target_arch = "wasm32")]
mod shell;

use subtle::ConstantTimeEq;

/// Constant-time equality for tokens, so response timing does not reveal how much matched.
/// Both sides are hashed first, which also hides the length.
pub fn secret_eq(presented: &str, expected: &str) -> bool {
    let a = signature::hmac_sha256(b"wa-edge token compare", presented.as_bytes());
    let b = signature::hmac_sha256(b"wa-edge token compare", expected.as_bytes());
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests;
