//! The consent record as stored: the state in force and its ledger of evidence. It lives under
//! `consent:{contact}` with no expiry and survives erasure while an opt-out is in force. The rule
//! that orders changes is `policy::ledger`; reading and writing it is only here.

use crate::ids::MessageId;
use crate::store::keys::{self, ContactKey};
use crate::store::kv::{Kv, KvError};
use crate::store::Put;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentStatus {
    #[serde(rename = "opted_in")]
    OptedIn,
    #[serde(rename = "opted_out")]
    OptedOut,
    #[serde(rename = "unknown")]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "all")]
    All,
    #[serde(rename = "marketing")]
    Marketing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    #[serde(rename = "keyword")]
    Keyword,
    #[serde(rename = "button")]
    Button,
    #[serde(rename = "user_preferences")]
    UserPreferences,
    #[serde(rename = "send_error")]
    SendError,
    #[serde(rename = "admin")]
    Admin,
    /// Two ids were found to be one person (`ConsentRecord::merge`).
    #[serde(rename = "link")]
    Link,
}

/// One piece of evidence: who changed what, when, and because of which message.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ConsentChange {
    pub status: ConsentStatus,
    pub scope: Scope,
    /// When the person acted (the event's own time), which orders changes.
    pub at: UnixTime,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Free text for off-WhatsApp consent ("website checkbox, order 1234").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// False when a newer change already stood: kept as evidence, not applied.
    pub applied: bool,
}

/// The suppression record: kept without TTL and through erasure, holding no message text and no
/// profile name, because an objection to direct marketing must be honoured indefinitely.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ConsentRecord {
    pub status: ConsentStatus,
    pub scope: Option<Scope>,
    pub updated_at: Option<UnixTime>,
    pub history: Vec<ConsentChange>,
}

impl Default for ConsentRecord {
    fn default() -> Self {
        ConsentRecord {
            status: ConsentStatus::Unknown,
            scope: None,
            updated_at: None,
            history: Vec::new(),
        }
    }
}

/// Reads one consent record. A record that does not parse fails closed (`Corrupt`): refusing to
/// guess keeps an opted-out contact from being messaged.
pub fn parse(value: Option<&str>) -> Result<ConsentRecord, KvError> {
    match value {
        None => Ok(ConsentRecord::default()),
        Some(text) => crate::serde_ext::from_str(text).map_err(|_| KvError::Corrupt("consent")),
    }
}

pub async fn load<K: Kv>(kv: &K, contact: &ContactKey) -> Result<ConsentRecord, KvError> {
    parse(kv.get(&keys::consent(contact)).await?.as_deref())
}

/// Many records in bulk reads, in the order asked.
pub async fn load_many<K: Kv>(
    kv: &K,
    contacts: &[ContactKey],
) -> Result<Vec<ConsentRecord>, KvError> {
    if contacts.is_empty() {
        // Nothing asked: no KV operation (an empty bulk read is still one, and a billed one).
        return Ok(Vec::new());
    }
    let wanted: Vec<String> = contacts.iter().map(keys::consent).collect();
    let values = kv.get_many(&wanted).await?;
    values.iter().map(|v| parse(v.as_deref())).collect()
}

/// The write of a consent record, with no expiry: a suppression lasts until the person opts
/// back in.
pub fn put(contact: &ContactKey, record: &ConsentRecord) -> Result<Put, KvError> {
    Put::json(keys::consent(contact), record, None, None)
}

pub async fn save<K: Kv>(
    kv: &K,
    contact: &ContactKey,
    record: &ConsentRecord,
) -> Result<(), KvError> {
    crate::store::write(kv, &put(contact, record)?).await
}

pub async fn delete<K: Kv>(kv: &K, contact: &ContactKey) -> Result<(), KvError> {
    kv.delete(&keys::consent(contact)).await
}
