//! An authority's storage, mirrored in the object's memory.
//!
//! A Durable Object is the only reader and writer of its own storage, so what it wrote is what
//! the storage holds: the object can keep a copy and answer its reads from memory. In wasm every
//! storage call is a crossing into JavaScript, a promise and a decode, and a request made about a
//! dozen reads (identity, consent, state, markers, the queue, the outbox); with the mirror it
//! makes none on a warm object, and one listing the first time the object is used. Writes still
//! go to the storage first, so durability is the storage's: the mirror only changes what reads
//! cost. A write that fails drops the mirror (the storage's truth is read again next time).

use crate::store::kv::{Kv, KvError, ListPage, ListedKey, Write};
use crate::time::UnixTime;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// The copy, owned by the object for its lifetime; empty until a request first needs it.
#[derive(Default)]
pub struct Mirror {
    entries: RefCell<Option<BTreeMap<String, Write>>>,
    /// Counts writes and drops: a load that saw a write land while it read the storage (it cannot
    /// under Durable Objects' input gates, but the mirror does not rely on them) is not kept.
    epoch: Cell<u64>,
}

impl Mirror {
    /// Whether the next read is served from memory.
    pub fn is_loaded(&self) -> bool {
        self.entries.borrow().is_some()
    }

    /// After a write to the storage: the same `change` to the copy if the storage took it, else
    /// the copy is dropped (what the storage holds is read again next time).
    fn follow(
        &self,
        written: Result<(), KvError>,
        change: impl FnOnce(&mut BTreeMap<String, Write>),
    ) -> Result<(), KvError> {
        self.epoch.set(self.epoch.get() + 1);
        let mut entries = self.entries.borrow_mut();
        match (&written, entries.as_mut()) {
            (Err(_), _) => *entries = None,
            (Ok(()), Some(copy)) => change(copy),
            (Ok(()), None) => {}
        }
        written
    }
}

/// The storage `inner` read through `mirror` at time `now` (expired entries read as absent, as
/// the storage adapter reads them).
pub struct Mirrored<'a, S: Kv> {
    pub inner: &'a S,
    pub mirror: &'a Mirror,
    pub now: UnixTime,
}

impl<S: Kv> Mirrored<'_, S> {
    /// Fills the mirror from the storage on first use: every entry, in one listing where the
    /// storage can (`Kv::entries`).
    async fn load(&self) -> Result<(), KvError> {
        if self.mirror.is_loaded() {
            return Ok(());
        }
        let epoch = self.mirror.epoch.get();
        let all = self.inner.entries().await?;
        if self.mirror.epoch.get() == epoch && !self.mirror.is_loaded() {
            let copy = all.into_iter().map(|w| (w.key.clone(), w)).collect();
            *self.mirror.entries.borrow_mut() = Some(copy);
        }
        Ok(())
    }

    /// A key's value in the copy, unless it has expired.
    fn value_in(&self, copy: &BTreeMap<String, Write>, key: &str) -> Option<String> {
        copy.get(key)
            .filter(|w| self.live(w))
            .map(|w| w.value.clone())
    }

    fn live(&self, w: &Write) -> bool {
        w.expires.is_none_or(|e| e > self.now)
    }

    /// Reads from memory, loading first; `None` when the copy was dropped while loading, and
    /// the caller then reads the storage itself.
    async fn read<T>(
        &self,
        f: impl FnOnce(&BTreeMap<String, Write>) -> T,
    ) -> Result<Option<T>, KvError> {
        self.load().await?;
        Ok(self.mirror.entries.borrow().as_ref().map(f))
    }
}

impl<S: Kv> Kv for Mirrored<'_, S> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let found = self.read(|m| self.value_in(m, key)).await?;
        match found {
            Some(value) => Ok(value),
            None => self.inner.get(key).await,
        }
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, KvError> {
        let found = self
            .read(|m| keys.iter().map(|k| self.value_in(m, k)).collect())
            .await?;
        match found {
            Some(values) => Ok(values),
            None => self.inner.get_many(keys).await,
        }
    }

    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage, KvError> {
        let found = self
            .read(|m| {
                m.range::<str, _>((
                    std::ops::Bound::Included(prefix),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(k, _)| k.starts_with(prefix))
                .filter(|(_, w)| self.live(w))
                .map(|(k, w)| ListedKey {
                    name: k.clone(),
                    expiration: w.expires.map(|e| e.0),
                    metadata: w.metadata.clone(),
                })
                .collect()
            })
            .await?;
        match found {
            Some(keys) => Ok(ListPage { keys, cursor: None }),
            None => self.inner.list(prefix, cursor).await,
        }
    }

    /// Expired entries too, as the storage's own `entries` (for the purge).
    async fn entries(&self) -> Result<Vec<Write>, KvError> {
        let found = self.read(|m| m.values().cloned().collect()).await?;
        match found {
            Some(all) => Ok(all),
            None => self.inner.entries().await,
        }
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<crate::serde_ext::RawJson>,
    ) -> Result<(), KvError> {
        let written = self.inner.put(key, value, expires, metadata.clone()).await;
        self.mirror.follow(written, |m| {
            let write = Write {
                key: key.to_string(),
                value: value.to_string(),
                expires,
                metadata,
            };
            m.insert(key.to_string(), write);
        })
    }

    async fn put_many(&self, puts: &[Write]) -> Result<(), KvError> {
        let written = self.inner.put_many(puts).await;
        self.mirror.follow(written, |m| {
            for w in puts {
                m.insert(w.key.clone(), w.clone());
            }
        })
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        let written = self.inner.delete(key).await;
        self.mirror.follow(written, |m| {
            m.remove(key);
        })
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        let written = self.inner.delete_many(keys).await;
        self.mirror.follow(written, |m| {
            for key in keys {
                m.remove(key);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde_ext::RawJson;
    use crate::testing::{block_on, MemoryKv};

    fn mirrored<'a>(inner: &'a MemoryKv, mirror: &'a Mirror, now: u64) -> Mirrored<'a, MemoryKv> {
        Mirrored {
            inner,
            mirror,
            now: UnixTime(now),
        }
    }

    #[test]
    fn a_warm_object_reads_nothing_from_its_storage() {
        let storage = MemoryKv::new();
        block_on(storage.put("consent:x", "{}", None, None)).unwrap();
        block_on(storage.put("d:m:1", "1", Some(UnixTime(500)), None)).unwrap();
        let mirror = Mirror::default();
        storage.reset_ops();
        let local = mirrored(&storage, &mirror, 100);
        assert_eq!(
            block_on(local.get("consent:x")).unwrap().as_deref(),
            Some("{}")
        );
        let loaded = storage.ops();
        assert!(
            loaded.lists + loaded.reads > 0,
            "the first read loads the copy"
        );
        // Every later read of any kind, in this request or the next, comes from memory.
        let next = mirrored(&storage, &mirror, 101);
        let keys = ["d:m:1".to_string(), "c:x:state".to_string()];
        assert_eq!(
            block_on(next.get_many(&keys)).unwrap(),
            vec![Some("1".to_string()), None]
        );
        assert_eq!(block_on(next.list("d:", None)).unwrap().keys.len(), 1);
        assert_eq!(block_on(next.get("who")).unwrap(), None);
        assert_eq!(storage.ops(), loaded, "no storage operation after the load");
    }

    #[test]
    fn writes_reach_the_storage_and_the_copy() {
        let storage = MemoryKv::new();
        let mirror = Mirror::default();
        let local = mirrored(&storage, &mirror, 100);
        assert_eq!(block_on(local.get("a")).unwrap(), None);
        block_on(local.put("a", "1", None, None)).unwrap();
        let many = [
            Write {
                key: "b".into(),
                value: "2".into(),
                expires: Some(UnixTime(150)),
                metadata: RawJson::parse(r#"{"t": 1}"#),
            },
            Write {
                key: "c".into(),
                value: "3".into(),
                expires: None,
                metadata: None,
            },
        ];
        block_on(local.put_many(&many)).unwrap();
        block_on(local.delete("c")).unwrap();
        assert_eq!(storage.keys(), vec!["a".to_string(), "b".to_string()]);
        block_on(local.put("d", "4", None, None)).unwrap();
        block_on(local.put("e", "5", None, None)).unwrap();
        block_on(local.delete_many(&["d".to_string(), "e".to_string()])).unwrap();
        assert_eq!(storage.keys(), vec!["a".to_string(), "b".to_string()]);
        assert_eq!(block_on(local.get("e")).unwrap(), None);
        assert_eq!(block_on(local.get("a")).unwrap().as_deref(), Some("1"));
        assert_eq!(block_on(local.get("c")).unwrap(), None);
        let listed = block_on(local.list("", None)).unwrap().keys;
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].expiration, Some(150));
        assert_eq!(listed[1].metadata, RawJson::parse(r#"{"t": 1}"#));
        // Past its expiry an entry reads as absent, as the storage adapter reads it.
        let later = mirrored(&storage, &mirror, 150);
        assert_eq!(block_on(later.get("b")).unwrap(), None);
        assert_eq!(block_on(later.list("", None)).unwrap().keys.len(), 1);
    }

    #[test]
    fn what_expired_is_hidden_from_reads_and_still_purged_from_the_storage() {
        let storage = MemoryKv::new();
        block_on(storage.put("d:m:old", "1", Some(UnixTime(50)), None)).unwrap();
        block_on(storage.put("d:m:new", "1", Some(UnixTime(500)), None)).unwrap();
        let mirror = Mirror::default();
        let local = mirrored(&storage, &mirror, 100);
        assert_eq!(block_on(local.get("d:m:old")).unwrap(), None);
        assert_eq!(block_on(local.list("d:", None)).unwrap().keys.len(), 1);
        let next = block_on(crate::authority::store::purge_expired(
            &local,
            UnixTime(100),
        ));
        assert_eq!(next.unwrap(), Some(UnixTime(500)));
        assert_eq!(
            storage.keys(),
            vec!["d:m:new".to_string()],
            "gone from the storage"
        );
        assert_eq!(
            block_on(local.entries()).unwrap().len(),
            1,
            "and from the copy"
        );
    }

    #[test]
    fn a_failed_write_drops_the_copy_and_the_storage_is_read_again() {
        let storage = MemoryKv::new();
        block_on(storage.put("a", "1", None, None)).unwrap();
        let mirror = Mirror::default();
        let local = mirrored(&storage, &mirror, 100);
        assert_eq!(block_on(local.get("a")).unwrap().as_deref(), Some("1"));
        storage.fail_nth(1, KvError::Unavailable("down".into()));
        assert!(block_on(local.put("a", "2", None, None)).is_err());
        assert!(!mirror.is_loaded());
        assert_eq!(
            block_on(local.get("a")).unwrap().as_deref(),
            Some("1"),
            "what the storage kept, not what was attempted"
        );
        assert!(mirror.is_loaded());
    }

    #[test]
    fn an_unreadable_storage_is_an_error_not_an_empty_copy() {
        let storage = MemoryKv::new();
        block_on(storage.put("consent:x", "{}", None, None)).unwrap();
        let mirror = Mirror::default();
        let local = mirrored(&storage, &mirror, 100);
        storage.down.set(true);
        assert!(block_on(local.get("consent:x")).is_err());
        assert!(!mirror.is_loaded());
        storage.down.set(false);
        assert_eq!(
            block_on(local.get("consent:x")).unwrap().as_deref(),
            Some("{}")
        );
    }
}
