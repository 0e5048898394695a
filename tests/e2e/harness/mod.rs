//! The real worker in workerd (through the pinned wrangler), real local KV on disk, and a fake
//! Graph API on 127.0.0.1 that records what the worker sends. Started once per test binary;
//! every test uses contacts and business numbers of its own, so no test sees another's state.

mod client;
mod fake_graph;
mod payloads;
mod process;

pub use client::*;
pub use fake_graph::*;
pub use payloads::*;
pub use process::*;
