//! Typed values out of a read tree. Each type says in a few lines which fields it takes; the
//! fields it does not name are ignored, so a field Meta adds never fails a payload.

use super::read::{Object, Value};
use std::borrow::Cow;
use std::fmt;

/// A value whose shape is not the one a type needs. It names the field and the expected kind,
/// never the value (it may be personal data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeError {
    pub expected: &'static str,
    /// The innermost field whose value did not fit, when there is one.
    pub field: Option<&'static str>,
}

impl ShapeError {
    pub fn expected(expected: &'static str) -> ShapeError {
        ShapeError {
            expected,
            field: None,
        }
    }

    #[inline(never)]
    fn in_field(self, field: &'static str) -> ShapeError {
        ShapeError {
            field: self.field.or(Some(field)),
            ..self
        }
    }
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "shape error: `{field}` is not {}", self.expected),
            None => write!(f, "shape error: not {}", self.expected),
        }
    }
}

/// A type read from a JSON value.
pub trait FromJson<'a>: Sized {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError>;
}

/// The value as an object, or the error saying it is not one.
pub fn object<'v, 'a>(value: &'v Value<'a>) -> Result<&'v Object<'a>, ShapeError> {
    value.as_object().ok_or(ShapeError::expected("an object"))
}

impl<'a> Object<'a> {
    /// An optional field: absent and `null` are `None`.
    pub fn opt<T: FromJson<'a>>(&self, key: &'static str) -> Result<Option<T>, ShapeError> {
        match present(self, key) {
            None => Ok(None),
            Some(v) => T::from_json(v).map(Some).map_err(|e| e.in_field(key)),
        }
    }

    /// A field with a default: absent and `null` are the type's default.
    pub fn or_default<T: FromJson<'a> + Default>(
        &self,
        key: &'static str,
    ) -> Result<T, ShapeError> {
        self.opt(key).map(Option::unwrap_or_default)
    }

    /// A `skip` field of `json_object!` (left out when written empty): read as `or_default`.
    pub fn skip<T: FromJson<'a> + Default>(&self, key: &'static str) -> Result<T, ShapeError> {
        self.or_default(key)
    }

    /// A field that must be there.
    pub fn req<T: FromJson<'a>>(&self, key: &'static str) -> Result<T, ShapeError> {
        self.opt(key)?.ok_or(ShapeError {
            expected: "present",
            field: Some(key),
        })
    }
}

/// Implements `FromJson` for a struct from the list of its fields, each read with one of
/// `Object`'s methods (`opt`, `or_default`, `req`, or one a trait in scope adds), under its own name or the key
/// given after it: `from_json!(Media { id: opt, kind: opt "type" })`.
macro_rules! from_json {
    ($name:ident { $($field:ident : $how:ident $($key:literal)?),* $(,)? }) => {
        impl<'a> $crate::json::FromJson<'a> for $name {
            fn from_json(
                value: &$crate::json::Value<'a>,
            ) -> Result<Self, $crate::json::ShapeError> {
                let o = $crate::json::object(value)?;
                Ok($name {
                    $($field: o.$how($crate::json::from_json!(@key $field $($key)?))?,)*
                })
            }
        }
    };
    (@key $field:ident $key:literal) => { $key };
    (@key $field:ident) => { stringify!($field) };
}
pub(crate) use from_json;

/// Reads a whole text as `T`: the syntax first, then the shape.
pub fn from_str<'a, T: FromJson<'a>>(text: &'a str) -> Result<T, ReadError> {
    let value = super::read::parse(text).map_err(ReadError::Syntax)?;
    T::from_json(&value).map_err(ReadError::Shape)
}

/// The field `key` of `value`: absent and `null` are `None`. The part of every typed read that
/// does not depend on the type, compiled once.
#[inline(never)]
fn present<'v, 'a>(o: &'v Object<'a>, key: &str) -> Option<&'v Value<'a>> {
    match o.get(key) {
        None | Some(Value::Null) => None,
        found => found,
    }
}

/// Reads bytes (UTF-8, as JSON must be) as `T`.
pub fn from_slice<'a, T: FromJson<'a>>(bytes: &'a [u8]) -> Result<T, ReadError> {
    let value = super::read::parse_bytes(bytes).map_err(ReadError::Syntax)?;
    T::from_json(&value).map_err(ReadError::Shape)
}

/// Why a text did not read as a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    Syntax(super::read::SyntaxError),
    Shape(ShapeError),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Syntax(e) => e.fmt(f),
            ReadError::Shape(e) => e.fmt(f),
        }
    }
}

impl<'a> FromJson<'a> for String {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        value
            .as_str()
            .map(|s| s.into_owned())
            .ok_or(ShapeError::expected("a string"))
    }
}

impl<'a> FromJson<'a> for bool {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        match value {
            Value::Bool(b) => Ok(*b),
            _ => Err(ShapeError::expected("a boolean")),
        }
    }
}

/// Integers are read from their literal: a fraction or an out-of-range value is a shape error.
macro_rules! integer {
    ($($t:ty),*) => {$(
        impl<'a> FromJson<'a> for $t {
            fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
                match value {
                    Value::Number(n) => n.parse().ok(),
                    _ => None,
                }
                .ok_or(ShapeError::expected("an integer"))
            }
        }
    )*};
}
integer!(i64, u64, u32, u16, u8, usize);

impl<'a, T: FromJson<'a>> FromJson<'a> for Vec<T> {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        let Value::Array(a) = value else {
            return Err(ShapeError::expected("an array"));
        };
        // A loop, not `collect` into a `Result`: the adapter that collect needs was a copy of
        // its own for each element type (15 of them, 7 KB of the module).
        let mut items = Vec::with_capacity(a.items.len());
        for item in &a.items {
            items.push(T::from_json(item)?);
        }
        Ok(items)
    }
}

impl<'a, A: FromJson<'a>, B: FromJson<'a>> FromJson<'a> for (A, B) {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        match value {
            Value::Array(a) => match a.items.as_slice() {
                [x, y] => Ok((A::from_json(x)?, B::from_json(y)?)),
                _ => Err(ShapeError::expected("a pair")),
            },
            _ => Err(ShapeError::expected("a pair")),
        }
    }
}

impl<'a, T: FromJson<'a>, const N: usize> FromJson<'a> for [T; N] {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        let items = Vec::<T>::from_json(value)?;
        items
            .try_into()
            .map_err(|_| ShapeError::expected("an array of the right length"))
    }
}

/// `null` is `None` (a `skip` field of `json_object!` reads its default when absent).
impl<'a, T: FromJson<'a>> FromJson<'a> for Option<T> {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        match value {
            Value::Null => Ok(None),
            v => T::from_json(v).map(Some),
        }
    }
}

impl<'a, T: FromJson<'a>> FromJson<'a> for Box<T> {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        T::from_json(value).map(Box::new)
    }
}

/// An enum as written by serde's default (external) tagging: a unit variant is its name as a
/// string, any other variant an object with the name as its one key. Returns the name and the
/// variant's value.
pub fn variant<'v, 'a>(value: &'v Value<'a>) -> Result<(Cow<'a, str>, &'v Value<'a>), ShapeError> {
    const NULL: &Value<'static> = &Value::Null;
    match value {
        Value::String(s) => Ok((s.text(), NULL)),
        Value::Object(o) => match o.fields.as_slice() {
            [(name, v)] => Ok((name.text(), v)),
            _ => Err(ShapeError::expected("one variant")),
        },
        _ => Err(ShapeError::expected("a variant")),
    }
}

/// The error for a variant name this version does not know.
pub fn unknown_variant() -> ShapeError {
    ShapeError::expected("a known variant")
}

/// Implements `FromJson` and `ToJson` for a fieldless enum written as strings:
/// `string_enum!(Scope { All = "all", Marketing = "marketing" })`.
macro_rules! string_enum {
    ($name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl<'a> $crate::json::FromJson<'a> for $name {
            fn from_json(
                value: &$crate::json::Value<'a>,
            ) -> Result<Self, $crate::json::ShapeError> {
                match value.as_str().as_deref() {
                    $(Some($text) => Ok($name::$variant),)+
                    _ => Err($crate::json::from::unknown_variant()),
                }
            }
        }

        impl $crate::json::ToJson for $name {
            fn write_json(&self, out: &mut String) {
                $crate::json::write_str(
                    out,
                    match self {
                        $($name::$variant => $text,)+
                    },
                );
            }
        }
    };
}
pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Number;

    #[derive(Debug, PartialEq)]
    struct Sample {
        name: String,
        count: u64,
        tags: Vec<String>,
        note: Option<String>,
    }

    impl<'a> FromJson<'a> for Sample {
        fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
            let o = object(value)?;
            Ok(Sample {
                name: o.req("name")?,
                count: o.or_default("count")?,
                tags: o.or_default("tags")?,
                note: o.opt("note")?,
            })
        }
    }

    #[test]
    fn fields_required_optional_defaulted_and_unknown() {
        let s: Sample =
            from_str(r#"{"name":"a","tags":["x","y"],"note":null,"new_field":{"z":[1]}}"#).unwrap();
        assert_eq!(
            s,
            Sample {
                name: "a".into(),
                count: 0,
                tags: vec!["x".into(), "y".into()],
                note: None
            }
        );
    }

    #[test]
    fn shape_errors_name_the_field_never_the_value() {
        let e = from_str::<Sample>(r#"{"name":"a","count":"secret-123"}"#).unwrap_err();
        assert_eq!(e.to_string(), "shape error: `count` is not an integer");
        let e = from_str::<Sample>(r#"{"count":1}"#).unwrap_err();
        assert_eq!(e.to_string(), "shape error: `name` is not present");
        let e = from_str::<Sample>(r#"{"name":"a","tags":["x",7]}"#).unwrap_err();
        assert_eq!(e.to_string(), "shape error: `tags` is not a string");
        let e = from_str::<Sample>("[]").unwrap_err();
        assert_eq!(e.to_string(), "shape error: not an object");
        assert_eq!(
            from_str::<u64>("1.5").unwrap_err().to_string(),
            "shape error: not an integer"
        );
        assert_eq!(from_str::<u16>("70000").ok(), None);
        assert_eq!(
            from_str::<Number>("123456789012345678901")
                .unwrap()
                .as_str(),
            "123456789012345678901"
        );
    }
}
