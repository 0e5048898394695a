//! JSON of our own, for what the worker reads on its hot path: one reader into a borrowed tree
//! (`read`) and typed values out of it (`from`). serde stays for the records and the protocol;
//! this is for Meta's payloads, where one pass, per-item leniency and each item's exact text
//! matter, and where serde's code per type read was most of the module (issue 13).

pub mod from;
pub mod read;

pub(crate) use from::from_json;
pub use from::{object, FromJson, Number, ReadError, ShapeError};
pub use read::{parse, parse_bytes, Object, Str, SyntaxError, Value};
