//! Per-contact sending state: the service window, pacing, the default-reply cooldown and
//! deliverability. Short-lived (it expires soon after the window and cooldown end) and erased
//! with the contact.

use crate::ids::PhoneNumberId;
use crate::retention::DAY;
use crate::time::UnixTime;
use crate::window;
use serde::{Deserialize, Serialize};

/// Meta's pair rate limit is about one message per 6 s to the same user (error 131056).
pub const PAIR_INTERVAL: u64 = 6;
/// A newer user message moves the stored window start only when it is this much newer: in a
/// conversation that saves a KV write per message, and the stored window can only close early
/// (by at most this much), never late. Automatic replies use each message's own time anyway.
pub const WINDOW_REFRESH: u64 = 15 * 60;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactState {
    /// The newest user message's own timestamp: it opens the 24-hour window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_inbound: Option<UnixTime>,
    /// The business number the contact last wrote to: replies go out from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<PhoneNumberId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sent: Option<UnixTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_default_reply: Option<UnixTime>,
    /// Meta answered 131047 (window closed) at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_closed_at: Option<UnixTime>,
    /// Meta answered 131026 / 130403 (undeliverable, blocked): (code, time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undeliverable: Option<(i64, UnixTime)>,
}

impl ContactState {
    /// The stored state; an unreadable one only costs pacing history, so it starts afresh
    /// rather than failing the request.
    pub fn from_stored(value: Option<String>) -> ContactState {
        value
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default()
    }

    /// When the stored state may vanish, with the configured cooldown and retention.
    pub fn expiry(&self, config: &crate::config::Config, now: UnixTime) -> UnixTime {
        self.expires(now, config.replies.cooldown_secs, config.retention_days)
    }

    /// Open when the last user message is less than 24 h old (minus the safety margin) and Meta
    /// has not said otherwise since.
    pub fn window_open(&self, now: UnixTime) -> bool {
        match self.last_inbound {
            Some(t) => window::is_open(t, now) && self.window_closed_at.is_none_or(|c| c < t),
            None => false,
        }
    }

    /// Seconds to wait before the next message to this contact, if any.
    pub fn pair_wait(&self, now: UnixTime) -> Option<u64> {
        let next = self.last_sent?.plus(PAIR_INTERVAL);
        (now < next).then(|| next.secs_since(now))
    }

    /// Unreachable since the contact last wrote: sending again would only fail.
    pub fn is_undeliverable(&self) -> bool {
        match (self.undeliverable, self.last_inbound) {
            (Some((_, at)), Some(inbound)) => at >= inbound,
            (Some(_), None) => true,
            _ => false,
        }
    }

    pub fn may_send_default(&self, now: UnixTime, cooldown: u64) -> bool {
        self.last_default_reply
            .is_none_or(|t| now.secs_since(t) >= cooldown)
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

    /// Kept for as long as any of it matters: the window, the cooldown, a day of slack, never
    /// longer than retention.
    pub fn expires(&self, now: UnixTime, cooldown: u64, retention_days: u64) -> UnixTime {
        let base = self
            .last_inbound
            .unwrap_or(now)
            .max(self.last_default_reply.unwrap_or(now));
        let keep = window::SERVICE_WINDOW.max(cooldown) + DAY;
        let at = base.plus(keep).min(now.plus(retention_days * DAY));
        at.max(now.plus(crate::retention::KV_MIN_TTL))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: UnixTime = UnixTime(1_000_000);

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
            s.record_inbound(T.plus(200 + WINDOW_REFRESH), None),
            "a refresh is written"
        );
    }

    #[test]
    fn pacing_and_cooldown() {
        let mut s = ContactState {
            last_sent: Some(T),
            ..Default::default()
        };
        assert_eq!(s.pair_wait(T.plus(2)), Some(4));
        assert_eq!(s.pair_wait(T.plus(6)), None);
        s.last_default_reply = Some(T);
        assert!(!s.may_send_default(T.plus(3600), 24 * 3600));
        assert!(s.may_send_default(T.plus(24 * 3600), 24 * 3600));
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
        s.record_inbound(T.plus(WINDOW_REFRESH * 2), None);
        assert!(!s.record_inbound(T, None));
        assert_eq!(s.last_inbound, Some(T.plus(WINDOW_REFRESH * 2)));
        assert!(
            s.record_inbound(
                T.plus(WINDOW_REFRESH * 2),
                Some(&PhoneNumberId::new("other"))
            ),
            "a new number is written"
        );
    }
}
