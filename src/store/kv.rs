//! The storage the core works against: Workers KV in the shell, `testing::MemoryKv` in native
//! tests. Everything above this trait reads and writes through `store`'s typed functions.

use crate::platform::Platform;
use crate::time::UnixTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// KV answered 429: the key was written less than a second ago (even after one retry).
    RateLimited,
    /// KV could not be reached or refused the operation: down, timeout, quota. The request
    /// fails so Meta retries. The text is the runtime's, without keys or values.
    Unavailable(String),
    /// A record is there but cannot be read (or a value cannot be written): what kind of record.
    /// Consent that cannot be read fails closed, never as "no objection".
    Corrupt(&'static str),
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::RateLimited => write!(f, "rate limited"),
            KvError::Unavailable(why) => write!(f, "unavailable: {why}"),
            KvError::Corrupt(what) => write!(f, "unreadable {what} record"),
        }
    }
}

/// One write of `put_many`.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub key: String,
    pub value: String,
    pub expires: Option<UnixTime>,
    pub metadata: Option<crate::serde_ext::RawJson>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListedKey {
    pub name: String,
    pub expiration: Option<u64>,
    pub metadata: Option<crate::serde_ext::RawJson>,
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
        metadata: Option<crate::serde_ext::RawJson>,
    ) -> Result<(), KvError>;
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    /// Several deletions; one operation where the store can (Durable Object storage deletes up
    /// to 128 keys in one call).
    async fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        for key in keys {
            self.delete(key).await?;
        }
        Ok(())
    }
    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage, KvError>;
    /// Several writes at once. Where the store can (a Durable Object's storage, `MemoryKv`) they
    /// are one atomic operation: all of them or none.
    async fn put_many(&self, puts: &[Write]) -> Result<(), KvError> {
        for w in puts {
            self.put(&w.key, &w.value, w.expires, w.metadata.clone())
                .await?;
        }
        Ok(())
    }

    /// Every entry with its value and expiry, expired ones included where the store still holds
    /// them (the authority's mirror loads its storage with it, and its purge finds what expired).
    /// A store that lists values with keys (Durable Object storage) does it in one operation.
    async fn entries(&self) -> Result<Vec<Write>, KvError> {
        // Every page, with no cap (unlike `list_all`): a copy missing entries would answer
        // "absent" for them.
        let mut listed = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.list("", cursor).await?;
            listed.extend(page.keys);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let names: Vec<String> = listed.iter().map(|k| k.name.clone()).collect();
        let values = self.get_many(&names).await?;
        Ok(listed
            .into_iter()
            .zip(values)
            .filter_map(|(k, value)| {
                Some(Write {
                    key: k.name,
                    value: value?,
                    expires: k.expiration.map(UnixTime),
                    metadata: k.metadata,
                })
            })
            .collect())
    }

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

/// KV allows one write per second per key; one retry after this long rides out a 429.
pub const RATE_LIMIT_BACKOFF_MS: u64 = 1100;

/// A store whose writes are retried once after a 429, waiting on the platform's timer. The shell
/// wraps Workers KV in it; reads, deletes and listings are passed through unchanged.
pub struct RetryRateLimited<'a, K: Kv, P: Platform> {
    pub kv: &'a K,
    pub platform: &'a P,
}

impl<K: Kv, P: Platform> Kv for RetryRateLimited<'_, K, P> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.kv.get(key).await
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<crate::serde_ext::RawJson>,
    ) -> Result<(), KvError> {
        match self.kv.put(key, value, expires, metadata.clone()).await {
            Err(KvError::RateLimited) => {
                self.platform.sleep(RATE_LIMIT_BACKOFF_MS).await;
                self.kv.put(key, value, expires, metadata).await
            }
            other => other,
        }
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.kv.delete(key).await
    }

    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage, KvError> {
        self.kv.list(prefix, cursor).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, KvError> {
        self.kv.get_many(keys).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{block_on, FakeGraph, MemoryKv};

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

    #[test]
    fn a_429_is_retried_once_after_1100_ms() {
        let kv = MemoryKv::new();
        let timer = FakeGraph::default();
        let retrying = RetryRateLimited {
            kv: &kv,
            platform: &timer,
        };
        kv.fail_nth(1, KvError::RateLimited);
        block_on(retrying.put("k", "v", None, None)).unwrap();
        assert_eq!(*timer.sleeps.borrow(), vec![1100]);
        assert_eq!(kv.entry("k").map(|e| e.0), Some("v".to_string()));
        // Two 429s in a row: the second is the caller's (the request answers 500, Meta retries).
        kv.fail_nth(1, KvError::RateLimited);
        kv.fail_nth(2, KvError::RateLimited);
        assert_eq!(
            block_on(retrying.put("k", "w", None, None)),
            Err(KvError::RateLimited)
        );
        assert_eq!(timer.sleeps.borrow().len(), 2);
        // Other failures are not retried.
        kv.fail_nth(1, KvError::Unavailable("down".into()));
        assert!(block_on(retrying.put("k", "x", None, None)).is_err());
        assert_eq!(timer.sleeps.borrow().len(), 2);
        assert_eq!(kv.entry("k").map(|e| e.0), Some("v".to_string()));
    }
}
