//! Native tests across modules: every fixture, and the whole request path over `MemoryKv`.

mod capacity;
mod faults;
mod fixtures;
mod gateway;
mod hostile;
mod identities;
mod pipeline;
mod sending;
mod stored;
