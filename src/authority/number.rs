//! The number's authority: the 131048 pause of one business number and its daily ramp budget,
//! held by one Durable Object (of the same class, named apart from people), so a person's
//! authority never sends from a paused number because KV had not caught up. The pause is shown
//! in `GET /v1/account` from its KV signal, written with it.
//!
//! One object serves one request at a time, so it must not be asked on every message: a number
//! on Meta's 1,000 messages-per-second tier would queue thousands of requests a second on it.
//! What people's authorities learn from it is kept in a `NumberView` shared by every authority
//! the same isolate serves: a pause for `PAUSE_VIEW_SECONDS`, and the budget as blocks of sends.

use super::{Answer, Authorities, Host, Op};
use crate::ids::PhoneNumberId;
use crate::platform::Platform;
use crate::store::account::{self, Signal, SignalKind};
use crate::store::keys::{ContactKey, KeyScheme};
use crate::store::kv::{Kv, KvError};
use crate::time::UnixTime;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::collections::HashMap;

/// How long a number's pause, as its authority answered it, is taken as true without asking
/// again. A pause set meanwhile by another isolate is missed at most this long; a send Meta
/// refuses with 131048 in between pauses the number again, as any other.
pub const PAUSE_VIEW_SECONDS: u64 = 10;

/// The ramp budget is handed out in blocks of a fiftieth of the daily limit (1 to 100 sends):
/// one request to the number's authority per block. Sends an isolate holds when it ends are not
/// handed out again, so a day can end a few sends short of the limit (never over it).
pub const RAMP_BLOCK_DIVISOR: u64 = 50;
pub const RAMP_BLOCK_MAX: u64 = 100;

/// Whether what was learnt at `at` is still taken as true at `now`.
fn fresh(at: UnixTime, now: UnixTime) -> bool {
    now.0 < at.0.saturating_add(PAUSE_VIEW_SECONDS)
}

/// The size of a ramp block for a daily limit.
pub fn ramp_block(limit: u64) -> u64 {
    (limit / RAMP_BLOCK_DIVISOR).clamp(1, RAMP_BLOCK_MAX)
}

/// What the authorities of one isolate learnt from numbers' authorities, by authority name
/// (a keyed hash, never a number). Never held across an await.
#[derive(Default, Debug)]
pub struct NumberView {
    /// Paused or not, and when that was learnt.
    pauses: RefCell<HashMap<ContactKey, (bool, UnixTime)>>,
    /// Sends left of the block taken for a day, or none left at all that day.
    budgets: RefCell<HashMap<ContactKey, Lease>>,
    /// The emergency stop (`stop`), and when that was learnt.
    stop: RefCell<Option<(Option<super::stop::Stop>, UnixTime)>>,
}

#[derive(Debug, Clone, Copy)]
struct Lease {
    day: u64,
    left: u64,
    /// The number's authority refused: the day's budget is used up.
    exhausted: bool,
}

impl NumberView {
    fn pause(&self, authority: &ContactKey, now: UnixTime) -> Option<bool> {
        let pauses = self.pauses.borrow();
        let (paused, at) = pauses.get(authority)?;
        fresh(*at, now).then_some(*paused)
    }

    pub(super) fn stop(&self, now: UnixTime) -> Option<Option<super::stop::Stop>> {
        let stop = self.stop.borrow();
        let (stop, at) = stop.as_ref()?;
        fresh(*at, now).then(|| stop.clone())
    }

    pub(super) fn learn_stop(&self, stop: Option<super::stop::Stop>, now: UnixTime) {
        *self.stop.borrow_mut() = Some((stop, now));
    }

    fn learn_pause(&self, authority: &ContactKey, paused: bool, now: UnixTime) {
        self.pauses
            .borrow_mut()
            .insert(authority.clone(), (paused, now));
    }

    /// One send from the block held for `day`: `Some(true)` taken, `Some(false)` none left that
    /// day, `None` ask the number's authority.
    fn take(&self, authority: &ContactKey, day: u64) -> Option<bool> {
        let mut budgets = self.budgets.borrow_mut();
        let lease = budgets.get_mut(authority).filter(|l| l.day == day)?;
        if lease.exhausted {
            return Some(false);
        }
        if lease.left == 0 {
            return None;
        }
        lease.left -= 1;
        Some(true)
    }

    fn hold(&self, authority: &ContactKey, day: u64, left: u64, exhausted: bool) {
        self.budgets.borrow_mut().insert(
            authority.clone(),
            Lease {
                day,
                left,
                exhausted,
            },
        );
    }
}

/// The key of the pause in a number authority's storage.
const PAUSED_KEY: &str = "paused";
/// Business-initiated messages sent on a UTC day: `budget:{day}`.
const BUDGET_PREFIX: &str = "budget:";

/// The authority of a business number: named by a keyed hash of its id, with a prefix no
/// person's name has (theirs are plain hex).
pub fn number_authority(keys: &KeyScheme, phone_number_id: &PhoneNumberId) -> ContactKey {
    ContactKey(["n", &keys.number(phone_number_id.as_str())].concat())
}

impl<S: Kv, V: Kv, G: Platform, A: Authorities> Host<'_, S, V, G, A> {
    /// The number authority's own requests.
    pub(super) async fn number_op(
        &self,
        op: &Op,
        now: UnixTime,
    ) -> Result<Option<Answer>, KvError> {
        if let Op::TakeBudget {
            day,
            limit,
            block,
            number,
        } = op
        {
            let answer = self.take_budget(*day, *limit, *block).await?;
            if let (
                Some(number),
                Answer::Budget {
                    taken: true, used, ..
                },
            ) = (number, &answer)
            {
                self.show_budget(number, *day, *used, *limit, now).await;
            }
            return Ok(Some(answer));
        }
        let paused = match op {
            Op::NumberPaused => self.local.get(PAUSED_KEY).await?.is_some(),
            Op::PauseNumber => {
                self.local.put(PAUSED_KEY, "1", None, None).await?;
                true
            }
            Op::ResumeNumber => {
                self.local.delete(PAUSED_KEY).await?;
                false
            }
            _ => return Ok(None),
        };
        // The people this isolate serves see a pause or its end at once.
        self.numbers.learn_pause(&self.contact, paused, now);
        Ok(Some(Answer::Paused { paused }))
    }

    /// Up to `block` business-initiated messages from the number's daily budget
    /// (`RAMP_DAILY_LIMIT`), counted per UTC day: as many as are left.
    async fn take_budget(&self, day: u64, limit: u64, block: u64) -> Result<Answer, KvError> {
        let key = format!("{BUDGET_PREFIX}{day}");
        let used: u64 = self
            .local
            .get(&key)
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let granted = block.max(1).min(limit.saturating_sub(used));
        if granted == 0 {
            return Ok(Answer::Budget {
                taken: false,
                used,
                granted: Some(0),
            });
        }
        // Kept two days: long enough to answer for today, then gone.
        let expires = crate::time::UnixTime((day + 2) * crate::policy::retention::DAY);
        self.local
            .put(&key, &(used + granted).to_string(), Some(expires), None)
            .await?;
        Ok(Answer::Budget {
            taken: true,
            used: used + granted,
            granted: Some(granted),
        })
    }

    /// The day's budget as handed out so far, for the console (`GET /v1/account`'s
    /// `ramp_budget`). Shown, not decided with: a write that fails only leaves the figure behind
    /// until the next block, so it is not retried.
    async fn show_budget(
        &self,
        number: &PhoneNumberId,
        day: u64,
        used: u64,
        limit: u64,
        now: UnixTime,
    ) {
        let signal = Signal {
            kind: SignalKind::RampBudget,
            identity: vec![number.as_str().to_string()],
            at: now,
            fields: account::object(serde_json::json!({
                "phone_number_id": number.as_str(),
                "date": UnixTime(day * crate::policy::retention::DAY).date(),
                "handed_out": used,
                "limit": limit,
            })),
        };
        let expires = UnixTime((day + 2) * crate::policy::retention::DAY);
        if let Ok(put) = signal.put(self.keys, Some(expires)) {
            let _ = crate::store::write(self.kv, &put).await;
        }
    }

    /// One message of today's budget, from the block this isolate holds or a new block from
    /// the number's authority; `true` if taken.
    pub(super) async fn take_from_budget(
        &self,
        number: &PhoneNumberId,
        day: u64,
        limit: u64,
    ) -> Result<bool, KvError> {
        let authority = number_authority(self.keys, number);
        if let Some(taken) = self.numbers.take(&authority, day) {
            return Ok(taken);
        }
        let block = ramp_block(limit);
        let op = Op::TakeBudget {
            day,
            limit,
            block,
            number: Some(number.clone()),
        };
        match self.authorities.call(&authority, &op).await? {
            Answer::Budget { taken, granted, .. } => {
                // An authority of an earlier build grants one at a time.
                let granted = granted.unwrap_or(u64::from(taken));
                let left = granted.saturating_sub(1);
                self.numbers.hold(&authority, day, left, !taken);
                Ok(taken)
            }
            _ => Err(KvError::Corrupt("number authority answer")),
        }
    }

    /// Whether each number is paused, by pause key, as deciding reads them: as this isolate
    /// learnt it in the last `PAUSE_VIEW_SECONDS`, or from the number's authority. Called before
    /// a request reads its own storage (it may wait on another object).
    pub(super) async fn pauses(
        &self,
        numbers: impl IntoIterator<Item = PhoneNumberId>,
        now: UnixTime,
    ) -> Result<HashMap<String, Option<String>>, KvError> {
        let numbers: BTreeSet<PhoneNumberId> = numbers.into_iter().collect();
        let mut out = HashMap::new();
        for number in numbers {
            let authority = number_authority(self.keys, &number);
            let paused = match self.numbers.pause(&authority, now) {
                Some(paused) => paused,
                None => match self.authorities.call(&authority, &Op::NumberPaused).await? {
                    Answer::Paused { paused } => {
                        self.numbers.learn_pause(&authority, paused, now);
                        paused
                    }
                    _ => return Err(KvError::Corrupt("number authority answer")),
                },
            };
            let key = crate::store::account::pause_key(self.keys, Some(&number));
            out.insert(key, paused.then(|| "1".to_string()));
        }
        Ok(out)
    }

    /// Pauses a number after Meta's 131048 (the KV signal is written by the send's outcome).
    pub(super) async fn pause(&self, number: &PhoneNumberId, now: UnixTime) -> Result<(), KvError> {
        let authority = number_authority(self.keys, number);
        self.authorities.call(&authority, &Op::PauseNumber).await?;
        self.numbers.learn_pause(&authority, true, now);
        Ok(())
    }
}
