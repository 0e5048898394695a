//! The 24-hour customer service window: free-form messages only within 24 h of the person's
//! last message (by its own timestamp), minus a safety margin, unless Meta said it closed.

use crate::ids::PhoneNumberId;
use crate::store::contact_state::ContactState;
use crate::time::UnixTime;

/// Meta's window: 24 h from the user's last message; business messages do not extend it.
pub const SERVICE_WINDOW: u64 = 24 * 3600;
/// Stop this much early: the send takes time and Meta's clock is not ours.
pub const WINDOW_SAFETY_MARGIN: u64 = 120;
/// A newer user message moves the stored window start only when it is this much newer: in a
/// conversation that saves a KV write per message, and the stored window can only close early
/// (by at most this much), never late. Automatic replies use each message's own time anyway.
pub const WINDOW_REFRESH: u64 = 15 * 60;

/// Is the window opened by a user message at `last_inbound` (its own timestamp, not the time the
/// webhook arrived) still open at `now`, with the safety margin?
pub fn is_open(last_inbound: UnixTime, now: UnixTime) -> bool {
    now.0.saturating_add(WINDOW_SAFETY_MARGIN) < last_inbound.0.saturating_add(SERVICE_WINDOW)
}

impl ContactState {
    /// Open when the last user message is less than 24 h old (minus the safety margin) and Meta
    /// has not said otherwise since.
    pub fn window_open(&self, now: UnixTime) -> bool {
        match self.last_inbound {
            Some(t) => is_open(t, now) && self.window_closed_at.is_none_or(|c| c < t),
            None => false,
        }
    }

    /// Notes a user message. Returns whether the stored state must be written: a first message,
    /// a window start at least `WINDOW_REFRESH` newer, another business number, or a message
    /// that reopens a window Meta closed (131047) or lifts an undeliverable mark.
    pub fn record_inbound(
        &mut self,
        at: UnixTime,
        phone_number_id: Option<&PhoneNumberId>,
    ) -> bool {
        let refresh = self
            .last_inbound
            .is_none_or(|t| at.0 >= t.0 + WINDOW_REFRESH);
        let number_changed =
            phone_number_id.is_some_and(|p| self.phone_number_id.as_ref() != Some(p));
        let reopens = match (self.window_closed_at, self.last_inbound) {
            (Some(closed), Some(t)) => closed >= t && at > closed,
            _ => false,
        };
        let write = refresh || number_changed || reopens || self.is_undeliverable();
        if write {
            if self.last_inbound.is_none_or(|t| at > t) {
                self.last_inbound = Some(at);
            }
            if let Some(p) = phone_number_id {
                self.phone_number_id = Some(p.clone());
            }
        }
        write
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: UnixTime = UnixTime(1_000_000);

    #[test]
    fn edges_with_the_two_minute_margin() {
        assert!(is_open(T, T));
        assert!(is_open(T, T.plus(24 * 3600 - 120 - 1)));
        assert!(!is_open(T, T.plus(24 * 3600 - 120)));
        assert!(!is_open(T, T.plus(25 * 3600)));
        // A redelivery 20 h late leaves 4 h, still open.
        assert!(is_open(T, T.plus(20 * 3600)));
    }

    #[test]
    fn window_follows_the_user_message_and_metas_131047() {
        let mut s = ContactState::default();
        assert!(!s.window_open(T));
        s.record_inbound(T, None);
        assert!(s.window_open(T.plus(23 * 3600)));
        assert!(!s.window_open(T.plus(25 * 3600)));
        s.window_closed_at = Some(T.plus(60));
        assert!(!s.window_open(T.plus(120)));
        assert!(
            s.record_inbound(T.plus(200), None),
            "a message after Meta closed it reopens it"
        );
        assert!(s.window_open(T.plus(300)));
        assert!(
            !s.record_inbound(T.plus(400), None),
            "a message minutes later needs no write"
        );
        assert!(
            s.record_inbound(T.plus(200 + 15 * 60), None),
            "a refresh 15 minutes later is written"
        );
    }

    #[test]
    fn undeliverable_until_the_contact_writes_again() {
        let mut s = ContactState::default();
        s.record_inbound(T, None);
        s.undeliverable = Some((131026, T.plus(10)));
        assert!(s.is_undeliverable());
        assert!(
            s.record_inbound(T.plus(20), None),
            "lifting the mark is written"
        );
        assert!(!s.is_undeliverable());
    }

    #[test]
    fn older_inbound_does_not_move_the_window_back() {
        let mut s = ContactState::default();
        s.record_inbound(T.plus(30 * 60), None);
        assert!(!s.record_inbound(T, None));
        assert_eq!(s.last_inbound, Some(T.plus(30 * 60)));
        assert!(
            s.record_inbound(T.plus(30 * 60), Some(&PhoneNumberId::new("other"))),
            "a new number is written"
        );
    }
}
