//! One authority per person: a Durable Object (hosted by the shell) that takes every decision
//! that reads then writes a person's state, one request at a time: dedupe of their messages, the
//! consent ledger, the window, pacing, the cooldown, undeliverable marks, and their outbox. This
//! module is the whole of its logic, plain Rust over two `Kv`s (its own storage and Workers KV)
//! and the `Platform`; the shell only adapts Durable Object storage and alarms to it.
//!
//! The rule that keeps it one-at-a-time: a request reads what it needs from KV first (number
//! pauses, and the person's records on first use), then reads, decides and writes only its own
//! storage (which lets no other request in between), and only then talks to KV or Meta again.

pub mod envelope;
pub mod identity;
pub mod mirror;
pub mod number;
pub mod outbox;
mod protocol;
pub mod resolve;
pub mod route;
mod sending;
pub mod stop;
pub mod store;

use crate::config::Config;
use crate::context::Ctx;
use crate::delivery::ingest;
use crate::ids::{IdKind, MessageId, WaId};
use crate::platform::{apart, Platform};
use crate::send::{record_outcome, Purpose, SendOutcome};
use crate::store::consent::{self, ConsentChange, ConsentStatus};
use crate::store::contact_state;
use crate::store::keys::{self, ContactKey, KeyScheme};
use crate::store::kv::{Kv, KvError};
use crate::store::write as store_write;
use crate::time::UnixTime;
use crate::webhook::identity::ids_of;
pub use number::NumberView;
pub use protocol::{Answer, Authorities, Op, SendAnswer};
use std::collections::HashMap;
use store::{AuthorityKv, Batch};

/// Marks that the person's records were read from KV once (state kept before the authority
/// existed, or consent recorded elsewhere).
pub(crate) const SEEDED_KEY: &str = "seeded";
/// A request leaves retention to the alarm, which runs at least this often after a request.
pub const PURGE_CHECK: u64 = crate::policy::retention::DAY;
/// An opt-in confirmation waits this long, so a STOP sent with or just after a START wins
/// without a contradictory "subscribed again" going out first.
pub const OPT_IN_CONFIRMATION_GRACE: u64 = 2;

/// One person's authority: its storage, Workers KV, the Graph API, and who it is.
pub struct Host<'a, S: Kv, V: Kv, G: Platform, A: Authorities> {
    pub local: &'a S,
    pub kv: &'a V,
    pub graph: &'a G,
    /// The other authorities: the numbers' (their pauses).
    pub authorities: &'a A,
    /// What this isolate learnt from numbers' authorities (`number`).
    pub numbers: &'a NumberView,
    pub config: &'a Config,
    pub keys: &'a KeyScheme,
    pub contact: ContactKey,
}

impl<S: Kv, V: Kv, G: Platform, A: Authorities> Host<'_, S, V, G, A> {
    /// Handles one request; returns the answer and when the authority should wake (its alarm).
    pub async fn handle(
        &self,
        op: Op,
        now: UnixTime,
    ) -> Result<(Answer, Option<UnixTime>), KvError> {
        if let Some(answer) = self.number_op(&op, now).await? {
            return Ok((answer, None));
        }
        if let Some(answer) = self.stop_op(&op, now).await? {
            return Ok((answer, None));
        }
        // A person who moved is served at their home; merges and erasure act here.
        let here = matches!(
            op,
            Op::Handover { .. } | Op::Release | Op::Erase | Op::Absorb { .. }
        );
        if !here {
            if let Some(moved) = self.forwarded().await? {
                return Ok((moved, None));
            }
        }
        // Each kind of request in a function of its own (`apart`): a delivery compiles only its
        // own code on an object's first request.
        let answer = match op {
            Op::Deliver { body, ids } => match self.check_links(&ids).await? {
                Some(unlinked) => unlinked,
                None => apart(self.deliver(&body, now)).await?,
            },
            Op::Handover { to } => return Ok((apart(self.handover(to, now)).await?, None)),
            Op::Absorb { from, export } => apart(self.absorb(from, export, now)).await?,
            Op::Release => return Ok((apart(self.release()).await?, None)),
            Op::Identity => {
                let record = identity::load(self.local).await?;
                Answer::Identity {
                    linked: record.linked.into_iter().collect(),
                    ids: record.ids,
                    pending: record.pending.len(),
                }
            }
            Op::Send {
                to,
                from,
                body,
                marketing,
            } => {
                let answer = apart(self.send(to, from, body, marketing, now)).await?;
                self.count_refusal(&answer, now).await;
                Answer::Send(answer)
            }
            Op::GetConsent => {
                self.seed(now).await?;
                let who = identity::load(self.local).await?;
                if !who.pending.is_empty() {
                    // Half a person's consent is no answer: fail closed until linked.
                    return Err(KvError::Unavailable("identity links not merged yet".into()));
                }
                Answer::Consent {
                    record: consent::load(self.local, &self.contact).await?,
                    ids: who.ids,
                }
            }
            Op::PutConsent { change, id } => apart(self.put_consent(change, id, now)).await?,

            Op::Erase => apart(self.erase()).await?,
            Op::NumberPaused
            | Op::PauseNumber
            | Op::ResumeNumber
            | Op::TakeBudget { .. }
            | Op::StopSending { .. }
            | Op::SendingStopped
            | Op::ResumeAllSending => return Err(KvError::Corrupt("number request")),
            Op::Outbox => {
                let items = outbox::load(self.local).await?;
                Answer::Outbox {
                    pending: items.len(),
                    next_attempt_at: items.iter().map(|(_, p)| p.due).min(),
                }
            }
        };
        // Whatever was queued for KV goes now; what cannot is left for the alarm.
        let flushed = self.flush().await;
        Ok((answer, self.next_wake(now, flushed, false).await?))
    }

    /// On a person's first request, reads from KV what this storage lacks: consent and sending
    /// state kept there before the authority existed (or recorded elsewhere).
    async fn seed(&self, now: UnixTime) -> Result<(), KvError> {
        if self.local.get(SEEDED_KEY).await?.is_some() {
            return Ok(());
        }
        let wanted = [
            keys::consent(&self.contact),
            keys::contact_state(&self.contact),
        ];
        let values = self.kv.get_many(&wanted).await?;
        // Only now, after the KV read, is this storage read and written; another request may
        // have seeded it while this one waited.
        if self.local.get(SEEDED_KEY).await?.is_none() {
            let found: HashMap<String, Option<String>> = wanted.into_iter().zip(values).collect();
            self.seed_from(&found, now).await?;
        }
        Ok(())
    }

    async fn seed_from(
        &self,
        found: &HashMap<String, Option<String>>,
        now: UnixTime,
    ) -> Result<(), KvError> {
        let stored = |k: &str| found.get(k).cloned().flatten();
        let batch = Batch::new(self.local);
        if let Some(text) = stored(&keys::consent(&self.contact)) {
            // Unreadable consent fails closed here as everywhere.
            let record = consent::parse(Some(&text))?;
            store_write(&batch, &consent::put(&self.contact, &record)?).await?;
        }
        if let Some(text) = stored(&keys::contact_state(&self.contact)) {
            let state = contact_state::parse(Some(&text));
            let ctx = Ctx::new(self.local, self.keys, self.config, now);
            store_write(&batch, &ctx.state_put(&self.contact, &state)?).await?;
        }
        batch.put(SEEDED_KEY, "1", None, None).await?;
        batch.commit().await
    }

    async fn deliver(&self, body: &str, now: UnixTime) -> Result<Answer, KvError> {
        let events = crate::webhook::parse(body.as_bytes()).unwrap_or_default();
        // Other objects and KV first: the numbers' pauses, and the person's records on first use.
        let view = self.pauses(route::numbers(&events), now).await?;
        self.seed(now).await?;
        // Decide, then commit the decision, its KV writes and its outbox in one atomic write.
        let batch = Batch::new(self.local);
        let akv = AuthorityKv {
            local: &batch,
            view,
        };
        let ctx = Ctx::new(&akv, self.keys, self.config, now).for_person(self.contact.clone());
        let confirmations = outbox::sent_statuses(&events);
        // Who the person is: the ids this delivery shows, and the phone to answer them on.
        let mut who = identity::load(&batch).await?;
        let seen: Vec<WaId> = events.iter().flat_map(ids_of).collect();
        if who.note(&seen, identity::latest_phone(&events).as_ref()) {
            identity::save(&batch, &who).await?;
            // The KV view of consent names the ids (`store::flush`): written again with them.
            if let Some(text) = akv.get(&keys::consent(&self.contact)).await? {
                let record = consent::parse(Some(&text))?;
                store_write(&akv, &consent::put(&self.contact, &record)?).await?;
            }
        }
        // Meta's 131048 in a failed status pauses the number it came from, after the commit.
        let to_pause = route::numbers_failed_with(&events, 131048);
        let (summary, sends) = ingest(&ctx, events).await?;
        for (key, id) in confirmations {
            self.confirm(&ctx, &batch, &key, id).await?;
        }
        let sends = sends.into_iter().map(|mut o| {
            // A phone number, when known, is answered with `to`; a BSUID only otherwise.
            if let Some(phone) = &who.phone {
                if o.to.kind() != IdKind::Phone {
                    o.to = phone.clone();
                }
            }
            let due = match o.purpose {
                Purpose::OptInConfirmation => now.plus(OPT_IN_CONFIRMATION_GRACE),
                _ => now,
            };
            (o, due)
        });
        outbox::enqueue(&batch, &outbox::tag_of(&self.contact), sends.collect()).await?;
        batch.commit().await?;
        for number in to_pause {
            self.pause(&number, now).await?;
        }
        Ok(Answer::Delivered { summary })
    }

    /// Meta's `sent` status for a send a restart interrupted: it did go out. Recorded as sent
    /// (once: the item goes with it); a status for a send already recorded changes nothing.
    async fn confirm<K: Kv>(
        &self,
        ctx: &Ctx<'_, K>,
        batch: &Batch<'_, S>,
        key: &str,
        id: MessageId,
    ) -> Result<(), KvError> {
        let Some(item) = outbox::get(batch, key).await? else {
            return Ok(());
        };
        if item.sending {
            record_outcome(ctx, &item.outbound, &SendOutcome::Sent(id)).await?;
            batch.delete(key).await?;
        }
        Ok(())
    }

    async fn put_consent(
        &self,
        change: ConsentChange,
        id: Option<WaId>,
        now: UnixTime,
    ) -> Result<Answer, KvError> {
        self.seed(now).await?;
        let batch = Batch::new(self.local);
        let akv = AuthorityKv::new(&batch);
        let mut who = identity::load(&batch).await?;
        if who.note(id.as_slice(), None) {
            identity::save(&batch, &who).await?;
        }
        let mut record = consent::load(&akv, &self.contact).await?;
        record.apply(change);
        consent::save(&akv, &self.contact, &record).await?;
        batch.commit().await?;
        Ok(Answer::Consent {
            record,
            ids: who.ids,
        })
    }

    /// Everything but a suppression in force goes: state, queued records, the outbox. Dedupe
    /// markers (hashes only) stay until they expire, so a redelivery of an erased message does
    /// not bring it back.
    async fn erase(&self) -> Result<Answer, KvError> {
        let record = consent::load(self.local, &self.contact).await?;
        let keep = record.status == ConsentStatus::OptedOut;
        let page = self.local.list("", None).await?;
        let dropped_sends = page
            .keys
            .iter()
            .filter(|k| k.name.starts_with(outbox::OUTBOX_PREFIX))
            .count();
        for key in page.keys {
            let is_consent = key.name == keys::consent(&self.contact);
            let marker = keys::kind_of(&key.name) == keys::KeyKind::Dedupe;
            let kept = marker || (keep && (is_consent || key.name == SEEDED_KEY));
            if !kept {
                self.local.delete(&key.name).await?;
            }
        }
        Ok(Answer::Erased {
            suppression_kept: keep,
            dropped_sends,
        })
    }

    /// Whatever was queued for KV goes now, consent also under every linked id; what cannot is
    /// left for the alarm (`false`).
    pub(crate) async fn flush(&self) -> bool {
        let Ok(who) = identity::load(self.local).await else {
            return false;
        };
        store::flush(self.local, self.kv, &who.linked, &who.ids)
            .await
            .unwrap_or(false)
    }

    /// The earliest of: a pending send, a write still queued for KV (now), an expiry to purge.
    /// A request does not scan the storage for expiries (that is the alarm's job, `purge`): it
    /// wakes the authority within a day at the latest, and the alarm then wakes it for the
    /// earliest expiry.
    pub(crate) async fn next_wake(
        &self,
        now: UnixTime,
        flushed: bool,
        purge: bool,
    ) -> Result<Option<UnixTime>, KvError> {
        let mut wake: Option<UnixTime> = (!flushed).then_some(now);
        let mut earliest = |t: UnixTime| wake = Some(wake.map_or(t, |w: UnixTime| w.min(t)));
        for (_, item) in outbox::load(self.local).await? {
            earliest(item.due.max(now));
        }
        if purge {
            if let Some(expiry) = store::purge_expired(self.local, now).await? {
                earliest(expiry);
            }
        } else {
            earliest(now.plus(PURGE_CHECK));
        }
        Ok(wake)
    }
}
