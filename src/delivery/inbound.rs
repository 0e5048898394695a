//! The inbound message being decided on, and how a reply to it is queued.

use crate::context::Ctx;
use crate::delivery::plan::Plan;
use crate::ids::{MessageId, PhoneNumberId, WaId};
use crate::policy::coalesce::fingerprint;
use crate::policy::window;
use crate::send::{Outbound, OutboundBody, Purpose};
use crate::store::keys::{ContactKey, MessageKey};
use crate::store::kv::{Kv, KvError};
use crate::time::UnixTime;

pub struct Inbound<'a> {
    pub sender: &'a WaId,
    pub contact: &'a ContactKey,
    pub id: &'a MessageId,
    pub key: &'a MessageKey,
    /// The message's own time, which opens the window.
    pub at: UnixTime,
    pub phone_number_id: Option<&'a PhoneNumberId>,
}

/// What became of an automatic text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    Yes,
    /// The window is closed (or there is no business number to answer from).
    NotSendable,
    /// The same text went to the person less than a minute ago (`policy::coalesce`).
    Coalesced,
}

/// Queues an automatic text (help, auto-reply, default reply) unless the same text was just
/// queued to the person.
pub async fn queue_automatic<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    inbound: &Inbound<'_>,
    body: OutboundBody,
    purpose: Purpose,
) -> Result<Queued, KvError> {
    let print = fingerprint(purpose.as_str(), &body.summary());
    let state = plan.state(ctx.kv, inbound.contact).await?;
    if state.value.sent_recently(&print, ctx.now) {
        return Ok(Queued::Coalesced);
    }
    if !queue(ctx, plan, inbound, body, purpose) {
        return Ok(Queued::NotSendable);
    }
    let state = plan.state(ctx.kv, inbound.contact).await?;
    state.value.note_sent(print, ctx.now);
    state.dirty = true;
    Ok(Queued::Yes)
}

/// Queues a message for after the response, inside the window only; false when it cannot go.
pub fn queue<K>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    inbound: &Inbound<'_>,
    body: OutboundBody,
    purpose: Purpose,
) -> bool {
    let Some(phone_number_id) = inbound.phone_number_id else {
        return false;
    };
    if !window::is_open(inbound.at, ctx.now) {
        return false;
    }
    let reply_to = (purpose != Purpose::MarkRead).then(|| inbound.id.clone());
    plan.outbox.push(Outbound {
        to: inbound.sender.clone(),
        phone_number_id: phone_number_id.clone(),
        body,
        purpose,
        reply_to,
        callback: None,
    });
    if purpose != Purpose::MarkRead {
        plan.summary.replies += 1;
    }
    true
}
