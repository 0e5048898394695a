//! The write plan of one delivery: every key it reads comes from one bulk read, each contact's
//! consent and state is loaded once and written once, and the writes go out in two groups:
//! everything the delivery changes, then the dedupe markers. A failure before the markers leaves
//! nothing marked done, so Meta's retry redoes the work; records have deterministic keys, so
//! redoing it stores nothing twice.

use crate::context::Ctx;
use crate::ids::PhoneNumberId;
use crate::send::Outbound;
use crate::store::consent::{self, ConsentRecord};
use crate::store::contact_state::{self, ContactState};
use crate::store::keys::{self, ContactKey};
use crate::store::kv::{Kv, KvError};
use crate::store::{write_together, Put};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::{HashMap, HashSet};

/// What a delivery amounted to: counts only, safe to log.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub stored: u32,
    pub duplicates: u32,
    pub replays: u32,
    pub ignored: u32,
    pub invalid: u32,
    pub consent_changes: u32,
    pub replies: u32,
}

impl Summary {
    /// Adds another part of the same delivery (one person's, from their authority).
    pub fn add(&mut self, other: &Summary) {
        self.stored += other.stored;
        self.duplicates += other.duplicates;
        self.replays += other.replays;
        self.ignored += other.ignored;
        self.invalid += other.invalid;
        self.consent_changes += other.consent_changes;
        self.replies += other.replies;
    }
}

/// A loaded record and whether the delivery changed it.
pub struct Loaded<T> {
    pub value: T,
    pub dirty: bool,
}

#[derive(Default)]
pub struct Plan {
    pub summary: Summary,
    pub records: Vec<Put>,
    pub markers: Vec<Put>,
    pub outbox: Vec<Outbound>,
    /// Record keys already handled in this delivery (a batch may repeat an item).
    pub seen: HashSet<String>,
    consent: BTreeMap<ContactKey, Loaded<ConsentRecord>>,
    states: BTreeMap<ContactKey, Loaded<ContactState>>,
    prefetched: HashMap<String, Option<String>>,
}

impl Plan {
    /// Reads every key the delivery will need in bulk (one KV operation per 100 keys).
    pub async fn prefetch<K: Kv>(&mut self, kv: &K, wanted: Vec<String>) -> Result<(), KvError> {
        let mut unique = HashSet::new();
        let wanted: Vec<String> = wanted
            .into_iter()
            .filter(|k| unique.insert(k.clone()))
            .collect();
        if !wanted.is_empty() {
            let values = kv.get_many(&wanted).await?;
            self.prefetched = wanted.into_iter().zip(values).collect();
        }
        Ok(())
    }

    async fn read<K: Kv>(&mut self, kv: &K, key: &str) -> Result<Option<String>, KvError> {
        if let Some(v) = self.prefetched.get(key) {
            return Ok(v.clone());
        }
        let v = kv.get(key).await?;
        self.prefetched.insert(key.to_string(), v.clone());
        Ok(v)
    }

    pub async fn is_marked<K: Kv>(&mut self, kv: &K, marker: &str) -> Result<bool, KvError> {
        Ok(self.read(kv, marker).await?.is_some())
    }

    pub async fn is_paused<K: Kv>(
        &mut self,
        ctx: &Ctx<'_, K>,
        phone_number_id: Option<&PhoneNumberId>,
    ) -> Result<bool, KvError> {
        let key = crate::store::account::pause_key(ctx.keys, phone_number_id);
        Ok(self.read(ctx.kv, &key).await?.is_some())
    }

    /// The contact's consent (read once per delivery). Unreadable consent fails the delivery.
    pub async fn consent<K: Kv>(
        &mut self,
        kv: &K,
        contact: &ContactKey,
    ) -> Result<&mut Loaded<ConsentRecord>, KvError> {
        if !self.consent.contains_key(contact) {
            let stored = self.read(kv, &keys::consent(contact)).await?;
            let value = consent::parse(stored.as_deref())?;
            self.consent.insert(
                contact.clone(),
                Loaded {
                    value,
                    dirty: false,
                },
            );
        }
        self.consent
            .get_mut(contact)
            .ok_or(KvError::Corrupt("consent cache"))
    }

    /// The contact's sending state (read once per delivery).
    pub async fn state<K: Kv>(
        &mut self,
        kv: &K,
        contact: &ContactKey,
    ) -> Result<&mut Loaded<ContactState>, KvError> {
        if !self.states.contains_key(contact) {
            let stored = self.read(kv, &keys::contact_state(contact)).await?;
            let value = contact_state::parse(stored.as_deref());
            self.states.insert(
                contact.clone(),
                Loaded {
                    value,
                    dirty: false,
                },
            );
        }
        self.states
            .get_mut(contact)
            .ok_or(KvError::Corrupt("contact state cache"))
    }

    /// Writes everything, markers last. Err means "answer 500": nothing was marked done.
    pub async fn commit<K: Kv>(
        self,
        ctx: &Ctx<'_, K>,
    ) -> Result<(Summary, Vec<Outbound>), KvError> {
        let mut effects = self.records;
        for (contact, state) in self.states.iter().filter(|(_, s)| s.dirty) {
            effects.push(ctx.state_put(contact, &state.value)?);
        }
        for (contact, record) in self.consent.iter().filter(|(_, r)| r.dirty) {
            effects.push(consent::put(contact, &record.value)?);
        }
        write_together(ctx.kv, &effects).await?;
        write_together(ctx.kv, &self.markers).await?;
        Ok((self.summary, self.outbox))
    }
}
