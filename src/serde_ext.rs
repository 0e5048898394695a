//! What serde and serde_json lack for this project, kept small: error texts that never quote a
//! value, a JSON text held as it is that can be compared, and Meta's lenient timestamps.
//!
//! serde_json's messages quote the offending value (`invalid type: string "+1555…"`), which may
//! be personal data; every error that reaches a log line or an API body goes through
//! `describe`, which keeps the kind of problem, the field it is about and the position only.

use crate::time::UnixTime;
use serde::de::{self, DeserializeSeed, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Why a text did not read as a type: a description that names no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<serde_json::Error> for ReadError {
    fn from(e: serde_json::Error) -> Self {
        ReadError(describe(&e))
    }
}

/// Reads a whole text as `T`.
pub fn from_str<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, ReadError> {
    serde_json::from_str(text).map_err(ReadError::from)
}

/// Reads bytes (UTF-8, as JSON must be) as `T`. Through `from_str`: serde_json's reader is
/// generic, and one reader type means one copy of each type's reading code in the module.
pub fn from_slice<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ReadError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ReadError(format!("not JSON: not UTF-8 at byte {}", e.valid_up_to())))?;
    from_str(text)
}

/// A value as JSON. Serialising the project's own types cannot fail (their keys are strings);
/// should it ever, the text is `null`, which every reader refuses as its type.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// serde_json's error without the value it quotes: the kind of problem, the field where derive
/// names one (`missing field`, `duplicate field`, `unknown variant` keep only the field), what
/// was expected, and the line and column.
pub fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("at line {} column {}", e.line(), e.column());
    match e.classify() {
        Category::Syntax => format!("not JSON: syntax error {at}"),
        Category::Eof => format!("not JSON: the text ends early {at}"),
        Category::Io => "not JSON: unreadable".into(),
        Category::Data => {
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or_default();
            // Messages that name only a field of ours, never a value.
            if message == "duplicate key" {
                return format!("shape error: duplicate key {at}");
            }
            for kept in ["missing field `", "duplicate field `"] {
                if let Some(rest) = message.strip_prefix(kept) {
                    let field: String = rest.chars().take_while(|c| *c != '`').collect();
                    if field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        return format!("shape error: {kept}{field}` {at}");
                    }
                }
            }
            // `invalid type: string "…", expected u64`: keep what was expected (our words).
            match message.rsplit_once(", expected ") {
                Some((problem, expected)) => {
                    let kind = problem.split(':').next().unwrap_or("invalid value");
                    let expected: String = expected.chars().take(80).collect();
                    let expected = expected.replace(['"', '`'], "'");
                    format!("shape error: {kind}, expected {expected} {at}")
                }
                None => format!("shape error {at}"),
            }
        }
    }
}

/// A JSON text held as it is: a value passed through (a Cloud API message object, a template's
/// components, a listing's metadata) without being taken apart. Always valid JSON.
#[derive(Debug, Clone)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// The text, if it is one JSON value.
    pub fn parse(text: &str) -> Option<RawJson> {
        RawValue::from_string(text.trim().to_string())
            .ok()
            .map(RawJson)
    }

    /// A value written now.
    pub fn from_value<T: Serialize + ?Sized>(value: &T) -> RawJson {
        serde_json::value::to_raw_value(value)
            .map(RawJson)
            .unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The text read as a typed value.
    pub fn read<'a, T: Deserialize<'a>>(&'a self) -> Result<T, ReadError> {
        from_str(self.0.get())
    }
}

impl Default for RawJson {
    fn default() -> Self {
        RawJson(RawValue::NULL.to_owned())
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RawJson {}

impl From<Box<RawValue>> for RawJson {
    fn from(raw: Box<RawValue>) -> Self {
        RawJson(raw)
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(RawJson)
    }
}

/// Meta's timestamps read from a payload: `"1700000000"`, `1700000000`, or milliseconds of
/// either, normalised to seconds; anything else (a word, a negative number, an object) leaves the
/// time unknown rather than failing the item it dates. For `deserialize_with`.
pub fn meta_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<UnixTime>, D::Error> {
    struct MetaTime;
    impl<'de> Visitor<'de> for MetaTime {
        type Value = Option<UnixTime>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a timestamp")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(UnixTime::from_meta(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(u64::try_from(v).ok().map(UnixTime::from_meta))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // A fraction is dropped; an exponent or a negative number is no timestamp Meta sends.
            Ok((0.0..1e15)
                .contains(&v)
                .then(|| UnixTime::from_meta(v as u64)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.trim().parse::<u64>().ok().map(UnixTime::from_meta))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(MetaTime)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(MetaTime)
}

/// An object's members in the order written, each value as its exact text. A key given twice
/// is an error: a reader that kept the first or the last could check one value and pass on
/// the other.
#[derive(Debug)]
pub struct Members<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Members<'a> {
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if members.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(DuplicateKey));
                    }
                    members.push((key, map.next_value()?));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(MembersVisitor)
    }
}

/// The error of a key given twice (its text names no key: keys can be data).
struct DuplicateKey;

impl fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("duplicate key")
    }
}

/// An object written with its members in the order given (a caller's object passed on with
/// some members replaced keeps the caller's order).
pub struct Ordered<'o>(pub &'o [(&'o str, RawJson)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Whether every object in the text, at any depth, gives each key once. A derived struct
/// refuses a known field given twice but ignores an unknown one, and a map keeps the last; an
/// item read as Meta sent it must not say two things.
pub fn unique_keys(text: &str) -> Result<(), ReadError> {
    let mut reader = serde_json::Deserializer::from_str(text);
    UniqueKeys.deserialize(&mut reader)?;
    reader.end()?;
    Ok(())
}

/// Walks a value, refusing an object with a key given twice.
struct UniqueKeys;

impl<'de> de::DeserializeSeed<'de> for UniqueKeys {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(UniqueKeys)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<Cow<'de, str>> = Vec::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(DuplicateKey));
            }
            seen.push(key);
            map.next_value_seed(UniqueKeys)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Sample {
        name: String,
        #[serde(default)]
        count: u64,
    }

    #[test]
    fn errors_name_the_field_and_kind_never_the_value() {
        let e = from_str::<Sample>(r#"{"name":"a","count":"secret-123"}"#).unwrap_err();
        assert!(!e.0.contains("secret"), "{e}");
        assert!(e.0.contains("expected u64"), "{e}");
        let e = from_str::<Sample>(r#"{"count":1}"#).unwrap_err();
        assert!(e.0.starts_with("shape error: missing field `name`"), "{e}");
        let e = from_str::<Sample>(r#"{"name":"+15551234567","name":"b"}"#).unwrap_err();
        assert!(
            e.0.starts_with("shape error: duplicate field `name`"),
            "{e}"
        );
        assert!(!e.0.contains("1555"), "{e}");
        let e = from_str::<Sample>("{\"name\":\"+15551234567\"").unwrap_err();
        assert!(e.0.starts_with("not JSON"), "{e}");
        let e = from_str::<Sample>("[\"a\",\"+15551234567\"]").unwrap_err();
        assert!(!e.0.contains("1555"), "{e}");
    }

    #[test]
    fn hostile_texts_are_errors_not_panics() {
        let deep = "[".repeat(100_000);
        assert!(from_str::<RawJson>(&deep).is_err());
        let deep_object = "{\"a\":".repeat(100_000);
        assert!(from_str::<Sample>(&deep_object).is_err());
        // A lone surrogate escape is refused by serde_json; the error names no value.
        let e = from_str::<Sample>(r#"{"name":"\ud800"}"#).unwrap_err();
        assert!(
            e.0.starts_with("not JSON") || e.0.starts_with("shape"),
            "{e}"
        );
        assert!(from_slice::<Sample>(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn meta_times_are_seconds_or_unknown() {
        #[derive(Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "meta_time")]
            t: Option<UnixTime>,
        }
        let p = |s: &str| from_str::<T>(s).unwrap().t;
        assert_eq!(p(r#"{"t":"1700000000"}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":1700000000123}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":1700000000.5}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":"soon"}"#), None);
        assert_eq!(p(r#"{"t":-5}"#), None);
        assert_eq!(p(r#"{"t":-5.5}"#), None);
        assert_eq!(p(r#"{"t":1700000000123.9}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":{"a":[1]}}"#), None);
        assert_eq!(p(r#"{"t":null}"#), None);
        assert_eq!(p(r#"{}"#), None);
    }

    #[test]
    fn a_key_given_twice_at_any_depth_is_refused() {
        assert!(unique_keys(r#"{"a":{"b":[{"c":1,"d":2}]},"e":null}"#).is_ok());
        let e = unique_keys(r#"{"a":[{"x":"STOP","x":"hello"}]}"#).unwrap_err();
        assert!(e.0.contains("duplicate key"), "{e}");
        assert!(!e.0.contains("STOP") && !e.0.contains("hello"), "{e}");
        assert!(
            unique_keys(r#"{"\u0061":1,"a":2}"#).is_err(),
            "escapes name the same key"
        );
        assert!(unique_keys("{} x").is_err());
        let members: Members<'_> = from_str(r#"{"b":1,"a":{"c":2}}"#).unwrap();
        assert_eq!(members.0.len(), 2);
        assert_eq!(members.get("a").unwrap().get(), r#"{"c":2}"#);
        assert!(from_str::<Members<'_>>(r#"{"to":"1","to":"2"}"#).is_err());
        assert!(from_str::<Members<'_>>("[1]").is_err());
    }

    #[test]
    fn raw_json_keeps_the_exact_text() {
        let raw = RawJson::parse(r#"{"b":1,"a":"\u0040"}"#).unwrap();
        assert_eq!(raw.as_str(), r#"{"b":1,"a":"\u0040"}"#);
        assert_eq!(to_string(&raw), r#"{"b":1,"a":"\u0040"}"#);
        assert!(RawJson::parse("{").is_none());
        assert_eq!(RawJson::default().as_str(), "null");
    }
}
