//! Native tests across modules: every fixture, and the whole request path over `MemoryKv`.

mod capacity;
mod console;
mod faults;
mod fixtures;
mod fuzzing;
mod gateway;
mod hostile;
mod identities;
mod lookups;
mod pipeline;
mod properties;
mod sending;
mod stored;
