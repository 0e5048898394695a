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

    /// The UTC calendar date, `2026-12-04`.
    pub fn date(self) -> String {
        let (y, m, d) = civil_from_days(self.0 / 86_400);
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// ISO 8601 in UTC, `2026-12-04T09:30:00Z`, as spreadsheets and CRMs read it.
    pub fn iso(self) -> String {
        let secs = self.0 % 86_400;
        format!(
            "{}T{:02}:{:02}:{:02}Z",
            self.date(),
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar, by Howard
/// Hinnant's `civil_from_days` (public domain): eras of 400 years, March-based years.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(UnixTime(0).iso(), "1970-01-01T00:00:00Z");
        assert_eq!(UnixTime(951_782_400).date(), "2000-02-29");
        assert_eq!(UnixTime(1_796_376_645).iso(), "2026-12-04T09:30:45Z");
        assert_eq!(UnixTime(4_107_542_399).iso(), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn seconds_and_milliseconds_normalise_to_seconds() {
        assert_eq!(UnixTime::from_meta(1_700_000_000), UnixTime(1_700_000_000));
        assert_eq!(
            UnixTime::from_meta(1_700_000_000_123),
            UnixTime(1_700_000_000)
        );
    }
}
