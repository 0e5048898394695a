//! Payloads and ids for one test: each test uses contacts (and business numbers) of its own.

use super::process::{unique, UNIQUE};
use std::path::Path;
use std::sync::atomic::Ordering;

/// The business number a contact writes to: each contact has its own, so a pause (131048) or
/// any number-level state one test causes is seen by that test only.
pub fn number_for(wa_id: &str) -> String {
    format!("2{wa_id}")
}

/// A `messages` delivery from one contact to its own business number.
pub fn messages_delivery(wa_id: &str, name: &str, messages: &[serde_json::Value]) -> String {
    wa_edge::testing::payloads::messages_delivery(&number_for(wa_id), wa_id, name, messages)
}

pub use wa_edge::testing::payloads::text_message;

/// A contact no other test uses (the KV directory is new each run).
pub fn contact() -> String {
    format!("1555{:07}", UNIQUE.fetch_add(1, Ordering::SeqCst))
}

pub fn message_id() -> String {
    format!("wamid.E2E{}", unique())
}

#[allow(dead_code)]
pub fn fixture(path: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path),
    )
    .expect("fixture")
}
