//! How long each kind of record lives in KV. Every record gets a TTL; nothing personal outlives
//! the retention period, counted from the event that created it.

use crate::store::contact_state::ContactState;
use crate::time::UnixTime;

pub const DAY: u64 = 86_400;
/// Meta keeps message content for 30 days; we keep message data no longer (GDPR minimisation).
pub const MAX_RETENTION_DAYS: u64 = 30;
pub const DEFAULT_RETENTION_DAYS: u64 = 30;
/// Meta retries a delivery for up to 7 days. Older events are replays: acknowledged, ignored.
pub const REPLAY_AGE: u64 = 7 * DAY;
/// Dedupe markers must outlive Meta's retry window, with a day of slack for clock skew.
pub const DEDUPE_TTL: u64 = 8 * DAY;
/// KV refuses an expiration less than 60 s in the future.
pub const KV_MIN_TTL: u64 = 60;
/// Timestamps this far in the future are clamped to now, so a bad clock cannot extend retention.
pub const MAX_CLOCK_SKEW: u64 = 300;

/// The moment an event counts from: its own time, but never later than now (plus skew).
pub fn event_time(event: Option<UnixTime>, now: UnixTime) -> UnixTime {
    match event {
        Some(t) if t.0 <= now.0 + MAX_CLOCK_SKEW => t,
        _ => now,
    }
}

pub fn is_replay(event: UnixTime, now: UnixTime) -> bool {
    now.secs_since(event) > REPLAY_AGE
}

/// Absolute expiration for a record of an event at `event`: `retention_days` after the event.
/// `None` when that moment is (nearly) past: the record must not be written at all.
pub fn expires_at(event: UnixTime, retention_days: u64, now: UnixTime) -> Option<UnixTime> {
    let at = event.plus(retention_days.min(MAX_RETENTION_DAYS) * DAY);
    (at.0 >= now.0 + KV_MIN_TTL).then_some(at)
}

impl ContactState {
    /// Kept for as long as any of it matters: the window, the cooldown, a day of slack, never
    /// longer than retention.
    pub fn expires(&self, now: UnixTime, cooldown_secs: u64, retention_days: u64) -> UnixTime {
        let base = self
            .last_inbound
            .unwrap_or(now)
            .max(self.last_default_reply.unwrap_or(now));
        let keep = crate::policy::window::SERVICE_WINDOW.max(cooldown_secs) + DAY;
        let at = base.plus(keep).min(now.plus(retention_days * DAY));
        at.max(now.plus(KV_MIN_TTL))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_counts_from_the_event() {
        let now = UnixTime(1_000_000_000);
        let event = UnixTime(now.0 - 2 * 86_400);
        assert_eq!(
            expires_at(event, 30, now),
            Some(UnixTime(event.0 + 30 * 86_400))
        );
        assert_eq!(expires_at(event, 1, now), None);
        assert_eq!(
            expires_at(now, 99, now),
            Some(UnixTime(now.0 + 30 * 86_400))
        );
    }

    #[test]
    fn contact_state_outlives_window_and_cooldown_but_never_retention() {
        let now = UnixTime(1_000_000_000);
        let s = ContactState {
            last_inbound: Some(now),
            ..Default::default()
        };
        assert_eq!(s.expires(now, 3600, 30), now.plus(2 * 86_400));
        assert_eq!(s.expires(now, 10 * 86_400, 30), now.plus(11 * 86_400));
        assert_eq!(s.expires(now, 10 * 86_400, 3), now.plus(3 * 86_400));
    }

    #[test]
    fn replays_and_future_timestamps() {
        let now = UnixTime(1_000_000_000);
        assert!(is_replay(UnixTime(now.0 - 7 * 86_400 - 1), now));
        assert!(!is_replay(UnixTime(now.0 - 7 * 86_400), now));
        assert_eq!(event_time(Some(UnixTime(now.0 + 10 * 86_400)), now), now);
        // Up to 5 minutes ahead is Meta's clock, not a bad one.
        assert_eq!(event_time(Some(now.plus(300)), now), now.plus(300));
        assert_eq!(event_time(Some(now.plus(301)), now), now);
        assert_eq!(event_time(None, now), now);
        assert_eq!(
            event_time(Some(UnixTime(now.0 - 5)), now),
            UnixTime(now.0 - 5)
        );
    }
}
