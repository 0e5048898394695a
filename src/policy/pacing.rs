//! Pacing: Meta's pair rate limit allows about one message per 6 s to the same person (error
//! 131056). Automatic replies and the send API wait their turn; confirmations are never held
//! back, but they count.

use crate::store::contact_state::ContactState;
use crate::time::UnixTime;

/// Meta's pair rate: about one message per 6 s to the same user.
pub const PAIR_INTERVAL: u64 = 6;

impl ContactState {
    /// Seconds to wait before the next message to this contact, if any.
    pub fn pair_wait(&self, now: UnixTime) -> Option<u64> {
        let next = self.last_sent?.plus(PAIR_INTERVAL);
        (now < next).then(|| next.secs_since(now))
    }
}

/// Spreads retries of different contacts apart, so numbers do not retry in lockstep: a stable
/// number from the contact's pseudonymous key.
pub fn jitter(contact_key: &str) -> u64 {
    contact_key
        .bytes()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_six_seconds() {
        let t = UnixTime(1_000_000);
        let s = ContactState {
            last_sent: Some(t),
            ..Default::default()
        };
        assert_eq!(s.pair_wait(t.plus(2)), Some(4));
        assert_eq!(s.pair_wait(t.plus(6)), None);
        assert_eq!(ContactState::default().pair_wait(t), None);
    }
}
