//! The consent record as stored: the state in force and its ledger of evidence. It lives under
//! `consent:{contact}` with no expiry and survives erasure while an opt-out is in force. The rule
//! that orders changes is `policy::ledger`; reading and writing it is only here.

use crate::ids::{MessageId, WaId};
use crate::store::keys::{self, ContactKey};
use crate::store::kv::{Kv, KvError};
use crate::store::{Put, RecordMeta};
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
    /// The person's ids, in the KV view only (`with_ids`), for the console and the export: the
    /// authority keeps them in its identity record, and a suppression must name whom it
    /// protects to be honoured by a CRM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<WaId>,
}

impl Default for ConsentRecord {
    fn default() -> Self {
        ConsentRecord {
            status: ConsentStatus::Unknown,
            scope: None,
            updated_at: None,
            history: Vec::new(),
            ids: Vec::new(),
        }
    }
}

/// The changes per day the console charts: 30 days, and one more so the oldest day is whole.
pub const LISTED_DAYS: u64 = 31;
/// The most recent changes a listing carries per record: KV metadata holds 1,024 bytes, and a
/// person who changes their mind more often than this in a month is charted up to it.
pub const LISTED_CHANGES: usize = 16;

/// What a consent record's KV listing shows without reading the record: the console counts
/// people and charts changes from one listing of `consent:`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct ListedConsent {
    /// The state in force: `in`, `out` (of everything), `marketing` (out of marketing), `unknown`.
    pub c: String,
    /// A linked id's copy of the home's record: the person is counted once, at home.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alias: bool,
    /// The applied changes of the last `LISTED_DAYS`, oldest first: their time and state word.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r: Vec<(u64, String)>,
}

/// The word a state is listed and counted under.
pub fn state_word(status: ConsentStatus, scope: Option<Scope>) -> &'static str {
    match (status, scope) {
        (ConsentStatus::OptedIn, _) => "in",
        (ConsentStatus::OptedOut, Some(Scope::Marketing)) => "marketing",
        (ConsentStatus::OptedOut, _) => "out",
        (ConsentStatus::Unknown, _) => "unknown",
    }
}

impl ListedConsent {
    /// The listing of `record`, its recent changes counted back from its newest.
    pub fn of(record: &ConsentRecord) -> ListedConsent {
        let newest = record.history.iter().map(|c| c.at.0).max().unwrap_or(0);
        let since = newest.saturating_sub(LISTED_DAYS * crate::policy::retention::DAY);
        let mut recent: Vec<(u64, String)> = record
            .history
            .iter()
            // Links are not a person's act: they are not charted.
            .filter(|c| c.applied && c.source != Source::Link && c.at.0 >= since)
            .map(|c| (c.at.0, state_word(c.status, Some(c.scope)).to_string()))
            .collect();
        recent.sort();
        let skip = recent.len().saturating_sub(LISTED_CHANGES);
        ListedConsent {
            c: state_word(record.status, record.scope).to_string(),
            alias: false,
            r: recent.into_iter().skip(skip).collect(),
        }
    }
}

/// The KV view's value of a record the authority wrote: the same, with the person's ids.
pub fn with_ids(value: &str, ids: &[WaId]) -> String {
    match crate::serde_ext::from_str::<ConsentRecord>(value) {
        Ok(mut record) if !ids.is_empty() => {
            record.ids = ids.to_vec();
            serde_json::to_string(&record).unwrap_or_else(|_| value.to_string())
        }
        _ => value.to_string(),
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
    let listed = RecordMeta {
        t: record.updated_at.map_or(0, |t| t.0),
        c: Some(ListedConsent::of(record)),
        ..Default::default()
    };
    Put::json(keys::consent(contact), record, None, Some(listed))
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
