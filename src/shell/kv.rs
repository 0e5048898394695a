//! Workers KV (workers-rs's `KvStore`) behind the core's `Kv` trait.

use crate::serde_ext::RawJson;
use crate::store::kv::{Kv, KvError, ListPage, ListedKey};
use crate::time::UnixTime;
use worker::KvStore;

pub const KV_BINDING: &str = "WHATSAPP_KV";
/// Bulk reads take at most this many keys per KV operation.
const KV_BULK_GET: usize = 100;

/// Workers KV behind the core's `Kv` trait (the 429 retry is `RetryRateLimited`'s).
pub struct WorkerKv<'a>(pub &'a KvStore);

/// KV's answer to a failed call: 429 is the one the core treats apart. The text is the
/// runtime's message, never a key or a value.
fn kv_error(e: worker::KvError) -> KvError {
    let text = match &e {
        worker::KvError::JavaScript(value) => super::error_text(value),
        worker::KvError::Serialization(_) => "KV value could not be encoded".to_string(),
        worker::KvError::InvalidKvStore(_) => "KV binding is not a KV namespace".to_string(),
    };
    if text.contains("429") || text.contains("Too Many Requests") {
        KvError::RateLimited
    } else {
        KvError::Unavailable(text.chars().take(200).collect())
    }
}

impl Kv for WorkerKv<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.0.get(key).text().await.map_err(kv_error)
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<RawJson>,
    ) -> Result<(), KvError> {
        let mut put = self.0.put(key, value).map_err(kv_error)?;
        if let Some(at) = expires {
            put = put.expiration(at.0);
        }
        if let Some(meta) = metadata {
            put = put.metadata(meta).map_err(kv_error)?;
        }
        put.execute().await.map_err(kv_error)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.0.delete(key).await.map_err(kv_error)
    }

    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage, KvError> {
        let mut list = self.0.list().prefix(prefix.to_string());
        if let Some(c) = cursor {
            list = list.cursor(c);
        }
        let page = list.execute().await.map_err(kv_error)?;
        let keys = page
            .keys
            .into_iter()
            .map(|k| ListedKey {
                name: k.name,
                expiration: k.expiration,
                metadata: k.metadata.as_ref().map(RawJson::from_value),
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
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(KV_BULK_GET) {
            let mut found = self.0.get_bulk(chunk).text().await.map_err(kv_error)?;
            out.extend(chunk.iter().map(|k| found.remove(k).flatten()));
        }
        Ok(out)
    }
}
