//! Native tests across modules: every fixture, and the whole request path over `MemoryKv`.

mod faults;
mod fixtures;
mod pipeline;
mod sending;
