//! Decide and act on a verified delivery: dedupe, store, apply consent, plan replies.
//!
//! Order (README "Exactly once"): one bulk read of every key the delivery needs → decide each
//! event → write records and consent together → write dedupe markers last (`plan`).

pub mod account;
pub mod action;
pub mod auto_reply;
pub mod consent;
pub mod inbound;
pub mod message;
pub mod plan;
pub mod status;

use crate::context::Ctx;
use crate::ids::WaId;
use crate::platform::apart;
use crate::policy::retention::event_time;
use crate::send::outcome::signal_put;
use crate::send::Outbound;
use crate::store::kv::{Kv, KvError};
use crate::store::{keys, templates};
use crate::webhook::Event;
use plan::{Plan, Summary};

/// Applies every event of a person's part of a delivery (their authority's). Err means "answer
/// 500": nothing was marked done.
pub async fn ingest<K: Kv>(
    ctx: &Ctx<'_, K>,
    events: Vec<Event>,
) -> Result<(Summary, Vec<Outbound>), KvError> {
    ingest_events::<K, true>(ctx, events).await
}

/// Applies the events of a delivery that belong to no person (the worker's: statuses that are
/// only stored, account events). A message or preference among them names no one (`route::split`
/// sends every one that does to its person) and is invalid, as a person's authority would count
/// it; the message path is not compiled into the worker's copy of this function.
pub async fn ingest_unrouted<K: Kv>(
    ctx: &Ctx<'_, K>,
    events: Vec<Event>,
) -> Result<(Summary, Vec<Outbound>), KvError> {
    ingest_events::<K, false>(ctx, events).await
}

async fn ingest_events<K: Kv, const PERSONS: bool>(
    ctx: &Ctx<'_, K>,
    events: Vec<Event>,
) -> Result<(Summary, Vec<Outbound>), KvError> {
    let mut plan = Plan::default();
    // Each kind's handling is its own function (`apart`): a delivery of messages compiles and
    // runs the message path, not the statuses' and preferences' inlined beside it.
    apart(plan.prefetch(ctx.kv, prefetch_keys(ctx, &events, PERSONS))).await?;
    for event in events {
        match event {
            Event::Message { .. } | Event::UserPreference { .. } if !PERSONS => {
                plan.summary.invalid += 1
            }
            Event::Message {
                phone_number_id,
                profile,
                message,
                ..
            } => {
                apart(message::on_message(
                    ctx,
                    &mut plan,
                    phone_number_id,
                    profile,
                    *message,
                ))
                .await?
            }
            Event::Status {
                status,
                phone_number_id,
                ..
            } => apart(status::on_status(ctx, &mut plan, phone_number_id, *status)).await?,
            Event::UserPreference { preference, .. } => {
                apart(status::on_preference(ctx, &mut plan, preference)).await?
            }
            Event::Unknown { .. } => plan.summary.ignored += 1,
            Event::Invalid { .. } => plan.summary.invalid += 1,
            other => on_account_event(ctx, &mut plan, &other)?,
        }
    }
    apart(plan.commit(ctx)).await
}

fn on_account_event<K>(ctx: &Ctx<'_, K>, plan: &mut Plan, event: &Event) -> Result<(), KvError> {
    let Some(signal) = account::signal_of(event, |at| event_time(at, ctx.now)) else {
        plan.summary.ignored += 1;
        return Ok(());
    };
    // A signal already past retention is acknowledged and not written.
    if let Some(put) = signal_put(ctx, &signal)? {
        plan.records.push(put);
        plan.summary.stored += 1;
    }
    match account::learned_from(event, |at| event_time(at, ctx.now)) {
        Some(account::Learned::Category { name, category }) => {
            plan.records
                .push(templates::put(ctx.keys, &name, category, ctx.now)?);
        }
        Some(account::Learned::MarketingPause(pause)) => {
            plan.records.extend(signal_put(ctx, &pause)?);
        }
        None => {}
    }
    Ok(())
}

/// Every key the delivery will read, so they come in one bulk read; a message's only where
/// messages are applied (`persons`), since elsewhere they are counted invalid unread.
fn prefetch_keys<K>(ctx: &Ctx<'_, K>, events: &[Event], persons: bool) -> Vec<String> {
    let keys = ctx.keys;
    let mut wanted = Vec::new();
    let contact = |wa: &WaId, out: &mut Vec<String>| {
        let c = ctx.contact(wa);
        out.push(keys::consent(&c));
        out.push(keys::contact_state(&c));
    };
    for event in events {
        match event {
            Event::Message {
                message,
                phone_number_id,
                ..
            } if persons => {
                if let (Some(sender), Some(id)) = (message.sender(), message.id.as_ref()) {
                    wanted.push(keys::dedupe_message(&keys.message(id)));
                    contact(sender, &mut wanted);
                    wanted.push(crate::store::account::pause_key(
                        keys,
                        phone_number_id.as_ref(),
                    ));
                }
            }
            Event::Status { status, .. } if !status.errors.is_empty() => {
                if let Some(recipient) = status.recipient() {
                    contact(recipient, &mut wanted);
                }
            }
            _ => {}
        }
    }
    wanted
}
