//! A Durable Object's storage behind the core's `Kv` trait (read through the authority's mirror,
//! `authority::mirror`).

use crate::store::kv::{Kv, KvError, ListPage, ListedKey, Write};
use crate::time::UnixTime;
use worker::js_sys;
use worker::wasm_bindgen::JsValue;

/// Durable Object storage behind the core's `Kv` trait. Its storage has no TTL or metadata, so
/// each value is stored with them (`{"v","e","m"}`): expired entries read as absent, and the
/// authority's alarm purges them.
pub(super) struct DoStore {
    pub(super) storage: worker::Storage,
    pub(super) now: UnixTime,
}

struct Stored {
    v: String,
    e: Option<u64>,
    m: Option<crate::json::RawJson>,
}
crate::json::json_object!(Stored {
    v: req,
    e: skip,
    m: skip,
});

/// A value as this storage keeps it, with its expiry and metadata.
fn encode(
    value: &str,
    expires: Option<UnixTime>,
    metadata: Option<crate::json::RawJson>,
) -> Result<String, KvError> {
    let stored = Stored {
        v: value.to_string(),
        e: expires.map(|e| e.0),
        m: metadata,
    };
    Ok(crate::json::to_string(&stored))
}

fn do_error(e: worker::Error) -> KvError {
    KvError::Unavailable(e.to_string().chars().take(200).collect())
}

impl DoStore {
    /// A stored value, expired or not.
    fn parse(raw: &JsValue) -> Option<Stored> {
        crate::json::from_str(&raw.as_string()?).ok()
    }

    /// A stored value that has not expired.
    fn decode(&self, raw: &JsValue) -> Option<Stored> {
        let stored = Self::parse(raw)?;
        match stored.e {
            Some(e) if e <= self.now.0 => None,
            _ => Some(stored),
        }
    }

    fn pairs(map: &js_sys::Map) -> Vec<(String, JsValue)> {
        let mut out = Vec::new();
        map.for_each(&mut |value, key| {
            if let Some(k) = key.as_string() {
                out.push((k, value));
            }
        });
        out
    }
}

impl Kv for DoStore {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let raw: Option<String> = self.storage.get(key).await.map_err(do_error)?;
        Ok(raw
            .map(JsValue::from)
            .and_then(|r| self.decode(&r))
            .map(|s| s.v))
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<crate::json::RawJson>,
    ) -> Result<(), KvError> {
        let text = encode(value, expires, metadata)?;
        self.storage.put(key, text).await.map_err(do_error)
    }

    /// One `put` of an object: Durable Object storage writes up to 128 keys atomically.
    async fn put_many(&self, puts: &[Write]) -> Result<(), KvError> {
        let object = js_sys::Object::new();
        for w in puts {
            let text = encode(&w.value, w.expires, w.metadata.clone())?;
            js_sys::Reflect::set(
                &object,
                &JsValue::from_str(&w.key),
                &JsValue::from_str(&text),
            )
            .map_err(|_| KvError::Corrupt("stored"))?;
        }
        self.storage
            .put_multiple_raw(object)
            .await
            .map_err(do_error)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.storage.delete(key).await.map(|_| ()).map_err(do_error)
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        for chunk in keys.chunks(crate::authority::store::MAX_BATCH) {
            let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
            self.storage
                .delete_multiple(chunk)
                .await
                .map_err(do_error)?;
        }
        Ok(())
    }

    async fn list(&self, prefix: &str, _cursor: Option<String>) -> Result<ListPage, KvError> {
        let options = worker::ListOptions::new().prefix(prefix);
        let map = self
            .storage
            .list_with_options(options)
            .await
            .map_err(do_error)?;
        let keys = Self::pairs(&map)
            .into_iter()
            .filter_map(|(name, raw)| {
                let stored = self.decode(&raw)?;
                Some(ListedKey {
                    name,
                    expiration: stored.e,
                    metadata: stored.m,
                })
            })
            .collect();
        Ok(ListPage { keys, cursor: None })
    }

    /// One listing: Durable Object storage lists values with their keys. Expired entries too,
    /// so that the purge finds them (every other read hides them).
    async fn entries(&self) -> Result<Vec<Write>, KvError> {
        let map = self.storage.list().await.map_err(do_error)?;
        Ok(Self::pairs(&map)
            .into_iter()
            .filter_map(|(key, raw)| {
                let stored = Self::parse(&raw)?;
                Some(Write {
                    key,
                    value: stored.v,
                    expires: stored.e.map(UnixTime),
                    metadata: stored.m,
                })
            })
            .collect())
    }

    /// Durable Object storage reads at most 128 keys per call.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, KvError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(crate::authority::store::MAX_BATCH) {
            let map = self
                .storage
                .get_multiple(chunk.iter().map(String::as_str).collect())
                .await
                .map_err(do_error)?;
            let found: std::collections::HashMap<String, JsValue> =
                Self::pairs(&map).into_iter().collect();
            out.extend(
                chunk
                    .iter()
                    .map(|k| found.get(k).and_then(|r| self.decode(r)).map(|s| s.v)),
            );
        }
        Ok(out)
    }
}
