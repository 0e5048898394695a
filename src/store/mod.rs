//! Everything kept in Workers KV: the key layout (`keys`), the shape of each record, and the one
//! place that reads and writes each kind. Nothing above this folder builds a key or parses a
//! stored value itself.

pub mod account;
pub mod consent;
pub mod contact_state;
pub mod guards;
pub mod keys;
pub mod kv;
pub mod records;
pub mod templates;

use crate::serde_ext::RawJson;
use crate::time::UnixTime;
use kv::{Kv, KvError};
use serde::{Deserialize, Serialize};

/// The metadata stored beside a record, which a listing returns without reading the value:
/// when it happened, and for messages and statuses which way and which status.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordMeta {
    /// The event's own time: history and account signals sort by it.
    pub t: u64,
    /// `in` or `out` on message records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    /// The status name on status records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<String>,
    /// On consent records: what the console counts and charts (`consent::ListedConsent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<consent::ListedConsent>,
}

impl RecordMeta {
    pub fn at(at: UnixTime) -> RecordMeta {
        RecordMeta {
            t: at.0,
            ..Default::default()
        }
    }

    pub fn message(at: UnixTime, direction: records::Direction) -> RecordMeta {
        let d = match direction {
            records::Direction::Inbound => "in",
            records::Direction::Outbound => "out",
        };
        RecordMeta {
            t: at.0,
            d: Some(d.into()),
            ..Default::default()
        }
    }

    pub fn status(at: UnixTime, status: &str) -> RecordMeta {
        RecordMeta {
            t: at.0,
            s: Some(status.into()),
            ..Default::default()
        }
    }

    /// The time of a listed key; keys written without metadata sort first.
    pub fn time_of(metadata: Option<&crate::serde_ext::RawJson>) -> u64 {
        metadata
            .and_then(|m| crate::serde_ext::from_str::<RecordMeta>(m.as_str()).ok())
            .map_or(0, |m| m.t)
    }
}

/// One write: key, encoded value, absolute expiry (`None` only for suppressions and pauses).
#[derive(Debug, Clone, PartialEq)]
pub struct Put {
    pub key: String,
    pub value: String,
    pub expires: Option<UnixTime>,
    pub meta: Option<RecordMeta>,
}

impl Put {
    /// Encodes `value`; a value that cannot be encoded is a store error, not a silent skip.
    pub fn json(
        key: String,
        value: &impl serde::Serialize,
        expires: Option<UnixTime>,
        meta: Option<RecordMeta>,
    ) -> Result<Put, KvError> {
        let value =
            serde_json::to_string(value).map_err(|_| KvError::Corrupt("unwritable record"))?;
        Ok(Put {
            key,
            value,
            expires,
            meta,
        })
    }
}

/// Writes a group of independent keys together (one round trip's wait instead of one each);
/// the caller orders the groups, e.g. dedupe markers only after everything else succeeded.
pub async fn write_together<K: Kv>(kv: &K, puts: &[Put]) -> Result<(), KvError> {
    let writes = puts.iter().map(|p| {
        let meta = p.meta.as_ref().map(RawJson::from_value);
        kv.put(&p.key, &p.value, p.expires, meta)
    });
    futures_util::future::join_all(writes)
        .await
        .into_iter()
        .collect()
}

/// Writes one record.
pub async fn write<K: Kv>(kv: &K, put: &Put) -> Result<(), KvError> {
    write_together(kv, std::slice::from_ref(put)).await
}
