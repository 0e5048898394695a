//! Unix time in seconds, and the normalisation of Meta's timestamps.

use crate::json::{FromJson, ShapeError, Value};
use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch. The core never reads a clock: callers pass `now` in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
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

/// Meta's timestamps read from a payload: `"1700000000"`, `1700000000`, or milliseconds of
/// either. Read with `Object::lenient`, so anything else leaves the time unknown.
impl<'a> FromJson<'a> for UnixTime {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        let seconds = match value {
            Value::Number(n) => n.parse::<u64>().ok().or_else(|| {
                n.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            Value::String(s) => s.text().trim().parse::<u64>().ok(),
            _ => None,
        };
        seconds
            .map(UnixTime::from_meta)
            .ok_or(ShapeError::expected("a timestamp"))
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
        crate::json::from_json!(T { t: lenient });
        let p = |s: &str| crate::json::from::from_str::<T>(s).unwrap().t;
        assert_eq!(p(r#"{"t":"1700000000"}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":1700000000123}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":1700000000.5}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":"soon"}"#), None);
        assert_eq!(p(r#"{"t":-5}"#), None);
        assert_eq!(p(r#"{"t":{"x":1}}"#), None);
        assert_eq!(p(r#"{}"#), None);
    }
}
