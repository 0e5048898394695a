//! Unix time in seconds, and the normalisation of Meta's timestamps.

use serde::{Deserialize, Deserializer, Serialize};

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

/// Deserialises a Meta timestamp: `"1700000000"`, `1700000000`, or milliseconds of either.
pub fn deserialize_meta_time<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<UnixTime>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw<'a> {
        Number(u64),
        Float(f64),
        #[serde(borrow)]
        Text(std::borrow::Cow<'a, str>),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        Some(Raw::Number(n)) => Some(UnixTime::from_meta(n)),
        Some(Raw::Float(f)) if f.is_finite() && f >= 0.0 => Some(UnixTime::from_meta(f as u64)),
        Some(Raw::Text(s)) => s.trim().parse::<u64>().ok().map(UnixTime::from_meta),
        _ => None,
    })
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
        #[derive(Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "deserialize_meta_time")]
            t: Option<UnixTime>,
        }
        let p = |s: &str| serde_json::from_str::<T>(s).unwrap().t;
        assert_eq!(p(r#"{"t":"1700000000"}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":1700000000123}"#), Some(UnixTime(1_700_000_000)));
        assert_eq!(p(r#"{"t":"soon"}"#), None);
        assert_eq!(p(r#"{}"#), None);
    }
}
