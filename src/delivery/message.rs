//! One inbound message: dedupe, store it, apply keywords, decide an automatic reply.

use crate::context::Ctx;
use crate::delivery::auto_reply::auto_reply;
use crate::delivery::consent::apply_keywords;
use crate::delivery::inbound::{queue, Inbound};
use crate::delivery::plan::Plan;
use crate::ids::PhoneNumberId;
use crate::policy::retention::{event_time, expires_at, is_replay, DEDUPE_TTL};
use crate::policy::window;
use crate::send::{OutboundBody, Purpose};
use crate::store::keys;
use crate::store::kv::{Kv, KvError};
use crate::store::records::{Direction, MessageRecord};
use crate::store::{Put, RecordMeta};
use crate::webhook::message::{Content, Message};
use crate::webhook::Profile;

pub async fn on_message<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    phone_number_id: Option<PhoneNumberId>,
    profile: Profile,
    message: Message,
) -> Result<(), KvError> {
    let (Some(sender), Some(id)) = (message.sender().cloned(), message.id.clone()) else {
        plan.summary.invalid += 1;
        return Ok(());
    };
    let at = event_time(message.timestamp, ctx.now);
    if is_replay(at, ctx.now) {
        plan.summary.replays += 1;
        return Ok(());
    }
    let mk = ctx.keys.message(&id);
    let marker = keys::dedupe_message(&mk);
    if !plan.seen.insert(marker.clone()) || plan.is_marked(ctx.kv, &marker).await? {
        plan.summary.duplicates += 1;
        return Ok(());
    }
    let contact = ctx.contact(&sender);
    let content = message.content();
    let inbound = Inbound {
        sender: &sender,
        contact: &contact,
        id: &id,
        key: &mk,
        at,
        phone_number_id: phone_number_id.as_ref(),
    };
    let user_message = is_user_message(&content);
    if user_message {
        note_user_message(ctx, plan, &inbound).await?;
    }
    let mut action = apply_keywords(ctx, plan, &content, &inbound).await?;
    if action.is_none() && user_message {
        action = auto_reply(ctx, plan, &content, &inbound).await?;
    }
    let mut record =
        MessageRecord::inbound(id, &message, &content, at, profile, phone_number_id.clone());
    record.action = action.map(|a| a.text());
    if let Some(expires) = expires_at(at, ctx.config.retention_days, ctx.now) {
        let key = keys::message_record(&contact, &mk);
        let meta = RecordMeta::message(at, Direction::Inbound);
        plan.records
            .push(Put::json(key, &record, Some(expires), Some(meta))?);
        plan.summary.stored += 1;
    }
    plan.markers.push(Put {
        key: marker,
        value: "1".into(),
        expires: Some(ctx.now.plus(DEDUPE_TTL)),
        meta: None,
    });
    Ok(())
}

/// A person's message opens the window (and is marked read, when configured and still open).
async fn note_user_message<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    inbound: &Inbound<'_>,
) -> Result<(), KvError> {
    let state = plan.state(ctx.kv, inbound.contact).await?;
    if state
        .value
        .record_inbound(inbound.at, inbound.phone_number_id)
    {
        state.dirty = true;
    }
    if ctx.config.replies.mark_as_read && window::is_open(inbound.at, ctx.now) {
        let read = OutboundBody::MarkRead {
            message_id: inbound.id.clone(),
        };
        queue(ctx, plan, inbound, read, Purpose::MarkRead);
    }
    Ok(())
}

/// Messages a person sent: these open the window and may be answered. Reactions, system notices,
/// unsupported and unknown kinds are recorded but never answered.
fn is_user_message(content: &Content) -> bool {
    !matches!(
        content,
        Content::Reaction(_)
            | Content::System(_)
            | Content::RequestWelcome
            | Content::Unsupported(_)
            | Content::Unknown(_)
    )
}
