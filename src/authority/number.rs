//! The number's authority: the 131048 pause of one business number, held by one Durable Object
//! (of the same class, named apart from people), so a pause is in force everywhere at once and
//! a person's authority never sends from a paused number because KV had not caught up. The
//! pause is shown in `GET /v1/account` from its KV signal, written with it.

use super::{Answer, Authorities, Host, Op};
use crate::ids::PhoneNumberId;
use crate::platform::Platform;
use crate::store::keys::{ContactKey, KeyScheme};
use crate::store::kv::{Kv, KvError};
use std::collections::BTreeSet;
use std::collections::HashMap;

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
    pub(super) async fn number_op(&self, op: &Op) -> Result<Option<Answer>, KvError> {
        if let Op::TakeBudget { day, limit } = op {
            return self.take_budget(*day, *limit).await.map(Some);
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
        Ok(Some(Answer::Paused { paused }))
    }

    /// One business-initiated message from the number's daily budget (`RAMP_DAILY_LIMIT`),
    /// counted per UTC day: taken if any is left.
    async fn take_budget(&self, day: u64, limit: u64) -> Result<Answer, KvError> {
        let key = format!("{BUDGET_PREFIX}{day}");
        let used: u64 = self
            .local
            .get(&key)
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if used >= limit {
            return Ok(Answer::Budget { taken: false, used });
        }
        // Kept two days: long enough to answer for today, then gone.
        let expires = crate::time::UnixTime((day + 2) * crate::policy::retention::DAY);
        self.local
            .put(&key, &(used + 1).to_string(), Some(expires), None)
            .await?;
        Ok(Answer::Budget {
            taken: true,
            used: used + 1,
        })
    }

    /// Asks the number's authority for one message of today's budget; `true` if taken.
    pub(super) async fn take_from_budget(
        &self,
        number: &PhoneNumberId,
        day: u64,
        limit: u64,
    ) -> Result<bool, KvError> {
        let authority = number_authority(self.keys, number);
        match self
            .authorities
            .call(&authority, &Op::TakeBudget { day, limit })
            .await?
        {
            Answer::Budget { taken, .. } => Ok(taken),
            _ => Err(KvError::Corrupt("number authority answer")),
        }
    }

    /// Asks each number's authority whether it is paused; by pause key, as deciding reads them.
    /// Called before a request reads its own storage (it waits on another object).
    pub(super) async fn pauses(
        &self,
        numbers: impl IntoIterator<Item = PhoneNumberId>,
    ) -> Result<HashMap<String, Option<String>>, KvError> {
        let numbers: BTreeSet<PhoneNumberId> = numbers.into_iter().collect();
        let mut out = HashMap::new();
        for number in numbers {
            let authority = number_authority(self.keys, &number);
            let paused = match self.authorities.call(&authority, &Op::NumberPaused).await? {
                Answer::Paused { paused } => paused,
                _ => return Err(KvError::Corrupt("number authority answer")),
            };
            let key = crate::store::account::pause_key(self.keys, Some(&number));
            out.insert(key, paused.then(|| "1".to_string()));
        }
        Ok(out)
    }

    /// Pauses a number after Meta's 131048 (the KV signal is written by the send's outcome).
    pub(super) async fn pause(&self, number: &PhoneNumberId) -> Result<(), KvError> {
        let authority = number_authority(self.keys, number);
        self.authorities
            .call(&authority, &Op::PauseNumber)
            .await
            .map(|_| ())
    }
}
