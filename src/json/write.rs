//! JSON written by hand into one `String`: each type says which fields it writes, in order, and
//! strings are escaped as serde_json escaped them, so stored records and API answers read the
//! same as before (issue 13: serde's serializer was compiled once per type it wrote).

use super::read::Value;

/// A type written as JSON.
pub trait ToJson {
    fn write_json(&self, out: &mut String);
}

/// The value as a JSON text.
pub fn to_string<T: ToJson + ?Sized>(value: &T) -> String {
    let mut out = String::new();
    value.write_json(&mut out);
    out
}

/// A field that a `skip` field of `json_object!` leaves out when it holds nothing.
pub trait Skippable {
    fn is_nothing(&self) -> bool;
}

impl<T> Skippable for Option<T> {
    fn is_nothing(&self) -> bool {
        self.is_none()
    }
}

impl<T> Skippable for Vec<T> {
    fn is_nothing(&self) -> bool {
        self.is_empty()
    }
}

/// `,"key":` after the fields already in an open object, `"key":` right after its `{`: the
/// part of every field, in `Fields` and `JsonObject`, that does not depend on its type,
/// compiled once. A written field never ends in `{` (a key ends in `:`, a value in `}`, `]`, a
/// quote, a digit or a letter), so the text says whether this is the first.
#[inline(never)]
fn field_key(out: &mut String, key: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    write_str(out, key);
    out.push(':');
}

/// An object being written: `{`, then each field, then `}` from `end`.
pub struct Fields<'o> {
    out: &'o mut String,
}

impl<'o> Fields<'o> {
    pub fn new(out: &'o mut String) -> Fields<'o> {
        out.push('{');
        Fields { out }
    }

    pub fn field<T: ToJson + ?Sized>(&mut self, key: &str, value: &T) -> &mut Self {
        field_key(self.out, key);
        value.write_json(self.out);
        self
    }

    /// A field only when it holds something (`None` and empty lists are left out).
    pub fn some<T: ToJson + Skippable>(&mut self, key: &str, value: &T) -> &mut Self {
        if !value.is_nothing() {
            self.field(key, value);
        }
        self
    }

    pub fn end(&mut self) {
        self.out.push('}');
    }
}

/// An object built field by field, for answers written in place:
/// `JsonObject::new().with("error", "not_found").with("status", &404u16)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonObject(String);

impl JsonObject {
    pub fn new() -> JsonObject {
        JsonObject(String::from("{"))
    }

    pub fn with<T: ToJson + ?Sized>(mut self, key: &str, value: &T) -> JsonObject {
        field_key(&mut self.0, key);
        value.write_json(&mut self.0);
        self
    }

    /// An object already written (`value` must write one), to add fields to.
    pub fn continuing<T: ToJson + ?Sized>(value: &T) -> JsonObject {
        let mut text = to_string(value);
        if text.ends_with('}') {
            text.pop();
            JsonObject(text)
        } else {
            JsonObject::new()
        }
    }

    /// The field only when it holds something (`None` and empty lists are left out).
    pub fn with_some<T: ToJson + Skippable>(self, key: &str, value: &T) -> JsonObject {
        if value.is_nothing() {
            self
        } else {
            self.with(key, value)
        }
    }

    /// The finished text.
    pub fn text(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

impl Default for JsonObject {
    fn default() -> Self {
        JsonObject::new()
    }
}

impl ToJson for JsonObject {
    fn write_json(&self, out: &mut String) {
        out.push_str(&self.0);
        out.push('}');
    }
}

/// An enum's variant with fields, as serde's default (external) tagging wrote it:
/// `{"name":{...fields}}`. A variant without fields is its name as a string (`write_str`).
pub fn variant_with(out: &mut String, name: &str, fill: impl FnOnce(&mut Fields<'_>)) {
    let mut fields = variant_start(out, name);
    fill(&mut fields);
    fields.end();
    out.push('}');
}

#[inline(never)]
fn variant_start<'o>(out: &'o mut String, name: &str) -> Fields<'o> {
    out.push('{');
    write_str(out, name);
    out.push(':');
    Fields::new(out)
}

/// Writes `s` as a JSON string. Quotes, backslashes and control characters are escaped (the
/// short forms where JSON has them); everything else, `/` and non-ASCII included, is written
/// as it is.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut plain_from = 0;
    for (at, byte) in s.bytes().enumerate() {
        let short = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `at` is an ASCII byte, so both slices end on character boundaries.
        out.push_str(s.get(plain_from..at).unwrap_or_default());
        plain_from = at + 1;
        if short.is_empty() {
            // A control character: `\u00XX`, the two hex digits of a byte below 0x20.
            out.push_str(if byte < 0x10 { "\\u000" } else { "\\u001" });
            out.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
        } else {
            out.push_str(short);
        }
    }
    out.push_str(s.get(plain_from..).unwrap_or_default());
    out.push('"');
}

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        write_str(out, self);
    }
}

impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        write_str(out, self);
    }
}

impl ToJson for std::borrow::Cow<'_, str> {
    fn write_json(&self, out: &mut String) {
        write_str(out, self);
    }
}

impl ToJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn write_json(&self, out: &mut String) {
                crate::text::push_decimal(out, *self as u64);
            }
        }
    )*};
}
unsigned!(u64, u32, u16, u8, usize);

impl ToJson for i64 {
    fn write_json(&self, out: &mut String) {
        if *self < 0 {
            out.push('-');
        }
        crate::text::push_decimal(out, self.unsigned_abs());
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(v) => v.write_json(out),
            None => out.push_str("null"),
        }
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out);
    }
}

impl<T: ToJson + ?Sized> ToJson for Box<T> {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out);
    }
}

impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            item.write_json(out);
        }
        out.push(']');
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out);
    }
}

impl<T: ToJson, const N: usize> ToJson for [T; N] {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out);
    }
}

impl<A: ToJson, B: ToJson> ToJson for (A, B) {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        self.0.write_json(out);
        out.push(',');
        self.1.write_json(out);
        out.push(']');
    }
}

/// A read value written back: arrays and objects as their exact text, strings re-quoted as
/// they were written (their escapes are already JSON's), numbers as their literals.
impl ToJson for Value<'_> {
    fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => b.write_json(out),
            Value::Number(n) => out.push_str(n),
            Value::String(s) => {
                out.push('"');
                out.push_str(s.raw());
                out.push('"');
            }
            Value::Array(a) => out.push_str(a.raw),
            Value::Object(o) => out.push_str(o.raw),
        }
    }
}

/// Implements `FromJson` and `ToJson` for a struct from the list of its fields, in the order
/// they are written. Each field is read and written one way: `req` (must be there), `opt`
/// (`None` when absent or `null`, written as `null`), `or_default` (the default when absent or
/// `null`), `skip` (the default when absent, and left out when `None` or empty). A key other
/// than the field's name follows it: `json_object!(Record { kind: req "type" })`.
macro_rules! json_object {
    ($name:ident { $($field:ident : $how:ident $($key:literal)?),* $(,)? }) => {
        $crate::json::from_json!($name { $($field: $how $($key)?),* });

        impl $crate::json::ToJson for $name {
            fn write_json(&self, out: &mut String) {
                let mut fields = $crate::json::Fields::new(out);
                $($crate::json::json_object!(@write fields self $field $how $crate::json::from_json!(@key $field $($key)?));)*
                fields.end();
            }
        }
    };
    (@write $f:ident $s:ident $field:ident skip $key:expr) => { $f.some($key, &$s.$field) };
    (@write $f:ident $s:ident $field:ident $how:ident $key:expr) => { $f.field($key, &$s.$field) };
}
pub(crate) use json_object;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::RawJson;

    #[test]
    fn strings_escape_as_serde_json_did() {
        let s = "a\"b\\c/d\n\r\t\u{8}\u{c}\u{1}\u{1f} é😀";
        assert_eq!(to_string(s), r#""a\"b\\c/d\n\r\t\b\f\u0001\u001f é😀""#);
        let written = to_string(s);
        let back = super::super::read::parse(&written).unwrap();
        assert_eq!(back.as_str().unwrap(), s);
    }

    #[test]
    fn numbers_lists_options_and_pairs() {
        assert_eq!(to_string(&0u64), "0");
        assert_eq!(to_string(&u64::MAX), "18446744073709551615");
        assert_eq!(to_string(&i64::MIN), "-9223372036854775808");
        assert_eq!(to_string(&-42i64), "-42");
        assert_eq!(to_string(&vec![Some(1u32), None]), "[1,null]");
        assert_eq!(to_string(&("x".to_string(), 7u64)), r#"["x",7]"#);
    }

    #[derive(Debug, PartialEq, Default)]
    struct Record {
        kind: String,
        note: Option<String>,
        tags: Vec<String>,
        count: u32,
        hidden: Option<u64>,
    }
    json_object!(Record {
        kind: req "type",
        note: opt,
        tags: skip,
        count: or_default,
        hidden: skip,
    });

    #[test]
    fn objects_write_in_order_skip_what_is_empty_and_read_back() {
        let r = Record {
            kind: "k".into(),
            ..Default::default()
        };
        let text = to_string(&r);
        assert_eq!(text, r#"{"type":"k","note":null,"count":0}"#);
        assert_eq!(super::super::from_str::<Record>(&text).unwrap(), r);
        let full = Record {
            kind: "k".into(),
            note: Some("n".into()),
            tags: vec!["a".into()],
            count: 3,
            hidden: Some(9),
        };
        let text = to_string(&full);
        assert_eq!(
            text,
            r#"{"type":"k","note":"n","tags":["a"],"count":3,"hidden":9}"#
        );
        assert_eq!(super::super::from_str::<Record>(&text).unwrap(), full);
    }

    #[test]
    fn raw_json_passes_text_through_exactly() {
        let text = r#"{"b": [1, 2.50], "a": "x\u00e9"}"#;
        let raw = RawJson::parse(text).unwrap();
        assert_eq!(raw.as_str(), text);
        assert_eq!(to_string(&raw), text);
        assert_eq!(RawJson::parse("{"), None);
        let v = super::super::read::parse(r#"["a\"b", 1e3, true, null]"#).unwrap();
        let Value::Array(a) = &v else { panic!() };
        let each: Vec<String> = a.items.iter().map(to_string).collect();
        assert_eq!(each, [r#""a\"b""#, "1e3", "true", "null"]);
    }
}
