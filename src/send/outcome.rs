//! After a send: record it in the contact's history, and apply what a failure changes (window,
//! deliverability, marketing opt-out, pause, token problem) through the store.

use crate::context::Ctx;
use crate::ids::{MessageId, PhoneNumberId, WaId};
use crate::policy::meta_errors::{effect_of, Effect};
use crate::policy::retention::expires_at;
use crate::send::client::SendOutcome;
use crate::send::graph::GraphError;
use crate::send::{Outbound, Purpose};
use crate::store::account::{Signal, SignalKind};
use crate::store::kv::{Kv, KvError};
use crate::store::records::{Direction, MessageRecord};
use crate::store::{self, consent, contact_state, keys, RecordMeta};
use crate::time::UnixTime;
use crate::webhook::message::MetaError;

/// Records a sent message in the contact's history, or a failure and its consequences.
pub async fn record_outcome<K: Kv>(
    ctx: &Ctx<'_, K>,
    outbound: &Outbound,
    outcome: &SendOutcome,
) -> Result<String, KvError> {
    let contact = ctx.contact(&outbound.to);
    if outbound.purpose == Purpose::MarkRead {
        return Ok(match outcome {
            SendOutcome::Sent(_) => format!("marked read for contact {}", contact.0),
            SendOutcome::Failed { error, .. } => format!(
                "mark-as-read failed: http {} code {:?}",
                error.http_status, error.code
            ),
        });
    }
    let purpose = outbound.purpose.as_str();
    let (id, failure, line) = match outcome {
        SendOutcome::Sent(id) => (
            id.clone(),
            None,
            format!("sent {purpose} to contact {}", contact.0),
        ),
        SendOutcome::Failed { action, error } => {
            let code = error.code.unwrap_or_default();
            let effect = effect_of(*action);
            apply_effect(
                ctx,
                &outbound.to,
                Some(&outbound.phone_number_id),
                effect,
                code,
                None,
            )
            .await?;
            // A failed send has no wamid: key it by what it was, so it shows once in the history.
            let summary = outbound.body.summary();
            let now = ctx.now.0.to_string();
            let id = MessageId::new(format!(
                "unsent.{}",
                ctx.keys.event(&[purpose, &now, &summary])
            ));
            let code_text = error.code.map(|c| c.to_string());
            let line = format!(
                "send of {purpose} to contact {} failed: http {} code {} ({action:?})",
                contact.0,
                error.http_status,
                code_text.as_deref().unwrap_or("none")
            );
            (id, Some(error), line)
        }
    };
    let record = outbound_record(id, outbound, ctx.now, failure);
    if let Some(expires) = expires_at(ctx.now, ctx.config.retention_days, ctx.now) {
        let key = keys::message_record(&contact, &ctx.keys.message(&record.id));
        let meta = RecordMeta::message(ctx.now, Direction::Outbound);
        store::write(
            ctx.kv,
            &store::Put::json(key, &record, Some(expires), Some(meta))?,
        )
        .await?;
    }
    Ok(line)
}

/// Applies an error's effect straight to the store (after the response, or for the send API).
pub async fn apply_effect<K: Kv>(
    ctx: &Ctx<'_, K>,
    to: &WaId,
    phone_number_id: Option<&PhoneNumberId>,
    effect: Effect,
    code: i64,
    message_id: Option<MessageId>,
) -> Result<(), KvError> {
    let contact = ctx.contact(to);
    let mut puts = Vec::new();
    if effect.touches_state() {
        let mut state = contact_state::load(ctx.kv, &contact).await?;
        effect.apply_to_state(&mut state, code, ctx.now);
        puts.push(ctx.state_put(&contact, &state)?);
    }
    if let Some(change) = effect.marketing_change(ctx.now, message_id, code) {
        let mut record = consent::load(ctx.kv, &contact).await?;
        record.apply(change);
        puts.push(consent::put(&contact, &record)?);
    }
    let number = phone_number_id.map(|p| p.as_str()).unwrap_or("");
    for signal in effect.signals(number, code, ctx.now) {
        puts.extend(signal_put(ctx, &signal)?);
    }
    store::write_together(ctx.kv, &puts).await
}

/// A signal's write: a pause lasts until a person lifts it; other signals live as long as any
/// record of their time, and one already past retention is not written at all.
pub fn signal_put<K>(ctx: &Ctx<'_, K>, signal: &Signal) -> Result<Option<store::Put>, KvError> {
    if signal.kind == SignalKind::Pause {
        return signal.put(ctx.keys, None).map(Some);
    }
    match expires_at(signal.at, ctx.config.retention_days, ctx.now) {
        Some(expires) => signal.put(ctx.keys, Some(expires)).map(Some),
        None => Ok(None),
    }
}

/// The history record of a message the worker sent (or tried to).
/// A failure records what Meta said: its error code when it gave one (never a made-up code),
/// the HTTP status (0: no answer), and `unknown` rather than `not_sent` when the message may
/// have gone out (`GraphError::outcome_unknown`).
fn outbound_record(
    id: MessageId,
    outbound: &Outbound,
    at: UnixTime,
    failure: Option<&GraphError>,
) -> MessageRecord {
    let errors: Vec<MetaError> = failure
        .and_then(|e| {
            Some(MetaError {
                code: e.code?,
                title: e.title.clone(),
            })
        })
        .into_iter()
        .collect();
    let action = failure.map(|e| {
        if e.outcome_unknown() {
            "unknown"
        } else {
            "not_sent"
        }
    });
    MessageRecord {
        id,
        direction: Direction::Outbound,
        at,
        kind: outbound.body.kind().into(),
        text: Some(outbound.body.summary()),
        text_truncated: false,
        media_id: None,
        mime_type: None,
        filename: None,
        location: None,
        reply_to: outbound.reply_to.clone(),
        profile_name: None,
        profile_username: None,
        phone_number_id: Some(outbound.phone_number_id.clone()),
        http_status: failure.map(|e| e.http_status),
        action: action.map(str::to_string),
        purpose: Some(outbound.purpose.as_str().to_string()),
        errors,
    }
}
