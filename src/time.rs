//! Unix time in seconds, and the normalisation of Meta's timestamps.

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch. The core never reads a clock: callers pass `now` in.
/// Stored times are whole seconds, as written.
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
}
