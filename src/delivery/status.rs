//! Status updates (sent, delivered, read, failed with Meta's errors) and `user_preferences`
//! (Meta's marketing opt-out and resume).

use crate::context::Ctx;
use crate::delivery::consent::{apply, change};
use crate::delivery::plan::Plan;
use crate::ids::PhoneNumberId;
use crate::policy::meta_errors::{classify, effect_of};
use crate::policy::retention::{event_time, expires_at, is_replay};
use crate::send::outcome::signal_put;
use crate::store::consent::{ConsentStatus, Scope, Source};
use crate::store::keys::{self, ContactKey};
use crate::store::kv::{Kv, KvError};
use crate::store::records::StatusRecord;
use crate::store::{Put, RecordMeta};
use crate::time::UnixTime;
use crate::webhook::account::{PreferenceValue, UserPreference};
use crate::webhook::message::MetaError;
use crate::webhook::status::{Status, StatusKind};

pub async fn on_status<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    phone_number_id: Option<PhoneNumberId>,
    status: Status,
) -> Result<(), KvError> {
    let (Some(id), Some(kind), Some(recipient)) = (
        status.id.clone(),
        status.status.clone(),
        status.recipient().cloned(),
    ) else {
        plan.summary.invalid += 1;
        return Ok(());
    };
    let at = event_time(status.timestamp, ctx.now);
    if is_replay(at, ctx.now) {
        plan.summary.replays += 1;
        return Ok(());
    }
    let contact = ctx.contact(&recipient);
    let mk = ctx.keys.message(&id);
    let key = keys::status_record(&contact, &mk, kind.as_str());
    if !plan.seen.insert(key.clone()) {
        plan.summary.duplicates += 1;
        return Ok(());
    }
    if kind == StatusKind::Failed {
        for error in &status.errors {
            let failure = Failure {
                contact: &contact,
                phone_number_id: phone_number_id.as_ref(),
                message_id: &id,
                at,
            };
            on_error(ctx, plan, &failure, error).await?;
        }
    }
    if let Some(expires) = expires_at(at, ctx.config.retention_days, ctx.now) {
        let record = StatusRecord::from_status(id, &status, at);
        let meta = RecordMeta::status(at, kind.as_str());
        plan.records
            .push(Put::json(key, &record, Some(expires), Some(meta))?);
        plan.summary.stored += 1;
    }
    Ok(())
}

struct Failure<'a> {
    contact: &'a ContactKey,
    phone_number_id: Option<&'a PhoneNumberId>,
    message_id: &'a crate::ids::MessageId,
    at: UnixTime,
}

/// Errors that arrive later get the same handling as errors answered to a send.
async fn on_error<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    failure: &Failure<'_>,
    error: &MetaError,
) -> Result<(), KvError> {
    let effect = effect_of(classify(Some(error.code), 400));
    if effect.touches_state() {
        let state = plan.state(ctx.kv, failure.contact).await?;
        effect.apply_to_state(&mut state.value, error.code, failure.at);
        state.dirty = true;
    }
    let message_id = Some(failure.message_id.clone());
    if let Some(change) = effect.marketing_change(failure.at, message_id, error.code) {
        apply(ctx, plan, failure.contact, change, false).await?;
    }
    let number = failure.phone_number_id.map(|p| p.as_str()).unwrap_or("");
    for signal in effect.signals(number, error.code, failure.at) {
        plan.records.extend(signal_put(ctx, &signal)?);
    }
    Ok(())
}

/// Meta's `user_preferences`: a marketing opt-out or resume, whatever the button's label.
pub async fn on_preference<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    pref: UserPreference,
) -> Result<(), KvError> {
    let Some(wa_id) = pref.contact() else {
        plan.summary.invalid += 1;
        return Ok(());
    };
    let at = event_time(pref.timestamp, ctx.now);
    let status = match pref.value {
        Some(PreferenceValue::Stop) => ConsentStatus::OptedOut,
        Some(PreferenceValue::Resume) => ConsentStatus::OptedIn,
        _ => {
            plan.summary.ignored += 1;
            return Ok(());
        }
    };
    if is_replay(at, ctx.now) {
        plan.summary.replays += 1;
        return Ok(());
    }
    let category = pref.category.as_deref().unwrap_or("marketing_messages");
    let value = pref.value.as_ref().map(|v| v.as_str()).unwrap_or_default();
    let mut c = change(status, Scope::Marketing, at, Source::UserPreferences);
    c.evidence = Some(format!("{category}: {value}"));
    let contact = ctx.contact(wa_id);
    apply(ctx, plan, &contact, c, false).await?;
    Ok(())
}
