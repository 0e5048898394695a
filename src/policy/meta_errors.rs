//! Meta's error codes and what each one changes: the single table that decides retries,
//! back-off, pauses, opt-outs and undeliverable marks, for errors answered to a send and errors
//! that arrive later in status webhooks alike.

use crate::ids::MessageId;
use crate::store::account::{Signal, SignalKind};
use crate::store::consent::{ConsentChange, ConsentStatus, Scope, Source};
use crate::store::contact_state::ContactState;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// 131056: Meta's advice is to back off 4^n seconds: 1, 4, 16, then give up and record it.
pub const PAIR_RATE_WAITS: [u64; 3] = [1, 4, 16];
/// 130429 / 4 / 80007: one back-off of 2 s plus up to a second of per-contact jitter.
pub const THROTTLE_WAIT: u64 = 2;
/// 1, 2, 131000, 131016, 133004, HTTP 5xx: one retry after this long (the outbox; seconds).
pub const TRANSIENT_WAIT: u64 = 1;
/// The send API's one transient retry waits this long before answering its caller.
pub const TRANSIENT_WAIT_MS: u64 = 500;

/// Where a pending send's retries stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retries {
    pub pair_waits: u32,
    pub throttled: bool,
    pub transient_retried: bool,
}

/// Seconds until a failed send is tried again, or `None`: give up and record the failure.
/// No answer at all is never retried blindly: the send may have gone out (the outbox waits for
/// Meta's status first, `authority::outbox`).
pub fn retry_after(action: ErrorAction, retries: &mut Retries, jitter: u64) -> Option<u64> {
    match action {
        ErrorAction::PairRateLimited => {
            let wait = PAIR_RATE_WAITS.get(retries.pair_waits as usize).copied()?;
            retries.pair_waits += 1;
            Some(wait)
        }
        ErrorAction::Throttled if !retries.throttled => {
            retries.throttled = true;
            Some(THROTTLE_WAIT + jitter % 2)
        }
        ErrorAction::Transient if !retries.transient_retried => {
            retries.transient_retried = true;
            Some(TRANSIENT_WAIT)
        }
        _ => None,
    }
}

/// What Meta's error means for us. Also applied to errors that arrive later in status webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorAction {
    /// 131047: the 24-hour window is closed. Never retried as free-form.
    #[serde(rename = "window_closed")]
    WindowClosed,
    /// 131056: pair rate limit. Wait 1 s, then 4 s, then give up.
    #[serde(rename = "pair_rate_limited")]
    PairRateLimited,
    /// 130429, 4, 80007: throughput or app rate limit. Back off with jitter.
    #[serde(rename = "throttled")]
    Throttled,
    /// 131048: spam rate limit. Stop all automatic sending from the number until a person resumes.
    #[serde(rename = "pause_number")]
    PauseNumber,
    /// 131050: the user stopped marketing messages. Record a marketing opt-out.
    #[serde(rename = "marketing_opt_out")]
    MarketingOptOut,
    /// 131049: per-user marketing limit. Do not retry within 24 h.
    #[serde(rename = "marketing_limit")]
    MarketingLimit,
    /// 131026, 130403: undeliverable or blocked. Do not retry.
    #[serde(rename = "undeliverable")]
    Undeliverable,
    /// 131062: this message type cannot go to a BSUID (some authentication templates). Not
    /// retried: only the person's phone number can receive it.
    #[serde(rename = "bsuid_unsupported")]
    BsuidUnsupported,
    /// 190, 0, 10, 200-299: token expired or permission missing. Stop and alert.
    #[serde(rename = "access_token")]
    AccessToken,
    /// 1, 2, 131000, 131016, 133004, HTTP 5xx: at most one retry.
    #[serde(rename = "transient")]
    Transient,
    /// No answer at all. Never retried blindly: the send API has no idempotency key (its caller
    /// is told), and the outbox waits for Meta's status naming the send before it goes again.
    #[serde(rename = "no_answer")]
    NoAnswer,
    /// Anything else: a request Meta refuses; retrying will not help.
    #[serde(rename = "rejected")]
    Rejected,
}

pub fn classify(code: Option<i64>, http_status: u16) -> ErrorAction {
    match code {
        Some(131047) => ErrorAction::WindowClosed,
        Some(131056) => ErrorAction::PairRateLimited,
        Some(130429) | Some(4) | Some(80007) => ErrorAction::Throttled,
        Some(131048) => ErrorAction::PauseNumber,
        Some(131050) => ErrorAction::MarketingOptOut,
        Some(131049) => ErrorAction::MarketingLimit,
        Some(131026) | Some(130403) => ErrorAction::Undeliverable,
        Some(131062) => ErrorAction::BsuidUnsupported,
        Some(190) | Some(0) | Some(10) | Some(200..=299) => ErrorAction::AccessToken,
        Some(1) | Some(2) | Some(131000) | Some(131016) | Some(133004) => ErrorAction::Transient,
        _ if http_status == 0 => ErrorAction::NoAnswer,
        _ if http_status >= 500 => ErrorAction::Transient,
        _ => ErrorAction::Rejected,
    }
}

/// What an error changes, for a send answered now or a status that fails later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Effect {
    pub window_closed: bool,
    pub undeliverable: bool,
    pub pause_number: bool,
    pub marketing_opt_out: bool,
    pub token_problem: bool,
}

pub fn effect_of(action: ErrorAction) -> Effect {
    let mut e = Effect::default();
    match action {
        ErrorAction::WindowClosed => e.window_closed = true,
        ErrorAction::Undeliverable => e.undeliverable = true,
        ErrorAction::PauseNumber => e.pause_number = true,
        ErrorAction::MarketingOptOut => e.marketing_opt_out = true,
        ErrorAction::AccessToken => e.token_problem = true,
        _ => {}
    }
    e
}

impl Effect {
    /// Whether the contact's sending state changes.
    pub fn touches_state(&self) -> bool {
        self.window_closed || self.undeliverable
    }

    pub fn apply_to_state(&self, state: &mut ContactState, code: i64, at: UnixTime) {
        if self.window_closed {
            state.window_closed_at = Some(at);
        }
        if self.undeliverable {
            state.undeliverable = Some((code, at));
        }
    }

    /// 131050 is the person's marketing opt-out, recorded as evidence like any other.
    pub fn marketing_change(
        &self,
        at: UnixTime,
        message_id: Option<MessageId>,
        code: i64,
    ) -> Option<ConsentChange> {
        self.marketing_opt_out.then(|| ConsentChange {
            status: ConsentStatus::OptedOut,
            scope: Scope::Marketing,
            at,
            source: Source::SendError,
            message_id,
            keyword: None,
            evidence: Some(format!("send error {code}")),
            applied: false,
        })
    }

    /// Account signals the error raises: a pause of the number it came from, a token problem.
    pub fn signals(&self, phone_number_id: &str, code: i64, at: UnixTime) -> Vec<Signal> {
        let mut out = Vec::new();
        if self.pause_number {
            out.push(Signal {
                kind: SignalKind::Pause,
                identity: vec![phone_number_id.to_string()],
                at,
                fields: crate::store::account::object(json!({"code": code, "phone_number_id": phone_number_id, "message": "Meta's spam rate limit (131048): automatic sending is paused until a person resumes it with DELETE /v1/account/pause"})),
            });
        }
        if self.token_problem {
            out.push(Signal {
                kind: SignalKind::TokenProblem,
                identity: vec![code.to_string()],
                at,
                fields: crate::store::account::object(json!({"code": code, "message": "the access token is expired or lacks permission: replace WHATSAPP_ACCESS_TOKEN"})),
            });
        }
        out
    }
}

impl ContactState {
    /// Unreachable since the contact last wrote (131026 / 130403): sending again would only fail.
    pub fn is_undeliverable(&self) -> bool {
        match (self.undeliverable, self.last_inbound) {
            (Some((_, at)), Some(inbound)) => at >= inbound,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_table() {
        use ErrorAction::*;
        let table = [
            (Some(131047), 400, WindowClosed),
            (Some(131056), 400, PairRateLimited),
            (Some(130429), 400, Throttled),
            (Some(4), 400, Throttled),
            (Some(80007), 400, Throttled),
            (Some(131048), 400, PauseNumber),
            (Some(131050), 400, MarketingOptOut),
            (Some(131049), 400, MarketingLimit),
            (Some(131026), 400, Undeliverable),
            (Some(130403), 400, Undeliverable),
            (Some(190), 401, AccessToken),
            (Some(0), 401, AccessToken),
            (Some(10), 403, AccessToken),
            (Some(200), 403, AccessToken),
            (Some(299), 403, AccessToken),
            (Some(1), 500, Transient),
            (Some(131000), 500, Transient),
            (Some(133004), 503, Transient),
            (None, 502, Transient),
            (None, 0, NoAnswer),
            (Some(100), 400, Rejected),
        ];
        for (code, status, action) in table {
            assert_eq!(classify(code, status), action, "{code:?} {status}");
        }
    }

    #[test]
    fn retries_by_the_table() {
        let mut r = Retries::default();
        let pair: Vec<_> = (0..4)
            .map(|_| retry_after(ErrorAction::PairRateLimited, &mut r, 0))
            .collect();
        assert_eq!(pair, vec![Some(1), Some(4), Some(16), None]);
        let mut r = Retries::default();
        assert_eq!(retry_after(ErrorAction::Throttled, &mut r, 3), Some(3));
        assert_eq!(retry_after(ErrorAction::Throttled, &mut r, 3), None);
        assert_eq!(retry_after(ErrorAction::Transient, &mut r, 0), Some(1));
        assert_eq!(retry_after(ErrorAction::Transient, &mut r, 0), None);
        for action in [
            ErrorAction::NoAnswer,
            ErrorAction::WindowClosed,
            ErrorAction::PauseNumber,
            ErrorAction::Undeliverable,
        ] {
            assert_eq!(retry_after(action, &mut Retries::default(), 0), None);
        }
    }

    #[test]
    fn effects_of_each_action() {
        let at = UnixTime(1000);
        let mut s = ContactState::default();
        effect_of(ErrorAction::WindowClosed).apply_to_state(&mut s, 131047, at);
        assert_eq!(s.window_closed_at, Some(at));
        effect_of(ErrorAction::Undeliverable).apply_to_state(&mut s, 131026, at);
        assert!(s.is_undeliverable());
        let pause = effect_of(ErrorAction::PauseNumber).signals("PNID", 131048, at);
        assert_eq!(pause.len(), 1);
        assert_eq!(pause[0].kind, SignalKind::Pause);
        assert!(effect_of(ErrorAction::MarketingOptOut)
            .marketing_change(at, None, 131050)
            .is_some_and(|c| c.scope == Scope::Marketing));
        assert!(effect_of(ErrorAction::Rejected) == Effect::default());
    }
}
