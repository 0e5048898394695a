//! The sends the guards refused, a key per refusal under `g:{day}:{guard}:`, so the console can
//! show today's use of each guard. A key per event rather than a counter: refusals in many
//! objects at once cannot overwrite each other's count, and the same refusal of the same person
//! in the same second (a client retrying) is one.

use crate::store::keys::{ContactKey, KeyScheme};
use crate::store::kv::{Kv, KvError};
use crate::store::Put;
use crate::time::UnixTime;
use std::collections::BTreeMap;

const PREFIX: &str = "g:";
const DAY: u64 = crate::policy::retention::DAY;
/// A day's refusals counted from at most this many listings (1,000 keys each).
pub const MAX_REFUSAL_LISTINGS: usize = 10;

fn day_prefix(day: u64) -> String {
    format!("{PREFIX}{day}:")
}

/// The write that records one refusal by `guard` (a send answer's code, `marketing_limit`) of
/// the person at `contact`, at `now`. Kept until the end of the next UTC day.
pub fn refusal(keys: &KeyScheme, guard: &str, contact: &ContactKey, now: UnixTime) -> Put {
    let day = now.0 / DAY;
    let event = keys.event(&["refusal", guard, &contact.0, &now.0.to_string()]);
    Put {
        key: format!("{}{guard}:{event}", day_prefix(day)),
        // Not empty: while these keys held empty values, local listings of the KV
        // (`wrangler kv key list --local`, which the end-to-end tests use) failed now and then
        // with a 500; with a value they did not. Only the key is counted.
        value: "1".to_string(),
        expires: Some(UnixTime((day + 2) * DAY)),
        meta: None,
    }
}

/// Today's refusals by guard, and whether every one was counted.
pub async fn refused_today<K: Kv>(
    kv: &K,
    now: UnixTime,
) -> Result<(BTreeMap<String, u64>, bool), KvError> {
    let prefix = day_prefix(now.0 / DAY);
    let mut counts = BTreeMap::new();
    let mut cursor = None;
    for _ in 0..MAX_REFUSAL_LISTINGS {
        let page = kv.list(&prefix, cursor).await?;
        for key in &page.keys {
            let guard = key
                .name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.split(':').next())
                .unwrap_or_default();
            *counts.entry(guard.to_string()).or_insert(0) += 1;
        }
        cursor = page.cursor;
        if cursor.is_none() {
            return Ok((counts, true));
        }
    }
    Ok((counts, false))
}
