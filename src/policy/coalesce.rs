//! Identical automatic texts are coalesced: the same help text or auto-reply to the same person is
//! not queued again within a minute, so 20 HELPs in a burst get one answer, not 20. Consent
//! confirmations are not coalesced: each is sent once per change of state already.

use crate::store::contact_state::ContactState;
use crate::time::UnixTime;

/// How long an automatic text counts as just sent.
pub const COALESCE_WINDOW: u64 = 60;
/// The most fingerprints kept: enough for any burst, small enough for the state record.
pub const MAX_RECENT: usize = 8;

/// A short fingerprint of what was sent (purpose and body), so the state holds no message text.
pub fn fingerprint(purpose: &str, body: &str) -> String {
    let hash = format!("{purpose}\0{body}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{hash:016x}")
}

impl ContactState {
    /// Was this text queued to the person within the window?
    pub fn sent_recently(&self, fingerprint: &str, now: UnixTime) -> bool {
        self.recent
            .iter()
            .any(|(f, at)| f == fingerprint && now.secs_since(*at) < COALESCE_WINDOW)
    }

    /// Notes a queued text, forgetting those past the window.
    pub fn note_sent(&mut self, fingerprint: String, now: UnixTime) {
        self.recent
            .retain(|(_, at)| now.secs_since(*at) < COALESCE_WINDOW);
        self.recent.push((fingerprint, now));
        if self.recent.len() > MAX_RECENT {
            let excess = self.recent.len() - MAX_RECENT;
            self.recent.drain(..excess);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_within_a_minute_is_coalesced() {
        let t = UnixTime(1_000_000);
        let mut s = ContactState::default();
        let help = fingerprint("help", "Call us.");
        assert!(!s.sent_recently(&help, t));
        s.note_sent(help.clone(), t);
        assert!(s.sent_recently(&help, t.plus(59)));
        assert!(!s.sent_recently(&help, t.plus(60)));
        assert!(!s.sent_recently(&fingerprint("help", "Other text."), t));
        assert_ne!(help, fingerprint("auto_reply", "Call us."));
    }
}
