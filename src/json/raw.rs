//! Values kept as they were written: a number's literal, and a whole JSON text passed through
//! (a Cloud API message object, a template's components) without being taken apart.

use super::from::{FromJson, ShapeError};
use super::read::Value;
use super::write::{to_string, ToJson};
use std::fmt;

/// A JSON number kept as written (a template id can exceed what a float holds exactly).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Number(String);

impl Number {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ToJson for Number {
    fn write_json(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

impl<'a> FromJson<'a> for Number {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        match value {
            Value::Number(n) => Ok(Number((*n).to_string())),
            _ => Err(ShapeError::expected("a number")),
        }
    }
}

/// A JSON text held as it is: a value passed through (a Cloud API message object, a template's
/// components) without being taken apart. It is always valid JSON: it is made only from text
/// the reader accepted or from `to_string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(String);

impl RawJson {
    /// The text, if it is one JSON value.
    pub fn parse(text: &str) -> Option<RawJson> {
        super::read::parse(text).ok().map(|v| RawJson::of(&v))
    }

    /// A read value's exact text.
    pub fn of(value: &Value<'_>) -> RawJson {
        let mut out = String::new();
        value.write_json(&mut out);
        RawJson(out)
    }

    /// A value written now.
    pub fn from_value<T: ToJson + ?Sized>(value: &T) -> RawJson {
        RawJson(to_string(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text read again as a tree (it was JSON when it was made, so this succeeds).
    pub fn value(&self) -> Value<'_> {
        super::read::parse(&self.0).unwrap_or(Value::Null)
    }
}

impl Default for RawJson {
    fn default() -> Self {
        RawJson("null".into())
    }
}

impl ToJson for RawJson {
    fn write_json(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

impl<'a> FromJson<'a> for RawJson {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        Ok(RawJson::of(value))
    }
}
