//! Per-item leniency: one malformed item of a batch must not lose the others.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// An array item that either parsed or did not. The reason never quotes the payload
/// (serde's messages can echo values, which may be personal data).
#[derive(Debug, Clone, PartialEq)]
pub enum Item<T> {
    Ok(T),
    Invalid(String),
}

pub fn describe(e: &serde_json::Error) -> String {
    let category = match e.classify() {
        serde_json::error::Category::Io => "io",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "shape",
        serde_json::error::Category::Eof => "truncated",
    };
    format!(
        "{category} error at line {} column {}",
        e.line(),
        e.column()
    )
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Item<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?;
        Ok(match serde_json::from_str::<T>(raw.get()) {
            Ok(v) => Item::Ok(v),
            Err(e) => Item::Invalid(describe(&e)),
        })
    }
}

/// A parsed item with the exact JSON Meta sent for it, for items handed on as they came (to the
/// person's authority, which parses them again).
#[derive(Debug, Clone, PartialEq)]
pub struct WithRaw<T> {
    pub value: T,
    pub raw: String,
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for WithRaw<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?;
        let value = serde_json::from_str::<T>(raw.get()).map_err(serde::de::Error::custom)?;
        Ok(WithRaw {
            value,
            raw: raw.get().to_string(),
        })
    }
}

/// A list that tolerates `null` and a non-array in place of the array (as "no items, one invalid").
pub fn items<'de, D, T>(d: D) -> Result<Vec<Item<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let raw = Option::<&'de RawValue>::deserialize(d)?;
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    match serde_json::from_str::<Option<Vec<Item<T>>>>(raw.get()) {
        Ok(list) => Ok(list.unwrap_or_default()),
        Err(e) => Ok(vec![Item::Invalid(describe(&e))]),
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
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Ok($name::from(s.as_ref()))
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
