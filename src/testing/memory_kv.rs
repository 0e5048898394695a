//! In-memory KV with the shell's semantics (ordering, cursors, metadata, bulk reads as one
//! operation), operation counts, and failures injected on a chosen operation.

use crate::store::kv::{Kv, KvError, ListPage, ListedKey, Write};
use crate::time::UnixTime;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

/// Counts of operations, for tests and the benchmark's per-request KV budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvOps {
    pub reads: u32,
    pub writes: u32,
    pub deletes: u32,
    pub lists: u32,
}

impl KvOps {
    fn total(&self) -> u32 {
        self.reads + self.writes + self.deletes + self.lists
    }
}

type Entry = (String, Option<UnixTime>, Option<crate::serde_ext::RawJson>);

#[derive(Default)]
pub struct MemoryKv {
    data: RefCell<BTreeMap<String, Entry>>,
    ops: Cell<KvOps>,
    /// Operations started since the last `fail_nth` arming, and the failures armed by number.
    started: Cell<u32>,
    faults: RefCell<HashMap<u32, KvError>>,
    /// When set, every operation fails as if KV were down.
    pub down: Cell<bool>,
    page_size: usize,
}

impl MemoryKv {
    pub fn new() -> MemoryKv {
        MemoryKv {
            page_size: 1000,
            ..Default::default()
        }
    }

    /// A store that pages listings every `n` keys, to exercise cursors.
    pub fn with_page_size(n: usize) -> MemoryKv {
        MemoryKv {
            page_size: n.max(1),
            ..Default::default()
        }
    }

    /// The `n`th operation from now (1-based, any kind, a bulk read counting once) fails with
    /// `error` and changes nothing. Arming several numbers before any operation fails several.
    pub fn fail_nth(&self, n: u32, error: KvError) {
        if self.faults.borrow().is_empty() {
            self.started.set(0);
        }
        self.faults.borrow_mut().insert(n, error);
    }

    pub fn ops(&self) -> KvOps {
        self.ops.get()
    }

    pub fn reset_ops(&self) {
        self.ops.set(KvOps::default());
    }

    pub fn keys(&self) -> Vec<String> {
        self.data.borrow().keys().cloned().collect()
    }

    pub fn entry(&self, key: &str) -> Option<Entry> {
        self.data.borrow().get(key).cloned()
    }

    /// Replaces a stored value as-is (to plant an unreadable record).
    pub fn plant(&self, key: &str, value: &str) {
        self.data
            .borrow_mut()
            .insert(key.to_string(), (value.to_string(), None, None));
    }

    fn count(&self, f: impl FnOnce(&mut KvOps)) -> Result<(), KvError> {
        let mut ops = self.ops.get();
        f(&mut ops);
        debug_assert!(ops.total() > 0);
        self.ops.set(ops);
        let n = self.started.get() + 1;
        self.started.set(n);
        if let Some(error) = self.faults.borrow_mut().remove(&n) {
            return Err(error);
        }
        if self.down.get() {
            return Err(KvError::Unavailable("memory kv is down".into()));
        }
        Ok(())
    }
}

impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.count(|o| o.reads += 1)?;
        Ok(self.data.borrow().get(key).map(|(v, _, _)| v.clone()))
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<crate::serde_ext::RawJson>,
    ) -> Result<(), KvError> {
        self.count(|o| o.writes += 1)?;
        self.data
            .borrow_mut()
            .insert(key.to_string(), (value.to_string(), expires, metadata));
        Ok(())
    }

    /// One operation, atomic: a failure writes nothing.
    async fn put_many(&self, puts: &[Write]) -> Result<(), KvError> {
        self.count(|o| o.writes += 1)?;
        let mut data = self.data.borrow_mut();
        for w in puts {
            data.insert(
                w.key.clone(),
                (w.value.clone(), w.expires, w.metadata.clone()),
            );
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.count(|o| o.deletes += 1)?;
        self.data.borrow_mut().remove(key);
        Ok(())
    }

    /// One operation, as Durable Object storage's is (the only store asked to delete in bulk).
    async fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        self.count(|o| o.deletes += 1)?;
        let mut data = self.data.borrow_mut();
        for key in keys {
            data.remove(key);
        }
        Ok(())
    }

    /// One operation, as KV's bulk get is (up to 100 keys).
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, KvError> {
        self.count(|o| o.reads += keys.len().div_ceil(100) as u32)?;
        let data = self.data.borrow();
        Ok(keys
            .iter()
            .map(|k| data.get(k).map(|(v, _, _)| v.clone()))
            .collect())
    }

    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage, KvError> {
        self.count(|o| o.lists += 1)?;
        let data = self.data.borrow();
        let start = cursor.unwrap_or_else(|| prefix.to_string());
        let mut keys: Vec<ListedKey> = data
            .range(start.clone()..)
            .filter(|(k, _)| **k != start || k.as_str() == prefix)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(self.page_size + 1)
            .map(|(k, (_, exp, meta))| ListedKey {
                name: k.clone(),
                expiration: exp.map(|e| e.0),
                metadata: meta.clone(),
            })
            .collect();
        let cursor = if keys.len() > self.page_size {
            keys.truncate(self.page_size);
            keys.last().map(|k| k.name.clone())
        } else {
            None
        };
        Ok(ListPage { keys, cursor })
    }
}
