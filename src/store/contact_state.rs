//! Per-contact sending state as stored under `c:{contact}:state`: the service window, pacing,
//! the default-reply cooldown and deliverability. The rules that read it live in `policy`
//! (window, pacing, cooldown, meta_errors, retention); reading and writing it is only here.

use crate::ids::PhoneNumberId;
use crate::store::keys::{self, ContactKey};
use crate::store::kv::{Kv, KvError};
use crate::store::Put;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct ContactState {
    /// The newest user message's own timestamp: it opens the 24-hour window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_inbound: Option<UnixTime>,
    /// The business number the contact last wrote to: replies go out from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<PhoneNumberId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sent: Option<UnixTime>,
    /// The pair-rate bucket (`policy::pacing`): when the person's next message would be "on
    /// time" if messages went out one per interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paced_until: Option<UnixTime>,
    /// Fingerprints of automatic texts queued in the last minute (`policy::coalesce`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<(String, UnixTime)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_default_reply: Option<UnixTime>,
    /// The inbound message (its key hash) the last automatic reply answered: a retried delivery
    /// of that message is answered as it was decided, not refused by its own pacing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply_for: Option<String>,
    /// Meta answered 131047 (window closed) at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_closed_at: Option<UnixTime>,
    /// Marketing templates sent through the send API in the last 24 hours
    /// (`policy::business`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marketing_sent: Vec<UnixTime>,
    /// Meta answered 131026 / 130403 (undeliverable, blocked): (code, time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undeliverable: Option<(i64, UnixTime)>,
}

impl ContactState {
    /// Unites the state of another id found to be the same person: the later of each time (the
    /// window, pacing, cooldown and marks hold for the person, whichever id they came by), the
    /// business number of the newer message, both sets of recent texts.
    pub fn merge(&mut self, other: &ContactState) {
        if other.last_inbound > self.last_inbound {
            self.phone_number_id = other
                .phone_number_id
                .clone()
                .or(self.phone_number_id.take());
            self.last_reply_for = other.last_reply_for.clone();
        }
        self.phone_number_id = self
            .phone_number_id
            .take()
            .or(other.phone_number_id.clone());
        self.last_inbound = self.last_inbound.max(other.last_inbound);
        self.last_sent = self.last_sent.max(other.last_sent);
        self.paced_until = self.paced_until.max(other.paced_until);
        self.last_default_reply = self.last_default_reply.max(other.last_default_reply);
        self.window_closed_at = self.window_closed_at.max(other.window_closed_at);
        self.undeliverable = self.undeliverable.max(other.undeliverable);
        for entry in &other.recent {
            if !self.recent.contains(entry) {
                self.recent.push(entry.clone());
            }
        }
        for at in &other.marketing_sent {
            if !self.marketing_sent.contains(at) {
                self.marketing_sent.push(*at);
            }
        }
        self.marketing_sent.sort();
    }
}

/// The stored state; an unreadable one only costs pacing history, so it starts afresh rather
/// than failing the request (unlike consent, which fails closed).
pub fn parse(value: Option<&str>) -> ContactState {
    value
        .and_then(|v| crate::serde_ext::from_str(v).ok())
        .unwrap_or_default()
}

pub async fn load<K: Kv>(kv: &K, contact: &ContactKey) -> Result<ContactState, KvError> {
    Ok(parse(
        kv.get(&keys::contact_state(contact)).await?.as_deref(),
    ))
}

/// The write of a contact's state; `expires` comes from `policy::retention`.
pub fn put(contact: &ContactKey, state: &ContactState, expires: UnixTime) -> Result<Put, KvError> {
    Put::json(keys::contact_state(contact), state, Some(expires), None)
}
