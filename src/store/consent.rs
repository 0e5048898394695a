//! The consent record as stored: the state in force and its ledger of evidence. It lives under
//! `consent:{contact}` with no expiry and survives erasure while an opt-out is in force. The rule
//! that orders changes is `policy::ledger`; reading and writing it is only here.

use crate::ids::MessageId;
use crate::store::keys::{self, ContactKey};
use crate::store::kv::{Kv, KvError};
use crate::store::Put;
use crate::time::UnixTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStatus {
    OptedIn,
    OptedOut,
    Unknown,
}
crate::json::string_enum!(ConsentStatus { OptedIn = "opted_in", OptedOut = "opted_out", Unknown = "unknown" });

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Marketing,
}
crate::json::string_enum!(Scope { All = "all", Marketing = "marketing" });

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Keyword,
    Button,
    UserPreferences,
    SendError,
    Admin,
    /// Two ids were found to be one person (`ConsentRecord::merge`).
    Link,
}
crate::json::string_enum!(Source { Keyword = "keyword", Button = "button", UserPreferences = "user_preferences", SendError = "send_error", Admin = "admin", Link = "link" });

/// One piece of evidence: who changed what, when, and because of which message.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentChange {
    pub status: ConsentStatus,
    pub scope: Scope,
    /// When the person acted (the event's own time), which orders changes.
    pub at: UnixTime,
    pub source: Source,
    pub message_id: Option<MessageId>,
    pub keyword: Option<String>,
    /// Free text for off-WhatsApp consent ("website checkbox, order 1234").
    pub evidence: Option<String>,
    /// False when a newer change already stood: kept as evidence, not applied.
    pub applied: bool,
}
crate::json::json_object!(ConsentChange {
    status: req,
    scope: req,
    at: req,
    source: req,
    message_id: skip,
    keyword: skip,
    evidence: skip,
    applied: req,
});

/// The suppression record: kept without TTL and through erasure, holding no message text and no
/// profile name, because an objection to direct marketing must be honoured indefinitely.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRecord {
    pub status: ConsentStatus,
    pub scope: Option<Scope>,
    pub updated_at: Option<UnixTime>,
    pub history: Vec<ConsentChange>,
}
crate::json::json_object!(ConsentRecord {
    status: req,
    scope: opt,
    updated_at: opt,
    history: req,
});

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
        Some(text) => crate::json::from_str(text).map_err(|_| KvError::Corrupt("consent")),
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
