//! The admin API (bearer `ADMIN_TOKEN`): history, erasure, account signals, and dispatch to the
//! consent and send handlers.

use crate::authority::number::number_authority;
use crate::authority::resolve::call_person;
use crate::authority::stop::{stop_authority, Stop, MAX_REASON_CHARS};
use crate::authority::{Answer, Authorities, Op};
use crate::config::Config;
use crate::context::Ctx;
use crate::http::auth::Scope;
use crate::http::consent_view;
use crate::http::error::ApiError;
use crate::http::response::Response;
use crate::http::{consent, send, Request, Route};
use crate::ids::WaId;
use crate::serde_ext::RawJson;
use crate::store::account;
use crate::store::keys::{self, classify_contact_key, ContactKey, ContactKeyKind};
use crate::store::kv::{list_all, Kv, ListedKey};
use crate::store::records::{MessageRecord, StatusRecord};
use crate::store::{consent as consent_store, RecordMeta};
use crate::time::UnixTime;
use crate::webhook::status::StatusKind;
use serde_json::json;
use std::collections::BTreeMap;

pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 100;

pub async fn handle<K: Kv, A: Authorities>(
    req: Request,
    scope: Scope,
    config: &Config,
    kv: &K,
    authorities: &A,
    now: UnixTime,
) -> Result<Response, ApiError> {
    let allowed = match scope {
        Scope::Admin => true,
        Scope::Send => req.route == Route::SendMessage,
        // Reads only: nothing a viewer asks changes consent, sends, erases or resumes. The GET
        // routes, and the two reads that take their ids in a body.
        Scope::Viewer => {
            req.route.is_read() || matches!(req.route, Route::Lookup | Route::ConsentCheck)
        }
    };
    if !allowed {
        return Err(ApiError::Forbidden);
    }
    let ctx = Ctx::new(kv, config.keys()?, config, now);
    match &req.route {
        Route::ContactMessages(raw) => {
            let page = page_of(req.query_param("limit"), req.query_param("cursor"))?;
            history(&ctx, authorities, &wa_id(raw)?, page).await
        }
        Route::EraseContact(raw) => erase(&ctx, authorities, &wa_id(raw)?).await,
        Route::ContactOutbox(raw) => outbox(&ctx, authorities, &wa_id(raw)?).await,
        Route::GetConsent(raw) => consent::get(&ctx, authorities, &wa_id(raw)?).await,
        Route::PutConsent(raw) => consent::put(&ctx, authorities, &wa_id(raw)?, &req.body).await,
        Route::Lookup => {
            let asked = person_in_body(&req.body)?;
            let wa = wa_id(asked.wa_id)?;
            match asked.view {
                View::Consent => consent::get(&ctx, authorities, &wa).await,
                View::Outbox => outbox(&ctx, authorities, &wa).await,
                View::Messages => {
                    let limit = asked.limit.map(|n| n.to_string());
                    let page = page_of(limit.as_deref(), asked.cursor)?;
                    history(&ctx, authorities, &wa, page).await
                }
            }
        }
        Route::ConsentByBody => {
            let wa = wa_id(person_in_body(&req.body)?.wa_id)?;
            consent::put(&ctx, authorities, &wa, &req.body).await
        }
        Route::EraseByBody => {
            erase(&ctx, authorities, &wa_id(person_in_body(&req.body)?.wa_id)?).await
        }
        Route::ConsentCheck => consent::check(&ctx, &req.body).await,
        Route::ConsentOverview => consent_view::overview(kv, now).await,
        Route::ConsentExport => consent_view::export(kv, &req).await,
        Route::Account => {
            let stopped = stop_of(authorities, Op::SendingStopped).await?;
            account_signals(kv, config, stopped, now).await
        }
        Route::StopSending => {
            let reason = reason_in(&req.body)?;
            let op = Op::StopSending { reason, at: now };
            let stopped = stop_of(authorities, op).await?;
            Ok(Response::json(200, json!({ "stopped": stopped }))
                .with_log("emergency stop: every send stopped".into()))
        }
        Route::ResumeSending => {
            // The numbers' authorities first: they decide; the KV signals only show it.
            for number in account::paused_numbers(kv).await? {
                let authority = number_authority(ctx.keys, &number);
                authorities.call(&authority, &Op::ResumeNumber).await?;
            }
            let resumed = account::resume_all(kv).await?;
            let was_stopped = stop_of(authorities, Op::SendingStopped).await?.is_some();
            stop_of(authorities, Op::ResumeAllSending).await?;
            let mut answer =
                Response::json(200, json!({"resumed": resumed, "stop_lifted": was_stopped}));
            if was_stopped {
                answer = answer.with_log("emergency stop lifted".into());
            }
            Ok(answer)
        }
        Route::SendMessage => send::v1(&ctx, authorities, &req).await,
        _ => Err(ApiError::NotFound),
    }
}

/// The person a body names (`POST /v1/contacts/...`), and for a lookup what to show. Other
/// fields are the operation's own (a consent change's) and are read by it.
#[derive(serde::Deserialize)]
struct PersonInBody<'a> {
    #[serde(borrow)]
    wa_id: &'a str,
    #[serde(default)]
    view: View,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default, borrow)]
    cursor: Option<&'a str>,
}

#[derive(serde::Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum View {
    #[default]
    Consent,
    Messages,
    Outbox,
}

fn person_in_body(body: &[u8]) -> Result<PersonInBody<'_>, ApiError> {
    crate::serde_ext::from_slice(body).map_err(|_| {
        ApiError::bad_request(
            "invalid_body",
            r#"expected {"wa_id":"...","view":"consent"|"messages"|"outbox"}"#,
        )
    })
}

/// What the stop object answers to `op`.
async fn stop_of<A: Authorities>(authorities: &A, op: Op) -> Result<Option<Stop>, ApiError> {
    match authorities.call(&stop_authority(), &op).await? {
        Answer::Stopped { stop } => Ok(stop),
        _ => Err(ApiError::Storage(crate::store::kv::KvError::Corrupt(
            "stop authority answer",
        ))),
    }
}

#[derive(serde::Deserialize)]
struct StopInput {
    reason: String,
}

/// The reason an emergency stop must give: what happened, for whoever resumes.
fn reason_in(body: &[u8]) -> Result<String, ApiError> {
    let input: StopInput = crate::serde_ext::from_slice(body).map_err(|_| {
        ApiError::bad_request(
            "invalid_body",
            r#"expected {"reason":"why every send stops"}"#,
        )
    })?;
    let reason = input.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::bad_request(
            "invalid_reason",
            "say why, in 1 to 500 characters",
        ));
    }
    Ok(reason)
}

/// A contact id from the path or a body.
fn wa_id(raw: &str) -> Result<WaId, ApiError> {
    WaId::parse_user_input(raw).ok_or(ApiError::bad_request("invalid_wa_id", "not a WhatsApp id"))
}

/// The person an id belongs to: every key of theirs, their home's first, and their ids.
async fn person_of<K, A: Authorities>(
    ctx: &Ctx<'_, K>,
    authorities: &A,
    wa: &WaId,
) -> Result<(Vec<ContactKey>, Vec<WaId>), ApiError> {
    let asked = ctx.keys.contact(wa);
    match call_person(authorities, &asked, &Op::Identity).await? {
        (home, Answer::Identity { linked, ids, .. }) => {
            let mut all = vec![home];
            for key in linked.into_iter().chain([asked]) {
                if !all.contains(&key) {
                    all.push(key);
                }
            }
            Ok((all, ids))
        }
        _ => Err(ApiError::unexpected_answer()),
    }
}

fn invalid_cursor() -> ApiError {
    ApiError::bad_request("invalid_cursor", "cursor is not one this API returned")
}

/// `limit` and `cursor` of a history page.
/// A history page: `limit` and `cursor`, from the query or a body.
fn page_of(limit: Option<&str>, cursor: Option<&str>) -> Result<(usize, usize), ApiError> {
    let limit = match limit.map(str::parse::<usize>) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_limit",
                "limit must be 1 to 100",
            ))
        }
    };
    let offset = match cursor.map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Err(invalid_cursor()),
    };
    Ok((limit, offset))
}

/// One message of the history: its time, its record's key, its statuses' keys.
struct Entry<'a> {
    at: u64,
    record: Option<&'a str>,
    statuses: Vec<&'a str>,
}

/// Groups a contact's listed keys by message, newest first.
fn by_message<'a>(prefix: &str, listed: &'a [ListedKey]) -> Vec<Entry<'a>> {
    let mut grouped: BTreeMap<&str, Entry<'a>> = BTreeMap::new();
    for key in listed {
        let t = RecordMeta::time_of(key.metadata.as_ref());
        let (message, is_record) = match classify_contact_key(prefix, &key.name) {
            ContactKeyKind::Message(m) => (m, true),
            ContactKeyKind::Status { message, .. } => (message, false),
            ContactKeyKind::Other => continue,
        };
        let e = grouped.entry(message).or_insert_with(|| Entry {
            at: t,
            record: None,
            statuses: Vec::new(),
        });
        if is_record {
            e.at = t;
            e.record = Some(&key.name);
        } else {
            // A message known only from statuses sorts by its first status.
            if e.record.is_none() {
                e.at = e.at.min(t);
            }
            e.statuses.push(&key.name);
        }
    }
    let mut ordered: Vec<Entry<'a>> = grouped.into_values().collect();
    ordered.sort_by_key(|entry| std::cmp::Reverse(entry.at));
    ordered
}

/// One message as the history shows it, with its statuses and the current one.
fn render(entry: &Entry<'_>, found: &BTreeMap<&str, &str>) -> Option<serde_json::Value> {
    let mut statuses: Vec<StatusRecord> = entry
        .statuses
        .iter()
        .filter_map(|k| found.get(k))
        .filter_map(|v| crate::serde_ext::from_str(v).ok())
        .collect();
    let rank = |s: &StatusRecord| StatusKind::from(s.status.as_str()).rank();
    statuses.sort_by_key(|s| (s.at, rank(s)));
    let record: Option<MessageRecord> = entry
        .record
        .and_then(|k| found.get(k))
        .and_then(|v| crate::serde_ext::from_str(v).ok());
    let mut out = match (&record, statuses.first()) {
        (Some(r), _) => serde_json::to_value(r).ok()?,
        // A message sent by another system: known only from its statuses.
        (None, Some(s)) => json!({"id": s.id, "direction": "outbound", "at": s.at}),
        (None, None) => return None,
    };
    let current = statuses
        .iter()
        .max_by_key(|s| rank(s))
        .map(|s| s.status.clone());
    let fields = out.as_object_mut()?;
    fields.insert("status".into(), current.into());
    fields.insert("statuses".into(), serde_json::to_value(&statuses).ok()?);
    Some(out)
}

/// Newest first, across every id of the person. The cursor is an offset into the person's
/// messages ordered by time; one past the end was never returned, so it is refused.
async fn history<K: Kv, A: Authorities>(
    ctx: &Ctx<'_, K>,
    authorities: &A,
    wa: &WaId,
    (limit, offset): (usize, usize),
) -> Result<Response, ApiError> {
    let (keys_of_person, linked_ids) = person_of(ctx, authorities, wa).await?;
    let mut listings = Vec::new();
    for key in &keys_of_person {
        let prefix = keys::contact_prefix(key);
        let listed = list_all(ctx.kv, &prefix).await?;
        listings.push((prefix, listed));
    }
    let mut ordered: Vec<Entry<'_>> = listings
        .iter()
        .flat_map(|(prefix, listed)| by_message(prefix, listed))
        .collect();
    ordered.sort_by_key(|entry| std::cmp::Reverse(entry.at));
    let total = ordered.len();
    if offset > total {
        return Err(invalid_cursor());
    }
    let page: Vec<_> = ordered.into_iter().skip(offset).take(limit).collect();
    let wanted: Vec<String> = page
        .iter()
        .flat_map(|e| {
            e.record
                .iter()
                .chain(e.statuses.iter())
                .map(|k| k.to_string())
        })
        .collect();
    let values = ctx.kv.get_many(&wanted).await?;
    let found: BTreeMap<&str, &str> = wanted
        .iter()
        .zip(values.iter())
        .filter_map(|(k, v)| v.as_deref().map(|v| (k.as_str(), v)))
        .collect();
    let messages: Vec<_> = page.iter().filter_map(|e| render(e, &found)).collect();
    let end = offset.saturating_add(limit);
    let next = (end < total).then(|| end.to_string());
    Ok(Response::json(
        200,
        json!({"wa_id": wa, "linked_ids": linked_ids, "messages": messages, "next_cursor": next}),
    ))
}

/// Deletions per erasure request. A Worker invocation may make at most 1000 KV operations;
/// this leaves room for the listing and the consent record. A larger history is erased by
/// repeating the request until it answers `"complete": true`.
pub const MAX_ERASE_PER_REQUEST: usize = 900;

/// `GET /v1/contacts/{id}/outbox`: sends the person's authority still has to make.
async fn outbox<K, A: Authorities>(
    ctx: &Ctx<'_, K>,
    authorities: &A,
    wa: &WaId,
) -> Result<Response, ApiError> {
    match call_person(authorities, &ctx.keys.contact(wa), &Op::Outbox)
        .await?
        .1
    {
        Answer::Outbox {
            pending,
            next_attempt_at,
        } => Ok(Response::json(
            200,
            json!({"pending": pending, "next_attempt_at": next_attempt_at}),
        )),
        _ => Err(ApiError::unexpected_answer()),
    }
}

/// Erases the person: every authority of theirs (pending sends included), then their KV records
/// under every id. A suppression in force stays under each id, so a message by any of them is
/// still refused after the links are gone.
async fn erase<K: Kv, A: Authorities>(
    ctx: &Ctx<'_, K>,
    authorities: &A,
    wa: &WaId,
) -> Result<Response, ApiError> {
    let (keys_of_person, linked_ids) = person_of(ctx, authorities, wa).await?;
    let mut dropped_sends = 0;
    for key in &keys_of_person {
        match authorities.call(key, &Op::Erase).await? {
            Answer::Erased {
                dropped_sends: n, ..
            } => dropped_sends += n,
            _ => return Err(ApiError::unexpected_answer()),
        }
    }
    let (mut messages, mut statuses, mut other) = (0u32, 0u32, 0u32);
    let mut budget = MAX_ERASE_PER_REQUEST;
    let mut complete = true;
    let mut keep = false;
    for key in &keys_of_person {
        let prefix = keys::contact_prefix(key);
        let page = ctx.kv.list(&prefix, None).await?;
        complete &= page.cursor.is_none() && page.keys.len() <= budget;
        for listed in page.keys.iter().take(budget) {
            match classify_contact_key(&prefix, &listed.name) {
                ContactKeyKind::Message(_) => messages += 1,
                ContactKeyKind::Status { .. } => statuses += 1,
                ContactKeyKind::Other => other += 1,
            }
            ctx.kv.delete(&listed.name).await?;
        }
        budget = budget.saturating_sub(page.keys.len());
        let record = consent_store::load(ctx.kv, key).await?;
        keep |= record.status == consent_store::ConsentStatus::OptedOut;
        if complete && !keep && record != consent_store::ConsentRecord::default() {
            // An opt-out must outlive erasure (GDPR Art. 21: objection to marketing is absolute);
            // a record with no opt-out in force is personal data with no purpose left, so it goes.
            consent_store::delete(ctx.kv, key).await?;
        }
    }
    Ok(Response::json(
        200,
        json!({"wa_id": wa, "linked_ids": linked_ids, "deleted": json!({"messages": messages, "statuses": statuses, "other": other, "pending_sends": dropped_sends}), "complete": complete, "suppression_kept": keep}),
    ))
}

async fn account_signals<K: Kv>(
    kv: &K,
    config: &Config,
    stopped: Option<Stop>,
    now: UnixTime,
) -> Result<Response, ApiError> {
    let groups = account::load_grouped(kv).await?;
    let mut body: BTreeMap<&str, RawJson> = groups
        .into_iter()
        .map(|(kind, list)| (kind.group(), RawJson::from_value(&list)))
        .collect();
    // The business-initiated guards in force (their refusals are documented in the README), and
    // how many sends each guard refused today (UTC).
    let (refused, counted) = crate::store::guards::refused_today(kv, now).await?;
    let guards = json!({
        "marketing_per_day": config.marketing_per_day,
        "ramp_daily_limit": config.ramp_daily_limit,
        "unknown_template_category": "marketing",
        "refused_today": refused,
        "refused_today_complete": counted,
    });
    body.insert("guards", RawJson::from_value(&guards));
    body.insert("stopped", RawJson::from_value(&stopped));
    Ok(Response::json(200, body))
}
