//! Workers KV behind the core's `Kv` trait, called directly on the binding.
//!
//! workers-rs's `KvStore` builds each call's options with serde-wasm-bindgen (a crossing into
//! JavaScript per field) and reads a listing back the same way; here an option object is two or
//! three property sets, metadata crosses as one JSON text, and a listing comes back as one JSON
//! text that `json` reads in wasm.

use super::runtime::{Env, Method};
use crate::store::kv::{Kv, KvError, ListPage, ListedKey};
use crate::time::UnixTime;
use js_sys::{self, Array, Object, Reflect};
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};

pub const KV_BINDING: &str = "WHATSAPP_KV";
/// Bulk reads take at most this many keys per KV operation.
const KV_BULK_GET: usize = 100;

/// The KV binding's methods, looked up once per isolate (`shell::bindings`).
pub struct KvBinding {
    get: Method,
    put: Method,
    delete: Method,
    list: Method,
}

impl KvBinding {
    /// The binding named `name` in `env`, if it is there and has KV's methods.
    pub fn from_env(env: &Env, name: &str) -> Option<KvBinding> {
        let this = env.binding(name)?;
        Some(KvBinding {
            get: Method::of(&this, "get")?,
            put: Method::of(&this, "put")?,
            delete: Method::of(&this, "delete")?,
            list: Method::of(&this, "list")?,
        })
    }
}

/// Workers KV behind the core's `Kv` trait (the 429 retry is `RetryRateLimited`'s).
pub struct WorkerKv<'a>(pub &'a KvBinding);

/// KV's answer to a failed call: 429 is the one the core treats apart. The text is the
/// runtime's message, never a key or a value.
fn kv_error(e: JsValue) -> KvError {
    let text = super::runtime::error_message(&e).unwrap_or_else(|| "KV call failed".to_string());
    if text.contains("429") || text.contains("Too Many Requests") {
        KvError::RateLimited
    } else {
        KvError::Unavailable(text.chars().take(200).collect())
    }
}

/// Awaits a call's promise.
async fn settle(call: Result<JsValue, JsValue>) -> Result<JsValue, KvError> {
    super::runtime::settle(call.map_err(kv_error)?)
        .await
        .map_err(kv_error)
}

fn set(object: &Object, key: &str, value: &JsValue) -> Result<(), KvError> {
    Reflect::set(object, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(kv_error)
}

/// A listing as KV answers it (the fields the core uses).
#[derive(Deserialize)]
struct Listing {
    keys: Vec<ListedName>,
    #[serde(default)]
    list_complete: bool,
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct ListedName {
    name: String,
    expiration: Option<u64>,
    metadata: Option<RawJson>,
}

impl Kv for WorkerKv<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let kv = self.0;
        let call = kv
            .get
            .call2(&JsValue::from_str(key), &JsValue::from_str("text"));
        Ok(settle(call).await?.as_string())
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<crate::serde_ext::RawJson>,
    ) -> Result<(), KvError> {
        let kv = self.0;
        let options = Object::new();
        if let Some(at) = expires {
            set(&options, "expiration", &JsValue::from_f64(at.0 as f64))?;
        }
        if let Some(meta) = metadata {
            let meta = js_sys::JSON::parse(meta.as_str()).map_err(kv_error)?;
            set(&options, "metadata", &meta)?;
        }
        let call = kv
            .put
            .call3(&JsValue::from_str(key), &JsValue::from_str(value), &options);
        settle(call).await.map(|_| ())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        let kv = self.0;
        let call = kv.delete.call1(&JsValue::from_str(key));
        settle(call).await.map(|_| ())
    }

    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage, KvError> {
        let kv = self.0;
        let options = Object::new();
        set(&options, "prefix", &JsValue::from_str(prefix))?;
        if let Some(c) = cursor {
            set(&options, "cursor", &JsValue::from_str(&c))?;
        }
        let page = settle(kv.list.call1(&options)).await?;
        let text: String = js_sys::JSON::stringify(&page).map_err(kv_error)?.into();
        let page: Listing =
            crate::serde_ext::from_str(&text).map_err(|_| KvError::Corrupt("KV listing"))?;
        let keys = page
            .keys
            .into_iter()
            .map(|k| ListedKey {
                name: k.name,
                expiration: k.expiration,
                metadata: k.metadata,
            })
            .collect();
        Ok(ListPage {
            keys,
            cursor: if page.list_complete {
                None
            } else {
                page.cursor
            },
        })
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, KvError> {
        let kv = self.0;
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(KV_BULK_GET) {
            let names: Array = chunk.iter().map(|k| JsValue::from_str(k)).collect();
            let call = kv.get.call2(&names, &JsValue::from_str("text"));
            let found: js_sys::Map = settle(call).await?.unchecked_into();
            out.extend(
                chunk
                    .iter()
                    .map(|k| found.get(&JsValue::from_str(k)).as_string()),
            );
        }
        Ok(out)
    }
}
