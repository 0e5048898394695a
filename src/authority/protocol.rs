//! The requests a person's (or a number's) authority serves and its answers: the protocol
//! between the worker and the Durable Objects, serialised as JSON across the stub.

use super::identity;
use crate::delivery::plan::Summary;
use crate::ids::{PhoneNumberId, WaId};
use crate::json::{
    object, unknown_variant, variant, variant_with, write_str, Fields, FromJson, ShapeError,
    ToJson, Value,
};
use crate::policy::meta_errors::ErrorAction;
use crate::send::OutboundBody;
use crate::store::consent::{ConsentChange, ConsentRecord, Scope};
use crate::store::keys::ContactKey;
use crate::store::kv::KvError;
use crate::time::UnixTime;

/// A request to a person's authority.
#[derive(Debug, Clone)]
pub enum Op {
    /// The person's part of a verified delivery, in Meta's envelope (`route`).
    Deliver {
        body: String,
        /// The keys of every id the part names: all must be linked here before it is decided.
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
    /// To a number's authority: take one business-initiated message from `day`'s budget.
    TakeBudget {
        day: u64,
        limit: u64,
    },
}

/// Why the send API refused, or what Meta answered.
#[derive(Debug, Clone, PartialEq)]
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
        meta_body: Option<String>,
    },
}

/// The authority's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Delivered {
        summary: Summary,
    },
    Send(SendAnswer),
    Consent {
        record: ConsentRecord,
        /// Every id of the person this authority knows (for the admin API).
        ids: Vec<WaId>,
    },
    Erased {
        suppression_kept: bool,
        dropped_sends: usize,
    },
    Paused {
        paused: bool,
    },
    Budget {
        taken: bool,
        used: u64,
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

// The protocol is written as serde's default (external) tagging wrote it: a variant without
// fields is its name, one with fields `{"name":{...}}`. Both ends are the same build; an object
// and a worker of different versions during a deploy answer 400/unreadable, which the worker
// reports as unavailable (Meta retries, the markers keep it exactly once).

impl ToJson for Op {
    fn write_json(&self, out: &mut String) {
        match self {
            Op::Deliver { body, ids } => variant_with(out, "deliver", |f| {
                f.field("body", body).field("ids", ids);
            }),
            Op::Send {
                to,
                from,
                body,
                marketing,
            } => variant_with(out, "send", |f| {
                f.field("to", to)
                    .field("from", from)
                    .field("body", body)
                    .field("marketing", marketing);
            }),
            Op::GetConsent => write_str(out, "get_consent"),
            Op::PutConsent { change } => variant_with(out, "put_consent", |f| {
                f.field("change", change);
            }),
            Op::Erase => write_str(out, "erase"),
            Op::Outbox => write_str(out, "outbox"),
            Op::Identity => write_str(out, "identity"),
            Op::Handover { to } => variant_with(out, "handover", |f| {
                f.field("to", to);
            }),
            Op::Absorb { from, export } => variant_with(out, "absorb", |f| {
                f.field("from", from).field("export", export);
            }),
            Op::Release => write_str(out, "release"),
            Op::NumberPaused => write_str(out, "number_paused"),
            Op::PauseNumber => write_str(out, "pause_number"),
            Op::ResumeNumber => write_str(out, "resume_number"),
            Op::TakeBudget { day, limit } => variant_with(out, "take_budget", |f| {
                f.field("day", day).field("limit", limit);
            }),
        }
    }
}

impl<'a> FromJson<'a> for Op {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        let (name, v) = variant(value)?;
        let o = || object(v);
        Ok(match &*name {
            "deliver" => Op::Deliver {
                body: o()?.req("body")?,
                ids: o()?.or_default("ids")?,
            },
            "send" => Op::Send {
                to: o()?.req("to")?,
                from: o()?.opt("from")?,
                body: o()?.req("body")?,
                marketing: o()?.req("marketing")?,
            },
            "get_consent" => Op::GetConsent,
            "put_consent" => Op::PutConsent {
                change: o()?.req("change")?,
            },
            "erase" => Op::Erase,
            "outbox" => Op::Outbox,
            "identity" => Op::Identity,
            "handover" => Op::Handover {
                to: o()?.req("to")?,
            },
            "absorb" => Op::Absorb {
                from: o()?.req("from")?,
                export: o()?.req("export")?,
            },
            "release" => Op::Release,
            "number_paused" => Op::NumberPaused,
            "pause_number" => Op::PauseNumber,
            "resume_number" => Op::ResumeNumber,
            "take_budget" => Op::TakeBudget {
                day: o()?.req("day")?,
                limit: o()?.req("limit")?,
            },
            _ => return Err(unknown_variant()),
        })
    }
}

impl ToJson for SendAnswer {
    fn write_json(&self, out: &mut String) {
        match self {
            SendAnswer::Sent { id } => variant_with(out, "sent", |f| {
                f.field("id", id);
            }),
            SendAnswer::OptedOut { scope } => variant_with(out, "opted_out", |f| {
                f.field("scope", scope);
            }),
            SendAnswer::WindowClosed => write_str(out, "window_closed"),
            SendAnswer::Undeliverable { code } => variant_with(out, "undeliverable", |f| {
                f.field("code", code);
            }),
            SendAnswer::PairRateLimited {
                retry_after_seconds,
            } => variant_with(out, "pair_rate_limited", |f| {
                f.field("retry_after_seconds", retry_after_seconds);
            }),
            SendAnswer::NumberPaused => write_str(out, "number_paused"),
            SendAnswer::FromRequired => write_str(out, "from_required"),
            SendAnswer::IdentityUnresolved => write_str(out, "identity_unresolved"),
            SendAnswer::MarketingCapped => write_str(out, "marketing_capped"),
            SendAnswer::RampBudgetUsed => write_str(out, "ramp_budget_used"),
            SendAnswer::Failed {
                action,
                meta_code,
                http_status,
                meta_body,
            } => variant_with(out, "failed", |f| {
                f.field("action", action)
                    .field("meta_code", meta_code)
                    .field("http_status", http_status)
                    .some("meta_body", meta_body);
            }),
        }
    }
}

impl<'a> FromJson<'a> for SendAnswer {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        let (name, v) = variant(value)?;
        let o = || object(v);
        Ok(match &*name {
            "sent" => SendAnswer::Sent {
                id: o()?.req("id")?,
            },
            "opted_out" => SendAnswer::OptedOut {
                scope: o()?.opt("scope")?,
            },
            "window_closed" => SendAnswer::WindowClosed,
            "undeliverable" => SendAnswer::Undeliverable {
                code: o()?.opt("code")?,
            },
            "pair_rate_limited" => SendAnswer::PairRateLimited {
                retry_after_seconds: o()?.req("retry_after_seconds")?,
            },
            "number_paused" => SendAnswer::NumberPaused,
            "from_required" => SendAnswer::FromRequired,
            "identity_unresolved" => SendAnswer::IdentityUnresolved,
            "marketing_capped" => SendAnswer::MarketingCapped,
            "ramp_budget_used" => SendAnswer::RampBudgetUsed,
            "failed" => SendAnswer::Failed {
                action: o()?.req("action")?,
                meta_code: o()?.opt("meta_code")?,
                http_status: o()?.req("http_status")?,
                meta_body: o()?.opt("meta_body")?,
            },
            _ => return Err(unknown_variant()),
        })
    }
}

impl ToJson for Answer {
    fn write_json(&self, out: &mut String) {
        match self {
            Answer::Delivered { summary } => variant_with(out, "delivered", |f| {
                f.field("summary", summary);
            }),
            Answer::Send(answer) => Fields::new(out).field("send", answer).end(),
            Answer::Consent { record, ids } => variant_with(out, "consent", |f| {
                f.field("record", record).field("ids", ids);
            }),
            Answer::Erased {
                suppression_kept,
                dropped_sends,
            } => variant_with(out, "erased", |f| {
                f.field("suppression_kept", suppression_kept)
                    .field("dropped_sends", dropped_sends);
            }),
            Answer::Paused { paused } => variant_with(out, "paused", |f| {
                f.field("paused", paused);
            }),
            Answer::Budget { taken, used } => variant_with(out, "budget", |f| {
                f.field("taken", taken).field("used", used);
            }),
            Answer::Outbox {
                pending,
                next_attempt_at,
            } => variant_with(out, "outbox", |f| {
                f.field("pending", pending)
                    .field("next_attempt_at", next_attempt_at);
            }),
            Answer::Moved { to, export } => variant_with(out, "moved", |f| {
                f.field("to", to).field("export", export);
            }),
            Answer::Unlinked { missing } => variant_with(out, "unlinked", |f| {
                f.field("missing", missing);
            }),
            Answer::Absorbed => write_str(out, "absorbed"),
            Answer::Identity {
                linked,
                ids,
                pending,
            } => variant_with(out, "identity", |f| {
                f.field("linked", linked)
                    .field("ids", ids)
                    .field("pending", pending);
            }),
        }
    }
}

impl<'a> FromJson<'a> for Answer {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        let (name, v) = variant(value)?;
        let o = || object(v);
        Ok(match &*name {
            "delivered" => Answer::Delivered {
                summary: o()?.req("summary")?,
            },
            "send" => Answer::Send(SendAnswer::from_json(v)?),
            "consent" => Answer::Consent {
                record: o()?.req("record")?,
                ids: o()?.or_default("ids")?,
            },
            "erased" => Answer::Erased {
                suppression_kept: o()?.req("suppression_kept")?,
                dropped_sends: o()?.req("dropped_sends")?,
            },
            "paused" => Answer::Paused {
                paused: o()?.req("paused")?,
            },
            "budget" => Answer::Budget {
                taken: o()?.req("taken")?,
                used: o()?.req("used")?,
            },
            "outbox" => Answer::Outbox {
                pending: o()?.req("pending")?,
                next_attempt_at: o()?.opt("next_attempt_at")?,
            },
            "moved" => Answer::Moved {
                to: o()?.req("to")?,
                export: o()?.opt("export")?,
            },
            "unlinked" => Answer::Unlinked {
                missing: o()?.req("missing")?,
            },
            "absorbed" => Answer::Absorbed,
            "identity" => Answer::Identity {
                linked: o()?.req("linked")?,
                ids: o()?.req("ids")?,
                pending: o()?.req("pending")?,
            },
            _ => return Err(unknown_variant()),
        })
    }
}

/// How the worker reaches the authorities: a Durable Object stub per person in the shell,
/// in-process authorities in native tests. An `Err` answers 500 (Meta retries; nothing is lost).
#[allow(async_fn_in_trait)]
pub trait Authorities {
    async fn call(&self, contact: &ContactKey, op: &Op) -> Result<Answer, KvError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{from_str, to_string};

    #[test]
    fn every_kind_of_request_and_answer_reads_back_as_written() {
        let ops = [
            Op::Deliver {
                body: r#"{"object":"x"}"#.into(),
                ids: vec![ContactKey("k1".into())],
            },
            Op::GetConsent,
            Op::TakeBudget { day: 3, limit: 250 },
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
            to_string(&Op::TakeBudget { day: 3, limit: 250 }),
            r#"{"take_budget":{"day":3,"limit":250}}"#
        );
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
