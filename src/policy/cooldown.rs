//! The default reply's cooldown: "don't over-message". A contact gets the default reply at most
//! once per cooldown (24 h unless configured), however many messages they send.

use crate::store::contact_state::ContactState;
use crate::time::UnixTime;

/// A day: one "we'll get back to you" per conversation-day is helpful, more is noise.
pub const DEFAULT_REPLY_COOLDOWN_HOURS: u64 = 24;
/// The longest cooldown accepted (30 days), so a typo cannot silence the default reply forever.
pub const MAX_REPLY_COOLDOWN_HOURS: u64 = 24 * 30;

impl ContactState {
    pub fn may_send_default(&self, now: UnixTime, cooldown_secs: u64) -> bool {
        self.last_default_reply
            .is_none_or(|t| now.secs_since(t) >= cooldown_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_cooldown() {
        let t = UnixTime(1_000_000);
        let s = ContactState {
            last_default_reply: Some(t),
            ..Default::default()
        };
        assert!(!s.may_send_default(t.plus(3600), 24 * 3600));
        assert!(s.may_send_default(t.plus(24 * 3600), 24 * 3600));
        assert!(ContactState::default().may_send_default(t, 24 * 3600));
    }
}
