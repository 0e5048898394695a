//! The durable outbox: every decided send (confirmation, help, auto-reply, mark-as-read) is stored
//! in the authority with the decision, before the webhook is answered, and delivered by the
//! authority's alarm. Meta's retry rules no longer depend on `wait_until`: a 131056 waits 1, 4
//! and 16 s, a throttle or transient error one retry, each by setting the next attempt's time.
//! A send whose outcome is unknown is never resent blindly: the worker stopped while it was
//! leaving, or Meta's answer never came (no answer, a reset, a 5xx without Meta's code, a 2xx
//! without a message id). Each send carries its outbox key as `biz_opaque_callback_data`, which
//! Meta echoes in the message's status webhooks. A status for it means it went out (recorded as
//! sent); no status for a while (`UNCONFIRMED_SEND_RETRY_SECONDS`, counted from when the outcome
//! became unknown) means it never reached Meta, and it goes again. Mark-as-read gets no status
//! and is harmless to repeat: an interrupted one simply goes again.

use crate::ids::MessageId;
use crate::send::Outbound;
use crate::store::keys::ContactKey;
use crate::store::kv::{Kv, KvError};
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

pub const OUTBOX_PREFIX: &str = "o:";
const SEQUENCE_KEY: &str = "o#";

/// One pending send and where its retries stand.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Pending {
    pub outbound: Outbound,
    /// When it may go (pacing and back-offs move it later).
    pub due: UnixTime,
    #[serde(default)]
    pub pair_waits: u32,
    #[serde(default)]
    pub throttled: bool,
    #[serde(default)]
    pub transient_retried: bool,
    /// Marked before the request leaves: found still set, the send may have gone out.
    #[serde(default)]
    pub sending: bool,
    /// When it was marked as leaving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending_since: Option<UnixTime>,
    /// Found interrupted, and given Meta's statuses a full wait from then: statuses sent to a
    /// worker that was down arrive when it is back, so the wait counts from the authority's
    /// return, not from the interruption.
    #[serde(default)]
    pub awaiting_status: bool,
    /// How many times its outcome was unknown and it waited for Meta's status
    /// (`UNKNOWN_OUTCOME_WAITS` at most).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unknown_waits: u32,
}

/// A send whose outcome stays unknown this many times is recorded `unknown` and left: with the
/// default wait, Meta has been unreachable for most of an hour, and a message that late no
/// longer answers what the person said.
pub const UNKNOWN_OUTCOME_WAITS: u32 = 10;

/// A mark-as-read found still leaving goes again this long after it left: longer than the
/// Graph API takes to answer, much shorter than a status wait (none ever comes for it).
pub const INTERRUPTED_RESEND: u64 = 30;

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What Meta echoes for a send of this outbox (`biz_opaque_callback_data`): the prefix says it
/// is wa-edge's, the rest is the item's key.
pub const CALLBACK_PREFIX: &str = "wa-edge:";

/// The outbox key a callback names, if it is one of ours.
pub fn key_of_callback(callback: &str) -> Option<String> {
    let seq = callback.strip_prefix(CALLBACK_PREFIX)?;
    // Since identities merge, keys carry their authority's tag: `{tag}-{seq}`.
    if let Some((tag, number)) = seq.split_once('-') {
        let ok = tag.len() == TAG_LEN
            && tag.bytes().all(|b| b.is_ascii_hexdigit())
            && number.len() == 20
            && number.bytes().all(|b| b.is_ascii_digit());
        return ok.then(|| format!("{OUTBOX_PREFIX}{seq}"));
    }
    seq.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| format!("{OUTBOX_PREFIX}{seq}"))
}

/// Adds sends to the outbox in order, each with the time it may go. Runs in the same commit as
/// the decision that made them.
/// Hex digits of the authority's key that prefix its outbox keys: a merge brings another
/// authority's sends (and the callbacks Meta echoes for them) without a clash.
pub const TAG_LEN: usize = 8;

pub fn tag_of(contact: &ContactKey) -> String {
    contact.0.chars().take(TAG_LEN).collect()
}

pub async fn enqueue<K: Kv>(
    local: &K,
    tag: &str,
    outbox: Vec<(Outbound, UnixTime)>,
) -> Result<(), KvError> {
    if outbox.is_empty() {
        return Ok(());
    }
    let mut seq: u64 = local
        .get(SEQUENCE_KEY)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for (mut outbound, due) in outbox {
        seq += 1;
        let key = item_key(tag, seq);
        outbound.callback = key
            .strip_prefix(OUTBOX_PREFIX)
            .map(|s| format!("{CALLBACK_PREFIX}{s}"));
        let item = Pending {
            outbound,
            due,
            pair_waits: 0,
            throttled: false,
            transient_retried: false,
            sending: false,
            sending_since: None,
            awaiting_status: false,
            unknown_waits: 0,
        };
        save(local, &key, &item).await?;
    }
    local.put(SEQUENCE_KEY, &seq.to_string(), None, None).await
}

fn item_key(tag: &str, seq: u64) -> String {
    format!("{OUTBOX_PREFIX}{tag}-{seq:020}")
}

pub async fn save<K: Kv>(local: &K, key: &str, item: &Pending) -> Result<(), KvError> {
    let value = crate::serde_ext::to_string(item);
    local.put(key, &value, None, None).await
}

/// One pending send by key.
pub async fn get<K: Kv>(local: &K, key: &str) -> Result<Option<Pending>, KvError> {
    Ok(local
        .get(key)
        .await?
        .and_then(|v| crate::serde_ext::from_str(&v).ok()))
}

/// Every pending send, oldest first. An unreadable item is left out (`load_all` names it): it
/// cannot be sent, and it must not block the others.
pub async fn load<K: Kv>(local: &K) -> Result<Vec<(String, Pending)>, KvError> {
    Ok(load_all(local).await?.0)
}

/// Every pending send, oldest first, and the keys of the items that cannot be read.
pub async fn load_all<K: Kv>(local: &K) -> Result<(Vec<(String, Pending)>, Vec<String>), KvError> {
    let page = local.list(OUTBOX_PREFIX, None).await?;
    let names: Vec<String> = page.keys.into_iter().map(|k| k.name).collect();
    let values = local.get_many(&names).await?;
    let mut items: Vec<(String, Pending)> = Vec::with_capacity(names.len());
    let mut unreadable = Vec::new();
    for (name, value) in names.into_iter().zip(values) {
        let Some(value) = value else { continue };
        match crate::serde_ext::from_str::<Pending>(&value) {
            Ok(item) => items.push((name, item)),
            Err(_) => unreadable.push(name),
        }
    }
    // Merged outboxes interleave by when each send is due, then by their order.
    items.sort_by(|(ka, a), (kb, b)| (a.due, ka).cmp(&(b.due, kb)));
    Ok((items, unreadable))
}

/// The outbox keys (and wamids) that `sent` statuses in a delivery confirm.
pub fn sent_statuses(events: &[crate::webhook::Event]) -> Vec<(String, MessageId)> {
    events
        .iter()
        .filter_map(|e| match e {
            crate::webhook::Event::Status { status, .. }
                if status.status == Some(crate::webhook::status::StatusKind::Sent) =>
            {
                let key = key_of_callback(status.biz_opaque_callback_data.as_deref()?)?;
                Some((key, status.id.clone()?))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_name_outbox_keys_and_nothing_else() {
        assert_eq!(
            key_of_callback("wa-edge:00000000000000000007"),
            Some("o:00000000000000000007".to_string())
        );
        assert_eq!(
            key_of_callback("wa-edge:0a1b2c3d-00000000000000000007"),
            Some("o:0a1b2c3d-00000000000000000007".to_string())
        );
        assert_eq!(key_of_callback("wa-edge:0a1b2c3d-7"), None);
        assert_eq!(key_of_callback("wa-edge:../x"), None);
        assert_eq!(key_of_callback("crm:123"), None);
    }
}
