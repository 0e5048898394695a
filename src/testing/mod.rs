//! The native test world, shared by the unit tests, the end-to-end harness, the benchmark's
//! operation counter (`examples/`) and anyone embedding the core: an in-memory KV with fault
//! injection, a scripted Graph API, a polling executor, a configuration and Meta payloads.
//! Compiled only for tests or with the `testing` feature; the worker never contains it.

mod fake_graph;
mod memory_kv;
pub mod payloads;
mod world;

pub use fake_graph::FakeGraph;
pub use memory_kv::{KvOps, MemoryKv};
pub use world::{admin_request, signed_delivery, World};

use crate::config::Config;

/// Runs a future that never waits on anything outside itself (MemoryKv's and FakeGraph's).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";
pub const ACCESS_TOKEN: &str = "test-access-token";
pub const ADMIN_TOKEN: &str = "test-admin-token";
pub const CONTACT_KEY_SECRET: &str = "test-contact-key-secret";

/// A complete configuration with the test secrets, plus `extra` variables (which win).
pub fn config(extra: &[(&str, &str)]) -> Config {
    let base = [
        ("WHATSAPP_APP_SECRET", APP_SECRET),
        ("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN),
        ("WHATSAPP_ACCESS_TOKEN", ACCESS_TOKEN),
        ("ADMIN_TOKEN", ADMIN_TOKEN),
        ("CONTACT_KEY_SECRET", CONTACT_KEY_SECRET),
        ("GRAPH_API_BASE", "http://graph.test"),
    ];
    Config::from_lookup(|name| {
        extra
            .iter()
            .chain(base.iter())
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
}
