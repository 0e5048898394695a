//! How an authority's storage keeps each value: Durable Object storage has no TTL or metadata,
//! so a value is stored with them (`{"v","e","m"}`); expired entries read as absent, and the
//! authority's alarm purges them.

use crate::serde_ext::RawJson;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub v: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<RawJson>,
}

/// What an entry that cannot be decoded reads as: a value no record's reader accepts, so that a
/// consent record in it fails closed (no send) instead of reading as absent ("no opt-out").
pub const UNREADABLE: &str = "\u{0}unreadable stored value";

/// A value as the storage keeps it, with its expiry and metadata.
pub fn encode(value: &str, expires: Option<UnixTime>, metadata: Option<RawJson>) -> String {
    crate::serde_ext::to_string(&Stored {
        v: value.to_string(),
        e: expires.map(|e| e.0),
        m: metadata,
    })
}

/// An entry that is there, expired or not, from its text (`None`: a value that is not text).
/// One that cannot be decoded is kept as `UNREADABLE`, never dropped.
pub fn decode(text: Option<&str>) -> Stored {
    text.and_then(|t| crate::serde_ext::from_str::<Stored>(t).ok())
        .unwrap_or_else(|| Stored {
            v: UNREADABLE.to_string(),
            e: None,
            m: None,
        })
}

impl Stored {
    /// Whether it has expired by `now` (it then reads as absent).
    pub fn expired(&self, now: UnixTime) -> bool {
        self.e.is_some_and(|e| e <= now.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_reads_back_with_its_expiry_and_metadata() {
        let meta = RawJson::parse(r#"{"at":5}"#);
        let text = encode("{\"a\":1}", Some(UnixTime(9)), meta.clone());
        assert_eq!(text, r#"{"v":"{\"a\":1}","e":9,"m":{"at":5}}"#);
        let stored = decode(Some(&text));
        assert_eq!(
            (stored.v.as_str(), stored.e, stored.m),
            ("{\"a\":1}", Some(9), meta)
        );
        assert!(decode(Some(&text)).expired(UnixTime(9)));
        assert!(!decode(Some(r#"{"v":"x"}"#)).expired(UnixTime(u64::MAX)));
    }

    #[test]
    fn an_entry_that_cannot_be_decoded_is_unreadable_never_absent() {
        for broken in [
            None,
            Some(""),
            Some("{\"v\":"),
            Some("{\"e\":1}"),
            Some("7"),
        ] {
            let stored = decode(broken);
            assert_eq!(stored.v, UNREADABLE, "{broken:?}");
            assert!(!stored.expired(UnixTime(u64::MAX)));
            // No record reads it: a consent record here fails closed.
            assert!(crate::store::consent::parse(Some(&stored.v)).is_err());
        }
    }
}
