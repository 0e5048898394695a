//! Per-item leniency: one malformed item of a batch must not lose the others.

use crate::serde_ext::describe;
use serde::Deserialize;
use serde_json::value::RawValue;

/// An array item that either read or did not. The reason names a field and a kind, never the
/// payload's content (it may be personal data).
#[derive(Debug, Clone, PartialEq)]
pub enum Item<T> {
    Ok(T),
    Invalid(String),
}

/// A read item with the exact JSON Meta sent for it, for items handed on as they came (to the
/// person's authority, which reads them again).
#[derive(Debug, Clone, PartialEq)]
pub struct WithRaw<T> {
    pub value: T,
    pub raw: String,
}

/// The items of an array (the raw value of a field), each read on its own. Absent or `null` is
/// no items; a non-array is one invalid item (so the delivery still counts it).
pub fn items<'a, T: Deserialize<'a>>(array: Option<&'a RawValue>, key: &str) -> Vec<Item<T>> {
    raw_items(array, key)
        .into_iter()
        .map(|item| match item {
            Item::Ok(raw) => read(raw),
            Item::Invalid(reason) => Item::Invalid(reason),
        })
        .collect()
}

/// `items`, each kept with its exact text.
pub fn items_with_raw<'a, T: Deserialize<'a>>(
    array: Option<&'a RawValue>,
    key: &str,
) -> Vec<Item<WithRaw<T>>> {
    raw_items(array, key)
        .into_iter()
        .map(|item| match item {
            Item::Ok(raw) => match read::<T>(raw) {
                Item::Ok(value) => Item::Ok(WithRaw {
                    value,
                    raw: raw.get().to_string(),
                }),
                Item::Invalid(reason) => Item::Invalid(reason),
            },
            Item::Invalid(reason) => Item::Invalid(reason),
        })
        .collect()
}

/// One item (or envelope level: an entry, a change, a field's value) read as `T`; it must be an
/// object. One that gives a field twice (a `text` given as `STOP`, then as `hello`) is invalid as
/// a whole, never half-read: every type an item is read into derives `Deserialize`, which
/// refuses a field given twice at every level, and a level keeps its items as raw text, each
/// read on its own, so one item that says two things loses no neighbour.
pub fn read<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Item<T> {
    if !raw.get().starts_with('{') {
        return Item::Invalid("shape error: expected an object".into());
    }
    match serde_json::from_str(raw.get()) {
        Ok(v) => Item::Ok(v),
        Err(e) => Item::Invalid(describe(&e)),
    }
}

/// The elements of an array as their raw texts.
pub fn raw_items<'a>(array: Option<&'a RawValue>, key: &str) -> Vec<Item<&'a RawValue>> {
    let Some(array) = array.filter(|a| a.get() != "null") else {
        return Vec::new();
    };
    match serde_json::from_str::<Vec<&'a RawValue>>(array.get()) {
        Ok(items) => items.into_iter().map(Item::Ok).collect(),
        Err(_) => vec![Item::Invalid(format!(
            "shape error: `{key}` is not an array"
        ))],
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

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok($name::from(text.as_ref()))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use open_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Thing {
        n: u32,
    }

    #[test]
    fn a_bad_item_loses_no_sibling() {
        let raw: &RawValue =
            serde_json::from_str(r#"[{"n":1},{"n":"x"},7,{"n":3,"n":4},{"n":5}]"#).unwrap();
        let read = items::<Thing>(Some(raw), "things");
        assert_eq!(read.len(), 5);
        assert_eq!(read[0], Item::Ok(Thing { n: 1 }));
        assert!(matches!(read[1], Item::Invalid(_)));
        assert!(matches!(read[2], Item::Invalid(_)));
        // Duplicate keys are refused, never half-read.
        assert!(matches!(&read[3], Item::Invalid(r) if r.contains("duplicate field `n`")));
        assert_eq!(read[4], Item::Ok(Thing { n: 5 }));
        let not_array: &RawValue = serde_json::from_str(r#"{"n":1}"#).unwrap();
        assert_eq!(items::<Thing>(Some(not_array), "things").len(), 1);
        assert!(items::<Thing>(None, "things").is_empty());
    }
}
