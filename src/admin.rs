//! The admin API (bearer `ADMIN_TOKEN`): history, erasure, account signals, consent.

use crate::app::{config_error, kv_error, AppRequest, Reply, Route};
use crate::config::{Config, Secret};
use crate::consent::{ConsentChange, ConsentRecord, ConsentStatus, Scope, Source};
use crate::ids::WaId;
use crate::ingest::{load_consent, save_consent, Ctx};
use crate::keys::{self, classify_contact_key, ContactKeyKind, KeyScheme};
use crate::kv::{list_all, Kv, KvError};
use crate::outbox::Platform;
use crate::records::{MessageRecord, StatusRecord};
use crate::secret_eq;
use crate::time::UnixTime;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 100;
/// A campaign tool checks a batch before sending; 1000 matches Meta's own batch size.
pub const MAX_CHECK_IDS: usize = 1000;
pub const MAX_EVIDENCE_LEN: usize = 500;

pub async fn handle<K: Kv, G: Platform>(
    req: AppRequest,
    config: &Config,
    kv: &K,
    graph: &G,
    now: UnixTime,
) -> Reply {
    let token = match config.require(Secret::AdminToken) {
        Ok(t) => t,
        Err(e) => return config_error(&e),
    };
    let presented = req
        .authorization
        .as_deref()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if !presented.is_some_and(|p| secret_eq(p, token)) {
        return Reply::error(401, "unauthorized", "a valid bearer token is required");
    }
    let keys = match config.require(Secret::ContactKeySecret) {
        Ok(secret) => KeyScheme::new(secret),
        Err(e) => return config_error(&e),
    };
    let contact = |raw: &str| {
        WaId::parse_user_input(raw)
            .ok_or_else(|| Reply::error(400, "invalid_wa_id", "not a WhatsApp id"))
    };
    let result = match &req.route {
        Route::ContactMessages(raw) => match contact(raw) {
            Ok(wa) => history(kv, &keys, &wa, &req.query).await,
            Err(r) => return r,
        },
        Route::EraseContact(raw) => match contact(raw) {
            Ok(wa) => erase(kv, &keys, &wa).await,
            Err(r) => return r,
        },
        Route::GetConsent(raw) => match contact(raw) {
            Ok(wa) => get_consent(kv, &keys, &wa).await,
            Err(r) => return r,
        },
        Route::PutConsent(raw) => match contact(raw) {
            Ok(wa) => put_consent(kv, &keys, &wa, &req.body, now).await,
            Err(r) => return r,
        },
        Route::ConsentCheck => consent_check(kv, &keys, &req.body).await,
        Route::Account => account(kv).await,
        Route::ResumeSending => crate::send_api::resume(kv).await,
        Route::SendMessage => {
            let ctx = Ctx::new(kv, &keys, config, now);
            crate::send_api::handle(&ctx, graph, &req.body).await
        }
        _ => return Reply::error(404, "not_found", "no such endpoint"),
    };
    result.unwrap_or_else(|e| kv_error(&e))
}

fn query_param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Newest first. The cursor is an offset into the contact's messages ordered by time.
async fn history<K: Kv>(
    kv: &K,
    keys: &KeyScheme,
    wa: &WaId,
    query: &[(String, String)],
) -> Result<Reply, KvError> {
    let limit = match query_param(query, "limit").map(str::parse::<usize>) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => return Ok(Reply::error(400, "invalid_limit", "limit must be 1 to 100")),
    };
    let offset = match query_param(query, "cursor").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return Ok(Reply::error(
                400,
                "invalid_cursor",
                "cursor is not one this API returned",
            ))
        }
    };
    let contact = keys.contact(wa);
    let prefix = keys::contact_prefix(&contact);
    let listed = list_all(kv, &prefix).await?;
    // message hash → (time, message key, status keys)
    let mut by_message: BTreeMap<&str, (u64, Option<&str>, Vec<&str>)> = BTreeMap::new();
    for key in &listed {
        let t = key
            .metadata
            .as_ref()
            .and_then(|m| m.get("t"))
            .and_then(|t| t.as_u64())
            .unwrap_or(0);
        match classify_contact_key(&prefix, &key.name) {
            ContactKeyKind::Message(m) => {
                let e = by_message.entry(m).or_insert((t, None, Vec::new()));
                e.0 = t;
                e.1 = Some(&key.name);
            }
            ContactKeyKind::Status { message, .. } => {
                let e = by_message.entry(message).or_insert((t, None, Vec::new()));
                // A message known only from statuses sorts by its first status.
                if e.1.is_none() {
                    e.0 = e.0.min(t);
                }
                e.2.push(&key.name);
            }
            ContactKeyKind::Other => {}
        }
    }
    let mut ordered: Vec<_> = by_message.into_values().collect();
    ordered.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    let total = ordered.len();
    let page: Vec<_> = ordered.into_iter().skip(offset).take(limit).collect();
    let wanted: Vec<String> = page
        .iter()
        .flat_map(|(_, m, s)| m.iter().chain(s.iter()).map(|k| k.to_string()))
        .collect();
    let values = kv.get_many(&wanted).await?;
    let found: BTreeMap<&str, &str> = wanted
        .iter()
        .zip(values.iter())
        .filter_map(|(k, v)| v.as_deref().map(|v| (k.as_str(), v)))
        .collect();
    let mut messages = Vec::new();
    for (_, message_key, status_keys) in &page {
        let mut statuses: Vec<StatusRecord> = status_keys
            .iter()
            .filter_map(|k| found.get(k))
            .filter_map(|v| serde_json::from_str(v).ok())
            .collect();
        statuses.sort_by_key(|s| {
            (
                s.at,
                crate::webhook::status::StatusKind::from(s.status.as_str()).rank(),
            )
        });
        let record: Option<MessageRecord> = message_key
            .and_then(|k| found.get(k))
            .and_then(|v| serde_json::from_str(v).ok());
        let mut entry = match (&record, statuses.first()) {
            (Some(r), _) => serde_json::to_value(r).unwrap_or_default(),
            // A message sent by another system: known only from its statuses.
            (None, Some(s)) => json!({ "id": s.id, "direction": "outbound", "at": s.at }),
            (None, None) => continue,
        };
        let current = statuses
            .iter()
            .max_by_key(|s| crate::webhook::status::StatusKind::from(s.status.as_str()).rank())
            .map(|s| s.status.clone());
        if let Some(obj) = entry.as_object_mut() {
            obj.insert("status".into(), json!(current));
            obj.insert(
                "statuses".into(),
                serde_json::to_value(&statuses).unwrap_or_default(),
            );
        }
        messages.push(entry);
    }
    let next = (offset + limit < total).then(|| (offset + limit).to_string());
    Ok(Reply::json(
        200,
        json!({ "wa_id": wa, "messages": messages, "next_cursor": next }),
    ))
}

/// Deletions per erasure request. A Worker invocation may make at most 1000 KV operations;
/// this leaves room for the listing and the consent record. A larger history is erased by
/// repeating the request until it answers `"complete": true`.
pub const MAX_ERASE_PER_REQUEST: usize = 900;

async fn erase<K: Kv>(kv: &K, keys: &KeyScheme, wa: &WaId) -> Result<Reply, KvError> {
    let contact = keys.contact(wa);
    let prefix = keys::contact_prefix(&contact);
    let (mut messages, mut statuses, mut other) = (0u32, 0u32, 0u32);
    let page = kv.list(&prefix, None).await?;
    let complete = page.cursor.is_none() && page.keys.len() <= MAX_ERASE_PER_REQUEST;
    for key in page.keys.iter().take(MAX_ERASE_PER_REQUEST) {
        match classify_contact_key(&prefix, &key.name) {
            ContactKeyKind::Message(_) => messages += 1,
            ContactKeyKind::Status { .. } => statuses += 1,
            ContactKeyKind::Other => other += 1,
        }
        kv.delete(&key.name).await?;
    }
    let consent_key = keys::consent(&contact);
    let record = load_consent(kv, &consent_key).await?;
    // An opt-out must outlive erasure (GDPR Art. 21: objection to marketing is absolute); a
    // record with no opt-out in force is personal data with no purpose left, so it goes.
    let keep = record.status == ConsentStatus::OptedOut;
    if complete && !keep && record != ConsentRecord::default() {
        kv.delete(&consent_key).await?;
    }
    Ok(Reply::json(
        200,
        json!({ "wa_id": wa, "deleted": { "messages": messages, "statuses": statuses, "other": other },
                "complete": complete, "suppression_kept": keep }),
    ))
}

fn consent_view(wa: &WaId, record: &ConsentRecord) -> serde_json::Value {
    json!({ "wa_id": wa, "status": record.status, "scope": record.scope, "updated_at": record.updated_at, "history": record.history })
}

async fn get_consent<K: Kv>(kv: &K, keys: &KeyScheme, wa: &WaId) -> Result<Reply, KvError> {
    let record = load_consent(kv, &keys::consent(&keys.contact(wa))).await?;
    Ok(Reply::json(200, consent_view(wa, &record)))
}

#[derive(Deserialize)]
struct ConsentInput {
    status: ConsentStatus,
    #[serde(default)]
    scope: Option<Scope>,
    evidence: Option<String>,
    /// When the person gave or withdrew consent; defaults to now.
    at: Option<u64>,
}

async fn put_consent<K: Kv>(
    kv: &K,
    keys: &KeyScheme,
    wa: &WaId,
    body: &[u8],
    now: UnixTime,
) -> Result<Reply, KvError> {
    let input: ConsentInput = match serde_json::from_slice(body) {
        Ok(i) => i,
        Err(_) => {
            return Ok(Reply::error(
                400,
                "invalid_body",
                r#"expected {"status":"opted_in"|"opted_out","scope":"all"|"marketing","evidence":"..."}"#,
            ))
        }
    };
    if input.status == ConsentStatus::Unknown {
        return Ok(Reply::error(
            400,
            "invalid_status",
            "status must be opted_in or opted_out",
        ));
    }
    let evidence = input
        .evidence
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty());
    let Some(evidence) = evidence else {
        return Ok(Reply::error(
            400,
            "evidence_required",
            "say where and how consent was given or withdrawn",
        ));
    };
    if evidence.chars().count() > MAX_EVIDENCE_LEN {
        return Ok(Reply::error(
            400,
            "evidence_too_long",
            "evidence is limited to 500 characters",
        ));
    }
    let at = match input.at.map(UnixTime::from_meta) {
        Some(t) if t.0 > now.0 + crate::retention::MAX_CLOCK_SKEW => {
            return Ok(Reply::error(400, "invalid_time", "at is in the future"));
        }
        Some(t) => t,
        None => now,
    };
    let key = keys::consent(&keys.contact(wa));
    let mut record = load_consent(kv, &key).await?;
    record.apply(ConsentChange {
        status: input.status,
        scope: input.scope.unwrap_or(Scope::All),
        at,
        source: Source::Admin,
        message_id: None,
        keyword: None,
        evidence: Some(evidence),
        applied: false,
    });
    save_consent(kv, &key, &record).await?;
    Ok(Reply::json(200, consent_view(wa, &record)))
}

#[derive(Deserialize)]
struct CheckInput {
    wa_ids: Vec<String>,
}

async fn consent_check<K: Kv>(kv: &K, keys: &KeyScheme, body: &[u8]) -> Result<Reply, KvError> {
    let Ok(input) = serde_json::from_slice::<CheckInput>(body) else {
        return Ok(Reply::error(
            400,
            "invalid_body",
            r#"expected {"wa_ids":[...]}"#,
        ));
    };
    if input.wa_ids.len() > MAX_CHECK_IDS {
        return Ok(Reply::error(
            400,
            "too_many_ids",
            "at most 1000 wa_ids per request",
        ));
    }
    let mut ids = Vec::with_capacity(input.wa_ids.len());
    for raw in &input.wa_ids {
        match WaId::parse_user_input(raw) {
            Some(wa) => ids.push(wa),
            None => {
                return Ok(Reply::error(
                    400,
                    "invalid_wa_id",
                    "every wa_id must be a WhatsApp id",
                ))
            }
        }
    }
    let consent_keys: Vec<String> = ids
        .iter()
        .map(|wa| keys::consent(&keys.contact(wa)))
        .collect();
    let values = kv.get_many(&consent_keys).await?;
    let mut results = Vec::with_capacity(ids.len());
    for (wa, value) in ids.iter().zip(values) {
        let record = match value {
            None => ConsentRecord::default(),
            // Fail closed: an unreadable record is not permission.
            Some(text) => serde_json::from_str(&text)
                .map_err(|_| KvError::Unavailable("unreadable consent record".into()))?,
        };
        results.push(json!({
            "wa_id": wa,
            "status": record.status,
            "scope": record.scope,
            "can_message": record.allows(false),
            "can_market": record.allows(true),
        }));
    }
    Ok(Reply::json(200, json!({ "results": results })))
}

/// The most account signals shown (newest first).
const MAX_ACCOUNT_SIGNALS: usize = 200;

async fn account<K: Kv>(kv: &K) -> Result<Reply, KvError> {
    let mut listed = list_all(kv, keys::ACCOUNT_PREFIX).await?;
    listed.sort_by_key(|k| {
        std::cmp::Reverse(
            k.metadata
                .as_ref()
                .and_then(|m| m.get("t"))
                .and_then(|t| t.as_u64())
                .unwrap_or(0),
        )
    });
    listed.truncate(MAX_ACCOUNT_SIGNALS);
    let names: Vec<String> = listed.into_iter().map(|k| k.name).collect();
    let values = kv.get_many(&names).await?;
    let mut groups: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    for value in values.into_iter().flatten() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&value) else {
            continue;
        };
        let group = match v.get("kind").and_then(|k| k.as_str()) {
            Some("template_status") => "templates",
            Some("template_quality") => "template_quality",
            Some("phone_quality") => "quality",
            Some("account_update") => "account_updates",
            Some("account_alert") => "alerts",
            Some("pause") => "paused",
            Some("token_problem") => "token_problems",
            _ => "errors",
        };
        groups.entry(group).or_default().push(v);
    }
    let mut body = serde_json::Map::new();
    for group in [
        "paused",
        "token_problems",
        "quality",
        "templates",
        "template_quality",
        "account_updates",
        "alerts",
        "errors",
    ] {
        body.insert(
            group.into(),
            json!(groups.remove(group).unwrap_or_default()),
        );
    }
    Ok(Reply::json(200, serde_json::Value::Object(body)))
}
