//! The requests a person's (or a number's) authority serves and its answers: the protocol
//! between the worker and the Durable Objects, serialised as JSON across the stub.

use super::identity;
use crate::delivery::plan::Summary;
use crate::ids::{PhoneNumberId, WaId};
use crate::policy::meta_errors::ErrorAction;
use crate::send::OutboundBody;
use crate::store::consent::{ConsentChange, ConsentRecord, Scope};
use crate::store::keys::ContactKey;
use crate::store::kv::KvError;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

// The protocol is serde's default (external) tagging: a variant without fields is its name, one
// with fields `{"name":{...}}`. Both ends are the same build; an object and a worker of
// different versions during a deploy answer unreadable, which the worker reports as
// unavailable (Meta retries, the markers keep it exactly once).

/// A request to a person's authority.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// The person's part of a verified delivery, in Meta's envelope (`route`).
    Deliver {
        body: String,
        /// The keys of every id the part names: all must be linked here before it is decided.
        #[serde(default)]
        ids: Vec<ContactKey>,
    },
    /// A send API message, validated by the worker.
    Send {
        to: WaId,
        from: Option<PhoneNumberId>,
        body: OutboundBody,
        marketing: bool,
    },
    GetConsent,
    PutConsent {
        change: ConsentChange,
        /// The id the operator named: noted as one of the person's, so the consent view and
        /// the export name it even if the person never wrote.
        #[serde(default)]
        id: Option<WaId>,
    },
    Erase,
    Outbox,
    /// Who the person is here: their home, linked keys and ids.
    Identity,
    /// Identity merges (`identity`): forward to `to` and hand everything over; unite what
    /// `from` handed over; drop the copy handed over.
    Handover {
        to: ContactKey,
    },
    Absorb {
        from: ContactKey,
        export: identity::Export,
    },
    Release,
    /// To a number's authority (`number`): is it paused; pause it (131048); lift the pause.
    NumberPaused,
    PauseNumber,
    ResumeNumber,
    /// To the stop object (`stop`): stop every send, with the operator's reason; is it stopped;
    /// resume.
    StopSending {
        reason: String,
        at: UnixTime,
    },
    SendingStopped,
    ResumeAllSending,
    /// To a number's authority: take up to `block` business-initiated messages from `day`'s
    /// budget (one when an earlier build asks).
    TakeBudget {
        day: u64,
        limit: u64,
        #[serde(default = "one")]
        block: u64,
        /// The number itself, which the authority (named by its hash) cannot know otherwise:
        /// it shows the day's use under it in `GET /v1/account`. None from an earlier build.
        #[serde(default)]
        number: Option<PhoneNumberId>,
    },
}

impl SendAnswer {
    /// The guard that refused the send, by the send API's code for it; `None` when it went,
    /// Meta refused it, or the request itself was wanting.
    pub fn guard(&self) -> Option<&'static str> {
        Some(match self {
            SendAnswer::OptedOut { .. } => "opted_out",
            SendAnswer::WindowClosed => "window_closed",
            SendAnswer::Undeliverable { .. } => "undeliverable",
            SendAnswer::PairRateLimited { .. } => "pair_rate_limited",
            SendAnswer::NumberPaused => "number_paused",
            SendAnswer::Stopped => "sending_stopped",
            SendAnswer::MarketingCapped => "marketing_limit",
            SendAnswer::RampBudgetUsed => "ramp_budget_used",
            _ => return None,
        })
    }
}

/// Why the send API refused, or what Meta answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendAnswer {
    Sent {
        id: String,
    },
    OptedOut {
        scope: Option<Scope>,
    },
    WindowClosed,
    Undeliverable {
        code: Option<i64>,
    },
    PairRateLimited {
        retry_after_seconds: u64,
    },
    NumberPaused,
    /// Every send is stopped (`stop`) until a person resumes.
    Stopped,
    FromRequired,
    /// An id of the person is seen but not merged yet: nothing is sent until it is.
    IdentityUnresolved,
    /// The person got their marketing templates for the rolling 24 hours (`MARKETING_PER_DAY`).
    MarketingCapped,
    /// The number's daily budget of business-initiated messages is used (`RAMP_DAILY_LIMIT`).
    RampBudgetUsed,
    Failed {
        action: ErrorAction,
        meta_code: Option<i64>,
        http_status: u16,
        /// Meta's error object as it came, for the gateway to answer with unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        meta_body: Option<String>,
    },
}

/// The authority's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Delivered {
        summary: Summary,
    },
    Send(SendAnswer),
    Consent {
        record: ConsentRecord,
        /// Every id of the person this authority knows (for the admin API).
        #[serde(default)]
        ids: Vec<WaId>,
    },
    Erased {
        suppression_kept: bool,
        dropped_sends: usize,
    },
    Paused {
        paused: bool,
    },
    Stopped {
        stop: Option<super::stop::Stop>,
    },
    Budget {
        taken: bool,
        used: u64,
        /// How many were taken (absent from an earlier build's answer: one if taken).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        granted: Option<u64>,
    },
    Outbox {
        pending: usize,
        next_attempt_at: Option<UnixTime>,
    },
    /// The person lives at `to` now; `export` is what this authority still holds for them.
    Moved {
        to: ContactKey,
        export: Option<identity::Export>,
    },
    /// The part names ids not linked here yet: link them (`resolve::link`), then deliver again.
    Unlinked {
        missing: Vec<ContactKey>,
    },
    Absorbed,
    Identity {
        linked: Vec<ContactKey>,
        ids: Vec<WaId>,
        pending: usize,
    },
}

/// How the worker reaches the authorities: a Durable Object stub per person in the shell,
/// in-process authorities in native tests. An `Err` answers 500 (Meta retries; nothing is lost).
#[allow(async_fn_in_trait)]
pub trait Authorities {
    async fn call(&self, contact: &ContactKey, op: &Op) -> Result<Answer, KvError>;
}

fn one() -> u64 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde_ext::{from_str, to_string};

    #[test]
    fn every_kind_of_request_and_answer_reads_back_as_written() {
        let ops = [
            Op::Deliver {
                body: r#"{"object":"x"}"#.into(),
                ids: vec![ContactKey("k1".into())],
            },
            Op::GetConsent,
            Op::TakeBudget {
                day: 3,
                limit: 250,
                block: 5,
                number: Some(PhoneNumberId::new("106540352242922")),
            },
            Op::Handover {
                to: ContactKey("k2".into()),
            },
        ];
        for op in ops {
            let text = to_string(&op);
            let back: Op = from_str(&text).unwrap();
            assert_eq!(to_string(&back), text);
        }
        assert_eq!(
            to_string(&Op::TakeBudget {
                day: 3,
                limit: 250,
                block: 5,
                number: Some(PhoneNumberId::new("1")),
            }),
            r#"{"take_budget":{"day":3,"limit":250,"block":5,"number":"1"}}"#
        );
        // An earlier build's request takes one.
        let earlier = crate::serde_ext::from_str::<Op>(r#"{"take_budget":{"day":3,"limit":250}}"#);
        assert!(matches!(
            earlier,
            Ok(Op::TakeBudget {
                day: 3,
                limit: 250,
                block: 1,
                number: None,
            })
        ));
        let answers = [
            Answer::Send(SendAnswer::Failed {
                action: ErrorAction::Throttled,
                meta_code: Some(130429),
                http_status: 429,
                meta_body: None,
            }),
            Answer::Send(SendAnswer::WindowClosed),
            Answer::Absorbed,
            Answer::Outbox {
                pending: 2,
                next_attempt_at: Some(UnixTime(1_700_000_000)),
            },
        ];
        for answer in answers {
            let text = to_string(&answer);
            assert_eq!(from_str::<Answer>(&text).unwrap(), answer, "{text}");
        }
        assert_eq!(
            to_string(&Answer::Send(SendAnswer::WindowClosed)),
            r#"{"send":"window_closed"}"#
        );
        assert!(from_str::<Op>(r#"{"launch":{}}"#).is_err());
        assert!(from_str::<Op>(r#"{"deliver":{}}"#).is_err());
    }
}
