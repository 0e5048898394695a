//! The automatic reply, sent only when every guard holds, checked in this order: not opted out
//! (fail closed), number not paused, window open by the message's own time, contact deliverable,
//! room in the person's pair-rate bucket, for the default reply its cooldown, and not the same
//! text as one just sent.

use crate::context::Ctx;
use crate::delivery::action::{Action, NoReply};
use crate::delivery::inbound::{queue_automatic, Inbound, Queued};
use crate::delivery::plan::Plan;
use crate::policy::auto_reply::Choice;
use crate::policy::window;
use crate::send::{OutboundBody, Purpose};
use crate::store::kv::{Kv, KvError};
use crate::webhook::message::Content;

/// Returns the action recorded on the message, or `None` when no rule or default applies.
pub async fn auto_reply<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    content: &Content,
    inbound: &Inbound<'_>,
) -> Result<Option<Action>, KvError> {
    let auto = &ctx.config.replies;
    let Some(choice) = auto.choose(content.typed_text()) else {
        return Ok(None);
    };
    if let Some(why) = refusal(ctx, plan, &choice, inbound).await? {
        return Ok(Some(Action::NoReply(why)));
    }
    let (body, purpose, action) = match choice {
        Choice::Rule(rule) if rule.buttons.is_empty() => (
            OutboundBody::Text {
                body: rule.reply.clone(),
            },
            Purpose::AutoReply,
            Action::AutoReply {
                rule: rule.name.clone(),
            },
        ),
        Choice::Rule(rule) => (
            OutboundBody::Buttons {
                body: rule.reply.clone(),
                buttons: rule.buttons.clone(),
            },
            Purpose::AutoReply,
            Action::AutoReply {
                rule: rule.name.clone(),
            },
        ),
        Choice::Default(text) => (
            OutboundBody::Text {
                body: text.to_string(),
            },
            Purpose::DefaultReply,
            Action::DefaultReply,
        ),
    };
    match queue_automatic(ctx, plan, inbound, body, purpose).await? {
        Queued::Yes => {}
        Queued::NotSendable => return Ok(Some(Action::NoReply(NoReply::NoNumber))),
        Queued::Coalesced => return Ok(Some(Action::NoReply(NoReply::Coalesced))),
    }
    let state = plan.state(ctx.kv, inbound.contact).await?;
    state.value.last_reply_for = Some(inbound.key.0.clone());
    if purpose == Purpose::DefaultReply {
        state.value.last_default_reply = Some(ctx.now);
    }
    state.dirty = true;
    Ok(Some(action))
}

/// The first guard that refuses, if any.
async fn refusal<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    choice: &Choice<'_>,
    inbound: &Inbound<'_>,
) -> Result<Option<NoReply>, KvError> {
    if !plan
        .consent(ctx.kv, inbound.contact)
        .await?
        .value
        .allows(false)
    {
        return Ok(Some(NoReply::OptedOut));
    }
    if plan.is_paused(ctx, inbound.phone_number_id).await? {
        return Ok(Some(NoReply::NumberPaused));
    }
    if !window::is_open(inbound.at, ctx.now) {
        return Ok(Some(NoReply::WindowClosed));
    }
    let cooldown = ctx.config.replies.cooldown_secs;
    let state = &plan.state(ctx.kv, inbound.contact).await?.value;
    if state.is_undeliverable() {
        return Ok(Some(NoReply::Undeliverable));
    }
    // A retry of a delivery that failed after this very reply was decided (and its pacing
    // written) is answered as decided: its own pacing must not refuse it.
    let answered_before = state.last_reply_for.as_deref() == Some(inbound.key.0.as_str());
    if !answered_before && state.pace_wait(ctx.now, ctx.config.pair_burst) > 0 {
        return Ok(Some(NoReply::Paced));
    }
    let is_default = matches!(choice, Choice::Default(_));
    if is_default && !answered_before && !state.may_send_default(ctx.now, cooldown) {
        return Ok(Some(NoReply::Cooldown));
    }
    Ok(None)
}
