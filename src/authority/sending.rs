//! The person's sends: the send API's, checked and paced one at a time, and the outbox's, sent
//! by the alarm in order, checked again when due, with Meta's retry table.

use super::outbox::{self, Pending, INTERRUPTED_RESEND, UNKNOWN_OUTCOME_WAITS};
use super::stop::STOP_RECHECK;
use super::store::{AuthorityKv, Batch};
use super::{Authorities, Host, SendAnswer};
use crate::config::Secret;
use crate::context::Ctx;
use crate::ids::{PhoneNumberId, WaId};
use crate::platform::Platform;
use crate::policy::business::{marketing_allowed, marketing_in_period, utc_day};
use crate::policy::meta_errors::{retry_after, ErrorAction, Retries};
use crate::policy::pacing::jitter;
use crate::send::graph::messages_url;
use crate::send::graph::GraphError;
use crate::send::{attempt, record_outcome, send, Outbound, OutboundBody, Purpose, SendOutcome};
use crate::store::account::pause_key;
use crate::store::consent::{self, ConsentRecord};
use crate::store::contact_state::{self, ContactState};
use crate::store::kv::{Kv, KvError};
use crate::store::write as store_write;
use crate::time::UnixTime;

/// While an id of the person waits to be merged, the alarm looks again this often.
pub const IDENTITY_RETRY: u64 = 60;

impl<S: Kv, V: Kv, G: Platform, A: Authorities> Host<'_, S, V, G, A> {
    /// The send API through the person's guards, checked and paced here, one at a time.
    pub(super) async fn send(
        &self,
        to: WaId,
        from: Option<PhoneNumberId>,
        body: OutboundBody,
        marketing: bool,
        now: UnixTime,
    ) -> Result<SendAnswer, KvError> {
        let token = match self.config.require(Secret::AccessToken) {
            Ok(t) => t,
            Err(_) => {
                return Err(KvError::Unavailable(
                    "WHATSAPP_ACCESS_TOKEN is not set".into(),
                ))
            }
        };
        if self.stopped(now).await?.is_some() {
            return Ok(SendAnswer::Stopped);
        }
        // The number to send from, then its pause from the number's authority: before deciding.
        self.seed(now).await?;
        if !super::identity::load(self.local).await?.pending.is_empty() {
            return Ok(SendAnswer::IdentityUnresolved);
        }
        let known = contact_state::load(self.local, &self.contact).await?;
        let Some(phone_number_id) = from.or(known.phone_number_id) else {
            return Ok(SendAnswer::FromRequired);
        };
        let pauses = self.pauses([phone_number_id.clone()], now).await?;
        if pauses.values().any(Option::is_some) {
            return Ok(SendAnswer::NumberPaused);
        }
        let free_form = !body.is_template();
        let mut state = match self.guards(marketing, free_form, now).await? {
            Ok(state) => state,
            Err(refusal) => return Ok(refusal),
        };
        // Committed before the request leaves, so a concurrent send sees the bucket taken (and
        // the marketing cap counted: a send that then fails still counts, failing closed).
        let business_initiated = !state.window_open(now);
        state.pace_take(now);
        if marketing {
            state.marketing_sent = marketing_in_period(&state.marketing_sent, now);
            state.marketing_sent.push(now);
        }
        let ctx = Ctx::new(self.local, self.keys, self.config, now);
        store_write(self.local, &ctx.state_put(&self.contact, &state)?).await?;
        let outbound = Outbound {
            to,
            phone_number_id: phone_number_id.clone(),
            body,
            purpose: Purpose::Api,
            reply_to: None,
            callback: None,
        };
        if let (true, Some(limit)) = (business_initiated, self.config.ramp_daily_limit) {
            // From the number's authority, after this person's decision is committed.
            if !self
                .take_from_budget(&phone_number_id, utc_day(now), limit)
                .await?
            {
                return Ok(SendAnswer::RampBudgetUsed);
            }
        }
        let url = messages_url(self.config, &phone_number_id);
        let outcome = send(self.graph, &url, token, &outbound).await;
        let batch = Batch::new(self.local);
        let akv = AuthorityKv::new(&batch);
        record_outcome(
            &Ctx::new(&akv, self.keys, self.config, now),
            &outbound,
            &outcome,
        )
        .await?;
        batch.commit().await?;
        self.pause_after(&outbound, &outcome, now).await?;
        Ok(match outcome {
            SendOutcome::Sent(id) => SendAnswer::Sent {
                id: id.as_str().to_string(),
            },
            SendOutcome::Failed { action, error } => SendAnswer::Failed {
                action,
                meta_code: error.code,
                http_status: error.http_status,
                meta_body: error.body,
            },
        })
    }

    /// A refusal by one of the guards, recorded for the console's count of the day
    /// (`store::guards`). Shown, not decided with: a count that misses one is better than a send
    /// refused for a failed write.
    pub(super) async fn count_refusal(&self, answer: &SendAnswer, now: UnixTime) {
        if let Some(guard) = answer.guard() {
            let put = crate::store::guards::refusal(self.keys, guard, &self.contact, now);
            let _ = store_write(self.kv, &put).await;
        }
    }

    /// The send API's guards on the person, in the order they are reported: consent, the window
    /// (free-form only), deliverability, the pacing bucket. `Ok(state)` when all hold.
    async fn guards(
        &self,
        marketing: bool,
        free_form: bool,
        now: UnixTime,
    ) -> Result<Result<ContactState, SendAnswer>, KvError> {
        let record = consent::load(self.local, &self.contact).await?;
        if !record.allows(marketing) {
            return Ok(Err(SendAnswer::OptedOut {
                scope: record.scope,
            }));
        }
        let state = contact_state::load(self.local, &self.contact).await?;
        if free_form && !state.window_open(now) {
            return Ok(Err(SendAnswer::WindowClosed));
        }
        if marketing
            && !marketing_allowed(&state.marketing_sent, now, self.config.marketing_per_day)
        {
            return Ok(Err(SendAnswer::MarketingCapped));
        }
        if state.is_undeliverable() {
            return Ok(Err(SendAnswer::Undeliverable {
                code: state.undeliverable.map(|u| u.0),
            }));
        }
        let wait = state.pace_wait(now, self.config.pair_burst);
        if wait > 0 {
            return Ok(Err(SendAnswer::PairRateLimited {
                retry_after_seconds: wait,
            }));
        }
        Ok(Ok(state))
    }

    /// The alarm: sends what is due, one at a time, by the retry table; flushes to KV; purges
    /// what has expired. Returns when to wake next, and a log line per send (no personal data).
    pub async fn alarm(&self, now: UnixTime) -> Result<(Option<UnixTime>, Vec<String>), KvError> {
        let who = super::identity::load(self.local).await?;
        if who.forward.is_some() {
            // The person moved: their sends and records went with them.
            return Ok((None, Vec::new()));
        }
        if !who.pending.is_empty() {
            // Fail closed: nothing goes to half a person. The merge wakes the home again.
            return Ok((Some(now.plus(IDENTITY_RETRY)), Vec::new()));
        }
        let (items, unreadable) = outbox::load_all(self.local).await?;
        let mut log = Vec::new();
        if !items.is_empty() && self.stopped(now).await?.is_some() {
            // Every send is stopped: they wait, none is dropped; the stop is asked again soon.
            log.push(format!(
                "sending stopped: {} send(s) for contact {} wait",
                items.len(),
                self.contact.0
            ));
            let flushed = self.flush().await;
            let wake = self.next_wake(now, flushed, true).await?;
            return Ok((wake.map(|w| w.max(now.plus(STOP_RECHECK))), log));
        }
        if !unreadable.is_empty() {
            // It can never be sent: dropped, and said so once (its key names nobody).
            log.push(format!(
                "outbox: {} unreadable item(s) dropped: {}",
                unreadable.len(),
                unreadable.join(", ")
            ));
            self.local.delete_many(&unreadable).await?;
        }
        // First, from their authorities: the pauses of the numbers these sends go from.
        let numbers = items
            .iter()
            .map(|(_, p)| p.outbound.phone_number_id.clone());
        let pauses = self.pauses(numbers, now).await?;
        for (key, _) in items {
            // Read again after waiting on other objects (and after each send): a request that
            // came in meanwhile may have erased the person, changed the item, or moved the
            // person to another authority (whose alarm sends it from now on).
            if super::identity::load(self.local).await?.forward.is_some() {
                break;
            }
            let Some(item) = outbox::get(self.local, &key).await? else {
                continue;
            };
            let number = pause_key(self.keys, Some(&item.outbound.phone_number_id));
            let paused = pauses.get(&number).is_some_and(Option::is_some);
            if item.due <= now {
                log.extend(self.deliver_one(&key, item, paused, now).await?);
            }
        }
        let flushed = self.flush().await;
        Ok((self.next_wake(now, flushed, true).await?, log))
    }

    /// One due send: checked again against the person's consent now, paced, marked as leaving,
    /// sent once, and recorded, or rescheduled by the retry table.
    async fn deliver_one(
        &self,
        key: &str,
        mut item: Pending,
        paused: bool,
        now: UnixTime,
    ) -> Result<Option<String>, KvError> {
        let purpose = item.outbound.purpose.as_str();
        let contact = &self.contact.0;
        let waited = self.config.unconfirmed_retry_secs;
        let mut note = String::new();
        if item.sending && !status_follows(&item) {
            // Meta sends no status for it, and a second one is harmless: it simply goes again.
            item.sending = false;
            note = "interrupted, sending again; ".to_string();
        } else if item.sending && !item.awaiting_status {
            // It was leaving when the worker stopped. Meta's `sent` status, if it went out, may
            // still be on its way (to a worker that was down): wait for it from now.
            let Some(wait) = self.hold_for_status(&mut item, now) else {
                return self.give_up_unknown(key, &item, now).await.map(Some);
            };
            outbox::save(self.local, key, &item).await?;
            return Ok(Some(format!(
                "{purpose} to contact {contact}: interrupted, waiting {wait} s for Meta's status"
            )));
        } else if item.sending {
            // No `sent` status named it since (`confirm`): it never reached Meta. It goes again.
            item.sending = false;
            item.awaiting_status = false;
            note = format!("no status from Meta in {waited} s, sending again; ");
        }
        if !self.may_go(&item, paused).await? {
            // Superseded since it was decided (a newer STOP, a pause): it never goes.
            self.local.delete(key).await?;
            return Ok(Some(format!(
                "{note}{purpose} to contact {contact} superseded"
            )));
        }
        let sent = self.send_due(key, item, now).await?;
        Ok(sent.map(|line| format!("{note}{line}")))
    }

    /// Holds a send whose outcome is unknown until Meta's status names it (`confirm`) or the
    /// wait ends; `None` once it has waited `UNKNOWN_OUTCOME_WAITS` times.
    fn hold_for_status(&self, item: &mut Pending, now: UnixTime) -> Option<u64> {
        if item.unknown_waits >= UNKNOWN_OUTCOME_WAITS {
            return None;
        }
        let wait = self.config.unconfirmed_retry_secs;
        item.unknown_waits += 1;
        item.sending = true;
        item.awaiting_status = true;
        item.due = now.plus(wait);
        Some(wait)
    }

    /// A send whose outcome stayed unknown through every wait: recorded `unknown`, and left.
    async fn give_up_unknown(
        &self,
        key: &str,
        item: &Pending,
        now: UnixTime,
    ) -> Result<String, KvError> {
        let outcome = SendOutcome::Failed {
            action: ErrorAction::NoAnswer,
            error: GraphError::no_answer(),
        };
        let batch = Batch::new(self.local);
        let akv = AuthorityKv::new(&batch);
        batch.delete(key).await?;
        let line = record_outcome(
            &Ctx::new(&akv, self.keys, self.config, now),
            &item.outbound,
            &outcome,
        )
        .await?;
        batch.commit().await?;
        Ok(format!("{line}; its outcome stayed unknown"))
    }

    /// Whether a decided send may still go: consent now, and no pause for automatic replies.
    async fn may_go(&self, item: &Pending, paused: bool) -> Result<bool, KvError> {
        let record = consent::load(self.local, &self.contact).await?;
        let automatic = matches!(
            item.outbound.purpose,
            Purpose::AutoReply | Purpose::DefaultReply
        );
        Ok(permits(item.outbound.purpose, &record) && !(paused && automatic))
    }

    async fn send_due(
        &self,
        key: &str,
        mut item: Pending,
        now: UnixTime,
    ) -> Result<Option<String>, KvError> {
        let Ok(token) = self.config.require(Secret::AccessToken) else {
            return Err(KvError::Unavailable(
                "WHATSAPP_ACCESS_TOKEN is not set".into(),
            ));
        };
        // Before it leaves: its place in the pacing bucket and the mark that it is leaving,
        // committed together, so a restart mid-send finds it marked and never sends it again.
        let before = Batch::new(self.local);
        let ctx = Ctx::new(&before, self.keys, self.config, now);
        if item.outbound.purpose != Purpose::MarkRead {
            let mut state = contact_state::load(self.local, &self.contact).await?;
            let wait = state.pace_wait(now, self.config.pair_burst);
            if wait > 0 {
                item.due = now.plus(wait);
                outbox::save(self.local, key, &item).await?;
                return Ok(None);
            }
            state.pace_take(now);
            store_write(&before, &ctx.state_put(&self.contact, &state)?).await?;
        }
        item.sending = true;
        item.sending_since = Some(now);
        // If the worker stops now, the alarm looks again once Meta had time to confirm it.
        item.due = now.plus(if status_follows(&item) {
            self.config.unconfirmed_retry_secs
        } else {
            INTERRUPTED_RESEND
        });
        outbox::save(&before, key, &item).await?;
        before.commit().await?;
        let url = messages_url(self.config, &item.outbound.phone_number_id);
        let outcome = attempt(self.graph, &url, token, &item.outbound).await;
        if outbox::get(self.local, key).await?.is_none() {
            // Settled while it was on its way: Meta's status for it came first (`confirm`
            // recorded it), or the person was erased. It is not put back.
            self.pause_after(&item.outbound, &outcome, now).await?;
            return Ok(Some(format!(
                "{} to contact {}: settled while on its way",
                item.outbound.purpose.as_str(),
                self.contact.0
            )));
        }
        let after = Batch::new(self.local);
        let akv = AuthorityKv::new(&after);
        let ctx = Ctx::new(&akv, self.keys, self.config, now);
        let purpose = item.outbound.purpose.as_str();
        let contact = &self.contact.0;
        let unknown =
            matches!(&outcome, SendOutcome::Failed { error, .. } if error.outcome_unknown());
        let wait = if unknown && status_follows(&item) {
            self.hold_for_status(&mut item, now)
                .map(|wait| format!("no answer from Meta, waiting {wait} s for its status"))
        } else {
            self.retry(&mut item, &outcome, now)
                .map(|wait| format!("again in {wait} s"))
        };
        let line = match wait {
            Some(what) => {
                outbox::save(&after, key, &item).await?;
                format!("{purpose} to contact {contact}: {what}")
            }
            None => {
                after.delete(key).await?;
                record_outcome(&ctx, &item.outbound, &outcome).await?
            }
        };
        after.commit().await?;
        self.pause_after(&item.outbound, &outcome, now).await?;
        Ok(Some(line))
    }

    /// Meta's 131048 answered to a send pauses the number it went from, in the number's authority.
    async fn pause_after(
        &self,
        outbound: &Outbound,
        outcome: &SendOutcome,
        now: UnixTime,
    ) -> Result<(), KvError> {
        match outcome {
            SendOutcome::Failed {
                action: ErrorAction::PauseNumber,
                ..
            } => self.pause(&outbound.phone_number_id, now).await,
            _ => Ok(()),
        }
    }

    /// When a failed send goes again, by the retry table; the item is updated for it.
    fn retry(&self, item: &mut Pending, outcome: &SendOutcome, now: UnixTime) -> Option<u64> {
        let SendOutcome::Failed { action, .. } = outcome else {
            return None;
        };
        let mut retries = Retries {
            pair_waits: item.pair_waits,
            throttled: item.throttled,
            transient_retried: item.transient_retried,
        };
        // Mark-as-read is harmless to repeat: no answer gets the one retry of a transient error.
        let action = match action {
            ErrorAction::NoAnswer if !status_follows(item) => ErrorAction::Transient,
            other => *other,
        };
        let wait = retry_after(action, &mut retries, jitter(&self.contact.0))?;
        item.pair_waits = retries.pair_waits;
        item.throttled = retries.throttled;
        item.transient_retried = retries.transient_retried;
        item.sending = false;
        item.sending_since = None;
        item.due = now.plus(wait);
        Some(wait)
    }
}

/// Whether Meta sends statuses for it, naming its callback: every send but a mark-as-read (and
/// its typing indicator).
fn status_follows(item: &Pending) -> bool {
    item.outbound.purpose != Purpose::MarkRead
}

/// May a decided send still go, given the person's consent now? Confirmations go only while the
/// state they confirm is in force; help always; anything else only without an opt-out.
fn permits(purpose: Purpose, record: &ConsentRecord) -> bool {
    match purpose {
        Purpose::OptOutConfirmation => record.is_opted_out_of_all(),
        Purpose::OptInConfirmation => !record.is_opted_out_of_all(),
        Purpose::Help | Purpose::MarkRead => true,
        Purpose::AutoReply | Purpose::DefaultReply | Purpose::Api => record.allows(false),
    }
}
