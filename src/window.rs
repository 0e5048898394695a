//! The 24-hour customer service window.

use crate::time::UnixTime;

/// Meta's window: 24 h from the user's last message; business messages do not extend it.
pub const SERVICE_WINDOW: u64 = 24 * 3600;
/// Stop this much early: the send takes time and Meta's clock is not ours.
pub const WINDOW_SAFETY_MARGIN: u64 = 120;

/// Is the window opened by a user message at `last_inbound` (its own timestamp, not the time the
/// webhook arrived) still open at `now`, with the safety margin?
pub fn is_open(last_inbound: UnixTime, now: UnixTime) -> bool {
    now.0.saturating_add(WINDOW_SAFETY_MARGIN) < last_inbound.0.saturating_add(SERVICE_WINDOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges() {
        let t = UnixTime(1_000_000);
        assert!(is_open(t, t));
        assert!(is_open(
            t,
            t.plus(SERVICE_WINDOW - WINDOW_SAFETY_MARGIN - 1)
        ));
        assert!(!is_open(t, t.plus(SERVICE_WINDOW - WINDOW_SAFETY_MARGIN)));
        assert!(!is_open(t, t.plus(25 * 3600)));
        // A redelivery 20 h late leaves 4 h, still open.
        assert!(is_open(t, t.plus(20 * 3600)));
    }
}
