//! Template categories learned from Meta's template webhooks (`template_category_update`, and
//! template status updates that carry a category), read by the send gateway when a caller does
//! not say whether a template is marketing.

use crate::policy::business::Category;
use crate::store::keys::{self, KeyScheme};
use crate::store::kv::{Kv, KvError};
use crate::store::Put;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

/// A learned category is kept a year and refreshed by every update Meta sends; once it lapses
/// the template counts as marketing again (fail closed).
pub const CATEGORY_KEPT_DAYS: u64 = 365;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Learned {
    category: Category,
    at: UnixTime,
}

pub fn put(
    keys: &KeyScheme,
    name: &str,
    category: Category,
    now: UnixTime,
) -> Result<Put, KvError> {
    let value = Learned { category, at: now };
    let expires = now.plus(CATEGORY_KEPT_DAYS * crate::policy::retention::DAY);
    Put::json(keys::template(keys, name), &value, Some(expires), None)
}

/// The category learned for a template, if any; an unreadable record counts as unknown.
pub async fn load<K: Kv>(
    kv: &K,
    keys: &KeyScheme,
    name: &str,
) -> Result<Option<Category>, KvError> {
    Ok(kv
        .get(&keys::template(keys, name))
        .await?
        .and_then(|v| crate::serde_ext::from_str::<Learned>(&v).ok())
        .map(|l| l.category))
}
