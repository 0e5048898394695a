//! The inbound message being decided on, and how a reply to it is queued.

use crate::context::Ctx;
use crate::delivery::plan::Plan;
use crate::ids::{MessageId, PhoneNumberId, WaId};
use crate::policy::window;
use crate::send::{Outbound, OutboundBody, Purpose};
use crate::store::keys::{ContactKey, MessageKey};
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
    });
    if purpose != Purpose::MarkRead {
        plan.summary.replies += 1;
    }
    true
}
