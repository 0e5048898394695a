//! JSON of our own: one reader into a tree that borrows from the text (`read`), typed values out
//! of it (`from`), a writer (`write`), and values kept as written (`raw`). It replaces serde and
//! serde_json, whose generic code was compiled once per type read or written and was most of
//! the module (issue 13); here each type lists its fields in a few lines and the reading and
//! writing code is shared. Reading is lenient where Meta needs it (unknown fields ignored,
//! per-item errors, each item's exact text kept) and errors never quote the text they are about.

pub mod from;
pub mod raw;
pub mod read;
pub mod write;

pub(crate) use from::{from_json, string_enum};
pub use from::{
    from_slice, from_str, object, unknown_variant, variant, FromJson, ReadError, ShapeError,
};
pub use raw::{Number, RawJson};
pub use read::{parse, parse_bytes, Object, Str, SyntaxError, Value};
pub(crate) use write::json_object;
pub use write::{to_string, variant_with, write_str, Fields, JsonObject, Skippable, ToJson};
