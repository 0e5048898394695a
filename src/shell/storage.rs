//! A Durable Object's storage (workers-rs's `Storage`) behind the core's `Kv` trait, read
//! through the authority's mirror (`authority::mirror`).

use crate::authority::envelope::{self, Stored};
use crate::serde_ext::RawJson;
use crate::store::kv::{Kv, KvError, ListPage, ListedKey, Write};
use crate::time::UnixTime;
use worker::js_sys::{self, Map, Object, Reflect};
use worker::wasm_bindgen::JsValue;
use worker::{ListOptions, Storage};

/// Durable Object storage behind the core's `Kv` trait, each value in its envelope
/// (`authority::envelope`).
pub(super) struct DoStore<'a> {
    pub(super) storage: &'a Storage,
    pub(super) now: UnixTime,
}

/// Durable Object storage takes at most this many keys per bulk call.
const MAX_BATCH: usize = crate::authority::store::MAX_BATCH;

fn encode(value: &str, expires: Option<UnixTime>, metadata: Option<RawJson>) -> JsValue {
    JsValue::from_str(&envelope::encode(value, expires, metadata))
}

/// A stored entry, expired or not; `None` when there is none.
fn parse(raw: &JsValue) -> Option<Stored> {
    if raw.is_undefined() || raw.is_null() {
        return None;
    }
    Some(envelope::decode(raw.as_string().as_deref()))
}

/// A storage call that failed: its message (never a key or a value), shortened.
fn do_error(e: worker::Error) -> KvError {
    let text = match e {
        worker::Error::JsError(text) | worker::Error::RustError(text) => text,
        worker::Error::Internal(value) => super::error_text(&value),
        other => other.to_string(),
    };
    KvError::Unavailable(text.chars().take(200).collect())
}

fn pairs(map: &Map) -> Vec<(String, JsValue)> {
    let mut out = Vec::with_capacity(map.size() as usize);
    map.for_each(&mut |value, key| {
        if let Some(k) = key.as_string() {
            out.push((k, value));
        }
    });
    out
}

impl DoStore<'_> {
    /// A stored entry that has not expired.
    fn decode(&self, raw: &JsValue) -> Option<Stored> {
        parse(raw).filter(|stored| !stored.expired(self.now))
    }

    /// Sets the object's alarm to `at_ms` (Unix milliseconds).
    pub(super) async fn set_alarm(&self, at_ms: f64) -> Result<(), KvError> {
        let at = js_sys::Date::new(&JsValue::from_f64(at_ms));
        self.storage
            .set_alarm(worker::ScheduledTime::new(at))
            .await
            .map_err(do_error)
    }
}

impl Kv for DoStore<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let found = self
            .storage
            .get_multiple(vec![key])
            .await
            .map_err(do_error)?;
        Ok(self
            .decode(&found.get(&JsValue::from_str(key)))
            .map(|s| s.v))
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<RawJson>,
    ) -> Result<(), KvError> {
        self.storage
            .put_raw(key, encode(value, expires, metadata))
            .await
            .map_err(do_error)
    }

    /// One `put` of an object: Durable Object storage writes up to 128 keys atomically.
    async fn put_many(&self, puts: &[Write]) -> Result<(), KvError> {
        let object = Object::new();
        for w in puts {
            let value = encode(&w.value, w.expires, w.metadata.clone());
            Reflect::set(&object, &JsValue::from_str(&w.key), &value)
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
        for chunk in keys.chunks(MAX_BATCH) {
            let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
            self.storage
                .delete_multiple(chunk)
                .await
                .map_err(do_error)?;
        }
        Ok(())
    }

    async fn list(&self, prefix: &str, _cursor: Option<String>) -> Result<ListPage, KvError> {
        let map = self
            .storage
            .list_with_options(ListOptions::new().prefix(prefix))
            .await
            .map_err(do_error)?;
        let keys = pairs(&map)
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
        Ok(pairs(&map)
            .into_iter()
            .filter_map(|(key, raw)| {
                let stored = parse(&raw)?;
                Some(Write {
                    key,
                    value: stored.v,
                    expires: stored.e.map(UnixTime),
                    metadata: stored.m,
                })
            })
            .collect())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, KvError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_BATCH) {
            let names: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let found = self.storage.get_multiple(names).await.map_err(do_error)?;
            out.extend(
                chunk
                    .iter()
                    .map(|k| self.decode(&found.get(&JsValue::from_str(k))).map(|s| s.v)),
            );
        }
        Ok(out)
    }
}
