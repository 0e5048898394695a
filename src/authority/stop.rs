//! The emergency stop: one switch that stops every send from every number, automatic and API,
//! with the reason an operator gave, until a person resumes. It is held by an object of its own
//! (the same class, named apart from people and numbers), and the people's authorities learn it
//! through the isolate's `NumberView`, as they learn a number's pause: at once in the isolate
//! that set it, within `PAUSE_VIEW_SECONDS` everywhere else. Sends decided meanwhile wait in
//! their outboxes; none is dropped.

use super::{Answer, Authorities, Host, Op};
use crate::platform::Platform;
use crate::store::keys::ContactKey;
use crate::store::kv::{Kv, KvError};
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

/// The key of the stop in its object's storage.
const STOP_KEY: &str = "stop";
/// While stopped, a person's alarm looks again this often for the sends it holds.
pub const STOP_RECHECK: u64 = 30;
/// The most of a reason that is kept.
pub const MAX_REASON_CHARS: usize = 500;

/// Why and since when every send is stopped.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub reason: String,
    pub at: UnixTime,
}

/// The object that holds the stop: a name no person's (hex) or number's (`n…`) has.
pub fn stop_authority() -> ContactKey {
    ContactKey("stop".into())
}

impl<S: Kv, V: Kv, G: Platform, A: Authorities> Host<'_, S, V, G, A> {
    /// The stop object's own requests.
    pub(super) async fn stop_op(&self, op: &Op, now: UnixTime) -> Result<Option<Answer>, KvError> {
        let stop = match op {
            Op::StopSending { reason, at } => {
                let stop = Stop {
                    reason: reason.chars().take(MAX_REASON_CHARS).collect(),
                    at: *at,
                };
                let text = crate::serde_ext::to_string(&stop);
                self.local.put(STOP_KEY, &text, None, None).await?;
                Some(stop)
            }
            // Unreadable: stopped all the same (fail closed), with no reason to show.
            Op::SendingStopped => self.local.get(STOP_KEY).await?.map(|text| {
                crate::serde_ext::from_str(&text).unwrap_or(Stop {
                    reason: String::new(),
                    at: now,
                })
            }),
            Op::ResumeAllSending => {
                self.local.delete(STOP_KEY).await?;
                None
            }
            _ => return Ok(None),
        };
        self.numbers.learn_stop(stop.clone(), now);
        Ok(Some(Answer::Stopped { stop }))
    }

    /// Whether every send is stopped: as this isolate learnt it in the last
    /// `PAUSE_VIEW_SECONDS`, or from the stop object.
    pub(super) async fn stopped(&self, now: UnixTime) -> Result<Option<Stop>, KvError> {
        if let Some(stop) = self.numbers.stop(now) {
            return Ok(stop);
        }
        match self
            .authorities
            .call(&stop_authority(), &Op::SendingStopped)
            .await?
        {
            Answer::Stopped { stop } => {
                self.numbers.learn_stop(stop.clone(), now);
                Ok(stop)
            }
            _ => Err(KvError::Corrupt("stop authority answer")),
        }
    }
}
