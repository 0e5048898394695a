//! One person, several ids. Every id Meta uses for a person (phone number, BSUID, parent BSUID)
//! names an authority (by its keyed hash). When ids are seen together, their authorities become
//! one: the one with the smallest key is the person's home, every other forwards to it. Forwards
//! only ever point to a smaller key, so chains end and two merges cannot cross.
//!
//! A merge moves a person from authority L to W in three steps, each atomic in its object:
//! `handover` (L forwards to W and hands over everything it holds, keeping a copy), `absorb` (W
//! unites it with its own: consent by `ConsentRecord::merge`, state by `ContactState::merge`,
//! markers, queued records and sends kept), `release` (L drops its copy). Until L is released,
//! every request that reaches L carries its copy on, so whoever comes next finishes the merge; W
//! refuses sends while a link it saw is not yet merged (fail closed). Links are keyed hashes; the
//! ids themselves sit in the home's record for the admin API, and go with an erasure.

use super::outbox::{self, Pending};
use super::store::{Batch, QUEUE_PREFIX};
use super::{Answer, Authorities, Host, SEEDED_KEY};
use crate::context::Ctx;
use crate::ids::{IdKind, WaId};
use crate::platform::Platform;
use crate::serde_ext::RawJson;
use crate::store::consent::{self, ConsentRecord};
use crate::store::contact_state;
use crate::store::keys::{kind_of, ContactKey, KeyKind};
use crate::store::kv::{list_all, Kv, KvError};
use crate::store::write as store_write;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where an authority keeps who it is.
pub const IDENTITY_KEY: &str = "identity";

#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct IdentityRecord {
    /// The person moved to this authority: every request goes there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<ContactKey>,
    /// Forwarded, and the copy handed over is dropped: nothing is left to carry on.
    #[serde(default)]
    pub released: bool,
    /// The keys of every other id of the person (their authorities forward here).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub linked: BTreeSet<ContactKey>,
    /// Ids seen with the person whose authorities are not merged yet: sends wait for them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub pending: BTreeSet<ContactKey>,
    /// The ids themselves, for the admin API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<WaId>,
    /// The phone number the person last wrote from (or changed to): automatic replies to them
    /// go there, with `to`, even when their message carried only a BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<WaId>,
}

impl IdentityRecord {
    /// Notes ids seen in a delivery; whether anything changed.
    pub fn note(&mut self, ids: &[WaId], phone: Option<&WaId>) -> bool {
        let before = (self.ids.len(), self.phone.clone());
        self.add_ids(ids);
        if let Some(phone) = phone.filter(|p| p.kind() == IdKind::Phone) {
            self.phone = Some(phone.clone());
        }
        before != (self.ids.len(), self.phone.clone())
    }

    /// Adds ids not known yet, in the order seen.
    fn add_ids(&mut self, ids: &[WaId]) {
        for id in ids {
            if !self.ids.contains(id) {
                self.ids.push(id.clone());
            }
        }
    }

    /// Keys among `ids` that are neither this authority nor linked to it.
    pub fn missing(&self, me: &ContactKey, ids: &[ContactKey]) -> Vec<ContactKey> {
        ids.iter()
            .filter(|k| *k != me && !self.linked.contains(*k))
            .cloned()
            .collect()
    }

    /// Unites another authority's record (merged from `from`) with this one.
    pub fn absorb(&mut self, from: &ContactKey, other: &IdentityRecord) {
        self.linked.insert(from.clone());
        self.linked.extend(other.linked.iter().cloned());
        self.pending.extend(other.pending.iter().cloned());
        let linked = &self.linked;
        self.pending.retain(|k| !linked.contains(k));
        self.add_ids(&other.ids);
        if self.phone.is_none() {
            self.phone = other.phone.clone();
        }
    }
}

pub async fn load<K: Kv>(local: &K) -> Result<IdentityRecord, KvError> {
    match local.get(IDENTITY_KEY).await? {
        None => Ok(IdentityRecord::default()),
        // Unreadable links fail closed: the request errs, nothing is decided without them.
        Some(v) => crate::serde_ext::from_str(&v).map_err(|_| KvError::Corrupt("identity")),
    }
}

pub async fn save<K: Kv>(local: &K, record: &IdentityRecord) -> Result<(), KvError> {
    let value = crate::serde_ext::to_string(record);
    local.put(IDENTITY_KEY, &value, None, None).await
}

/// One stored key of an authority, as handed over.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<UnixTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<RawJson>,
}

/// Everything an authority held for the person when it handed them over.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct Export {
    pub identity: IdentityRecord,
    pub entries: Vec<Entry>,
}

impl<S: Kv, V: Kv, G: Platform, A: Authorities> Host<'_, S, V, G, A> {
    /// A person who moved: where to, with the copy to carry on while it is kept.
    pub(super) async fn forwarded(&self) -> Result<Option<Answer>, KvError> {
        let record = load(self.local).await?;
        let Some(to) = record.forward.clone() else {
            return Ok(None);
        };
        let export = if record.released {
            None
        } else {
            Some(self.export(record).await?)
        };
        Ok(Some(Answer::Moved { to, export }))
    }

    async fn export(&self, identity: IdentityRecord) -> Result<Export, KvError> {
        let listed: Vec<_> = list_all(self.local, "")
            .await?
            .into_iter()
            .filter(|k| k.name != IDENTITY_KEY && k.name != SEEDED_KEY)
            .collect();
        let names: Vec<String> = listed.iter().map(|k| k.name.clone()).collect();
        let values = self.local.get_many(&names).await?;
        let entries = listed
            .into_iter()
            .zip(values)
            .filter_map(|(k, v)| {
                Some(Entry {
                    key: k.name,
                    value: v?,
                    expires: k.expiration.map(UnixTime),
                    metadata: k.metadata,
                })
            })
            .collect();
        Ok(Export { identity, entries })
    }

    /// Step 1 at the authority that moves: forward to `to`, hand everything over (its KV records
    /// read first, so nothing kept there before the authority existed is left behind).
    pub(super) async fn handover(&self, to: ContactKey, now: UnixTime) -> Result<Answer, KvError> {
        if let Some(moved) = self.forwarded().await? {
            return Ok(moved);
        }
        if to >= self.contact {
            // Forwards only point down; anything else is a caller's mistake, and refused.
            return Err(KvError::Corrupt("handover to a larger key"));
        }
        // A send the alarm is making right now would be made again by the home, which cannot
        // know how it ended: the handover waits for it (the caller's retry, Meta's).
        let in_flight = outbox::load(self.local)
            .await?
            .iter()
            .any(|(_, item)| item.sending && !item.awaiting_status);
        if in_flight {
            return Err(KvError::Unavailable(
                "a send is in flight; try again".into(),
            ));
        }
        self.seed(now).await?;
        let mut record = load(self.local).await?;
        record.forward = Some(to.clone());
        record.released = false;
        save(self.local, &record).await?;
        let export = self.export(record).await?;
        Ok(Answer::Moved {
            to,
            export: Some(export),
        })
    }

    /// Step 2 at the home: unite what `from` handed over with what is here, in one commit.
    /// Idempotent: a repeat changes nothing more.
    pub(super) async fn absorb(
        &self,
        from: ContactKey,
        export: Export,
        now: UnixTime,
    ) -> Result<Answer, KvError> {
        if let Some(moved) = self.forwarded().await? {
            return Ok(moved);
        }
        self.seed(now).await?;
        let batch = Batch::new(self.local);
        let mut identity = load(&batch).await?;
        identity.absorb(&from, &export.identity);
        let ctx = Ctx::new(&batch, self.keys, self.config, now).for_person(self.contact.clone());
        let mut record = consent::load(&batch, &self.contact).await?;
        let before = record.clone();
        let mut state = contact_state::load(&batch, &self.contact).await?;
        let state_before = state.clone();
        let tag = outbox::tag_of(&from);
        for entry in export.entries {
            match kind_of(&entry.key) {
                KeyKind::Consent => record.merge(&consent::parse(Some(&entry.value))?),
                KeyKind::ContactState => state.merge(&contact_state::parse(Some(&entry.value))),
                _ if entry.key.starts_with(outbox::OUTBOX_PREFIX) => {
                    // Legacy keys without a tag get the tag of the authority they came from.
                    let key = match entry.key.strip_prefix(outbox::OUTBOX_PREFIX) {
                        Some(rest) if !rest.contains('-') => {
                            format!("{}{tag}-{rest}", outbox::OUTBOX_PREFIX)
                        }
                        _ => entry.key.clone(),
                    };
                    if batch.get(&key).await?.is_none() {
                        if let Ok(item) = crate::serde_ext::from_str::<Pending>(&entry.value) {
                            outbox::save(&batch, &key, &item).await?;
                        }
                    }
                }
                KeyKind::Dedupe | KeyKind::ContactRecord | KeyKind::AccountSignal
                    if batch.get(&entry.key).await?.is_none() =>
                {
                    batch
                        .put(&entry.key, &entry.value, entry.expires, entry.metadata)
                        .await?;
                }
                _ if entry.key.starts_with(QUEUE_PREFIX) => {
                    batch
                        .put(&entry.key, &entry.value, entry.expires, entry.metadata)
                        .await?;
                }
                _ => {}
            }
        }
        // Saved even when unchanged: the KV view under every linked id is written from it
        // (`store::flush`), and the linked ids have just changed.
        if record != before || record != ConsentRecord::default() {
            let akv = super::store::AuthorityKv::new(&batch);
            consent::save(&akv, &self.contact, &record).await?;
        }
        if state != state_before {
            store_write(&batch, &ctx.state_put(&self.contact, &state)?).await?;
        }
        save(&batch, &identity).await?;
        batch.commit().await?;
        Ok(Answer::Absorbed)
    }

    /// Step 3 at the authority that moved: its copy goes; the forward stays.
    pub(super) async fn release(&self) -> Result<Answer, KvError> {
        let mut record = load(self.local).await?;
        if record.forward.is_none() || record.released {
            return Ok(Answer::Absorbed);
        }
        for key in list_all(self.local, "").await? {
            if key.name != IDENTITY_KEY {
                self.local.delete(&key.name).await?;
            }
        }
        record.released = true;
        // What identifies the person now lives at the home only.
        record.ids.clear();
        record.phone = None;
        record.linked.clear();
        record.pending.clear();
        save(self.local, &record).await?;
        Ok(Answer::Absorbed)
    }

    /// Records ids a delivery shows; those not linked here yet are pending, and the delivery
    /// waits for them (`Unlinked`) so nothing is decided on half a person.
    pub(super) async fn check_links(&self, ids: &[ContactKey]) -> Result<Option<Answer>, KvError> {
        let mut record = load(self.local).await?;
        let missing = record.missing(&self.contact, ids);
        if missing.is_empty() {
            return Ok(None);
        }
        record.pending.extend(missing.iter().cloned());
        save(self.local, &record).await?;
        Ok(Some(Answer::Unlinked { missing }))
    }
}

/// The phone number the person's newest message came from, or changed to.
pub fn latest_phone(events: &[crate::webhook::Event]) -> Option<WaId> {
    events
        .iter()
        .filter_map(|e| match e {
            crate::webhook::Event::Message { message, .. } => {
                let changed = message.system.as_ref().and_then(|s| s.wa_id.clone());
                changed.or(message.from.clone())
            }
            _ => None,
        })
        .rfind(|id| id.kind() == IdKind::Phone)
}
