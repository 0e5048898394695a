//! Consent from what people send: STOP / START / HELP keywords and Meta's "Stop promotions"
//! button become ledger changes, with one confirmation per change of state, inside the window.

use crate::context::Ctx;
use crate::delivery::action::{Action, ConsentAction, ConsentOutcome, HelpOutcome};
use crate::delivery::inbound::{queue, queue_automatic, Inbound, Queued};
use crate::delivery::plan::Plan;
use crate::policy::keywords::Intent;
use crate::policy::ledger::Applied;
use crate::send::{OutboundBody, Purpose};
use crate::store::consent::{ConsentChange, ConsentStatus, Scope, Source};
use crate::store::keys::ContactKey;
use crate::store::kv::{Kv, KvError};
use crate::time::UnixTime;
use crate::webhook::message::Content;

/// A change with no evidence text yet.
pub fn change(status: ConsentStatus, scope: Scope, at: UnixTime, source: Source) -> ConsentChange {
    ConsentChange {
        status,
        scope,
        at,
        source,
        message_id: None,
        keyword: None,
        evidence: None,
        applied: false,
    }
}

/// Applies a change to the contact's consent. `unfinished`: the change comes from a message not
/// yet marked done, so a duplicate means an earlier attempt of this delivery wrote consent and
/// failed before its markers; its outcome is decided again so the confirmation is not lost.
pub async fn apply<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    contact: &ContactKey,
    change: ConsentChange,
    unfinished: bool,
) -> Result<Applied, KvError> {
    let loaded = plan.consent(ctx.kv, contact).await?;
    let applied = loaded.value.apply(change.clone());
    if applied == Applied::Duplicate {
        return Ok(if unfinished {
            loaded.value.decided_again(&change)
        } else {
            applied
        });
    }
    loaded.dirty = true;
    plan.summary.consent_changes += 1;
    Ok(applied)
}

/// What the message asks for, with the keyword that matched.
fn intent_of<K>(ctx: &Ctx<'_, K>, content: &Content) -> Option<(Intent, String)> {
    let keywords = &ctx.config.keywords;
    match content {
        Content::Button(b) => keywords.classify_button(b.text.as_deref(), b.payload.as_deref()),
        other => other.typed_text().and_then(|t| keywords.classify_text(t)),
    }
}

/// STOP / START / HELP and Meta's "Stop promotions" button. Returns the action recorded on the
/// message, or `None` when the message is not a keyword.
pub async fn apply_keywords<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    content: &Content,
    inbound: &Inbound<'_>,
) -> Result<Option<Action>, KvError> {
    let Some((intent, keyword)) = intent_of(ctx, content) else {
        return Ok(None);
    };
    let (status, scope, purpose) = match intent {
        Intent::OptOut => (
            ConsentStatus::OptedOut,
            Scope::All,
            Some(Purpose::OptOutConfirmation),
        ),
        Intent::StopPromotions => (ConsentStatus::OptedOut, Scope::Marketing, None),
        Intent::OptIn => (
            ConsentStatus::OptedIn,
            Scope::All,
            Some(Purpose::OptInConfirmation),
        ),
        Intent::OptInIfOptedOut => {
            if plan.consent(ctx.kv, inbound.contact).await?.value.status != ConsentStatus::OptedOut
            {
                return Ok(None);
            }
            (
                ConsentStatus::OptedIn,
                Scope::All,
                Some(Purpose::OptInConfirmation),
            )
        }
        Intent::Help => {
            let body = OutboundBody::Text {
                body: ctx.config.messages.help_text.clone(),
            };
            let outcome = match queue_automatic(ctx, plan, inbound, body, Purpose::Help).await? {
                Queued::Yes => HelpOutcome::Sent,
                Queued::NotSendable => HelpOutcome::WindowClosed,
                Queued::Coalesced => HelpOutcome::Coalesced,
            };
            return Ok(Some(Action::Help(outcome)));
        }
    };
    let source = if matches!(content, Content::Button(_)) {
        Source::Button
    } else {
        Source::Keyword
    };
    let mut c = change(status, scope, inbound.at, source);
    c.message_id = Some(inbound.id.clone());
    c.keyword = Some(keyword);
    let applied = apply(ctx, plan, inbound.contact, c, true).await?;
    let action = match (status, scope) {
        (ConsentStatus::OptedOut, Scope::All) => ConsentAction::OptedOut,
        (ConsentStatus::OptedOut, _) => ConsentAction::MarketingOptedOut,
        _ => ConsentAction::OptedIn,
    };
    let outcome = match (applied, purpose) {
        (Applied::Applied { changed: true }, Some(purpose)) => confirm(ctx, plan, inbound, purpose),
        (Applied::Superseded, _) => ConsentOutcome::Superseded,
        _ => ConsentOutcome::Recorded,
    };
    Ok(Some(Action::Consent(action, outcome)))
}

/// Queues the confirmation of a change of state. Confirmations are never held back by pacing.
fn confirm<K>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    inbound: &Inbound<'_>,
    purpose: Purpose,
) -> ConsentOutcome {
    let messages = &ctx.config.messages;
    let text = match purpose {
        Purpose::OptOutConfirmation => messages.opt_out_confirmation.clone(),
        _ => messages.opt_in_confirmation.clone(),
    };
    if queue(
        ctx,
        plan,
        inbound,
        OutboundBody::Text { body: text },
        purpose,
    ) {
        ConsentOutcome::Recorded
    } else {
        ConsentOutcome::ConfirmationNotSent
    }
}
