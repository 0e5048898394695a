//! The storage the core works against: Workers KV in the shell, `MemoryKv` in native tests.

use crate::time::UnixTime;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// KV answered 429: the key was written less than a second ago.
    RateLimited,
    /// Anything else: KV down, timeout, quota. The request fails so Meta retries.
    Unavailable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListedKey {
    pub name: String,
    pub expiration: Option<u64>,
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListPage {
    pub keys: Vec<ListedKey>,
    /// `Some` while more keys may follow (a page can be empty and still not complete).
    pub cursor: Option<String>,
}

/// A key-value store with absolute expirations and list metadata, as KV has.
// The Workers runtime is single-threaded and its futures are !Send, so no Send bound is wanted.
#[allow(async_fn_in_trait)]
pub trait Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError>;
    /// `expires`: absolute time after which the key vanishes; `None` keeps it (consent only).
    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<serde_json::Value>,
    ) -> Result<(), KvError>;
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage, KvError>;
    /// Several keys at once; the shell reads them in bulk (100 per KV operation).
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, KvError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }
}

/// The most keys one listing walks (10 pages). Bounds every admin request's KV operations well
/// under the 1000-per-invocation limit.
pub const MAX_LISTED_KEYS: usize = 10_000;

/// Every key under `prefix`, following cursors, up to `MAX_LISTED_KEYS`.
pub async fn list_all(kv: &impl Kv, prefix: &str) -> Result<Vec<ListedKey>, KvError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = kv.list(prefix, cursor).await?;
        out.extend(page.keys);
        match page.cursor {
            Some(next) if out.len() < MAX_LISTED_KEYS => cursor = Some(next),
            _ => return Ok(out),
        }
    }
}

/// Counts of operations, for tests and the benchmark's per-request KV budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvOps {
    pub reads: u32,
    pub writes: u32,
    pub deletes: u32,
    pub lists: u32,
}

type Entry = (String, Option<UnixTime>, Option<serde_json::Value>);

/// In-memory KV for native tests: same semantics as the shell's (ordering, cursors, metadata).
#[derive(Default)]
pub struct MemoryKv {
    data: RefCell<BTreeMap<String, Entry>>,
    ops: Cell<KvOps>,
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

    fn count(&self, f: impl FnOnce(&mut KvOps)) -> Result<(), KvError> {
        let mut ops = self.ops.get();
        f(&mut ops);
        self.ops.set(ops);
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
        metadata: Option<serde_json::Value>,
    ) -> Result<(), KvError> {
        self.count(|o| o.writes += 1)?;
        self.data
            .borrow_mut()
            .insert(key.to_string(), (value.to_string(), expires, metadata));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.count(|o| o.deletes += 1)?;
        self.data.borrow_mut().remove(key);
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

/// Runs a future that never waits (MemoryKv's), for native tests and tools.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_pages_through_cursors_and_respects_prefix() {
        let kv = MemoryKv::with_page_size(2);
        for k in ["a:1", "a:2", "a:3", "b:1"] {
            block_on(kv.put(k, "v", None, None)).unwrap();
        }
        let all = block_on(list_all(&kv, "a:")).unwrap();
        let names: Vec<_> = all.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["a:1", "a:2", "a:3"]);
        assert_eq!(kv.ops().lists, 2);
    }

    #[test]
    fn down_store_fails_every_operation() {
        let kv = MemoryKv::new();
        kv.down.set(true);
        assert!(block_on(kv.get("x")).is_err());
        assert!(block_on(kv.put("x", "v", None, None)).is_err());
    }
}
