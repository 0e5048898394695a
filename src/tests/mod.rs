//! Native tests across modules: every fixture, and the whole request path over `MemoryKv`.

mod fixtures;
mod graph_fake;
mod pipeline;
mod sending;
