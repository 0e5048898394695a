//! Pacing as Meta does it: the pair rate limit (error 131056) allows on average one message per
//! 6 s to the same person, with bursts that borrow from later. wa-edge keeps a per-person bucket
//! (GCRA: a "theoretical arrival time" that each message pushes 6 s further): up to `burst`
//! messages at once, then one per 6 s. Confirmations are never dropped by it; they wait for it.

use crate::store::contact_state::ContactState;
use crate::time::UnixTime;

/// Meta's pair rate: on average one message per 6 s to the same user.
pub const PAIR_INTERVAL: u64 = 6;
/// Messages that may go to one person at once. Meta tolerates bursts of up to 45 that borrow from
/// later (a burst of 20 needs about 2 minutes of quiet); 10 answers a busy conversation without
/// borrowing minutes.
pub const DEFAULT_PAIR_BURST: u64 = 10;
/// Meta's own ceiling on a burst to one person.
pub const MAX_PAIR_BURST: u64 = 45;

impl ContactState {
    /// Seconds until one more message to this person fits the bucket; 0 when it fits now.
    pub fn pace_wait(&self, now: UnixTime, burst: u64) -> u64 {
        let tat = self.paced_until.unwrap_or(now).max(now);
        let allowance = burst.saturating_sub(1) * PAIR_INTERVAL;
        tat.0.saturating_sub(now.0.saturating_add(allowance))
    }

    /// Takes one message's place in the bucket (call only when `pace_wait` is 0).
    pub fn pace_take(&mut self, now: UnixTime) {
        let tat = self.paced_until.unwrap_or(now).max(now);
        self.paced_until = Some(tat.plus(PAIR_INTERVAL));
        self.last_sent = Some(now);
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

    const T: UnixTime = UnixTime(1_000_000);

    #[test]
    fn a_burst_of_ten_then_one_per_six_seconds() {
        let mut s = ContactState::default();
        for i in 0..10 {
            assert_eq!(s.pace_wait(T, 10), 0, "message {i} of the burst");
            s.pace_take(T);
        }
        assert_eq!(s.pace_wait(T, 10), 6, "the eleventh waits one interval");
        assert_eq!(s.pace_wait(T.plus(6), 10), 0);
        s.pace_take(T.plus(6));
        assert_eq!(s.pace_wait(T.plus(6), 10), 6);
    }

    #[test]
    fn a_quiet_minute_refills_the_bucket() {
        let mut s = ContactState::default();
        for _ in 0..10 {
            s.pace_take(T);
        }
        let later = T.plus(60);
        for _ in 0..10 {
            assert_eq!(s.pace_wait(later, 10), 0);
            s.pace_take(later);
        }
        assert!(s.pace_wait(later, 10) > 0);
    }

    #[test]
    fn a_burst_of_one_is_a_hard_six_second_gap() {
        let mut s = ContactState::default();
        s.pace_take(T);
        assert_eq!(s.pace_wait(T.plus(2), 1), 4);
        assert_eq!(s.pace_wait(T.plus(6), 1), 0);
    }
}
