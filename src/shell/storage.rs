//! A Durable Object's storage behind the core's `Kv` trait (read through the authority's mirror,
//! `authority::mirror`), called directly on the runtime's storage object: workers-rs's `Storage`
//! converts every value and option through serde-wasm-bindgen, which brought serde, its error
//! messages and float formatting into the module for values that are all strings here.

use crate::store::kv::{Kv, KvError, ListPage, ListedKey, Write};
use crate::time::UnixTime;
use js_sys::{self, Array, Object, Reflect};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

/// Durable Object storage behind the core's `Kv` trait. Its storage has no TTL or metadata, so
/// each value is stored with them (`{"v","e","m"}`): expired entries read as absent, and the
/// authority's alarm purges them.
pub(super) struct DoStore {
    /// The runtime's `DurableObjectStorage`.
    pub(super) storage: JsValue,
    pub(super) now: UnixTime,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    v: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<crate::serde_ext::RawJson>,
}

/// A value as this storage keeps it, with its expiry and metadata.
fn encode(
    value: &str,
    expires: Option<UnixTime>,
    metadata: Option<crate::serde_ext::RawJson>,
) -> Result<String, KvError> {
    let stored = Stored {
        v: value.to_string(),
        e: expires.map(|e| e.0),
        m: metadata,
    };
    Ok(crate::serde_ext::to_string(&stored))
}

/// A storage call that failed: its message (never a key or a value), shortened.
fn do_error(e: JsValue) -> KvError {
    let message = super::runtime::error_message(&e).unwrap_or_else(|| "storage call failed".into());
    KvError::Unavailable(message.chars().take(200).collect())
}

impl DoStore {
    /// Calls `storage.<method>(args...)` and awaits its promise.
    async fn call(&self, method: &str, args: &[&JsValue]) -> Result<JsValue, KvError> {
        super::runtime::call_method(&self.storage, method, args)
            .await
            .map_err(do_error)
    }

    /// Sets the object's alarm to `at_ms` (Unix milliseconds).
    pub(super) async fn set_alarm(&self, at_ms: f64) -> Result<(), KvError> {
        self.call("setAlarm", &[&JsValue::from_f64(at_ms)])
            .await
            .map(|_| ())
    }

    /// Keys as a JavaScript array (the bulk forms of get and delete).
    fn key_array(keys: &[String]) -> Array {
        keys.iter().map(|k| JsValue::from_str(k)).collect()
    }

    /// A stored value, expired or not.
    fn parse(raw: &JsValue) -> Option<Stored> {
        crate::serde_ext::from_str(&raw.as_string()?).ok()
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
        let raw = self.call("get", &[&JsValue::from_str(key)]).await?;
        Ok(self.decode(&raw).map(|s| s.v))
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<crate::serde_ext::RawJson>,
    ) -> Result<(), KvError> {
        let text = encode(value, expires, metadata)?;
        self.call("put", &[&JsValue::from_str(key), &JsValue::from_str(&text)])
            .await
            .map(|_| ())
    }

    /// One `put` of an object: Durable Object storage writes up to 128 keys atomically.
    async fn put_many(&self, puts: &[Write]) -> Result<(), KvError> {
        let object = Object::new();
        for w in puts {
            let text = encode(&w.value, w.expires, w.metadata.clone())?;
            Reflect::set(
                &object,
                &JsValue::from_str(&w.key),
                &JsValue::from_str(&text),
            )
            .map_err(|_| KvError::Corrupt("stored"))?;
        }
        self.call("put", &[&object]).await.map(|_| ())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.call("delete", &[&JsValue::from_str(key)])
            .await
            .map(|_| ())
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        for chunk in keys.chunks(crate::authority::store::MAX_BATCH) {
            self.call("delete", &[&Self::key_array(chunk)]).await?;
        }
        Ok(())
    }

    async fn list(&self, prefix: &str, _cursor: Option<String>) -> Result<ListPage, KvError> {
        let options = Object::new();
        Reflect::set(
            &options,
            &JsValue::from_str("prefix"),
            &JsValue::from_str(prefix),
        )
        .map_err(do_error)?;
        let map: js_sys::Map = self.call("list", &[&options]).await?.unchecked_into();
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
        let map: js_sys::Map = self.call("list", &[]).await?.unchecked_into();
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
            let map: js_sys::Map = self
                .call("get", &[&Self::key_array(chunk)])
                .await?
                .unchecked_into();
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
