//! The person's store inside their authority (a Durable Object): every read and write of their
//! state goes to the object's own storage, which serves one request at a time. What other systems
//! read from KV (message and status records, the consent view, account signals) is also queued,
//! in the same storage and the same commit, and flushed to KV after it: nothing decided can be
//! lost between the authority's commit and KV, and KV stays the retained store and lookup view.

use crate::ids::WaId;
use crate::store::consent;
use crate::store::keys::ContactKey;
use crate::store::keys::{kind_of, KeyKind};
use crate::store::kv::{Kv, KvError, ListPage, ListedKey, Write};
use crate::store::{write_together, Put};
use crate::time::UnixTime;
use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet};

/// Queued KV writes live under this prefix in the authority's storage until flushed.
pub const QUEUE_PREFIX: &str = "q:";
/// The most queued writes flushed in one go: far under a Worker's 1000 operations.
pub const MAX_FLUSH: usize = 200;

/// Where a key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Home {
    /// The authority only: dedupe markers, the contact's sending state.
    Local,
    /// Both: the authority decides with it, KV shows it (consent).
    Both,
    /// KV only, through the queue: records and account signals.
    View,
}

fn home(key: &str) -> Home {
    match kind_of(key) {
        KeyKind::Consent => Home::Both,
        KeyKind::AccountSignal | KeyKind::ContactRecord => Home::View,
        KeyKind::ContactState | KeyKind::Dedupe | KeyKind::Other => Home::Local,
    }
}

/// `local` is the authority's storage; `view` holds what was asked of other objects before any
/// decision (the numbers' pauses, by pause key), so deciding never waits on anything but this
/// storage, which would let another request in between.
pub struct AuthorityKv<'a, S: Kv> {
    pub local: &'a S,
    pub view: HashMap<String, Option<String>>,
}

impl<'a, S: Kv> AuthorityKv<'a, S> {
    /// For writes that need no pause: recording outcomes, consent from the admin API.
    pub fn new(local: &'a S) -> AuthorityKv<'a, S> {
        AuthorityKv {
            local,
            view: HashMap::new(),
        }
    }
}

impl<S: Kv> Kv for AuthorityKv<'_, S> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        match home(key) {
            // A view key not read beforehand is unknown here: no decision reads one (fail closed
            // would be wrong for a pause, so the caller reads every pause it needs up front).
            Home::View => Ok(self.view.get(key).cloned().flatten()),
            _ => self.local.get(key).await,
        }
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, KvError> {
        let local: Vec<String> = keys
            .iter()
            .filter(|k| home(k) != Home::View)
            .cloned()
            .collect();
        let values = self.local.get_many(&local).await?;
        let mut found: HashMap<&str, Option<String>> =
            local.iter().map(String::as_str).zip(values).collect();
        Ok(keys
            .iter()
            .map(|k| match home(k) {
                Home::View => self.view.get(k).cloned().flatten(),
                _ => found.remove(k.as_str()).flatten(),
            })
            .collect())
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<crate::serde_ext::RawJson>,
    ) -> Result<(), KvError> {
        let home = home(key);
        if home != Home::View {
            self.local.put(key, value, expires, None).await?;
        }
        if home != Home::Local {
            let queued = [QUEUE_PREFIX, key].concat();
            self.local.put(&queued, value, expires, metadata).await?;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.local.delete(key).await
    }

    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage, KvError> {
        self.local.list(prefix, cursor).await
    }
}

/// A request's writes to the authority's storage, held and committed together in one atomic
/// write at the end: a request that fails anywhere changes nothing, so its retry decides afresh.
/// Reads see the request's own writes first.
pub struct Batch<'a, S: Kv> {
    local: &'a S,
    /// `None`: deleted by this request.
    writes: RefCell<BTreeMap<String, Option<Write>>>,
}

impl<'a, S: Kv> Batch<'a, S> {
    pub fn new(local: &'a S) -> Batch<'a, S> {
        Batch {
            local,
            writes: RefCell::new(BTreeMap::new()),
        }
    }

    /// Writes everything at once (in chunks of the storage's limit, markers of a huge delivery
    /// in the last), then the deletions.
    pub async fn commit(self) -> Result<(), KvError> {
        let writes = self.writes.into_inner();
        let (puts, deletes): (Vec<_>, Vec<_>) = writes.into_iter().partition(|(_, w)| w.is_some());
        let mut puts: Vec<Write> = puts.into_iter().filter_map(|(_, w)| w).collect();
        // Dedupe markers last: a chunked commit that fails part-way leaves the message unmarked.
        puts.sort_by_key(|w| kind_of(&w.key) == KeyKind::Dedupe);
        for chunk in puts.chunks(MAX_BATCH) {
            self.local.put_many(chunk).await?;
        }
        let deletes: Vec<String> = deletes.into_iter().map(|(key, _)| key).collect();
        if !deletes.is_empty() {
            self.local.delete_many(&deletes).await?;
        }
        Ok(())
    }
}

/// Durable Object storage writes at most 128 keys atomically.
pub const MAX_BATCH: usize = 128;

impl<S: Kv> Kv for Batch<'_, S> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        if let Some(w) = self.writes.borrow().get(key) {
            return Ok(w.as_ref().map(|w| w.value.clone()));
        }
        self.local.get(key).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, KvError> {
        let stored = self.local.get_many(keys).await?;
        let writes = self.writes.borrow();
        Ok(keys
            .iter()
            .zip(stored)
            .map(|(k, v)| match writes.get(k) {
                Some(w) => w.as_ref().map(|w| w.value.clone()),
                None => v,
            })
            .collect())
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<crate::serde_ext::RawJson>,
    ) -> Result<(), KvError> {
        let write = Write {
            key: key.to_string(),
            value: value.to_string(),
            expires,
            metadata,
        };
        self.writes
            .borrow_mut()
            .insert(key.to_string(), Some(write));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.writes.borrow_mut().insert(key.to_string(), None);
        Ok(())
    }

    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage, KvError> {
        let mut page = self.local.list(prefix, cursor).await?;
        let writes = self.writes.borrow();
        page.keys.retain(|k| !writes.contains_key(&k.name));
        for (key, w) in writes.range::<str, _>((
            std::ops::Bound::Included(prefix),
            std::ops::Bound::Unbounded,
        )) {
            if !key.starts_with(prefix) {
                break;
            }
            if let Some(w) = w {
                page.keys.push(ListedKey {
                    name: key.clone(),
                    expiration: w.expires.map(|e| e.0),
                    metadata: w.metadata.clone(),
                });
            }
        }
        page.keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(page)
    }
}

/// Writes queued records to KV and removes them from the queue; returns whether the queue is
/// empty. A failure leaves the rest queued for the next flush (the authority's alarm). Consent
/// is written under each of the person's `linked` ids too, so a lookup by any of them reads it.
pub async fn flush<S: Kv, V: Kv>(
    local: &S,
    view: &V,
    linked: &BTreeSet<ContactKey>,
    ids: &[WaId],
) -> Result<bool, KvError> {
    let page = local.list(QUEUE_PREFIX, None).await?;
    let names: Vec<String> = page
        .keys
        .iter()
        .take(MAX_FLUSH)
        .map(|k| k.name.clone())
        .collect();
    let values = local.get_many(&names).await?;
    // Independent keys: written together, as a delivery's are (`store::write_together`). The
    // metadata was a `RecordMeta` when queued.
    let mut puts: Vec<Put> = names
        .iter()
        .zip(values)
        .zip(page.keys.iter())
        .filter_map(|((name, value), listed)| {
            Some(Put {
                key: name.strip_prefix(QUEUE_PREFIX)?.to_string(),
                value: value?,
                expires: listed.expiration.map(UnixTime),
                meta: listed
                    .metadata
                    .clone()
                    .and_then(|m| crate::serde_ext::from_str(m.as_str()).ok()),
            })
        })
        .collect();
    // The KV view of consent names the person's ids; each linked id's copy is marked as one, so
    // the console counts the person once.
    for p in puts
        .iter_mut()
        .filter(|p| kind_of(&p.key) == KeyKind::Consent)
    {
        p.value = consent::with_ids(&p.value, ids);
    }
    let views: Vec<Put> = puts
        .iter()
        .filter(|p| kind_of(&p.key) == KeyKind::Consent)
        .flat_map(|p| {
            let meta = p.meta.clone().map(|mut m| {
                if let Some(listed) = m.c.as_mut() {
                    listed.alias = true;
                }
                m
            });
            linked.iter().map(move |alias| Put {
                key: crate::store::keys::consent(alias),
                value: p.value.clone(),
                expires: p.expires,
                meta: meta.clone(),
            })
        })
        .collect();
    puts.extend(views);
    write_together(view, &puts).await?;
    if !names.is_empty() {
        local.delete_many(&names).await?;
    }
    Ok(page.cursor.is_none() && page.keys.len() <= MAX_FLUSH)
}

/// Deletes what has expired (the authority's storage has no TTL of its own); returns the next
/// expiry, when the authority should wake to purge again. It reads `entries`, not a listing:
/// listings and reads hide what has expired, so a purge through them would find nothing.
pub async fn purge_expired<S: Kv>(local: &S, now: UnixTime) -> Result<Option<UnixTime>, KvError> {
    let mut next: Option<UnixTime> = None;
    let mut expired = Vec::new();
    for entry in local.entries().await? {
        match entry.expires {
            Some(at) if at <= now => expired.push(entry.key),
            Some(at) => next = Some(next.map_or(at, |n| n.min(at))),
            None => {}
        }
    }
    if !expired.is_empty() {
        local.delete_many(&expired).await?;
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde_ext::RawJson;
    use crate::testing::{block_on, MemoryKv};

    #[test]
    fn keys_go_where_they_belong_and_the_queue_flushes_to_kv() {
        let local = MemoryKv::new();
        let kv = MemoryKv::new();
        let a = AuthorityKv {
            local: &local,
            view: HashMap::new(),
        };
        let t = Some(UnixTime(2_000));
        block_on(a.put("d:m:abc", "1", t, None)).unwrap();
        block_on(a.put("c:x:state", "{}", t, None)).unwrap();
        block_on(a.put("consent:x", "{\"status\":\"opted_out\"}", None, None)).unwrap();
        block_on(a.put(
            "c:x:m:1",
            "{\"text\":\"hi\"}",
            t,
            RawJson::parse(r#"{"t":1}"#),
        ))
        .unwrap();
        assert!(local.entry("d:m:abc").is_some() && local.entry("c:x:state").is_some());
        assert!(
            local.entry("consent:x").is_some(),
            "the authority decides with consent"
        );
        assert!(
            local.entry("c:x:m:1").is_none(),
            "message text is only queued"
        );
        assert!(block_on(flush(&local, &kv, &BTreeSet::new(), &[])).unwrap());
        assert_eq!(
            kv.keys(),
            vec!["c:x:m:1".to_string(), "consent:x".to_string()]
        );
        assert_eq!(kv.entry("c:x:m:1").and_then(|e| e.1), t, "with its TTL");
        assert!(local.keys().iter().all(|k| !k.starts_with(QUEUE_PREFIX)));
    }

    #[test]
    fn expired_entries_are_purged_and_the_next_expiry_returned() {
        let local = MemoryKv::new();
        block_on(local.put("d:m:old", "1", Some(UnixTime(10)), None)).unwrap();
        block_on(local.put("d:m:new", "1", Some(UnixTime(50)), None)).unwrap();
        block_on(local.put("consent:x", "{}", None, None)).unwrap();
        let next = block_on(purge_expired(&local, UnixTime(20))).unwrap();
        assert_eq!(next, Some(UnixTime(50)));
        assert_eq!(
            local.keys(),
            vec!["consent:x".to_string(), "d:m:new".to_string()]
        );
    }
}
