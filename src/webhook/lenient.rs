//! Per-item leniency: one malformed item of a batch must not lose the others.

use crate::json::{FromJson, Object, ShapeError, Value};

/// An array item that either read or did not. The reason names a field and a kind, never the
/// payload's content (it may be personal data).
#[derive(Debug, Clone, PartialEq)]
pub enum Item<T> {
    Ok(T),
    Invalid(String),
}

impl<T> Item<T> {
    fn of(read: Result<T, ShapeError>) -> Item<T> {
        match read {
            Ok(v) => Item::Ok(v),
            Err(e) => Item::Invalid(e.to_string()),
        }
    }
}

/// A read item with the exact JSON Meta sent for it, for items handed on as they came (to the
/// person's authority, which reads them again).
#[derive(Debug, Clone, PartialEq)]
pub struct WithRaw<T> {
    pub value: T,
    pub raw: String,
}

impl<'a, T: FromJson<'a>> FromJson<'a> for WithRaw<T> {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        // Every item handed on is an object; its text is kept by the reader.
        let raw = crate::json::object(value)?.raw.to_string();
        Ok(WithRaw {
            value: T::from_json(value)?,
            raw,
        })
    }
}

/// The items of the array at `key`, each read on its own. Absent or `null` is no items; a
/// non-array is one invalid item (so the delivery still counts it).
pub fn items<'a, T: FromJson<'a>>(o: &Object<'a>, key: &'static str) -> Vec<Item<T>> {
    items_by(o, key, T::from_json)
}

/// `items`, each read by `read` (for items that borrow from the tree).
pub fn items_by<'v, 'a, T>(
    o: &'v Object<'a>,
    key: &'static str,
    read: impl Fn(&'v Value<'a>) -> Result<T, ShapeError>,
) -> Vec<Item<T>> {
    match o.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.items.iter().map(|v| Item::of(read(v))).collect(),
        Some(_) => vec![Item::Invalid(
            ShapeError {
                expected: "an array",
                field: Some(key),
            }
            .to_string(),
        )],
    }
}

/// Defines a string enum whose unknown values become `Other(String)` instead of an error.
macro_rules! open_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value Meta added after this was written.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $(t if t.eq_ignore_ascii_case($text) => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl<'a> $crate::json::FromJson<'a> for $name {
            fn from_json(value: &$crate::json::Value<'a>) -> Result<Self, $crate::json::ShapeError> {
                value
                    .as_str()
                    .map(|s| $name::from(s.as_ref()))
                    .ok_or($crate::json::ShapeError::expected("a string"))
            }
        }

        impl $crate::json::ToJson for $name {
            fn write_json(&self, out: &mut String) {
                $crate::json::write_str(out, self.as_str());
            }
        }
    };
}
pub(crate) use open_enum;
