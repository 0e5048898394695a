//! Unix time in seconds, and the normalisation of Meta's timestamps.

use crate::json::{FromJson, Object, ShapeError, ToJson, Value};

/// Seconds since the Unix epoch. The core never reads a clock: callers pass `now` in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub u64);

/// Values above this are milliseconds: as seconds it would be the year 5138.
const MILLIS_THRESHOLD: u64 = 100_000_000_000;

impl UnixTime {
    /// Meta sends seconds as a JSON string; some senders have sent milliseconds or numbers.
    pub fn from_meta(raw: u64) -> UnixTime {
        if raw >= MILLIS_THRESHOLD {
            UnixTime(raw / 1000)
        } else {
            UnixTime(raw)
        }
    }

    pub fn from_millis(ms: f64) -> UnixTime {
        UnixTime((ms.max(0.0) / 1000.0) as u64)
    }

    pub fn plus(self, secs: u64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }

    pub fn secs_since(self, earlier: UnixTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl ToJson for UnixTime {
    fn write_json(&self, out: &mut String) {
        self.0.write_json(out);
    }
}

/// Stored times are whole seconds, as written.
impl<'a> FromJson<'a> for UnixTime {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        u64::from_json(value).map(UnixTime)
    }
}

/// The whole part of a non-negative decimal literal (`1700000000`, `1700000000.5`); `None` for
/// a negative number or an exponent, which no sender of Meta's timestamps writes.
fn whole_seconds(literal: &str) -> Option<u64> {
    let whole = literal.split('.').next()?;
    if literal.contains(['e', 'E']) {
        return None;
    }
    whole.parse::<u64>().ok()
}

/// Meta's timestamps read from a payload: `"1700000000"`, `1700000000`, or milliseconds of
/// either, normalised to seconds; anything else leaves the time unknown rather than failing the
/// item it dates. `from_json!` fields read it with `meta_time`.
pub trait MetaTimeField {
    fn meta_time(&self, key: &'static str) -> Result<Option<UnixTime>, ShapeError>;
}

impl MetaTimeField for Object<'_> {
    fn meta_time(&self, key: &'static str) -> Result<Option<UnixTime>, ShapeError> {
        let seconds = match self.get(key) {
            // A fraction is dropped, as a float's would be; parsing the digits before it keeps
            // float parsing (5 KB of code) out of the module.
            Some(Value::Number(n)) => whole_seconds(n),
            Some(Value::String(s)) => s.text().trim().parse::<u64>().ok(),
            _ => None,
        };
        Ok(seconds.map(UnixTime::from_meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_milliseconds_normalise_to_seconds() {
        assert_eq!(UnixTime::from_meta(1_700_000_000), UnixTime(1_700_000_000));
        assert_eq!(
            UnixTime::from_meta(1_700_000_000_123),
            UnixTime(1_700_000_000)
        );
    }

    #[test]
    fn string_number_and_garbage_timestamps() {
        struct T {
            t: Option<UnixTime>,
        }
        crate::json::from_json!(T { t: meta_time });
        let p = |s: &str| crate::json::from::from_str::<T>(s).unwrap().t;
        assert_eq!(p(r#"{"t":"1700000000"}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":1700000000123}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":1700000000.5}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":"soon"}"#), None);
        assert_eq!(p(r#"{"t":-5}"#), None);
        assert_eq!(p(r#"{"t":-5.5}"#), None);
        assert_eq!(p(r#"{"t":1.7e9}"#), None);
        assert_eq!(p(r#"{"t":1700000000123.9}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":{"x":1}}"#), None);
        assert_eq!(p(r#"{}"#), None);
    }
}
