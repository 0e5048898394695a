//! Workers KV behind the core's `Kv` trait.

use crate::store::kv::{Kv, KvError, ListPage, ListedKey};
use crate::time::UnixTime;

pub const KV_BINDING: &str = "WHATSAPP_KV";
/// Bulk reads take at most this many keys per KV operation.
const KV_BULK_GET: usize = 100;

/// Workers KV behind the core's `Kv` trait (the 429 retry is `RetryRateLimited`'s).
pub struct WorkerKv<'a>(pub &'a worker::kv::KvStore);

fn kv_error(e: worker::kv::KvError) -> KvError {
    let text = e.to_string();
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
        metadata: Option<serde_json::Value>,
    ) -> Result<(), KvError> {
        let mut builder = self.0.put(key, value).map_err(kv_error)?;
        if let Some(at) = expires {
            builder = builder.expiration(at.0);
        }
        if let Some(meta) = metadata {
            builder = builder.metadata(meta).map_err(kv_error)?;
        }
        builder.execute().await.map_err(kv_error)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.0.delete(key).await.map_err(kv_error)
    }

    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage, KvError> {
        let mut builder = self.0.list().prefix(prefix.to_string());
        if let Some(c) = cursor {
            builder = builder.cursor(c);
        }
        let page = builder.execute().await.map_err(kv_error)?;
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
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(KV_BULK_GET) {
            let found = self.0.get_bulk(chunk).text().await.map_err(kv_error)?;
            out.extend(chunk.iter().map(|k| found.get(k).cloned().flatten()));
        }
        Ok(out)
    }
}
