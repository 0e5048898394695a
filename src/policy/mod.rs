//! The rules, one per file, pure: no store access, no clock, no configuration lookups. Each file
//! holds one rule and the named constants it is built on.

pub mod auto_reply;
pub mod business;
pub mod coalesce;
pub mod cooldown;
pub mod keywords;
pub mod ledger;
pub mod meta_errors;
pub mod pacing;
pub mod retention;
pub mod window;
