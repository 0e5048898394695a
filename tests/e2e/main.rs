//! End-to-end tests: the built worker in workerd with local KV and a fake Graph API.
//! One binary with named modules; the worker starts once and every test uses its own contacts.

// Tests may index and unwrap: a panic there is a failed assertion.
#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

mod authority;
mod bodies;
mod consent;
mod events;
mod foundation;
mod gateway;
mod harness;
mod identities;
mod promises;
mod replies;
